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
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/highmem.h>
#include <linux/mm.h>
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

DEFINE_SPINLOCK(sharedsock_lock);

enum ss_token_state {
	SS_TOKEN_LIVE,		/* in the table, redeemable */
	SS_TOKEN_CLAIMED,	/* a redeem is installing it and decides its fate */
	SS_TOKEN_DOOMED,	/* killed while claimed: the claimant frees it */
	SS_TOKEN_DEAD,		/* unlinked: whoever unlinked it frees it */
};

/**
 * struct ss_token - one pending duplicate
 * @node:        in ss_tokens, keyed by @id, while linked
 * @id:          public identifier, unique for the module's lifetime
 * @secret:      random proof of possession, compared in constant time
 * @file:        the socket's file when @nr_files is 1, else
 * @files:       an array of @nr_files sockets' files, owned by the token;
 *               the token owns a reference to each file not yet redeemed
 * @target:      the only process that may redeem; NULL once unlinked
 * @target_link: on @target->tokens while linked; on a reap list after
 * @owner:       user charged for the token while linked
 * @exporter:    thread group of the exporter (reference), for revoke
 * @expiry:      ends the token at the end of its lifetime
 * @ttl_ms:      lifetime asked for at export
 * @state:       enum ss_token_state
 * @nr_files:    sockets the token carries, 1 to SHAREDSOCK_VEC_MAX
 * @next_file:   sockets already redeemed, in export order; only a claimant
 *               advances it, under sharedsock_lock
 *
 * Everything but @file, @exporter and @secret is under sharedsock_lock.  A linked
 * token is owned by the token table; the path that unlinks it (redeem,
 * revoke, expiry, target exit, unload) frees it after dropping sharedsock_lock.  A
 * token claimed by a redeem in progress is only marked DOOMED when killed
 * and stays the claimant's to free.  128 bytes: the per-token memory bound.
 */
struct ss_token {
	struct rhash_head node;
	u64 id;
	u8 secret[SHAREDSOCK_SECRET_SIZE];
	union {
		struct file *file;
		struct file **files;
	};
	struct ss_target *target;
	struct list_head target_link;
	struct ss_user *owner;
	struct pid *exporter;
	struct timer_list expiry;
	u32 ttl_ms;
	u8 state;
	u8 nr_files;
	u8 next_file;
};

static const struct rhashtable_params ss_token_params = {
	.key_len = sizeof(u64),
	.key_offset = offsetof(struct ss_token, id),
	.head_offset = offsetof(struct ss_token, node),
	.automatic_shrinking = true,
};

static struct kmem_cache *ss_token_cache;
static struct rhashtable ss_tokens;	/* lookups and changes under sharedsock_lock */
static u64 ss_last_id;			/* under sharedsock_lock */

static struct file **ss_token_files(struct ss_token *tok)
{
	return tok->nr_files == 1 ? &tok->file : tok->files;
}

/* The socket that the token's next redeem installs. */
static struct socket *ss_token_next_sock(struct ss_token *tok)
{
	return sock_from_file(ss_token_files(tok)[tok->next_file]);
}

/* Remove a token from the table, its target and its user's count. */
static void ss_token_unlink(struct ss_token *tok)
{
	lockdep_assert_held(&sharedsock_lock);
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
static void ss_token_destroy(struct ss_token *tok)
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

static int ss_token_link(struct ss_token *tok, struct pid *pid,
			 struct sharedsock_info *info)
{
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
static struct ss_token *ss_token_claim(const struct sharedsock_info *info)
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
 * struct ss_fd_out - where a redeem puts the numbers of the descriptors it
 * installs
 * @kfd:      single redeem: the one number, which the ioctl returns
 * @ufds:     vectored redeem: the caller's array, or NULL for @kfd
 * @pages:    the pages under @ufds, pinned before the first descriptor is
 *            installed
 * @nr_pages: pages pinned: 0, 1 or 2
 *
 * Lives on the redeemer's stack for one call.  A descriptor cannot be
 * taken back once it is in the table (another thread may already use, or
 * close and reuse, its number), so nothing may fail after the first one
 * is installed.  Writing a number into pinned pages cannot fault; the
 * user memory is checked, whole, before that.
 *
 * The numbers could instead be reserved, written to user memory, and only
 * then installed, as receive_fd() does one descriptor at a time since
 * 6.8; but receive_fd() is the only exported way to run the LSM's
 * file_receive hook and apply the receiver's cgroup data to the socket,
 * 6.1's takes no user pointer, and one at a time a fault on the third slot
 * would leave the first two installed.
 */
struct ss_fd_out {
	int kfd;
	int __user *ufds;
	struct page *pages[2];
	int nr_pages;
};

/* Pin the user memory for @n numbers; nothing to do for a single redeem. */
static int ss_fd_out_pin(struct ss_fd_out *out, unsigned int n)
{
	unsigned long start = (unsigned long)out->ufds;
	size_t len = n * sizeof(*out->ufds);
	int nr, pinned;

	BUILD_BUG_ON(SHAREDSOCK_VEC_MAX * sizeof(int) > PAGE_SIZE);
	out->nr_pages = 0;
	if (!out->ufds)
		return 0;
	if (!access_ok(out->ufds, len))
		return -EFAULT;
	nr = PFN_UP(start + len) - PFN_DOWN(start);
	pinned = pin_user_pages_fast(start & PAGE_MASK, nr, FOLL_WRITE,
				     out->pages);
	if (pinned == nr) {
		out->nr_pages = nr;
		return 0;
	}
	if (pinned > 0)
		unpin_user_pages(out->pages, pinned);
	return pinned < 0 ? pinned : -EFAULT;
}

static void ss_fd_out_unpin(struct ss_fd_out *out)
{
	if (out->nr_pages)
		unpin_user_pages_dirty_lock(out->pages, out->nr_pages, true);
}

/* Store number @i; an int of a misaligned array may span both pages. */
static void ss_fd_out_put(struct ss_fd_out *out, unsigned int i, int fd)
{
	size_t pos = offset_in_page(out->ufds) + i * sizeof(fd);
	const char *from = (const char *)&fd;
	size_t left = sizeof(fd);

	if (!out->ufds) {
		out->kfd = fd;
		return;
	}
	while (left) {
		size_t len = min(left, PAGE_SIZE - offset_in_page(pos));

		memcpy_to_page(out->pages[pos >> PAGE_SHIFT],
			       offset_in_page(pos), from, len);
		pos += len;
		from += len;
		left -= len;
	}
}

/*
 * Install @n of a claimed token's remaining sockets, storing their numbers
 * in @out.  Returns how many, or the error of the first when none could be.
 */
static int ss_token_install(struct ss_token *tok, unsigned int o_flags,
			    struct ss_fd_out *out, unsigned int n)
{
	struct file **files = ss_token_files(tok) + tok->next_file;
	unsigned int i;
	int fd = 0;

	for (i = 0; i < n; i++) {
		fd = ss_receive_fd(files[i], o_flags);
		if (fd < 0)
			break;
		ss_fd_out_put(out, i, fd);
	}
	return i ?: fd;
}

/* Drop the token's references to @n sockets now installed. */
static void ss_token_hand_over(struct ss_token *tok, int n)
{
	struct file **files = ss_token_files(tok) + tok->next_file;
	int i;

	/*
	 * Under sharedsock_lock, so that LIST never looks at a socket whose
	 * reference is gone: with bottom halves off, a final fput() is
	 * deferred to a work item.
	 */
	lockdep_assert_held(&sharedsock_lock);
	for (i = 0; i < n; i++)
		fput(files[i]);
	tok->next_file += n;
}

/*
 * The claimant's verdict on its token after installing @n sockets (or
 * failing with @n < 0).  Returns true when the caller must free the token.
 */
static bool ss_token_settle(struct ss_token *tok, int n)
{
	bool ended;

	lockdep_assert_held(&sharedsock_lock);
	if (tok->state == SS_TOKEN_DOOMED) {
		/* Killed meanwhile: everything was uncharged then. */
		if (n > 0)
			ss_token_hand_over(tok, n);
		return true;
	}
	ended = n > 0 && tok->next_file + n == tok->nr_files;
	if (ended) {
		ss_token_unlink(tok);
		tok->state = SS_TOKEN_DEAD;
		ss_stat_add(SS_STAT_TOKENS_REDEEMED, 1);
	} else {
		if (n > 0)
			ss_user_uncharge(tok->owner, n);
		tok->state = SS_TOKEN_LIVE;
	}
	if (n > 0)
		ss_token_hand_over(tok, n);
	return ended;
}

/*
 * The token is claimed while its files are installed, so that of
 * concurrent redeems exactly one proceeds; sockets that could not be
 * installed (EMFILE, or refused by the LSM) stay in the token, which
 * becomes redeemable again unless it was killed meanwhile.  Returns how
 * many descriptors were installed, or an error with nothing taken.
 */
static int ss_token_redeem_to(const struct sharedsock_info *info,
			      unsigned int o_flags, struct ss_fd_out *out,
			      unsigned int room)
{
	struct ss_token *tok;
	unsigned int n;
	bool ended;
	int ret;

	tok = ss_token_claim(info);
	if (!tok)
		return -EINVAL;

	/* Only a claimant advances next_file: @n holds until settled. */
	n = min_t(unsigned int, room, tok->nr_files - tok->next_file);
	ret = ss_fd_out_pin(out, n);
	if (!ret) {
		ret = ss_token_install(tok, o_flags, out, n);
		ss_fd_out_unpin(out);
	}
	spin_lock_bh(&sharedsock_lock);
	ended = ss_token_settle(tok, ret);
	spin_unlock_bh(&sharedsock_lock);

	if (ended)
		ss_token_destroy(tok);
	return ret;
}

/**
 * ss_token_redeem - install a token's next socket into the caller's fd table
 * @info:    the token
 * @o_flags: 0 or O_CLOEXEC
 *
 * Return: the new descriptor; -EINVAL for a token that is unknown, used,
 * expired, revoked or bound to another process; an error from receive_fd()
 * (the token is then intact).
 */
int ss_token_redeem(const struct sharedsock_info *info, unsigned int o_flags)
{
	struct ss_fd_out out = { };
	int ret;

	ret = ss_token_redeem_to(info, o_flags, &out, 1);
	return ret < 0 ? ret : out.kfd;
}

/**
 * ss_token_redeem_vec - install up to @room of a token's remaining sockets
 * @info:    the token
 * @o_flags: 0 or O_CLOEXEC
 * @ufds:    gets the new descriptors, in export order
 * @room:    size of @ufds, 1 to SHAREDSOCK_VEC_MAX
 *
 * Return: how many descriptors were installed; -EINVAL as for
 * ss_token_redeem(); -EFAULT if @ufds cannot be written, checked before
 * anything is installed (the token is then intact); an error from
 * receive_fd() when not even one socket could be installed.
 */
int ss_token_redeem_vec(const struct sharedsock_info *info,
			unsigned int o_flags, int __user *ufds,
			unsigned int room)
{
	struct ss_fd_out out = { .ufds = ufds };

	return ss_token_redeem_to(info, o_flags, &out, room);
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

/**
 * struct ss_token_lister - a listing of tokens in progress
 * @base:  the listing (lister.c)
 * @pos:   the target being listed (see ss_target_next())
 * @last:  id of the last token of that target looked at, 0 for none
 * @all:   the caller sees every user's tokens
 * @uid:   else only those of this user
 * @ns:    pid namespace to give pids in
 * @now:   jiffies at the current hold
 */
struct ss_token_lister {
	struct ss_lister base;
	struct ss_target_pos pos;
	u64 last;
	bool all;
	kuid_t uid;
	struct pid_namespace *ns;
	unsigned long now;
};

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
 * The first token of @tgt after id @last: a target's tokens are in the
 * order of their ids, which only grow.  The last one listed is found
 * through the table, unless it went meanwhile.
 */
static struct ss_token *ss_token_after(struct ss_target *tgt, u64 last)
{
	struct ss_token *tok = NULL;

	if (last)
		tok = rhashtable_lookup_fast(&ss_tokens, &last, ss_token_params);
	if (tok && tok->target == tgt)
		return list_next_entry(tok, target_link);
	list_for_each_entry(tok, &tgt->tokens, target_link)
		if (tok->id > last)
			break;
	return tok;
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
		l->last = 0;
	}
	for (; tgt; tgt = ss_target_next(&l->pos), l->last = 0) {
		tok = ss_token_after(tgt, l->last);
		list_for_each_entry_from(tok, &tgt->tokens, target_link) {
			e = ss_list_slot(base, l->all ||
					 uid_eq(tok->owner->uid, l->uid), &stop);
			if (stop)
				goto out;
			l->last = tok->id;
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

	return ss_list_run(&l.base, uentries, room, ss_tokens_list_step, NULL,
			   total);
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
