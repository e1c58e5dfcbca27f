/* jitlines.c -- where each source line's JIT code is, for a loaded BPF program (bench/jitprof.sh). */
/*
 *   jitlines PROG_ID
 *
 * Prints the program's JIT image by function and by source line, from its
 * bpf_prog_info (jited_ksyms, jited_func_lens, line_info and
 * jited_line_info: the kernel keeps, per BTF line-info record, the address
 * of its first JIT instruction) and the source text of its BTF:
 *   FUNC <start address, hex> <length>
 *   LINE <address, hex> <file>:<line> <source text>
 * A line's code runs from its address up to the next LINE's. Needs the
 * program's id (root: CAP_SYS_ADMIN takes a program by id) and
 * net.core.bpf_jit_kallsyms for the addresses to be in kallsyms at all.
 * Exit status 1 with a message on failure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>

struct jit_info {
	struct bpf_prog_info pi;
	struct bpf_line_info *li;
	__u64 *jli, *ksyms;
	__u32 *lens;
};

/* Fill j for program fd: one info call for the counts, one for the arrays.
 * 0 or -errno. */
static int jit_info_get(int fd, struct jit_info *j)
{
	struct bpf_prog_info pi = {};
	__u32 len = sizeof(pi);

	if (bpf_obj_get_info_by_fd(fd, &pi, &len))
		return -errno;
	if (!pi.nr_jited_line_info || !pi.nr_line_info || !pi.nr_jited_ksyms)
		return -ENODATA;  /* not JIT-compiled, or no BTF line info */
	j->li = calloc(pi.nr_line_info, sizeof(*j->li));
	j->jli = calloc(pi.nr_jited_line_info, sizeof(*j->jli));
	j->ksyms = calloc(pi.nr_jited_ksyms, sizeof(*j->ksyms));
	j->lens = calloc(pi.nr_jited_func_lens, sizeof(*j->lens));
	if (!j->li || !j->jli || !j->ksyms || !j->lens)
		return -ENOMEM;
	memset(&j->pi, 0, sizeof(j->pi));
	j->pi.nr_line_info = pi.nr_line_info;
	j->pi.line_info_rec_size = sizeof(*j->li);
	j->pi.line_info = (__u64)(unsigned long)j->li;
	j->pi.nr_jited_line_info = pi.nr_jited_line_info;
	j->pi.jited_line_info_rec_size = sizeof(*j->jli);
	j->pi.jited_line_info = (__u64)(unsigned long)j->jli;
	j->pi.nr_jited_ksyms = pi.nr_jited_ksyms;
	j->pi.jited_ksyms = (__u64)(unsigned long)j->ksyms;
	j->pi.nr_jited_func_lens = pi.nr_jited_func_lens;
	j->pi.jited_func_lens = (__u64)(unsigned long)j->lens;
	len = sizeof(j->pi);
	if (bpf_obj_get_info_by_fd(fd, &j->pi, &len))
		return -errno;
	j->pi.btf_id = pi.btf_id;
	return 0;
}

static void jit_info_free(struct jit_info *j)
{
	free(j->li);
	free(j->jli);
	free(j->ksyms);
	free(j->lens);
}

int main(int argc, char **argv)
{
	struct jit_info j = {};
	struct btf *btf = NULL;
	const char *file, *text, *base;
	__u32 i, n;
	int fd, err;

	if (argc != 2) {
		fprintf(stderr, "usage: jitlines PROG_ID\n");
		return 2;
	}
	fd = bpf_prog_get_fd_by_id((__u32)strtoul(argv[1], NULL, 10));
	if (fd < 0) {
		fprintf(stderr, "jitlines: program %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	err = jit_info_get(fd, &j);
	if (!err) {
		btf = btf__load_from_kernel_by_id(j.pi.btf_id);
		if (!btf)
			err = -errno;
	}
	if (err) {
		fprintf(stderr, "jitlines: program %s: %s\n", argv[1], strerror(-err));
		goto out;
	}
	for (i = 0; i < j.pi.nr_jited_ksyms && i < j.pi.nr_jited_func_lens; i++)
		printf("FUNC %llx %u\n", (unsigned long long)j.ksyms[i], j.lens[i]);
	n = j.pi.nr_jited_line_info < j.pi.nr_line_info ? j.pi.nr_jited_line_info :
							    j.pi.nr_line_info;
	for (i = 0; i < n; i++) {
		file = btf__name_by_offset(btf, j.li[i].file_name_off);
		text = btf__name_by_offset(btf, j.li[i].line_off);
		base = file ? strrchr(file, '/') : NULL;
		printf("LINE %llx %s:%u %s\n", (unsigned long long)j.jli[i],
		       base ? base + 1 : file ? file : "?", BPF_LINE_INFO_LINE_NUM(j.li[i].line_col),
		       text ? text : "");
	}
out:
	btf__free(btf);
	jit_info_free(&j);
	close(fd);
	return err ? 1 : 0;
}
