/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel interface glue, kept in one place so the rest reads like in-tree
 * code.  Kbuild detects the features from the kernel's headers, which also
 * covers distribution backports.
 */
#ifndef _SHAREDSOCK_COMPAT_H
#define _SHAREDSOCK_COMPAT_H

#include <linux/file.h>
#include <linux/timer.h>

/* 6.8 added the user pointer argument to receive_fd(). */
#ifdef SHAREDSOCK_HAVE_RECEIVE_FD_UFD
#define ss_receive_fd(file, o_flags)	receive_fd(file, NULL, o_flags)
#else
#define ss_receive_fd(file, o_flags)	receive_fd(file, o_flags)
#endif

/* 6.16 renamed from_timer() to timer_container_of(). */
#ifndef SHAREDSOCK_HAVE_TIMER_CONTAINER_OF
#define timer_container_of(var, timer, field)	from_timer(var, timer, field)
#endif

#endif /* _SHAREDSOCK_COMPAT_H */
