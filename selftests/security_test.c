// SPDX-License-Identifier: GPL-2.0
/*
 * Who may redeem, export and revoke.
 *
 *  - A token is bound to its target process (struct pid, not the number):
 *    any other process, a thread id, a recycled pid or a guessed token is
 *    refused with EINVAL, like an unknown token, and consumes nothing.
 *  - Exporting to another process needs it to run wholly as the
 *    exporter's effective uid and gid and to be dumpable, as ptrace has it,
 *    or CAP_SYS_PTRACE or CAP_SYS_ADMIN, or the cross_user parameter
 *    (EPERM otherwise), as OpenProcess(PROCESS_DUP_HANDLE) does; exporting
 *    to itself needs nothing.  Revoking needs to be the exporting process.
 *  - Pending tokens are capped per real uid (max_user_tokens, else the
 *    exporter's RLIMIT_NOFILE); CAP_SYS_RESOURCE/CAP_SYS_ADMIN are exempt.
 *  - Pids are resolved in the caller's pid namespace.
 *  - The device descriptor carries no identity: passed to another process,
 *    it redeems only what is bound to that process.
 *
 * Children report through exit codes: 0 is success, a small number the
 * failing step, NO_TOKEN that nothing was handed over, 200 and up a setup
 * failure.  Children say which check failed on stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "kselftest_harness.h"

#define UID_A		1000
#define UID_B		1001
#define UID_C		1002

#define NO_TOKEN	100	/* the target was sent no token */
#define SETUP_FAIL	200	/* 200..254: a child could not set itself up */


/* ---------------------------------------------------------------------- */

static bool fails_with(int ret, int err)
{
	return ret == -1 && errno == err;
}

static int put_byte(int fd)
{
	return write(fd, "x", 1) == 1 ? 0 : -1;
}

static int get_byte(int fd)
{
	char c;

	return read(fd, &c, 1) == 1 ? 0 : -1;
}

static int put_info(int fd, const struct sharedsock_info *info)
{
	return write(fd, info, sizeof(*info)) == sizeof(*info) ? 0 : -1;
}

static int get_info(int fd, struct sharedsock_info *info)
{
	return read(fd, info, sizeof(*info)) == sizeof(*info) ? 0 : -1;
}

static int put_pid(int fd, pid_t pid)
{
	return write(fd, &pid, sizeof(pid)) == sizeof(pid) ? 0 : -1;
}

static pid_t get_pid(int fd)
{
	pid_t pid;

	return read(fd, &pid, sizeof(pid)) == sizeof(pid) ? pid : -1;
}

/* Receive exactly @msg on @fd. */
static bool got(int fd, const char *msg)
{
	size_t len = strlen(msg);
	char buf[64];
	ssize_t n;

	n = recv(fd, buf, sizeof(buf), 0);
	return n == (ssize_t)len && memcmp(buf, msg, len) == 0;
}

static bool sent(int fd, const char *msg)
{
	size_t len = strlen(msg);

	return send(fd, msg, len, 0) == (ssize_t)len;
}

/* Children die with the test, so nothing is left holding the device. */
static void die_with_parent(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
}

static pid_t clone3_pid(unsigned long long flags, pid_t *set_tid,
			size_t set_tid_size)
{
	struct clone_args args = {
		.flags = flags,
		.exit_signal = SIGCHLD,
		.set_tid = (uintptr_t)set_tid,
		.set_tid_size = set_tid_size,
	};

	return syscall(SYS_clone3, &args, sizeof(args));
}

static int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = "d", .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	char c;
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cmsg;
	int fd;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	cmsg = CMSG_FIRSTHDR(&msg);
	if (!cmsg || cmsg->cmsg_level != SOL_SOCKET ||
	    cmsg->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
	return fd;
}

/* This process's pid in the root pid namespace and in its own. */
static int ns_pids(pid_t *outer, pid_t *inner)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	int found = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "NSpid: %d %d", outer, inner) == 2) {
			found = 0;
			break;
		}
	fclose(f);
	return found;
}

static int set_nofile(rlim_t soft)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -1;
	rl.rlim_cur = soft;
	return setrlimit(RLIMIT_NOFILE, &rl);
}

/*
 * Belt and braces for tests that change parameters: whatever happens to a
 * test (even a timeout, which skips its teardown), the harness process puts
 * the values it started with back when it exits.
 */
static char saved_cross_user[16], saved_max_user_tokens[32];
static bool params_saved;

static void __attribute__((constructor)) save_params(void)
{
	params_saved =
		!param_read("cross_user", saved_cross_user,
			    sizeof(saved_cross_user)) &&
		!param_read("max_user_tokens", saved_max_user_tokens,
			    sizeof(saved_max_user_tokens));
}

static void __attribute__((destructor)) restore_params(void)
{
	if (!params_saved)
		return;
	param_write("cross_user", saved_cross_user);
	param_write("max_user_tokens", saved_max_user_tokens);
}

/* Credentials a child switches to. */
struct creds {
	bool root;		/* stay root: change no id */
	uid_t ruid, euid, suid;	/* the gids follow the uids, unless @gids */
	bool gids;
	gid_t rgid, egid, sgid;
	__u64 caps;		/* effective and permitted after the switch */
	bool nondumpable;	/* prctl(PR_SET_DUMPABLE, 0) at the end */
};

#define ROOT		{ .root = true }
#define USER(u)		{ .ruid = (u), .euid = (u), .suid = (u) }
#define USER_CAPS(u, c)	{ .ruid = (u), .euid = (u), .suid = (u), .caps = (c) }
#define IDS(r, e, s)	{ .ruid = (r), .euid = (e), .suid = (s) }
#define GIDS(u, r, e, s) { .ruid = (u), .euid = (u), .suid = (u),	\
			   .gids = true, .rgid = (r), .egid = (e), .sgid = (s) }
#define CAP(c)		(1ULL << (c))

static int set_caps(__u64 caps)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2] = { 0 };

	data[0].effective = (__u32)caps;
	data[0].permitted = (__u32)caps;
	data[1].effective = (__u32)(caps >> 32);
	data[1].permitted = (__u32)(caps >> 32);
	return syscall(SYS_capset, &hdr, data);
}

/*
 * Switch to @c.  Changing ids makes a process non-dumpable (until it
 * executes a program), and ptrace, like export, refuses such a target: so
 * the child becomes dumpable again, as a program started by that user would
 * be, unless @c says otherwise.
 */
static int apply_creds(const struct creds *c)
{
	if (c->root)
		return prctl(PR_SET_DUMPABLE, !c->nondumpable, 0, 0, 0);
	if (c->caps && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0))
		return -1;
	if (setgroups(0, NULL) ||
	    (c->gids ? setresgid(c->rgid, c->egid, c->sgid) :
		       setresgid(c->ruid, c->euid, c->suid)) ||
	    setresuid(c->ruid, c->euid, c->suid))
		return -1;
	if (c->caps && (set_caps(c->caps) || prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0)))
		return -1;
	return prctl(PR_SET_DUMPABLE, !c->nondumpable, 0, 0, 0);
}

struct handoff {
	int exporter;	/* 0, errno of the export, or a failed step */
	int target;	/* 0 (redeemed, sent data), NO_TOKEN, or a failed step */
};

/*
 * An exporter running with @ex exports a fresh socket to a target running
 * with @tg; on success the target redeems it and sends through it what the
 * exporter must then receive on the peer.  End to end, in unprivileged
 * processes when the credentials say so.
 */
static struct handoff handoff(const struct creds *ex, const struct creds *tg)
{
	struct handoff h = { -1, -1 };
	int ready[2], info_p[2];
	pid_t target, exporter;

	if (pipe(ready) || pipe(info_p))
		return h;
	target = fork();
	if (target < 0)
		return h;
	if (target == 0) {
		struct sharedsock_info info;
		int dev, fd;

		close(ready[0]);
		close(info_p[1]);
		CHILD_CHECK(apply_creds(tg) == 0, SETUP_FAIL + 1);
		die_with_parent();
		dev = dev_open();
		CHILD_CHECK(dev >= 0, SETUP_FAIL + 2);
		CHILD_CHECK(put_byte(ready[1]) == 0, SETUP_FAIL + 3);
		if (get_info(info_p[0], &info))
			_exit(NO_TOKEN);
		fd = raw_redeem(dev, &info, 0);
		CHILD_CHECK(fd >= 0, 1);
		CHILD_CHECK(sent(fd, "ping"), 2);
		_exit(0);
	}
	exporter = fork();
	if (exporter < 0) {
		kill(target, SIGKILL);
		wait_exit(target);
		return h;
	}
	if (exporter == 0) {
		struct sharedsock_info info;
		int sv[2], dev;

		close(ready[1]);
		close(info_p[0]);
		CHILD_CHECK(apply_creds(ex) == 0, SETUP_FAIL + 1);
		die_with_parent();
		dev = dev_open();
		CHILD_CHECK(dev >= 0, SETUP_FAIL + 2);
		CHILD_CHECK(socket_pair(AF_UNIX, SOCK_STREAM, sv) == 0,
			    SETUP_FAIL + 3);
		/* the target has its credentials */
		CHILD_CHECK(get_byte(ready[0]) == 0, SETUP_FAIL + 4);
		if (raw_duplicate(dev, sv[0], target, 0, &info))
			_exit(errno);
		close(sv[0]);
		CHILD_CHECK(put_info(info_p[1], &info) == 0, SETUP_FAIL + 5);
		CHILD_CHECK(got(sv[1], "ping"), 50);
		_exit(0);
	}
	close(ready[0]);
	close(ready[1]);
	close(info_p[0]);
	close(info_p[1]);
	h.exporter = wait_exit(exporter);
	h.target = wait_exit(target);
	return h;
}

/*
 * A child running with @c (and RLIMIT_NOFILE @nofile unless 0) exports one
 * socket to @target (0: itself) up to @attempts times, stopping at the
 * first refusal, then revokes what it exported.  Returns how many exports
 * succeeded when all did or the refusal was ETOOMANYREFS; 250 on another
 * refusal, 251 if a revoke failed, 200+ on setup failure.
 */
static int count_exports(const struct creds *c, rlim_t nofile, pid_t target,
			 int attempts)
{
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct sharedsock_info tok[64];
		int sv[2], dev, n, i, err = 0;

		CHILD_CHECK(attempts <= 64, SETUP_FAIL);
		CHILD_CHECK(apply_creds(c) == 0, SETUP_FAIL + 1);
		die_with_parent();
		CHILD_CHECK(!nofile || set_nofile(nofile) == 0, SETUP_FAIL + 2);
		dev = dev_open();
		CHILD_CHECK(dev >= 0, SETUP_FAIL + 3);
		CHILD_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0,
			    SETUP_FAIL + 4);
		for (n = 0; n < attempts; n++)
			if (raw_duplicate(dev, sv[0], target ?: getpid(), 0,
					  &tok[n])) {
				err = errno;
				break;
			}
		for (i = 0; i < n; i++)
			CHILD_CHECK(raw_revoke(dev, &tok[i]) == 0, 251);
		CHILD_CHECK(!err || err == ETOOMANYREFS, 250);
		_exit(n);
	}
	return wait_exit(pid);
}

/* ---------------------------------------------------------------------- */
/* A. Only the bound target process redeems.                              */

/*
 * Another child of the exporter, of the same user, is refused with the
 * errno of an unknown token; the attempt consumes nothing.
 */
TEST(sibling_of_target_cannot_redeem)
{
	int sv[2], to_target[2], to_sibling[2], dev;
	struct sharedsock_info info;
	pid_t target, sibling;

	ASSERT_EQ(0, socket_pair(AF_UNIX, SOCK_STREAM, sv));
	ASSERT_EQ(0, pipe(to_target));
	ASSERT_EQ(0, pipe(to_sibling));
	dev = dev_open();
	ASSERT_GE(dev, 0);

	target = fork();
	ASSERT_GE(target, 0);
	if (target == 0) {
		int fd;

		die_with_parent();
		close(sv[0]);
		close(sv[1]);
		close(to_target[1]);
		CHILD_CHECK(get_info(to_target[0], &info) == 0, SETUP_FAIL);
		fd = raw_redeem(dev, &info, 0);
		CHILD_CHECK(fd >= 0, 1);
		CHILD_CHECK(sent(fd, "target"), 2);
		_exit(0);
	}
	sibling = fork();
	ASSERT_GE(sibling, 0);
	if (sibling == 0) {
		struct sharedsock_info unknown;

		die_with_parent();
		close(sv[0]);
		close(sv[1]);
		close(to_sibling[1]);
		CHILD_CHECK(get_info(to_sibling[0], &info) == 0, SETUP_FAIL);
		CHILD_CHECK(fails_with(raw_redeem(dev, &info, 0), EINVAL), 1);
		CHILD_CHECK(fails_with(raw_redeem(dev, &info,
						  SHAREDSOCK_REDEEM_CLOEXEC),
				       EINVAL), 2);
		/* the same answer as for a token that does not exist */
		unknown = info;
		unknown.id += 1ULL << 40;
		CHILD_CHECK(fails_with(raw_redeem(dev, &unknown, 0), EINVAL), 3);
		CHILD_CHECK(count_socket_fds() == 0, 4);
		_exit(0);
	}
	close(to_target[0]);
	close(to_sibling[0]);

	ASSERT_EQ(0, raw_duplicate(dev, sv[0], target, 0, &info));
	ASSERT_EQ(0, put_info(to_sibling[1], &info));
	EXPECT_EQ(0, wait_exit(sibling));
	/* the refused attempt consumed nothing */
	ASSERT_EQ(0, put_info(to_target[1], &info));
	EXPECT_EQ(0, wait_exit(target));
	EXPECT_TRUE(got(sv[1], "target"));
}

/* A child the target forks after the export is another process. */
TEST(child_of_target_forked_after_export_cannot_redeem)
{
	int sv[2], to_target[2], dev;
	struct sharedsock_info info;
	pid_t target;

	ASSERT_EQ(0, socket_pair(AF_UNIX, SOCK_STREAM, sv));
	ASSERT_EQ(0, pipe(to_target));
	dev = dev_open();
	ASSERT_GE(dev, 0);

	target = fork();
	ASSERT_GE(target, 0);
	if (target == 0) {
		pid_t grandchild;
		int fd;

		die_with_parent();
		close(sv[0]);
		close(sv[1]);
		close(to_target[1]);
		CHILD_CHECK(get_info(to_target[0], &info) == 0, SETUP_FAIL);
		grandchild = fork();
		CHILD_CHECK(grandchild >= 0, SETUP_FAIL + 1);
		if (grandchild == 0) {
			die_with_parent();
			CHILD_CHECK(fails_with(raw_redeem(dev, &info, 0),
					       EINVAL), 1);
			_exit(0);
		}
		CHILD_CHECK(wait_exit(grandchild) == 0, 2);
		fd = raw_redeem(dev, &info, 0);
		CHILD_CHECK(fd >= 0, 3);
		CHILD_CHECK(sent(fd, "target"), 4);
		_exit(0);
	}
	close(to_target[0]);
	ASSERT_EQ(0, raw_duplicate(dev, sv[0], target, 0, &info));
	ASSERT_EQ(0, put_info(to_target[1], &info));
	EXPECT_EQ(0, wait_exit(target));
	EXPECT_TRUE(got(sv[1], "target"));
}

TEST(exporter_cannot_redeem_token_bound_to_child)
{
	int sv[2], to_target[2], dev;
	struct sharedsock_info info;
	pid_t target;

	ASSERT_EQ(0, socket_pair(AF_UNIX, SOCK_STREAM, sv));
	ASSERT_EQ(0, pipe(to_target));
	dev = dev_open();
	ASSERT_GE(dev, 0);

	target = fork();
	ASSERT_GE(target, 0);
	if (target == 0) {
		int fd;

		die_with_parent();
		close(sv[0]);
		close(sv[1]);
		close(to_target[1]);
		CHILD_CHECK(get_info(to_target[0], &info) == 0, SETUP_FAIL);
		fd = raw_redeem(dev, &info, 0);
		CHILD_CHECK(fd >= 0, 1);
		CHILD_CHECK(sent(fd, "target"), 2);
		_exit(0);
	}
	close(to_target[0]);
	ASSERT_EQ(0, raw_duplicate(dev, sv[0], target, 0, &info));
	EXPECT_EQ(-1, raw_redeem(dev, &info, 0));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, put_info(to_target[1], &info));
	EXPECT_EQ(0, wait_exit(target));
	EXPECT_TRUE(got(sv[1], "target"));
}

struct redeemer {
	int dev;
	int info_fd;
	int nr;			/* tokens to redeem */
	int fd[2];		/* out */
	pid_t tid;		/* out */
};

static void *redeem_thread(void *arg)
{
	struct redeemer *r = arg;
	struct sharedsock_info info;
	int i;

	r->tid = gettid();
	for (i = 0; i < r->nr; i++) {
		r->fd[i] = -1;
		if (get_info(r->info_fd, &info) == 0)
			r->fd[i] = raw_redeem(r->dev, &info, 0);
	}
	return NULL;
}

TEST(non_main_thread_of_target_redeems)
{
	int sv[2], to_target[2], dev;
	struct sharedsock_info info;
	pid_t target;

	ASSERT_EQ(0, socket_pair(AF_UNIX, SOCK_STREAM, sv));
	ASSERT_EQ(0, pipe(to_target));
	dev = dev_open();
	ASSERT_GE(dev, 0);

	target = fork();
	ASSERT_GE(target, 0);
	if (target == 0) {
		struct redeemer r = { .dev = dev, .info_fd = to_target[0],
				      .nr = 1 };
		pthread_t thread;

		die_with_parent();
		close(sv[0]);
		close(sv[1]);
		close(to_target[1]);
		CHILD_CHECK(pthread_create(&thread, NULL, redeem_thread, &r) == 0,
			    SETUP_FAIL);
		CHILD_CHECK(pthread_join(thread, NULL) == 0, SETUP_FAIL + 1);
		CHILD_CHECK(r.tid != getpid(), SETUP_FAIL + 2);
		CHILD_CHECK(r.fd[0] >= 0, 1);
		/* the descriptor is the whole process's */
		CHILD_CHECK(sent(r.fd[0], "thread"), 2);
		_exit(0);
	}
	close(to_target[0]);
	ASSERT_EQ(0, raw_duplicate(dev, sv[0], target, 0, &info));
	ASSERT_EQ(0, put_info(to_target[1], &info));
	EXPECT_EQ(0, wait_exit(target));
	EXPECT_TRUE(got(sv[1], "thread"));
}

/*
 * The process outlives its main thread: a token exported before the main
 * thread exits, and one exported after, are still redeemed by another
 * thread.
 */
static void *late_redeem_thread(void *arg)
{
	struct redeemer *r = arg;
	int i;

	redeem_thread(r);
	for (i = 0; i < r->nr; i++) {
		CHILD_CHECK(r->fd[i] >= 0, 1 + i);
		CHILD_CHECK(sent(r->fd[i], i ? "second" : "first"), 10 + i);
	}
	_exit(0);
}

TEST(tokens_survive_exit_of_target_main_thread)
{
	int sv[2], to_target[2], go[2], dev, i;
	struct sharedsock_info first, second;
	pid_t target;

	/* one socket, two tokens: keep the two messages apart */
	ASSERT_EQ(0, socket_pair(AF_UNIX, SOCK_SEQPACKET, sv));
	ASSERT_EQ(0, pipe(to_target));
	ASSERT_EQ(0, pipe(go));
	dev = dev_open();
	ASSERT_GE(dev, 0);

	target = fork();
	ASSERT_GE(target, 0);
	if (target == 0) {
		static struct redeemer r;
		pthread_t thread;

		die_with_parent();
		close(sv[0]);
		close(sv[1]);
		close(to_target[1]);
		close(go[1]);
		r.dev = dev;
		r.info_fd = to_target[0];
		r.nr = 2;
		CHILD_CHECK(pthread_create(&thread, NULL, late_redeem_thread,
					   &r) == 0, SETUP_FAIL);
		CHILD_CHECK(get_byte(go[0]) == 0, SETUP_FAIL + 1);
		pthread_exit(NULL);
	}
	close(to_target[0]);
	close(go[0]);
	ASSERT_EQ(0, raw_duplicate(dev, sv[0], target, 0, &first));
	ASSERT_EQ(0, put_byte(go[1]));
	/* wait until the main thread is a zombie */
	for (i = 0; i < WAIT_MS / 10 && proc_state(target) != 'Z'; i++)
		usleep(10 * 1000);
	ASSERT_EQ('Z', proc_state(target));
	ASSERT_EQ(0, raw_duplicate(dev, sv[0], target, 0, &second));
	ASSERT_EQ(0, put_info(to_target[1], &first));
	ASSERT_EQ(0, put_info(to_target[1], &second));
	EXPECT_TRUE(got(sv[1], "first"));
	EXPECT_TRUE(got(sv[1], "second"));
	EXPECT_EQ(0, wait_exit(target));
}

/* A thread id names a thread, not a process: nothing to bind to. */
static void *report_tid_and_wait(void *arg)
{
	int fd = *(int *)arg;

	if (put_pid(fd, gettid()))
		_exit(SETUP_FAIL + 10);
	for (;;)
		pause();
	return NULL;
}

TEST(thread_id_is_not_a_target)
{
	int sv[2], tid_pipe[2], done[2], dev;
	struct sharedsock_info info;
	pid_t target, tid;

	ASSERT_EQ(0, socket_pair(AF_UNIX, SOCK_STREAM, sv));
	ASSERT_EQ(0, pipe(tid_pipe));
	ASSERT_EQ(0, pipe(done));
	dev = dev_open();
	ASSERT_GE(dev, 0);

	target = fork();
	ASSERT_GE(target, 0);
	if (target == 0) {
		pthread_t thread;

		die_with_parent();
		close(done[1]);
		CHILD_CHECK(pthread_create(&thread, NULL, report_tid_and_wait,
					   &tid_pipe[1]) == 0, SETUP_FAIL);
		/* until the parent is done */
		get_byte(done[0]);
		_exit(0);
	}
	close(done[0]);
	close(tid_pipe[1]);
	tid = get_pid(tid_pipe[0]);
	ASSERT_GT(tid, 0);
	ASSERT_NE(target, tid);
	EXPECT_EQ(-1, raw_duplicate(dev, sv[0], tid, 0, &info));
	EXPECT_EQ(ESRCH, errno);
	/* and the process itself is a target */
	ASSERT_EQ(0, raw_duplicate(dev, sv[0], target, 0, &info));
	EXPECT_EQ(0, raw_revoke(dev, &info));
	close(done[1]);
	EXPECT_EQ(0, wait_exit(target));
}

/*
 * The token dies with its target (the peer sees EOF once the exporter's
 * own descriptor is gone), and a new process given the same pid number
 * cannot redeem it; that process is a target in its own right.
 */
TEST(reused_pid_number_cannot_redeem)
{
	int sv[2], sv2[2], go[2], to_new[2], dev;
	struct sharedsock_info info, fresh;
	pid_t a, b;

	ASSERT_EQ(0, socket_pair(AF_UNIX, SOCK_STREAM, sv));
	ASSERT_EQ(0, socket_pair(AF_UNIX, SOCK_STREAM, sv2));
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(to_new));
	dev = dev_open();
	ASSERT_GE(dev, 0);

	a = fork();
	ASSERT_GE(a, 0);
	if (a == 0) {
		die_with_parent();
		close(sv[0]);
		close(sv[1]);
		close(go[1]);
		get_byte(go[0]);
		_exit(0);
	}
	close(go[0]);
	ASSERT_EQ(0, raw_duplicate(dev, sv[0], a, 0, &info));
	close(sv[0]);
	/* the token alone keeps the socket open */
	EXPECT_TRUE(peer_open_for(sv[1], 100));
	ASSERT_EQ(0, put_byte(go[1]));
	ASSERT_EQ(0, wait_exit(a));
	EXPECT_TRUE(peer_eof_within(sv[1], WAIT_MS));
	EXPECT_EQ(-1, raw_revoke(dev, &info));
	EXPECT_EQ(EINVAL, errno);

	/* a new process with A's pid number */
	b = clone3_pid(0, &a, 1);
	ASSERT_GE(b, 0) {
		TH_LOG("clone3 with set_tid %d: %s", a, strerror(errno));
	}
	if (b == 0) {
		int fd;

		die_with_parent();
		close(sv2[1]);
		close(to_new[1]);
		CHILD_CHECK(getpid() == a, SETUP_FAIL);
		CHILD_CHECK(get_info(to_new[0], &info) == 0, SETUP_FAIL + 1);
		CHILD_CHECK(fails_with(raw_redeem(dev, &info, 0), EINVAL), 1);
		CHILD_CHECK(get_info(to_new[0], &fresh) == 0, SETUP_FAIL + 2);
		close(sv2[0]);
		fd = raw_redeem(dev, &fresh, 0);
		CHILD_CHECK(fd >= 0, 2);
		CHILD_CHECK(sent(fd, "new"), 3);
		_exit(0);
	}
	close(to_new[0]);
	EXPECT_EQ(a, b);
	ASSERT_EQ(0, put_info(to_new[1], &info));
	ASSERT_EQ(0, raw_duplicate(dev, sv2[0], b, 0, &fresh));
	ASSERT_EQ(0, put_info(to_new[1], &fresh));
	EXPECT_EQ(0, wait_exit(b));
	EXPECT_TRUE(got(sv2[1], "new"));
}

/*
 * With a live token pending, guessed ids and secrets never redeem nor
 * revoke anything; the real token still redeems afterwards.
 */
TEST(guessed_tokens_never_redeem)
{
	struct sharedsock_info info, guess;
	int sv[2], dev, fd, i, bit;
	int redeemed = 0, wrong_errno = 0, revoked = 0;

	ASSERT_EQ(0, socket_pair(AF_UNIX, SOCK_STREAM, sv));
	dev = dev_open();
	ASSERT_GE(dev, 0);
	ASSERT_EQ(0, raw_duplicate(dev, sv[0], getpid(), 0, &info));

	/* random ids and secrets */
	for (i = 0; i < 20000; i++) {
		guess = info;
		ASSERT_EQ((ssize_t)sizeof(guess.id),
			  getrandom(&guess.id, sizeof(guess.id), 0));
		ASSERT_EQ((ssize_t)sizeof(guess.secret),
			  getrandom(guess.secret, sizeof(guess.secret), 0));
		fd = raw_redeem(dev, &guess, 0);
		if (fd >= 0) {
			redeemed++;
			close(fd);
		} else if (errno != EINVAL) {
			wrong_errno++;
		}
	}
	/* the right id, random secrets */
	for (i = 0; i < 20000; i++) {
		guess = info;
		ASSERT_EQ((ssize_t)sizeof(guess.secret),
			  getrandom(guess.secret, sizeof(guess.secret), 0));
		fd = raw_redeem(dev, &guess, 0);
		if (fd >= 0) {
			redeemed++;
			close(fd);
		} else if (errno != EINVAL) {
			wrong_errno++;
		}
	}
	/* the right id, the secret off by one bit, anywhere */
	for (bit = 0; bit < SHAREDSOCK_SECRET_SIZE * 8; bit++) {
		guess = info;
		guess.secret[bit / 8] ^= 1 << (bit % 8);
		fd = raw_redeem(dev, &guess, 0);
		if (fd >= 0) {
			redeemed++;
			close(fd);
		} else if (errno != EINVAL) {
			wrong_errno++;
		}
		if (raw_revoke(dev, &guess) == 0)
			revoked++;
		else if (errno != EINVAL)
			wrong_errno++;
	}
	/* neighbouring ids, the right secret */
	for (i = -64; i <= 64; i++) {
		if (!i)
			continue;
		guess = info;
		guess.id += i;
		fd = raw_redeem(dev, &guess, 0);
		if (fd >= 0) {
			redeemed++;
			close(fd);
		} else if (errno != EINVAL) {
			wrong_errno++;
		}
	}
	EXPECT_EQ(0, redeemed);
	EXPECT_EQ(0, revoked);
	EXPECT_EQ(0, wrong_errno);

	fd = raw_redeem(dev, &info, 0);
	ASSERT_GE(fd, 0);
	EXPECT_TRUE(transfer_ok(fd, sv[1], "real"));
	close(fd);
}

/* ---------------------------------------------------------------------- */
/* B. Who may export to whom, and who may revoke.                         */

FIXTURE(ids) {};
FIXTURE_SETUP(ids) {}
FIXTURE_TEARDOWN(ids) {}

FIXTURE_VARIANT(ids)
{
	struct creds exporter;
	struct creds target;
	int err;		/* of the export; 0: it works end to end */
};

FIXTURE_VARIANT_ADD(ids, same_user)
{
	.exporter = USER(UID_A), .target = USER(UID_A), .err = 0,
};

FIXTURE_VARIANT_ADD(ids, other_user)
{
	.exporter = USER(UID_A), .target = USER(UID_B), .err = EPERM,
};

FIXTURE_VARIANT_ADD(ids, target_real_uid_differs)
{
	.exporter = USER(UID_A), .target = IDS(UID_B, UID_A, UID_A),
	.err = EPERM,
};

FIXTURE_VARIANT_ADD(ids, target_effective_uid_differs)
{
	.exporter = USER(UID_A), .target = IDS(UID_A, UID_B, UID_A),
	.err = EPERM,
};

FIXTURE_VARIANT_ADD(ids, target_saved_uid_differs)
{
	.exporter = USER(UID_A), .target = IDS(UID_A, UID_A, UID_B),
	.err = EPERM,
};

/* The exporter's effective uid is what counts ... */
FIXTURE_VARIANT_ADD(ids, exporter_effective_uid_matches)
{
	.exporter = IDS(UID_B, UID_A, UID_B), .target = USER(UID_A), .err = 0,
};

/* ... not its real or saved uid. */
FIXTURE_VARIANT_ADD(ids, exporter_only_real_and_saved_uid_match)
{
	.exporter = IDS(UID_A, UID_B, UID_A), .target = USER(UID_A),
	.err = EPERM,
};

FIXTURE_VARIANT_ADD(ids, user_to_root)
{
	.exporter = USER(UID_A), .target = ROOT, .err = EPERM,
};

FIXTURE_VARIANT_ADD(ids, root_to_user)
{
	.exporter = ROOT, .target = USER(UID_B), .err = 0,
};

/* The gids count as the uids do: the target's real, effective, saved ... */
FIXTURE_VARIANT_ADD(ids, target_real_gid_differs)
{
	.exporter = USER(UID_A), .target = GIDS(UID_A, UID_B, UID_A, UID_A),
	.err = EPERM,
};

FIXTURE_VARIANT_ADD(ids, target_effective_gid_differs)
{
	.exporter = USER(UID_A), .target = GIDS(UID_A, UID_A, UID_B, UID_A),
	.err = EPERM,
};

FIXTURE_VARIANT_ADD(ids, target_saved_gid_differs)
{
	.exporter = USER(UID_A), .target = GIDS(UID_A, UID_A, UID_A, UID_B),
	.err = EPERM,
};

/* ... against the exporter's effective gid. */
FIXTURE_VARIANT_ADD(ids, exporter_effective_gid_differs)
{
	.exporter = GIDS(UID_A, UID_A, UID_B, UID_A), .target = USER(UID_A),
	.err = EPERM,
};

FIXTURE_VARIANT_ADD(ids, exporter_effective_gid_matches)
{
	.exporter = GIDS(UID_A, UID_B, UID_A, UID_B), .target = USER(UID_A),
	.err = 0,
};

/* A process of the same user that is not dumpable, as ptrace has it. */
FIXTURE_VARIANT_ADD(ids, target_not_dumpable)
{
	.exporter = USER(UID_A),
	.target = { .ruid = UID_A, .euid = UID_A, .suid = UID_A,
		    .nondumpable = true },
	.err = EPERM,
};

FIXTURE_VARIANT_ADD(ids, root_to_target_not_dumpable)
{
	.exporter = ROOT,
	.target = { .ruid = UID_B, .euid = UID_B, .suid = UID_B,
		    .nondumpable = true },
	.err = 0,
};

TEST_F(ids, export_needs_target_wholly_of_exporter_euid)
{
	struct handoff h = handoff(&variant->exporter, &variant->target);

	EXPECT_EQ(variant->err, h.exporter);
	EXPECT_EQ(variant->err ? NO_TOKEN : 0, h.target);
}

/* One capability at a time, in a uid 1000 process. */
FIXTURE(caps) {};
FIXTURE_SETUP(caps) {}
FIXTURE_TEARDOWN(caps) {}

FIXTURE_VARIANT(caps)
{
	__u64 caps;
	bool cross_user;	/* may export to another user */
	bool uncapped;		/* exempt from the pending-token cap */
};

FIXTURE_VARIANT_ADD(caps, none)
{
	.caps = 0, .cross_user = false, .uncapped = false,
};

FIXTURE_VARIANT_ADD(caps, sys_ptrace)
{
	.caps = CAP(CAP_SYS_PTRACE), .cross_user = true, .uncapped = false,
};

FIXTURE_VARIANT_ADD(caps, sys_admin)
{
	.caps = CAP(CAP_SYS_ADMIN), .cross_user = true, .uncapped = true,
};

FIXTURE_VARIANT_ADD(caps, sys_resource)
{
	.caps = CAP(CAP_SYS_RESOURCE), .cross_user = false, .uncapped = true,
};

/* an unrelated capability grants nothing */
FIXTURE_VARIANT_ADD(caps, net_admin)
{
	.caps = CAP(CAP_NET_ADMIN), .cross_user = false, .uncapped = false,
};

TEST_F(caps, export_to_other_user)
{
	struct creds exporter = USER_CAPS(UID_A, variant->caps);
	struct creds target = USER(UID_B);
	struct handoff h = handoff(&exporter, &target);

	EXPECT_EQ(variant->cross_user ? 0 : EPERM, h.exporter);
	EXPECT_EQ(variant->cross_user ? 0 : NO_TOKEN, h.target);
}

/* What lets a process export to another user's lets it to a non-dumpable one. */
TEST_F(caps, export_to_nondumpable_process_of_same_user)
{
	struct creds exporter = USER_CAPS(UID_A, variant->caps);
	struct creds target = USER(UID_A);
	struct handoff h;

	target.nondumpable = true;
	h = handoff(&exporter, &target);
	EXPECT_EQ(variant->cross_user ? 0 : EPERM, h.exporter);
	EXPECT_EQ(variant->cross_user ? 0 : NO_TOKEN, h.target);
}

/*
 * A process may always export to itself, as it may always ptrace-inspect
 * itself: even with every id different and not dumpable.
 */
TEST(export_to_own_process_needs_no_permission)
{
	struct creds c = GIDS(UID_A, UID_B, UID_C, UID_B);

	c.euid = UID_B;
	c.suid = UID_C;
	c.nondumpable = true;
	EXPECT_EQ(1, count_exports(&c, 0, 0, 1));
}

TEST_F(caps, pending_token_cap)
{
	struct creds exporter = USER_CAPS(UID_A, variant->caps);
	char val[32];

	ASSERT_EQ(0, param_read("max_user_tokens", val, sizeof(val)));
	ASSERT_STREQ("0", val);
	/* RLIMIT_NOFILE 16: 16 pending tokens, unless exempt */
	EXPECT_EQ(variant->uncapped ? 40 : 16,
		  count_exports(&exporter, 16, 0, 40));
}

/* Saves both parameters and restores them, whatever the test does. */
FIXTURE(params)
{
	char cross_user[16];
	char max_user_tokens[32];
	bool saved;
};

FIXTURE_SETUP(params)
{
	ASSERT_EQ(0, param_read("cross_user", self->cross_user,
				sizeof(self->cross_user)));
	ASSERT_EQ(0, param_read("max_user_tokens", self->max_user_tokens,
				sizeof(self->max_user_tokens)));
	self->saved = true;
}

FIXTURE_TEARDOWN(params)
{
	if (!self->saved)
		return;
	EXPECT_EQ(0, param_write("cross_user", self->cross_user));
	EXPECT_EQ(0, param_write("max_user_tokens", self->max_user_tokens));
}

TEST_F(params, cross_user_lets_any_user_export_to_another)
{
	struct creds a = USER(UID_A), b = USER(UID_B);
	struct handoff h;
	char val[16];

	ASSERT_EQ(0, param_write("cross_user", "Y"));
	ASSERT_EQ(0, param_read("cross_user", val, sizeof(val)));
	ASSERT_STREQ("Y", val);
	h = handoff(&a, &b);
	EXPECT_EQ(0, h.exporter);
	EXPECT_EQ(0, h.target);

	ASSERT_EQ(0, param_write("cross_user", "N"));
	h = handoff(&a, &b);
	EXPECT_EQ(EPERM, h.exporter);
	EXPECT_EQ(NO_TOKEN, h.target);
}

TEST_F(params, max_user_tokens_replaces_rlimit)
{
	struct creds a = USER(UID_A), root = ROOT;

	ASSERT_EQ(0, param_write("max_user_tokens", "4"));
	/* below RLIMIT_NOFILE */
	EXPECT_EQ(4, count_exports(&a, 64, 0, 10));
	/* root is still exempt */
	EXPECT_EQ(10, count_exports(&root, 64, 0, 10));

	/* above RLIMIT_NOFILE: the parameter, not the smaller of the two */
	ASSERT_EQ(0, param_write("max_user_tokens", "20"));
	EXPECT_EQ(20, count_exports(&a, 16, 0, 30));

	/* and back to RLIMIT_NOFILE */
	ASSERT_EQ(0, param_write("max_user_tokens", "0"));
	EXPECT_EQ(16, count_exports(&a, 16, 0, 30));
}

/*
 * Only the exporting process may revoke: a process of another user, one of
 * the exporter's own user, and the target itself hold the whole token, and
 * to each of them it is as unknown as a made-up one (EINVAL); it still
 * redeems afterwards.
 */
TEST(revoke_needs_exporter_process)
{
	int to_target[2], info_p[2], ready[2], dev;
	struct sharedsock_info info;
	pid_t target, exporter, other;

	ASSERT_EQ(0, pipe(to_target));
	ASSERT_EQ(0, pipe(info_p));
	ASSERT_EQ(0, pipe(ready));

	target = fork();
	ASSERT_GE(target, 0);
	if (target == 0) {
		close(to_target[1]);
		CHILD_CHECK(become_user(UID_A) == 0, SETUP_FAIL);
		die_with_parent();
		dev = dev_open();
		CHILD_CHECK(dev >= 0, SETUP_FAIL + 1);
		CHILD_CHECK(put_byte(ready[1]) == 0, SETUP_FAIL + 3);
		CHILD_CHECK(get_info(to_target[0], &info) == 0, SETUP_FAIL + 2);
		/* the target may not revoke what it may redeem */
		CHILD_CHECK(fails_with(raw_revoke(dev, &info), EINVAL), 1);
		/* and after everyone else tried: still there to redeem */
		CHILD_CHECK(raw_redeem(dev, &info, 0) >= 0, 2);
		_exit(0);
	}
	close(to_target[0]);
	/* the target runs as uid 1000 */
	ASSERT_EQ(0, get_byte(ready[0]));

	/* uid 1000 exports to the target, hands the token over and exits */
	exporter = fork();
	ASSERT_GE(exporter, 0);
	if (exporter == 0) {
		int sv[2];

		CHILD_CHECK(become_user(UID_A) == 0, SETUP_FAIL);
		dev = dev_open();
		CHILD_CHECK(dev >= 0, SETUP_FAIL + 1);
		CHILD_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0,
			    SETUP_FAIL + 2);
		CHILD_CHECK(raw_duplicate(dev, sv[0], target, 0, &info) == 0, 1);
		CHILD_CHECK(put_info(info_p[1], &info) == 0, SETUP_FAIL + 3);
		_exit(0);
	}
	ASSERT_EQ(0, wait_exit(exporter));
	ASSERT_EQ(0, get_info(info_p[0], &info));

	/* uid 1001 */
	other = fork();
	ASSERT_GE(other, 0);
	if (other == 0) {
		CHILD_CHECK(become_user(UID_B) == 0, SETUP_FAIL);
		CHILD_CHECK(fails_with(ss_revoke((void *)&info), EINVAL), 1);
		_exit(0);
	}
	EXPECT_EQ(0, wait_exit(other));

	/* another uid 1000 process */
	other = fork();
	ASSERT_GE(other, 0);
	if (other == 0) {
		CHILD_CHECK(become_user(UID_A) == 0, SETUP_FAIL);
		CHILD_CHECK(fails_with(ss_revoke((void *)&info), EINVAL), 1);
		_exit(0);
	}
	EXPECT_EQ(0, wait_exit(other));

	ASSERT_EQ(0, put_info(to_target[1], &info));
	EXPECT_EQ(0, wait_exit(target));
}

/* The exporting process may revoke even after it changed user. */
TEST(exporter_revokes_after_changing_user)
{
	int info_p[2], go[2];
	pid_t exporter, other;

	ASSERT_EQ(0, pipe(info_p));
	ASSERT_EQ(0, pipe(go));
	exporter = fork();
	ASSERT_GE(exporter, 0);
	if (exporter == 0) {
		struct sharedsock_info info;
		int sv[2], dev, fd;

		close(go[1]);
		dev = dev_open();
		CHILD_CHECK(dev >= 0, SETUP_FAIL);
		CHILD_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0,
			    SETUP_FAIL + 1);
		/* as root, a token for itself, charged to root */
		CHILD_CHECK(raw_duplicate(dev, sv[0], getpid(), 0, &info) == 0, 1);
		CHILD_CHECK(put_info(info_p[1], &info) == 0, SETUP_FAIL + 2);
		CHILD_CHECK(become_user(UID_C) == 0, SETUP_FAIL + 3);
		die_with_parent();
		/* another uid 1002 process was refused meanwhile */
		CHILD_CHECK(get_byte(go[0]) == 0, SETUP_FAIL + 4);
		CHILD_CHECK(raw_revoke(dev, &info) == 0, 2);
		CHILD_CHECK(fails_with(raw_redeem(dev, &info, 0), EINVAL), 3);
		/* and as uid 1002 it exports to and redeems from itself */
		CHILD_CHECK(raw_duplicate(dev, sv[0], getpid(), 0, &info) == 0, 4);
		fd = raw_redeem(dev, &info, 0);
		CHILD_CHECK(fd >= 0, 5);
		CHILD_CHECK(transfer_ok(fd, sv[1], "mine"), 6);
		_exit(0);
	}
	close(go[0]);
	{
		struct sharedsock_info info;

		ASSERT_EQ(0, get_info(info_p[0], &info));
		other = fork();
		ASSERT_GE(other, 0);
		if (other == 0) {
			CHILD_CHECK(become_user(UID_C) == 0, SETUP_FAIL);
			CHILD_CHECK(fails_with(ss_revoke((void *)&info), EINVAL),
				    1);
			_exit(0);
		}
		EXPECT_EQ(0, wait_exit(other));
	}
	ASSERT_EQ(0, put_byte(go[1]));
	EXPECT_EQ(0, wait_exit(exporter));
}

/* ---------------------------------------------------------------------- */
/* C. Pending tokens per user.                                            */

/*
 * uid 1000 with RLIMIT_NOFILE 16: exactly 16 tokens may be pending, for
 * every uid 1000 process with that limit; redeem, revoke and expiry each
 * free a slot; another user is not affected.
 */
TEST(pending_tokens_capped_at_rlimit_nofile_per_user)
{
	int ready[2], go[2];
	struct creds a = USER(UID_A), b = USER(UID_B);
	char val[32];
	pid_t capped;

	ASSERT_EQ(0, param_read("max_user_tokens", val, sizeof(val)));
	ASSERT_STREQ("0", val);
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));

	capped = fork();
	ASSERT_GE(capped, 0);
	if (capped == 0) {
		struct sharedsock_info tok[16], extra;
		struct ss_protocol_info short_lived;
		int sv[2], dev, fd, i;
		unsigned int ttl;

		close(ready[0]);
		close(go[1]);
		CHILD_CHECK(become_user(UID_A) == 0, SETUP_FAIL);
		die_with_parent();
		CHILD_CHECK(set_nofile(16) == 0, SETUP_FAIL + 1);
		dev = dev_open();
		CHILD_CHECK(dev >= 0, SETUP_FAIL + 2);
		CHILD_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0,
			    SETUP_FAIL + 3);
		for (i = 0; i < 16; i++)
			CHILD_CHECK(raw_duplicate(dev, sv[0], getpid(), 0,
						  &tok[i]) == 0, 1);
		CHILD_CHECK(fails_with(raw_duplicate(dev, sv[0], getpid(), 0,
						     &extra), ETOOMANYREFS), 2);

		/* the parent checks other processes against the cap */
		CHILD_CHECK(put_byte(ready[1]) == 0, SETUP_FAIL + 4);
		CHILD_CHECK(get_byte(go[0]) == 0, SETUP_FAIL + 5);

		/* a redeem frees a slot */
		fd = raw_redeem(dev, &tok[0], 0);
		CHILD_CHECK(fd >= 0, 3);
		close(fd);
		CHILD_CHECK(raw_duplicate(dev, sv[0], getpid(), 0, &tok[0]) == 0,
			    4);
		CHILD_CHECK(fails_with(raw_duplicate(dev, sv[0], getpid(), 0,
						     &extra), ETOOMANYREFS), 5);

		/* a revoke frees a slot */
		CHILD_CHECK(raw_revoke(dev, &tok[1]) == 0, 6);
		CHILD_CHECK(raw_duplicate(dev, sv[0], getpid(), 0, &tok[1]) == 0,
			    7);
		CHILD_CHECK(fails_with(raw_duplicate(dev, sv[0], getpid(), 0,
						     &extra), ETOOMANYREFS), 8);

		/*
		 * An expired token frees its slot.  While it lives, the
		 * short-lived token takes the free slot; a check made too late
		 * finds it expired, the slot free again: then once more with a
		 * lifetime four times as long.
		 */
		CHILD_CHECK(raw_revoke(dev, &tok[2]) == 0, 9);
		for (ttl = 100;; ttl *= 4) {
			CHILD_CHECK(ttl <= 25600, 11);
			CHILD_CHECK(ss_duplicate_socket_ttl(sv[0], getpid(), ttl,
							    &short_lived) == 0, 10);
			if (fails_with(raw_duplicate(dev, sv[0], getpid(), 0,
						     &extra), ETOOMANYREFS))
				break;
			/* only its expiry may have freed the slot */
			CHILD_CHECK(!token_listed(dev, short_lived.token_id), 11);
			CHILD_CHECK(raw_revoke(dev, &extra) == 0, 11);
		}
		/* its end, however late the timer runs */
		for (i = 0; i < WAIT_MS / 10 &&
			    token_listed(dev, short_lived.token_id); i++)
			usleep(10 * 1000);
		CHILD_CHECK(fails_with(ss_socket_from_info(&short_lived, 0),
				       EINVAL), 12);
		CHILD_CHECK(raw_duplicate(dev, sv[0], getpid(), 0, &tok[2]) == 0,
			    13);
		CHILD_CHECK(fails_with(raw_duplicate(dev, sv[0], getpid(), 0,
						     &extra), ETOOMANYREFS), 14);

		for (i = 0; i < 16; i++)
			CHILD_CHECK(raw_revoke(dev, &tok[i]) == 0, 15);
		/* all slots free again */
		for (i = 0; i < 16; i++)
			CHILD_CHECK(raw_duplicate(dev, sv[0], getpid(), 0,
						  &tok[i]) == 0, 16);
		for (i = 0; i < 16; i++)
			CHILD_CHECK(raw_revoke(dev, &tok[i]) == 0, 17);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	ASSERT_EQ(0, get_byte(ready[0]));
	/* another uid 1000 process with the same limit: no slot left */
	EXPECT_EQ(0, count_exports(&a, 16, 0, 1));
	/* the limit is each exporter's own RLIMIT_NOFILE */
	EXPECT_EQ(1, count_exports(&a, 17, 0, 1));
	/* uid 1001 has its own count */
	EXPECT_EQ(16, count_exports(&b, 16, 0, 17));
	ASSERT_EQ(0, put_byte(go[1]));
	EXPECT_EQ(0, wait_exit(capped));
}

/*
 * Tokens are charged to the exporter's real uid: with uid 1000 at its cap,
 * a process with real uid 1000 and effective uid 1001 is refused, and one
 * with real uid 1001 and effective uid 1000 is not.
 */
TEST(pending_tokens_charged_to_real_uid)
{
	struct creds setuid_to_b = IDS(UID_A, UID_B, UID_B);
	struct creds setuid_to_a = IDS(UID_B, UID_A, UID_A);
	struct creds a = USER(UID_A);
	int ready[2], done[2];
	pid_t capped, target_b;

	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(done));

	/* a uid 1001 process to export to */
	target_b = fork();
	ASSERT_GE(target_b, 0);
	if (target_b == 0) {
		close(done[1]);
		CHILD_CHECK(become_user(UID_B) == 0, SETUP_FAIL);
		die_with_parent();
		CHILD_CHECK(put_byte(ready[1]) == 0, SETUP_FAIL + 1);
		get_byte(done[0]);
		_exit(0);
	}
	/* uid 1000 at its cap of 16 */
	capped = fork();
	ASSERT_GE(capped, 0);
	if (capped == 0) {
		close(ready[0]);
		close(done[1]);
		CHILD_CHECK(apply_creds(&a) == 0, SETUP_FAIL);
		die_with_parent();
		{
			struct sharedsock_info tok[16];
			int sv[2], dev = dev_open(), i;

			CHILD_CHECK(set_nofile(16) == 0, SETUP_FAIL + 1);
			CHILD_CHECK(dev >= 0, SETUP_FAIL + 2);
			CHILD_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0,
				    SETUP_FAIL + 3);
			for (i = 0; i < 16; i++)
				CHILD_CHECK(raw_duplicate(dev, sv[0], getpid(), 0,
							  &tok[i]) == 0, 1);
			CHILD_CHECK(put_byte(ready[1]) == 0, SETUP_FAIL + 4);
			get_byte(done[0]);
			for (i = 0; i < 16; i++)
				CHILD_CHECK(raw_revoke(dev, &tok[i]) == 0, 2);
		}
		_exit(0);
	}
	close(ready[1]);
	close(done[0]);
	/* both children have their credentials and the cap is reached */
	ASSERT_EQ(0, get_byte(ready[0]));
	ASSERT_EQ(0, get_byte(ready[0]));

	/* real 1000, effective 1001, to a uid 1001 process: charged to 1000 */
	EXPECT_EQ(0, count_exports(&setuid_to_b, 16, target_b, 1));
	/* real 1001, effective 1000, to a uid 1000 process: charged to 1001 */
	EXPECT_EQ(1, count_exports(&setuid_to_a, 16, capped, 1));

	close(done[1]);
	EXPECT_EQ(0, wait_exit(capped));
	EXPECT_EQ(0, wait_exit(target_b));
}

TEST(root_is_exempt_from_pending_token_cap)
{
	struct creds root = ROOT;
	char val[32];

	ASSERT_EQ(0, param_read("max_user_tokens", val, sizeof(val)));
	ASSERT_STREQ("0", val);
	EXPECT_EQ(40, count_exports(&root, 16, 0, 40));
}

/* ---------------------------------------------------------------------- */
/* D. Pid namespaces.                                                     */

/*
 * The exporter names a process of a child pid namespace by the pid it has
 * in the exporter's namespace; the number it has inside names another
 * process here (pid 1 is our init, not the namespace's).
 */
TEST(exporter_names_child_ns_init_by_its_pid_here)
{
	struct sharedsock_info mine, ours_init;
	int sv[2], to_child[2], dev;
	pid_t child;

	ASSERT_EQ(0, socket_pair(AF_UNIX, SOCK_STREAM, sv));
	ASSERT_EQ(0, pipe(to_child));
	dev = dev_open();
	ASSERT_GE(dev, 0);

	child = clone3_pid(CLONE_NEWPID, NULL, 0);
	ASSERT_GE(child, 0);
	if (child == 0) {
		int fd;

		die_with_parent();
		close(sv[0]);
		close(sv[1]);
		close(to_child[1]);
		CHILD_CHECK(getpid() == 1, SETUP_FAIL);
		CHILD_CHECK(get_info(to_child[0], &ours_init) == 0, SETUP_FAIL + 1);
		CHILD_CHECK(get_info(to_child[0], &mine) == 0, SETUP_FAIL + 2);
		CHILD_CHECK(fails_with(raw_redeem(dev, &ours_init, 0), EINVAL), 1);
		fd = raw_redeem(dev, &mine, 0);
		CHILD_CHECK(fd >= 0, 2);
		CHILD_CHECK(sent(fd, "in-ns"), 3);
		CHILD_CHECK(got(fd, "reply"), 4);
		_exit(0);
	}
	close(to_child[0]);
	ASSERT_GT(child, 1);
	ASSERT_EQ(0, raw_duplicate(dev, sv[0], 1, 0, &ours_init));
	ASSERT_EQ(0, raw_duplicate(dev, sv[0], child, 0, &mine));
	ASSERT_EQ(0, put_info(to_child[1], &ours_init));
	ASSERT_EQ(0, put_info(to_child[1], &mine));
	EXPECT_TRUE(got(sv[1], "in-ns"));
	EXPECT_TRUE(sent(sv[1], "reply"));
	EXPECT_EQ(0, wait_exit(child));
	/* still pending: it is bound to our pid 1 */
	EXPECT_EQ(0, raw_revoke(dev, &ours_init));
}

/* The same for a later process of the namespace (pid 2 inside). */
TEST(exporter_names_child_ns_process_by_its_pid_here)
{
	int sv[2], to_child[2], pid_p[2], dev;
	struct sharedsock_info info;
	pid_t child, outer;

	ASSERT_EQ(0, socket_pair(AF_UNIX, SOCK_STREAM, sv));
	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(pid_p));
	dev = dev_open();
	ASSERT_GE(dev, 0);

	child = clone3_pid(CLONE_NEWPID, NULL, 0);
	ASSERT_GE(child, 0);
	if (child == 0) {
		pid_t grandchild;

		die_with_parent();
		close(sv[0]);
		close(sv[1]);
		close(to_child[1]);
		grandchild = fork();
		CHILD_CHECK(grandchild >= 0, SETUP_FAIL);
		if (grandchild == 0) {
			pid_t out, in;
			int fd;

			die_with_parent();
			CHILD_CHECK(ns_pids(&out, &in) == 0, SETUP_FAIL + 1);
			CHILD_CHECK(in == getpid() && in == 2 && out != in,
				    SETUP_FAIL + 2);
			CHILD_CHECK(put_pid(pid_p[1], out) == 0, SETUP_FAIL + 3);
			CHILD_CHECK(get_info(to_child[0], &info) == 0,
				    SETUP_FAIL + 4);
			fd = raw_redeem(dev, &info, 0);
			CHILD_CHECK(fd >= 0, 1);
			CHILD_CHECK(sent(fd, "pid 2"), 2);
			_exit(0);
		}
		_exit(wait_exit(grandchild));
	}
	close(to_child[0]);
	close(pid_p[1]);
	outer = get_pid(pid_p[0]);
	ASSERT_GT(outer, 2);
	ASSERT_EQ(0, raw_duplicate(dev, sv[0], outer, 0, &info));
	ASSERT_EQ(0, put_info(to_child[1], &info));
	EXPECT_TRUE(got(sv[1], "pid 2"));
	EXPECT_EQ(0, wait_exit(child));
}

/*
 * Inside a child pid namespace, the exporter's own pid number names
 * nobody: ESRCH.  Its own getpid() and a sibling's pid are targets.
 */
TEST(child_ns_process_cannot_name_process_outside)
{
	pid_t outside = getpid(), child;

	child = clone3_pid(CLONE_NEWPID, NULL, 0);
	ASSERT_GE(child, 0);
	if (child == 0) {
		struct sharedsock_info info;
		int sv[2], to_g[2], dev, fd;
		pid_t grandchild;

		die_with_parent();
		/* the number is free in here */
		CHILD_CHECK(fails_with(kill(outside, 0), ESRCH), SETUP_FAIL);
		dev = dev_open();
		CHILD_CHECK(dev >= 0, SETUP_FAIL + 1);
		CHILD_CHECK(socket_pair(AF_UNIX, SOCK_STREAM, sv) == 0,
			    SETUP_FAIL + 2);
		CHILD_CHECK(pipe(to_g) == 0, SETUP_FAIL + 3);

		CHILD_CHECK(fails_with(raw_duplicate(dev, sv[0], outside, 0,
						     &info), ESRCH), 1);

		CHILD_CHECK(getpid() == 1, SETUP_FAIL + 4);
		CHILD_CHECK(raw_duplicate(dev, sv[0], getpid(), 0, &info) == 0,
			    2);
		fd = raw_redeem(dev, &info, 0);
		CHILD_CHECK(fd >= 0, 3);
		CHILD_CHECK(transfer_ok(fd, sv[1], "self"), 4);
		close(fd);

		grandchild = fork();
		CHILD_CHECK(grandchild >= 0, SETUP_FAIL + 5);
		if (grandchild == 0) {
			close(to_g[1]);
			close(sv[0]);
			CHILD_CHECK(get_info(to_g[0], &info) == 0, SETUP_FAIL);
			fd = raw_redeem(dev, &info, 0);
			CHILD_CHECK(fd >= 0, 1);
			CHILD_CHECK(sent(fd, "sibling"), 2);
			_exit(0);
		}
		close(to_g[0]);
		CHILD_CHECK(raw_duplicate(dev, sv[0], grandchild, 0, &info) == 0,
			    5);
		CHILD_CHECK(put_info(to_g[1], &info) == 0, SETUP_FAIL + 6);
		CHILD_CHECK(wait_exit(grandchild) == 0, 6);
		CHILD_CHECK(got(sv[1], "sibling"), 7);
		_exit(0);
	}
	EXPECT_EQ(0, wait_exit(child));
}

/* ---------------------------------------------------------------------- */
/* E. The device descriptor carries no identity.                          */

/*
 * Process B receives A's /dev/sharedsock descriptor over SCM_RIGHTS: it
 * works there for what is bound to B, and does not let B redeem what is
 * bound to A, which A still can afterwards.
 */
TEST(passed_device_fd_keeps_tokens_bound)
{
	struct sharedsock_info for_a, for_b;
	int sv[2], ch[2], to_b[2], dev, fd;
	pid_t b;

	ASSERT_EQ(0, socket_pair(AF_UNIX, SOCK_STREAM, sv));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_DGRAM, 0, ch));
	ASSERT_EQ(0, pipe(to_b));
	dev = dev_open();
	ASSERT_GE(dev, 0);

	b = fork();
	ASSERT_GE(b, 0);
	if (b == 0) {
		struct sharedsock_info own;
		int dev_of_a, s[2];

		die_with_parent();
		close(dev);	/* B's only device is the one it receives */
		close(sv[0]);
		close(sv[1]);
		close(to_b[1]);
		close(ch[0]);
		dev_of_a = recv_fd(ch[1]);
		CHILD_CHECK(dev_of_a >= 0, SETUP_FAIL);
		CHILD_CHECK(get_info(to_b[0], &for_a) == 0, SETUP_FAIL + 1);
		CHILD_CHECK(get_info(to_b[0], &for_b) == 0, SETUP_FAIL + 2);
		CHILD_CHECK(fails_with(raw_redeem(dev_of_a, &for_a, 0), EINVAL),
			    1);
		fd = raw_redeem(dev_of_a, &for_b, 0);
		CHILD_CHECK(fd >= 0, 2);
		CHILD_CHECK(sent(fd, "b"), 3);
		/* B exports through it, to itself */
		CHILD_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0,
			    SETUP_FAIL + 3);
		CHILD_CHECK(raw_duplicate(dev_of_a, s[0], getpid(), 0, &own) == 0,
			    4);
		fd = raw_redeem(dev_of_a, &own, 0);
		CHILD_CHECK(fd >= 0, 5);
		CHILD_CHECK(transfer_ok(fd, s[1], "own"), 6);
		_exit(0);
	}
	close(to_b[0]);
	close(ch[1]);
	ASSERT_EQ(0, raw_duplicate(dev, sv[0], getpid(), 0, &for_a));
	ASSERT_EQ(0, raw_duplicate(dev, sv[0], b, 0, &for_b));
	ASSERT_EQ(0, send_fd(ch[0], dev));
	ASSERT_EQ(0, put_info(to_b[1], &for_a));
	ASSERT_EQ(0, put_info(to_b[1], &for_b));
	EXPECT_EQ(0, wait_exit(b));
	EXPECT_TRUE(got(sv[1], "b"));

	fd = raw_redeem(dev, &for_a, 0);
	ASSERT_GE(fd, 0);
	EXPECT_TRUE(transfer_ok(fd, sv[1], "a"));
	close(fd);
}

TEST_HARNESS_MAIN
