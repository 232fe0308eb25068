/* SPDX-License-Identifier: GPL-2.0 */
/* What module/rules.c takes from the kernel's <linux/kernel.h>. */
#ifndef SHAREDSOCK_KSHIM_KERNEL_H
#define SHAREDSOCK_KSHIM_KERNEL_H

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#endif
