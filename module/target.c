// SPDX-License-Identifier: GPL-2.0
/*
 * Targets: the processes pending tokens are bound to.
 *
 * A token names its target by struct pid, never by number, so a recycled
 * pid cannot redeem it.  Each target waits on its pid's wait_pidfd (what
 * pidfd poll uses) so that the process's exit frees its tokens at once,
 * dropping their socket references: a peer sees EOF when that was the last.
 */
#include <linux/hashtable.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "sharedsock.h"

#define SS_TARGET_QUEUED	0

/* Live targets keyed by struct pid pointer, under sharedsock_lock. */
static DEFINE_HASHTABLE(ss_targets, 8);
static struct workqueue_struct *ss_target_wq;

/* Hand the target to its work, once; callable from any context. */
static void ss_target_retire(struct ss_target *tgt)
{
	if (!test_and_set_bit(SS_TARGET_QUEUED, &tgt->flags))
		queue_work(ss_target_wq, &tgt->work);
}

/* Empties a dead target's token list (token.c), given at init. */
static ss_target_empty_fn ss_target_empty;

static void ss_target_work(struct work_struct *work)
{
	struct ss_target *tgt = container_of(work, struct ss_target, work);

	/* Dead, the target takes no new tokens: ss_target_find() skips it. */
	spin_lock_bh(&sharedsock_lock);
	if (!tgt->dead) {
		hash_del(&tgt->node);
		tgt->dead = true;
	}
	spin_unlock_bh(&sharedsock_lock);
	ss_target_empty(&tgt->tokens);
	remove_wait_queue(&tgt->pid->wait_pidfd, &tgt->wait);
	put_pid(tgt->pid);
	kfree(tgt);
}

/*
 * Whether the whole thread group of @pid has exited: what pidfd poll
 * reports (and what thread_group_exited() said before 6.9 removed it).
 */
static bool ss_target_exited(struct pid *pid)
{
	struct task_struct *task;
	bool exited;

	rcu_read_lock();
	task = pid_task(pid, PIDTYPE_PID);
	exited = !task ||
		 (READ_ONCE(task->exit_state) && thread_group_empty(task));
	rcu_read_unlock();
	return exited;
}

/*
 * Runs under pid->wait_pidfd.lock, from the exit path.  Newer kernels also
 * wake pidfd waiters for other reasons, so look before retiring.
 */
static int ss_target_wake(wait_queue_entry_t *wait, unsigned int mode,
			  int sync, void *key)
{
	struct ss_target *tgt = container_of(wait, struct ss_target, wait);

	if (ss_target_exited(tgt->pid))
		ss_target_retire(tgt);
	return 0;
}

struct ss_target *ss_target_alloc(struct pid *pid)
{
	struct ss_target *tgt = kzalloc(sizeof(*tgt), GFP_KERNEL_ACCOUNT);

	if (!tgt)
		return NULL;
	tgt->pid = get_pid(pid);
	INIT_LIST_HEAD(&tgt->tokens);
	init_waitqueue_func_entry(&tgt->wait, ss_target_wake);
	INIT_WORK(&tgt->work, ss_target_work);
	return tgt;
}

/* Free a target that ss_target_insert() never saw. */
void ss_target_free_unused(struct ss_target *tgt)
{
	if (!tgt)
		return;
	put_pid(tgt->pid);
	kfree(tgt);
}

/* The live target for @pid, or NULL; a target whose process is exiting is
 * not live.
 */
struct ss_target *ss_target_find(struct pid *pid)
{
	struct ss_target *tgt;

	lockdep_assert_held(&sharedsock_lock);
	hash_for_each_possible(ss_targets, tgt, node, (unsigned long)pid)
		if (tgt->pid == pid && !test_bit(SS_TARGET_QUEUED, &tgt->flags))
			return tgt;
	return NULL;
}

/*
 * Start watching the target's process and make it live.  Takes ownership of
 * @tgt in every case.  The wait entry goes in before the exit check, so an
 * exit can never slip between them unseen.
 *
 * Return: 0, or -ESRCH if the process has already exited.
 */
int ss_target_insert(struct ss_target *tgt)
{
	lockdep_assert_held(&sharedsock_lock);
	add_wait_queue(&tgt->pid->wait_pidfd, &tgt->wait);
	if (ss_target_exited(tgt->pid)) {
		tgt->dead = true;
		ss_target_retire(tgt);
		return -ESRCH;
	}
	hash_add(ss_targets, &tgt->node, (unsigned long)tgt->pid);
	return 0;
}

/* Call @fn on the token list of every live target, under sharedsock_lock. */
/* The order of listing: by pid, then by the target itself. */
static bool ss_target_after(const struct ss_target *tgt,
			    const struct ss_target_pos *pos)
{
	unsigned long pid = (unsigned long)tgt->pid, self = (unsigned long)tgt;

	return pid > pos->pid || (pid == pos->pid && self > pos->tgt);
}

static bool ss_target_less(const struct ss_target *a,
			   const struct ss_target *b)
{
	return (unsigned long)a->pid < (unsigned long)b->pid ||
	       (a->pid == b->pid && (unsigned long)a < (unsigned long)b);
}

/*
 * Listing, a few targets per hold of sharedsock_lock: the target at @pos,
 * if it is still in the table.
 */
struct ss_target *ss_target_at(const struct ss_target_pos *pos)
{
	struct ss_target *tgt;

	lockdep_assert_held(&sharedsock_lock);
	if (pos->bkt >= HASH_SIZE(ss_targets))
		return NULL;
	hlist_for_each_entry(tgt, &ss_targets[pos->bkt], node)
		if ((unsigned long)tgt->pid == pos->pid &&
		    (unsigned long)tgt == pos->tgt)
			return tgt;
	return NULL;
}

/*
 * The target after @pos, in an order that holds while the lock is dropped
 * between calls -- bucket by bucket, and in a bucket by pid and address --
 * and @pos moved to it; NULL after the last.  A target that comes or goes
 * meanwhile is listed or not.
 */
struct ss_target *ss_target_next(struct ss_target_pos *pos)
{
	struct ss_target *tgt, *best;

	lockdep_assert_held(&sharedsock_lock);
	for (; pos->bkt < HASH_SIZE(ss_targets); pos->bkt++) {
		best = NULL;
		hlist_for_each_entry(tgt, &ss_targets[pos->bkt], node)
			if (ss_target_after(tgt, pos) &&
			    (!best || ss_target_less(tgt, best)))
				best = tgt;
		if (best) {
			pos->pid = (unsigned long)best->pid;
			pos->tgt = (unsigned long)best;
			return best;
		}
		pos->pid = 0;
		pos->tgt = 0;
	}
	return NULL;
}

int ss_targets_init(ss_target_empty_fn empty)
{
	ss_target_empty = empty;
	ss_target_wq = alloc_workqueue("sharedsock", WQ_UNBOUND, 0);
	return ss_target_wq ? 0 : -ENOMEM;
}

/* Module unload: free every target and, with them, every pending token. */
void ss_targets_exit(void)
{
	struct hlist_node *next;
	struct ss_target *tgt;
	int bkt;

	spin_lock_bh(&sharedsock_lock);
	hash_for_each_safe(ss_targets, bkt, next, tgt, node)
		ss_target_retire(tgt);
	spin_unlock_bh(&sharedsock_lock);
	destroy_workqueue(ss_target_wq);
}
