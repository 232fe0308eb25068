// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * event_select: a WSAEventSelect echo server, written as on Windows with
 * the Winsock names of <sharedsock/winsock.h>.
 *
 * Every socket has its own event object (an eventfd): the listener selects
 * FD_ACCEPT, each connection FD_READ | FD_CLOSE.  WSAWaitForMultipleEvents
 * says which event is set, WSAEnumNetworkEvents fetches that socket's
 * events and resets the event.  As on Windows, an accepted socket inherits
 * the listener's registration until it is given its own, one recv() is made
 * per FD_READ (FD_READ comes again if data remains), and FD_CLOSE comes as
 * soon as the peer closes, even with data unread (here the clients close
 * once they have their echo; a server whose peers may close early reads
 * what is left before closing).  The clients check the echo.
 *
 *	build: cc event_select.c echo_client.c \
 *		$(pkg-config --cflags --libs sharedsock)
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>

#include <sharedsock/winsock.h>

#include "echo_client.h"

struct server {
	SOCKET socks[WSA_MAXIMUM_WAIT_EVENTS];
	WSAEVENT events[WSA_MAXIMUM_WAIT_EVENTS];
	DWORD count;
	int closed;		/* connections the peer closed */
};

/* Give @s its own event object, for @mask. */
static int add_socket(struct server *sv, SOCKET s, long mask)
{
	WSAEVENT ev = WSACreateEvent();

	if (ev == WSA_INVALID_EVENT || sv->count == WSA_MAXIMUM_WAIT_EVENTS ||
	    WSAEventSelect(s, ev, mask) == SOCKET_ERROR) {
		fprintf(stderr, "WSAEventSelect: %d\n", WSAGetLastError());
		if (ev != WSA_INVALID_EVENT)
			WSACloseEvent(ev);
		closesocket(s);
		return -1;
	}
	sv->socks[sv->count] = s;
	sv->events[sv->count++] = ev;
	return 0;
}

static void remove_socket(struct server *sv, DWORD i)
{
	closesocket(sv->socks[i]);	/* also ends its registration */
	WSACloseEvent(sv->events[i]);
	sv->count--;
	sv->socks[i] = sv->socks[sv->count];
	sv->events[i] = sv->events[sv->count];
}

static int echo_once(SOCKET s)
{
	char buf[4096];
	int n = recv(s, buf, sizeof(buf), 0);

	if (n > 0 && send(s, buf, n, MSG_NOSIGNAL) != n)
		return -1;
	if (n == SOCKET_ERROR && WSAGetLastError() != WSAEWOULDBLOCK)
		return -1;
	return 0;
}

/* Socket @i's event is set: fetch its network events and handle them. */
static int handle(struct server *sv, DWORD i)
{
	WSANETWORKEVENTS ne;
	SOCKET s = sv->socks[i], c;

	if (WSAEnumNetworkEvents(s, sv->events[i], &ne) == SOCKET_ERROR)
		return -1;
	if (ne.lNetworkEvents & FD_ACCEPT) {
		c = accept(s, NULL, NULL);
		if (c == INVALID_SOCKET || add_socket(sv, c, FD_READ | FD_CLOSE) == -1)
			return -1;
	}
	if ((ne.lNetworkEvents & FD_READ) && echo_once(s) == -1)
		return -1;
	if (ne.lNetworkEvents & FD_CLOSE) {
		if (ne.iErrorCode[FD_CLOSE_BIT] != 0)	/* WSAECONNABORTED */
			fprintf(stderr, "connection lost: %d\n",
				ne.iErrorCode[FD_CLOSE_BIT]);
		remove_socket(sv, i);
		sv->closed++;
	}
	return 0;
}

/* Serve until ECHO_CONNS connections have come and gone. */
static int event_loop(struct server *sv)
{
	DWORD r;

	while (sv->closed < ECHO_CONNS) {
		r = WSAWaitForMultipleEvents(sv->count, sv->events, FALSE, 10000,
					     FALSE);
		if (r == WSA_WAIT_TIMEOUT || r == WSA_WAIT_FAILED) {
			fprintf(stderr, "WSAWaitForMultipleEvents: %s %d\n",
				r == WSA_WAIT_TIMEOUT ? "timed out" : "failed",
				WSAGetLastError());
			return -1;
		}
		if (handle(sv, r - WSA_WAIT_EVENT_0) == -1) {
			fprintf(stderr, "socket %d: %d\n",
				sv->socks[r - WSA_WAIT_EVENT_0], WSAGetLastError());
			return -1;
		}
	}
	return 0;
}

int main(void)
{
	struct server sv = { .count = 0 };
	unsigned short port;
	pid_t clients;
	WSADATA wsa;
	int failed;

	WSAStartup(MAKEWORD(2, 2), &wsa);
	if (add_socket(&sv, listen_loopback(&port), FD_ACCEPT) == -1)
		return EXIT_FAILURE;
	clients = echo_clients_start(port);

	failed = event_loop(&sv) == -1;
	while (sv.count > 0)
		remove_socket(&sv, 0);
	failed |= wait_child(clients, "clients");
	WSACleanup();
	if (failed)
		return EXIT_FAILURE;
	printf("event_select: %d connections echoed from one WSAEventSelect loop\n",
	       ECHO_CONNS);
	return EXIT_SUCCESS;
}
