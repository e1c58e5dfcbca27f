/* User: any userspace code that prints bytes it did not choose (policy values in messages, origins in trace lines). */
#ifndef PF_ESCAPE_H
#define PF_ESCAPE_H

#include <stddef.h>

/* Copy the len bytes of s into buf (cap > 4 bytes, always NUL-terminated)
 * so they print as one line of plain ASCII: bytes 0x20..0x7e as they are,
 * except those in `also` (a string, "" for none); every other byte, and
 * those, as \xNN (lower-case hex). What does not fit is cut at a whole
 * byte and "..." marks the cut. Returns buf. */
const char *pf_escape(char *buf, size_t cap, const void *s, size_t len,
		      const char *also);

/* A cap with which pf_escape() never cuts len bytes. */
#define PF_ESCAPED_MAX(len) (4 * (len) + 4)

#endif /* PF_ESCAPE_H */
