/* refusegoto.c -- e2e LD_PRELOAD library: a verifier that refuses preflightd's open-coded loops. */
/*
 *   LD_PRELOAD=build/tests/e2e/refusegoto.so preflightd run ...
 *
 * Every BPF_PROG_LOAD of a program over 16 instructions with a may_goto
 * instruction in it fails with EINVAL, as a kernel from 6.9 on whose
 * verifier refused the open-coded loops would (include/pf_common.h); the
 * probe's 4-instruction program still loads, so the daemon takes the
 * kernel for one that has may_goto. libbpf makes the system call through
 * libc's syscall(), which this wraps; every other call goes on unchanged.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <linux/bpf.h>

#include "../../../include/pf_common.h"

/* Does the program attr loads hold a may_goto (its code byte)? */
static int has_may_goto(const union bpf_attr *attr)
{
	const struct bpf_insn *insns = (const struct bpf_insn *)(unsigned long)attr->insns;
	__u32 i;

	if (attr->insn_cnt <= 16 || !insns)
		return 0;
	for (i = 0; i < attr->insn_cnt; i++)
		if (insns[i].code == PF_MAY_GOTO_CODE)
			return 1;
	return 0;
}

long syscall(long n, ...)
{
	static long (*next)(long, ...);
	long a[6];
	va_list ap;
	int i;

	if (!next) {
		next = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
		if (!next)
			abort();
	}
	va_start(ap, n);
	for (i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (n == SYS_bpf && a[0] == BPF_PROG_LOAD &&
	    has_may_goto((const union bpf_attr *)(unsigned long)a[1])) {
		errno = EINVAL;
		return -1;
	}
	return next(n, a[0], a[1], a[2], a[3], a[4], a[5]);
}
