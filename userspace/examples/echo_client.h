/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The check every example runs on itself: client processes that connect to
 * the example's echo server, send messages and verify every byte that comes
 * back.  Not part of the patterns the examples show: a program of your own
 * has its own clients.
 */
#ifndef ECHO_CLIENT_H
#define ECHO_CLIENT_H

#include <sys/types.h>

/* Connections the clients open at once, one process each. */
#define ECHO_CONNS	8

/* A TCP listener on 127.0.0.1 at a port the kernel picks (*port). */
int listen_loopback(unsigned short *port);

/*
 * Fork the clients: ECHO_CONNS processes connect to @port together, each
 * sends a few messages of different sizes, one at a time, checks the echo
 * of each, then closes its connection.  Returns the pid to wait for.
 */
pid_t echo_clients_start(unsigned short port);

/* Wait for the child @pid: 0 if it exited with status 0, else -1. */
int wait_child(pid_t pid, const char *what);

#endif /* ECHO_CLIENT_H */
