/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel's fixed-size types, for building module code that includes
 * nothing else (module/rules.c) into a userspace test, as the kernel's own
 * tools/testing/radix-tree does with its shims.
 */
#ifndef SHAREDSOCK_SELFTEST_KSHIM_H
#define SHAREDSOCK_SELFTEST_KSHIM_H

#include <stdbool.h>
#include <stdint.h>

typedef int8_t s8;
typedef uint8_t u8;
typedef int16_t s16;
typedef uint32_t u32;

#endif /* SHAREDSOCK_SELFTEST_KSHIM_H */
