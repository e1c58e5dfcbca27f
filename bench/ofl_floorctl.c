/* ofl_floorctl.c -- load bench/ofl_floor.bpf.c for bench/offload.sh (its
 * "skpass" variant). */
/*
 *   ofl_floorctl CGROUP PORT
 * Attaches the floor's sockops program to CGROUP (multi-attach) and its
 * SK_MSG program to the socket map, prints "ready", and on SIGINT/SIGTERM
 * detaches both and releases the sockets. Exit 0, or 1 with a message.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "ofl_floor.skel.h"

int main(int argc, char **argv)
{
	struct ofl_floor *skel;
	sigset_t set;
	__u64 k, next;
	int cg, sig, more, msg_fd, map_fd;

	if (argc != 3) {
		fprintf(stderr, "usage: ofl_floorctl CGROUP PORT\n");
		return 2;
	}
	cg = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0) {
		fprintf(stderr, "ofl_floorctl: open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	skel = ofl_floor__open();
	if (!skel) {
		fprintf(stderr, "ofl_floorctl: open: %s\n", strerror(errno));
		return 1;
	}
	skel->rodata->floor_port = (__u32)atoi(argv[2]);
	if (ofl_floor__load(skel)) {
		fprintf(stderr, "ofl_floorctl: load: %s\n", strerror(errno));
		return 1;
	}
	msg_fd = bpf_program__fd(skel->progs.floor_msg);
	map_fd = bpf_map__fd(skel->maps.floor_socks);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (bpf_prog_attach(msg_fd, map_fd, BPF_SK_MSG_VERDICT, 0) ||
	    bpf_prog_attach(bpf_program__fd(skel->progs.floor_sockops), cg,
			    BPF_CGROUP_SOCK_OPS, BPF_F_ALLOW_MULTI)) {
		fprintf(stderr, "ofl_floorctl: attach: %s\n", strerror(errno));
		return 1;
	}
	printf("ofl_floorctl: ready\n");
	fflush(stdout);
	sigwait(&set, &sig);
	bpf_prog_detach2(bpf_program__fd(skel->progs.floor_sockops), cg, BPF_CGROUP_SOCK_OPS);
	bpf_prog_detach2(msg_fd, map_fd, BPF_SK_MSG_VERDICT);
	more = !bpf_map_get_next_key(map_fd, NULL, &k);
	while (more) {
		more = !bpf_map_get_next_key(map_fd, &k, &next);
		bpf_map_delete_elem(map_fd, &k);
		k = next;
	}
	ofl_floor__destroy(skel);
	return 0;
}
