/* User: subcommand entry points. */
#ifndef PF_CMDS_H
#define PF_CMDS_H

int pf_cmd_check(int argc, char **argv);
int pf_cmd_run(int argc, char **argv);
int pf_cmd_stats(int argc, char **argv);
int pf_cmd_detach(int argc, char **argv);
int pf_cmd_explain(int argc, char **argv);
int pf_cmd_trace(int argc, char **argv);

/* Counters helpers shared by stats/metrics (cmd_stats.c). */
#include <stddef.h>
#include <linux/types.h>
int pf_stats_read(int fd, __u64 *out);
/* One counter k, summed over the CPUs: 0 or -errno (*out 0; the
 * look-up's own error when it cannot be read, e.g. -ENOENT past an older
 * build's map). */
int pf_stat_read(int fd, __u32 k, __u64 *out);
const char *pf_stat_name(unsigned i, char *buf, size_t n);

#endif /* PF_CMDS_H */
