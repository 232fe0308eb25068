// SPDX-License-Identifier: GPL-2.0
/*
 * LIST's copy-out: the listing (reg.c, token.c) fills a small batch under
 * its lock, looking at a bounded number of entries per hold, and the batch
 * is copied to userspace here with no lock held.  Nothing is allocated by
 * the count the caller asked for.
 */
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "lister.h"

/**
 * ss_list_slot - the next entry of a listing, as the step looks at it
 * @l:       the listing
 * @visible: whether the caller may see this entry
 * @stop:    set when the step must end its hold before this entry: the
 *           batch is full or enough entries were looked at
 *
 * Return: where to fill the entry in, or NULL when it is not to be filled
 * (not visible, past the caller's room, or @stop); a visible entry is
 * counted unless @stop.
 */
void *ss_list_slot(struct ss_lister *l, bool visible, bool *stop)
{
	bool fill = visible && l->total < l->room;

	*stop = l->steps == SS_LIST_STEPS || (fill && l->n == SS_LIST_BATCH);
	if (*stop)
		return NULL;
	l->steps++;
	if (!visible)
		return NULL;
	l->total++;
	return fill ? l->batch + l->n++ * l->entry_size : NULL;
}

/**
 * ss_list_run - run a listing to its end
 * @l:        the listing, with @entry_size set
 * @uentries: user room for @room entries
 * @room:     size of @uentries
 * @step:     one hold of the listing's lock
 * @arg:      passed to @step
 * @total:    the number of visible entries, which may exceed @room
 *
 * Return: the number of entries written, or -errno.
 */
int ss_list_run(struct ss_lister *l, void __user *uentries, u32 room,
		ss_list_step_fn step, void *arg, u32 *total)
{
	u32 written = 0;
	int err = 0;
	bool done;

	l->room = room;
	l->batch = kmalloc_array(SS_LIST_BATCH, l->entry_size, GFP_KERNEL);
	if (!l->batch)
		return -ENOMEM;
	do {
		l->steps = 0;
		done = step(l, arg);
		if (copy_to_user(uentries + (size_t)written * l->entry_size,
				 l->batch, l->n * l->entry_size)) {
			err = -EFAULT;
			break;
		}
		written += l->n;
		l->n = 0;
		cond_resched();
	} while (!done);
	kfree(l->batch);
	*total = l->total;
	return err ?: written;
}
