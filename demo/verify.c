// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * acceptor_demo: the checks a worker makes as it serves (server.c calls
 * them).  Any that fails is a problem(), which fails the run:
 *
 * - the socket state the acceptor set through its descriptor is visible
 *   through the worker's, the socket is non-blocking once registered, and
 *   the registration has the mask asked for;
 * - FD_CLOSE comes when the client closes, possibly with data still
 *   unread (Windows' rule): reading what is left then reaches end of file,
 *   the error is 0, and no request or response is left half done;
 * - a registration replaced by the handoff never signals its eventfd
 *   again;
 * - no lost wake-up: every SWEEP_MS the worker looks at its sockets with
 *   SHAREDSOCK_ENUM_PEEK (a raw ioctl: it fetches and resets nothing),
 *   and events recorded while the eventfd stays unsignalled two sweeps in
 *   a row are counted (and handled, so that the run still ends).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/sharedsock.h>
#include <sharedsock.h>

#include "demo.h"

/* Check the socket state that the acceptor set through its descriptor. */
void check_registration(struct conn *c, int sndbuf)
{
	int one = 0, val = 0;
	socklen_t len = sizeof(one);

	if (getsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, &len) < 0 || !one)
		problem("connection %u: TCP_NODELAY set by the acceptor not visible",
			c->tag);
	len = sizeof(val);
	if (sndbuf && (getsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &val, &len) < 0 ||
		       val != sndbuf))
		problem("connection %u: SO_SNDBUF is %d, the acceptor set %d",
			c->tag, val, sndbuf);
	if (!(fcntl(c->fd, F_GETFL) & O_NONBLOCK))
		problem("connection %u: not non-blocking after ss_event_select",
			c->tag);
	if (ss_registered_events(c->fd) != EVENT_MASK)
		problem("connection %u: registered mask is %#lx", c->tag,
			ss_registered_events(c->fd));
}

/*
 * FD_CLOSE: the client closed.  What it sent before may still have been
 * unread (Windows reports FD_CLOSE at once); the read made with it
 * reaches the end of file.
 */
void check_close(struct conn *c, const struct ss_network_events *ne)
{
	if (ne->error_code[SS_FD_CLOSE_BIT])
		problem("connection %u: FD_CLOSE with error %d", c->tag,
			ne->error_code[SS_FD_CLOSE_BIT]);
	if (!c->eof)
		problem("connection %u: FD_CLOSE but recv did not see end of file",
			c->tag);
	if (c->in_len != c->in_off)
		problem("connection %u: closed by the client in mid-request", c->tag);
	if (c->out_len != c->out_off)
		problem("connection %u: closed with responses unsent", c->tag);
}

/* A cancelled registration's eventfd fired. */
void cancelled_signalled(struct conn *c)
{
	uint64_t v = 0;

	if (read(c->efd, &v, sizeof(v)) != sizeof(v))
		return;
	if (!c->noisy)
		problem("connection %u: eventfd signalled %" PRIu64
			" time(s) after its registration was replaced", c->tag, v);
	c->noisy = true;
}

/* Last look at the cancelled registrations' eventfds, then close them. */
void cancelled_final(struct worker *w)
{
	size_t i;

	for (i = 0; i < w->n; i++) {
		struct conn *c = w->c[i];

		if (c->state != CONN_CANCELLED)
			continue;
		cancelled_signalled(c);
		w->st->cancelled_checked++;
		if (!c->noisy)
			w->st->cancelled_silent++;
		c->dead = true;
	}
}

/* What the module has recorded on @c's socket, fetching nothing. */
static void peek(const struct conn *c, struct sharedsock_enum *a)
{
	static int dev = -1;

	if (dev < 0)
		dev = open(SHAREDSOCK_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (dev < 0)
		die("open %s: %m", SHAREDSOCK_DEVICE_PATH);
	*a = (struct sharedsock_enum){
		.size = sizeof(*a), .flags = SHAREDSOCK_ENUM_PEEK,
		.fd = c->fd, .eventfd = -1,
	};
	if (ioctl(dev, SHAREDSOCK_IOC_ENUM, a) < 0)
		a->events = 0;
}

static bool signalled(const struct conn *c)
{
	struct pollfd p = { .fd = c->efd, .events = POLLIN };

	return poll(&p, 1, 0) != 0;
}

/*
 * An event recorded but never signalled would stall a connection forever.
 * Look for them: recorded events, and an eventfd still unsignalled at two
 * sweeps in a row.
 */
static void worker_sweep(struct worker *w)
{
	struct sharedsock_enum a;
	size_t i;

	for (i = 0; i < w->n; i++) {
		struct conn *c = w->c[i];

		if (c->state != CONN_ACTIVE || c->dead)
			continue;
		peek(c, &a);
		if (!a.events || signalled(c)) {
			c->suspect = false;
			continue;
		}
		if (!c->suspect) {
			c->suspect = true;
			continue;
		}
		w->st->lost_wakeups++;
		note("connection %u: events %#x recorded but its eventfd is not "
		     "signalled (lost wake-up); handling them", c->tag, a.events);
		c->suspect = false;
		conn_event(w, c);
	}
}

/* SIGUSR1 (a failure or the timeout, from main): what each connection is at. */
static void worker_dump(struct worker *w)
{
	struct sharedsock_enum a;
	size_t i;

	note("pid %d: %zu connections, acceptor pipe %s, %u acks pending, "
	     "%" PRIu64 " requests", (int)getpid(), w->n,
	     w->acc_rd >= 0 ? "open" : "closed", w->acks_pending, w->st->requests);
	for (i = 0; i < w->n && i < 40; i++) {
		struct conn *c = w->c[i];
		int queued = -1;

		peek(c, &a);
		ioctl(c->fd, FIONREAD, &queued);
		note("  conn %u state %d in %zu out %zu eof %d pending %#x mask %#x "
		     "eventfd %s queued %d", c->tag, c->state, c->in_len - c->in_off,
		     c->out_len - c->out_off, c->eof, a.events, a.mask,
		     signalled(c) ? "set" : "clear", queued);
	}
}

/* Each turn of the worker's loop: a dump when asked, the periodic sweep. */
void worker_checks(struct worker *w)
{
	if (dump_requested) {
		dump_requested = 0;
		worker_dump(w);
	}
	if (now_ms() - w->last_sweep_ms >= SWEEP_MS) {
		w->last_sweep_ms = now_ms();
		worker_sweep(w);
	}
}
