/* flowfill.c -- e2e: fill a running preflightd's flow table with entries of ended connections. */
/*
 *   flowfill --iface IF --count N [--port P] [--active]
 *
 * Writes N entries into the pinned flow table of the preflightd serving
 * IF (/sys/fs/bpf/preflightd/IF/flows): connections 10.x.y.z:port ->
 * 198.18.255.254:P (default 8080) that have no socket, one splice each,
 * idle since boot -- what a busy server's table holds after its clients
 * left. With --active: connections in use, never spliced -- the GC keeps
 * them (active since its dump began: last_ns is the clock's end), a drain
 * has nothing to wait for. Prints "flowfill: N entries". Exit 1 (message)
 * if the table takes fewer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include "pf_structs.h"

#define CHUNK 65536

int main(int argc, char **argv)
{
	static struct pf_flow_key keys[CHUNK];
	static struct pf_flow vals[CHUNK];
	const char *iface = NULL;
	unsigned long n = 0, port = 8080, i, j;
	char path[256];
	__u32 c;
	int fd, a, active = 0;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--active"))
			active = 1;
		else if (a + 1 < argc && !strcmp(argv[a], "--iface"))
			iface = argv[++a];
		else if (a + 1 < argc && !strcmp(argv[a], "--count"))
			n = strtoul(argv[++a], NULL, 10);
		else if (a + 1 < argc && !strcmp(argv[a], "--port"))
			port = strtoul(argv[++a], NULL, 10);
		else
			break;
	}
	if (a != argc || !iface || strchr(iface, '/') || !n || n > 16777216 || !port ||
	    port > 65535) {
		fprintf(stderr, "usage: flowfill --iface IF --count N [--port P] [--active]\n");
		return 2;
	}
	snprintf(path, sizeof(path), "/sys/fs/bpf/preflightd/%s/flows", iface);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		fprintf(stderr, "flowfill: open %s: %s\n", path, strerror(errno));
		return 1;
	}
	for (j = 0; j < CHUNK; j++) {
		vals[j].last_ns = active ? ~0ull : 1;
		vals[j].splices = !active;
		vals[j].resp_acked = 1;
	}
	for (i = 0; i < n; i += c) {
		c = n - i < CHUNK ? (__u32)(n - i) : CHUNK;
		for (j = 0; j < c; j++) {
			struct pf_flow_key *k = &keys[j];
			unsigned long x = i + j;

			memset(k, 0, sizeof(*k));
			k->family = 4;
			k->caddr[0] = 10;
			k->caddr[1] = (__u8)(x >> 16);
			k->caddr[2] = (__u8)(x >> 8);
			k->caddr[3] = (__u8)x;
			k->cport = htons((__u16)(1024 + (x >> 24)));
			inet_pton(AF_INET, "198.18.255.254", k->saddr);
			k->sport = htons((__u16)port);
		}
		if (bpf_map_update_batch(fd, keys, vals, &c, NULL)) {
			fprintf(stderr, "flowfill: %lu entries written, then: %s\n", i + c,
				strerror(errno));
			return 1;
		}
	}
	printf("flowfill: %lu entries\n", n);
	return 0;
}
