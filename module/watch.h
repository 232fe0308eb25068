/* SPDX-License-Identifier: GPL-2.0 */
/*
 * How a registration watches its socket: the socket's proto_ops are
 * pointed at a wrapped copy (watch.c), and its readiness comes from its
 * wait queue or its sock callbacks (sockcb.c).
 */
#ifndef _SHAREDSOCK_WATCH_H
#define _SHAREDSOCK_WATCH_H

#include <linux/net.h>

#include "reg.h"

/* The sock callbacks a registration may wrap, in the order of ss_sk_hooks. */
enum ss_sk_cb {
	SS_SK_DATA_READY,
	SS_SK_WRITE_SPACE,
	SS_SK_STATE_CHANGE,
	SS_SK_ERROR_REPORT,
	SS_SK_CBS
};

/**
 * struct ss_ops - the wrapped proto_ops of one protocol
 * @ops:   *@orig with a few operations wrapped; sock->ops of every
 *         registered socket of the protocol points here
 * @orig:  the protocol's own proto_ops
 * @node:  on the list of tables (watch.c), under ss_reg_mutex
 * @sk_cb: the protocol's own sock callbacks (enum ss_sk_cb), learnt from
 *         the first registered socket of a kind that may be hooked, under
 *         ss_reg_mutex before its ops are published, and constant after;
 *         only sockets that have these are hooked
 *
 * Lifetime: created by the first registration of a socket of the protocol
 * and freed at module exit, never before: besides registered sockets,
 * sockets without a registration may point here and reach ss_release() --
 * one that accept() created with the listener's ops and then released
 * without calling ours (a failed allocation or security hook, possibly
 * after the listener is gone), one a kernel accept() gave them -- and no
 * count of them can be kept.  Every one of them holds this module, as
 * @ops.owner, so none is left at module exit.  Nothing but @sk_cb, learnt
 * once, changes after creation.  A few such tables exist: one per protocol
 * ever registered.
 */
struct ss_ops {
	struct proto_ops ops;		/* a writable copy, not const */
	const struct proto_ops *orig;
	struct list_head node;

	void (*sk_cb[SS_SK_CBS])(struct sock *sk);
};

/* watch.c */
int ss_watch_select(struct socket *sock, int sockfd,
		    const struct sharedsock_select *args);
struct ss_reg *ss_watch_reg(struct socket *sock);
void ss_watch_exit(void);

/* sockcb.c */
void ss_sk_learn(struct socket *sock, struct ss_ops *table);
void ss_sk_unhook(struct sock *sk, const struct ss_ops *table);
void ss_sk_try_hook(struct ss_reg *reg, struct ss_ops *table);
void ss_sk_unhook_reg(struct ss_reg *reg, struct ss_ops *table);
void ss_sk_exit(void);

#endif /* _SHAREDSOCK_WATCH_H */
