// SPDX-License-Identifier: GPL-2.0
/*
 * Stress: several processes and threads hand sockets around for a fixed
 * time, in a private network namespace.
 *
 * Worker processes (respawned as they exit) run op threads that create
 * sockets, dup, close, duplicate tokens to themselves, to each other and to
 * forked children, redeem, revoke, let tokens expire, register and
 * re-register through any descriptor, cancel, enumerate, read queues,
 * accept on registered listeners, and read and write data through every
 * descriptor.  A racer thread per worker closes the last descriptor of a
 * socket while an op thread is mid-redeem or mid-registration, revokes or
 * redeems a token another thread is redeeming, and registers a socket
 * another thread is registering.  Forked children and the workers exit with
 * tokens still bound to them.
 *
 * Streams from the workers end in a sink thread of the test process that
 * reads everything until EOF: the bytes (and their sum) written through all
 * descriptors must be exactly the bytes read there.  Afterwards every socket
 * of the namespace is gone, no token or registration is left, and the
 * module's reference count is back to where it was.
 *
 * SHAREDSOCK_STRESS_SECONDS sets the duration (default 10),
 * SHAREDSOCK_STRESS_SEED the seed of the op mix.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "kselftest_harness.h"

#define NWORKERS	3
#define NTHREADS	3	/* op threads per worker, plus one racer */
#define MAXENT		48	/* descriptors a worker holds at most */
#define NQUEUES		2
#define NEVENTFDS	2
#define MAXCHILDREN	4	/* forked children alive per worker */
#define NBAD		6	/* failure messages kept */
#define MSG_TAG		0x5500U	/* queue messages: (msg & 0xff00) */
#define BUFSZ		16384

static void spin_us(int us)
{
	long end = now_us() + us;

	while (now_us() < end)
		;
}

/* --- Socket kinds --- */

enum kind {
	K_TCP_UP,	/* to the sink: counted end to end */
	K_TCP6_UP,	/* likewise over IPv6 */
	K_UNIX_UP,	/* to the sink, which echoes some bytes back */
	K_TCP_DUPLEX,	/* both ends held by workers */
	K_UDP,
	K_UNIX_DGRAM,
	K_UNIX_SEQ,
	K_LISTEN,	/* a TCP listener of the worker's own */
	K_NR
};

static bool counted(int kind)
{
	return kind == K_TCP_UP || kind == K_TCP6_UP || kind == K_UNIX_UP;
}

/* --- Operation kinds and their counters --- */

enum op {
	OP_CREATE, OP_CLOSE, OP_DUP, OP_SELF_HANDOFF, OP_SEND_TOKEN,
	OP_MAILBOX, OP_REVOKE, OP_SELECT_EVENTFD, OP_SELECT_QUEUE, OP_CANCEL,
	OP_ENUM, OP_EVENTS, OP_ROTATE, OP_WRITE, OP_READ, OP_SHUTDOWN,
	OP_ACCEPT, OP_FORK, OP_RACE_SELECT_CLOSE, OP_RACE_REDEEM_CLOSE,
	OP_RACE_REDEEM_REVOKE, OP_RACE_REDEEM_REDEEM, OP_RACE_SELECT_SELECT,
	OP_NR
};

static const char *const op_name[OP_NR] = {
	[OP_CREATE] = "create", [OP_CLOSE] = "close", [OP_DUP] = "dup",
	[OP_SELF_HANDOFF] = "duplicate+redeem (own pid)",
	[OP_SEND_TOKEN] = "duplicate to another worker",
	[OP_MAILBOX] = "redeem/revoke/drop received token",
	[OP_REVOKE] = "duplicate+revoke",
	[OP_SELECT_EVENTFD] = "event select", [OP_SELECT_QUEUE] = "async select",
	[OP_CANCEL] = "cancel registration", [OP_ENUM] = "enum events",
	[OP_EVENTS] = "read queues/eventfds", [OP_ROTATE] = "replace queue/eventfd",
	[OP_WRITE] = "write", [OP_READ] = "read", [OP_SHUTDOWN] = "shutdown",
	[OP_ACCEPT] = "accept on own listener", [OP_FORK] = "fork child",
	[OP_RACE_SELECT_CLOSE] = "race: select vs last close",
	[OP_RACE_REDEEM_CLOSE] = "race: redeem vs last close",
	[OP_RACE_REDEEM_REVOKE] = "race: redeem vs revoke",
	[OP_RACE_REDEEM_REDEEM] = "race: redeem vs redeem",
	[OP_RACE_SELECT_SELECT] = "race: select vs select",
};

/* Relative frequency of each operation. */
static const unsigned int op_weight[OP_NR] = {
	[OP_CREATE] = 8, [OP_CLOSE] = 8, [OP_DUP] = 4, [OP_SELF_HANDOFF] = 4,
	[OP_SEND_TOKEN] = 6, [OP_MAILBOX] = 6, [OP_REVOKE] = 2,
	[OP_SELECT_EVENTFD] = 6, [OP_SELECT_QUEUE] = 6, [OP_CANCEL] = 2,
	[OP_ENUM] = 4, [OP_EVENTS] = 5, [OP_ROTATE] = 1, [OP_WRITE] = 14,
	[OP_READ] = 8, [OP_SHUTDOWN] = 1, [OP_ACCEPT] = 3, [OP_FORK] = 1,
	[OP_RACE_SELECT_CLOSE] = 2, [OP_RACE_REDEEM_CLOSE] = 2,
	[OP_RACE_REDEEM_REVOKE] = 2, [OP_RACE_REDEEM_REDEEM] = 2,
	[OP_RACE_SELECT_SELECT] = 2,
};

/* --- State shared by every process of the run --- */

struct mail {
	struct ss_protocol_info info;
	int kind;
	int pad;
};

struct shm {
	atomic_int stop;
	atomic_int bad;
	char bad_msg[NBAD][200];
	atomic_long ops[OP_NR];
	atomic_long fails[OP_NR];
	atomic_long sent_bytes, sent_sum;	/* counted streams, worker side */
	atomic_long recv_bytes, recv_sum;	/* counted streams, sink side */
	atomic_long sockets;			/* sockets created */
	atomic_long resets;			/* counted streams reset */
	atomic_long children;			/* forked by workers */
	atomic_long workers;			/* worker processes started */
	atomic_int worker_pid[NWORKERS];
	int mailbox[NWORKERS][2];		/* pipes of struct mail */
	struct sockaddr_in tcp_addr;
	struct sockaddr_in6 tcp6_addr;
	bool have_tcp6;
	struct sockaddr_un unix_addr;
	socklen_t unix_len;
	uint64_t seed;
};

static struct shm *shm;

static void bad(const char *fmt, ...)
{
	int i = atomic_fetch_add(&shm->bad, 1);
	va_list ap;

	if (i >= NBAD)
		return;
	va_start(ap, fmt);
	vsnprintf(shm->bad_msg[i], sizeof(shm->bad_msg[i]), fmt, ap);
	va_end(ap);
}

static void account_sent(const char *buf, ssize_t n)
{
	uint64_t sum = 0;
	ssize_t i;

	for (i = 0; i < n; i++)
		sum += (unsigned char)buf[i];
	atomic_fetch_add(&shm->sent_bytes, n);
	atomic_fetch_add(&shm->sent_sum, (long)sum);
}

/* --- Worker --- */

struct entry {
	int fd;
	int kind;
};

enum race_kind { RJ_CLOSE, RJ_REVOKE, RJ_REDEEM, RJ_SELECT };

/* One job for the racer thread; op threads take turns (race_mu). */
struct race_job {
	atomic_int state;	/* 0 idle, 1 go, 2 done, 3 exit */
	int kind;
	int fds[MAXENT];
	int nfds;
	struct ss_protocol_info info;
	int sel_fd, sink_fd, queue;
	long mask;
	int delay_us;
	int ret, err;
};

struct worker {
	int slot;
	long deadline_us;
	pthread_rwlock_t lock;		/* the table and the sinks below */
	struct entry ent[MAXENT];
	int nent;
	int queue[NQUEUES];
	int efd[NEVENTFDS];
	pthread_mutex_t race_mu;
	struct race_job job;
	atomic_int nchildren;
};

struct thr {
	struct worker *w;
	uint64_t rng;
	long ops[OP_NR];
	long fails[OP_NR];
	char buf[BUFSZ];
};

static void futex_wait(atomic_int *a, int val)
{
	syscall(SYS_futex, a, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(atomic_int *a)
{
	syscall(SYS_futex, a, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static void wrlock(struct worker *w)
{
	pthread_rwlock_wrlock(&w->lock);
}

static void rdlock(struct worker *w)
{
	pthread_rwlock_rdlock(&w->lock);
}

static void unlock(struct worker *w)
{
	pthread_rwlock_unlock(&w->lock);
}

/* A random entry (of @kind, or any when -1), or -1.  Table lock held. */
static int pick(struct worker *w, uint64_t *r, int kind)
{
	int i, start, n = w->nent;

	if (!n)
		return -1;
	start = below(r, n);
	for (i = 0; i < n; i++) {
		int e = (start + i) % n;

		if (kind < 0 || w->ent[e].kind == kind)
			return e;
	}
	return -1;
}

/* Add a descriptor to the table, or close it when the table is full. */
static void add(struct worker *w, int fd, int kind)
{
	wrlock(w);
	if (w->nent < MAXENT) {
		w->ent[w->nent].fd = fd;
		w->ent[w->nent].kind = kind;
		w->nent++;
		fd = -1;
	}
	unlock(w);
	if (fd >= 0)
		close(fd);
}

static void remove_at(struct worker *w, int e)
{
	w->ent[e] = w->ent[--w->nent];
}

static unsigned long long ino(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : st.st_ino;
}

/*
 * Take every descriptor of the socket of entry @e out of the table, into
 * @fds.  Table lock held for writing.  Returns the count.
 */
static int take_socket(struct worker *w, int e, int *fds, int *kind)
{
	unsigned long long i0 = ino(w->ent[e].fd);
	int n = 0, i;

	*kind = w->ent[e].kind;
	/* downwards: what remove_at() moves into i was seen already */
	for (i = w->nent - 1; i >= 0; i--) {
		if (ino(w->ent[i].fd) == i0) {
			fds[n++] = w->ent[i].fd;
			remove_at(w, i);
		}
	}
	return n;
}

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static int connect_to(int family, const void *addr, socklen_t len)
{
	int s = socket(family, SOCK_STREAM, 0);

	if (s < 0)
		return -1;
	if (connect(s, addr, len)) {
		close(s);
		return -1;
	}
	set_nonblock(s);
	return s;
}

static int tcp_listener(void)
{
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (l < 0)
		return -1;
	if (bind(l, (void *)&a, sizeof(a)) || listen(l, 16)) {
		close(l);
		return -1;
	}
	return l;
}

static bool op_create(struct thr *t)
{
	struct worker *w = t->w;
	int kind = below(&t->rng, K_NR), sv[2] = { -1, -1 }, n = 1;

	if (w->nent >= MAXENT - 2)
		return false;
	if (kind == K_TCP6_UP && !shm->have_tcp6)
		kind = K_TCP_UP;
	switch (kind) {
	case K_TCP_UP:
		sv[0] = connect_to(AF_INET, &shm->tcp_addr, sizeof(shm->tcp_addr));
		break;
	case K_TCP6_UP:
		sv[0] = connect_to(AF_INET6, &shm->tcp6_addr, sizeof(shm->tcp6_addr));
		break;
	case K_UNIX_UP:
		sv[0] = connect_to(AF_UNIX, &shm->unix_addr, shm->unix_len);
		break;
	case K_TCP_DUPLEX:
		if (socket_pair(AF_INET, SOCK_STREAM, sv))
			sv[0] = -1;
		n = 2;
		break;
	case K_UDP:
		if (socket_pair(AF_INET, SOCK_DGRAM, sv))
			sv[0] = -1;
		n = 2;
		break;
	case K_UNIX_DGRAM:
		if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv))
			sv[0] = -1;
		n = 2;
		break;
	case K_UNIX_SEQ:
		if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv))
			sv[0] = -1;
		n = 2;
		break;
	default:
		sv[0] = tcp_listener();
		break;
	}
	if (sv[0] < 0)
		return false;
	/* a TCP pair also made a listener, closed since */
	atomic_fetch_add(&shm->sockets, n + (kind == K_TCP_DUPLEX));
	set_nonblock(sv[0]);
	add(w, sv[0], kind);
	if (n == 2) {
		set_nonblock(sv[1]);
		add(w, sv[1], kind);
	}
	return true;
}

static bool op_close(struct thr *t)
{
	struct worker *w = t->w;
	int e, fd = -1;

	wrlock(w);
	e = pick(w, &t->rng, -1);
	if (e >= 0) {
		fd = w->ent[e].fd;
		remove_at(w, e);
	}
	unlock(w);
	if (fd < 0)
		return false;
	if (close(fd))
		bad("close(%d): %s", fd, strerror(errno));
	return true;
}

static bool op_dup(struct thr *t)
{
	struct worker *w = t->w;
	int e, fd = -1, kind = 0;

	rdlock(w);
	e = pick(w, &t->rng, -1);
	if (e >= 0) {
		fd = dup(w->ent[e].fd);
		kind = w->ent[e].kind;
		if (fd < 0)
			bad("dup: %s", strerror(errno));
	}
	unlock(w);
	if (fd < 0)
		return false;
	add(w, fd, kind);
	return true;
}

/* Duplicate to our own pid and redeem. */
static bool op_self_handoff(struct thr *t)
{
	struct ss_protocol_info info;
	struct worker *w = t->w;
	int e, fd, kind, ret;

	rdlock(w);
	e = pick(w, &t->rng, -1);
	if (e < 0) {
		unlock(w);
		return false;
	}
	kind = w->ent[e].kind;
	/* a lifetime of its own or the default: either outlasts the redeem */
	ret = ss_duplicate_socket_ttl(w->ent[e].fd, getpid(), below(&t->rng, 2) ? 0 : 30000,
				      &info);
	unlock(w);
	if (ret) {
		bad("duplicate to self: %s", strerror(errno));
		return false;
	}
	fd = ss_socket_from_info(&info, below(&t->rng, 2) ? O_CLOEXEC : 0);
	if (fd < 0) {
		bad("redeem own token: %s", strerror(errno));
		return false;
	}
	add(w, fd, kind);
	return true;
}

static unsigned int pick_ttl(uint64_t *r)
{
	switch (below(r, 4)) {
	case 0:
		return 0;		/* the module default: reaped at exit */
	case 1:
		return 1 + below(r, 20);	/* expires soon */
	default:
		return 50 + below(r, 2000);
	}
}

/* Duplicate to a worker (maybe ourselves) and post the token to it. */
static bool op_send_token(struct thr *t)
{
	struct worker *w = t->w;
	int slot = below(&t->rng, NWORKERS);
	pid_t pid = atomic_load(&shm->worker_pid[slot]);
	struct mail m = { 0 };
	int e, ret;

	if (pid <= 0)
		return false;
	rdlock(w);
	e = pick(w, &t->rng, -1);
	if (e < 0) {
		unlock(w);
		return false;
	}
	m.kind = w->ent[e].kind;
	ret = ss_duplicate_socket_ttl(w->ent[e].fd, pid, pick_ttl(&t->rng), &m.info);
	unlock(w);
	if (ret) {
		if (errno != ESRCH)	/* that worker exited */
			bad("duplicate to worker %d: %s", pid, strerror(errno));
		return false;
	}
	if (write(shm->mailbox[slot][1], &m, sizeof(m)) != sizeof(m)) {
		/* mailbox full: withdraw (it may have expired already) */
		if (ss_revoke(&m.info) && errno != EINVAL)
			bad("revoke unsent token: %s", strerror(errno));
		return false;
	}
	return true;
}

static bool op_mailbox(struct thr *t)
{
	struct worker *w = t->w;
	struct mail m[4];
	ssize_t n;
	int i, fd;
	bool ok = false;

	n = read(shm->mailbox[w->slot][0], m, sizeof(m));
	if (n <= 0)
		return false;
	if (n % sizeof(m[0])) {
		bad("mailbox read %zd bytes", n);
		return false;
	}
	for (i = 0; i < n / (ssize_t)sizeof(m[0]); i++) {
		switch (below(&t->rng, 8)) {
		case 0:		/* leave it: it expires or is reaped */
			break;
		case 1:
			if (ss_revoke(&m[i].info) && errno != EINVAL)
				bad("revoke received token: %s", strerror(errno));
			break;
		default:
			fd = ss_socket_from_info(&m[i].info, 0);
			if (fd >= 0) {
				add(w, fd, m[i].kind);
				ok = true;
			} else if (errno != EINVAL) {
				/* EINVAL: expired, revoked, or for the
				 * previous worker of this slot
				 */
				bad("redeem received token: %s", strerror(errno));
			}
		}
	}
	return ok;
}

static bool op_revoke(struct thr *t)
{
	struct ss_protocol_info info;
	struct worker *w = t->w;
	int e, ret;

	rdlock(w);
	e = pick(w, &t->rng, -1);
	ret = e < 0 ? -1 : ss_duplicate_socket(w->ent[e].fd, getpid(), &info);
	unlock(w);
	if (e < 0)
		return false;
	if (ret) {
		bad("duplicate to self: %s", strerror(errno));
		return false;
	}
	if (ss_revoke(&info)) {
		bad("revoke fresh token: %s", strerror(errno));
		return false;
	}
	if (ss_socket_from_info(&info, 0) >= 0 || errno != EINVAL) {
		bad("revoked token redeemed or wrong errno: %s", strerror(errno));
		return false;
	}
	return true;
}

static long pick_mask(uint64_t *r)
{
	switch (below(r, 4)) {
	case 0:
		return SS_FD_ALL_EVENTS;
	case 1:
		return SS_FD_READ | SS_FD_WRITE | SS_FD_CLOSE;
	default:
		return 1 + below(r, SS_FD_ALL_EVENTS);
	}
}

static bool op_select(struct thr *t, bool queue)
{
	struct worker *w = t->w;
	int e, ret;

	rdlock(w);
	e = pick(w, &t->rng, -1);
	if (e < 0) {
		unlock(w);
		return false;
	}
	if (queue)
		ret = ss_async_select(w->ent[e].fd, w->queue[below(&t->rng, NQUEUES)],
				      MSG_TAG | (w->slot << 4) | below(&t->rng, 16),
				      pick_mask(&t->rng));
	else
		ret = ss_event_select(w->ent[e].fd, w->efd[below(&t->rng, NEVENTFDS)],
				      pick_mask(&t->rng));
	unlock(w);
	if (ret)
		bad("%s select: %s", queue ? "async" : "event", strerror(errno));
	return !ret;
}

static bool op_cancel(struct thr *t)
{
	struct worker *w = t->w;
	int e, ret;

	rdlock(w);
	e = pick(w, &t->rng, -1);
	ret = e < 0 ? 0 : ss_event_select(w->ent[e].fd, -1, 0);
	unlock(w);
	if (ret)
		bad("cancel: %s", strerror(errno));
	return e >= 0 && !ret;
}

/* Raw ENUM, to see the mask and all the error slots. */
static bool check_enum(int dev, int fd, int efd, bool peek)
{
	struct sharedsock_enum args = {
		.size = sizeof(args), .flags = peek ? SHAREDSOCK_ENUM_PEEK : 0,
		.fd = fd, .eventfd = efd,
	};
	int bit;

	memset(args.errors, 0x55, sizeof(args.errors));
	if (ioctl(dev, SHAREDSOCK_IOC_ENUM, &args)) {
		bad("enum: %s", strerror(errno));
		return false;
	}
	if ((args.events & ~args.mask) || (args.mask & ~SHAREDSOCK_FD_ALL_EVENTS)) {
		bad("enum: events %#x outside mask %#x", args.events, args.mask);
		return false;
	}
	for (bit = 0; bit < SHAREDSOCK_FD_MAX_EVENTS; bit++) {
		if (!(args.events & (1U << bit)) && args.errors[bit]) {
			bad("enum: error slot %d is %d for an unreported event",
			    bit, args.errors[bit]);
			return false;
		}
		if (args.errors[bit] < 0 || args.errors[bit] > 4095) {
			bad("enum: error slot %d is %d", bit, args.errors[bit]);
			return false;
		}
	}
	return true;
}

static int dev_fd(void)
{
	static int dev = -1;	/* per process, shared by its threads */
	int fd;

	if (dev < 0) {
		fd = dev_open();
		if (fd >= 0 && !__sync_bool_compare_and_swap(&dev, -1, fd))
			close(fd);
	}
	return dev;
}

static bool op_enum(struct thr *t)
{
	struct worker *w = t->w;
	int e;
	bool ok = false;

	rdlock(w);
	e = pick(w, &t->rng, -1);
	if (e >= 0)
		ok = check_enum(dev_fd(), w->ent[e].fd,
				below(&t->rng, 2) ? -1 : w->efd[below(&t->rng, NEVENTFDS)],
				below(&t->rng, 4) == 0);
	unlock(w);
	return ok;
}

static bool check_messages(const struct ss_message *m, ssize_t n)
{
	ssize_t i;

	for (i = 0; i < n; i++) {
		if (m[i].event <= 0 || (m[i].event & (m[i].event - 1)) ||
		    (m[i].event & ~SS_FD_ALL_EVENTS) ||
		    (m[i].msg & 0xff00) != MSG_TAG ||
		    m[i].error < 0 || m[i].error > 4095 || !m[i].socket_ino) {
			bad("queue message: socket %d msg %#x event %#lx error %d ino %llu",
			    m[i].socket, m[i].msg, m[i].event, m[i].error,
			    m[i].socket_ino);
			return false;
		}
	}
	return true;
}

static bool op_events(struct thr *t)
{
	struct worker *w = t->w;
	struct ss_message m[32];
	uint64_t v;
	ssize_t n;
	int i;
	bool ok = true;

	rdlock(w);
	for (i = 0; i < NQUEUES && ok; i++) {
		n = ss_queue_read(w->queue[i], m, 32);
		if (n < 0 && errno != EAGAIN) {
			bad("queue read: %s", strerror(errno));
			ok = false;
		} else if (n > 0) {
			ok = check_messages(m, n);
		}
	}
	for (i = 0; i < NEVENTFDS; i++)
		if (read(w->efd[i], &v, sizeof(v)) < 0 && errno != EAGAIN)
			bad("eventfd read: %s", strerror(errno));
	unlock(w);
	return ok;
}

/* Close a queue or eventfd (cancelling what posts to it) and make anew. */
static bool op_rotate(struct thr *t)
{
	struct worker *w = t->w;
	int i, fd;
	bool ok = true;

	wrlock(w);
	if (below(&t->rng, 2)) {
		i = below(&t->rng, NQUEUES);
		fd = ss_queue_create(O_NONBLOCK);
		if (fd >= 0) {
			close(w->queue[i]);
			w->queue[i] = fd;
		}
	} else {
		i = below(&t->rng, NEVENTFDS);
		fd = eventfd(0, EFD_NONBLOCK);
		if (fd >= 0) {
			close(w->efd[i]);
			w->efd[i] = fd;
		}
	}
	unlock(w);
	if (fd < 0) {
		bad("new queue/eventfd: %s", strerror(errno));
		ok = false;
	}
	return ok;
}

/* Write through a descriptor; counted streams add to the totals. */
static ssize_t write_some(struct thr *t, int fd, int kind)
{
	size_t len = 1 + below(&t->rng, kind == K_UDP || kind == K_UNIX_DGRAM ||
				    kind == K_UNIX_SEQ ? 1024 : BUFSZ);
	struct iovec iov[2];
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	uint64_t v = rnd(&t->rng);
	ssize_t n;
	size_t i;

	for (i = 0; i < len; i += 8) {
		v = v * 6364136223846793005ULL + 1442695040888963407ULL;
		memcpy(t->buf + i, &v, len - i < 8 ? len - i : 8);
	}
	switch (below(&t->rng, 3)) {
	case 0:
		n = send(fd, t->buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		break;
	case 1:
		n = write(fd, t->buf, len);	/* every socket is O_NONBLOCK */
		break;
	default:
		iov[0].iov_base = t->buf;
		iov[0].iov_len = len / 2;
		iov[1].iov_base = t->buf + len / 2;
		iov[1].iov_len = len - len / 2;
		n = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		break;
	}
	if (n > 0 && counted(kind))
		account_sent(t->buf, n);
	if (n < 0 && counted(kind) && errno != EAGAIN)
		bad("write to a counted stream: %s", strerror(errno));
	return n;
}

static bool op_write(struct thr *t)
{
	struct worker *w = t->w;
	ssize_t n = -1;
	int e;

	rdlock(w);
	e = pick(w, &t->rng, -1);
	if (e >= 0)
		n = write_some(t, w->ent[e].fd, w->ent[e].kind);
	unlock(w);
	return n > 0;
}

static bool op_read(struct thr *t)
{
	struct worker *w = t->w;
	ssize_t n = -1;
	int e, fd, kind;

	rdlock(w);
	e = pick(w, &t->rng, -1);
	if (e >= 0) {
		fd = w->ent[e].fd;
		kind = w->ent[e].kind;
		if (below(&t->rng, 2))
			n = recv(fd, t->buf, BUFSZ, MSG_DONTWAIT);
		else
			n = read(fd, t->buf, BUFSZ);
		/* the sink closes only after EOF: no EOF while we hold it */
		if (counted(kind) && (n == 0 || (n < 0 && errno != EAGAIN)))
			bad("read from a counted stream (kind %d): %zd, %s",
			    kind, n, n ? strerror(errno) : "EOF");
	}
	unlock(w);
	return n > 0;
}

static bool op_shutdown(struct thr *t)
{
	struct worker *w = t->w;
	int e, ret = -1;

	rdlock(w);
	e = pick(w, &t->rng, K_TCP_DUPLEX + below(&t->rng, K_LISTEN - K_TCP_DUPLEX));
	if (e >= 0)
		ret = shutdown(w->ent[e].fd, below(&t->rng, 3));
	unlock(w);
	return !ret;
}

/* Connect to one of our listeners and accept (inheriting its registration). */
static bool op_accept(struct thr *t)
{
	struct worker *w = t->w;
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int e, c = -1, s = -1;

	rdlock(w);
	e = pick(w, &t->rng, K_LISTEN);
	if (e >= 0 && !getsockname(w->ent[e].fd, (void *)&a, &len)) {
		c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (c >= 0 && connect(c, (void *)&a, len) && errno != EINPROGRESS) {
			close(c);
			c = -1;
		}
		if (c >= 0)
			atomic_fetch_add(&shm->sockets, 1);
		s = accept4(w->ent[e].fd, NULL, NULL,
			    below(&t->rng, 2) ? SOCK_NONBLOCK : 0);
		if (s < 0 && errno != EAGAIN)
			bad("accept: %s", strerror(errno));
	}
	unlock(w);
	if (c >= 0)
		add(w, c, K_TCP_DUPLEX);
	if (s >= 0) {
		atomic_fetch_add(&shm->sockets, 1);
		set_nonblock(s);
		add(w, s, K_TCP_DUPLEX);
	}
	return s >= 0;
}

/* --- Forked children: use inherited descriptors, redeem, exit --- */

static int child_main(struct entry *snap, int n, int inbox, int queue, int efd,
		      uint64_t seed, int worker_slot)
{
	static char buf[4096];
	struct ss_protocol_info info;
	struct mail m;
	struct pollfd p = { .fd = inbox, .events = POLLIN };
	uint64_t r = seed;
	int i, fd, steps = 4 + below(&r, 12);
	ssize_t k;

	for (i = 0; i < steps && n; i++) {
		struct entry *e = &snap[below(&r, n)];

		switch (below(&r, 5)) {
		case 0:
			memset(buf, (int)(r & 0xff), sizeof(buf));
			k = send(e->fd, buf, 1 + below(&r, sizeof(buf)),
				 MSG_DONTWAIT | MSG_NOSIGNAL);
			if (k > 0 && counted(e->kind))
				account_sent(buf, k);
			else if (k < 0 && counted(e->kind) && errno != EAGAIN)
				bad("child write: %s", strerror(errno));
			break;
		case 1:
			if (ss_async_select(e->fd, queue, MSG_TAG | (worker_slot << 4) | 15,
					    pick_mask(&r)))
				bad("child async select: %s", strerror(errno));
			break;
		case 2:
			if (ss_event_select(e->fd, efd, pick_mask(&r)))
				bad("child event select: %s", strerror(errno));
			break;
		case 3:
			/* hand it back to the worker's mailbox */
			m.kind = e->kind;
			m.pad = 0;
			if (ss_duplicate_socket_ttl(e->fd, getppid(), pick_ttl(&r), &m.info)) {
				if (errno != ESRCH)
					bad("child duplicate: %s", strerror(errno));
			} else if (write(shm->mailbox[worker_slot][1], &m, sizeof(m)) !=
				   sizeof(m)) {
				ss_revoke(&m.info);
			}
			break;
		default:
			/* a token bound to ourselves, left pending at exit */
			ss_duplicate_socket(e->fd, getpid(), &info);
			break;
		}
	}
	/*
	 * Tokens the worker sends us, up to its end mark (kind -1): redeem
	 * some, leave the rest pending.  Its exports follow our fork at once,
	 * but nothing says how soon we run: wait for the mark, not a time.
	 */
	while (poll(&p, 1, WAIT_MS) == 1) {
		k = read(inbox, &m, sizeof(m));
		if (k != sizeof(m) || m.kind < 0)
			break;
		if (below(&r, 2))
			continue;
		fd = ss_socket_from_info(&m.info, 0);
		if (fd < 0) {
			if (errno != EINVAL)
				bad("child redeem: %s", strerror(errno));
			continue;
		}
		memset(buf, 0x5a, 512);
		k = send(fd, buf, 1 + below(&r, 512), MSG_DONTWAIT | MSG_NOSIGNAL);
		if (k > 0 && counted(m.kind))
			account_sent(buf, k);
		if (below(&r, 2))
			close(fd);
	}
	return 0;
}

static void reap_children(struct worker *w, bool block)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, block ? __WALL : __WALL | WNOHANG)) > 0) {
		atomic_fetch_sub(&w->nchildren, 1);
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			bad("child %d ended with status %#x", pid, status);
	}
}

static bool op_fork(struct thr *t)
{
	struct worker *w = t->w;
	struct entry snap[6];
	struct mail m = { 0 };
	int p[2], n = 0, i, e, k, queue, efd;
	uint64_t seed = rnd(&t->rng);
	pid_t pid;

	reap_children(w, false);
	if (atomic_load(&w->nchildren) >= MAXCHILDREN)
		return false;
	if (pipe(p))
		return false;
	/* the read lock keeps every snapshot descriptor what it was */
	rdlock(w);
	for (i = 0; i < 6 && w->nent; i++)
		snap[n++] = w->ent[below(&t->rng, w->nent)];
	queue = w->queue[0];
	efd = w->efd[0];
	pid = fork();
	if (pid == 0) {
		close(p[1]);
		_exit(child_main(snap, n, p[0], queue, efd, seed, w->slot));
	}
	if (pid > 0) {
		atomic_fetch_add(&w->nchildren, 1);
		atomic_fetch_add(&shm->children, 1);
		/* tokens for the child: it redeems some, exits with others */
		k = below(&t->rng, 4);
		for (i = 0; i < k && w->nent; i++) {
			e = below(&t->rng, w->nent);
			m.kind = w->ent[e].kind;
			if (ss_duplicate_socket_ttl(w->ent[e].fd, pid,
						    pick_ttl(&t->rng), &m.info)) {
				bad("duplicate to child: %s", strerror(errno));
				break;
			}
			if (write(p[1], &m, sizeof(m)) != sizeof(m))
				break;
		}
		/* the end mark: the child waits for it before it exits */
		m.kind = -1;
		if (write(p[1], &m, sizeof(m)) != sizeof(m))
			bad("end of the tokens for child %d: %s", pid, strerror(errno));
	}
	unlock(w);
	close(p[0]);
	close(p[1]);
	return pid > 0;
}

/* --- Races, with the worker's racer thread --- */

static void *racer_main(void *arg)
{
	struct worker *w = arg;
	struct race_job *j = &w->job;
	int i, st;

	for (;;) {
		while ((st = atomic_load(&j->state)) == 0 || st == 2)
			futex_wait(&j->state, st);
		if (st == 3)
			return NULL;
		spin_us(j->delay_us);
		errno = 0;
		switch (j->kind) {
		case RJ_CLOSE:
			j->ret = 0;
			for (i = 0; i < j->nfds; i++)
				j->ret |= close(j->fds[i]);
			break;
		case RJ_REVOKE:
			j->ret = ss_revoke(&j->info);
			break;
		case RJ_REDEEM:
			j->ret = ss_socket_from_info(&j->info, 0);
			break;
		case RJ_SELECT:
			if (j->queue)
				j->ret = ss_async_select(j->sel_fd, j->sink_fd,
							 MSG_TAG | (w->slot << 4) | 14,
							 j->mask);
			else
				j->ret = ss_event_select(j->sel_fd, j->sink_fd, j->mask);
			break;
		}
		j->err = errno;
		atomic_store(&j->state, 2);
		futex_wake(&j->state);
	}
}

static void race_start(struct worker *w, uint64_t *r)
{
	w->job.delay_us = below(r, 30);
	atomic_store(&w->job.state, 1);
	futex_wake(&w->job.state);
	spin_us(below(r, 60));
}

static void race_finish(struct worker *w)
{
	int st;

	while ((st = atomic_load(&w->job.state)) != 2)
		futex_wait(&w->job.state, st);
	atomic_store(&w->job.state, 0);
}

static bool race_select_close(struct thr *t)
{
	struct worker *w = t->w;
	struct race_job *j = &w->job;
	int e, kind, fd, ret, err;

	wrlock(w);
	e = pick(w, &t->rng, -1);
	if (e < 0) {
		unlock(w);
		return false;
	}
	j->nfds = take_socket(w, e, j->fds, &kind);
	unlock(w);
	j->kind = RJ_CLOSE;
	fd = j->fds[0];
	/* the sinks stay put while we hold the read lock */
	rdlock(w);
	race_start(w, &t->rng);
	if (below(&t->rng, 2))
		ret = ss_async_select(fd, w->queue[0], MSG_TAG | (w->slot << 4), pick_mask(&t->rng));
	else
		ret = ss_event_select(fd, w->efd[0], pick_mask(&t->rng));
	err = errno;
	race_finish(w);
	unlock(w);
	if (j->ret)
		bad("racer close: %s", strerror(j->err));
	/*
	 * EBADF: closed first.  ENOTSOCK: the number was reused meanwhile by
	 * another thread for a non-socket; a new socket there simply got
	 * registered.
	 */
	if (ret && err != EBADF && err != ENOTSOCK)
		bad("select racing the last close: %s", strerror(err));
	return !ret;
}

static bool race_redeem_close(struct thr *t)
{
	struct ss_protocol_info info;
	struct worker *w = t->w;
	struct race_job *j = &w->job;
	int e, kind, fd, i;

	wrlock(w);
	e = pick(w, &t->rng, -1);
	if (e < 0) {
		unlock(w);
		return false;
	}
	j->nfds = take_socket(w, e, j->fds, &kind);
	unlock(w);
	if (ss_duplicate_socket(j->fds[0], getpid(), &info)) {
		bad("duplicate before last close: %s", strerror(errno));
		for (i = 0; i < j->nfds; i++)
			close(j->fds[i]);
		return false;
	}
	j->kind = RJ_CLOSE;
	race_start(w, &t->rng);
	fd = ss_socket_from_info(&info, 0);
	if (fd < 0)
		bad("redeem racing the last close: %s", strerror(errno));
	race_finish(w);
	if (j->ret)
		bad("racer close: %s", strerror(j->err));
	if (fd < 0)
		return false;
	add(w, fd, kind);
	return true;
}

/* Two claims on one token: exactly one wins. */
static bool race_redeem_vs(struct thr *t, int racer_kind)
{
	struct worker *w = t->w;
	struct race_job *j = &w->job;
	int e, kind, fd, err;

	rdlock(w);
	e = pick(w, &t->rng, -1);
	if (e < 0) {
		unlock(w);
		return false;
	}
	kind = w->ent[e].kind;
	if (ss_duplicate_socket(w->ent[e].fd, getpid(), &j->info)) {
		bad("duplicate to self: %s", strerror(errno));
		unlock(w);
		return false;
	}
	unlock(w);
	j->kind = racer_kind;
	race_start(w, &t->rng);
	fd = ss_socket_from_info(&j->info, 0);
	err = errno;
	race_finish(w);
	if (racer_kind == RJ_REVOKE) {
		if ((fd >= 0) == (j->ret == 0) ||
		    (fd < 0 && err != EINVAL) || (j->ret && j->err != EINVAL))
			bad("redeem vs revoke: redeem %d (%s), revoke %d (%s)",
			    fd, strerror(err), j->ret, strerror(j->err));
	} else {
		if ((fd >= 0) == (j->ret >= 0) ||
		    (fd < 0 && err != EINVAL) || (j->ret < 0 && j->err != EINVAL))
			bad("redeem vs redeem: %d (%s), %d (%s)",
			    fd, strerror(err), j->ret, strerror(j->err));
		if (j->ret >= 0)
			add(w, j->ret, kind);
	}
	if (fd >= 0)
		add(w, fd, kind);
	return true;
}

static bool race_select_select(struct thr *t)
{
	struct worker *w = t->w;
	struct race_job *j = &w->job;
	unsigned long long i0;
	int e, e2, i, ret, err;

	rdlock(w);
	e = pick(w, &t->rng, -1);
	if (e < 0) {
		unlock(w);
		return false;
	}
	/* another descriptor of the same socket, if we hold one */
	e2 = e;
	i0 = ino(w->ent[e].fd);
	for (i = 0; i < w->nent; i++)
		if (i != e && ino(w->ent[i].fd) == i0)
			e2 = i;
	j->kind = RJ_SELECT;
	j->sel_fd = w->ent[e2].fd;
	j->queue = below(&t->rng, 2);
	j->sink_fd = j->queue ? w->queue[1] : w->efd[1];
	j->mask = below(&t->rng, 3) ? pick_mask(&t->rng) : 0;
	race_start(w, &t->rng);
	ret = ss_event_select(w->ent[e].fd, w->efd[0],
			      below(&t->rng, 3) ? pick_mask(&t->rng) : 0);
	err = errno;
	race_finish(w);
	unlock(w);
	if (ret || j->ret)
		bad("select vs select: %d (%s), %d (%s)", ret, strerror(err),
		    j->ret, strerror(j->err));
	return !ret;
}

static bool run_op(struct thr *t, int op)
{
	struct worker *w = t->w;
	bool ok;

	switch (op) {
	case OP_CREATE:
		return op_create(t);
	case OP_CLOSE:
		return w->nent > 4 && op_close(t);
	case OP_DUP:
		return w->nent < MAXENT - 4 && op_dup(t);
	case OP_SELF_HANDOFF:
		return w->nent < MAXENT - 4 && op_self_handoff(t);
	case OP_SEND_TOKEN:
		return op_send_token(t);
	case OP_MAILBOX:
		return op_mailbox(t);
	case OP_REVOKE:
		return op_revoke(t);
	case OP_SELECT_EVENTFD:
		return op_select(t, false);
	case OP_SELECT_QUEUE:
		return op_select(t, true);
	case OP_CANCEL:
		return op_cancel(t);
	case OP_ENUM:
		return op_enum(t);
	case OP_EVENTS:
		return op_events(t);
	case OP_ROTATE:
		return op_rotate(t);
	case OP_WRITE:
		return op_write(t);
	case OP_READ:
		return op_read(t);
	case OP_SHUTDOWN:
		return op_shutdown(t);
	case OP_ACCEPT:
		return op_accept(t);
	case OP_FORK:
		return op_fork(t);
	default:
		break;
	}
	pthread_mutex_lock(&w->race_mu);
	switch (op) {
	case OP_RACE_SELECT_CLOSE:
		ok = race_select_close(t);
		break;
	case OP_RACE_REDEEM_CLOSE:
		ok = race_redeem_close(t);
		break;
	case OP_RACE_REDEEM_REVOKE:
		ok = race_redeem_vs(t, RJ_REVOKE);
		break;
	case OP_RACE_REDEEM_REDEEM:
		ok = race_redeem_vs(t, RJ_REDEEM);
		break;
	default:
		ok = race_select_select(t);
		break;
	}
	pthread_mutex_unlock(&w->race_mu);
	return ok;
}

static void *op_thread(void *arg)
{
	struct thr *t = arg;
	unsigned int total = 0, x;
	int op;

	for (op = 0; op < OP_NR; op++)
		total += op_weight[op];
	while (!atomic_load(&shm->stop) && now_us() < t->w->deadline_us) {
		x = below(&t->rng, total);
		for (op = 0; x >= op_weight[op]; op++)
			x -= op_weight[op];
		/* keep the table from filling up */
		if (t->w->nent > MAXENT - 8 && below(&t->rng, 2))
			op = OP_CLOSE;
		t->ops[op]++;
		if (!run_op(t, op))
			t->fails[op]++;
	}
	return NULL;
}

static int worker_main(int slot, uint64_t seed, long lifetime_us)
{
	static struct worker wk;
	struct worker *w = &wk;
	pthread_rwlockattr_t attr;
	struct thr *thr;
	pthread_t tid[NTHREADS], racer;
	int i, op;

	w->slot = slot;
	w->deadline_us = now_us() + lifetime_us;
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&w->lock, &attr);
	pthread_mutex_init(&w->race_mu, NULL);
	for (i = 0; i < NQUEUES; i++) {
		w->queue[i] = ss_queue_create(O_NONBLOCK);
		if (w->queue[i] < 0) {
			bad("worker: queue: %s", strerror(errno));
			return 1;
		}
	}
	for (i = 0; i < NEVENTFDS; i++)
		w->efd[i] = eventfd(0, EFD_NONBLOCK);
	thr = calloc(NTHREADS, sizeof(*thr));
	if (!thr)
		return 1;
	if (pthread_create(&racer, NULL, racer_main, w))
		return 1;
	for (i = 0; i < NTHREADS; i++) {
		thr[i].w = w;
		thr[i].rng = seed + 0x1000 * (i + 1);
		if (pthread_create(&tid[i], NULL, op_thread, &thr[i]))
			return 1;
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(tid[i], NULL);
	atomic_store(&w->job.state, 3);
	futex_wake(&w->job.state);
	pthread_join(racer, NULL);

	for (i = 0; i < NTHREADS; i++)
		for (op = 0; op < OP_NR; op++) {
			atomic_fetch_add(&shm->ops[op], thr[i].ops[op]);
			atomic_fetch_add(&shm->fails[op], thr[i].fails[op]);
		}
	/* Exit with descriptors, registrations and tokens still in place
	 * half of the time; close them first otherwise.
	 */
	if (seed & 1) {
		for (i = 0; i < w->nent; i++)
			close(w->ent[i].fd);
		for (i = 0; i < NQUEUES; i++)
			close(w->queue[i]);
	}
	reap_children(w, true);
	return atomic_load(&shm->bad) ? 2 : 0;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/*
 * A worker forked from the test process inherits the sink's descriptors:
 * keep only the standard ones and the mailboxes, so that the sink's sockets
 * close when the sink closes them.
 */
static void close_inherited(void)
{
	int keep[3 + 2 * NWORKERS], n = 0, i, from = 0;

	for (i = 0; i < 3; i++)
		keep[n++] = i;
	for (i = 0; i < NWORKERS; i++) {
		keep[n++] = shm->mailbox[i][0];
		keep[n++] = shm->mailbox[i][1];
	}
	qsort(keep, n, sizeof(keep[0]), cmp_int);
	for (i = 0; i < n; i++) {
		if (keep[i] > from)
			syscall(SYS_close_range, from, keep[i] - 1, 0);
		from = keep[i] + 1;
	}
	syscall(SYS_close_range, from, ~0U, 0);
}

static pid_t spawn_worker(int slot, long left_us)
{
	uint64_t seed = shm->seed + 0x9e3779b9ULL * atomic_fetch_add(&shm->workers, 1);
	uint64_t r = seed;
	long life = left_us;
	pid_t pid;

	/* most workers retire early and are replaced: their pids change */
	if (left_us > 3000000 && below(&r, 4))
		life = 1500000 + below(&r, 2500000);
	pid = fork();
	if (pid == 0) {
		close_inherited();
		_exit(worker_main(slot, seed, life));
	}
	if (pid > 0)
		atomic_store(&shm->worker_pid[slot], pid);
	return pid;
}

/* --- The sink: reads every counted stream to its end --- */

struct sink {
	int ep;
	int lfd[3];
	int nl;
	int nlisteners;		/* listening sockets (lfd[1] may repeat lfd[0]) */
	int open;
	atomic_int done;	/* set when no new connection can come */
};

static void sink_accept(struct sink *s, int l)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
	int fd;

	while ((fd = accept4(l, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
		atomic_fetch_add(&shm->sockets, 1);
		ev.data.u64 = (uint64_t)fd << 1 | (l == s->lfd[2]);
		if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev)) {
			bad("sink epoll_ctl: %s", strerror(errno));
			close(fd);
			continue;
		}
		s->open++;
	}
}

static void sink_read(struct sink *s, int fd, bool echo)
{
	static char buf[65536];
	uint64_t sum;
	ssize_t n, i;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n > 0) {
			for (sum = 0, i = 0; i < n; i++)
				sum += (unsigned char)buf[i];
			atomic_fetch_add(&shm->recv_bytes, n);
			atomic_fetch_add(&shm->recv_sum, (long)sum);
			if (echo)
				send(fd, buf, n < 64 ? n : 64, MSG_DONTWAIT | MSG_NOSIGNAL);
			continue;
		}
		if (n < 0 && errno == EAGAIN)
			return;
		/*
		 * An AF_UNIX socket closed with unread data (our echo) ends
		 * its peer's stream with ECONNRESET instead of EOF, after
		 * everything it sent has been read.
		 */
		if (n < 0 && !(echo && errno == ECONNRESET)) {
			atomic_fetch_add(&shm->resets, 1);
			bad("sink read: %s", strerror(errno));
		}
		/*
		 * Deregister first: a worker being forked may hold a copy of
		 * the descriptor for a moment, and epoll forgets a file only
		 * when its last descriptor is closed.
		 */
		epoll_ctl(s->ep, EPOLL_CTL_DEL, fd, NULL);
		close(fd);
		s->open--;
		return;
	}
}

static void *sink_main(void *arg)
{
	struct sink *s = arg;
	struct epoll_event ev[64];
	int i, n;

	for (;;) {
		n = epoll_wait(s->ep, ev, 64, 50);
		for (i = 0; i < n; i++) {
			uint64_t d = ev[i].data.u64;

			if (d >> 32 == 0xffffffffULL)
				sink_accept(s, s->lfd[d & 3]);
			else
				sink_read(s, (int)(d >> 1), d & 1);
		}
		if (atomic_load(&s->done)) {
			/* connections still in a backlog come first */
			for (i = 0; i < s->nl; i++)
				sink_accept(s, s->lfd[i]);
			/*
			 * Every stream read to its end, and no socket left in
			 * the namespace but our listeners: none can still be
			 * connecting (a handshake completes in the listener a
			 * moment after connect() returned), none still held by
			 * a token the module is freeing.
			 */
			if (n == 0 && s->open == 0 && sockets_used() == s->nlisteners)
				return NULL;
		}
	}
}

/* --- Checks --- */

static int sink_listener(int family, void *addr, socklen_t *len)
{
	int l = socket(family, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (l < 0)
		return -1;
	if (bind(l, addr, *len) || listen(l, 4096) || getsockname(l, addr, len)) {
		close(l);
		return -1;
	}
	return l;
}

static long env_long(const char *name, long def)
{
	const char *v = getenv(name);

	return v && *v ? strtol(v, NULL, 0) : def;
}

static int wait_for(long (*get)(void *), void *arg, long want, int ms)
{
	long v = get(arg);

	while (v != want && ms > 0) {
		usleep(20000);
		ms -= 20;
		v = get(arg);
	}
	return v == want;
}

static long get_sockets(void *arg)
{
	(void)arg;
	return sockets_used();
}

static long get_pending(void *arg)
{
	struct sharedsock_status st;

	return dev_status(*(int *)arg, &st) ? -1 : (long)st.tokens_pending;
}

static long get_regs(void *arg)
{
	struct sharedsock_status st;

	return dev_status(*(int *)arg, &st) ? -1 : (long)st.registrations;
}

#define MAXREGS		4096

/* The registrations there before the run (of earlier tests). */
struct regs_before {
	int dev;
	int n;
	unsigned long long ino[MAXREGS];
};

/* Registrations that were not there before the run, or -1. */
static long get_new_regs(void *arg)
{
	static unsigned long long now[MAXREGS];
	struct regs_before *b = arg;
	int n = registration_inos(b->dev, now, MAXREGS), i, j;
	long fresh = 0;

	if (n < 0 || n > MAXREGS)
		return -1;
	for (i = 0; i < n; i++) {
		for (j = 0; j < b->n && b->ino[j] != now[i]; j++)
			;
		fresh += j == b->n;
	}
	return fresh;
}

TEST(stress)
{
	long seconds = env_long("SHAREDSOCK_STRESS_SECONDS", 10);
	struct sharedsock_status st0, st1;
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct epoll_event ev = { .events = EPOLLIN };
	struct sink sink = { .ep = -1 };
	static struct regs_before regs0;
	long refcnt0, refcnt1, socks0, socks1, start, end, left, elapsed;
	int dev, i, status_w, slot, stuck = 0;
	pthread_t sink_tid;
	socklen_t len;
	pid_t pid;

	if (seconds < 1)
		seconds = 1;
	if (unshare(CLONE_NEWNET))
		SKIP(return, "unshare(CLONE_NEWNET): %s (needs root)", strerror(errno));
	ASSERT_EQ(0, lo_up());
	signal(SIGPIPE, SIG_IGN);

	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, shm);
	shm->seed = env_long("SHAREDSOCK_STRESS_SEED", 0x5eed5eedL);

	refcnt0 = module_refcnt();
	dev = dev_open();
	ASSERT_GE(dev, 0);
	ASSERT_TRUE(wait_for(get_sockets, NULL, 0, WAIT_MS));
	socks0 = sockets_used();
	/*
	 * Tokens of earlier tests may still be being freed: a baseline
	 * without them.  Registrations on their sockets may go later still:
	 * the run must leave none but those there now.
	 */
	ASSERT_LE(0, tokens_settled(WAIT_MS));
	ASSERT_EQ(0, dev_status(dev, &st0));
	regs0.dev = dev;
	regs0.n = registration_inos(dev, regs0.ino, MAXREGS);
	ASSERT_GE(regs0.n, 0);
	ASSERT_LE(regs0.n, MAXREGS);

	/* the sink's listeners: TCP over IPv4 and IPv6, and AF_UNIX */
	sink.ep = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_GE(sink.ep, 0);
	shm->tcp_addr.sin_family = AF_INET;
	shm->tcp_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	len = sizeof(shm->tcp_addr);
	sink.lfd[sink.nl] = sink_listener(AF_INET, &shm->tcp_addr, &len);
	ASSERT_GE(sink.lfd[sink.nl], 0);
	sink.nl++;
	len = sizeof(a6);
	sink.lfd[sink.nl] = sink_listener(AF_INET6, &a6, &len);
	if (sink.lfd[sink.nl] >= 0) {
		shm->tcp6_addr = a6;
		shm->have_tcp6 = true;
		sink.nl++;
	} else {
		TH_LOG("no IPv6 loopback: IPv4 and AF_UNIX only");
		sink.lfd[sink.nl++] = -1;
	}
	shm->unix_addr.sun_family = AF_UNIX;
	snprintf(shm->unix_addr.sun_path + 1, sizeof(shm->unix_addr.sun_path) - 1,
		 "sharedsock-stress-%d", getpid());
	shm->unix_len = offsetof(struct sockaddr_un, sun_path) + 1 +
			strlen(shm->unix_addr.sun_path + 1);
	len = shm->unix_len;
	sink.lfd[2] = sink_listener(AF_UNIX, &shm->unix_addr, &len);
	ASSERT_GE(sink.lfd[2], 0);
	sink.nl = 3;
	for (i = 0; i < 3; i++) {
		if (sink.lfd[i] < 0)
			continue;
		sink.nlisteners++;
		ev.data.u64 = 0xffffffff00000000ULL | i;
		ASSERT_EQ(0, epoll_ctl(sink.ep, EPOLL_CTL_ADD, sink.lfd[i], &ev));
		atomic_fetch_add(&shm->sockets, 1);
	}
	if (sink.lfd[1] < 0)
		sink.lfd[1] = sink.lfd[0];	/* so the accept loop has no hole */
	for (i = 0; i < NWORKERS; i++) {
		ASSERT_EQ(0, pipe2(shm->mailbox[i], O_NONBLOCK | O_CLOEXEC));
	}

	start = now_us();
	end = start + seconds * 1000000L;
	for (slot = 0; slot < NWORKERS; slot++) {
		ASSERT_GT(spawn_worker(slot, end - start), 0);
	}
	ASSERT_EQ(0, pthread_create(&sink_tid, NULL, sink_main, &sink));

	/* replace the workers that retire until the time is up */
	while ((left = end - now_us()) > 0) {
		pid = waitpid(-1, &status_w, WNOHANG);
		if (pid <= 0) {
			usleep(10000);
			continue;
		}
		if (!WIFEXITED(status_w) || WEXITSTATUS(status_w) > 2)
			bad("worker %d ended with status %#x", pid, status_w);
		for (slot = 0; slot < NWORKERS; slot++)
			if (atomic_load(&shm->worker_pid[slot]) == pid)
				break;
		if (slot < NWORKERS && left > 500000)
			spawn_worker(slot, left);
		else if (slot < NWORKERS)
			atomic_store(&shm->worker_pid[slot], 0);
	}
	atomic_store(&shm->stop, 1);
	elapsed = now_us() - start;
	for (i = 0; i < 3000; i++) {
		pid = waitpid(-1, &status_w, WNOHANG);
		if (pid < 0 && errno == ECHILD)
			break;
		if (pid > 0) {
			if (!WIFEXITED(status_w) || WEXITSTATUS(status_w) > 2)
				bad("worker %d ended with status %#x", pid, status_w);
			for (slot = 0; slot < NWORKERS; slot++)
				if (atomic_load(&shm->worker_pid[slot]) == pid)
					atomic_store(&shm->worker_pid[slot], 0);
			continue;
		}
		usleep(10000);
	}
	if (i == 3000) {
		/* a worker hangs: report it, end the workers, check the rest */
		stuck = 1;
		for (slot = 0; slot < NWORKERS; slot++) {
			pid = atomic_load(&shm->worker_pid[slot]);
			if (pid > 0)
				kill(pid, SIGKILL);
		}
		while (waitpid(-1, &status_w, 0) > 0)
			;
	}

	/* every stream ends once its last holder (or token) is gone */
	atomic_store(&sink.done, 1);
	for (i = 0; i < 1500 && pthread_tryjoin_np(sink_tid, NULL); i++)
		usleep(10000);
	EXPECT_LT(i, 1500) TH_LOG("%d streams never ended, %ld sockets in the namespace",
				  sink.open, sockets_used());
	if (i == 1500) {
		pthread_cancel(sink_tid);
		pthread_join(sink_tid, NULL);
	}
	for (i = 0; i < 3; i++)
		if (i != 1 || sink.lfd[1] != sink.lfd[0])
			close(sink.lfd[i]);
	close(sink.ep);
	for (i = 0; i < NWORKERS; i++) {
		close(shm->mailbox[i][0]);
		close(shm->mailbox[i][1]);
	}

	ksft_print_msg("seed %#llx, %.1f s, %d workers x %d threads + racer; %ld worker processes, %ld forked children\n",
		       (unsigned long long)shm->seed, elapsed / 1e6, NWORKERS, NTHREADS,
		       atomic_load(&shm->workers), atomic_load(&shm->children));
	for (i = 0; i < OP_NR; i++)
		ksft_print_msg("%-34s %8ld ops %9.1f ops/s (%ld without effect)\n",
			       op_name[i], atomic_load(&shm->ops[i]),
			       atomic_load(&shm->ops[i]) / (elapsed / 1e6),
			       atomic_load(&shm->fails[i]));
	if (!dev_status(dev, &st1))
		ksft_print_msg("module: tokens %llu exported, %llu redeemed, %llu revoked, %llu expired, %llu reaped; registrations %llu created, %llu replaced; %llu events, %llu messages\n",
			       st1.tokens_exported - st0.tokens_exported,
			       st1.tokens_redeemed - st0.tokens_redeemed,
			       st1.tokens_revoked - st0.tokens_revoked,
			       st1.tokens_expired - st0.tokens_expired,
			       st1.tokens_reaped - st0.tokens_reaped,
			       st1.registrations_created - st0.registrations_created,
			       st1.registrations_replaced - st0.registrations_replaced,
			       st1.events_recorded - st0.events_recorded,
			       st1.messages_posted - st0.messages_posted);
	ksft_print_msg("sockets created: %ld\n", atomic_load(&shm->sockets));
	ksft_print_msg("streams: %ld bytes written, %ld read at the far end\n",
		       atomic_load(&shm->sent_bytes), atomic_load(&shm->recv_bytes));
	fflush(stdout);

	EXPECT_EQ(0, stuck) TH_LOG("workers did not stop within 30 s of the end");
	for (i = 0; i < atomic_load(&shm->bad) && i < NBAD; i++)
		TH_LOG("%s", shm->bad_msg[i]);
	EXPECT_EQ(0, atomic_load(&shm->bad));
	EXPECT_EQ(0, atomic_load(&shm->resets));
	EXPECT_EQ(atomic_load(&shm->sent_bytes), atomic_load(&shm->recv_bytes));
	EXPECT_EQ(atomic_load(&shm->sent_sum), atomic_load(&shm->recv_sum));
	EXPECT_GT(atomic_load(&shm->sent_bytes), 0);
	/* a run of a few seconds does every kind of operation */
	for (i = 0; i < OP_NR && seconds >= 5; i++) {
		EXPECT_GT(atomic_load(&shm->ops[i]) - atomic_load(&shm->fails[i]), 0)
			TH_LOG("no %s succeeded", op_name[i]);
	}

	/* nothing left behind */
	EXPECT_TRUE(wait_for(get_pending, &dev, st0.tokens_pending, WAIT_MS))
		TH_LOG("tokens pending: %ld, %u before", get_pending(&dev),
		       st0.tokens_pending);
	EXPECT_TRUE(wait_for(get_new_regs, &regs0, 0, WAIT_MS))
		TH_LOG("registrations: %ld, %u before, %ld made by the run",
		       get_regs(&dev), st0.registrations, get_new_regs(&regs0));
	EXPECT_LE(get_regs(&dev), st0.registrations);
	EXPECT_TRUE(wait_for(get_sockets, NULL, socks0, WAIT_MS));
	socks1 = sockets_used();
	ksft_print_msg("sockets in use in the namespace: %ld before, %ld after\n",
		       socks0, socks1);
	close(dev);
	for (i = 0; i < WAIT_MS / 20 && (refcnt1 = module_refcnt()) > refcnt0; i++)
		usleep(20000);
	ksft_print_msg("module refcnt: %ld before, %ld after\n", refcnt0, refcnt1);
	EXPECT_LE(refcnt1, refcnt0);
}

/* The run is bounded by SHAREDSOCK_STRESS_SECONDS: let the harness wait. */
static void __attribute__((constructor)) stress_timeout(void)
{
	_stress_object.timeout = env_long("SHAREDSOCK_STRESS_SECONDS", 10) + 120;
}

TEST_HARNESS_MAIN
