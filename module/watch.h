/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Registering a socket (watch.c).
 */
#ifndef _SHAREDSOCK_WATCH_H
#define _SHAREDSOCK_WATCH_H

#include <linux/net.h>
#include <linux/sharedsock.h>

struct ss_reg;

void ss_watch_init(void);
int ss_watch_select(struct socket *sock, int sockfd,
		    const struct sharedsock_select *args);
struct ss_reg *ss_watch_reg(struct socket *sock);
void ss_watch_exit(void);

#endif /* _SHAREDSOCK_WATCH_H */
