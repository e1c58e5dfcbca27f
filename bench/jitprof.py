#!/usr/bin/env python3
"""jitprof.py -- charge perf samples to the BPF source lines whose JIT code
ran them (bench/jitprof.sh).

  jitprof.py [--comm COMM] --top N NAME=JITLINES... < perf-script

stdin: `perf script -F comm,ip,sym` of a `perf record -g` (one block per
sample, its frames leaf first). JITLINES: bench/jitlines' output for the
program NAME. A sample (of process COMM; without --comm, of any) counts
for NAME when one of its frames is in NAME's JIT image: the first such
frame, leaf side, is the line charged (a caller frame's address is a
return address: looked up one byte back), and the sample was in the JIT
code itself (the leaf frame is that one) or in what that line called (a
helper, a map look-up, the kernel below). Prints one
markdown section per NAME: the functions, then the N lines with the most
samples, each with its share in the JIT code and in calls (the called
kernel function most sampled under it named).
"""
import argparse
import bisect
import collections
import sys


def load(path):
    funcs, lines = [], []
    with open(path) as f:
        for rec in f:
            p = rec.rstrip("\n").split(" ", 3)
            if p[0] == "FUNC":
                funcs.append((int(p[1], 16), int(p[2])))
            elif p[0] == "LINE":
                lines.append((int(p[1], 16), p[2], p[3].strip() if len(p) > 3 else ""))
    lines.sort()
    return funcs, lines, [a for a, _, _ in lines]


def samples(stream):
    comm, frames = None, []
    for rec in stream:
        if not rec.strip():
            if comm is not None:
                yield comm, frames
            comm, frames = None, []
        elif rec[0] not in " \t":
            comm = rec.split()[0] if rec.split() else ""
        else:
            p = rec.split(None, 1)
            try:
                frames.append((int(p[0], 16), p[1].strip() if len(p) > 1 else "?"))
            except ValueError:
                pass
    if comm is not None:
        yield comm, frames


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--comm")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("progs", nargs="+")
    a = ap.parse_args()
    progs = {}
    for spec in a.progs:
        name, path = spec.split("=", 1)
        progs[name] = load(path)
    total = collections.Counter()
    jit = {n: collections.Counter() for n in progs}
    called = {n: collections.Counter() for n in progs}
    callee = {n: collections.defaultdict(collections.Counter) for n in progs}
    funcs = {n: collections.Counter() for n in progs}
    for comm, frames in samples(sys.stdin):
        if a.comm is not None and comm != a.comm:
            continue
        hit = None
        for depth, (ip, sym) in enumerate(frames):
            if not sym.startswith("bpf_prog_"):
                continue
            for name, (fl, lines, addrs) in progs.items():
                at = ip if depth == 0 else ip - 1
                if any(s <= at < s + n for s, n in fl):
                    i = bisect.bisect_right(addrs, at) - 1
                    if i >= 0:
                        hit = (name, depth, lines[i], sym.split("_", 3)[-1])
                    break
            if hit:
                break
        if not hit:
            continue
        name, depth, (_, where, text), func = hit
        key = (where, text)
        total[name] += 1
        funcs[name][func] += 1
        if depth == 0:
            jit[name][key] += 1
        else:
            called[name][key] += 1
            callee[name][key][frames[0][1].split("+")[0]] += 1
    for name in progs:
        t = total[name]
        print(f"### `{name}`: {t} samples\n")
        if not t:
            print("(none)\n")
            continue
        injit = sum(jit[name].values())
        print(f"In the JIT code {100 * injit / t:.1f} %, in what it called "
              f"{100 * (t - injit) / t:.1f} %. By function (BPF-to-BPF, "
              "callback or global; inlined code counts in its caller): " +
              ", ".join(f"`{f}` {100 * c / t:.1f} %" for f, c in funcs[name].most_common(12)) +
              ".\n")
        print("| share | JIT code | in calls (most sampled callee) | source line |")
        print("|---:|---:|---|---|")
        both = collections.Counter()
        both.update(jit[name])
        both.update(called[name])
        for key, c in both.most_common(a.top):
            cl = called[name][key]
            top = callee[name][key].most_common(1)
            calls = f"{100 * cl / t:.1f} % ({top[0][0]})" if cl else ""
            text = key[1].replace("|", "\\|").replace("`", "'")
            print(f"| {100 * c / t:.1f} % | {100 * jit[name][key] / t:.1f} % | {calls} | "
                  f"`{key[0]}` `{text}` |")
        print()


if __name__ == "__main__":
    main()
