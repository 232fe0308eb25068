/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The "sharedsock" TCP upper-layer protocol (ulp.c).
 */
#ifndef _SHAREDSOCK_ULP_H
#define _SHAREDSOCK_ULP_H

#include <linux/net.h>
#include <linux/rcupdate.h>
#include <net/inet_connection_sock.h>

struct ss_reg;

/*
 * The registration of a TCP socket that carries the ULP is kept in the
 * ULP's own field, icsk_ulp_data (RCU; NULL for none, and in a child as
 * it is cloned), where the socket's calls find it without a lookup.
 * Written under ss_reg_mutex, read by callers that hold the socket's file.
 */
static inline struct ss_reg *ss_ulp_reg(const struct sock *sk)
{
	return rcu_dereference_check(inet_csk(sk)->icsk_ulp_data, 1);
}

static inline void ss_ulp_set_reg(struct sock *sk, struct ss_reg *reg)
{
	rcu_assign_pointer(inet_csk(sk)->icsk_ulp_data, reg);
}

int ss_ulp_init_module(void);
void ss_ulp_enable(void);
void ss_ulp_exit(void);
bool ss_ulp_is_ours(struct sock *sk);
int ss_ulp_attach(struct socket *sock);

#endif /* _SHAREDSOCK_ULP_H */
