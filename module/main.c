// SPDX-License-Identifier: GPL-2.0
/*
 * sharedsock: Winsock-style shared sockets for Linux.
 */
#include <linux/module.h>
#include <linux/random.h>

#include "reg.h"
#include "watch.h"
#include "sharedsock.h"
#include "ulp.h"

unsigned int ss_default_ttl_ms = 60 * MSEC_PER_SEC;
module_param_named(default_ttl_ms, ss_default_ttl_ms, uint, 0644);
MODULE_PARM_DESC(default_ttl_ms, "Lifetime of a token exported without one (ms)");

unsigned int ss_max_ttl_ms = 3600 * MSEC_PER_SEC;
module_param_named(max_ttl_ms, ss_max_ttl_ms, uint, 0644);
MODULE_PARM_DESC(max_ttl_ms, "Longest token lifetime an exporter may ask for (ms)");

unsigned int ss_max_user_tokens;
module_param_named(max_user_tokens, ss_max_user_tokens, uint, 0644);
MODULE_PARM_DESC(max_user_tokens,
		 "Pending tokens per user; 0 = the exporter's RLIMIT_NOFILE");

bool ss_cross_user;
module_param_named(cross_user, ss_cross_user, bool, 0644);
MODULE_PARM_DESC(cross_user,
		 "Allow exporting to processes of other users without CAP_SYS_PTRACE");

static int __init ss_init(void)
{
	int err;

	err = wait_for_random_bytes();
	if (err)
		return err;
	err = ss_tokens_init();
	if (err)
		return err;
	err = ss_targets_init(ss_tokens_drop_all);
	if (err)
		goto err_tokens;
	err = ss_regs_init();
	if (err)
		goto err_targets;
	err = ss_ulp_init_module();
	if (err)
		goto err_regs;
	ss_watch_init();
	/* Last: it can fail, and nothing after it does. */
	err = ss_device_init();
	if (err)
		goto err_ulp;
	ss_ulp_enable();
	return 0;

err_ulp:
	ss_ulp_exit();
	ss_watch_exit();
err_regs:
	ss_regs_exit();
err_targets:
	ss_targets_exit();
err_tokens:
	ss_tokens_exit();
	return err;
}

static void __exit ss_exit(void)
{
	ss_device_exit();
	ss_ulp_exit();
	ss_watch_exit();
	ss_regs_exit();
	ss_targets_exit();
	ss_tokens_exit();
}

module_init(ss_init);
module_exit(ss_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Hand live sockets to other processes, Winsock style");
MODULE_AUTHOR("sharedsock developers");
MODULE_VERSION(SHAREDSOCK_VERSION);
