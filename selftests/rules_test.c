// SPDX-License-Identifier: GPL-2.0
/*
 * The Winsock event rules of module/rules.c on their own, built into this
 * program with no kernel around them: every entry of the table and every
 * transition the registration relies on.  Needs no module.
 */
#include "kselftest_harness.h"
#include "../module/rules.h"

#define READ	SHAREDSOCK_FD_READ
#define WRITE	SHAREDSOCK_FD_WRITE
#define OOB	SHAREDSOCK_FD_OOB
#define ACCEPT	SHAREDSOCK_FD_ACCEPT
#define CONNECT	SHAREDSOCK_FD_CONNECT
#define CLOSE	SHAREDSOCK_FD_CLOSE
#define QOS	SHAREDSOCK_FD_QOS

/* The table's masks are gathered once, as the module does at load. */
static void __attribute__((constructor)) rules_setup(void)
{
	ss_rules_setup();
}

/* A connected stream socket's state, everything armed and selected. */
static struct ss_rstate connected_stream(void)
{
	struct ss_rstate st;

	ss_rules_init(&st, true, true, false);
	ss_rules_select(&st, SHAREDSOCK_FD_ALL_EVENTS, false);
	return st;
}

/* What a look at an established socket with @readable data sees. */
static struct ss_obs established(bool readable)
{
	return (struct ss_obs){ .established = true, .readable = readable };
}

static u32 record(struct ss_rstate *st, u32 events, const struct ss_errs *errs)
{
	u32 fresh;

	return ss_rules_record(st, events, errs, &fresh);
}

TEST(init_arms_everything_and_selects_nothing)
{
	struct ss_rstate st;

	ss_rules_init(&st, true, false, true);
	EXPECT_EQ(SHAREDSOCK_FD_ALL_EVENTS, st.armed);
	EXPECT_EQ(0, st.mask);
	EXPECT_EQ(0, st.pending);
	EXPECT_TRUE(st.connecting);
	EXPECT_FALSE(st.connected);
	EXPECT_TRUE(st.stream);
}

TEST(reenabling_calls_of_the_table)
{
	struct ss_rstate ev = connected_stream(), msg = connected_stream();

	ss_rules_select(&msg, READ, true);
	EXPECT_EQ(READ, ss_rules_reenabled_by(&ev, SS_CALL_RECV));
	EXPECT_EQ(OOB, ss_rules_reenabled_by(&ev, SS_CALL_RECV_OOB));
	EXPECT_EQ(WRITE, ss_rules_reenabled_by(&ev, SS_CALL_SEND_BLOCKED));
	EXPECT_EQ(ACCEPT, ss_rules_reenabled_by(&ev, SS_CALL_ACCEPT));
	EXPECT_EQ(READ | ACCEPT,
		  ss_rules_reenabled_by(&ev, SS_CALL_RECV | SS_CALL_ACCEPT));
	EXPECT_EQ(0, ss_rules_reenabled_by(&ev, 0));
	/* test_read_events: a recv() with a bad buffer, message mode only. */
	EXPECT_EQ(0, ss_rules_reenabled_by(&ev, SS_CALL_RECV_FAULT));
	EXPECT_EQ(READ, ss_rules_reenabled_by(&msg, SS_CALL_RECV_FAULT));
	EXPECT_EQ(READ, ss_rules_reenabled_by(&msg, SS_CALL_RECV));
}

TEST(only_connect_and_close_carry_errors)
{
	unsigned int bit;

	for (bit = 0; bit < SHAREDSOCK_FD_MAX_EVENTS; bit++) {
		int slot = ss_rules_err_slot(bit);

		int want = -1;

		if (bit == SHAREDSOCK_FD_CONNECT_BIT)
			want = SS_ERR_CONNECT;
		else if (bit == SHAREDSOCK_FD_CLOSE_BIT)
			want = SS_ERR_CLOSE;
		EXPECT_EQ(want, slot);
	}
	EXPECT_EQ(-1, ss_rules_err_slot(SHAREDSOCK_FD_MAX_EVENTS));
}

TEST(recorded_event_is_disarmed_until_reenabled)
{
	struct ss_rstate st = connected_stream();
	u32 fresh;

	EXPECT_EQ(READ, ss_rules_record(&st, READ, NULL, &fresh));
	EXPECT_EQ(READ, fresh);
	EXPECT_EQ(READ, st.pending);
	EXPECT_FALSE(st.armed & READ);
	/* Not recorded again until its re-enabling call. */
	EXPECT_EQ(0, ss_rules_record(&st, READ, NULL, &fresh));
	EXPECT_EQ(0, fresh);
	ss_rules_arm(&st, ss_rules_reenabled_by(&st, SS_CALL_RECV));
	/* The call consumed the old record: recorded again, it is fresh. */
	EXPECT_EQ(0, st.pending);
	EXPECT_EQ(READ, ss_rules_record(&st, READ, NULL, &fresh));
	EXPECT_EQ(READ, fresh);
	EXPECT_TRUE(ss_rules_signals(&st, fresh));
	/* Recorded again while pending: nothing fresh to signal. */
	st.armed |= READ;
	EXPECT_EQ(READ, ss_rules_record(&st, READ, NULL, &fresh));
	EXPECT_EQ(0, fresh);
	EXPECT_FALSE(ss_rules_signals(&st, fresh));
}

TEST(reenabling_call_forgets_a_record_masked_out)
{
	struct ss_rstate st;

	/* test_accept_events, "call accept() before selecting". */
	ss_rules_init(&st, true, false, false);
	ss_rules_select(&st, CONNECT | READ | OOB, false);
	record(&st, ACCEPT, NULL);
	ss_rules_arm(&st, ss_rules_reenabled_by(&st, SS_CALL_ACCEPT));
	EXPECT_EQ(0, st.pending);
	EXPECT_TRUE(st.armed & ACCEPT);
	/* Others stay. */
	record(&st, WRITE | READ, NULL);
	ss_rules_arm(&st, ss_rules_reenabled_by(&st, SS_CALL_RECV));
	EXPECT_EQ(WRITE, st.pending);
}

TEST(signal_only_for_fresh_selected_events)
{
	struct ss_rstate st;
	u32 fresh;

	ss_rules_init(&st, true, true, false);
	ss_rules_select(&st, READ, false);
	ss_rules_record(&st, WRITE, NULL, &fresh);
	EXPECT_EQ(WRITE, fresh);
	EXPECT_FALSE(ss_rules_signals(&st, fresh));
	ss_rules_record(&st, READ, NULL, &fresh);
	EXPECT_TRUE(ss_rules_signals(&st, fresh));
}

TEST(fetch_takes_selected_events_only)
{
	struct ss_rstate st;
	struct ss_errs errs = {};
	s16 errors[SS_ERR_SLOTS];

	ss_rules_init(&st, true, true, false);
	errs.err[SS_ERR_CLOSE] = 104;
	record(&st, READ | WRITE | CLOSE, &errs);
	ss_rules_select(&st, READ | CLOSE, false);
	EXPECT_EQ(READ | CLOSE, ss_rules_fetch(&st, errors));
	EXPECT_EQ(104, errors[SS_ERR_CLOSE]);
	/* FD_WRITE stays until it is selected. */
	EXPECT_EQ(WRITE, st.pending);
	EXPECT_EQ(0, ss_rules_fetch(&st, NULL));
	ss_rules_select(&st, WRITE, false);
	EXPECT_EQ(WRITE, ss_rules_fetch(&st, NULL));
}

TEST(unfetch_puts_events_and_errors_back)
{
	struct ss_rstate st = connected_stream();
	s16 errors[SS_ERR_SLOTS] = { [SS_ERR_CONNECT] = 111, [SS_ERR_CLOSE] = 32 };

	ss_rules_unfetch(&st, CLOSE | READ, errors);
	EXPECT_EQ(CLOSE | READ, st.pending);
	EXPECT_EQ(32, st.errors[SS_ERR_CLOSE]);
	/* Not CONNECT's: it was not put back. */
	EXPECT_EQ(0, st.errors[SS_ERR_CONNECT]);
	/* Without errors, the kept ones stand. */
	ss_rules_unfetch(&st, CLOSE, NULL);
	EXPECT_EQ(32, st.errors[SS_ERR_CLOSE]);
}

TEST(data_wake_reports_read_and_urgent_reports_oob)
{
	struct ss_rstate st = connected_stream();
	struct ss_obs obs = established(true);
	struct ss_errs errs = {};

	obs.urgent = true;
	EXPECT_EQ(READ | OOB, ss_rules_on_wake(&st, &obs, SS_WAKE_IN | SS_WAKE_PRI, &errs));
	/* An urgent-only key raises FD_OOB, not FD_READ. */
	EXPECT_EQ(OOB, ss_rules_on_wake(&st, &obs, SS_WAKE_PRI, &errs));
	/* A space wake-up raises neither. */
	EXPECT_EQ(0, ss_rules_on_wake(&st, &obs, SS_WAKE_OUT, &errs) & (READ | OOB));
}

TEST(listener_reports_accept_only)
{
	struct ss_rstate st = connected_stream();
	struct ss_obs obs = { .listening = true, .accept_pending = true,
			      .readable = true, .space = true, .peer_closed = true };
	struct ss_errs errs = {};

	EXPECT_EQ(ACCEPT, ss_rules_on_wake(&st, &obs, SS_WAKE_ANY, &errs));
	EXPECT_EQ(ACCEPT, ss_rules_holding(&st, &obs, SHAREDSOCK_FD_ALL_EVENTS, &errs));
	obs.accept_pending = false;
	EXPECT_EQ(0, ss_rules_on_wake(&st, &obs, SS_WAKE_ANY, &errs));
}

TEST(write_from_space_wake_only_when_connected)
{
	struct ss_rstate st;
	struct ss_obs obs = { .space = true, .space_wake = true };
	struct ss_errs errs = {};

	ss_rules_init(&st, true, false, false);
	EXPECT_EQ(0, ss_rules_on_wake(&st, &obs, SS_WAKE_OUT, &errs));
	st.connected = true;
	EXPECT_EQ(WRITE, ss_rules_on_wake(&st, &obs, SS_WAKE_OUT, &errs));
	/* A state change (unkeyed) is no space. */
	EXPECT_EQ(0, ss_rules_on_wake(&st, &obs, SS_WAKE_IN | SS_WAKE_PRI, &errs) & WRITE);
}

TEST(write_on_a_look_needs_an_established_connection)
{
	struct ss_rstate st = connected_stream();
	struct ss_obs obs = { .space = true };
	struct ss_errs errs = {};

	EXPECT_EQ(0, ss_rules_holding(&st, &obs, WRITE, &errs));
	obs.established = true;
	EXPECT_EQ(WRITE, ss_rules_holding(&st, &obs, WRITE, &errs));
	/* @which limits the answer. */
	obs.readable = true;
	EXPECT_EQ(READ, ss_rules_holding(&st, &obs, READ, &errs));
}

TEST(connect_in_progress_then_established)
{
	struct ss_rstate st;
	struct ss_obs obs = {};
	struct ss_errs errs = {};

	ss_rules_init(&st, true, false, false);
	ss_rules_connect_start(&st);
	EXPECT_TRUE(st.connecting);
	EXPECT_EQ(0, ss_rules_on_wake(&st, &obs, SS_WAKE_IN | SS_WAKE_PRI, &errs));
	obs.established = true;
	EXPECT_EQ(CONNECT | WRITE, ss_rules_on_wake(&st, &obs, SS_WAKE_IN | SS_WAKE_PRI, &errs));
	EXPECT_FALSE(st.connecting);
	EXPECT_TRUE(st.connected);
	EXPECT_EQ(0, errs.err[SS_ERR_CONNECT]);
	/* Once. */
	EXPECT_EQ(0, ss_rules_on_wake(&st, &obs, SS_WAKE_IN, &errs) & CONNECT);
}

TEST(connect_failing_later_reports_its_error)
{
	struct ss_rstate st;
	struct ss_obs obs = { .connect_failed = true, .sk_err = 111 };
	struct ss_errs errs = {};

	ss_rules_init(&st, true, false, true);
	EXPECT_EQ(CONNECT, ss_rules_on_wake(&st, &obs, SS_WAKE_IN, &errs));
	EXPECT_EQ(111, errs.err[SS_ERR_CONNECT]);
	EXPECT_FALSE(st.connected);
	/* Not connected: no FD_CLOSE for it. */
	obs.peer_closed = true;
	EXPECT_EQ(0, ss_rules_on_wake(&st, &obs, SS_WAKE_IN, &errs));
}

TEST(connect_call_outcomes)
{
	struct ss_rstate st;
	struct ss_errs errs = {};

	ss_rules_init(&st, true, false, false);
	/* No connect() started: nothing. */
	EXPECT_EQ(0, ss_rules_connect_end(&st, SS_CONNECT_DONE, 0, &errs));

	ss_rules_connect_start(&st);
	EXPECT_EQ(0, ss_rules_connect_end(&st, SS_CONNECT_GOES_ON, 0, &errs));
	EXPECT_TRUE(st.connecting);
	EXPECT_EQ(CONNECT | WRITE, ss_rules_connect_end(&st, SS_CONNECT_DONE, 0, &errs));
	EXPECT_TRUE(st.connected);

	ss_rules_init(&st, true, false, false);
	ss_rules_connect_start(&st);
	EXPECT_EQ(CONNECT, ss_rules_connect_end(&st, SS_CONNECT_FAILED, 101, &errs));
	EXPECT_EQ(101, errs.err[SS_ERR_CONNECT]);

	ss_rules_init(&st, true, false, false);
	ss_rules_connect_start(&st);
	EXPECT_EQ(0, ss_rules_connect_end(&st, SS_CONNECT_REFUSED, 22, &errs));
	EXPECT_FALSE(st.connecting);
}

TEST(close_at_once_with_data_left_and_the_reset_error_kept)
{
	struct ss_rstate st = connected_stream();
	struct ss_obs obs = established(true);
	struct ss_errs errs = {};

	/* test_close_events, "sending data before calling closesocket()". */
	obs.peer_closed = true;
	obs.sk_err = 104;
	EXPECT_EQ(READ | CLOSE, ss_rules_on_wake(&st, &obs, SS_WAKE_IN, &errs));
	EXPECT_EQ(104, errs.err[SS_ERR_CLOSE]);
	record(&st, READ | CLOSE, &errs);
	ss_rules_fetch(&st, NULL);
	/* recv() consumed sk_err; message mode posts FD_CLOSE again with it. */
	obs.sk_err = 0;
	obs.readable = false;
	memset(&errs, 0, sizeof(errs));
	ss_rules_select(&st, READ | CLOSE, true);
	EXPECT_EQ(CLOSE, ss_rules_holding(&st, &obs, CLOSE, &errs));
	EXPECT_EQ(104, errs.err[SS_ERR_CLOSE]);
}

TEST(local_shutdown_rd_is_not_the_peer_closing)
{
	struct ss_rstate st = connected_stream();
	struct ss_obs obs = established(false);
	struct ss_errs errs = {};

	obs.rcv_shutdown = true;
	ss_rules_local_shutdown(&st, SS_SHUT_RCV);
	EXPECT_EQ(0, ss_rules_holding(&st, &obs, CLOSE, &errs));
	ss_rules_init(&st, true, true, false);
	EXPECT_EQ(CLOSE, ss_rules_holding(&st, &obs, CLOSE, &errs));
	/* A datagram socket never closes. */
	ss_rules_init(&st, false, true, false);
	EXPECT_EQ(0, ss_rules_holding(&st, &obs, CLOSE, &errs));
}

TEST(message_mode_registration_rearms_current_conditions)
{
	struct ss_rstate st = connected_stream();

	st.armed = 0;
	record(&st, CONNECT, NULL);
	EXPECT_EQ(SHAREDSOCK_FD_ALL_EVENTS, ss_rules_select(&st, READ, true));
	EXPECT_EQ(READ | WRITE | OOB | ACCEPT | CLOSE, st.armed);
	EXPECT_EQ(READ, st.mask);
	EXPECT_TRUE(st.queue);
	/* test_connect_events: a connect never posted is not posted later. */
	EXPECT_EQ(0, st.pending);
}

TEST(event_mode_registration_rearms_new_occurrences_only)
{
	struct ss_rstate st = connected_stream();

	/* Everything reported: nothing to look at, READ/OOB/ACCEPT re-armed. */
	st.armed = CLOSE;
	EXPECT_EQ(CLOSE, ss_rules_select(&st, READ | OOB | WRITE | CLOSE, false));
	EXPECT_EQ(READ | OOB | CLOSE, st.armed);
	EXPECT_FALSE(st.queue);
	/* Not selected: not re-armed. */
	st.armed = 0;
	st.edge = 0;
	ss_rules_select(&st, WRITE, false);
	EXPECT_EQ(0, st.armed);
}

TEST(event_mode_rearmed_events_wait_for_a_new_occurrence)
{
	struct ss_rstate st = connected_stream();
	struct ss_obs obs = established(true);
	struct ss_errs errs = {};

	/* test_read_events: data reported, selected again, then 0, then M. */
	record(&st, READ, NULL);
	ss_rules_fetch(&st, NULL);
	EXPECT_EQ(0, ss_rules_select(&st, READ, false) & READ);
	EXPECT_EQ(0, ss_rules_select(&st, 0, false) & READ);
	EXPECT_EQ(0, ss_rules_select(&st, READ, false) & READ);
	EXPECT_EQ(0, ss_rules_holding(&st, &obs, READ, &errs));
	/* New data: a wake-up records it. */
	EXPECT_EQ(READ, ss_rules_on_wake(&st, &obs, SS_WAKE_IN, &errs));
	record(&st, READ, NULL);
	EXPECT_EQ(0, st.edge);
	/* A recv() re-enables it fully: a look records what is left. */
	ss_rules_arm(&st, READ);
	EXPECT_EQ(READ, ss_rules_holding(&st, &obs, READ, &errs));
}

TEST(connected_before_registration_reports_connect_in_event_mode)
{
	struct ss_rstate st;

	ss_rules_init(&st, true, true, false);
	ss_rules_connected_before(&st);
	ss_rules_select(&st, CONNECT | WRITE, false);
	EXPECT_EQ(CONNECT, ss_rules_fetch(&st, NULL));
	EXPECT_EQ(0, st.errors[SS_ERR_CONNECT]);

	ss_rules_init(&st, true, true, false);
	ss_rules_connected_before(&st);
	ss_rules_select(&st, CONNECT | WRITE, true);
	EXPECT_EQ(0, ss_rules_fetch(&st, NULL));
}

TEST(unbound_datagram_socket_writes_in_message_mode_only)
{
	struct ss_rstate st;
	struct ss_obs obs = { .space = true };
	struct ss_errs errs = {};

	/* test_connect_events, "Test with UDP sockets". */
	ss_rules_init(&st, false, false, false);
	EXPECT_TRUE(st.connected);
	ss_rules_select(&st, WRITE | CONNECT, false);
	EXPECT_EQ(0, ss_rules_holding(&st, &obs, WRITE, &errs));
	ss_rules_select(&st, WRITE | CONNECT, true);
	EXPECT_EQ(WRITE, ss_rules_holding(&st, &obs, WRITE, &errs));
	/* Bound: both. */
	obs.established = true;
	ss_rules_select(&st, WRITE | CONNECT, false);
	EXPECT_EQ(WRITE, ss_rules_holding(&st, &obs, WRITE, &errs));
}

TEST(datagram_connect_reports_write_alone_in_message_mode)
{
	struct ss_rstate st;
	struct ss_errs errs = {};

	ss_rules_init(&st, false, false, false);
	ss_rules_select(&st, WRITE | CONNECT, false);
	st.armed &= ~WRITE;
	ss_rules_connect_start(&st);
	EXPECT_EQ(CONNECT | WRITE,
		  ss_rules_connect_end(&st, SS_CONNECT_DONE, 0, &errs));
	EXPECT_TRUE(st.armed & WRITE);

	ss_rules_init(&st, false, false, false);
	ss_rules_select(&st, WRITE | CONNECT, true);
	st.armed &= ~WRITE;
	ss_rules_connect_start(&st);
	EXPECT_EQ(WRITE, ss_rules_connect_end(&st, SS_CONNECT_DONE, 0, &errs));
	EXPECT_TRUE(st.armed & WRITE);
}

TEST(datagram_connect_ends_with_the_call_alone)
{
	struct ss_obs obs = { .established = true, .readable = true };
	struct ss_rstate st;
	struct ss_errs errs = {};

	/* A datagram arriving while connect() runs reports no connection... */
	ss_rules_init(&st, false, false, false);
	ss_rules_select(&st, READ | WRITE | CONNECT, false);
	ss_rules_connect_start(&st);
	EXPECT_EQ(READ, ss_rules_on_wake(&st, &obs, SS_WAKE_IN, &errs));
	EXPECT_EQ(0, errs.err[SS_ERR_CONNECT]);
	/* ...and the failure the call returns is not reported again. */
	EXPECT_EQ(0, ss_rules_connect_end(&st, SS_CONNECT_FAILED, ENETUNREACH,
					  &errs));
	EXPECT_EQ(0, errs.err[SS_ERR_CONNECT]);
	EXPECT_FALSE(st.connecting);
	/* A stream socket's failure is FD_CONNECT with its error. */
	ss_rules_init(&st, true, false, false);
	ss_rules_select(&st, CONNECT, false);
	ss_rules_connect_start(&st);
	EXPECT_EQ(CONNECT, ss_rules_connect_end(&st, SS_CONNECT_FAILED,
						ENETUNREACH, &errs));
	EXPECT_EQ(ENETUNREACH, errs.err[SS_ERR_CONNECT]);
}

TEST(pure_wakeup_with_nothing_armed_is_a_noop)
{
	struct ss_rstate st = connected_stream();

	st.armed &= ~(READ | OOB | ACCEPT);
	EXPECT_TRUE(ss_rules_wake_is_noop(&st, SS_WAKE_IN | SS_WAKE_PRI));
	EXPECT_FALSE(ss_rules_wake_is_noop(&st, SS_WAKE_OUT));
	/* Not a data or space key: always looked at. */
	EXPECT_FALSE(ss_rules_wake_is_noop(&st, 0));
	/* A connect() in progress: always looked at. */
	ss_rules_connect_start(&st);
	EXPECT_FALSE(ss_rules_wake_is_noop(&st, SS_WAKE_IN));
}

TEST(read_rearm_is_a_noop_only_while_read_is_recorded)
{
	struct ss_rstate st = connected_stream();

	EXPECT_FALSE(ss_rules_read_rearm_is_noop(&st));
	record(&st, READ, NULL);
	EXPECT_TRUE(ss_rules_read_rearm_is_noop(&st));
	ss_rules_fetch(&st, NULL);
	EXPECT_FALSE(ss_rules_read_rearm_is_noop(&st));
}

TEST(messages_in_winsock_order)
{
	EXPECT_EQ(SHAREDSOCK_FD_CONNECT_BIT,
		  ss_rules_next_message(CONNECT | WRITE | READ | CLOSE));
	EXPECT_EQ(SHAREDSOCK_FD_ACCEPT_BIT, ss_rules_next_message(ACCEPT | READ));
	EXPECT_EQ(SHAREDSOCK_FD_READ_BIT, ss_rules_next_message(READ | OOB | CLOSE));
	EXPECT_EQ(SHAREDSOCK_FD_OOB_BIT, ss_rules_next_message(OOB | WRITE));
	EXPECT_EQ(SHAREDSOCK_FD_WRITE_BIT, ss_rules_next_message(WRITE | CLOSE));
	EXPECT_EQ(SHAREDSOCK_FD_CLOSE_BIT, ss_rules_next_message(CLOSE | QOS));
	EXPECT_EQ(SHAREDSOCK_FD_QOS_BIT, ss_rules_next_message(QOS));
}

TEST(qos_and_routing_events_are_never_raised)
{
	struct ss_rstate st = connected_stream();
	struct ss_obs obs = { .readable = true, .urgent = true, .space = true,
			      .established = true, .peer_closed = true };
	struct ss_errs errs = {};
	u32 never = SHAREDSOCK_FD_ALL_EVENTS & ~(READ | WRITE | OOB | ACCEPT |
						 CONNECT | CLOSE);

	EXPECT_EQ(0, ss_rules_holding(&st, &obs, SHAREDSOCK_FD_ALL_EVENTS, &errs) & never);
	EXPECT_EQ(0, ss_rules_on_wake(&st, &obs, SS_WAKE_ANY, &errs) & never);
	EXPECT_EQ(0, ss_rules_reenabled_by(&st, ~0U) & never);
}

TEST_HARNESS_MAIN
