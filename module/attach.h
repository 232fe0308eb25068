/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A registration on its socket (attach.c): published, torn down at the
 * socket's last close, inherited by accepted sockets.
 */
#ifndef _SHAREDSOCK_ATTACH_H
#define _SHAREDSOCK_ATTACH_H

#include <linux/fs.h>
#include <linux/net.h>

#include "reg.h"

/* How a registered socket's calls reach the module (struct ss_reg.kind). */
enum ss_watch_kind {
	SS_WATCH_TCP,		/* struct proto, installed by the ULP (ulp.c) */
	SS_WATCH_UDP,		/* struct proto (skprot.c) */
	SS_WATCH_UDP6,		/* likewise, but IPV6_ADDRFORM may take it away */
	SS_WATCH_UNIX,		/* proto_ops (unixops.c) */
};

struct ss_adopt;

/*
 * Makes a socket's calls reach the module before it is registered (no
 * lock held, the caller holds the file): watch.c's, given at init.
 */
typedef int (*ss_prepare_fn)(struct socket *sock);

/*
 * A registered socket is non-blocking, as Winsock makes it: set by every
 * registration and cancellation, and for a socket inheriting one.
 */
static inline void ss_file_set_nonblock(struct file *file)
{
	spin_lock(&file->f_lock);
	file->f_flags |= O_NONBLOCK;
	spin_unlock(&file->f_lock);
}

void ss_attach_init(ss_prepare_fn prepare);
void ss_attach_exit(void);
int ss_watch_kind_of(const struct socket *sock);
struct ss_reg *ss_attach_publish(struct ss_reg **spare, struct socket *sock,
				 bool accepted);
void ss_attach_closing(struct ss_reg *reg, struct sock *sk,
		       struct ss_sink *old);
void ss_attach_closed(struct ss_reg *reg, struct ss_sink *old);
struct ss_adopt *ss_attach_adopt_prepare(struct ss_reg *parent);
void ss_attach_adopt(struct ss_adopt *adopt, struct socket *listener,
		     struct sock *newsk);

#endif /* _SHAREDSOCK_ATTACH_H */
