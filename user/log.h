/* User: one-line-per-event logging to stderr (journald friendly). */
#ifndef PF_LOG_H
#define PF_LOG_H

#include <stdio.h>

extern int pf_verbose;

#define pr_warn(fmt, ...)  fprintf(stderr, "preflightd: " fmt "\n", ##__VA_ARGS__)
#define pr_info(fmt, ...)  fprintf(stderr, "preflightd: " fmt "\n", ##__VA_ARGS__)
#define pr_debug(fmt, ...) do { if (pf_verbose) \
	fprintf(stderr, "preflightd: debug: " fmt "\n", ##__VA_ARGS__); } while (0)

#endif /* PF_LOG_H */
