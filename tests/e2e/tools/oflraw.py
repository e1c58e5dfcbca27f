#!/usr/bin/env python3
"""oflraw.py -- adversarial response shapes for the response offload
(issue 13, e2e): a scripted app and the client that checks it.

    oflraw.py serve --listen ADDR:PORT [--listen ...] [--defer-accept PORT] [--go FILE]
    oflraw.py check --host H --port P --origin O --expose NAMES [--cred]
                    [--case NAME]... [--list]

`serve` is an app with no CORS code whose responses are canned: a request
for /v1/raw/CASE/I is answered with response I of CASE from the table
below, written in the pieces the case asks for (each piece its own
sendmsg, optionally with a pause), and the connection is closed after it
if the case says so. --defer-accept sets TCP_DEFER_ACCEPT on that port's
listener: the first request then arrives while the server socket is still
a request socket (the recorder's "early" path).

`check` runs each case on a connection of its own and compares every byte
it receives with what preflightd must make of the canned bytes: "edit"
responses get exactly the lines tests/e2e/tools/oflcheck.py expects
(inserted after the status line, the app's Access-Control-* lines removed,
Vary merged), "same" responses (fail open) arrive unchanged. Prints one
line per case and "oflraw: cases=N ok=K"; exit 0 iff all matched.
"""
import argparse
import os
import select
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oflcheck import expected  # noqa: E402  (one definition of the edit)

CRLF = b"\r\n"


def resp(status, lines=(), body=b"", clen=True):
    """A response: status line, header lines, Content-Length (unless
    clen is False), the blank line and body."""
    h = b"HTTP/1.1 " + status.encode() + CRLF
    h += b"".join(ln.encode() + CRLF for ln in lines)
    if clen:
        h += b"Content-Length: %d\r\n" % len(body)
    return h + CRLF + body


def chunked(parts, trailers=()):
    out = b""
    for p in parts:
        out += b"%x;ext=1\r\n" % len(p) + p + CRLF
    return out + b"0\r\n" + b"".join(t.encode() + CRLF for t in trailers) + CRLF


BIG = ["X-Filler-%02d: %s" % (i, "f" * 90) for i in range(32)]   # ~3.3 kB head
MID = ["X-Filler-%02d: %s" % (i, "m" * 90) for i in range(17)]   # ~1.8 kB head


class R:
    """Response I of a case. data: the app's bytes; writes: piece sizes
    (then the rest in one write); pause: seconds
    between pieces; go: after the first piece, wait until the serve
    command's --go file exists (and remove it); close: close after it; want: 'edit' (the origin decides the
    lines), 'same', 'prefix' (the app closes mid-head, or the connection is reset: some
    first bytes of data, maybe none, then the end), or 'preflight' (an
    OPTIONS preflight
    the kernel answers:
    a 204 with the origin's ACAO that never reaches the app); origin: the
    request's Origin -- allow (the policy's), foreign (one it does not list)
    or none; sndbuf: the server socket's SO_SNDBUF from this response on
    (None: as it was)."""

    def __init__(self, data=b"", want="edit", origin="allow", writes=None, pause=0.0,
                 close=False, method="GET", body=None, go=False, sndbuf=None):
        self.data, self.want, self.origin, self.go = data, want, origin, go
        self.writes, self.pause, self.close = writes, pause, close
        self.method, self.body, self.sndbuf = method, body, sndbuf


class Case:
    """A connection: its responses, requested one by one or all at once
    (pipelined); batch: the server answers a pipelined group in one write;
    sndbuf: the server socket's SO_SNDBUF (None: the kernel's default)."""

    def __init__(self, name, responses, pipelined=False, batch=False, sndbuf=None):
        self.name, self.responses = name, responses
        self.pipelined, self.batch, self.sndbuf = pipelined, batch, sndbuf


OK = resp("200 OK", ["Content-Type: text/plain"], b"hello")
CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"

CASES = [
    # Vary merged, never duplicated
    Case("vary_star", [R(resp("200 OK", ["Vary: *"], b"x"))]),
    Case("vary_multi", [R(resp("200 OK", ["Vary: Accept", "X-A: 1", "vary: Accept-Language"], b"x"))]),
    Case("vary_case", [R(resp("200 OK", ["VARY: ORIGIN"], b"x"))]),
    Case("vary_list", [R(resp("200 OK", ["Vary: accept-encoding,Origin"], b"x"))]),
    Case("vary_last", [R(resp("200 OK", ["Content-Type: a/b", "Content-Length: 1", "Vary: Accept"],
                               b"x", clen=False))]),
    Case("vary_empty", [R(resp("200 OK", ["Vary:"], b"x"))]),
    Case("vary_denied", [R(resp("200 OK", ["Vary: Accept", "vary: Cookie"], b"x"), origin="foreign")]),
    Case("vary_none", [R(resp("200 OK", ["Vary: Origin"], b"x"), origin="none")]),
    # the app's own CORS lines under app_headers: replace
    Case("own_cors", [R(resp("200 OK", [
        "Access-Control-Allow-Origin: *", "access-control-allow-origin: https://x.test",
        "Access-Control-Allow-Credentials: false", "Access-Control-Expose-Headers: a",
        "Access-Control-Max-Age: 5", "Vary: Accept"], b"x"))]),
    Case("own_cors_denied", [R(resp("200 OK", ["Access-Control-Allow-Origin: *"], b"x"),
                               origin="foreign")]),
    # framing
    Case("interim_one_write", [R(b"HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n" +
                                 OK)]),
    Case("interims_one_write", [R(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n" +
                                  OK + b"")]),
    Case("interim_split", [R(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + OK,
                             writes=[20, 30, 10])]),
    Case("no_reason", [R(b"HTTP/1.1 200 \r\nContent-Length: 2\r\n\r\nok")]),
    Case("http10_status", [R(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")]),
    Case("clen_zero", [R(resp("200 OK", [], b"")), R(OK)]),
    Case("chunked_pieces", [R(CHUNKED_HEAD + chunked([b"a" * 100, b"b" * 7000, b"c"],
                                                     ["X-T: 1", "X-U: 2"]),
                              writes=[len(CHUNKED_HEAD), 3, 5, 50, 200, 9, 4]),
                            R(OK)]),
    Case("chunked_one_write", [R(CHUNKED_HEAD + chunked([b"abc", b"d" * 3000]) + OK)]),
    Case("body_bytewise", [R(resp("200 OK", [], b"0123456789abcdef"), writes=[38] + [1] * 16),
                           R(OK)]),
    Case("head_mid", [R(resp("200 OK", MID, b"x")), R(OK)]),
    Case("head_split_slow", [R(OK, writes=[9, 20, 10], pause=0.05), R(OK)]),
    Case("head_204_304", [R(resp("204 No Content", [], clen=False)),
                          R(resp("304 Not Modified", ["ETag: \"1\""], clen=False)),
                          R(resp("200 OK", ["Content-Length: 3"], clen=False), method="HEAD"),
                          R(OK)]),
    Case("no_framing", [R(resp("200 OK", [], b"until close", clen=False), close=True)]),
    # pipelined requests with mixed origins, answered in one write or several
    Case("pipe_mixed_batch", [R(OK), R(OK, origin="foreign"), R(OK, origin="none"),
                              R(resp("204 No Content", [], clen=False), method="HEAD"),
                              R(OK, method="PUT", body=b"p" * 300),
                              R(CHUNKED_HEAD + chunked([b"z" * 10]), origin="foreign")],
         pipelined=True, batch=True),
    Case("pipe_mixed", [R(OK, origin="none"), R(OK), R(OK, origin="foreign", method="POST", body=b"q" * 50),
                        R(OK)], pipelined=True),
    # keep-alive: preflights answered in the kernel between actual requests
    Case("preflight_mix", [R(want="preflight"), R(OK), R(want="preflight"),
                           R(OK, method="PUT", body=b"u" * 1000), R(OK, origin="foreign"),
                           R(want="preflight"), R(resp("204 No Content", [], clen=False),
                                                  method="DELETE")]),
    # fail open: unchanged, counted, and the connection then left alone
    Case("head_too_big", [R(resp("200 OK", BIG, b"x"), want="same"), R(OK, want="same")]),
    Case("head_bytewise", [R(resp("200 OK", ["X-Pad: %s" % ("p" * 120)], b"x"),
                             writes=[1] * 200, want="same"), R(OK, want="same")]),
    Case("obs_fold", [R(resp("200 OK", ["X-A: 1", "  folded"], b"x"), want="same"),
                      R(OK, want="same")]),
    Case("tab_value", [R(resp("200 OK", ["X-A: a\tb"], b"x"), want="same")]),
    Case("bare_lf", [R(b"HTTP/1.1 200 OK\nContent-Length: 1\n\nx", want="same")]),
    Case("clen_conflict", [R(resp("200 OK", ["Content-Length: 1", "Content-Length: 2"], b"x",
                                  clen=False), want="same")]),
    Case("upgrade_101", [R(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\nHTTP/1.1 200 raw",
                           want="same", close=True)]),
    # the app closes with its head unfinished: the held bytes are lost with
    # the socket -- the client sees the connection end, never other bytes
    Case("close_mid_head", [R(b"HTTP/1.1 200 OK\r\nContent-Le", want="prefix", close=True)]),
    Case("close_mid_head_slow", [R(b"HTTP/1.1 200 OK\r\nX-A: 1\r\nContent-Le", writes=[17, 8],
                                   pause=0.2, want="prefix", close=True)]),
]
# large bodies (PF_OFL_DETACH_MIN and more): the socket leaves the SK_MSG
# path after the head and is back at the next request -- every later head
# still gets its lines; pipelined requests waiting behind a large body keep
# the socket in (their responses would go out unseen); a head held back
# (split over writes) right after a large body is never lost. A head
# written while a large body still fills the send buffer passes unchanged
# by design (ofl_no_room: an edited head is pushed only when the buffer
# surely takes it) -- the pipelined cases give the server socket room for
# both bodies, so that what they test, the socket kept in, decides alone.
BIG_SNDBUF = 4 << 20
SO_SNDBUFFORCE = getattr(socket, "SO_SNDBUFFORCE", 32)  # linux/asm-generic/socket.h
BIGBODY = bytes((i * 13) & 0xFF for i in range(200000))
BIG_RESP = resp("200 OK", ["Content-Type: application/octet-stream"], BIGBODY)
BIG_HEAD = BIG_RESP.index(CRLF + CRLF) + 4
CASES += [
    Case("big_alternating", [R(BIG_RESP, writes=[BIG_HEAD]), R(OK), R(BIG_RESP, origin="foreign"),
                             R(OK, writes=[9, 20, 10], pause=0.05), R(BIG_RESP, writes=[BIG_HEAD]),
                             R(resp("304 Not Modified", ["ETag: \"1\""], clen=False)), R(OK)]),
    Case("big_pipelined", [R(BIG_RESP, writes=[BIG_HEAD]), R(OK), R(BIG_RESP, origin="none"),
                           R(OK, writes=[9, 20, 10]), R(OK)], pipelined=True, sndbuf=BIG_SNDBUF),
    Case("big_batch", [R(BIG_RESP), R(OK), R(BIG_RESP), R(OK)], pipelined=True, batch=True,
         sndbuf=BIG_SNDBUF),
    Case("big_head_split", [R(BIG_RESP, writes=[12, 30, BIG_HEAD - 42]),
                            R(OK, writes=[9, 20, 10]), R(OK)]),
]
# ofl_no_room: an edited head is pushed only when the send buffer surely
# takes it (sk_sndbuf - sk_wmem_queued >= 2 * len + 16384), so under a
# send buffer of 8 KiB (SO_SNDBUF 4096, doubled by the kernel) no head is
# ever edited, whatever the client has read: each passes unchanged, its
# request's verdict taken, the framing followed -- a body larger than the
# buffer, then heads edited again once the buffer is large. no_room_control:
# the same responses under the kernel's default buffer, every head edited.
SMALL_SNDBUF = 4096
MIDBODY = bytes((i * 7) & 0xFF for i in range(50000))
NO_ROOM = [(resp("200 OK", ["Content-Type: text/plain"], b"hello"), None),
           (resp("200 OK", ["Content-Type: application/octet-stream"], MIDBODY), None),
           (resp("200 OK", ["Vary: Accept"], b"x"), "foreign")]
CASES += [
    Case("no_room", [R(d, want="same", origin=o or "allow", sndbuf=SMALL_SNDBUF if i == 0 else None)
                     for i, (d, o) in enumerate(NO_ROOM)] +
         [R(OK, sndbuf=BIG_SNDBUF), R(OK, origin="foreign")]),
    Case("no_room_control", [R(d, origin=o or "allow") for d, o in NO_ROOM] +
         [R(OK), R(OK, origin="foreign")]),
]
# a head held back while preflightd detaches (tests/e2e/offload.sh drives
# them with the go file): the stopped program sends it unchanged once the
# app completes it, or the connection is reset
HELD = OK.index(b"Content-Length")
CASES += [
    Case("held_go", [R(OK, writes=[HELD], go=True, want="same")]),
    Case("held_adopt", [R(OK), R(OK, writes=[HELD], go=True, want="same")]),
    Case("held_reset", [R(OK, writes=[HELD], go=True, want="prefix", close=True)]),
]
DEFAULT_CASES = [c.name for c in CASES if not c.name.startswith(("held_", "big_", "no_room"))]
CASE_BY_NAME = {c.name: c for c in CASES}


# ---------------------------------------------------------------- server --
class Reader:
    """The request bytes of a connection, by line or by count, from
    conn.recv -- not socket.makefile: its reader takes a recv's EAGAIN for
    the end of the stream (SocketIO.readinto returns None, readline b"").

    A blocking recv on a covered socket can fail with EAGAIN: every socket
    in a sockmap (the SK_MSG program's) reads through tcp_bpf_recvmsg,
    which waits once on the socket's wait queue and returns -EAGAIN if it
    woke without data, whatever the socket's blocking mode. That queue is
    also woken when ACKs free send-buffer space after a send that had to
    wait (SOCK_NOSPACE): in case t (8 KiB buffer, a 50 kB body) the server
    could wait for request 2 while the body's last ACKs came in, read
    "EOF" and close -- response 2 arrived empty (about 1 in 12 XDP runs in
    CI). EAGAIN here means no data yet: wait for it (logged, since a
    blocking app sees the same; docs/offload.md "Blocking apps")."""

    def __init__(self, conn, label):
        self.conn, self.label, self.buf = conn, label, b""

    def _fill(self):
        while True:
            try:
                d = self.conn.recv(65536)
                break
            except BlockingIOError as e:
                log("%s: a blocking recv failed with %s; waiting for data" %
                    (self.label(), e))
                # bounded: a peer that never sends ends the connection
                # through the handler's exception log
                if not select.select([self.conn], [], [], 30)[0]:
                    raise TimeoutError("no data for 30 s after EAGAIN")
        self.buf += d
        return bool(d)

    def readline(self, limit):
        while b"\n" not in self.buf and len(self.buf) < limit:
            if not self._fill():
                break
        n = self.buf.find(b"\n") + 1 or min(len(self.buf), limit)
        line, self.buf = self.buf[:n], self.buf[n:]
        return line

    def read(self, n):
        while len(self.buf) < n:
            if not self._fill():
                break
        d, self.buf = self.buf[:n], self.buf[n:]
        return d


def read_request(f):
    """(path, body) of the next request on reader f, or None at EOF."""
    line = f.readline(8192)
    if not line:
        return None
    parts = line.split()
    n = 0
    while True:
        h = f.readline(8192)
        if h in (b"\r\n", b"\n", b""):
            break
        k, _, v = h.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v)
    if n:
        f.read(n)
    return parts[1].decode() if len(parts) > 1 else "/"


def wait_go(go):
    """Wait (at most 30 s) until the file go exists; remove it."""
    for _ in range(600):
        if os.path.exists(go):
            os.unlink(go)
            return
        time.sleep(0.05)


def send_pieces(conn, data, writes, pause, go=None):
    """data in pieces of the sizes in writes (then the rest), each its
    own sendmsg, pause seconds apart; with go, wait_go after the first."""
    off = 0
    for w in writes or []:
        if off >= len(data):
            break
        conn.sendall(data[off:off + w])
        off += w
        if go:
            wait_go(go)
            go = None
        if pause:
            time.sleep(pause)
    if off < len(data):
        conn.sendall(data[off:])


def log(msg):
    """One line on stderr (the serve command's log, $PF_WORK/oflraw.out)."""
    print("oflraw: %s %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def serve_conn(conn, go):
    """Answer the requests on conn. A connection that ends other than by
    the client's close or the case's own close=True is logged (peer, the
    request at hand, the exception, the socket's send buffer): the client
    only sees the end, this says who ended it and why."""
    pending = []
    try:
        peer = "%s:%d" % conn.getpeername()[:2]
    except OSError as e:
        peer = "? (%s)" % e
    at = "before the first request"
    f = Reader(conn, lambda: "%s after %s" % (peer, at))
    try:
        while True:
            path = read_request(f)
            if path is None:
                return
            at = path
            p = path.split("/")  # ['', 'v1', 'raw', CASE, I]
            case = CASE_BY_NAME.get(p[3]) if len(p) == 5 else None
            if case is None:
                conn.sendall(resp("404 Not Found", [], b"no"))
                continue
            i = int(p[4])
            r = case.responses[i]
            sndbuf = r.sndbuf or (case.sndbuf if i == 0 else None)
            if sndbuf:
                # FORCE (root): past net.core.wmem_max, which may be lower
                conn.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, sndbuf)
            if case.batch:
                pending.append(r.data)
                if i == len(case.responses) - 1:
                    conn.sendall(b"".join(pending))
                    pending = []
                continue
            send_pieces(conn, r.data, r.writes, r.pause, go if r.go else None)
            if r.close:
                return
    except Exception as e:  # noqa: BLE001 (any end but the client's is logged)
        try:
            buf = conn.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
        except OSError:
            buf = "?"
        log("%s %s: connection ended by %s: %s (SO_SNDBUF %s)" %
            (peer, at, type(e).__name__, e, buf))
    finally:
        conn.close()


def serve(a):
    socks = []
    for spec in a.listen:
        host, _, port = spec.rpartition(":")
        host = host.strip("[]")
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if int(port) in a.defer_accept:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 5)
        s.bind((host, int(port)))
        s.listen(64)
        socks.append(s)

    def accept_loop(s):
        while True:
            c, _ = s.accept()
            threading.Thread(target=serve_conn, args=(c, a.go), daemon=True).start()

    for s in socks[1:]:
        threading.Thread(target=accept_loop, args=(s,), daemon=True).start()
    print("oflraw: listening on %s" % " ".join(a.listen), flush=True)
    accept_loop(socks[0])


# ---------------------------------------------------------------- client --
def request(case, i, r, host, origin):
    hdrs = [("Host", host)]
    if r.origin == "allow":
        hdrs.append(("Origin", origin))
    elif r.origin == "foreign":
        hdrs.append(("Origin", "https://evil.test"))
    if r.want == "preflight":
        hdrs += [("Access-Control-Request-Method", "PUT"),
                 ("Access-Control-Request-Headers", "content-type")]
    if r.body is not None:
        hdrs.append(("Content-Length", str(len(r.body))))
    method = "OPTIONS" if r.want == "preflight" else r.method
    head = "%s /v1/raw/%s/%d HTTP/1.1\r\n" % (method, case.name, i)
    head += "".join("%s: %s\r\n" % kv for kv in hdrs) + "\r\n"
    return head.encode() + (r.body or b"")


def want_bytes(r, a):
    """What the client must receive for response r."""
    if r.want in ("same", "prefix"):
        return r.data
    out, rest = b"", r.data
    while rest:  # interim heads pass unchanged, the final one is edited
        i = rest.index(b"\r\n\r\n") + 4
        head, rest = rest[:i], rest[i:]
        status = int(head.split(b" ")[1])
        if 100 <= status < 200:
            out += head
            continue
        kind = "allow" if r.origin == "allow" else "vary"
        return out + expected(head, kind, a.origin, a.cred, a.expose) + rest
    return out


# how the last recv_until ended short of done: EOF, a reset or the timeout,
# and after how long (a failure report's "ended by")
LAST_END = [""]


def recv_until(s, done, size):
    """Bytes until done(bytes so far), EOF, a reset or the timeout; each
    recv asks for size(bytes so far)."""
    buf = b""
    t0 = time.monotonic()
    LAST_END[0] = ""
    while not done(buf):
        try:
            d = s.recv(size(buf))
        except (socket.timeout, ConnectionResetError) as e:
            LAST_END[0] = "%s after %.3f s" % (type(e).__name__, time.monotonic() - t0)
            break
        if not d:
            LAST_END[0] = "EOF after %.3f s" % (time.monotonic() - t0)
            break
        buf += d
    return buf


def recv_exact(s, n):
    """n bytes, or what came before the end."""
    return recv_until(s, lambda b: len(b) >= n, lambda b: n - len(b))


def recv_head(s):
    """Bytes up to and including the blank line (a head without body)."""
    return recv_until(s, lambda b: b.endswith(CRLF + CRLF) or len(b) >= 4096, lambda b: 1)


def check_case(case, a, host):
    s = socket.create_connection((a.host, a.port), timeout=a.timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    problems = []
    try:
        reqs = [request(case, i, r, host, a.origin) for i, r in enumerate(case.responses)]
        if case.pipelined:
            s.sendall(b"".join(reqs))
        for i, r in enumerate(case.responses):
            if not case.pipelined:
                s.sendall(reqs[i])
            if r.want == "preflight":
                got = recv_head(s)
                if not (got.startswith(b"HTTP/1.1 204 ") and
                        b"\r\nAccess-Control-Allow-Origin: %s\r\n" % a.origin.encode() in got):
                    problems.append("response %d: not the kernel's preflight answer: %r" % (i, got))
                    break
                continue
            want = want_bytes(r, a)
            got = recv_exact(s, len(want))
            if r.want == "prefix" and want.startswith(got):
                want = got
            if got != want:
                problems.append("response %d (%s):\n    want %r\n    got  %r" %
                                (i, LAST_END[0] or "all bytes", want, got))
                break
            if r.close:
                s.settimeout(2)
                extra = recv_exact(s, 1)
                if extra:
                    problems.append("response %d: bytes after the app closed: %r" % (i, extra))
        if problems:
            # the server's log names its connections by this address
            problems.append("client %s:%d (the serve log: $PF_WORK/oflraw.out)" %
                            s.getsockname()[:2])
    finally:
        s.close()
    return problems


def check(a):
    host = a.host if ":" not in a.host else "[%s]" % a.host
    names = a.case or DEFAULT_CASES
    ok = 0
    for name in names:
        try:
            problems = check_case(CASE_BY_NAME[name], a, host)
        except OSError as e:
            problems = ["%s" % e]
        ok += not problems
        print("oflraw: %-4s %s%s" % ("ok" if not problems else "FAIL", name,
                                     "".join("\n  " + p for p in problems)), flush=True)
    print("oflraw: cases=%d ok=%d" % (len(names), ok))
    return 0 if ok == len(names) else 1


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("serve")
    sp.add_argument("--listen", action="append", required=True)
    sp.add_argument("--defer-accept", type=int, action="append", default=[])
    sp.add_argument("--go", default=None)
    cp = sub.add_parser("check")
    cp.add_argument("--host", required=True)
    cp.add_argument("--port", type=int, required=True)
    cp.add_argument("--origin", required=True)
    cp.add_argument("--cred", action="store_true")
    cp.add_argument("--expose", default="")
    cp.add_argument("--case", action="append")
    cp.add_argument("--timeout", type=float, default=5)
    sub.add_parser("list")
    a = ap.parse_args()
    if a.cmd == "serve":
        serve(a)
        return 0
    if a.cmd == "list":
        print("\n".join(c.name for c in CASES))
        return 0
    return check(a)


if __name__ == "__main__":
    sys.exit(main())
