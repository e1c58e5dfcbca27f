#!/usr/bin/env python3
"""oflhold.py -- one keep-alive connection held across a preflightd
restart (tests/e2e/offload.sh, issue 13).

    oflhold.py --host H --port P --origin O --path PATH --go FILE

Sends a GET with Origin O, prints "oflhold: before acao=<value or ->",
waits (at most 60 s) until FILE exists, sends another GET on the same
connection and prints "oflhold: after acao=<...>". Exit 0 if both
responses arrived, 1 otherwise.
"""
import argparse
import os
import socket
import sys
import time


def get(s, host, path, origin):
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nOrigin: %s\r\n\r\n" %
               (path, host, origin)).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            raise EOFError("closed")
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    acao, n = "-", 0
    for line in head.split(b"\r\n")[1:]:
        k, v = line.split(b":", 1)
        if k.strip().lower() == b"access-control-allow-origin":
            acao = v.strip().decode()
        if k.strip().lower() == b"content-length":
            n = int(v)
    while len(rest) < n:
        d = s.recv(65536)
        if not d:
            raise EOFError("closed")
        rest += d
    return acao


def main():
    ap = argparse.ArgumentParser()
    for a in ("--host", "--origin", "--path", "--go"):
        ap.add_argument(a, required=True)
    ap.add_argument("--port", type=int, required=True)
    a = ap.parse_args()
    try:
        s = socket.create_connection((a.host, a.port), timeout=20)
        print("oflhold: before acao=%s" % get(s, a.host, a.path, a.origin), flush=True)
        for _ in range(600):
            if os.path.exists(a.go):
                break
            time.sleep(0.1)
        print("oflhold: after acao=%s" % get(s, a.host, a.path, a.origin), flush=True)
    except (OSError, EOFError, ValueError) as e:
        print("oflhold: %s" % e, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
