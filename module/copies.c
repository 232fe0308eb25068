// SPDX-License-Identifier: GPL-2.0
/*
 * The module's copies of protocols' operation tables: a protocol's struct
 * proto (skprot.c) or proto_ops (unixops.c), copied once with a few
 * operations wrapped, and shared by every socket of that protocol the
 * module watches, as kTLS shares its tables.
 */
#include <linux/rculist.h>
#include <linux/slab.h>

#include "copies.h"

/**
 * struct ss_copy - one copy
 * @node: on ss_copies_list, under ss_copies_lock; read under RCU
 * @orig: the protocol's own table, which names the copy: a struct proto
 *        and a proto_ops are never at the same address
 * @ops:  the copy
 */
struct ss_copy {
	struct list_head node;
	const void *orig;
	unsigned long ops[];
};

static LIST_HEAD(ss_copies_list);
/* Serialises additions; held across no allocation. */
static DEFINE_MUTEX(ss_copies_lock);

static struct ss_copy *ss_copy_find(const void *orig)
{
	struct ss_copy *c;

	list_for_each_entry_rcu(c, &ss_copies_list, node,
				lockdep_is_held(&ss_copies_lock))
		if (c->orig == orig)
			return c;
	return NULL;
}

/* The copy of @orig, made if there is none yet; NULL for memory. */
void *ss_copy_get(const struct ss_copies *copies, const void *orig)
{
	struct ss_copy *c, *made;

	rcu_read_lock();
	c = ss_copy_find(orig);
	rcu_read_unlock();
	if (c)
		return c->ops;
	/* Outside the mutex: no global lock is held across an allocation. */
	made = kmalloc(struct_size(made, ops, 0) + copies->size, GFP_KERNEL);
	if (!made)
		return NULL;
	made->orig = orig;
	copies->wrap(made->ops, orig);
	mutex_lock(&ss_copies_lock);
	c = ss_copy_find(orig);
	if (!c) {
		list_add_tail_rcu(&made->node, &ss_copies_list);
		c = made;
		made = NULL;
	}
	mutex_unlock(&ss_copies_lock);
	kfree(made);
	return c->ops;
}

/* The protocol's own table, of a copy that ss_copy_get() gave. */
const void *ss_copy_orig(const void *ops)
{
	return container_of((const unsigned long *)ops, struct ss_copy,
			    ops[0])->orig;
}

/* At module exit: no socket points at a copy any more. */
void ss_copies_free(void)
{
	struct ss_copy *c, *next;

	list_for_each_entry_safe(c, next, &ss_copies_list, node) {
		list_del(&c->node);
		kfree(c);
	}
}
