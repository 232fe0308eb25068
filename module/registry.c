// SPDX-License-Identifier: GPL-2.0
/*
 * The registrations as a whole: their memory, the table that finds a
 * socket's registration, the list in creation order, the sweep's walk
 * over it, and SHAREDSOCK_IOC_LIST of them.  What one registration does is
 * reg.c's.
 */
#include <linux/pid_namespace.h>
#include <linux/rhashtable.h>
#include <linux/slab.h>
#include <net/sock.h>

#include "lister.h"
#include "reg.h"
#include "sharedsock.h"

/* See reg.h: registration changes, never across lock_sock(). */
DEFINE_MUTEX(ss_reg_mutex);
static LIST_HEAD(ss_regs);
static u32 ss_regs_nr;		/* on ss_regs, under ss_reg_mutex */
static LIST_HEAD(ss_regs_cursors);	/* in use, likewise */
static struct kmem_cache *ss_reg_cache;

/*
 * Registrations by socket: written under ss_reg_mutex, read under RCU (a
 * registration is freed a grace period after it is removed).  The socket
 * operations of skprot.c and unixops.c find a registration here; the
 * table is the module's own, where the first design used the socket
 * inode's i_private.
 */
static struct rhashtable ss_regs_by_sock;
static const struct rhashtable_params ss_regs_by_sock_params = {
	.key_len = sizeof(struct socket *),
	.key_offset = offsetof(struct ss_reg, sock),
	.head_offset = offsetof(struct ss_reg, hnode),
	.automatic_shrinking = true,
};

struct ss_reg *ss_reg_alloc(void)
{
	return kmem_cache_zalloc(ss_reg_cache, GFP_KERNEL_ACCOUNT);
}

/* A registration that was never published. */
void ss_reg_free(struct ss_reg *reg)
{
	put_pid(reg->registrant);
	kmem_cache_free(ss_reg_cache, reg);
}

static void ss_reg_free_cb(struct rcu_head *head)
{
	kmem_cache_free(ss_reg_cache, container_of(head, struct ss_reg, rcu));
}

/* A socket operation that looked it up may still read it. */
void ss_reg_free_rcu(struct ss_reg *reg)
{
	put_pid(reg->registrant);
	call_rcu(&reg->rcu, ss_reg_free_cb);
}

/*
 * The registration of @sock, or NULL.  Under RCU, or by a caller that
 * holds the socket's file (or is its last close): the registration then
 * lives at least as long as the call.
 */
struct ss_reg *ss_reg_lookup(const struct socket *sock)
{
	struct ss_reg *reg;

	rcu_read_lock();
	reg = rhashtable_lookup(&ss_regs_by_sock, &sock, ss_regs_by_sock_params);
	rcu_read_unlock();
	return reg;
}

/*
 * In the table by socket and on the list of registrations (STATUS, LIST).
 * Fails only for memory (-ENOMEM), or -EEXIST.
 */
int ss_reg_link(struct ss_reg *reg)
{
	int err, tries = 0;

	lockdep_assert_held(&ss_reg_mutex);
	/*
	 * The table grows in the background; an insert that finds it full
	 * while that allocation has not been made, or has failed under
	 * GFP_ATOMIC, waits for it (it takes no lock of ours) and tries again.
	 */
	while ((err = rhashtable_lookup_insert_fast(&ss_regs_by_sock,
						    &reg->hnode,
						    ss_regs_by_sock_params)) &&
	       (err == -ENOMEM || err == -EBUSY) && tries++ < 3)
		flush_work(&ss_regs_by_sock.run_work);
	if (err)
		return err;
	list_add_tail(&reg->node, &ss_regs);
	ss_regs_nr++;
	ss_stat_add(SS_STAT_REGS_CREATED, 1);
	return 0;
}

void ss_reg_unlink(struct ss_reg *reg)
{
	struct ss_regs_cursor *c;

	lockdep_assert_held(&ss_reg_mutex);
	list_for_each_entry(c, &ss_regs_cursors, link)
		if (c->pos == reg)
			c->pos = list_is_first(&reg->node, &ss_regs) ? NULL :
				 list_prev_entry(reg, node);
	rhashtable_remove_fast(&ss_regs_by_sock, &reg->hnode,
			       ss_regs_by_sock_params);
	list_del(&reg->node);
	ss_regs_nr--;
}

/* Its socket was released without passing through the module. */
static bool ss_reg_is_dead(const struct ss_reg *reg)
{
	return !READ_ONCE(reg->sock->file);
}

/* A cursor in use, from before the first registration. */
void ss_regs_cursor_open(struct ss_regs_cursor *c)
{
	c->pos = NULL;
	mutex_lock(&ss_reg_mutex);
	list_add(&c->link, &ss_regs_cursors);
	mutex_unlock(&ss_reg_mutex);
}

void ss_regs_cursor_close(struct ss_regs_cursor *c)
{
	mutex_lock(&ss_reg_mutex);
	list_del(&c->link);
	mutex_unlock(&ss_reg_mutex);
}

/* The registration after @c's place, or NULL; under ss_reg_mutex. */
static struct ss_reg *ss_regs_after(const struct ss_regs_cursor *c)
{
	const struct list_head *prev = c->pos ? &c->pos->node : &ss_regs;

	return list_is_last(prev, &ss_regs) ? NULL :
	       list_entry(prev->next, struct ss_reg, node);
}

/**
 * ss_regs_next_dead - the next registration whose socket is gone
 * @c:      where to go on from; moved past what is looked at
 * @budget: registrations it may still look at; updated
 *
 * Under ss_reg_mutex.  Return: a registration that is still linked, or
 * NULL at the end of the list (@budget left) or of @budget (0).
 */
struct ss_reg *ss_regs_next_dead(struct ss_regs_cursor *c,
				 unsigned int *budget)
{
	struct ss_reg *reg;

	lockdep_assert_held(&ss_reg_mutex);
	while ((reg = ss_regs_after(c))) {
		if (!*budget)
			return NULL;
		(*budget)--;
		c->pos = reg;
		if (ss_reg_is_dead(reg))
			return reg;
	}
	/* The end of the list: @budget is left as it is, above 0. */
	if (!*budget)
		*budget = 1;
	return NULL;
}

u32 ss_regs_count(void)
{
	return READ_ONCE(ss_regs_nr);
}

static void ss_reg_list_one(struct ss_reg *reg,
			    struct sharedsock_reg_entry *e,
			    struct pid_namespace *ns)
{
	unsigned long flags;

	memset(e, 0, sizeof(*e));
	e->socket_ino = reg->qe.ino;
	e->registrant_pid = pid_nr_ns(reg->registrant, ns);
	e->uid = from_kuid_munged(current_user_ns(), reg->registrant_uid);
	e->family = reg->family;
	e->type = reg->sock->type;
	spin_lock_irqsave(&reg->lock, flags);
	switch (reg->sink.kind) {
	case SS_SINK_EVENTFD:
		e->sink = SHAREDSOCK_SINK_EVENTFD;
		break;
	case SS_SINK_QUEUE:
		e->sink = SHAREDSOCK_SINK_QUEUE;
		break;
	default:
		e->sink = ~0U;
	}
	e->mask = reg->st.mask;
	e->pending = reg->st.pending;
	spin_unlock_irqrestore(&reg->lock, flags);
}

/**
 * struct ss_reg_lister - a listing of registrations in progress
 * @base:  the listing (lister.c)
 * @cursor: the last registration looked at
 * @all:   the caller sees every user's registrations
 * @uid:   else only those of this user
 * @ns:    pid namespace to give pids in
 */
struct ss_reg_lister {
	struct ss_lister base;
	struct ss_regs_cursor cursor;
	bool all;
	kuid_t uid;
	struct pid_namespace *ns;
};

/*
 * One hold of ss_reg_mutex: list on after the last registration looked
 * at.  Returns true at the end of the list.
 */
static bool ss_regs_list_step(struct ss_lister *base, void *arg)
{
	struct ss_reg_lister *l = container_of(base, struct ss_reg_lister, base);
	struct sharedsock_reg_entry *e;
	struct ss_reg *reg;
	bool stop, done = true;

	mutex_lock(&ss_reg_mutex);
	while ((reg = ss_regs_after(&l->cursor))) {
		/* A released socket's (attach.c) is not listed. */
		bool visible = !ss_reg_is_dead(reg) &&
			       (l->all || uid_eq(reg->registrant_uid, l->uid));

		e = ss_list_slot(base, visible, &stop);
		if (stop) {
			done = false;
			break;
		}
		l->cursor.pos = reg;
		if (e)
			ss_reg_list_one(reg, e, l->ns);
	}
	mutex_unlock(&ss_reg_mutex);
	return done;
}

/**
 * ss_regs_list - describe the registrations the caller may see
 * @uentries: user room for @room entries
 * @room:     size of @uentries
 * @total:    the number of visible registrations, which may exceed @room
 *
 * Return: the number of entries written, or -errno.
 */
int ss_regs_list(struct sharedsock_reg_entry __user *uentries, u32 room,
		 u32 *total)
{
	struct ss_reg_lister l = {
		.base.entry_size = sizeof(*uentries),
		.all = capable(CAP_SYS_ADMIN),
		.uid = current_uid(),
		.ns = task_active_pid_ns(current),
	};
	int ret;

	ss_regs_cursor_open(&l.cursor);
	ret = ss_list_run(&l.base, uentries, room, ss_regs_list_step, NULL,
			  total);
	ss_regs_cursor_close(&l.cursor);
	return ret;
}

int ss_regs_init(void)
{
	ss_rules_setup();
	/* The memory target per registration (Documentation/performance.rst). */
	BUILD_BUG_ON(IS_ENABLED(CONFIG_64BIT) && !IS_ENABLED(CONFIG_LOCKDEP) &&
		     !IS_ENABLED(CONFIG_DEBUG_SPINLOCK) &&
		     sizeof(struct ss_reg) > 256);
	ss_reg_cache = kmem_cache_create("sharedsock_reg", sizeof(struct ss_reg),
					 0, SLAB_ACCOUNT, NULL);
	if (!ss_reg_cache)
		return -ENOMEM;
	if (rhashtable_init(&ss_regs_by_sock, &ss_regs_by_sock_params)) {
		kmem_cache_destroy(ss_reg_cache);
		return -ENOMEM;
	}
	return 0;
}

/* Every registered socket holds the module: none can be left here. */
void ss_regs_exit(void)
{
	WARN_ON(!list_empty(&ss_regs));
	rhashtable_destroy(&ss_regs_by_sock);
	/* Registrations still to free (ss_reg_free_rcu()). */
	rcu_barrier();
	kmem_cache_destroy(ss_reg_cache);
}
