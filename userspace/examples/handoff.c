// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * handoff: an acceptor hands each connection it accepts to a worker
 * process (Winsock: WSADuplicateSocket, then WSASocket with the protocol
 * info).
 *
 * The workers are forked first and never see the listening socket.  For
 * each connection the acceptor makes a token that only the chosen worker
 * can redeem (ss_duplicate_socket), writes it down that worker's pipe and
 * closes its own descriptor: the token keeps the connection open until the
 * worker redeems it (ss_socket_from_info) into a descriptor of its own.
 * The workers echo what they receive; the example's clients check it.
 *
 *	build: cc handoff.c echo_client.c $(pkg-config --cflags --libs sharedsock)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sharedsock.h>

#include "echo_client.h"

#define WORKERS	2

/* Echo on one connection until the peer closes it. */
static void echo(int fd)
{
	char buf[4096];
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		if (send(fd, buf, n, MSG_NOSIGNAL) != n)
			break;
}

/* The worker: redeem each token and serve its connection. */
static int worker(int from_acceptor)
{
	struct ss_protocol_info info;
	int fd;

	while (read(from_acceptor, &info, sizeof(info)) == sizeof(info)) {
		fd = ss_socket_from_info(&info, O_CLOEXEC);
		if (fd == -1) {
			perror("ss_socket_from_info");
			return EXIT_FAILURE;
		}
		echo(fd);
		close(fd);
	}
	return EXIT_SUCCESS;	/* the acceptor closed the pipe */
}

/* Fork worker @i; *to_worker: the write end of its pipe. */
static pid_t start_worker(int i, int *to_worker)
{
	int p[2], k;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) == -1 || (pid = fork()) == -1) {
		perror("worker");
		exit(EXIT_FAILURE);
	}
	if (pid == 0) {
		for (k = 0; k < i; k++)	/* the other workers' pipes */
			close(to_worker[k]);
		close(p[1]);
		exit(worker(p[0]));
	}
	close(p[0]);
	to_worker[i] = p[1];
	return pid;
}

/* Hand @conn to @worker through @pipe; our descriptor goes either way. */
static int hand_over(int conn, pid_t worker, int pipe)
{
	struct ss_protocol_info info;
	int ret = ss_duplicate_socket(conn, worker, &info);

	if (ret == -1) {
		perror("ss_duplicate_socket");
	} else if (write(pipe, &info, sizeof(info)) != sizeof(info)) {
		perror("write");
		ss_revoke(&info);	/* the worker will never see it */
		ret = -1;
	}
	close(conn);	/* the token keeps the connection open */
	return ret;
}

int main(void)
{
	int to_worker[WORKERS], lfd, conn, i, failed = 0;
	pid_t workers[WORKERS], clients;
	unsigned short port;

	for (i = 0; i < WORKERS; i++)
		workers[i] = start_worker(i, to_worker);
	lfd = listen_loopback(&port);
	clients = echo_clients_start(port);

	/* The acceptor: each connection to the next worker in turn. */
	for (i = 0; i < ECHO_CONNS && !failed; i++) {
		conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (conn == -1) {
			perror("accept4");
			failed = 1;
		} else if (hand_over(conn, workers[i % WORKERS],
				     to_worker[i % WORKERS]) == -1) {
			failed = 1;
		}
	}
	close(lfd);
	for (i = 0; i < WORKERS; i++)
		close(to_worker[i]);	/* end of file: the worker exits */

	failed |= wait_child(clients, "clients");
	for (i = 0; i < WORKERS; i++)
		failed |= wait_child(workers[i], "worker");
	if (failed)
		return EXIT_FAILURE;
	printf("handoff: %d connections handed to %d workers, every echo checked\n",
	       ECHO_CONNS, WORKERS);
	return EXIT_SUCCESS;
}
