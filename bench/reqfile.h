/* reqfile.h -- a benchmark request file as the bytes on the wire, shared by kcost.c and rrlat.c. */
/*
 * The format of bench/preflight*.txt (and what bench/preflight.lua sends
 * for wrk): lines starting with "#" and empty lines are skipped, the rest
 * is the request head, one line each, sent with CRLF line ends and a
 * blank line (CRLF) after the last one.
 */
#ifndef BENCH_REQFILE_H
#define BENCH_REQFILE_H

#include <stddef.h>

/* Read the request head of file into buf (cap bytes, NUL-terminated).
 * Returns its length, or -errno with "<prog>: <operation> <file>: %s"
 * printed: the file cannot be opened, holds no request (-ENODATA) or does
 * not fit (-EFBIG). */
int bench_read_request(const char *prog, const char *file, char *buf, size_t cap);

#endif /* BENCH_REQFILE_H */
