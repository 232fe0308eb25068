// SPDX-License-Identifier: GPL-2.0
/*
 * Event family: a registrant/reader Q waits for FD_READ WSAEventSelect
 * style (poll on its eventfd, ss_enum_network_events, recv) against an
 * epoll_wait reader, with the sender P timing:
 *   event[-proc|-xcpu].latency  1-byte ping-pong round trips (threads on
 *                               CPU 0, processes on CPU 0, threads on two)
 *   event.burst                 32 messages per wake-up, drained, one reply
 *   event-xcpu.loop             (xcpu) an event loop reading a stream
 *   overhead-xcpu.stream        (xcpu) blocking recv on a registered socket
 *                               against one never registered
 * Each sharedsock row carries the per-run ratio to its epoll (or plain) peer.
 */
#include "harness.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

enum {
	EV_QUIT,
	EV_LAT_SS,	/* ping-pong, registrant waits on its eventfd */
	EV_LAT_EP,	/* ping-pong, epoll_wait */
	EV_LOOP_SS,	/* stream read by an eventfd+enum event loop */
	EV_LOOP_EP,	/* stream read by an epoll event loop */
	EV_STREAM_REG,	/* stream read by blocking recv, socket registered */
	EV_STREAM_PLAIN,/* the same on a socket never registered */
	EV_BURST_SS,	/* 32 messages, one wake-up, drain, reply: eventfd+enum */
	EV_BURST_EP,	/* the same with epoll_wait */
};

#define EV_BURST 32

struct ev_cmd {
	int test;
	int cpu;	/* where Q runs */
	int fifo;	/* Q runs SCHED_FIFO (no wake-up preemption among equals) */
	long count;
};

struct ev {
	int p[4], q[4];	/* pairs: SS, epoll, registered stream, plain stream */
	int cmd[2], ack[2];
	bool thread;	/* Q is a thread of P's process, not a process */
	pid_t qpid;
	pthread_t qthr;
	/* Q side */
	int evfd, evfd_stream, ep;
};

/* SCHED_FIFO priority 1, or back to SCHED_OTHER, for the calling thread. */
static int set_fifo(bool on)
{
	struct sched_param sp = { .sched_priority = on ? 1 : 0 };

	errno = pthread_setschedparam(pthread_self(), on ? SCHED_FIFO : SCHED_OTHER, &sp);
	return errno ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* Q, the registrant and reader                                        */

/* Q: wait until the registered socket reports FD_READ, WSAEventSelect style. */
static int ev_wait_read(struct ev *e)
{
	struct pollfd pfd = { .fd = e->evfd, .events = POLLIN };
	struct ss_network_events ne;

	for (;;) {
		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return fail("Q: poll eventfd");
		}
		if (ss_enum_network_events(e->q[0], e->evfd, &ne))
			return fail("Q: ss_enum_network_events");
		if (ne.network_events & SS_FD_READ)
			return 0;
	}
}

static int ev_wait_epoll(struct ev *e)
{
	struct epoll_event ev;

	for (;;) {
		int n = epoll_wait(e->ep, &ev, 1, -1);

		if (n == 1)
			return 0;
		if (n < 0 && errno != EINTR)
			return fail("Q: epoll_wait");
	}
}

static int ev_wait(struct ev *e, bool ss)
{
	return ss ? ev_wait_read(e) : ev_wait_epoll(e);
}

/* Q: echo @count pings. */
static int ev_q_pingpong(struct ev *e, int fd, bool ss, long count)
{
	char buf[4096];

	for (long it = 0; it < count; it++) {
		ssize_t r;

		do {
			if (ev_wait(e, ss))
				return -1;
			r = recv(fd, buf, sizeof(buf), 0);
		} while (r < 0 && errno == EAGAIN);
		if (r <= 0)
			return fail("Q: recv");
		if (send(fd, buf, (size_t)r, 0) != r)
			return fail("Q: send");
	}
	return 0;
}

/* Q: read @total bytes, draining the socket at each wake-up. */
static int ev_q_drain(struct ev *e, int fd, bool ss, long total, const char *what)
{
	char buf[4096];

	for (long got = 0; got < total;) {
		ssize_t r;

		if (ev_wait(e, ss))
			return -1;
		while ((r = recv(fd, buf, sizeof(buf), 0)) > 0)
			got += r;
		if (r == 0 || (r < 0 && errno != EAGAIN))
			return fail("%s", what);
	}
	return 0;
}

/* Q: @count bursts, each drained after one wake-up and answered with a byte. */
static int ev_q_bursts(struct ev *e, int fd, bool ss, long count)
{
	for (long it = 0; it < count; it++) {
		char byte = 'b';

		if (ev_q_drain(e, fd, ss, EV_BURST * MSG_SIZE, "Q: recv burst"))
			return -1;
		if (send(fd, &byte, 1, 0) != 1)
			return fail("Q: send");
	}
	return 0;
}

/* Q: read @total bytes with blocking recv of a message at a time. */
static int ev_q_stream(int fd, long total)
{
	char buf[MSG_SIZE];

	for (long got = 0; got < total;) {
		ssize_t r = recv(fd, buf, MSG_SIZE, 0);

		if (r <= 0)
			return fail("Q: recv stream");
		got += r;
	}
	return 0;
}

static int ev_q_test(struct ev *e, const struct ev_cmd *c, uint64_t *t_end)
{
	bool ss = c->test == EV_LAT_SS || c->test == EV_LOOP_SS || c->test == EV_BURST_SS;
	int fd = ss ? e->q[0] : e->q[1], ret = 0;
	long total = c->count * MSG_SIZE;

	switch (c->test) {
	case EV_LAT_SS:
	case EV_LAT_EP:
		ret = ev_q_pingpong(e, fd, ss, c->count);
		break;
	case EV_LOOP_SS:
	case EV_LOOP_EP:
		ret = ev_q_drain(e, fd, ss, total, "Q: recv");
		break;
	case EV_BURST_SS:
	case EV_BURST_EP:
		ret = ev_q_bursts(e, fd, ss, c->count);
		break;
	case EV_STREAM_REG:
	case EV_STREAM_PLAIN:
		ret = ev_q_stream(c->test == EV_STREAM_REG ? e->q[2] : e->q[3], total);
		break;
	}
	if (ret)
		return ret;
	*t_end = now_ns();
	return 0;
}

/* Q registers its sharedsock sockets and puts the epoll one in its epoll set. */
static int ev_q_setup(struct ev *e)
{
	struct epoll_event ev = { .events = EPOLLIN };

	e->evfd = eventfd(0, EFD_CLOEXEC);
	e->evfd_stream = eventfd(0, EFD_CLOEXEC);
	if (e->evfd < 0 || e->evfd_stream < 0)
		return fail("Q: eventfd");
	if (ss_event_select(e->q[0], e->evfd, SS_FD_READ))
		return fail("Q: ss_event_select");
	if (ss_event_select(e->q[2], e->evfd_stream, SS_FD_READ))
		return fail("Q: ss_event_select (stream)");
	/* The stream tests read with blocking recv on both sockets. */
	if (set_nonblock(e->q[2], false))
		return fail("Q: clear O_NONBLOCK");
	e->ep = epoll_create1(EPOLL_CLOEXEC);
	ev.data.fd = e->q[1];
	if (e->ep < 0 || epoll_ctl(e->ep, EPOLL_CTL_ADD, e->q[1], &ev))
		return fail("Q: epoll");
	if (set_nonblock(e->q[1], true))
		return fail("Q: O_NONBLOCK");
	return 0;
}

static int ev_q_main(struct ev *e)
{
	if (ev_q_setup(e))
		return -1;
	for (int cpu = -1, fifo = 0;;) {
		struct ev_cmd c;
		uint64_t t = 0;

		if (read_full(e->cmd[0], &c, sizeof(c)))
			return 1;
		if (c.test == EV_QUIT)
			return 0;
		if (c.cpu != cpu) {
			if (pin_cpu(c.cpu))
				fail("Q: sched_setaffinity");
			cpu = c.cpu;
		}
		if (c.fifo != fifo) {
			if (set_fifo(c.fifo))
				return fail("Q: SCHED_FIFO");
			fifo = c.fifo;
		}
		if (ev_q_test(e, &c, &t))
			t = 0;
		if (write_full(e->ack[1], &t, sizeof(t)) || !t)
			return 1;
	}
}

static void *ev_q_thread(void *arg)
{
	return (void *)(intptr_t)ev_q_main(arg);
}

/* ------------------------------------------------------------------ */
/* P, the sender, which times                                          */

static int ev_p_pings(int fd, long count, uint64_t *lat, char *buf)
{
	for (long it = 0; it < count; it++) {
		uint64_t t = now_ns();

		if (send(fd, buf, 1, 0) != 1 || recv(fd, buf, 1, 0) != 1)
			return fail("P: ping");
		lat[it] = now_ns() - t;
	}
	return 0;
}

static int ev_p_bursts(int fd, long count, uint64_t *lat, char *buf)
{
	for (long it = 0; it < count; it++) {
		uint64_t t = now_ns();

		for (int k = 0; k < EV_BURST; k++)
			if (send(fd, buf, MSG_SIZE, 0) != MSG_SIZE)
				return fail("P: send burst");
		if (recv(fd, buf, 1, 0) != 1)
			return fail("P: burst reply");
		lat[it] = (now_ns() - t) / EV_BURST;
	}
	return 0;
}

/* P's half of test @test; @t0 gets the start of a streaming test. */
static int ev_p_run(struct ev *e, int test, long count, uint64_t *lat, char *buf, uint64_t *t0)
{
	int fd;

	switch (test) {
	case EV_LAT_SS:
	case EV_LAT_EP:
		return ev_p_pings(test == EV_LAT_SS ? e->p[0] : e->p[1], count, lat, buf);
	case EV_BURST_SS:
	case EV_BURST_EP:
		return ev_p_bursts(test == EV_BURST_SS ? e->p[0] : e->p[1], count, lat, buf);
	default:
		fd = test == EV_LOOP_SS ? e->p[0] : test == EV_LOOP_EP ? e->p[1] :
		     test == EV_STREAM_REG ? e->p[2] : e->p[3];
		*t0 = now_ns();
		for (long it = 0; it < count; it++)
			if (write_full(fd, buf, MSG_SIZE))
				return fail("P: send stream");
		return 0;
	}
}

/* P's side of one test; returns the run's value (ns per round trip/msg). */
static int ev_p_test(struct ev *e, int test, int cpu, long count, uint64_t *lat,
		     double *value)
{
	bool fifo = test == EV_BURST_SS || test == EV_BURST_EP;
	struct ev_cmd c = { .test = test, .cpu = cpu, .fifo = fifo, .count = count };
	char buf[MSG_SIZE];
	uint64_t t0 = 0, t_end;
	int ret;

	memset(buf, 'e', sizeof(buf));
	if (write_full(e->cmd[1], &c, sizeof(c)))
		return fail("P: command");
	if (fifo && set_fifo(true))
		return fail("P: SCHED_FIFO");
	ret = ev_p_run(e, test, count, lat, buf, &t0);
	if (fifo)
		set_fifo(false);
	if (ret)
		return -1;
	if (read_full(e->ack[0], &t_end, sizeof(t_end)) || !t_end) {
		say("error: Q failed test %d", test);
		return -1;
	}
	if (test == EV_LAT_SS || test == EV_LAT_EP || test == EV_BURST_SS || test == EV_BURST_EP)
		*value = median_u64(lat, (size_t)count);
	else
		*value = (double)(t_end - t0) / (double)count;
	return 0;
}

/* Four loopback pairs and the command pipes, then Q as a thread or process. */
static int ev_start(struct ev *e, bool thread)
{
	memset(e, 0, sizeof(*e));
	e->thread = thread;
	for (int i = 0; i < 4; i++)
		if (tcp_pair(&e->p[i], &e->q[i]))
			return -1;
	if (pipe2(e->cmd, O_CLOEXEC) || pipe2(e->ack, O_CLOEXEC))
		return fail("pipe");
	if (thread) {
		errno = pthread_create(&e->qthr, NULL, ev_q_thread, e);
		return errno ? fail("pthread_create") : 0;
	}
	e->qpid = fork_child();
	if (e->qpid < 0)
		return -1;
	if (e->qpid == 0) {
		for (int i = 0; i < 4; i++)
			close(e->p[i]);
		_exit(ev_q_main(e));
	}
	for (int i = 0; i < 4; i++)
		close(e->q[i]);
	return 0;
}

static int ev_stop(struct ev *e)
{
	struct ev_cmd quit = { .test = EV_QUIT };
	int rc;

	write_full(e->cmd[1], &quit, sizeof(quit));
	if (e->thread) {
		void *ret;

		pthread_join(e->qthr, &ret);
		rc = (int)(intptr_t)ret;
		for (int i = 0; i < 4; i++)
			close(e->q[i]);
		close(e->evfd);
		close(e->evfd_stream);
		close(e->ep);
	} else {
		rc = wait_exit(e->qpid);
	}
	for (int i = 0; i < 4; i++)
		close(e->p[i]);
	for (int i = 0; i < 2; i++) {
		close(e->cmd[i]);
		close(e->ack[i]);
	}
	if (rc)
		say("error: event peer Q (%s) failed", e->thread ? "thread" : "process");
	return rc ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* The phase                                                           */

/* The phase's rows, in the order they are made. */
enum {
	R_LAT_SS, R_LAT_EP,				/* threads on CPU 0 */
	R_XLAT_SS, R_XLAT_EP, R_LOOP_SS, R_LOOP_EP,	/* threads on CPUs 0 and 1 */
	R_PLAT_SS, R_PLAT_EP,				/* processes on CPU 0 */
	R_BURST_SS, R_BURST_EP,
	R_ST_REG, R_ST_PLAIN, R_ST_PCT,			/* threads on CPUs 0 and 1 */
	R_NR
};

#define PING_SS "ping-pong: eventfd wake + enum FD_READ + recv"
#define PING_EP "ping-pong: epoll_wait + recv"

static const struct {
	const char *name, *label, *unit;
	bool xcpu;		/* only with the cross-CPU placement */
} ev_row_defs[R_NR] = {
	{ "event.latency.sharedsock", PING_SS, "ns/rtt", false },
	{ "event.latency.epoll", PING_EP, "ns/rtt", false },
	{ "event-xcpu.latency.sharedsock", PING_SS, "ns/rtt", true },
	{ "event-xcpu.latency.epoll", PING_EP, "ns/rtt", true },
	{ "event-xcpu.loop.sharedsock", "event loop (eventfd+enum, drain), 64 B msgs", "ns/msg",
	  true },
	{ "event-xcpu.loop.epoll", "event loop (epoll_wait, drain), 64 B msgs", "ns/msg", true },
	{ "event-proc.latency.sharedsock", PING_SS, "ns/rtt", false },
	{ "event-proc.latency.epoll", PING_EP, "ns/rtt", false },
	{ "event.burst.sharedsock", "32 msgs/wake (FIFO): eventfd+enum, drain, reply", "ns/msg",
	  false },
	{ "event.burst.epoll", "32 msgs/wake (FIFO): epoll_wait, drain, reply", "ns/msg", false },
	{ "overhead-xcpu.stream.registered", "stream 64 B msgs, blocking recv, registered",
	  "ns/msg", true },
	{ "overhead-xcpu.stream.plain", "stream 64 B msgs, blocking recv, not registered",
	  "ns/msg", true },
	{ "overhead-xcpu.stream.percent", "per-packet overhead of a registration (stream)", "%",
	  true },
};

/* The sharedsock row of each latency pair (the epoll one follows it). */
static const int lat_rows[3] = { R_LAT_SS, R_XLAT_SS, R_PLAT_SS };

struct ev_phase {
	struct ev thr, proc;
	uint64_t *lat;
	long lat_n, burst_n;
	int np;
	bool swap;		/* this run, the peer goes first */
	int rows[R_NR];
};

static void ev_rows(struct ev_phase *p)
{
	for (int k = 0; k < R_NR; k++)
		if (!ev_row_defs[k].xcpu || p->np >= 2)
			p->rows[k] = row_new(ev_row_defs[k].name, ev_row_defs[k].label,
					     ev_row_defs[k].unit);
}

static int ev_warmup(struct ev_phase *p)
{
	double v;

	for (int pl = 0; pl < p->np; pl++)
		for (int t = EV_LAT_SS; t <= (pl ? EV_STREAM_PLAIN : EV_LAT_EP); t++)
			if (ev_p_test(&p->thr, t, pl, t <= EV_LAT_EP ? p->lat_n / 8 + 1 :
				      opt.stream_msgs / 8 + 1, p->lat, &v))
				return -1;
	if (ev_p_test(&p->thr, EV_BURST_SS, 0, p->burst_n / 8 + 1, p->lat, &v) ||
	    ev_p_test(&p->thr, EV_BURST_EP, 0, p->burst_n / 8 + 1, p->lat, &v) ||
	    ev_p_test(&p->proc, EV_LAT_SS, 0, p->lat_n / 8 + 1, p->lat, &v) ||
	    ev_p_test(&p->proc, EV_LAT_EP, 0, p->lat_n / 8 + 1, p->lat, &v))
		return -1;
	return 0;
}

/*
 * Run tests @ta and @tb (the sharedsock one and its peer) in this run's
 * order, and record them in rows @ra and @rb with their ratio; @a and @b
 * get the values.
 */
static int ev_pair(struct ev_phase *p, struct ev *e, int ta, int tb, int cpu, long count,
		   int ra, int rb, double *a, double *b)
{
	if (p->swap ? ev_p_test(e, tb, cpu, count, p->lat, b) ||
		      ev_p_test(e, ta, cpu, count, p->lat, a) :
		      ev_p_test(e, ta, cpu, count, p->lat, a) ||
		      ev_p_test(e, tb, cpu, count, p->lat, b))
		return -1;
	row_add(ra, *a);
	row_add(rb, *b);
	row_ratio(ra, rb, *a / *b);
	return 0;
}

static int ev_run(struct ev_phase *p)
{
	const int *rows = p->rows;
	double a, b;

	/* Latency: threads on one CPU, threads on two, processes on one. */
	for (int k = 0; k < 3; k++) {
		if (k == 1 && p->np < 2)
			continue;
		if (ev_pair(p, k == 2 ? &p->proc : &p->thr, EV_LAT_SS, EV_LAT_EP, k == 1,
			    p->lat_n, rows[lat_rows[k]], rows[lat_rows[k] + 1], &a, &b))
			return -1;
	}
	/* Event-loop throughput: bursts, one CPU. */
	if (ev_pair(p, &p->thr, EV_BURST_SS, EV_BURST_EP, 0, p->burst_n, rows[R_BURST_SS],
		    rows[R_BURST_EP], &a, &b))
		return -1;
	if (p->np < 2)
		return 0;
	/* Event-loop throughput, reader on the other CPU. */
	if (ev_pair(p, &p->thr, EV_LOOP_SS, EV_LOOP_EP, 1, opt.stream_msgs, rows[R_LOOP_SS],
		    rows[R_LOOP_EP], &a, &b))
		return -1;
	/* Streaming throughput, blocking reader on the other CPU. */
	if (ev_pair(p, &p->thr, EV_STREAM_REG, EV_STREAM_PLAIN, 1, opt.stream_msgs,
		    rows[R_ST_REG], rows[R_ST_PLAIN], &a, &b))
		return -1;
	row_add(rows[R_ST_PCT], (a / b - 1) * 100);
	return 0;
}

int phase_event(void)
{
	struct ev_phase p = {
		.np = nplacements(),
		.lat_n = opt.latency_iters,
		.burst_n = opt.latency_iters / 4 + 1,
	};
	int ret = -1;

	p.lat = calloc((size_t)p.lat_n + 1, sizeof(*p.lat));
	if (!p.lat)
		return fail("calloc");
	ev_rows(&p);
	if (pin_cpu(0))
		return fail("sched_setaffinity");
	if (ev_start(&p.proc, false))
		return -1;
	if (ev_start(&p.thr, true)) {
		ev_stop(&p.proc);
		return -1;
	}
	if (ev_warmup(&p))
		goto out;
	for (int r = 0; r < opt.runs; r++) {
		uint64_t t0 = now_ns();

		p.swap = r % 2;
		if (ev_run(&p))
			goto out;
		say("event run %d/%d: %.1f s", r + 1, opt.runs, (now_ns() - t0) / 1e9);
	}
	ret = 0;
out:
	if (ev_stop(&p.thr))
		ret = -1;
	if (ev_stop(&p.proc))
		ret = -1;
	return ret;
}
