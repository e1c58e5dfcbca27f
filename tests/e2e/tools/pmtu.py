#!/usr/bin/env python3
"""pmtu.py -- a path MTU drop after a splice, seen from the client (tests/e2e/pmtu.sh).

    pmtu.py --addr HOST --port PORT --iface IF --mtu MTU --bytes N --origin O
            [--preflights K] [--seed S] [--timeout SECS]

Run in the client namespace, where a netfilter rule drops the server's IPv4
packets longer than MTU (pmtu.sh sets it up): the link behind a router with a
smaller MTU. On one keep-alive connection: K preflights (answered in the
kernel: the connection is spliced K times, the server's wire seq K responses
past its socket's; pmtu.sh checks the counter), then GET /blob?n=N -- its
full-sized segments never arrive. For each one seen on IF (a packet socket
sees it before netfilter) this plays the router: an ICMP "fragmentation
needed" (3/4, next-hop MTU) to the server quoting the dropped packet's IP
header and the 8 TCP bytes RFC 792 guarantees. The server must take it (the
quoted seq mapped back to its socket's by preflightd) and send smaller
segments: the body must arrive whole, byte-exact (appserver's blob_byte),
within the timeout. Prints one line: "ok bytes=N icmp=K dropped=D ms=T" (T:
the GET's duration; exit 0) or
"error: ..." (exit 1).
"""
import argparse
import os
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oflcheck import Conn  # noqa: E402  (one response reader)

ETH_P_IP = 0x0800


def csum(b):
    """Internet checksum (RFC 1071) of bytes b."""
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def blob_byte(i, seed):
    """Byte i of appserver's GET /blob?n=N&seed=S."""
    return (i * 131 + seed * 7 + (i >> 8)) & 0xFF


def frag_needed(ip, mtu):
    """ICMP 3/4 quoting packet ip's header and 8 bytes past it."""
    quote = ip[: (ip[0] & 15) * 4 + 8]
    msg = struct.pack("!BBHHH", 3, 4, 0, 0, mtu) + quote
    return msg[:2] + struct.pack("!H", csum(msg)) + msg[4:]


def main():
    ap = argparse.ArgumentParser()
    for k in ("addr", "iface", "origin"):
        ap.add_argument("--" + k, required=True)
    for k in ("port", "mtu", "bytes"):
        ap.add_argument("--" + k, type=int, required=True)
    ap.add_argument("--preflights", type=int, default=1)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--timeout", type=float, default=20)
    a = ap.parse_args()
    saddr = socket.inet_aton(a.addr)

    ps = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
    ps.bind((a.iface, ETH_P_IP))
    rs = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    conn = Conn(a.addr, a.port, 5)
    for _ in range(a.preflights):
        conn.send(("OPTIONS /v1/items HTTP/1.1\r\nHost: %s\r\nOrigin: %s\r\n"
                   "Access-Control-Request-Method: PUT\r\n"
                   "Access-Control-Request-Headers: content-type\r\n\r\n"
                   % (a.addr, a.origin)).encode())
        head = conn.head()
        if not head.startswith(b"HTTP/1.1 204"):
            raise RuntimeError("preflight answered %r" % head.split(b"\r\n")[0])
    c, rest = conn.s, conn.buf
    c.sendall(("GET /blob?n=%d&seed=%d HTTP/1.1\r\nHost: %s\r\n\r\n"
               % (a.bytes, a.seed, a.addr)).encode())
    c.setblocking(False)
    body, head2, icmp, dropped = bytearray(), None, 0, 0
    start = time.monotonic()
    deadline = start + a.timeout
    while head2 is None or len(body) < a.bytes:
        left = deadline - time.monotonic()
        if left <= 0:
            raise RuntimeError("timed out: %d of %d body bytes, icmp=%d dropped=%d"
                               % (len(body), a.bytes, icmp, dropped))
        r, _, _ = select.select([c, ps], [], [], left)
        if ps in r:
            ip = ps.recv(65536)
            if (len(ip) >= 28 and ip[0] >> 4 == 4 and ip[9] == socket.IPPROTO_TCP and
                    ip[12:16] == saddr and struct.unpack("!H", ip[2:4])[0] > a.mtu):
                dropped += 1
                rs.sendto(frag_needed(ip, a.mtu), (a.addr, 0))
                icmp += 1
        if c in r:
            try:
                d = c.recv(1 << 20)
            except BlockingIOError:
                continue
            if not d:
                raise RuntimeError("connection closed after %d body bytes" % len(body))
            rest += d
            if head2 is None:
                if b"\r\n\r\n" not in rest:
                    continue
                head2, rest = rest.split(b"\r\n\r\n", 1)
                if not head2.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError("GET answered %r" % head2.split(b"\r\n")[0])
            body += rest
            rest = b""
    for i in range(a.bytes):
        if body[i] != blob_byte(i, a.seed):
            raise RuntimeError("body byte %d is %d, want %d" % (i, body[i], blob_byte(i, a.seed)))
    if len(body) != a.bytes:
        raise RuntimeError("%d body bytes, want %d" % (len(body), a.bytes))
    print("ok bytes=%d icmp=%d dropped=%d ms=%d"
          % (len(body), icmp, dropped, (time.monotonic() - start) * 1000))


if __name__ == "__main__":
    try:
        main()
    except (OSError, RuntimeError, EOFError) as e:
        print("error: %s" % e)
        sys.exit(1)
