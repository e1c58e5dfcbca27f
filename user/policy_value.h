/* User: private to user/policy_*.c -- checks of one policy value on its own (an origin, a host, a path, a method, a header name). */
#ifndef PF_POLICY_VALUE_H
#define PF_POLICY_VALUE_H

#include <stdbool.h>

/* Size of the msg buffer each check fills (the text after
 * "FILE:LINE:COL: 'value': "). */
#define PF_MSG_MAX 512

/* Each check returns true if the value is acceptable, else false with
 * the problem in msg (PF_MSG_MAX bytes). */

/* One origin entry other than "*": a serialized http(s) origin, or a
 * wildcard (the scheme, then "*." before a domain). */
bool pf_origin_ok(const char *s, char *msg);

/* One hosts entry; lower-cased in place first. */
bool pf_hostname_ok(char *s, char *msg);

/* One path prefix. */
bool pf_path_ok(const char *p, char *msg);

/* One method token other than "*". */
bool pf_method_ok(const char *m, char *msg);

/* One header name other than "*"; lower-cased in place if valid. */
bool pf_header_ok(char *h, char *msg);

#endif /* PF_POLICY_VALUE_H */
