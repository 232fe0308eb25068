// SPDX-License-Identifier: GPL-2.0
/*
 * The harness of the Windows conformance ports: conformance.h says what
 * each piece stands for on Windows.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "conformance.h"

bool reporter_open(struct reporter *r, enum report_mode mode)
{
	memset(r, 0, sizeof(*r));
	r->mode = mode;
	r->socket = INVALID_SOCKET;
	r->event = WSA_INVALID_EVENT;
	r->window = -1;
	if (mode == BY_EVENT) {
		r->event = WSACreateEvent();
		return r->event != WSA_INVALID_EVENT;
	}
	r->window = ss_queue_create(O_CLOEXEC | O_NONBLOCK);
	return r->window >= 0;
}

void reporter_close(struct reporter *r)
{
	if (r->event != WSA_INVALID_EVENT)
		WSACloseEvent(r->event);
	if (r->window >= 0)
		close(r->window);
	r->event = WSA_INVALID_EVENT;
	r->window = -1;
}

int select_events(struct reporter *r, SOCKET s, long mask)
{
	r->socket = s;
	if (r->mode == BY_EVENT)
		return WSAEventSelect(s, r->event, mask);
	return WSAAsyncSelect(s, r->window, WM_USER, mask);
}

/* @fd becomes readable within @ms (0: now). */
static bool readable_within(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, ms) == 1;
}

/* The bits of the expected replies, and the error each expects. */
static long expected_bits(long first, long second)
{
	return WSAGETSELECTEVENT(first) | WSAGETSELECTEVENT(second);
}

static bool by_event(struct reporter *r, long first, long second,
		     int quiet_ms, char *why, size_t len)
{
	const long replies[] = { first, second };
	long want = expected_bits(first, second);
	WSANETWORKEVENTS ne;
	bool signalled;
	int bit, i;

	signalled = readable_within(r->event, want ? WAIT_MS : quiet_ms);
	memset(&ne, 0xcc, sizeof(ne));
	if (WSAEnumNetworkEvents(r->socket, r->event, &ne)) {
		snprintf(why, len, "WSAEnumNetworkEvents failed: %d",
			 WSAGetLastError());
		return false;
	}
	if (signalled != !!want || ne.lNetworkEvents != want) {
		snprintf(why, len,
			 "expected events %#lx (signalled: %d), got %#lx (signalled: %d)",
			 want, !!want, ne.lNetworkEvents, signalled);
		return false;
	}
	for (i = 0; i < 2; i++) {
		if (!replies[i])
			continue;
		bit = __builtin_ctz(WSAGETSELECTEVENT(replies[i]));
		if (ne.iErrorCode[bit] != WSAGETSELECTERROR(replies[i])) {
			snprintf(why, len, "event %#x: error %d, expected %d",
				 1 << bit, ne.iErrorCode[bit],
				 WSAGETSELECTERROR(replies[i]));
			return false;
		}
	}
	return true;
}

/* The next message within @ms, or false. */
static bool next_message(struct reporter *r, int ms, struct ss_message *m)
{
	return readable_within(r->window, ms) &&
	       ss_queue_read(r->window, m, 1) == 1;
}

static bool by_message(struct reporter *r, long first, long second,
		       int quiet_ms, char *why, size_t len)
{
	const long replies[] = { first, second };
	struct ss_message m;
	LPARAM got;
	int i;

	for (i = 0; i < 2; i++) {
		if (!replies[i])
			continue;
		if (!next_message(r, WAIT_MS, &m)) {
			snprintf(why, len, "no message %d (expected %#lx)",
				 i + 1, replies[i]);
			return false;
		}
		got = ss_wsa_select_lparam(&m);
		if (m.socket != r->socket || m.msg != WM_USER ||
		    got != replies[i]) {
			snprintf(why, len,
				 "message %d: socket %d msg %#x lParam %#lx, expected socket %d msg %#x lParam %#lx",
				 i + 1, m.socket, m.msg, (long)got, r->socket,
				 WM_USER, replies[i]);
			return false;
		}
	}
	if (next_message(r, quiet_ms, &m)) {
		snprintf(why, len,
			 "unexpected message: socket %d lParam %#lx", m.socket,
			 (long)ss_wsa_select_lparam(&m));
		return false;
	}
	return true;
}

bool events_are(struct reporter *r, long first, long second, int quiet_ms,
		char *why, size_t len)
{
	if (r->mode == BY_EVENT)
		return by_event(r, first, second, quiet_ms, why, len);
	return by_message(r, first, second, quiet_ms, why, len);
}

bool tcp_socketpair(SOCKET *client, SOCKET *server)
{
	struct sockaddr_in addr;
	socklen_t len = sizeof(addr);
	SOCKET listener = loopback_listener(&addr, &len);

	*client = *server = INVALID_SOCKET;
	if (listener == INVALID_SOCKET)
		return false;
	*client = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
	if (*client != INVALID_SOCKET &&
	    !connect(*client, (struct sockaddr *)&addr, len))
		*server = accept(listener, NULL, NULL);
	closesocket(listener);
	return *server != INVALID_SOCKET;
}

int set_blocking(SOCKET s, bool blocking)
{
	u_long arg = !blocking;

	return ioctlsocket(s, FIONBIO, &arg);
}

bool close_with_rst(SOCKET s)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	return !setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) &&
	       !closesocket(s);
}

int sync_recv(SOCKET s, void *buf, int len, int flags)
{
	if (!readable_within(s, WAIT_MS))
		return -1;
	return recv(s, buf, len, flags);
}
