// SPDX-License-Identifier: GPL-2.0
/*
 * Token lifetimes.  A pending token is an in-flight reference to the
 * socket, like an SCM_RIGHTS message.  The tests export one end of a stream
 * pair and close the exporter's descriptor, so that the token holds the
 * last reference: the peer sees EOF exactly when the token is freed, and
 * stays open while it lives.
 *
 * Covered: single use, revoke (by whom), expiry (per token and the module's
 * default_ttl_ms/max_ttl_ms), exit of the target, EMFILE at redeem,
 * concurrent redeem/revoke/expiry/exit, many tokens and targets, and module
 * unload with tokens pending (last: it unloads and reloads the module).
 *
 * The harness forks every test from its main process, which must never
 * open /dev/sharedsock (the library caches an open descriptor, which pins
 * the module): only test processes and their children use the device.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

#define NOBODY		65534

static long long now_ms(void)
{
	return now_us() / 1000;
}

static int read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

/* Wait for one byte (or EOF) on @fd. */
static void wait_byte(int fd)
{
	char c;

	while (read(fd, &c, 1) < 0 && errno == EINTR)
		;
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
		_exit(99);
	return pid;
}

/* A child that blocks until a byte or EOF arrives on @ctl, then exits 0. */
static pid_t spawn_waiter(int ctl_rd)
{
	pid_t pid = fork_child();

	if (pid == 0) {
		wait_byte(ctl_rd);
		_exit(0);
	}
	return pid;
}

/* An AF_UNIX stream pair; sv[0] is the end to export. */
static int stream_pair(int sv[2])
{
	return socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
}

/*
 * Export *@fd to @pid and close it: the token becomes the last reference.
 * Returns ss_duplicate_socket_ttl()'s result.
 */
static int export_last(int *fd, pid_t pid, unsigned int ttl_ms,
		       struct ss_protocol_info *info)
{
	int ret = ss_duplicate_socket_ttl(*fd, pid, ttl_ms, info);
	int saved = errno;

	close(*fd);
	*fd = -1;
	errno = saved;
	return ret;
}

/* Wait until @pid has exited, without reaping it. */
static int wait_zombie(pid_t pid)
{
	siginfo_t si;

	return waitid(P_PID, pid, &si, WEXITED | WNOWAIT);
}

/* --- single use ---------------------------------------------------------- */

/*
 * The target redeems, then replays the token: redeem and revoke both fail
 * with EINVAL, in the target and in the exporter, and the redeemed
 * descriptor is not disturbed.
 */
TEST(redeemed_token_cannot_be_redeemed_or_revoked_again)
{
	int to_child[2], to_parent[2], sv[2];
	struct ss_protocol_info info;
	char buf[8];
	pid_t pid;

	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(to_parent));
	pid = fork_child();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int fd;

		if (recv_info(to_child[0], &info))
			_exit(1);
		fd = ss_socket_from_info(&info, 0);
		if (fd < 0)
			_exit(2);
		if (ss_socket_from_info(&info, 0) != -1 || errno != EINVAL)
			_exit(3);
		if (ss_socket_from_info(&info, O_CLOEXEC) != -1 ||
		    errno != EINVAL)
			_exit(4);
		if (ss_revoke(&info) != -1 || errno != EINVAL)
			_exit(5);
		if (write(to_parent[1], "k", 1) != 1)
			_exit(6);
		wait_byte(to_child[0]);
		_exit(send(fd, "z", 1, 0) == 1 ? 0 : 7);
	}
	ASSERT_EQ(0, stream_pair(sv));
	ASSERT_EQ(0, export_last(&sv[0], pid, 0, &info));
	ASSERT_EQ(0, send_info(to_child[1], &info));
	ASSERT_EQ(1, read(to_parent[0], buf, 1));

	/* The exporter cannot withdraw what was redeemed either. */
	EXPECT_EQ(-1, ss_revoke(&info));
	EXPECT_EQ(EINVAL, errno);
	/* Nor redeem it itself (not the target, and used anyway). */
	EXPECT_EQ(-1, ss_socket_from_info(&info, 0));
	EXPECT_EQ(EINVAL, errno);
	/* The failed calls dropped no reference: the target's fd lives. */
	EXPECT_TRUE(peer_open_for(sv[1], 50));
	ASSERT_EQ(1, write(to_child[1], "x", 1));
	EXPECT_EQ(1, recv(sv[1], buf, sizeof(buf), 0));
	EXPECT_EQ(0, wait_exit(pid));
	EXPECT_TRUE(peer_eof_within(sv[1], WAIT_MS));
	close(sv[1]);
}

/*
 * Every export is a token of its own with its own reference: the socket
 * lives until the last of several tokens for it is gone.
 */
TEST(each_token_holds_its_own_reference)
{
	struct ss_protocol_info t1, t2, t3;
	int sv[2], fd;

	ASSERT_EQ(0, stream_pair(sv));
	ASSERT_EQ(0, ss_duplicate_socket(sv[0], getpid(), &t1));
	ASSERT_EQ(0, ss_duplicate_socket(sv[0], getpid(), &t2));
	ASSERT_EQ(0, ss_duplicate_socket(sv[0], getpid(), &t3));
	EXPECT_NE(t1.token_id, t2.token_id);
	EXPECT_NE(t2.token_id, t3.token_id);
	close(sv[0]);
	EXPECT_TRUE(peer_open_for(sv[1], 20));

	ASSERT_EQ(0, ss_revoke(&t1));
	EXPECT_TRUE(peer_open_for(sv[1], 20));

	fd = ss_socket_from_info(&t2, 0);
	ASSERT_GE(fd, 0);
	EXPECT_TRUE(transfer_ok(fd, sv[1], "t2"));
	close(fd);
	EXPECT_TRUE(peer_open_for(sv[1], 20));	/* t3 still holds it */

	ASSERT_EQ(0, ss_revoke(&t3));
	EXPECT_TRUE(peer_eof_within(sv[1], WAIT_MS));
	EXPECT_EQ(-1, ss_socket_from_info(&t3, 0));
	EXPECT_EQ(EINVAL, errno);
	close(sv[1]);
}

/* --- revoke -------------------------------------------------------------- */

/*
 * Only the exporting process revokes.  The target holds the whole token
 * and may redeem it, but to revoke it the token is as unknown as a made-up
 * one; the failed attempt leaves it pending, and the exporter's revoke
 * then works.
 */
TEST(target_cannot_revoke_its_token)
{
	int to_child[2], to_parent[2], sv[2];
	struct ss_protocol_info info;
	char c;
	pid_t pid;

	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(to_parent));
	pid = fork_child();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		if (recv_info(to_child[0], &info))
			_exit(1);
		if (ss_revoke(&info) != -1 || errno != EINVAL)
			_exit(2);
		if (write(to_parent[1], "k", 1) != 1)
			_exit(3);
		wait_byte(to_child[0]);
		/* revoked by the exporter meanwhile */
		if (ss_socket_from_info(&info, 0) != -1 || errno != EINVAL)
			_exit(4);
		_exit(0);
	}
	ASSERT_EQ(0, stream_pair(sv));
	ASSERT_EQ(0, export_last(&sv[0], pid, 0, &info));
	ASSERT_EQ(0, send_info(to_child[1], &info));
	ASSERT_EQ(1, read(to_parent[0], &c, 1));
	/* the target's attempt left the token, and so the socket, alone */
	EXPECT_TRUE(peer_open_for(sv[1], 50));
	EXPECT_EQ(0, ss_revoke(&info));
	EXPECT_TRUE(peer_eof_within(sv[1], WAIT_MS));
	ASSERT_EQ(1, write(to_child[1], "x", 1));
	EXPECT_EQ(0, wait_exit(pid));
	close(sv[1]);
}

/*
 * A process of the same user that is neither exporter nor target (a
 * sibling of the target) cannot revoke; the target then redeems.
 */
TEST(sibling_of_same_user_cannot_revoke)
{
	int to_target[2], to_sibling[2], from_sibling[2], sv[2];
	struct ss_protocol_info info;
	pid_t target, sibling;
	char c;

	ASSERT_EQ(0, pipe(to_target));
	ASSERT_EQ(0, pipe(to_sibling));
	ASSERT_EQ(0, pipe(from_sibling));
	target = fork_child();
	ASSERT_GE(target, 0);
	if (target == 0) {
		int fd;

		if (recv_info(to_target[0], &info))
			_exit(1);
		fd = ss_socket_from_info(&info, 0);
		if (fd < 0)
			_exit(2);
		_exit(send(fd, "t", 1, 0) == 1 ? 0 : 3);
	}
	sibling = fork_child();
	ASSERT_GE(sibling, 0);
	if (sibling == 0) {
		if (recv_info(to_sibling[0], &info))
			_exit(1);
		if (ss_revoke(&info) != -1 || errno != EINVAL)
			_exit(2);
		if (write(from_sibling[1], "k", 1) != 1)
			_exit(3);
		_exit(0);
	}
	ASSERT_EQ(0, stream_pair(sv));
	ASSERT_EQ(0, export_last(&sv[0], target, 0, &info));
	ASSERT_EQ(0, send_info(to_sibling[1], &info));
	ASSERT_EQ(1, read(from_sibling[0], &c, 1));
	EXPECT_EQ(0, wait_exit(sibling));
	EXPECT_TRUE(peer_open_for(sv[1], 50));
	ASSERT_EQ(0, send_info(to_target[1], &info));
	EXPECT_EQ(1, recv(sv[1], &c, 1, 0));
	EXPECT_EQ('t', c);
	EXPECT_EQ(0, wait_exit(target));
	EXPECT_TRUE(peer_eof_within(sv[1], WAIT_MS));
	close(sv[1]);
}

/*
 * Across users too, only the exporting process revokes: not the target's
 * user, not root when root did not export, not another process of the
 * exporter's user.
 */
TEST(only_the_exporting_process_revokes_across_users)
{
	int to_child[2], to_parent[2], sv[2];
	struct ss_protocol_info info;
	pid_t pid, other;
	char c;

	if (geteuid() != 0)
		SKIP(return, "needs root to switch users");

	/* 1. root exports to a target running as nobody. */
	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(to_parent));
	pid = fork_child();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int fd;

		if (become_user(NOBODY))
			_exit(1);
		if (write(to_parent[1], "r", 1) != 1 ||
		    recv_info(to_child[0], &info))
			_exit(2);
		if (ss_revoke(&info) != -1 || errno != EINVAL)
			_exit(3);
		/* and the failed revoke left it alone */
		fd = ss_socket_from_info(&info, 0);
		if (fd < 0)
			_exit(4);
		_exit(send(fd, "y", 1, 0) == 1 ? 0 : 5);
	}
	ASSERT_EQ(1, read(to_parent[0], &c, 1));
	ASSERT_EQ(0, stream_pair(sv));
	ASSERT_EQ(0, export_last(&sv[0], pid, 0, &info));
	ASSERT_EQ(0, send_info(to_child[1], &info));
	EXPECT_EQ(1, recv(sv[1], &c, 1, 0));
	EXPECT_EQ(0, wait_exit(pid));
	EXPECT_TRUE(peer_eof_within(sv[1], WAIT_MS));
	close(sv[1]);

	/* 2. nobody exports to itself; neither root nor another nobody revoke. */
	ASSERT_EQ(0, stream_pair(sv));
	pid = fork_child();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		close(sv[1]);
		if (become_user(NOBODY))
			_exit(1);
		if (export_last(&sv[0], getpid(), 0, &info))
			_exit(2);
		if (send_info(to_parent[1], &info))
			_exit(3);
		wait_byte(to_child[0]);
		/* still pending: the exporter revokes it */
		if (ss_revoke(&info))
			_exit(4);
		if (ss_socket_from_info(&info, 0) != -1 || errno != EINVAL)
			_exit(5);
		_exit(0);
	}
	close(sv[0]);
	ASSERT_EQ(0, recv_info(to_parent[0], &info));
	EXPECT_EQ(-1, ss_revoke(&info));
	EXPECT_EQ(EINVAL, errno);

	other = fork_child();
	ASSERT_GE(other, 0);
	if (other == 0) {
		if (become_user(NOBODY))
			_exit(1);
		_exit(ss_revoke(&info) == -1 && errno == EINVAL ? 0 : 2);
	}
	EXPECT_EQ(0, wait_exit(other));
	EXPECT_TRUE(peer_open_for(sv[1], 50));
	ASSERT_EQ(1, write(to_child[1], "x", 1));
	EXPECT_EQ(0, wait_exit(pid));
	EXPECT_TRUE(peer_eof_within(sv[1], WAIT_MS));
	close(sv[1]);
}

/* --- expiry -------------------------------------------------------------- */

/* A token redeemed before its lifetime ends is unaffected by its end. */
TEST(redeemed_socket_outlives_the_token_ttl)
{
	struct ss_protocol_info info;
	long long start, elapsed;
	unsigned int ttl;
	int sv[2], fd;

	/*
	 * The redeem must come within the lifetime: a thread that was not
	 * run in time finds the token expired, and tries again with a
	 * lifetime four times as long.
	 */
	for (ttl = 100;; ttl *= 4) {
		ASSERT_LE(ttl, 25600) TH_LOG("never redeemed within the lifetime");
		ASSERT_EQ(0, stream_pair(sv));
		start = now_ms();
		ASSERT_EQ(0, export_last(&sv[0], getpid(), ttl, &info));
		fd = ss_socket_from_info(&info, 0);
		if (fd >= 0)
			break;
		/* only a redeem after the lifetime (less a tick) may fail */
		ASSERT_EQ(EINVAL, errno);
		ASSERT_GE(now_ms() - start, ttl - 10);
		close(sv[1]);
	}
	/* well past the end of the lifetime */
	elapsed = now_ms() - start;
	if (elapsed < 3 * ttl)
		usleep((3 * ttl - elapsed) * 1000);
	EXPECT_TRUE(peer_open_for(sv[1], 0));
	EXPECT_TRUE(transfer_ok(fd, sv[1], "late"));
	EXPECT_TRUE(transfer_ok(sv[1], fd, "reply"));
	EXPECT_EQ(-1, ss_revoke(&info));
	EXPECT_EQ(EINVAL, errno);
	close(fd);
	EXPECT_TRUE(peer_eof_within(sv[1], WAIT_MS));
	close(sv[1]);
}

/* --- exit of the target -------------------------------------------------- */

/* A target whose parent ignores SIGCHLD is reaped at once: still freed. */
TEST(autoreaped_target_frees_its_token)
{
	struct ss_protocol_info info;
	int ctl[2], sv[2];
	pid_t pid;

	ASSERT_NE(SIG_ERR, signal(SIGCHLD, SIG_IGN));
	ASSERT_EQ(0, pipe(ctl));
	pid = spawn_waiter(ctl[0]);
	ASSERT_GE(pid, 0);
	ASSERT_EQ(0, stream_pair(sv));
	ASSERT_EQ(0, export_last(&sv[0], pid, 0, &info));
	EXPECT_TRUE(peer_open_for(sv[1], 50));
	ASSERT_EQ(1, write(ctl[1], "x", 1));
	EXPECT_TRUE(peer_eof_within(sv[1], WAIT_MS));
	EXPECT_EQ(-1, ss_revoke(&info));
	EXPECT_EQ(EINVAL, errno);
	close(sv[1]);
}

/*
 * Another process's exit frees the tokens bound to it, and only those: a
 * token bound to this process stays redeemable.
 */
TEST(other_process_exit_leaves_own_token_alive)
{
	struct ss_protocol_info theirs, mine;
	int ctl[2], sa[2], sb[2], fd;
	pid_t pid;

	ASSERT_EQ(0, pipe(ctl));
	pid = spawn_waiter(ctl[0]);
	ASSERT_GE(pid, 0);
	ASSERT_EQ(0, stream_pair(sa));
	ASSERT_EQ(0, stream_pair(sb));
	ASSERT_EQ(0, export_last(&sa[0], pid, 0, &theirs));
	ASSERT_EQ(0, export_last(&sb[0], getpid(), 0, &mine));
	ASSERT_EQ(0, kill(pid, SIGKILL));
	EXPECT_TRUE(peer_eof_within(sa[1], WAIT_MS));
	EXPECT_TRUE(peer_open_for(sb[1], 100));
	EXPECT_EQ(128 + SIGKILL, wait_exit(pid));
	EXPECT_TRUE(peer_open_for(sb[1], 50));
	fd = ss_socket_from_info(&mine, 0);
	ASSERT_GE(fd, 0);
	EXPECT_TRUE(transfer_ok(fd, sb[1], "mine"));
	close(fd);
	EXPECT_TRUE(peer_eof_within(sb[1], WAIT_MS));
	close(sa[1]);
	close(sb[1]);
}

static void *exit_at_once(void *arg)
{
	return arg;
}

/* A thread of the target exiting is not the target exiting. */
TEST(thread_exit_keeps_the_process_token)
{
	struct ss_protocol_info info;
	pthread_t thread;
	int sv[2], fd, i;

	ASSERT_EQ(0, stream_pair(sv));
	ASSERT_EQ(0, export_last(&sv[0], getpid(), 0, &info));
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, pthread_create(&thread, NULL, exit_at_once, NULL));
		ASSERT_EQ(0, pthread_join(thread, NULL));
	}
	EXPECT_TRUE(peer_open_for(sv[1], 100));
	fd = ss_socket_from_info(&info, 0);
	ASSERT_GE(fd, 0);
	EXPECT_TRUE(transfer_ok(fd, sv[1], "threads"));
	close(fd);
	EXPECT_TRUE(peer_eof_within(sv[1], WAIT_MS));
	close(sv[1]);
}

struct leader_args {
	int info_rd;
};

static void *leader_worker(void *arg)
{
	struct leader_args *a = arg;
	struct ss_protocol_info info[2];
	int i, fd;

	if (read_full(a->info_rd, info, sizeof(info)))
		_exit(10);
	for (i = 0; i < 2; i++) {
		fd = ss_socket_from_info(&info[i], 0);
		if (fd < 0)
			_exit(11 + i);
		if (send(fd, "y", 1, 0) != 1)
			_exit(13);
	}
	_exit(0);
}

/*
 * The thread-group leader exits (pthread_exit) while another thread runs:
 * the process has not exited, tokens exported before and after stay
 * redeemable by the remaining thread.
 */
TEST(leader_exit_keeps_tokens_for_remaining_threads)
{
	struct ss_protocol_info info[2];
	int info_pipe[2], go[2], sa[2], sb[2], i;
	char c;
	pid_t pid;

	ASSERT_EQ(0, pipe(info_pipe));
	ASSERT_EQ(0, pipe(go));
	pid = fork_child();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		static struct leader_args a;
		pthread_t thread;

		a.info_rd = info_pipe[0];
		if (pthread_create(&thread, NULL, leader_worker, &a))
			_exit(1);
		wait_byte(go[0]);
		pthread_exit(NULL);
	}
	ASSERT_EQ(0, stream_pair(sa));
	ASSERT_EQ(0, stream_pair(sb));
	ASSERT_EQ(0, export_last(&sa[0], pid, 0, &info[0]));
	ASSERT_EQ(1, write(go[1], "x", 1));
	for (i = 0; i < WAIT_MS / 5 && proc_state(pid) != 'Z'; i++)
		usleep(5000);
	ASSERT_EQ('Z', proc_state(pid)) TH_LOG("leader did not exit");
	EXPECT_TRUE(peer_open_for(sa[1], 100));
	ASSERT_EQ(0, export_last(&sb[0], pid, 0, &info[1]));
	ASSERT_EQ(0, write_full(info_pipe[1], info, sizeof(info)));
	EXPECT_EQ(1, recv(sa[1], &c, 1, 0));
	EXPECT_EQ(1, recv(sb[1], &c, 1, 0));
	EXPECT_EQ(0, wait_exit(pid));
	EXPECT_TRUE(peer_eof_within(sa[1], WAIT_MS));
	EXPECT_TRUE(peer_eof_within(sb[1], WAIT_MS));
	close(sa[1]);
	close(sb[1]);
}

/*
 * Exporting to a process that has exited (a zombie, whether or not it had
 * tokens before) fails with ESRCH and keeps no reference to the socket.
 */
TEST(export_to_exited_process_fails_and_holds_nothing)
{
	int ctl[2], sa[2], sb[2], sc[2];
	struct ss_protocol_info info;
	pid_t fresh, dying;

	fresh = fork_child();
	ASSERT_GE(fresh, 0);
	if (fresh == 0)
		_exit(0);
	ASSERT_EQ(0, pipe(ctl));
	dying = spawn_waiter(ctl[0]);
	ASSERT_GE(dying, 0);
	ASSERT_EQ(0, wait_zombie(fresh));
	ASSERT_EQ(0, stream_pair(sa));
	ASSERT_EQ(0, stream_pair(sb));
	ASSERT_EQ(0, stream_pair(sc));

	/* never a target */
	EXPECT_EQ(-1, export_last(&sa[0], fresh, 0, &info));
	EXPECT_EQ(ESRCH, errno);
	EXPECT_TRUE(peer_eof_within(sa[1], WAIT_MS));

	/* a target that had a token, then died */
	ASSERT_EQ(0, export_last(&sb[0], dying, 0, &info));
	EXPECT_TRUE(peer_open_for(sb[1], 20));
	ASSERT_EQ(1, write(ctl[1], "x", 1));
	ASSERT_EQ(0, wait_zombie(dying));
	EXPECT_TRUE(peer_eof_within(sb[1], WAIT_MS));
	EXPECT_EQ(-1, export_last(&sc[0], dying, 0, &info));
	EXPECT_EQ(ESRCH, errno);
	EXPECT_TRUE(peer_eof_within(sc[1], WAIT_MS));

	EXPECT_EQ(0, wait_exit(fresh));
	EXPECT_EQ(0, wait_exit(dying));
	close(sa[1]);
	close(sb[1]);
	close(sc[1]);
}

/* --- EMFILE -------------------------------------------------------------- */

/*
 * A redeem that fails for want of a descriptor leaves the token pending:
 * the same token redeems once a slot is free (or can still be revoked).
 */
TEST(emfile_keeps_the_token_redeemable)
{
	struct ss_protocol_info a, b;
	int sa[2], sb[2], p[2], dups[256], ndup = 0, fd, err;
	struct rlimit old, low;

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, stream_pair(sa));
	ASSERT_EQ(0, stream_pair(sb));
	ASSERT_EQ(0, export_last(&sa[0], getpid(), 0, &a));
	ASSERT_EQ(0, export_last(&sb[0], getpid(), 0, &b));

	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &old));
	low = old;
	low.rlim_cur = 64;
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &low));
	for (;;) {
		fd = dup(p[0]);
		if (fd < 0)
			break;
		ASSERT_LT(ndup, 256);
		dups[ndup++] = fd;
	}
	err = errno;
	ASSERT_EQ(EMFILE, err);
	ASSERT_GT(ndup, 0);

	EXPECT_EQ(-1, ss_socket_from_info(&a, 0));
	EXPECT_EQ(EMFILE, errno);
	EXPECT_EQ(-1, ss_socket_from_info(&a, O_CLOEXEC));
	EXPECT_EQ(EMFILE, errno);
	EXPECT_TRUE(peer_open_for(sa[1], 50));

	/* a token back from a failed redeem can still be revoked */
	EXPECT_EQ(-1, ss_socket_from_info(&b, 0));
	EXPECT_EQ(EMFILE, errno);
	EXPECT_EQ(0, ss_revoke(&b));
	EXPECT_TRUE(peer_eof_within(sb[1], WAIT_MS));

	close(dups[--ndup]);
	fd = ss_socket_from_info(&a, 0);
	ASSERT_GE(fd, 0);
	EXPECT_TRUE(transfer_ok(fd, sa[1], "after-emfile"));
	EXPECT_TRUE(transfer_ok(sa[1], fd, "reply"));
	/* used now: EINVAL, not EMFILE, though the table is full again */
	EXPECT_EQ(-1, ss_socket_from_info(&a, 0));
	EXPECT_EQ(EINVAL, errno);

	while (ndup)
		close(dups[--ndup]);
	EXPECT_EQ(0, setrlimit(RLIMIT_NOFILE, &old));
	close(fd);
	EXPECT_TRUE(peer_eof_within(sa[1], WAIT_MS));
	close(sa[1]);
	close(sb[1]);
}

/* --- races --------------------------------------------------------------- */

#define RACERS		8
#define RACE_ROUNDS	200

struct race {
	pthread_barrier_t start, done;
	struct ss_protocol_info info;
	bool stop;
	int result[RACERS];
	int err[RACERS];
	int revokers;	/* threads [0, revokers) revoke, the others redeem */
};

struct racer {
	struct race *race;
	int index;
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;
	struct race *race = r->race;

	for (;;) {
		pthread_barrier_wait(&race->start);
		if (race->stop)
			break;
		if (r->index < race->revokers)
			race->result[r->index] = ss_revoke(&race->info);
		else
			race->result[r->index] = ss_socket_from_info(&race->info, 0);
		race->err[r->index] = errno;
		pthread_barrier_wait(&race->done);
	}
	return NULL;
}

/*
 * Run @rounds rounds of @n threads ([0, revokers) revoking, the rest
 * redeeming) on a fresh token each.  Exactly one thread must succeed and
 * the others fail with EINVAL; the socket must be freed once the winner's
 * descriptor (if any) is closed.  Returns the number of bad rounds and
 * counts the winning revokes in *@revoked.
 */
static int run_race(int n, int revokers, int rounds, int *revoked)
{
	struct racer racers[RACERS];
	pthread_t threads[RACERS];
	struct race race = { .revokers = revokers };
	int bad = 0, round, i;

	*revoked = 0;
	pthread_barrier_init(&race.start, NULL, n + 1);
	pthread_barrier_init(&race.done, NULL, n + 1);
	for (i = 0; i < n; i++) {
		racers[i] = (struct racer){ .race = &race, .index = i };
		if (pthread_create(&threads[i], NULL, racer_main, &racers[i]))
			return -1;
	}
	for (round = 0; round < rounds; round++) {
		int sv[2], wins = 0, fd = -1, won_revoke = 0, wrong_err = 0;

		if (stream_pair(sv) || export_last(&sv[0], getpid(), 0,
						   &race.info)) {
			bad++;
			break;
		}
		pthread_barrier_wait(&race.start);
		pthread_barrier_wait(&race.done);
		for (i = 0; i < n; i++) {
			bool revoker = i < revokers;
			bool won = revoker ? race.result[i] == 0 :
					     race.result[i] >= 0;

			if (won) {
				wins++;
				if (revoker)
					won_revoke = 1;
				else
					fd = race.result[i];
			} else if (race.result[i] != -1 ||
				   race.err[i] != EINVAL) {
				wrong_err = 1;
			}
		}
		if (wins != 1 || wrong_err) {
			fprintf(stderr, "# round %d: %d winners (result/errno):",
				round, wins);
			for (i = 0; i < n; i++)
				fprintf(stderr, " %s%d/%d",
					i < revokers ? "revoke:" : "",
					race.result[i], race.err[i]);
			fprintf(stderr, "\n");
			bad++;
		}
		*revoked += won_revoke;
		if (fd >= 0) {
			if (!peer_open_for(sv[1], 0) ||
			    !transfer_ok(fd, sv[1], "won"))
				bad++;
			for (i = 0; i < n; i++)
				if (i >= revokers && race.result[i] >= 0)
					close(race.result[i]);
		}
		if (!peer_eof_within(sv[1], WAIT_MS)) {
			fprintf(stderr, "# round %d: socket not freed\n", round);
			bad++;
		}
		close(sv[1]);
		if (bad)
			break;
	}
	race.stop = true;
	pthread_barrier_wait(&race.start);
	for (i = 0; i < n; i++)
		pthread_join(threads[i], NULL);
	pthread_barrier_destroy(&race.start);
	pthread_barrier_destroy(&race.done);
	return bad;
}

/*
 * The same race with a wide window.  A redeem that needs a larger
 * descriptor table, in a process with several threads, waits for an RCU
 * grace period (expand_fdtable()) while it holds the token claimed: the
 * other threads' calls, or the token's expiry, land inside the claim.
 */
struct grow_race {
	int dev;
	int revokers;
	struct sharedsock_info info;
	int go;
	long long revoke_at;	/* revokers start then, inside the claim */
	int result[RACERS];
	int err[RACERS];
};

struct grow_racer {
	struct grow_race *race;
	int index;
};

static void *grow_racer_main(void *arg)
{
	struct grow_racer *r = arg;
	struct grow_race *race = r->race;
	int ret;

	while (!__atomic_load_n(&race->go, __ATOMIC_ACQUIRE))
		;
	if (r->index < race->revokers) {
		while (now_us() < race->revoke_at)
			;
		ret = raw_revoke(race->dev, &race->info);
	} else {
		ret = raw_redeem(race->dev, &race->info, 0);
	}
	race->err[r->index] = errno;
	race->result[r->index] = ret;
	return NULL;
}

/*
 * max_fds of this process's descriptor table, from /proc/self/status
 * opened beforehand as @status (reading it opens no descriptor), or -1.
 */
static int fd_table_size(int status)
{
	char buf[2048], *p;
	ssize_t n = pread(status, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strstr(buf, "\nFDSize:");
	return p ? atoi(p + 8) : -1;
}

/*
 * Target child for one wide-window round: @n threads ([0, revokers)
 * revoking, the others redeeming) fire at once at the token read from
 * @info_rd, with the descriptor table full; the revokers 300 us later,
 * so that they usually meet a claimed token.  Sends "w" through a redeemed
 * descriptor.  Exit status: the number of calls that succeeded, or 100+
 * for a setup failure or an error other than EINVAL.
 */
static int grow_race_child(int info_rd, int n, int revokers)
{
	static struct grow_race race;
	struct grow_racer racers[RACERS];
	pthread_t threads[RACERS];
	int i, fd, status, wins = 0;

	race.dev = dev_open();
	race.revokers = revokers;
	status = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (race.dev < 0 || status < 0)
		return 100;
	if (read_full(info_rd, &race.info, sizeof(race.info)))
		return 101;
	/* the lowest free descriptor is the first past a 64-entry table */
	do {
		fd = dup(info_rd);
	} while (fd >= 0 && fd < 63);
	if (fd != 63 || fd_table_size(status) != 64)
		return 102;
	for (i = 0; i < n; i++) {
		racers[i] = (struct grow_racer){ .race = &race, .index = i };
		if (pthread_create(&threads[i], NULL, grow_racer_main,
				   &racers[i]))
			return 103;
	}
	race.revoke_at = now_us() + 300;
	__atomic_store_n(&race.go, 1, __ATOMIC_RELEASE);
	for (i = 0; i < n; i++)
		pthread_join(threads[i], NULL);
	for (i = 0; i < n; i++) {
		if (i < revokers ? race.result[i] == 0 : race.result[i] >= 0) {
			wins++;
			if (i < revokers)
				continue;
			if (send(race.result[i], "w", 1, 0) != 1)
				return 104;
			/* installing it needed the larger table */
			if (fd_table_size(status) <= 64)
				return 105;
		} else if (race.result[i] != -1 || race.err[i] != EINVAL) {
			return 106;
		}
	}
	return wins;
}

/*
 * Run @rounds wide-window rounds, each in a new target process; returns
 * the number of rounds where the count of successful calls is not in
 * [@min_wins, 1] or the socket was not freed in the end.
 */
static int run_grow_race(int n, int revokers, unsigned int ttl_ms,
			 int rounds, int min_wins, int *redeemed)
{
	int round, bad = 0;

	*redeemed = 0;
	for (round = 0; round < rounds; round++) {
		struct ss_protocol_info info;
		int p[2], sv[2], status;
		char c;
		pid_t pid;

		if (pipe(p))
			return -1;
		pid = fork_child();
		if (pid < 0)
			return -1;
		if (pid == 0) {
			close(p[1]);
			_exit(grow_race_child(p[0], n, revokers));
		}
		close(p[0]);
		if (stream_pair(sv) ||
		    export_last(&sv[0], pid, ttl_ms, &info) ||
		    send_info(p[1], &info)) {
			kill(pid, SIGKILL);
			wait_exit(pid);
			return -1;
		}
		close(p[1]);
		status = wait_exit(pid);
		if (status < min_wins || status > 1) {
			fprintf(stderr, "# round %d: status %d\n", round, status);
			bad++;
		}
		if (status == 1 && n > revokers &&
		    recv(sv[1], &c, 1, MSG_DONTWAIT) == 1)
			(*redeemed)++;
		if (!peer_eof_within(sv[1], WAIT_MS)) {
			fprintf(stderr, "# round %d: socket not freed\n", round);
			bad++;
		}
		close(sv[1]);
		if (bad)
			break;
	}
	return bad;
}

#define GROW_ROUNDS	30

/* Eight threads of the target redeem one token at once: one wins. */
TEST(concurrent_redeems_exactly_one_wins)
{
	int revoked, redeemed;

	EXPECT_EQ(0, run_race(RACERS, 0, RACE_ROUNDS, &revoked));
	EXPECT_EQ(0, run_grow_race(RACERS, 0, 0, GROW_ROUNDS, 1, &redeemed));
	EXPECT_EQ(GROW_ROUNDS, redeemed);
}

/* One thread redeems while another revokes: exactly one succeeds. */
TEST(redeem_racing_revoke_exactly_one_wins)
{
	int revoked, redeemed;

	EXPECT_EQ(0, run_race(2, 1, 2 * RACE_ROUNDS, &revoked));
	TH_LOG("revoke won %d of %d rounds", revoked, 2 * RACE_ROUNDS);
	/* the revoke usually lands while the redeem holds the token */
	EXPECT_EQ(0, run_grow_race(2, 1, 0, GROW_ROUNDS, 1, &redeemed));
	TH_LOG("redeem won %d of %d wide-window rounds", redeemed,
	       GROW_ROUNDS);
}

/*
 * Redeem around the moment the token expires: either a working descriptor
 * or EINVAL, and the socket is freed in every case.
 */
TEST(redeem_racing_expiry_leaks_nothing)
{
	int round, redeemed = 0, expired = 0, bad = 0, leaked = 0;

	for (round = 0; round < RACE_ROUNDS; round++) {
		struct ss_protocol_info info;
		long long deadline;
		int sv[2], fd;

		ASSERT_EQ(0, stream_pair(sv));
		deadline = now_us() + (round * 37) % 9000;
		ASSERT_EQ(0, export_last(&sv[0], getpid(), 1 + round % 3,
					 &info));
		while (now_us() < deadline)
			;
		fd = ss_socket_from_info(&info, 0);
		if (fd >= 0) {
			redeemed++;
			if (!transfer_ok(fd, sv[1], "in-time"))
				bad++;
			close(fd);
		} else if (errno == EINVAL) {
			expired++;
		} else {
			bad++;
		}
		if (!peer_eof_within(sv[1], WAIT_MS))
			leaked++;
		close(sv[1]);
	}
	TH_LOG("%d redeemed, %d expired", redeemed, expired);
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, leaked);

	/* the expiry strikes while a redeem holds the token claimed */
	EXPECT_EQ(0, run_grow_race(1, 0, 4, GROW_ROUNDS, 0, &redeemed));
	TH_LOG("wide window: %d of %d redeemed", redeemed, GROW_ROUNDS);
}

struct exit_race {
	pthread_barrier_t barrier;
	struct ss_protocol_info info;
};

static void *exit_race_redeem(void *arg)
{
	struct exit_race *r = arg;

	pthread_barrier_wait(&r->barrier);
	ss_socket_from_info(&r->info, 0);
	return NULL;
}

/*
 * One thread of the target redeems while another ends the process: the
 * socket is freed whichever wins.
 */
TEST(target_exit_racing_redeem_leaks_nothing)
{
	int round, leaked = 0, bad = 0;

	for (round = 0; round < 50; round++) {
		struct ss_protocol_info info;
		int p[2], sv[2];
		pid_t pid;

		ASSERT_EQ(0, pipe(p));
		pid = fork_child();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			static struct exit_race r;
			long long deadline;
			pthread_t thread;

			close(p[1]);
			if (recv_info(p[0], &r.info))
				_exit(1);
			pthread_barrier_init(&r.barrier, NULL, 2);
			if (pthread_create(&thread, NULL, exit_race_redeem, &r))
				_exit(2);
			pthread_barrier_wait(&r.barrier);
			deadline = now_us() + round % 10 * 5;
			while (now_us() < deadline)
				;
			_exit(0);
		}
		close(p[0]);
		ASSERT_EQ(0, stream_pair(sv));
		ASSERT_EQ(0, export_last(&sv[0], pid, 0, &info));
		ASSERT_EQ(0, send_info(p[1], &info));
		close(p[1]);
		if (!peer_eof_within(sv[1], WAIT_MS))
			leaked++;
		if (wait_exit(pid) != 0)
			bad++;
		close(sv[1]);
	}
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, leaked);
}

/*
 * The exporter revokes while the target exits: the revoke succeeds or
 * finds the token gone (EINVAL), and the socket is freed either way.
 */
TEST(revoke_racing_target_exit_leaks_nothing)
{
	int round, revoked = 0, gone = 0, bad = 0, leaked = 0;

	for (round = 0; round < 100; round++) {
		struct ss_protocol_info info;
		long long deadline;
		int ctl[2], sv[2];
		pid_t pid;

		ASSERT_EQ(0, pipe(ctl));
		pid = spawn_waiter(ctl[0]);
		ASSERT_GE(pid, 0);
		close(ctl[0]);
		ASSERT_EQ(0, stream_pair(sv));
		ASSERT_EQ(0, export_last(&sv[0], pid, 0, &info));
		ASSERT_EQ(1, write(ctl[1], "x", 1));
		deadline = now_us() + round % 20 * 100;
		while (now_us() < deadline)
			;
		if (ss_revoke(&info) == 0)
			revoked++;
		else if (errno == EINVAL)
			gone++;
		else
			bad++;
		if (!peer_eof_within(sv[1], WAIT_MS))
			leaked++;
		if (wait_exit(pid) != 0)
			bad++;
		close(ctl[1]);
		close(sv[1]);
	}
	TH_LOG("%d revoked, %d already freed by the exit", revoked, gone);
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, leaked);
}

/* --- many tokens, many targets ------------------------------------------- */

#define MAX_TOKENS	100

/*
 * Target child: reads a count and that many infos from @in, redeems them
 * in order, sends "y" through each descriptor it gets and writes one byte
 * per token to @out: 'R' redeemed, 'E' EINVAL, 'X' another error, 'S' send
 * failed.  Keeps the descriptors until a byte or EOF arrives on @in.
 */
static int redeem_server(int in, int out)
{
	struct ss_protocol_info info[MAX_TOKENS];
	char res[MAX_TOKENS];
	int n, i, fd;

	if (read_full(in, &n, sizeof(n)) || n < 0 || n > MAX_TOKENS)
		return 1;
	if (read_full(in, info, n * sizeof(info[0])))
		return 2;
	for (i = 0; i < n; i++) {
		fd = ss_socket_from_info(&info[i], 0);
		if (fd >= 0)
			res[i] = send(fd, "y", 1, 0) == 1 ? 'R' : 'S';
		else
			res[i] = errno == EINVAL ? 'E' : 'X';
	}
	if (write_full(out, res, n))
		return 3;
	wait_byte(in);
	return 0;
}

static int send_infos(int fd, const struct ss_protocol_info *info, int n)
{
	if (write_full(fd, &n, sizeof(n)))
		return -1;
	return write_full(fd, info, n * sizeof(*info));
}

/*
 * 100 tokens for 100 sockets to one target; the exporter revokes the odd
 * ones (freed at once), the target redeems all: the even ones succeed,
 * the odd ones fail with EINVAL.
 */
TEST(hundred_tokens_revoke_odd_redeem_even)
{
	static struct ss_protocol_info info[MAX_TOKENS];
	int to_child[2], to_parent[2], peer[MAX_TOKENS], i, sv[2];
	char res[MAX_TOKENS], c;
	pid_t pid;

	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(to_parent));
	pid = fork_child();
	ASSERT_GE(pid, 0);
	if (pid == 0)
		_exit(redeem_server(to_child[0], to_parent[1]));

	for (i = 0; i < MAX_TOKENS; i++) {
		ASSERT_EQ(0, stream_pair(sv));
		peer[i] = sv[1];
		ASSERT_EQ(0, export_last(&sv[0], pid, 0, &info[i]));
	}
	for (i = 1; i < MAX_TOKENS; i += 2)
		EXPECT_EQ(0, ss_revoke(&info[i])) TH_LOG("token %d", i);
	for (i = 0; i < MAX_TOKENS; i++) {
		if (i % 2) {
			EXPECT_TRUE(peer_eof_within(peer[i], WAIT_MS))
				TH_LOG("revoked token %d not freed", i);
		} else {
			EXPECT_TRUE(peer_open_for(peer[i], 0))
				TH_LOG("token %d freed", i);
		}
	}
	ASSERT_EQ(0, send_infos(to_child[1], info, MAX_TOKENS));
	ASSERT_EQ(0, read_full(to_parent[0], res, sizeof(res)));
	for (i = 0; i < MAX_TOKENS; i++) {
		EXPECT_EQ(i % 2 ? 'E' : 'R', res[i]) TH_LOG("token %d", i);
		if (i % 2 == 0)
			EXPECT_EQ(1, recv(peer[i], &c, 1, MSG_DONTWAIT));
	}
	ASSERT_EQ(1, write(to_child[1], "q", 1));
	EXPECT_EQ(0, wait_exit(pid));
	for (i = 0; i < MAX_TOKENS; i += 2)
		EXPECT_TRUE(peer_eof_within(peer[i], WAIT_MS));
	for (i = 0; i < MAX_TOKENS; i++)
		close(peer[i]);
}

#define TARGETS		4
#define PER_TARGET	8

/*
 * Tokens for several targets at once: killing one target frees its tokens
 * and only those; the others redeem all of theirs.
 */
TEST(tokens_of_different_targets_are_independent)
{
	static struct ss_protocol_info info[TARGETS][PER_TARGET];
	int to_child[TARGETS][2], to_parent[TARGETS][2];
	int peer[TARGETS][PER_TARGET], sv[2], t, i;
	const int victim = 1;
	pid_t pid[TARGETS];
	char res[PER_TARGET], c;

	for (t = 0; t < TARGETS; t++) {
		ASSERT_EQ(0, pipe(to_child[t]));
		ASSERT_EQ(0, pipe(to_parent[t]));
		pid[t] = fork_child();
		ASSERT_GE(pid[t], 0);
		if (pid[t] == 0)
			_exit(redeem_server(to_child[t][0], to_parent[t][1]));
	}
	for (t = 0; t < TARGETS; t++)
		for (i = 0; i < PER_TARGET; i++) {
			ASSERT_EQ(0, stream_pair(sv));
			peer[t][i] = sv[1];
			ASSERT_EQ(0, export_last(&sv[0], pid[t], 0,
						 &info[t][i]));
		}
	ASSERT_EQ(0, kill(pid[victim], SIGKILL));
	for (i = 0; i < PER_TARGET; i++)
		EXPECT_TRUE(peer_eof_within(peer[victim][i], WAIT_MS));
	EXPECT_EQ(-1, ss_revoke(&info[victim][0]));
	EXPECT_EQ(EINVAL, errno);
	for (t = 0; t < TARGETS; t++)
		for (i = 0; t != victim && i < PER_TARGET; i++)
			EXPECT_TRUE(peer_open_for(peer[t][i], 0))
				TH_LOG("target %d token %d freed", t, i);
	EXPECT_EQ(128 + SIGKILL, wait_exit(pid[victim]));

	for (t = 0; t < TARGETS; t++) {
		if (t == victim)
			continue;
		ASSERT_EQ(0, send_infos(to_child[t][1], info[t], PER_TARGET));
		ASSERT_EQ(0, read_full(to_parent[t][0], res, sizeof(res)));
		for (i = 0; i < PER_TARGET; i++) {
			EXPECT_EQ('R', res[i]) TH_LOG("target %d token %d", t, i);
			EXPECT_EQ(1, recv(peer[t][i], &c, 1, MSG_DONTWAIT));
		}
	}
	for (t = 0; t < TARGETS; t++) {
		if (t == victim)
			continue;
		ASSERT_EQ(1, write(to_child[t][1], "q", 1));
		EXPECT_EQ(0, wait_exit(pid[t]));
	}
	for (t = 0; t < TARGETS; t++)
		for (i = 0; i < PER_TARGET; i++) {
			EXPECT_TRUE(peer_eof_within(peer[t][i], WAIT_MS));
			close(peer[t][i]);
		}
}

/* --- per socket type: revoke, expiry, target exit ------------------------ */

/*
 * The pair is made by each test after forking its target, so that no child
 * holds a copy of the exported end.
 */
FIXTURE(pair)
{
	int sv[2];	/* sv[0] is exported, then closed; sv[1] is its peer */
};

FIXTURE_VARIANT(pair)
{
	int family;
	int type;
};

FIXTURE_VARIANT_ADD(pair, unix_stream)
{
	.family = AF_UNIX, .type = SOCK_STREAM,
};

FIXTURE_VARIANT_ADD(pair, unix_seqpacket)
{
	.family = AF_UNIX, .type = SOCK_SEQPACKET,
};

FIXTURE_VARIANT_ADD(pair, tcp4)
{
	.family = AF_INET, .type = SOCK_STREAM,
};

FIXTURE_VARIANT_ADD(pair, tcp6)
{
	.family = AF_INET6, .type = SOCK_STREAM,
};

FIXTURE_SETUP(pair)
{
	self->sv[0] = -1;
	self->sv[1] = -1;
}

FIXTURE_TEARDOWN(pair)
{
	if (self->sv[0] >= 0)
		close(self->sv[0]);
	if (self->sv[1] >= 0)
		close(self->sv[1]);
}

/*
 * The exporter revokes: the socket reference is dropped at once, a second
 * revoke fails, and so does the target's redeem.
 */
TEST_F(pair, revoke_drops_the_reference_and_blocks_redeem)
{
	struct ss_protocol_info info;
	int to_child[2];
	pid_t pid;

	ASSERT_EQ(0, pipe(to_child));
	pid = fork_child();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int fd;

		if (recv_info(to_child[0], &info))
			_exit(1);
		fd = ss_socket_from_info(&info, 0);
		if (fd >= 0)
			_exit(2);
		_exit(errno == EINVAL ? 0 : 3);
	}
	ASSERT_EQ(0, socket_pair(variant->family, variant->type, self->sv));
	ASSERT_EQ(0, export_last(&self->sv[0], pid, 0, &info));
	EXPECT_TRUE(peer_open_for(self->sv[1], 100));
	ASSERT_EQ(0, ss_revoke(&info));
	EXPECT_TRUE(peer_eof_within(self->sv[1], WAIT_MS));
	EXPECT_EQ(-1, ss_revoke(&info));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, send_info(to_child[1], &info));
	EXPECT_EQ(0, wait_exit(pid));
}

/*
 * A 100 ms token: alive at first, freed by its expiry on time (not early,
 * and within LATE_MS), then neither redeemable nor revocable.  "Alive at
 * first" holds for the lifetime: a check that ran late meets the expiry.
 */
TEST_F(pair, expiry_drops_the_reference_promptly)
{
	struct ss_protocol_info info;
	long long start, elapsed;

	ASSERT_EQ(0, socket_pair(variant->family, variant->type, self->sv));
	start = now_ms();
	ASSERT_EQ(0, export_last(&self->sv[0], getpid(), 100, &info));
	EXPECT_TRUE(peer_open_for(self->sv[1], 20) || now_ms() - start >= 90);
	EXPECT_TRUE(peer_eof_within(self->sv[1], WAIT_MS));
	elapsed = now_ms() - start;
	EXPECT_GE(elapsed, 90);
	EXPECT_LE(elapsed, LATE_MS);
	if (elapsed < 300)
		usleep((300 - elapsed) * 1000);
	EXPECT_EQ(-1, ss_socket_from_info(&info, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ss_revoke(&info));
	EXPECT_EQ(EINVAL, errno);
}

/* SIGKILL of the target frees its token before the zombie is reaped. */
TEST_F(pair, killed_target_frees_token_before_reap)
{
	struct ss_protocol_info info;
	int ctl[2];
	pid_t pid;

	ASSERT_EQ(0, pipe(ctl));
	pid = spawn_waiter(ctl[0]);
	ASSERT_GE(pid, 0);
	ASSERT_EQ(0, socket_pair(variant->family, variant->type, self->sv));
	ASSERT_EQ(0, export_last(&self->sv[0], pid, 0, &info));
	EXPECT_TRUE(peer_open_for(self->sv[1], 100));
	ASSERT_EQ(0, kill(pid, SIGKILL));
	EXPECT_TRUE(peer_eof_within(self->sv[1], WAIT_MS));
	EXPECT_EQ(-1, ss_revoke(&info));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(128 + SIGKILL, wait_exit(pid));
}

/* A target that exits normally without redeeming frees its token. */
TEST_F(pair, exited_target_frees_token_before_reap)
{
	struct ss_protocol_info info;
	int ctl[2];
	pid_t pid;

	ASSERT_EQ(0, pipe(ctl));
	pid = spawn_waiter(ctl[0]);
	ASSERT_GE(pid, 0);
	ASSERT_EQ(0, socket_pair(variant->family, variant->type, self->sv));
	ASSERT_EQ(0, export_last(&self->sv[0], pid, 0, &info));
	EXPECT_TRUE(peer_open_for(self->sv[1], 100));
	ASSERT_EQ(1, write(ctl[1], "x", 1));
	EXPECT_TRUE(peer_eof_within(self->sv[1], WAIT_MS));
	EXPECT_EQ(-1, ss_revoke(&info));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, wait_exit(pid));
}

/* --- module parameters --------------------------------------------------- */

static int read_param(const char *name, unsigned int *val)
{
	char buf[32];

	if (param_read(name, buf, sizeof(buf)))
		return -1;
	*val = strtoul(buf, NULL, 10);
	return 0;
}

static int write_param(const char *name, unsigned int val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%u", val);
	return param_write(name, buf);
}

FIXTURE(params)
{
	unsigned int default_ttl_ms;
	unsigned int max_ttl_ms;
	bool saved;	/* parameters read; restore them on teardown */
	int sv[2];
};

FIXTURE_SETUP(params)
{
	self->sv[0] = -1;
	self->sv[1] = -1;
	self->saved = geteuid() == 0 &&
		      !read_param("default_ttl_ms", &self->default_ttl_ms) &&
		      !read_param("max_ttl_ms", &self->max_ttl_ms);
	ASSERT_EQ(0, stream_pair(self->sv));
}

FIXTURE_TEARDOWN(params)
{
	unsigned int val;

	if (self->saved) {
		EXPECT_EQ(0, write_param("max_ttl_ms", self->max_ttl_ms));
		EXPECT_EQ(0, write_param("default_ttl_ms",
					 self->default_ttl_ms));
		EXPECT_EQ(0, read_param("default_ttl_ms", &val));
		EXPECT_EQ(self->default_ttl_ms, val);
		EXPECT_EQ(0, read_param("max_ttl_ms", &val));
		EXPECT_EQ(self->max_ttl_ms, val);
	}
	if (self->sv[0] >= 0)
		close(self->sv[0]);
	if (self->sv[1] >= 0)
		close(self->sv[1]);
}

/* Exported with ttl_ms 0, a token lives default_ttl_ms. */
TEST_F(params, default_ttl_applies_to_ttl_zero)
{
	struct ss_protocol_info info;
	long long start, elapsed;

	if (!self->saved)
		SKIP(return, "needs root and " PARAM_DIR);
	ASSERT_EQ(0, write_param("default_ttl_ms", 150));
	start = now_ms();
	ASSERT_EQ(0, export_last(&self->sv[0], getpid(), 0, &info));
	EXPECT_TRUE(peer_open_for(self->sv[1], 20) || now_ms() - start >= 140);
	EXPECT_TRUE(peer_eof_within(self->sv[1], WAIT_MS));
	elapsed = now_ms() - start;
	EXPECT_GE(elapsed, 140);
	EXPECT_LE(elapsed, LATE_MS);
	EXPECT_EQ(-1, ss_socket_from_info(&info, 0));
	EXPECT_EQ(EINVAL, errno);
}

/* Lifetimes above max_ttl_ms are refused (holding nothing); at it, fine. */
TEST_F(params, max_ttl_rejects_longer_lifetimes)
{
	struct ss_protocol_info info;
	int fd;

	if (!self->saved)
		SKIP(return, "needs root and " PARAM_DIR);
	ASSERT_EQ(0, write_param("max_ttl_ms", 500));
	EXPECT_EQ(-1, ss_duplicate_socket_ttl(self->sv[0], getpid(), 501,
					      &info));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ss_duplicate_socket_ttl(self->sv[0], getpid(),
					      self->max_ttl_ms, &info));
	EXPECT_EQ(EINVAL, errno);

	ASSERT_EQ(0, ss_duplicate_socket_ttl(self->sv[0], getpid(), 500,
					     &info));
	fd = ss_socket_from_info(&info, 0);
	ASSERT_GE(fd, 0);
	EXPECT_TRUE(transfer_ok(fd, self->sv[1], "at-max"));
	close(fd);

	/* the refused exports left no token: closing frees the socket */
	close(self->sv[0]);
	self->sv[0] = -1;
	EXPECT_TRUE(peer_eof_within(self->sv[1], WAIT_MS));
}

/* A default_ttl_ms above max_ttl_ms is clamped to the maximum. */
TEST_F(params, default_above_max_is_clamped)
{
	struct ss_protocol_info info;
	long long start, elapsed;

	if (!self->saved)
		SKIP(return, "needs root and " PARAM_DIR);
	ASSERT_EQ(0, write_param("max_ttl_ms", 200));
	ASSERT_EQ(0, write_param("default_ttl_ms", 5000));
	start = now_ms();
	ASSERT_EQ(0, export_last(&self->sv[0], getpid(), 0, &info));
	EXPECT_TRUE(peer_open_for(self->sv[1], 20) || now_ms() - start >= 190);
	EXPECT_TRUE(peer_eof_within(self->sv[1], WAIT_MS));
	elapsed = now_ms() - start;
	EXPECT_GE(elapsed, 190);
	EXPECT_LE(elapsed, LATE_MS);
}

/* --- module unload (keep last: unloads and reloads the module) ----------- */

static bool module_loaded(void)
{
	return access("/sys/module/sharedsock", F_OK) == 0;
}

static int load_module(const char *ko)
{
	int fd = open(ko, O_RDONLY | O_CLOEXEC);
	int ret, saved;

	if (fd < 0)
		return -1;
	ret = syscall(SYS_finit_module, fd, "", 0);
	saved = errno;
	close(fd);
	errno = saved;
	return ret;
}

static int unload_module(void)
{
	return syscall(SYS_delete_module, "sharedsock", O_NONBLOCK);
}

static bool wait_for_device(int ms)
{
	long long deadline = now_ms() + ms;

	while (access(SHAREDSOCK_DEVICE_PATH, F_OK)) {
		if (now_ms() > deadline)
			return false;
		usleep(10 * 1000);
	}
	return true;
}

/* Descriptors of this process open on /dev/sharedsock. */
static int device_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *de;
	char link[256];
	ssize_t n;
	int count = 0;

	if (!dir)
		return -1;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		n = readlinkat(dirfd(dir), de->d_name, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (!strcmp(link, SHAREDSOCK_DEVICE_PATH))
			count++;
	}
	closedir(dir);
	return count;
}

FIXTURE(unload)
{
	const char *ko;
	int dev;
};

FIXTURE_SETUP(unload)
{
	self->ko = getenv("SHAREDSOCK_KO");
	self->dev = -1;
}

/* Whatever happened, leave the module loaded for whoever runs next. */
FIXTURE_TEARDOWN(unload)
{
	if (self->dev >= 0)
		close(self->dev);
	if (self->ko && !module_loaded()) {
		EXPECT_EQ(0, load_module(self->ko))
			TH_LOG("reloading %s: %s", self->ko, strerror(errno));
		EXPECT_TRUE(wait_for_device(WAIT_MS));
	}
}

/* Why the unload tests cannot run here, or NULL. */
static const char *unload_unsupported(const char *ko)
{
	if (!ko)
		return "SHAREDSOCK_KO is not set";
	if (geteuid() != 0)
		return "needs root to unload the module";
	if (!module_loaded())
		return "sharedsock is not loaded as a module";
	return NULL;
}

/*
 * With a /dev/sharedsock descriptor open the module is in use: unloading
 * fails and changes nothing (the pending token still redeems).
 */
TEST_F(unload, refused_while_the_device_is_open)
{
	struct sharedsock_info info;
	int sv[2], fd, ret;

	if (unload_unsupported(self->ko))
		SKIP(return, "%s", unload_unsupported(self->ko));
	/* The library is not used here: nothing may have opened it. */
	ASSERT_EQ(0, device_fds())
		TH_LOG("/dev/sharedsock inherited: it pins the module");
	self->dev = dev_open();
	ASSERT_GE(self->dev, 0);
	ASSERT_EQ(0, stream_pair(sv));
	ASSERT_EQ(0, raw_duplicate(self->dev, sv[0], getpid(), 0, &info));
	close(sv[0]);

	ret = unload_module();
	EXPECT_EQ(-1, ret);
	if (ret == -1) {
		EXPECT_TRUE(errno == EWOULDBLOCK || errno == EBUSY)
			TH_LOG("delete_module: %s", strerror(errno));
	}
	ASSERT_TRUE(module_loaded());
	EXPECT_EQ(0, access(SHAREDSOCK_DEVICE_PATH, F_OK));
	EXPECT_TRUE(peer_open_for(sv[1], 50));

	fd = raw_redeem(self->dev, &info, 0);
	ASSERT_GE(fd, 0);
	EXPECT_TRUE(transfer_ok(fd, sv[1], "still-here"));
	close(fd);
	EXPECT_TRUE(peer_eof_within(sv[1], WAIT_MS));
	close(sv[1]);
}

#define UNLOAD_SELF	3
#define UNLOAD_CHILD	3

/*
 * Unloading the module with tokens pending (bound to this process and to a
 * live child, with the device closed) succeeds and frees every token; the
 * module then reloads, /dev/sharedsock works again and old tokens mean
 * nothing to the new instance.
 */
TEST_F(unload, frees_pending_tokens_then_reloads)
{
	int peer[UNLOAD_SELF + UNLOAD_CHILD], ctl[2], sv[2], fd, ret, i;
	struct sharedsock_info info, old;
	long long deadline;
	pid_t pid;

	if (unload_unsupported(self->ko))
		SKIP(return, "%s", unload_unsupported(self->ko));
	/* The library is not used here: nothing may have opened it. */
	ASSERT_EQ(0, device_fds())
		TH_LOG("/dev/sharedsock inherited: it pins the module");
	/* the child target is forked before the device is opened */
	ASSERT_EQ(0, pipe(ctl));
	pid = spawn_waiter(ctl[0]);
	ASSERT_GE(pid, 0);

	self->dev = dev_open();
	ASSERT_GE(self->dev, 0);
	for (i = 0; i < UNLOAD_SELF + UNLOAD_CHILD; i++) {
		ASSERT_EQ(0, stream_pair(sv));
		peer[i] = sv[1];
		ASSERT_EQ(0, raw_duplicate(self->dev, sv[0],
					   i < UNLOAD_SELF ? getpid() : pid,
					   0, &info));
		close(sv[0]);
		if (i == 0)
			old = info;
	}
	close(self->dev);
	self->dev = -1;
	ASSERT_EQ(0, device_fds());
	for (i = 0; i < UNLOAD_SELF + UNLOAD_CHILD; i++)
		EXPECT_TRUE(peer_open_for(peer[i], 0));

	/* exiting helpers of earlier tests may still hold the device */
	deadline = now_ms() + WAIT_MS;
	while ((ret = unload_module()) == -1 &&
	       (errno == EWOULDBLOCK || errno == EBUSY) &&
	       now_ms() < deadline)
		usleep(20 * 1000);
	ASSERT_EQ(0, ret) TH_LOG("delete_module: %s", strerror(errno));
	EXPECT_FALSE(module_loaded());
	EXPECT_EQ(-1, open(SHAREDSOCK_DEVICE_PATH, O_RDWR | O_CLOEXEC));
	EXPECT_EQ(ENOENT, errno);
	/* The library says "No such device" (ENODEV), not ENOENT. */
	EXPECT_EQ(-1, ss_queue_create(O_CLOEXEC));
	EXPECT_EQ(ENODEV, errno);
	for (i = 0; i < UNLOAD_SELF + UNLOAD_CHILD; i++)
		EXPECT_TRUE(peer_eof_within(peer[i], WAIT_MS))
			TH_LOG("token %d survived the unload", i);

	ASSERT_EQ(0, load_module(self->ko))
		TH_LOG("finit_module(%s): %s", self->ko, strerror(errno));
	ASSERT_TRUE(wait_for_device(WAIT_MS));
	self->dev = dev_open();
	ASSERT_GE(self->dev, 0);
	EXPECT_EQ(-1, raw_redeem(self->dev, &old, 0));
	EXPECT_EQ(EINVAL, errno);

	ASSERT_EQ(0, stream_pair(sv));
	ASSERT_EQ(0, raw_duplicate(self->dev, sv[0], getpid(), 0, &info));
	close(sv[0]);
	fd = raw_redeem(self->dev, &info, 0);
	ASSERT_GE(fd, 0);
	EXPECT_TRUE(transfer_ok(fd, sv[1], "reloaded"));
	close(fd);
	EXPECT_TRUE(peer_eof_within(sv[1], WAIT_MS));
	close(sv[1]);
	close(self->dev);
	self->dev = -1;

	ASSERT_EQ(1, write(ctl[1], "x", 1));
	EXPECT_EQ(0, wait_exit(pid));
	for (i = 0; i < UNLOAD_SELF + UNLOAD_CHILD; i++)
		close(peer[i]);
}

TEST_HARNESS_MAIN
