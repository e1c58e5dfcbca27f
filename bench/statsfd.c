/* statsfd.c -- keep the kernel timing BPF programs (run_time_ns, run_cnt) until a signal. */
/*
 *   statsfd
 *
 * Enables BPF program statistics with BPF_ENABLE_STATS (BPF_STATS_RUN_TIME),
 * prints "statsfd: ready" and waits for SIGINT or SIGTERM; the statistics
 * stay enabled as long as the returned fd is open, i.e. until this process
 * ends, however it ends. Unlike the kernel.bpf_stats_enabled sysctl, this
 * is reference-counted: another tenant of the machine switching the sysctl
 * off (or on and off again) does not stop the benchmark's timing, and
 * nothing global is left changed.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

int main(int argc, char **argv)
{
	sigset_t set;
	int fd, sig;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: statsfd\n");
		return 2;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (fd < 0) {
		fprintf(stderr, "statsfd: enable BPF statistics: %s\n", strerror(errno));
		return 1;
	}
	printf("statsfd: ready\n");
	fflush(stdout);
	sigwait(&set, &sig);
	close(fd);
	return 0;
}
