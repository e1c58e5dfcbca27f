#!/usr/bin/env python3
"""slowloris.py -- hold HTTP connections open by sending a request head
one byte a second, never finishing it (e2e, daemon.sh: the /metrics
server's slots, user/admit.h).

    slowloris.py HOST PORT PER HOLD_S ADDR...

Opens PER connections from each source ADDR to HOST:PORT, then sends one
byte on each every second for HOLD_S seconds. After 2 s it prints
"open N": how many the server kept (a connection it refused was closed at
once: EOF or a reset). Exits 0 when HOLD_S is over, closing them all.
"""
import errno
import socket
import sys
import time


def alive(s):
    try:
        return s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def main():
    host, port, per, hold = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    conns = []
    for addr in sys.argv[5:]:
        for _ in range(per):
            s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
            s.bind((addr, 0))
            s.settimeout(2)
            try:
                s.connect((host, port))
                s.settimeout(None)  # MSG_DONTWAIT alone decides from here
                s.sendall(b"GET /metrics HTTP/1.1\r\nX-Slow: ")
            except OSError as e:
                if e.errno not in (errno.ECONNRESET, errno.EPIPE, errno.ECONNREFUSED):
                    raise
            conns.append(s)
    start, told = time.monotonic(), False
    while time.monotonic() - start < hold:
        time.sleep(1)
        for s in conns:
            try:
                s.send(b"a", socket.MSG_DONTWAIT)
            except OSError:
                pass
        if not told and time.monotonic() - start >= 2:
            print("open %d" % sum(alive(s) for s in conns), flush=True)
            told = True
    for s in conns:
        s.close()


if __name__ == "__main__":
    main()
