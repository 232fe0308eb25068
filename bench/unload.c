// SPDX-License-Identifier: GPL-2.0
/*
 * Unload family (last, in the parent, as root): delete_module("sharedsock")
 * timed with nothing pending and with `unload-tokens` tokens pending on a
 * descriptor of our own, the teardown per token as their difference, and
 * the reload (finit_module of `ko=`, until /dev/sharedsock is back), which
 * leaves the module loaded at the end.  Rows unload.*.
 */
#include "harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

/* Close every /dev/sharedsock descriptor of this process; returns how many. */
static int close_device_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int closed = 0, self;

	if (!d)
		return 0;
	self = dirfd(d);
	while ((de = readdir(d))) {
		char path[64], target[256];
		int fd = atoi(de->d_name);
		ssize_t len;

		if (de->d_name[0] == '.' || fd == self)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		len = readlink(path, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = 0;
		if (!strcmp(target, SHAREDSOCK_DEVICE_PATH)) {
			close(fd);
			closed++;
		}
	}
	closedir(d);
	return closed;
}

/* delete_module, retried while something still holds the module. */
static int unload_module(uint64_t *ns)
{
	for (int tries = 0; tries < 100; tries++) {
		uint64_t t0 = now_ns();
		long r = syscall(SYS_delete_module, "sharedsock", O_NONBLOCK);

		*ns = now_ns() - t0;
		if (!r)
			return 0;
		if (errno != EWOULDBLOCK && errno != EBUSY)
			break;
		usleep(50000);
	}
	return fail("delete_module(sharedsock)");
}

static int load_module(uint64_t *load_ns, uint64_t *dev_ns)
{
	int fd = open(opt.ko, O_RDONLY | O_CLOEXEC);
	uint64_t t0, t1;
	struct stat st;

	if (fd < 0)
		return fail("open %s", opt.ko);
	t0 = now_ns();
	if (syscall(SYS_finit_module, fd, "", 0)) {
		close(fd);
		return fail("finit_module(%s)", opt.ko);
	}
	t1 = now_ns();
	close(fd);
	*load_ns = t1 - t0;
	for (int i = 0; i < 20000; i++) {
		if (!stat(SHAREDSOCK_DEVICE_PATH, &st)) {
			*dev_ns = now_ns() - t0;
			return 0;
		}
		usleep(500);
	}
	say("error: %s did not come back after reloading the module", SHAREDSOCK_DEVICE_PATH);
	return -1;
}

/* Export @u tokens of a fresh socket to ourselves on a descriptor of our own. */
static int export_raw(long u, int *sockp)
{
	struct sharedsock_status st;
	long max_ttl = 0;
	unsigned int ttl = read_param("max_ttl_ms", &max_ttl) || max_ttl <= 0 ? 0 :
			   (unsigned int)(max_ttl > 3600000 ? 3600000 : max_ttl);
	int dev = open(SHAREDSOCK_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (dev < 0 || sock < 0)
		return fail("open %s / socket", SHAREDSOCK_DEVICE_PATH);
	for (long i = 0, retries = 0; i < u; i++) {
		struct sharedsock_duplicate d = {
			.size = sizeof(d), .fd = sock, .pid = getpid(), .ttl_ms = ttl,
		};

		if (ioctl(dev, SHAREDSOCK_IOC_DUPLICATE, &d)) {
			if ((errno == ENOMEM || errno == EBUSY) && retries++ < 1000) {
				usleep(1000);
				i--;
				continue;
			}
			return fail("SHAREDSOCK_IOC_DUPLICATE %ld", i);
		}
	}
	if (dev_status(dev, &st))
		return fail("STATUS");
	close(dev);
	if (st.tokens_pending != (uint32_t)u) {
		say("error: %u tokens pending, expected %ld", st.tokens_pending, u);
		return -1;
	}
	*sockp = sock;
	return 0;
}

struct unload_rows {
	int empty, full, tok, load, dev;
};

static void unload_rows(struct unload_rows *rw, long u)
{
	char cnt[24], label[72];

	fmt_count(u, cnt, sizeof(cnt));
	rw->empty = row_new("unload.empty", "delete_module, nothing pending", "ms");
	snprintf(label, sizeof(label), "delete_module with %s pending tokens", cnt);
	rw->full = row_new("unload.tokens", label, "ms");
	rw->tok = row_new("unload.per_token", "  teardown per token (minus empty unload)",
			  "ns/token");
	rw->load = row_new("unload.reload", "finit_module (reload)", "ms");
	rw->dev = row_new("unload.reload_dev", "  until /dev/sharedsock is back", "ms");
}

/* One cycle: unload and reload empty, then with @u tokens pending. */
static int unload_cycle(const struct unload_rows *rw, long u)
{
	uint64_t empty_ns, full_ns, load_ns, dev_ns;
	int sock = -1;

	/* The floor: unload and reload with nothing pending ... */
	if (unload_module(&empty_ns) || load_module(&load_ns, &dev_ns))
		return -1;
	row_add(rw->empty, (double)empty_ns / 1e6);
	row_add(rw->load, (double)load_ns / 1e6);
	row_add(rw->dev, (double)dev_ns / 1e6);

	/* ... then with @u tokens pending (every device fd closed). */
	if (export_raw(u, &sock))
		return -1;
	if (unload_module(&full_ns))
		return -1;
	close(sock);
	if (load_module(&load_ns, &dev_ns))
		return -1;
	row_add(rw->full, (double)full_ns / 1e6);
	row_add(rw->tok, ((double)full_ns - (double)empty_ns) / (double)u);
	row_ratio(rw->full, rw->empty, (double)full_ns / (double)empty_ns);
	return 0;
}

int phase_unload(void)
{
	long u = opt.unload_tokens;
	struct unload_rows rw;
	int closed;

	if (geteuid() != 0 || access(opt.ko, R_OK)) {
		say("unload: skipped (needs root and %s)", opt.ko);
		note("unload phase skipped: needs root and %s", opt.ko);
		return 0;
	}
	closed = close_device_fds();
	if (closed)
		note("unload: closed %d stray /dev/sharedsock descriptor(s) first", closed);
	unload_rows(&rw, u);
	for (int r = 0; r < opt.runs; r++)
		if (unload_cycle(&rw, u))
			return -1;
	say("unload: %d cycles with %ld tokens; module loaded again", opt.runs, u);
	return 0;
}
