/*
 * escape.c -- bytes from policies and packets made safe to print on one
 * line (see escape.h): no control characters, no terminal escapes, no
 * line breaks, nothing outside ASCII.
 */
#include <string.h>

#include "escape.h"

/* See escape.h. */
const char *pf_escape(char *buf, size_t cap, const void *s, size_t len,
		      const char *also)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = s;
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = p[i];
		size_t need = (c >= 0x20 && c < 0x7f && !(c && strchr(also, c))) ? 1 : 4;

		/* this byte must leave room for "..." and the NUL */
		if (o + need + 4 > cap) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (need == 1) {
			buf[o++] = (char)c;
			continue;
		}
		buf[o++] = '\\';
		buf[o++] = 'x';
		buf[o++] = hex[c >> 4];
		buf[o++] = hex[c & 15];
	}
	buf[o] = '\0';
	return buf;
}
