/*
 * test_gc.c -- the GC's delete step (pf_gc_delete, user/gc.c with
 * bpf/pf_gc.bpf.c) on a real hash map with pf_flows' key and value (root).
 *
 * A pass reads entries it finds dead, then deletes them. In between, the
 * datapath may free an ended connection's entry at the server's SYN-ACK
 * and a new connection on the same 4-tuple create its own (new random
 * gen): the delete must leave that new entry, and still free the entries
 * that did not change. Before the conditional delete (a delete by key),
 * the replacement went and replace_survives failed. Both ways to delete
 * run it: the program and the userspace fallback.
 *
 * Whole passes (pf_gc_pass) over real loopback connections of this
 * namespace, the dump filtered to their listener's port: a spliced
 * entry whose server socket is in TIME_WAIT stays (its client's FIN
 * retransmission needs the translation of the TIME_WAIT's ACK) and goes
 * once that socket is gone; an entry goes only when two consecutive
 * passes miss its socket (one dump can skip a live socket).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <bpf/bpf.h>
#include <cmocka.h>

#include "clock.h"
#include "gc.h"
#include "sockdiag.h"

#define NKEYS 5000   /* more than one PF_GC_CHUNK */

static void mkkey(struct pf_flow_key *k, unsigned i)
{
	memset(k, 0, sizeof(*k));
	k->family = 4;
	k->caddr[0] = 198;
	k->caddr[1] = 18;
	k->caddr[2] = (__u8)(i >> 8);
	k->caddr[3] = (__u8)i;
	k->saddr[0] = 198;
	k->saddr[1] = 19;
	k->cport = htons(40000 + (i & 0x3ff));
	k->sport = htons(8080);
}

/* The scenario above, deleting with the program (user false) or from
 * userspace. */
static void replace_survives_with(bool user)
{
	static struct pf_flow_key keys[NKEYS];
	static struct pf_flow read[NKEYS];
	static struct pf_gc_cand cands[NKEYS];
	struct pf_flow v = {}, got;
	struct pf_gc_del d = { .user = user };
	__u64 changed = 0, gone;
	int fd;
	unsigned i;

	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "t_flows", sizeof(struct pf_flow_key),
			    sizeof(struct pf_flow), NKEYS + 8, NULL);
	assert_true(fd >= 0);
	for (i = 0; i < NKEYS; i++) {
		mkkey(&keys[i], i);
		v.gen = 1000 + i;
		v.last_ns = 5000000 + i;
		v.fin = PF_FIN_CLIENT | PF_FIN_SERVER;
		assert_int_equal(bpf_map_update_elem(fd, &keys[i], &v, BPF_NOEXIST), 0);
		/* the pass's view of the entry */
		assert_int_equal(bpf_map_lookup_elem(fd, &keys[i], &read[i]), 0);
		cands[i] = (struct pf_gc_cand){
			.key = keys[i], .gen = read[i].gen, .last_ns = read[i].last_ns,
		};
	}
	/* after the read: key 7's connection ended at a SYN-ACK and a new
	 * one on the tuple has its entry (another gen, spliced) ... */
	assert_int_equal(bpf_map_delete_elem(fd, &keys[7]), 0);
	v.gen = 0xabcdef;
	v.last_ns = 9000000;
	v.fin = 0;
	v.splices = 1;
	assert_int_equal(bpf_map_update_elem(fd, &keys[7], &v, BPF_NOEXIST), 0);
	/* ... key 4500's (second chunk) too, its new gen equal by chance but
	 * its last packet later; key 9's entry is gone and not back */
	assert_int_equal(bpf_map_delete_elem(fd, &keys[4500]), 0);
	v.gen = read[4500].gen;
	v.last_ns = read[4500].last_ns + 1;
	assert_int_equal(bpf_map_update_elem(fd, &keys[4500], &v, BPF_NOEXIST), 0);
	assert_int_equal(bpf_map_delete_elem(fd, &keys[9]), 0);

	d.fd = fd;
	gone = pf_gc_delete(&d, cands, NKEYS, &changed);
	assert_int_equal(d.user, user);
	assert_int_equal(gone, NKEYS - 3);
	assert_int_equal(changed, 2);
	assert_int_equal(bpf_map_lookup_elem(fd, &keys[7], &got), 0);
	assert_int_equal(got.gen, 0xabcdef);
	assert_int_equal(got.splices, 1);
	assert_int_equal(bpf_map_lookup_elem(fd, &keys[4500], &got), 0);
	assert_int_equal(got.last_ns, read[4500].last_ns + 1);
	for (i = 0; i < NKEYS; i++)
		if (i != 7 && i != 4500)
			assert_int_not_equal(bpf_map_lookup_elem(fd, &keys[i], &got), 0);
	/* nothing left to delete: all kept or gone */
	changed = 0;
	gone = pf_gc_delete(&d, cands, NKEYS, &changed);
	assert_int_equal(gone, 0);
	assert_int_equal(changed, 2);
	pf_gc_del_close(&d);
	close(fd);
}

static void replace_survives(void **state)
{
	(void)state;
	replace_survives_with(false);
}

static void replace_survives_userspace(void **state)
{
	(void)state;
	replace_survives_with(true);
}

/* The program path is the one that runs here: replace_survives passes
 * through the userspace fallback when the program does not load, so
 * without this a program that stopped loading would go unnoticed (the
 * fallback leaves a window). */
static void program_loads(void **state)
{
	struct pf_gc_del d = {};
	struct utsname u;
	unsigned maj = 0, min = 0;
	int fd;

	(void)state;
	assert_int_equal(uname(&u), 0);
	if (sscanf(u.release, "%u.%u", &maj, &min) != 2 || maj < 6 || (maj == 6 && min < 10)) {
		print_message("skip: kernel %s lacks bpf_preempt_disable (6.10): the GC deletes "
			      "from userspace there\n", u.release);
		skip();
	}
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "t_flows", sizeof(struct pf_flow_key),
			    sizeof(struct pf_flow), 8, NULL);
	assert_true(fd >= 0);
	d.fd = fd;
	assert_int_equal(pf_gc_del_open(&d), 0);
	pf_gc_del_close(&d);
	close(fd);
}

/* A listener on 127.0.0.1, an ephemeral port: its fd, *port (host order). */
static int listener(unsigned *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* A client socket bound to 127.0.0.1 (not connected): its fd, and k the
 * key of its connection to port (server = the local end of the dump). */
static int client(unsigned port, struct pf_flow_key *k)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	memset(k, 0, sizeof(*k));
	k->family = 4;
	memcpy(k->caddr, &a.sin_addr, 4);
	memcpy(k->saddr, &a.sin_addr, 4);
	k->cport = a.sin_port;
	k->sport = htons((__u16)port);
	return fd;
}

/* Connect cfd to port and accept it on lfd: the server's fd. */
static int connect_accept(int cfd, int lfd, unsigned port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons((__u16)port) };
	int afd;

	assert_int_equal(connect(cfd, (struct sockaddr *)&a, sizeof(a)), 0);
	afd = accept(lfd, NULL, NULL);
	assert_true(afd >= 0);
	return afd;
}

/* Close a connection, the server (afd) first, and wait until the client
 * (cfd, closed too) has had its FIN acked: the server is in TIME_WAIT. */
static void close_server_first(int cfd, int afd)
{
	struct tcp_info ti;
	socklen_t len;
	char b;
	int i;

	close(afd);
	assert_int_equal(read(cfd, &b, 1), 0);   /* the server's FIN */
	assert_int_equal(shutdown(cfd, SHUT_WR), 0);
	for (i = 0; i < 200; i++) {
		len = sizeof(ti);
		assert_int_equal(getsockopt(cfd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
		if (ti.tcpi_state == TCP_CLOSE)
			break;
		usleep(10000);
	}
	assert_int_equal(ti.tcpi_state, TCP_CLOSE);
	close(cfd);
}

/* A flow map of n entries for d (d->fd set); returns its fd. */
static int flows_for(struct pf_gc_del *d, unsigned n)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "t_flows", sizeof(struct pf_flow_key),
				sizeof(struct pf_flow), n, NULL);

	assert_true(fd >= 0);
	d->fd = fd;
	return fd;
}

/* A finished entry, its last packet at last_ns, under k in map fd. */
static void put_entry(int fd, const struct pf_flow_key *k, __u32 gen, __u32 splices,
		      __u64 last_ns)
{
	struct pf_flow v = { .gen = gen, .last_ns = last_ns, .splices = splices,
			     .fin = PF_FIN_CLIENT | PF_FIN_SERVER };

	assert_int_equal(bpf_map_update_elem(fd, k, &v, BPF_ANY), 0);
}

/* One pass of d over the dump of port; returns what it freed. */
static __u64 pass(struct pf_gc_del *d, unsigned port, struct pf_gc_result *r)
{
	__u64 ports[1024] = {};

	ports[port >> 6] = 1ULL << (port & 63);
	assert_int_equal(pf_gc_pass(d, ports, pf_mono_ns(), 30000000000ull, NULL, r), 0);
	return r->freed;
}

static bool present(int fd, const struct pf_flow_key *k)
{
	struct pf_flow v;

	return !bpf_map_lookup_elem(fd, k, &v);
}

/* The server closes first, the client's FIN is acked: the server socket
 * is in TIME_WAIT. A spliced entry for it with a packet a second ago
 * stays through any number of passes (before the fix: freed -- the dump
 * did not list TIME_WAIT); a never spliced one goes (nothing to
 * translate), and so does a spliced one idle for long (no FIN
 * retransmission in GC_TW_HOLD_NS); once the TIME_WAIT socket is gone
 * (SOCK_DESTROY), the spliced one goes too. */
static void timewait_keeps_spliced(void **state)
{
	struct pf_flow_key ktw, kplain, kidle;
	__u64 recent = pf_mono_ns() - 1000000000ull;
	struct pf_gc_del d = {};
	struct pf_gc_result r;
	unsigned port;
	int lfd, cfd, afd, fd, nl, i;

	(void)state;
	fd = flows_for(&d, 16);
	lfd = listener(&port);
	cfd = client(port, &ktw);
	afd = connect_accept(cfd, lfd, port);
	close_server_first(cfd, afd);
	cfd = client(port, &kplain);
	afd = connect_accept(cfd, lfd, port);
	close_server_first(cfd, afd);
	cfd = client(port, &kidle);
	afd = connect_accept(cfd, lfd, port);
	close_server_first(cfd, afd);
	put_entry(fd, &ktw, 11, 1, recent);
	put_entry(fd, &kplain, 12, 0, recent);
	put_entry(fd, &kidle, 13, 1, 1);
	for (i = 0; i < 3; i++) {
		pass(&d, port, &r);
		assert_true(present(fd, &ktw));
		assert_true(r.sockets >= 3);
	}
	assert_false(present(fd, &kplain));
	assert_false(present(fd, &kidle));
	/* the TIME_WAIT socket gone: missed twice, freed */
	nl = pf_diag_open();
	assert_true(nl >= 0);
	assert_int_equal(pf_diag_destroy(nl, &ktw), 0);
	close(nl);
	assert_int_equal(pass(&d, port, &r), 0);
	assert_int_equal(r.missed, 1);
	assert_true(present(fd, &ktw));
	assert_int_equal(pass(&d, port, &r), 1);
	assert_false(present(fd, &ktw));
	pf_gc_del_close(&d);
	close(lfd);
	close(fd);
}

/* An entry goes only when two consecutive passes miss its socket and it
 * did not change between them: missed (no connection yet), seen (the
 * connection up: what a dump that skipped it in the first pass would
 * show next), missed (it ended), changed (a packet), then missed twice
 * unchanged -- only that last pass frees it. Before the fix the first
 * pass freed it. */
static void freed_after_two_misses(void **state)
{
	struct pf_flow_key k;
	struct pf_gc_del d = {};
	struct pf_gc_result r;
	struct pf_flow v;
	unsigned port;
	int lfd, cfd, afd, fd;

	(void)state;
	fd = flows_for(&d, 16);
	lfd = listener(&port);
	cfd = client(port, &k);
	put_entry(fd, &k, 21, 1, 1);
	assert_int_equal(pass(&d, port, &r), 0);           /* missed once */
	assert_int_equal(r.missed, 1);
	assert_int_equal(r.live, 1);
	afd = connect_accept(cfd, lfd, port);
	assert_int_equal(pass(&d, port, &r), 0);           /* seen */
	assert_int_equal(r.missed, 0);
	close(cfd);                                        /* the client first: */
	close(afd);                                        /* the server CLOSED */
	usleep(50000);
	assert_int_equal(pass(&d, port, &r), 0);           /* missed once again */
	assert_int_equal(r.missed, 1);
	assert_int_equal(bpf_map_lookup_elem(fd, &k, &v), 0);
	v.last_ns = 2;                                     /* a packet since */
	assert_int_equal(bpf_map_update_elem(fd, &k, &v, BPF_EXIST), 0);
	assert_int_equal(pass(&d, port, &r), 0);           /* changed: first miss */
	assert_int_equal(r.missed, 1);
	assert_true(present(fd, &k));
	assert_int_equal(pass(&d, port, &r), 1);           /* the second: freed */
	assert_int_equal(r.missed, 0);
	assert_false(present(fd, &k));
	pf_gc_del_close(&d);
	close(lfd);
	close(fd);
}

/* Segments keep coming to a connection that has ended (anyone can send
 * them: the entry's last_ns moves with each, spoofed or not): its entry
 * goes at the third pass in a row that misses its socket, changed or not
 * -- before the fix the changed last_ns made every pass a first miss,
 * and one packet a second per entry kept a table full of them. */
static void freed_after_three_misses_changed(void **state)
{
	struct pf_flow_key k;
	struct pf_gc_del d = {};
	struct pf_gc_result r;
	struct pf_flow v;
	unsigned port, i;
	int lfd, cfd, afd, fd;

	(void)state;
	fd = flows_for(&d, 16);
	lfd = listener(&port);
	cfd = client(port, &k);
	afd = connect_accept(cfd, lfd, port);
	close(cfd);
	close(afd);
	usleep(50000);
	put_entry(fd, &k, 31, 1, 1);
	for (i = 0; i < 2; i++) {
		assert_int_equal(pass(&d, port, &r), 0);   /* missed, kept */
		assert_int_equal(r.missed, 1);
		assert_int_equal(bpf_map_lookup_elem(fd, &k, &v), 0);
		v.last_ns += 1;                             /* a packet since */
		assert_int_equal(bpf_map_update_elem(fd, &k, &v, BPF_EXIST), 0);
	}
	assert_int_equal(pass(&d, port, &r), 1);           /* the third: freed */
	assert_false(present(fd, &k));
	/* a new connection on the tuple (gen moved) starts a run of its own */
	put_entry(fd, &k, 32, 1, 1);
	assert_int_equal(pass(&d, port, &r), 0);
	assert_int_equal(r.missed, 1);
	assert_true(present(fd, &k));
	pf_gc_del_close(&d);
	close(lfd);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(program_loads),
		cmocka_unit_test(timewait_keeps_spliced),
		cmocka_unit_test(freed_after_two_misses),
		cmocka_unit_test(freed_after_three_misses_changed),
		cmocka_unit_test(replace_survives),
		cmocka_unit_test(replace_survives_userspace),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
