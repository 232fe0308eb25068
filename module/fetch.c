// SPDX-License-Identifier: GPL-2.0
/*
 * Fetching a registration's events: SHAREDSOCK_IOC_ENUM, Winsock's
 * WSAEnumNetworkEvents, which takes what is recorded and selected and
 * resets the event object given.
 */
#include <linux/eventfd.h>
#include <linux/wait.h>

#include "compat.h"
#include "reg.h"

/* Reads per reset of an EFD_SEMAPHORE eventfd, which gives one per read. */
#define SS_EVENTFD_RESET_MAX	64

/*
 * Reset an eventfd as WSAEnumNetworkEvents resets its event object:
 * eventfd_ctx_remove_wait_queue() reads the counter to zero under the
 * eventfd's lock, and removing an entry that is on no list does nothing.
 */
void ss_eventfd_reset(struct eventfd_ctx *evt)
{
	wait_queue_entry_t unqueued;
	int reads = SS_EVENTFD_RESET_MAX;
	u64 count;

	do {
		INIT_LIST_HEAD(&unqueued.entry);
	} while (!eventfd_ctx_remove_wait_queue(evt, &unqueued, &count) &&
		 --reads);
}

/* Whether @reg reports to @evt or @queue now (ENUM's peek). */
static bool ss_reg_sink_is(const struct ss_reg *reg, struct eventfd_ctx *evt,
			   struct ss_queue *queue)
{
	if (!reg->st.mask)
		return false;
	return (evt && reg->sink.kind == SS_SINK_EVENTFD &&
		reg->sink.evt == evt) ||
	       (queue && reg->sink.kind == SS_SINK_QUEUE &&
		reg->sink.queue == queue);
}

/**
 * ss_reg_enum - fetch and clear the recorded events that are selected
 * @reg:   the socket's registration, or NULL (the caller holds the file)
 * @evt:   eventfd to reset (or, peeking, to compare), or NULL
 * @queue: peeking: queue to compare, or NULL
 * @args:  @events, @mask, @errors and @sink_current are filled in
 *
 * Fetching and resetting happen under the registration's lock, so an event
 * recorded meanwhile is either fetched now or signalled afresh.
 */
void ss_reg_enum(struct ss_reg *reg, struct eventfd_ctx *evt,
		 struct ss_queue *queue, struct sharedsock_enum *args)
{
	bool peek = args->flags & SHAREDSOCK_ENUM_PEEK;
	s16 errors[SS_ERR_SLOTS];
	unsigned long flags, bit, bits;
	u32 events;

	args->events = 0;
	args->mask = 0;
	args->sink_current = 0;
	memset(args->errors, 0, sizeof(args->errors));
	if (!reg) {
		if (evt && !peek)
			ss_eventfd_reset(evt);
		return;
	}
	spin_lock_irqsave(&reg->lock, flags);
	args->mask = reg->st.mask;
	if (peek) {
		events = reg->st.pending & reg->st.mask;
		memcpy(errors, reg->st.errors, sizeof(errors));
		args->sink_current = ss_reg_sink_is(reg, evt, queue);
	} else {
		events = ss_rules_fetch(&reg->st, errors);
		if (evt)
			ss_eventfd_reset(evt);
	}
	spin_unlock_irqrestore(&reg->lock, flags);
	bits = events;
	for_each_set_bit(bit, &bits, SHAREDSOCK_FD_MAX_EVENTS) {
		int slot = ss_rules_err_slot(bit);

		if (slot >= 0)
			args->errors[bit] = errors[slot];
	}
	args->events = events;
}

/* Put back what ss_reg_enum() took, when it could not be handed out. */
void ss_reg_enum_undo(struct ss_reg *reg, struct eventfd_ctx *evt,
		      const struct sharedsock_enum *args)
{
	unsigned long flags;

	if (!reg || (args->flags & SHAREDSOCK_ENUM_PEEK) || !args->events)
		return;
	spin_lock_irqsave(&reg->lock, flags);
	ss_rules_unfetch(&reg->st, args->events, NULL);
	if (evt)
		eventfd_signal(evt);
	spin_unlock_irqrestore(&reg->lock, flags);
}
