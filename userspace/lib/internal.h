/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SHAREDSOCK_INTERNAL_H
#define SHAREDSOCK_INTERNAL_H

/* The /dev/sharedsock descriptor, or -1 with errno set. */
int ss_device(void);

#endif
