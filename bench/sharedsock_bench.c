// SPDX-License-Identifier: GPL-2.0
/*
 * sharedsock_bench: sharedsock against its peers, measured in the same run.
 *
 *  micro     the pieces, in one process: each ioctl, fd install, pipe,
 *            SCM_RIGHTS, getrandom, enum vs epoll_wait
 *  handoff   connected TCP sockets from process A to process B, until B
 *            holds usable descriptors: sharedsock (duplicate, tokens over a
 *            pipe, redeem) vs SCM_RIGHTS over an AF_UNIX socketpair vs
 *            pidfd_getfd (fd numbers over a pipe); 1, 16 and 64 at a time
 *  event     ping-pong latency: eventfd wake + enum FD_READ + recv vs
 *            epoll_wait + recv (threads, and processes); bursts of 32
 *            messages per wake-up; the CPU cost a registration adds to
 *            every received packet, with an A/A control
 *  memory    kernel memory per registration (/proc/slabinfo)
 *  scale     redeem with 1k / 100k / 1M pending tokens, kernel memory per
 *            token, the reap when a target with 1M tokens exits
 *  trace     (opt-in) function_graph of the module's hot paths
 *  unload    delete_module with 100k pending tokens, then reload (last)
 *
 * The peers of a comparison run on CPU 0 (see README.md: under QEMU TCG a
 * cross-CPU wake-up costs milliseconds); "xcpu" adds cross-CPU variants.
 * Every phase but unload runs in a child process and writes its results to
 * shared memory.  The parent never calls the library, so that at the end
 * it holds no /dev/sharedsock descriptor and can unload the module.
 *
 * Human-readable lines start with "# "; the CSV is printed between
 * "### CSV BEGIN" and "### CSV END".  Exit status: 0 when everything ran
 * (targets missed included), 1 on errors, 2 on bad arguments.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include <linux/sharedsock.h>
#include <sharedsock.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

#define MAX_RUNS	32
#define MAX_ROWS	160
#define MAX_LEVELS	6
#define HO_MAXN		64
#define MSG_SIZE	64
#define PARAM_DIR	"/sys/module/sharedsock/parameters/"

/* ------------------------------------------------------------------ */
/* Options                                                             */

enum {
	PH_HANDOFF = 1 << 0,
	PH_EVENT = 1 << 1,
	PH_MEMORY = 1 << 2,
	PH_SCALE = 1 << 3,
	PH_MICRO = 1 << 4,
	PH_UNLOAD = 1 << 5,
	PH_OVERHEAD = 1 << 6,
	PH_TRACE = 1 << 7,	/* opt-in: function_graph of the hot paths */
	PH_ALL = (1 << 7) - 1,
};

static const char *const phase_names[] = {
	"handoff", "event", "memory", "scale", "micro", "unload", "overhead", "trace",
};

static struct {
	int runs;
	unsigned int phases;
	long handoff_iters;	/* single-socket handoffs per run and mechanism */
	long latency_iters;	/* ping-pong round trips per run and variant */
	long stream_msgs;	/* messages per run in the streaming tests */
	long cpu_msgs;		/* messages per run in the one-thread cost test */
	long levels[MAX_LEVELS];
	int nlevels;
	long sample;		/* redeems timed per run and level */
	long regs;		/* registrations for the memory figure */
	long unload_tokens;
	long micro_ops;
	bool xcpu;		/* also run the cross-CPU placements */
	unsigned int phase_timeout;
	const char *ko;
} opt = {
	.runs = 7,
	.phases = PH_ALL,
	.handoff_iters = 3000,
	.latency_iters = 2000,
	.stream_msgs = 20000,
	.cpu_msgs = 32768,
	.levels = { 1000, 100000, 1000000 },
	.nlevels = 3,
	.sample = 2000,
	.regs = 4096,
	.unload_tokens = 100000,
	.micro_ops = 5000,
	.phase_timeout = 900,
	.ko = "/lib/modules/sharedsock.ko",
};

/* ------------------------------------------------------------------ */
/* Results, in memory shared with the phase children                  */

struct row {
	char name[48];		/* CSV name */
	char label[72];		/* table label */
	char unit[16];
	int n;
	double v[MAX_RUNS];
	int npeers;
	int peer[2];		/* rows this one is compared with */
	int nr[2];
	double r[2][MAX_RUNS];	/* per-run ratios to peer[i], when paired */
};

struct shared {
	int nrows;
	struct row rows[MAX_ROWS];
	/* Scale phase -> parent: tokens left behind when the child exits. */
	long reap_tokens;
	long reap_slab_base;	/* sharedsock_token active objects before the test */
	uint64_t reap_exit_ns;
	char notes[16][160];
	int nnotes;
};

static struct shared *sh;

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("# %s\n", buf);
	fflush(stdout);
}

/* Report a failed call (errno) and return -1. */
static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	int err = errno;
	char buf[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("# error: %s: %s\n", buf, strerror(err));
	fflush(stdout);
	errno = err;
	return -1;
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	va_list ap;

	if (sh->nnotes >= (int)(sizeof(sh->notes) / sizeof(sh->notes[0])))
		return;
	va_start(ap, fmt);
	vsnprintf(sh->notes[sh->nnotes++], sizeof(sh->notes[0]), fmt, ap);
	va_end(ap);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t r = read(fd, p, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EPIPE;
			return -1;
		}
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t r = write(fd, p, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median of @n values; sorts them. */
static double median_u64(uint64_t *v, size_t n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	return n % 2 ? (double)v[n / 2] : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2;
}

static void stats(const double *src, int n, double *med, double *min, double *max)
{
	double v[MAX_RUNS];

	*med = *min = *max = 0;
	if (n <= 0)
		return;
	memcpy(v, src, sizeof(double) * (size_t)n);
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	*min = v[0];
	*max = v[n - 1];
	*med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rng(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static void die_with_parent(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/* Run on CPU @cpu only. */
static int pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/* Run anywhere again. */
static void unpin(void)
{
	cpu_set_t set;
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	CPU_ZERO(&set);
	for (long i = 0; i < n && i < CPU_SETSIZE; i++)
		CPU_SET(i, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* Placements of the two processes: 0 both on CPU 0, 1 on CPUs 0 and 1. */
static int nplacements(void)
{
	return opt.xcpu && sysconf(_SC_NPROCESSORS_ONLN) >= 2 ? 2 : 1;
}

static const char *const place_sect[2] = { "", "-xcpu" };

static int wait_exit(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

static bool raise_nofile(rlim_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return false;
	if (rl.rlim_cur >= want)
		return true;
	rl.rlim_cur = want;
	if (rl.rlim_max < want)
		rl.rlim_max = want;
	return setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

static const char *fmt_count(long n, char *buf, size_t len)
{
	if (n >= 1000000 && n % 1000000 == 0)
		snprintf(buf, len, "%ldM", n / 1000000);
	else if (n >= 1000 && n % 1000 == 0)
		snprintf(buf, len, "%ldk", n / 1000);
	else
		snprintf(buf, len, "%ld", n);
	return buf;
}

static int read_param(const char *name, long *val)
{
	char path[128], buf[64];
	int fd, n;

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = (int)read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	*val = strtol(buf, NULL, 10);
	return 0;
}

static int write_param(const char *name, long val)
{
	char path[128], buf[64];
	int fd, n, ret;

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = snprintf(buf, sizeof(buf), "%ld\n", val);
	ret = write(fd, buf, (size_t)n) == n ? 0 : -1;
	close(fd);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Rows                                                                */

static int row_find(const char *name)
{
	for (int i = 0; i < sh->nrows; i++)
		if (!strcmp(sh->rows[i].name, name))
			return i;
	return -1;
}

static int row_new(const char *name, const char *label, const char *unit)
{
	int i = row_find(name);
	struct row *r;

	if (i >= 0)
		return i;
	if (sh->nrows >= MAX_ROWS) {
		say("error: too many result rows");
		exit(1);
	}
	i = sh->nrows++;
	r = &sh->rows[i];
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	snprintf(r->label, sizeof(r->label), "%s", label);
	snprintf(r->unit, sizeof(r->unit), "%s", unit);
	return i;
}

static void row_add(int i, double v)
{
	struct row *r = &sh->rows[i];

	if (r->n < MAX_RUNS)
		r->v[r->n++] = v;
}

static int row_peer_slot(int i, int peer)
{
	struct row *r = &sh->rows[i];

	for (int k = 0; k < r->npeers; k++)
		if (r->peer[k] == peer)
			return k;
	if (r->npeers >= 2)
		return -1;
	r->peer[r->npeers] = peer;
	return r->npeers++;
}

/* Compare row @i with @peer from their medians (measured at other times). */
static void row_compare(int i, int peer)
{
	row_peer_slot(i, peer);
}

/* Record one run's ratio of row @i to @peer, both measured in that run. */
static void row_ratio(int i, int peer, double ratio)
{
	int k = row_peer_slot(i, peer);
	struct row *r = &sh->rows[i];

	if (k >= 0 && r->nr[k] < MAX_RUNS)
		r->r[k][r->nr[k]++] = ratio;
}

/* Ratio of row @i to its k-th peer: median, min, max; false if unknown. */
static bool row_ratio_stats(int i, int k, double *med, double *min, double *max)
{
	struct row *r = &sh->rows[i], *p;
	double pm, pmin, pmax, m, mn, mx;

	if (k >= r->npeers)
		return false;
	if (r->nr[k]) {
		stats(r->r[k], r->nr[k], med, min, max);
		return true;
	}
	p = &sh->rows[r->peer[k]];
	if (!r->n || !p->n)
		return false;
	stats(r->v, r->n, &m, &mn, &mx);
	stats(p->v, p->n, &pm, &pmin, &pmax);
	if (pm <= 0 || pmin <= 0 || pmax <= 0)
		return false;
	*med = m / pm;
	*min = mn / pmax;
	*max = mx / pmin;
	return true;
}

/* ------------------------------------------------------------------ */
/* Sockets                                                             */

static int tcp_listener(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return fail("socket");
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 256) ||
	    getsockname(fd, (struct sockaddr *)&a, &len)) {
		fail("listen on loopback");
		close(fd);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

static int tcp_connect(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return fail("socket");
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		fail("connect");
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* A connected TCP loopback pair, TCP_NODELAY on both ends. */
static int tcp_pair(int *client, int *server)
{
	uint16_t port;
	int l = tcp_listener(&port), one = 1;

	if (l < 0)
		return -1;
	*client = tcp_connect(port);
	*server = *client < 0 ? -1 : accept4(l, NULL, NULL, SOCK_CLOEXEC);
	close(l);
	if (*client < 0 || *server < 0) {
		if (*client >= 0)
			close(*client);
		return fail("accept");
	}
	setsockopt(*server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

static int set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	return fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

/* ------------------------------------------------------------------ */
/* /proc/slabinfo and /proc/meminfo                                    */

struct slab {
	long active_objs, num_objs, objsize, objperslab, pagesperslab;
	long active_slabs, num_slabs;
};

static int slab_read(const char *cache, struct slab *s)
{
	char line[512];
	size_t len = strlen(cache);
	FILE *f = fopen("/proc/slabinfo", "re");
	int found = -1;

	memset(s, 0, sizeof(*s));
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, cache, len) || line[len] != ' ')
			continue;
		if (sscanf(line + len, " %ld %ld %ld %ld %ld : tunables %*d %*d %*d : slabdata %ld %ld",
			   &s->active_objs, &s->num_objs, &s->objsize,
			   &s->objperslab, &s->pagesperslab, &s->active_slabs,
			   &s->num_slabs) == 7)
			found = 0;
		break;
	}
	fclose(f);
	return found;
}

static long slab_bytes(const struct slab *s)
{
	return s->num_slabs * s->pagesperslab * sysconf(_SC_PAGESIZE);
}

/* A /proc/meminfo field in bytes, -1 if missing. */
static long meminfo(const char *field)
{
	char line[256];
	size_t len = strlen(field);
	FILE *f = fopen("/proc/meminfo", "re");
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, len) && line[len] == ':') {
			kb = strtol(line + len + 1, NULL, 10);
			break;
		}
	fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

static long kernel_mem(void)
{
	return meminfo("Slab") + meminfo("VmallocUsed");
}

/* Raw STATUS on a descriptor of our own. */
static int dev_status(int dev, struct sharedsock_status *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	return ioctl(dev, SHAREDSOCK_IOC_STATUS, st);
}

/* ------------------------------------------------------------------ */
/* 1. Handoff: A hands connected TCP sockets to B                      */

enum { M_SS, M_SSV, M_SCM, M_PIDFD, M_NR };

static const char *const mech_key[M_NR] = {
	"sharedsock", "sharedsock_vec", "scm_rights", "pidfd_getfd"
};
static const char *const mech_label[M_NR] = {
	"sharedsock, a token per socket (dup, pipe, redeem)",
	"sharedsock vectored, one token (dup_vec, pipe, redeem_vec)",
	"SCM_RIGHTS (AF_UNIX socketpair)",
	"pidfd_getfd (fd number over pipe)",
};

struct ho_cmd {
	int mech;
	int n;		/* sockets per handoff; 0 = quit */
	int iters;
	int verify;
	int cpu;	/* where B runs */
};

struct ho {
	int pool[HO_MAXN];	/* A's connected client sockets */
	int peer[HO_MAXN];	/* their accepted ends, kept open by A */
	ino_t ino[HO_MAXN];
	int cmd[2], data[2], ack[2], unx[2];
	pid_t b;
	int pidfd;		/* B: pidfd of A */
};

/* B: the descriptors are the sockets A sent, usable, in order. */
static bool ho_verify(const struct ho *h, const int *fds, int n)
{
	for (int i = 0; i < n; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int type = 0;
		socklen_t tlen = sizeof(type);
		struct stat st;

		if (fstat(fds[i], &st) || !S_ISSOCK(st.st_mode) ||
		    st.st_ino != h->ino[i] ||
		    getsockopt(fds[i], SOL_SOCKET, SO_TYPE, &type, &tlen) ||
		    type != SOCK_STREAM ||
		    getpeername(fds[i], (struct sockaddr *)&ss, &len)) {
			say("error: B: socket %d of %d is not the one A sent", i, n);
			return false;
		}
	}
	return true;
}

/* B: receive one handoff of @n sockets; returns how many it got. */
static int ho_receive(struct ho *h, int mech, int n, int *fds)
{
	struct ss_protocol_info infos[HO_MAXN];
	int nums[HO_MAXN], got = 0;

	switch (mech) {
	case M_SS:
		if (read_full(h->data[0], infos, sizeof(infos[0]) * (size_t)n))
			return fail("B: read tokens");
		for (; got < n; got++) {
			fds[got] = ss_socket_from_info(&infos[got], 0);
			if (fds[got] < 0) {
				fail("B: ss_socket_from_info");
				break;
			}
		}
		return got;
	case M_SSV:
		if (read_full(h->data[0], infos, sizeof(infos[0])))
			return fail("B: read token");
		while (got < n) {
			int k = ss_sockets_from_info(&infos[0], fds + got,
						     (unsigned int)(n - got), 0);

			if (k <= 0) {
				fail("B: ss_sockets_from_info");
				break;
			}
			got += k;
		}
		return got;
	case M_SCM: {
		union {
			char buf[CMSG_SPACE(sizeof(int) * HO_MAXN)];
			struct cmsghdr align;
		} u;
		char byte;
		struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
		struct msghdr m = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = u.buf,
			.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n),
		};
		struct cmsghdr *cm;

		if (recvmsg(h->unx[1], &m, 0) != 1)
			return fail("B: recvmsg");
		for (cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
			size_t k;

			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			if (got + (int)k > HO_MAXN)
				k = (size_t)(HO_MAXN - got);
			memcpy(fds + got, CMSG_DATA(cm), k * sizeof(int));
			got += (int)k;
		}
		if (m.msg_flags & MSG_CTRUNC)
			say("error: B: SCM_RIGHTS control data truncated");
		return got;
	}
	case M_PIDFD:
		if (read_full(h->data[0], nums, sizeof(int) * (size_t)n))
			return fail("B: read fd numbers");
		for (; got < n; got++) {
			fds[got] = (int)syscall(SYS_pidfd_getfd, h->pidfd, nums[got], 0);
			if (fds[got] < 0) {
				fail("B: pidfd_getfd");
				break;
			}
		}
		return got;
	}
	return -1;
}

static int ho_b_main(struct ho *h)
{
	int fds[HO_MAXN];

	int cpu = -1;

	h->pidfd = (int)syscall(SYS_pidfd_open, getppid(), 0);
	if (h->pidfd < 0)
		fail("B: pidfd_open");
	for (;;) {
		struct ho_cmd cmd;

		if (read_full(h->cmd[0], &cmd, sizeof(cmd)))
			return 1;
		if (!cmd.n)
			return 0;
		if (cmd.cpu != cpu) {
			if (pin_cpu(cmd.cpu))
				fail("B: sched_setaffinity");
			cpu = cmd.cpu;
		}
		for (int it = 0; it < cmd.iters; it++) {
			int got = ho_receive(h, cmd.mech, cmd.n, fds);
			uint64_t t = now_ns();

			if (got != cmd.n)
				t = 0;
			else if (cmd.verify && it == 0 && !ho_verify(h, fds, got))
				t = 0;
			for (int i = 0; i < got; i++)
				close(fds[i]);
			if (write_full(h->ack[1], &t, sizeof(t)))
				return 1;
			if (!t)
				return 1;
		}
	}
}

/*
 * A: @iters handoffs of @n sockets by @mech.  @lat gets the time from the
 * start of each handoff until B holds every descriptor (B's clock reading,
 * sent back with its acknowledgement; CLOCK_MONOTONIC is system-wide).
 */
static int ho_run(struct ho *h, int mech, int n, int iters, bool verify, int cpu,
		  uint64_t *lat)
{
	struct ho_cmd cmd = {
		.mech = mech, .n = n, .iters = iters, .verify = verify, .cpu = cpu,
	};
	struct ss_protocol_info infos[HO_MAXN];
	union {
		char buf[CMSG_SPACE(sizeof(int) * HO_MAXN)];
		struct cmsghdr align;
	} u;
	char byte = 'x';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr m = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n),
	};
	struct cmsghdr *cm;

	memset(&u, 0, sizeof(u));
	cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
	memcpy(CMSG_DATA(cm), h->pool, sizeof(int) * (size_t)n);

	if (write_full(h->cmd[1], &cmd, sizeof(cmd)))
		return fail("A: command to B");
	for (int it = 0; it < iters; it++) {
		uint64_t t0 = now_ns(), t2;

		switch (mech) {
		case M_SS:
			for (int i = 0; i < n; i++)
				if (ss_duplicate_socket(h->pool[i], h->b, &infos[i]))
					return fail("A: ss_duplicate_socket");
			if (write_full(h->data[1], infos, sizeof(infos[0]) * (size_t)n))
				return fail("A: write tokens");
			break;
		case M_SSV:
			if (ss_duplicate_sockets(h->pool, (unsigned int)n, h->b, 0, &infos[0]))
				return fail("A: ss_duplicate_sockets");
			if (write_full(h->data[1], infos, sizeof(infos[0])))
				return fail("A: write token");
			break;
		case M_SCM:
			if (sendmsg(h->unx[0], &m, 0) != 1)
				return fail("A: sendmsg SCM_RIGHTS");
			break;
		case M_PIDFD:
			if (write_full(h->data[1], h->pool, sizeof(int) * (size_t)n))
				return fail("A: write fd numbers");
			break;
		}
		if (read_full(h->ack[0], &t2, sizeof(t2)))
			return fail("A: ack from B");
		if (!t2) {
			say("error: B failed a %s handoff of %d", mech_key[mech], n);
			return -1;
		}
		lat[it] = t2 > t0 ? t2 - t0 : 0;
	}
	return 0;
}

static int ho_iters(int n)
{
	long it = opt.handoff_iters;

	if (n > 1)
		it = opt.handoff_iters * 4 / n;	/* 4x the sockets, fewer wake-ups */
	return (int)(it < 10 ? 10 : it);
}

static int phase_handoff(void)
{
	static const int sizes[] = { 1, 16, 64 };
	struct ho h;
	uint16_t port;
	int l, maxit = 0, ret = -1, np = nplacements();
	uint64_t *lat;
	int row[2][3][M_NR];

	memset(&h, 0, sizeof(h));
	l = tcp_listener(&port);
	if (l < 0)
		return -1;
	for (int i = 0; i < HO_MAXN; i++) {
		struct stat st;

		h.pool[i] = tcp_connect(port);
		if (h.pool[i] < 0)
			return -1;
		h.peer[i] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		if (h.peer[i] < 0)
			return fail("accept");
		if (fstat(h.pool[i], &st))
			return fail("fstat");
		h.ino[i] = st.st_ino;
	}
	close(l);
	if (pipe2(h.cmd, O_CLOEXEC) || pipe2(h.data, O_CLOEXEC) ||
	    pipe2(h.ack, O_CLOEXEC) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, h.unx))
		return fail("pipes");

	for (size_t s = 0; s < 3; s++)
		if (ho_iters(sizes[s]) > maxit)
			maxit = ho_iters(sizes[s]);
	lat = calloc((size_t)maxit, sizeof(*lat));
	if (!lat)
		return fail("calloc");

	fflush(stdout);
	h.b = fork();
	if (h.b < 0)
		return fail("fork");
	if (h.b == 0) {
		die_with_parent();
		for (int i = 0; i < HO_MAXN; i++) {
			close(h.pool[i]);
			close(h.peer[i]);
		}
		close(h.cmd[1]);
		close(h.data[1]);
		close(h.ack[0]);
		close(h.unx[0]);
		_exit(ho_b_main(&h));
	}
	close(h.cmd[0]);
	close(h.data[0]);
	close(h.ack[1]);
	close(h.unx[1]);
	/* pidfd_getfd needs ptrace access; root has it, Yama may want this. */
	prctl(PR_SET_PTRACER, h.b, 0, 0, 0);
	if (pin_cpu(0))
		return fail("sched_setaffinity");

	for (int pl = 0; pl < np; pl++)
		for (size_t s = 0; s < 3; s++) {
			char name[48], label[72];
			int n = sizes[s];

			for (int m = 0; m < M_NR; m++) {
				snprintf(name, sizeof(name), "handoff%s.%d.%s", place_sect[pl], n,
					 mech_key[m]);
				snprintf(label, sizeof(label), "x%-2d %s", n, mech_label[m]);
				row[pl][s][m] = row_new(name, label, "ns/socket");
			}
		}

	/* Warm-up, with every mechanism's result checked by B. */
	for (int pl = 0; pl < np; pl++)
		for (size_t s = 0; s < 3; s++)
			for (int m = 0; m < M_NR; m++)
				if (ho_run(&h, m, sizes[s], ho_iters(sizes[s]) / 8 + 1, true, pl,
					   lat))
					goto out;

	for (int r = 0; r < opt.runs; r++) {
		uint64_t t0 = now_ns();

		for (int pl = 0; pl < np; pl++)
			for (size_t s = 0; s < 3; s++) {
				int n = sizes[s], iters = ho_iters(n);
				double v[M_NR];

				/* Rotate the order: no mechanism always goes first. */
				for (int k = 0; k < M_NR; k++) {
					int m = (k + r) % M_NR;

					if (ho_run(&h, m, n, iters, true, pl, lat))
						goto out;
					v[m] = median_u64(lat, (size_t)iters) / n;
					row_add(row[pl][s][m], v[m]);
				}
				for (int m = M_SS; m <= M_SSV; m++) {
					row_ratio(row[pl][s][m], row[pl][s][M_SCM],
						  v[m] / v[M_SCM]);
					row_ratio(row[pl][s][m], row[pl][s][M_PIDFD],
						  v[m] / v[M_PIDFD]);
				}
			}
		say("handoff run %d/%d: %.1f s", r + 1, opt.runs, (now_ns() - t0) / 1e9);
	}
	ret = 0;
out:
	{
		struct ho_cmd quit = { 0 };

		write_full(h.cmd[1], &quit, sizeof(quit));
		if (wait_exit(h.b) != 0 && !ret) {
			say("error: handoff receiver B failed");
			ret = -1;
		}
	}
	return ret;
}

/* ------------------------------------------------------------------ */
/* 2. Events                                                           */

enum {
	EV_QUIT,
	EV_LAT_SS,	/* ping-pong, registrant waits on its eventfd */
	EV_LAT_EP,	/* ping-pong, epoll_wait */
	EV_LOOP_SS,	/* stream read by an eventfd+enum event loop */
	EV_LOOP_EP,	/* stream read by an epoll event loop */
	EV_STREAM_REG,	/* stream read by blocking recv, socket registered */
	EV_STREAM_PLAIN,/* the same on a socket never registered */
	EV_BURST_SS,	/* 32 messages, one wake-up, drain, reply: eventfd+enum */
	EV_BURST_EP,	/* the same with epoll_wait */
};

#define EV_BURST 32

struct ev_cmd {
	int test;
	int cpu;	/* where Q runs */
	int fifo;	/* Q runs SCHED_FIFO (no wake-up preemption among equals) */
	long count;
};

/* SCHED_FIFO priority 1, or back to SCHED_OTHER, for the calling thread. */
static int set_fifo(bool on)
{
	struct sched_param sp = { .sched_priority = on ? 1 : 0 };

	errno = pthread_setschedparam(pthread_self(), on ? SCHED_FIFO : SCHED_OTHER, &sp);
	return errno ? -1 : 0;
}

struct ev {
	int p[4], q[4];	/* pairs: SS, epoll, registered stream, plain stream */
	int cmd[2], ack[2];
	bool thread;	/* Q is a thread of P's process, not a process */
	pid_t qpid;
	pthread_t qthr;
	/* Q side */
	int evfd, evfd_stream, ep;
};

/* Q: wait until the registered socket reports FD_READ, WSAEventSelect style. */
static int ev_wait_read(struct ev *e)
{
	struct pollfd pfd = { .fd = e->evfd, .events = POLLIN };
	struct ss_network_events ne;

	for (;;) {
		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return fail("Q: poll eventfd");
		}
		if (ss_enum_network_events(e->q[0], e->evfd, &ne))
			return fail("Q: ss_enum_network_events");
		if (ne.network_events & SS_FD_READ)
			return 0;
	}
}

static int ev_wait_epoll(struct ev *e)
{
	struct epoll_event ev;

	for (;;) {
		int n = epoll_wait(e->ep, &ev, 1, -1);

		if (n == 1)
			return 0;
		if (n < 0 && errno != EINTR)
			return fail("Q: epoll_wait");
	}
}

static int ev_q_test(struct ev *e, const struct ev_cmd *c, uint64_t *t_end)
{
	char buf[4096];
	bool ss = c->test == EV_LAT_SS || c->test == EV_LOOP_SS || c->test == EV_BURST_SS;
	int fd = ss ? e->q[0] : e->q[1];
	long total = c->count * MSG_SIZE, got = 0;

	switch (c->test) {
	case EV_LAT_SS:
	case EV_LAT_EP:
		for (long it = 0; it < c->count; it++) {
			ssize_t r;

			do {
				if (ss ? ev_wait_read(e) : ev_wait_epoll(e))
					return -1;
				r = recv(fd, buf, sizeof(buf), 0);
			} while (r < 0 && errno == EAGAIN);
			if (r <= 0)
				return fail("Q: recv");
			if (send(fd, buf, (size_t)r, 0) != r)
				return fail("Q: send");
		}
		break;
	case EV_LOOP_SS:
	case EV_LOOP_EP:
		while (got < total) {
			ssize_t r;

			if (ss ? ev_wait_read(e) : ev_wait_epoll(e))
				return -1;
			while ((r = recv(fd, buf, sizeof(buf), 0)) > 0)
				got += r;
			if (r == 0 || (r < 0 && errno != EAGAIN))
				return fail("Q: recv");
		}
		break;
	case EV_BURST_SS:
	case EV_BURST_EP:
		for (long it = 0; it < c->count; it++) {
			ssize_t r = 0;

			for (got = 0; got < EV_BURST * MSG_SIZE;) {
				if (ss ? ev_wait_read(e) : ev_wait_epoll(e))
					return -1;
				while ((r = recv(fd, buf, sizeof(buf), 0)) > 0)
					got += r;
				if (r == 0 || (r < 0 && errno != EAGAIN))
					return fail("Q: recv burst");
			}
			if (send(fd, buf, 1, 0) != 1)
				return fail("Q: send");
		}
		break;
	case EV_STREAM_REG:
	case EV_STREAM_PLAIN:
		fd = c->test == EV_STREAM_REG ? e->q[2] : e->q[3];
		while (got < total) {
			ssize_t r = recv(fd, buf, MSG_SIZE, 0);

			if (r <= 0)
				return fail("Q: recv stream");
			got += r;
		}
		break;
	}
	*t_end = now_ns();
	return 0;
}

static int ev_q_main(struct ev *e)
{
	struct epoll_event ev = { .events = EPOLLIN };

	/* Q is the registrant of the sharedsock sockets. */
	e->evfd = eventfd(0, EFD_CLOEXEC);
	e->evfd_stream = eventfd(0, EFD_CLOEXEC);
	if (e->evfd < 0 || e->evfd_stream < 0)
		return fail("Q: eventfd");
	if (ss_event_select(e->q[0], e->evfd, SS_FD_READ))
		return fail("Q: ss_event_select");
	if (ss_event_select(e->q[2], e->evfd_stream, SS_FD_READ))
		return fail("Q: ss_event_select (stream)");
	/* The stream tests read with blocking recv on both sockets. */
	if (set_nonblock(e->q[2], false))
		return fail("Q: clear O_NONBLOCK");
	e->ep = epoll_create1(EPOLL_CLOEXEC);
	ev.data.fd = e->q[1];
	if (e->ep < 0 || epoll_ctl(e->ep, EPOLL_CTL_ADD, e->q[1], &ev))
		return fail("Q: epoll");
	if (set_nonblock(e->q[1], true))
		return fail("Q: O_NONBLOCK");

	for (int cpu = -1, fifo = 0;;) {
		struct ev_cmd c;
		uint64_t t = 0;

		if (read_full(e->cmd[0], &c, sizeof(c)))
			return 1;
		if (c.test == EV_QUIT)
			return 0;
		if (c.cpu != cpu) {
			if (pin_cpu(c.cpu))
				fail("Q: sched_setaffinity");
			cpu = c.cpu;
		}
		if (c.fifo != fifo) {
			if (set_fifo(c.fifo))
				return fail("Q: SCHED_FIFO");
			fifo = c.fifo;
		}
		if (ev_q_test(e, &c, &t))
			t = 0;
		if (write_full(e->ack[1], &t, sizeof(t)) || !t)
			return 1;
	}
}

/* P's half of test @test; @t0 gets the start of a streaming test. */
static int ev_p_run(struct ev *e, int test, long count, uint64_t *lat, char *buf, uint64_t *t0)
{
	int fd;

	switch (test) {
	case EV_LAT_SS:
	case EV_LAT_EP:
		fd = test == EV_LAT_SS ? e->p[0] : e->p[1];
		for (long it = 0; it < count; it++) {
			uint64_t t = now_ns();

			if (send(fd, buf, 1, 0) != 1 || recv(fd, buf, 1, 0) != 1)
				return fail("P: ping");
			lat[it] = now_ns() - t;
		}
		break;
	case EV_BURST_SS:
	case EV_BURST_EP:
		fd = test == EV_BURST_SS ? e->p[0] : e->p[1];
		for (long it = 0; it < count; it++) {
			uint64_t t = now_ns();

			for (int k = 0; k < EV_BURST; k++)
				if (send(fd, buf, MSG_SIZE, 0) != MSG_SIZE)
					return fail("P: send burst");
			if (recv(fd, buf, 1, 0) != 1)
				return fail("P: burst reply");
			lat[it] = (now_ns() - t) / EV_BURST;
		}
		break;
	default:
		fd = test == EV_LOOP_SS ? e->p[0] : test == EV_LOOP_EP ? e->p[1] :
		     test == EV_STREAM_REG ? e->p[2] : e->p[3];
		*t0 = now_ns();
		for (long it = 0; it < count; it++)
			if (write_full(fd, buf, MSG_SIZE))
				return fail("P: send stream");
		break;
	}
	return 0;
}

/* P's side of one test; returns the run's value (ns per round trip/msg). */
static int ev_p_test(struct ev *e, int test, int cpu, long count, uint64_t *lat,
		     double *value)
{
	bool fifo = test == EV_BURST_SS || test == EV_BURST_EP;
	struct ev_cmd c = { .test = test, .cpu = cpu, .fifo = fifo, .count = count };
	char buf[MSG_SIZE];
	uint64_t t0 = 0, t_end;
	int ret;

	memset(buf, 'e', sizeof(buf));
	if (write_full(e->cmd[1], &c, sizeof(c)))
		return fail("P: command");
	if (fifo && set_fifo(true))
		return fail("P: SCHED_FIFO");
	ret = ev_p_run(e, test, count, lat, buf, &t0);
	if (fifo)
		set_fifo(false);
	if (ret)
		return -1;
	if (read_full(e->ack[0], &t_end, sizeof(t_end)) || !t_end) {
		say("error: Q failed test %d", test);
		return -1;
	}
	if (test == EV_LAT_SS || test == EV_LAT_EP || test == EV_BURST_SS || test == EV_BURST_EP)
		*value = median_u64(lat, (size_t)count);
	else
		*value = (double)(t_end - t0) / (double)count;
	return 0;
}

/*
 * One thread sends bursts of small messages on a loopback pair and reads
 * them back: the whole per-packet CPU cost (send, loopback receive path in
 * softirq, wake-up callbacks, recv) without any scheduling in between.
 * Three classes of CPU_CONNS connections each: readers registered, not
 * registered, and not registered either (the control, for the bias of the
 * method).  Bursts rotate over the classes, and within a class over its
 * connections, so that a slower moment of the host weighs on all; @v gets
 * each class's median burst, per message.
 */
#define CPU_CONNS 8

static int ev_cpu_cost(int (*wfd)[CPU_CONNS], int (*rfd)[CPU_CONNS], long msgs, double *v)
{
	enum { BURST = 32, CLASSES = 3 };
	char buf[MSG_SIZE];
	size_t nb = (size_t)(msgs + BURST - 1) / BURST, k = 0;
	uint64_t *t[CLASSES];

	for (int j = 0; j < CLASSES; j++) {
		t[j] = calloc(nb, sizeof(uint64_t));
		if (!t[j])
			return fail("calloc");
	}
	memset(buf, 'c', sizeof(buf));
	for (long done = 0; done < msgs; done += BURST, k++)
		for (int j = 0; j < CLASSES; j++) {
			int cls = (int)((k + (size_t)j) % CLASSES);
			int w = wfd[cls][(k / CLASSES) % CPU_CONNS];
			int r = rfd[cls][(k / CLASSES) % CPU_CONNS];
			uint64_t t0 = now_ns();

			for (int i = 0; i < BURST; i++)
				if (send(w, buf, MSG_SIZE, 0) != MSG_SIZE)
					return fail("send");
			for (long left = (long)BURST * MSG_SIZE; left > 0;) {
				ssize_t n = recv(r, buf, MSG_SIZE, 0);

				if (n < 0 && errno == EAGAIN)
					continue;
				if (n <= 0)
					return fail("recv");
				left -= n;
			}
			t[cls][k] = now_ns() - t0;
		}
	for (int j = 0; j < CLASSES; j++) {
		v[j] = median_u64(t[j], k) / BURST;
		free(t[j]);
	}
	return 0;
}

static void *ev_q_thread(void *arg)
{
	return (void *)(intptr_t)ev_q_main(arg);
}

/* Four loopback pairs and the command pipes, then Q as a thread or process. */
static int ev_start(struct ev *e, bool thread)
{
	memset(e, 0, sizeof(*e));
	e->thread = thread;
	for (int i = 0; i < 4; i++)
		if (tcp_pair(&e->p[i], &e->q[i]))
			return -1;
	if (pipe2(e->cmd, O_CLOEXEC) || pipe2(e->ack, O_CLOEXEC))
		return fail("pipe");
	if (thread) {
		errno = pthread_create(&e->qthr, NULL, ev_q_thread, e);
		return errno ? fail("pthread_create") : 0;
	}
	fflush(stdout);
	e->qpid = fork();
	if (e->qpid < 0)
		return fail("fork");
	if (e->qpid == 0) {
		die_with_parent();
		for (int i = 0; i < 4; i++)
			close(e->p[i]);
		_exit(ev_q_main(e));
	}
	for (int i = 0; i < 4; i++)
		close(e->q[i]);
	return 0;
}

static int ev_stop(struct ev *e)
{
	struct ev_cmd quit = { .test = EV_QUIT };
	int rc;

	write_full(e->cmd[1], &quit, sizeof(quit));
	if (e->thread) {
		void *ret;

		pthread_join(e->qthr, &ret);
		rc = (int)(intptr_t)ret;
		for (int i = 0; i < 4; i++)
			close(e->q[i]);
		close(e->evfd);
		close(e->evfd_stream);
		close(e->ep);
	} else {
		rc = wait_exit(e->qpid);
	}
	for (int i = 0; i < 4; i++)
		close(e->p[i]);
	for (int i = 0; i < 2; i++) {
		close(e->cmd[i]);
		close(e->ack[i]);
	}
	if (rc)
		say("error: event peer Q (%s) failed", e->thread ? "thread" : "process");
	return rc ? -1 : 0;
}

/* Run tests @a and @b (the sharedsock one and its peer) in both orders. */
static int ev_pair(struct ev *e, int ta, int tb, int cpu, long count, uint64_t *lat,
		   bool swap, double *a, double *b)
{
	if (swap)
		return ev_p_test(e, tb, cpu, count, lat, b) ||
		       ev_p_test(e, ta, cpu, count, lat, a) ? -1 : 0;
	return ev_p_test(e, ta, cpu, count, lat, a) ||
	       ev_p_test(e, tb, cpu, count, lat, b) ? -1 : 0;
}

static int phase_event(void)
{
	struct ev thr, proc;
	int ret = -1, np = nplacements();
	int lat_ss[3], lat_ep[3], loop_ss = -1, loop_ep = -1, st_reg = -1, st_plain = -1;
	int st_pct = -1, burst_ss, burst_ep;
	long burst_n = opt.latency_iters / 4 + 1;
	long lat_n = opt.latency_iters;
	uint64_t *lat = calloc((size_t)lat_n + 1, sizeof(*lat));
	static const char *const sect[3] = { "event", "event-xcpu", "event-proc" };
	double v;

	if (!lat)
		return fail("calloc");
	for (int k = 0; k < 3; k++) {
		char name[48];

		if (k == 1 && np < 2)
			continue;
		snprintf(name, sizeof(name), "%s.latency.sharedsock", sect[k]);
		lat_ss[k] = row_new(name, "ping-pong: eventfd wake + enum FD_READ + recv", "ns/rtt");
		snprintf(name, sizeof(name), "%s.latency.epoll", sect[k]);
		lat_ep[k] = row_new(name, "ping-pong: epoll_wait + recv", "ns/rtt");
		if (k != 1)
			continue;
		loop_ss = row_new("event-xcpu.loop.sharedsock",
				  "event loop (eventfd+enum, drain), 64 B msgs", "ns/msg");
		loop_ep = row_new("event-xcpu.loop.epoll",
				  "event loop (epoll_wait, drain), 64 B msgs", "ns/msg");
	}
	burst_ss = row_new("event.burst.sharedsock",
			   "32 msgs/wake (FIFO): eventfd+enum, drain, reply", "ns/msg");
	burst_ep = row_new("event.burst.epoll", "32 msgs/wake (FIFO): epoll_wait, drain, reply",
			   "ns/msg");
	if (np >= 2) {
		st_reg = row_new("overhead-xcpu.stream.registered",
				 "stream 64 B msgs, blocking recv, registered", "ns/msg");
		st_plain = row_new("overhead-xcpu.stream.plain",
				   "stream 64 B msgs, blocking recv, not registered", "ns/msg");
		st_pct = row_new("overhead-xcpu.stream.percent",
				 "per-packet overhead of a registration (stream)", "%");
	}

	if (pin_cpu(0))
		return fail("sched_setaffinity");
	if (ev_start(&proc, false))
		return -1;
	if (ev_start(&thr, true)) {
		ev_stop(&proc);
		return -1;
	}

	/* Warm-up. */
	for (int pl = 0; pl < np; pl++)
		for (int t = EV_LAT_SS; t <= (pl ? EV_STREAM_PLAIN : EV_LAT_EP); t++)
			if (ev_p_test(&thr, t, pl, t <= EV_LAT_EP ? lat_n / 8 + 1 :
				      opt.stream_msgs / 8 + 1, lat, &v))
				goto out;
	if (ev_p_test(&thr, EV_BURST_SS, 0, burst_n / 8 + 1, lat, &v) ||
	    ev_p_test(&thr, EV_BURST_EP, 0, burst_n / 8 + 1, lat, &v) ||
	    ev_p_test(&proc, EV_LAT_SS, 0, lat_n / 8 + 1, lat, &v) ||
	    ev_p_test(&proc, EV_LAT_EP, 0, lat_n / 8 + 1, lat, &v))
		goto out;

	for (int r = 0; r < opt.runs; r++) {
		uint64_t t0 = now_ns();
		bool swap = r % 2;
		double a, b;

		/* Latency: threads on one CPU, threads on two, processes on one. */
		for (int k = 0; k < 3; k++) {
			if (k == 1 && np < 2)
				continue;
			if (ev_pair(k == 2 ? &proc : &thr, EV_LAT_SS, EV_LAT_EP, k == 1, lat_n, lat,
				    swap, &a, &b))
				goto out;
			row_add(lat_ss[k], a);
			row_add(lat_ep[k], b);
			row_ratio(lat_ss[k], lat_ep[k], a / b);
		}

		/* Event-loop throughput: bursts, one CPU. */
		if (ev_pair(&thr, EV_BURST_SS, EV_BURST_EP, 0, burst_n, lat, swap, &a, &b))
			goto out;
		row_add(burst_ss, a);
		row_add(burst_ep, b);
		row_ratio(burst_ss, burst_ep, a / b);

		if (np >= 2) {
			/* Event-loop throughput, reader on the other CPU. */
			if (ev_pair(&thr, EV_LOOP_SS, EV_LOOP_EP, 1, opt.stream_msgs, lat, swap,
				    &a, &b))
				goto out;
			row_add(loop_ss, a);
			row_add(loop_ep, b);
			row_ratio(loop_ss, loop_ep, a / b);

			/* Streaming throughput, blocking reader on the other CPU. */
			if (ev_pair(&thr, EV_STREAM_REG, EV_STREAM_PLAIN, 1, opt.stream_msgs, lat,
				    swap, &a, &b))
				goto out;
			row_add(st_reg, a);
			row_add(st_plain, b);
			row_ratio(st_reg, st_plain, a / b);
			row_add(st_pct, (a / b - 1) * 100);
		}
		say("event run %d/%d: %.1f s", r + 1, opt.runs, (now_ns() - t0) / 1e9);
	}
	ret = 0;
out:
	if (ev_stop(&thr))
		ret = -1;
	if (ev_stop(&proc))
		ret = -1;
	return ret;
}

/*
 * One run of the per-packet overhead: fresh pairs (so that where their
 * memory lands, which biases a class in software emulation, changes from
 * run to run), the first class's readers registered by this process, the
 * other two classes never registered.
 */
static int overhead_run(long msgs, double *cv)
{
	int w[3][CPU_CONNS], r[3][CPU_CONNS], evfd, made = 0, ret = -1;

	evfd = eventfd(0, EFD_CLOEXEC);
	if (evfd < 0)
		return fail("eventfd");
	for (; made < 3 * CPU_CONNS; made++) {
		int i = made / CPU_CONNS, c = made % CPU_CONNS;

		if (tcp_pair(&w[i][c], &r[i][c]))
			goto out;
		if (i == 0 ? ss_event_select(r[i][c], evfd, SS_FD_READ) :
			     set_nonblock(r[i][c], true)) {
			fail(i == 0 ? "ss_event_select" : "O_NONBLOCK");
			made++;
			goto out;
		}
	}
	if (!ev_cpu_cost(w, r, 1024, cv))		/* warm-up */
		ret = ev_cpu_cost(w, r, msgs, cv);
out:
	while (made--) {
		close(w[made / CPU_CONNS][made % CPU_CONNS]);
		close(r[made / CPU_CONNS][made % CPU_CONNS]);
	}
	close(evfd);
	return ret;
}

/* Per-packet overhead of a registration, one thread. */
static int phase_overhead(void)
{
	int reg = row_new("overhead.cpu.registered", "send+recv 64 B, reader registered",
			  "ns/msg");
	int plain = row_new("overhead.cpu.plain", "send+recv 64 B, not registered", "ns/msg");
	int pct = row_new("overhead.cpu.percent", "per-packet overhead of a registration", "%");
	int ctl = row_new("overhead.cpu.control",
			  "  control: another unregistered pair vs the first", "%");
	double cv[3];

	if (pin_cpu(0))
		return fail("sched_setaffinity");
	for (int run = 0; run < opt.runs; run++) {
		if (overhead_run(opt.cpu_msgs, cv))
			return -1;
		row_add(reg, cv[0]);
		row_add(plain, cv[1]);
		row_ratio(reg, plain, cv[0] / cv[1]);
		row_add(pct, (cv[0] / cv[1] - 1) * 100);
		row_add(ctl, (cv[2] / cv[1] - 1) * 100);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* 3a. Memory per registration                                         */

static int phase_memory(void)
{
	long k = opt.regs;
	int *socks = calloc((size_t)k, sizeof(int)), evfd, dev;
	int r_slab, r_obj, r_size, r_sel, r_close;
	struct sharedsock_status st0, st1, st2;
	struct slab s0, s1;

	if (!socks)
		return fail("calloc");
	if (!raise_nofile((rlim_t)k + 256)) {
		struct rlimit rl;

		getrlimit(RLIMIT_NOFILE, &rl);
		k = (long)rl.rlim_cur - 256;
		note("registrations: RLIMIT_NOFILE allows only %ld", k);
	}
	evfd = eventfd(0, EFD_CLOEXEC);
	dev = open(SHAREDSOCK_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (evfd < 0 || dev < 0)
		return fail("eventfd / open %s", SHAREDSOCK_DEVICE_PATH);
	r_slab = row_new("mem.reg.slab", "kernel memory per registration (slab pages)", "bytes");
	r_obj = row_new("mem.reg.objects", "  active objects x object size", "bytes");
	r_size = row_new("mem.reg.objsize", "  sharedsock_reg object size", "bytes");
	r_sel = row_new("reg.select", "first ss_event_select of a UDP socket", "ns/op");
	r_close = row_new("reg.close", "close of a registered UDP socket", "ns/op");

	for (int r = 0; r < opt.runs; r++) {
		uint64_t t0, t1, t2;

		for (long i = 0; i < k; i++) {
			socks[i] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			if (socks[i] < 0)
				return fail("socket %ld", i);
		}
		/* The library opens its device descriptor on first use. */
		if (ss_registered_events(socks[0]) < 0)
			return fail("ss_registered_events");
		if (dev_status(dev, &st0))
			return fail("STATUS");
		if (slab_read("sharedsock_reg", &s0)) {
			if (!access("/proc/slabinfo", R_OK)) {
				say("error: no sharedsock_reg cache in /proc/slabinfo");
				return -1;
			}
			if (!r)
				note("memory per registration not measured: /proc/slabinfo unreadable");
		}
		t0 = now_ns();
		for (long i = 0; i < k; i++)
			if (ss_event_select(socks[i], evfd, SS_FD_READ))
				return fail("ss_event_select %ld", i);
		t1 = now_ns();
		if ((slab_read("sharedsock_reg", &s1) && !access("/proc/slabinfo", R_OK)) ||
		    dev_status(dev, &st1))
			return fail("slabinfo / STATUS");
		for (long i = 0; i < k; i++)
			close(socks[i]);
		t2 = now_ns();
		if (dev_status(dev, &st2))
			return fail("STATUS");
		if (st1.registrations - st0.registrations != (uint32_t)k ||
		    st2.registrations != st0.registrations) {
			say("error: STATUS counts %u -> %u -> %u registrations for %ld sockets",
			    st0.registrations, st1.registrations, st2.registrations, k);
			return -1;
		}
		row_add(r_sel, (double)(t1 - t0) / (double)k);
		row_add(r_close, (double)(t2 - t1) / (double)k);
		/* Memory from the first run only: later ones reuse freed slabs. */
		if (!r && s1.objsize) {
			row_add(r_slab, (double)(slab_bytes(&s1) - slab_bytes(&s0)) / (double)k);
			row_add(r_obj, (double)((s1.active_objs - s0.active_objs) * s1.objsize) /
				(double)k);
			row_add(r_size, (double)s1.objsize);
			say("memory: %ld registrations: %ld -> %ld slabs of %ld page(s), objsize %ld, %ld per slab",
			    k, s0.num_slabs, s1.num_slabs, s1.pagesperslab, s1.objsize,
			    s1.objperslab);
		}
	}
	close(dev);
	close(evfd);
	free(socks);
	return 0;
}

/* ------------------------------------------------------------------ */
/* 3b. Scale: redeem with many pending tokens                          */

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

static int redeem_close(const struct ss_protocol_info *info)
{
	int fd = ss_socket_from_info(info, 0);

	if (fd < 0)
		return fail("ss_socket_from_info");
	close(fd);
	return 0;
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

static int phase_scale(void)
{
	long maxn = 0, s = opt.sample, pool = 0, retries = 0;
	struct ss_protocol_info *infos;
	unsigned int ttl = token_ttl_ms();
	int sock, red[MAX_LEVELS], fresh[MAX_LEVELS], exp[MAX_LEVELS];
	struct slab s0, s1;
	long k0, k1;
	char cnt[24];

	for (int i = 0; i < opt.nlevels; i++)
		if (opt.levels[i] > maxn)
			maxn = opt.levels[i];
	infos = calloc((size_t)(maxn + 2 * s), sizeof(*infos));
	if (!infos)
		return fail("calloc %ld tokens", maxn + 2 * s);
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return fail("socket");
	if (ss_registered_events(sock) < 0)	/* opens the library's descriptor */
		return fail("ss_registered_events");
	if (slab_read("sharedsock_token", &s0)) {
		if (!access("/proc/slabinfo", R_OK)) {
			say("error: no sharedsock_token cache in /proc/slabinfo");
			return -1;
		}
		note("memory per token not measured: /proc/slabinfo unreadable");
	}
	k0 = kernel_mem();
	sh->reap_slab_base = s0.active_objs;

	for (int kind = 0; kind < 3; kind++)
		for (int lv = 0; lv < opt.nlevels; lv++) {
			long n = opt.levels[lv];
			char name[48], label[72];

			fmt_count(n, cnt, sizeof(cnt));
			switch (kind) {
			case 0:
				snprintf(name, sizeof(name), "scale.redeem.%ld", n);
				snprintf(label, sizeof(label),
					 "redeem+close, random one of %s pending", cnt);
				red[lv] = row_new(name, label, "ns/op");
				if (lv)
					row_compare(red[lv], red[0]);
				break;
			case 1:
				snprintf(name, sizeof(name), "scale.fresh.%ld", n);
				snprintf(label, sizeof(label),
					 "redeem+close, just exported, %s pending", cnt);
				fresh[lv] = row_new(name, label, "ns/op");
				if (lv)
					row_compare(fresh[lv], fresh[0]);
				break;
			default:
				snprintf(name, sizeof(name), "scale.export.%ld", n);
				snprintf(label, sizeof(label),
					 "duplicate (to self) while filling to %s", cnt);
				exp[lv] = row_new(name, label, "ns/op");
				break;
			}
		}

	for (int lv = 0; lv < opt.nlevels; lv++) {
		long n = opt.levels[lv];
		uint64_t t0, t1;
		int row;

		fmt_count(n, cnt, sizeof(cnt));

		/* Fill: @n pending plus the sample that is redeemed each run. */
		t0 = now_ns();
		long from = pool;
		while (pool < n + s) {
			if (export_self(sock, ttl, &infos[pool], &retries))
				return -1;
			pool++;
		}
		t1 = now_ns();
		if (pool > from)
			row_add(exp[lv], (double)(t1 - t0) / (double)(pool - from));
		/* Let a deferred rhashtable resize finish before timing. */
		usleep(300000);

		if (n == maxn && s0.objsize) {
			if (slab_read("sharedsock_token", &s1))
				return fail("slabinfo");
			k1 = kernel_mem();
			row = row_new("mem.token.slab", "kernel memory per pending token (slab pages)",
				      "bytes");
			row_add(row, (double)(slab_bytes(&s1) - slab_bytes(&s0)) / (double)pool);
			row = row_new("mem.token.objects", "  active objects x object size", "bytes");
			row_add(row, (double)((s1.active_objs - s0.active_objs) * s1.objsize) /
				(double)pool);
			row = row_new("mem.token.objsize", "  sharedsock_token object size", "bytes");
			row_add(row, (double)s1.objsize);
			row = row_new("mem.token.kernel",
				      "  all slab + vmalloc per token (hash table...)", "bytes");
			row_add(row, (double)(k1 - k0) / (double)pool);
			say("scale: %ld pending tokens: %ld -> %ld slabs of %ld page(s), objsize %ld",
			    pool, s0.num_slabs, s1.num_slabs, s1.pagesperslab, s1.objsize);
		}

		for (int r = 0; r < opt.runs; r++) {
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
			row_add(red[lv], v);
			for (long k = pool - s; k < pool; k++)
				if (export_self(sock, ttl, &infos[k], &retries))
					return -1;

			/* Fresh tokens, redeemed in export order. */
			for (long k = pool; k < pool + s; k++)
				if (export_self(sock, ttl, &infos[k], &retries))
					return -1;
			if (redeem_blocks(infos, pool, s, &v))
				return -1;
			row_add(fresh[lv], v);
		}
		say("scale: %s pending: redeem runs done", cnt);
	}
	if (retries)
		note("scale: %ld duplicate calls were retried (ENOMEM/EBUSY)", retries);

	/*
	 * The parent times how long the exit of the target takes to free them.
	 * The reap runs from a work item queued where the process exits: CPU 1,
	 * while the parent probes from CPU 0.
	 */
	if (sysconf(_SC_NPROCESSORS_ONLN) >= 2)
		pin_cpu(1);
	sh->reap_tokens = pool;
	sh->reap_exit_ns = now_ns();
	return 0;
}

/*
 * Parent: after the scale child exited, wait for its tokens to be freed,
 * meanwhile timing duplicate+revoke of a token of our own (raw ioctls on a
 * descriptor of our own) to see how long the reap holds sharedsock_lock.
 */
static void measure_reap(void)
{
	struct sharedsock_status st;
	int dev = open(SHAREDSOCK_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	uint64_t t = 0, freed = 0, worst = 0, *probe = calloc(200000, sizeof(uint64_t));
	uint64_t idle[64];
	size_t np = 0;
	char cnt[24], label[72];
	int row;

	if (dev < 0 || sock < 0 || !probe) {
		fail("open %s", SHAREDSOCK_DEVICE_PATH);
		return;
	}
	pin_cpu(0);
	for (;;) {
		struct sharedsock_duplicate d = {
			.size = sizeof(d), .fd = sock, .pid = getpid(),
		};
		struct sharedsock_revoke rv = { .size = sizeof(rv) };
		uint64_t t0;

		if (dev_status(dev, &st)) {
			fail("STATUS");
			break;
		}
		if (st.tokens_pending == 0) {
			t = now_ns();
			break;
		}
		if (now_ns() - sh->reap_exit_ns > 120000000000ULL)
			break;
		t0 = now_ns();
		if (ioctl(dev, SHAREDSOCK_IOC_DUPLICATE, &d)) {
			fail("DUPLICATE during the reap");
			break;
		}
		rv.info = d.info;
		if (ioctl(dev, SHAREDSOCK_IOC_REVOKE, &rv)) {
			fail("REVOKE during the reap");
			break;
		}
		t0 = now_ns() - t0;
		if (t0 > worst)
			worst = t0;
		if (np < 200000)
			probe[np++] = t0;
		usleep(200);
	}
	/* The same probe once nothing is being reaped. */
	for (size_t i = 0; i < sizeof(idle) / sizeof(idle[0]); i++) {
		struct sharedsock_duplicate d = {
			.size = sizeof(d), .fd = sock, .pid = getpid(),
		};
		struct sharedsock_revoke rv = { .size = sizeof(rv) };
		uint64_t t0 = now_ns();

		if (ioctl(dev, SHAREDSOCK_IOC_DUPLICATE, &d))
			break;
		rv.info = d.info;
		ioctl(dev, SHAREDSOCK_IOC_REVOKE, &rv);
		idle[i] = now_ns() - t0;
		usleep(200);
	}
	close(sock);
	close(dev);
	unpin();
	if (!t) {
		say("error: %u tokens still pending 2 min after their target exited",
		    st.tokens_pending);
		free(probe);
		return;
	}
	/* Unlinked (STATUS says 0 pending); freed once the slab objects are gone. */
	for (int i = 0; i < 60000; i++) {
		struct slab sl;

		if (slab_read("sharedsock_token", &sl))
			break;
		if (sl.active_objs <= sh->reap_slab_base + sh->reap_tokens / 100) {
			freed = now_ns();
			break;
		}
		usleep(2000);
	}
	fmt_count(sh->reap_tokens, cnt, sizeof(cnt));
	snprintf(label, sizeof(label), "target exit, %s pending: all unlinked after", cnt);
	row = row_new("scale.reap_unlinked", label, "ms");
	row_add(row, (double)(t - sh->reap_exit_ns) / 1e6);
	if (freed) {
		row = row_new("scale.reap_freed", "  99% of the token objects freed after", "ms");
		row_add(row, (double)(freed - sh->reap_exit_ns) / 1e6);
	}
	row = row_new("scale.reap_dup_worst", "  worst duplicate+revoke meanwhile, other CPU",
		      "ms");
	row_add(row, (double)worst / 1e6);
	row = row_new("scale.idle_dup_median", "  the same probe afterwards (median)", "ns/op");
	row_add(row, median_u64(idle, sizeof(idle) / sizeof(idle[0])));
	say("scale: reap of %ld tokens: %zu probes, worst %.1f ms", sh->reap_tokens, np,
	    worst / 1e6);
	free(probe);
}

/* ------------------------------------------------------------------ */
/* 4. The pieces, in one process                                       */

/* Send @nf descriptors of @sock over the socketpair and receive and close them. */
static int scm_roundtrip(const int *sp, int sock, int nf)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * HO_MAXN)];
		struct cmsghdr align;
	} u;
	int fds[HO_MAXN];
	char byte = 'm';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr m = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);

	for (int k = 0; k < nf; k++)
		fds[k] = sock;
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nf);
	memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)nf);
	if (sendmsg(sp[0], &m, 0) != 1)
		return fail("sendmsg");
	m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nf);
	if (recvmsg(sp[1], &m, 0) != 1)
		return fail("recvmsg");
	cm = CMSG_FIRSTHDR(&m);
	if (!cm || cm->cmsg_len != CMSG_LEN(sizeof(int) * (size_t)nf)) {
		say("error: SCM_RIGHTS: descriptors missing");
		return -1;
	}
	memcpy(fds, CMSG_DATA(cm), sizeof(int) * (size_t)nf);
	for (int k = 0; k < nf; k++)
		close(fds[k]);
	return 0;
}

/* One vectored handoff of @nf sockets to this process, then close them. */
static int vec_roundtrip(const int *socks, int nf)
{
	struct ss_protocol_info info;
	int fds[HO_MAXN];

	if (ss_duplicate_sockets(socks, (unsigned int)nf, getpid(), 0, &info))
		return fail("ss_duplicate_sockets");
	if (ss_sockets_from_info(&info, fds, HO_MAXN, 0) != nf)
		return fail("ss_sockets_from_info");
	for (int k = 0; k < nf; k++)
		close(fds[k]);
	return 0;
}

static int phase_micro(void)
{
	int pool64[HO_MAXN];
	long n = opt.micro_ops;
	struct ss_protocol_info *infos = calloc((size_t)n, sizeof(*infos));
	int rows[16], sock, pidfd, sp[2], pp[2], evfd, ep, c, srv, dummy;
	struct epoll_event eev = { .events = EPOLLIN };
	char buf[64];

	if (!infos)
		return fail("calloc");
	if (tcp_pair(&sock, &srv))
		return -1;
	pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (pidfd < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) ||
	    pipe2(pp, O_CLOEXEC))
		return fail("setup");
	/* A registered socket with nothing pending, and its epoll twin. */
	if (tcp_pair(&c, &dummy))
		return -1;
	evfd = eventfd(0, EFD_CLOEXEC);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (evfd < 0 || ep < 0 || ss_event_select(c, evfd, SS_FD_READ) ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, srv, &eev))
		return fail("setup events");

	rows[0] = row_new("micro.syscall", "getppid() (syscall floor)", "ns/op");
	rows[1] = row_new("micro.clock", "clock_gettime(CLOCK_MONOTONIC)", "ns/op");
	rows[2] = row_new("micro.ss_duplicate", "ss_duplicate_socket ioctl (to self)", "ns/op");
	rows[3] = row_new("micro.ss_redeem_close", "ss_socket_from_info ioctl + close", "ns/op");
	rows[4] = row_new("micro.dup_close", "dup() + close (fd install floor)", "ns/op");
	rows[5] = row_new("micro.pidfd_getfd_close", "pidfd_getfd (self) + close", "ns/op");
	rows[6] = row_new("micro.scm1", "SCM_RIGHTS 1 fd send+recv+close, 1 proc", "ns/op");
	rows[7] = row_new("micro.scm64", "SCM_RIGHTS 64 fds send+recv+close, 1 proc",
			  "ns/socket");
	rows[8] = row_new("micro.pipe40", "pipe write+read of one 40 B token", "ns/op");
	rows[9] = row_new("micro.ss_enum", "ss_enum_network_events, nothing pending", "ns/op");
	rows[10] = row_new("micro.epoll_wait0", "epoll_wait(timeout 0), nothing ready", "ns/op");
	rows[11] = row_new("micro.getrandom16", "getrandom(16 B): the CRNG a secret comes from",
			   "ns/op");
	rows[12] = row_new("micro.ss_dup_revoke", "ss_duplicate_socket + ss_revoke (to self)",
			   "ns/op");
	rows[13] = row_new("micro.ss_vec64", "ss_duplicate_sockets + ss_sockets_from_info"
			   " + close, 64 sockets, 1 proc", "ns/socket");
	for (int k = 0; k < HO_MAXN; k++)
		pool64[k] = sock;

	for (int r = 0; r < opt.runs; r++) {
		struct ss_network_events ne;
		struct epoll_event out;
		long n64 = n / 16 + 1;

/*
 * Time the statements over i in [0, count) in blocks of 50; the run's value
 * is the median block's mean, divided by @per.
 */
#define TIMED(rowi, count, per, ...) do {					\
		uint64_t m_[1024];						\
		size_t nb_ = 0;							\
		for (long b_ = 0; b_ < (count); b_ += 50) {			\
			long e_ = b_ + 50 < (count) ? b_ + 50 : (count);	\
			uint64_t t_ = now_ns();					\
			for (long i = b_; i < e_; i++) {			\
				__VA_ARGS__					\
			}							\
			if (nb_ < 1024)						\
				m_[nb_++] = (now_ns() - t_) / (uint64_t)(e_ - b_); \
		}								\
		row_add(rowi, median_u64(m_, nb_) / (per));			\
	} while (0)

		TIMED(rows[0], n, 1, syscall(SYS_getppid););
		TIMED(rows[1], n, 1, now_ns(););
		TIMED(rows[2], n, 1,
		      if (ss_duplicate_socket(sock, getpid(), &infos[i]))
			      return fail("ss_duplicate_socket"););
		TIMED(rows[3], n, 1, if (redeem_close(&infos[i])) return -1;);
		TIMED(rows[4], n, 1,
		      int fd = dup(sock);
		      if (fd < 0)
			      return fail("dup");
		      close(fd););
		TIMED(rows[5], n, 1,
		      int fd = (int)syscall(SYS_pidfd_getfd, pidfd, sock, 0);
		      if (fd < 0)
			      return fail("pidfd_getfd");
		      close(fd););
		TIMED(rows[6], n, 1, if (scm_roundtrip(sp, sock, 1)) return -1;);
		TIMED(rows[7], n64, HO_MAXN, if (scm_roundtrip(sp, sock, HO_MAXN)) return -1;);
		TIMED(rows[8], n, 1,
		      if (write_full(pp[1], &infos[0], sizeof(infos[0])) ||
			  read_full(pp[0], buf, sizeof(infos[0])))
			      return fail("pipe"););
		TIMED(rows[9], n, 1,
		      if (ss_enum_network_events(c, evfd, &ne))
			      return fail("ss_enum_network_events"););
		TIMED(rows[10], n, 1,
		      if (epoll_wait(ep, &out, 1, 0) < 0)
			      return fail("epoll_wait"););
		TIMED(rows[11], n, 1,
		      if (getrandom(buf, 16, 0) != 16)
			      return fail("getrandom"););
		TIMED(rows[12], n, 1,
		      if (ss_duplicate_socket(sock, getpid(), &infos[0]) || ss_revoke(&infos[0]))
			      return fail("duplicate + revoke"););
		TIMED(rows[13], n64, HO_MAXN,
		      if (vec_roundtrip(pool64, HO_MAXN)) return -1;);
#undef TIMED
	}
	free(infos);
	return 0;
}

/* ------------------------------------------------------------------ */
/* 5. Unload with pending tokens (the parent, last)                    */

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

static int phase_unload(void)
{
	long u = opt.unload_tokens;
	int closed, r_empty, r_full, r_tok, r_load, r_dev;
	char cnt[24], label[72];

	if (geteuid() != 0 || access(opt.ko, R_OK)) {
		say("unload: skipped (needs root and %s)", opt.ko);
		note("unload phase skipped: needs root and %s", opt.ko);
		return 0;
	}
	closed = close_device_fds();
	if (closed)
		note("unload: closed %d stray /dev/sharedsock descriptor(s) first", closed);

	fmt_count(u, cnt, sizeof(cnt));
	r_empty = row_new("unload.empty", "delete_module, nothing pending", "ms");
	snprintf(label, sizeof(label), "delete_module with %s pending tokens", cnt);
	r_full = row_new("unload.tokens", label, "ms");
	r_tok = row_new("unload.per_token", "  teardown per token (minus empty unload)",
			"ns/token");
	r_load = row_new("unload.reload", "finit_module (reload)", "ms");
	r_dev = row_new("unload.reload_dev", "  until /dev/sharedsock is back", "ms");

	for (int r = 0; r < opt.runs; r++) {
		uint64_t empty_ns, full_ns, load_ns, dev_ns;
		int sock = -1;

		/* The floor: unload and reload with nothing pending ... */
		if (unload_module(&empty_ns) || load_module(&load_ns, &dev_ns))
			return -1;
		row_add(r_empty, (double)empty_ns / 1e6);
		row_add(r_load, (double)load_ns / 1e6);
		row_add(r_dev, (double)dev_ns / 1e6);

		/* ... then with @u tokens pending (every device fd closed). */
		if (export_raw(u, &sock))
			return -1;
		if (unload_module(&full_ns))
			return -1;
		close(sock);
		if (load_module(&load_ns, &dev_ns))
			return -1;
		row_add(r_full, (double)full_ns / 1e6);
		row_add(r_tok, ((double)full_ns - (double)empty_ns) / (double)u);
		row_ratio(r_full, r_empty, (double)full_ns / (double)empty_ns);
	}
	say("unload: %d cycles with %ld tokens; module loaded again", opt.runs, u);
	return 0;
}

/* ------------------------------------------------------------------ */
/* 6. Where the time goes: function_graph of the module's hot paths     */

static char tracefs[64];

static int tr_write(const char *file, const char *val)
{
	char path[128];
	int fd, ret;

	snprintf(path, sizeof(path), "%s/%s", tracefs, file);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return fail("open %s", path);
	ret = write(fd, val, strlen(val)) == (ssize_t)strlen(val) ? 0 : -1;
	if (ret)
		fail("write '%s' to %s", val, path);
	close(fd);
	return ret;
}

/* Set the graph functions one by one; report the module's traceable ones if one is missing. */
static int tr_graph_functions(const char *funcs)
{
	char list[256], *save = NULL, path[128];
	bool first = true;

	snprintf(list, sizeof(list), "%s", funcs);
	snprintf(path, sizeof(path), "%s/set_graph_function", tracefs);
	for (char *f = strtok_r(list, " ", &save); f; f = strtok_r(NULL, " ", &save)) {
		int fd = open(path, O_WRONLY | O_CLOEXEC | (first ? O_TRUNC : O_APPEND));
		bool ok = fd >= 0 && write(fd, f, strlen(f)) == (ssize_t)strlen(f);

		if (fd >= 0)
			close(fd);
		first = false;
		if (!ok) {
			char line[256], avail[128];
			FILE *a;

			fail("set_graph_function %s", f);
			snprintf(avail, sizeof(avail), "%s/available_filter_functions", tracefs);
			a = fopen(avail, "re");
			while (a && fgets(line, sizeof(line), a))
				if (strstr(line, "[sharedsock]"))
					printf("# trace: traceable: %s", line);
			if (a)
				fclose(a);
			return -1;
		}
	}
	return 0;
}

/* Trace what @fn does under @funcs (depth @depth) and print it. */
static int tr_run(const char *title, const char *funcs, const char *depth,
		  int (*fn)(void *), void *arg)
{
	char path[128], line[512];
	FILE *f;
	int ret, lines = 0;

	if (tr_write("tracing_on", "0") || tr_write("current_tracer", "nop") ||
	    tr_write("trace", "") || tr_graph_functions(funcs) ||
	    tr_write("max_graph_depth", depth) ||
	    tr_write("current_tracer", "function_graph"))
		return -1;
	tr_write("options/funcgraph-irqs", "0");
	if (tr_write("tracing_on", "1"))
		return -1;
	ret = fn(arg);
	tr_write("tracing_on", "0");
	say("trace: %s (function_graph of %s, depth %s; times inflated by tracing)", title,
	    funcs, depth);
	snprintf(path, sizeof(path), "%s/trace", tracefs);
	f = fopen(path, "re");
	if (!f)
		return fail("open %s", path);
	while (fgets(line, sizeof(line), f) && lines < 400) {
		line[strcspn(line, "\n")] = 0;
		if (line[0] == '#' || !line[0])
			continue;
		printf("# trace | %s\n", line);
		lines++;
	}
	fclose(f);
	tr_write("current_tracer", "nop");
	tr_write("set_graph_function", "");
	tr_write("max_graph_depth", "0");
	return ret;
}

static int tr_tokens(void *arg)
{
	int sock = *(int *)arg;
	struct ss_protocol_info info[3];

	for (int i = 0; i < 3; i++)
		if (ss_duplicate_socket(sock, getpid(), &info[i]))
			return fail("ss_duplicate_socket");
	for (int i = 0; i < 3; i++)
		if (redeem_close(&info[i]))
			return -1;
	return 0;
}

static int tr_vec(void *arg)
{
	int socks[4] = { *(int *)arg, *(int *)arg, *(int *)arg, *(int *)arg };
	struct ss_protocol_info info;
	int fds[4];

	if (ss_duplicate_sockets(socks, 4, getpid(), 0, &info))
		return fail("ss_duplicate_sockets");
	if (ss_sockets_from_info(&info, fds, 4, 0) != 4)
		return fail("ss_sockets_from_info");
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	return 0;
}

static int tr_packets(void *arg)
{
	int *fds = arg;
	char buf[MSG_SIZE] = { 0 };

	for (int i = 0; i < 3; i++) {
		ssize_t r;

		if (send(fds[0], buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
			return fail("send");
		do
			r = recv(fds[1], buf, sizeof(buf), 0);
		while (r < 0 && errno == EAGAIN);
		if (r <= 0)
			return fail("recv");
	}
	return 0;
}

static int tr_enum(void *arg)
{
	int *fds = arg;
	struct ss_network_events ne;

	for (int i = 0; i < 3; i++)
		if (ss_enum_network_events(fds[1], fds[2], &ne))
			return fail("ss_enum_network_events");
	return 0;
}

static int phase_trace(void)
{
	int sock, fds[3];
	struct stat st;

	snprintf(tracefs, sizeof(tracefs), "/sys/kernel/tracing");
	if (stat("/sys/kernel/tracing/trace", &st) &&
	    mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL))
		return fail("mount tracefs");
	pin_cpu(0);
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || tcp_pair(&fds[0], &fds[1]))
		return fail("socket");
	fds[2] = eventfd(0, EFD_CLOEXEC);
	/* Warm the paths (and open the library's descriptor) untraced. */
	if (tr_tokens(&sock) || fds[2] < 0 || ss_event_select(fds[1], fds[2], SS_FD_READ) ||
	    tr_packets(fds))
		return -1;
	if (tr_run("3 duplicates then 3 redeems+closes", "ss_ioctl", "4", tr_tokens, &sock) ||
	    tr_run("a vectored handoff of 4 sockets", "ss_ioctl", "5", tr_vec, &sock) ||
	    tr_run("3 x (64 B send, recv) on a registered TCP socket",
		   "ss_reg_wake ss_recvmsg", "3", tr_packets, fds) ||
	    tr_run("3 ss_enum_network_events", "ss_ioctl", "3", tr_enum, fds))
		return -1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Report                                                              */

struct target {
	const char *what;
	const char *row;
	const char *peer;	/* ratio to this row's median; NULL: the row's median */
	double limit;
	bool strict;		/* value < limit rather than <= */
	const char *unit;
};

static struct target targets[] = {
	{ "batched handoff (x64), sharedsock vectored / SCM_RIGHTS per socket",
	  "handoff.64.sharedsock_vec", "handoff.64.scm_rights", 0.8, false, "x" },
	{ "single handoff, sharedsock / SCM_RIGHTS",
	  "handoff.1.sharedsock", "handoff.1.scm_rights", 1.2, false, "x" },
	{ "event latency, sharedsock / epoll",
	  "event.latency.sharedsock", "event.latency.epoll", 1.2, false, "x" },
	{ "per-packet overhead of a registration",
	  "overhead.cpu.percent", NULL, 5.0, true, "%" },
	{ "redeem with most pending / fewest pending",
	  NULL, NULL, 1.2, false, "x" },	/* rows filled in from the levels */
	{ "kernel memory per pending token",
	  "mem.token.slab", NULL, 128, false, " B" },
	{ "kernel memory per registration",
	  "mem.reg.slab", NULL, 256, false, " B" },
};
#define NTARGETS (sizeof(targets) / sizeof(targets[0]))

static char redeem_hi[48], redeem_lo[48];

/* Measured value of a target; false when it was not measured. */
static bool target_value(const struct target *t, double *v)
{
	int i = t->row ? row_find(t->row) : -1, p;
	double mn, mx;

	if (i < 0 || !sh->rows[i].n)
		return false;
	if (!t->peer) {
		stats(sh->rows[i].v, sh->rows[i].n, v, &mn, &mx);
		return true;
	}
	p = row_find(t->peer);
	for (int k = 0; p >= 0 && k < sh->rows[i].npeers; k++)
		if (sh->rows[i].peer[k] == p)
			return row_ratio_stats(i, k, v, &mn, &mx);
	return false;
}

static bool target_met(const struct target *t, double v)
{
	return t->strict ? v < t->limit : v <= t->limit;
}

/* The target attached to row @i compared with peer @p (-1: none). */
static const struct target *target_of(int i, int p)
{
	for (size_t k = 0; k < NTARGETS; k++) {
		const struct target *t = &targets[k];

		if (!t->row || strcmp(t->row, sh->rows[i].name))
			continue;
		if (!t->peer ? p < 0 : p >= 0 && !strcmp(t->peer, sh->rows[p].name))
			return t;
	}
	return NULL;
}

static const char *fmtv(double v, char *buf, size_t len)
{
	double a = v < 0 ? -v : v;

	if (a >= 100)
		snprintf(buf, len, "%.0f", v);
	else if (a >= 10)
		snprintf(buf, len, "%.1f", v);
	else
		snprintf(buf, len, "%.2f", v);
	return buf;
}

static const char *peer_short(const char *name)
{
	const char *dot = strrchr(name, '.');

	return dot ? dot + 1 : name;
}

static const struct {
	const char *sect, *what;
} sections[] = {
	{ "micro", "the pieces, in one process (no wake-ups)" },
	{ "handoff", "A -> B until B holds a usable fd; A and B both on CPU 0" },
	{ "handoff-xcpu", "the same with A on CPU 0, B on CPU 1 (a cross-CPU wake-up each)" },
	{ "event", "sender P and registrant/reader Q: threads, both on CPU 0" },
	{ "event-xcpu", "threads, P on CPU 0, Q on CPU 1" },
	{ "event-proc", "processes, both on CPU 0" },
	{ "overhead", "per packet; 1 thread: 32 sends then 32 recvs, 8 fresh connections each per run" },
	{ "overhead-xcpu", "threads: writer on CPU 0, blocking reader on CPU 1" },
	{ "mem", "kernel memory from /proc/slabinfo deltas (booted with slab_nomerge)" },
	{ "reg", "registration calls (UDP sockets, one eventfd)" },
	{ "scale", "tokens of one UDP socket exported to this process; median of" },
	{ "unload", "delete_module(O_NONBLOCK) with no /dev/sharedsock fd open, reload" },
};

static void row_section(const struct row *r, char *sect, size_t len)
{
	const char *dot = strchr(r->name, '.');

	snprintf(sect, len, "%.*s", dot ? (int)(dot - r->name) : (int)strlen(r->name), r->name);
}

/* Rows grouped by section, sections in order of first appearance. */
static int ordered_rows(int *out)
{
	bool done[MAX_ROWS] = { false };
	int n = 0;

	for (int i = 0; i < sh->nrows; i++) {
		char si[48], sj[48];

		if (done[i])
			continue;
		row_section(&sh->rows[i], si, sizeof(si));
		for (int j = i; j < sh->nrows; j++) {
			row_section(&sh->rows[j], sj, sizeof(sj));
			if (!done[j] && !strcmp(si, sj)) {
				done[j] = true;
				out[n++] = j;
			}
		}
	}
	return n;
}

static void print_table(void)
{
	char prev[48] = "", b1[32], b2[32], b3[32], b4[32], b5[32], b6[32];
	int order[MAX_ROWS], n = ordered_rows(order);

	say("%-50s %-9s %9s %9s %9s %4s  %s", "measurement", "unit", "median", "min", "max",
	    "runs", "ratio to peer: median (min-max)");
	for (int o = 0; o < n; o++) {
		int i = order[o];
		struct row *r = &sh->rows[i];
		double med, mn, mx;
		char sect[48];

		if (!r->n)
			continue;
		row_section(r, sect, sizeof(sect));
		if (strcmp(sect, prev)) {
			const char *what = "";

			for (size_t k = 0; k < sizeof(sections) / sizeof(sections[0]); k++)
				if (!strcmp(sections[k].sect, sect))
					what = sections[k].what;
			say("%s", "");
			if (!strcmp(sect, "scale"))
				say("[scale] %s %ld-redeem blocks", what, 100L);
			else
				say("[%s] %s", sect, what);
			snprintf(prev, sizeof(prev), "%s", sect);
		}
		stats(r->v, r->n, &med, &mn, &mx);
		if (!r->npeers) {
			say("%-50s %-9s %9s %9s %9s %4d", r->label, r->unit,
			    fmtv(med, b1, 32), fmtv(mn, b2, 32), fmtv(mx, b3, 32), r->n);
			continue;
		}
		for (int k = 0; k < r->npeers; k++) {
			double rm, rmin, rmax;
			char ratio[96];

			if (row_ratio_stats(i, k, &rm, &rmin, &rmax))
				snprintf(ratio, sizeof(ratio), "%sx vs %s (%s-%s)%s",
					 fmtv(rm, b4, 32), peer_short(sh->rows[r->peer[k]].name),
					 fmtv(rmin, b5, 32), fmtv(rmax, b6, 32),
					 r->nr[k] ? "" : " [medians]");
			else
				snprintf(ratio, sizeof(ratio), "n/a");
			if (!k)
				say("%-50s %-9s %9s %9s %9s %4d  %s", r->label, r->unit,
				    fmtv(med, b1, 32), fmtv(mn, b2, 32), fmtv(mx, b3, 32), r->n,
				    ratio);
			else
				say("%-50s %-9s %9s %9s %9s %4s  %s", "", "", "", "", "", "", ratio);
		}
	}
}

static int print_targets(void)
{
	int met = 0, total = 0;
	char b1[32], b2[32];

	say("%s", "");
	say("%-62s %10s %10s  %s", "targets", "measured", "target", "verdict");
	for (size_t k = 0; k < NTARGETS; k++) {
		const struct target *t = &targets[k];
		double v;
		char meas[40], lim[40];

		snprintf(lim, sizeof(lim), "%s%s%s", t->strict ? "< " : "<= ",
			 fmtv(t->limit, b2, 32), t->unit);
		if (!target_value(t, &v)) {
			say("%-62s %10s %10s  %s", t->what, "-", lim, "not measured");
			continue;
		}
		snprintf(meas, sizeof(meas), "%s%s", fmtv(v, b1, 32), t->unit);
		total++;
		met += target_met(t, v);
		say("%-62s %10s %10s  %s", t->what, meas, lim, target_met(t, v) ? "PASS" : "MISS");
	}
	say("%d of %d targets met", met, total);
	return 0;
}

static void csv_field(const char *s)
{
	bool quote = strpbrk(s, ",\"") != NULL;

	if (!quote) {
		fputs(s, stdout);
		return;
	}
	putchar('"');
	for (; *s; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

static void print_csv(void)
{
	int order[MAX_ROWS], n = ordered_rows(order);

	printf("### CSV BEGIN\n");
	printf("name,unit,median,min,max,runs,peer,ratio,ratio_min,ratio_max,target,verdict,label\n");
	for (int o = 0; o < n; o++) {
		int i = order[o];
		struct row *r = &sh->rows[i];
		double med, mn, mx;
		int lines = r->npeers ? r->npeers : 1;

		if (!r->n)
			continue;
		stats(r->v, r->n, &med, &mn, &mx);
		for (int k = 0; k < lines; k++) {
			const struct target *t = target_of(i, r->npeers ? r->peer[k] : -1);
			double rm, rmin, rmax, tv;

			printf("%s,%s,%.6g,%.6g,%.6g,%d,", r->name, r->unit, med, mn, mx, r->n);
			if (r->npeers && row_ratio_stats(i, k, &rm, &rmin, &rmax))
				printf("%s,%.6g,%.6g,%.6g,", sh->rows[r->peer[k]].name, rm, rmin, rmax);
			else if (r->npeers)
				printf("%s,,,,", sh->rows[r->peer[k]].name);
			else
				printf(",,,,");
			if (t && target_value(t, &tv))
				printf("%s%g,%s,", t->strict ? "<" : "<=", t->limit,
				       target_met(t, tv) ? "PASS" : "MISS");
			else
				printf(",,");
			csv_field(r->label + strspn(r->label, " "));
			putchar('\n');
		}
	}
	printf("### CSV END\n");
	fflush(stdout);
}

/* ------------------------------------------------------------------ */
/* Main                                                                */

static void usage(void)
{
	say("usage: sharedsock_bench [OPTION]...   (options may also be joined by commas)");
	say("  runs=N               repeated runs (default %d, at most %d)", opt.runs, MAX_RUNS);
	say("  only=LIST, skip=LIST phases, ':'-separated: micro handoff event overhead memory scale");
	say("                       unload, and trace (which only runs when asked for)");
	say("  quick                3 runs, about a tenth of the work, levels 1k:100k");
	say("  trace                also print a function_graph trace of the module's hot paths");
	say("  xcpu                 also run handoff and event tests with the peers on two CPUs");
	say("                       (under QEMU TCG these measure the emulator's wake-ups)");
	say("  handoff-iters=N      single-socket handoffs per run, mechanism and placement");
	say("                       (default %ld; batches of n do 4N/n)", opt.handoff_iters);
	say("  latency-iters=N      ping-pong round trips per run and variant (default %ld)",
	    opt.latency_iters);
	say("  stream-msgs=N        64 B messages per run in the streaming tests (default %ld)",
	    opt.stream_msgs);
	say("  cpu-msgs=N           messages per run in the one-thread test (default %ld)",
	    opt.cpu_msgs);
	say("  levels=A:B:...       pending-token levels (default 1000:100000:1000000)");
	say("  sample=N             redeems timed per run and level (default %ld)", opt.sample);
	say("  regs=N               registrations for the memory figure (default %ld)", opt.regs);
	say("  unload-tokens=N      tokens pending at unload (default %ld)", opt.unload_tokens);
	say("  micro-ops=N          operations per run in the micro phase (default %ld)",
	    opt.micro_ops);
	say("  ko=PATH              module to reload after unloading (default %s)", opt.ko);
	say("  phase-timeout=S      kill a phase after S seconds (default %u)", opt.phase_timeout);
}

static unsigned int parse_phases(const char *list)
{
	unsigned int mask = 0;
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", list);
	for (char *p = strtok_r(buf, ":+/", &save); p; p = strtok_r(NULL, ":+/", &save)) {
		size_t k;

		for (k = 0; k < sizeof(phase_names) / sizeof(phase_names[0]); k++)
			if (!strcmp(p, phase_names[k]))
				break;
		if (k == sizeof(phase_names) / sizeof(phase_names[0])) {
			say("error: unknown phase '%s'", p);
			exit(2);
		}
		mask |= 1U << k;
	}
	return mask;
}

static long parse_num(const char *key, const char *val, long min)
{
	char *end;
	long v = strtol(val, &end, 10);

	if (*end == 'k' || *end == 'K')
		v *= 1000, end++;
	else if (*end == 'M')
		v *= 1000000, end++;
	if (*end || v < min) {
		say("error: bad value for %s: '%s'", key, val);
		exit(2);
	}
	return v;
}

static void parse_option(char *arg)
{
	char *val = strchr(arg, '=');

	while (*arg == '-')
		arg++;
	if (val)
		*val++ = 0;
	if (!*arg)
		return;
	if (!strcmp(arg, "help") || !strcmp(arg, "h")) {
		usage();
		exit(0);
	} else if (!strcmp(arg, "trace")) {
		opt.phases |= PH_TRACE;
	} else if (!strcmp(arg, "xcpu")) {
		opt.xcpu = true;
	} else if (!strcmp(arg, "quick")) {
		opt.runs = 3;
		opt.handoff_iters /= 10;
		opt.latency_iters /= 10;
		opt.stream_msgs /= 10;
		opt.cpu_msgs /= 8;
		opt.levels[0] = 1000;
		opt.levels[1] = 100000;
		opt.nlevels = 2;
		opt.sample = 400;
		opt.regs = 1024;
		opt.unload_tokens = 20000;
		opt.micro_ops = 1000;
	} else if (!val) {
		say("error: option '%s' needs a value", arg);
		exit(2);
	} else if (!strcmp(arg, "runs")) {
		opt.runs = (int)parse_num(arg, val, 1);
		if (opt.runs > MAX_RUNS)
			opt.runs = MAX_RUNS;
	} else if (!strcmp(arg, "only")) {
		opt.phases = parse_phases(val);
	} else if (!strcmp(arg, "skip")) {
		opt.phases &= ~parse_phases(val);
	} else if (!strcmp(arg, "handoff-iters")) {
		opt.handoff_iters = parse_num(arg, val, 1);
	} else if (!strcmp(arg, "latency-iters")) {
		opt.latency_iters = parse_num(arg, val, 1);
	} else if (!strcmp(arg, "stream-msgs")) {
		opt.stream_msgs = parse_num(arg, val, 1);
	} else if (!strcmp(arg, "cpu-msgs")) {
		opt.cpu_msgs = parse_num(arg, val, 32);
	} else if (!strcmp(arg, "levels")) {
		char *save = NULL;

		opt.nlevels = 0;
		for (char *p = strtok_r(val, ":+/", &save); p && opt.nlevels < MAX_LEVELS;
		     p = strtok_r(NULL, ":+/", &save))
			opt.levels[opt.nlevels++] = parse_num(arg, p, 1);
		if (!opt.nlevels)
			parse_num(arg, "", 1);
	} else if (!strcmp(arg, "sample")) {
		opt.sample = parse_num(arg, val, 1);
	} else if (!strcmp(arg, "regs")) {
		opt.regs = parse_num(arg, val, 1);
	} else if (!strcmp(arg, "unload-tokens")) {
		opt.unload_tokens = parse_num(arg, val, 1);
	} else if (!strcmp(arg, "micro-ops")) {
		opt.micro_ops = parse_num(arg, val, 1);
	} else if (!strcmp(arg, "ko")) {
		opt.ko = strdup(val);
	} else if (!strcmp(arg, "phase-timeout")) {
		opt.phase_timeout = (unsigned int)parse_num(arg, val, 1);
	} else {
		say("error: unknown option '%s' (try --help)", arg);
		exit(2);
	}
}

static void read_first(const char *path, const char *prefix, char *out, size_t len)
{
	char line[512];
	FILE *f = fopen(path, "re");

	snprintf(out, len, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *p = line;

		if (prefix) {
			if (strncmp(line, prefix, strlen(prefix)))
				continue;
			p = strchr(line, ':');
			if (!p)
				continue;
			p++;
			while (*p == ' ' || *p == '\t')
				p++;
		}
		p[strcspn(p, "\n")] = 0;
		snprintf(out, len, "%.*s", (int)len - 1, p);
		break;
	}
	fclose(f);
}

static void print_header(void)
{
	struct utsname u;
	char cpu[160], cs[64], ver[32] = "?";
	struct sharedsock_status st;
	int dev = open(SHAREDSOCK_DEVICE_PATH, O_RDWR | O_CLOEXEC);

	if (dev >= 0) {
		if (!dev_status(dev, &st))
			snprintf(ver, sizeof(ver), "%s", st.version);
		close(dev);
	}
	uname(&u);
	read_first("/proc/cpuinfo", "model name", cpu, sizeof(cpu));
	read_first("/sys/devices/system/clocksource/clocksource0/current_clocksource", NULL,
		   cs, sizeof(cs));
	say("sharedsock benchmark");
	say("kernel: %s %s (%s)   module: %s", u.sysname, u.release, u.machine, ver);
	say("cpu: %s, %ld online   clocksource: %s", cpu, sysconf(_SC_NPROCESSORS_ONLN), cs);
	say("runs: %d; each value is the median over the runs, with min and max; a ratio is", opt.runs);
	say("  this / peer, computed per run on values measured in the same run, then median");
	say("  (min-max); \"[medians]\" marks ratios of medians measured at different times");
	say("settings: handoff-iters=%ld latency-iters=%ld stream-msgs=%ld cpu-msgs=%ld sample=%ld",
	    opt.handoff_iters, opt.latency_iters, opt.stream_msgs, opt.cpu_msgs, opt.sample);
	say("targets: handoff x64 <= 0.8x SCM_RIGHTS; x1 <= 1.2x SCM_RIGHTS; event latency");
	say("  <= 1.2x epoll; per-packet overhead < 5%%; redeem at max level <= 1.2x of min;");
	say("  <= 128 B per token; <= 256 B per registration");
}

static int run_phase(unsigned int bit, int (*fn)(void))
{
	const char *name = phase_names[__builtin_ctz(bit)];
	uint64_t t0 = now_ns();
	pid_t pid;
	int rc;

	if (!(opt.phases & bit))
		return 0;
	say("phase %s ...", name);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return fail("fork");
	if (pid == 0) {
		alarm(opt.phase_timeout);
		rc = fn();
		fflush(stdout);
		_exit(rc ? 1 : 0);
	}
	rc = wait_exit(pid);
	if (bit == PH_SCALE && sh->reap_tokens)
		measure_reap();
	say("phase %s: %s in %.1f s", name, rc ? "FAILED" : "done", (now_ns() - t0) / 1e9);
	if (rc) {
		say("error: phase %s exited with status %d%s", name, rc,
		    rc == 128 + SIGALRM ? " (phase-timeout)" : "");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int errors = 0;
	uint64_t t0 = now_ns();

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		fail("mmap");
		return 1;
	}
	memset(sh, 0, sizeof(*sh));
	for (int i = 1; i < argc; i++) {
		char *save = NULL;

		for (char *p = strtok_r(argv[i], ", ", &save); p; p = strtok_r(NULL, ", ", &save))
			parse_option(p);
	}
	if (opt.nlevels) {
		long lo = opt.levels[0], hi = opt.levels[0];

		for (int i = 1; i < opt.nlevels; i++) {
			if (opt.levels[i] < lo)
				lo = opt.levels[i];
			if (opt.levels[i] > hi)
				hi = opt.levels[i];
		}
		snprintf(redeem_hi, sizeof(redeem_hi), "scale.redeem.%ld", hi);
		snprintf(redeem_lo, sizeof(redeem_lo), "scale.redeem.%ld", lo);
		if (hi != lo) {
			targets[4].row = redeem_hi;
			targets[4].peer = redeem_lo;
		}
	}
	print_header();
	if (access(SHAREDSOCK_DEVICE_PATH, R_OK | W_OK)) {
		fail("%s", SHAREDSOCK_DEVICE_PATH);
		return 1;
	}

	errors += run_phase(PH_MICRO, phase_micro) < 0;
	errors += run_phase(PH_HANDOFF, phase_handoff) < 0;
	errors += run_phase(PH_EVENT, phase_event) < 0;
	errors += run_phase(PH_OVERHEAD, phase_overhead) < 0;
	errors += run_phase(PH_MEMORY, phase_memory) < 0;
	errors += run_phase(PH_SCALE, phase_scale) < 0;
	errors += run_phase(PH_TRACE, phase_trace) < 0;
	if (opt.phases & PH_UNLOAD) {
		uint64_t t = now_ns();

		say("phase unload ...");
		if (phase_unload()) {
			say("error: phase unload failed");
			errors++;
		}
		say("phase unload: done in %.1f s", (now_ns() - t) / 1e9);
	}

	say("%s", "");
	print_header();
	print_table();
	print_targets();
	for (int i = 0; i < sh->nnotes; i++)
		say("note: %s", sh->notes[i]);
	say("total time %.1f s; %d error(s)", (now_ns() - t0) / 1e9, errors);
	print_csv();
	return errors ? 1 : 0;
}
