// SPDX-License-Identifier: GPL-2.0
/*
 * Scale family: one UDP socket exported to this process, filling up to
 * each pending-token level (1k, 100k, 1M by default) plus a sample:
 *   scale.redeem.N   redeem+close of a random sample of the pending tokens
 *   scale.fresh.N    redeem+close of just-exported tokens
 *   scale.export.N   the duplicate while filling
 *   mem.token.*      kernel memory per pending token at the top level
 *                    (/proc/slabinfo, Slab + VmallocUsed)
 *   scale.reap_*     in the parent, once the child exited with its tokens
 *                    bound to it: until STATUS shows none pending, until
 *                    the slab objects are gone, and the worst duplicate +
 *                    revoke of another process meanwhile
 */
#include "harness.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

struct scale {
	long maxn, s, pool, retries;
	struct ss_protocol_info *infos;
	unsigned int ttl;
	int sock;
	int red[MAX_LEVELS], fresh[MAX_LEVELS], exp[MAX_LEVELS];
	struct slab s0;		/* sharedsock_token before the first export */
	long k0;		/* kernel_mem() then */
};

static unsigned int token_ttl_ms(void)
{
	long max = 0;

	if (read_param("max_ttl_ms", &max) || max <= 0)
		return 0;	/* module default */
	if (max < 1800000 && !write_param("max_ttl_ms", 3600000)) {
		note("raised max_ttl_ms from %ld to 3600000 for the scale test", max);
		max = 3600000;
	}
	return (unsigned int)(max > 3600000 ? 3600000 : max);
}

/* Export a token of @sock to ourselves, retrying transient failures. */
static int export_self(int sock, unsigned int ttl, struct ss_protocol_info *info,
		       long *retries)
{
	for (int tries = 0;; tries++) {
		if (!ss_duplicate_socket_ttl(sock, getpid(), ttl, info))
			return 0;
		if ((errno != ENOMEM && errno != EBUSY && errno != EAGAIN) || tries >= 200)
			return fail("ss_duplicate_socket_ttl");
		(*retries)++;
		usleep(1000);
	}
}

/*
 * Redeem and close infos[from, from + count) in blocks; the median of the
 * blocks' mean cost, robust against the odd host hiccup of an emulator.
 */
static int redeem_blocks(const struct ss_protocol_info *infos, long from, long count,
			 double *value)
{
	const long block = 100;
	uint64_t means[1024];
	size_t nb = 0;

	for (long k = from; k < from + count; k += block) {
		long end = k + block < from + count ? k + block : from + count;
		uint64_t t0 = now_ns();

		for (long j = k; j < end; j++)
			if (redeem_close(&infos[j]))
				return -1;
		if (nb < sizeof(means) / sizeof(means[0]))
			means[nb++] = (now_ns() - t0) / (uint64_t)(end - k);
	}
	*value = median_u64(means, nb);
	return 0;
}

/* ------------------------------------------------------------------ */
/* The child: fill, redeem, measure                                    */

static int scale_setup(struct scale *sc)
{
	for (int i = 0; i < opt.nlevels; i++)
		if (opt.levels[i] > sc->maxn)
			sc->maxn = opt.levels[i];
	sc->infos = calloc((size_t)(sc->maxn + 2 * sc->s), sizeof(*sc->infos));
	if (!sc->infos)
		return fail("calloc %ld tokens", sc->maxn + 2 * sc->s);
	sc->sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sc->sock < 0)
		return fail("socket");
	if (ss_registered_events(sc->sock) < 0)	/* opens the library's descriptor */
		return fail("ss_registered_events");
	if (slab_read("sharedsock_token", &sc->s0)) {
		if (!access("/proc/slabinfo", R_OK)) {
			say("error: no sharedsock_token cache in /proc/slabinfo");
			return -1;
		}
		note("memory per token not measured: /proc/slabinfo unreadable");
	}
	sc->k0 = kernel_mem();
	sh->reap_slab_base = sc->s0.active_objs;
	return 0;
}

static void scale_rows(struct scale *sc)
{
	static const struct {
		const char *key, *before, *after;
	} kinds[3] = {
		{ "redeem", "redeem+close, random one of ", " pending" },
		{ "fresh", "redeem+close, just exported, ", " pending" },
		{ "export", "duplicate (to self) while filling to ", "" },
	};
	int *rows[3] = { sc->red, sc->fresh, sc->exp };

	for (int kind = 0; kind < 3; kind++)
		for (int lv = 0; lv < opt.nlevels; lv++) {
			long n = opt.levels[lv];
			char name[48], label[72], cnt[24];

			fmt_count(n, cnt, sizeof(cnt));
			snprintf(name, sizeof(name), "scale.%s.%ld", kinds[kind].key, n);
			snprintf(label, sizeof(label), "%s%s%s", kinds[kind].before, cnt,
				 kinds[kind].after);
			rows[kind][lv] = row_new(name, label, "ns/op");
			if (lv && kind < 2)
				row_compare(rows[kind][lv], rows[kind][0]);
		}
}

/* Fill: @n pending plus the sample that is redeemed each run. */
static int scale_fill(struct scale *sc, int lv, long n)
{
	uint64_t t0 = now_ns(), t1;
	long from = sc->pool;

	while (sc->pool < n + sc->s) {
		if (export_self(sc->sock, sc->ttl, &sc->infos[sc->pool], &sc->retries))
			return -1;
		sc->pool++;
	}
	t1 = now_ns();
	if (sc->pool > from)
		row_add(sc->exp[lv], (double)(t1 - t0) / (double)(sc->pool - from));
	/* Let a deferred rhashtable resize finish before timing. */
	usleep(300000);
	return 0;
}

/* Kernel memory per pending token, at the top level. */
static int scale_token_memory(const struct scale *sc)
{
	const struct slab *s0 = &sc->s0;
	double pool = (double)sc->pool;
	struct slab s1;
	long k1;
	int row;

	if (slab_read("sharedsock_token", &s1))
		return fail("slabinfo");
	k1 = kernel_mem();
	row = row_new("mem.token.slab", "kernel memory per pending token (slab pages)", "bytes");
	row_add(row, (double)(slab_bytes(&s1) - slab_bytes(s0)) / pool);
	row = row_new("mem.token.objects", "  active objects x object size", "bytes");
	row_add(row, (double)((s1.active_objs - s0->active_objs) * s1.objsize) / pool);
	row = row_new("mem.token.objsize", "  sharedsock_token object size", "bytes");
	row_add(row, (double)s1.objsize);
	row = row_new("mem.token.kernel", "  all slab + vmalloc per token (hash table...)",
		      "bytes");
	row_add(row, (double)(k1 - sc->k0) / pool);
	say("scale: %ld pending tokens: %ld -> %ld slabs of %ld page(s), objsize %ld",
	    sc->pool, s0->num_slabs, s1.num_slabs, s1.pagesperslab, s1.objsize);
	return 0;
}

/* One run at level @lv: a random sample, then fresh tokens. */
static int scale_run(struct scale *sc, int lv)
{
	long pool = sc->pool, s = sc->s;
	struct ss_protocol_info *infos = sc->infos;
	double v;

	/* Move a random sample to the tail, redeem it, refill. */
	for (long k = 0; k < s; k++) {
		long j = (long)(rng() % (uint64_t)(pool - k));
		struct ss_protocol_info tmp = infos[j];

		infos[j] = infos[pool - 1 - k];
		infos[pool - 1 - k] = tmp;
	}
	if (redeem_blocks(infos, pool - s, s, &v))
		return -1;
	row_add(sc->red[lv], v);
	for (long k = pool - s; k < pool; k++)
		if (export_self(sc->sock, sc->ttl, &infos[k], &sc->retries))
			return -1;

	/* Fresh tokens, redeemed in export order. */
	for (long k = pool; k < pool + s; k++)
		if (export_self(sc->sock, sc->ttl, &infos[k], &sc->retries))
			return -1;
	if (redeem_blocks(infos, pool, s, &v))
		return -1;
	row_add(sc->fresh[lv], v);
	return 0;
}

int phase_scale(void)
{
	struct scale sc = { .s = opt.sample, .ttl = token_ttl_ms() };
	char cnt[24];

	if (scale_setup(&sc))
		return -1;
	scale_rows(&sc);
	for (int lv = 0; lv < opt.nlevels; lv++) {
		long n = opt.levels[lv];

		fmt_count(n, cnt, sizeof(cnt));
		if (scale_fill(&sc, lv, n))
			return -1;
		if (n == sc.maxn && sc.s0.objsize && scale_token_memory(&sc))
			return -1;
		for (int r = 0; r < opt.runs; r++)
			if (scale_run(&sc, lv))
				return -1;
		say("scale: %s pending: redeem runs done", cnt);
	}
	if (sc.retries)
		note("scale: %ld duplicate calls were retried (ENOMEM/EBUSY)", sc.retries);

	/*
	 * The parent times how long the exit of the target takes to free them.
	 * The reap runs from a work item queued where the process exits: CPU 1,
	 * while the parent probes from CPU 0.
	 */
	if (sysconf(_SC_NPROCESSORS_ONLN) >= 2)
		pin_cpu(1);
	sh->reap_tokens = sc.pool;
	sh->reap_exit_ns = now_ns();
	return 0;
}

/* ------------------------------------------------------------------ */
/* The parent: the reap of the exited child's tokens                   */

#define REAP_PROBES 200000

/*
 * Time a duplicate + revoke of a token of our own (raw ioctls on a
 * descriptor of our own): 0, or -1 if DUPLICATE failed, -2 if REVOKE did
 * (@ns is set then too).
 */
static int dup_revoke(int dev, int sock, uint64_t *ns)
{
	struct sharedsock_duplicate d = {
		.size = sizeof(d), .fd = sock, .pid = getpid(),
	};
	struct sharedsock_revoke rv = { .size = sizeof(rv) };
	uint64_t t0 = now_ns();
	int ret = 0;

	if (ioctl(dev, SHAREDSOCK_IOC_DUPLICATE, &d))
		return -1;
	rv.info = d.info;
	if (ioctl(dev, SHAREDSOCK_IOC_REVOKE, &rv))
		ret = -2;
	*ns = now_ns() - t0;
	return ret;
}

struct reap {
	int dev, sock;
	uint64_t unlinked, freed, worst, *probe;
	uint64_t idle[64];
	size_t np;
	struct sharedsock_status st;
};

/* Probe until STATUS shows no token pending (or 2 minutes went by). */
static void reap_wait_unlinked(struct reap *rp)
{
	for (;;) {
		uint64_t ns;
		int ret;

		if (dev_status(rp->dev, &rp->st)) {
			fail("STATUS");
			break;
		}
		if (rp->st.tokens_pending == 0) {
			rp->unlinked = now_ns();
			break;
		}
		if (now_ns() - sh->reap_exit_ns > 120000000000ULL)
			break;
		ret = dup_revoke(rp->dev, rp->sock, &ns);
		if (ret) {
			fail("%s during the reap", ret == -1 ? "DUPLICATE" : "REVOKE");
			break;
		}
		if (ns > rp->worst)
			rp->worst = ns;
		if (rp->np < REAP_PROBES)
			rp->probe[rp->np++] = ns;
		usleep(200);
	}
}

/* The same probe once nothing is being reaped. */
static void reap_idle(struct reap *rp)
{
	for (size_t i = 0; i < sizeof(rp->idle) / sizeof(rp->idle[0]); i++) {
		if (dup_revoke(rp->dev, rp->sock, &rp->idle[i]) == -1)
			break;
		usleep(200);
	}
}

/* Unlinked (STATUS says 0 pending); freed once the slab objects are gone. */
static void reap_wait_freed(struct reap *rp)
{
	for (int i = 0; i < 60000; i++) {
		struct slab sl;

		if (slab_read("sharedsock_token", &sl))
			break;
		if (sl.active_objs <= sh->reap_slab_base + sh->reap_tokens / 100) {
			rp->freed = now_ns();
			break;
		}
		usleep(2000);
	}
}

static void reap_rows(struct reap *rp)
{
	char cnt[24], label[72];
	int row;

	fmt_count(sh->reap_tokens, cnt, sizeof(cnt));
	snprintf(label, sizeof(label), "target exit, %s pending: all unlinked after", cnt);
	row = row_new("scale.reap_unlinked", label, "ms");
	row_add(row, (double)(rp->unlinked - sh->reap_exit_ns) / 1e6);
	if (rp->freed) {
		row = row_new("scale.reap_freed", "  99% of the token objects freed after", "ms");
		row_add(row, (double)(rp->freed - sh->reap_exit_ns) / 1e6);
	}
	row = row_new("scale.reap_dup_worst", "  worst duplicate+revoke meanwhile, other CPU",
		      "ms");
	row_add(row, (double)rp->worst / 1e6);
	row = row_new("scale.idle_dup_median", "  the same probe afterwards (median)", "ns/op");
	row_add(row, median_u64(rp->idle, sizeof(rp->idle) / sizeof(rp->idle[0])));
	say("scale: reap of %ld tokens: %zu probes, worst %.1f ms", sh->reap_tokens, rp->np,
	    rp->worst / 1e6);
}

/*
 * Parent: after the scale child exited, wait for its tokens to be freed,
 * meanwhile timing duplicate+revoke of a token of our own to see how long
 * the reap holds sharedsock_lock.
 */
void scale_reap(void)
{
	struct reap rp = { .dev = -1 };

	if (!sh->reap_tokens)
		return;
	rp.dev = open(SHAREDSOCK_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	rp.sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	rp.probe = calloc(REAP_PROBES, sizeof(uint64_t));
	if (rp.dev < 0 || rp.sock < 0 || !rp.probe) {
		fail("open %s", SHAREDSOCK_DEVICE_PATH);
		return;
	}
	pin_cpu(0);
	reap_wait_unlinked(&rp);
	reap_idle(&rp);
	close(rp.sock);
	close(rp.dev);
	unpin();
	if (!rp.unlinked) {
		say("error: %u tokens still pending 2 min after their target exited",
		    rp.st.tokens_pending);
		free(rp.probe);
		return;
	}
	reap_wait_freed(&rp);
	reap_rows(&rp);
	free(rp.probe);
}
