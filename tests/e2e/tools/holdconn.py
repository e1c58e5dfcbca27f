#!/usr/bin/env python3
"""holdconn.py -- one keep-alive connection that sends no preflight: a
GET, then nothing until a file appears, then a second GET on the same
connection (e2e, upgrade.sh: a connection the dead instance only followed
must outlive a hand-over's drain, not hold it).

    holdconn.py HOST PORT STOP_FILE [MAX_S]

Prints "first STATUS" after the first response, then waits (at most MAX_S
seconds, default 120) for STOP_FILE, then prints "second STATUS", or
"second failed: WHY" (the connection reset or closed meanwhile).
"""
import os
import socket
import sys
import time


def get(s, host):
    s.sendall(("GET /health HTTP/1.1\r\nHost: %s\r\n\r\n" % host).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionError("closed by the server")
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionError("closed mid-body")
        body += chunk
    return lines[0].split(" ")[1]


def main():
    host, port, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    limit = float(sys.argv[4]) if len(sys.argv) > 4 else 120
    s = socket.create_connection((host, port), timeout=10)
    print("first %s" % get(s, host), flush=True)
    start = time.monotonic()
    while not os.path.exists(stop) and time.monotonic() - start < limit:
        time.sleep(0.1)
    try:
        print("second %s" % get(s, host), flush=True)
    except OSError as e:
        print("second failed: %s" % e, flush=True)


if __name__ == "__main__":
    main()
