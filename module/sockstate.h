/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What holds on a socket of a served kind (sockstate.c): lockless reads of
 * the protocol's state, as its own poll makes them.
 */
#ifndef _SHAREDSOCK_SOCKSTATE_H
#define _SHAREDSOCK_SOCKSTATE_H

#include <linux/net.h>
#include <linux/poll.h>

#include "rules.h"

struct sock;

bool ss_sock_served(const struct socket *sock, const struct sock *sk);
bool ss_sock_is_tcp(const struct sock *sk);
bool ss_sock_is_udp(const struct sock *sk);
bool ss_sock_is_stream(const struct socket *sock);
bool ss_sock_listening(const struct sock *sk);
bool ss_sock_readable(struct sock *sk);
bool ss_sock_established(const struct socket *sock, const struct sock *sk);
bool ss_sock_was_connected(const struct socket *sock, const struct sock *sk);
bool ss_sock_connecting(const struct sock *sk);
bool ss_sock_writable(struct sock *sk);
void ss_sock_observe(const struct socket *sock, struct sock *sk,
		     struct ss_obs *obs);
unsigned int ss_wake_classes(__poll_t key);
unsigned int ss_wake_pure(__poll_t key);

#endif /* _SHAREDSOCK_SOCKSTATE_H */
