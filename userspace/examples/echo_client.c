// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The clients that check the examples (echo_client.h): plain sockets, no
 * sharedsock.  Each client process has its own connection; a server that
 * stalls or answers wrong bytes makes the clients, and so the example, fail.
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "echo_client.h"

#define ROUNDS		4
#define MAX_MSG		3000
#define TIMEOUT_S	10	/* a silent server fails the check */

int listen_loopback(unsigned short *port)
{
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t len = sizeof(addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd == -1 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == -1 ||
	    listen(fd, SOMAXCONN) == -1 ||
	    getsockname(fd, (struct sockaddr *)&addr, &len) == -1) {
		perror("listening socket");
		exit(EXIT_FAILURE);
	}
	*port = ntohs(addr.sin_port);
	return fd;
}

static int connect_loopback(unsigned short port)
{
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	struct timeval tv = { .tv_sec = TIMEOUT_S };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == -1) {
		perror("client: connect");
		exit(EXIT_FAILURE);
	}
	return fd;
}

/* Message @round of client @id: its own length and bytes. */
static size_t message(int id, int round, unsigned char *buf)
{
	size_t len = 1 + (size_t)(id * 577 + round * 1009) % MAX_MSG, i;

	for (i = 0; i < len; i++)
		buf[i] = (unsigned char)(id * 31 + round * 7 + i);
	return len;
}

/* Send one message, read its echo whole and compare; 0 if it matched. */
static int exchange(int fd, int id, int round)
{
	unsigned char out[MAX_MSG], in[MAX_MSG];
	size_t len = message(id, round, out);
	ssize_t n;

	if (send(fd, out, len, MSG_NOSIGNAL) != (ssize_t)len) {
		perror("client: send");
		return -1;
	}
	n = recv(fd, in, len, MSG_WAITALL);
	if (n != (ssize_t)len || memcmp(in, out, len) != 0) {
		fprintf(stderr, "client %d: round %d: %zd of %zu bytes echoed%s\n",
			id, round, n, len, n == (ssize_t)len ? ", wrong" : "");
		return -1;
	}
	return 0;
}

static void client(int id, unsigned short port)
{
	int fd = connect_loopback(port), round;

	for (round = 0; round < ROUNDS; round++)
		if (exchange(fd, id, round) == -1)
			exit(EXIT_FAILURE);
	close(fd);
	exit(EXIT_SUCCESS);
}

pid_t echo_clients_start(unsigned short port)
{
	pid_t pids[ECHO_CONNS], pid = fork();
	int i, failed = 0;

	if (pid == -1) {
		perror("fork");
		exit(EXIT_FAILURE);
	}
	if (pid > 0)
		return pid;
	close_range(3, ~0U, 0);		/* nothing of the server's */
	for (i = 0; i < ECHO_CONNS; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			client(i, port);
		if (pids[i] == -1)
			exit(EXIT_FAILURE);
	}
	for (i = 0; i < ECHO_CONNS; i++)
		failed |= wait_child(pids[i], "client");
	exit(failed ? EXIT_FAILURE : EXIT_SUCCESS);
}

int wait_child(pid_t pid, const char *what)
{
	int status;

	if (waitpid(pid, &status, 0) == -1) {
		perror("waitpid");
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	fprintf(stderr, "%s (pid %d) failed: status %#x\n", what, (int)pid,
		status);
	return -1;
}
