/* main.c -- BPF tier runner: `bpftest [FILTER]` runs the cases whose name contains FILTER. */
#include <stdio.h>
#include <unistd.h>

#include "harness.h"

int main(int argc, char **argv)
{
	int ret;

	if (argc > 2) {
		fprintf(stderr, "usage: %s [FILTER]\n", argv[0]);
		return 2;
	}
	if (geteuid() != 0)
		fprintf(stderr, "bpftest: not root; loading BPF will probably fail\n");
	h_filter(argc == 2 ? argv[1] : NULL);
	h_init();
	test_answer();
	test_retx();
	test_pass();
	test_translate();
	test_icmp();
	test_flow();
	test_xdp();
	test_adv_ip();
	test_adv_tcp();
	test_adv_http();
	test_conformance();
	test_slowpath();
	test_reload();
	test_race();
	test_guard();
	test_ofl();
	ret = h_summary();
	h_fini();
	return ret;
}
