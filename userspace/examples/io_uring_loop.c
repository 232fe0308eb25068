// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * io_uring_loop: an echo server whose only wait is io_uring's.
 *
 * Connections come from an IORING_OP_ACCEPT.  Each gets an eventfd for
 * SS_FD_READ | SS_FD_CLOSE (ss_event_select, Winsock's WSAEventSelect) and
 * goes round one chain of operations, one in flight at a time:
 *
 *	IORING_OP_READ of the eventfd (8 bytes: completes once an event is
 *	recorded), ss_enum_network_events() to fetch the events (-1: the read
 *	has already reset the eventfd), IORING_OP_RECV, IORING_OP_SEND of what
 *	came, and the eventfd again.
 *
 * An io_uring recv re-enables SS_FD_READ as recv(2) does: if data remains,
 * the event is recorded again and the eventfd read completes at once.
 * SS_FD_CLOSE comes as soon as the peer closes (here once it has its echo).
 * The clients check the echo.
 *
 *	build: cc io_uring_loop.c echo_client.c \
 *		$(pkg-config --cflags --libs sharedsock liburing)
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <liburing.h>
#include <sharedsock.h>

#include "echo_client.h"

enum op { OP_ACCEPT, OP_EVENT, OP_RECV, OP_SEND };

/* A socket and the one operation it has in flight (the user data). */
struct conn {
	int fd, efd;
	enum op op;
	uint64_t count;		/* the eventfd read's */
	int len;		/* bytes received, to send back */
	char buf[4096];
};

struct server {
	struct io_uring ring;
	struct conn listener;
	int accepted, closed;
};

static void submit(struct server *sv, struct conn *c, enum op op)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&sv->ring);

	if (!sqe) {	/* one operation per socket: the ring has room */
		fprintf(stderr, "submission queue full\n");
		exit(EXIT_FAILURE);
	}
	c->op = op;
	if (op == OP_ACCEPT)
		io_uring_prep_accept(sqe, c->fd, NULL, NULL, SOCK_CLOEXEC);
	else if (op == OP_EVENT)
		io_uring_prep_read(sqe, c->efd, &c->count, sizeof(c->count), 0);
	else if (op == OP_RECV)
		io_uring_prep_recv(sqe, c->fd, c->buf, sizeof(c->buf), 0);
	else
		io_uring_prep_send(sqe, c->fd, c->buf, c->len, MSG_NOSIGNAL);
	io_uring_sqe_set_data(sqe, c);
}

/* A new connection: its eventfd, its registration, its first wait. */
static int add_conn(struct server *sv, int fd)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c || (c->efd = eventfd(0, EFD_CLOEXEC)) == -1) {
		free(c);
		return -1;
	}
	c->fd = fd;
	if (ss_event_select(fd, c->efd, SS_FD_READ | SS_FD_CLOSE) == -1) {
		perror("ss_event_select");
		close(c->efd);
		free(c);
		return -1;
	}
	submit(sv, c, OP_EVENT);
	return 0;
}

static void close_conn(struct server *sv, struct conn *c)
{
	close(c->fd);		/* also ends the registration */
	close(c->efd);
	free(c);
	sv->closed++;
}

/* The eventfd read completed: what happened on the socket? */
static int on_event(struct server *sv, struct conn *c)
{
	struct ss_network_events ne;

	if (ss_enum_network_events(c->fd, -1, &ne) == -1) {
		perror("ss_enum_network_events");
		return -1;
	}
	if (ne.network_events & SS_FD_CLOSE)
		close_conn(sv, c);
	else if (ne.network_events & SS_FD_READ)
		submit(sv, c, OP_RECV);
	else
		submit(sv, c, OP_EVENT);	/* fetched with an earlier one */
	return 0;
}

/* Operation @c->op of @c completed with @res. */
static int complete(struct server *sv, struct conn *c, int res)
{
	switch (c->op) {
	case OP_ACCEPT:
		if (res < 0 || add_conn(sv, res) == -1)
			return -1;
		if (++sv->accepted < ECHO_CONNS)
			submit(sv, c, OP_ACCEPT);
		return 0;
	case OP_EVENT:
		return res == sizeof(c->count) ? on_event(sv, c) : -1;
	case OP_RECV:
		if (res < 0)
			return -1;
		c->len = res;
		submit(sv, c, res ? OP_SEND : OP_EVENT);  /* 0: FD_CLOSE follows */
		return 0;
	case OP_SEND:
		if (res != c->len)
			return -1;
		submit(sv, c, OP_EVENT);
		return 0;
	}
	return -1;
}

static int event_loop(struct server *sv)
{
	struct __kernel_timespec ts = { .tv_sec = 10 };
	struct io_uring_cqe *cqe;
	struct conn *c;
	int res;

	submit(sv, &sv->listener, OP_ACCEPT);
	while (sv->closed < ECHO_CONNS) {
		if (io_uring_submit(&sv->ring) < 0 ||
		    io_uring_wait_cqe_timeout(&sv->ring, &cqe, &ts) < 0) {
			fprintf(stderr, "no completion for 10 s\n");
			return -1;
		}
		c = io_uring_cqe_get_data(cqe);
		res = cqe->res;
		io_uring_cqe_seen(&sv->ring, cqe);
		if (complete(sv, c, res) == -1) {
			fprintf(stderr, "operation %d: result %d\n", c->op, res);
			return -1;
		}
	}
	return 0;
}

int main(void)
{
	struct server sv = { .listener.efd = -1 };
	unsigned short port;
	pid_t clients;
	int failed;

	if (io_uring_queue_init(2 * ECHO_CONNS, &sv.ring, 0) < 0) {
		fprintf(stderr, "io_uring_queue_init failed\n");
		return EXIT_FAILURE;
	}
	sv.listener.fd = listen_loopback(&port);
	clients = echo_clients_start(port);

	failed = event_loop(&sv) == -1;
	io_uring_queue_exit(&sv.ring);
	close(sv.listener.fd);
	failed |= wait_child(clients, "clients");
	if (failed)
		return EXIT_FAILURE;
	printf("io_uring_loop: %d connections echoed through io_uring\n",
	       ECHO_CONNS);
	return EXIT_SUCCESS;
}
