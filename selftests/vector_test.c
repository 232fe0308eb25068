// SPDX-License-Identifier: GPL-2.0
/*
 * Vectored handoff: one token for up to SHAREDSOCK_VEC_MAX sockets
 * (SHAREDSOCK_IOC_DUPLICATE_VEC / SHAREDSOCK_IOC_REDEEM_VEC, and the
 * library's ss_duplicate_sockets() / ss_sockets_from_info()).
 *
 * Covered: a batch of TCP, UDP and unix sockets across processes, in export
 * order (kcmp and data); partial redeems by room and by a full descriptor
 * table (EMFILE), the rest staying in the token; SHAREDSOCK_IOC_REDEEM on a
 * vector token; CLOEXEC; every argument error, with nothing created, taken
 * or leaked; the per-user cap counted per socket; revoke and target exit
 * dropping every socket; concurrent redeems of one token by the target's
 * threads; the same socket twice in one token.
 *
 * The harness forks every test from its main process, which never opens
 * /dev/sharedsock: only test processes and their children use the device.
 * Children report through exit codes: 0 is success, a small number the
 * failing step, 200 and up a setup failure; they say which check failed
 * on stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <linux/userfaultfd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "kselftest_harness.h"

#define UID_A		1000
#define SETUP_FAIL	200	/* 200..254: a child could not set itself up */
#define VEC_MAX		SHAREDSOCK_VEC_MAX

/* ---------------------------------------------------------------------- */

struct kind {
	int family;
	int type;
	int protocol;	/* what the token's info reports */
};

static const struct kind TCP = { AF_INET, SOCK_STREAM, IPPROTO_TCP };
static const struct kind UDP = { AF_INET, SOCK_DGRAM, IPPROTO_UDP };
static const struct kind UNIX_STREAM = { AF_UNIX, SOCK_STREAM, 0 };

/* The kind of socket @i of a batch: all TCP, or UDP/TCP/unix in turn. */
static const struct kind *kind_of(unsigned int i, bool mixed)
{
	static const struct kind *const mix[] = { &UDP, &TCP, &UNIX_STREAM };

	return mixed ? mix[i % 3] : &TCP;
}

/* A kind whose peer sees EOF when the last reference goes: TCP or unix. */
static const struct kind *stream_kind_of(unsigned int i)
{
	return i % 2 ? &TCP : &UNIX_STREAM;
}

static int kcmp_files(pid_t pid1, pid_t pid2, int fd1, int fd2)
{
	return syscall(SYS_kcmp, pid1, pid2, KCMP_FILE, fd1, fd2);
}

static bool same_file(int fd1, int fd2)
{
	return kcmp_files(getpid(), getpid(), fd1, fd2) == 0;
}

static bool fails_with(int ret, int err)
{
	return ret == -1 && errno == err;
}

static void close_all(int *fds, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
}

/*
 * @n connected pairs, exp[i] to export and peer[i] its peer; @kinds picks
 * the kind of each.  0 or -1.
 */
/* The redeemed descriptors, the exporter's and the peers', @n each. */
static void close_all3(int *a, int *b, int *c, unsigned int n)
{
	close_all(a, n);
	close_all(b, n);
	close_all(c, n);
}

static int open_pairs(unsigned int n, const struct kind *(*kinds)(unsigned int),
		      int *exp, int *peer)
{
	for (unsigned int i = 0; i < n; i++) {
		const struct kind *k = kinds(i);
		int sv[2];

		if (socket_pair(k->family, k->type, sv)) {
			close_all(exp, i);
			close_all(peer, i);
			return -1;
		}
		exp[i] = sv[0];
		peer[i] = sv[1];
	}
	return 0;
}

static const struct kind *unix_kind(unsigned int i)
{
	(void)i;
	return &UNIX_STREAM;
}

static const struct kind *tcp_kind(unsigned int i)
{
	return kind_of(i, false);
}

static const struct kind *mixed_kind(unsigned int i)
{
	return kind_of(i, true);
}

/*
 * tokens_pending of SHAREDSOCK_IOC_STATUS, or -1.  A test counts from a
 * base taken with tokens_settled(): earlier tests' tokens of processes
 * that exited are freed by the module a moment after, and must not go
 * while the test counts.
 */
static long pending(int dev)
{
	struct sharedsock_status st;

	return dev_status(dev, &st) ? -1 : (long)st.tokens_pending;
}

static long long redeemed(int dev)
{
	struct sharedsock_status st;

	return dev_status(dev, &st) ? -1 : (long long)st.tokens_redeemed;
}

/* Wait up to @ms for tokens_pending to read @want; its last value. */
static long pending_settles(int dev, long want, int ms)
{
	long now = pending(dev);

	while (now != want && ms > 0) {
		usleep(10 * 1000);
		ms -= 10;
		now = pending(dev);
	}
	return now;
}

/* Raw SHAREDSOCK_IOC_DUPLICATE_VEC arguments for @count descriptors. */
static struct sharedsock_duplicate_vec dv_args(const int *fds,
					       unsigned int count, pid_t pid)
{
	struct sharedsock_duplicate_vec a;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.fds = (uintptr_t)fds;
	a.count = count;
	a.pid = pid;
	return a;
}

static int dup_vec(int dev, const int *fds, unsigned int count, pid_t pid,
		   struct sharedsock_info *info)
{
	struct sharedsock_duplicate_vec a = dv_args(fds, count, pid);
	int ret = ioctl(dev, SHAREDSOCK_IOC_DUPLICATE_VEC, &a);

	if (ret == 0 && info)
		*info = a.info;
	return ret;
}

static struct sharedsock_redeem_vec rv_args(const struct sharedsock_info *info,
					    int *fds, unsigned int count)
{
	struct sharedsock_redeem_vec a;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.fds = (uintptr_t)fds;
	a.count = count;
	a.info = *info;
	return a;
}

static int redeem_vec(int dev, const struct sharedsock_info *info, int *fds,
		      unsigned int count, unsigned int flags)
{
	struct sharedsock_redeem_vec a = rv_args(info, fds, count);

	a.flags = flags;
	return ioctl(dev, SHAREDSOCK_IOC_REDEEM_VEC, &a);
}

static void to_kernel_info(const struct ss_protocol_info *in,
			   struct sharedsock_info *out)
{
	_Static_assert(sizeof(*in) == sizeof(*out), "info layouts differ");
	memcpy(out, in, sizeof(*out));
}

/* A process id no process can have: pids are below pid_max. */
static pid_t unused_pid(void)
{
	FILE *f = fopen("/proc/sys/kernel/pid_max", "r");
	long val = 4194304;

	if (f) {
		if (fscanf(f, "%ld", &val) != 1)
			val = 4194304;
		fclose(f);
	}
	return val;
}

/* Receive exactly @msg on @fd within @ms milliseconds. */
static bool got_within(int fd, const char *msg, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t len = strlen(msg);
	char buf[64];
	ssize_t n;

	if (poll(&pfd, 1, ms) != 1)
		return false;
	n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	return n == (ssize_t)len && memcmp(buf, msg, len) == 0;
}

static bool sent(int fd, const char *msg)
{
	size_t len = strlen(msg);

	return send(fd, msg, len, 0) == (ssize_t)len;
}

/*
 * fork() for a helper child: it dies with the test process, so that a
 * failed test leaves no process holding /dev/sharedsock behind.
 */
static pid_t fork_child(void)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid == 0 &&
	    (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent))
		_exit(SETUP_FAIL + 50);
	return pid;
}

/* A child that blocks until a byte or EOF arrives on @ctl_rd, then exits 0. */
static pid_t spawn_waiter(int ctl_rd)
{
	pid_t pid = fork_child();

	if (pid == 0) {
		char c;

		while (read(ctl_rd, &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	return pid;
}

/*
 * Belt and braces for the cap test: whatever happens to it (even a
 * timeout, which skips its teardown), the harness process puts the value it
 * started with back when it exits.
 */
static char saved_max_user_tokens[32];
static bool params_saved;

static void __attribute__((constructor)) save_params(void)
{
	params_saved = !param_read("max_user_tokens", saved_max_user_tokens,
				   sizeof(saved_max_user_tokens));
}

static void __attribute__((destructor)) restore_params(void)
{
	if (params_saved)
		param_write("max_user_tokens", saved_max_user_tokens);
}

/* --- across processes ---------------------------------------------------- */

#define BATCH	64

static void msg_to(char *buf, size_t len, unsigned int i)
{
	snprintf(buf, len, "to-target-%03u", i);
}

static void msg_from(char *buf, size_t len, unsigned int i)
{
	snprintf(buf, len, "from-target-%03u", i);
}

/*
 * Target of the cross-process batch: drops its inherited copies of all the
 * sockets, redeems the token in one call and checks order by kcmp against
 * the exporter's descriptors and by data.  Returns the failing step.
 */
static int batch_target(int info_rd, pid_t exporter, const int *exp,
			const int *peer, unsigned int n, bool mixed)
{
	struct ss_protocol_info info;
	int fds[VEC_MAX], before, got;
	char msg[32];

	for (unsigned int i = 0; i < n; i++) {
		close(exp[i]);
		close(peer[i]);
	}
	before = count_socket_fds();
	if (recv_info(info_rd, &info))
		return SETUP_FAIL + 1;
	if (info.family != kind_of(0, mixed)->family ||
	    info.type != kind_of(0, mixed)->type ||
	    info.protocol != kind_of(0, mixed)->protocol)
		return 1;
	memset(fds, -1, sizeof(fds));
	/* more room than sockets: exactly the token's sockets come back */
	got = ss_sockets_from_info(&info, fds, n + 5, 0);
	if (got != (int)n) {
		dprintf(2, "# target: redeemed %d of %u (errno %d)\n", got, n,
			errno);
		return 2;
	}
	if (fds[n] != -1)
		return 3;
	if (count_socket_fds() != before + (int)n)
		return 4;
	for (unsigned int i = 0; i < n; i++) {
		if (kcmp_files(exporter, getpid(), exp[i], fds[i]) != 0) {
			dprintf(2, "# target: fds[%u] is not socket %u\n", i, i);
			return 5;
		}
		if (i + 1 < n &&
		    kcmp_files(exporter, getpid(), exp[i + 1], fds[i]) == 0)
			return 6;
	}
	for (unsigned int i = 0; i < n; i++) {
		msg_to(msg, sizeof(msg), i);
		if (!got_within(fds[i], msg, WAIT_MS)) {
			dprintf(2, "# target: fds[%u] did not get %s\n", i, msg);
			return 7;
		}
		msg_from(msg, sizeof(msg), i);
		if (!sent(fds[i], msg))
			return 8;
	}
	/* the token ended with its last socket */
	if (!fails_with(ss_sockets_from_info(&info, fds, n, 0), EINVAL))
		return 9;
	if (!fails_with(ss_socket_from_info(&info, 0), EINVAL))
		return 10;
	return 0;
}

static void cross_process_batch(struct __test_metadata *_metadata,
				unsigned int n, bool mixed)
{
	int exp[BATCH], peer[BATCH], to_child[2], dev;
	struct ss_protocol_info info;
	long base;
	char msg[32];
	pid_t pid;

	dev = dev_open();
	ASSERT_GE(dev, 0);
	base = tokens_settled(WAIT_MS);
	ASSERT_GE(base, 0);
	ASSERT_EQ(0, open_pairs(n, mixed ? mixed_kind : tcp_kind, exp, peer));
	ASSERT_EQ(0, pipe(to_child));
	pid = fork_child();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		close(to_child[1]);
		_exit(batch_target(to_child[0], getppid(), exp, peer, n,
				   mixed));
	}
	close(to_child[0]);

	/* queued before the handoff: each socket's own message waits on it */
	for (unsigned int i = 0; i < n; i++) {
		msg_to(msg, sizeof(msg), i);
		ASSERT_TRUE(sent(peer[i], msg));
	}
	ASSERT_EQ(0, ss_duplicate_sockets(exp, n, pid, 0, &info));
	EXPECT_EQ(base + 1, pending(dev));
	EXPECT_EQ(kind_of(0, mixed)->family, info.family);
	EXPECT_EQ(kind_of(0, mixed)->type, info.type);
	EXPECT_EQ(kind_of(0, mixed)->protocol, info.protocol);
	ASSERT_EQ(0, send_info(to_child[1], &info));

	for (unsigned int i = 0; i < n; i++) {
		msg_from(msg, sizeof(msg), i);
		EXPECT_TRUE(got_within(peer[i], msg, WAIT_MS)) {
			TH_LOG("peer %u did not get the target's reply", i);
		}
	}
	EXPECT_EQ(0, wait_exit(pid));
	EXPECT_EQ(base, pending(dev));
	/* the exporter's descriptors are untouched */
	for (unsigned int i = 0; i < n; i++) {
		snprintf(msg, sizeof(msg), "still-%u", i);
		EXPECT_TRUE(transfer_ok(exp[i], peer[i], msg));
	}
	close_all(exp, n);
	close_all(peer, n);
	close(to_child[1]);
	close(dev);
}

/*
 * 64 connected TCP sockets as one token to a child: one redeem gives all
 * 64, in export order, and data flows both ways on each.
 */
TEST(cross_process_64_tcp_sockets_in_order)
{
	cross_process_batch(_metadata, BATCH, false);
}

/* The same with UDP, TCP and unix stream sockets in turn. */
TEST(cross_process_mixed_kinds_in_order)
{
	cross_process_batch(_metadata, 30, true);
}

/* --- partial redeems ----------------------------------------------------- */

/*
 * Room 3 of a 10-socket token: 3, 3, 3, 1, then EINVAL.  The token stays
 * pending (one token, counted once) until its last socket, and counts as
 * redeemed once.
 */
TEST(partial_redeem_by_room)
{
	static const int expect[] = { 3, 3, 3, 1 };
	int exp[10], peer[10], fds[16], dev, got = 0;
	struct ss_protocol_info info;
	long long redeemed0;
	long base;

	dev = dev_open();
	ASSERT_GE(dev, 0);
	base = tokens_settled(WAIT_MS);
	ASSERT_GE(base, 0);
	redeemed0 = redeemed(dev);
	ASSERT_EQ(0, open_pairs(10, unix_kind, exp, peer));
	ASSERT_EQ(0, ss_duplicate_sockets(exp, 10, getpid(), 0, &info));
	EXPECT_EQ(base + 1, pending(dev));

	memset(fds, -1, sizeof(fds));
	for (unsigned int k = 0; k < 4; k++) {
		int n = ss_sockets_from_info(&info, fds + got, 3, 0);

		ASSERT_EQ(expect[k], n) {
			TH_LOG("call %u (errno %d)", k, errno);
		}
		for (int j = got; j < got + n; j++) {
			EXPECT_TRUE(same_file(exp[j], fds[j])) {
				TH_LOG("fds[%d] is not socket %d", j, j);
			}
		}
		/* nothing written beyond what was returned */
		EXPECT_EQ(-1, fds[got + n]);
		got += n;
		EXPECT_EQ(k < 3 ? base + 1 : base, pending(dev));
		EXPECT_EQ(k < 3 ? redeemed0 : redeemed0 + 1, redeemed(dev));
	}
	EXPECT_TRUE(fails_with(ss_sockets_from_info(&info, fds + got, 3, 0),
			       EINVAL));
	EXPECT_TRUE(fails_with(ss_socket_from_info(&info, 0), EINVAL));
	EXPECT_EQ(base, pending(dev));
	for (int i = 0; i < 10; i++)
		EXPECT_TRUE(transfer_ok(peer[i], fds[i], "partial"));
	close_all3(fds, exp, peer, 10);
}

/*
 * SHAREDSOCK_IOC_REDEEM on a vector token gives the next socket each time,
 * in export order, whatever its kind; then EINVAL.
 */
TEST(single_redeem_takes_one_at_a_time)
{
	int exp[6], peer[6], fds[6], dev;
	struct ss_protocol_info info;
	long base;

	dev = dev_open();
	ASSERT_GE(dev, 0);
	base = tokens_settled(WAIT_MS);
	ASSERT_GE(base, 0);
	ASSERT_EQ(0, open_pairs(6, mixed_kind, exp, peer));
	ASSERT_EQ(0, ss_duplicate_sockets(exp, 6, getpid(), 0, &info));
	for (int i = 0; i < 6; i++) {
		int type = -1;
		socklen_t len = sizeof(type);

		fds[i] = ss_socket_from_info(&info, 0);
		ASSERT_GE(fds[i], 0) {
			TH_LOG("redeem %d: errno %d", i, errno);
		}
		EXPECT_TRUE(same_file(exp[i], fds[i]));
		EXPECT_EQ(0, getsockopt(fds[i], SOL_SOCKET, SO_TYPE, &type,
					&len));
		EXPECT_EQ(mixed_kind(i)->type, type);
		EXPECT_EQ(i < 5 ? base + 1 : base, pending(dev));
	}
	EXPECT_TRUE(fails_with(ss_socket_from_info(&info, 0), EINVAL));
	EXPECT_TRUE(fails_with(ss_sockets_from_info(&info, fds, 6, 0), EINVAL));
	for (int i = 0; i < 6; i++)
		EXPECT_TRUE(transfer_ok(fds[i], peer[i], "single"));
	close_all3(fds, exp, peer, 6);
}

/* Single and vector redeems mix on one token: the order is kept. */
TEST(single_then_vector_redeem)
{
	int exp[7], peer[7], fds[8], dev;
	struct sharedsock_info info;

	dev = dev_open();
	ASSERT_GE(dev, 0);
	ASSERT_EQ(0, open_pairs(7, unix_kind, exp, peer));
	ASSERT_EQ(0, dup_vec(dev, exp, 7, getpid(), &info));
	fds[0] = raw_redeem(dev, &info, 0);
	ASSERT_GE(fds[0], 0);
	ASSERT_EQ(2, redeem_vec(dev, &info, fds + 1, 2, 0));
	fds[3] = raw_redeem(dev, &info, 0);
	ASSERT_GE(fds[3], 0);
	ASSERT_EQ(3, redeem_vec(dev, &info, fds + 4, 4, 0));
	for (int i = 0; i < 7; i++) {
		EXPECT_TRUE(same_file(exp[i], fds[i])) {
			TH_LOG("fds[%d] is not socket %d", i, i);
		}
	}
	EXPECT_TRUE(fails_with(raw_redeem(dev, &info, 0), EINVAL));
	close_all3(fds, exp, peer, 7);
}

/* Highest descriptor number open in this process, or -1. */
static int highest_fd(void)
{
	int max = -1;

	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			max = fd;
	return max;
}

/*
 * A descriptor table with room for 2: a redeem of 5 installs 2, the next
 * fails with EMFILE and takes nothing; once the limit is raised the last 3
 * come, in order.
 */
TEST(full_descriptor_table_leaves_the_rest_in_token)
{
	int exp[5], peer[5], fds[8], fill[256], nfill = 0, dev, fd;
	int free1, free2;
	struct ss_protocol_info info;
	struct rlimit rl, small;
	long base;

	dev = dev_open();
	ASSERT_GE(dev, 0);
	base = tokens_settled(WAIT_MS);
	ASSERT_GE(base, 0);
	ASSERT_EQ(0, open_pairs(5, unix_kind, exp, peer));
	ASSERT_EQ(0, ss_duplicate_sockets(exp, 5, getpid(), 0, &info));

	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &rl));
	ASSERT_LT(highest_fd(), 100);
	small = rl;
	small.rlim_cur = 128;
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &small));
	while ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0) {
		ASSERT_LT(nfill, 256);
		fill[nfill++] = fd;
	}
	ASSERT_EQ(EMFILE, errno);
	ASSERT_GE(nfill, 2);
	free1 = fill[--nfill];
	free2 = fill[--nfill];
	close(free1);
	close(free2);

	memset(fds, -1, sizeof(fds));
	ASSERT_EQ(2, ss_sockets_from_info(&info, fds, 5, 0));
	EXPECT_EQ(-1, fds[2]);
	/* the two free slots, lowest first */
	EXPECT_EQ(free2 < free1 ? free2 : free1, fds[0]);
	EXPECT_EQ(free2 < free1 ? free1 : free2, fds[1]);
	EXPECT_TRUE(same_file(exp[0], fds[0]));
	EXPECT_TRUE(same_file(exp[1], fds[1]));

	/* full: nothing fits, nothing is taken */
	EXPECT_TRUE(fails_with(ss_sockets_from_info(&info, fds + 2, 3, 0),
			       EMFILE));
	EXPECT_TRUE(fails_with(ss_socket_from_info(&info, 0), EMFILE));
	EXPECT_EQ(-1, fds[2]);
	EXPECT_EQ(base + 1, pending(dev));
	/* still full: the failed calls left no descriptor and freed none */
	EXPECT_TRUE(fails_with(open("/dev/null", O_RDONLY), EMFILE));

	small.rlim_cur = 128 + 16;
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &small));
	ASSERT_EQ(3, ss_sockets_from_info(&info, fds + 2, 5, 0));
	for (int i = 2; i < 5; i++) {
		EXPECT_TRUE(same_file(exp[i], fds[i])) {
			TH_LOG("fds[%d] is not socket %d", i, i);
		}
	}
	EXPECT_TRUE(fails_with(ss_sockets_from_info(&info, fds, 5, 0), EINVAL));
	EXPECT_EQ(base, pending(dev));
	for (int i = 0; i < 5; i++)
		EXPECT_TRUE(transfer_ok(peer[i], fds[i], "fits"));

	close_all(fill, nfill);
	EXPECT_EQ(0, setrlimit(RLIMIT_NOFILE, &rl));
	close_all3(fds, exp, peer, 5);
}

/* CLOEXEC applies to every descriptor of the call that asks for it. */
TEST(cloexec_applies_to_every_descriptor)
{
	int exp[6], peer[6], fds[6], dev;
	struct ss_protocol_info a, b;
	struct sharedsock_info c;

	dev = dev_open();
	ASSERT_GE(dev, 0);
	ASSERT_EQ(0, open_pairs(6, mixed_kind, exp, peer));
	ASSERT_EQ(0, ss_duplicate_sockets(exp, 6, getpid(), 0, &a));
	ASSERT_EQ(0, ss_duplicate_sockets(exp, 6, getpid(), 0, &b));
	ASSERT_EQ(0, dup_vec(dev, exp, 6, getpid(), &c));

	ASSERT_EQ(6, ss_sockets_from_info(&a, fds, 6, O_CLOEXEC));
	for (int i = 0; i < 6; i++) {
		EXPECT_EQ(FD_CLOEXEC, fcntl(fds[i], F_GETFD) & FD_CLOEXEC) {
			TH_LOG("fds[%d] without FD_CLOEXEC", i);
		}
		EXPECT_TRUE(same_file(exp[i], fds[i]));
	}
	close_all(fds, 6);

	ASSERT_EQ(6, ss_sockets_from_info(&b, fds, 6, 0));
	for (int i = 0; i < 6; i++)
		EXPECT_EQ(0, fcntl(fds[i], F_GETFD) & FD_CLOEXEC);
	close_all(fds, 6);

	/* per call: 2 without, then 4 with (raw flag) */
	ASSERT_EQ(2, redeem_vec(dev, &c, fds, 2, 0));
	ASSERT_EQ(4, redeem_vec(dev, &c, fds + 2, 6,
				SHAREDSOCK_REDEEM_CLOEXEC));
	for (int i = 0; i < 6; i++) {
		EXPECT_EQ(i < 2 ? 0 : FD_CLOEXEC,
			  fcntl(fds[i], F_GETFD) & FD_CLOEXEC) {
			TH_LOG("fds[%d]", i);
		}
	}
	close_all3(fds, exp, peer, 6);
}

/* --- argument errors ----------------------------------------------------- */

/*
 * Every bad DUPLICATE_VEC argument fails with its errno and exports
 * nothing: no token is pending, and no socket reference is kept (the peers
 * see EOF once the exporter closes its descriptors).
 */
TEST(duplicate_vec_rejects_bad_arguments)
{
	int exp[4], peer[4], big[VEC_MAX + 1], bad[4], p[2], closed, dev;
	struct sharedsock_duplicate_vec a;
	long base;

	dev = dev_open();
	ASSERT_GE(dev, 0);
	base = tokens_settled(WAIT_MS);
	ASSERT_GE(base, 0);
	ASSERT_EQ(0, open_pairs(4, stream_kind_of, exp, peer));
	ASSERT_EQ(0, pipe(p));
	closed = dup(p[0]);
	ASSERT_GE(closed, 0);
	close(closed);

#define DV_FAILS(err, what)						\
	do {								\
		EXPECT_TRUE(fails_with(ioctl(dev, SHAREDSOCK_IOC_DUPLICATE_VEC, \
					     &a), err)) {		\
			TH_LOG("%s: errno %d, expected %d", what, errno, err); \
		}							\
		EXPECT_EQ(base, pending(dev)) {				\
			TH_LOG("%s left a token", what);		\
		}							\
	} while (0)

	a = dv_args(exp, 0, getpid());
	DV_FAILS(EINVAL, "count 0");
	for (int i = 0; i <= VEC_MAX; i++)
		big[i] = exp[0];
	a = dv_args(big, VEC_MAX + 1, getpid());
	DV_FAILS(EINVAL, "count 254");
	a = dv_args(big, 0xffffffffu, getpid());
	DV_FAILS(EINVAL, "count ~0");
	a = dv_args(exp, 4, getpid());
	a.flags = 1;
	DV_FAILS(EINVAL, "flags 1");
	a = dv_args(exp, 4, getpid());
	a.flags = 0x80000000u;
	DV_FAILS(EINVAL, "flags bit 31");
	a = dv_args(exp, 4, getpid());
	a.reserved = 1;
	DV_FAILS(EINVAL, "reserved");
	a = dv_args(exp, 4, getpid());
	a.size = 71;
	DV_FAILS(EINVAL, "size 71");
	a = dv_args(exp, 4, getpid());
	a.size = 0;
	DV_FAILS(EINVAL, "size 0");
	a = dv_args(NULL, 4, getpid());
	DV_FAILS(EFAULT, "fds NULL");

	memcpy(bad, exp, sizeof(bad));
	bad[2] = -1;
	a = dv_args(bad, 4, getpid());
	DV_FAILS(EBADF, "fd -1 in the middle");
	bad[2] = closed;
	a = dv_args(bad, 4, getpid());
	DV_FAILS(EBADF, "closed fd in the middle");
	bad[2] = p[0];
	a = dv_args(bad, 4, getpid());
	DV_FAILS(ENOTSOCK, "pipe in the middle");
	bad[2] = dev;
	a = dv_args(bad, 4, getpid());
	DV_FAILS(ENOTSOCK, "the device in the middle");
	bad[2] = exp[2];
	bad[3] = p[1];
	a = dv_args(bad, 4, getpid());
	DV_FAILS(ENOTSOCK, "pipe last");

	a = dv_args(exp, 4, unused_pid());
	DV_FAILS(ESRCH, "pid beyond pid_max");
	a = dv_args(exp, 4, 0);
	DV_FAILS(ESRCH, "pid 0");
	a = dv_args(exp, 4, -1);
	DV_FAILS(ESRCH, "pid -1");
#undef DV_FAILS

	/* no reference was left behind by any failed call */
	close_all(exp, 4);
	for (int i = 0; i < 4; i++) {
		EXPECT_TRUE(peer_eof_within(peer[i], WAIT_MS)) {
			TH_LOG("peer %d kept open", i);
		}
	}
	close_all(peer, 4);
	close(p[0]);
	close(p[1]);
}

/*
 * Extensible argument: a larger struct with zero tail works, a nonzero
 * tail is E2BIG.  An argument the kernel cannot write back (read-only
 * page) gives EFAULT and leaves no token.
 */
TEST(duplicate_vec_argument_size_and_writeback)
{
	struct {
		struct sharedsock_duplicate_vec a;
		__u64 tail;
	} ext;
	struct sharedsock_duplicate_vec *ro;
	int exp[3], peer[3], dev;
	long base;

	dev = dev_open();
	ASSERT_GE(dev, 0);
	base = tokens_settled(WAIT_MS);
	ASSERT_GE(base, 0);
	ASSERT_EQ(0, open_pairs(3, stream_kind_of, exp, peer));

	ext.a = dv_args(exp, 3, getpid());
	ext.a.size = sizeof(ext);
	ext.tail = 1;
	EXPECT_TRUE(fails_with(ioctl(dev, SHAREDSOCK_IOC_DUPLICATE_VEC, &ext),
			       E2BIG));
	EXPECT_EQ(base, pending(dev));
	ext.tail = 0;
	ASSERT_EQ(0, ioctl(dev, SHAREDSOCK_IOC_DUPLICATE_VEC, &ext));
	EXPECT_EQ(base + 1, pending(dev));
	EXPECT_EQ(0, raw_revoke(dev, &ext.a.info));
	EXPECT_EQ(base, pending(dev));

	ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	*ro = dv_args(exp, 3, getpid());
	ASSERT_EQ(0, mprotect(ro, 4096, PROT_READ));
	EXPECT_TRUE(fails_with(ioctl(dev, SHAREDSOCK_IOC_DUPLICATE_VEC, ro),
			       EFAULT));
	EXPECT_EQ(base, pending(dev));
	munmap(ro, 4096);

	close_all(exp, 3);
	for (int i = 0; i < 3; i++) {
		EXPECT_TRUE(peer_eof_within(peer[i], WAIT_MS)) {
			TH_LOG("peer %d kept open", i);
		}
	}
	close_all(peer, 3);
}

/*
 * SHAREDSOCK_VEC_MAX sockets (here one socket 253 times) in one token; a
 * redeem with any room above that takes them all.
 */
TEST(duplicate_vec_max_count)
{
	int big[VEC_MAX], *fds, sv[2], dev;
	struct sharedsock_info info;
	long base;

	dev = dev_open();
	ASSERT_GE(dev, 0);
	base = tokens_settled(WAIT_MS);
	ASSERT_GE(base, 0);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	for (int i = 0; i < VEC_MAX; i++)
		big[i] = sv[0];
	ASSERT_EQ(0, dup_vec(dev, big, VEC_MAX, getpid(), &info));
	EXPECT_EQ(base + 1, pending(dev));
	fds = calloc(1000, sizeof(*fds));
	ASSERT_NE(NULL, fds);
	ASSERT_EQ(VEC_MAX, redeem_vec(dev, &info, fds, 1000, 0));
	for (int i = 0; i < VEC_MAX; i++)
		EXPECT_TRUE(same_file(sv[0], fds[i]));
	EXPECT_EQ(0, fds[VEC_MAX]);
	EXPECT_EQ(base, pending(dev));
	EXPECT_TRUE(fails_with(redeem_vec(dev, &info, fds, 1, 0), EINVAL));
	close_all(fds, VEC_MAX);
	free(fds);
	close(sv[0]);
	EXPECT_TRUE(peer_eof_within(sv[1], WAIT_MS));
	close(sv[1]);
}

/*
 * Every bad REDEEM_VEC argument fails with EINVAL, installs nothing and
 * leaves the token whole: it then gives all its sockets in order.
 */
TEST(redeem_vec_rejects_bad_arguments)
{
	int exp[3], peer[3], fds[8], dev, socks;
	struct sharedsock_redeem_vec a;
	struct sharedsock_info info;
	long base;

	dev = dev_open();
	ASSERT_GE(dev, 0);
	ASSERT_EQ(0, open_pairs(3, unix_kind, exp, peer));
	ASSERT_EQ(0, dup_vec(dev, exp, 3, getpid(), &info));
	base = tokens_settled(WAIT_MS);
	ASSERT_GE(base, 0);
	socks = count_socket_fds();
	memset(fds, -1, sizeof(fds));

#define RV_FAILS(err, what)						\
	do {								\
		EXPECT_TRUE(fails_with(ioctl(dev, SHAREDSOCK_IOC_REDEEM_VEC, \
					     &a), err)) {		\
			TH_LOG("%s: errno %d, expected %d", what, errno, err); \
		}							\
		EXPECT_EQ(base, pending(dev));				\
		EXPECT_EQ(socks, count_socket_fds()) {			\
			TH_LOG("%s installed descriptors", what);	\
		}							\
		EXPECT_EQ(-1, fds[0]);					\
	} while (0)

	a = rv_args(&info, fds, 0);
	RV_FAILS(EINVAL, "count 0");
	a = rv_args(&info, fds, 3);
	a.reserved = 1;
	RV_FAILS(EINVAL, "reserved");
	a = rv_args(&info, fds, 3);
	a.flags = 0x2;
	RV_FAILS(EINVAL, "flags 0x2");
	a = rv_args(&info, fds, 3);
	a.flags = SHAREDSOCK_REDEEM_CLOEXEC | 0x80000000u;
	RV_FAILS(EINVAL, "flags bit 31");
	a = rv_args(&info, fds, 3);
	a.info.reserved = 1;
	RV_FAILS(EINVAL, "info.reserved");
	a = rv_args(&info, fds, 3);
	a.size = 63;
	RV_FAILS(EINVAL, "size 63");
	a = rv_args(&info, fds, 3);
	a.info.secret[5] ^= 1;
	RV_FAILS(EINVAL, "wrong secret");
	a = rv_args(&info, fds, 3);
	a.info.id += 1000;
	RV_FAILS(EINVAL, "wrong id");
#undef RV_FAILS

	ASSERT_EQ(3, redeem_vec(dev, &info, fds, 8, 0));
	for (int i = 0; i < 3; i++)
		EXPECT_TRUE(same_file(exp[i], fds[i]));
	EXPECT_EQ(base - 1, pending(dev));
	close_all3(fds, exp, peer, 3);
}

/*
 * A REDEEM_VEC whose fds array the kernel cannot write: EFAULT, no
 * descriptor installed (none leaked), and the token keeps all its sockets.
 */
static void redeem_to_bad_buffer(struct __test_metadata *_metadata,
				 int *bad)
{
	int exp[3], peer[3], fds[3], dev, socks;
	struct sharedsock_info info;
	long base;

	dev = dev_open();
	ASSERT_GE(dev, 0);
	ASSERT_EQ(0, open_pairs(3, unix_kind, exp, peer));
	ASSERT_EQ(0, dup_vec(dev, exp, 3, getpid(), &info));
	base = tokens_settled(WAIT_MS);
	ASSERT_GE(base, 0);
	socks = count_socket_fds();

	EXPECT_TRUE(fails_with(redeem_vec(dev, &info, bad, 3, 0), EFAULT)) {
		TH_LOG("fds %p: errno %d", bad, errno);
	}
	EXPECT_EQ(socks, count_socket_fds()) {
		TH_LOG("descriptors installed and left behind");
	}
	EXPECT_EQ(base, pending(dev));

	/* the token is intact: its three sockets, in order */
	ASSERT_EQ(3, redeem_vec(dev, &info, fds, 3, 0));
	for (int i = 0; i < 3; i++)
		EXPECT_TRUE(same_file(exp[i], fds[i]));
	EXPECT_EQ(base - 1, pending(dev));
	close_all3(fds, exp, peer, 3);
}

TEST(redeem_vec_to_null_fds_faults_and_keeps_token)
{
	redeem_to_bad_buffer(_metadata, NULL);
}

TEST(redeem_vec_to_unmapped_fds_faults_and_keeps_token)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, munmap(p, 4096));
	redeem_to_bad_buffer(_metadata, p);
}

TEST(redeem_vec_to_read_only_fds_faults_and_keeps_token)
{
	void *p = mmap(NULL, 4096, PROT_READ,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, p);
	redeem_to_bad_buffer(_metadata, p);
	munmap(p, 4096);
}

/* The fds array straddles a page boundary; the second page is unmapped. */
TEST(redeem_vec_to_fds_straddling_unmapped_page_faults_and_keeps_token)
{
	long page = sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, p);
	p[0] = 1;
	ASSERT_EQ(0, munmap(p + page, page));
	redeem_to_bad_buffer(_metadata, (int *)(p + page) - 1);
	munmap(p, page);
}

/*
 * The fault of a REDEEM_VEC, held open by userfaultfd: the handler thread
 * gets it while the redeem waits, plays the thread that opens files at the
 * numbers the redeem takes, then makes the fault fail.
 */
struct held_fault {
	int uffd;
	char *page;		/* the missing page of the fds array */
	long page_size;
	const int *exp;		/* the token's sockets */
	int marker;		/* the file the handler puts at each number */
	int numbers[8];		/* where it put it */
	int nr_numbers;
	int installed;		/* token sockets found while the fault waited */
	bool faulted;
};

/* The lowest free descriptor number, or -1. */
static int lowest_free_fd(void)
{
	int fd = dup(0);

	if (fd >= 0)
		close(fd);
	return fd;
}

static void *hold_fault(void *arg)
{
	struct held_fault *h = arg;
	struct pollfd pfd = { .fd = h->uffd, .events = POLLIN };
	struct uffdio_range range = {
		.start = (uintptr_t)h->page, .len = h->page_size,
	};
	struct uffd_msg msg;
	int fd;

	if (poll(&pfd, 1, 5000) != 1 || read(h->uffd, &msg, sizeof(msg)) !=
					sizeof(msg) ||
	    msg.event != UFFD_EVENT_PAGEFAULT)
		return NULL;
	h->faulted = true;
	/* A descriptor of the token already in the table? */
	for (fd = 0; fd < 1024; fd++)
		for (int i = 0; i < 3; i++)
			if (fd != h->exp[i] && same_file(fd, h->exp[i]) &&
			    h->nr_numbers < 8) {
				h->installed++;
				dup2(h->marker, fd);
				h->numbers[h->nr_numbers++] = fd;
			}
	/* And the numbers a racing open() would take now. */
	while (h->nr_numbers < 6) {
		fd = lowest_free_fd();
		if (fd < 0 || dup2(h->marker, fd) != fd)
			break;
		h->numbers[h->nr_numbers++] = fd;
	}
	/* Unmapped, the page cannot be filled in: the fault fails. */
	munmap(h->page, h->page_size);
	ioctl(h->uffd, UFFDIO_WAKE, &range);
	return NULL;
}

/*
 * A REDEEM_VEC that faults on its fds array never closes a descriptor by
 * number: while the fault is pending no descriptor of the token is in the
 * table yet, so files other threads install meanwhile at the lowest
 * numbers are left alone when the redeem fails with EFAULT; the token
 * keeps its sockets.
 */
TEST(redeem_vec_fault_never_closes_by_number)
{
	struct uffdio_api api = { .api = UFFD_API };
	int exp[3], peer[3], fds[3], dev, socks;
	struct uffdio_register reg = { 0 };
	struct held_fault h = { 0 };
	struct sharedsock_info info;
	pthread_t thread;
	char *mem;
	long base;

	h.page_size = sysconf(_SC_PAGESIZE);
	h.uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (h.uffd < 0 || ioctl(h.uffd, UFFDIO_API, &api))
		SKIP(return, "no userfaultfd (errno %d)", errno);
	mem = mmap(NULL, 2 * h.page_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	mem[0] = 1;
	h.page = mem + h.page_size;
	reg.range.start = (uintptr_t)h.page;
	reg.range.len = h.page_size;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	ASSERT_EQ(0, ioctl(h.uffd, UFFDIO_REGISTER, &reg));

	dev = dev_open();
	ASSERT_GE(dev, 0);
	ASSERT_EQ(0, open_pairs(3, unix_kind, exp, peer));
	ASSERT_EQ(0, dup_vec(dev, exp, 3, getpid(), &info));
	h.exp = exp;
	h.marker = eventfd(0, EFD_CLOEXEC);
	ASSERT_GE(h.marker, 0);
	base = pending(dev);
	socks = count_socket_fds();

	ASSERT_EQ(0, pthread_create(&thread, NULL, hold_fault, &h));
	/* the first slot on the mapped page, the others on the missing one */
	EXPECT_TRUE(fails_with(redeem_vec(dev, &info, (int *)h.page - 1, 3, 0),
			       EFAULT));
	pthread_join(thread, NULL);
	ASSERT_TRUE(h.faulted);

	EXPECT_EQ(0, h.installed) {
		TH_LOG("sockets installed before their numbers could be written");
	}
	ASSERT_GE(h.nr_numbers, 3);
	for (int i = 0; i < h.nr_numbers; i++) {
		EXPECT_TRUE(same_file(h.numbers[i], h.marker)) {
			TH_LOG("fd %d, opened while the redeem faulted, was closed",
			       h.numbers[i]);
		}
	}
	EXPECT_EQ(socks, count_socket_fds());
	EXPECT_EQ(base, pending(dev));
	ASSERT_EQ(3, redeem_vec(dev, &info, fds, 3, 0));
	for (int i = 0; i < 3; i++)
		EXPECT_TRUE(same_file(exp[i], fds[i]));
	for (int i = 0; i < h.nr_numbers; i++)
		close(h.numbers[i]);
	close_all3(fds, exp, peer, 3);
	close(h.marker);
	close(h.uffd);
	munmap(mem, h.page_size);
}

/*
 * Only the target redeems: the exporter's REDEEM_VEC and REDEEM fail with
 * EINVAL and take nothing; the target then gets all the sockets.
 */
TEST(redeem_vec_by_other_process_fails)
{
	int exp[4], peer[4], fds[4], to_child[2], dev, socks;
	struct ss_protocol_info info;
	struct sharedsock_info kinfo;
	long base;
	pid_t pid;

	dev = dev_open();
	ASSERT_GE(dev, 0);
	ASSERT_EQ(0, open_pairs(4, unix_kind, exp, peer));
	ASSERT_EQ(0, pipe(to_child));
	pid = fork_child();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int mine[8];

		CHILD_CHECK(recv_info(to_child[0], &info) == 0, SETUP_FAIL);
		CHILD_CHECK(ss_sockets_from_info(&info, mine, 8, 0) == 4, 1);
		for (int i = 0; i < 4; i++)
			CHILD_CHECK(kcmp_files(getppid(), getpid(), exp[i],
					       mine[i]) == 0, 2);
		_exit(0);
	}
	base = tokens_settled(WAIT_MS);
	ASSERT_GE(base, 0);
	ASSERT_EQ(0, ss_duplicate_sockets(exp, 4, pid, 0, &info));
	to_kernel_info(&info, &kinfo);
	socks = count_socket_fds();
	EXPECT_TRUE(fails_with(redeem_vec(dev, &kinfo, fds, 4, 0), EINVAL));
	EXPECT_TRUE(fails_with(ss_sockets_from_info(&info, fds, 4, 0), EINVAL));
	EXPECT_TRUE(fails_with(raw_redeem(dev, &kinfo, 0), EINVAL));
	EXPECT_EQ(socks, count_socket_fds());
	EXPECT_EQ(base + 1, pending(dev));
	ASSERT_EQ(0, send_info(to_child[1], &info));
	EXPECT_EQ(0, wait_exit(pid));
	EXPECT_EQ(base, pending(dev));
	close_all(exp, 4);
	close_all(peer, 4);
}

/* A token ends with its last socket: no redeem or revoke afterwards. */
TEST(replay_after_complete_redeem_fails)
{
	int exp[3], peer[3], fds[3], more[3], dev;
	struct ss_protocol_info info;
	long base;

	dev = dev_open();
	ASSERT_GE(dev, 0);
	base = tokens_settled(WAIT_MS);
	ASSERT_GE(base, 0);
	ASSERT_EQ(0, open_pairs(3, unix_kind, exp, peer));
	ASSERT_EQ(0, ss_duplicate_sockets(exp, 3, getpid(), 0, &info));
	ASSERT_EQ(3, ss_sockets_from_info(&info, fds, 3, 0));
	EXPECT_EQ(base, pending(dev));
	EXPECT_TRUE(fails_with(ss_sockets_from_info(&info, more, 3, 0), EINVAL));
	EXPECT_TRUE(fails_with(ss_socket_from_info(&info, 0), EINVAL));
	EXPECT_TRUE(fails_with(ss_revoke(&info), EINVAL));
	/* and the redeemed descriptors are undisturbed */
	for (int i = 0; i < 3; i++)
		EXPECT_TRUE(transfer_ok(fds[i], peer[i], "after-replay"));
	close_all3(fds, exp, peer, 3);
}

/* Library argument checks; none of them creates or consumes anything. */
TEST(library_argument_errors)
{
	int exp[2], peer[2], fds[4], dev;
	struct ss_protocol_info info;
	long base;

	dev = dev_open();
	ASSERT_GE(dev, 0);
	base = tokens_settled(WAIT_MS);
	ASSERT_GE(base, 0);
	ASSERT_EQ(0, open_pairs(2, unix_kind, exp, peer));

	EXPECT_TRUE(fails_with(ss_duplicate_sockets(exp, 2, getpid(), 0, NULL),
			       EFAULT));
	EXPECT_TRUE(fails_with(ss_duplicate_sockets(NULL, 2, getpid(), 0,
						    &info), EFAULT));
	EXPECT_TRUE(fails_with(ss_duplicate_sockets(exp, 0, getpid(), 0,
						    &info), EINVAL));
	EXPECT_TRUE(fails_with(ss_duplicate_sockets(exp, SS_MAX_TOKEN_SOCKETS + 1,
						    getpid(), 0, &info),
			       EINVAL));
	EXPECT_EQ(base, pending(dev));

	ASSERT_EQ(0, ss_duplicate_sockets(exp, 2, getpid(), 0, &info));
	EXPECT_TRUE(fails_with(ss_sockets_from_info(&info, NULL, 2, 0), EFAULT));
	EXPECT_TRUE(fails_with(ss_sockets_from_info(NULL, fds, 2, 0), EFAULT));
	EXPECT_TRUE(fails_with(ss_sockets_from_info(&info, fds, 2, O_NONBLOCK),
			       EINVAL));
	EXPECT_TRUE(fails_with(ss_sockets_from_info(&info, fds, 2, -1), EINVAL));
	EXPECT_TRUE(fails_with(ss_sockets_from_info(&info, fds, 0, 0), EINVAL));
	EXPECT_EQ(base + 1, pending(dev));
	ASSERT_EQ(2, ss_sockets_from_info(&info, fds, 4, 0));
	EXPECT_TRUE(same_file(exp[0], fds[0]));
	EXPECT_TRUE(same_file(exp[1], fds[1]));
	EXPECT_EQ(base, pending(dev));
	close_all3(fds, exp, peer, 2);
}

/* --- the per-user cap ---------------------------------------------------- */

/* Saves max_user_tokens and restores it, whatever the test does. */
FIXTURE(cap)
{
	char max_user_tokens[32];
	bool saved;
};

FIXTURE_SETUP(cap)
{
	ASSERT_EQ(0, param_read("max_user_tokens", self->max_user_tokens,
				sizeof(self->max_user_tokens)));
	self->saved = true;
	/* the children count from tokens_pending, and cannot see root's */
	ASSERT_LE(0, tokens_settled(WAIT_MS));
}

FIXTURE_TEARDOWN(cap)
{
	if (self->saved)
		EXPECT_EQ(0, param_write("max_user_tokens",
					 self->max_user_tokens));
}

/*
 * Every socket of a token counts against the cap, and a partial redeem
 * releases its sockets' share at once.  As uid 1000 with the cap at 10.
 */
TEST_F(cap, counted_per_socket)
{
	char val[32];
	pid_t pid;

	ASSERT_EQ(0, param_write("max_user_tokens", "10"));
	ASSERT_EQ(0, param_read("max_user_tokens", val, sizeof(val)));
	ASSERT_STREQ("10", val);

	pid = fork_child();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct ss_protocol_info big, more, six, extra;
		int exp[15], peer[15], fds[32], dev;
		long base;

		CHILD_CHECK(become_user(UID_A) == 0, SETUP_FAIL);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dev = dev_open();
		CHILD_CHECK(dev >= 0, SETUP_FAIL + 1);
		CHILD_CHECK(open_pairs(15, unix_kind, exp, peer) == 0,
			    SETUP_FAIL + 2);
		base = pending(dev);

		/* all or nothing: 11 sockets are over the cap */
		CHILD_CHECK(fails_with(ss_duplicate_sockets(exp, 11, getpid(),
							    0, &extra),
				       ETOOMANYREFS), 1);
		CHILD_CHECK(pending(dev) == base, 2);

		/* 10 sockets: exactly the cap */
		CHILD_CHECK(ss_duplicate_sockets(exp, 10, getpid(), 0,
						 &big) == 0, 3);
		CHILD_CHECK(fails_with(ss_duplicate_sockets(exp + 10, 1,
							    getpid(), 0,
							    &extra),
				       ETOOMANYREFS), 4);
		CHILD_CHECK(fails_with(ss_duplicate_socket(exp[10], getpid(),
							   &extra),
				       ETOOMANYREFS), 5);
		CHILD_CHECK(pending(dev) == base + 1, 6);

		/* redeeming 4 of them frees 4 slots, no more */
		CHILD_CHECK(ss_sockets_from_info(&big, fds, 4, 0) == 4, 7);
		CHILD_CHECK(fails_with(ss_duplicate_sockets(exp + 10, 5,
							    getpid(), 0,
							    &extra),
				       ETOOMANYREFS), 8);
		CHILD_CHECK(ss_duplicate_sockets(exp + 10, 4, getpid(), 0,
						 &more) == 0, 9);
		CHILD_CHECK(fails_with(ss_duplicate_socket(exp[14], getpid(),
							   &extra),
				       ETOOMANYREFS), 10);

		/* revoking the partly redeemed token frees its other 6 */
		CHILD_CHECK(ss_revoke(&big) == 0, 11);
		CHILD_CHECK(ss_duplicate_sockets(exp, 6, getpid(), 0,
						 &six) == 0, 12);
		CHILD_CHECK(fails_with(ss_duplicate_socket(exp[14], getpid(),
							   &extra),
				       ETOOMANYREFS), 13);

		/* redeem everything: the whole cap is free again */
		CHILD_CHECK(ss_sockets_from_info(&more, fds + 4, 16, 0) == 4,
			    14);
		CHILD_CHECK(ss_sockets_from_info(&six, fds + 8, 3, 0) == 3, 15);
		CHILD_CHECK(ss_sockets_from_info(&six, fds + 11, 3, 0) == 3,
			    16);
		CHILD_CHECK(ss_duplicate_sockets(exp, 10, getpid(), 0,
						 &big) == 0, 17);
		CHILD_CHECK(ss_revoke(&big) == 0, 18);
		CHILD_CHECK(pending(dev) == base, 19);
		_exit(0);
	}
	EXPECT_EQ(0, wait_exit(pid));
}

/*
 * Tokens expiring in the middle of partial redeems (and sometimes while a
 * redeem holds them) give back exactly their remaining sockets: round
 * after round, the full cap of 64 is free again.  As uid 1000.
 */
TEST_F(cap, expiry_during_partial_redeems_releases_quota)
{
	pid_t pid;

	ASSERT_EQ(0, param_write("max_user_tokens", "64"));
	pid = fork_child();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int exp[64], peer[64], buf[4], dev, expired = 0;
		struct ss_protocol_info info, extra;
		long base;

		CHILD_CHECK(become_user(UID_A) == 0, SETUP_FAIL);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dev = dev_open();
		CHILD_CHECK(dev >= 0, SETUP_FAIL + 1);
		CHILD_CHECK(open_pairs(64, unix_kind, exp, peer) == 0,
			    SETUP_FAIL + 2);
		base = pending(dev);
		for (int round = 0; round < 40; round++) {
			unsigned int room = 1 + round % 4;
			int total = 0, n;

			CHILD_CHECK(ss_duplicate_sockets(exp, 64, getpid(),
							 1 + round % 8,
							 &info) == 0, 1);
			while ((n = ss_sockets_from_info(&info, buf, room,
							 0)) > 0) {
				total += n;
				CHILD_CHECK(n <= (int)room && total <= 64, 2);
				close_all(buf, n);
				usleep(100);
			}
			CHILD_CHECK(errno == EINVAL, 3);
			if (total < 64)
				expired++;
			CHILD_CHECK(pending_settles(dev, base, WAIT_MS) == base,
				    4);
		}
		/* some rounds must have expired midway to test anything */
		CHILD_CHECK(expired > 0, 5);
		CHILD_CHECK(ss_duplicate_sockets(exp, 64, getpid(), 0,
						 &info) == 0, 6);
		CHILD_CHECK(fails_with(ss_duplicate_socket(exp[0], getpid(),
							   &extra),
				       ETOOMANYREFS), 7);
		CHILD_CHECK(ss_revoke(&info) == 0, 8);
		_exit(0);
	}
	EXPECT_EQ(0, wait_exit(pid));
}

/* --- ends of a token ----------------------------------------------------- */

/*
 * Revoke withdraws every socket still in the token: with the exporter's
 * descriptors closed, each of their peers sees EOF; sockets redeemed
 * before stay open.
 */
TEST(revoke_drops_every_remaining_socket)
{
	int exp[8], peer[8], fds[8], dev;
	struct ss_protocol_info info;
	long base;

	dev = dev_open();
	ASSERT_GE(dev, 0);
	base = tokens_settled(WAIT_MS);
	ASSERT_GE(base, 0);
	ASSERT_EQ(0, open_pairs(8, stream_kind_of, exp, peer));
	ASSERT_EQ(0, ss_duplicate_sockets(exp, 8, getpid(), 0, &info));
	ASSERT_EQ(2, ss_sockets_from_info(&info, fds, 2, 0));
	close_all(exp, 8);
	/* the token and the redeemed descriptors hold them all */
	for (int i = 0; i < 8; i++)
		EXPECT_TRUE(peer_open_for(peer[i], 20));
	EXPECT_EQ(base + 1, pending(dev));

	ASSERT_EQ(0, ss_revoke(&info));
	EXPECT_EQ(base, pending(dev));
	for (int i = 2; i < 8; i++) {
		EXPECT_TRUE(peer_eof_within(peer[i], WAIT_MS)) {
			TH_LOG("peer %d still open after revoke", i);
		}
	}
	for (int i = 0; i < 2; i++) {
		EXPECT_TRUE(peer_open_for(peer[i], 20));
		EXPECT_TRUE(transfer_ok(fds[i], peer[i], "kept"));
		EXPECT_TRUE(transfer_ok(peer[i], fds[i], "kept-back"));
	}
	EXPECT_TRUE(fails_with(ss_revoke(&info), EINVAL));
	EXPECT_TRUE(fails_with(ss_sockets_from_info(&info, fds + 2, 6, 0),
			       EINVAL));
	close_all(fds, 2);
	close_all(peer, 8);
}

/* Revoke before any redeem, of a token bound to another process. */
TEST(revoke_whole_token_bound_to_child)
{
	int exp[16], peer[16], ctl[2], dev;
	struct ss_protocol_info info;
	long base;
	pid_t pid;

	dev = dev_open();
	ASSERT_GE(dev, 0);
	base = tokens_settled(WAIT_MS);
	ASSERT_GE(base, 0);
	ASSERT_EQ(0, pipe(ctl));
	pid = spawn_waiter(ctl[0]);
	ASSERT_GE(pid, 0);
	ASSERT_EQ(0, open_pairs(16, stream_kind_of, exp, peer));
	ASSERT_EQ(0, ss_duplicate_sockets(exp, 16, pid, 0, &info));
	close_all(exp, 16);
	for (int i = 0; i < 16; i++)
		EXPECT_TRUE(peer_open_for(peer[i], 10));
	ASSERT_EQ(0, ss_revoke(&info));
	EXPECT_EQ(base, pending(dev));
	for (int i = 0; i < 16; i++) {
		EXPECT_TRUE(peer_eof_within(peer[i], WAIT_MS)) {
			TH_LOG("peer %d still open after revoke", i);
		}
	}
	ASSERT_EQ(1, write(ctl[1], "x", 1));
	EXPECT_EQ(0, wait_exit(pid));
	close_all(peer, 16);
}

/*
 * The target exits with a vector token pending (whole, or partly
 * redeemed): every socket's peer sees EOF once the exporter closed its
 * descriptors, and the token is gone.
 */
static void target_exits(struct __test_metadata *_metadata,
			 unsigned int redeem_first)
{
	int exp[12], peer[12], to_child[2], done[2], dev;
	struct ss_protocol_info info;
	long base;
	pid_t pid;
	char c;

	dev = dev_open();
	ASSERT_GE(dev, 0);
	base = tokens_settled(WAIT_MS);
	ASSERT_GE(base, 0);
	ASSERT_EQ(0, open_pairs(12, stream_kind_of, exp, peer));
	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(done));
	pid = fork_child();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int fds[12];

		close_all(exp, 12);
		close_all(peer, 12);
		CHILD_CHECK(recv_info(to_child[0], &info) == 0, SETUP_FAIL);
		if (redeem_first)
			CHILD_CHECK(ss_sockets_from_info(&info, fds,
							 redeem_first, 0) ==
				    (int)redeem_first, 1);
		CHILD_CHECK(write(done[1], "r", 1) == 1, SETUP_FAIL + 1);
		/* wait for the word, then exit with the rest pending */
		CHILD_CHECK(read(to_child[0], &c, 1) == 1, SETUP_FAIL + 2);
		_exit(0);
	}
	close(to_child[0]);
	close(done[1]);
	ASSERT_EQ(0, ss_duplicate_sockets(exp, 12, pid, 0, &info));
	ASSERT_EQ(0, send_info(to_child[1], &info));
	ASSERT_EQ(1, read(done[0], &c, 1));
	close_all(exp, 12);
	for (int i = 0; i < 12; i++)
		EXPECT_TRUE(peer_open_for(peer[i], 10));
	EXPECT_EQ(base + 1, pending(dev));

	ASSERT_EQ(1, write(to_child[1], "x", 1));
	EXPECT_EQ(0, wait_exit(pid));
	for (int i = 0; i < 12; i++) {
		EXPECT_TRUE(peer_eof_within(peer[i], WAIT_MS)) {
			TH_LOG("peer %d still open after the target exited", i);
		}
	}
	EXPECT_EQ(base, pending_settles(dev, base, WAIT_MS));
	EXPECT_TRUE(fails_with(ss_revoke(&info), EINVAL));
	close_all(peer, 12);
}

TEST(target_exit_drops_pending_vector_token)
{
	target_exits(_metadata, 0);
}

TEST(target_exit_drops_rest_of_partly_redeemed_token)
{
	target_exits(_metadata, 5);
}

/* --- concurrency --------------------------------------------------------- */

#define RACE_SOCKETS	64
#define RACE_THREADS	8
#define RACE_ROUNDS	25

struct race {
	struct ss_protocol_info info;
	pthread_barrier_t start;
	pthread_mutex_t lock;
	int fds[RACE_SOCKETS * 2];	/* received, call after call */
	int call_start[RACE_SOCKETS * 2];
	int call_len[RACE_SOCKETS * 2];
	int total;
	int calls;
	int overflow;	/* more descriptors than sockets, or n > room */
	int bad_errno;	/* a failure other than EINVAL */
};

struct racer {
	struct race *race;
	unsigned int room;	/* 1..7; 0: ss_socket_from_info */
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;
	struct race *race = r->race;
	int buf[8];

	pthread_barrier_wait(&race->start);
	for (;;) {
		int n;

		if (r->room) {
			n = ss_sockets_from_info(&race->info, buf, r->room, 0);
		} else {
			buf[0] = ss_socket_from_info(&race->info, 0);
			n = buf[0] < 0 ? -1 : 1;
		}
		if (n < 0) {
			if (errno != EINVAL) {
				pthread_mutex_lock(&race->lock);
				race->bad_errno = errno;
				pthread_mutex_unlock(&race->lock);
			}
			break;
		}
		pthread_mutex_lock(&race->lock);
		if (n == 0 || n > (int)(r->room ?: 1) ||
		    race->total + n > RACE_SOCKETS * 2) {
			race->overflow++;
			pthread_mutex_unlock(&race->lock);
			break;
		}
		race->call_start[race->calls] = race->total;
		race->call_len[race->calls++] = n;
		memcpy(race->fds + race->total, buf, n * sizeof(int));
		race->total += n;
		pthread_mutex_unlock(&race->lock);
	}
	return NULL;
}

static int index_of_ino(const ino_t *inos, unsigned int n, ino_t ino)
{
	for (unsigned int i = 0; i < n; i++)
		if (inos[i] == ino)
			return i;
	return -1;
}

/*
 * 8 threads of the target redeem one 64-socket token at once, with room 1
 * to 7 (one through SHAREDSOCK_IOC_REDEEM), each until EINVAL: every
 * socket arrives exactly once, each call's sockets consecutive in export
 * order, and the token is gone.
 */
TEST(concurrent_redeems_get_each_socket_once)
{
	int exp[RACE_SOCKETS], peer[RACE_SOCKETS], dev;
	struct racer racers[RACE_THREADS];
	pthread_t tids[RACE_THREADS];
	ino_t inos[RACE_SOCKETS];
	struct race *race;
	long base;

	dev = dev_open();
	ASSERT_GE(dev, 0);
	base = tokens_settled(WAIT_MS);
	ASSERT_GE(base, 0);
	race = calloc(1, sizeof(*race));
	ASSERT_NE(NULL, race);

	for (int round = 0; round < RACE_ROUNDS; round++) {
		int seen[RACE_SOCKETS] = { 0 }, idx[RACE_SOCKETS * 2];
		struct stat st;

		ASSERT_EQ(0, open_pairs(RACE_SOCKETS, unix_kind, exp, peer));
		for (int i = 0; i < RACE_SOCKETS; i++) {
			ASSERT_EQ(0, fstat(exp[i], &st));
			inos[i] = st.st_ino;
		}
		memset(race, 0, sizeof(*race));
		ASSERT_EQ(0, pthread_mutex_init(&race->lock, NULL));
		ASSERT_EQ(0, pthread_barrier_init(&race->start, NULL,
						  RACE_THREADS));
		ASSERT_EQ(0, ss_duplicate_sockets(exp, RACE_SOCKETS, getpid(),
						  0, &race->info));
		for (int t = 0; t < RACE_THREADS; t++) {
			racers[t].race = race;
			racers[t].room = t % 8;	/* 0 (single), 1..7 */
			ASSERT_EQ(0, pthread_create(&tids[t], NULL, racer_main,
						    &racers[t]));
		}
		for (int t = 0; t < RACE_THREADS; t++)
			pthread_join(tids[t], NULL);

		ASSERT_EQ(0, race->bad_errno) {
			TH_LOG("round %d: a redeem failed with errno %d", round,
			       race->bad_errno);
		}
		ASSERT_EQ(0, race->overflow);
		ASSERT_EQ(RACE_SOCKETS, race->total) {
			TH_LOG("round %d: %d sockets received", round,
			       race->total);
		}
		for (int i = 0; i < race->total; i++) {
			ASSERT_EQ(0, fstat(race->fds[i], &st));
			idx[i] = index_of_ino(inos, RACE_SOCKETS, st.st_ino);
			ASSERT_GE(idx[i], 0);
			ASSERT_TRUE(same_file(exp[idx[i]], race->fds[i]));
			seen[idx[i]]++;
		}
		for (int i = 0; i < RACE_SOCKETS; i++) {
			ASSERT_EQ(1, seen[i]) {
				TH_LOG("round %d: socket %d received %d times",
				       round, i, seen[i]);
			}
		}
		/* each call got a consecutive run, in export order */
		for (int c = 0; c < race->calls; c++)
			for (int j = 1; j < race->call_len[c]; j++)
				ASSERT_EQ(idx[race->call_start[c] + j - 1] + 1,
					  idx[race->call_start[c] + j]);
		ASSERT_EQ(base, pending(dev));
		ASSERT_TRUE(fails_with(ss_socket_from_info(&race->info, 0),
				       EINVAL));

		close_all(race->fds, race->total);
		close_all(exp, RACE_SOCKETS);
		close_all(peer, RACE_SOCKETS);
		pthread_barrier_destroy(&race->start);
		pthread_mutex_destroy(&race->lock);
	}
	free(race);
}

/* --- one socket twice ---------------------------------------------------- */

/*
 * The same descriptor twice in one token: the target gets two descriptors
 * of the one socket, each holding its own reference.
 */
TEST(same_socket_twice_in_one_token)
{
	int a[2], b[2], to_child[2], to_parent[2], fds[3];
	struct ss_protocol_info info;
	pid_t pid;
	char c;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, a));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, b));
	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(to_parent));
	pid = fork_child();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		pid_t parent = getppid();
		int mine[4];

		close(a[1]);
		close(b[1]);
		CHILD_CHECK(recv_info(to_child[0], &info) == 0, SETUP_FAIL);
		CHILD_CHECK(ss_sockets_from_info(&info, mine, 4, 0) == 3, 1);
		CHILD_CHECK(kcmp_files(parent, getpid(), a[0], mine[0]) == 0, 2);
		CHILD_CHECK(kcmp_files(parent, getpid(), a[0], mine[1]) == 0, 3);
		CHILD_CHECK(kcmp_files(parent, getpid(), b[0], mine[2]) == 0, 4);
		CHILD_CHECK(mine[0] != mine[1], 5);
		CHILD_CHECK(kcmp_files(getpid(), getpid(), mine[0],
				       mine[2]) != 0, 6);
		close(a[0]);
		close(b[0]);
		/* one of the two descriptors goes: the other still works */
		close(mine[0]);
		CHILD_CHECK(write(to_parent[1], "r", 1) == 1, SETUP_FAIL + 1);
		CHILD_CHECK(sent(mine[1], "second"), 7);
		CHILD_CHECK(read(to_child[0], &c, 1) == 1, SETUP_FAIL + 2);
		close(mine[1]);
		CHILD_CHECK(write(to_parent[1], "c", 1) == 1, SETUP_FAIL + 3);
		CHILD_CHECK(read(to_child[0], &c, 1) == 1, SETUP_FAIL + 4);
		_exit(0);
	}
	close(to_child[0]);
	close(to_parent[1]);
	fds[0] = a[0];
	fds[1] = a[0];
	fds[2] = b[0];
	ASSERT_EQ(0, ss_duplicate_sockets(fds, 3, pid, 0, &info));
	ASSERT_EQ(0, send_info(to_child[1], &info));
	/* the child compared against a[0] and b[0]: now they can go */
	ASSERT_EQ(1, read(to_parent[0], &c, 1));
	close(a[0]);
	close(b[0]);
	EXPECT_TRUE(got_within(a[1], "second", WAIT_MS));
	EXPECT_TRUE(peer_open_for(a[1], 20));
	ASSERT_EQ(1, write(to_child[1], "x", 1));
	ASSERT_EQ(1, read(to_parent[0], &c, 1));
	/* the last of the two descriptors is gone */
	EXPECT_TRUE(peer_eof_within(a[1], WAIT_MS));
	ASSERT_EQ(1, write(to_child[1], "x", 1));
	EXPECT_EQ(0, wait_exit(pid));
	close(a[1]);
	close(b[1]);
}

/* Both references of a twice-exported socket go with a revoke. */
TEST(same_socket_twice_revoked)
{
	struct ss_protocol_info info;
	int sv[2], twice[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	twice[0] = twice[1] = sv[0];
	ASSERT_EQ(0, ss_duplicate_sockets(twice, 2, getpid(), 0, &info));
	close(sv[0]);
	EXPECT_TRUE(peer_open_for(sv[1], 20));
	ASSERT_EQ(0, ss_revoke(&info));
	EXPECT_TRUE(peer_eof_within(sv[1], WAIT_MS));
	close(sv[1]);
}

TEST_HARNESS_MAIN
