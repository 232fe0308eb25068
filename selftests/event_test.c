// SPDX-License-Identifier: GPL-2.0
/*
 * Event registration basics: WSAEventSelect semantics on TCP.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <liburing.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"
#include "kselftest_harness.h"

static bool signalled(int efd, int ms)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

static long fetch(int sock, int efd, struct ss_network_events *ne)
{
	memset(ne, 0x55, sizeof(*ne));
	if (ss_enum_network_events(sock, efd, ne))
		return -1;
	return ne->network_events;
}

TEST(connected_socket_reports_write_then_read)
{
	struct ss_network_events ne;
	int sv[2], efd;
	char buf[16];

	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, sv));
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_GE(efd, 0);
	ASSERT_EQ(0, ss_event_select(sv[0], efd, SS_FD_READ | SS_FD_WRITE | SS_FD_CLOSE));
	EXPECT_NE(0, fcntl(sv[0], F_GETFL) & O_NONBLOCK);
	ASSERT_TRUE(signalled(efd, WAIT_MS));
	EXPECT_EQ(SS_FD_WRITE, fetch(sv[0], efd, &ne));
	EXPECT_EQ(0, ne.error_code[SS_FD_WRITE_BIT]);
	EXPECT_EQ(0x55555555, ne.error_code[SS_FD_READ_BIT]);
	EXPECT_FALSE(signalled(efd, 0));

	ASSERT_EQ(5, send(sv[1], "hello", 5, 0));
	ASSERT_TRUE(signalled(efd, WAIT_MS));
	EXPECT_EQ(SS_FD_READ, fetch(sv[0], efd, &ne));
	/* not re-recorded until recv */
	ASSERT_EQ(5, send(sv[1], "again", 5, 0));
	EXPECT_FALSE(signalled(efd, 100));
	/* a partial recv re-enables and data remains: recorded at once */
	ASSERT_EQ(3, recv(sv[0], buf, 3, 0));
	ASSERT_TRUE(signalled(efd, WAIT_MS));
	EXPECT_EQ(SS_FD_READ, fetch(sv[0], efd, &ne));
	ASSERT_EQ(7, recv(sv[0], buf, sizeof(buf), 0));
	EXPECT_FALSE(signalled(efd, 100));
	EXPECT_EQ(0, fetch(sv[0], efd, &ne));

	close(sv[1]);
	ASSERT_TRUE(signalled(efd, WAIT_MS));
	EXPECT_EQ(SS_FD_CLOSE, fetch(sv[0], efd, &ne));
	EXPECT_EQ(0, ne.error_code[SS_FD_CLOSE_BIT]);
	close(sv[0]);
	close(efd);
}

/*
 * Connect a client to the registered listener @l and fetch, through @efd,
 * the FD_ACCEPT it raises.  Returns the client, or -1 if any step failed.
 */
static int client_accept_reported(int l, int efd, const struct sockaddr_in *addr,
				  socklen_t len)
{
	struct ss_network_events ne;
	int c = socket(AF_INET, SOCK_STREAM, 0);

	if (c < 0)
		return -1;
	if (connect(c, (const void *)addr, len) || !signalled(efd, WAIT_MS) ||
	    fetch(l, efd, &ne) != SS_FD_ACCEPT) {
		close(c);
		return -1;
	}
	return c;
}

TEST(accept_inherits_and_reports)
{
	struct sockaddr_in addr;
	socklen_t len;
	struct ss_network_events ne;
	int l, c, a, efd;

	l = loopback_listener(&addr, &len);
	ASSERT_GE(l, 0);
	efd = eventfd(0, 0);
	ASSERT_EQ(0, ss_event_select(l, efd, SS_FD_ACCEPT | SS_FD_READ | SS_FD_WRITE | SS_FD_CLOSE));
	EXPECT_FALSE(signalled(efd, 50));
	c = client_accept_reported(l, efd, &addr, len);
	ASSERT_LE(0, c);
	a = accept(l, NULL, NULL);
	ASSERT_GE(a, 0);
	/* the accepted socket inherited the registration: FD_WRITE */
	ASSERT_TRUE(signalled(efd, WAIT_MS));
	EXPECT_EQ(SS_FD_WRITE, fetch(a, efd, &ne));
	EXPECT_EQ(0, fetch(l, efd, &ne));
	ASSERT_EQ(2, send(c, "hi", 2, 0));
	ASSERT_TRUE(signalled(efd, WAIT_MS));
	EXPECT_EQ(SS_FD_READ, fetch(a, efd, &ne));
	close(c);
	close(a);
	close(l);
	close(efd);
}

TEST(queue_messages)
{
	struct ss_message m[8];
	int sv[2], q;
	ssize_t n;

	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, sv));
	q = ss_queue_create(O_CLOEXEC | O_NONBLOCK);
	ASSERT_GE(q, 0);
	ASSERT_EQ(0, ss_async_select(sv[0], q, 1234, SS_FD_READ | SS_FD_WRITE | SS_FD_CLOSE));
	n = ss_queue_read(q, m, 8);
	ASSERT_EQ(1, n);
	EXPECT_EQ(sv[0], m[0].socket);
	EXPECT_EQ(1234, m[0].msg);
	EXPECT_EQ(SS_FD_WRITE, m[0].event);
	ASSERT_EQ(3, send(sv[1], "abc", 3, 0));
	ASSERT_TRUE(signalled(q, WAIT_MS));
	n = ss_queue_read(q, m, 8);
	ASSERT_EQ(1, n);
	EXPECT_EQ(SS_FD_READ, m[0].event);
	EXPECT_EQ(-1, ss_queue_read(q, m, 8));
	EXPECT_EQ(EAGAIN, errno);
	close(sv[0]);
	close(sv[1]);
	close(q);
}

/* A registrant learns that a registration made elsewhere replaced its own. */
TEST(cancelled_registrant_learns_it)
{
	int sv[2], other, efd_a, efd_b, q;
	pid_t pid;

	ASSERT_EQ(0, socket_pair(AF_UNIX, SOCK_STREAM, sv));
	efd_a = eventfd(0, 0);
	efd_b = eventfd(0, 0);
	q = ss_queue_create(0);
	ASSERT_GE(q, 0);
	EXPECT_EQ(0, ss_registration_current(sv[0], efd_a));
	ASSERT_EQ(0, ss_event_select(sv[0], efd_a, SS_FD_READ));
	EXPECT_EQ(1, ss_registration_current(sv[0], efd_a));
	EXPECT_EQ(0, ss_registration_current(sv[0], efd_b));

	/* Another process registers through its own descriptor. */
	other = dup(sv[0]);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0)
		_exit(ss_event_select(other, efd_b, SS_FD_READ) ? 1 : 0);
	ASSERT_EQ(0, wait_exit(pid));
	EXPECT_EQ(0, ss_registration_current(sv[0], efd_a));
	EXPECT_EQ(1, ss_registration_current(other, efd_b));

	/* Queues too; and a cancelled registration is current for nobody. */
	ASSERT_EQ(0, ss_async_select(sv[0], q, 7, SS_FD_READ));
	EXPECT_EQ(1, ss_registration_current(sv[0], q));
	EXPECT_EQ(0, ss_registration_current(sv[0], efd_b));
	ASSERT_EQ(0, ss_event_select(sv[0], -1, 0));
	EXPECT_EQ(0, ss_registration_current(sv[0], q));
	/* Not an eventfd nor a queue. */
	EXPECT_EQ(-1, ss_registration_current(sv[0], sv[1]));
	EXPECT_EQ(EINVAL, errno);
	close(other);
	close(sv[0]);
	close(sv[1]);
	close(efd_a);
	close(efd_b);
	close(q);
}

struct listener_race {
	int listener;
	int efd;
	pthread_barrier_t go;
};

static void *register_listener(void *p)
{
	struct listener_race *r = p;

	pthread_barrier_wait(&r->go);
	ss_event_select(r->listener, r->efd, SS_FD_ACCEPT | SS_FD_READ);
	return NULL;
}

/*
 * A listener registered while accept() runs on it: accept() copied the
 * listener's ops (and took their module reference) before the registration
 * swapped them.  The module's reference count must come out even.
 */
TEST(register_listener_racing_accept)
{
	struct sockaddr_in addr;
	struct listener_race r;
	long before, after;
	int i, c, a;

	r.efd = eventfd(0, 0);
	ASSERT_GE(r.efd, 0);
	/* Opens the library's device descriptor now, to count in both readings. */
	EXPECT_EQ(-1, ss_event_select(r.efd, -1, 0));
	before = module_refcnt();
	ASSERT_GE(before, 0);
	for (i = 0; i < 300; i++) {
		socklen_t len;
		pthread_t t;

		r.listener = loopback_listener(&addr, &len);
		ASSERT_GE(r.listener, 0);
		c = socket(AF_INET, SOCK_STREAM, 0);
		ASSERT_EQ(0, connect(c, (void *)&addr, len));
		pthread_barrier_init(&r.go, NULL, 2);
		ASSERT_EQ(0, pthread_create(&t, NULL, register_listener, &r));
		pthread_barrier_wait(&r.go);
		/* The registration makes the listener non-blocking. */
		while ((a = accept(r.listener, NULL, NULL)) < 0 && errno == EAGAIN)
			signalled(r.listener, 1000);
		pthread_join(t, NULL);
		pthread_barrier_destroy(&r.go);
		ASSERT_GE(a, 0);
		close(a);
		close(c);
		close(r.listener);
	}
	close(r.efd);
	/*
	 * The registrations went with the closes; the TCP sockets, which
	 * carry the sharedsock ULP, hold the module until they are destroyed.
	 */
	after = module_refcnt_back_to(before, WAIT_MS);
	EXPECT_EQ(before, after);
}

/*
 * The io_uring recipe: a loop that runs on a ring waits for the eventfd
 * with IORING_OP_POLL_ADD (or reads it with IORING_OP_READ), fetches with
 * ss_enum_network_events, and reads with IORING_OP_RECV, which re-enables
 * FD_READ like recv(2).
 */
TEST(io_uring_event_loop)
{
	struct ss_network_events ne;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = { .tv_sec = WAIT_MS / 1000 };
	struct io_uring ring;
	char buf[4];
	int sv[2], efd, round;
	__u64 count;

	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, sv));
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_EQ(0, io_uring_queue_init(8, &ring, 0));
	ASSERT_EQ(0, ss_event_select(sv[0], efd, SS_FD_READ));
	ASSERT_EQ(8, send(sv[1], "abcdefgh", 8, 0));

	/* Two rounds: each reads 4 bytes through the ring, which re-enables
	 * FD_READ; data remains after the first, so it is recorded again.
	 */
	for (round = 0; round < 2; round++) {
		sqe = io_uring_get_sqe(&ring);
		io_uring_prep_poll_add(sqe, efd, POLLIN);
		ASSERT_EQ(1, io_uring_submit(&ring));
		ASSERT_EQ(0, io_uring_wait_cqe_timeout(&ring, &cqe, &ts));
		EXPECT_TRUE(cqe->res & POLLIN);
		io_uring_cqe_seen(&ring, cqe);
		EXPECT_EQ(SS_FD_READ, fetch(sv[0], efd, &ne));

		sqe = io_uring_get_sqe(&ring);
		io_uring_prep_recv(sqe, sv[0], buf, sizeof(buf), 0);
		ASSERT_EQ(1, io_uring_submit(&ring));
		ASSERT_EQ(0, io_uring_wait_cqe_timeout(&ring, &cqe, &ts));
		EXPECT_EQ(4, cqe->res);
		io_uring_cqe_seen(&ring, cqe);
	}
	/* Drained: nothing more is recorded. */
	EXPECT_FALSE(signalled(efd, 100));

	/* IORING_OP_READ on the eventfd completes when an event arrives. */
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read(sqe, efd, &count, sizeof(count), 0);
	ASSERT_EQ(1, io_uring_submit(&ring));
	ASSERT_EQ(1, send(sv[1], "z", 1, 0));
	ASSERT_EQ(0, io_uring_wait_cqe_timeout(&ring, &cqe, &ts));
	EXPECT_EQ(8, cqe->res);
	io_uring_cqe_seen(&ring, cqe);
	EXPECT_EQ(SS_FD_READ, fetch(sv[0], -1, &ne));

	io_uring_queue_exit(&ring);
	close(sv[0]);
	close(sv[1]);
	close(efd);
}

/* The socket kinds served, watched through struct proto or proto_ops. */
static const struct kind {
	int family, type;
	const char *name;
} kinds[] = {
	{ AF_INET, SOCK_STREAM, "tcp4" },
	{ AF_INET6, SOCK_STREAM, "tcp6" },
	{ AF_INET, SOCK_DGRAM, "udp4" },
	{ AF_UNIX, SOCK_STREAM, "unix stream" },
	{ AF_UNIX, SOCK_DGRAM, "unix dgram" },
	{ AF_UNIX, SOCK_SEQPACKET, "unix seqpacket" },
};

struct waiter {
	int sock, result;	/* result: poll()'s revents, then recv()'s length */
	int done[2];		/* a pipe: the waiter's word that it returned */
};

static void *wait_and_read(void *arg)
{
	struct waiter *w = arg;
	struct pollfd p = { .fd = w->sock, .events = POLLIN };
	char buf[16];

	w->result = -1;
	if (poll(&p, 1, WAIT_MS) == 1 && (p.revents & POLLIN))
		w->result = (int)recv(w->sock, buf, sizeof(buf), MSG_DONTWAIT);
	if (write(w->done[1], "", 1) != 1)
		w->result = -2;
	return NULL;
}

/*
 * A thread sleeps in poll() on @sock, then reads: true when it wakes up
 * with the @len bytes @peer sends once it sleeps.
 */
static bool waiter_woken(int sock, int peer, int len)
{
	struct pollfd p;
	struct waiter w = { .sock = sock };
	pthread_t t;
	bool woken;

	if (pipe(w.done) || pthread_create(&t, NULL, wait_and_read, &w))
		return false;
	/* asleep in poll(): what follows is a wake-up */
	woken = threads_asleep(WAIT_MS);
	woken = send(peer, "wake-up!", len, 0) == len && woken;
	p = (struct pollfd){ .fd = w.done[0], .events = POLLIN };
	woken = woken && poll(&p, 1, WAIT_MS) == 1;
	pthread_join(t, NULL);
	close(w.done[0]);
	close(w.done[1]);
	return woken && w.result == len;
}

/*
 * The registration takes its own events without taking the socket's
 * wake-ups away from anyone else: its wait entry comes first on the
 * socket's wait queue, and every other waiter is still woken.
 */
TEST(registered_socket_still_wakes_its_waiters)
{
	struct ss_network_events ne;
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		int sv[2], efd = eventfd(0, EFD_CLOEXEC);

		TH_LOG("%s", kinds[i].name);
		ASSERT_EQ(0, socket_pair(kinds[i].family, kinds[i].type, sv));
		ASSERT_EQ(0, ss_event_select(sv[0], efd, SS_FD_READ | SS_FD_WRITE | SS_FD_CLOSE));
		ASSERT_TRUE(signalled(efd, WAIT_MS));
		EXPECT_EQ(SS_FD_WRITE, fetch(sv[0], efd, &ne));

		EXPECT_TRUE(waiter_woken(sv[0], sv[1], 8));
		EXPECT_TRUE(signalled(efd, WAIT_MS));
		/*
		 * The waiter read the data before the fetch: a record does
		 * not outlive its condition (Windows: test_read_events).
		 */
		EXPECT_EQ(0, fetch(sv[0], efd, &ne));
		close(sv[0]);
		close(sv[1]);
		close(efd);
	}
}

/*
 * A connection a registered TCP listener took in (its sock a clone of the
 * listener's) and accept() returns after the registration was cancelled:
 * the accepted socket has no registration and wakes its waiters.
 */
TEST(accepted_after_cancel_wakes_its_waiters)
{
	struct sockaddr_in addr;
	socklen_t len;
	int l, c, a, efd;

	l = loopback_listener(&addr, &len);
	ASSERT_GE(l, 0);
	efd = eventfd(0, 0);
	ASSERT_EQ(0, ss_event_select(l, efd, SS_FD_ACCEPT | SS_FD_READ));
	c = client_accept_reported(l, efd, &addr, len);
	ASSERT_LE(0, c);
	ASSERT_EQ(0, ss_event_select(l, efd, 0));

	a = accept(l, NULL, NULL);
	ASSERT_GE(a, 0);
	EXPECT_EQ(0, ss_registered_events(a));
	EXPECT_TRUE(waiter_woken(a, c, 5));
	EXPECT_TRUE(transfer_ok(a, c, "both ways"));
	EXPECT_FALSE(signalled(efd, 50));
	close(a);
	EXPECT_TRUE(peer_eof_within(c, WAIT_MS));
	close(c);
	close(l);
	close(efd);
}

struct flood {
	int sock;
	atomic_bool stop;
	long sent;
};

static void *flood(void *arg)
{
	struct flood *f = arg;

	while (!atomic_load(&f->stop))
		if (send(f->sock, "0123456789abcdef", 16, MSG_NOSIGNAL | MSG_DONTWAIT) == 16)
			f->sent++;
	return NULL;
}

/*
 * Last closes of registered sockets while their peer keeps sending: the
 * wake-ups that reach the socket as its registration is torn down (on
 * another CPU, or a sender in process context) must neither leak the
 * registration nor keep the module.  A callback that finds the
 * registration just before its teardown and uses it after is the case of
 * the RCU-deferred free; that window is a few instructions wide, so this
 * test (under KASAN in the debug lane) is a smoke test of it, not a proof.
 */
TEST(last_close_racing_wakeups)
{
	static const int racing[] = { 0, 2, 3 };	/* tcp4, udp4, unix stream */
	struct sharedsock_status st0, st1;
	int dev = dev_open(), n, k;
	long refs, sent = 0;

	ASSERT_GE(dev, 0);
	/* Opens the library's device descriptor now, to count in both readings. */
	EXPECT_EQ(-1, ss_event_select(dev, -1, 0));
	refs = module_refcnt();
	ASSERT_GE(refs, 0);
	ASSERT_EQ(0, dev_status(dev, &st0));
	for (n = 0; n < 150; n++)
		for (k = 0; k < 3; k++) {
			const struct kind *kd = &kinds[racing[k]];
			int sv[2], efd = eventfd(0, EFD_CLOEXEC);
			struct flood f = { .stop = false };
			pthread_t t;

			ASSERT_EQ(0, socket_pair(kd->family, kd->type, sv));
			ASSERT_EQ(0, ss_event_select(sv[0], efd, SS_FD_READ | SS_FD_CLOSE));
			f.sock = sv[1];
			ASSERT_EQ(0, pthread_create(&t, NULL, flood, &f));
			usleep((n * 37) % 300);
			close(sv[0]);
			usleep(100);
			atomic_store(&f.stop, true);
			pthread_join(t, NULL);
			sent += f.sent;
			close(sv[1]);
			close(efd);
		}
	ASSERT_EQ(0, dev_status(dev, &st1));
	EXPECT_EQ(st0.registrations, st1.registrations);
	EXPECT_EQ(refs, module_refcnt_back_to(refs, WAIT_MS));
	EXPECT_GT(sent, 0);
	close(dev);
}

/* A BPF sockmap of one slot, or -1. */
static int sockmap_create(void)
{
	union bpf_attr attr = {
		.map_type = BPF_MAP_TYPE_SOCKMAP,
		.key_size = 4,
		.value_size = 4,
		.max_entries = 1,
	};

	return (int)syscall(__NR_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));
}

/* Put @sock in slot 0 of @map: 0, or -1 with errno. */
static int sockmap_put(int map, int sock)
{
	__u32 key = 0, value = (__u32)sock;
	union bpf_attr attr = {
		.map_fd = (__u32)map,
		.key = (__u64)(unsigned long)&key,
		.value = (__u64)(unsigned long)&value,
		.flags = BPF_ANY,
	};

	return (int)syscall(__NR_bpf, BPF_MAP_UPDATE_ELEM, &attr, sizeof(attr));
}

/*
 * sockmap refuses @fd: EOPNOTSUPP for a socket whose struct proto is the
 * module's (no psock_update_sk_prot), EINVAL for one with a ULP, EBUSY for
 * one another kernel user holds.
 */
static bool sockmap_refuses(int map, int fd)
{
	return sockmap_put(map, fd) == -1 &&
	       (errno == EOPNOTSUPP || errno == EBUSY || errno == EINVAL);
}

/*
 * A socket whose calls the module sees cannot be taken by BPF sockmap,
 * which would replace its struct proto behind the module's back: a
 * registered TCP socket's struct proto is the module's copy, which sockmap
 * cannot update (EOPNOTSUPP), and it carries the sharedsock ULP (EINVAL).
 * So does every socket accepted from a registered listener: it is a clone
 * of the listener, inherited or not.  A plain socket goes in.
 */
TEST(sockmap_cannot_take_a_watched_socket)
{
	struct sockaddr_in addr;
	socklen_t len;
	int map = sockmap_create(), sv[2], l, c, a, efd;

	if (map < 0)
		SKIP(return, "no BPF sockmap here (%s)", strerror(errno));
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, sv));
	ASSERT_EQ(0, ss_event_select(sv[0], efd, SS_FD_READ));
	EXPECT_TRUE(sockmap_refuses(map, sv[0]));
	EXPECT_TRUE(transfer_ok(sv[1], sv[0], "still a socket"));
	EXPECT_EQ(0, sockmap_put(map, sv[1]));

	l = loopback_listener(&addr, &len);
	ASSERT_GE(l, 0);
	ASSERT_EQ(0, ss_event_select(l, efd, SS_FD_ACCEPT | SS_FD_READ));
	c = client_accept_reported(l, efd, &addr, len);
	ASSERT_LE(0, c);
	a = accept(l, NULL, NULL);
	ASSERT_GE(a, 0);
	EXPECT_TRUE(sockmap_refuses(map, a));
	close(a);
	close(c);

	c = client_accept_reported(l, efd, &addr, len);
	ASSERT_LE(0, c);
	ASSERT_EQ(0, ss_event_select(l, efd, 0));
	a = accept(l, NULL, NULL);
	ASSERT_GE(a, 0);
	EXPECT_TRUE(sockmap_refuses(map, a));
	close(a);
	close(c);
	close(l);
	close(sv[0]);
	close(sv[1]);
	close(efd);
	close(map);
}

/*
 * A registered connected socket that is disconnected (connect() to
 * AF_UNSPEC) and then listens keeps its registration: the connection it
 * takes in is reported, and the accepted socket inherits.  (sockmap still
 * refuses it.)
 */
TEST(disconnected_socket_that_listens_keeps_its_registration)
{
	struct sockaddr_in addr = { .sin_family = AF_INET,
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };
	socklen_t len = sizeof(addr);
	struct ss_network_events ne;
	int map = sockmap_create(), sv[2], c, a, efd = eventfd(0, EFD_CLOEXEC);
	char buf[4];

	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, sv));
	ASSERT_EQ(0, ss_event_select(sv[0], efd, SS_FD_ACCEPT | SS_FD_READ));
	if (map >= 0)
		EXPECT_TRUE(sockmap_refuses(map, sv[0]));
	ASSERT_EQ(0, connect(sv[0], &unspec, sizeof(unspec)));
	ASSERT_EQ(0, listen(sv[0], 4));
	ASSERT_EQ(0, getsockname(sv[0], (void *)&addr, &len));
	fetch(sv[0], efd, &ne);

	c = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_EQ(0, connect(c, (void *)&addr, len));
	ASSERT_TRUE(signalled(efd, WAIT_MS));
	EXPECT_EQ(SS_FD_ACCEPT, fetch(sv[0], efd, &ne));
	a = accept(sv[0], NULL, NULL);
	ASSERT_GE(a, 0);
	EXPECT_EQ(SS_FD_ACCEPT | SS_FD_READ, ss_registered_events(a));
	ASSERT_EQ(2, send(c, "hi", 2, 0));
	ASSERT_TRUE(signalled(efd, WAIT_MS));
	EXPECT_EQ(SS_FD_READ, fetch(a, efd, &ne));
	EXPECT_EQ(2, recv(a, buf, sizeof(buf), 0));
	EXPECT_TRUE(waiter_woken(a, c, 3));
	close(a);
	close(c);
	close(sv[0]);
	close(sv[1]);
	close(efd);
	if (map >= 0)
		close(map);
}

struct acceptor {
	int listener, fd;
};

static void *accept_one(void *arg)
{
	struct acceptor *ac = arg;

	ac->fd = accept(ac->listener, NULL, NULL);
	return NULL;
}

/*
 * An accept() already asleep in the protocol when the listener gets
 * registered returns its connection past the accept wrapper: the accepted
 * socket must still wake its waiters.
 */
TEST(accept_begun_before_registration_wakes_its_waiters)
{
	struct sockaddr_in addr;
	socklen_t len;
	struct acceptor ac = { .fd = -1 };
	int c, efd = eventfd(0, EFD_CLOEXEC);
	pthread_t t;

	ac.listener = loopback_listener(&addr, &len);
	ASSERT_GE(ac.listener, 0);
	ASSERT_EQ(0, pthread_create(&t, NULL, accept_one, &ac));
	/* asleep in accept(), in the protocol's own ops */
	ASSERT_TRUE(threads_asleep(WAIT_MS));
	ASSERT_EQ(0, ss_event_select(ac.listener, efd, SS_FD_ACCEPT));
	c = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_EQ(0, connect(c, (void *)&addr, len));
	pthread_join(t, NULL);
	ASSERT_GE(ac.fd, 0);
	EXPECT_TRUE(waiter_woken(ac.fd, c, 4));
	EXPECT_TRUE(transfer_ok(ac.fd, c, "both ways"));
	close(ac.fd);
	close(c);
	close(ac.listener);
	close(efd);
}

TEST_HARNESS_MAIN
