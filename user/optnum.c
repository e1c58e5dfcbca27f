/* optnum.c -- the one parser of the commands' numeric options (strtoul
 * alone takes "" as 0 and " 5", "+5" or "-1" (ULONG_MAX) as numbers), and
 * the check that a command got no operand. */
#include <errno.h>
#include <stdlib.h>
#include "optnum.h"
#include "log.h"

/* See optnum.h. */
int pf_opt_ulong(const char *opt, const char *arg, unsigned long min,
		 unsigned long max, unsigned long *out)
{
	unsigned long v;
	const char *p;
	char *end;

	for (p = arg; *p >= '0' && *p <= '9'; p++)
		;
	if (p == arg || *p)
		goto bad;
	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || v < min || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	pr_warn("invalid --%s '%s': expected a whole number from %lu to %lu",
		opt, arg, min, max);
	return -EINVAL;
}

/* See optnum.h. */
int pf_opt_none(const char *cmd, int argc, char **argv, int optind)
{
	if (optind >= argc)
		return 0;
	pr_warn("%s: unexpected argument '%s' (the interface is --iface IFACE)", cmd,
		argv[optind]);
	return -EINVAL;
}
