/* SPDX-License-Identifier: GPL-2.0 */
/*
 * LIST's copy-out (lister.c): entries are gathered under a lock, a batch
 * at a time, and copied to userspace with no lock held.
 */
#ifndef _SHAREDSOCK_LISTER_H
#define _SHAREDSOCK_LISTER_H

#include <linux/types.h>

/* Entries a listing copies out at a time. */
#define SS_LIST_BATCH	32
/* Entries a listing looks at per hold of its lock. */
#define SS_LIST_STEPS	256

/**
 * struct ss_lister - a listing in progress
 * @batch:      room for SS_LIST_BATCH entries of @entry_size
 * @entry_size: size of one entry
 * @n:          entries in @batch
 * @room:       entries the caller has room for
 * @total:      visible entries seen so far
 * @steps:      entries looked at in the current hold of the lock
 */
struct ss_lister {
	void *batch;
	size_t entry_size;
	u32 n;
	u32 room;
	u32 total;
	u32 steps;
};

/* One hold of the lister's lock; true once the listing is complete. */
typedef bool (*ss_list_step_fn)(struct ss_lister *l, void *arg);

void *ss_list_slot(struct ss_lister *l, bool visible, bool *stop);
int ss_list_run(struct ss_lister *l, void __user *uentries, u32 room,
		ss_list_step_fn step, void *arg, u32 *total);

#endif /* _SHAREDSOCK_LISTER_H */
