// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * async_select: a WSAAsyncSelect echo server.  Where Windows posts window
 * messages, sharedsock posts to a message queue descriptor: one queue
 * serves the listener and every connection accepted from it, which
 * inherit its registration (ss_async_select, Winsock's WSAAsyncSelect; with
 * <sharedsock/winsock.h> the same program reads HWND for the queue).
 *
 * Each message names the socket, our message number and one event.  One
 * accept() per SS_FD_ACCEPT and one recv() per SS_FD_READ: if more is
 * waiting the queue posts the event again.  The queue is non-blocking and
 * polled with a timeout, so that a silent server fails instead of hanging.
 * The clients check the echo.
 *
 *	build: cc async_select.c echo_client.c \
 *		$(pkg-config --cflags --libs sharedsock)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sharedsock.h>

#include "echo_client.h"

#define MSG_SERVER	1	/* our "window message" */

static int echo_once(int s)
{
	char buf[4096];
	ssize_t n = recv(s, buf, sizeof(buf), 0);

	if (n > 0 && send(s, buf, n, MSG_NOSIGNAL) != n)
		return -1;
	if (n == -1 && errno != EAGAIN)
		return -1;
	return 0;
}

/* One message, as a window procedure would handle it. */
static int dispatch(const struct ss_message *m, int *closed)
{
	if (m->msg != MSG_SERVER || m->socket == -1)
		return 0;
	if (m->error)
		fprintf(stderr, "socket %d: event %#lx: error %d\n", m->socket,
			m->event, m->error);
	switch (m->event) {
	case SS_FD_ACCEPT:
		/* The new socket inherits the registration: same queue. */
		if (accept4(m->socket, NULL, NULL, SOCK_CLOEXEC) == -1 &&
		    errno != EAGAIN)
			return -1;
		break;
	case SS_FD_READ:
		return echo_once(m->socket);
	case SS_FD_CLOSE:
		close(m->socket);	/* also ends the registration */
		(*closed)++;
		break;
	}
	return 0;
}

/* Read and handle messages until ECHO_CONNS connections have closed. */
static int message_loop(int q)
{
	struct pollfd p = { .fd = q, .events = POLLIN };
	struct ss_message m[32];
	int closed = 0;
	ssize_t i, n;

	while (closed < ECHO_CONNS) {
		if (poll(&p, 1, 10000) != 1) {
			fprintf(stderr, "no message for 10 s\n");
			return -1;
		}
		while ((n = ss_queue_read(q, m, 32)) > 0)
			for (i = 0; i < n; i++)
				if (dispatch(&m[i], &closed) == -1) {
					perror("dispatch");
					return -1;
				}
		if (n == -1 && errno != EAGAIN) {
			perror("ss_queue_read");
			return -1;
		}
	}
	return 0;
}

int main(void)
{
	unsigned short port;
	int lfd, q, failed;
	pid_t clients;

	lfd = listen_loopback(&port);
	q = ss_queue_create(O_CLOEXEC | O_NONBLOCK);
	if (q == -1) {
		perror("ss_queue_create");
		return EXIT_FAILURE;
	}
	if (ss_async_select(lfd, q, MSG_SERVER,
			    SS_FD_ACCEPT | SS_FD_READ | SS_FD_CLOSE) == -1) {
		perror("ss_async_select");
		return EXIT_FAILURE;
	}
	clients = echo_clients_start(port);

	failed = message_loop(q) == -1;
	close(lfd);
	close(q);	/* cancels whatever registration still posts to it */
	failed |= wait_child(clients, "clients");
	if (failed)
		return EXIT_FAILURE;
	printf("async_select: %d connections echoed from one message queue\n",
	       ECHO_CONNS);
	return EXIT_SUCCESS;
}
