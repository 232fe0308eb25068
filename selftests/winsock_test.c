// SPDX-License-Identifier: GPL-2.0
/*
 * The Winsock names of <sharedsock/winsock.h>: check order and error
 * numbers of WSADuplicateSocketA / WSASocketA, the thread-local last
 * error, event objects and WSAWaitForMultipleEvents, WSAEventSelect /
 * WSAEnumNetworkEvents / WSAAsyncSelect error translation, ioctlsocket and
 * closesocket; and a ported Windows program (winsock_port.c) run end to
 * end across two processes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sharedsock/winsock.h>

#include "common.h"
#include "kselftest_harness.h"

#define FIRES_MS	WAIT_MS	/* a hang guard: the wait ends with the event */
#define QUIET_MS	150

/* --- Helpers --- */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* @fd is readable within @ms milliseconds. */
static bool readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

/* A descriptor number that refers to nothing. */
static int closed_fd(void)
{
	int fd = dup(0);

	if (fd >= 0)
		close(fd);
	return fd;
}

/* The pid of a process that has exited and been reaped. */
static pid_t dead_pid(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return pid;
}

static bool is_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFD);

	return fl >= 0 && (fl & FD_CLOEXEC);
}

static bool is_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && (fl & O_NONBLOCK);
}

static bool is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* A TCP port on loopback that is bound but not listening: connects are refused. */
static int refusing_port(struct sockaddr_in *addr)
{
	socklen_t len = sizeof(*addr);
	int r = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (r < 0 || bind(r, (void *)addr, sizeof(*addr)) ||
	    getsockname(r, (void *)addr, &len))
		return -1;
	return r;
}

/* Duplicate @s to ourselves and redeem it: the new descriptor, or -1. */
static int self_duplicate(int s)
{
	WSAPROTOCOL_INFOA info;

	if (WSADuplicateSocketA(s, getpid(), &info) == SOCKET_ERROR)
		return -1;
	return WSASocketA(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
			  FROM_PROTOCOL_INFO, &info, 0, 0);
}

/* Reset the peer's end of a TCP connection (RST, not FIN). */
static int reset_close(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)))
		return -1;
	return close(fd);
}

#define FILL_55(x) memset(&(x), 0x55, sizeof(x))

/* --- Constants and WSAStartup --- */

TEST(constants_have_windows_values)
{
	EXPECT_EQ(-1, (int)INVALID_SOCKET);
	EXPECT_EQ(-1, SOCKET_ERROR);
	EXPECT_EQ(-1, FROM_PROTOCOL_INFO);
	EXPECT_EQ(-1, WSA_INVALID_EVENT);
	EXPECT_EQ(64, WSA_MAXIMUM_WAIT_EVENTS);
	EXPECT_EQ(0, WSA_WAIT_EVENT_0);
	EXPECT_EQ(258, WSA_WAIT_TIMEOUT);
	EXPECT_EQ(0xFFFFFFFFU, WSA_WAIT_FAILED);
	EXPECT_EQ(0xFFFFFFFFU, WSA_INFINITE);
	EXPECT_EQ(0x0202, MAKEWORD(2, 2));
	EXPECT_EQ(0x0101, MAKEWORD(1, 1));
	EXPECT_EQ(0x001, FD_READ);
	EXPECT_EQ(0x002, FD_WRITE);
	EXPECT_EQ(0x004, FD_OOB);
	EXPECT_EQ(0x008, FD_ACCEPT);
	EXPECT_EQ(0x010, FD_CONNECT);
	EXPECT_EQ(0x020, FD_CLOSE);
	EXPECT_EQ(0x200, FD_ADDRESS_LIST_CHANGE);
	EXPECT_EQ(4, FD_CONNECT_BIT);
	EXPECT_EQ(5, FD_CLOSE_BIT);
	EXPECT_EQ(10, FD_MAX_EVENTS);
	EXPECT_EQ(0x3FF, FD_ALL_EVENTS);
	EXPECT_EQ(10004, WSAEINTR);
	EXPECT_EQ(10009, WSAEBADF);
	EXPECT_EQ(10013, WSAEACCES);
	EXPECT_EQ(10014, WSAEFAULT);
	EXPECT_EQ(10022, WSAEINVAL);
	EXPECT_EQ(10024, WSAEMFILE);
	EXPECT_EQ(10035, WSAEWOULDBLOCK);
	EXPECT_EQ(10036, WSAEINPROGRESS);
	EXPECT_EQ(10037, WSAEALREADY);
	EXPECT_EQ(10038, WSAENOTSOCK);
	EXPECT_EQ(10040, WSAEMSGSIZE);
	EXPECT_EQ(10043, WSAEPROTONOSUPPORT);
	EXPECT_EQ(10045, WSAEOPNOTSUPP);
	EXPECT_EQ(10047, WSAEAFNOSUPPORT);
	EXPECT_EQ(10048, WSAEADDRINUSE);
	EXPECT_EQ(10049, WSAEADDRNOTAVAIL);
	EXPECT_EQ(10050, WSAENETDOWN);
	EXPECT_EQ(10051, WSAENETUNREACH);
	EXPECT_EQ(10053, WSAECONNABORTED);
	EXPECT_EQ(10054, WSAECONNRESET);
	EXPECT_EQ(10055, WSAENOBUFS);
	EXPECT_EQ(10056, WSAEISCONN);
	EXPECT_EQ(10057, WSAENOTCONN);
	EXPECT_EQ(10058, WSAESHUTDOWN);
	EXPECT_EQ(10060, WSAETIMEDOUT);
	EXPECT_EQ(10061, WSAECONNREFUSED);
	EXPECT_EQ(10065, WSAEHOSTUNREACH);
	EXPECT_EQ(10093, WSANOTINITIALISED);
	/* Windows' layout: the structure crosses process boundaries as bytes. */
	EXPECT_EQ(372, sizeof(WSAPROTOCOL_INFOA));
	EXPECT_EQ(20, offsetof(WSAPROTOCOL_INFOA, ProviderId));
	EXPECT_EQ(36, offsetof(WSAPROTOCOL_INFOA, dwCatalogEntryId));
	EXPECT_EQ(40, offsetof(WSAPROTOCOL_INFOA, ProtocolChain));
	EXPECT_EQ(72, offsetof(WSAPROTOCOL_INFOA, iVersion));
	EXPECT_EQ(76, offsetof(WSAPROTOCOL_INFOA, iAddressFamily));
	EXPECT_EQ(92, offsetof(WSAPROTOCOL_INFOA, iProtocol));
	EXPECT_EQ(112, offsetof(WSAPROTOCOL_INFOA, dwProviderReserved));
	EXPECT_EQ(116, offsetof(WSAPROTOCOL_INFOA, szProtocol));
	EXPECT_EQ(10, sizeof(((WSANETWORKEVENTS *)0)->iErrorCode) / sizeof(int));
	/* Window-message packing. */
	EXPECT_EQ(FD_CLOSE, WSAGETSELECTEVENT(WSAMAKESELECTREPLY(FD_CLOSE, WSAECONNABORTED)));
	EXPECT_EQ(WSAECONNABORTED, WSAGETSELECTERROR(WSAMAKESELECTREPLY(FD_CLOSE, WSAECONNABORTED)));
}

TEST(startup_fills_wsadata)
{
	WSADATA data;

	FILL_55(data);
	ASSERT_EQ(0, WSAStartup(MAKEWORD(2, 2), &data));
	EXPECT_EQ(MAKEWORD(2, 2), data.wVersion);
	EXPECT_EQ(MAKEWORD(2, 2), data.wHighVersion);
	EXPECT_LT(0, strlen(data.szDescription));
	EXPECT_GE(WSADESCRIPTION_LEN, strlen(data.szDescription));
	EXPECT_GE(WSASYS_STATUS_LEN, strlen(data.szSystemStatus));
	EXPECT_EQ(NULL, data.lpVendorInfo);

	EXPECT_EQ(0, data.iMaxSockets);

	/* Windows' grants: 1.0, then any 1.x as 1.1, with 1.x limits; 2.0-2.2. */
	ASSERT_EQ(0, WSAStartup(MAKEWORD(1, 1), &data));
	EXPECT_EQ(MAKEWORD(1, 1), data.wVersion);
	EXPECT_EQ(MAKEWORD(2, 2), data.wHighVersion);
	EXPECT_EQ(32767, data.iMaxSockets);
	EXPECT_EQ(65467, data.iMaxUdpDg);
	ASSERT_EQ(0, WSAStartup(MAKEWORD(1, 2), &data));
	EXPECT_EQ(MAKEWORD(1, 1), data.wVersion);
	ASSERT_EQ(0, WSAStartup(MAKEWORD(1, 0), &data));
	EXPECT_EQ(MAKEWORD(1, 0), data.wVersion);
	ASSERT_EQ(0, WSAStartup(MAKEWORD(2, 0), &data));
	EXPECT_EQ(MAKEWORD(2, 0), data.wVersion);
	ASSERT_EQ(0, WSAStartup(MAKEWORD(2, 3), &data));
	EXPECT_EQ(MAKEWORD(2, 2), data.wVersion);
	ASSERT_EQ(0, WSAStartup(MAKEWORD(3, 0), &data));
	EXPECT_EQ(MAKEWORD(2, 2), data.wVersion);
	EXPECT_EQ(WSAEFAULT, WSAStartup(MAKEWORD(2, 2), NULL));

	/* 0.x is refused, even without data; the data says what 2.2 gives. */
	EXPECT_EQ(WSAVERNOTSUPPORTED, WSAStartup(MAKEWORD(0, 5), NULL));
	FILL_55(data);
	EXPECT_EQ(WSAVERNOTSUPPORTED, WSAStartup(MAKEWORD(0, 0), &data));
	EXPECT_EQ(MAKEWORD(2, 2), data.wVersion);
	EXPECT_EQ(MAKEWORD(2, 2), data.wHighVersion);

	EXPECT_EQ(0, WSACleanup());
	EXPECT_EQ(0, WSACleanup());
}

/* --- Last error --- */

/*
 * Values without an errno counterpart (12345, 23456, WSA_INVALID_HANDLE)
 * live only in the thread-local record; errno, itself per thread, cannot
 * stand in for it.
 */
struct error_thread {
	pthread_barrier_t *barrier;
	int initial;		/* WSAGetLastError() on entry */
	int after_set;		/* after WSASetLastError(23456) and main's checks */
	int after_fail;		/* after a failing WSACloseEvent */
	int after_dup;		/* after a failing WSADuplicateSocketA */
};

static void *error_thread_fn(void *arg)
{
	struct error_thread *t = arg;
	WSAPROTOCOL_INFOA info;
	int p[2];

	errno = 0;
	t->initial = WSAGetLastError();
	WSASetLastError(23456);
	pthread_barrier_wait(t->barrier);	/* 1: both have set theirs */
	pthread_barrier_wait(t->barrier);	/* 2: main has checked */
	t->after_set = WSAGetLastError();
	WSACloseEvent(closed_fd());
	t->after_fail = WSAGetLastError();
	if (pipe(p) == 0) {
		WSADuplicateSocketA(p[0], getpid(), &info);
		t->after_dup = WSAGetLastError();
		close(p[0]);
		close(p[1]);
	}
	pthread_barrier_wait(t->barrier);	/* 3: the thread failed */
	return NULL;
}

TEST(last_error_is_thread_local)
{
	struct error_thread t = { 0 };
	pthread_barrier_t barrier;
	pthread_t thread;

	ASSERT_EQ(0, pthread_barrier_init(&barrier, NULL, 2));
	t.barrier = &barrier;
	errno = 0;
	WSASetLastError(12345);
	ASSERT_EQ(0, pthread_create(&thread, NULL, error_thread_fn, &t));
	pthread_barrier_wait(&barrier);
	EXPECT_EQ(12345, WSAGetLastError());
	pthread_barrier_wait(&barrier);
	pthread_barrier_wait(&barrier);
	/* The thread's failures did not touch ours. */
	EXPECT_EQ(12345, WSAGetLastError());
	ASSERT_EQ(0, pthread_join(thread, NULL));
	EXPECT_EQ(0, t.initial);
	EXPECT_EQ(23456, t.after_set);
	EXPECT_EQ(WSA_INVALID_HANDLE, t.after_fail);
	EXPECT_EQ(WSAENOTSOCK, t.after_dup);
	EXPECT_EQ(12345, WSAGetLastError());
	pthread_barrier_destroy(&barrier);
}

TEST(last_error_set_and_get)
{
	WSASetLastError(WSAEWOULDBLOCK);
	EXPECT_EQ(WSAEWOULDBLOCK, WSAGetLastError());
	EXPECT_EQ(EAGAIN, errno);
	/* A number with no errno counterpart is kept as given. */
	WSASetLastError(12345);
	EXPECT_EQ(12345, WSAGetLastError());
	EXPECT_EQ(12345, WSAGetLastError());
	WSASetLastError(0);
	EXPECT_EQ(0, WSAGetLastError());
}

TEST(last_error_reports_libc_socket_calls)
{
	struct sockaddr_in addr;
	u_long on = 1;
	char c;
	int sv[2], r, s;

	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, sv));
	ASSERT_EQ(0, ioctlsocket(sv[0], FIONBIO, &on));

	/* recv on an empty non-blocking socket: WSAEWOULDBLOCK, as on Windows. */
	WSASetLastError(0);
	EXPECT_EQ(SOCKET_ERROR, recv(sv[0], &c, 1, 0));
	EXPECT_EQ(WSAEWOULDBLOCK, WSAGetLastError());

	/* A Winsock-layer failure afterwards wins, and stays. */
	EXPECT_EQ(SOCKET_ERROR, WSAEventSelect(closed_fd(), WSA_INVALID_EVENT, 0));
	EXPECT_EQ(WSAENOTSOCK, WSAGetLastError());
	EXPECT_EQ(WSAENOTSOCK, WSAGetLastError());

	/* A blocking connect to a closed port. */
	r = refusing_port(&addr);
	ASSERT_LE(0, r);
	s = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_LE(0, s);
	EXPECT_EQ(SOCKET_ERROR, connect(s, (SOCKADDR *)&addr, sizeof(addr)));
	EXPECT_EQ(WSAECONNREFUSED, WSAGetLastError());

	/* A non-blocking connect in progress is WSAEWOULDBLOCK to Windows code. */
	ASSERT_EQ(0, listen(r, 1));
	closesocket(s);
	s = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_EQ(0, ioctlsocket(s, FIONBIO, &on));
	if (connect(s, (SOCKADDR *)&addr, sizeof(addr)) == SOCKET_ERROR)
		EXPECT_EQ(WSAEWOULDBLOCK, WSAGetLastError());

	closesocket(s);
	closesocket(r);
	closesocket(sv[0]);
	closesocket(sv[1]);
}

TEST(errno_translation_table)
{
	EXPECT_EQ(0, ss_wsa_error(0));
	EXPECT_EQ(WSAENOTSOCK, ss_wsa_error(EBADF));
	EXPECT_EQ(WSAENOTSOCK, ss_wsa_error(ENOTSOCK));
	EXPECT_EQ(WSAEINVAL, ss_wsa_error(EINVAL));
	EXPECT_EQ(WSAEINVAL, ss_wsa_error(ESRCH));
	EXPECT_EQ(WSAEFAULT, ss_wsa_error(EFAULT));
	EXPECT_EQ(WSAEMFILE, ss_wsa_error(EMFILE));
	EXPECT_EQ(WSAENOBUFS, ss_wsa_error(ENOBUFS));
	EXPECT_EQ(WSAENOBUFS, ss_wsa_error(ENOMEM));
	EXPECT_EQ(WSAENOBUFS, ss_wsa_error(ETOOMANYREFS));
	EXPECT_EQ(WSAEWOULDBLOCK, ss_wsa_error(EAGAIN));
	EXPECT_EQ(WSAEACCES, ss_wsa_error(EPERM));
	EXPECT_EQ(WSAEACCES, ss_wsa_error(EACCES));
	EXPECT_EQ(WSAECONNREFUSED, ss_wsa_error(ECONNREFUSED));
	EXPECT_EQ(WSAECONNRESET, ss_wsa_error(ECONNRESET));
	EXPECT_EQ(WSAECONNABORTED, ss_wsa_error(ECONNABORTED));
	EXPECT_EQ(WSAETIMEDOUT, ss_wsa_error(ETIMEDOUT));
	EXPECT_EQ(WSAENETUNREACH, ss_wsa_error(ENETUNREACH));
	EXPECT_EQ(WSAEHOSTUNREACH, ss_wsa_error(EHOSTUNREACH));
	EXPECT_EQ(WSAEADDRINUSE, ss_wsa_error(EADDRINUSE));
	EXPECT_EQ(WSAEAFNOSUPPORT, ss_wsa_error(EAFNOSUPPORT));
	EXPECT_EQ(WSAENOTCONN, ss_wsa_error(ENOTCONN));
	EXPECT_EQ(WSAEISCONN, ss_wsa_error(EISCONN));
	EXPECT_EQ(WSAEMSGSIZE, ss_wsa_error(EMSGSIZE));
	EXPECT_EQ(WSASYSCALLFAILURE, ss_wsa_error(EIO));
}

/* --- WSADuplicateSocketA --- */

TEST(duplicate_check_order)
{
	WSAPROTOCOL_INFOA info;
	pid_t dead = dead_pid();
	int p[2], sv[2], bad = closed_fd();

	ASSERT_LT(0, dead);
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, sv));

	/* Not a socket first, whatever else is wrong. */
	WSASetLastError(0);
	EXPECT_EQ(SOCKET_ERROR, WSADuplicateSocketA(p[0], getpid(), &info));
	EXPECT_EQ(WSAENOTSOCK, WSAGetLastError());
	WSASetLastError(0);
	EXPECT_EQ(SOCKET_ERROR, WSADuplicateSocketA(p[0], (DWORD)dead, NULL));
	EXPECT_EQ(WSAENOTSOCK, WSAGetLastError());
	WSASetLastError(0);
	EXPECT_EQ(SOCKET_ERROR, WSADuplicateSocketA(bad, (DWORD)dead, NULL));
	EXPECT_EQ(WSAENOTSOCK, WSAGetLastError());
	WSASetLastError(0);
	EXPECT_EQ(SOCKET_ERROR, WSADuplicateSocketA(INVALID_SOCKET, getpid(), &info));
	EXPECT_EQ(WSAENOTSOCK, WSAGetLastError());

	/* Then the process. */
	WSASetLastError(0);
	EXPECT_EQ(SOCKET_ERROR, WSADuplicateSocketA(sv[0], (DWORD)dead, NULL));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());
	WSASetLastError(0);
	EXPECT_EQ(SOCKET_ERROR, WSADuplicateSocketA(sv[0], (DWORD)dead, &info));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());
	WSASetLastError(0);
	EXPECT_EQ(SOCKET_ERROR, WSADuplicateSocketA(sv[0], 0, &info));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());
	WSASetLastError(0);
	EXPECT_EQ(SOCKET_ERROR, WSADuplicateSocketA(sv[0], 0xFFFFFFFFU, &info));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());

	/* Then the output pointer. */
	WSASetLastError(0);
	EXPECT_EQ(SOCKET_ERROR, WSADuplicateSocketA(sv[0], getpid(), NULL));
	EXPECT_EQ(WSAEFAULT, WSAGetLastError());

	/* And all good. */
	WSASetLastError(0);
	EXPECT_EQ(0, WSADuplicateSocketA(sv[0], getpid(), &info));

	close(p[0]);
	close(p[1]);
	closesocket(sv[0]);
	closesocket(sv[1]);
}

/*
 * A structure pointer that cannot be written (or read) is WSAEFAULT, not
 * a crash; a duplicate that could not be handed back leaves no token
 * holding the socket, and the earlier checks still come first.
 */
TEST(bad_structure_pointers_are_wsaefault)
{
	struct pollfd pfd;
	WSAPROTOCOL_INFOA *none, *ro;
	int p[2], sv[2];
	char c;
	none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, none);
	ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, sv));

	WSASetLastError(0);
	EXPECT_EQ(SOCKET_ERROR, WSADuplicateSocketA(p[0], getpid(), none));
	EXPECT_EQ(WSAENOTSOCK, WSAGetLastError());
	WSASetLastError(0);
	EXPECT_EQ(SOCKET_ERROR, WSADuplicateSocketA(sv[0], getpid(), none));
	EXPECT_EQ(WSAEFAULT, WSAGetLastError());
	WSASetLastError(0);
	EXPECT_EQ(SOCKET_ERROR, WSADuplicateSocketA(sv[0], getpid(), ro));
	EXPECT_EQ(WSAEFAULT, WSAGetLastError());
	WSASetLastError(0);
	EXPECT_EQ(INVALID_SOCKET, WSASocketA(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
					     FROM_PROTOCOL_INFO, none, 0, 0));
	EXPECT_EQ(WSAEFAULT, WSAGetLastError());

	/* No token was left holding the socket: its last close is an EOF. */
	closesocket(sv[0]);
	pfd = (struct pollfd){ .fd = sv[1], .events = POLLIN };
	ASSERT_EQ(1, poll(&pfd, 1, FIRES_MS));
	EXPECT_EQ(0, recv(sv[1], &c, 1, 0));

	closesocket(sv[1]);
	close(p[0]);
	close(p[1]);
	munmap(none, 4096);
	munmap(ro, 4096);
}

TEST(duplicate_to_a_process_out_of_reach)
{
	pid_t pid;

	if (geteuid() != 0)
		SKIP(return, "needs root to drop to another user");
	/*
	 * An unprivileged process may not hand sockets to root's processes:
	 * the module says EPERM, Winsock a bad process id.
	 */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		WSAPROTOCOL_INFOA info;
		int s = socket(AF_INET, SOCK_STREAM, 0);

		if (s < 0 || become_user(65534))
			_exit(2);
		WSASetLastError(0);
		if (WSADuplicateSocketA(s, getppid(), &info) != SOCKET_ERROR)
			_exit(3);
		_exit(WSAGetLastError() == WSAEINVAL ? 0 : 4);
	}
	EXPECT_EQ(0, wait_exit(pid));
}

/* --- WSASocketA with a protocol info, per kind of socket --- */

FIXTURE(shared) {
	int sv[2];
};

FIXTURE_VARIANT(shared) {
	int family;
	int type;
	int protocol;	/* what the structure reports */
};

FIXTURE_VARIANT_ADD(shared, tcp4) {
	.family = AF_INET, .type = SOCK_STREAM, .protocol = IPPROTO_TCP,
};
FIXTURE_VARIANT_ADD(shared, tcp6) {
	.family = AF_INET6, .type = SOCK_STREAM, .protocol = IPPROTO_TCP,
};
FIXTURE_VARIANT_ADD(shared, udp4) {
	.family = AF_INET, .type = SOCK_DGRAM, .protocol = IPPROTO_UDP,
};
FIXTURE_VARIANT_ADD(shared, unix_stream) {
	.family = AF_UNIX, .type = SOCK_STREAM, .protocol = 0,
};
FIXTURE_VARIANT_ADD(shared, unix_dgram) {
	.family = AF_UNIX, .type = SOCK_DGRAM, .protocol = 0,
};

FIXTURE_SETUP(shared)
{
	ASSERT_EQ(0, socket_pair(variant->family, variant->type, self->sv));
}

FIXTURE_TEARDOWN(shared)
{
	close(self->sv[0]);
	close(self->sv[1]);
}

/* A fresh structure for sv[0], to this process. */
static void duplicate_into(struct __test_metadata *_metadata, int s,
			   WSAPROTOCOL_INFOA *info)
{
	FILL_55(*info);
	ASSERT_EQ(0, WSADuplicateSocketA(s, getpid(), info));
}

TEST_F(shared, protocol_info_describes_the_socket)
{
	WSAPROTOCOL_INFOA info;
	char zeros[WSAPROTOCOL_LEN + 1] = { 0 };

	duplicate_into(_metadata, self->sv[0], &info);
	EXPECT_EQ(variant->family, info.iAddressFamily);
	EXPECT_EQ(variant->type, info.iSocketType);
	EXPECT_EQ(variant->protocol, info.iProtocol);
	/* The rest is the provider's: no stale bytes of ours in it. */
	EXPECT_EQ(0, memcmp(zeros, info.szProtocol, sizeof(zeros)));
	EXPECT_EQ(0, info.iMaxSockAddr);
	EXPECT_EQ(0, info.ProtocolChain.ChainLen);
	EXPECT_EQ(0, info.dwMessageSize);
}

TEST_F(shared, from_protocol_info_redeems_once)
{
	WSAPROTOCOL_INFOA info;
	SOCKET s;
	int type;
	socklen_t len = sizeof(type);

	duplicate_into(_metadata, self->sv[0], &info);
	s = WSASocketA(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
		       &info, 0, 0);
	ASSERT_NE(INVALID_SOCKET, s);
	EXPECT_NE(self->sv[0], s);
	EXPECT_TRUE(is_cloexec(s));
	ASSERT_EQ(0, getsockopt(s, SOL_SOCKET, SO_TYPE, &type, &len));
	EXPECT_EQ(variant->type, type);
	/* The same socket: what goes in through it comes out at the peer. */
	EXPECT_TRUE(transfer_ok(s, self->sv[1], "through the duplicate"));
	EXPECT_TRUE(transfer_ok(self->sv[1], s, "back to the duplicate"));

	/* Used once: the second redeem fails. */
	WSASetLastError(0);
	EXPECT_EQ(INVALID_SOCKET, WSASocketA(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
					     FROM_PROTOCOL_INFO, &info, 0, 0));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());
	WSASetLastError(0);
	EXPECT_EQ(INVALID_SOCKET, WSASocketA(0, 0, 0, &info, 0, 0));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());
	EXPECT_EQ(0, closesocket(s));
}

TEST_F(shared, zero_means_from_protocol_info)
{
	WSAPROTOCOL_INFOA info;
	SOCKET s;

	duplicate_into(_metadata, self->sv[0], &info);
	s = WSASocketA(0, 0, 0, &info, 0, 0);
	ASSERT_NE(INVALID_SOCKET, s);
	EXPECT_TRUE(transfer_ok(s, self->sv[1], "zero means the structure"));
	closesocket(s);

	/* Mixed: some explicit, some from the structure. */
	duplicate_into(_metadata, self->sv[0], &info);
	s = WSASocketA(variant->family, 0, FROM_PROTOCOL_INFO, &info, 0, 0);
	ASSERT_NE(INVALID_SOCKET, s);
	closesocket(s);
}

TEST_F(shared, explicit_values_must_match)
{
	WSAPROTOCOL_INFOA info;
	int other_family = variant->family == AF_INET ? AF_INET6 : AF_INET;
	int other_type = variant->type == SOCK_STREAM ? SOCK_DGRAM : SOCK_STREAM;
	SOCKET s;

	duplicate_into(_metadata, self->sv[0], &info);
	WSASetLastError(0);
	EXPECT_EQ(INVALID_SOCKET, WSASocketA(other_family, FROM_PROTOCOL_INFO,
					     FROM_PROTOCOL_INFO, &info, 0, 0));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());
	WSASetLastError(0);
	EXPECT_EQ(INVALID_SOCKET, WSASocketA(FROM_PROTOCOL_INFO, other_type,
					     FROM_PROTOCOL_INFO, &info, 0, 0));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());
	WSASetLastError(0);
	EXPECT_EQ(INVALID_SOCKET, WSASocketA(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
					     IPPROTO_SCTP, &info, 0, 0));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());

	/* A refused call does not use the structure up. */
	s = WSASocketA(variant->family, variant->type,
		       variant->protocol ? variant->protocol : FROM_PROTOCOL_INFO,
		       &info, 0, 0);
	ASSERT_NE(INVALID_SOCKET, s);
	EXPECT_TRUE(transfer_ok(s, self->sv[1], "explicit and matching"));
	closesocket(s);
}

TEST_F(shared, closing_the_source_keeps_the_socket)
{
	WSAPROTOCOL_INFOA info;
	SOCKET s;

	duplicate_into(_metadata, self->sv[0], &info);
	EXPECT_EQ(0, closesocket(self->sv[0]));
	self->sv[0] = -1;
	s = WSASocketA(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
		       &info, 0, 0);
	ASSERT_NE(INVALID_SOCKET, s);
	EXPECT_TRUE(transfer_ok(s, self->sv[1], "source closed first"));
	closesocket(s);
}

/* --- WSASocketA: invalid structures and no structure --- */

TEST(socket_from_invalid_info)
{
	WSAPROTOCOL_INFOA info, bad;
	SOCKET s;
	int sv[2];

	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, sv));
	ASSERT_EQ(0, WSADuplicateSocketA(sv[0], getpid(), &info));

	/* Zeroed: not a structure WSADuplicateSocketA filled. */
	memset(&bad, 0, sizeof(bad));
	bad.iAddressFamily = AF_INET;
	bad.iSocketType = SOCK_STREAM;
	WSASetLastError(0);
	EXPECT_EQ(INVALID_SOCKET, WSASocketA(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
					     FROM_PROTOCOL_INFO, &bad, 0, 0));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());

	/* A wrong secret. */
	bad = info;
	bad.ProviderId.Data4[7] ^= 0x01;
	WSASetLastError(0);
	EXPECT_EQ(INVALID_SOCKET, WSASocketA(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
					     FROM_PROTOCOL_INFO, &bad, 0, 0));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());

	/* A wrong id. */
	bad = info;
	bad.dwProviderReserved ^= 0x80000000U;
	WSASetLastError(0);
	EXPECT_EQ(INVALID_SOCKET, WSASocketA(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
					     FROM_PROTOCOL_INFO, &bad, 0, 0));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());

	/* Groups are not supported. */
	WSASetLastError(0);
	EXPECT_EQ(INVALID_SOCKET, WSASocketA(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
					     FROM_PROTOCOL_INFO, &info, 1, 0));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());

	/* None of that used the genuine one up. */
	s = WSASocketA(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
		       &info, 0, 0);
	ASSERT_NE(INVALID_SOCKET, s);
	closesocket(s);
	closesocket(sv[0]);
	closesocket(sv[1]);
}

TEST(socket_from_info_of_another_process)
{
	WSAPROTOCOL_INFOA info;
	int sv[2], p[2];
	pid_t pid;
	SOCKET s;

	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, sv));
	ASSERT_EQ(0, pipe(p));
	/* A structure for us: a child cannot redeem it. */
	ASSERT_EQ(0, WSADuplicateSocketA(sv[0], getpid(), &info));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int err;

		s = WSASocketA(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
			       FROM_PROTOCOL_INFO, &info, 0, 0);
		err = s == INVALID_SOCKET ? WSAGetLastError() : 0;
		_exit(write(p[1], &err, sizeof(err)) == sizeof(err) ? 0 : 1);
	}
	{
		int err = -1;

		ASSERT_EQ(sizeof(err), read(p[0], &err, sizeof(err)));
		EXPECT_EQ(WSAEINVAL, err);
		EXPECT_EQ(0, wait_exit(pid));
	}
	s = WSASocketA(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
		       &info, 0, 0);
	EXPECT_NE(INVALID_SOCKET, s);
	closesocket(s);
	close(p[0]);
	close(p[1]);
	closesocket(sv[0]);
	closesocket(sv[1]);
}

TEST(socket_without_info)
{
	int type;
	socklen_t len = sizeof(type);
	SOCKET s;

	s = WSASocketA(AF_INET, SOCK_DGRAM, IPPROTO_UDP, NULL, 0, WSA_FLAG_OVERLAPPED);
	ASSERT_NE(INVALID_SOCKET, s);
	ASSERT_EQ(0, getsockopt(s, SOL_SOCKET, SO_TYPE, &type, &len));
	EXPECT_EQ(SOCK_DGRAM, type);
	EXPECT_FALSE(is_cloexec(s));
	closesocket(s);

	s = WSASocketA(AF_INET, SOCK_STREAM, 0, NULL, 0, WSA_FLAG_NO_HANDLE_INHERIT);
	ASSERT_NE(INVALID_SOCKET, s);
	EXPECT_TRUE(is_cloexec(s));
	closesocket(s);

	WSASetLastError(0);
	EXPECT_EQ(INVALID_SOCKET, WSASocketA(4242, SOCK_STREAM, 0, NULL, 0, 0));
	EXPECT_EQ(WSAEAFNOSUPPORT, WSAGetLastError());
	WSASetLastError(0);
	EXPECT_EQ(INVALID_SOCKET, WSASocketA(AF_INET, SOCK_STREAM, 0, NULL, 7, 0));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());
}

/* --- Event objects --- */

TEST(event_is_manual_reset)
{
	WSAEVENT e = WSACreateEvent();

	ASSERT_NE(WSA_INVALID_EVENT, e);
	EXPECT_LT(0, e);
	EXPECT_TRUE(is_cloexec(e));
	EXPECT_TRUE(is_nonblocking(e));
	/* Created unset. */
	EXPECT_EQ(WSA_WAIT_TIMEOUT, WSAWaitForMultipleEvents(1, &e, FALSE, 0, FALSE));

	EXPECT_EQ(TRUE, WSASetEvent(e));
	EXPECT_EQ(WSA_WAIT_EVENT_0, WSAWaitForMultipleEvents(1, &e, FALSE, 0, FALSE));
	/* Waiting does not consume it. */
	EXPECT_EQ(WSA_WAIT_EVENT_0, WSAWaitForMultipleEvents(1, &e, TRUE, 0, FALSE));
	EXPECT_EQ(WSA_WAIT_EVENT_0, WSAWaitForMultipleEvents(1, &e, FALSE, WSA_INFINITE, FALSE));
	EXPECT_TRUE(readable(e, 0));

	/* Set twice, reset once: unset. */
	EXPECT_EQ(TRUE, WSASetEvent(e));
	EXPECT_EQ(TRUE, WSAResetEvent(e));
	EXPECT_EQ(WSA_WAIT_TIMEOUT, WSAWaitForMultipleEvents(1, &e, FALSE, 0, FALSE));
	EXPECT_EQ(TRUE, WSAResetEvent(e));
	EXPECT_EQ(WSA_WAIT_TIMEOUT, WSAWaitForMultipleEvents(1, &e, FALSE, 0, FALSE));

	EXPECT_EQ(TRUE, WSACloseEvent(e));
	EXPECT_FALSE(is_open(e));
	WSASetLastError(0);
	EXPECT_EQ(FALSE, WSACloseEvent(e));
	EXPECT_EQ(WSA_INVALID_HANDLE, WSAGetLastError());
	WSASetLastError(0);
	EXPECT_EQ(FALSE, WSASetEvent(e));
	EXPECT_EQ(WSA_INVALID_HANDLE, WSAGetLastError());
	WSASetLastError(0);
	EXPECT_EQ(FALSE, WSAResetEvent(e));
	EXPECT_EQ(WSA_INVALID_HANDLE, WSAGetLastError());
}

TEST(event_calls_refuse_other_descriptors)
{
	struct ss_message m;
	int sv[2], q;

	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, sv));
	/* WSASetEvent on a socket must not send anything. */
	WSASetLastError(0);
	EXPECT_EQ(FALSE, WSASetEvent(sv[0]));
	EXPECT_EQ(WSA_INVALID_HANDLE, WSAGetLastError());
	EXPECT_TRUE(peer_open_for(sv[1], QUIET_MS));
	EXPECT_EQ(FALSE, WSACloseEvent(sv[0]));
	EXPECT_TRUE(is_open(sv[0]));

	/* WSAResetEvent on a message queue must not eat its messages. */
	q = ss_queue_create(O_CLOEXEC | O_NONBLOCK);
	ASSERT_LE(0, q);
	ASSERT_EQ(0, WSAAsyncSelect(sv[0], q, 0x401, FD_WRITE));
	ASSERT_TRUE(readable(q, FIRES_MS));
	WSASetLastError(0);
	EXPECT_EQ(FALSE, WSAResetEvent(q));
	EXPECT_EQ(WSA_INVALID_HANDLE, WSAGetLastError());
	ASSERT_EQ(1, ss_queue_read(q, &m, 1));
	EXPECT_EQ(FD_WRITE, m.event);
	close(q);
	closesocket(sv[0]);
	closesocket(sv[1]);
}

TEST(create_event_never_returns_zero)
{
	WSAEVENT e;

	/* With descriptor 0 free, eventfd() would return it. */
	close(0);
	e = WSACreateEvent();
	ASSERT_NE(WSA_INVALID_EVENT, e);
	EXPECT_NE(0, e);
	EXPECT_FALSE(is_open(0));
	EXPECT_EQ(TRUE, WSASetEvent(e));
	EXPECT_EQ(WSA_WAIT_EVENT_0, WSAWaitForMultipleEvents(1, &e, FALSE, 0, FALSE));
	WSACloseEvent(e);
}

/* --- WSAWaitForMultipleEvents --- */

#define NEVENTS 4

FIXTURE(events) {
	WSAEVENT ev[WSA_MAXIMUM_WAIT_EVENTS];
};

FIXTURE_SETUP(events)
{
	int i;

	for (i = 0; i < WSA_MAXIMUM_WAIT_EVENTS; i++) {
		self->ev[i] = WSACreateEvent();
		ASSERT_NE(WSA_INVALID_EVENT, self->ev[i]);
	}
}

FIXTURE_TEARDOWN(events)
{
	int i;

	for (i = 0; i < WSA_MAXIMUM_WAIT_EVENTS; i++)
		WSACloseEvent(self->ev[i]);
}

/* A thread that acts on events after delays. */
struct step {
	int delay_ms;		/* since the previous step */
	WSAEVENT ev;
	bool set;		/* set, or reset */
};

struct script {
	const struct step *steps;
	int n;
};

static void *script_fn(void *arg)
{
	const struct script *sc = arg;
	int i;

	for (i = 0; i < sc->n; i++) {
		sleep_ms(sc->steps[i].delay_ms);
		if (sc->steps[i].set)
			WSASetEvent(sc->steps[i].ev);
		else
			WSAResetEvent(sc->steps[i].ev);
	}
	return NULL;
}

TEST_F(events, wait_any_returns_lowest_signalled)
{
	struct step steps[] = { { 100, self->ev[2], true } };
	struct script sc = { steps, 1 };
	pthread_t t;
	long long start;

	EXPECT_EQ(WSA_WAIT_TIMEOUT, WSAWaitForMultipleEvents(NEVENTS, self->ev, FALSE, 0, FALSE));
	WSASetEvent(self->ev[3]);
	WSASetEvent(self->ev[1]);
	EXPECT_EQ(WSA_WAIT_EVENT_0 + 1, WSAWaitForMultipleEvents(NEVENTS, self->ev, FALSE, 0, FALSE));
	EXPECT_EQ(WSA_WAIT_EVENT_0 + 1, WSAWaitForMultipleEvents(NEVENTS, self->ev, FALSE, 1000, FALSE));
	WSAResetEvent(self->ev[1]);
	EXPECT_EQ(WSA_WAIT_EVENT_0 + 3, WSAWaitForMultipleEvents(NEVENTS, self->ev, FALSE, 0, FALSE));
	WSAResetEvent(self->ev[3]);

	/*
	 * Woken by another thread's WSASetEvent, which comes 100 ms after
	 * the thread starts: timed from before, however late we run.
	 */
	start = now_ms();
	ASSERT_EQ(0, pthread_create(&t, NULL, script_fn, &sc));
	EXPECT_EQ(WSA_WAIT_EVENT_0 + 2, WSAWaitForMultipleEvents(NEVENTS, self->ev, FALSE, FIRES_MS, FALSE));
	EXPECT_LE(80, now_ms() - start);
	EXPECT_GT(LATE_MS, now_ms() - start);
	pthread_join(t, NULL);

	/* The last of the maximum number of events. */
	WSAResetEvent(self->ev[2]);
	WSASetEvent(self->ev[WSA_MAXIMUM_WAIT_EVENTS - 1]);
	EXPECT_EQ(WSA_WAIT_EVENT_0 + WSA_MAXIMUM_WAIT_EVENTS - 1,
		  WSAWaitForMultipleEvents(WSA_MAXIMUM_WAIT_EVENTS, self->ev, FALSE, 0, FALSE));
	/* Alertable waits behave as non-alertable ones. */
	EXPECT_EQ(WSA_WAIT_EVENT_0 + WSA_MAXIMUM_WAIT_EVENTS - 1,
		  WSAWaitForMultipleEvents(WSA_MAXIMUM_WAIT_EVENTS, self->ev, FALSE, 0, TRUE));
}

TEST_F(events, wait_all_needs_every_event)
{
	struct step steps[] = { { 100, self->ev[1], true } };
	struct script sc = { steps, 1 };
	pthread_t t;
	long long start;
	int i;

	WSASetEvent(self->ev[0]);
	WSASetEvent(self->ev[2]);
	start = now_ms();
	EXPECT_EQ(WSA_WAIT_TIMEOUT, WSAWaitForMultipleEvents(3, self->ev, TRUE, 100, FALSE));
	EXPECT_LE(90, now_ms() - start);

	start = now_ms();	/* before the thread: see above */
	ASSERT_EQ(0, pthread_create(&t, NULL, script_fn, &sc));
	EXPECT_EQ(WSA_WAIT_EVENT_0, WSAWaitForMultipleEvents(3, self->ev, TRUE, FIRES_MS, FALSE));
	EXPECT_LE(80, now_ms() - start);
	EXPECT_GT(LATE_MS, now_ms() - start);
	pthread_join(t, NULL);
	/* None consumed. */
	for (i = 0; i < 3; i++)
		EXPECT_TRUE(readable(self->ev[i], 0));
	EXPECT_EQ(WSA_WAIT_EVENT_0, WSAWaitForMultipleEvents(3, self->ev, TRUE, 0, FALSE));
}

TEST_F(events, wait_all_needs_them_at_the_same_time)
{
	/* ev0 set now; at 100 ms ev0 is reset and ev1 set; at 300 ms ev0 set again. */
	struct step steps[] = {
		{ 100, self->ev[0], false },
		{ 0, self->ev[1], true },
		{ 200, self->ev[0], true },
	};
	struct script sc = { steps, 3 };
	pthread_t t;
	long long start;

	WSASetEvent(self->ev[0]);
	start = now_ms();	/* before the thread, whose steps it times */
	ASSERT_EQ(0, pthread_create(&t, NULL, script_fn, &sc));
	EXPECT_EQ(WSA_WAIT_EVENT_0, WSAWaitForMultipleEvents(2, self->ev, TRUE, FIRES_MS, FALSE));
	EXPECT_LE(250, now_ms() - start);
	pthread_join(t, NULL);
}

TEST_F(events, wait_times_out)
{
	long long start = now_ms();

	EXPECT_EQ(WSA_WAIT_TIMEOUT, WSAWaitForMultipleEvents(2, self->ev, FALSE, 150, FALSE));
	EXPECT_LE(140, now_ms() - start);
	EXPECT_GT(LATE_MS, now_ms() - start);
	start = now_ms();
	EXPECT_EQ(WSA_WAIT_TIMEOUT, WSAWaitForMultipleEvents(2, self->ev, FALSE, 0, FALSE));
	EXPECT_GT(LATE_MS, now_ms() - start);
}

TEST_F(events, wait_invalid_arguments)
{
	WSAEVENT bad[2] = { self->ev[0], closed_fd() };

	WSASetLastError(0);
	EXPECT_EQ(WSA_WAIT_FAILED, WSAWaitForMultipleEvents(0, self->ev, FALSE, 0, FALSE));
	EXPECT_EQ(WSA_INVALID_PARAMETER, WSAGetLastError());
	WSASetLastError(0);
	EXPECT_EQ(WSA_WAIT_FAILED, WSAWaitForMultipleEvents(WSA_MAXIMUM_WAIT_EVENTS + 1,
							    self->ev, FALSE, 0, FALSE));
	EXPECT_EQ(WSA_INVALID_PARAMETER, WSAGetLastError());
	WSASetLastError(0);
	EXPECT_EQ(WSA_WAIT_FAILED, WSAWaitForMultipleEvents(1, NULL, FALSE, 0, FALSE));
	EXPECT_EQ(WSA_INVALID_PARAMETER, WSAGetLastError());
	WSASetLastError(0);
	EXPECT_EQ(WSA_WAIT_FAILED, WSAWaitForMultipleEvents(2, bad, FALSE, 100, FALSE));
	EXPECT_EQ(WSA_INVALID_HANDLE, WSAGetLastError());
	WSASetLastError(0);
	EXPECT_EQ(WSA_WAIT_FAILED, WSAWaitForMultipleEvents(2, bad, TRUE, 100, FALSE));
	EXPECT_EQ(WSA_INVALID_HANDLE, WSAGetLastError());
}

/* --- WSAEventSelect and WSAEnumNetworkEvents --- */

TEST(refused_connect_reports_wsaeconnrefused)
{
	struct sockaddr_in addr;
	WSANETWORKEVENTS ne;
	WSAEVENT e = WSACreateEvent();
	SOCKET s;
	int r, i;

	ASSERT_NE(WSA_INVALID_EVENT, e);
	r = refusing_port(&addr);
	ASSERT_LE(0, r);
	s = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_NE(INVALID_SOCKET, s);
	ASSERT_EQ(0, WSAEventSelect(s, e, FD_CONNECT | FD_READ | FD_WRITE | FD_CLOSE));
	EXPECT_TRUE(is_nonblocking(s));
	if (connect(s, (SOCKADDR *)&addr, sizeof(addr)) == SOCKET_ERROR)
		EXPECT_EQ(WSAEWOULDBLOCK, WSAGetLastError());

	ASSERT_EQ(WSA_WAIT_EVENT_0, WSAWaitForMultipleEvents(1, &e, FALSE, FIRES_MS, FALSE));
	FILL_55(ne);
	ASSERT_EQ(0, WSAEnumNetworkEvents(s, e, &ne));
	EXPECT_EQ(FD_CONNECT, ne.lNetworkEvents);
	EXPECT_EQ(10061, ne.iErrorCode[FD_CONNECT_BIT]);
	EXPECT_EQ(WSAECONNREFUSED, ne.iErrorCode[FD_CONNECT_BIT]);
	/* Only the reported slot is written. */
	for (i = 0; i < FD_MAX_EVENTS; i++)
		if (i != FD_CONNECT_BIT)
			EXPECT_EQ(0x55555555, ne.iErrorCode[i]);
	/* The event object was reset. */
	EXPECT_EQ(WSA_WAIT_TIMEOUT, WSAWaitForMultipleEvents(1, &e, FALSE, 0, FALSE));
	closesocket(s);
	closesocket(r);
	WSACloseEvent(e);
}

FIXTURE(tcp) {
	int sv[2];
	WSAEVENT e;
};

FIXTURE_SETUP(tcp)
{
	self->e = WSACreateEvent();
	ASSERT_NE(WSA_INVALID_EVENT, self->e);
	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, self->sv));
}

FIXTURE_TEARDOWN(tcp)
{
	if (self->sv[0] >= 0)
		close(self->sv[0]);
	if (self->sv[1] >= 0)
		close(self->sv[1]);
	WSACloseEvent(self->e);
}

TEST_F(tcp, read_then_graceful_close)
{
	WSANETWORKEVENTS ne;
	char buf[16];

	ASSERT_EQ(0, WSAEventSelect(self->sv[0], self->e, FD_READ | FD_CLOSE));
	ASSERT_EQ(4, send(self->sv[1], "data", 4, 0));
	ASSERT_EQ(WSA_WAIT_EVENT_0, WSAWaitForMultipleEvents(1, &self->e, FALSE, FIRES_MS, FALSE));
	FILL_55(ne);
	ASSERT_EQ(0, WSAEnumNetworkEvents(self->sv[0], self->e, &ne));
	EXPECT_EQ(FD_READ, ne.lNetworkEvents);
	EXPECT_EQ(0, ne.iErrorCode[FD_READ_BIT]);
	EXPECT_EQ(0x55555555, ne.iErrorCode[FD_CLOSE_BIT]);
	EXPECT_EQ(4, recv(self->sv[0], buf, sizeof(buf), 0));

	close(self->sv[1]);
	self->sv[1] = -1;
	ASSERT_EQ(WSA_WAIT_EVENT_0, WSAWaitForMultipleEvents(1, &self->e, FALSE, FIRES_MS, FALSE));
	FILL_55(ne);
	ASSERT_EQ(0, WSAEnumNetworkEvents(self->sv[0], self->e, &ne));
	EXPECT_EQ(FD_CLOSE, ne.lNetworkEvents);
	EXPECT_EQ(0, ne.iErrorCode[FD_CLOSE_BIT]);
}

TEST_F(tcp, reset_reports_wsaeconnaborted)
{
	WSANETWORKEVENTS ne;

	ASSERT_EQ(0, WSAEventSelect(self->sv[0], self->e, FD_READ | FD_CLOSE));
	ASSERT_EQ(0, reset_close(self->sv[1]));
	self->sv[1] = -1;
	ASSERT_EQ(WSA_WAIT_EVENT_0, WSAWaitForMultipleEvents(1, &self->e, FALSE, FIRES_MS, FALSE));
	FILL_55(ne);
	ASSERT_EQ(0, WSAEnumNetworkEvents(self->sv[0], self->e, &ne));
	EXPECT_EQ(FD_CLOSE, ne.lNetworkEvents);
	EXPECT_EQ(WSAECONNABORTED, ne.iErrorCode[FD_CLOSE_BIT]);
	EXPECT_EQ(0x55555555, ne.iErrorCode[FD_READ_BIT]);
}

TEST_F(tcp, enum_argument_errors)
{
	WSANETWORKEVENTS ne;
	int p[2];

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	ASSERT_EQ(0, WSAEventSelect(self->sv[0], self->e, FD_READ));
	ASSERT_EQ(1, send(self->sv[1], "x", 1, 0));
	ASSERT_EQ(WSA_WAIT_EVENT_0, WSAWaitForMultipleEvents(1, &self->e, FALSE, FIRES_MS, FALSE));

	/* NULL output: WSAEFAULT, and nothing is fetched or reset. */
	WSASetLastError(0);
	EXPECT_EQ(SOCKET_ERROR, WSAEnumNetworkEvents(self->sv[0], self->e, NULL));
	EXPECT_EQ(WSAEFAULT, WSAGetLastError());
	EXPECT_EQ(WSA_WAIT_EVENT_0, WSAWaitForMultipleEvents(1, &self->e, FALSE, 0, FALSE));

	/* Not a socket comes before the pointer. */
	WSASetLastError(0);
	EXPECT_EQ(SOCKET_ERROR, WSAEnumNetworkEvents(p[0], self->e, NULL));
	EXPECT_EQ(WSAENOTSOCK, WSAGetLastError());
	WSASetLastError(0);
	EXPECT_EQ(SOCKET_ERROR, WSAEnumNetworkEvents(closed_fd(), self->e, &ne));
	EXPECT_EQ(WSAENOTSOCK, WSAGetLastError());

	/* 0 plays NULL: no event object to reset. */
	FILL_55(ne);
	ASSERT_EQ(0, WSAEnumNetworkEvents(self->sv[0], 0, &ne));
	EXPECT_EQ(FD_READ, ne.lNetworkEvents);
	EXPECT_EQ(0, ne.iErrorCode[FD_READ_BIT]);
	EXPECT_EQ(WSA_WAIT_EVENT_0, WSAWaitForMultipleEvents(1, &self->e, FALSE, 0, FALSE));
	/* Fetched: nothing more to report; now the object is reset. */
	FILL_55(ne);
	ASSERT_EQ(0, WSAEnumNetworkEvents(self->sv[0], self->e, &ne));
	EXPECT_EQ(0, ne.lNetworkEvents);
	EXPECT_EQ(WSA_WAIT_TIMEOUT, WSAWaitForMultipleEvents(1, &self->e, FALSE, 0, FALSE));

	/* WSAEventSelect: not a socket; a mask without an event object. */
	WSASetLastError(0);
	EXPECT_EQ(SOCKET_ERROR, WSAEventSelect(p[0], self->e, FD_READ));
	EXPECT_EQ(WSAENOTSOCK, WSAGetLastError());
	WSASetLastError(0);
	EXPECT_EQ(SOCKET_ERROR, WSAEventSelect(self->sv[0], WSA_INVALID_EVENT, FD_READ));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());
	WSASetLastError(0);
	EXPECT_EQ(SOCKET_ERROR, WSAEventSelect(self->sv[0], p[0], FD_READ));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());
	/* Cancelling needs none. */
	EXPECT_EQ(0, WSAEventSelect(self->sv[0], WSA_INVALID_EVENT, 0));
	close(p[0]);
	close(p[1]);
}

/* --- WSAAsyncSelect --- */

TEST_F(tcp, async_select_messages_carry_wsa_errors)
{
	struct ss_message m;
	char buf[16];
	LPARAM lp;
	HWND q = ss_queue_create(O_CLOEXEC | O_NONBLOCK);

	ASSERT_LE(0, q);
	ASSERT_EQ(0, WSAAsyncSelect(self->sv[0], q, 0x401, FD_READ | FD_CLOSE));
	EXPECT_TRUE(is_nonblocking(self->sv[0]));
	ASSERT_EQ(2, send(self->sv[1], "hi", 2, 0));
	ASSERT_TRUE(readable(q, FIRES_MS));
	ASSERT_EQ(1, ss_queue_read(q, &m, 1));
	EXPECT_EQ(self->sv[0], m.socket);
	EXPECT_EQ(0x401, m.msg);
	lp = ss_wsa_select_lparam(&m);
	EXPECT_EQ(FD_READ, WSAGETSELECTEVENT(lp));
	EXPECT_EQ(0, WSAGETSELECTERROR(lp));
	EXPECT_EQ(2, recv(self->sv[0], buf, sizeof(buf), 0));

	ASSERT_EQ(0, reset_close(self->sv[1]));
	self->sv[1] = -1;
	ASSERT_TRUE(readable(q, FIRES_MS));
	ASSERT_EQ(1, ss_queue_read(q, &m, 1));
	lp = ss_wsa_select_lparam(&m);
	EXPECT_EQ(FD_CLOSE, WSAGETSELECTEVENT(lp));
	EXPECT_EQ(WSAECONNABORTED, WSAGETSELECTERROR(lp));

	WSASetLastError(0);
	EXPECT_EQ(SOCKET_ERROR, WSAAsyncSelect(self->sv[0], -1, 0x401, FD_READ));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());
	WSASetLastError(0);
	EXPECT_EQ(SOCKET_ERROR, WSAAsyncSelect(q, q, 0x401, FD_READ));
	EXPECT_EQ(WSAENOTSOCK, WSAGetLastError());
	EXPECT_EQ(0, WSAAsyncSelect(self->sv[0], q, 0, 0));
	close(q);
}

/* --- ioctlsocket --- */

TEST_F(tcp, fionbio_zero_refused_while_registered)
{
	u_long off = 0, on = 1;

	ASSERT_FALSE(is_nonblocking(self->sv[0]));
	ASSERT_EQ(0, WSAEventSelect(self->sv[0], self->e, FD_READ));
	EXPECT_TRUE(is_nonblocking(self->sv[0]));

	WSASetLastError(0);
	EXPECT_EQ(SOCKET_ERROR, ioctlsocket(self->sv[0], FIONBIO, &off));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());
	EXPECT_TRUE(is_nonblocking(self->sv[0]));
	EXPECT_EQ(0, ioctlsocket(self->sv[0], FIONBIO, &on));
	EXPECT_TRUE(is_nonblocking(self->sv[0]));

	/* Cancelled: blocking mode may come back. */
	ASSERT_EQ(0, WSAEventSelect(self->sv[0], 0, 0));
	EXPECT_EQ(0, ioctlsocket(self->sv[0], FIONBIO, &off));
	EXPECT_FALSE(is_nonblocking(self->sv[0]));
	EXPECT_EQ(0, ioctlsocket(self->sv[0], FIONBIO, &on));
	EXPECT_TRUE(is_nonblocking(self->sv[0]));
	EXPECT_EQ(0, ioctlsocket(self->sv[0], FIONBIO, &off));
	EXPECT_FALSE(is_nonblocking(self->sv[0]));
}

TEST_F(tcp, fionbio_zero_refused_through_any_descriptor)
{
	u_long off = 0;
	HWND q;
	SOCKET dup;

	dup = self_duplicate(self->sv[0]);
	ASSERT_NE(INVALID_SOCKET, dup);

	/* Registered through the duplicate: the original is refused too. */
	ASSERT_EQ(0, WSAEventSelect(dup, self->e, FD_READ));
	WSASetLastError(0);
	EXPECT_EQ(SOCKET_ERROR, ioctlsocket(self->sv[0], FIONBIO, &off));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());

	/* A WSAAsyncSelect registration counts the same. */
	q = ss_queue_create(O_CLOEXEC | O_NONBLOCK);
	ASSERT_LE(0, q);
	ASSERT_EQ(0, WSAAsyncSelect(self->sv[0], q, 0x402, FD_READ));
	WSASetLastError(0);
	EXPECT_EQ(SOCKET_ERROR, ioctlsocket(dup, FIONBIO, &off));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());

	ASSERT_EQ(0, WSAAsyncSelect(dup, q, 0, 0));
	EXPECT_EQ(0, ioctlsocket(self->sv[0], FIONBIO, &off));
	EXPECT_FALSE(is_nonblocking(dup));
	close(q);
	closesocket(dup);
}

TEST_F(tcp, fionread_counts_readable_bytes)
{
	u_long n = 12345;
	long long end = now_ms() + FIRES_MS;

	EXPECT_EQ(0, ioctlsocket(self->sv[0], FIONREAD, &n));
	EXPECT_EQ(0, n);
	ASSERT_EQ(7, send(self->sv[1], "seven!!", 7, 0));
	do {
		ASSERT_EQ(0, ioctlsocket(self->sv[0], FIONREAD, &n));
	} while (n < 7 && now_ms() < end);
	EXPECT_EQ(7, n);
}

TEST_F(tcp, ioctlsocket_argument_errors)
{
	u_long v = 1;
	int p[2];

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	WSASetLastError(0);
	EXPECT_EQ(SOCKET_ERROR, ioctlsocket(p[0], FIONBIO, &v));
	EXPECT_EQ(WSAENOTSOCK, WSAGetLastError());
	EXPECT_FALSE(is_nonblocking(p[0]));
	WSASetLastError(0);
	EXPECT_EQ(SOCKET_ERROR, ioctlsocket(closed_fd(), FIONREAD, &v));
	EXPECT_EQ(WSAENOTSOCK, WSAGetLastError());
	WSASetLastError(0);
	EXPECT_EQ(SOCKET_ERROR, ioctlsocket(self->sv[0], FIONBIO, NULL));
	EXPECT_EQ(WSAEFAULT, WSAGetLastError());
	WSASetLastError(0);
	EXPECT_EQ(SOCKET_ERROR, ioctlsocket(self->sv[0], 0x7fff1234L, &v));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());
	close(p[0]);
	close(p[1]);
}

/* --- closesocket --- */

TEST_F(tcp, closesocket_closes_only_sockets)
{
	SOCKET dup;
	int p[2];

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	WSASetLastError(0);
	EXPECT_EQ(SOCKET_ERROR, closesocket(p[0]));
	EXPECT_EQ(WSAENOTSOCK, WSAGetLastError());
	EXPECT_TRUE(is_open(p[0]));
	WSASetLastError(0);
	EXPECT_EQ(SOCKET_ERROR, closesocket(closed_fd()));
	EXPECT_EQ(WSAENOTSOCK, WSAGetLastError());

	/* Closing one descriptor leaves the socket to the others. */
	dup = self_duplicate(self->sv[0]);
	ASSERT_NE(INVALID_SOCKET, dup);
	EXPECT_EQ(0, closesocket(self->sv[0]));
	EXPECT_FALSE(is_open(self->sv[0]));
	self->sv[0] = -1;
	EXPECT_TRUE(peer_open_for(self->sv[1], QUIET_MS));
	EXPECT_TRUE(transfer_ok(dup, self->sv[1], "still here"));
	EXPECT_EQ(0, closesocket(dup));
	EXPECT_TRUE(peer_eof_within(self->sv[1], FIRES_MS));
	close(p[0]);
	close(p[1]);
}

/* --- A ported Windows program --- */

/*
 * What <windows.h> would give winsock_port.c: handles are descriptors, and
 * ReadFile/WriteFile transfer whole buffers as they do on a pipe.
 */
typedef int HANDLE;

static BOOL WriteFile(HANDLE h, const void *buf, DWORD len, DWORD *written,
		      void *overlapped)
{
	ssize_t n = 0;
	DWORD done = 0;

	(void)overlapped;
	while (done < len) {
		n = write(h, (const char *)buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += n;
	}
	*written = done;
	return n >= 0 ? TRUE : FALSE;
}

static BOOL ReadFile(HANDLE h, void *buf, DWORD len, DWORD *got, void *overlapped)
{
	ssize_t n = 0;
	DWORD done = 0;

	(void)overlapped;
	while (done < len) {
		n = read(h, (char *)buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += n;
	}
	*got = done;
	return n >= 0 ? TRUE : FALSE;
}

#include "winsock_port.c"

struct echo_client {
	int ready;		/* read end: the listener's port */
	int go;			/* read end: the listener has finished */
	const char *msgs[3];
	size_t lens[3];
	bool echoed_ok;
	bool eof_ok;
	size_t total;
};

static void *echo_client_fn(void *arg)
{
	struct echo_client *c = arg;
	struct timeval tv = { .tv_sec = WAIT_MS / 1000 };	/* a hang guard */
	struct sockaddr_in addr = { .sin_family = AF_INET };
	static char buf[8192];
	u_short port;
	size_t i, got;
	ssize_t n;
	char go;
	int s;

	if (read(c->ready, &port, sizeof(port)) != sizeof(port))
		return NULL;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = htons(port);
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    connect(s, (void *)&addr, sizeof(addr)))
		return NULL;
	/* Talk only once the listener has handed over and closed its copy. */
	if (read(c->go, &go, 1) != 1)
		return NULL;
	c->echoed_ok = true;
	for (i = 0; i < 3; i++) {
		if (send(s, c->msgs[i], c->lens[i], MSG_NOSIGNAL) != (ssize_t)c->lens[i]) {
			c->echoed_ok = false;
			break;
		}
		for (got = 0; got < c->lens[i]; got += n) {
			n = recv(s, buf + got, c->lens[i] - got, 0);
			if (n <= 0)
				break;
		}
		c->total += got;
		if (got != c->lens[i] || memcmp(buf, c->msgs[i], got)) {
			c->echoed_ok = false;
			break;
		}
	}
	/* Our FIN ends the worker's loop; its close ends the connection. */
	shutdown(s, SHUT_WR);
	c->eof_ok = recv(s, buf, sizeof(buf), 0) == 0;
	close(s);
	return NULL;
}

TEST(ported_windows_echo_server)
{
	static char big[3000];
	struct echo_client c = { 0 };
	int ready[2], go[2], to_worker[2], result[2];
	struct { int err; DWORD echoed; } res = { -1, 0 };
	pthread_t client;
	pid_t worker;
	size_t i;
	int err;

	for (i = 0; i < sizeof(big); i++)
		big[i] = 'a' + i % 26;
	c.msgs[0] = "hello, worker";
	c.msgs[1] = big;
	c.msgs[2] = "bye";
	c.lens[0] = strlen(c.msgs[0]);
	c.lens[1] = sizeof(big);
	c.lens[2] = strlen(c.msgs[2]);

	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(to_worker, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(result, O_CLOEXEC));

	/* CreateProcess, as far as the program is concerned. */
	worker = fork();
	ASSERT_LE(0, worker);
	if (worker == 0) {
		close(to_worker[1]);
		res.err = EchoWorker(to_worker[0], &res.echoed);
		_exit(write(result[1], &res, sizeof(res)) == sizeof(res) ? 0 : 1);
	}
	close(to_worker[0]);
	close(result[1]);

	c.ready = ready[0];
	c.go = go[0];
	ASSERT_EQ(0, pthread_create(&client, NULL, echo_client_fn, &c));
	err = EchoListener(ready[1], to_worker[1], (DWORD)worker);
	EXPECT_EQ(0, err);
	/* CloseHandle: a failed listener must not leave the others waiting. */
	close(ready[1]);
	close(to_worker[1]);
	/* The listener kept no descriptor: only the client's socket is left. */
	EXPECT_EQ(1, count_socket_fds());
	ASSERT_EQ(1, write(go[1], "g", 1));
	pthread_join(client, NULL);

	EXPECT_TRUE(c.echoed_ok);
	EXPECT_EQ(c.lens[0] + c.lens[1] + c.lens[2], c.total);
	EXPECT_TRUE(c.eof_ok);
	ASSERT_EQ(sizeof(res), read(result[0], &res, sizeof(res)));
	EXPECT_EQ(0, res.err);
	EXPECT_EQ(c.lens[0] + c.lens[1] + c.lens[2], res.echoed);
	EXPECT_EQ(0, wait_exit(worker));
	close(ready[0]);
	close(go[0]);
	close(go[1]);
	close(result[0]);
}

TEST_HARNESS_MAIN
