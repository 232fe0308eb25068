// SPDX-License-Identifier: GPL-2.0
/*
 * A seeded, bounded, randomized driver of the sharedsock ioctls and of the
 * socket calls the module wraps.
 *
 * Valid and invalid arguments are mixed: random bytes and mutated real
 * tokens, argument structures that are truncated, oversized (with zero or
 * non-zero trailing bytes), misaligned, read-only, unmapped, straddling a
 * guard page or in kernel space; descriptors of every kind (sockets of
 * every family, eventfd, pipe, epoll, io_uring, memfd, O_PATH, /dev/null,
 * the device itself, queues, closed and out-of-range numbers); huge masks,
 * unknown sinks, kinds and flags, random ioctl numbers.  A racer thread
 * closes and replaces descriptors in a range the fuzzer also uses, and
 * short-lived children (some unprivileged) act on inherited descriptors and
 * exit with tokens bound to them.
 *
 * Asserted: nothing crashes; every failing call returns a documented errno;
 * afterwards (everything closed, the fuzzer gone) the pending tokens and
 * the registrations are back to their baseline, no socket of the private
 * network namespace is left and the module's reference count is back.
 *
 * SHAREDSOCK_FUZZ_OPS: operations (default 100000; the debug lane runs at
 * least 1000000).  SHAREDSOCK_FUZZ_SEED: the seed (default fixed).
 * SHAREDSOCK_FUZZ_RACE=0 turns the racer off: the run is then reproducible
 * call by call from the seed (apart from timing: token expiry, data in
 * flight).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/io_uring.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "kselftest_harness.h"

#define DEFAULT_OPS	100000L
#define DEFAULT_SEED	0x5eedf0220001ULL
#define POOL		96
#define RACE_BASE	900	/* the racer's descriptor numbers */
#define RACE_N		16
#define RACE_PERIOD	8000	/* ops; the racer runs for the first quarter */
#define MAXTOK		512
#define SCRATCH		(64 * 1024)
#define NVIOL		10
#define MAXERRNO	134

/* --- Randomness (rnd(), below() in common.c) --- */

/* True with probability @pct percent. */
static bool chance(uint64_t *s, unsigned int pct)
{
	return below(s, 100) < pct;
}

static void fill_random(uint64_t *s, void *p, size_t len)
{
	unsigned char *b = p;
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		if (!(i % 8))
			v = rnd(s);
		b[i] = v >> (8 * (i % 8));
	}
}

/* --- The report, shared with the test process --- */

enum cmd_idx {
	C_DUPLICATE, C_REDEEM, C_REVOKE, C_SELECT, C_ENUM, C_QUEUE, C_STATUS,
	C_LIST, C_DUPVEC, C_REDEEMVEC, C_RANDOM, C_FOREIGN, C_QREAD, C_NR
};
#define NDEVCMD C_RANDOM	/* the device's own commands come first */

static const char *const cmd_name[C_NR] = {
	"DUPLICATE", "REDEEM", "REVOKE", "SELECT", "ENUM", "QUEUE_CREATE",
	"STATUS", "LIST", "DUPLICATE_VEC", "REDEEM_VEC", "random ioctl on the device",
	"sharedsock ioctl on another fd", "queue read",
};

static const unsigned long cmd_nr[] = {
	SHAREDSOCK_IOC_DUPLICATE, SHAREDSOCK_IOC_REDEEM, SHAREDSOCK_IOC_REVOKE,
	SHAREDSOCK_IOC_SELECT, SHAREDSOCK_IOC_ENUM, SHAREDSOCK_IOC_QUEUE_CREATE,
	SHAREDSOCK_IOC_STATUS, SHAREDSOCK_IOC_LIST, SHAREDSOCK_IOC_DUPLICATE_VEC,
	SHAREDSOCK_IOC_REDEEM_VEC,
};

static const size_t cmd_size[] = {
	sizeof(struct sharedsock_duplicate), sizeof(struct sharedsock_redeem),
	sizeof(struct sharedsock_revoke), sizeof(struct sharedsock_select),
	sizeof(struct sharedsock_enum), sizeof(struct sharedsock_queue_create),
	sizeof(struct sharedsock_status), sizeof(struct sharedsock_list),
	sizeof(struct sharedsock_duplicate_vec), sizeof(struct sharedsock_redeem_vec),
};

struct report {
	atomic_long calls[C_NR];
	atomic_long ok[C_NR];
	atomic_long err[C_NR][MAXERRNO];
	atomic_long other_calls;	/* socket calls, closes, dups, forks */
	atomic_long children;
	atomic_long children_unpriv;	/* ... running as nobody */
	atomic_long children_lowfd;	/* ... with RLIMIT_NOFILE of 1 to 4 */
	atomic_long child_tokens;	/* tokens exported by children */
	atomic_long race_ops;
	atomic_long tokens;		/* exported */
	atomic_long redeemed;
	atomic_long regs;		/* successful selects with a mask */
	atomic_int nviol;
	char viol[NVIOL][240];
	long ops;
	long elapsed_us;
	bool done;
};

static struct report *rep;

static void violation(const char *fmt, ...)
{
	int i = atomic_fetch_add(&rep->nviol, 1);
	va_list ap;

	if (i >= NVIOL)
		return;
	va_start(ap, fmt);
	vsnprintf(rep->viol[i], sizeof(rep->viol[i]), fmt, ap);
	va_end(ap);
}

/* The errnos sharedsock documents; nothing else may come back. */
static bool documented(int e)
{
	switch (e) {
	case EINVAL: case EBADF: case ENOTSOCK: case EFAULT: case E2BIG:
	case ENOTTY: case ESRCH: case EPERM: case ETOOMANYREFS: case EMFILE:
	case ENOMEM: case EOPNOTSUPP: case EBUSY: case EAGAIN:
		return true;
	}
	return false;
}

/* --- Descriptors of every kind --- */

enum pk {
	PK_TCP, PK_TCP_LISTEN, PK_TCP_FRESH, PK_UDP, PK_UDP6, PK_UNIX_STREAM,
	PK_UNIX_DGRAM, PK_UNIX_SEQ, PK_NETLINK, PK_PACKET, PK_EVENTFD,
	PK_PIPE_R, PK_PIPE_W, PK_EPOLL, PK_URING, PK_DEVICE, PK_QUEUE,
	PK_MEMFD, PK_OPATH, PK_DEVNULL, PK_NR,
	PK_CLOSED = PK_NR,
};

struct fuzzer {
	uint64_t rng;
	int pool[POOL];
	int kind[POOL];
	int dev[3];			/* device descriptors */
	struct sharedsock_info tok[MAXTOK];
	int ntok;
	pid_t self, parent, helper, dead, racer_tid;
	bool child;			/* a short-lived fork child */
	unsigned char *scratch;		/* SCRATCH bytes, then a guard page */
	unsigned char *ro;		/* one read-only page */
	unsigned char *unmapped;	/* PROT_NONE, kept reserved */
	long page;
	long op;
};

static bool is_socket_kind(int k)
{
	return k <= PK_PACKET;
}

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static int make_socket(uint64_t *r, int kind, int *second)
{
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int sv[2] = { -1, -1 }, fd = -1;

	*second = -1;
	switch (kind) {
	case PK_TCP:
		if (!socket_pair(chance(r, 70) ? AF_INET : AF_INET6, SOCK_STREAM, sv)) {
			fd = sv[0];
			*second = sv[1];
		}
		break;
	case PK_TCP_LISTEN:
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd >= 0 && (bind(fd, (void *)&a, sizeof(a)) || listen(fd, 8))) {
			close(fd);
			fd = -1;
		}
		break;
	case PK_TCP_FRESH:
		fd = socket(chance(r, 50) ? AF_INET : AF_INET6, SOCK_STREAM, 0);
		break;
	case PK_UDP:
		if (!socket_pair(AF_INET, SOCK_DGRAM, sv)) {
			fd = sv[0];
			*second = sv[1];
		}
		break;
	case PK_UDP6:
		fd = socket(AF_INET6, SOCK_DGRAM, 0);
		break;
	case PK_UNIX_STREAM:
	case PK_UNIX_DGRAM:
	case PK_UNIX_SEQ:
		if (!socketpair(AF_UNIX, kind == PK_UNIX_STREAM ? SOCK_STREAM :
				kind == PK_UNIX_DGRAM ? SOCK_DGRAM : SOCK_SEQPACKET,
				0, sv)) {
			fd = sv[0];
			*second = sv[1];
		}
		break;
	case PK_NETLINK:
		fd = socket(AF_NETLINK, SOCK_RAW, 0);
		break;
	case PK_PACKET:
		fd = socket(AF_PACKET, SOCK_DGRAM, 0);
		if (fd < 0)	/* unprivileged */
			fd = socket(AF_INET, SOCK_DGRAM, 0);
		break;
	}
	return fd;
}

static int make_object(struct fuzzer *f, int kind, int *second)
{
	struct io_uring_params p = { 0 };
	struct sharedsock_queue_create q = { .size = sizeof(q) };
	int fd = -1, pp[2];

	*second = -1;
	if (is_socket_kind(kind))
		fd = make_socket(&f->rng, kind, second);
	switch (kind) {
	case PK_EVENTFD:
		fd = eventfd(below(&f->rng, 3), chance(&f->rng, 30) ? EFD_SEMAPHORE : 0);
		break;
	case PK_PIPE_R:
	case PK_PIPE_W:
		if (!pipe(pp)) {
			fd = pp[kind == PK_PIPE_W];
			*second = pp[kind != PK_PIPE_W];
		}
		break;
	case PK_EPOLL:
		fd = epoll_create1(0);
		break;
	case PK_URING:
		fd = syscall(__NR_io_uring_setup, 4, &p);
		break;
	case PK_DEVICE:
		fd = open(SHAREDSOCK_DEVICE_PATH, chance(&f->rng, 50) ? O_RDWR : O_RDONLY);
		break;
	case PK_QUEUE:
		q.flags = below(&f->rng, 4);
		fd = ioctl(f->dev[0], SHAREDSOCK_IOC_QUEUE_CREATE, &q);
		break;
	case PK_MEMFD:
		fd = memfd_create("sharedsock-fuzz", 0);
		break;
	case PK_OPATH:
		fd = open(chance(&f->rng, 50) ? SHAREDSOCK_DEVICE_PATH : "/proc/self/stat",
			  O_PATH);
		break;
	case PK_DEVNULL:
		fd = open("/dev/null", O_RDWR);
		break;
	}
	/* nothing may block the fuzzer */
	if (fd >= 0 && kind != PK_OPATH)
		set_nonblock(fd);
	if (*second >= 0)
		set_nonblock(*second);
	return fd;
}

static void pool_set(struct fuzzer *f, int slot, int fd, int kind)
{
	if (f->kind[slot] != PK_CLOSED)
		close(f->pool[slot]);
	f->pool[slot] = fd;
	f->kind[slot] = fd < 0 ? PK_CLOSED : kind;
	if (fd < 0)
		f->pool[slot] = 300 + slot;	/* a number with nothing behind */
}

/* Put a new object (and its peer, if any) in random slots. */
static void pool_refill(struct fuzzer *f, int slot)
{
	int kind = below(&f->rng, PK_NR), second, fd;

	fd = make_object(f, kind, &second);
	atomic_fetch_add(&rep->other_calls, 1);
	pool_set(f, slot, fd, kind);
	if (second >= 0) {
		if (chance(&f->rng, 70))
			pool_set(f, below(&f->rng, POOL), second,
				 kind == PK_PIPE_R ? PK_PIPE_W :
				 kind == PK_PIPE_W ? PK_PIPE_R : kind);
		else
			close(second);
	}
}

/* A descriptor argument: mostly from the pool, else of every bad kind. */
static int pick_fd(struct fuzzer *f, int *kind)
{
	int slot;

	*kind = PK_CLOSED;
	switch (below(&f->rng, 20)) {
	case 0:
		return RACE_BASE + below(&f->rng, RACE_N);
	case 1:
		switch (below(&f->rng, 6)) {
		case 0:
			return -1;
		case 1:
			return INT_MAX;
		case 2:
			return INT_MIN;
		case 3:
			return -100;	/* AT_FDCWD */
		case 4:
			return 1 << 20;
		default:
			return (int)rnd(&f->rng);
		}
	case 2:
		*kind = PK_DEVICE;
		return f->dev[below(&f->rng, 3)];
	default:
		slot = below(&f->rng, POOL);
		*kind = f->kind[slot];
		return f->pool[slot];
	}
}

/* A descriptor of one kind from the pool, else any. */
static int pick_fd_kind(struct fuzzer *f, int want, int *kind)
{
	int i, start = below(&f->rng, POOL);

	for (i = 0; i < POOL; i++) {
		int slot = (start + i) % POOL;

		if (f->kind[slot] == want) {
			*kind = want;
			return f->pool[slot];
		}
	}
	return pick_fd(f, kind);
}

static pid_t pick_pid(struct fuzzer *f)
{
	switch (below(&f->rng, 16)) {
	case 0: case 1: case 2: case 3: case 4: case 5: case 6:
		return f->self;
	case 7: case 8:
		return f->helper;
	case 9:
		return f->dead;		/* reaped: ESRCH */
	case 10:
		return f->racer_tid;	/* a thread, not a process: ESRCH */
	case 11:
		/* -1, 0, 1 (init: tokens revoked at the end) */
		return f->child ? -(pid_t)below(&f->rng, 2) : (pid_t)below(&f->rng, 3) - 1;
	case 12:
		/* the test process: tokens revoked at the end */
		return f->child ? f->self : f->parent;
	case 13:
		return f->child ? f->dead : (pid_t)below(&f->rng, 400);
	default:
		return f->child ? getppid() : (pid_t)rnd(&f->rng);
	}
}

static uint32_t pick_u32(struct fuzzer *f, uint32_t good)
{
	switch (below(&f->rng, 20)) {
	case 0:
		return (uint32_t)rnd(&f->rng);
	case 1:
		return 1U << below(&f->rng, 32);
	case 2:
		return ~0U;
	default:
		return good;
	}
}

/* --- Building and placing an argument structure --- */

union args {
	struct sharedsock_duplicate dup;
	struct sharedsock_redeem red;
	struct sharedsock_revoke rev;
	struct sharedsock_select sel;
	struct sharedsock_enum en;
	struct sharedsock_queue_create q;
	struct sharedsock_status st;
	struct sharedsock_list list;
	struct sharedsock_duplicate_vec dupv;
	struct sharedsock_redeem_vec redv;
	unsigned char raw[4096 + 64];
};

static void token_arg(struct fuzzer *f, struct sharedsock_info *info)
{
	unsigned int b;

	switch (below(&f->rng, 8)) {
	case 0:
		fill_random(&f->rng, info, sizeof(*info));
		if (chance(&f->rng, 80))
			info->reserved = 0;
		return;
	case 1:
		memset(info, 0, sizeof(*info));
		return;
	default:
		if (!f->ntok) {
			fill_random(&f->rng, info, sizeof(*info));
			info->reserved = 0;
			return;
		}
		*info = f->tok[below(&f->rng, f->ntok)];
		if (chance(&f->rng, 25)) {
			/* one bit off: id, secret or the informational fields */
			b = below(&f->rng, sizeof(*info) * 8);
			((unsigned char *)info)[b / 8] ^= 1U << (b % 8);
		}
	}
}

static uint32_t pick_size(struct fuzzer *f, uint32_t good, uint32_t *trailing)
{
	*trailing = 0;
	switch (below(&f->rng, 24)) {
	case 0:
		return 0;
	case 1:
		return below(&f->rng, good);		/* too small */
	case 2:
		*trailing = 8 + below(&f->rng, 64);	/* newer, zero tail */
		return good + *trailing;
	case 3:
		*trailing = 1 + below(&f->rng, 64);	/* newer, non-zero tail */
		return good + *trailing;
	case 4:
		return 4096 + below(&f->rng, 3) - 1;	/* around PAGE_SIZE */
	case 5:
		return pick_u32(f, ~0U);
	default:
		return good;
	}
}

/* A socket count for the vectored calls: mostly valid, sometimes not. */
static uint32_t pick_count(struct fuzzer *f)
{
	switch (below(&f->rng, 10)) {
	case 0:
		return 0;
	case 1:
		return SHAREDSOCK_VEC_MAX + below(&f->rng, 3) - 1;
	case 2:
		return pick_u32(f, ~0U);
	default:
		return 1 + below(&f->rng, 8);
	}
}

/*
 * A user array of @count descriptors for the vectored calls: filled with
 * picks from the pool (@in) or left for the kernel to write, placed in the
 * scratch area's last page, or NULL, read-only, unmapped.
 */
static uint64_t pick_array(struct fuzzer *f, uint32_t count, bool in, int *kinds)
{
	int32_t *fds = (int32_t *)(f->scratch + SCRATCH - f->page);
	uint32_t n = count < (uint32_t)f->page / 4 ? count : (uint32_t)f->page / 4;

	switch (below(&f->rng, 16)) {
	case 0:
		return 0;
	case 1:
		return (uintptr_t)f->ro;
	case 2:
		return (uintptr_t)f->unmapped;
	case 3:		/* runs into the guard page */
		return (uintptr_t)(f->scratch + SCRATCH - 4 * below(&f->rng, n + 1));
	}
	for (uint32_t i = 0; in && i < n; i++)
		fds[i] = pick_fd(f, &kinds[i & 1]);
	return (uintptr_t)fds;
}

/* Fill @a for command @c; returns the number of bytes that make it up. */
static size_t build(struct fuzzer *f, int c, union args *a, int *kinds)
{
	uint32_t trailing, size = pick_size(f, cmd_size[c], &trailing);
	size_t len = cmd_size[c];

	memset(a, 0, sizeof(*a));
	kinds[0] = kinds[1] = -1;
	switch (c) {
	case C_DUPLICATE:
		a->dup.flags = pick_u32(f, 0);
		a->dup.fd = pick_fd(f, &kinds[0]);
		a->dup.pid = pick_pid(f);
		a->dup.ttl_ms = chance(&f->rng, 50) ? 0 :
				pick_u32(f, below(&f->rng, 3) ? 1 + below(&f->rng, 200) :
					 3600000 + below(&f->rng, 3) - 1);
		a->dup.reserved = pick_u32(f, 0);
		/*
		 * A token for a process that outlives us (the test process,
		 * init, a kernel thread) is revoked at the end; should the
		 * fuzzer die first, a short lifetime still ends it.
		 */
		if (a->dup.pid != f->self && a->dup.pid != f->helper &&
		    (a->dup.ttl_ms == 0 || a->dup.ttl_ms > 2000) &&
		    a->dup.ttl_ms <= 3600000)
			a->dup.ttl_ms = 1 + below(&f->rng, 2000);
		if (chance(&f->rng, 5))
			fill_random(&f->rng, &a->dup.info, sizeof(a->dup.info));
		break;
	case C_REDEEM:
		a->red.flags = pick_u32(f, below(&f->rng, 2));
		token_arg(f, &a->red.info);
		break;
	case C_DUPVEC:
		a->dupv.flags = pick_u32(f, 0);
		a->dupv.count = pick_count(f);
		a->dupv.fds = pick_array(f, a->dupv.count, true, kinds);
		a->dupv.pid = pick_pid(f);
		a->dupv.reserved = pick_u32(f, 0);
		/* short-lived unless for us or our helper, as for DUPLICATE */
		a->dupv.ttl_ms = a->dupv.pid == f->self || a->dupv.pid == f->helper ?
				 0 : 1 + below(&f->rng, 2000);
		break;
	case C_REDEEMVEC:
		a->redv.flags = pick_u32(f, below(&f->rng, 2));
		a->redv.count = pick_count(f);
		a->redv.fds = pick_array(f, a->redv.count, false, kinds);
		a->redv.reserved = pick_u32(f, 0);
		token_arg(f, &a->redv.info);
		break;
	case C_REVOKE:
		a->rev.flags = pick_u32(f, 0);
		token_arg(f, &a->rev.info);
		break;
	case C_SELECT:
		a->sel.flags = pick_u32(f, 0);
		a->sel.fd = pick_fd(f, &kinds[0]);
		a->sel.sink = pick_u32(f, below(&f->rng, 2));
		a->sel.sink_fd = chance(&f->rng, 60) ?
			pick_fd_kind(f, a->sel.sink ? PK_QUEUE : PK_EVENTFD, &kinds[1]) :
			pick_fd(f, &kinds[1]);
		switch (below(&f->rng, 6)) {
		case 0:
			a->sel.events = 0;
			break;
		case 1:
			a->sel.events = SHAREDSOCK_FD_ALL_EVENTS;
			break;
		case 2:
			a->sel.events = pick_u32(f, ~0U);	/* huge */
			break;
		default:
			a->sel.events = 1 + below(&f->rng, SHAREDSOCK_FD_ALL_EVENTS);
		}
		a->sel.msg = (uint32_t)rnd(&f->rng);
		a->sel.reserved = pick_u32(f, 0);
		break;
	case C_ENUM:
		a->en.flags = pick_u32(f, below(&f->rng, 2));
		a->en.fd = pick_fd(f, &kinds[0]);
		a->en.eventfd = chance(&f->rng, 30) ? -1 :
				chance(&f->rng, 60) ? pick_fd_kind(f, PK_EVENTFD, &kinds[1]) :
				pick_fd(f, &kinds[1]);
		if (chance(&f->rng, 10))
			fill_random(&f->rng, &a->en.events, sizeof(a->en) - 16);
		break;
	case C_QUEUE:
		a->q.flags = pick_u32(f, below(&f->rng, 4));
		break;
	case C_STATUS:
		a->st.flags = pick_u32(f, 0);
		if (chance(&f->rng, 10))
			fill_random(&f->rng, &a->st.tokens_pending, sizeof(a->st) - 8);
		break;
	case C_LIST:
		a->list.flags = pick_u32(f, 0);
		a->list.kind = pick_u32(f, 1 + below(&f->rng, 2));
		a->list.count = below(&f->rng, 500) ? below(&f->rng, 80) :
				pick_u32(f, 1000);	/* rarely huge: a big allocation */
		break;
	}
	a->dup.size = size;
	if (trailing && size <= sizeof(*a)) {
		if (below(&f->rng, 2))	/* which of the two tails: zero or not */
			fill_random(&f->rng, a->raw + cmd_size[c], trailing);
		else
			memset(a->raw + cmd_size[c], 0, trailing);
		len += trailing;
	}
	if (size > len && size <= sizeof(*a))
		len = size;	/* the kernel reads that much: zeros */
	return len;
}

enum place { PL_GOOD, PL_MISALIGNED, PL_GUARD, PL_RO, PL_NULL, PL_UNMAPPED, PL_KERNEL };

/* Where to put @len bytes of argument; copies them there when possible. */
static void *place(struct fuzzer *f, const void *a, size_t len, int *pl)
{
	size_t off;
	unsigned char *p;

	switch (below(&f->rng, 40)) {
	case 0: case 1:
		*pl = PL_MISALIGNED;
		off = 8 * below(&f->rng, (SCRATCH - len - 16) / 8) + 1 + below(&f->rng, 7);
		p = f->scratch + off;
		break;
	case 2: case 3:
		/* ends inside the guard page: a truncated structure */
		*pl = PL_GUARD;
		off = below(&f->rng, len + 1);
		p = f->scratch + SCRATCH - off;
		memcpy(p, a, off);
		return p;
	case 4: case 5:
		*pl = PL_RO;
		if (len > (size_t)f->page)
			len = f->page;
		mprotect(f->ro, f->page, PROT_READ | PROT_WRITE);
		memcpy(f->ro + f->page - len, a, len);
		mprotect(f->ro, f->page, PROT_READ);
		return f->ro + f->page - len;
	case 6:
		*pl = PL_NULL;
		return NULL;
	case 7:
		*pl = PL_UNMAPPED;
		return f->unmapped + below(&f->rng, 64);
	case 8:
		*pl = PL_KERNEL;
		return (void *)(0xffffffff81000000UL + 8 * below(&f->rng, 1024));
	default:
		*pl = PL_GOOD;
		off = 8 * below(&f->rng, (SCRATCH - len - 16) / 8);
		p = f->scratch + off;
		break;
	}
	memcpy(p, a, len);
	return p;
}

static void record_token(struct fuzzer *f, const struct sharedsock_info *info)
{
	struct sharedsock_revoke rv = { .size = sizeof(rv) };

	if (f->ntok == MAXTOK) {
		/* forget the oldest, withdrawing it if still pending */
		rv.info = f->tok[0];
		ioctl(f->dev[0], SHAREDSOCK_IOC_REVOKE, &rv);
		memmove(f->tok, f->tok + 1, sizeof(f->tok[0]) * (MAXTOK - 1));
		f->ntok--;
	}
	f->tok[f->ntok++] = *info;
}

static void add_fd(struct fuzzer *f, int fd, int kind)
{
	int slot = below(&f->rng, POOL);

	set_nonblock(fd);
	pool_set(f, slot, fd, kind);
}

static void check_errno(struct fuzzer *f, int c, int e, const int *kinds, int pl,
			uint32_t size)
{
	if (e > 0 && e < MAXERRNO)
		atomic_fetch_add(&rep->err[c][e], 1);
	if (!documented(e))
		violation("op %ld: %s failed with %s (errno %d); fd kinds %d/%d, placement %d, size %u",
			  f->op, cmd_name[c], strerror(e), e, kinds[0], kinds[1], pl, size);
}

/* One ioctl on the device with a built argument. */
static void fuzz_ioctl(struct fuzzer *f)
{
	static const unsigned int weight[] = { 20, 14, 10, 20, 12, 5, 4, 6, 3, 3 };
	union args a, out;
	int c, x = below(&f->rng, 97), kinds[2], pl, dev, dkind = PK_DEVICE;
	size_t len;
	void *p;
	long ret;
	int e;

	for (c = 0; x >= (int)weight[c]; c++)
		x -= weight[c];
	len = build(f, c, &a, kinds);
	if (c == C_LIST) {
		/* entries: anywhere in the scratch (a guard page follows) */
		switch (below(&f->rng, 12)) {
		case 0:
			a.list.entries = 0;
			break;
		case 1:
			a.list.entries = (uintptr_t)f->ro;
			break;
		case 2:
			a.list.entries = (uintptr_t)f->unmapped;
			break;
		case 3:
			a.list.entries = 0xffffffff81000000ULL;
			break;
		default:
			a.list.entries = (uintptr_t)f->scratch +
					 below(&f->rng, SCRATCH - 8);
		}
	}
	p = place(f, &a, len, &pl);
	dev = chance(&f->rng, 96) ? f->dev[below(&f->rng, 3)] : pick_fd(f, &dkind);

	atomic_fetch_add(&rep->calls[c], 1);
	ret = ioctl(dev, cmd_nr[c], p);
	e = errno;
	if (ret < 0) {
		check_errno(f, c, e, kinds, pl, a.dup.size);
		return;
	}
	atomic_fetch_add(&rep->ok[c], 1);
	if (dkind != PK_DEVICE && dev != f->dev[0] && dev != f->dev[1] &&
	    dev != f->dev[2] && (dev < RACE_BASE || dev >= RACE_BASE + RACE_N)) {
		violation("op %ld: %s succeeded on a descriptor of kind %d",
			  f->op, cmd_name[c], dkind);
		return;
	}
	/*
	 * What the kernel wrote back.  It succeeded, so the structure
	 * proper was readable wherever it was placed.
	 */
	memset(&out, 0, sizeof(out));
	if (pl == PL_GOOD || pl == PL_MISALIGNED || pl == PL_RO || pl == PL_GUARD)
		memcpy(&out, p, cmd_size[c]);

	switch (c) {
	case C_DUPLICATE:
		if (ret != 0)
			violation("op %ld: DUPLICATE returned %ld", f->op, ret);
		atomic_fetch_add(f->child ? &rep->child_tokens : &rep->tokens, 1);
		if (pl == PL_RO)
			violation("op %ld: DUPLICATE into read-only memory succeeded", f->op);
		else if (!f->child)
			record_token(f, &out.dup.info);
		break;
	case C_REDEEM:
	case C_QUEUE: {
		struct stat st;

		if (fstat(ret, &st) ||
		    (c == C_REDEEM && !S_ISSOCK(st.st_mode))) {
			violation("op %ld: %s returned %ld, not a %s", f->op,
				  cmd_name[c], ret, c == C_REDEEM ? "socket" : "descriptor");
			break;
		}
		if (c == C_REDEEM)
			atomic_fetch_add(&rep->redeemed, 1);
		add_fd(f, ret, c == C_REDEEM ? PK_TCP : PK_QUEUE);
		break;
	}
	case C_SELECT:
		if (a.sel.events)
			atomic_fetch_add(&rep->regs, 1);
		/* fallthrough */
	case C_REVOKE:
	case C_ENUM:
	case C_STATUS:
		if (ret != 0)
			violation("op %ld: %s returned %ld", f->op, cmd_name[c], ret);
		if (c == C_ENUM && (pl == PL_GOOD || pl == PL_MISALIGNED) &&
		    a.en.size >= sizeof(a.en) &&
		    (out.en.events & ~out.en.mask || out.en.mask & ~SHAREDSOCK_FD_ALL_EVENTS))
			violation("op %ld: ENUM events %#x outside mask %#x", f->op,
				  out.en.events, out.en.mask);
		break;
	case C_DUPVEC:
		if (ret != 0)
			violation("op %ld: DUPLICATE_VEC returned %ld", f->op, ret);
		atomic_fetch_add(f->child ? &rep->child_tokens : &rep->tokens, 1);
		if (pl == PL_RO)
			violation("op %ld: DUPLICATE_VEC into read-only memory succeeded", f->op);
		else if (!f->child)
			record_token(f, &out.dupv.info);
		break;
	case C_REDEEMVEC: {
		const int32_t *fds = (const int32_t *)(uintptr_t)a.redv.fds;
		struct stat st;

		if (ret < 1 || ret > a.redv.count || ret > SHAREDSOCK_VEC_MAX) {
			violation("op %ld: REDEEM_VEC returned %ld for room %u", f->op,
				  ret, a.redv.count);
			break;
		}
		atomic_fetch_add(&rep->redeemed, ret);
		for (long i = 0; i < ret; i++) {
			if (fstat(fds[i], &st) || !S_ISSOCK(st.st_mode)) {
				violation("op %ld: REDEEM_VEC gave %d, not a socket",
					  f->op, fds[i]);
				break;
			}
			add_fd(f, fds[i], PK_TCP);
		}
		break;
	}
	case C_LIST:
		if (ret > a.list.count && ret > 0)
			violation("op %ld: LIST wrote %ld entries, room for %u",
				  f->op, ret, a.list.count);
		break;
	}
}

/* A random command number on the device, or ours on another descriptor. */
static void fuzz_cmd(struct fuzzer *f, bool foreign)
{
	union args a;
	unsigned long cmd;
	int kinds[2] = { -1, -1 }, pl, c, fd, kind = PK_DEVICE;
	size_t len = 64;
	void *p;
	long ret;

	fill_random(&f->rng, &a, 256);
	a.dup.size = below(&f->rng, 2) ? 64 : (uint32_t)rnd(&f->rng);
	p = place(f, &a, len, &pl);
	if (foreign) {
		c = C_FOREIGN;
		cmd = cmd_nr[below(&f->rng, NDEVCMD)];
		do {
			fd = pick_fd(f, &kind);
		} while (kind == PK_DEVICE);
	} else {
		c = C_RANDOM;
		/* never a generic VFS ioctl (FIFREEZE, FIONBIO...): keep to
		 * our magic and its neighbours
		 */
		cmd = _IOC(below(&f->rng, 4), SHAREDSOCK_IOC_MAGIC - 1 + below(&f->rng, 3),
			   below(&f->rng, 0x40), below(&f->rng, 2) ? below(&f->rng, 512) :
			   cmd_size[below(&f->rng, NDEVCMD)]);
		for (int i = 0; i < NDEVCMD; i++)
			if (cmd == cmd_nr[i])
				cmd ^= _IOC(0, 0, 0x20, 0);	/* unknown, 0x2x */
		fd = f->dev[below(&f->rng, 3)];
	}
	atomic_fetch_add(&rep->calls[c], 1);
	ret = ioctl(fd, cmd, p);
	if (ret < 0) {
		check_errno(f, c, errno, kinds, pl, a.dup.size);
		return;
	}
	atomic_fetch_add(&rep->ok[c], 1);
	/* our numbers on a racy slot may have reached a device: fine */
	if (!foreign || fd < RACE_BASE || fd >= RACE_BASE + RACE_N)
		violation("op %ld: ioctl %#lx on a descriptor of kind %d returned %ld",
			  f->op, cmd, kind, ret);
}

static void fuzz_queue_read(struct fuzzer *f)
{
	static const size_t lens[] = { 0, 1, 23, 24, 25, 48, 4096, 65536, SIZE_MAX };
	size_t len = lens[below(&f->rng, 9)];
	int kind, fd = pick_fd_kind(f, PK_QUEUE, &kind), pl = PL_GOOD;
	void *buf;
	ssize_t n;

	switch (below(&f->rng, 8)) {
	case 0:
		buf = NULL;
		pl = PL_NULL;
		break;
	case 1:
		buf = f->ro;
		pl = PL_RO;
		break;
	case 2:
		buf = f->scratch + SCRATCH - 24 * below(&f->rng, 3) - below(&f->rng, 24);
		pl = PL_GUARD;
		break;
	default:
		buf = f->scratch;
	}
	if (kind != PK_QUEUE) {
		/* any descriptor is non-blocking; only queues are judged */
		atomic_fetch_add(&rep->other_calls, 1);
		n = read(fd, f->scratch, 512);
		(void)n;
		return;
	}
	atomic_fetch_add(&rep->calls[C_QREAD], 1);
	n = read(fd, buf, len);
	if (n < 0) {
		int kinds[2] = { kind, -1 };

		check_errno(f, C_QREAD, errno, kinds, pl, (uint32_t)len);
		return;
	}
	atomic_fetch_add(&rep->ok[C_QREAD], 1);
	if (n % sizeof(struct sharedsock_message) || (size_t)n > len)
		violation("op %ld: queue read of %zu returned %zd", f->op, len, n);
}

/* Socket calls that the module wraps, with whatever the pool holds. */
static void fuzz_socket_call(struct fuzzer *f)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char buf[256];
	int kind, fd, lk, l, s;

	fd = pick_fd(f, &kind);
	atomic_fetch_add(&rep->other_calls, 1);
	switch (below(&f->rng, 11)) {
	case 0:
	case 1:
		fill_random(&f->rng, buf, sizeof(buf));
		send(fd, buf, below(&f->rng, sizeof(buf)),
		     MSG_DONTWAIT | MSG_NOSIGNAL | (chance(&f->rng, 10) ? MSG_OOB : 0));
		break;
	case 2:
	case 3:
		recv(fd, buf, sizeof(buf),
		     MSG_DONTWAIT | (chance(&f->rng, 10) ? MSG_OOB : 0) |
		     (chance(&f->rng, 10) ? MSG_PEEK : 0));
		break;
	case 4:
		s = accept4(pick_fd_kind(f, PK_TCP_LISTEN, &lk), NULL, NULL, SOCK_NONBLOCK);
		if (s >= 0)
			add_fd(f, s, PK_TCP);
		break;
	case 5:
		l = pick_fd_kind(f, PK_TCP_LISTEN, &lk);
		if (getsockname(l, (void *)&ss, &sl))
			break;
		s = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (s < 0)
			break;
		if (connect(s, (void *)&ss, sl) && errno != EINPROGRESS) {
			close(s);
			break;
		}
		add_fd(f, s, PK_TCP);
		break;
	case 6:
		shutdown(fd, below(&f->rng, 4));
		break;
	case 7:
		/* refused (EBUSY) on a registered socket */
		setsockopt(fd, SOL_TCP, TCP_ULP, "tls", 3);
		break;
	case 8:
		l = AF_INET;
		setsockopt(fd, SOL_IPV6, IPV6_ADDRFORM, &l, sizeof(l));
		break;
	case 9:
		connect(fd, (void *)&ss, getsockname(pick_fd_kind(f, PK_TCP_LISTEN, &lk),
						     (void *)&ss, &sl) ? 0 : sl);
		break;
	default:
		fcntl(fd, F_SETFL, chance(&f->rng, 50) ? O_NONBLOCK : 0);
		set_nonblock(fd);	/* back: nothing may block */
		break;
	}
}

static void fuzz_fds(struct fuzzer *f)
{
	int slot = below(&f->rng, POOL), fd, kind;

	atomic_fetch_add(&rep->other_calls, 1);
	switch (below(&f->rng, 5)) {
	case 0:
		pool_set(f, slot, -1, PK_CLOSED);
		break;
	case 1:
		/* replace a slot by a duplicate of another object */
		fd = pick_fd(f, &kind);
		if (kind != PK_CLOSED && fd >= 0 && fd < RACE_BASE) {
			fd = dup(fd);
			if (fd >= 0)
				pool_set(f, slot, fd, kind);
		}
		break;
	default:
		pool_refill(f, slot);
	}
}

static void run_op(struct fuzzer *f);

/* A short-lived child: acts on inherited descriptors, exits. */
static void fuzz_fork(struct fuzzer *f)
{
	struct sharedsock_duplicate d = { .size = sizeof(d) };
	uint64_t seed = rnd(&f->rng);
	struct rlimit rl;
	int status, i, kind;
	pid_t pid;

	atomic_fetch_add(&rep->children, 1);
	pid = fork();
	if (pid == 0) {
		f->rng = seed;
		f->child = true;
		f->self = getpid();
		/* half of them unprivileged, when we may */
		if (chance(&f->rng, 50) && !become_user(65534))
			atomic_fetch_add(&rep->children_unpriv, 1);
		/*
		 * Some with few descriptors: EMFILE, and for an unprivileged
		 * user, whose token cap is RLIMIT_NOFILE, ETOOMANYREFS.
		 */
		if (chance(&f->rng, 50) && !getrlimit(RLIMIT_NOFILE, &rl)) {
			rl.rlim_cur = 1 + below(&f->rng, 4);
			if (!setrlimit(RLIMIT_NOFILE, &rl))
				atomic_fetch_add(&rep->children_lowfd, 1);
		}
		for (i = 0; i < 200; i++)
			run_op(f);
		_exit(0);
	}
	if (pid < 0)
		return;
	/* tokens bound to the child, which exits with them pending */
	for (i = below(&f->rng, 4); i > 0; i--) {
		d.fd = pick_fd_kind(f, PK_TCP, &kind);
		d.pid = pid;
		ioctl(f->dev[0], SHAREDSOCK_IOC_DUPLICATE, &d);
	}
	status = wait_exit(pid);
	if (status)
		violation("op %ld: fork child ended with %d", f->op, status);
}

static void run_op(struct fuzzer *f)
{
	unsigned int x = below(&f->rng, 1000);

	f->op++;
	if (x < 700)
		fuzz_ioctl(f);
	else if (x < 730)
		fuzz_cmd(f, false);
	else if (x < 780)
		fuzz_cmd(f, true);
	else if (x < 820)
		fuzz_queue_read(f);
	else if (x < 920)
		fuzz_socket_call(f);
	else if (x < 999 || f->child)
		fuzz_fds(f);
	else
		fuzz_fork(f);
}

/* --- The racer: closes and replaces descriptors under the fuzzer --- */

struct racer {
	atomic_int stop;
	atomic_int tid;
	uint64_t rng;
	int dev;
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;
	struct sharedsock_select sel = { .size = sizeof(sel) };
	struct sharedsock_queue_create q = { .size = sizeof(q), .flags = 2 };
	int obj[6] = { -1, -1, -1, -1, -1, -1 }, sv[2], i, slot;
	long n = 0;	/* fresh objects on each start */

	atomic_store(&r->tid, gettid());
	while (!atomic_load(&r->stop)) {
		if (n++ % 512 == 0) {
			for (i = 0; i < 6; i++)
				if (obj[i] >= 0)
					close(obj[i]);
			obj[0] = obj[1] = -1;
			if (!socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv)) {
				obj[0] = sv[0];
				obj[1] = sv[1];
			}
			obj[2] = eventfd(0, EFD_NONBLOCK);
			obj[3] = ioctl(r->dev, SHAREDSOCK_IOC_QUEUE_CREATE, &q);
			obj[4] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
			obj[5] = dup(r->dev);
		}
		slot = RACE_BASE + below(&r->rng, RACE_N);
		switch (below(&r->rng, 4)) {
		case 0:
			close(slot);
			break;
		case 1:
			/* register what is there now, to a sink next door */
			sel.fd = slot;
			sel.sink = below(&r->rng, 2);
			sel.sink_fd = RACE_BASE + below(&r->rng, RACE_N);
			sel.events = below(&r->rng, 4) ? SHAREDSOCK_FD_ALL_EVENTS : 0;
			if (ioctl(r->dev, SHAREDSOCK_IOC_SELECT, &sel) && !documented(errno))
				violation("racer: SELECT failed with %s", strerror(errno));
			atomic_fetch_add(&rep->race_ops, 1);
			break;
		default:
			i = below(&r->rng, 6);
			if (obj[i] >= 0)
				dup2(obj[i], slot);
		}
		atomic_fetch_add(&rep->race_ops, 1);
		/* a few racing calls per fuzzer call, not a flood */
		if (!below(&r->rng, 4))
			usleep(below(&r->rng, 40));
	}
	for (i = 0; i < 6; i++)
		if (obj[i] >= 0)
			close(obj[i]);
	for (i = 0; i < RACE_N; i++)
		close(RACE_BASE + i);
	return NULL;
}

/* --- The fuzzer process --- */

static int fuzzer_main(uint64_t seed, long ops, bool race)
{
	static struct fuzzer fz;
	struct fuzzer *f = &fz;
	struct sharedsock_revoke rv = { .size = sizeof(rv) };
	struct racer racer = { .rng = seed ^ 0xabcdef };
	pthread_t racer_thread;
	bool racing = false;
	int i, hp[2];
	long start;

	f->rng = seed;
	f->page = sysconf(_SC_PAGESIZE);
	f->self = getpid();
	f->parent = getppid();
	f->scratch = mmap(NULL, SCRATCH + f->page, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	f->ro = mmap(NULL, f->page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	f->unmapped = mmap(NULL, f->page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (f->scratch == MAP_FAILED || f->ro == MAP_FAILED || f->unmapped == MAP_FAILED)
		return 10;
	mprotect(f->scratch + SCRATCH, f->page, PROT_NONE);
	for (i = 0; i < 3; i++) {
		f->dev[i] = dev_open();
		if (f->dev[i] < 0)
			return 11;
	}

	/* a live target that exits at the end; a dead one */
	if (pipe(hp))
		return 12;
	f->helper = fork();
	if (f->helper == 0) {
		char c;

		close(hp[1]);
		while (read(hp[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(hp[0]);
	f->dead = fork();
	if (f->dead == 0)
		_exit(0);
	wait_exit(f->dead);

	for (i = 0; i < POOL; i++) {
		f->kind[i] = PK_CLOSED;
		f->pool[i] = 300 + i;
	}
	for (i = 0; i < POOL; i++) {
		int second, fd = make_object(f, i % PK_NR, &second);

		pool_set(f, i, fd, i % PK_NR);
		if (second >= 0)
			close(second);
	}

	racer.dev = f->dev[2];
	f->racer_tid = -1;

	start = now_us();
	while (f->op < ops) {
		/*
		 * The racer runs for a quarter of every RACE_PERIOD ops: a
		 * second thread alone halves the fuzzer's speed (every fdget
		 * of a shared descriptor table takes a reference).
		 */
		bool want = race && f->op % RACE_PERIOD < RACE_PERIOD / 4;

		if (want && !racing) {
			atomic_store(&racer.stop, 0);
			atomic_store(&racer.tid, 0);
			if (pthread_create(&racer_thread, NULL, racer_main, &racer))
				return 13;
			while (!atomic_load(&racer.tid))
				sched_yield();
			f->racer_tid = atomic_load(&racer.tid);
			racing = true;
		} else if (!want && racing) {
			atomic_store(&racer.stop, 1);
			pthread_join(racer_thread, NULL);
			racing = false;
		}
		run_op(f);
		rep->ops = f->op;	/* how far we got, should we die */
	}
	rep->elapsed_us = now_us() - start;
	rep->ops = f->op;

	if (racing) {
		atomic_store(&racer.stop, 1);
		pthread_join(racer_thread, NULL);
	}
	/* withdraw what is bound to processes that outlive us */
	for (i = 0; i < f->ntok; i++) {
		rv.info = f->tok[i];
		ioctl(f->dev[0], SHAREDSOCK_IOC_REVOKE, &rv);
	}
	for (i = 0; i < POOL; i++)
		pool_set(f, i, -1, PK_CLOSED);
	close(hp[1]);
	wait_exit(f->helper);
	for (i = 0; i < 3; i++)
		close(f->dev[i]);
	rep->done = true;
	return 0;
}

/* --- The test --- */

static long env_long(const char *name, long def)
{
	const char *v = getenv(name);

	return v && *v ? strtol(v, NULL, 0) : def;
}

static const char *errname(int e)
{
	static const char *const names[MAXERRNO] = {
		[EINVAL] = "EINVAL", [EBADF] = "EBADF", [ENOTSOCK] = "ENOTSOCK",
		[EFAULT] = "EFAULT", [E2BIG] = "E2BIG", [ENOTTY] = "ENOTTY",
		[ESRCH] = "ESRCH", [EPERM] = "EPERM", [ETOOMANYREFS] = "ETOOMANYREFS",
		[EMFILE] = "EMFILE", [ENOMEM] = "ENOMEM", [EOPNOTSUPP] = "EOPNOTSUPP",
		[EBUSY] = "EBUSY", [EAGAIN] = "EAGAIN",
	};

	return e < MAXERRNO && names[e] ? names[e] : "other";
}

#define MAXREGS		4096

/* Registrations not among the @n0 there before (@ino0), or -1. */
static long new_registrations(int dev, const unsigned long long *ino0, int n0)
{
	static unsigned long long now[MAXREGS];
	int n = registration_inos(dev, now, MAXREGS), i, j;
	long fresh = 0;

	if (n < 0 || n > MAXREGS)
		return -1;
	for (i = 0; i < n; i++) {
		for (j = 0; j < n0 && ino0[j] != now[i]; j++)
			;
		fresh += j == n0;
	}
	return fresh;
}

/* Say what the registrations not among @ino0 are, for the log. */
static void log_new_registrations(int dev, const unsigned long long *ino0,
				  int n0)
{
	struct sharedsock_reg_entry *e;
	int n = list_all(dev, SHAREDSOCK_LIST_REGISTRATIONS, sizeof(*e),
			 (void **)&e);
	int i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < n0 && ino0[j] != e[i].socket_ino; j++)
			;
		if (j == n0)
			ksft_print_msg("left: socket ino %llu family %u type %u registrant %d sink %u mask %#x\n",
				       (unsigned long long)e[i].socket_ino,
				       e[i].family, e[i].type,
				       e[i].registrant_pid, e[i].sink,
				       e[i].mask);
	}
	if (n >= 0)
		free(e);
}

TEST(fuzz)
{
	static unsigned long long regs0[MAXREGS];
	uint64_t seed = env_long("SHAREDSOCK_FUZZ_SEED", DEFAULT_SEED);
	long ops = env_long("SHAREDSOCK_FUZZ_OPS", DEFAULT_OPS);
	bool race = env_long("SHAREDSOCK_FUZZ_RACE", 1) != 0;
	struct sharedsock_status st0, st1;
	long refcnt0, refcnt1, socks0 = -1, socks1, total;
	bool netns;
	char line[512];
	int dev, i, e, status_f, n, nregs0;
	long fresh = -1;
	pid_t pid;

	signal(SIGPIPE, SIG_IGN);
	netns = unshare(CLONE_NEWNET) == 0;
	if (netns) {
		ASSERT_EQ(0, lo_up());
	} else {
		TH_LOG("no private network namespace (%s): sockets not counted",
		       strerror(errno));
	}
	rep = mmap(NULL, sizeof(*rep), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, rep);

	refcnt0 = module_refcnt();
	dev = dev_open();
	ASSERT_GE(dev, 0);
	if (netns) {
		for (i = 0; i < WAIT_MS / 20 && sockets_used() != 0; i++)
			usleep(20000);
		socks0 = sockets_used();
	}
	/*
	 * Tokens of earlier tests may still be being freed: a baseline
	 * without them.  Registrations on their sockets may go later still:
	 * the fuzzer must leave none but those there now.
	 */
	ASSERT_LE(0, tokens_settled(WAIT_MS));
	ASSERT_EQ(0, dev_status(dev, &st0));
	nregs0 = registration_inos(dev, regs0, MAXREGS);
	ASSERT_GE(nregs0, 0);
	ASSERT_LE(nregs0, MAXREGS);
	ksft_print_msg("seed %#llx (SHAREDSOCK_FUZZ_SEED), %ld ops (SHAREDSOCK_FUZZ_OPS), racer %s\n",
		       (unsigned long long)seed, ops, race ? "on" : "off");
	fflush(stdout);

	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0)
		_exit(fuzzer_main(seed, ops, race));
	ASSERT_EQ(pid, waitpid(pid, &status_f, 0));

	ksft_print_msg("%ld ops in %.1f s (%.0f ops/s); %ld other calls, %ld racer calls, %ld children\n",
		       rep->ops, rep->elapsed_us / 1e6,
		       rep->ops / (rep->elapsed_us / 1e6 + 1e-9),
		       atomic_load(&rep->other_calls), atomic_load(&rep->race_ops),
		       atomic_load(&rep->children));
	ksft_print_msg("children: %ld unprivileged, %ld with RLIMIT_NOFILE <= 4; %ld tokens exported by them\n",
		       atomic_load(&rep->children_unpriv), atomic_load(&rep->children_lowfd),
		       atomic_load(&rep->child_tokens));
	ksft_print_msg("%ld tokens exported, %ld redeemed, %ld registrations made\n",
		       atomic_load(&rep->tokens), atomic_load(&rep->redeemed),
		       atomic_load(&rep->regs));
	for (i = 0; i < C_NR; i++) {
		n = snprintf(line, sizeof(line), "%-32s %7ld calls, %7ld ok",
			     cmd_name[i], atomic_load(&rep->calls[i]),
			     atomic_load(&rep->ok[i]));
		for (e = 1; e < MAXERRNO && n < (int)sizeof(line) - 32; e++)
			if (atomic_load(&rep->err[i][e]))
				n += snprintf(line + n, sizeof(line) - n, ", %s %ld",
					      errname(e), atomic_load(&rep->err[i][e]));
		ksft_print_msg("%s\n", line);
	}
	fflush(stdout);
	for (i = 0; i < atomic_load(&rep->nviol) && i < NVIOL; i++)
		TH_LOG("%s", rep->viol[i]);

	ASSERT_TRUE(WIFEXITED(status_f))
		TH_LOG("the fuzzer died of signal %d (seed %#llx, around op %ld)",
		       WTERMSIG(status_f), (unsigned long long)seed, rep->ops);
	EXPECT_EQ(0, WEXITSTATUS(status_f));
	EXPECT_TRUE(rep->done);
	EXPECT_EQ(0, atomic_load(&rep->nviol))
		TH_LOG("reproduce: SHAREDSOCK_FUZZ_SEED=%#llx SHAREDSOCK_FUZZ_OPS=%ld SHAREDSOCK_FUZZ_RACE=0",
		       (unsigned long long)seed, ops);
	for (total = 0, i = 0; i < C_NR; i++)
		total += atomic_load(&rep->ok[i]);
	EXPECT_GT(total, 0);

	/*
	 * The fuzzer is gone: its tokens were reaped (those for processes
	 * that outlive it expire within 2 s), its sockets closed.
	 */
	for (i = 0; i < 2 * WAIT_MS / 20; i++) {
		ASSERT_EQ(0, dev_status(dev, &st1));
		fresh = new_registrations(dev, regs0, nregs0);
		if (st1.tokens_pending == st0.tokens_pending && fresh == 0 &&
		    st1.registrations <= st0.registrations)
			break;
		usleep(20000);
	}
	EXPECT_EQ(st0.tokens_pending, st1.tokens_pending);
	EXPECT_EQ(0, fresh) {
		TH_LOG("registrations left by the fuzzer");
		log_new_registrations(dev, regs0, nregs0);
	}
	EXPECT_LE(st1.registrations, st0.registrations);
	ksft_print_msg("tokens pending %u -> %u, registrations %u -> %u\n",
		       st0.tokens_pending, st1.tokens_pending,
		       st0.registrations, st1.registrations);
	if (netns) {
		for (i = 0; i < WAIT_MS / 20 && sockets_used() != socks0; i++)
			usleep(20000);
		socks1 = sockets_used();
		ksft_print_msg("sockets in use in the namespace: %ld before, %ld after\n",
			       socks0, socks1);
		EXPECT_EQ(socks0, socks1);
	}
	close(dev);
	for (i = 0; i < WAIT_MS / 20 && (refcnt1 = module_refcnt()) > refcnt0; i++)
		usleep(20000);
	ksft_print_msg("module refcnt: %ld before, %ld after\n", refcnt0, refcnt1);
	EXPECT_LE(refcnt1, refcnt0);
}

/* Bounded by SHAREDSOCK_FUZZ_OPS: let the harness wait that long. */
static void __attribute__((constructor)) fuzz_timeout(void)
{
	_fuzz_object.timeout = 120 + env_long("SHAREDSOCK_FUZZ_OPS", DEFAULT_OPS) / 1000;
}

TEST_HARNESS_MAIN
