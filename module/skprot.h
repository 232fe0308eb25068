/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Watching TCP and UDP sockets through their struct proto (skprot.c).
 */
#ifndef _SHAREDSOCK_SKPROT_H
#define _SHAREDSOCK_SKPROT_H

#include <net/sock.h>

int ss_prot_install(struct sock *sk);
bool ss_prot_is_ours(const struct sock *sk);
void ss_prot_cloned(struct sock *newsk);

#endif /* _SHAREDSOCK_SKPROT_H */
