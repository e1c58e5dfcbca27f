#!/usr/bin/env python3
"""progtimes.py -- when each BPF program a process holds began to load
(e2e, daemon.sh: whether start-up verified them side by side).

    progtimes.py PID

Prints "NAME LOAD_TIME_NS" per program PID holds an fd of (its fdinfo's
prog_id), sorted by name: bpf_prog_info.load_time, the boot-time ns the
kernel took when BPF_PROG_LOAD began, before the verifier ran -- so two
programs verified one after the other began at least the first one's
verification apart. bpftool prints it in whole seconds only. Needs root
(BPF_PROG_GET_FD_BY_ID). Exit 1 if PID holds none.
"""
import ctypes
import os
import platform
import struct
import sys

SYS_BPF = {"x86_64": 321, "aarch64": 280}[platform.machine()]
BPF_PROG_GET_FD_BY_ID = 13
BPF_OBJ_GET_INFO_BY_FD = 15
INFO_LEN = 80  # bpf_prog_info up to its name: load_time at 40, name at 64

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(attr, 128)
    ret = libc.syscall(SYS_BPF, cmd, buf, ctypes.c_uint(128))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return ret


def prog_ids(pid):
    ids = set()
    d = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(d):
        try:
            with open(f"{d}/{fd}") as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        ids.add(int(line.split()[1]))
        except OSError:
            pass  # closed meanwhile
    return ids


def prog_info(prog_id):
    fd = bpf(BPF_PROG_GET_FD_BY_ID, struct.pack("=III", prog_id, 0, 0))
    try:
        info = ctypes.create_string_buffer(INFO_LEN)
        bpf(BPF_OBJ_GET_INFO_BY_FD,
            struct.pack("=IIQ", fd, INFO_LEN, ctypes.addressof(info)))
        load_time = struct.unpack_from("=Q", info.raw, 40)[0]
        name = info.raw[64:80].split(b"\0")[0].decode()
        return name, load_time
    finally:
        os.close(fd)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    rows = []
    for i in prog_ids(int(sys.argv[1])):
        try:
            rows.append(prog_info(i))
        except OSError:
            pass  # unloaded meanwhile
    rows.sort()
    for name, t in rows:
        print(name, t)
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
