/* reqfile.c -- a benchmark request file (bench/preflight*.txt) as the bytes on the wire. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "reqfile.h"

int bench_read_request(const char *prog, const char *file, char *buf, size_t cap)
{
	char line[1024];
	size_t n = 0, l;
	FILE *f = fopen(file, "r");
	int err, c;

	if (!f) {
		err = -errno;
		fprintf(stderr, "%s: open %s: %s\n", prog, file, strerror(-err));
		return err;
	}
	while (fgets(line, sizeof(line), f)) {
		l = strcspn(line, "\r\n");
		if (l == 0 || line[0] == '#')
			continue;
		/* a line longer than line[] would come back cut in two (a
		 * full last line without its newline: EOF is next) */
		if (!line[l] && !feof(f) && (c = getc(f)) != EOF && ungetc(c, f) != EOF) {
			fclose(f);
			fprintf(stderr, "%s: read %s: line longer than %zu bytes: %s\n", prog,
				file, sizeof(line) - 2, strerror(EFBIG));
			return -EFBIG;
		}
		if (n + l + 4 >= cap) {
			fclose(f);
			fprintf(stderr, "%s: read %s: %s\n", prog, file, strerror(EFBIG));
			return -EFBIG;
		}
		memcpy(buf + n, line, l);
		memcpy(buf + n + l, "\r\n", 2);
		n += l + 2;
	}
	fclose(f);
	if (n == 0) {
		fprintf(stderr, "%s: read %s: %s\n", prog, file, strerror(ENODATA));
		return -ENODATA;
	}
	memcpy(buf + n, "\r\n", 2);
	buf[n + 2] = 0;
	return (int)(n + 2);
}
