/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The module's copies of protocols' operation tables (copies.c).
 */
#ifndef _SHAREDSOCK_COPIES_H
#define _SHAREDSOCK_COPIES_H

#include <linux/types.h>

/**
 * struct ss_copies - how to copy one kind of table (struct proto, or
 * struct proto_ops)
 * @size: the size of a table
 * @wrap: fills a copy from the protocol's table, wrapping what it wraps
 *
 * Constant.  The copies themselves are copies.c's: one per protocol table
 * ever copied, never changed once published, freed at module exit
 * (ss_copies_free()), when no socket can point at one any more.
 */
struct ss_copies {
	size_t size;
	void (*wrap)(void *ops, const void *orig);
};

void *ss_copy_get(const struct ss_copies *copies, const void *orig);
const void *ss_copy_orig(const void *ops);
void ss_copies_free(void);

#endif /* _SHAREDSOCK_COPIES_H */
