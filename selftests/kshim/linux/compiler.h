/* SPDX-License-Identifier: GPL-2.0 */
/* What module/rules.h takes from the kernel's <linux/compiler.h>. */
#ifndef SHAREDSOCK_KSHIM_COMPILER_H
#define SHAREDSOCK_KSHIM_COMPILER_H

#define READ_ONCE(x)	(*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v)	(*(volatile __typeof__(x) *)&(x) = (v))

#endif
