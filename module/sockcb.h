/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Readiness of TCP sockets from their sock callbacks (sockcb.c).
 */
#ifndef _SHAREDSOCK_SOCKCB_H
#define _SHAREDSOCK_SOCKCB_H

#include <net/sock.h>

#include "reg.h"

void ss_sockcb_hook(struct sock *sk);
void ss_sockcb_unhook(struct sock *sk);
bool ss_sockcb_hooked(const struct sock *sk);

#endif /* _SHAREDSOCK_SOCKCB_H */
