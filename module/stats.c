// SPDX-License-Identifier: GPL-2.0
/*
 * Counters and status, for sharedsockctl.
 */
#include <linux/percpu.h>
#include <linux/string.h>

#include "reg.h"
#include "sharedsock.h"

DEFINE_PER_CPU(struct ss_stats, ss_stats);

static u64 ss_stat_read(enum ss_stat stat)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += per_cpu(ss_stats, cpu).count[stat];
	return sum;
}

void ss_status_fill(struct sharedsock_status *st)
{
	st->tokens_pending = ss_tokens_pending();
	st->registrations = ss_regs_count();
	st->tokens_exported = ss_stat_read(SS_STAT_TOKENS_EXPORTED);
	st->tokens_redeemed = ss_stat_read(SS_STAT_TOKENS_REDEEMED);
	st->tokens_revoked = ss_stat_read(SS_STAT_TOKENS_REVOKED);
	st->tokens_expired = ss_stat_read(SS_STAT_TOKENS_EXPIRED);
	st->tokens_reaped = ss_stat_read(SS_STAT_TOKENS_REAPED);
	st->registrations_created = ss_stat_read(SS_STAT_REGS_CREATED);
	st->registrations_replaced = ss_stat_read(SS_STAT_REGS_REPLACED);
	st->events_recorded = ss_stat_read(SS_STAT_EVENTS);
	st->messages_posted = ss_stat_read(SS_STAT_MESSAGES);
	strscpy(st->version, SHAREDSOCK_VERSION, sizeof(st->version));
}
