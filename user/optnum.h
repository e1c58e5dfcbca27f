/* User: the commands' numeric options (run, detach, trace) and their operands -- one parser for all. */
#ifndef PF_OPTNUM_H
#define PF_OPTNUM_H

/* The value of option --opt given as arg: 1 or more decimal digits and
 * nothing else (no sign, no space, not empty), min <= value <= max. 0 and
 * *out set, or -EINVAL with "invalid --OPT 'ARG': expected a whole number
 * from MIN to MAX" printed and *out untouched. */
int pf_opt_ulong(const char *opt, const char *arg, unsigned long min,
		 unsigned long max, unsigned long *out);

/* After getopt: cmd takes no operand. 0 if argv[optind..argc) is empty,
 * else -EINVAL with "CMD: unexpected argument 'ARG' (the interface is
 * --iface IFACE)" printed -- `stats eth1` must not report another
 * interface's counters. */
int pf_opt_none(const char *cmd, int argc, char **argv, int optind);

#endif /* PF_OPTNUM_H */
