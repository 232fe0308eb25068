// SPDX-License-Identifier: GPL-2.0
/*
 * WSAEventSelect / WSAEnumNetworkEvents semantics (design/semantics.md
 * sections 4-6) of ss_event_select() and ss_enum_network_events():
 * accept, connect, write, read, OOB and close events, fetching, and the
 * rules of registration, over TCP (v4, v6), UDP and AF_UNIX.
 *
 * "Fires" is checked by polling the eventfd with a generous timeout
 * (FIRES_MS), a hang guard that a loaded machine never reaches; "stays
 * silent" with a short one (QUIET_MS), and only where nothing could come
 * later by right: data and acknowledgements in flight are awaited first.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "kselftest_harness.h"

#define FIRES_MS	WAIT_MS
#define QUIET_MS	150
#define STALL_MS	WAIT_MS	/* no progress this long: a lost event */

/* --- Helpers --- */

/* The eventfd is signalled within @ms milliseconds. */
static bool signalled(int efd, int ms)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };

	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

/* Enumerate into @ne pre-filled with 0x55 bytes; the events, or -1. */
static long fetch(int sock, int efd, struct ss_network_events *ne)
{
	memset(ne, 0x55, sizeof(*ne));
	if (ss_enum_network_events(sock, efd, ne))
		return -1;
	return ne->network_events;
}

/* The same when the error codes do not matter. */
static long events_of(int sock, int efd)
{
	struct ss_network_events ne;

	return fetch(sock, efd, &ne);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int new_eventfd(void)
{
	return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

/* A descriptor number that refers to nothing. */
static int closed_fd(void)
{
	int fd = dup(0);

	if (fd >= 0)
		close(fd);
	return fd;
}

/*
 * Over TCP, none of @fd's data in flight (within @ms): the acknowledgements
 * that may free send space have come, and with them any FD_WRITE they
 * record (TCP_INFO takes the socket lock that their processing holds).
 * Other sockets get space only from their peer's reads.
 */
static bool nothing_in_flight(int fd, int ms)
{
	long long end = now_ms() + ms;
	struct tcp_info ti;
	socklen_t len;

	do {
		len = sizeof(ti);
		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len))
			return true;	/* not TCP */
		if (!ti.tcpi_unacked)
			return true;
		usleep(1000);
	} while (now_ms() < end);
	return false;
}

/*
 * @events are all recorded on @sock, seen without fetching them
 * (SHAREDSOCK_ENUM_PEEK), within @ms.
 */
static bool recorded_within(int sock, long events, int ms)
{
	long long end = now_ms() + ms;
	struct sharedsock_enum en;
	int dev = dev_open();
	bool ok = false;

	if (dev < 0)
		return false;
	for (;;) {
		memset(&en, 0, sizeof(en));
		en.size = sizeof(en);
		en.flags = SHAREDSOCK_ENUM_PEEK;
		en.fd = sock;
		en.eventfd = -1;
		if (ioctl(dev, SHAREDSOCK_IOC_ENUM, &en))
			break;
		ok = (en.events & events) == events;
		if (ok || now_ms() > end)
			break;
		usleep(1000);
	}
	close(dev);
	return ok;
}

/* The peer's end of the connection reached @fd (POLLRDHUP), within @ms. */
static bool rdhup_within(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };

	return poll(&p, 1, ms) == 1 && (p.revents & (POLLRDHUP | POLLHUP));
}

/*
 * Send on @fd without blocking until a send fails with EAGAIN: the bytes
 * sent, or -1 if a send failed otherwise.
 */
static long fill(int fd)
{
	static char buf[4096];
	long total = 0;
	ssize_t n;

	for (;;) {
		n = send(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN ? total : -1;
		total += n;
	}
}

/*
 * The same with sendfile(2) from a 64 KiB memfd: on 6.1 through the
 * protocol's sendpage, from 6.5 on through its sendmsg (MSG_SPLICE_PAGES).
 */
static long fill_sendfile(int fd)
{
	static int mfd = -1;
	long total = 0;
	ssize_t n;
	off_t off;

	if (mfd < 0) {
		mfd = memfd_create("fill", MFD_CLOEXEC);
		if (mfd < 0 || ftruncate(mfd, 65536))
			return -1;
	}
	for (;;) {
		off = 0;
		n = sendfile(fd, mfd, &off, 65536);
		if (n < 0)
			return errno == EAGAIN ? total : -1;
		total += n;
	}
}

/* The same with splice(2) from a pipe kept full. */
static long fill_splice(int fd)
{
	static int p[2] = { -1, -1 };
	static char buf[4096];
	long total = 0;
	ssize_t n;

	if (p[0] < 0 && pipe2(p, O_NONBLOCK | O_CLOEXEC))
		return -1;
	for (;;) {
		while (write(p[1], buf, sizeof(buf)) > 0)
			;
		n = splice(p[0], NULL, fd, NULL, 65536, SPLICE_F_NONBLOCK);
		if (n < 0)
			return errno == EAGAIN ? total : -1;
		total += n;
	}
}

/*
 * Fill @fd with @filler until EAGAIN and stays so: over TCP,
 * acknowledgements still in flight may free space right after the failed
 * send, which legitimately records FD_WRITE; wait for them all, and if one
 * recorded FD_WRITE fetch it and fill again.  Leaves FD_WRITE re-enabled by
 * a failed send, not recorded, and nothing in flight that could record it
 * later.
 */
static void fill_settled_by(struct __test_metadata *_metadata, int fd,
			    int efd, long (*filler)(int fd))
{
	int i;

	for (i = 0; i < 20; i++) {
		ASSERT_LE(0, filler(fd));
		ASSERT_TRUE(nothing_in_flight(fd, FIRES_MS));
		if (!signalled(efd, 2 * QUIET_MS))
			return;
		ASSERT_EQ(SS_FD_WRITE, events_of(fd, efd));
	}
	ASSERT_TRUE(false) TH_LOG("send buffer never stayed full");
}

static void fill_settled(struct __test_metadata *_metadata, int fd, int efd)
{
	fill_settled_by(_metadata, fd, efd, fill);
}

/* The peer reads whatever arrives until @efd is signalled (or @ms pass). */
static bool drain_until_signalled(int peer, int efd, int ms)
{
	static char buf[65536];
	long long end = now_ms() + ms;

	do {
		while (recv(peer, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			;
		if (signalled(efd, 5))
			return true;
	} while (now_ms() < end);
	return false;
}

static unsigned char pattern(size_t i)
{
	return (unsigned char)(i % 251);
}

/* A loopback address of @family with @port (network order). */
static socklen_t loopback(int family, in_port_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	ss->ss_family = family;
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		in->sin_port = port;
		return sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_addr = in6addr_loopback;
		in6->sin6_port = port;
		return sizeof(*in6);
	}
}

/* --- Fixtures: a connected pair of sockets and an eventfd --- */

#define PAIR_FIXTURE(name)						\
	FIXTURE(name) {							\
		int sv[2];						\
		int efd;						\
	};								\
	FIXTURE_VARIANT(name) {						\
		int family;						\
		int type;						\
	};								\
	FIXTURE_SETUP(name)						\
	{								\
		self->sv[0] = self->sv[1] = self->efd = -1;		\
		ASSERT_EQ(0, socket_pair(variant->family, variant->type,	\
					 self->sv));			\
		self->efd = new_eventfd();				\
		ASSERT_LE(0, self->efd);				\
	}								\
	FIXTURE_TEARDOWN(name)						\
	{								\
		if (self->sv[0] >= 0)					\
			close(self->sv[0]);				\
		if (self->sv[1] >= 0)					\
			close(self->sv[1]);				\
		if (self->efd >= 0)					\
			close(self->efd);				\
	}

/* Every kind of socket. */
PAIR_FIXTURE(any);
FIXTURE_VARIANT_ADD(any, tcp4) { .family = AF_INET, .type = SOCK_STREAM };
FIXTURE_VARIANT_ADD(any, tcp6) { .family = AF_INET6, .type = SOCK_STREAM };
FIXTURE_VARIANT_ADD(any, udp4) { .family = AF_INET, .type = SOCK_DGRAM };
FIXTURE_VARIANT_ADD(any, udp6) { .family = AF_INET6, .type = SOCK_DGRAM };
FIXTURE_VARIANT_ADD(any, unix_stream) { .family = AF_UNIX, .type = SOCK_STREAM };
FIXTURE_VARIANT_ADD(any, unix_dgram) { .family = AF_UNIX, .type = SOCK_DGRAM };
FIXTURE_VARIANT_ADD(any, unix_seqpacket) { .family = AF_UNIX, .type = SOCK_SEQPACKET };

/* Connection-oriented sockets. */
PAIR_FIXTURE(stream);
FIXTURE_VARIANT_ADD(stream, tcp4) { .family = AF_INET, .type = SOCK_STREAM };
FIXTURE_VARIANT_ADD(stream, tcp6) { .family = AF_INET6, .type = SOCK_STREAM };
FIXTURE_VARIANT_ADD(stream, unix_stream) { .family = AF_UNIX, .type = SOCK_STREAM };
FIXTURE_VARIANT_ADD(stream, unix_seqpacket) { .family = AF_UNIX, .type = SOCK_SEQPACKET };

/* Byte streams that splice() can drain without a recv. */
PAIR_FIXTURE(bytes);
FIXTURE_VARIANT_ADD(bytes, tcp4) { .family = AF_INET, .type = SOCK_STREAM };
FIXTURE_VARIANT_ADD(bytes, tcp6) { .family = AF_INET6, .type = SOCK_STREAM };
FIXTURE_VARIANT_ADD(bytes, unix_stream) { .family = AF_UNIX, .type = SOCK_STREAM };

/* TCP only: OOB data, resets, connect(). */
PAIR_FIXTURE(tcp);
FIXTURE_VARIANT_ADD(tcp, v4) { .family = AF_INET, .type = SOCK_STREAM };
FIXTURE_VARIANT_ADD(tcp, v6) { .family = AF_INET6, .type = SOCK_STREAM };

/* Datagrams. */
/*
 * The FD_CONNECT a pair's first socket reports once selected in event mode:
 * over IP it connected by its own connect() (socket_pair()), which Windows
 * records for good even before any registration (test_connect_events,
 * "Connect and then select"); a socketpair() end never connected.
 */
#define CONNECTED_BEFORE(v)	((v)->family != AF_UNIX ? SS_FD_CONNECT : 0)

PAIR_FIXTURE(dgram);
FIXTURE_VARIANT_ADD(dgram, udp4) { .family = AF_INET, .type = SOCK_DGRAM };
FIXTURE_VARIANT_ADD(dgram, udp6) { .family = AF_INET6, .type = SOCK_DGRAM };
FIXTURE_VARIANT_ADD(dgram, unix_dgram) { .family = AF_UNIX, .type = SOCK_DGRAM };

/* --- Fixture: a listening socket and an eventfd --- */

FIXTURE(listener) {
	int l;
	int efd;
	struct sockaddr_storage addr;
	socklen_t len;
};

FIXTURE_VARIANT(listener) {
	int family;
	int type;
};

FIXTURE_VARIANT_ADD(listener, tcp4) { .family = AF_INET, .type = SOCK_STREAM };
FIXTURE_VARIANT_ADD(listener, tcp6) { .family = AF_INET6, .type = SOCK_STREAM };
FIXTURE_VARIANT_ADD(listener, unix_stream) { .family = AF_UNIX, .type = SOCK_STREAM };
FIXTURE_VARIANT_ADD(listener, unix_seqpacket) { .family = AF_UNIX, .type = SOCK_SEQPACKET };

FIXTURE_SETUP(listener)
{
	self->l = socket(variant->family, variant->type | SOCK_CLOEXEC, 0);
	self->efd = new_eventfd();
	ASSERT_LE(0, self->l);
	ASSERT_LE(0, self->efd);
	if (variant->family == AF_UNIX) {
		struct sockaddr_un *un = (struct sockaddr_un *)&self->addr;
		static int seq;
		int n;

		memset(&self->addr, 0, sizeof(self->addr));
		un->sun_family = AF_UNIX;
		/* abstract: sun_path[0] is 0 */
		n = snprintf(un->sun_path + 1, sizeof(un->sun_path) - 1,
			     "sharedsock-evsel-%d-%d", getpid(), seq++);
		self->len = offsetof(struct sockaddr_un, sun_path) + 1 + n;
	} else {
		self->len = loopback(variant->family, 0, &self->addr);
	}
	ASSERT_EQ(0, bind(self->l, (void *)&self->addr, self->len));
	ASSERT_EQ(0, listen(self->l, 8));
	self->len = sizeof(self->addr);
	ASSERT_EQ(0, getsockname(self->l, (void *)&self->addr, &self->len));
}

FIXTURE_TEARDOWN(listener)
{
	close(self->l);
	close(self->efd);
}

/* A client connected (blocking connect) to the listener. */
static int client(FIXTURE_DATA(listener) *self,
		  const FIXTURE_VARIANT(listener) *variant)
{
	int c = socket(variant->family, variant->type | SOCK_CLOEXEC, 0);

	if (c < 0)
		return -1;
	if (connect(c, (void *)&self->addr, self->len)) {
		close(c);
		return -1;
	}
	return c;
}

/* A connection is waiting in the listener's queue, within @ms. */
static bool pending_within(int l, int ms)
{
	struct pollfd p = { .fd = l, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

/*
 * @n connections wait in the queue of @l, within @ms.  A TCP listener
 * queues the connection when the client's last handshake packet arrives,
 * which may be after the client's connect() returned; TCP_INFO tells how
 * many wait.  An AF_UNIX connect() returns with its connection queued.
 */
static bool backlog_at_least(int l, int n, int ms)
{
	long long end = now_ms() + ms;
	struct tcp_info ti;
	socklen_t len;

	do {
		len = sizeof(ti);
		if (getsockopt(l, IPPROTO_TCP, TCP_INFO, &ti, &len))
			return true;	/* not TCP */
		if ((int)ti.tcpi_unacked >= n)	/* for a listener: its queue */
			return true;
		usleep(1000);
	} while (now_ms() < end);
	return false;
}

/* --- accept --- */

TEST_F(listener, accept_recorded_at_once_and_again_after_accept)
{
	int c1, c2, c3, a1, a2;

	c1 = client(self, variant);
	ASSERT_LE(0, c1);
	ASSERT_TRUE(pending_within(self->l, FIRES_MS));

	/* A connection is pending at registration: FD_ACCEPT at once. */
	ASSERT_EQ(0, ss_event_select(self->l, self->efd,
				     SS_FD_ACCEPT | SS_FD_READ | SS_FD_WRITE | SS_FD_CLOSE));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_ACCEPT, events_of(self->l, self->efd));

	/*
	 * Not recorded again until accept().  Over TCP the connection joins
	 * the queue a moment after connect() returns: wait until it did.
	 */
	c2 = client(self, variant);
	ASSERT_LE(0, c2);
	ASSERT_TRUE(backlog_at_least(self->l, 2, FIRES_MS));
	EXPECT_FALSE(signalled(self->efd, 2 * QUIET_MS));
	EXPECT_EQ(0, events_of(self->l, self->efd));

	/*
	 * accept() with a connection still pending: FD_ACCEPT again at once;
	 * the accepted socket reports FD_WRITE on the same eventfd.
	 */
	a1 = accept(self->l, NULL, NULL);
	ASSERT_LE(0, a1);
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_ACCEPT, events_of(self->l, self->efd));
	EXPECT_EQ(SS_FD_WRITE, events_of(a1, self->efd));

	/* The last pending one: no FD_ACCEPT, the new socket's FD_WRITE. */
	a2 = accept(self->l, NULL, NULL);
	ASSERT_LE(0, a2);
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_WRITE, events_of(a2, self->efd));
	EXPECT_EQ(0, events_of(self->l, self->efd));
	EXPECT_FALSE(signalled(self->efd, QUIET_MS));

	/* accept() re-enabled it: the next connection is recorded. */
	c3 = client(self, variant);
	ASSERT_LE(0, c3);
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_ACCEPT, events_of(self->l, self->efd));

	close(a1);
	close(a2);
	close(c1);
	close(c2);
	close(c3);
}

TEST_F(listener, accepted_socket_inherits_eventfd_and_mask)
{
	struct ss_network_events ne;
	int c, a;
	char ch;

	/* A mask without FD_WRITE or FD_CLOSE. */
	ASSERT_EQ(0, ss_event_select(self->l, self->efd, SS_FD_ACCEPT | SS_FD_READ));
	EXPECT_FALSE(signalled(self->efd, QUIET_MS));
	c = client(self, variant);
	ASSERT_LE(0, c);
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_ACCEPT, events_of(self->l, self->efd));

	a = accept(self->l, NULL, NULL);
	ASSERT_LE(0, a);
	/* FD_WRITE is recorded but not selected: nothing signalled. */
	EXPECT_FALSE(signalled(self->efd, 2 * QUIET_MS));
	EXPECT_EQ(0, events_of(a, self->efd));

	/* The listener's registration changing leaves the child's alone. */
	ASSERT_EQ(0, ss_event_select(self->l, -1, 0));

	/* FD_READ is selected, on the listener's eventfd. */
	ASSERT_EQ(1, send(c, "x", 1, 0));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_READ, events_of(a, self->efd));
	ASSERT_EQ(1, recv(a, &ch, 1, 0));

	/* FD_CLOSE is not selected. */
	close(c);
	EXPECT_FALSE(signalled(self->efd, 2 * QUIET_MS));
	EXPECT_EQ(0, events_of(a, self->efd));

	/* Selecting them reports what was recorded meanwhile. */
	ASSERT_EQ(0, ss_event_select(a, self->efd, SS_FD_READ | SS_FD_WRITE | SS_FD_CLOSE));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_WRITE | SS_FD_CLOSE, fetch(a, self->efd, &ne));
	EXPECT_EQ(0, ne.error_code[SS_FD_WRITE_BIT]);
	EXPECT_EQ(0, ne.error_code[SS_FD_CLOSE_BIT]);
	close(a);
}

/*
 * A registered socket is non-blocking (section 4), and the accepted
 * socket has the listener's registration, as on Windows where it also
 * inherits the listener's non-blocking mode.
 */
TEST_F(listener, accepted_socket_is_nonblocking)
{
	int c, a;

	ASSERT_EQ(0, ss_event_select(self->l, self->efd, SS_FD_ACCEPT | SS_FD_READ));
	c = client(self, variant);
	ASSERT_LE(0, c);
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	a = accept(self->l, NULL, NULL);
	ASSERT_LE(0, a);
	EXPECT_NE(0, fcntl(a, F_GETFL) & O_NONBLOCK);
	close(a);
	close(c);
}

/* --- connect --- */

/* A listener on a loopback port of @family; its address in @addr. */
static int tcp_listener_at(int family, struct sockaddr_storage *addr, socklen_t *len)
{
	int l;

	*len = loopback(family, 0, addr);
	l = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || bind(l, (void *)addr, *len) || listen(l, 4) ||
	    getsockname(l, (void *)addr, len))
		return -1;
	return l;
}

TEST_F(tcp, connect_success_reports_connect_and_write)
{
	struct sockaddr_storage addr;
	struct ss_network_events ne;
	socklen_t len;
	int l, s, a;

	l = tcp_listener_at(variant->family, &addr, &len);
	ASSERT_LE(0, l);
	s = socket(variant->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, s);
	ASSERT_EQ(0, ss_event_select(s, self->efd, SS_FD_ALL_EVENTS));
	/* Not connected: nothing to report. */
	EXPECT_FALSE(signalled(self->efd, QUIET_MS));
	EXPECT_EQ(0, events_of(s, self->efd));

	if (connect(s, (void *)&addr, len))
		ASSERT_EQ(EINPROGRESS, errno);
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_CONNECT | SS_FD_WRITE, fetch(s, self->efd, &ne));
	EXPECT_EQ(0, ne.error_code[SS_FD_CONNECT_BIT]);
	EXPECT_EQ(0, ne.error_code[SS_FD_WRITE_BIT]);
	EXPECT_FALSE(signalled(self->efd, QUIET_MS));
	EXPECT_EQ(0, events_of(s, self->efd));

	/* Asking again how it went starts nothing: nothing new is recorded. */
	if (connect(s, (void *)&addr, len))
		EXPECT_EQ(EISCONN, errno);
	EXPECT_FALSE(signalled(self->efd, QUIET_MS));
	EXPECT_EQ(0, events_of(s, self->efd));

	a = accept(l, NULL, NULL);
	ASSERT_LE(0, a);
	EXPECT_TRUE(transfer_ok(s, a, "connected"));
	close(a);
	close(s);
	close(l);
}

TEST_F(tcp, connect_refused_reports_error_and_no_close)
{
	struct sockaddr_storage addr;
	struct ss_network_events ne;
	socklen_t len;
	int r, s;

	/* A bound port with no listener: the SYN is answered by a reset. */
	len = loopback(variant->family, 0, &addr);
	r = socket(variant->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, r);
	ASSERT_EQ(0, bind(r, (void *)&addr, len));
	ASSERT_EQ(0, getsockname(r, (void *)&addr, &len));

	s = socket(variant->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, s);
	ASSERT_EQ(0, ss_event_select(s, self->efd, SS_FD_ALL_EVENTS));
	if (connect(s, (void *)&addr, len))
		ASSERT_TRUE(errno == EINPROGRESS || errno == ECONNREFUSED);
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_CONNECT, fetch(s, self->efd, &ne));
	EXPECT_EQ(ECONNREFUSED, ne.error_code[SS_FD_CONNECT_BIT]);
	EXPECT_EQ(0x55555555, ne.error_code[SS_FD_CLOSE_BIT]);
	/* No FD_CLOSE (nor anything else) afterwards. */
	EXPECT_FALSE(signalled(self->efd, 2 * QUIET_MS));
	EXPECT_EQ(0, events_of(s, self->efd));
	/* Asking again how it went: refused, as recorded already. */
	EXPECT_EQ(-1, connect(s, (void *)&addr, len));
	EXPECT_FALSE(signalled(self->efd, QUIET_MS));
	EXPECT_EQ(0, events_of(s, self->efd));
	close(s);
	close(r);
}

/*
 * A non-blocking client whose connection was reset before it was
 * registered (the socket stays SS_CONNECTING): FD_CLOSE at once.
 */
TEST_F(tcp, nonblocking_client_reset_before_registration_reports_close)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct sockaddr_storage addr;
	struct ss_network_events ne;
	struct pollfd pfd;
	socklen_t len;
	int l, c, a;

	l = tcp_listener_at(variant->family, &addr, &len);
	ASSERT_LE(0, l);
	c = socket(variant->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	ASSERT_LE(0, c);
	if (connect(c, (void *)&addr, len))
		ASSERT_EQ(EINPROGRESS, errno);
	a = accept(l, NULL, NULL);
	ASSERT_LE(0, a);
	pfd = (struct pollfd){ .fd = c, .events = POLLOUT };
	ASSERT_EQ(1, poll(&pfd, 1, FIRES_MS));
	ASSERT_EQ(0, setsockopt(a, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
	close(a);
	pfd = (struct pollfd){ .fd = c, .events = POLLIN };
	ASSERT_EQ(1, poll(&pfd, 1, FIRES_MS));

	ASSERT_EQ(0, ss_event_select(c, self->efd, SS_FD_READ | SS_FD_CLOSE));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_CLOSE, fetch(c, self->efd, &ne));
	EXPECT_EQ(ECONNRESET, ne.error_code[SS_FD_CLOSE_BIT]);
	close(c);
	close(l);
}

/*
 * A connect() that fails at once -- an AF_UNIX socket that does not
 * listen -- finished with an error: FD_CONNECT carries it.  A call refused
 * for its arguments tried no connection and reports nothing.
 */
TEST(unix_connect_refused_at_once_reports_connect_error)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct sockaddr_in in4 = { .sin_family = AF_INET };
	struct ss_network_events ne;
	socklen_t len;
	int r, s, efd;

	/* An abstract name, bound but not listening. */
	snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1, "ss-refuse-%d", getpid());
	len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(addr.sun_path + 1);
	r = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, r);
	ASSERT_EQ(0, bind(r, (void *)&addr, len));

	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, s);
	ASSERT_EQ(0, ss_event_select(s, efd, SS_FD_ALL_EVENTS));

	EXPECT_EQ(-1, connect(s, (void *)&in4, sizeof(in4)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_FALSE(signalled(efd, QUIET_MS));

	EXPECT_EQ(-1, connect(s, (void *)&addr, len));
	EXPECT_EQ(ECONNREFUSED, errno);
	ASSERT_TRUE(signalled(efd, FIRES_MS));
	EXPECT_EQ(SS_FD_CONNECT, fetch(s, efd, &ne));
	EXPECT_EQ(ECONNREFUSED, ne.error_code[SS_FD_CONNECT_BIT]);
	EXPECT_FALSE(signalled(efd, QUIET_MS));
	EXPECT_EQ(0, events_of(s, efd));
	close(s);
	close(r);
	close(efd);
}

/* No route to the address: the connect fails at once, FD_CONNECT says so. */
TEST(tcp_connect_without_route_reports_connect_error)
{
	struct sockaddr_in to = {
		.sin_family = AF_INET, .sin_port = htons(9),
		.sin_addr.s_addr = htonl(0xC0000201),	/* 192.0.2.1, TEST-NET-1 */
	};
	struct ss_network_events ne;
	int s, efd, err;

	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, s);
	ASSERT_EQ(0, ss_event_select(s, efd, SS_FD_CONNECT | SS_FD_CLOSE));
	ASSERT_EQ(-1, connect(s, (void *)&to, sizeof(to)));
	err = errno;
	if (err == EINPROGRESS) {
		close(s);
		close(efd);
		SKIP(return, "this machine has a route to 192.0.2.1");
	}
	EXPECT_EQ(ENETUNREACH, err);
	ASSERT_TRUE(signalled(efd, FIRES_MS));
	EXPECT_EQ(SS_FD_CONNECT, fetch(s, efd, &ne));
	EXPECT_EQ(err, ne.error_code[SS_FD_CONNECT_BIT]);
	close(s);
	close(efd);
}

/* --- write --- */

TEST_F(stream, write_once_then_only_after_eagain_and_drain)
{
	struct ss_network_events ne;
	char buf[64];
	int i;

	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_READ | SS_FD_WRITE));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_WRITE, fetch(self->sv[0], self->efd, &ne));
	EXPECT_EQ(0, ne.error_code[SS_FD_WRITE_BIT]);

	/* Successful sends do not record it again. */
	for (i = 0; i < 3; i++)
		ASSERT_EQ(5, send(self->sv[0], "hello", 5, 0));
	EXPECT_FALSE(signalled(self->efd, 2 * QUIET_MS));
	EXPECT_EQ(0, events_of(self->sv[0], self->efd));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(5, recv(self->sv[1], buf, 5, 0));

	/* Full: a send failed with EAGAIN; nothing yet. */
	fill_settled(_metadata, self->sv[0], self->efd);
	EXPECT_FALSE(signalled(self->efd, QUIET_MS));
	EXPECT_EQ(0, events_of(self->sv[0], self->efd));

	/* Data arriving meanwhile is FD_READ, not FD_WRITE. */
	ASSERT_EQ(1, send(self->sv[1], "r", 1, 0));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_READ, events_of(self->sv[0], self->efd));

	/* The peer drains: FD_WRITE. */
	ASSERT_TRUE(drain_until_signalled(self->sv[1], self->efd, STALL_MS));
	EXPECT_EQ(SS_FD_WRITE, fetch(self->sv[0], self->efd, &ne));
	EXPECT_EQ(0, ne.error_code[SS_FD_WRITE_BIT]);

	/* Once: more room without another EAGAIN records nothing. */
	drain_until_signalled(self->sv[1], self->efd, 2 * QUIET_MS);
	EXPECT_EQ(0, events_of(self->sv[0], self->efd));
}

/*
 * A sendfile() or splice() to the socket that fails with EAGAIN re-enables
 * FD_WRITE as a failed send() does, on every kernel: 6.1 reaches the
 * protocol's sendpage, 6.5 and later its sendmsg with MSG_SPLICE_PAGES.
 */
static void write_reenabled_by(struct __test_metadata *_metadata, int fd,
			       int peer, int efd, long (*filler)(int fd))
{
	ASSERT_EQ(0, ss_event_select(fd, efd, SS_FD_READ | SS_FD_WRITE));
	ASSERT_TRUE(signalled(efd, FIRES_MS));
	EXPECT_EQ(SS_FD_WRITE, events_of(fd, efd));

	fill_settled_by(_metadata, fd, efd, filler);
	EXPECT_EQ(0, events_of(fd, efd));

	ASSERT_TRUE(drain_until_signalled(peer, efd, STALL_MS));
	EXPECT_EQ(SS_FD_WRITE, events_of(fd, efd));
}

TEST_F(bytes, write_reenabled_by_failed_sendfile)
{
	write_reenabled_by(_metadata, self->sv[0], self->sv[1], self->efd,
			   fill_sendfile);
}

TEST_F(bytes, write_reenabled_by_failed_splice)
{
	write_reenabled_by(_metadata, self->sv[0], self->sv[1], self->efd,
			   fill_splice);
}

/*
 * After a send failed with EAGAIN, FD_WRITE waits for space: the peer
 * shutting down its sending side frees none, so it reports FD_CLOSE only.
 */
TEST_F(stream, write_not_recorded_by_peer_shutdown_while_full)
{
	struct pollfd pfd = { .fd = self->sv[0], .events = POLLOUT };
	bool writable;
	long ev;

	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd,
				     SS_FD_READ | SS_FD_WRITE | SS_FD_CLOSE));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_WRITE, events_of(self->sv[0], self->efd));
	fill_settled(_metadata, self->sv[0], self->efd);

	ASSERT_EQ(0, shutdown(self->sv[1], SHUT_WR));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	ev = events_of(self->sv[0], self->efd);
	/*
	 * Over TCP, acknowledgements may still free space; over AF_UNIX only
	 * the peer's reading does.  Space cannot shrink without a send, so
	 * if the socket is not writable now, it was not when FD_WRITE was.
	 */
	writable = poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLOUT);
	EXPECT_EQ(SS_FD_CLOSE, ev & ~SS_FD_WRITE);
	if (ev & SS_FD_WRITE) {
		EXPECT_TRUE(writable)
			TH_LOG("FD_WRITE recorded although the socket is not writable");
	}
	EXPECT_FALSE(signalled(self->efd, QUIET_MS));
	EXPECT_EQ(0, events_of(self->sv[0], self->efd));
}

/* --- read --- */

/* recv, read, recvfrom, recvmsg: 4 bytes through method @m. */
static ssize_t recv_by(int m, int fd, char *buf)
{
	struct sockaddr_storage from;
	socklen_t fromlen = sizeof(from);
	struct iovec iov = { .iov_base = buf, .iov_len = 4 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	switch (m) {
	case 0:
		return recv(fd, buf, 4, 0);
	case 1:
		return read(fd, buf, 4);
	case 2:
		return recvfrom(fd, buf, 4, 0, (void *)&from, &fromlen);
	default:
		return recvmsg(fd, &mh, 0);
	}
}

TEST_F(any, read_reenabled_by_recv_read_recvfrom_recvmsg)
{
	static const char *const names[] = { "recv", "read", "recvfrom", "recvmsg" };
	char buf[8];
	int m;

	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_READ));
	EXPECT_FALSE(signalled(self->efd, QUIET_MS));

	for (m = 0; m < 4; m++) {
		TH_LOG("through %s()", names[m]);
		ASSERT_EQ(4, send(self->sv[1], "abcd", 4, 0));
		ASSERT_TRUE(signalled(self->efd, FIRES_MS));
		EXPECT_EQ(SS_FD_READ, events_of(self->sv[0], self->efd));

		/* Not recorded again until a recv. */
		ASSERT_EQ(4, send(self->sv[1], "efgh", 4, 0));
		EXPECT_FALSE(signalled(self->efd, QUIET_MS));
		EXPECT_EQ(0, events_of(self->sv[0], self->efd));

		/* A recv with data remaining: recorded again at once. */
		ASSERT_EQ(4, recv_by(m, self->sv[0], buf));
		EXPECT_EQ(0, memcmp(buf, "abcd", 4));
		ASSERT_TRUE(signalled(self->efd, FIRES_MS));
		EXPECT_EQ(SS_FD_READ, events_of(self->sv[0], self->efd));

		/* Emptied: nothing more. */
		ASSERT_EQ(4, recv_by(m, self->sv[0], buf));
		EXPECT_EQ(0, memcmp(buf, "efgh", 4));
		EXPECT_FALSE(signalled(self->efd, QUIET_MS));
		EXPECT_EQ(0, events_of(self->sv[0], self->efd));
	}
}

TEST_F(stream, partial_recv_rerecords_at_once)
{
	char buf[16];

	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_READ));
	ASSERT_EQ(10, send(self->sv[1], "0123456789", 10, 0));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_READ, events_of(self->sv[0], self->efd));
	ASSERT_TRUE(inq_at_least(self->sv[0], 10, FIRES_MS));

	if (variant->type == SOCK_SEQPACKET) {
		/* A record is read whole (or truncated): send a second. */
		ASSERT_EQ(2, send(self->sv[1], "ab", 2, 0));
		ASSERT_EQ(10, recv(self->sv[0], buf, sizeof(buf), 0));
	} else {
		ASSERT_EQ(3, recv(self->sv[0], buf, 3, 0));
	}
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_READ, events_of(self->sv[0], self->efd));
	ASSERT_LT(0, recv(self->sv[0], buf, sizeof(buf), 0));
	EXPECT_FALSE(signalled(self->efd, QUIET_MS));
	EXPECT_EQ(0, events_of(self->sv[0], self->efd));
}

/*
 * A recv that fails (EAGAIN on an empty socket) re-enables FD_READ.  The
 * socket is emptied with splice(), which is no recv, so that FD_READ is
 * still disabled when the failing recv is made.
 */
TEST_F(bytes, failing_recv_reenables_read)
{
	char buf[16];
	int p[2];

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC | O_NONBLOCK));
	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_READ));

	ASSERT_EQ(3, send(self->sv[1], "abc", 3, 0));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_READ, events_of(self->sv[0], self->efd));
	ASSERT_TRUE(inq_at_least(self->sv[0], 3, FIRES_MS));
	ASSERT_EQ(3, splice(self->sv[0], NULL, p[1], NULL, sizeof(buf),
			    SPLICE_F_NONBLOCK));

	/* FD_READ is still disabled: new data is not recorded. */
	ASSERT_EQ(3, send(self->sv[1], "def", 3, 0));
	if (signalled(self->efd, 2 * QUIET_MS))
		SKIP(return, "splice() re-enabled FD_READ: cannot isolate a failing recv");
	ASSERT_TRUE(inq_at_least(self->sv[0], 3, FIRES_MS));
	ASSERT_EQ(3, splice(self->sv[0], NULL, p[1], NULL, sizeof(buf),
			    SPLICE_F_NONBLOCK));
	EXPECT_EQ(0, events_of(self->sv[0], self->efd));

	/* The failing recv. */
	EXPECT_EQ(-1, recv(self->sv[0], buf, sizeof(buf), 0));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_FALSE(signalled(self->efd, QUIET_MS));

	ASSERT_EQ(3, send(self->sv[1], "ghi", 3, 0));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_READ, events_of(self->sv[0], self->efd));
	close(p[0]);
	close(p[1]);
}

TEST_F(any, read_while_masked_out_reported_when_selected)
{
	char buf[8];

	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_WRITE));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_WRITE, events_of(self->sv[0], self->efd));

	ASSERT_EQ(4, send(self->sv[1], "data", 4, 0));
	EXPECT_FALSE(signalled(self->efd, 2 * QUIET_MS));

	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_READ | SS_FD_WRITE));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_READ, events_of(self->sv[0], self->efd));
	ASSERT_EQ(4, recv(self->sv[0], buf, sizeof(buf), 0));
}

TEST_F(any, enum_leaves_events_outside_the_mask)
{
	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_READ));
	/* FD_WRITE is recorded (not selected); data makes FD_READ. */
	ASSERT_EQ(4, send(self->sv[1], "data", 4, 0));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_READ, events_of(self->sv[0], self->efd));
	EXPECT_EQ(0, events_of(self->sv[0], self->efd));

	/* The FD_WRITE is still there once selected. */
	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_READ | SS_FD_WRITE));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_WRITE, events_of(self->sv[0], self->efd));
}

struct sender {
	int fd;
	size_t total;
	int err;
};

static void *sender_main(void *arg)
{
	struct sender *s = arg;
	unsigned char buf[1000];
	size_t off = 0, n, i;
	ssize_t r;

	while (off < s->total) {
		n = s->total - off < sizeof(buf) ? s->total - off : sizeof(buf);
		for (i = 0; i < n; i++)
			buf[i] = pattern(off + i);
		r = send(s->fd, buf, n, MSG_NOSIGNAL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			s->err = errno;
			break;
		}
		off += r;
	}
	return NULL;
}

/*
 * The Winsock loop: wait on the event, enumerate, read ONE chunk of 1000
 * bytes per FD_READ.  It must receive the whole stream and never stall.
 */
TEST_F(stream, one_recv_per_read_event_drains_1mb)
{
	struct sender s = { .fd = self->sv[1], .total = 1 << 20 };
	unsigned char buf[1000];
	size_t got = 0, i;
	long long progress;
	pthread_t th;
	long ev;
	ssize_t n;
	bool ok = true;

	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_READ | SS_FD_CLOSE));
	ASSERT_EQ(0, pthread_create(&th, NULL, sender_main, &s));
	progress = now_ms();
	while (got < s.total && ok) {
		if (now_ms() - progress > STALL_MS) {
			TH_LOG("stalled after %zu of %zu bytes", got, s.total);
			ok = false;
			break;
		}
		if (!signalled(self->efd, 100))
			continue;
		ev = events_of(self->sv[0], self->efd);
		if (ev < 0 || (ev & ~SS_FD_READ)) {
			TH_LOG("unexpected events %#lx after %zu bytes", ev, got);
			ok = false;
			break;
		}
		if (!(ev & SS_FD_READ))
			continue;
		n = recv(self->sv[0], buf, sizeof(buf), 0);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n <= 0) {
			TH_LOG("recv: %zd (%s) after %zu bytes", n, strerror(errno), got);
			ok = false;
			break;
		}
		for (i = 0; i < (size_t)n; i++)
			if (buf[i] != pattern(got + i))
				break;
		if (i != (size_t)n) {
			TH_LOG("corrupt byte at %zu", got + i);
			ok = false;
			break;
		}
		got += n;
		progress = now_ms();
	}
	if (!ok)	/* unblock the sender */
		shutdown(self->sv[0], SHUT_RDWR);
	pthread_join(th, NULL);
	EXPECT_TRUE(ok);
	EXPECT_EQ(s.total, got);
	EXPECT_EQ(0, s.err);
	/* Everything was read: no FD_READ is left over. */
	signalled(self->efd, QUIET_MS);
	EXPECT_EQ(0, events_of(self->sv[0], self->efd));
}

/* --- OOB --- */

TEST_F(tcp, oob_recorded_and_reenabled_by_recv_oob)
{
	char c;

	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_READ | SS_FD_OOB));
	EXPECT_FALSE(signalled(self->efd, QUIET_MS));

	ASSERT_EQ(1, send(self->sv[1], "A", 1, MSG_OOB));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_OOB, events_of(self->sv[0], self->efd));

	/* Not recorded again before recv(MSG_OOB). */
	ASSERT_EQ(1, send(self->sv[1], "B", 1, MSG_OOB));
	EXPECT_FALSE(signalled(self->efd, 2 * QUIET_MS));
	EXPECT_EQ(0, events_of(self->sv[0], self->efd) & SS_FD_OOB);

	ASSERT_EQ(1, recv(self->sv[0], &c, 1, MSG_OOB));
	EXPECT_EQ('B', c);
	EXPECT_FALSE(signalled(self->efd, QUIET_MS));

	/* Re-enabled. */
	ASSERT_EQ(1, send(self->sv[1], "C", 1, MSG_OOB));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_OOB, events_of(self->sv[0], self->efd) & SS_FD_OOB);
	ASSERT_EQ(1, recv(self->sv[0], &c, 1, MSG_OOB));
	EXPECT_EQ('C', c);
}

/*
 * Normal data behind an urgent mark is data: recv() stops at the mark and
 * the next recv() returns what follows it, so FD_READ must come back for
 * it (a loop reading one chunk per FD_READ would otherwise stall there).
 */
TEST_F(tcp, data_behind_urgent_mark_reports_read)
{
	char buf[8], c;

	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_READ | SS_FD_OOB));
	ASSERT_EQ(1, send(self->sv[1], "x", 1, 0));
	ASSERT_EQ(1, send(self->sv[1], "a", 1, MSG_OOB));
	ASSERT_EQ(2, send(self->sv[1], "bc", 2, 0));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	/* the first event signals: the other may come a moment later */
	ASSERT_TRUE(recorded_within(self->sv[0], SS_FD_READ | SS_FD_OOB, FIRES_MS));
	EXPECT_EQ(SS_FD_READ | SS_FD_OOB, events_of(self->sv[0], self->efd));

	ASSERT_EQ(1, recv(self->sv[0], buf, sizeof(buf), MSG_DONTWAIT));
	EXPECT_EQ('x', buf[0]);
	/* Re-enabled, and "bc" is still there behind the mark. */
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_READ, events_of(self->sv[0], self->efd) & SS_FD_READ);
	ASSERT_EQ(1, recv(self->sv[0], &c, 1, MSG_OOB));
	EXPECT_EQ('a', c);
	ASSERT_EQ(2, recv(self->sv[0], buf, sizeof(buf), MSG_DONTWAIT));
	EXPECT_EQ(0, memcmp(buf, "bc", 2));
	/* All read: no FD_READ for the urgent byte left in the stream. */
	signalled(self->efd, QUIET_MS);
	EXPECT_EQ(0, events_of(self->sv[0], self->efd) & SS_FD_READ);
}

/* The urgent byte alone is FD_OOB only; data sent after it is FD_READ. */
TEST_F(tcp, data_after_urgent_byte_reports_read)
{
	char buf[8], c;

	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_READ | SS_FD_OOB));
	ASSERT_EQ(1, send(self->sv[1], "a", 1, MSG_OOB));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	usleep(QUIET_MS * 1000);
	EXPECT_EQ(SS_FD_OOB, events_of(self->sv[0], self->efd));
	ASSERT_EQ(1, recv(self->sv[0], &c, 1, MSG_OOB));
	EXPECT_EQ('a', c);

	ASSERT_EQ(2, send(self->sv[1], "bc", 2, 0));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_READ, events_of(self->sv[0], self->efd));
	ASSERT_EQ(2, recv(self->sv[0], buf, sizeof(buf), MSG_DONTWAIT));
	EXPECT_EQ(0, memcmp(buf, "bc", 2));
}

TEST_F(tcp, oobinline_reports_read_not_oob)
{
	int one = 1;
	char c;

	ASSERT_EQ(0, setsockopt(self->sv[0], SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one)));
	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_READ | SS_FD_OOB));
	ASSERT_EQ(1, send(self->sv[1], "X", 1, MSG_OOB));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_READ, events_of(self->sv[0], self->efd));
	ASSERT_EQ(1, recv(self->sv[0], &c, 1, 0));
	EXPECT_EQ('X', c);
	EXPECT_FALSE(signalled(self->efd, QUIET_MS));
	EXPECT_EQ(0, events_of(self->sv[0], self->efd));
}

/* --- close --- */

TEST_F(stream, peer_close_reports_close)
{
	struct ss_network_events ne;

	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_READ | SS_FD_CLOSE));
	EXPECT_FALSE(signalled(self->efd, QUIET_MS));
	close(self->sv[1]);
	self->sv[1] = -1;
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_CLOSE, fetch(self->sv[0], self->efd, &ne));
	EXPECT_EQ(0, ne.error_code[SS_FD_CLOSE_BIT]);
	EXPECT_EQ(0x55555555, ne.error_code[SS_FD_READ_BIT]);
	/* Once. */
	EXPECT_FALSE(signalled(self->efd, QUIET_MS));
	EXPECT_EQ(0, events_of(self->sv[0], self->efd));
}

/*
 * FD_CLOSE as soon as the peer closes, with data still unread, as Windows
 * does (test_close_events, "Test sending data before calling
 * closesocket()"); FD_READ reports the data, and a recv() that leaves some
 * reports it again.
 */
TEST_F(stream, close_reported_while_data_unread)
{
	struct ss_network_events ne;
	char buf[16];

	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_READ | SS_FD_CLOSE));
	ASSERT_EQ(5, send(self->sv[1], "hello", 5, 0));
	ASSERT_EQ(5, send(self->sv[1], "world", 5, 0));
	close(self->sv[1]);
	self->sv[1] = -1;
	ASSERT_TRUE(rdhup_within(self->sv[0], FIRES_MS));
	ASSERT_TRUE(inq_at_least(self->sv[0], 10, FIRES_MS));

	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_READ | SS_FD_CLOSE, fetch(self->sv[0], self->efd, &ne));
	EXPECT_EQ(0, ne.error_code[SS_FD_CLOSE_BIT]);
	EXPECT_FALSE(signalled(self->efd, QUIET_MS));
	EXPECT_EQ(0, events_of(self->sv[0], self->efd));

	/* Half the data read: FD_READ again, and FD_CLOSE only once. */
	ASSERT_EQ(5, recv(self->sv[0], buf, 5, 0));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_READ, events_of(self->sv[0], self->efd));

	/* All read: nothing more. */
	ASSERT_EQ(5, recv(self->sv[0], buf, 5, 0));
	EXPECT_EQ(0, recv(self->sv[0], buf, sizeof(buf), 0));
	EXPECT_FALSE(signalled(self->efd, QUIET_MS));
	EXPECT_EQ(0, events_of(self->sv[0], self->efd));
}

TEST_F(tcp, peer_reset_reports_close_with_econnreset)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct ss_network_events ne;

	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_READ | SS_FD_CLOSE));
	ASSERT_EQ(0, setsockopt(self->sv[1], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
	close(self->sv[1]);
	self->sv[1] = -1;
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_CLOSE, fetch(self->sv[0], self->efd, &ne));
	EXPECT_EQ(ECONNRESET, ne.error_code[SS_FD_CLOSE_BIT]);
	EXPECT_FALSE(signalled(self->efd, QUIET_MS));
}

/*
 * A connection reset before the registration: the condition holds, so
 * FD_CLOSE is recorded at once, with the reset's error, and no FD_WRITE
 * (nothing can be sent on it).
 */
TEST_F(tcp, reset_before_registration_reports_close_at_once)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct ss_network_events ne;
	struct pollfd pfd = { .fd = self->sv[0], .events = POLLIN };

	ASSERT_EQ(0, setsockopt(self->sv[1], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
	close(self->sv[1]);
	self->sv[1] = -1;
	ASSERT_EQ(1, poll(&pfd, 1, FIRES_MS));
	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd,
				     SS_FD_READ | SS_FD_WRITE | SS_FD_CLOSE));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_CLOSE, fetch(self->sv[0], self->efd, &ne));
	EXPECT_EQ(ECONNRESET, ne.error_code[SS_FD_CLOSE_BIT]);
	EXPECT_FALSE(signalled(self->efd, QUIET_MS));
}

/* Both sides shut down before the registration: FD_CLOSE at once, no error. */
TEST_F(tcp, closed_both_ways_before_registration_reports_close_at_once)
{
	struct ss_network_events ne;
	char c;

	ASSERT_EQ(0, shutdown(self->sv[0], SHUT_WR));
	close(self->sv[1]);
	self->sv[1] = -1;
	ASSERT_EQ(0, recv(self->sv[0], &c, 1, 0));	/* the peer's FIN */
	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_READ | SS_FD_CLOSE));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_CLOSE, fetch(self->sv[0], self->efd, &ne));
	EXPECT_EQ(0, ne.error_code[SS_FD_CLOSE_BIT]);
	EXPECT_FALSE(signalled(self->efd, QUIET_MS));
}

TEST_F(stream, local_shutdown_wr_no_close_registration_kept)
{
	struct ss_network_events ne;
	char c;

	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd,
				     SS_FD_READ | SS_FD_WRITE | SS_FD_CLOSE));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_WRITE, events_of(self->sv[0], self->efd));

	ASSERT_EQ(0, shutdown(self->sv[0], SHUT_WR));
	EXPECT_FALSE(signalled(self->efd, 2 * QUIET_MS));
	EXPECT_EQ(0, events_of(self->sv[0], self->efd));

	/* Still registered: the peer's data and close are reported. */
	ASSERT_EQ(1, send(self->sv[1], "x", 1, 0));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_READ, events_of(self->sv[0], self->efd));
	ASSERT_EQ(1, recv(self->sv[0], &c, 1, 0));
	close(self->sv[1]);
	self->sv[1] = -1;
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_CLOSE, fetch(self->sv[0], self->efd, &ne));
	EXPECT_EQ(0, ne.error_code[SS_FD_CLOSE_BIT]);
}

TEST_F(stream, local_shutdown_rd_no_close_registration_kept)
{
	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd,
				     SS_FD_READ | SS_FD_WRITE | SS_FD_CLOSE));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_WRITE, events_of(self->sv[0], self->efd));

	ASSERT_EQ(0, shutdown(self->sv[0], SHUT_RD));
	EXPECT_FALSE(signalled(self->efd, 2 * QUIET_MS));
	EXPECT_EQ(0, events_of(self->sv[0], self->efd));

	/* Still registered: FD_WRITE after EAGAIN and the peer draining. */
	fill_settled(_metadata, self->sv[0], self->efd);
	ASSERT_TRUE(drain_until_signalled(self->sv[1], self->efd, STALL_MS));
	EXPECT_EQ(SS_FD_WRITE, events_of(self->sv[0], self->efd));
}

/* --- enum --- */

TEST_F(stream, enum_resets_eventfd_even_when_nothing_reported)
{
	struct ss_network_events ne;

	/* FD_WRITE is recorded but not selected. */
	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_READ));
	EXPECT_FALSE(signalled(self->efd, QUIET_MS));
	ASSERT_EQ(0, eventfd_write(self->efd, 1));
	ASSERT_TRUE(signalled(self->efd, 0));
	EXPECT_EQ(0, fetch(self->sv[0], self->efd, &ne));
	EXPECT_EQ(0x55555555, ne.error_code[SS_FD_WRITE_BIT]);
	EXPECT_FALSE(signalled(self->efd, 0));
}

TEST(enum_resets_eventfd_on_unregistered_socket)
{
	int sv[2], efd;

	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, sv));
	efd = new_eventfd();
	ASSERT_EQ(0, eventfd_write(efd, 3));
	EXPECT_EQ(0, events_of(sv[0], efd));
	EXPECT_FALSE(signalled(efd, 0));
	close(sv[0]);
	close(sv[1]);
	close(efd);
}

TEST_F(stream, enum_without_eventfd_leaves_it_signalled)
{
	struct ss_network_events ne;

	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_READ | SS_FD_WRITE));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_WRITE, fetch(self->sv[0], -1, &ne));
	EXPECT_EQ(0, ne.error_code[SS_FD_WRITE_BIT]);
	EXPECT_TRUE(signalled(self->efd, 0));
	/* Fetched: gone; the eventfd is reset by the next enum with it. */
	EXPECT_EQ(0, events_of(self->sv[0], self->efd));
	EXPECT_FALSE(signalled(self->efd, 0));
}

TEST_F(tcp, enum_writes_only_error_slots_of_reported_events)
{
	struct ss_network_events ne;
	int bit;

	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_ALL_EVENTS));
	ASSERT_EQ(1, send(self->sv[1], "x", 1, 0));
	ASSERT_TRUE(inq_at_least(self->sv[0], 1, FIRES_MS));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	/* The client connected before its registration: FD_CONNECT too. */
	ASSERT_EQ(SS_FD_READ | SS_FD_WRITE | SS_FD_CONNECT,
		  fetch(self->sv[0], self->efd, &ne));
	for (bit = 0; bit < SS_FD_MAX_EVENTS; bit++) {
		if (bit == SS_FD_READ_BIT || bit == SS_FD_WRITE_BIT ||
		    bit == SS_FD_CONNECT_BIT) {
			EXPECT_EQ(0, ne.error_code[bit]);
		} else {
			EXPECT_EQ(0x55555555, ne.error_code[bit]) TH_LOG("slot %d", bit);
		}
	}
	/* Nothing reported: nothing written at all. */
	EXPECT_EQ(0, fetch(self->sv[0], self->efd, &ne));
	for (bit = 0; bit < SS_FD_MAX_EVENTS; bit++)
		EXPECT_EQ(0x55555555, ne.error_code[bit]) TH_LOG("slot %d", bit);
}

TEST_F(stream, enum_bad_eventfd_changes_nothing)
{
	struct ss_network_events ne, untouched;
	int p[2], bad;

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	bad = closed_fd();
	memset(&untouched, 0x55, sizeof(untouched));
	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_READ | SS_FD_WRITE));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));

	memset(&ne, 0x55, sizeof(ne));
	EXPECT_EQ(-1, ss_enum_network_events(self->sv[0], p[0], &ne));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ss_enum_network_events(self->sv[0], bad, &ne));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ss_enum_network_events(self->sv[0], self->sv[1], &ne));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, memcmp(&ne, &untouched, sizeof(ne)));

	/* The event and the signal are still there. */
	EXPECT_TRUE(signalled(self->efd, 0));
	EXPECT_EQ(SS_FD_WRITE, fetch(self->sv[0], self->efd, &ne));
	EXPECT_EQ(0, ne.error_code[SS_FD_WRITE_BIT]);
	close(p[0]);
	close(p[1]);
}

TEST_F(stream, enum_null_ne_is_efault)
{
	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_READ | SS_FD_WRITE));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(-1, ss_enum_network_events(self->sv[0], self->efd, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_TRUE(signalled(self->efd, 0));
	EXPECT_EQ(SS_FD_WRITE, events_of(self->sv[0], self->efd));
}

/* The kernel cannot write its answer: EFAULT, and the events stay. */
TEST_F(tcp, enum_unwritable_answer_keeps_events)
{
	struct sharedsock_enum *args;
	int dev;

	dev = dev_open();
	ASSERT_LE(0, dev);
	args = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, args);
	args->size = sizeof(*args);
	args->fd = self->sv[0];
	args->eventfd = self->efd;
	ASSERT_EQ(0, mprotect(args, 4096, PROT_READ));

	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_READ | SS_FD_WRITE));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(-1, ioctl(dev, SHAREDSOCK_IOC_ENUM, args));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_TRUE(signalled(self->efd, 0));
	EXPECT_EQ(SS_FD_WRITE, events_of(self->sv[0], self->efd));
	munmap(args, 4096);
	close(dev);
}

TEST(enum_bad_socket)
{
	struct ss_network_events ne;
	int efd = new_eventfd();

	ASSERT_LE(0, efd);
	EXPECT_EQ(-1, ss_enum_network_events(efd, -1, &ne));
	EXPECT_EQ(ENOTSOCK, errno);
	EXPECT_EQ(-1, ss_enum_network_events(closed_fd(), -1, &ne));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, ss_enum_network_events(-1, efd, &ne));
	EXPECT_EQ(EBADF, errno);
	close(efd);
}

/* --- registration --- */

TEST_F(any, mask_zero_cancels_but_keeps_recorded_events)
{
	char buf[8];

	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_READ | SS_FD_WRITE));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_WRITE, events_of(self->sv[0], self->efd));

	ASSERT_EQ(0, ss_event_select(self->sv[0], -1, 0));
	ASSERT_EQ(4, send(self->sv[1], "data", 4, 0));
	EXPECT_FALSE(signalled(self->efd, 2 * QUIET_MS));
	EXPECT_EQ(0, events_of(self->sv[0], self->efd));
	EXPECT_EQ(0, events_of(self->sv[0], -1));

	/* Selected again: the FD_READ recorded meanwhile is reported. */
	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_READ | SS_FD_WRITE));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_READ, events_of(self->sv[0], self->efd));
	ASSERT_EQ(4, recv(self->sv[0], buf, sizeof(buf), 0));
}

TEST_F(any, mask_zero_signals_nothing_more)
{
	int efd2 = new_eventfd();

	ASSERT_LE(0, efd2);
	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_READ));
	/* Cancel, naming an eventfd (it is ignored with mask 0). */
	ASSERT_EQ(0, ss_event_select(self->sv[0], efd2, 0));
	ASSERT_EQ(4, send(self->sv[1], "data", 4, 0));
	ASSERT_TRUE(inq_at_least(self->sv[0], 1, FIRES_MS));
	EXPECT_FALSE(signalled(self->efd, 2 * QUIET_MS));
	EXPECT_FALSE(signalled(efd2, 0));
	close(efd2);
}

TEST_F(any, any_registration_sets_nonblock)
{
	int fl = fcntl(self->sv[0], F_GETFL);

	ASSERT_EQ(0, fl & O_NONBLOCK);
	/* Mask 0 and eventfd -1, on a never registered socket. */
	ASSERT_EQ(0, ss_event_select(self->sv[0], -1, 0));
	EXPECT_NE(0, fcntl(self->sv[0], F_GETFL) & O_NONBLOCK);

	/* A real registration too, and a cancellation of it. */
	ASSERT_EQ(0, fcntl(self->sv[1], F_SETFL, fcntl(self->sv[1], F_GETFL) & ~O_NONBLOCK));
	ASSERT_EQ(0, ss_event_select(self->sv[1], self->efd, SS_FD_READ));
	EXPECT_NE(0, fcntl(self->sv[1], F_GETFL) & O_NONBLOCK);
	ASSERT_EQ(0, fcntl(self->sv[1], F_SETFL, fcntl(self->sv[1], F_GETFL) & ~O_NONBLOCK));
	ASSERT_EQ(0, ss_event_select(self->sv[1], -1, 0));
	EXPECT_NE(0, fcntl(self->sv[1], F_GETFL) & O_NONBLOCK);
}

TEST_F(stream, bad_eventfd_is_einval_and_keeps_registration)
{
	int p[2], bad;

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	bad = closed_fd();
	/* Mask FD_READ: the recorded FD_WRITE is not selected. */
	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_READ));

	EXPECT_EQ(-1, ss_event_select(self->sv[0], -1, SS_FD_WRITE));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ss_event_select(self->sv[0], p[0], SS_FD_WRITE));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ss_event_select(self->sv[0], bad, SS_FD_WRITE));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ss_event_select(self->sv[0], self->sv[1], SS_FD_WRITE));
	EXPECT_EQ(EINVAL, errno);

	/* Neither the eventfd nor the mask changed. */
	EXPECT_FALSE(signalled(self->efd, QUIET_MS));
	EXPECT_EQ(0, events_of(self->sv[0], self->efd));
	ASSERT_EQ(1, send(self->sv[1], "x", 1, 0));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_READ, events_of(self->sv[0], self->efd));
	close(p[0]);
	close(p[1]);
}

TEST_F(tcp, mask_above_all_events_is_einval)
{
	struct sharedsock_select args = {
		.size = sizeof(args), .fd = self->sv[0],
		.sink = SHAREDSOCK_SINK_EVENTFD, .sink_fd = self->efd,
		.events = SHAREDSOCK_FD_ALL_EVENTS | 0x400,
	};
	int dev;

	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_READ));
	EXPECT_EQ(-1, ss_event_select(self->sv[0], self->efd, 0x400));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ss_event_select(self->sv[0], self->efd, SS_FD_ALL_EVENTS | 0x400));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ss_event_select(self->sv[0], self->efd, -1L));
	EXPECT_EQ(EINVAL, errno);
	/* The kernel checks too. */
	dev = dev_open();
	ASSERT_LE(0, dev);
	EXPECT_EQ(-1, ioctl(dev, SHAREDSOCK_IOC_SELECT, &args));
	EXPECT_EQ(EINVAL, errno);
	args.events = 0x80000000u;
	EXPECT_EQ(-1, ioctl(dev, SHAREDSOCK_IOC_SELECT, &args));
	EXPECT_EQ(EINVAL, errno);
	close(dev);

	/* The registration is unchanged: FD_READ only. */
	EXPECT_FALSE(signalled(self->efd, QUIET_MS));
	ASSERT_EQ(1, send(self->sv[1], "x", 1, 0));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_READ, events_of(self->sv[0], self->efd));
}

TEST_F(any, all_ten_bits_accepted)
{
	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_ALL_EVENTS));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_WRITE | CONNECTED_BEFORE(variant),
		  events_of(self->sv[0], self->efd));
	ASSERT_EQ(1, send(self->sv[1], "x", 1, 0));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_READ, events_of(self->sv[0], self->efd));
}

TEST(select_not_a_socket_or_bad_fd)
{
	int efd = new_eventfd(), p[2];

	ASSERT_LE(0, efd);
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	EXPECT_EQ(-1, ss_event_select(p[0], efd, SS_FD_READ));
	EXPECT_EQ(ENOTSOCK, errno);
	EXPECT_EQ(-1, ss_event_select(efd, efd, SS_FD_READ));
	EXPECT_EQ(ENOTSOCK, errno);
	EXPECT_EQ(-1, ss_event_select(p[0], -1, 0));
	EXPECT_EQ(ENOTSOCK, errno);
	EXPECT_EQ(-1, ss_event_select(-1, efd, SS_FD_READ));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, ss_event_select(closed_fd(), efd, SS_FD_READ));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, ss_event_select(closed_fd(), -1, 0));
	EXPECT_EQ(EBADF, errno);
	/* The pipe was left as it was. */
	EXPECT_EQ(0, fcntl(p[0], F_GETFL) & O_NONBLOCK);
	close(p[0]);
	close(p[1]);
	close(efd);
}

TEST_F(stream, reselect_does_not_rereport_fetched_events)
{
	char buf[8];

	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_READ | SS_FD_WRITE));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_WRITE, events_of(self->sv[0], self->efd));
	/* Two records (seqpacket reads one per recv), 4 bytes in all. */
	ASSERT_EQ(2, send(self->sv[1], "da", 2, 0));
	ASSERT_EQ(2, send(self->sv[1], "ta", 2, 0));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_READ, events_of(self->sv[0], self->efd));
	ASSERT_TRUE(inq_at_least(self->sv[0], 4, FIRES_MS));

	/* Writable and readable still, but both were fetched. */
	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_READ | SS_FD_WRITE));
	EXPECT_FALSE(signalled(self->efd, 2 * QUIET_MS));
	EXPECT_EQ(0, events_of(self->sv[0], self->efd));

	/*
	 * With another mask too; only the connect, recorded while masked out
	 * and never fetched, is reported now.
	 */
	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_ALL_EVENTS));
	EXPECT_EQ(!!CONNECTED_BEFORE(variant), signalled(self->efd, QUIET_MS));
	EXPECT_EQ(CONNECTED_BEFORE(variant), events_of(self->sv[0], self->efd));

	/* The registration works: a recv re-enables FD_READ. */
	ASSERT_EQ(2, recv(self->sv[0], buf, 2, 0));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_READ, events_of(self->sv[0], self->efd));
}

TEST_F(stream, reselect_keeps_unfetched_events)
{
	int efd2 = new_eventfd();

	ASSERT_LE(0, efd2);
	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_READ | SS_FD_WRITE));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	ASSERT_EQ(4, send(self->sv[1], "data", 4, 0));
	ASSERT_TRUE(inq_at_least(self->sv[0], 4, FIRES_MS));

	/* Recorded, not fetched; a new registration with another eventfd. */
	ASSERT_EQ(0, ss_event_select(self->sv[0], efd2, SS_FD_READ | SS_FD_WRITE));
	ASSERT_TRUE(signalled(efd2, FIRES_MS));
	EXPECT_EQ(SS_FD_READ | SS_FD_WRITE, events_of(self->sv[0], efd2));
	EXPECT_FALSE(signalled(efd2, 0));
	close(efd2);
}

TEST_F(any, registration_through_dup_replaces_the_first)
{
	int efd2 = new_eventfd(), d;

	ASSERT_LE(0, efd2);
	d = dup(self->sv[0]);
	ASSERT_LE(0, d);
	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_READ));
	ASSERT_EQ(0, ss_event_select(d, efd2, SS_FD_READ));

	ASSERT_EQ(4, send(self->sv[1], "data", 4, 0));
	ASSERT_TRUE(signalled(efd2, FIRES_MS));
	EXPECT_FALSE(signalled(self->efd, 2 * QUIET_MS));
	/* Either descriptor fetches the socket's events. */
	EXPECT_EQ(SS_FD_READ, events_of(self->sv[0], efd2));
	EXPECT_FALSE(signalled(efd2, 0));
	close(d);

	/* Closing the dup is not the socket's last close: still registered. */
	ASSERT_EQ(4, recv(self->sv[0], (char[8]){0}, 8, 0));
	ASSERT_EQ(4, send(self->sv[1], "more", 4, 0));
	ASSERT_TRUE(signalled(efd2, FIRES_MS));
	EXPECT_FALSE(signalled(self->efd, 0));
	EXPECT_EQ(SS_FD_READ, events_of(self->sv[0], efd2));
	close(efd2);
}

/* Through a descriptor redeemed from a token: another file, same socket. */
TEST_F(stream, registration_through_duplicate_replaces_the_first)
{
	struct ss_protocol_info info;
	int efd2 = new_eventfd(), d;

	ASSERT_LE(0, efd2);
	ASSERT_EQ(0, ss_duplicate_socket(self->sv[0], getpid(), &info));
	d = ss_socket_from_info(&info, O_CLOEXEC);
	ASSERT_LE(0, d);
	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_READ));
	ASSERT_EQ(0, ss_event_select(d, efd2, SS_FD_READ));

	ASSERT_EQ(4, send(self->sv[1], "data", 4, 0));
	ASSERT_TRUE(signalled(efd2, FIRES_MS));
	EXPECT_FALSE(signalled(self->efd, 2 * QUIET_MS));
	EXPECT_EQ(SS_FD_READ, events_of(d, efd2));
	close(d);
	close(efd2);
}

/* By another process: its registration replaces this one's. */
TEST_F(stream, registration_by_another_process_replaces_the_first)
{
	int efd2 = new_eventfd();
	pid_t pid;

	ASSERT_LE(0, efd2);
	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd, SS_FD_READ));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(ss_event_select(self->sv[0], efd2, SS_FD_READ) ? 1 : 0);
	ASSERT_EQ(0, wait_exit(pid));

	ASSERT_EQ(4, send(self->sv[1], "data", 4, 0));
	ASSERT_TRUE(signalled(efd2, FIRES_MS));
	EXPECT_FALSE(signalled(self->efd, 2 * QUIET_MS));
	EXPECT_EQ(SS_FD_READ, events_of(self->sv[0], efd2));
	close(efd2);
}

/* --- datagrams --- */

TEST_F(dgram, write_at_registration_read_per_datagram)
{
	struct ss_network_events ne;
	char buf[16];

	ASSERT_EQ(0, ss_event_select(self->sv[0], self->efd,
				     SS_FD_READ | SS_FD_WRITE | SS_FD_CLOSE));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_WRITE, fetch(self->sv[0], self->efd, &ne));
	EXPECT_EQ(0, ne.error_code[SS_FD_WRITE_BIT]);

	/* Sends succeed: no FD_WRITE again. */
	ASSERT_EQ(3, send(self->sv[0], "out", 3, 0));
	EXPECT_FALSE(signalled(self->efd, QUIET_MS));
	ASSERT_EQ(3, recv(self->sv[1], buf, sizeof(buf), 0));

	ASSERT_EQ(3, send(self->sv[1], "one", 3, 0));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_READ, fetch(self->sv[0], self->efd, &ne));
	EXPECT_EQ(0, ne.error_code[SS_FD_READ_BIT]);
	ASSERT_EQ(3, send(self->sv[1], "two", 3, 0));
	EXPECT_FALSE(signalled(self->efd, QUIET_MS));

	/* One datagram read, one left: FD_READ again at once. */
	ASSERT_EQ(3, recv(self->sv[0], buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, "one", 3));
	ASSERT_TRUE(signalled(self->efd, FIRES_MS));
	EXPECT_EQ(SS_FD_READ, events_of(self->sv[0], self->efd));
	ASSERT_EQ(3, recv(self->sv[0], buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, "two", 3));
	EXPECT_FALSE(signalled(self->efd, QUIET_MS));
	EXPECT_EQ(0, events_of(self->sv[0], self->efd));

	/* No FD_CLOSE for datagrams. */
	close(self->sv[1]);
	self->sv[1] = -1;
	EXPECT_FALSE(signalled(self->efd, 2 * QUIET_MS));
	EXPECT_EQ(0, events_of(self->sv[0], self->efd));
}

TEST_HARNESS_MAIN
