// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * batch_handoff: an acceptor hands a batch of connections to a worker as
 * one token: one call on each side and one message on the pipe, whatever
 * the number of sockets (up to SS_MAX_TOKEN_SOCKETS).
 *
 * The acceptor collects ECHO_CONNS connections, exports them all with
 * ss_duplicate_sockets() and closes its descriptors.  The worker redeems
 * them with ss_sockets_from_info(), which gives as many as it has room for
 * (a full descriptor table leaves the rest in the token for the next call),
 * and echoes on all of them from a poll() loop.  The clients check it.
 *
 *	build: cc batch_handoff.c echo_client.c \
 *		$(pkg-config --cflags --libs sharedsock)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sharedsock.h>

#include "echo_client.h"

/* What goes down the pipe: the token and how many sockets it holds. */
struct batch {
	struct ss_protocol_info info;
	unsigned int count;
};

/* Redeem every socket of the batch into @fds; returns how many. */
static unsigned int redeem(const struct batch *b, int *fds)
{
	unsigned int n = 0;
	int k;

	while (n < b->count) {
		k = ss_sockets_from_info(&b->info, fds + n, b->count - n, O_CLOEXEC);
		if (k <= 0) {
			perror("ss_sockets_from_info");
			break;
		}
		n += k;
	}
	return n;
}

/* Echo on all @n connections until every peer has closed. */
static int serve(const int *fds, unsigned int n)
{
	struct pollfd p[ECHO_CONNS];
	unsigned int open = n, i;
	char buf[4096];
	ssize_t len;

	for (i = 0; i < n; i++)
		p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	while (open > 0) {
		if (poll(p, n, 10000) <= 0)
			return -1;	/* an error, or 10 s of silence */
		for (i = 0; i < n; i++) {
			if (!p[i].revents)
				continue;
			len = recv(p[i].fd, buf, sizeof(buf), 0);
			if (len > 0 && send(p[i].fd, buf, len, MSG_NOSIGNAL) == len)
				continue;
			close(p[i].fd);	/* closed by the peer */
			p[i].fd = -1;
			open--;
		}
	}
	return 0;
}

static int worker(int from_acceptor)
{
	int fds[ECHO_CONNS];
	struct batch b;
	unsigned int n;

	if (read(from_acceptor, &b, sizeof(b)) != sizeof(b) ||
	    b.count > ECHO_CONNS)
		return EXIT_FAILURE;
	n = redeem(&b, fds);
	if (n != b.count || serve(fds, n) == -1)
		return EXIT_FAILURE;
	return EXIT_SUCCESS;
}

/* Accept @count connections, export them as one token for @worker. */
static int hand_over_batch(int lfd, unsigned int count, pid_t worker, int pipe)
{
	struct batch b = { .count = count };
	int conns[ECHO_CONNS], ret = -1;
	unsigned int i, n;

	for (n = 0; n < count; n++) {
		conns[n] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (conns[n] == -1) {
			perror("accept4");
			break;
		}
	}
	if (n == count) {
		ret = ss_duplicate_sockets(conns, count, worker, 0, &b.info);
		if (ret == -1)
			perror("ss_duplicate_sockets");
		else if (write(pipe, &b, sizeof(b)) != sizeof(b)) {
			perror("write");
			ss_revoke(&b.info);	/* the worker will never see it */
			ret = -1;
		}
	}
	for (i = 0; i < n; i++)
		close(conns[i]);	/* the token holds them */
	return ret;
}

int main(void)
{
	pid_t worker_pid, clients;
	unsigned short port;
	int p[2], lfd, failed;

	if (pipe2(p, O_CLOEXEC) == -1 || (worker_pid = fork()) == -1) {
		perror("worker");
		return EXIT_FAILURE;
	}
	if (worker_pid == 0) {
		close(p[1]);
		exit(worker(p[0]));
	}
	close(p[0]);
	lfd = listen_loopback(&port);
	clients = echo_clients_start(port);

	failed = hand_over_batch(lfd, ECHO_CONNS, worker_pid, p[1]) == -1;
	close(lfd);
	close(p[1]);
	failed |= wait_child(clients, "clients");
	failed |= wait_child(worker_pid, "worker");
	if (failed)
		return EXIT_FAILURE;
	printf("batch_handoff: %d connections handed over as one token, "
	       "every echo checked\n", ECHO_CONNS);
	return EXIT_SUCCESS;
}
