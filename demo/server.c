// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * acceptor_demo, the pattern: an acceptor hands each connection to a worker
 * process; workers serve their connections from Winsock-style event
 * registrations; one worker hands its live connections to another.  The
 * checks the demo makes on the way are calls into verify.c; the counters
 * (w->st->...) feed the table at the end.
 *
 * Acceptor: accepts on 127.0.0.1, sets TCP_NODELAY (socket state is
 * shared: the worker sees it), makes a token for one worker, round robin
 * (ss_duplicate_socket, WSADuplicateSocket), writes it down that worker's
 * pipe and closes its descriptor: the token keeps the socket alive.
 *
 * Worker: redeems each token (ss_socket_from_info, WSASocket with the
 * protocol info), gives the connection its own eventfd for FD_READ |
 * FD_WRITE | FD_CLOSE (ss_event_select, WSAEventSelect), and serves
 * requests from a poll() loop over the eventfds, fetching the events with
 * ss_enum_network_events (WSAEnumNetworkEvents).  Reads go on until
 * EAGAIN; sends until EAGAIN, after which FD_WRITE says when to go on.
 *
 * Handoff: once worker 0 has answered enough requests, it hands every live
 * connection to worker 1: it flushes the responses it owes, makes a token
 * for worker 1 and sends it with the bytes of a request it has read only
 * partly (bytes still queued in the socket stay there for worker 1).
 * Worker 1 redeems it and registers its own eventfd through its own
 * descriptor, which replaces worker 0's registration -- one registration
 * per socket, whoever made it -- then acknowledges.  Worker 0 keeps its
 * descriptor and eventfd until it exits, only so that verify.c can check
 * that its eventfd stays silent; a server of yours would close them.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sharedsock.h>

#include "demo.h"

/* --- A worker's connections --- */

static struct conn *conn_new(struct worker *w, int fd, uint32_t tag)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		die("out of memory");
	c->fd = fd;
	c->tag = tag;
	c->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->efd < 0)
		die("eventfd: %m");
	if (w->n == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 64;
		w->c = realloc(w->c, w->cap * sizeof(*w->c));
		if (!w->c)
			die("out of memory");
	}
	w->c[w->n++] = c;
	return c;
}

static void conn_free(struct conn *c)
{
	close(c->fd);
	close(c->efd);
	free(c->in);
	free(c->out);
	free(c);
}

/* Drop the connections marked dead. */
static void conns_reap(struct worker *w)
{
	size_t i = 0;

	while (i < w->n) {
		if (w->c[i]->dead) {
			conn_free(w->c[i]);
			w->c[i] = w->c[--w->n];
		} else {
			i++;
		}
	}
}

/* Answer every complete request in the input buffer. */
static int serve_requests(struct worker *w, struct conn *c)
{
	while (c->in_len - c->in_off >= sizeof(struct req_hdr)) {
		const unsigned char *p = c->in + c->in_off;
		struct req_hdr h;
		struct rsp_hdr r;
		unsigned char *q;
		uint32_t i;

		memcpy(&h, p, sizeof(h));
		if (h.magic != REQ_MAGIC || !h.len || h.len > (uint32_t)cfg.maxlen) {
			problem("connection %u: bad request header (magic %#x len %u)",
				c->tag, h.magic, h.len);
			return -1;
		}
		if (c->in_len - c->in_off < sizeof(h) + h.len)
			break;
		p += sizeof(h);
		r = (struct rsp_hdr){ RSP_MAGIC, h.conn, h.seq, (uint32_t)w->id, h.len, 0 };
		reserve(&c->out, &c->out_cap, c->out_len + sizeof(r) + h.len);
		memcpy(c->out + c->out_len, &r, sizeof(r));
		q = c->out + c->out_len + sizeof(r);
		for (i = 0; i < h.len; i++)
			q[i] = p[i] ^ mix(h.conn, h.seq, i);
		c->out_len += sizeof(r) + h.len;
		c->in_off += sizeof(h) + h.len;
		w->st->requests++;
		if (c->handed_in)
			w->st->after_requests++;
	}
	if (c->in_off == c->in_len) {
		c->in_off = c->in_len = 0;
	} else if (c->in_off > c->in_cap / 2) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
	return 0;
}

/* recv until EAGAIN or end of file. */
static int conn_read(struct worker *w, struct conn *c)
{
	for (;;) {
		ssize_t n;

		n = recv_more(c->fd, &c->in, &c->in_len, &c->in_cap);
		if (n > 0) {
			w->st->bytes_in += n;
			if (c->handed_in)
				w->st->after_bytes_in += n;
			if (serve_requests(w, c) < 0)
				return -1;
			continue;
		}
		if (n == 0) {
			c->eof = true;
			return 0;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return 0;
		problem("connection %u: recv: %m", c->tag);
		return -1;
	}
}

/* send until done or EAGAIN (then FD_WRITE says when to go on). */
static int conn_flush(struct worker *w, struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off,
				 c->out_len - c->out_off, MSG_NOSIGNAL);

		if (n > 0) {
			c->out_off += n;
			w->st->bytes_out += n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		problem("connection %u: send: %m", c->tag);
		return -1;
	}
	c->out_off = c->out_len = 0;
	return 0;
}

/* The eventfd of an active connection was signalled: WSAEnumNetworkEvents. */
void conn_event(struct worker *w, struct conn *c)
{
	struct ss_network_events ne;
	long ev;

	memset(&ne, 0, sizeof(ne));
	if (ss_enum_network_events(c->fd, c->efd, &ne) < 0) {
		problem("connection %u: ss_enum_network_events: %m", c->tag);
		c->dead = true;
		return;
	}
	ev = ne.network_events;
	if (ev & ~(long)EVENT_MASK)
		problem("connection %u: unselected events %#lx reported", c->tag, ev);
	if (ev & SS_FD_READ)
		w->st->ev_read++;
	if (ev & SS_FD_WRITE)
		w->st->ev_write++;
	if (ev & SS_FD_CLOSE)
		w->st->ev_close++;

	if ((ev & (SS_FD_READ | SS_FD_CLOSE)) && conn_read(w, c) < 0)
		goto drop;
	if (conn_flush(w, c) < 0)
		goto drop;
	if (!(ev & SS_FD_CLOSE))
		return;
	/* The peer is gone, and what it sent is read: so are we. */
	check_close(c, &ne);
	w->st->closed++;
drop:
	c->dead = true;
}

static size_t count_state(const struct worker *w, enum conn_state state)
{
	size_t i, n = 0;

	for (i = 0; i < w->n; i++)
		n += w->c[i]->state == state && !w->c[i]->dead;
	return n;
}

static void register_conn(struct conn *c, int sndbuf)
{
	if (ss_event_select(c->fd, c->efd, EVENT_MASK) < 0)
		die("connection %u: ss_event_select: %m", c->tag);
	check_registration(c, sndbuf);
}

/* A message from pipe *@fd; false at end of file (the pipe is closed). */
static bool read_msg(int *fd, void *m, size_t len, const char *what)
{
	int r = readn(*fd, m, len);

	if (r < 0)
		die("read %s: %m", what);
	if (r == 0) {
		close(*fd);
		*fd = -1;
	}
	return r > 0;
}

/* A token from the acceptor. */
static void worker_take_token(struct worker *w)
{
	struct token_msg m;
	struct conn *c;
	int fd;

	if (!read_msg(&w->acc_rd, &m, sizeof(m), "token"))
		return;
	fd = ss_socket_from_info(&m.info, O_CLOEXEC);
	if (fd < 0) {
		problem("connection %u: ss_socket_from_info: %m", m.tag);
		return;
	}
	c = conn_new(w, fd, m.tag);
	register_conn(c, m.sndbuf);
	w->st->conns++;
}

/* A handed-off connection from the peer (worker 1). */
static void worker_take_handoff(struct worker *w)
{
	struct handoff_msg m;
	struct ack_msg ack;
	struct conn *c;
	int fd;

	if (!read_msg(&w->ho_rd, &m, sizeof(m), "handoff"))
		return;
	fd = ss_socket_from_info(&m.info, O_CLOEXEC);
	if (fd < 0)
		die("connection %u: redeeming the handoff: %m", m.tag);
	c = conn_new(w, fd, m.tag);
	c->handed_in = true;
	reserve(&c->in, &c->in_cap, m.carried + 16384);
	if (m.carried && readn(w->ho_rd, c->in, m.carried) != 1)
		die("read handoff bytes: %m");
	c->in_len = m.carried;
	/* Through our own descriptor: replaces the registration of worker 0. */
	register_conn(c, 0);
	w->st->handed_in++;
	ack = (struct ack_msg){ .tag = m.tag };
	if (writen(w->ack_wr, &ack, sizeof(ack)) < 0)
		die("write ack: %m");
	if (serve_requests(w, c) < 0 || conn_flush(w, c) < 0)
		c->dead = true;
}

/* Answer what we have read: flush every response we owe (5 s at most). */
static void flush_all(struct worker *w, struct conn *c)
{
	int64_t deadline = now_ms() + 5000;

	while (c->out_off < c->out_len) {
		struct pollfd p = { .fd = c->fd, .events = POLLOUT };

		if (conn_flush(w, c) < 0 || c->out_off == c->out_len)
			break;
		if (now_ms() > deadline) {
			problem("connection %u: could not flush before handoff",
				c->tag);
			break;
		}
		poll(&p, 1, 100);
	}
}

/* A token for the peer, with the partial request we have read. */
static void hand_off(struct worker *w, struct conn *c)
{
	struct handoff_msg m;
	int queued = 0;

	flush_all(w, c);
	if (ioctl(c->fd, FIONREAD, &queued) == 0 && queued > 0)
		w->st->inflight_queued += queued;
	memset(&m, 0, sizeof(m));
	if (ss_duplicate_socket(c->fd, w->peer, &m.info) < 0) {
		problem("connection %u: ss_duplicate_socket: %m", c->tag);
		return;
	}
	m.tag = c->tag;
	m.carried = c->in_len - c->in_off;
	if (writen(w->ho_wr, &m, sizeof(m)) < 0 ||
	    writen(w->ho_wr, c->in + c->in_off, m.carried) < 0)
		die("write handoff: %m");
	w->st->inflight_carried += m.carried;
	c->in_off = c->in_len = 0;
	c->state = CONN_HANDED;
	w->st->handed_out++;
	w->acks_pending++;
}

/* Worker 0: hand every live connection to worker 1. */
static void worker_handoff(struct worker *w)
{
	size_t i, live = count_state(w, CONN_ACTIVE);

	note("handing %zu live connections to worker %d (pid %d) after %" PRIu64
	     " requests", live, cfg.to, (int)w->peer, w->st->requests);
	w->st->handoff_at = w->st->requests;
	for (i = 0; i < w->n; i++)
		if (w->c[i]->state == CONN_ACTIVE && !w->c[i]->dead)
			hand_off(w, w->c[i]);
	close(w->ho_wr);
	w->ho_wr = -1;
	w->handed_off = true;
}

/* Worker 1 registered: from now on our eventfd must stay silent. */
static void worker_take_ack(struct worker *w)
{
	struct ack_msg ack;
	uint64_t v;
	size_t i;
	int r = readn(w->ack_rd, &ack, sizeof(ack));

	if (r <= 0)
		die("read ack: %s", r ? strerror(errno) : "end of file");
	for (i = 0; i < w->n; i++) {
		struct conn *c = w->c[i];

		if (c->tag != ack.tag || c->state != CONN_HANDED)
			continue;
		/* Signals so far were raised before the cancellation. */
		if (read(c->efd, &v, sizeof(v)) == sizeof(v))
			w->st->signals_before_ack += v;
		c->state = CONN_CANCELLED;
		w->acks_pending--;
		w->last_ack_ms = now_ms();
		return;
	}
	problem("ack for unknown connection %u", ack.tag);
}

static bool worker_done(struct worker *w)
{
	if (w->acc_rd >= 0 || count_state(w, CONN_ACTIVE))
		return false;
	if (w->id == cfg.from) {
		if (w->ho_wr >= 0) {
			/* Nothing left to hand off: the check will say so. */
			close(w->ho_wr);
			w->ho_wr = -1;
		}
		if (w->acks_pending || count_state(w, CONN_HANDED))
			return false;
		if (w->handed_off && now_ms() < w->last_ack_ms + GRACE_MS)
			return false;
	}
	if (w->id == cfg.to && w->ho_rd >= 0)
		return false;
	return true;
}

/* What the worker waits on: its pipes and its connections' eventfds. */
struct pollset {
	struct pollfd *pfd;
	struct conn **who;	/* NULL for a pipe */
	size_t n, cap;
};

static void pollset_add(struct pollset *ps, int fd, struct conn *c)
{
	ps->pfd[ps->n] = (struct pollfd){ .fd = fd, .events = POLLIN };
	ps->who[ps->n++] = c;
}

static void pollset_fill(const struct worker *w, struct pollset *ps)
{
	size_t i, need = w->n + 3;

	if (ps->cap < need) {
		ps->cap = need * 2;
		ps->pfd = realloc(ps->pfd, ps->cap * sizeof(*ps->pfd));
		ps->who = realloc(ps->who, ps->cap * sizeof(*ps->who));
		if (!ps->pfd || !ps->who)
			die("out of memory");
	}
	ps->n = 0;
	if (w->acc_rd >= 0)
		pollset_add(ps, w->acc_rd, NULL);
	if (w->ho_rd >= 0)
		pollset_add(ps, w->ho_rd, NULL);
	if (w->acks_pending)
		pollset_add(ps, w->ack_rd, NULL);
	for (i = 0; i < w->n; i++) {
		/* Not before the ack: until then, signals are legitimate. */
		if (w->c[i]->state == CONN_HANDED)
			continue;
		pollset_add(ps, w->c[i]->efd, w->c[i]);
	}
}

/* @fd is ready: a pipe, or the eventfd of connection @c. */
static void worker_ready(struct worker *w, int fd, struct conn *c)
{
	if (!c) {
		if (fd == w->acc_rd)
			worker_take_token(w);
		else if (fd == w->ho_rd)
			worker_take_handoff(w);
		else if (fd == w->ack_rd)
			worker_take_ack(w);
		return;
	}
	if (c->dead)
		return;
	if (c->state == CONN_CANCELLED)
		cancelled_signalled(c);		/* it must not be */
	else
		conn_event(w, c);
}

/* Worker 1 tells worker 0 its pid: the target of the handoff tokens. */
static void worker_hello(struct worker *w)
{
	pid_t me = getpid();

	if (w->id == cfg.to && writen(w->ack_wr, &me, sizeof(me)) < 0)
		die("write hello: %m");
	if (w->id == cfg.from && readn(w->ack_rd, &w->peer, sizeof(w->peer)) != 1)
		die("read hello: %m");
}

int worker_main(struct worker *w)
{
	struct pollset ps = { 0 };
	size_t i;
	int n;

	snprintf(role, sizeof(role), "worker %d", w->id);
	w->st = &shm->w[w->id];
	err_counter = &w->st->errors;
	w->st->pid = getpid();
	worker_hello(w);

	while (!worker_done(w)) {
		pollset_fill(w, &ps);
		n = poll(ps.pfd, ps.n, 100);
		if (n < 0 && errno != EINTR)
			die("poll: %m");
		for (i = 0; n > 0 && i < ps.n; i++)
			if (ps.pfd[i].revents)
				worker_ready(w, ps.pfd[i].fd, ps.who[i]);
		worker_checks(w);	/* lost wake-ups; a dump when asked */
		conns_reap(w);
		if (w->id == cfg.from && !w->handed_off && w->ho_wr >= 0 &&
		    (long)w->st->requests >= w->handoff_after &&
		    count_state(w, CONN_ACTIVE))
			worker_handoff(w);
	}
	cancelled_final(w);	/* the replaced registrations stayed silent? */
	conns_reap(w);
	free(ps.pfd);
	free(ps.who);
	return w->st->errors ? 1 : 0;
}

/* --- Acceptor --- */

/* Options set through our descriptor hold for the worker's: one socket. */
static void set_options(int fd, struct token_msg *m)
{
	socklen_t len = sizeof(m->sndbuf);
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		die("TCP_NODELAY: %m");
	/* A small send buffer: the workers' sends will block. */
	if (cfg.bufsize &&
	    (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &cfg.bufsize,
			sizeof(cfg.bufsize)) < 0 ||
	     getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &m->sndbuf, &len) < 0))
		die("SO_SNDBUF: %m");
}

/* Hand connection @fd to worker @k: a token down its pipe. */
static void hand_to_worker(int fd, int k, int to_worker, pid_t wpid)
{
	struct acceptor_stats *st = &shm->a;
	struct token_msg m;

	memset(&m, 0, sizeof(m));
	set_options(fd, &m);
	if (ss_duplicate_socket(fd, wpid, &m.info) < 0)
		die("ss_duplicate_socket to worker %d: %m", k);
	m.tag = st->accepted;
	if (writen(to_worker, &m, sizeof(m)) < 0)
		die("write token: %m");
	/* The token keeps the socket alive: our descriptor can go. */
	close(fd);
	st->exported++;
}

int acceptor_main(int lfd, const int *to_worker, const pid_t *wpid)
{
	struct acceptor_stats *st = &shm->a;
	int i, fd, k;

	snprintf(role, sizeof(role), "acceptor");
	err_counter = &st->errors;
	while (st->accepted < (uint64_t)cfg.conns) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };

		if (dump_requested) {
			dump_requested = 0;
			note("accepted %" PRIu64 " of %d", st->accepted, cfg.conns);
		}
		if (poll(&p, 1, 1000) <= 0)
			continue;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			die("accept: %m");
		}
		k = st->accepted % cfg.workers;
		hand_to_worker(fd, k, to_worker[k], wpid[k]);
		st->accepted++;
	}
	close(lfd);
	for (i = 0; i < cfg.workers; i++)
		close(to_worker[i]);
	return st->errors ? 1 : 0;
}
