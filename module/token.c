// SPDX-License-Identifier: GPL-2.0
/*
 * Tokens: pending duplicates of a socket, each bound to one target process.
 *
 * A pending token is an in-flight reference to the socket's file, like an
 * SCM_RIGHTS message: it keeps the socket open after the exporter closes its
 * descriptor.  It ends on redeem, revoke, expiry, exit of its target, or
 * module unload.
 */
#include <crypto/algapi.h>
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/net.h>
#include <linux/pid_namespace.h>
#include <linux/random.h>
#include <linux/rhashtable.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <net/sock.h>

#include "compat.h"
#include "lister.h"
#include "sharedsock.h"
#include "token.h"

DEFINE_SPINLOCK(sharedsock_lock);

static const struct rhashtable_params ss_token_params = {
	.key_len = sizeof(u64),
	.key_offset = offsetof(struct ss_token, id),
	.head_offset = offsetof(struct ss_token, node),
	.automatic_shrinking = true,
};

static struct kmem_cache *ss_token_cache;
static struct rhashtable ss_tokens;	/* lookups and changes under sharedsock_lock */
static u64 ss_last_id;			/* under sharedsock_lock */

/**
 * struct ss_token_lister - a listing of tokens in progress
 * @base:  the listing (lister.c)
 * @link:  on ss_token_listers while the listing runs, under sharedsock_lock
 * @pos:   the target being listed (see ss_target_next())
 * @at:    the last token of that target looked at, NULL for none; a token
 *         that goes moves the listers standing on it back to the one
 *         before it (ss_token_unlink()), so each hold goes on in O(1)
 * @all:   the caller sees every user's tokens
 * @uid:   else only those of this user
 * @ns:    pid namespace to give pids in
 * @now:   jiffies at the current hold
 */
struct ss_token_lister {
	struct ss_lister base;
	struct list_head link;
	struct ss_target_pos pos;
	struct ss_token *at;
	bool all;
	kuid_t uid;
	struct pid_namespace *ns;
	unsigned long now;
};

/* The listings running, under sharedsock_lock. */
static LIST_HEAD(ss_token_listers);

/* Remove a token from the table, its target and its user's count. */
void ss_token_unlink(struct ss_token *tok)
{
	struct ss_token_lister *l;

	lockdep_assert_held(&sharedsock_lock);
	list_for_each_entry(l, &ss_token_listers, link)
		if (l->at == tok)
			l->at = list_is_first(&tok->target_link,
					      &tok->target->tokens) ? NULL :
				list_prev_entry(tok, target_link);
	rhashtable_remove_fast(&ss_tokens, &tok->node, ss_token_params);
	list_del(&tok->target_link);
	tok->target = NULL;
	ss_user_uncharge(tok->owner, tok->nr_files - tok->next_file);
	tok->owner = NULL;
}

/*
 * End a token for any reason but its redeem.  Returns true when the caller
 * now owns the token and must free it.
 */
static bool ss_token_kill(struct ss_token *tok)
{
	switch (tok->state) {
	case SS_TOKEN_LIVE:
		ss_token_unlink(tok);
		tok->state = SS_TOKEN_DEAD;
		return true;
	case SS_TOKEN_CLAIMED:
		ss_token_unlink(tok);
		tok->state = SS_TOKEN_DOOMED;
		return false;
	default:
		return false;
	}
}

static void ss_token_free(struct ss_token *tok)
{
	struct file **files = ss_token_files(tok);
	unsigned int i;

	for (i = tok->next_file; i < tok->nr_files; i++)
		fput(files[i]);
	if (tok->nr_files > 1)
		kfree(files);
	put_pid(tok->exporter);
	kmem_cache_free(ss_token_cache, tok);
}

/* Free an unlinked token from anywhere but its own timer. */
void ss_token_destroy(struct ss_token *tok)
{
	timer_shutdown_sync(&tok->expiry);
	ss_token_free(tok);
}

static void ss_token_expire(struct timer_list *timer)
{
	struct ss_token *tok = timer_container_of(tok, timer, expiry);
	bool owned;

	spin_lock_bh(&sharedsock_lock);
	if (tok->state == SS_TOKEN_LIVE || tok->state == SS_TOKEN_CLAIMED)
		ss_stat_add(SS_STAT_TOKENS_EXPIRED, 1);
	owned = ss_token_kill(tok);
	spin_unlock_bh(&sharedsock_lock);
	if (owned)
		ss_token_free(tok);
}

/*
 * Kill up to @max tokens of a target's list; those now owned go to @reaped.
 * Returns true when the list is empty.
 */
static bool ss_tokens_reap(struct list_head *tokens, struct list_head *reaped,
			   unsigned int max)
{
	struct ss_token *tok, *next;

	lockdep_assert_held(&sharedsock_lock);
	list_for_each_entry_safe(tok, next, tokens, target_link) {
		if (!max--)
			return false;
		ss_stat_add(SS_STAT_TOKENS_REAPED, 1);
		if (ss_token_kill(tok))
			list_add(&tok->target_link, reaped);
	}
	return true;
}

static void ss_tokens_free(struct list_head *reaped)
{
	struct ss_token *tok, *next;

	list_for_each_entry_safe(tok, next, reaped, target_link)
		ss_token_destroy(tok);
}

/* Tokens killed per hold of sharedsock_lock when a target goes. */
#define SS_REAP_BATCH	256

/*
 * Drop every token of a dead target's list @tokens (ss_target_empty_fn), a
 * batch at a time, so that a million pending tokens do not hold the lock
 * for long.
 */
void ss_tokens_drop_all(struct list_head *tokens)
{
	bool done;

	do {
		LIST_HEAD(reaped);

		spin_lock_bh(&sharedsock_lock);
		done = ss_tokens_reap(tokens, &reaped, SS_REAP_BATCH);
		spin_unlock_bh(&sharedsock_lock);
		ss_tokens_free(&reaped);
		cond_resched();
	} while (!done);
}

static unsigned long ss_user_limit(void)
{
	return READ_ONCE(ss_max_user_tokens) ?: rlimit(RLIMIT_NOFILE);
}

/* Asked only of a caller over its limit: capable() is not free. */
static bool ss_user_exempt(void)
{
	return capable(CAP_SYS_RESOURCE) || capable(CAP_SYS_ADMIN);
}

static void ss_token_fill_info(struct ss_token *tok,
			       struct sharedsock_info *info)
{
	struct socket *sock = ss_token_next_sock(tok);

	memset(info, 0, sizeof(*info));
	info->family = READ_ONCE(sock->sk->sk_family);
	info->type = sock->type;
	info->protocol = sock->sk->sk_protocol;
	info->id = tok->id;
	memcpy(info->secret, tok->secret, sizeof(info->secret));
}

/*
 * Link a fresh token to its target, its user and the table, and fill @info
 * while it cannot yet expire.  The target and user objects are taken from
 * *@new_tgt / *@new_user (which are then cleared) when they do not exist yet.
 */
static int ss_token_link_locked(struct ss_token *tok, struct pid *pid,
				kuid_t uid, unsigned long limit,
				struct ss_target **new_tgt,
				struct ss_user **new_user,
				struct sharedsock_info *info)
{
	struct ss_target *tgt;
	struct ss_user *user;
	int err;

	lockdep_assert_held(&sharedsock_lock);
	tgt = ss_target_find(pid);
	if (!tgt) {
		if (!*new_tgt)
			return -ENOMEM;
		tgt = *new_tgt;
		*new_tgt = NULL;
		err = ss_target_insert(tgt);
		if (err)
			return err;
	}
	user = ss_user_find(uid);
	if ((user ? user->pending : 0) + (unsigned long)tok->nr_files > limit)
		return -ETOOMANYREFS;
	if (!user && !*new_user)
		return -ENOMEM;

	tok->id = ++ss_last_id;
	err = rhashtable_insert_fast(&ss_tokens, &tok->node, ss_token_params);
	if (err)
		return err;
	if (!user) {
		user = *new_user;
		*new_user = NULL;
		ss_user_insert(user);
	}
	user->pending += tok->nr_files;
	tok->owner = user;
	tok->target = tgt;
	list_add_tail(&tok->target_link, &tgt->tokens);
	tok->state = SS_TOKEN_LIVE;
	ss_token_fill_info(tok, info);
	mod_timer(&tok->expiry, jiffies + msecs_to_jiffies(tok->ttl_ms));
	ss_stat_add(SS_STAT_TOKENS_EXPORTED, 1);
	return 0;
}

/*
 * The table could not grow under the lock (its GFP_ATOMIC allocation
 * failed, or a resize was under way: -ENOMEM, -EBUSY from rhashtable):
 * let its deferred resize, which may sleep to allocate, finish, then try
 * again, a few times.  No lock is held.
 */
static bool ss_token_table_busy(int err, unsigned int *retries)
{
	if ((err != -ENOMEM && err != -EBUSY) || (*retries)++ >= 3)
		return false;
	flush_work(&ss_tokens.run_work);
	return true;
}

static int ss_token_link(struct ss_token *tok, struct pid *pid,
			 struct sharedsock_info *info)
{
	unsigned int retries = 0;
	unsigned long limit = ss_user_limit();
	struct ss_target *new_tgt = NULL;
	struct ss_user *new_user = NULL;
	kuid_t uid = current_uid();
	bool need_tgt, need_user;
	int err;

	for (;;) {
		spin_lock_bh(&sharedsock_lock);
		need_tgt = !new_tgt && !ss_target_find(pid);
		need_user = !new_user && !ss_user_find(uid);
		if (!need_tgt && !need_user) {
			err = ss_token_link_locked(tok, pid, uid, limit,
						   &new_tgt, &new_user, info);
			spin_unlock_bh(&sharedsock_lock);
			if (ss_token_table_busy(err, &retries))
				continue;
			if (err != -ETOOMANYREFS || limit == ULONG_MAX ||
			    !ss_user_exempt())
				break;
			limit = ULONG_MAX;
			continue;
		}
		/* First token for this process or user: allocate unlocked. */
		spin_unlock_bh(&sharedsock_lock);
		if (need_tgt)
			new_tgt = ss_target_alloc(pid);
		if (need_user)
			new_user = ss_user_alloc(uid);
		if ((need_tgt && !new_tgt) || (need_user && !new_user)) {
			err = -ENOMEM;
			break;
		}
	}
	ss_target_free_unused(new_tgt);
	kfree(new_user);
	return err;
}

static int ss_token_take_files(struct ss_token *tok, struct file **files,
			       unsigned int nr)
{
	if (nr == 1) {
		tok->file = files[0];
	} else {
		tok->files = kmemdup(files, nr * sizeof(*files),
				     GFP_KERNEL_ACCOUNT);
		if (!tok->files)
			return -ENOMEM;
	}
	tok->nr_files = nr;
	return 0;
}

/**
 * ss_token_export - create a token for sockets, bound to the process @pid
 * @files:  @nr sockets' files; the token takes over these references,
 *          whether it is created or not (the array stays the caller's)
 * @nr:     1 to SHAREDSOCK_VEC_MAX
 * @pid:    thread-group pid of the target process
 * @ttl_ms: lifetime of the token
 * @info:   filled with what the target needs to redeem
 *
 * Return: 0, -ESRCH if the target has exited, -ETOOMANYREFS over the
 * caller's cap, -ENOMEM.
 */
int ss_token_export(struct file **files, unsigned int nr, struct pid *pid,
		    u32 ttl_ms, struct sharedsock_info *info)
{
	struct ss_token *tok;
	int err = -ENOMEM;

	tok = kmem_cache_zalloc(ss_token_cache, GFP_KERNEL_ACCOUNT);
	if (tok)
		err = ss_token_take_files(tok, files, nr);
	if (err) {
		while (nr--)
			fput(files[nr]);
		if (tok)
			kmem_cache_free(ss_token_cache, tok);
		return err;
	}
	get_random_bytes(tok->secret, sizeof(tok->secret));
	tok->exporter = get_task_pid(current, PIDTYPE_TGID);
	tok->ttl_ms = ttl_ms;
	INIT_LIST_HEAD(&tok->target_link);
	timer_setup(&tok->expiry, ss_token_expire, 0);

	err = ss_token_link(tok, pid, info);
	if (err)
		ss_token_free(tok);
	return err;
}

/*
 * @info still describes the socket as the export did: a structure altered
 * on the way is invalid as a whole, as Winsock has it.  A vector that was
 * partly redeemed no longer holds the socket its info describes.
 */
static bool ss_token_described(struct ss_token *tok,
			       const struct sharedsock_info *info)
{
	struct socket *sock;

	if (tok->next_file)
		return true;
	sock = ss_token_next_sock(tok);
	return info->family == READ_ONCE(sock->sk->sk_family) &&
	       info->type == sock->type &&
	       info->protocol == sock->sk->sk_protocol;
}

/* The live token that @info names, proves and describes, or NULL. */
static struct ss_token *ss_token_lookup(const struct sharedsock_info *info)
{
	struct ss_token *tok;

	lockdep_assert_held(&sharedsock_lock);
	tok = rhashtable_lookup_fast(&ss_tokens, &info->id, ss_token_params);
	if (!tok || tok->state != SS_TOKEN_LIVE ||
	    crypto_memneq(tok->secret, info->secret, sizeof(tok->secret)) ||
	    !ss_token_described(tok, info))
		return NULL;
	return tok;
}

/* Claim the live token that @info names for the calling process. */
struct ss_token *ss_token_claim(const struct sharedsock_info *info)
{
	struct ss_token *tok;

	spin_lock_bh(&sharedsock_lock);
	tok = ss_token_lookup(info);
	if (tok && tok->target->pid == task_tgid(current))
		tok->state = SS_TOKEN_CLAIMED;
	else
		tok = NULL;
	spin_unlock_bh(&sharedsock_lock);
	return tok;
}

/**
 * ss_token_revoke - withdraw an unredeemed token
 * @info: the token
 *
 * Only the exporting process may revoke.  To anyone else a token is as
 * unknown as a made-up one: even its target, which holds the whole token.
 *
 * Return: 0, or -EINVAL if the token is not pending or not the caller's.
 */
int ss_token_revoke(const struct sharedsock_info *info)
{
	struct ss_token *tok;
	int err = 0;

	spin_lock_bh(&sharedsock_lock);
	tok = ss_token_lookup(info);
	if (!tok || tok->exporter != task_tgid(current))
		err = -EINVAL;
	else
		ss_token_kill(tok);
	spin_unlock_bh(&sharedsock_lock);
	if (!err)
		ss_stat_add(SS_STAT_TOKENS_REVOKED, 1);

	if (!err)
		ss_token_destroy(tok);
	return err;
}

u32 ss_tokens_pending(void)
{
	return atomic_read(&ss_tokens.nelems);
}

static void ss_token_list_one(struct ss_token *tok, struct ss_token_lister *l,
			      struct sharedsock_token_entry *e)
{
	unsigned long ttl = msecs_to_jiffies(tok->ttl_ms);
	struct socket *sock = ss_token_next_sock(tok);

	memset(e, 0, sizeof(*e));
	e->id = tok->id;
	e->exporter_pid = pid_nr_ns(tok->exporter, l->ns);
	e->target_pid = pid_nr_ns(tok->target->pid, l->ns);
	e->uid = from_kuid_munged(current_user_ns(), tok->owner->uid);
	e->family = READ_ONCE(sock->sk->sk_family);
	e->type = sock->type;
	e->protocol = sock->sk->sk_protocol;
	e->age_ms = jiffies_to_msecs(l->now - (tok->expiry.expires - ttl));
	if (time_before(l->now, tok->expiry.expires))
		e->ttl_left_ms = jiffies_to_msecs(tok->expiry.expires - l->now);
}

/*
 * One hold of sharedsock_lock: list on from where @l stands.  Returns true
 * when every target has been listed.
 */
static bool ss_tokens_list_step(struct ss_lister *base, void *arg)
{
	struct ss_token_lister *l = container_of(base, struct ss_token_lister,
						 base);
	struct sharedsock_token_entry *e;
	struct ss_target *tgt;
	struct ss_token *tok;
	bool stop;

	spin_lock_bh(&sharedsock_lock);
	l->now = jiffies;
	tgt = ss_target_at(&l->pos);
	if (!tgt) {
		tgt = ss_target_next(&l->pos);
		l->at = NULL;
	}
	for (; tgt; tgt = ss_target_next(&l->pos), l->at = NULL) {
		tok = l->at ? list_next_entry(l->at, target_link) :
			      list_first_entry(&tgt->tokens, struct ss_token,
					       target_link);
		list_for_each_entry_from(tok, &tgt->tokens, target_link) {
			e = ss_list_slot(base, l->all ||
					 uid_eq(tok->owner->uid, l->uid), &stop);
			if (stop)
				goto out;
			l->at = tok;
			if (e)
				ss_token_list_one(tok, l, e);
		}
	}
out:
	spin_unlock_bh(&sharedsock_lock);
	return !tgt;
}

/**
 * ss_tokens_list - describe the pending tokens the caller may see
 * @uentries: user room for @room entries
 * @room:     size of @uentries
 * @total:    the number of visible tokens, which may exceed @room
 *
 * A token that comes or goes while the listing runs is listed or not.
 *
 * Return: the number of entries written, or -errno.
 */
int ss_tokens_list(struct sharedsock_token_entry __user *uentries, u32 room,
		   u32 *total)
{
	struct ss_token_lister l = {
		.base.entry_size = sizeof(*uentries),
		.all = capable(CAP_SYS_ADMIN),
		.uid = current_uid(),
		.ns = task_active_pid_ns(current),
	};
	int ret;

	spin_lock_bh(&sharedsock_lock);
	list_add(&l.link, &ss_token_listers);
	spin_unlock_bh(&sharedsock_lock);
	ret = ss_list_run(&l.base, uentries, room, ss_tokens_list_step, NULL,
			  total);
	spin_lock_bh(&sharedsock_lock);
	list_del(&l.link);
	spin_unlock_bh(&sharedsock_lock);
	return ret;
}

int ss_tokens_init(void)
{
	int err;

	BUILD_BUG_ON(IS_ENABLED(CONFIG_64BIT) && !IS_ENABLED(CONFIG_LOCKDEP) &&
		     !IS_ENABLED(CONFIG_DEBUG_OBJECTS_TIMERS) &&
		     sizeof(struct ss_token) > 128);

	ss_token_cache = kmem_cache_create("sharedsock_token",
					   sizeof(struct ss_token), 0,
					   SLAB_ACCOUNT, NULL);
	if (!ss_token_cache)
		return -ENOMEM;
	err = rhashtable_init(&ss_tokens, &ss_token_params);
	if (err)
		kmem_cache_destroy(ss_token_cache);
	return err;
}

/*
 * Every token is bound to a target: ss_targets_exit() has freed them all,
 * except one whose expiry timer unlinked it and may still be freeing it.
 * Timer callbacks run with bottom halves off, so synchronize_rcu() waits
 * for them.
 */
void ss_tokens_exit(void)
{
	synchronize_rcu();
	rhashtable_destroy(&ss_tokens);
	kmem_cache_destroy(ss_token_cache);
}
