/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sharedsock internals shared between the files of the module.
 */
#ifndef _SHAREDSOCK_H
#define _SHAREDSOCK_H

#include <linux/list.h>
#include <linux/percpu.h>
#include <linux/pid.h>
#include <linux/types.h>
#include <linux/uidgid.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/sharedsock.h>

/* SHAREDSOCK_VERSION: from Kbuild, the project's one version. */

/* Counters since load (stats.c), per CPU: bumped on hot paths too. */
enum ss_stat {
	SS_STAT_TOKENS_EXPORTED,
	SS_STAT_TOKENS_REDEEMED,
	SS_STAT_TOKENS_REVOKED,
	SS_STAT_TOKENS_EXPIRED,
	SS_STAT_TOKENS_REAPED,
	SS_STAT_REGS_CREATED,
	SS_STAT_REGS_REPLACED,
	SS_STAT_EVENTS,
	SS_STAT_MESSAGES,
	SS_STAT_NR
};

struct ss_stats {
	u64 count[SS_STAT_NR];
};

DECLARE_PER_CPU(struct ss_stats, ss_stats);

static inline void ss_stat_add(enum ss_stat stat, u64 n)
{
	this_cpu_add(ss_stats.count[stat], n);
}

void ss_status_fill(struct sharedsock_status *st);

/* Module parameters (main.c). */
extern unsigned int ss_default_ttl_ms;
extern unsigned int ss_max_ttl_ms;
extern unsigned int ss_max_user_tokens;
extern bool ss_cross_user;

/*
 * The one lock behind every token, target and user object.  Taken with
 * spin_lock_bh() because token expiry runs from a timer.
 */
extern spinlock_t sharedsock_lock;

/**
 * struct ss_target - a process that pending tokens are bound to
 * @node:   in the target table (target.c), under sharedsock_lock, while !@dead
 * @pid:    the process (thread-group leader's pid); a reference is held
 * @tokens: pending tokens bound to the process, under sharedsock_lock
 * @wait:   queued on @pid->wait_pidfd from creation until the target is
 *          freed, so that the process's exit reaches us promptly
 * @work:   frees the target; queued exactly once (SS_TARGET_QUEUED) on exit
 *          or module unload, then owns the object
 * @flags:  SS_TARGET_QUEUED
 * @dead:   unlinked from the table; no new tokens; under sharedsock_lock
 *
 * Owned by the target table until @dead, then by @work.  A target lives
 * as long as its process (or the module), so a worker that redeems many
 * tokens does not rebuild it per handoff.
 */
struct ss_target {
	struct hlist_node node;
	struct pid *pid;
	struct list_head tokens;
	wait_queue_entry_t wait;
	struct work_struct work;
	unsigned long flags;
	bool dead;
};

/**
 * struct ss_user - pending-token count of one user (real uid of exporters)
 * @node:    in the user table, under sharedsock_lock
 * @uid:     the user
 * @pending: sockets in the tokens charged to @uid; the object is freed
 *           when it drops to 0
 *
 * Created and freed under sharedsock_lock; tokens point at it while charged.
 */
struct ss_user {
	struct hlist_node node;
	kuid_t uid;
	unsigned int pending;
};

/* target.c */
/*
 * Takes every token off a dead target's list @tokens and frees them,
 * a batch at a time.
 */
typedef void (*ss_target_empty_fn)(struct list_head *tokens);

int ss_targets_init(ss_target_empty_fn empty);
void ss_targets_exit(void);
struct ss_target *ss_target_alloc(struct pid *pid);
void ss_target_free_unused(struct ss_target *tgt);
struct ss_target *ss_target_find(struct pid *pid);
int ss_target_insert(struct ss_target *tgt);
/**
 * struct ss_target_pos - where a listing of targets stands
 * @bkt: hash bucket
 * @pid: the pid of the last target listed, as a number (never followed)
 * @tgt: that target's address, likewise; 0 and 0 before the first
 */
struct ss_target_pos {
	unsigned int bkt;
	unsigned long pid;
	unsigned long tgt;
};

struct ss_target *ss_target_at(const struct ss_target_pos *pos);
struct ss_target *ss_target_next(struct ss_target_pos *pos);

/* quota.c */
struct ss_user *ss_user_alloc(kuid_t uid);
struct ss_user *ss_user_find(kuid_t uid);
void ss_user_insert(struct ss_user *user);
void ss_user_uncharge(struct ss_user *user, unsigned int n);

/* device.c */
int ss_device_init(void);
void ss_device_exit(void);

/* token.c */
int ss_tokens_init(void);
void ss_tokens_exit(void);
int ss_token_export(struct file **files, unsigned int nr, struct pid *pid,
		    u32 ttl_ms, struct sharedsock_info *info);
int ss_token_revoke(const struct sharedsock_info *info);
void ss_tokens_drop_all(struct list_head *tokens);
u32 ss_tokens_pending(void);
int ss_tokens_list(struct sharedsock_token_entry __user *uentries, u32 room,
		   u32 *total);

/* redeem.c */
int ss_token_redeem(const struct sharedsock_info *info, unsigned int o_flags);
int ss_token_redeem_vec(const struct sharedsock_info *info,
			unsigned int o_flags, int __user *ufds,
			unsigned int room);

#endif /* _SHAREDSOCK_H */
