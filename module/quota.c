// SPDX-License-Identifier: GPL-2.0
/*
 * Per-user accounting of pending tokens, the analogue of the per-user count
 * of in-flight SCM_RIGHTS files (user_struct->unix_inflight).
 */
#include <linux/hashtable.h>
#include <linux/slab.h>

#include "sharedsock.h"

/* Users with at least one pending token, keyed by uid, under sharedsock_lock. */
static DEFINE_HASHTABLE(ss_users, 6);

struct ss_user *ss_user_alloc(kuid_t uid)
{
	struct ss_user *user = kzalloc(sizeof(*user), GFP_KERNEL_ACCOUNT);

	if (user)
		user->uid = uid;
	return user;
}

struct ss_user *ss_user_find(kuid_t uid)
{
	struct ss_user *user;

	lockdep_assert_held(&sharedsock_lock);
	hash_for_each_possible(ss_users, user, node, __kuid_val(uid))
		if (uid_eq(user->uid, uid))
			return user;
	return NULL;
}

void ss_user_insert(struct ss_user *user)
{
	lockdep_assert_held(&sharedsock_lock);
	hash_add(ss_users, &user->node, __kuid_val(user->uid));
}

/* Drop @n sockets from the user's count; frees the user at zero. */
void ss_user_uncharge(struct ss_user *user, unsigned int n)
{
	lockdep_assert_held(&sharedsock_lock);
	user->pending -= n;
	if (user->pending)
		return;
	hash_del(&user->node);
	kfree(user);
}
