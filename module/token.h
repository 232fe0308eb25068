/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A pending token (token.c), as its redeem (redeem.c) sees it.
 */
#ifndef _SHAREDSOCK_TOKEN_H
#define _SHAREDSOCK_TOKEN_H

#include <linux/file.h>
#include <linux/net.h>
#include <linux/rhashtable-types.h>
#include <linux/timer.h>

#include "sharedsock.h"

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

static inline struct file **ss_token_files(struct ss_token *tok)
{
	return tok->nr_files == 1 ? &tok->file : tok->files;
}

/* The socket that the token's next redeem installs. */
static inline struct socket *ss_token_next_sock(struct ss_token *tok)
{
	return sock_from_file(ss_token_files(tok)[tok->next_file]);
}

/* token.c, for redeem.c */
void ss_token_unlink(struct ss_token *tok);
void ss_token_destroy(struct ss_token *tok);
struct ss_token *ss_token_claim(const struct sharedsock_info *info);

#endif /* _SHAREDSOCK_TOKEN_H */
