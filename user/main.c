/* main.c -- preflightd: answer CORS preflights in the kernel's packet path.
 * Subcommand dispatch only. */
#include <stdio.h>
#include <string.h>
#include "cmds.h"


static void usage(FILE *f)
{
	fprintf(f,
		"usage: preflightd COMMAND [options]\n"
		"  run      --iface IF --policy FILE   attach and answer preflights\n"
		"  check    FILE                       validate and compile a policy\n"
		"  stats    [--iface IF] [--json]      datapath counters\n"
		"  detach   --iface IF                 drain and remove a dead instance's leftovers\n"
		"  explain  POLICY --origin O --method M  why a preflight is answered or not\n"
		"  trace    [--iface IF] [--sample N]  live stream of datapath decisions\n"
		"Run 'preflightd COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "run", pf_cmd_run },
		{ "check", pf_cmd_check },
		{ "stats", pf_cmd_stats },
		{ "detach", pf_cmd_detach },
		{ "explain", pf_cmd_explain },
		{ "trace", pf_cmd_trace },
	};
	unsigned i;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("preflightd 0.1\n");
		return 0;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "preflightd: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
