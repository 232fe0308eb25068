/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The harness of the Windows conformance ports (conformance_*_test.c):
 * Windows' own expectations for network events, as Wine's ws2_32 test
 * suite records them (dlls/ws2_32/tests/sock.c in wine-mirror/wine; its
 * tests run on Windows, and an expectation marked todo_wine is one that
 * Windows meets), in the same sequence of calls, written anew in the
 * project's terms.  Each scenario runs in both of Winsock's ways of
 * reporting: an event object (WSAEventSelect, WSAEnumNetworkEvents) and
 * window messages (WSAAsyncSelect, a sharedsock queue for the window).
 *
 * Timing: an event that must come is waited for up to WAIT_MS and the wait
 * ends as soon as it comes (Windows' tests give 200 ms: too short under
 * emulation); "nothing" is a short wait (QUIET_MS) where the Windows test
 * waits, or an immediate look where it looks at once.  Both modes wait
 * alike, which is stricter than Windows' message-mode look at once.
 */
#ifndef SHAREDSOCK_CONFORMANCE_H
#define SHAREDSOCK_CONFORMANCE_H

#include <stdbool.h>
#include <stddef.h>

#include <sharedsock/winsock.h>

#include "common.h"

/* The message number the ported tests register with (Windows' WM_USER). */
#define WM_USER		0x0400

/* "Nothing comes" waits this long where the Windows test waits at all. */
#define QUIET_MS	200

/* Winsock's two ways of reporting network events. */
enum report_mode {
	BY_EVENT,	/* WSAEventSelect: an event object */
	BY_MESSAGE,	/* WSAAsyncSelect: messages to a window */
};

/**
 * struct reporter - where a ported test's network events go
 * @mode:   event object or messages
 * @event:  the event object (BY_EVENT)
 * @window: the queue standing for the window (BY_MESSAGE)
 * @socket: the socket that checks are about (the last one selected, or
 *          set by the test)
 */
struct reporter {
	enum report_mode mode;
	WSAEVENT event;
	HWND window;
	SOCKET socket;
};

/*
 * Each test of fixture @name runs in both modes, variant->mode (use after
 * kselftest_harness.h).
 */
#define REPORT_MODE_VARIANTS(name)					\
	FIXTURE_VARIANT(name) {						\
		enum report_mode mode;					\
	};								\
	FIXTURE_VARIANT_ADD(name, by_event) { .mode = BY_EVENT };	\
	FIXTURE_VARIANT_ADD(name, by_message) { .mode = BY_MESSAGE }

/* Open the event object or the queue; false on failure (errno). */
bool reporter_open(struct reporter *r, enum report_mode mode);
void reporter_close(struct reporter *r);

/*
 * WSAEventSelect or WSAAsyncSelect(..., WM_USER, mask) on @s, which
 * becomes the socket checks are about.  Returns the call's result.
 */
int select_events(struct reporter *r, SOCKET s, long mask);

/*
 * Windows' check: @first and @second (each WSAMAKESELECTREPLY(event, error),
 * or 0 for none) are what is reported for r->socket, and nothing else:
 *  - BY_EVENT: the event object is signalled (within WAIT_MS) if anything
 *    is expected, else stays unsignalled for @quiet_ms; then
 *    WSAEnumNetworkEvents() reports exactly the expected events, each with
 *    its error, and resets the event object;
 *  - BY_MESSAGE: a message per expected event, in order, each for
 *    r->socket with WM_USER and that reply; then no other message within
 *    @quiet_ms.
 * Returns true if so; else false with what was seen in @why.
 */
bool events_are(struct reporter *r, long first, long second, int quiet_ms,
		char *why, size_t len);

/* The check as a kselftest expectation, logging what was seen. */
#define EXPECT_EVENTS(r, first, second, quiet_ms)			\
	do {								\
		char __why[256] = "";					\
									\
		EXPECT_TRUE(events_are(r, first, second, quiet_ms,	\
				       __why, sizeof(__why)))		\
			TH_LOG("line %d: %s", __LINE__, __why);		\
	} while (0)

/* Expect nothing, looking at once (Windows' check with timeout 0). */
#define EXPECT_NO_EVENTS(r)	EXPECT_EVENTS(r, 0, 0, 0)

/*
 * Select @mask on @s again (@zero_first: right after a select of 0), as
 * Windows' tests do between their checks: message mode posts @reply again
 * (the condition that still holds), event mode reports nothing.
 */
#define EXPECT_RESELECT(r, s, mask, zero_first, reply)			\
	do {								\
		if (zero_first)						\
			ASSERT_EQ(0, select_events(r, s, 0));		\
		ASSERT_EQ(0, select_events(r, s, mask));		\
		if ((r)->mode == BY_MESSAGE)				\
			EXPECT_EVENTS(r, reply, 0, 0);			\
		EXPECT_NO_EVENTS(r);					\
	} while (0)

/* Both of Windows' re-registrations: the same mask, then 0 and the mask. */
#define EXPECT_RESELECTS(r, s, mask, reply)				\
	do {								\
		EXPECT_RESELECT(r, s, mask, false, reply);		\
		EXPECT_RESELECT(r, s, mask, true, reply);		\
	} while (0)

/* Windows' tcp_socketpair(): @client connected to @server, both blocking. */
bool tcp_socketpair(SOCKET *client, SOCKET *server);

/* Make @s blocking or not through ioctlsocket(FIONBIO); its result. */
int set_blocking(SOCKET s, bool blocking);

/* Close @s with a reset (SO_LINGER 0), as Windows' close_with_rst(). */
bool close_with_rst(SOCKET s);

/*
 * Windows' sync_recv(): a receive that waits (up to WAIT_MS) for data on a
 * non-blocking socket; recv()'s result.
 */
int sync_recv(SOCKET s, void *buf, int len, int flags);

#endif /* SHAREDSOCK_CONFORMANCE_H */
