// SPDX-License-Identifier: GPL-2.0
/*
 * Memory family: kernel memory per registration.  `regs` UDP sockets are
 * each registered once (ss_event_select, one eventfd); the growth of the
 * sharedsock_reg cache in /proc/slabinfo gives the bytes per registration
 * (mem.reg.*), STATUS checks the count before, during and after, and the
 * registering, listing and closing calls are timed (reg.select, reg.list,
 * reg.close).
 */
#include "harness.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>

struct mem_ctx {
	long k;			/* registrations */
	int *socks;
	int evfd, dev;
	int r_slab, r_obj, r_size, r_sel, r_close, r_list;
};

/*
 * One LIST of every registration (the caller's: all of them here), which
 * the module copies out a batch at a time: ns per registration listed.
 */
static int mem_list(const struct mem_ctx *c, double *ns)
{
	struct sharedsock_reg_entry *e = calloc((size_t)c->k + 64, sizeof(*e));
	struct sharedsock_list args = {
		.size = sizeof(args), .kind = SHAREDSOCK_LIST_REGISTRATIONS,
		.count = (uint32_t)c->k + 64, .entries = (uintptr_t)e,
	};
	uint64_t t0 = now_ns();
	int n = e ? ioctl(c->dev, SHAREDSOCK_IOC_LIST, &args) : -1;

	*ns = (double)(now_ns() - t0) / (double)c->k;
	free(e);
	if (n < c->k)
		return fail("LIST: %d of %ld registrations", n, c->k);
	return 0;
}

/* As many registrations as asked for, or as RLIMIT_NOFILE allows. */
static long mem_count(void)
{
	struct rlimit rl;

	if (raise_nofile((rlim_t)opt.regs + 256))
		return opt.regs;
	getrlimit(RLIMIT_NOFILE, &rl);
	note("registrations: RLIMIT_NOFILE allows only %ld", (long)rl.rlim_cur - 256);
	return (long)rl.rlim_cur - 256;
}

/* The cache before registering; an error only if slabinfo is readable. */
static int mem_slab_before(int r, struct slab *s0)
{
	if (!slab_read("sharedsock_reg", s0))
		return 0;
	if (!access("/proc/slabinfo", R_OK)) {
		say("error: no sharedsock_reg cache in /proc/slabinfo");
		return -1;
	}
	if (!r)
		note("memory per registration not measured: /proc/slabinfo unreadable");
	return 0;
}

static int mem_check_counts(const struct mem_ctx *c, const struct sharedsock_status *st)
{
	if (st[1].registrations - st[0].registrations == (uint32_t)c->k &&
	    st[2].registrations == st[0].registrations)
		return 0;
	say("error: STATUS counts %u -> %u -> %u registrations for %ld sockets",
	    st[0].registrations, st[1].registrations, st[2].registrations, c->k);
	return -1;
}

static void mem_record(const struct mem_ctx *c, const struct slab *s0, const struct slab *s1)
{
	long k = c->k;

	row_add(c->r_slab, (double)(slab_bytes(s1) - slab_bytes(s0)) / (double)k);
	row_add(c->r_obj, (double)((s1->active_objs - s0->active_objs) * s1->objsize) /
		(double)k);
	row_add(c->r_size, (double)s1->objsize);
	say("memory: %ld registrations: %ld -> %ld slabs of %ld page(s), objsize %ld, %ld per slab",
	    k, s0->num_slabs, s1->num_slabs, s1->pagesperslab, s1->objsize, s1->objperslab);
}

/* Run @r: create, register and close the sockets. */
static int mem_run(const struct mem_ctx *c, int r)
{
	struct sharedsock_status st[3];
	struct slab s0, s1;
	uint64_t t0, t1, t2;
	double list_ns;

	for (long i = 0; i < c->k; i++) {
		c->socks[i] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (c->socks[i] < 0)
			return fail("socket %ld", i);
	}
	/* The library opens its device descriptor on first use. */
	if (ss_registered_events(c->socks[0]) < 0)
		return fail("ss_registered_events");
	if (dev_status(c->dev, &st[0]))
		return fail("STATUS");
	if (mem_slab_before(r, &s0))
		return -1;
	t0 = now_ns();
	for (long i = 0; i < c->k; i++)
		if (ss_event_select(c->socks[i], c->evfd, SS_FD_READ))
			return fail("ss_event_select %ld", i);
	t1 = now_ns();
	if ((slab_read("sharedsock_reg", &s1) && !access("/proc/slabinfo", R_OK)) ||
	    dev_status(c->dev, &st[1]))
		return fail("slabinfo / STATUS");
	if (mem_list(c, &list_ns))
		return -1;
	row_add(c->r_list, list_ns);
	for (long i = 0; i < c->k; i++)
		close(c->socks[i]);
	t2 = now_ns();
	if (dev_status(c->dev, &st[2]))
		return fail("STATUS");
	if (mem_check_counts(c, st))
		return -1;
	row_add(c->r_sel, (double)(t1 - t0) / (double)c->k);
	row_add(c->r_close, (double)(t2 - t1) / (double)c->k);
	/* Memory from the first run only: later ones reuse freed slabs. */
	if (!r && s1.objsize)
		mem_record(c, &s0, &s1);
	return 0;
}

int phase_memory(void)
{
	struct mem_ctx c = { .socks = calloc((size_t)opt.regs, sizeof(int)) };

	if (!c.socks)
		return fail("calloc");
	c.k = mem_count();
	c.evfd = eventfd(0, EFD_CLOEXEC);
	c.dev = open(SHAREDSOCK_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (c.evfd < 0 || c.dev < 0)
		return fail("eventfd / open %s", SHAREDSOCK_DEVICE_PATH);
	c.r_slab = row_new("mem.reg.slab", "kernel memory per registration (slab pages)", "bytes");
	c.r_obj = row_new("mem.reg.objects", "  active objects x object size", "bytes");
	c.r_size = row_new("mem.reg.objsize", "  sharedsock_reg object size", "bytes");
	c.r_sel = row_new("reg.select", "first ss_event_select of a UDP socket", "ns/op");
	c.r_close = row_new("reg.close", "close of a registered UDP socket", "ns/op");
	c.r_list = row_new("reg.list", "LIST of every registration, per entry", "ns/entry");
	for (int r = 0; r < opt.runs; r++)
		if (mem_run(&c, r))
			return -1;
	close(c.dev);
	close(c.evfd);
	free(c.socks);
	return 0;
}
