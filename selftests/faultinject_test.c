// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation failures, injected systematically with fail-nth.
 *
 * For each operation that allocates (in the module or in the kernel code
 * it calls): write N to /proc/thread-self/fail-nth, make exactly that one
 * system call, read fail-nth back (0: the N-th allocation of the call was
 * made to fail), for N = 1, 2, ... until the call completes without
 * reaching its N-th allocation.  Every injected failure must give a clean
 * error, or be survived; after a failure nothing may have changed: the
 * pending tokens and registrations (SHAREDSOCK_IOC_STATUS), the module's
 * reference count, the caller's descriptors, the socket still carries
 * data both ways, its peer sees no EOF, a token still redeems, a pending
 * connection is still there to accept.  Each test runs in a private network
 * namespace whose socket count must return to zero.
 *
 * failslab and fail_page_alloc are configured to inject into allocations
 * that may sleep (ignore-gfp-wait=N) -- the module allocates with
 * GFP_KERNEL_ACCOUNT -- with verbose=0 and probability=0 (fail-nth takes
 * precedence), and restored afterwards.  Without CONFIG_FAULT_INJECTION
 * (Debian's kernel) there is no fail-nth and the tests are skipped.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "kselftest_harness.h"

#define FAIL_NTH	"/proc/thread-self/fail-nth"
#define DEBUGFS		"/sys/kernel/debug"
#define MAX_NTH		1000	/* allocations per call, at most */
#define FI_UID		4242	/* a user with no token anywhere */
#define MASK		(SHAREDSOCK_FD_READ | SHAREDSOCK_FD_WRITE | SHAREDSOCK_FD_CLOSE)
#define MASK2		(SHAREDSOCK_FD_READ | SHAREDSOCK_FD_CLOSE)
#define MAXSAVED	32

/* --- Fault injection configuration --- */

struct saved {
	char path[128];
	char val[32];
};

static int read_str(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static int write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

/* --- State that a failed call must leave as it was --- */

struct snap {
	struct sharedsock_status st;
	long refcnt;
	int nfds;
};

/* Per test: everything opened up front, so that no check opens a file. */
struct fi_ctx {
	int dev;
	int nth;		/* /proc/thread-self/fail-nth of this thread */
	int refcnt_fd;		/* /sys/module/sharedsock/refcnt */
	int fddir;		/* /proc/self/fd */
	struct snap base;

	/* what the operations work on */
	int a, b;		/* a connected TCP pair: a is handed around */
	int efd, q, efd2, q2;	/* sinks */
	int l, c;		/* a registered listener and a client */
	struct sockaddr_in laddr;
	struct sharedsock_info tok, anchor;
	bool have_anchor;
	pid_t target;		/* a process of FI_UID, to export to */
	int to_target, from_target;
	int sink;		/* SHAREDSOCK_SINK_* of the operation */
	long mask_before;
	int vec_fds[2];		/* REDEEM_VEC's output */

	/* how the iterations went */
	int points, failed, survived;
	int err[8], nerr[8];
};

static long refcnt(struct fi_ctx *x)
{
	char buf[32] = "";

	if (pread(x->refcnt_fd, buf, sizeof(buf) - 1, 0) <= 0)
		return -1;
	return strtol(buf, NULL, 10);
}

static int count_fds(struct fi_ctx *x)
{
	char buf[4096];
	long n, pos;
	int count = 0;

	lseek(x->fddir, 0, SEEK_SET);
	while ((n = syscall(SYS_getdents64, x->fddir, buf, sizeof(buf))) > 0) {
		for (pos = 0; pos < n;) {
			struct dirent64 *d = (void *)(buf + pos);

			if (d->d_name[0] != '.')
				count++;
			pos += d->d_reclen;
		}
	}
	return count - 1;	/* the directory itself */
}

static void take(struct fi_ctx *x, struct snap *s)
{
	dev_status(x->dev, &s->st);
	s->refcnt = refcnt(x);
	s->nfds = count_fds(x);
}

/*
 * NULL when @b is @a, allowing for tokens of other tests that expired or
 * were reaped in between; else what differs.
 */
static const char *compare(const struct snap *a, const struct snap *b, char *why,
			   size_t len)
{
	long gone = (long)(b->st.tokens_expired - a->st.tokens_expired) +
		    (long)(b->st.tokens_reaped - a->st.tokens_reaped);

	if ((long)b->st.tokens_pending + gone != (long)a->st.tokens_pending)
		snprintf(why, len, "tokens pending %u -> %u (%ld expired or reaped)",
			 a->st.tokens_pending, b->st.tokens_pending, gone);
	else if (b->st.registrations != a->st.registrations)
		snprintf(why, len, "registrations %u -> %u",
			 a->st.registrations, b->st.registrations);
	else if (b->refcnt != a->refcnt)
		snprintf(why, len, "module refcnt %ld -> %ld", a->refcnt, b->refcnt);
	else if (b->nfds != a->nfds)
		snprintf(why, len, "open descriptors %d -> %d", a->nfds, b->nfds);
	else
		return NULL;
	return why;
}

/* --- fail-nth --- */

static int arm(struct fi_ctx *x, int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%d", n);

	return pwrite(x->nth, buf, len, 0) == len ? 0 : -1;
}

/* Whether the armed fault was injected; disarms in any case. */
static bool fired(struct fi_ctx *x)
{
	char buf[16] = "";
	bool injected = pread(x->nth, buf, sizeof(buf) - 1, 0) > 0 && atoi(buf) == 0;

	pwrite(x->nth, "0", 1, 0);
	return injected;
}

/* --- Checks --- */

static bool xfer(int from, int to)
{
	struct pollfd p = { .fd = to, .events = POLLIN };
	char in[8];

	if (send(from, "ping", 4, MSG_NOSIGNAL) != 4)
		return false;
	if (poll(&p, 1, WAIT_MS) != 1)
		return false;
	return recv(to, in, sizeof(in), MSG_DONTWAIT) == 4 && !memcmp(in, "ping", 4);
}

/* The pair carries data both ways and neither end saw an EOF. */
static const char *pair_ok(int a, int b)
{
	if (!xfer(a, b) || !xfer(b, a))
		return "the socket no longer carries data";
	if (!peer_open_for(b, 10) || !peer_open_for(a, 0))
		return "a peer sees EOF";
	return NULL;
}

static int peek(struct fi_ctx *x, int fd, struct sharedsock_enum *en)
{
	memset(en, 0, sizeof(*en));
	en->size = sizeof(*en);
	en->flags = SHAREDSOCK_ENUM_PEEK;
	en->fd = fd;
	en->eventfd = -1;
	return ioctl(x->dev, SHAREDSOCK_IOC_ENUM, en);
}

static long mask_of(struct fi_ctx *x, int fd)
{
	struct sharedsock_enum en;

	return peek(x, fd, &en) ? -1 : (long)en.mask;
}

/* The sink kind of @fd's registration (SHAREDSOCK_SINK_*, ~0 cancelled), or -1. */
static long sink_of(struct fi_ctx *x, int fd)
{
	struct sharedsock_reg_entry e[64];
	struct sharedsock_list list = {
		.size = sizeof(list), .kind = SHAREDSOCK_LIST_REGISTRATIONS,
		.count = 64, .entries = (uintptr_t)e,
	};
	struct stat st;
	int i, n;

	if (fstat(fd, &st))
		return -1;
	n = ioctl(x->dev, SHAREDSOCK_IOC_LIST, &list);
	for (i = 0; i < n; i++)
		if (e[i].socket_ino == st.st_ino)
			return e[i].sink;
	return -1;
}

static bool token_pending(struct fi_ctx *x, __u64 id)
{
	struct sharedsock_token_entry e[64];
	struct sharedsock_list list = {
		.size = sizeof(list), .kind = SHAREDSOCK_LIST_TOKENS,
		.count = 64, .entries = (uintptr_t)e,
	};
	int i, n = ioctl(x->dev, SHAREDSOCK_IOC_LIST, &list);

	for (i = 0; i < n; i++)
		if (e[i].id == id)
			return true;
	return false;
}

static bool readable_within(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

/* --- The iteration --- */

struct fi_op {
	const char *name;
	const int *errnos;	/* clean errnos, 0-terminated */
	/* fresh objects for one attempt (not armed); 0 or -1 */
	int (*setup)(struct fi_ctx *x);
	/* exactly one system call */
	long (*call)(struct fi_ctx *x);
	/* after a clean failure / a success: NULL, or what is wrong */
	const char *(*failed)(struct fi_ctx *x, int err);
	const char *(*succeeded)(struct fi_ctx *x, long ret);
	void (*cleanup)(struct fi_ctx *x, long ret);
};

static const int enomem[] = { ENOMEM, 0 };
static const int fd_errnos[] = { ENOMEM, ENFILE, EMFILE, 0 };

static bool clean_errno(const struct fi_op *op, int err)
{
	const int *e;

	for (e = op->errnos; *e; e++)
		if (*e == err)
			return true;
	return false;
}

static void count_errno(struct fi_ctx *x, int err)
{
	int i;

	for (i = 0; i < 8 && x->nerr[i]; i++)
		if (x->err[i] == err)
			break;
	if (i < 8) {
		x->err[i] = err;
		x->nerr[i]++;
	}
}

static void iterate(struct __test_metadata *_metadata, struct fi_ctx *x,
		    const struct fi_op *op)
{
	struct snap before, after;
	char why[160], line[256];
	const char *bad;
	int n, err, i, len;
	long ret;
	bool injected;

	for (n = 1; n <= MAX_NTH; n++) {
		ASSERT_EQ(0, op->setup(x)) TH_LOG("%s: setup failed: %s", op->name,
						  strerror(errno));
		take(x, &before);
		ASSERT_EQ(0, arm(x, n));
		ret = op->call(x);
		err = errno;
		injected = fired(x);
		take(x, &after);

		if (!injected) {
			/* the call made fewer than n allocations: done */
			EXPECT_LE(0, ret) TH_LOG("%s without an injected fault: %s",
						 op->name, strerror(err));
			bad = ret < 0 ? NULL : op->succeeded(x, ret);
			EXPECT_EQ(NULL, bad) TH_LOG("%s, no fault: %s", op->name, bad);
			op->cleanup(x, ret);
			break;
		}
		x->points++;
		if (ret < 0) {
			x->failed++;
			count_errno(x, err);
			EXPECT_TRUE(clean_errno(op, err))
				TH_LOG("%s, allocation %d failed: %s (errno %d)",
				       op->name, n, strerror(err), err);
			bad = compare(&before, &after, why, sizeof(why));
			if (!bad)
				bad = op->failed(x, err);
			EXPECT_EQ(NULL, bad)
				TH_LOG("%s, allocation %d failed (%s): %s", op->name, n,
				       strerror(err), bad);
		} else {
			/* an allocation whose failure is tolerated */
			x->survived++;
			bad = op->succeeded(x, ret);
			EXPECT_EQ(NULL, bad)
				TH_LOG("%s, allocation %d failed, call succeeded: %s",
				       op->name, n, bad);
		}
		op->cleanup(x, ret);
		if (!_metadata->passed)
			break;	/* one broken invariant is enough */
	}
	EXPECT_LE(n, MAX_NTH) TH_LOG("%s: still allocating after %d faults", op->name,
				     MAX_NTH);
	len = snprintf(line, sizeof(line),
		       "%s: %d allocations made to fail: %d failed cleanly", op->name,
		       x->points, x->failed);
	for (i = 0; i < 8 && x->nerr[i]; i++)
		len += snprintf(line + len, sizeof(line) - len, "%s%s x%d",
				i ? ", " : " (", strerror(x->err[i]), x->nerr[i]);
	snprintf(line + len, sizeof(line) - len, "%s, %d survived",
		 x->nerr[0] ? ")" : "", x->survived);
	ksft_print_msg("%s\n", line);
	fflush(stdout);
}

/* --- Fixture --- */

FIXTURE(fi) {
	const char *skip;
	struct saved saved[MAXSAVED];
	int nsaved;
	struct fi_ctx x;
	long sockets0;
};

static int save_and_set(FIXTURE_DATA(fi) *self, const char *path, const char *val)
{
	struct saved *s = &self->saved[self->nsaved];

	if (self->nsaved == MAXSAVED || read_str(path, s->val, sizeof(s->val)))
		return -1;
	snprintf(s->path, sizeof(s->path), "%s", path);
	if (write_str(path, val))
		return -1;
	self->nsaved++;
	return 0;
}

/* In a forked child: fail-nth and /proc/self/fd of the child itself. */
static int reopen_own(struct fi_ctx *x)
{
	close(x->nth);
	close(x->fddir);
	x->nth = open(FAIL_NTH, O_RDWR | O_CLOEXEC);
	x->fddir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return x->nth < 0 || x->fddir < 0 ? -1 : 0;
}

static int open_ctx(struct fi_ctx *x)
{
	x->nth = open(FAIL_NTH, O_RDWR | O_CLOEXEC);
	x->dev = dev_open();
	x->refcnt_fd = open("/sys/module/sharedsock/refcnt", O_RDONLY | O_CLOEXEC);
	x->fddir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	x->a = x->b = x->efd = x->q = x->efd2 = x->q2 = x->l = x->c = -1;
	return x->nth < 0 || x->dev < 0 || x->refcnt_fd < 0 || x->fddir < 0 ? -1 : 0;
}

FIXTURE_SETUP(fi)
{
	static const char * const attrs[] = { "failslab", "fail_page_alloc" };
	char path[160];
	glob_t g;
	size_t i;

	if (access(FAIL_NTH, F_OK)) {
		self->skip = "no " FAIL_NTH ": a kernel without CONFIG_FAULT_INJECTION";
		return;
	}
	if (geteuid()) {
		self->skip = "needs root (debugfs, namespaces)";
		return;
	}
	if (access(DEBUGFS "/failslab", F_OK))
		mount("none", DEBUGFS, "debugfs", 0, NULL);
	if (access(DEBUGFS "/failslab", F_OK)) {
		self->skip = "no " DEBUGFS "/failslab (CONFIG_FAILSLAB, CONFIG_FAULT_INJECTION_DEBUG_FS)";
		return;
	}
	/*
	 * The module allocates with GFP_KERNEL_ACCOUNT: inject into
	 * allocations that may sleep.  No log line or stack dump per fault;
	 * no random faults (fail-nth does not need them).
	 */
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), DEBUGFS "/%s", attrs[i]);
		if (access(path, F_OK))
			continue;
		snprintf(path, sizeof(path), DEBUGFS "/%s/ignore-gfp-wait", attrs[i]);
		ASSERT_EQ(0, save_and_set(self, path, "N"));
		snprintf(path, sizeof(path), DEBUGFS "/%s/probability", attrs[i]);
		ASSERT_EQ(0, save_and_set(self, path, "0"));
	}
	if (!glob(DEBUGFS "/fail*/verbose", 0, NULL, &g)) {
		for (i = 0; i < g.gl_pathc; i++) {
			ASSERT_EQ(0, save_and_set(self, g.gl_pathv[i], "0"));
		}
		globfree(&g);
	}

	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	ASSERT_EQ(0, lo_up());
	ASSERT_EQ(0, open_ctx(&self->x));
	for (i = 0; i < WAIT_MS / 10 && sockets_used() != 0; i++)
		usleep(10000);
	self->sockets0 = sockets_used();
	take(&self->x, &self->x.base);
}

FIXTURE_TEARDOWN(fi)
{
	struct fi_ctx *x = &self->x;
	struct snap end;
	char why[160];
	const char *bad = NULL;
	int i;

	while (self->nsaved--)
		write_str(self->saved[self->nsaved].path, self->saved[self->nsaved].val);
	if (self->skip)
		return;
	/* nothing left behind by the whole sequence */
	for (i = 0; i < WAIT_MS / 10; i++) {
		take(x, &end);
		bad = compare(&x->base, &end, why, sizeof(why));
		if (!bad && sockets_used() == self->sockets0)
			break;
		usleep(10000);
	}
	EXPECT_EQ(NULL, bad) TH_LOG("after the test: %s", bad);
	EXPECT_EQ(self->sockets0, sockets_used());
}

/* --- Helpers for the operations --- */

static int duplicate(struct fi_ctx *x, int fd, pid_t pid, struct sharedsock_info *info)
{
	return raw_duplicate(x->dev, fd, pid, 0, info);
}

static int new_pair(struct fi_ctx *x)
{
	int sv[2];

	if (socket_pair(AF_INET, SOCK_STREAM, sv))
		return -1;
	x->a = sv[0];
	x->b = sv[1];
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void close_all(struct fi_ctx *x)
{
	close_fd(&x->a);
	close_fd(&x->b);
	close_fd(&x->efd);
	close_fd(&x->q);
	close_fd(&x->efd2);
	close_fd(&x->q2);
}

/* An anchor token to ourselves: our target and our user objects exist. */
static int anchor(struct fi_ctx *x)
{
	int sv[2], ret;

	if (x->have_anchor)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return -1;
	ret = duplicate(x, sv[0], getpid(), &x->anchor);
	close(sv[0]);
	close(sv[1]);
	x->have_anchor = !ret;
	return ret;
}

static void drop_anchor(struct fi_ctx *x)
{
	if (x->have_anchor)
		raw_revoke(x->dev, &x->anchor);
	x->have_anchor = false;
}

/* A token redeems into a socket that carries data with @peer. */
static const char *redeems(struct fi_ctx *x, const struct sharedsock_info *tok, int peer)
{
	const char *bad;
	int fd = raw_redeem(x->dev, tok, SHAREDSOCK_REDEEM_CLOEXEC);

	if (fd < 0)
		return "the token does not redeem";
	bad = pair_ok(fd, peer);
	close(fd);
	return bad;
}

static int nop_setup(struct fi_ctx *x)
{
	(void)x;
	return 0;
}

static void nop_cleanup(struct fi_ctx *x, long ret)
{
	(void)x;
	(void)ret;
}

static const char *no_check(struct fi_ctx *x, long ret)
{
	(void)x;
	(void)ret;
	return NULL;
}

/* --- DUPLICATE, later token: target and user exist --- */

static int dup_later_setup(struct fi_ctx *x)
{
	return anchor(x) || new_pair(x);
}

static long dup_self_call(struct fi_ctx *x)
{
	return duplicate(x, x->a, getpid(), &x->tok);
}

static const char *dup_failed(struct fi_ctx *x, int err)
{
	(void)err;
	return pair_ok(x->a, x->b);
}

static const char *dup_self_ok(struct fi_ctx *x, long ret)
{
	(void)ret;
	if (!token_pending(x, x->tok.id))
		return "the new token is not listed";
	return redeems(x, &x->tok, x->b);
}

static void pair_cleanup(struct fi_ctx *x, long ret)
{
	(void)ret;
	close_all(x);
}

static const struct fi_op op_dup_later = {
	.name = "duplicate (a later token)", .errnos = enomem,
	.setup = dup_later_setup, .call = dup_self_call, .failed = dup_failed,
	.succeeded = dup_self_ok, .cleanup = pair_cleanup,
};

TEST_F_TIMEOUT(fi, duplicate_later_token, 600)
{
	if (self->skip)
		SKIP(return, "%s", self->skip);
	iterate(_metadata, &self->x, &op_dup_later);
	drop_anchor(&self->x);
}

/* --- DUPLICATE_VEC and REDEEM_VEC: one token for two descriptors of a --- */

static int vec_export(struct fi_ctx *x)
{
	int fds[2] = { x->a, x->a };
	struct sharedsock_duplicate_vec d = {
		.size = sizeof(d), .fds = (uintptr_t)fds, .count = 2,
		.pid = getpid(),
	};
	int ret = ioctl(x->dev, SHAREDSOCK_IOC_DUPLICATE_VEC, &d);

	if (!ret)
		x->tok = d.info;
	return ret;
}

static long vec_redeem(struct fi_ctx *x, int *fds)
{
	struct sharedsock_redeem_vec r = {
		.size = sizeof(r), .flags = SHAREDSOCK_REDEEM_CLOEXEC,
		.fds = (uintptr_t)fds, .count = 2, .info = x->tok,
	};

	return ioctl(x->dev, SHAREDSOCK_IOC_REDEEM_VEC, &r);
}

static long dupvec_call(struct fi_ctx *x)
{
	return vec_export(x);
}

/* The two sockets of the token come out, both the pair's a. */
static const char *vec_redeems(struct fi_ctx *x)
{
	int fds[2] = { -1, -1 };
	const char *bad = NULL;
	long n = vec_redeem(x, fds);

	if (n != 2)
		bad = "the token does not give its two sockets";
	for (int i = 0; !bad && i < 2; i++)
		bad = pair_ok(fds[i], x->b);
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return bad;
}

static const char *dupvec_ok(struct fi_ctx *x, long ret)
{
	(void)ret;
	if (!token_pending(x, x->tok.id))
		return "the new token is not listed";
	return vec_redeems(x);
}

static const struct fi_op op_dupvec = {
	.name = "duplicate_vec", .errnos = enomem,
	.setup = dup_later_setup, .call = dupvec_call, .failed = dup_failed,
	.succeeded = dupvec_ok, .cleanup = pair_cleanup,
};

TEST_F_TIMEOUT(fi, duplicate_vec, 600)
{
	if (self->skip)
		SKIP(return, "%s", self->skip);
	iterate(_metadata, &self->x, &op_dupvec);
	drop_anchor(&self->x);
}

static int redeemvec_setup(struct fi_ctx *x)
{
	return new_pair(x) || vec_export(x);
}

static long redeemvec_call(struct fi_ctx *x)
{
	return vec_redeem(x, x->vec_fds);
}

static const char *redeemvec_failed(struct fi_ctx *x, int err)
{
	(void)err;
	if (!token_pending(x, x->tok.id))
		return "the token is gone";
	return vec_redeems(x);
}

static const char *redeemvec_ok(struct fi_ctx *x, long ret)
{
	if (ret != 2)
		return "a partial redeem without a full table";
	if (token_pending(x, x->tok.id))
		return "the redeemed token is still listed";
	return pair_ok(x->vec_fds[0], x->b) ?: pair_ok(x->vec_fds[1], x->b);
}

static void redeemvec_cleanup(struct fi_ctx *x, long ret)
{
	for (long i = 0; i < ret; i++)
		close(x->vec_fds[i]);
	raw_revoke(x->dev, &x->tok);	/* whatever is left */
	close_all(x);
}

static const struct fi_op op_redeemvec = {
	.name = "redeem_vec", .errnos = fd_errnos, .setup = redeemvec_setup,
	.call = redeemvec_call, .failed = redeemvec_failed,
	.succeeded = redeemvec_ok, .cleanup = redeemvec_cleanup,
};

TEST_F_TIMEOUT(fi, redeem_vec, 600)
{
	if (self->skip)
		SKIP(return, "%s", self->skip);
	iterate(_metadata, &self->x, &op_redeemvec);
}

/* --- DUPLICATE, first token to a new process, for a new user --- */

/* A process of FI_UID that redeems the one token it is sent, if any. */
static pid_t spawn_target(struct fi_ctx *x)
{
	int in[2], out[2];
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid == 0) {
		struct sharedsock_info info;
		int fd = -1;

		close(in[1]);
		close(out[0]);
		if (read(in[0], &info, sizeof(info)) == sizeof(info))
			fd = raw_redeem(x->dev, &info, 0);
		if (write(out[1], &fd, sizeof(fd)) != sizeof(fd))
			_exit(1);
		_exit(0);
	}
	close(in[0]);
	close(out[1]);
	x->to_target = in[1];
	x->from_target = out[0];
	x->target = pid;
	return pid;
}

static int dup_first_setup(struct fi_ctx *x)
{
	if (new_pair(x))
		return -1;
	return spawn_target(x) < 0 ? -1 : 0;
}

static long dup_first_call(struct fi_ctx *x)
{
	return duplicate(x, x->a, x->target, &x->tok);
}

static const char *dup_first_ok(struct fi_ctx *x, long ret)
{
	int fd = -1;

	(void)ret;
	if (!token_pending(x, x->tok.id))
		return "the new token is not listed";
	if (write(x->to_target, &x->tok, sizeof(x->tok)) != sizeof(x->tok) ||
	    read(x->from_target, &fd, sizeof(fd)) != sizeof(fd) || fd < 0)
		return "the target could not redeem the token";
	return NULL;
}

static void dup_first_cleanup(struct fi_ctx *x, long ret)
{
	(void)ret;
	close_fd(&x->to_target);	/* EOF: it exits */
	if (x->target > 0)
		wait_exit(x->target);
	x->target = -1;
	close_fd(&x->from_target);
	close_all(x);
}

static const struct fi_op op_dup_first = {
	.name = "duplicate (first token: new target process, new user)",
	.errnos = enomem, .setup = dup_first_setup, .call = dup_first_call,
	.failed = dup_failed, .succeeded = dup_first_ok,
	.cleanup = dup_first_cleanup,
};

TEST_F_TIMEOUT(fi, duplicate_first_token, 600)
{
	struct fi_ctx *x = &self->x;
	pid_t pid;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	/* as a user nobody else exports as, so its user object is new */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (reopen_own(x) || become_user(FI_UID))
			_exit(2);
		iterate(_metadata, x, &op_dup_first);
		_exit(_metadata->passed ? 0 : 1);
	}
	EXPECT_EQ(0, wait_exit(pid));
}

/* --- REDEEM --- */

static int redeem_setup(struct fi_ctx *x)
{
	if (new_pair(x))
		return -1;
	return duplicate(x, x->a, getpid(), &x->tok);
}

static long redeem_call(struct fi_ctx *x)
{
	return raw_redeem(x->dev, &x->tok, SHAREDSOCK_REDEEM_CLOEXEC);
}

static const char *redeem_failed(struct fi_ctx *x, int err)
{
	(void)err;
	if (!token_pending(x, x->tok.id))
		return "the token is gone";
	return redeems(x, &x->tok, x->b);
}

static const char *redeem_ok(struct fi_ctx *x, long ret)
{
	if (token_pending(x, x->tok.id))
		return "the redeemed token is still listed";
	return pair_ok(ret, x->b);
}

static void redeem_cleanup(struct fi_ctx *x, long ret)
{
	if (ret >= 0)
		close(ret);
	close_all(x);
}

static const struct fi_op op_redeem = {
	.name = "redeem", .errnos = fd_errnos, .setup = redeem_setup,
	.call = redeem_call, .failed = redeem_failed, .succeeded = redeem_ok,
	.cleanup = redeem_cleanup,
};

TEST_F_TIMEOUT(fi, redeem, 600)
{
	if (self->skip)
		SKIP(return, "%s", self->skip);
	iterate(_metadata, &self->x, &op_redeem);
}

/*
 * REDEEM into a full descriptor table: installing the descriptor must grow
 * the table (allocations in expand_files()), and the token must survive
 * every failure.  A grown table never shrinks, so each attempt is a fresh
 * child whose 64-slot table is full; no check there opens a descriptor.
 */
struct full_result {
	int injected;
	long ret;
	int err;
	char bad[160];
};

static void redeem_full_attempt(struct fi_ctx *x, int n, int out)
{
	struct full_result r = { 0 };
	struct snap before, after;
	char why[160];
	const char *bad = NULL;
	int null, i;

	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (reopen_own(x) || null < 0 || redeem_setup(x))
		_exit(2);
	/* fill every free slot below 64: the next descriptor needs more */
	for (i = 0; i < 64; i++)
		if (fcntl(i, F_GETFD) < 0 && dup2(null, i) != i)
			_exit(3);
	take(x, &before);
	if (arm(x, n))
		_exit(4);
	r.ret = raw_redeem(x->dev, &x->tok, SHAREDSOCK_REDEEM_CLOEXEC);
	r.err = errno;
	r.injected = fired(x);
	take(x, &after);
	if (r.ret < 0) {
		bad = compare(&before, &after, why, sizeof(why));
		if (!bad && !token_pending(x, x->tok.id))
			bad = "the token is gone";
		if (!bad)
			bad = pair_ok(x->a, x->b);
		/* the token still redeems once a slot is free */
		if (!bad) {
			close(63);
			bad = redeems(x, &x->tok, x->b);
		}
	} else {
		if (r.ret < 64)
			bad = "the table was not full";
		else
			bad = redeem_ok(x, r.ret);
	}
	if (bad)
		snprintf(r.bad, sizeof(r.bad), "%s", bad);
	if (write(out, &r, sizeof(r)) != sizeof(r))
		_exit(5);
	_exit(0);
}

TEST_F_TIMEOUT(fi, redeem_grows_fd_table, 600)
{
	struct fi_ctx *x = &self->x;
	const struct fi_op op = { .errnos = fd_errnos };
	struct full_result r;
	int n, p[2], status;
	pid_t pid;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	for (n = 1; n <= MAX_NTH; n++) {
		ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			close(p[0]);
			redeem_full_attempt(x, n, p[1]);
		}
		close(p[1]);
		memset(&r, 0, sizeof(r));
		EXPECT_EQ(sizeof(r), read(p[0], &r, sizeof(r)));
		close(p[0]);
		status = wait_exit(pid);
		ASSERT_EQ(0, status) TH_LOG("attempt %d: child exited with %d", n, status);
		EXPECT_STREQ("", r.bad) TH_LOG("allocation %d (%s): %s", n,
					      r.ret < 0 ? strerror(r.err) : "survived", r.bad);
		if (!r.injected) {
			EXPECT_LE(0, r.ret) TH_LOG("without an injected fault: %s",
						   strerror(r.err));
			break;
		}
		x->points++;
		if (r.ret < 0) {
			x->failed++;
			count_errno(x, r.err);
			EXPECT_TRUE(clean_errno(&op, r.err))
				TH_LOG("allocation %d failed: %s", n, strerror(r.err));
		} else {
			x->survived++;
		}
		if (!_metadata->passed)
			break;
	}
	ksft_print_msg("redeem into a full descriptor table: %d allocations made to fail: %d failed cleanly (%s x%d), %d survived\n",
		       x->points, x->failed, x->nerr[0] ? strerror(x->err[0]) : "-",
		       x->nerr[0], x->survived);
}

/* --- REVOKE --- */

static long revoke_call(struct fi_ctx *x)
{
	return raw_revoke(x->dev, &x->tok);
}

static const char *revoke_ok(struct fi_ctx *x, long ret)
{
	(void)ret;
	if (token_pending(x, x->tok.id))
		return "the revoked token is still listed";
	if (raw_redeem(x->dev, &x->tok, 0) >= 0 || errno != EINVAL)
		return "the revoked token redeems";
	return pair_ok(x->a, x->b);
}

static const struct fi_op op_revoke = {
	.name = "revoke", .errnos = enomem, .setup = redeem_setup,
	.call = revoke_call, .failed = redeem_failed, .succeeded = revoke_ok,
	.cleanup = pair_cleanup,
};

TEST_F_TIMEOUT(fi, revoke, 600)
{
	if (self->skip)
		SKIP(return, "%s", self->skip);
	iterate(_metadata, &self->x, &op_revoke);
}

/* --- SELECT: first registration, replacement, cancellation --- */

static long do_select(struct fi_ctx *x, int fd, unsigned int sink, int sink_fd,
		      unsigned int events)
{
	struct sharedsock_select sel = {
		.size = sizeof(sel), .fd = fd, .sink = sink, .sink_fd = sink_fd,
		.events = events, .msg = 77,
	};

	return ioctl(x->dev, SHAREDSOCK_IOC_SELECT, &sel);
}

static int queue_create(struct fi_ctx *x)
{
	struct sharedsock_queue_create q = {
		.size = sizeof(q),
		.flags = SHAREDSOCK_QUEUE_CLOEXEC | SHAREDSOCK_QUEUE_NONBLOCK,
	};

	return ioctl(x->dev, SHAREDSOCK_IOC_QUEUE_CREATE, &q);
}

static int sinks(struct fi_ctx *x)
{
	x->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	x->efd2 = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	x->q = queue_create(x);
	x->q2 = queue_create(x);
	return x->efd < 0 || x->efd2 < 0 || x->q < 0 || x->q2 < 0 ? -1 : 0;
}

static int sink_fd(struct fi_ctx *x, int sink, bool second)
{
	if (sink == SHAREDSOCK_SINK_EVENTFD)
		return second ? x->efd2 : x->efd;
	return second ? x->q2 : x->q;
}

static int select_first_setup(struct fi_ctx *x)
{
	return new_pair(x) || sinks(x);
}

static long select_first_call(struct fi_ctx *x)
{
	return do_select(x, x->a, x->sink, sink_fd(x, x->sink, false), MASK);
}

static const char *select_first_failed(struct fi_ctx *x, int err)
{
	(void)err;
	if (mask_of(x, x->a) != 0)
		return "the socket has a registration";
	if (fcntl(x->a, F_GETFL) & O_NONBLOCK)
		return "the socket was made non-blocking";
	return pair_ok(x->a, x->b);
}

static unsigned long long ino_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : st.st_ino;
}

/*
 * @fd's registration reports to its sink (@sink, the second one or not):
 * @peer sends a byte; the eventfd is signalled and ENUM reports events on
 * @fd, or the queue gets a message for @fd.  The byte is read again.
 */
static bool reports(struct fi_ctx *x, int fd, int peer, int sink, bool second)
{
	struct sharedsock_message m[8];
	struct sharedsock_enum en;
	int sfd = sink_fd(x, sink, second), n;
	long end = now_us() + WAIT_MS * 1000L;
	bool seen = false;
	char c;

	if (send(peer, "r", 1, MSG_NOSIGNAL) != 1)
		return false;
	while (!seen && now_us() < end) {
		if (!readable_within(sfd, 100))
			continue;
		if (sink == SHAREDSOCK_SINK_EVENTFD) {
			memset(&en, 0, sizeof(en));
			en.size = sizeof(en);
			en.fd = fd;
			en.eventfd = sfd;
			seen = !ioctl(x->dev, SHAREDSOCK_IOC_ENUM, &en) && en.events;
			continue;
		}
		n = read(sfd, m, sizeof(m));
		for (n = n < 0 ? 0 : n / (int)sizeof(m[0]); n-- > 0;)
			seen |= m[n].socket_ino == ino_of(fd);
	}
	return readable_within(fd, WAIT_MS) && recv(fd, &c, 1, MSG_DONTWAIT) == 1 && seen;
}

static const char *select_first_ok(struct fi_ctx *x, long ret)
{
	(void)ret;
	if (mask_of(x, x->a) != MASK || sink_of(x, x->a) != x->sink)
		return "the registration is not as asked";
	if (!(fcntl(x->a, F_GETFL) & O_NONBLOCK))
		return "the registered socket blocks";
	if (!reports(x, x->a, x->b, x->sink, false))
		return "the registration reports nothing";
	return pair_ok(x->a, x->b);
}

static const struct fi_op op_select_first = {
	.name = "select (first registration)", .errnos = enomem,
	.setup = select_first_setup, .call = select_first_call,
	.failed = select_first_failed, .succeeded = select_first_ok,
	.cleanup = pair_cleanup,
};

TEST_F_TIMEOUT(fi, select_first_eventfd, 600)
{
	if (self->skip)
		SKIP(return, "%s", self->skip);
	self->x.sink = SHAREDSOCK_SINK_EVENTFD;
	iterate(_metadata, &self->x, &op_select_first);
}

TEST_F_TIMEOUT(fi, select_first_queue, 600)
{
	if (self->skip)
		SKIP(return, "%s", self->skip);
	self->x.sink = SHAREDSOCK_SINK_QUEUE;
	iterate(_metadata, &self->x, &op_select_first);
}

/* Registered (not armed) with the other kind of sink, then replaced. */
static int select_replace_setup(struct fi_ctx *x)
{
	int other = !x->sink;

	if (new_pair(x) || sinks(x) ||
	    do_select(x, x->a, other, sink_fd(x, other, false), MASK2))
		return -1;
	x->mask_before = MASK2;
	return reports(x, x->a, x->b, other, false) ? 0 : -1;
}

static long select_replace_call(struct fi_ctx *x)
{
	return do_select(x, x->a, x->sink, sink_fd(x, x->sink, true), MASK);
}

static const char *select_replace_failed(struct fi_ctx *x, int err)
{
	(void)err;
	if (mask_of(x, x->a) != x->mask_before || sink_of(x, x->a) != !x->sink)
		return "the previous registration changed";
	if (!reports(x, x->a, x->b, !x->sink, false))
		return "the previous registration no longer reports";
	return pair_ok(x->a, x->b);
}

static const char *select_replace_ok(struct fi_ctx *x, long ret)
{
	(void)ret;
	if (mask_of(x, x->a) != MASK || sink_of(x, x->a) != x->sink)
		return "the registration was not replaced";
	if (!reports(x, x->a, x->b, x->sink, true))
		return "the new registration reports nothing";
	return pair_ok(x->a, x->b);
}

static const struct fi_op op_select_replace = {
	.name = "select (replacing a registration of the other kind)",
	.errnos = enomem, .setup = select_replace_setup,
	.call = select_replace_call, .failed = select_replace_failed,
	.succeeded = select_replace_ok, .cleanup = pair_cleanup,
};

TEST_F_TIMEOUT(fi, select_replace_queue_by_eventfd, 600)
{
	if (self->skip)
		SKIP(return, "%s", self->skip);
	self->x.sink = SHAREDSOCK_SINK_EVENTFD;
	iterate(_metadata, &self->x, &op_select_replace);
}

TEST_F_TIMEOUT(fi, select_replace_eventfd_by_queue, 600)
{
	if (self->skip)
		SKIP(return, "%s", self->skip);
	self->x.sink = SHAREDSOCK_SINK_QUEUE;
	iterate(_metadata, &self->x, &op_select_replace);
}

static long select_cancel_call(struct fi_ctx *x)
{
	return do_select(x, x->a, 0, -1, 0);
}

static const char *select_cancel_ok(struct fi_ctx *x, long ret)
{
	(void)ret;
	if (mask_of(x, x->a) != 0)
		return "still registered";
	return pair_ok(x->a, x->b);
}

static const struct fi_op op_select_cancel = {
	.name = "select (cancel)", .errnos = enomem,
	.setup = select_replace_setup, .call = select_cancel_call,
	.failed = select_replace_failed, .succeeded = select_cancel_ok,
	.cleanup = pair_cleanup,
};

TEST_F_TIMEOUT(fi, select_cancel, 600)
{
	if (self->skip)
		SKIP(return, "%s", self->skip);
	self->x.sink = SHAREDSOCK_SINK_EVENTFD;
	iterate(_metadata, &self->x, &op_select_cancel);
}

/* --- ENUM --- */

static int enum_setup(struct fi_ctx *x)
{
	struct sharedsock_enum en;

	if (new_pair(x) || sinks(x) ||
	    do_select(x, x->a, SHAREDSOCK_SINK_EVENTFD, x->efd, MASK) ||
	    send(x->b, "x", 1, 0) != 1)
		return -1;
	/* FD_WRITE and FD_READ recorded */
	for (int i = 0; i < WAIT_MS / 10; i++) {
		if (!peek(x, x->a, &en) && (en.events & SHAREDSOCK_FD_READ))
			return 0;
		usleep(10000);
	}
	return -1;
}

static long enum_call(struct fi_ctx *x)
{
	struct sharedsock_enum en = {
		.size = sizeof(en), .fd = x->a, .eventfd = x->efd,
	};
	long ret = ioctl(x->dev, SHAREDSOCK_IOC_ENUM, &en);

	x->mask_before = en.events;
	return ret;
}

static const char *enum_failed(struct fi_ctx *x, int err)
{
	struct sharedsock_enum en;

	(void)err;
	if (peek(x, x->a, &en) || !(en.events & SHAREDSOCK_FD_READ))
		return "the recorded events were lost";
	return NULL;
}

static const char *enum_ok(struct fi_ctx *x, long ret)
{
	(void)ret;
	return x->mask_before & SHAREDSOCK_FD_READ ? NULL : "FD_READ not reported";
}

static const struct fi_op op_enum = {
	.name = "enum", .errnos = enomem, .setup = enum_setup, .call = enum_call,
	.failed = enum_failed, .succeeded = enum_ok, .cleanup = pair_cleanup,
};

TEST_F_TIMEOUT(fi, enum_events, 600)
{
	if (self->skip)
		SKIP(return, "%s", self->skip);
	iterate(_metadata, &self->x, &op_enum);
}

/* --- QUEUE_CREATE --- */

static long queue_call(struct fi_ctx *x)
{
	return queue_create(x);
}

static const char *queue_failed(struct fi_ctx *x, int err)
{
	(void)x;
	(void)err;
	return NULL;	/* refcnt and descriptors: compared already */
}

static const char *queue_ok(struct fi_ctx *x, long ret)
{
	char buf[sizeof(struct sharedsock_message)];
	int sv[2];
	const char *bad = NULL;

	if (read(ret, buf, sizeof(buf)) != -1 || errno != EAGAIN)
		return "the new queue does not read as an empty queue";
	/* it takes a registration and delivers */
	if (socket_pair(AF_INET, SOCK_STREAM, sv))
		return "no socket pair";
	if (do_select(x, sv[0], SHAREDSOCK_SINK_QUEUE, ret, MASK) ||
	    !readable_within(ret, WAIT_MS))
		bad = "the new queue does not work";
	close(sv[0]);
	close(sv[1]);
	return bad;
}

static void queue_cleanup(struct fi_ctx *x, long ret)
{
	(void)x;
	if (ret >= 0)
		close(ret);
}

static const struct fi_op op_queue = {
	.name = "queue create", .errnos = fd_errnos, .setup = nop_setup,
	.call = queue_call, .failed = queue_failed, .succeeded = queue_ok,
	.cleanup = queue_cleanup,
};

TEST_F_TIMEOUT(fi, queue_create, 600)
{
	if (self->skip)
		SKIP(return, "%s", self->skip);
	iterate(_metadata, &self->x, &op_queue);
}

/* --- accept on a registered listener: the inherited registration --- */

static int listener_setup(struct fi_ctx *x)
{
	socklen_t len = sizeof(x->laddr);

	if (x->l >= 0)
		return 0;
	if (sinks(x))
		return -1;
	x->laddr.sin_family = AF_INET;
	x->laddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	x->l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (x->l < 0 || bind(x->l, (void *)&x->laddr, len) || listen(x->l, 8) ||
	    getsockname(x->l, (void *)&x->laddr, &len))
		return -1;
	return do_select(x, x->l, x->sink, sink_fd(x, x->sink, false),
			 SHAREDSOCK_FD_ACCEPT | MASK);
}

static int accept_setup(struct fi_ctx *x)
{
	uint64_t v;
	char m[4 * sizeof(struct sharedsock_message)];

	if (listener_setup(x))
		return -1;
	x->c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (x->c < 0 || connect(x->c, (void *)&x->laddr, sizeof(x->laddr)))
		return -1;
	if (!readable_within(x->l, WAIT_MS))
		return -1;
	/* empty the sink: what follows comes from the accepted socket */
	usleep(10000);
	if (x->sink == SHAREDSOCK_SINK_EVENTFD) {
		if (read(x->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			return -1;
	} else {
		while (read(x->q, m, sizeof(m)) > 0)
			;
	}
	return 0;
}

static long accept_call(struct fi_ctx *x)
{
	return accept4(x->l, NULL, NULL, SOCK_CLOEXEC);
}

static const char *accept_failed(struct fi_ctx *x, int err)
{
	const char *bad;
	int s;

	(void)err;
	/* the connection waits in the queue, intact */
	if (!readable_within(x->l, WAIT_MS))
		return "the pending connection is gone";
	s = accept4(x->l, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0)
		return "the pending connection cannot be accepted";
	if (mask_of(x, s) != (SHAREDSOCK_FD_ACCEPT | MASK))
		bad = "the connection accepted afterwards did not inherit the registration";
	else
		bad = pair_ok(s, x->c);
	close(s);
	return bad;
}

static const char *accept_ok(struct fi_ctx *x, long ret)
{
	if (mask_of(x, ret) != (SHAREDSOCK_FD_ACCEPT | MASK) ||
	    sink_of(x, ret) != x->sink)
		return "the accepted socket did not inherit the registration";
	if (!(fcntl(ret, F_GETFL) & O_NONBLOCK))
		return "the accepted socket blocks";
	if (!reports(x, ret, x->c, x->sink, false))
		return "the accepted socket reports nothing";
	return pair_ok(ret, x->c);
}

static void accept_cleanup(struct fi_ctx *x, long ret)
{
	if (ret >= 0)
		close(ret);
	close_fd(&x->c);
}

static const struct fi_op op_accept = {
	.name = "accept on a registered listener", .errnos = fd_errnos,
	.setup = accept_setup, .call = accept_call, .failed = accept_failed,
	.succeeded = accept_ok, .cleanup = accept_cleanup,
};

TEST_F_TIMEOUT(fi, accept_inherits_eventfd, 600)
{
	if (self->skip)
		SKIP(return, "%s", self->skip);
	self->x.sink = SHAREDSOCK_SINK_EVENTFD;
	iterate(_metadata, &self->x, &op_accept);
	close_fd(&self->x.l);
	close_all(&self->x);
}

TEST_F_TIMEOUT(fi, accept_inherits_queue, 600)
{
	if (self->skip)
		SKIP(return, "%s", self->skip);
	self->x.sink = SHAREDSOCK_SINK_QUEUE;
	iterate(_metadata, &self->x, &op_accept);
	close_fd(&self->x.l);
	close_all(&self->x);
}

/* --- STATUS and LIST --- */

static long status_call(struct fi_ctx *x)
{
	struct sharedsock_status st = { .size = sizeof(st) };

	return ioctl(x->dev, SHAREDSOCK_IOC_STATUS, &st);
}

static const struct fi_op op_status = {
	.name = "status", .errnos = enomem, .setup = nop_setup,
	.call = status_call, .failed = queue_failed, .succeeded = no_check,
	.cleanup = nop_cleanup,
};

static int list_setup(struct fi_ctx *x)
{
	/* something to list: a token and a registration */
	if (x->a >= 0)
		return 0;
	return anchor(x) || new_pair(x) || sinks(x) ||
	       do_select(x, x->a, SHAREDSOCK_SINK_EVENTFD, x->efd, MASK);
}

/*
 * Room for 0, 16 or 80 entries (80 token entries: 3840 bytes, kmalloc).
 * Not above 8 KiB: kvcalloc() would fall back to vmalloc, whose injected
 * failures print an allocation warning with a stack trace (a "dirty"
 * kernel log for the VM harness) -- kernel code, not the module's.
 */
static long list_call(struct fi_ctx *x)
{
	static union {
		struct sharedsock_token_entry t[80];
		struct sharedsock_reg_entry r[80];
	} e;
	struct sharedsock_list list = {
		.size = sizeof(list), .kind = x->sink, .count = x->mask_before,
		.entries = (uintptr_t)&e,
	};

	return ioctl(x->dev, SHAREDSOCK_IOC_LIST, &list);
}

static const char *list_ok(struct fi_ctx *x, long ret)
{
	return ret >= 1 || !x->mask_before ? NULL : "LIST found nothing";
}

static const struct fi_op op_list = {
	.name = "list", .errnos = enomem, .setup = list_setup,
	.call = list_call, .failed = queue_failed, .succeeded = list_ok,
	.cleanup = nop_cleanup,
};

TEST_F_TIMEOUT(fi, status_and_list, 600)
{
	struct fi_ctx *x = &self->x;
	static const struct { int kind, count; } lists[] = {
		{ SHAREDSOCK_LIST_TOKENS, 16 }, { SHAREDSOCK_LIST_REGISTRATIONS, 16 },
		{ SHAREDSOCK_LIST_TOKENS, 80 }, { SHAREDSOCK_LIST_REGISTRATIONS, 0 },
	};
	unsigned int i;

	if (self->skip)
		SKIP(return, "%s", self->skip);
	iterate(_metadata, x, &op_status);
	for (i = 0; i < ARRAY_SIZE(lists); i++) {
		x->sink = lists[i].kind;
		x->mask_before = lists[i].count;
		x->points = x->failed = x->survived = 0;
		memset(x->nerr, 0, sizeof(x->nerr));
		iterate(_metadata, x, &op_list);
	}
	close_all(x);
	drop_anchor(x);
}

TEST_HARNESS_MAIN
