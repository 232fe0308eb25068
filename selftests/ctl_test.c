// SPDX-License-Identifier: GPL-2.0
/*
 * Observability: SHAREDSOCK_IOC_STATUS / _LIST and sharedsockctl.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "kselftest_harness.h"

static int list(int dev, unsigned int kind, void *entries, unsigned int room,
		unsigned int *total)
{
	struct sharedsock_list args = {
		.size = sizeof(args), .kind = kind, .count = room,
		.entries = (unsigned long)entries,
	};
	int n = ioctl(dev, SHAREDSOCK_IOC_LIST, &args);

	if (total)
		*total = args.count;
	return n;
}

static const struct sharedsock_token_entry *
find_token(const struct sharedsock_token_entry *e, int n, __u64 id)
{
	for (int i = 0; i < n; i++)
		if (e[i].id == id)
			return &e[i];
	return NULL;
}

/* Run @cmd, return its stdout (static buffer) and exit status. */
static const char *run(const char *cmd, int *status)
{
	static char out[65536];
	FILE *p = popen(cmd, "r");
	size_t n;

	out[0] = '\0';
	if (!p) {
		*status = -1;
		return out;
	}
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	*status = pclose(p);
	return out;
}

/*
 * The node is 10:244, the minor the module's devname alias names, so that
 * kmod's static nodes (made before the module loads) reach it and load it
 * on first open; every user may open it.
 */
TEST(device_node_is_the_aliased_misc_minor)
{
	struct stat st;

	ASSERT_EQ(0, stat(SHAREDSOCK_DEVICE_PATH, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(10, major(st.st_rdev));
	EXPECT_EQ(244, minor(st.st_rdev));
	EXPECT_EQ(0666, st.st_mode & 0777);
}

TEST(status_counts_tokens)
{
	struct sharedsock_status before, after;
	struct sharedsock_info info;
	int dev = dev_open(), sv[2], fd;

	ASSERT_GE(dev, 0);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	/* no token of an earlier test may go while this one counts */
	ASSERT_LE(0, tokens_settled(WAIT_MS));
	ASSERT_EQ(0, dev_status(dev, &before));
	EXPECT_STRNE("", before.version);
	ASSERT_EQ(0, raw_duplicate(dev, sv[0], getpid(), 0, &info));
	ASSERT_EQ(0, raw_duplicate(dev, sv[0], getpid(), 0, NULL));
	ASSERT_EQ(0, dev_status(dev, &after));
	EXPECT_EQ(before.tokens_exported + 2, after.tokens_exported);
	EXPECT_EQ(before.tokens_pending + 2, after.tokens_pending);
	fd = raw_redeem(dev, &info, 0);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, dev_status(dev, &after));
	EXPECT_EQ(before.tokens_redeemed + 1, after.tokens_redeemed);
	EXPECT_EQ(before.tokens_pending + 1, after.tokens_pending);
	close(fd);
	close(sv[0]);
	close(sv[1]);
	close(dev);
}

TEST(status_rejects_flags)
{
	struct sharedsock_status st = { .size = sizeof(st), .flags = 1 };
	int dev = dev_open();

	ASSERT_GE(dev, 0);
	EXPECT_EQ(-1, ioctl(dev, SHAREDSOCK_IOC_STATUS, &st));
	EXPECT_EQ(EINVAL, errno);
	close(dev);
}

/*
 * How far apart LIST's age and time left may be from what they would be at
 * an instant between the export and the listing: a tick or two of jiffies.
 */
#define TICK_SLACK_MS	25

TEST(list_tokens_describes_them)
{
	struct sharedsock_token_entry e[64];
	const struct sharedsock_token_entry *t;
	const long ttl = 60000;	/* outlives any delay before the listing */
	struct sharedsock_info info;
	int dev = dev_open(), sv[2], n;
	unsigned int total;
	long start, elapsed;

	ASSERT_GE(dev, 0);
	ASSERT_EQ(0, socket_pair(AF_INET6, SOCK_STREAM, sv));
	start = now_us();
	ASSERT_EQ(0, raw_duplicate(dev, sv[0], getpid(), ttl, &info));
	n = list(dev, SHAREDSOCK_LIST_TOKENS, e, 64, &total);
	elapsed = (now_us() - start) / 1000 + 1;
	ASSERT_GE(n, 1);
	t = find_token(e, n, info.id);
	ASSERT_NE(NULL, t);
	EXPECT_EQ(getpid(), t->exporter_pid);
	EXPECT_EQ(getpid(), t->target_pid);
	EXPECT_EQ(getuid(), t->uid);
	EXPECT_EQ(AF_INET6, t->family);
	EXPECT_EQ(SOCK_STREAM, t->type);
	EXPECT_EQ(IPPROTO_TCP, t->protocol);
	/* as old as the time since the export, and the rest of its lifetime */
	EXPECT_LE(t->ttl_left_ms, ttl);
	EXPECT_GE(t->ttl_left_ms + elapsed + TICK_SLACK_MS, ttl);
	EXPECT_LE(t->age_ms, elapsed + TICK_SLACK_MS);
	EXPECT_GE(t->age_ms + t->ttl_left_ms + TICK_SLACK_MS, ttl);
	EXPECT_LE(t->age_ms + t->ttl_left_ms, ttl + TICK_SLACK_MS);
	/* too little room: the total still says how many there are */
	EXPECT_EQ(0, list(dev, SHAREDSOCK_LIST_TOKENS, e, 0, &total));
	EXPECT_GE(total, 1);
	ASSERT_EQ(0, raw_revoke(dev, &info));
	n = list(dev, SHAREDSOCK_LIST_TOKENS, e, 64, NULL);
	EXPECT_EQ(NULL, find_token(e, n, info.id));
	/* bad kind, bad pointer */
	EXPECT_EQ(-1, list(dev, 7, e, 64, NULL));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, raw_duplicate(dev, sv[0], getpid(), 0, &info));
	EXPECT_EQ(-1, list(dev, SHAREDSOCK_LIST_TOKENS, (void *)8, 64, NULL));
	EXPECT_EQ(EFAULT, errno);
	close(sv[0]);
	close(sv[1]);
	close(dev);
}

/* An unprivileged user sees only the tokens charged to it; root all. */
TEST(list_tokens_visibility)
{
	struct sharedsock_token_entry e[256];
	struct sharedsock_info mine, roots;
	int dev = dev_open(), sv[2], pipefd[2], n;
	pid_t pid;

	ASSERT_GE(dev, 0);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	ASSERT_EQ(0, raw_duplicate(dev, sv[0], getpid(), 0, &roots));
	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int d;

		if (become_user(1000))
			_exit(1);
		d = dev_open();
		if (d < 0 || raw_duplicate(d, sv[0], getpid(), 0, &mine))
			_exit(2);
		if (write(pipefd[1], &mine, sizeof(mine)) != sizeof(mine))
			_exit(3);
		n = list(d, SHAREDSOCK_LIST_TOKENS, e, 256, NULL);
		if (n < 1 || !find_token(e, n, mine.id))
			_exit(4);
		if (find_token(e, n, roots.id))
			_exit(5);
		for (int i = 0; i < n; i++)
			if (e[i].uid != 1000)
				_exit(6);
		_exit(0);
	}
	EXPECT_EQ(0, wait_exit(pid));
	ASSERT_EQ(sizeof(mine), read(pipefd[0], &mine, sizeof(mine)));
	n = list(dev, SHAREDSOCK_LIST_TOKENS, e, 256, NULL);
	EXPECT_NE(NULL, find_token(e, n, roots.id));
	/* the child exited: its token (bound to itself) is gone */
	ASSERT_EQ(0, raw_revoke(dev, &roots));
	close(sv[0]);
	close(sv[1]);
	close(dev);
}

TEST(list_registrations)
{
	struct sharedsock_reg_entry e[64];
	struct sharedsock_status before, after;
	int dev = dev_open(), sv[2], efd, efd2, n, i, found = -1;
	struct stat st;

	ASSERT_GE(dev, 0);
	ASSERT_EQ(0, dev_status(dev, &before));
	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, sv));
	efd = eventfd(0, 0);
	efd2 = eventfd(0, 0);
	ASSERT_EQ(0, ss_event_select(sv[0], efd, SS_FD_READ | SS_FD_CLOSE));
	ASSERT_EQ(0, fstat(sv[0], &st));
	ASSERT_EQ(2, send(sv[1], "hi", 2, 0));
	/* FD_READ recorded (and, selected, signalled) */
	{
		struct pollfd p = { .fd = efd, .events = POLLIN };

		ASSERT_EQ(1, poll(&p, 1, WAIT_MS));
	}
	n = list(dev, SHAREDSOCK_LIST_REGISTRATIONS, e, 64, NULL);
	for (i = 0; i < n; i++)
		if (e[i].socket_ino == st.st_ino)
			found = i;
	ASSERT_GE(found, 0);
	EXPECT_EQ(getpid(), e[found].registrant_pid);
	EXPECT_EQ(SHAREDSOCK_SINK_EVENTFD, e[found].sink);
	EXPECT_EQ(SS_FD_READ | SS_FD_CLOSE, e[found].mask);
	/*
	 * FD_WRITE is recorded too, though not selected: it is remembered; so
	 * is the client's connect, made before it was registered.
	 */
	EXPECT_EQ(SS_FD_READ | SS_FD_WRITE | SS_FD_CONNECT, e[found].pending);
	EXPECT_EQ(AF_INET, e[found].family);

	/* a second registration replaces the first: counted */
	ASSERT_EQ(0, ss_event_select(sv[0], efd2, SS_FD_READ));
	ASSERT_EQ(0, dev_status(dev, &after));
	EXPECT_EQ(before.registrations_replaced + 1, after.registrations_replaced);
	EXPECT_EQ(before.registrations_created + 1, after.registrations_created);
	EXPECT_EQ(before.registrations + 1, after.registrations);
	EXPECT_LT(before.events_recorded, after.events_recorded);

	close(sv[0]);
	ASSERT_EQ(0, dev_status(dev, &after));
	EXPECT_EQ(before.registrations, after.registrations);
	close(sv[1]);
	close(efd);
	close(efd2);
	close(dev);
}

TEST(sharedsockctl_shows_tokens_and_registrations)
{
	struct sharedsock_info info;
	int dev = dev_open(), sv[2], efd, rc;
	char cmd[64], id[32], ino[32];
	const char *out;
	struct stat st;

	if (access("/bin/sharedsockctl", X_OK))
		SKIP(return, "sharedsockctl not installed in /bin");
	ASSERT_GE(dev, 0);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	ASSERT_EQ(0, raw_duplicate(dev, sv[0], getpid(), 0, &info));
	snprintf(id, sizeof(id), "\"id\": %llu,", (unsigned long long)info.id);
	out = run("/bin/sharedsockctl tokens --json", &rc);
	EXPECT_EQ(0, rc);
	EXPECT_NE(NULL, strstr(out, id));
	out = run("/bin/sharedsockctl tokens", &rc);
	EXPECT_EQ(0, rc);
	EXPECT_NE(NULL, strstr(out, "unix/stream"));

	efd = eventfd(0, 0);
	ASSERT_EQ(0, ss_event_select(sv[1], efd, SS_FD_READ | SS_FD_WRITE));
	ASSERT_EQ(0, fstat(sv[1], &st));
	snprintf(ino, sizeof(ino), "\"socket_ino\": %llu,",
		 (unsigned long long)st.st_ino);
	out = run("/bin/sharedsockctl registrations --json", &rc);
	EXPECT_EQ(0, rc);
	EXPECT_NE(NULL, strstr(out, ino));
	out = run("/bin/sharedsockctl registrations", &rc);
	EXPECT_NE(NULL, strstr(out, "READ|WRITE"));
	out = run("/bin/sharedsockctl status", &rc);
	EXPECT_EQ(0, rc);
	EXPECT_NE(NULL, strstr(out, "tokens_pending"));
	out = run("/bin/sharedsockctl status --json", &rc);
	EXPECT_NE(NULL, strstr(out, "\"tokens_exported\": "));
	snprintf(cmd, sizeof(cmd), "/bin/sharedsockctl bogus 2>&1");
	out = run(cmd, &rc);
	EXPECT_EQ(2, WEXITSTATUS(rc));
	EXPECT_NE(NULL, strstr(out, "unknown command"));
	close(sv[0]);
	close(sv[1]);
	close(efd);
	close(dev);
}

TEST_HARNESS_MAIN
