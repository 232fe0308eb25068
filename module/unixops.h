/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Watching AF_UNIX sockets through their operations (unixops.c).
 */
#ifndef _SHAREDSOCK_UNIXOPS_H
#define _SHAREDSOCK_UNIXOPS_H

#include <linux/net.h>

int ss_unix_install(struct socket *sock);

#endif /* _SHAREDSOCK_UNIXOPS_H */
