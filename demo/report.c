// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * acceptor_demo: the end of a run -- the table of what every process
 * counted, the module's counters before and after (SHAREDSOCK_IOC_STATUS,
 * a raw ioctl: the library has no call for them), and the checks that make
 * the exit status: every byte accounted for, the handoff complete and
 * silent, nothing left in the module.  The counter checks assume nothing
 * else uses sharedsock during the run, as in the test VM.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/sharedsock.h>

#include "demo.h"

static int failures;

#define CHECK(cond, ...)					\
	do {							\
		if (!(cond)) {					\
			failures++;				\
			say("FAILED: " __VA_ARGS__);		\
		}						\
	} while (0)

/* The workers' counters, summed. */
struct totals {
	uint64_t conns, closed, req, in, out, errors, lost;
	uint64_t ev_read, ev_write, ev_close;
};

int status_read(struct sharedsock_status *st)
{
	static int dev = -1;

	if (dev < 0)
		dev = open(SHAREDSOCK_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (dev < 0)
		die("open %s: %m (is the module loaded?)", SHAREDSOCK_DEVICE_PATH);
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	return ioctl(dev, SHAREDSOCK_IOC_STATUS, st);
}

static void sum_clients(struct client_stats *cl)
{
	int i, k;

	for (i = 0; i < cfg.clients; i++) {
		struct client_stats *c = &shm->c[i];

		cl->opened += c->opened;
		cl->completed += c->completed;
		cl->requests += c->requests;
		cl->bytes_sent += c->bytes_sent;
		cl->bytes_verified += c->bytes_verified;
		cl->switched += c->switched;
		cl->errors += c->errors;
		for (k = 0; k < cfg.workers; k++) {
			cl->worker_requests[k] += c->worker_requests[k];
			cl->worker_bytes[k] += c->worker_bytes[k];
		}
	}
}

static void add_worker(struct totals *t, const struct worker_stats *w)
{
	t->conns += w->conns;
	t->closed += w->closed;
	t->req += w->requests;
	t->in += w->bytes_in;
	t->out += w->bytes_out;
	t->errors += w->errors;
	t->lost += w->lost_wakeups;
	t->ev_read += w->ev_read;
	t->ev_write += w->ev_write;
	t->ev_close += w->ev_close;
}

/* Worker @i's row, and what it says against the client's counts. */
static void worker_row(int i, const struct client_stats *cl)
{
	struct worker_stats *w = &shm->w[i];

	say("%6d %6d %6" PRIu64 " %6" PRIu64 " %6" PRIu64 " %8" PRIu64
	    " %9" PRIu64 " %9" PRIu64 " %6" PRIu64, i, (int)w->pid,
	    w->conns, w->handed_in, w->handed_out, w->requests,
	    w->bytes_in, w->bytes_out, w->errors);
	CHECK(w->closed == w->conns + w->handed_in - w->handed_out,
	      "worker %d closed %" PRIu64 " connections on FD_CLOSE, "
	      "expected %" PRIu64, i, w->closed,
	      w->conns + w->handed_in - w->handed_out);
	CHECK(w->requests == cl->worker_requests[i],
	      "worker %d answered %" PRIu64 " requests, the client counted %"
	      PRIu64, i, w->requests, cl->worker_requests[i]);
	CHECK(w->bytes_out == cl->worker_bytes[i],
	      "worker %d sent %" PRIu64 " bytes, the client verified %" PRIu64,
	      i, w->bytes_out, cl->worker_bytes[i]);
}

static void worker_table(const struct client_stats *cl, struct totals *t)
{
	int i;

	say("%-6s %6s %6s %6s %6s %8s %9s %9s %6s", "worker", "pid", "conns",
	    "in", "out", "requests", "bytes_in", "bytes_out", "errors");
	for (i = 0; i < cfg.workers; i++) {
		worker_row(i, cl);
		add_worker(t, &shm->w[i]);
	}
	say("%6s %6s %6" PRIu64 " %6s %6s %8" PRIu64 " %9" PRIu64 " %9" PRIu64
	    " %6" PRIu64, "total", "", t->conns, "", "", t->req, t->in, t->out,
	    t->errors);
	say("(conns: redeemed from the acceptor; in/out: connections handed over)");
	say("acceptor: accepted %" PRIu64 ", tokens sent %" PRIu64, shm->a.accepted,
	    shm->a.exported);
}

static void handoff_lines(const struct client_stats *cl, uint64_t replaced)
{
	const struct worker_stats *from = &shm->w[cfg.from], *to = &shm->w[cfg.to];

	say("handoffs: %" PRIu64 " live connections, worker %d (pid %d) -> worker "
	    "%d (pid %d), after %" PRIu64 " requests", from->handed_out, cfg.from,
	    (int)from->pid, cfg.to, (int)to->pid, from->handoff_at);
	say("  in flight: %" PRIu64 " bytes queued in the sockets, %" PRIu64
	    " bytes of partial requests carried with the tokens",
	    from->inflight_queued, from->inflight_carried);
	say("  after the handoff worker %d read %" PRIu64 " bytes and answered %"
	    PRIu64 " requests on them; %" PRIu64 " connections seen switching by "
	    "the client", cfg.to, to->after_bytes_in, to->after_requests,
	    cl->switched);
	say("registrations cancelled: %" PRIu64 " (module counter +%" PRIu64
	    "); eventfds of worker %d silent afterwards: %" PRIu64 "/%" PRIu64
	    " (%" PRIu64 " signals before the cancellation)", from->handed_out,
	    replaced, cfg.from, from->cancelled_silent, from->cancelled_checked,
	    from->signals_before_ack);
}

static void module_lines(const struct sharedsock_status *before,
			 const struct sharedsock_status *after)
{
	say("tokens pending at end: %u (exported +%" PRIu64 ", redeemed +%" PRIu64
	    ", expired +%" PRIu64 "); registrations left: %u",
	    after->tokens_pending,
	    (uint64_t)(after->tokens_exported - before->tokens_exported),
	    (uint64_t)(after->tokens_redeemed - before->tokens_redeemed),
	    (uint64_t)(after->tokens_expired - before->tokens_expired),
	    after->registrations);
}

static void traffic_lines(const struct client_stats *cl, const struct totals *t)
{
	say("client: connections %" PRIu64 "/%" PRIu64 ", requests %" PRIu64
	    ", bytes sent %" PRIu64 ", bytes verified %" PRIu64 ", errors %" PRIu64,
	    cl->completed, cl->opened, cl->requests, cl->bytes_sent,
	    cl->bytes_verified, cl->errors);
	say("events fetched: FD_READ %" PRIu64 ", FD_WRITE %" PRIu64 ", FD_CLOSE %"
	    PRIu64, t->ev_read, t->ev_write, t->ev_close);
	if (t->lost)
		say("lost wake-ups (events recorded, eventfd not signalled): %" PRIu64,
		    t->lost);
}

/* Every byte: what the client sent and verified, what the workers moved. */
static void traffic_checks(const struct client_stats *cl, const struct totals *t)
{
	uint64_t exp_req = 0, exp_rsp = 0;
	int i, k;

	/* Expected traffic, from the same generator the client uses. */
	for (i = 0; i < cfg.conns; i++)
		for (k = 0; k < cfg.requests; k++) {
			uint32_t len = req_len(i, k);

			exp_req += sizeof(struct req_hdr) + len;
			exp_rsp += sizeof(struct rsp_hdr) + len;
		}
	CHECK(cl->opened == (uint64_t)cfg.conns && cl->completed == (uint64_t)cfg.conns,
	      "client completed %" PRIu64 " of %d connections", cl->completed,
	      cfg.conns);
	CHECK(cl->requests == (uint64_t)cfg.conns * cfg.requests && !cl->errors,
	      "client: %" PRIu64 " requests answered correctly, %" PRIu64 " errors",
	      cl->requests, cl->errors);
	CHECK(cl->bytes_sent == exp_req && t->in == exp_req,
	      "request bytes: expected %" PRIu64 ", client sent %" PRIu64
	      ", workers read %" PRIu64, exp_req, cl->bytes_sent, t->in);
	CHECK(cl->bytes_verified == exp_rsp && t->out == exp_rsp,
	      "response bytes: expected %" PRIu64 ", workers sent %" PRIu64
	      ", client verified %" PRIu64, exp_rsp, t->out, cl->bytes_verified);
	CHECK(shm->a.accepted == (uint64_t)cfg.conns && t->conns == shm->a.accepted &&
	      t->closed == shm->a.accepted,
	      "connections: accepted %" PRIu64 ", redeemed %" PRIu64 ", closed %"
	      PRIu64, shm->a.accepted, t->conns, t->closed);
	CHECK(t->ev_close == (uint64_t)cfg.conns,
	      "FD_CLOSE reported %" PRIu64 " times for %d connections", t->ev_close,
	      cfg.conns);
	CHECK(t->req == (uint64_t)cfg.conns * cfg.requests,
	      "workers answered %" PRIu64 " requests", t->req);
	CHECK(!t->errors && !shm->a.errors, "workers reported %" PRIu64
	      " errors, the acceptor %" PRIu64, t->errors, shm->a.errors);
	CHECK(!t->lost, "%" PRIu64 " lost wake-ups", t->lost);
}

/* The handoff took every connection, and the replaced registrations went quiet. */
static void handoff_checks(const struct client_stats *cl, uint64_t replaced)
{
	const struct worker_stats *from = &shm->w[cfg.from];
	uint64_t handoffs = from->handed_out;

	CHECK(handoffs > 0, "no connection was handed off");
	CHECK(cl->switched <= handoffs,
	      "the client saw %" PRIu64 " connections change worker, only %" PRIu64
	      " were handed off", cl->switched, handoffs);
	CHECK(shm->w[cfg.to].handed_in == handoffs,
	      "worker %d took over %" PRIu64 " of %" PRIu64 " handed-off connections",
	      cfg.to, shm->w[cfg.to].handed_in, handoffs);
	CHECK(from->cancelled_checked == handoffs &&
	      from->cancelled_silent == handoffs,
	      "cancelled registrations: %" PRIu64 " of %" PRIu64 " stayed silent",
	      from->cancelled_silent, handoffs);
	CHECK(replaced == handoffs,
	      "module counted %" PRIu64 " replaced registrations, expected %" PRIu64,
	      replaced, handoffs);
}

/* The module: one registration per connection, no token or registration left. */
static void module_checks(const struct sharedsock_status *before,
			  const struct sharedsock_status *after)
{
	uint64_t handoffs = shm->w[cfg.from].handed_out;
	uint64_t exported = after->tokens_exported - before->tokens_exported;
	uint64_t redeemed = after->tokens_redeemed - before->tokens_redeemed;
	uint64_t created = after->registrations_created -
			   before->registrations_created;

	CHECK(created == (uint64_t)cfg.conns,
	      "module counted %" PRIu64 " registrations created, expected %d",
	      created, cfg.conns);
	CHECK(after->tokens_pending == 0, "%u tokens still pending",
	      after->tokens_pending);
	CHECK(exported == cfg.conns + handoffs && redeemed == cfg.conns + handoffs,
	      "tokens: exported +%" PRIu64 ", redeemed +%" PRIu64 ", expected %"
	      PRIu64, exported, redeemed, cfg.conns + handoffs);
	CHECK(after->registrations == before->registrations,
	      "%u registrations left, %u before", after->registrations,
	      before->registrations);
}

int report(const struct sharedsock_status *before,
	   const struct sharedsock_status *after, bool processes_ok, int64_t t0)
{
	uint64_t replaced = after->registrations_replaced -
			    before->registrations_replaced;
	struct client_stats cl = { 0 };
	struct totals t = { 0 };

	CHECK(processes_ok, "a process failed or the run timed out");
	sum_clients(&cl);
	worker_table(&cl, &t);
	handoff_lines(&cl, replaced);
	module_lines(before, after);
	traffic_lines(&cl, &t);

	traffic_checks(&cl, &t);
	handoff_checks(&cl, replaced);
	module_checks(before, after);

	say("time: %.1f s", (now_ms() - t0) / 1000.0);
	if (failures)
		say("result: FAIL (%d checks failed)", failures);
	else
		say("result: PASS (every byte verified, handoff without loss, "
		    "cancelled registrations silent, no token left)");
	return failures ? 1 : 0;
}
