/* User: checking an --iface argument before it names paths (pins, lock) or an interface. */
#ifndef PF_IFACE_H
#define PF_IFACE_H

/* 0 if name can be a Linux interface name (the kernel's dev_valid_name:
 * 1 to IFNAMSIZ - 1 bytes, not "." or "..", no '/', ':' or whitespace;
 * and no control bytes), else -EINVAL with "invalid interface name"
 * and why printed. preflightd builds /sys/fs/bpf/preflightd/NAME and
 * /run/preflightd/NAME.lock from it: nothing else may reach a path. */
int pf_iface_check(const char *name);

#endif /* PF_IFACE_H */
