/* slowattach.c -- e2e LD_PRELOAD library: preflightd's XDP and TC attaches take longer. */
/*
 *   LD_PRELOAD=build/tests/e2e/slowattach.so [PF_SLOW_ATTACH_MS=1500] preflightd run ...
 *
 * Every call of xdp_program__attach (libxdp), bpf_xdp_attach and
 * bpf_tc_attach (libbpf) sleeps PF_SLOW_ATTACH_MS (default 1500) before
 * doing its work: the start-up of a machine where libxdp's attempt to
 * load its dispatcher takes over a second before it falls back to a
 * single program (issue 9 item 2). Anything "ready" promises must still
 * hold right after "ready" is printed.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

/* Sleep PF_SLOW_ATTACH_MS milliseconds (default 1500, at most 60 s). */
static void slow(void)
{
	const char *v = getenv("PF_SLOW_ATTACH_MS");
	long ms = v ? strtol(v, NULL, 10) : 1500;
	struct timespec ts;

	if (ms < 0 || ms > 60000)
		ms = 1500;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts))
		;
}

/* The next definition of name (libxdp's or libbpf's); aborts if none. */
static void *next(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	if (!f)
		abort();
	return f;
}

int xdp_program__attach(struct xdp_program *prog, int ifindex, enum xdp_attach_mode mode,
			unsigned int flags)
{
	int (*f)(struct xdp_program *, int, enum xdp_attach_mode, unsigned int) =
		next("xdp_program__attach");

	slow();
	return f(prog, ifindex, mode, flags);
}

int bpf_xdp_attach(int ifindex, int prog_fd, __u32 flags, const struct bpf_xdp_attach_opts *opts)
{
	int (*f)(int, int, __u32, const struct bpf_xdp_attach_opts *) = next("bpf_xdp_attach");

	slow();
	return f(ifindex, prog_fd, flags, opts);
}

int bpf_tc_attach(const struct bpf_tc_hook *hook, struct bpf_tc_opts *opts)
{
	int (*f)(const struct bpf_tc_hook *, struct bpf_tc_opts *) = next("bpf_tc_attach");

	slow();
	return f(hook, opts);
}
