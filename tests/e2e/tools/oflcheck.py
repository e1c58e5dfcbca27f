#!/usr/bin/env python3
"""oflcheck.py -- byte-exact check of the response offload (issue 13, e2e).

    oflcheck.py --host H --port P --ref-port R --suite appserver|nginx|cors|loss
                --origin O [--cred] [--expose NAMES] [--timeout S]
                [--no-room-ok]

The same server process listens on a policy port P (its sockets covered
by preflightd's SK_MSG program) and on a reference port R that no policy
lists (untouched). The suite's requests -- one keep-alive connection per
port, some pipelined -- go to both; every response from P must equal the
one from R byte for byte, except that each final response head carries the
lines preflightd inserts right after its status line:

  allowed origin   Access-Control-Allow-Origin: O
                   [Access-Control-Allow-Credentials: true]   (--cred)
                   [Access-Control-Expose-Headers: NAMES]      (--expose)
                   Vary: <the app's Vary values, merged>, Origin
  other origin or  Vary: <...>, Origin
  none
  uncovered        nothing (and every response of the cors suite, for
                   shadow mode: not a byte may change)

and that the app's own Vary lines are then merged into that one line
(a Vary that already lists Origin or "*" stays as it is and none is
added) and its own Access-Control-* lines removed (app_headers: replace). 1xx interim heads and all bodies (Content-Length, chunked,
sendfile) must be identical. Date values are compared as equal.

--no-room-ok: a pipelined response behind another of its group may also
arrive exactly as the app sent it (the SK_MSG program's designed fail-open
when the send buffer cannot surely take an edited head: ofl_no_room, which
the caller compares with U). Nothing else of it may differ.

Prints one line per response and "oflcheck: suite=S responses=N ok=K
unchanged=U bytes=B"; exit 0 iff every response matched (K + U = N).
"""
import argparse
import socket
import sys

CRLF = b"\r\n"


class Step:
    """One request: kind is what the offload should insert ('allow',
    'vary', 'none'); group: requests of one group are written together
    (pipelined) before their responses are read."""

    def __init__(self, method, path, kind, headers=(), body=None,
                 expect100=False, group=None, etag_from=None):
        self.method, self.path, self.kind = method, path, kind
        self.headers, self.body = list(headers), body
        self.expect100, self.group, self.etag_from = expect100, group, etag_from


def suite_appserver(origin):
    o = [("Origin", origin)]
    return [
        Step("GET", "/blob?n=1048576&seed=1", "allow", o),
        Step("GET", "/chunked?n=300000&seed=2", "allow", o),
        Step("HEAD", "/blob?n=1048576", "allow", o),
        Step("GET", "/etag", "allow", o + [("If-None-Match", '"v1"')]),
        Step("GET", "/etag", "vary"),
        Step("PUT", "/v1/items", "allow", o + [("Content-Type", "application/octet-stream")],
             body=bytes((i * 7) & 0xFF for i in range(200000)), expect100=True),
        Step("GET", "/blob?n=100&seed=3", "allow", o + [("X-Head-Split", "7")]),
        Step("GET", "/chunked?n=50000&seed=4", "allow", o + [("X-Head-Split", "5")]),
        Step("GET", "/health", "allow", o, group=1),
        Step("GET", "/health", "vary", [("Origin", "https://evil.test")], group=1),
        Step("DELETE", "/v1/x", "allow", o, group=1),
        Step("HEAD", "/chunked?n=10", "allow", o, group=1),
        Step("GET", "/nothing-here", "allow", o),
        Step("GET", "/v1/own", "allow", o + [("X-App-Cors", "*")]),
        Step("OPTIONS", "/v1/items", "allow", o),
        Step("GET", "/blob?n=70000&seed=5", "allow", o + [("Connection", "close")]),
    ]


def suite_loss(origin):
    """The appserver suite twice, with request heads of about 3 KiB (a
    2,800-byte Cookie before Origin: split over segments, held and joined
    by the recorder) among its requests; for a run under injected loss
    and duplication. The large heads are not pipelined: a segment that
    went through while the head before it was missing, and that held the
    next head's start, stops the recording (ofl_in_gap; the bytes are
    not parsed from the piece kept ahead). Without its 1 MiB download: a
    socket out of the SK_MSG path for a body that large is put back at the
    next request only once the app's write has let go of it, which under
    loss can take longer than the client's retransmissions wait
    (PF_OFL_READD_DROPS: the connection's later responses then pass
    unchanged, counted ofl_detach_failed)."""
    o = [("Origin", origin)]
    cookie = [("Cookie", "s=" + "".join("abcdefghij"[i % 10] for i in range(2798)))]
    steps = [x for x in suite_appserver(origin)[:-1]
             if not (x.method == "GET" and x.path.startswith("/blob?n=1048576"))]
    steps += [
        Step("GET", "/blob?n=5000&seed=6", "allow", cookie + o),
        Step("GET", "/v1/items", "vary", cookie + [("Origin", "https://evil.test")]),
        Step("GET", "/chunked?n=20000&seed=7", "allow", cookie + o),
        Step("GET", "/health", "vary", cookie),
        Step("GET", "/blob?n=3000&seed=8", "allow", cookie + o),
    ]
    again = [Step(x.method, x.path, x.kind, x.headers, x.body, x.expect100,
                  None if x.group is None else x.group + 10,
                  None if x.etag_from is None else x.etag_from + len(steps))
             for x in steps[:-3]]
    return steps + again + suite_appserver(origin)[-1:]


def suite_cors(origin):
    """appserver in its CORS mode (shadow mode's app): routes it has."""
    o = [("Origin", origin)]
    pf = o + [("Access-Control-Request-Method", "PUT"),
              ("Access-Control-Request-Headers", "content-type")]
    return [
        Step("GET", "/blob?n=1048576&seed=1", "none", o),
        Step("OPTIONS", "/v1/items", "none", pf),
        Step("PUT", "/v1/items", "none", o + [("Content-Type", "application/octet-stream")],
             body=bytes((i * 7) & 0xFF for i in range(200000)), expect100=True),
        Step("GET", "/health", "none", o, group=1),
        Step("GET", "/health", "none", [("Origin", "https://evil.test")], group=1),
        Step("GET", "/blob?n=5000&seed=2", "none", o, group=1),
        Step("GET", "/health", "none", o + [("Connection", "close")]),
    ]


def suite_nginx(origin):
    o = [("Origin", origin)]
    return [
        Step("GET", "/blob.bin", "allow", o),
        Step("GET", "/page.txt", "allow", o + [("Accept-Encoding", "gzip")]),
        Step("HEAD", "/blob.bin", "allow", o),
        Step("GET", "/blob.bin", "allow", o, etag_from=0),
        Step("GET", "/small.json", "vary", [("Origin", "https://evil.test")]),
        Step("GET", "/small.json", "allow", o, group=1),
        Step("GET", "/page.txt", "allow", o + [("Accept-Encoding", "gzip")], group=1),
        Step("GET", "/missing", "allow", o, group=1),
        # keep-alive, 1 MiB sendfile bodies and small JSON alternating
        # (the socket leaves the SK_MSG path for each large body and is
        # back at the next request), then pipelined behind a large body
        Step("GET", "/blob.bin", "allow", o),
        Step("GET", "/small.json", "allow", o),
        Step("GET", "/blob.bin", "vary", [("Origin", "https://evil.test")]),
        Step("GET", "/small.json", "vary"),
        Step("GET", "/blob.bin", "allow", o, group=2),
        Step("GET", "/small.json", "allow", o, group=2),
        Step("GET", "/blob.bin", "vary", [], group=2),
        Step("GET", "/small.json", "allow", o, group=2),
        Step("GET", "/blob.bin", "vary", [("Connection", "close")]),
    ]


class Conn:
    def __init__(self, host, port, timeout):
        self.s = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def _more(self):
        d = self.s.recv(1 << 20)
        if not d:
            raise EOFError("connection closed")
        self.buf += d

    def take(self, n):
        while len(self.buf) < n:
            self._more()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def line(self):
        while CRLF not in self.buf:
            self._more()
        i = self.buf.index(CRLF) + 2
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def head(self):
        while b"\r\n\r\n" not in self.buf:
            self._more()
        i = self.buf.index(b"\r\n\r\n") + 4
        out, self.buf = self.buf[:i], self.buf[i:]
        return out


def head_fields(head):
    """(status, [(name_lower, raw_line)]) of a head (raw lines incl. CRLF)."""
    lines = head.split(CRLF)[:-2]
    status = int(lines[0].split(b" ")[1])
    fields = [(ln.split(b":", 1)[0].strip().lower(), ln + CRLF) for ln in lines[1:]]
    return status, fields


def read_body(c, method, status, fields):
    """The body's raw bytes (chunk framing included)."""
    if method == "HEAD" or status in (204, 304) or status < 200:
        return b""
    f = dict(fields)
    te = f.get(b"transfer-encoding")
    if te is not None and te.split(b":", 1)[1].strip().lower().endswith(b"chunked"):
        raw = b""
        while True:
            ln = c.line()
            raw += ln
            size = int(ln.split(b";")[0].strip(), 16)
            if size == 0:
                while True:
                    t = c.line()
                    raw += t
                    if t == CRLF:
                        return raw
            raw += c.take(size + 2)
    cl = f.get(b"content-length")
    if cl is None:
        raise ValueError("no framing")
    return c.take(int(cl.split(b":", 1)[1].strip()))


def request(step, host, prev):
    hdrs = [("Host", host)] + step.headers
    if step.etag_from is not None:
        _, fields = head_fields(prev[step.etag_from][1])
        etag = dict(fields)[b"etag"].split(b":", 1)[1].strip().decode()
        hdrs.append(("If-None-Match", etag))
    if step.body is not None:
        hdrs.append(("Content-Length", str(len(step.body))))
        if step.expect100:
            hdrs.append(("Expect", "100-continue"))
    head = "%s %s HTTP/1.1\r\n" % (step.method, step.path)
    head += "".join("%s: %s\r\n" % kv for kv in hdrs) + "\r\n"
    return head.encode()


def read_response(c, step):
    """(interim heads, final head, body)."""
    interim = []
    while True:
        h = c.head()
        status, fields = head_fields(h)
        if 100 <= status < 200:
            interim.append(h)
            continue
        return interim, h, read_body(c, step.method, status, fields)


STEP = [0]  # the step at hand, for error messages


def run(host, port, steps, timeout, hosthdr):
    """Every step on one connection; returns [(interim, head, body)]."""
    c = Conn(host, port, timeout)
    host = hosthdr
    out, i = [], 0
    while i < len(steps):
        st = steps[i]
        STEP[0] = i
        if st.group is not None:
            grp = [s for s in steps[i:] if s.group == st.group]
            c.send(b"".join(request(s, host, out) + (s.body or b"") for s in grp))
            for s in grp:
                out.append(read_response(c, s))
            i += len(grp)
            continue
        c.send(request(st, host, out))
        if st.body is not None:
            if st.expect100:
                h = c.head()  # the app's 100 Continue, before the body
                c.send(st.body)
                interim, head, body = read_response(c, st)
                out.append(([h] + interim, head, body))
                i += 1
                continue
            c.send(st.body)
        out.append(read_response(c, st))
        i += 1
    return out


def norm_date(line):
    return b"Date: -\r\n" if line.lower().startswith(b"date:") else line


def same(want, got):
    """Two heads equal apart from their Date values."""
    return [norm_date(x) for x in want.split(CRLF)] == \
           [norm_date(x) for x in got.split(CRLF)]


def expected(ref_head, kind, origin, cred, expose):
    """The head preflightd should make of the untouched one."""
    status, fields = head_fields(ref_head)
    lines = ref_head.split(CRLF)
    status_line = lines[0] + CRLF
    if kind == "none":
        return ref_head
    vary = [raw for name, raw in fields if name == b"vary"]
    vals = [v.split(b":", 1)[1].strip() for v in vary]
    has_origin = any(t.strip().lower() in (b"origin", b"*")
                     for v in vals for t in v.split(b","))
    block = b""
    rest = [raw for name, raw in fields
            if not name.startswith(b"access-control-")]
    if kind == "allow":
        block += b"Access-Control-Allow-Origin: " + origin.encode() + CRLF
        if cred:
            block += b"Access-Control-Allow-Credentials: true" + CRLF
        if expose:
            block += b"Access-Control-Expose-Headers: " + expose.encode() + CRLF
    if not has_origin:
        block += b"Vary: " + b"".join(v + b", " for v in vals if v) + b"Origin" + CRLF
        rest = [raw for raw in rest if raw not in vary]
    return status_line + block + b"".join(rest) + CRLF


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ref-port", type=int, required=True)
    ap.add_argument("--suite", choices=("appserver", "nginx", "cors", "loss"), required=True)
    ap.add_argument("--origin", required=True)
    ap.add_argument("--cred", action="store_true")
    ap.add_argument("--expose", default="")
    ap.add_argument("--timeout", type=float, default=20)
    ap.add_argument("--no-room-ok", action="store_true")
    a = ap.parse_args()
    steps = {"appserver": suite_appserver, "nginx": suite_nginx,
             "cors": suite_cors, "loss": suite_loss}[a.suite](a.origin)
    host = a.host if ":" not in a.host else "[%s]" % a.host
    try:
        where = "reference port"
        ref = run(a.host, a.ref_port, steps, a.timeout, host)
        where = "covered port"
        got = run(a.host, a.port, steps, a.timeout, host)
    except (OSError, EOFError, ValueError) as e:
        print("oflcheck: %s: step %d: %s" % (where, STEP[0], e))
        print("oflcheck: suite=%s responses=0 ok=0 unchanged=0 bytes=0" % a.suite)
        return 1
    ok, unchanged, nbytes = 0, 0, 0
    for i, (st, r, g) in enumerate(zip(steps, ref, got)):
        want = expected(r[1], st.kind, a.origin, a.cred, a.expose)
        same_head = same(want, g[1])
        good = r[0] == g[0] and same_head and r[2] == g[2]
        behind = i > 0 and st.group is not None and steps[i - 1].group == st.group
        kept = (not good and a.no_room_ok and behind and r[0] == g[0] and
                same(r[1], g[1]) and r[2] == g[2])
        ok += good
        unchanged += kept
        nbytes += len(g[1]) + len(g[2])
        print("oflcheck: %-4s %d %s %s %s (%d body bytes)%s" % (
            "ok" if good else "kept" if kept else "FAIL", i, st.method, st.path,
            st.kind, len(g[2]),
            "" if good else "\n  want head %r\n  got  head %r\n  interim %r / %r\n  body %s" % (
                want, g[1], r[0], g[0], "same" if r[2] == g[2] else "DIFFERENT")
            if not good and not kept else ""))
    print("oflcheck: suite=%s responses=%d ok=%d unchanged=%d bytes=%d" % (
        a.suite, len(got), ok, unchanged, nbytes))
    return 0 if ok + unchanged == len(steps) == len(got) else 1


if __name__ == "__main__":
    sys.exit(main())
