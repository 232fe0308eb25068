/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The "sharedsock" TCP upper-layer protocol (ulp.c).
 */
#ifndef _SHAREDSOCK_ULP_H
#define _SHAREDSOCK_ULP_H

#include <linux/net.h>

struct sock;

int ss_ulp_init_module(void);
void ss_ulp_exit(void);
bool ss_ulp_is_ours(struct sock *sk);
int ss_ulp_attach(struct socket *sock);

#endif /* _SHAREDSOCK_ULP_H */
