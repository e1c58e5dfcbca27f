/* iface.c -- the --iface argument is an interface name, never a path (see iface.h). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <net/if.h>
#include "iface.h"
#include "log.h"

/* See iface.h. */
int pf_iface_check(const char *name)
{
	size_t i, n = strnlen(name, IFNAMSIZ);
	const char *why = NULL;
	bool echo = true;   /* the name is printable: show it */

	if (!n)
		why = "empty";
	else if (n >= IFNAMSIZ)
		why = "longer than 15 bytes";
	else if (!strcmp(name, ".") || !strcmp(name, ".."))
		why = "'.' and '..' are not interface names";
	for (i = 0; !why && i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '/' || c == ':') {
			why = "'/' and ':' cannot be in an interface name";
		} else if (c <= ' ' || c == 0x7f) {
			why = "no spaces or control characters in an interface name";
			echo = false;
		}
	}
	if (!why)
		return 0;
	if (echo)
		pr_warn("invalid interface name '%.*s%s': %s", (int)n, name,
			n < IFNAMSIZ ? "" : "...", why);
	else
		pr_warn("invalid interface name: %s", why);
	return -EINVAL;
}
