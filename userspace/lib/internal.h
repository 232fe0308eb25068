/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef SHAREDSOCK_INTERNAL_H
#define SHAREDSOCK_INTERNAL_H

/*
 * The /dev/sharedsock descriptor, or -1 with errno set.  Global in the
 * static library: the double underscore keeps it out of the ss_* names a
 * program may use.
 */
int ss__device_fd(void);

#endif
