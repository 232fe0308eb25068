// SPDX-License-Identifier: GPL-2.0
/*
 * Message-queue registrations (WSAAsyncSelect) and the lifetime of event
 * registrations: queue fd semantics, coalescing, TCP events in message
 * mode, accept inheritance, re-posting, cancellation by closing the queue,
 * switching modes, cross-process replacement, last close, races with
 * close(), io_uring, and module unload with live registrations.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "kselftest_harness.h"

#define ALL_TCP (SS_FD_READ | SS_FD_WRITE | SS_FD_CLOSE)
#define MAXMSG	512

/* --- helpers --- */

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static bool readable_within(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

static bool signalled(int efd, int ms)
{
	return readable_within(efd, ms);
}

/* A queue (or eventfd) that stays silent for @ms. */
static bool silent_for(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 0;
}

/*
 * Collect messages from @q until @want have been read or @ms elapsed;
 * works on blocking and non-blocking queues.  Returns the count, or -1
 * (errno set) on an unexpected error.
 */
static int collect(int q, struct ss_message *m, int max, int want, int ms)
{
	long deadline = now_ms() + ms;
	int n = 0;

	while (n < want && n < max) {
		long left = deadline - now_ms();
		ssize_t r;

		if (!readable_within(q, left > 0 ? (int)left : 0))
			break;
		r = ss_queue_read(q, m + n, max - n);
		if (r < 0) {
			if (errno == EAGAIN)
				continue;
			return -1;
		}
		n += r;
	}
	return n;
}

/* Index of the first message for @sock/@event in @m[0..n), or -1. */
static int find_msg(const struct ss_message *m, int n, int sock, long event)
{
	int i;

	for (i = 0; i < n; i++)
		if (m[i].socket == sock && m[i].event == event)
			return i;
	return -1;
}

static int count_msgs(const struct ss_message *m, int n, int sock, long event)
{
	int i, c = 0;

	for (i = 0; i < n; i++)
		if (m[i].socket == sock && m[i].event == event)
			c++;
	return c;
}

/*
 * Collect from @q, as collect() does, until a message for @sock/@event is
 * among them (or @ms elapsed); then whatever else comes within @more ms.
 * Returns the count, or -1.
 */
static int collect_until(int q, struct ss_message *m, int max, int sock,
			 long event, int ms, int more)
{
	long deadline = now_ms() + ms;
	int n = 0, r;

	while (n < max && find_msg(m, n, sock, event) < 0) {
		long left = deadline - now_ms();

		r = collect(q, m + n, max - n, 1, left > 0 ? (int)left : 0);
		if (r < 0)
			return -1;
		if (!r)
			return n;
		n += r;
	}
	r = collect(q, m + n, max - n, max - n, more);
	return r < 0 ? -1 : n + r;
}

static unsigned long long ino_of(int fd)
{
	struct stat st;

	if (fstat(fd, &st))
		return 0;
	return st.st_ino;
}

static long fetch(int sock, int efd, struct ss_network_events *ne)
{
	memset(ne, 0x55, sizeof(*ne));
	if (ss_enum_network_events(sock, efd, ne))
		return -1;
	return ne->network_events;
}

static ssize_t drain(int fd)
{
	char buf[4096];
	ssize_t n, total = 0;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		total += n;
	return total;
}

/* recv on a non-blocking socket, waiting for data (up to WAIT_MS). */
static ssize_t recv_wait(int fd, void *buf, size_t len)
{
	if (!readable_within(fd, WAIT_MS))
		return -1;
	return recv(fd, buf, len, 0);
}

/* Wait for one CQE for up to @ms; its res in *res.  0, or -errno. */
static int wait_cqe_ms(struct io_uring *ring, int ms, int *res, __u64 *data)
{
	struct __kernel_timespec ts = {
		.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L,
	};
	struct io_uring_cqe *cqe;
	int ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);

	if (ret)
		return ret;
	*res = cqe->res;
	if (data)
		*data = cqe->user_data;
	io_uring_cqe_seen(ring, cqe);
	return 0;
}

/* --- Queue basics --- */

TEST(queue_message_fields)
{
	struct sharedsock_message raw;
	struct ss_message m[8];
	int sv[2], q;
	ssize_t n;

	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, sv));
	q = ss_queue_create(O_NONBLOCK);
	ASSERT_GE(q, 0);
	ASSERT_EQ(0, ss_async_select(sv[0], q, 0x4321, ALL_TCP));
	ASSERT_EQ(1, collect(q, m, 8, 1, WAIT_MS));
	EXPECT_EQ(sv[0], m[0].socket);
	EXPECT_EQ(0x4321, m[0].msg);
	EXPECT_EQ(SS_FD_WRITE, m[0].event);
	EXPECT_EQ(0, m[0].error);
	EXPECT_EQ(ino_of(sv[0]), m[0].socket_ino);
	EXPECT_NE(0, m[0].socket_ino);
	EXPECT_EQ(-1, ss_queue_read(q, m, 8));
	EXPECT_EQ(EAGAIN, errno);

	/* the raw record read(2) returns carries the same fields */
	ASSERT_EQ(3, send(sv[1], "abc", 3, 0));
	ASSERT_TRUE(readable_within(q, WAIT_MS));
	n = read(q, &raw, sizeof(raw));
	ASSERT_EQ((ssize_t)sizeof(raw), n);
	EXPECT_EQ(sv[0], raw.socket);
	EXPECT_EQ(0x4321, raw.msg);
	EXPECT_EQ(SS_FD_READ, raw.event);
	EXPECT_EQ(0, raw.error);
	EXPECT_EQ(ino_of(sv[0]), raw.socket_ino);
	EXPECT_EQ(-1, read(q, &raw, sizeof(raw)));
	EXPECT_EQ(EAGAIN, errno);
	close(sv[0]);
	close(sv[1]);
	close(q);
}

TEST(queue_nonblock_empty_eagain)
{
	struct sharedsock_message raw;
	struct ss_message m[4];
	int q, sv[2];

	q = ss_queue_create(O_NONBLOCK);
	ASSERT_GE(q, 0);
	EXPECT_NE(0, fcntl(q, F_GETFL) & O_NONBLOCK);
	EXPECT_EQ(-1, ss_queue_read(q, m, 4));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(-1, read(q, &raw, sizeof(raw)));
	EXPECT_EQ(EAGAIN, errno);

	/* registered, but nothing selected has happened */
	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, sv));
	ASSERT_EQ(0, ss_async_select(sv[0], q, 1, SS_FD_READ | SS_FD_CLOSE));
	EXPECT_TRUE(silent_for(q, 100));
	EXPECT_EQ(-1, ss_queue_read(q, m, 4));
	EXPECT_EQ(EAGAIN, errno);
	close(q);

	/* O_NONBLOCK set later with fcntl() is honoured too */
	q = ss_queue_create(0);
	ASSERT_GE(q, 0);
	EXPECT_EQ(0, fcntl(q, F_GETFL) & O_NONBLOCK);
	ASSERT_EQ(0, fcntl(q, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-1, ss_queue_read(q, m, 4));
	EXPECT_EQ(EAGAIN, errno);
	close(q);
	close(sv[0]);
	close(sv[1]);
}

struct reader_arg {
	int q;
	atomic_int done;
	ssize_t n;
	int err;
	struct ss_message m[4];
};

static void *blocking_reader(void *p)
{
	struct reader_arg *a = p;

	a->n = ss_queue_read(a->q, a->m, 4);
	a->err = errno;
	atomic_store(&a->done, 1);
	return NULL;
}

TEST(queue_blocking_read_wakes)
{
	struct reader_arg a = { .done = 0 };
	pthread_t t;
	int sv[2], i;

	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, sv));
	a.q = ss_queue_create(0);
	ASSERT_GE(a.q, 0);
	ASSERT_EQ(0, ss_async_select(sv[0], a.q, 7, SS_FD_READ));
	ASSERT_EQ(0, pthread_create(&t, NULL, blocking_reader, &a));
	/* asleep in the read: what follows is a wake-up */
	ASSERT_TRUE(threads_asleep(WAIT_MS));
	EXPECT_EQ(0, atomic_load(&a.done));	/* still blocked */
	ASSERT_EQ(1, send(sv[1], "x", 1, 0));
	for (i = 0; i < WAIT_MS / 10 && !atomic_load(&a.done); i++)
		usleep(10000);
	ASSERT_EQ(1, atomic_load(&a.done));
	pthread_join(t, NULL);
	ASSERT_EQ(1, a.n) TH_LOG("read: %zd errno %d", a.n, a.err);
	EXPECT_EQ(sv[0], a.m[0].socket);
	EXPECT_EQ(7, a.m[0].msg);
	EXPECT_EQ(SS_FD_READ, a.m[0].event);
	close(sv[0]);
	close(sv[1]);
	close(a.q);
}

TEST(queue_poll_pollin_only_while_pending)
{
	struct pollfd p;
	struct ss_message m[4];
	char buf[8];
	int sv[2], q;

	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, sv));
	q = ss_queue_create(O_NONBLOCK);
	ASSERT_GE(q, 0);
	ASSERT_EQ(0, ss_async_select(sv[0], q, 1, SS_FD_READ));
	p = (struct pollfd){ .fd = q, .events = POLLIN };
	EXPECT_EQ(0, poll(&p, 1, 0));

	ASSERT_EQ(1, send(sv[1], "x", 1, 0));
	p.revents = 0;
	ASSERT_EQ(1, poll(&p, 1, WAIT_MS));
	EXPECT_TRUE(p.revents & POLLIN);
	/* level: still reported until read */
	p.revents = 0;
	EXPECT_EQ(1, poll(&p, 1, 0));
	ASSERT_EQ(1, ss_queue_read(q, m, 4));
	EXPECT_EQ(SS_FD_READ, m[0].event);
	p.revents = 0;
	EXPECT_EQ(0, poll(&p, 1, 0));
	EXPECT_EQ(0, p.revents);
	/* a wake-up while polling */
	ASSERT_EQ(1, recv(sv[0], buf, sizeof(buf), 0));
	ASSERT_EQ(1, send(sv[1], "y", 1, 0));
	p.revents = 0;
	ASSERT_EQ(1, poll(&p, 1, WAIT_MS));
	ASSERT_EQ(1, ss_queue_read(q, m, 4));
	EXPECT_EQ(0, poll(&p, 1, 0));
	close(sv[0]);
	close(sv[1]);
	close(q);
}

TEST(queue_epoll_level_and_edge)
{
	struct epoll_event ev = { .events = EPOLLIN }, out[2];
	struct ss_message m[4];
	char buf[8];
	int sv[2], q, ep, ep_et;

	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, sv));
	q = ss_queue_create(O_NONBLOCK);
	ASSERT_GE(q, 0);
	ep = epoll_create1(EPOLL_CLOEXEC);
	ep_et = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_GE(ep, 0);
	ASSERT_GE(ep_et, 0);
	ev.data.fd = q;
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, q, &ev));
	ev.events = EPOLLIN | EPOLLET;
	ASSERT_EQ(0, epoll_ctl(ep_et, EPOLL_CTL_ADD, q, &ev));
	ASSERT_EQ(0, ss_async_select(sv[0], q, 1, SS_FD_READ));
	EXPECT_EQ(0, epoll_wait(ep, out, 2, 100));
	EXPECT_EQ(0, epoll_wait(ep_et, out, 2, 0));

	ASSERT_EQ(1, send(sv[1], "x", 1, 0));
	ASSERT_EQ(1, epoll_wait(ep, out, 2, WAIT_MS));
	EXPECT_EQ(q, out[0].data.fd);
	EXPECT_TRUE(out[0].events & EPOLLIN);
	ASSERT_EQ(1, epoll_wait(ep_et, out, 2, WAIT_MS));
	EXPECT_TRUE(out[0].events & EPOLLIN);
	/* level-triggered: reported again while the message waits */
	EXPECT_EQ(1, epoll_wait(ep, out, 2, 0));
	/* edge-triggered: once per wake-up */
	EXPECT_EQ(0, epoll_wait(ep_et, out, 2, 0));
	ASSERT_EQ(1, ss_queue_read(q, m, 4));
	EXPECT_EQ(0, epoll_wait(ep, out, 2, 0));

	/* the next message produces a new edge */
	ASSERT_EQ(1, recv(sv[0], buf, sizeof(buf), 0));
	ASSERT_EQ(1, send(sv[1], "y", 1, 0));
	EXPECT_EQ(1, epoll_wait(ep_et, out, 2, WAIT_MS));
	EXPECT_EQ(1, epoll_wait(ep, out, 2, WAIT_MS));
	ASSERT_EQ(1, ss_queue_read(q, m, 4));
	EXPECT_EQ(0, epoll_wait(ep, out, 2, 0));
	close(ep);
	close(ep_et);
	close(sv[0]);
	close(sv[1]);
	close(q);
}

TEST(queue_read_short_buffer_einval)
{
	struct sharedsock_message raw[2];
	char small[sizeof(struct sharedsock_message)];
	int sv[2], q;

	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, sv));
	q = ss_queue_create(O_NONBLOCK);
	ASSERT_GE(q, 0);
	ASSERT_EQ(0, ss_async_select(sv[0], q, 3, SS_FD_WRITE));
	ASSERT_TRUE(readable_within(q, WAIT_MS));

	EXPECT_EQ(-1, read(q, small, sizeof(small) - 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, read(q, small, 1));
	EXPECT_EQ(EINVAL, errno);
	/* the message was not consumed */
	EXPECT_TRUE(readable_within(q, 0));
	/* a buffer of one and a half records gets exactly one */
	EXPECT_EQ((ssize_t)sizeof(raw[0]),
		  read(q, raw, sizeof(raw[0]) + sizeof(raw[0]) / 2));
	EXPECT_EQ(SS_FD_WRITE, raw[0].event);
	EXPECT_EQ(sv[0], raw[0].socket);
	/* an empty queue with a short buffer is still EINVAL, not EAGAIN */
	EXPECT_EQ(-1, read(q, small, sizeof(small) - 1));
	EXPECT_EQ(EINVAL, errno);
	close(sv[0]);
	close(sv[1]);
	close(q);
}

/*
 * ss_queue_read() on descriptors that are not queues: EINVAL, and each
 * keeps what it holds (a plain read(2) would have taken it).
 */
TEST(queue_read_refuses_what_is_not_a_queue)
{
	struct ss_message m[4];
	int sv[2], pfd[2], efd, dev, closed;
	uint64_t count = 0;
	char buf[8];

	efd = eventfd(5, EFD_NONBLOCK);
	ASSERT_GE(efd, 0);
	errno = 0;
	EXPECT_EQ(-1, ss_queue_read(efd, m, 4));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ((ssize_t)sizeof(count), read(efd, &count, sizeof(count)));
	EXPECT_EQ(5, count);

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	ASSERT_EQ(3, send(sv[1], "abc", 3, 0));
	errno = 0;
	EXPECT_EQ(-1, ss_queue_read(sv[0], m, 4));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(3, recv(sv[0], buf, sizeof(buf), MSG_DONTWAIT));
	EXPECT_EQ(0, memcmp(buf, "abc", 3));

	ASSERT_EQ(0, pipe2(pfd, O_NONBLOCK));
	ASSERT_EQ(2, write(pfd[1], "xy", 2));
	errno = 0;
	EXPECT_EQ(-1, ss_queue_read(pfd[0], m, 4));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(2, read(pfd[0], buf, sizeof(buf)));

	dev = dev_open();
	ASSERT_GE(dev, 0);
	errno = 0;
	EXPECT_EQ(-1, ss_queue_read(dev, m, 4));
	EXPECT_EQ(EINVAL, errno);

	/* no open descriptor at all: EBADF, as read(2) says */
	closed = dup(efd);
	ASSERT_GE(closed, 0);
	close(closed);
	errno = 0;
	EXPECT_EQ(-1, ss_queue_read(closed, m, 4));
	EXPECT_EQ(EBADF, errno);
	errno = 0;
	EXPECT_EQ(-1, ss_queue_read(-1, m, 4));
	EXPECT_EQ(EBADF, errno);

	close(dev);
	close(pfd[0]);
	close(pfd[1]);
	close(sv[0]);
	close(sv[1]);
	close(efd);
}

/*
 * The raw SHAREDSOCK_IOC_QUEUE_READ: each bad argument, and that a failed
 * call leaves the queued message where it was.
 */
TEST(queue_read_ioctl_bad_arguments)
{
	struct {
		struct sharedsock_queue_read a;
		__u64 more;
	} big;
	struct sharedsock_queue_read args;
	struct sharedsock_message raw[2];
	int sv[2], q, dev;
	void *none;

	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, sv));
	q = ss_queue_create(O_NONBLOCK);
	ASSERT_GE(q, 0);
	ASSERT_EQ(0, ss_async_select(sv[0], q, 9, SS_FD_WRITE));
	ASSERT_TRUE(readable_within(q, WAIT_MS));
	dev = dev_open();
	ASSERT_GE(dev, 0);
	none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, none);

#define QREAD(field, value, err) do {					\
		args = (struct sharedsock_queue_read){			\
			.size = sizeof(args), .queue_fd = q,		\
			.msgs = (uintptr_t)raw, .count = 2,		\
		};							\
		args.field = value;					\
		errno = 0;						\
		EXPECT_EQ(-1, ioctl(dev, SHAREDSOCK_IOC_QUEUE_READ, &args)); \
		EXPECT_EQ(err, errno);					\
	} while (0)
	QREAD(flags, 1, EINVAL);
	QREAD(flags, 0x80000000U, EINVAL);
	QREAD(count, 0, EINVAL);
	QREAD(msgs, 0, EFAULT);
	QREAD(msgs, (uintptr_t)none, EFAULT);
	QREAD(size, 0, EINVAL);
	QREAD(size, 20, EINVAL);
	QREAD(size, (__u32)sysconf(_SC_PAGESIZE) + 1, E2BIG);
	QREAD(queue_fd, -1, EBADF);
	QREAD(queue_fd, dev, EINVAL);
	QREAD(queue_fd, sv[0], EINVAL);
#undef QREAD
	errno = 0;
	EXPECT_EQ(-1, ioctl(dev, SHAREDSOCK_IOC_QUEUE_READ, NULL));
	EXPECT_EQ(EFAULT, errno);

	/* a newer, larger argument: zeros past the end are fine, else E2BIG */
	memset(&big, 0, sizeof(big));
	big.a = (struct sharedsock_queue_read){
		.size = sizeof(big), .queue_fd = q,
		.msgs = (uintptr_t)raw, .count = 2,
	};
	big.more = 1;
	errno = 0;
	EXPECT_EQ(-1, ioctl(dev, SHAREDSOCK_IOC_QUEUE_READ, &big));
	EXPECT_EQ(E2BIG, errno);

	/* nor does read(2) into a bad buffer */
	errno = 0;
	EXPECT_EQ(-1, read(q, none, sizeof(raw[0])));
	EXPECT_EQ(EFAULT, errno);

	/* none of that took the message */
	EXPECT_TRUE(readable_within(q, 0));
	big.more = 0;
	memset(raw, 0, sizeof(raw));
	EXPECT_EQ(1, ioctl(dev, SHAREDSOCK_IOC_QUEUE_READ, &big));
	EXPECT_EQ(sv[0], raw[0].socket);
	EXPECT_EQ(9, raw[0].msg);
	EXPECT_EQ(SS_FD_WRITE, raw[0].event);
	/* and now it is empty, non-blocking */
	args = (struct sharedsock_queue_read){
		.size = sizeof(args), .queue_fd = q,
		.msgs = (uintptr_t)raw, .count = 2,
	};
	errno = 0;
	EXPECT_EQ(-1, ioctl(dev, SHAREDSOCK_IOC_QUEUE_READ, &args));
	EXPECT_EQ(EAGAIN, errno);

	munmap(none, 4096);
	close(dev);
	close(q);
	close(sv[0]);
	close(sv[1]);
}

/*
 * A client connects and its peer closes at once: FD_CONNECT, FD_WRITE and
 * FD_CLOSE wait in the queue.  Registering again before reading them (as
 * a handler of FD_CONNECT does) must not lose them: Windows leaves posted
 * messages in the window's queue, and FD_CLOSE never comes twice.  They
 * come again, under the new message, to the queue or, when the socket
 * moves to an eventfd, to WSAEnumNetworkEvents.
 */
static void connect_then_peer_closes(struct __test_metadata *_metadata,
				     int l, const struct sockaddr_in *addr,
				     socklen_t len, int c, int q)
{
	struct pollfd pfd = { .fd = c, .events = POLLRDHUP };
	int a;

	ASSERT_EQ(0, ss_async_select(c, q, 1, SS_FD_CONNECT | SS_FD_WRITE |
				     SS_FD_READ | SS_FD_CLOSE));
	if (connect(c, (const void *)addr, len))
		ASSERT_EQ(EINPROGRESS, errno);
	a = accept(l, NULL, NULL);
	ASSERT_LE(0, a);
	close(a);
	/* The FIN is in: FD_CLOSE is queued with the rest. */
	ASSERT_EQ(1, poll(&pfd, 1, WAIT_MS));
	ASSERT_TRUE(readable_within(q, WAIT_MS));
}

TEST(reselect_keeps_unread_close)
{
	struct ss_network_events ne;
	struct ss_message m[8];
	struct sockaddr_in addr;
	socklen_t len;
	int l, c, q, efd, n;

	l = loopback_listener(&addr, &len);
	ASSERT_LE(0, l);
	q = ss_queue_create(O_NONBLOCK);
	ASSERT_LE(0, q);

	/* To the same queue, under a new message. */
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, c);
	connect_then_peer_closes(_metadata, l, &addr, len, c, q);
	ASSERT_EQ(0, ss_async_select(c, q, 2, SS_FD_READ | SS_FD_WRITE | SS_FD_CLOSE));
	n = collect_until(q, m, 8, c, SS_FD_CLOSE, WAIT_MS, 200);
	ASSERT_LE(0, n);
	EXPECT_LE(0, find_msg(m, n, c, SS_FD_CLOSE));
	if (find_msg(m, n, c, SS_FD_CLOSE) >= 0)
		EXPECT_EQ(2, m[find_msg(m, n, c, SS_FD_CLOSE)].msg);
	EXPECT_EQ(-1, find_msg(m, n, c, SS_FD_CONNECT));	/* not selected now */
	close(c);

	/* To an eventfd. */
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, c);
	connect_then_peer_closes(_metadata, l, &addr, len, c, q);
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, ss_event_select(c, efd, SS_FD_CONNECT | SS_FD_CLOSE));
	ASSERT_EQ(0, ss_enum_network_events(c, efd, &ne));
	EXPECT_EQ(SS_FD_CONNECT | SS_FD_CLOSE, ne.network_events);
	EXPECT_EQ(0, ne.error_code[SS_FD_CLOSE_BIT]);
	/* and the queue it left got nothing more */
	n = collect(q, m, 8, 8, 200);
	EXPECT_EQ(-1, find_msg(m, n > 0 ? n : 0, c, SS_FD_CLOSE));
	close(efd);
	close(c);
	close(q);
	close(l);
}

TEST(queue_create_bad_flags)
{
	struct sharedsock_queue_create args = { .size = sizeof(args) };
	int dev, q;

	EXPECT_EQ(-1, ss_queue_create(O_APPEND));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ss_queue_create(O_RDWR));
	EXPECT_EQ(EINVAL, errno);

	dev = dev_open();
	ASSERT_GE(dev, 0);
	args.flags = 0x4;
	EXPECT_EQ(-1, ioctl(dev, SHAREDSOCK_IOC_QUEUE_CREATE, &args));
	EXPECT_EQ(EINVAL, errno);
	args.flags = 0x80000000U;
	EXPECT_EQ(-1, ioctl(dev, SHAREDSOCK_IOC_QUEUE_CREATE, &args));
	EXPECT_EQ(EINVAL, errno);
	args.flags = SHAREDSOCK_QUEUE_NONBLOCK | 0x100;
	EXPECT_EQ(-1, ioctl(dev, SHAREDSOCK_IOC_QUEUE_CREATE, &args));
	EXPECT_EQ(EINVAL, errno);
	/* valid flags through the raw ioctl */
	args.flags = SHAREDSOCK_QUEUE_CLOEXEC | SHAREDSOCK_QUEUE_NONBLOCK;
	q = ioctl(dev, SHAREDSOCK_IOC_QUEUE_CREATE, &args);
	ASSERT_GE(q, 0);
	EXPECT_NE(0, fcntl(q, F_GETFD) & FD_CLOEXEC);
	EXPECT_NE(0, fcntl(q, F_GETFL) & O_NONBLOCK);
	close(q);
	close(dev);
}

TEST(queue_cloexec)
{
	int q1, q2, q3, status;
	pid_t pid;

	q1 = ss_queue_create(O_CLOEXEC);
	q2 = ss_queue_create(0);
	q3 = ss_queue_create(O_CLOEXEC | O_NONBLOCK);
	ASSERT_GE(q1, 0);
	ASSERT_GE(q2, 0);
	ASSERT_GE(q3, 0);
	EXPECT_NE(0, fcntl(q1, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(0, fcntl(q1, F_GETFL) & O_NONBLOCK);
	EXPECT_EQ(0, fcntl(q2, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(0, fcntl(q2, F_GETFL) & O_NONBLOCK);
	EXPECT_NE(0, fcntl(q3, F_GETFD) & FD_CLOEXEC);
	EXPECT_NE(0, fcntl(q3, F_GETFL) & O_NONBLOCK);

	/* across execve: q1 is gone, q2 survives (checked by a shell) */
	if (access("/bin/sh", X_OK) == 0) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd),
			 "test ! -e /proc/self/fd/%d && test -e /proc/self/fd/%d",
			 q1, q2);
		pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
			_exit(99);
		}
		status = wait_exit(pid);
		EXPECT_EQ(0, status);
	}
	close(q1);
	close(q2);
	close(q3);
}

TEST(queue_io_uring_read_and_poll)
{
	struct sharedsock_message raw[4];
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	struct ss_message m[4];
	char buf[8];
	__u64 data;
	int sv[2], q, res;

	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, sv));
	/* blocking queue: an O_NONBLOCK one would complete with -EAGAIN */
	q = ss_queue_create(0);
	ASSERT_GE(q, 0);
	ASSERT_EQ(0, io_uring_queue_init(8, &ring, 0));
	ASSERT_EQ(0, ss_async_select(sv[0], q, 55, SS_FD_READ));

	/* IORING_OP_READ waits for a message */
	memset(raw, 0, sizeof(raw));
	sqe = io_uring_get_sqe(&ring);
	ASSERT_NE(NULL, sqe);
	io_uring_prep_read(sqe, q, raw, sizeof(raw), 0);
	sqe->user_data = 1;
	ASSERT_EQ(1, io_uring_submit(&ring));
	EXPECT_EQ(-ETIME, wait_cqe_ms(&ring, 150, &res, &data));
	ASSERT_EQ(2, send(sv[1], "ab", 2, 0));
	ASSERT_EQ(0, wait_cqe_ms(&ring, WAIT_MS, &res, &data));
	EXPECT_EQ(1, data);
	ASSERT_EQ((int)sizeof(raw[0]), res);
	EXPECT_EQ(sv[0], raw[0].socket);
	EXPECT_EQ(55, raw[0].msg);
	EXPECT_EQ(SS_FD_READ, raw[0].event);
	EXPECT_EQ(ino_of(sv[0]), raw[0].socket_ino);

	/* IORING_OP_POLL_ADD reports POLLIN once a message waits */
	sqe = io_uring_get_sqe(&ring);
	ASSERT_NE(NULL, sqe);
	io_uring_prep_poll_add(sqe, q, POLLIN);
	sqe->user_data = 2;
	ASSERT_EQ(1, io_uring_submit(&ring));
	EXPECT_EQ(-ETIME, wait_cqe_ms(&ring, 150, &res, &data));
	ASSERT_EQ(2, recv(sv[0], buf, sizeof(buf), 0));	/* re-enables */
	ASSERT_EQ(1, send(sv[1], "c", 1, 0));
	ASSERT_EQ(0, wait_cqe_ms(&ring, WAIT_MS, &res, &data));
	EXPECT_EQ(2, data);
	EXPECT_TRUE(res & POLLIN);
	ASSERT_EQ(1, ss_queue_read(q, m, 4));
	EXPECT_EQ(SS_FD_READ, m[0].event);

	io_uring_queue_exit(&ring);
	close(sv[0]);
	close(sv[1]);
	close(q);
}

/* --- Coalescing and bounds --- */

TEST(coalesce_read_one_message)
{
	struct ss_message m[64];
	char buf[8];
	int sv[2], q, i, n;

	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, sv));
	q = ss_queue_create(O_NONBLOCK);
	ASSERT_GE(q, 0);
	ASSERT_EQ(0, ss_async_select(sv[0], q, 9, SS_FD_READ));
	ASSERT_EQ(1, send(sv[1], "x", 1, 0));
	ASSERT_TRUE(readable_within(q, WAIT_MS));

	/*
	 * Each round re-enables FD_READ twice without the queue being read:
	 * the partial recv finds data left (recorded again at once), the
	 * next one drains, and new data raises it again.
	 */
	for (i = 0; i < 100; i++) {
		ASSERT_EQ(2, send(sv[1], "yz", 2, 0));
		ASSERT_EQ(1, recv_wait(sv[0], buf, 1));
		ASSERT_EQ(1, recv_wait(sv[0], buf, 1));
	}
	ASSERT_EQ(1, recv_wait(sv[0], buf, 1));
	usleep(50000);
	n = collect(q, m, 64, 64, 200);
	ASSERT_EQ(1, n);
	EXPECT_EQ(sv[0], m[0].socket);
	EXPECT_EQ(9, m[0].msg);
	EXPECT_EQ(SS_FD_READ, m[0].event);
	EXPECT_EQ(0, m[0].error);
	EXPECT_EQ(-1, ss_queue_read(q, m, 64));
	EXPECT_EQ(EAGAIN, errno);

	/* still working after the reader caught up */
	ASSERT_EQ(1, send(sv[1], "w", 1, 0));
	ASSERT_EQ(1, collect(q, m, 64, 1, WAIT_MS));
	EXPECT_EQ(SS_FD_READ, m[0].event);
	close(sv[0]);
	close(sv[1]);
	close(q);
}

#define NSOCK 200

TEST(many_sockets_one_queue)
{
	static struct ss_message m[4 * NSOCK];
	int sv[NSOCK][2], q, i, n;

	q = ss_queue_create(O_NONBLOCK);
	ASSERT_GE(q, 0);
	for (i = 0; i < NSOCK; i++) {
		ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, sv[i]))
			TH_LOG("pair %d: %s", i, strerror(errno));
		ASSERT_EQ(0, ss_async_select(sv[i][0], q, 1000 + i,
					     SS_FD_READ | SS_FD_WRITE));
	}
	for (i = 0; i < NSOCK; i++)
		ASSERT_EQ(1, send(sv[i][1], "d", 1, 0));
	n = collect(q, m, 4 * NSOCK, 2 * NSOCK, WAIT_MS);
	ASSERT_EQ(2 * NSOCK, n);
	/* no more than that either */
	EXPECT_TRUE(silent_for(q, 100));
	for (i = 0; i < NSOCK; i++) {
		int w = find_msg(m, n, sv[i][0], SS_FD_WRITE);
		int r = find_msg(m, n, sv[i][0], SS_FD_READ);

		EXPECT_EQ(1, count_msgs(m, n, sv[i][0], SS_FD_WRITE));
		EXPECT_EQ(1, count_msgs(m, n, sv[i][0], SS_FD_READ));
		if (w < 0 || r < 0)
			continue;
		EXPECT_EQ(1000 + i, m[w].msg);
		EXPECT_EQ(1000 + i, m[r].msg);
		EXPECT_EQ(ino_of(sv[i][0]), m[r].socket_ino);
		EXPECT_EQ(0, m[r].error);
	}
	for (i = 0; i < NSOCK; i++) {
		close(sv[i][0]);
		close(sv[i][1]);
	}
	close(q);
}

/* --- TCP events in message mode --- */

TEST(tcp_messages_connect_accept_read_close)
{
	struct ss_message m[16];
	struct sockaddr_in addr;
	socklen_t len;
	char buf[16];
	int l, c, a, q, n, ic, iw, ret;

	q = ss_queue_create(O_NONBLOCK);
	ASSERT_GE(q, 0);
	l = loopback_listener(&addr, &len);
	ASSERT_GE(l, 0);
	ASSERT_EQ(0, ss_async_select(l, q, 10, SS_FD_ACCEPT));
	EXPECT_TRUE(silent_for(q, 50));

	c = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_GE(c, 0);
	ASSERT_EQ(0, ss_async_select(c, q, 20, SS_FD_CONNECT | ALL_TCP));
	EXPECT_TRUE(silent_for(q, 50));	/* not connected: no FD_WRITE */
	ret = connect(c, (void *)&addr, len);
	if (ret)
		ASSERT_EQ(EINPROGRESS, errno);

	n = collect(q, m, 16, 3, WAIT_MS);
	ASSERT_EQ(3, n);
	ic = find_msg(m, n, c, SS_FD_CONNECT);
	iw = find_msg(m, n, c, SS_FD_WRITE);
	ASSERT_GE(ic, 0);
	ASSERT_GE(iw, 0);
	EXPECT_LT(ic, iw);	/* FD_CONNECT before FD_WRITE */
	EXPECT_EQ(0, m[ic].error);
	EXPECT_EQ(20, m[ic].msg);
	EXPECT_EQ(0, m[iw].error);
	ASSERT_LE(0, find_msg(m, n, l, SS_FD_ACCEPT));
	EXPECT_EQ(10, m[find_msg(m, n, l, SS_FD_ACCEPT)].msg);
	EXPECT_EQ(0, m[find_msg(m, n, l, SS_FD_ACCEPT)].error);

	a = accept(l, NULL, NULL);
	ASSERT_GE(a, 0);
	/* listener selected FD_ACCEPT only: the accepted socket inherits it */
	EXPECT_TRUE(silent_for(q, 100));

	/* FD_READ */
	ASSERT_EQ(5, send(a, "hello", 5, 0));
	ASSERT_EQ(1, collect(q, m, 16, 1, WAIT_MS));
	EXPECT_EQ(c, m[0].socket);
	EXPECT_EQ(SS_FD_READ, m[0].event);
	EXPECT_EQ(0, m[0].error);
	ASSERT_EQ(5, recv(c, buf, sizeof(buf), 0));

	/*
	 * data then FIN: FD_READ, and FD_CLOSE at once, the data unread
	 * (Windows: test_close_events)
	 */
	ASSERT_EQ(3, send(a, "bye", 3, 0));
	ASSERT_EQ(0, close(a));
	ASSERT_EQ(2, collect(q, m, 16, 2, WAIT_MS));
	EXPECT_EQ(SS_FD_READ, m[0].event);
	EXPECT_EQ(c, m[1].socket);
	EXPECT_EQ(SS_FD_CLOSE, m[1].event);
	EXPECT_EQ(0, m[1].error);
	ASSERT_EQ(3, recv(c, buf, sizeof(buf), 0));
	EXPECT_EQ(0, recv(c, buf, sizeof(buf), 0));
	EXPECT_TRUE(silent_for(q, 100));	/* FD_CLOSE once */
	close(c);
	close(l);
	close(q);
}

TEST(tcp_message_close_reset)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct ss_message m[8];
	int sv[2], q;

	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, sv));
	q = ss_queue_create(O_NONBLOCK);
	ASSERT_GE(q, 0);
	ASSERT_EQ(0, ss_async_select(sv[0], q, 4, SS_FD_READ | SS_FD_CLOSE));
	EXPECT_TRUE(silent_for(q, 50));
	ASSERT_EQ(0, setsockopt(sv[1], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
	ASSERT_EQ(0, close(sv[1]));
	ASSERT_EQ(1, collect(q, m, 8, 1, WAIT_MS));
	EXPECT_EQ(sv[0], m[0].socket);
	EXPECT_EQ(4, m[0].msg);
	EXPECT_EQ(SS_FD_CLOSE, m[0].event);
	EXPECT_EQ(ECONNRESET, m[0].error);
	EXPECT_TRUE(silent_for(q, 100));
	close(sv[0]);
	close(q);
}

TEST(tcp_message_reset_after_data)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct ss_message m[8];
	char buf[16];
	int sv[2], q;

	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, sv));
	q = ss_queue_create(O_NONBLOCK);
	ASSERT_GE(q, 0);
	ASSERT_EQ(0, ss_async_select(sv[0], q, 4, SS_FD_READ | SS_FD_CLOSE));
	ASSERT_EQ(0, setsockopt(sv[1], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
	ASSERT_EQ(3, send(sv[1], "abc", 3, 0));
	ASSERT_EQ(1, collect(q, m, 8, 1, WAIT_MS));
	EXPECT_EQ(SS_FD_READ, m[0].event);
	ASSERT_EQ(0, close(sv[1]));
	/* FD_CLOSE at once, the data unread (Windows: test_close_events) */
	ASSERT_EQ(1, collect(q, m, 8, 1, WAIT_MS));
	EXPECT_EQ(SS_FD_CLOSE, m[0].event);
	EXPECT_EQ(ECONNRESET, m[0].error);
	ASSERT_EQ(3, recv(sv[0], buf, sizeof(buf), 0));
	EXPECT_TRUE(silent_for(q, 150));
	close(sv[0]);
	close(q);
}

TEST(tcp_message_connect_refused)
{
	struct ss_message m[8];
	struct sockaddr_in addr;
	socklen_t len;
	int l, c, q, n, ret, err;

	/* a port nobody listens on */
	l = loopback_listener(&addr, &len);
	ASSERT_GE(l, 0);
	close(l);

	q = ss_queue_create(O_NONBLOCK);
	ASSERT_GE(q, 0);
	c = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_GE(c, 0);
	ASSERT_EQ(0, ss_async_select(c, q, 6, SS_FD_CONNECT | ALL_TCP));
	ret = connect(c, (void *)&addr, len);
	err = errno;
	ASSERT_EQ(-1, ret);
	if (err == EINPROGRESS) {
		ASSERT_EQ(1, collect(q, m, 8, 1, WAIT_MS));
		EXPECT_EQ(c, m[0].socket);
		EXPECT_EQ(SS_FD_CONNECT, m[0].event);
		EXPECT_EQ(ECONNREFUSED, m[0].error);
	} else {
		/* refused synchronously: any message must say so too */
		ASSERT_EQ(ECONNREFUSED, err);
		n = collect(q, m, 8, 1, 100);
		if (n == 1) {
			EXPECT_EQ(SS_FD_CONNECT, m[0].event);
			EXPECT_EQ(ECONNREFUSED, m[0].error);
		}
	}
	/* no FD_WRITE, no FD_CLOSE for a connection that never was */
	n = collect(q, m, 8, 8, 150);
	EXPECT_EQ(0, n);
	close(c);
	close(q);
}

/* --- Accept inheritance in message mode --- */

TEST(accept_inherits_queue_registration)
{
	struct ss_message m[16];
	struct sockaddr_in addr;
	socklen_t len;
	int l, c, a, q, n;

	q = ss_queue_create(O_NONBLOCK);
	ASSERT_GE(q, 0);
	l = loopback_listener(&addr, &len);
	ASSERT_GE(l, 0);
	ASSERT_EQ(0, ss_async_select(l, q, 77, SS_FD_ACCEPT | ALL_TCP));
	c = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_GE(c, 0);
	ASSERT_EQ(0, connect(c, (void *)&addr, len));
	ASSERT_EQ(1, collect(q, m, 16, 1, WAIT_MS));
	EXPECT_EQ(l, m[0].socket);
	EXPECT_EQ(SS_FD_ACCEPT, m[0].event);
	EXPECT_EQ(77, m[0].msg);

	a = accept(l, NULL, NULL);
	ASSERT_GE(a, 0);
	n = collect(q, m, 16, 1, WAIT_MS);
	ASSERT_EQ(1, n);
	EXPECT_EQ(a, m[0].socket);
	EXPECT_EQ(SS_FD_WRITE, m[0].event);
	EXPECT_EQ(77, m[0].msg);
	EXPECT_EQ(0, m[0].error);
	EXPECT_EQ(ino_of(a), m[0].socket_ino);
	EXPECT_NE(ino_of(l), m[0].socket_ino);
	/* the inherited registration makes the accepted socket non-blocking */
	EXPECT_NE(0, fcntl(a, F_GETFL) & O_NONBLOCK);

	ASSERT_EQ(2, send(c, "hi", 2, 0));
	ASSERT_EQ(1, collect(q, m, 16, 1, WAIT_MS));
	EXPECT_EQ(a, m[0].socket);
	EXPECT_EQ(SS_FD_READ, m[0].event);
	EXPECT_EQ(77, m[0].msg);
	EXPECT_EQ(ino_of(a), m[0].socket_ino);

	close(c);
	ASSERT_EQ(2, drain(a));
	ASSERT_EQ(1, collect(q, m, 16, 1, WAIT_MS));
	EXPECT_EQ(a, m[0].socket);
	EXPECT_EQ(SS_FD_CLOSE, m[0].event);
	close(a);
	close(l);
	close(q);
}

/* --- Re-posting on a new registration --- */

TEST(reselect_reposts_conditions)
{
	struct ss_message m[8];
	int sv[2], q, n;

	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, sv));
	q = ss_queue_create(O_NONBLOCK);
	ASSERT_GE(q, 0);
	ASSERT_EQ(0, ss_async_select(sv[0], q, 1, SS_FD_READ | SS_FD_WRITE));
	ASSERT_EQ(1, collect(q, m, 8, 1, WAIT_MS));
	EXPECT_EQ(SS_FD_WRITE, m[0].event);
	EXPECT_TRUE(silent_for(q, 50));

	/* writable: FD_WRITE posted again, with the new msg */
	ASSERT_EQ(0, ss_async_select(sv[0], q, 2, SS_FD_READ | SS_FD_WRITE));
	ASSERT_EQ(1, collect(q, m, 8, 1, WAIT_MS));
	EXPECT_EQ(SS_FD_WRITE, m[0].event);
	EXPECT_EQ(2, m[0].msg);
	EXPECT_TRUE(silent_for(q, 50));

	/* readable and unread: FD_READ (and FD_WRITE) posted again */
	ASSERT_EQ(3, send(sv[1], "abc", 3, 0));
	ASSERT_EQ(1, collect(q, m, 8, 1, WAIT_MS));
	EXPECT_EQ(SS_FD_READ, m[0].event);
	EXPECT_TRUE(silent_for(q, 50));
	ASSERT_EQ(0, ss_async_select(sv[0], q, 3, SS_FD_READ | SS_FD_WRITE));
	n = collect(q, m, 8, 2, WAIT_MS);
	ASSERT_EQ(2, n);
	ASSERT_LE(0, find_msg(m, n, sv[0], SS_FD_READ));
	ASSERT_LE(0, find_msg(m, n, sv[0], SS_FD_WRITE));
	EXPECT_EQ(3, m[0].msg);
	EXPECT_EQ(3, m[1].msg);

	/* only what is selected is re-posted: the one, and nothing after it */
	ASSERT_EQ(0, ss_async_select(sv[0], q, 4, SS_FD_READ));
	ASSERT_EQ(1, collect_until(q, m, 8, sv[0], SS_FD_READ, WAIT_MS, 300));
	EXPECT_EQ(SS_FD_READ, m[0].event);
	EXPECT_EQ(4, m[0].msg);
	close(sv[0]);
	close(sv[1]);
	close(q);
}

/* --- Closing the queue fd --- */

TEST(queue_close_cancels_registrations)
{
	struct ss_message m[8];
	int sv[2], q1, q2, n, i;
	int extra[16][2];

	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, sv));
	q1 = ss_queue_create(O_NONBLOCK);
	ASSERT_GE(q1, 0);
	ASSERT_EQ(0, ss_async_select(sv[0], q1, 1, ALL_TCP));
	/* more registrations on the same queue, with messages waiting */
	for (i = 0; i < 16; i++) {
		ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, extra[i]));
		ASSERT_EQ(0, ss_async_select(extra[i][0], q1, 100 + i, ALL_TCP));
	}
	ASSERT_TRUE(readable_within(q1, WAIT_MS));
	ASSERT_EQ(3, send(sv[1], "abc", 3, 0));
	/* arrived: its FD_READ was posted as it came */
	ASSERT_TRUE(inq_at_least(sv[0], 3, WAIT_MS));
	ASSERT_EQ(0, close(q1));

	/* events after the queue is gone: nowhere to go, no harm */
	ASSERT_EQ(3, send(sv[1], "def", 3, 0));
	for (i = 0; i < 8; i++)
		ASSERT_EQ(1, send(extra[i][1], "z", 1, 0));
	for (i = 8; i < 16; i++)
		close(extra[i][0]);

	/* a new queue (likely the same number) holds none of the old messages */
	q2 = ss_queue_create(O_NONBLOCK);
	ASSERT_GE(q2, 0);
	EXPECT_EQ(-1, ss_queue_read(q2, m, 8));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_TRUE(silent_for(q2, 100));

	/* re-registering on the new queue works and re-posts */
	ASSERT_EQ(0, ss_async_select(sv[0], q2, 2, ALL_TCP));
	n = collect(q2, m, 8, 2, WAIT_MS);
	ASSERT_EQ(2, n);
	ASSERT_LE(0, find_msg(m, n, sv[0], SS_FD_WRITE));
	ASSERT_LE(0, find_msg(m, n, sv[0], SS_FD_READ));
	EXPECT_EQ(2, m[0].msg);
	EXPECT_EQ(2, m[1].msg);
	EXPECT_TRUE(silent_for(q2, 100));
	ASSERT_TRUE(inq_at_least(sv[0], 6, WAIT_MS));
	ASSERT_EQ(6, drain(sv[0]));
	close(sv[1]);
	ASSERT_EQ(1, collect(q2, m, 8, 1, WAIT_MS));
	EXPECT_EQ(SS_FD_CLOSE, m[0].event);
	EXPECT_EQ(sv[0], m[0].socket);

	/* the sockets of the closed queue stay usable */
	for (i = 0; i < 8; i++) {
		EXPECT_TRUE(inq_at_least(extra[i][0], 1, WAIT_MS));
		EXPECT_EQ(1, drain(extra[i][0]));
		EXPECT_TRUE(transfer_ok(extra[i][1], extra[i][0], "ok"));
		close(extra[i][0]);
	}
	for (i = 0; i < 16; i++)
		close(extra[i][1]);
	close(sv[0]);
	close(q2);
}

/* --- Switching modes --- */

TEST(switch_queue_to_eventfd_and_back)
{
	struct ss_network_events ne;
	struct ss_message m[8];
	char buf[8];
	int sv[2], q, efd, n;

	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, sv));
	q = ss_queue_create(O_NONBLOCK);
	ASSERT_GE(q, 0);
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_GE(efd, 0);

	ASSERT_EQ(0, ss_async_select(sv[0], q, 1, ALL_TCP));
	ASSERT_TRUE(readable_within(q, WAIT_MS));	/* FD_WRITE waits */
	ASSERT_EQ(2, send(sv[1], "ab", 2, 0));
	ASSERT_TRUE(readable_within(sv[0], WAIT_MS));	/* FD_READ waits too */

	/*
	 * To eventfd: the waiting messages leave the queue, and their events,
	 * never read, are reported through the eventfd instead.
	 */
	ASSERT_EQ(0, ss_event_select(sv[0], efd, ALL_TCP));
	EXPECT_EQ(-1, ss_queue_read(q, m, 8));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_TRUE(signalled(efd, WAIT_MS));
	EXPECT_EQ(SS_FD_WRITE | SS_FD_READ, fetch(sv[0], efd, &ne));
	/* a partial recv re-enables FD_READ: eventfd, not the queue */
	ASSERT_EQ(1, recv(sv[0], buf, 1, 0));
	EXPECT_TRUE(signalled(efd, WAIT_MS));
	EXPECT_EQ(SS_FD_READ, fetch(sv[0], efd, &ne));
	ASSERT_EQ(1, recv(sv[0], buf, 1, 0));
	ASSERT_EQ(1, send(sv[1], "c", 1, 0));
	EXPECT_TRUE(signalled(efd, WAIT_MS));
	EXPECT_EQ(SS_FD_READ, fetch(sv[0], efd, &ne));
	EXPECT_TRUE(silent_for(q, 200));

	/* back to the queue: re-posted there, eventfd silent from now on */
	ASSERT_EQ(0, ss_async_select(sv[0], q, 2, ALL_TCP));
	n = collect(q, m, 8, 2, WAIT_MS);
	ASSERT_EQ(2, n);
	EXPECT_LE(0, find_msg(m, n, sv[0], SS_FD_WRITE));
	EXPECT_LE(0, find_msg(m, n, sv[0], SS_FD_READ));
	EXPECT_EQ(2, m[0].msg);
	ASSERT_EQ(1, recv(sv[0], buf, sizeof(buf), 0));
	ASSERT_EQ(2, send(sv[1], "de", 2, 0));
	ASSERT_EQ(1, collect(q, m, 8, 1, WAIT_MS));
	EXPECT_EQ(SS_FD_READ, m[0].event);
	ASSERT_EQ(2, recv(sv[0], buf, sizeof(buf), 0));
	close(sv[1]);
	ASSERT_EQ(1, collect(q, m, 8, 1, WAIT_MS));
	EXPECT_EQ(SS_FD_CLOSE, m[0].event);
	EXPECT_TRUE(silent_for(efd, 200));

	/* and once more to eventfd, with a message waiting in the queue */
	ASSERT_EQ(0, ss_async_select(sv[0], q, 3, SS_FD_WRITE));
	ASSERT_TRUE(readable_within(q, WAIT_MS));
	ASSERT_EQ(0, ss_event_select(sv[0], efd, SS_FD_WRITE));
	EXPECT_FALSE(readable_within(q, 0));
	EXPECT_EQ(-1, ss_queue_read(q, m, 8));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_TRUE(signalled(efd, WAIT_MS));
	EXPECT_EQ(SS_FD_WRITE, fetch(sv[0], efd, &ne));
	close(sv[0]);
	close(efd);
	close(q);
}

/* --- Cross-process replacement --- */

enum sink_kind { SINK_EVENTFD, SINK_QUEUE };

static int make_sink(enum sink_kind kind)
{
	return kind == SINK_QUEUE ? ss_queue_create(O_NONBLOCK) :
				    eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

static int do_select(enum sink_kind kind, int sock, int sink, unsigned int msg,
		     long mask)
{
	return kind == SINK_QUEUE ? ss_async_select(sock, sink, msg, mask) :
				    ss_event_select(sock, sink, mask);
}

/* Child: redeem, register with its own sink, expect FD_READ there. */
static int cross_child(int info_rd, int ready_wr, enum sink_kind kind)
{
	struct ss_protocol_info info;
	struct ss_network_events ne;
	struct ss_message m[4];
	int fd, sink;

	if (recv_info(info_rd, &info))
		return 10;
	fd = ss_socket_from_info(&info, 0);
	if (fd < 0)
		return 11;
	sink = make_sink(kind);
	if (sink < 0)
		return 12;
	if (do_select(kind, fd, sink, 99, SS_FD_READ | SS_FD_CLOSE))
		return 13;
	if (write(ready_wr, "r", 1) != 1)
		return 14;
	if (!readable_within(sink, WAIT_MS))
		return 15;
	if (kind == SINK_QUEUE) {
		if (ss_queue_read(sink, m, 4) != 1)
			return 16;
		if (m[0].socket != fd || m[0].event != SS_FD_READ ||
		    m[0].msg != 99 || m[0].socket_ino != ino_of(fd))
			return 17;
	} else {
		if (ss_enum_network_events(fd, sink, &ne))
			return 18;
		if (ne.network_events != SS_FD_READ)
			return 19;
	}
	return 0;
}

static void cross_process(struct __test_metadata *_metadata,
			  enum sink_kind parent_kind, enum sink_kind child_kind)
{
	struct ss_protocol_info info;
	int sv[2], psink, to_child[2], to_parent[2];
	char c;
	pid_t pid;

	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, sv));
	psink = make_sink(parent_kind);
	ASSERT_GE(psink, 0);
	/* a queue parent also selects FD_WRITE: a message left waiting */
	ASSERT_EQ(0, do_select(parent_kind, sv[0], psink, 1,
			       SS_FD_READ | SS_FD_CLOSE |
			       (parent_kind == SINK_QUEUE ? SS_FD_WRITE : 0)));
	ASSERT_TRUE(parent_kind == SINK_QUEUE ? readable_within(psink, WAIT_MS) :
						silent_for(psink, 50));
	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(to_parent));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		close(to_child[1]);
		close(to_parent[0]);
		close(psink);
		_exit(cross_child(to_child[0], to_parent[1], child_kind));
	}
	close(to_child[0]);
	close(to_parent[1]);
	ASSERT_EQ(0, ss_duplicate_socket(sv[0], pid, &info));
	ASSERT_EQ(0, send_info(to_child[1], &info));
	ASSERT_EQ(1, read(to_parent[0], &c, 1));	/* child registered */
	/* the parent's waiting message went with its registration */
	EXPECT_TRUE(silent_for(psink, 0));
	ASSERT_EQ(4, send(sv[1], "data", 4, 0));
	/* the parent's sink was replaced: it stays silent */
	EXPECT_TRUE(silent_for(psink, 300));
	EXPECT_EQ(0, wait_exit(pid));
	EXPECT_TRUE(silent_for(psink, 0));
	close(to_child[1]);
	close(to_parent[0]);
	close(sv[0]);
	close(sv[1]);
	close(psink);
}

TEST(cross_process_parent_eventfd_child_eventfd)
{
	cross_process(_metadata, SINK_EVENTFD, SINK_EVENTFD);
}

TEST(cross_process_parent_queue_child_eventfd)
{
	cross_process(_metadata, SINK_QUEUE, SINK_EVENTFD);
}

TEST(cross_process_parent_eventfd_child_queue)
{
	cross_process(_metadata, SINK_EVENTFD, SINK_QUEUE);
}

/* --- Last close with a registration active --- */

TEST(last_close_registered_eventfd_peer_eof)
{
	int sv[2], efd;

	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, sv));
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_GE(efd, 0);
	ASSERT_EQ(0, ss_event_select(sv[0], efd, ALL_TCP));
	ASSERT_TRUE(signalled(efd, WAIT_MS));
	ASSERT_EQ(0, close(sv[0]));
	EXPECT_TRUE(peer_eof_within(sv[1], WAIT_MS));
	close(sv[1]);
	close(efd);
}

TEST(last_close_registered_queue_peer_eof)
{
	struct ss_message m[8];
	int sv[2], q;

	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, sv));
	q = ss_queue_create(O_NONBLOCK);
	ASSERT_GE(q, 0);
	ASSERT_EQ(0, ss_async_select(sv[0], q, 1, ALL_TCP));
	ASSERT_TRUE(readable_within(q, WAIT_MS));	/* a message still waits */
	ASSERT_EQ(0, close(sv[0]));
	EXPECT_TRUE(peer_eof_within(sv[1], WAIT_MS));
	/* reading the queue after the socket is gone must be harmless */
	ss_queue_read(q, m, 8);
	close(sv[1]);
	close(q);
}

TEST(close_dup_keeps_registration)
{
	struct ss_network_events ne;
	struct ss_message m[8];
	int sv[2], efd, q, d;

	/* eventfd mode */
	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, sv));
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_GE(efd, 0);
	d = dup(sv[0]);
	ASSERT_GE(d, 0);
	ASSERT_EQ(0, ss_event_select(sv[0], efd, ALL_TCP));
	ASSERT_TRUE(signalled(efd, WAIT_MS));
	EXPECT_EQ(SS_FD_WRITE, fetch(d, efd, &ne));
	ASSERT_EQ(0, close(sv[0]));
	EXPECT_TRUE(peer_open_for(sv[1], 100));
	ASSERT_EQ(1, send(sv[1], "x", 1, 0));
	EXPECT_TRUE(signalled(efd, WAIT_MS));
	EXPECT_EQ(SS_FD_READ, fetch(d, efd, &ne));
	close(d);
	EXPECT_TRUE(peer_eof_within(sv[1], WAIT_MS));
	close(sv[1]);
	close(efd);

	/* queue mode */
	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, sv));
	q = ss_queue_create(O_NONBLOCK);
	ASSERT_GE(q, 0);
	d = dup(sv[0]);
	ASSERT_GE(d, 0);
	ASSERT_EQ(0, ss_async_select(sv[0], q, 5, ALL_TCP));
	ASSERT_EQ(1, collect(q, m, 8, 1, WAIT_MS));
	EXPECT_EQ(SS_FD_WRITE, m[0].event);
	ASSERT_EQ(0, close(sv[0]));
	EXPECT_TRUE(peer_open_for(sv[1], 100));
	ASSERT_EQ(1, send(sv[1], "x", 1, 0));
	ASSERT_EQ(1, collect(q, m, 8, 1, WAIT_MS));
	EXPECT_EQ(SS_FD_READ, m[0].event);
	EXPECT_EQ(5, m[0].msg);
	EXPECT_EQ(ino_of(d), m[0].socket_ino);
	close(d);
	EXPECT_TRUE(peer_eof_within(sv[1], WAIT_MS));
	close(sv[1]);
	close(q);
}

/* --- Registration racing close --- */

struct race {
	atomic_int sock;
	atomic_int queue;
	atomic_int stop;
	int efd;
};

struct race_stats {
	struct race *r;
	long ops, ok, bad, bad_errno, bad_op;
};

static bool benign(int err)
{
	return err == EBADF || err == ENOTSOCK || err == EINVAL;
}

static void *race_registrar(void *p)
{
	struct race_stats *st = p;
	struct race *r = st->r;
	struct ss_network_events ne;

	while (!atomic_load(&r->stop)) {
		int fd = atomic_load(&r->sock);
		int q = atomic_load(&r->queue);
		int op, ret;

		for (op = 0; op < 5; op++) {
			switch (op) {
			case 0:
				ret = ss_event_select(fd, r->efd, SS_FD_ALL_EVENTS);
				break;
			case 1:
				ret = ss_enum_network_events(fd, r->efd, &ne);
				break;
			case 2:
				ret = ss_async_select(fd, q, 1, SS_FD_ALL_EVENTS);
				break;
			case 3:
				ret = ss_enum_network_events(fd, -1, &ne);
				break;
			default:
				ret = ss_event_select(fd, -1, 0);
				break;
			}
			st->ops++;
			if (ret == 0) {
				st->ok++;
			} else if (!benign(errno)) {
				st->bad++;
				st->bad_errno = errno;
				st->bad_op = op;
			}
		}
	}
	return NULL;
}

/*
 * Reads the current queue through a descriptor of its own: the shared number
 * may be reused meanwhile by a blocking socket, and a read blocked there
 * would never end.
 */
static void *race_reader(void *p)
{
	struct race *r = p;
	struct ss_message m[16];
	char path[32], link[64];
	ssize_t n;
	int q;

	while (!atomic_load(&r->stop)) {
		q = dup(atomic_load(&r->queue));
		if (q < 0)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", q);
		n = readlink(path, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = '\0';
			if (strstr(link, "sharedsock-queue"))
				ss_queue_read(q, m, 16);
		}
		close(q);
	}
	return NULL;
}

static void spin_us(int us)
{
	long end, t;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	end = ts.tv_sec * 1000000L + ts.tv_nsec / 1000 + us;
	do {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		t = ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
	} while (t < end);
}

TEST(registration_races_close)
{
	struct race r = { .sock = -1, .queue = -1 };
	struct race_stats st[2] = { { .r = &r }, { .r = &r } };
	pthread_t t[3];
	int i, iters = 0, sv[2];
	long deadline;

	r.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_GE(r.efd, 0);
	atomic_store(&r.queue, ss_queue_create(O_NONBLOCK));
	ASSERT_GE(atomic_load(&r.queue), 0);
	ASSERT_EQ(0, pthread_create(&t[0], NULL, race_registrar, &st[0]));
	ASSERT_EQ(0, pthread_create(&t[1], NULL, race_registrar, &st[1]));
	ASSERT_EQ(0, pthread_create(&t[2], NULL, race_reader, &r));

	deadline = now_ms() + 8000;
	/* Slow kernels (KASAN) get past the deadline until 100 iterations. */
	for (i = 0; i < 3000 && (now_ms() < deadline || iters < 100);
	     i++, iters++) {
		int kind = i % 4, q;

		if (kind == 0) {
			/* a connected TCP pair: FD_WRITE and data in play */
			if (socket_pair(AF_INET, SOCK_STREAM, sv))
				continue;
			atomic_store(&r.sock, sv[0]);
			send(sv[1], "x", 1, MSG_DONTWAIT);
			spin_us(20);
			close(sv[0]);	/* the number may be reused next */
			close(sv[1]);
		} else if (kind == 1) {
			if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
				continue;
			atomic_store(&r.sock, sv[1]);
			spin_us(20);
			close(sv[1]);
			close(sv[0]);
		} else if (kind == 2) {
			sv[0] = socket(AF_INET, SOCK_DGRAM, 0);
			atomic_store(&r.sock, sv[0]);
			spin_us(20);
			close(sv[0]);
		} else {
			/* replace the queue under the registrar */
			q = ss_queue_create(O_NONBLOCK);
			sv[0] = socket(AF_INET, SOCK_STREAM, 0);
			atomic_store(&r.sock, sv[0]);
			spin_us(10);
			close(atomic_exchange(&r.queue, q));
			spin_us(10);
			close(sv[0]);
		}
	}
	atomic_store(&r.stop, 1);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	pthread_join(t[2], NULL);
	close(atomic_load(&r.queue));
	close(r.efd);
	TH_LOG("%d close iterations, %ld calls, %ld succeeded", iters,
	       st[0].ops + st[1].ops, st[0].ok + st[1].ok);
	EXPECT_GE(iters, 100);
	EXPECT_EQ(0, st[0].bad) TH_LOG("op %ld failed with errno %ld (%s)",
				       st[0].bad_op, st[0].bad_errno,
				       strerror((int)st[0].bad_errno));
	EXPECT_EQ(0, st[1].bad) TH_LOG("op %ld failed with errno %ld (%s)",
				       st[1].bad_op, st[1].bad_errno,
				       strerror((int)st[1].bad_errno));
	EXPECT_GT(st[0].ok + st[1].ok, 0);
	/* the module still works */
	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, sv));
	r.efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_EQ(0, ss_event_select(sv[0], r.efd, ALL_TCP));
	EXPECT_TRUE(signalled(r.efd, WAIT_MS));
	close(sv[0]);
	EXPECT_TRUE(peer_eof_within(sv[1], WAIT_MS));
	close(sv[1]);
	close(r.efd);
}

/* --- io_uring as the re-enabling call --- */

TEST(io_uring_recv_reenables_read)
{
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	struct ss_message m[4];
	char buf[64];
	int sv[2], q, res;

	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, sv));
	q = ss_queue_create(O_NONBLOCK);
	ASSERT_GE(q, 0);
	ASSERT_EQ(0, io_uring_queue_init(8, &ring, 0));
	ASSERT_EQ(0, ss_async_select(sv[0], q, 8, SS_FD_READ));
	ASSERT_EQ(1, send(sv[1], "a", 1, 0));
	ASSERT_EQ(1, collect(q, m, 4, 1, WAIT_MS));
	EXPECT_EQ(SS_FD_READ, m[0].event);
	/* not re-enabled yet: more data posts nothing */
	ASSERT_EQ(1, send(sv[1], "b", 1, 0));
	EXPECT_TRUE(silent_for(q, 150));
	/* both bytes are there for the recv */
	ASSERT_TRUE(inq_at_least(sv[0], 2, WAIT_MS));

	sqe = io_uring_get_sqe(&ring);
	ASSERT_NE(NULL, sqe);
	io_uring_prep_recv(sqe, sv[0], buf, sizeof(buf), 0);
	ASSERT_EQ(1, io_uring_submit(&ring));
	ASSERT_EQ(0, wait_cqe_ms(&ring, WAIT_MS, &res, NULL));
	ASSERT_EQ(2, res);
	/* drained: nothing to report yet */
	EXPECT_TRUE(silent_for(q, 100));
	/* re-enabled: the next data posts FD_READ again */
	ASSERT_EQ(1, send(sv[1], "c", 1, 0));
	ASSERT_EQ(1, collect(q, m, 4, 1, WAIT_MS));
	EXPECT_EQ(sv[0], m[0].socket);
	EXPECT_EQ(SS_FD_READ, m[0].event);

	/* a partial io_uring recv re-posts at once (level) */
	ASSERT_EQ(2, send(sv[1], "de", 2, 0));
	sqe = io_uring_get_sqe(&ring);
	ASSERT_NE(NULL, sqe);
	io_uring_prep_recv(sqe, sv[0], buf, 1, 0);
	ASSERT_EQ(1, io_uring_submit(&ring));
	ASSERT_EQ(0, wait_cqe_ms(&ring, WAIT_MS, &res, NULL));
	ASSERT_EQ(1, res);
	ASSERT_EQ(1, collect(q, m, 4, 1, WAIT_MS));
	EXPECT_EQ(SS_FD_READ, m[0].event);
	io_uring_queue_exit(&ring);
	close(sv[0]);
	close(sv[1]);
	close(q);
}

TEST(io_uring_accept_inherits)
{
	struct ss_network_events ne;
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	struct sockaddr_in addr;
	socklen_t len;
	int l, c, a, efd, res;

	ASSERT_EQ(0, io_uring_queue_init(8, &ring, 0));
	l = loopback_listener(&addr, &len);
	ASSERT_GE(l, 0);
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_GE(efd, 0);
	ASSERT_EQ(0, ss_event_select(l, efd, SS_FD_ACCEPT | ALL_TCP));
	EXPECT_TRUE(silent_for(efd, 50));
	c = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_GE(c, 0);
	ASSERT_EQ(0, connect(c, (void *)&addr, len));
	ASSERT_TRUE(signalled(efd, WAIT_MS));
	EXPECT_EQ(SS_FD_ACCEPT, fetch(l, efd, &ne));

	sqe = io_uring_get_sqe(&ring);
	ASSERT_NE(NULL, sqe);
	io_uring_prep_accept(sqe, l, NULL, NULL, 0);
	ASSERT_EQ(1, io_uring_submit(&ring));
	ASSERT_EQ(0, wait_cqe_ms(&ring, WAIT_MS, &res, NULL));
	ASSERT_GE(res, 0);
	a = res;
	/* inherited: FD_WRITE on the accepted socket, same eventfd */
	ASSERT_TRUE(signalled(efd, WAIT_MS));
	EXPECT_EQ(SS_FD_WRITE, fetch(a, efd, &ne));
	EXPECT_EQ(0, ne.error_code[SS_FD_WRITE_BIT]);
	EXPECT_EQ(0, fetch(l, efd, &ne));
	ASSERT_EQ(2, send(c, "hi", 2, 0));
	ASSERT_TRUE(signalled(efd, WAIT_MS));
	EXPECT_EQ(SS_FD_READ, fetch(a, efd, &ne));
	/* the io_uring accept re-enabled FD_ACCEPT on the listener */
	close(c);
	c = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_GE(c, 0);
	ASSERT_EQ(0, connect(c, (void *)&addr, len));
	ASSERT_TRUE(signalled(efd, WAIT_MS));
	EXPECT_EQ(SS_FD_ACCEPT, fetch(l, efd, &ne));

	io_uring_queue_exit(&ring);
	close(a);
	close(c);
	close(l);
	close(efd);
}

TEST(io_uring_accept_inherits_queue)
{
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	struct ss_message m[8];
	struct sockaddr_in addr;
	socklen_t len;
	int l, c, a, q, res, n, i;

	ASSERT_EQ(0, io_uring_queue_init(8, &ring, 0));
	l = loopback_listener(&addr, &len);
	ASSERT_GE(l, 0);
	q = ss_queue_create(O_NONBLOCK);
	ASSERT_GE(q, 0);
	ASSERT_EQ(0, ss_async_select(l, q, 31, SS_FD_ACCEPT | ALL_TCP));

	/* queued before any connection: completes from a wake-up */
	sqe = io_uring_get_sqe(&ring);
	ASSERT_NE(NULL, sqe);
	io_uring_prep_accept(sqe, l, NULL, NULL, 0);
	ASSERT_EQ(1, io_uring_submit(&ring));
	c = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_GE(c, 0);
	ASSERT_EQ(0, connect(c, (void *)&addr, len));
	ASSERT_EQ(0, wait_cqe_ms(&ring, WAIT_MS, &res, NULL));
	ASSERT_GE(res, 0);
	a = res;
	n = collect_until(q, m, 8, a, SS_FD_WRITE, WAIT_MS, 300);
	ASSERT_LE(1, n);
	i = find_msg(m, n, a, SS_FD_WRITE);
	ASSERT_LE(0, i)
		TH_LOG("first message: socket %d (accepted %d, listener %d) event %ld",
		       m[0].socket, a, l, m[0].event);
	EXPECT_EQ(31, m[i].msg);
	EXPECT_EQ(ino_of(a), m[i].socket_ino);
	ASSERT_EQ(2, send(c, "hi", 2, 0));
	ASSERT_EQ(1, collect(q, m, 8, 1, WAIT_MS));
	EXPECT_EQ(a, m[0].socket);
	EXPECT_EQ(SS_FD_READ, m[0].event);

	io_uring_queue_exit(&ring);
	close(a);
	close(c);
	close(l);
	close(q);
}

/* --- Module unload (keep last) --- */

static bool module_loaded(void)
{
	return access("/sys/module/sharedsock", F_OK) == 0;
}

/*
 * A fresh child that holds no library-cached device descriptor: registers
 * with raw ioctls, closes the device, then tries to unload.
 */
static int unload_child(void)
{
	struct sharedsock_select sel = { .size = sizeof(sel) };
	int dev, sv[2], efd, i;

	for (i = 0; i < WAIT_MS / 10 && module_refcnt() != 0; i++)
		usleep(10000);	/* leftovers of earlier tests (io_uring) */
	if (module_refcnt() != 0)
		return 20;
	dev = dev_open();
	if (dev < 0)
		return 21;
	if (socket_pair(AF_INET, SOCK_STREAM, sv))
		return 22;
	efd = eventfd(0, EFD_CLOEXEC);
	if (efd < 0)
		return 23;
	sel.fd = sv[0];
	sel.sink = SHAREDSOCK_SINK_EVENTFD;
	sel.sink_fd = efd;
	sel.events = SHAREDSOCK_FD_READ | SHAREDSOCK_FD_WRITE |
		     SHAREDSOCK_FD_CLOSE;
	if (ioctl(dev, SHAREDSOCK_IOC_SELECT, &sel))
		return 24;
	close(dev);
	if (module_refcnt() <= 0)
		return 25;
	if (syscall(SYS_delete_module, "sharedsock", O_NONBLOCK) == 0)
		return 26;	/* unloaded under a live registration */
	if (errno != EWOULDBLOCK && errno != EBUSY)
		return 27;
	if (!module_loaded() || access(SHAREDSOCK_DEVICE_PATH, F_OK))
		return 28;
	/* the registration still works */
	if (!signalled(efd, WAIT_MS))
		return 29;
	close(sv[0]);
	/*
	 * The registration went with the last close; the TCP socket itself,
	 * which carries the sharedsock ULP, holds the module until it is
	 * destroyed, a moment later (its FIN is acknowledged first).
	 */
	if (module_refcnt_back_to(0, WAIT_MS) != 0 ||
	    syscall(SYS_delete_module, "sharedsock", O_NONBLOCK))
		return 30;
	close(sv[1]);
	close(efd);
	return 0;
}

TEST(module_unload_refused_while_registered)
{
	const char *ko = getenv("SHAREDSOCK_KO");
	int status, fd, i;
	pid_t pid;

	if (!ko || !*ko)
		SKIP(return, "SHAREDSOCK_KO is not set");
	if (geteuid() != 0)
		SKIP(return, "needs root");
	ASSERT_TRUE(module_loaded());

	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0)
		_exit(unload_child());
	status = wait_exit(pid);
	EXPECT_EQ(0, status) TH_LOG("refcnt now %ld", module_refcnt());

	/* reload whatever happened, so the suite leaves the module loaded */
	if (!module_loaded()) {
		fd = open(ko, O_RDONLY | O_CLOEXEC);
		ASSERT_GE(fd, 0);
		ASSERT_EQ(0, syscall(SYS_finit_module, fd, "", 0))
			TH_LOG("finit_module: %s", strerror(errno));
		close(fd);
	}
	for (i = 0; i < WAIT_MS / 10 && access(SHAREDSOCK_DEVICE_PATH, F_OK); i++)
		usleep(10000);
	ASSERT_EQ(0, access(SHAREDSOCK_DEVICE_PATH, F_OK));
	fd = dev_open();
	ASSERT_GE(fd, 0);
	close(fd);
}

TEST_HARNESS_MAIN
