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
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oflcheck import Conn, head_fields  # noqa: E402  (one response reader)


def get(c, host, path, origin):
    """One GET on Conn c; returns its Access-Control-Allow-Origin or "-"."""
    c.send(("GET %s HTTP/1.1\r\nHost: %s\r\nOrigin: %s\r\n\r\n" %
            (path, host, origin)).encode())
    _, fields = head_fields(c.head())
    f = dict(fields)
    acao = f.get(b"access-control-allow-origin", b"-").split(b":", 1)[-1].strip()
    cl = f.get(b"content-length", b"0").split(b":", 1)[-1].strip()
    c.take(int(cl))
    return acao.decode()


def main():
    ap = argparse.ArgumentParser()
    for a in ("--host", "--origin", "--path", "--go"):
        ap.add_argument(a, required=True)
    ap.add_argument("--port", type=int, required=True)
    a = ap.parse_args()
    try:
        s = Conn(a.host, a.port, 20)
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
