/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The Winsock event rules (rules.c): what is recorded, reported and
 * re-enabled, for which call.  Pure: no locking, no socket access.  The
 * caller keeps the state under its own lock and passes in what it saw of
 * the socket (struct ss_obs).  Built in userspace too, for its unit test
 * (selftests/rules_test.c), so it includes nothing but types and the
 * compiler's and kernel.h's basics (which the test's shim provides).
 */
#ifndef _SHAREDSOCK_RULES_H
#define _SHAREDSOCK_RULES_H

#include <linux/compiler.h>
#include <linux/types.h>
#include <linux/sharedsock.h>

#define SS_FD(name)	SHAREDSOCK_FD_##name
#define SS_EV_ALL	SHAREDSOCK_FD_ALL_EVENTS

/*
 * Only FD_CONNECT and FD_CLOSE are ever recorded with an error: a
 * registration keeps one error per such event, in these slots.
 */
enum ss_err_slot {
	SS_ERR_CONNECT,
	SS_ERR_CLOSE,
	SS_ERR_SLOTS,
};

/* What woke the socket, from its wake-up key (sockstate.c). */
enum ss_wake {
	SS_WAKE_IN	= 1 << 0,	/* data, a connection, or unkeyed */
	SS_WAKE_PRI	= 1 << 1,	/* urgent data, or as SS_WAKE_IN */
	SS_WAKE_OUT	= 1 << 2,	/* send space (keyed only) */
	SS_WAKE_ANY	= SS_WAKE_IN | SS_WAKE_PRI | SS_WAKE_OUT,
};

/* The calls of the application that the rules know of. */
enum ss_call {
	SS_CALL_RECV		= 1 << 0,	/* recv() and the like */
	SS_CALL_RECV_OOB	= 1 << 1,	/* recv(MSG_OOB) */
	SS_CALL_SEND_BLOCKED	= 1 << 2,	/* a send failed with EAGAIN */
	SS_CALL_ACCEPT		= 1 << 3,	/* accept() */
	SS_CALL_RECV_FAULT	= 1 << 4,	/* a recv() that failed for
						 * its buffer (EFAULT)
						 */
	SS_CALLS		= 1 << 5,
};

/* Directions of a local shutdown(), as the kernel's RCV/SEND_SHUTDOWN. */
#define SS_SHUT_RCV	1
#define SS_SHUT_SEND	2

/* The level-triggered conditions that raise events (rules.c's table). */
enum ss_cond {
	SS_COND_NONE,
	SS_COND_READABLE,
	SS_COND_WRITABLE,
	SS_COND_URGENT,
	SS_COND_ACCEPTABLE,
	SS_CONDS
};

/* How a connect() call ended, for FD_CONNECT. */
enum ss_connect_end {
	SS_CONNECT_GOES_ON,	/* in progress: the wake-ups will tell */
	SS_CONNECT_DONE,	/* connected */
	SS_CONNECT_FAILED,	/* failed at once: FD_CONNECT with the error */
	SS_CONNECT_REFUSED,	/* refused for its arguments: nothing */
};

/**
 * struct ss_obs - one look at the socket (sockstate.c fills it in)
 * @listening:      a listener
 * @accept_pending: a connection waits in its accept queue
 * @readable:       data (not merely an end of file) waits to be read
 * @urgent:         urgent data waits and is not read inline
 * @space:          room to send (a write-space wake-up, or poll's answer)
 * @established:    the connection is up (always, for datagram sockets)
 * @connect_failed: a connect() in progress has ended without a connection
 * @peer_closed:    the peer closed or reset the connection, as the
 *                  protocol's state says (TCP)
 * @rcv_shutdown:   the receiving side is shut down, by the peer or by a
 *                  local shutdown(SHUT_RD) (other stream protocols)
 * @space_wake:     @space comes from a write-space wake-up: a connected
 *                  socket's space counts without @established
 * @sk_err:         the socket's pending error
 */
struct ss_obs {
	bool listening;
	bool accept_pending;
	bool readable;
	bool urgent;
	bool space;
	bool established;
	bool connect_failed;
	bool peer_closed;
	bool rcv_shutdown;
	bool space_wake;
	int sk_err;
};

/**
 * struct ss_rstate - the Winsock state of one registration
 * @mask:       selected events (SHAREDSOCK_FD_*); 0 when cancelled
 * @armed:      events that may be recorded now: an event is disarmed when
 *              recorded and re-armed by its Winsock re-enabling call
 * @edge:       armed events that only a new occurrence (a wake-up) records,
 *              not a look at the condition: re-armed by an event-mode
 *              registration, not by their re-enabling call
 * @pending:    recorded events not yet fetched (eventfd) or posted (queue)
 * @errors:     errno of each recorded event, by slot (enum ss_err_slot)
 * @close_err:  error seen when the connection ended (reset), kept for the
 *              FD_CLOSE raised once the remaining data is read
 * @connecting: a connect() is in progress
 * @connected:  the socket has been connected (stream) or is datagram
 * @stream:     a stream (or seqpacket) socket
 * @queue:      registered in message mode (a queue), not event mode
 * @local_shut: shutdown() directions done locally (SS_SHUT_*)
 *
 * Owned by the registration, under its lock.
 */
struct ss_rstate {
	u32 mask;
	u32 armed;
	u32 edge;
	u32 pending;
	s16 errors[SS_ERR_SLOTS];
	s16 close_err;
	bool connecting;
	bool connected;
	bool stream;
	bool queue;
	u8 local_shut;
};

/* The errors events are recorded with, by slot (enum ss_err_slot). */
struct ss_errs {
	int err[SS_ERR_SLOTS];
};

/**
 * struct ss_rules_derived - masks gathered from the table (rules.c) by
 * ss_rules_setup(), for the hot paths; constant afterwards
 * @woken_by:     by enum ss_wake combination: events a wake-up may raise
 * @raised_by:    by condition (rules.c): events it raises
 * @reenabled_by: by enum ss_call combination: events the calls re-enable
 * @reenabled_by_msg: the same, in message mode
 * @reposted:     events a message-mode registration posts again
 * @rearmed:      events an event-mode registration re-enables
 * @with_error:   events recorded with an error
 */
struct ss_rules_derived {
	u32 woken_by[SS_WAKE_ANY + 1];
	u32 raised_by[SS_CONDS];
	u32 reenabled_by[SS_CALLS];
	u32 reenabled_by_msg[SS_CALLS];
	u32 reposted;
	u32 rearmed;
	u32 with_error;
};

extern struct ss_rules_derived ss_rules_derived;

/*
 * The events that @calls (enum ss_call) re-enable on a registration in
 * state @st (its mode matters); read without the registration's lock.
 */
static inline u32 ss_rules_reenabled_by(const struct ss_rstate *st,
					unsigned int calls)
{
	calls &= SS_CALLS - 1;
	if (READ_ONCE(st->queue))
		return ss_rules_derived.reenabled_by_msg[calls];
	return ss_rules_derived.reenabled_by[calls];
}

/*
 * A wake-up whose key names only data and/or space (@wake, 0 for any
 * other) while nothing it could raise is armed and no connect() is in
 * progress changes nothing: the caller may skip its look at the socket.
 * Read without the registration's lock (see reg.c).
 */
static inline bool ss_rules_wake_is_noop(const struct ss_rstate *st,
					 unsigned int wake)
{
	return wake && !READ_ONCE(st->connecting) &&
	       !(READ_ONCE(st->armed) & ss_rules_derived.woken_by[wake]);
}

/*
 * After a recv() that leaves data, re-enabling FD_READ changes nothing
 * when FD_READ is recorded and not fetched yet, and so not armed: it would
 * be recorded again at once, into the same pending bit.
 */
static inline bool ss_rules_read_rearm_is_noop(const struct ss_rstate *st)
{
	return READ_ONCE(st->pending) & ~READ_ONCE(st->armed) &
	       SHAREDSOCK_FD_READ;
}

void ss_rules_setup(void);
void ss_rules_init(struct ss_rstate *st, bool stream, bool connected,
		   bool connecting);
void ss_rules_connected_before(struct ss_rstate *st);
int ss_rules_err_slot(unsigned int bit);
u32 ss_rules_record(struct ss_rstate *st, u32 events,
		    const struct ss_errs *errs, u32 *fresh);
u32 ss_rules_on_wake(struct ss_rstate *st, const struct ss_obs *obs,
		     unsigned int wake, struct ss_errs *errs);
u32 ss_rules_holding(struct ss_rstate *st, const struct ss_obs *obs,
		     u32 which, struct ss_errs *errs);
void ss_rules_arm(struct ss_rstate *st, u32 events);
void ss_rules_connect_start(struct ss_rstate *st);
u32 ss_rules_connect_end(struct ss_rstate *st, enum ss_connect_end end,
			 int err, struct ss_errs *errs);
void ss_rules_local_shutdown(struct ss_rstate *st, u8 how);
u32 ss_rules_select(struct ss_rstate *st, u32 mask, bool queue);
bool ss_rules_signals(const struct ss_rstate *st, u32 fresh);
u32 ss_rules_fetch(struct ss_rstate *st, s16 errors[SS_ERR_SLOTS]);
void ss_rules_unfetch(struct ss_rstate *st, u32 events,
		      const s16 errors[SS_ERR_SLOTS]);
unsigned int ss_rules_next_message(u32 queued);

#endif /* _SHAREDSOCK_RULES_H */
