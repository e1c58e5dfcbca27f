/* load.c -- the TC object from open to loaded, in line or on a thread
 * while the policy is read (see load.h). */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <bpf/libbpf.h>
#include "skel.h"
#include "kfeat.h"
#include "load.h"
#include "log.h"
#include "xdp.h"

/* Does --cgroup or a policy wishing so (policy) load the response
 * offload's programs? (--shadow loads them whatever it says.) */
static bool ofl_wanted(const struct pf_load *l, bool policy)
{
	return l->cgroup || policy;
}

/* See load.h. */
int pf_load_programs(struct pf_load *l, const struct pf_compiled *c)
{
	struct preflightd_bpf *skel;
	struct pf_pin *pin = l->pin;
	int err;

	/* the open-coded loops where the kernel has may_goto (kfeat.h) */
	err = pf_kfeat_may_goto(l->no_may_goto);
	if (err < 0) {
		pr_warn("probe may_goto: %s", strerror(-err));
		return err;
	}
	skel = PF_KFEAT_OPEN(preflightd_bpf, err);
	if (!skel) {
		err = -errno;
		pr_warn("open BPF object: %s", strerror(errno));
		return err;
	}
	l->skel = skel;
	skel->rodata->pf_hash_seed = pf_hash_seed;
	err = pf_kfeat_flow_lock(skel->obj, false);
	if (err < 0) {
		pr_warn("probe bpf_res_spin_lock: %s", strerror(-err));
		return err;
	}
	skel->rodata->pf_flow_lock_plain = err;
	err = pf_kfeat_xdp_meta();
	if (err < 0) {
		pr_warn("probe bpf_xdp_adjust_meta: %s", strerror(-err));
		return err;
	}
	skel->rodata->pf_xdp_no_meta = !err;
	err = pf_maps_size(skel->obj, l->n_toks, l->max_flows);
	if (err)
		return err;
	/* the XDP program is attached from an object of its own (xdp.c):
	 * verified beside the TC programs where xdp.c loads it itself
	 * (pf_progs_take, pf_xdp_give), by libxdp when it attaches it
	 * otherwise */
	bpf_program__set_autoload(skel->progs.pf_xdp_ingress, l->xdp && !pf_xdp_by_libxdp());
	err = pf_pin_adopt(pin, skel, l->ifindex);
	if (!err && pin->handover) {
		pf_detach_dead(pin, l->iface, l->ifindex, l->drain_timeout);
		pr_info("handed over: the previous version's programs and pins are gone; "
			"starting clean");
	} else if (!err && pin->left == PF_LEFT_STALE) {
		/* its TC/XDP programs went with its interface; its pins and
		 * the response offload's cgroup programs go now */
		pf_detach_dead(pin, l->iface, 0, 0);
	}
	if (!err)
		err = pf_ofl_prepare(l->ofl, pin, skel, l->max_flows, ofl_wanted(l, l->ofl_want),
				     l->shadow);
	/* the policy's strings go in while the verifier runs */
	if (!err)
		err = pf_maps_prefill(l->pre, skel->obj);
	if (!err && c)
		err = pf_maps_prefill_fill(l->pre, c);
	if (err)
		return err;
	/* pf_load_join may fill pf_tokens from here on */
	pthread_mutex_lock(&l->mu);
	l->created = true;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
	/* the maps, then the programs side by side */
	err = pf_progs_load(&l->progs, skel);
	if (err)
		pr_warn("load BPF programs: %s (rerun with -v for the verifier log)",
			strerror(-err));
	return err;
}

static void *load_main(void *arg)
{
	struct pf_load *l = arg;
	int err = pf_load_programs(l, NULL);

	pf_progs_thread_done(&l->progs);   /* this thread's arena (progs.h) */
	pthread_mutex_lock(&l->mu);
	l->err = err;
	l->created = true;   /* or never will be: the waiter goes on */
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

/* See load.h. */
int pf_load_start(struct pf_load *l, const char *text, size_t len)
{
	struct pf_policy_hint h;
	struct stat st;

	if (!stat(l->pin->dir, &st) || errno != ENOENT)
		return 0;   /* something to adopt, settle or detach, or unsure */
	pf_policy_hint(text, len, &h);
	if (h.strings > PF_LOAD_GUESS_MAX)
		return 0;
	l->n_toks = (unsigned)h.strings;
	l->ofl_want = h.responses;
	l->created = false;
	l->err = 0;
	if (pthread_create(&l->th, NULL, load_main, l))
		return 0;
	l->started = true;
	return 1;
}

/* The hash buckets pf_tokens gets for n strings (BPF_F_NO_PREALLOC: all
 * it allocates before entries go in): max_entries rounded up to a power
 * of two, as the kernel does. */
static unsigned long tokens_buckets(unsigned n)
{
	unsigned long max = pf_maps_tokens_max(n), b = 1;

	while (b < max)
		b <<= 1;
	return b;
}

/* Wait for the thread to end; its error. */
static int load_wait(struct pf_load *l)
{
	pthread_join(l->th, NULL);
	l->started = false;
	return l->err;
}

/* See load.h. */
int pf_load_join(struct pf_load *l, const struct pf_compiled *c)
{
	/* room for c's strings in as many buckets as c's own size gets:
	 * the same memory (more room for a reload at most); the offload's
	 * programs as pf_ofl_prepare would choose them for c */
	bool ofl_want = ofl_wanted(l, c->ofl_any);
	bool holds = pf_maps_tokens_max(c->n_toks) <= pf_maps_tokens_max(l->n_toks) &&
		     tokens_buckets(c->n_toks) == tokens_buckets(l->n_toks) &&
		     (l->shadow || ofl_want == ofl_wanted(l, l->ofl_want));
	int err;

	pthread_mutex_lock(&l->mu);
	while (!l->created)
		pthread_cond_wait(&l->cv, &l->mu);
	err = l->err;
	pthread_mutex_unlock(&l->mu);
	/* (a failed thread made no map to fill: its error, once it ends) */
	if (holds && !err && l->pre->fd >= 0 && pf_maps_prefill_fill(l->pre, c))
		holds = false;
	err = load_wait(l);
	if (holds)
		return err;
	/* (a failure of the guess's own, e.g. its map refused for memory,
	 * is the in-line load's to have or not) */
	pr_debug("start-up: the policy (%u strings, offload %s) is not what was guessed "
		 "(up to %u, offload %s): loading again", c->n_toks, ofl_want ? "on" : "off",
		 l->n_toks, ofl_wanted(l, l->ofl_want) ? "on" : "off");
	pf_load_discard(l);
	return 1;
}

/* See load.h. */
void pf_load_discard(struct pf_load *l)
{
	if (l->started)
		load_wait(l);
	pf_maps_prefill_join(l->pre);   /* safe when never started */
	preflightd_bpf__destroy(l->skel);
	l->skel = NULL;
	pf_progs_close(&l->progs);
	l->created = false;
	l->err = 0;
}
