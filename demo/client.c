// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * acceptor_demo: the load generator.  Each client process opens its share
 * of the connections, a window at a time; on each it pipelines the
 * requests (at most cfg.depth in flight), sent in random-sized pieces, and
 * checks every byte of every response against the request stream
 * (common.c).  It counts which worker answered: a connection may change
 * worker once, from worker 0 to worker 1, in the handoff.
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
#include <sys/socket.h>
#include <unistd.h>

#include "demo.h"

struct cconn {
	int fd;
	uint32_t id, next_seq, acked;
	int worker;
	bool switched, dead;
	unsigned char *out, *in;
	size_t out_off, out_len, out_cap, in_len, in_cap;
	uint64_t rng;
};

static void cconn_fill(struct cconn *c)
{
	while (c->next_seq < (uint32_t)cfg.requests &&
	       c->next_seq - c->acked < (uint32_t)cfg.depth) {
		struct req_hdr h = { REQ_MAGIC, c->id, c->next_seq, 0 };

		reserve(&c->out, &c->out_cap, c->out_len + sizeof(h) + cfg.maxlen);
		h.len = req_payload(c->id, c->next_seq, c->out + c->out_len + sizeof(h));
		memcpy(c->out + c->out_len, &h, sizeof(h));
		c->out_len += sizeof(h) + h.len;
		c->next_seq++;
	}
}

/* One send of a random-sized chunk: requests arrive in pieces. */
static void cconn_send(struct cconn *c, struct client_stats *st)
{
	size_t left = c->out_len - c->out_off;
	size_t chunk = 1 + splitmix(&c->rng) % (cfg.maxlen + sizeof(struct req_hdr));
	ssize_t n;

	if (!left)
		return;
	if (chunk > left)
		chunk = left;
	n = send(c->fd, c->out + c->out_off, chunk, MSG_NOSIGNAL);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		problem("connection %u: send: %m", c->id);
		c->dead = true;
		return;
	}
	c->out_off += n;
	st->bytes_sent += n;
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
}

static void cconn_verify(struct cconn *c, struct client_stats *st,
			 unsigned char *scratch)
{
	size_t off = 0;

	while (c->in_len - off >= sizeof(struct rsp_hdr)) {
		const unsigned char *p = c->in + off;
		struct rsp_hdr h;
		uint32_t len, i;

		memcpy(&h, p, sizeof(h));
		len = req_len(c->id, c->acked);
		if (h.magic != RSP_MAGIC || h.conn != c->id || h.seq != c->acked ||
		    h.len != len || h.worker >= (uint32_t)cfg.workers || h.zero) {
			problem("connection %u: bad response header (magic %#x conn %u "
				"seq %u/%u len %u/%u worker %u)", c->id, h.magic,
				h.conn, h.seq, c->acked, h.len, len, h.worker);
			c->dead = true;
			return;
		}
		if (c->in_len - off < sizeof(h) + len)
			break;
		p += sizeof(h);
		req_payload(c->id, c->acked, scratch);
		for (i = 0; i < len; i++)
			if (p[i] != (scratch[i] ^ mix(c->id, c->acked, i)))
				break;
		if (i < len) {
			problem("connection %u: response %u differs at byte %u",
				c->id, c->acked, i);
			c->dead = true;
			return;
		}
		/* A connection changes worker once at most: in the handoff. */
		if (c->worker < 0) {
			c->worker = h.worker;
		} else if (c->worker != (int)h.worker) {
			if (c->switched || c->worker != cfg.from ||
			    (int)h.worker != cfg.to)
				problem("connection %u: answered by worker %d, then %u",
					c->id, c->worker, h.worker);
			else
				st->switched++;
			c->switched = true;
			c->worker = h.worker;
		}
		st->worker_requests[h.worker]++;
		st->worker_bytes[h.worker] += sizeof(h) + len;
		st->bytes_verified += sizeof(h) + len;
		st->requests++;
		c->acked++;
		off += sizeof(h) + len;
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
}

static void cconn_read(struct cconn *c, struct client_stats *st,
		       unsigned char *scratch)
{
	for (;;) {
		ssize_t n;

		n = recv_more(c->fd, &c->in, &c->in_len, &c->in_cap);
		if (n > 0) {
			cconn_verify(c, st, scratch);
			if (c->dead)
				return;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n == 0)
			problem("connection %u: server closed after %u of %d responses",
				c->id, c->acked, cfg.requests);
		else
			problem("connection %u: recv: %m", c->id);
		c->dead = true;
		return;
	}
}

static struct cconn *cconn_open(uint32_t id, struct client_stats *st)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons(cfg.port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	struct cconn *c = calloc(1, sizeof(*c));
	int one = 1;

	if (!c)
		die("out of memory");
	c->id = id;
	c->worker = -1;
	c->rng = cfg.seed * 7919 + id;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		die("socket: %m");
	/* A small window makes the workers' sends block: FD_WRITE. */
	if (cfg.bufsize && setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &cfg.bufsize,
				      sizeof(cfg.bufsize)) < 0)
		die("SO_RCVBUF: %m");
	while (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		if (errno != EINTR)
			die("connect: %m");
	if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
	    fcntl(c->fd, F_SETFL, O_NONBLOCK) < 0)
		die("socket options: %m");
	st->opened++;
	cconn_fill(c);
	return c;
}

/* A client process's connections: at most cfg.window open at once. */
struct client {
	struct client_stats *st;
	struct cconn **c;
	struct pollfd *pfd;
	unsigned char *scratch;
	unsigned int active;
	int64_t last_progress;
	uint64_t last_requests;
};

/* One poll of the open connections: read, verify, send, refill. */
static void client_poll(struct client *cl)
{
	unsigned int i;
	int n;

	for (i = 0; i < cl->active; i++)
		cl->pfd[i] = (struct pollfd){
			.fd = cl->c[i]->fd,
			.events = POLLIN | (cl->c[i]->out_len ? POLLOUT : 0),
		};
	n = poll(cl->pfd, cl->active, 1000);
	if (n < 0 && errno != EINTR)
		die("poll: %m");
	for (i = 0; n > 0 && i < cl->active; i++) {
		struct cconn *c = cl->c[i];

		if (cl->pfd[i].revents & (POLLIN | POLLERR | POLLHUP))
			cconn_read(c, cl->st, cl->scratch);
		if (!c->dead && (cl->pfd[i].revents & POLLOUT))
			cconn_send(c, cl->st);
		if (!c->dead)
			cconn_fill(c);
	}
}

/* Close the connections that are done: every response verified, or dead. */
static void client_reap(struct client *cl)
{
	unsigned int i = 0;

	while (i < cl->active) {
		struct cconn *d = cl->c[i];

		if (!d->dead && (d->acked < (uint32_t)cfg.requests || d->out_len)) {
			i++;
			continue;
		}
		if (!d->dead)
			cl->st->completed++;
		close(d->fd);
		free(d->in);
		free(d->out);
		free(d);
		cl->c[i] = cl->c[--cl->active];
	}
}

/* When asked, or after 5 s without progress: where each connection is. */
static void client_progress(struct client *cl)
{
	unsigned int i;

	if (cl->st->requests != cl->last_requests) {
		cl->last_requests = cl->st->requests;
		cl->last_progress = now_ms();
	}
	if (!dump_requested && now_ms() - cl->last_progress <= 5000)
		return;
	dump_requested = 0;
	cl->last_progress = now_ms();
	note("%" PRIu64 " requests answered, %u connections open:",
	     cl->st->requests, cl->active);
	for (i = 0; i < cl->active && i < 20; i++)
		note("  conn %u: sent %u, answered %u, worker %d, %zu bytes unsent",
		     cl->c[i]->id, cl->c[i]->next_seq, cl->c[i]->acked,
		     cl->c[i]->worker, cl->c[i]->out_len - cl->c[i]->out_off);
}

int client_main(int index)
{
	struct client cl = {
		.st = &shm->c[index],
		.c = calloc(cfg.window, sizeof(*cl.c)),
		.pfd = calloc(cfg.window, sizeof(*cl.pfd)),
		.scratch = malloc(cfg.maxlen),
		.last_progress = now_ms(),
	};
	uint32_t next = index;

	snprintf(role, sizeof(role), "client %d", index);
	err_counter = &cl.st->errors;
	if (!cl.c || !cl.pfd || !cl.scratch)
		die("out of memory");
	for (;;) {
		while (cl.active < (unsigned int)cfg.window &&
		       next < (uint32_t)cfg.conns) {
			cl.c[cl.active++] = cconn_open(next, cl.st);
			next += cfg.clients;
		}
		if (!cl.active)
			break;
		client_poll(&cl);
		client_reap(&cl);
		client_progress(&cl);
	}
	free(cl.c);
	free(cl.pfd);
	free(cl.scratch);
	return cl.st->errors ? 1 : 0;
}
