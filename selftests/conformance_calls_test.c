// SPDX-License-Identifier: GPL-2.0
/*
 * Windows' conformance tests of single calls, ported (conformance.h):
 * test_WSAEnumNetworkEvents, test_WSADuplicateSocket, test_fionbio and
 * test_select_after_WSAEventSelect of Wine's dlls/ws2_32/tests/sock.c,
 * with Windows' expectations, plus the wide-character names ported code
 * calls (WSADuplicateSocketW, WSASocketW).  Each test names the Windows
 * test and block it comes from.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "conformance.h"

/* Bind @s to @ip port 0, its address then in @addr: 0 or -1. */
static int bind_port0(SOCKET s, in_addr_t ip, struct sockaddr_in *addr)
{
	socklen_t len = sizeof(*addr);

	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = ip;
	if (bind(s, (struct sockaddr *)addr, sizeof(*addr)) ||
	    getsockname(s, (struct sockaddr *)addr, &len))
		return -1;
	return 0;
}

/* A socket of @type bound to @ip port 0; INVALID_SOCKET on failure. */
static SOCKET bound_socket(int type, in_addr_t ip, struct sockaddr_in *addr)
{
	SOCKET s = socket(AF_INET, type, 0);

	if (s != INVALID_SOCKET && bind_port0(s, ip, addr)) {
		closesocket(s);
		return INVALID_SOCKET;
	}
	return s;
}

/*
 * Windows' UDP blocks of test_WSADuplicateSocket: the blocking @source
 * sends "TEST" to its own address @addr; what @dup receives goes to @buf.
 */
static int send_to_self_recv_on(SOCKET source, const struct sockaddr_in *addr,
				SOCKET dup, char *buf)
{
	if (set_blocking(source, true) ||
	    sendto(source, "TEST", 5, 0, (const struct sockaddr *)addr,
		   sizeof(*addr)) != 5)
		return -1;
	return sync_recv(dup, buf, 5, 0);
}

/*
 * test_WSAEnumNetworkEvents: select FD_READ|FD_WRITE five times over and
 * enumerate at once, with and without the event object: a bound UDP socket
 * and a connected TCP socket report FD_WRITE the first time only, an
 * unconnected TCP socket nothing; error slots of events not reported are
 * left as they were.  Windows passes NULL for "no event object": here
 * WSA_INVALID_EVENT.
 */
TEST(enum_network_events_after_each_select)
{
	const int types[] = { SOCK_STREAM, SOCK_DGRAM, SOCK_STREAM };
	struct sockaddr_in addr;
	WSANETWORKEVENTS ne;
	int with_event, i, j, k;

	for (with_event = 1; with_event >= 0; with_event--) {
		for (i = 0; i < 3; i++) {
			SOCKET s, s2 = INVALID_SOCKET;
			WSAEVENT event = WSACreateEvent();

			ASSERT_NE(WSA_INVALID_EVENT, event);
			if (i == 2) {
				ASSERT_TRUE(tcp_socketpair(&s, &s2));
			} else {
				s = bound_socket(types[i], htonl(INADDR_ANY), &addr);
				ASSERT_NE(INVALID_SOCKET, s);
			}
			for (j = 0; j < 5; j++) {
				long want = i >= 1 && j == 0 ? FD_WRITE : 0;

				ASSERT_EQ(0, WSAEventSelect(s, event, FD_READ | FD_WRITE));
				memset(&ne, 0xab, sizeof(ne));
				ASSERT_EQ(0, WSAEnumNetworkEvents(s, with_event ? event : WSA_INVALID_EVENT, &ne));
				EXPECT_EQ(want, ne.lNetworkEvents)
					TH_LOG("socket %d, select %d, event object %d", i, j, with_event);
				for (k = 0; k < FD_MAX_EVENTS; k++) {
					int untouched = (int)0xabababab;

					EXPECT_EQ(ne.lNetworkEvents & (1 << k) ? 0 : untouched,
						  ne.iErrorCode[k]);
				}
			}
			closesocket(s);
			WSACloseEvent(event);
			if (s2 != INVALID_SOCKET)
				closesocket(s2);
		}
	}
}

/* test_WSADuplicateSocket, "test invalid parameters": the order of checks. */
TEST(duplicate_socket_argument_order)
{
	SOCKET source = WSASocketA(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, 0);
	WSAPROTOCOL_INFOA info;
	int closed = socket(AF_INET, SOCK_STREAM, 0);

	ASSERT_NE(INVALID_SOCKET, source);
	/* Windows' socket 0 is no socket: here, a descriptor just closed. */
	ASSERT_EQ(0, close(closed));
	EXPECT_EQ(SOCKET_ERROR, WSADuplicateSocketA(closed, 0, NULL));
	EXPECT_EQ(WSAENOTSOCK, WSAGetLastError());
	EXPECT_EQ(SOCKET_ERROR, WSADuplicateSocketA(source, 0, NULL));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());
	EXPECT_EQ(SOCKET_ERROR, WSADuplicateSocketA(source, ~0U, &info));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());
	EXPECT_EQ(SOCKET_ERROR, WSADuplicateSocketA(closed, getpid(), &info));
	EXPECT_EQ(WSAENOTSOCK, WSAGetLastError());
	EXPECT_EQ(SOCKET_ERROR, WSADuplicateSocketA(source, getpid(), NULL));
	EXPECT_EQ(WSAEFAULT, WSAGetLastError());
	closesocket(source);
}

/* test_WSADuplicateSocket, "test returned structure". */
TEST(duplicate_socket_describes_tcp)
{
	SOCKET source = WSASocketA(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, 0);
	WSAPROTOCOL_INFOA info;
	SOCKET dup;

	ASSERT_NE(INVALID_SOCKET, source);
	memset(&info, 0, sizeof(info));
	ASSERT_EQ(0, WSADuplicateSocketA(source, getpid(), &info));
	EXPECT_EQ(IPPROTO_TCP, info.iProtocol);
	EXPECT_EQ(AF_INET, info.iAddressFamily);
	EXPECT_EQ(SOCK_STREAM, info.iSocketType);
	dup = WSASocketA(0, 0, 0, &info, 0, 0);
	EXPECT_NE(INVALID_SOCKET, dup);
	closesocket(dup);
	closesocket(source);
}

/*
 * test_WSADuplicateSocket, "create a socket, bind it, duplicate it then
 * send data on source and receive in the duplicated socket" (the duplicate
 * is redeemed after the bind).
 */
TEST(duplicate_of_udp_receives_what_its_source_is_sent)
{
	SOCKET source = WSASocketA(AF_INET, SOCK_DGRAM, IPPROTO_UDP, NULL, 0, 0);
	struct sockaddr_in addr;
	WSAPROTOCOL_INFOA info;
	int type = 0;
	socklen_t tlen = sizeof(type);
	char buf[16];
	SOCKET dup;

	ASSERT_NE(INVALID_SOCKET, source);
	memset(&info, 0, sizeof(info));
	ASSERT_EQ(0, WSADuplicateSocketA(source, getpid(), &info));
	EXPECT_EQ(IPPROTO_UDP, info.iProtocol);
	EXPECT_EQ(AF_INET, info.iAddressFamily);
	EXPECT_EQ(SOCK_DGRAM, info.iSocketType);
	ASSERT_EQ(0, bind_port0(source, htonl(INADDR_LOOPBACK), &addr));
	EXPECT_NE(0, addr.sin_port);
	dup = WSASocketA(0, 0, 0, &info, 0, 0);
	ASSERT_NE(INVALID_SOCKET, dup);
	ASSERT_EQ(0, getsockopt(dup, SOL_SOCKET, SO_TYPE, &type, &tlen));
	EXPECT_EQ(SOCK_DGRAM, type);
	ASSERT_EQ(5, send_to_self_recv_on(source, &addr, dup, buf));
	EXPECT_STREQ("TEST", buf);
	closesocket(dup);
	closesocket(source);
}

/*
 * test_WSADuplicateSocket, "show that the source socket need to be bound
 * before the duplicated socket is created": on Windows a duplicate made
 * before its source's bind has a binding of its own, and its recvfrom()
 * fails with WSAEINVAL.  A Linux limit (Documentation/winsock.rst): the
 * duplicate is the same open socket, bound with its source, and receives.
 */
TEST(duplicate_made_before_udp_bind_shares_it_on_linux)
{
	SOCKET source = WSASocketA(AF_INET, SOCK_DGRAM, IPPROTO_UDP, NULL, 0, 0);
	struct sockaddr_in addr;
	WSAPROTOCOL_INFOA info;
	char buf[16];
	SOCKET dup;

	ASSERT_NE(INVALID_SOCKET, source);
	memset(&info, 0, sizeof(info));
	ASSERT_EQ(0, WSADuplicateSocketA(source, getpid(), &info));
	dup = WSASocketA(0, 0, 0, &info, 0, 0);
	ASSERT_NE(INVALID_SOCKET, dup);
	ASSERT_EQ(0, bind_port0(source, htonl(INADDR_LOOPBACK), &addr));
	/* Windows: SOCKET_ERROR, WSAEINVAL. */
	EXPECT_EQ(5, send_to_self_recv_on(source, &addr, dup, buf));
	closesocket(dup);
	closesocket(source);
}

/*
 * The wide-character names (as libuv and CPython call them): the same
 * structure but for the name, the same checks, and one redeems what the
 * other made since the provider's fields are the same.
 */
TEST(duplicate_socket_wide_names)
{
	SOCKET source = socket(AF_INET, SOCK_STREAM, 0);
	WSAPROTOCOL_INFOW wide;
	WSAPROTOCOL_INFOA narrow;
	SOCKET dup;

	ASSERT_NE(INVALID_SOCKET, source);
	EXPECT_EQ(628, sizeof(wide));
	EXPECT_EQ(372, sizeof(narrow));
	EXPECT_EQ(SOCKET_ERROR, WSADuplicateSocketW(source, 0, NULL));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());
	EXPECT_EQ(SOCKET_ERROR, WSADuplicateSocketW(source, getpid(), NULL));
	EXPECT_EQ(WSAEFAULT, WSAGetLastError());
	EXPECT_EQ(SOCKET_ERROR, WSADuplicateSocketW(source, getpid(),
						    (WSAPROTOCOL_INFOW *)8));
	EXPECT_EQ(WSAEFAULT, WSAGetLastError());

	memset(&wide, 0xab, sizeof(wide));
	ASSERT_EQ(0, WSADuplicateSocketW(source, getpid(), &wide));
	EXPECT_EQ(AF_INET, wide.iAddressFamily);
	EXPECT_EQ(SOCK_STREAM, wide.iSocketType);
	EXPECT_EQ(IPPROTO_TCP, wide.iProtocol);
	EXPECT_EQ(0, wide.szProtocol[WSAPROTOCOL_LEN]);
	/* An explicit value contradicting the structure: refused, kept. */
	EXPECT_EQ(INVALID_SOCKET, WSASocketW(AF_INET6, 0, 0, &wide, 0, 0));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());
	dup = WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
			 FROM_PROTOCOL_INFO, &wide, 0, 0);
	ASSERT_NE(INVALID_SOCKET, dup);
	closesocket(dup);
	/* Once only. */
	EXPECT_EQ(INVALID_SOCKET, WSASocketW(0, 0, 0, &wide, 0, 0));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());

	/* The narrow structure is the wide one's first 372 bytes. */
	ASSERT_EQ(0, WSADuplicateSocketW(source, getpid(), &wide));
	memcpy(&narrow, &wide, offsetof(WSAPROTOCOL_INFOA, szProtocol));
	memset(narrow.szProtocol, 0, sizeof(narrow.szProtocol));
	dup = WSASocketA(0, 0, 0, &narrow, 0, 0);
	EXPECT_NE(INVALID_SOCKET, dup);
	closesocket(dup);
	closesocket(source);
}

/*
 * test_fionbio: a bad argp is WSAEFAULT; with an event registration,
 * non-blocking may be set again but blocking is refused (WSAEINVAL).  The
 * WSAIoctl, completion port and APC blocks are left out: Windows-only
 * plumbing with no counterpart in the compat layer.
 */
TEST(fionbio_bad_pointer_and_event_selection)
{
	SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
	WSAEVENT event = WSACreateEvent();
	u_long one = 1, zero = 0, n = 7;

	ASSERT_NE(INVALID_SOCKET, s);
	ASSERT_NE(WSA_INVALID_EVENT, event);
	WSASetLastError(0xdeadbeef);
	EXPECT_EQ(SOCKET_ERROR, ioctlsocket(s, FIONBIO, (u_long *)1));
	EXPECT_EQ(WSAEFAULT, WSAGetLastError());
	EXPECT_EQ(SOCKET_ERROR, ioctlsocket(s, FIONREAD, (u_long *)1));
	EXPECT_EQ(WSAEFAULT, WSAGetLastError());
	EXPECT_EQ(SOCKET_ERROR, ioctlsocket(s, FIONBIO, NULL));
	EXPECT_EQ(WSAEFAULT, WSAGetLastError());
	/* Nothing changed on the way. */
	EXPECT_EQ(0, fcntl(s, F_GETFL) & O_NONBLOCK);
	EXPECT_EQ(0, ioctlsocket(s, FIONREAD, &n));
	EXPECT_EQ(0, n);

	ASSERT_EQ(0, WSAEventSelect(s, event, FD_READ));
	EXPECT_EQ(0, ioctlsocket(s, FIONBIO, &one));
	EXPECT_EQ(SOCKET_ERROR, ioctlsocket(s, FIONBIO, &zero));
	EXPECT_EQ(WSAEINVAL, WSAGetLastError());
	EXPECT_NE(0, fcntl(s, F_GETFL) & O_NONBLOCK);
	closesocket(s);
	WSACloseEvent(event);
}

/*
 * test_select_after_WSAEventSelect (a regression test for wget.exe): a
 * poll of an event-selected socket neither records nor signals anything.
 * Windows' event there is auto-reset: its wait consumes the signal, which
 * WSAResetEvent() does here.
 */
TEST(poll_after_event_select_signals_nothing)
{
	struct pollfd pfd;
	SOCKET client, server;
	WSAEVENT event = WSACreateEvent();

	ASSERT_NE(WSA_INVALID_EVENT, event);
	ASSERT_TRUE(tcp_socketpair(&client, &server));
	ASSERT_EQ(0, WSAEventSelect(client, event, FD_READ));
	ASSERT_EQ(4, send(server, "data", 4, 0));
	ASSERT_EQ(WSA_WAIT_EVENT_0, WSAWaitForMultipleEvents(1, &event, FALSE, WAIT_MS, FALSE));
	ASSERT_TRUE(WSAResetEvent(event));
	pfd = (struct pollfd){ .fd = client, .events = POLLIN | POLLPRI | POLLOUT };
	ASSERT_EQ(1, poll(&pfd, 1, WAIT_MS));
	EXPECT_EQ(POLLIN | POLLOUT, pfd.revents);
	EXPECT_EQ(WSA_WAIT_TIMEOUT, WSAWaitForMultipleEvents(1, &event, FALSE, 0, FALSE));
	closesocket(server);
	closesocket(client);
	WSACloseEvent(event);
}

TEST_HARNESS_MAIN
