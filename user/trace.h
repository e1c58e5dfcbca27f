/* User: cmd_trace.c (`preflightd trace`) and its unit test -- one trace record as one line of text. */
#ifndef PF_TRACE_H
#define PF_TRACE_H

#include <stddef.h>
#include "../include/pf_structs.h"

/* Format record t as one line ending in '\n' into buf (cap bytes, like
 * snprintf; 1024 always suffice): local time (ts_ns + mono_to_real, the
 * offset of CLOCK_REALTIME from CLOCK_MONOTONIC), flow, TC or XDP, the
 * outcome counted, the decision if any, and the origin with every byte
 * outside 0x21..0x7e and '\' written as \xNN (a client's origin cannot
 * add fields, lines or terminal escapes). Returns snprintf's value. */
int pf_trace_line(char *buf, size_t cap, const struct pf_trace_rec *t,
		  __s64 mono_to_real);

#endif /* PF_TRACE_H */
