// SPDX-License-Identifier: GPL-2.0
/*
 * The Winsock event rules, as a table (Documentation/sharedsock.rst,
 * "Network events"):
 *  - an event is recorded when its condition is seen to hold while it is
 *    armed, and is then disarmed until its re-enabling call;
 *  - READ, OOB and ACCEPT are level-triggered: right after the re-enabling
 *    call the condition is looked at again, and recorded if it still holds;
 *  - a re-enabling call also forgets a record not yet reported: it consumed
 *    the condition (a connection accepted, data read);
 *  - a recorded event is reported (fetched or posted) once it is selected;
 *  - CONNECT and CLOSE are recorded once, with an error;
 *  - a new registration in event mode re-enables READ, OOB and ACCEPT for
 *    their next new occurrence, without reporting what was reported; in
 *    message mode it posts the current conditions again.
 * Windows' own conformance tests decide where these differ from Microsoft's
 * pages (Documentation/winsock.rst).
 *
 * Nothing here locks or touches a socket: the registration calls in under
 * its own lock with what it saw of the socket.  Changing what Windows does
 * is changing this file (and its unit test, selftests/rules_test.c).
 */
#include <linux/kernel.h>

#include "rules.h"

/**
 * struct ss_rule - the rule of one network event
 * @wake:     wake-ups (enum ss_wake) that may raise it; CONNECT and CLOSE
 *            are looked at on every wake-up (@any_wake)
 * @any_wake: looked at on every wake-up, whatever its key
 * @reenable: calls (enum ss_call) that re-enable it
 * @reenable_msg: calls that re-enable it in message mode only
 * @reposted: a new message-mode registration re-arms it, so that current
 *            conditions are posted again
 * @rearmed:  a new event-mode registration re-arms it, for its next new
 *            occurrence (not for the condition that holds now)
 * @err_slot: where its error is kept (enum ss_err_slot), or -1: none
 * @cond:     the condition (enum ss_cond) that raises it; none for CONNECT
 *            and CLOSE, which change the state as they are seen
 */
struct ss_rule {
	u8 wake;
	bool any_wake;
	u8 reenable;
	u8 reenable_msg;
	bool reposted;
	bool rearmed;
	s8 err_slot;
	u8 cond;
};

/* The conditions that hold, as @obs saw the socket: a bit per enum ss_cond. */
static u32 ss_conds(const struct ss_rstate *st, const struct ss_obs *obs)
{
	u32 conds = 0;

	if (obs->listening)
		return obs->accept_pending ? 1U << SS_COND_ACCEPTABLE : 0;
	if (obs->readable)
		conds |= 1U << SS_COND_READABLE;
	if (obs->urgent)
		conds |= 1U << SS_COND_URGENT;
	/*
	 * Room to send on a connected socket: a write-space wake-up says so by
	 * itself; a look (registration, re-enabling) asks poll, and not on a
	 * connection that has ended before it, nor on a datagram socket not
	 * bound yet -- but for message mode, where Windows posts it.
	 */
	if (st->connected && obs->space &&
	    (obs->space_wake || obs->established || (st->queue && !st->stream)))
		conds |= 1U << SS_COND_WRITABLE;
	return conds;
}

#define SS_BIT(name)	SHAREDSOCK_FD_##name##_BIT

static const struct ss_rule ss_rules[SHAREDSOCK_FD_MAX_EVENTS] = {
	/* A recv() that failed for its buffer: message mode only (Windows). */
	[SS_BIT(READ)] = {
		.wake = SS_WAKE_IN, .reenable = SS_CALL_RECV,
		.reenable_msg = SS_CALL_RECV_FAULT, .reposted = true,
		.rearmed = true, .err_slot = -1, .cond = SS_COND_READABLE,
	},
	[SS_BIT(WRITE)] = {
		.wake = SS_WAKE_OUT, .reenable = SS_CALL_SEND_BLOCKED,
		.reposted = true, .err_slot = -1, .cond = SS_COND_WRITABLE,
	},
	[SS_BIT(OOB)] = {
		.wake = SS_WAKE_PRI, .reenable = SS_CALL_RECV_OOB,
		.reposted = true, .rearmed = true, .err_slot = -1,
		.cond = SS_COND_URGENT,
	},
	[SS_BIT(ACCEPT)] = {
		.wake = SS_WAKE_IN, .reenable = SS_CALL_ACCEPT,
		.reposted = true, .rearmed = true, .err_slot = -1,
		.cond = SS_COND_ACCEPTABLE,
	},
	[SS_BIT(CONNECT)] = { .any_wake = true, .err_slot = SS_ERR_CONNECT },
	[SS_BIT(CLOSE)] = {
		.any_wake = true, .reposted = true, .err_slot = SS_ERR_CLOSE,
	},
	/* QOS, GROUP_QOS, ROUTING_INTERFACE_CHANGE, ADDRESS_LIST_CHANGE:
	 * selectable, never raised on Linux.
	 */
	[SS_BIT(QOS)] = { .err_slot = -1 },
	[SS_BIT(GROUP_QOS)] = { .err_slot = -1 },
	[SS_BIT(ROUTING_INTERFACE_CHANGE)] = { .err_slot = -1 },
	[SS_BIT(ADDRESS_LIST_CHANGE)] = { .err_slot = -1 },
};

/* Winsock's order for the messages of one socket: a connection is
 * reported before its readiness, data before the close.
 */
static const u8 ss_message_order[SHAREDSOCK_FD_MAX_EVENTS] = {
	SS_BIT(CONNECT), SS_BIT(ACCEPT), SS_BIT(READ), SS_BIT(OOB),
	SS_BIT(WRITE), SS_BIT(CLOSE), SS_BIT(QOS), SS_BIT(GROUP_QOS),
	SS_BIT(ROUTING_INTERFACE_CHANGE), SS_BIT(ADDRESS_LIST_CHANGE),
};

/* What the table says, gathered by ss_rules_setup() for the hot paths. */
struct ss_rules_derived ss_rules_derived;

/* The events of the table whose rule satisfies @pred for @arg. */
#define SS_EVENTS_WHERE(pred)						\
({									\
	unsigned int __bit;						\
	u32 __events = 0;						\
									\
	for (__bit = 0; __bit < SHAREDSOCK_FD_MAX_EVENTS; __bit++) {	\
		const struct ss_rule *r = &ss_rules[__bit];		\
									\
		if (pred)						\
			__events |= 1U << __bit;			\
	}								\
	__events;							\
})

/* Gather the table's masks; once, before any other call. */
void ss_rules_setup(void)
{
	struct ss_rules_derived *d = &ss_rules_derived;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(d->woken_by); i++)
		d->woken_by[i] = SS_EVENTS_WHERE(r->wake & i);
	for (i = 0; i < ARRAY_SIZE(d->raised_by); i++)
		d->raised_by[i] = SS_EVENTS_WHERE(r->cond && r->cond == i);
	for (i = 0; i < ARRAY_SIZE(d->reenabled_by); i++) {
		d->reenabled_by[i] = SS_EVENTS_WHERE(r->reenable & i);
		d->reenabled_by_msg[i] =
			SS_EVENTS_WHERE((r->reenable | r->reenable_msg) & i);
	}
	d->reposted = SS_EVENTS_WHERE(r->reposted);
	d->rearmed = SS_EVENTS_WHERE(r->rearmed);
	d->with_error = SS_EVENTS_WHERE(r->err_slot >= 0);
}

/* A datagram socket counts as connected: it can send from the start. */
void ss_rules_init(struct ss_rstate *st, bool stream, bool connected,
		   bool connecting)
{
	*st = (struct ss_rstate){
		.armed = SS_EV_ALL,
		.stream = stream,
		.connected = connected || !stream,
		.connecting = connecting,
	};
}

/*
 * The socket connected by its own connect() before its first registration:
 * FD_CONNECT is a fact of the socket, recorded then (error 0) and reported
 * once selected in event mode; message mode never posts it (Windows).
 */
void ss_rules_connected_before(struct ss_rstate *st)
{
	st->armed &= ~SS_FD(CONNECT);
	st->pending |= SS_FD(CONNECT);
	st->errors[SS_ERR_CONNECT] = 0;
}

/* The slot of the error of event @bit, or -1 if it never has one. */
int ss_rules_err_slot(unsigned int bit)
{
	return bit < SHAREDSOCK_FD_MAX_EVENTS ? ss_rules[bit].err_slot : -1;
}

/*
 * Record @events that are armed, with their errors from @errs (NULL:
 * none).  An event recorded is disarmed until its re-enabling call.
 * Returns the events recorded; those not pending before are @fresh: an
 * event recorded again before it was fetched signals nothing new.
 */
u32 ss_rules_record(struct ss_rstate *st, u32 events,
		    const struct ss_errs *errs, u32 *fresh)
{
	unsigned int bit;
	u32 erring;

	events &= st->armed;
	*fresh = events & ~st->pending;
	if (!events)
		return 0;
	st->armed &= ~events;
	st->edge &= ~events;
	st->pending |= events;
	erring = events & ss_rules_derived.with_error;
	for (bit = 0; erring; bit++, erring >>= 1)
		if (erring & 1)
			st->errors[ss_rules[bit].err_slot] =
				errs ? errs->err[ss_rules[bit].err_slot] : 0;
	return events;
}

/*
 * The peer shut down its sending side, closed, or reset the connection: a
 * local shutdown(SHUT_RD) is not the peer's doing.
 */
static bool ss_peer_closed(const struct ss_rstate *st, const struct ss_obs *obs)
{
	if (!st->stream || !st->connected)
		return false;
	return obs->peer_closed ||
	       (obs->rcv_shutdown && !(st->local_shut & SS_SHUT_RCV));
}

/*
 * FD_CLOSE as soon as the peer closed, even with data left to read (as
 * Windows does; FD_READ reports the data).  A reset's error is kept, since
 * recv() consumes sk_err on the way, for a message-mode registration that
 * posts FD_CLOSE again.
 */
static u32 ss_close_event(struct ss_rstate *st, const struct ss_obs *obs,
			  struct ss_errs *errs)
{
	if (!ss_peer_closed(st, obs))
		return 0;
	if (obs->sk_err && !st->close_err)
		st->close_err = obs->sk_err;
	errs->err[SS_ERR_CLOSE] = st->close_err;
	return SS_FD(CLOSE);
}

/*
 * A connect() in progress finished: FD_CONNECT (and FD_WRITE on success).
 * Only a stream socket's ends with a wake-up; a datagram socket's connect()
 * ends as the call returns (ss_rules_connect_end()), and a wake-up meanwhile
 * -- a datagram arriving at the port it is bound to -- says nothing of it.
 */
static u32 ss_connect_event(struct ss_rstate *st, const struct ss_obs *obs,
			    struct ss_errs *errs)
{
	if (!st->connecting || !st->stream)
		return 0;
	if (obs->established) {
		st->connecting = false;
		st->connected = true;
		st->armed |= SS_FD(WRITE);
		return SS_FD(CONNECT) | SS_FD(WRITE);
	}
	if (!obs->connect_failed)
		return 0;
	st->connecting = false;
	errs->err[SS_ERR_CONNECT] = obs->sk_err;
	return SS_FD(CONNECT);
}

/* The events of the table whose condition holds, among @which. */
static u32 ss_levels(const struct ss_rstate *st, const struct ss_obs *obs,
		     u32 which)
{
	u32 conds = ss_conds(st, obs), events = 0;
	unsigned int cond;

	for (cond = 1; cond < SS_CONDS; cond++)
		if (conds & (1U << cond))
			events |= ss_rules_derived.raised_by[cond];
	return events & which;
}

/*
 * A wake-up of classes @wake: the events it raises, not yet recorded
 * (the caller records them, with @errs).
 */
u32 ss_rules_on_wake(struct ss_rstate *st, const struct ss_obs *obs,
		     unsigned int wake, struct ss_errs *errs)
{
	u32 events;

	u32 woken = ss_rules_derived.woken_by[wake & SS_WAKE_ANY];

	if (obs->listening)
		return ss_levels(st, obs, woken);
	events = ss_connect_event(st, obs, errs);
	events |= ss_levels(st, obs, woken);
	return events | ss_close_event(st, obs, errs);
}

/*
 * A look at the socket outside a wake-up (at registration, after a
 * re-enabling call): the events among @which whose condition holds now.
 */
u32 ss_rules_holding(struct ss_rstate *st, const struct ss_obs *obs,
		     u32 which, struct ss_errs *errs)
{
	u32 events = ss_levels(st, obs, SS_EV_ALL);

	if (!obs->listening)
		events |= ss_close_event(st, obs, errs);
	return events & which & ~st->edge;
}

/*
 * A re-enabling call was made for @events: re-arm them, and forget their
 * records that were not reported yet, since the call consumed what they
 * recorded (a connection accepted, data read).  The look that follows
 * records them again if their condition still holds.
 */
void ss_rules_arm(struct ss_rstate *st, u32 events)
{
	st->armed |= events;
	st->edge &= ~events;
	st->pending &= ~events;
}

/* A connect() that starts a connection: its outcome is FD_CONNECT. */
void ss_rules_connect_start(struct ss_rstate *st)
{
	st->connecting = true;
	st->armed |= SS_FD(CONNECT);
}

/*
 * The connect() call returned: the events its outcome raises now (none
 * while it goes on: the wake-ups tell), with the error in @errs.  A
 * connect() re-enables FD_WRITE; a datagram socket's reports FD_WRITE
 * alone in message mode (Windows).
 */
u32 ss_rules_connect_end(struct ss_rstate *st, enum ss_connect_end end,
			 int err, struct ss_errs *errs)
{
	if (!st->connecting || end == SS_CONNECT_GOES_ON)
		return 0;
	st->connecting = false;
	switch (end) {
	case SS_CONNECT_DONE:
		st->connected = true;
		st->armed |= SS_FD(WRITE);
		if (!st->stream && st->queue)
			return SS_FD(WRITE);
		return SS_FD(CONNECT) | SS_FD(WRITE);
	case SS_CONNECT_FAILED:
		/* A datagram socket's failure is the call's error alone. */
		if (!st->stream)
			return 0;
		errs->err[SS_ERR_CONNECT] = err;
		return SS_FD(CONNECT);
	default:
		return 0;
	}
}

/* shutdown() done locally (@how: SS_SHUT_RCV and/or SS_SHUT_SEND). */
void ss_rules_local_shutdown(struct ss_rstate *st, u8 how)
{
	st->local_shut |= how;
}

/*
 * A new registration selects @mask; returns the events whose condition
 * the caller looks at now.
 *  - Message mode (@queue): current conditions are posted again, so the
 *    level-triggered events, FD_WRITE and FD_CLOSE are re-armed for a look
 *    at everything; an FD_CONNECT never posted is dropped.
 *  - Event mode: what was reported is not reported again, but READ, OOB
 *    and ACCEPT, when selected, are re-armed for their next new occurrence
 *    (a new connection, new data, a new urgent byte: a wake-up), which no
 *    look records (@edge), this one or a later registration's; only the
 *    events fully armed are looked at.  The first registration, with all
 *    armed, looks at everything.
 */
u32 ss_rules_select(struct ss_rstate *st, u32 mask, bool queue)
{
	u32 rearm;

	st->mask = mask;
	WRITE_ONCE(st->queue, queue);
	if (queue) {
		st->armed |= ss_rules_derived.reposted;
		st->edge = 0;
		st->pending &= ~SS_FD(CONNECT);
		return SS_EV_ALL;
	}
	rearm = mask & ss_rules_derived.rearmed & ~st->armed;
	st->armed |= rearm;
	st->edge |= rearm;
	return st->armed & ~st->edge;
}

/* Event mode: whether newly recorded @fresh events signal the event object. */
bool ss_rules_signals(const struct ss_rstate *st, u32 fresh)
{
	return (st->pending & st->mask) && (fresh & st->mask);
}

/*
 * Take the recorded events that are selected, with their errors by slot
 * into @errors (may be NULL): a fetch, or a post to a queue.
 */
u32 ss_rules_fetch(struct ss_rstate *st, s16 errors[SS_ERR_SLOTS])
{
	u32 events = st->pending & st->mask;
	int i;

	if (errors)
		for (i = 0; i < SS_ERR_SLOTS; i++)
			errors[i] = st->errors[i];
	st->pending &= ~events;
	return events;
}

/*
 * Put back @events that were taken but never reached the application (a
 * fetch that could not be copied out, messages taken back from a queue):
 * Windows leaves posted messages in the window's queue, and an FD_CLOSE
 * or FD_CONNECT lost here would never come again.
 */
void ss_rules_unfetch(struct ss_rstate *st, u32 events,
		      const s16 errors[SS_ERR_SLOTS])
{
	unsigned int bit;
	u32 erring = errors ? events & ss_rules_derived.with_error : 0;

	for (bit = 0; erring; bit++, erring >>= 1)
		if (erring & 1)
			st->errors[ss_rules[bit].err_slot] =
				errors[ss_rules[bit].err_slot];
	st->pending |= events;
}

/* The event of the next message to read among @queued (not 0). */
unsigned int ss_rules_next_message(u32 queued)
{
	unsigned int i;

	for (i = 0; i < SHAREDSOCK_FD_MAX_EVENTS; i++)
		if (queued & (1U << ss_message_order[i]))
			break;
	return i < SHAREDSOCK_FD_MAX_EVENTS ? ss_message_order[i] : 0;
}
