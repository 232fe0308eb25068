// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * acceptor_demo: an acceptor/worker TCP server built on sharedsock.
 *
 *   main: forks N workers, the acceptor and P client load generators,
 *          waits for them and checks everything they and the module report.
 *   acceptor: accepts C connections on 127.0.0.1, sets TCP_NODELAY, turns
 *          each into a token for one worker (round robin) with
 *          ss_duplicate_socket() and writes it down that worker's pipe.
 *   worker: redeems tokens with ss_socket_from_info(), gives every
 *          connection its own eventfd with ss_event_select(READ|WRITE|CLOSE)
 *          and serves requests from a poll() loop over the eventfds, using
 *          ss_enum_network_events() as WSAEnumNetworkEvents.
 *   clients: open the connections (a window at a time), pipeline R
 *          requests of random size in random-sized chunks on each, and
 *          verify every byte of every response.
 *
 * Protocol: a request is {magic, conn, seq, len} + len payload bytes; the
 * response is {magic, conn, seq, worker, len, 0} + the payload XORed with a
 * function of (conn, seq, offset), so the client can check each byte and
 * count which worker answered.
 *
 * Handoff: once worker 0 has answered half of its expected share, it hands
 * every live connection to worker 1.  It has answered all it has read (its
 * responses are flushed first); the bytes of a request it has read only
 * partly travel with the token, the bytes still queued in the socket are
 * read by worker 1.  Worker 1 redeems the token and registers its own
 * eventfd through its own descriptor, which cancels worker 0's
 * registration, then acknowledges.  Worker 0 then watches the eventfds of
 * the handed-off sockets until it exits (while worker 1 keeps serving them)
 * and checks that not one signal arrived after the acknowledgement.
 *
 * Every output line starts with "# ".  Exit status 0 only if every check
 * held.
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
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/sharedsock.h>
#include <sharedsock.h>

#define MAX_WORKERS	16
#define MAX_CLIENTS	8
#define MAX_PAYLOAD	65536
#define REQ_MAGIC	0x51525353u	/* "SSRQ" */
#define RSP_MAGIC	0x53525353u	/* "SSRS" */
#define EVENT_MASK	(SS_FD_READ | SS_FD_WRITE | SS_FD_CLOSE)
#define GRACE_MS	300	/* silence watched at least this long after the last ack */
#define SWEEP_MS	250	/* lost-wakeup sweep period */
#define MAX_PROBLEMS	20	/* printed per process */

struct req_hdr {
	uint32_t magic, conn, seq, len;
};

struct rsp_hdr {
	uint32_t magic, conn, seq, worker, len, zero;
};

/* acceptor -> worker: one token per connection; < PIPE_BUF, so atomic. */
struct token_msg {
	struct ss_protocol_info info;
	uint32_t tag;		/* accept order, 0..C-1 */
	int32_t sndbuf;		/* SO_SNDBUF as the acceptor set it, or 0 */
};

/* worker 0 -> worker 1: a token plus the partial request read so far. */
struct handoff_msg {
	struct ss_protocol_info info;
	uint32_t tag;
	uint32_t carried;	/* bytes of a partial request that follow */
};

/* worker 1 -> worker 0: the new registration is in place. */
struct ack_msg {
	uint32_t tag;
	int32_t err;
};

struct worker_stats {
	pid_t pid;
	uint64_t conns;			/* redeemed from the acceptor */
	uint64_t handed_in, handed_out;
	uint64_t requests, bytes_in, bytes_out;
	uint64_t closed;		/* closed on FD_CLOSE */
	uint64_t handoff_at;		/* requests answered when handing off */
	uint64_t inflight_queued;	/* bytes in socket queues at handoff */
	uint64_t inflight_carried;	/* partial-request bytes sent along */
	uint64_t after_requests;	/* answered on handed-in connections */
	uint64_t after_bytes_in;	/* read on handed-in connections */
	uint64_t signals_before_ack;	/* eventfd signals before cancellation */
	uint64_t cancelled_checked, cancelled_silent;
	uint64_t ev_read, ev_write, ev_close;
	uint64_t lost_wakeups;
	uint64_t errors;
};

struct client_stats {
	uint64_t opened, completed, requests, bytes_sent, bytes_verified;
	uint64_t switched, errors;
	uint64_t worker_requests[MAX_WORKERS], worker_bytes[MAX_WORKERS];
};

struct acceptor_stats {
	uint64_t accepted, exported, errors;
};

struct shared {
	struct worker_stats w[MAX_WORKERS];
	struct client_stats c[MAX_CLIENTS];
	struct acceptor_stats a;
};

static struct config {
	int workers, conns, requests, clients, depth, maxlen, window, timeout;
	int bufsize;		/* server SO_SNDBUF and client SO_RCVBUF; 0: the system's */
	long handoff_after;
	uint64_t seed;
	int from, to;		/* the handoff: worker 0 -> worker 1 */
	uint16_t port;
} cfg = {
	.workers = 4, .conns = 200, .requests = 50, .clients = 2, .depth = 4,
	.maxlen = 1024, .window = 32, .timeout = 60, .handoff_after = -1,
	.seed = 0x5eed5eedULL, .from = 0, .to = 1,
};

static struct shared *shm;
static char role[32] = "main";
static uint64_t *err_counter;
static int problems_printed;
static volatile sig_atomic_t dump_requested, alarm_fired;

/* --- Helpers --- */

static void vsay(const char *prefix, const char *fmt, va_list ap)
{
	char buf[1024];
	int n = snprintf(buf, sizeof(buf), "# %s", prefix);

	if (n < 0)
		return;
	n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(STDOUT_FILENO, buf, n) < 0)
		return;
}

/* A report line. */
__attribute__((format(printf, 1, 2)))
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay("", fmt, ap);
	va_end(ap);
}

/* A line from a role. */
__attribute__((format(printf, 1, 2)))
static void note(const char *fmt, ...)
{
	char prefix[48];
	va_list ap;

	snprintf(prefix, sizeof(prefix), "[%s] ", role);
	va_start(ap, fmt);
	vsay(prefix, fmt, ap);
	va_end(ap);
}

/* Something that makes the run fail, counted in the role's statistics. */
__attribute__((format(printf, 1, 2)))
static void problem(const char *fmt, ...)
{
	char prefix[64];
	va_list ap;

	if (err_counter)
		(*err_counter)++;
	if (problems_printed++ >= MAX_PROBLEMS)
		return;
	snprintf(prefix, sizeof(prefix), "[%s] ERROR: ", role);
	va_start(ap, fmt);
	vsay(prefix, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 1, 2), noreturn))
static void die(const char *fmt, ...)
{
	char prefix[64];
	va_list ap;

	if (err_counter)
		(*err_counter)++;
	snprintf(prefix, sizeof(prefix), "[%s] FATAL: ", role);
	va_start(ap, fmt);
	vsay(prefix, fmt, ap);
	va_end(ap);
	_exit(3);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 1 when @len bytes were read, 0 on end of file before any, -1 otherwise. */
static int readn(int fd, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, (char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			if (done)
				errno = EPIPE;
			return done ? -1 : 0;
		}
		done += n;
	}
	return 1;
}

static int writen(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		done += n;
	}
	return 0;
}

static void reserve(unsigned char **buf, size_t *cap, size_t need)
{
	size_t ncap = *cap ? *cap : 4096;

	if (need <= *cap)
		return;
	while (ncap < need)
		ncap *= 2;
	*buf = realloc(*buf, ncap);
	if (!*buf)
		die("out of memory");
	*cap = ncap;
}

static void on_usr1(int sig)
{
	(void)sig;
	dump_requested = 1;
}

static void on_alarm(int sig)
{
	(void)sig;
	alarm_fired = 1;
}

static void catch(int sig, void (*fn)(int))
{
	struct sigaction sa = { .sa_handler = fn };

	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);	/* no SA_RESTART: poll/waitpid see EINTR */
}

/* --- The request stream: deterministic from (seed, conn, seq) --- */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t req_state(uint32_t conn, uint32_t seq)
{
	uint64_t s = cfg.seed ^ ((uint64_t)conn << 32 | seq);

	splitmix(&s);
	return s;
}

static uint32_t req_len(uint32_t conn, uint32_t seq)
{
	uint64_t s = req_state(conn, seq);

	return 1 + splitmix(&s) % (uint32_t)cfg.maxlen;
}

/* The payload of request @seq of connection @conn; returns its length. */
static uint32_t req_payload(uint32_t conn, uint32_t seq, unsigned char *buf)
{
	uint64_t s = req_state(conn, seq);
	uint32_t len = 1 + splitmix(&s) % (uint32_t)cfg.maxlen;
	uint32_t i;

	for (i = 0; i < len; i += 8) {
		uint64_t r = splitmix(&s);
		uint32_t k;

		for (k = 0; k < 8 && i + k < len; k++)
			buf[i + k] = (unsigned char)(r >> (8 * k));
	}
	return len;
}

/* What the server XORs into response byte @i. */
static unsigned char mix(uint32_t conn, uint32_t seq, uint32_t i)
{
	return (unsigned char)((conn * 131u + seq * 31u + i * 7u) ^ 0x5au);
}

/* --- Worker --- */

enum conn_state {
	CONN_ACTIVE,		/* ours: registered with our eventfd */
	CONN_HANDED,		/* token sent to the peer, not acknowledged */
	CONN_CANCELLED,		/* peer registered: our eventfd must stay silent */
};

struct conn {
	int fd, efd;
	uint32_t tag;
	enum conn_state state;
	bool handed_in, eof, suspect, noisy, dead;
	unsigned char *in, *out;
	size_t in_off, in_len, in_cap, out_off, out_len, out_cap;
};

struct worker {
	int id;
	struct worker_stats *st;
	int acc_rd, ho_rd, ho_wr, ack_rd, ack_wr, dev;
	pid_t peer;
	struct conn **c;
	size_t n, cap;
	bool handed_off;
	unsigned int acks_pending;
	int64_t last_ack_ms, last_sweep_ms;
	long handoff_after;
};

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

/* recv until EAGAIN or end of file; @got: bytes read. */
static int conn_read(struct worker *w, struct conn *c, size_t *got)
{
	for (;;) {
		ssize_t n;

		reserve(&c->in, &c->in_cap, c->in_len + 16384);
		n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
		if (n > 0) {
			c->in_len += n;
			*got += n;
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
static void conn_event(struct worker *w, struct conn *c)
{
	struct ss_network_events ne;
	size_t got = 0;
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

	if ((ev & (SS_FD_READ | SS_FD_CLOSE)) && conn_read(w, c, &got) < 0)
		goto drop;
	if (conn_flush(w, c) < 0)
		goto drop;
	if (!(ev & SS_FD_CLOSE))
		return;

	/* FD_CLOSE comes after the data: nothing may be left to read. */
	if (ne.error_code[SS_FD_CLOSE_BIT])
		problem("connection %u: FD_CLOSE with error %d", c->tag,
			ne.error_code[SS_FD_CLOSE_BIT]);
	if (got)
		problem("connection %u: FD_CLOSE reported with %zu bytes unread",
			c->tag, got);
	if (!c->eof)
		problem("connection %u: FD_CLOSE but recv did not see end of file",
			c->tag);
	if (c->in_len != c->in_off)
		problem("connection %u: closed by the client in mid-request", c->tag);
	if (c->out_len != c->out_off)
		problem("connection %u: closed with responses unsent", c->tag);
	w->st->closed++;
	c->dead = true;
	return;
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

/* Check the socket state that the acceptor set through its descriptor. */
static void check_shared_state(struct conn *c, int sndbuf)
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

static void register_conn(struct conn *c, int sndbuf)
{
	if (ss_event_select(c->fd, c->efd, EVENT_MASK) < 0)
		die("connection %u: ss_event_select: %m", c->tag);
	check_shared_state(c, sndbuf);
}

/* A token from the acceptor. */
static void worker_take_token(struct worker *w)
{
	struct token_msg m;
	struct conn *c;
	int r, fd;

	r = readn(w->acc_rd, &m, sizeof(m));
	if (r < 0)
		die("read token: %m");
	if (r == 0) {
		close(w->acc_rd);
		w->acc_rd = -1;
		return;
	}
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
	int r, fd;

	r = readn(w->ho_rd, &m, sizeof(m));
	if (r < 0)
		die("read handoff: %m");
	if (r == 0) {
		close(w->ho_rd);
		w->ho_rd = -1;
		return;
	}
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

/* Worker 0: hand every live connection to worker 1. */
static void worker_handoff(struct worker *w)
{
	size_t i, live = count_state(w, CONN_ACTIVE);

	note("handing %zu live connections to worker %d (pid %d) after %" PRIu64
	     " requests", live, cfg.to, (int)w->peer, w->st->requests);
	w->st->handoff_at = w->st->requests;
	for (i = 0; i < w->n; i++) {
		struct conn *c = w->c[i];
		int64_t deadline = now_ms() + 5000;
		struct handoff_msg m;
		int queued = 0;

		if (c->state != CONN_ACTIVE || c->dead)
			continue;
		/* Answer what we have read: flush every response we owe. */
		while (c->out_off < c->out_len) {
			struct pollfd p = { .fd = c->fd, .events = POLLOUT };

			if (conn_flush(w, c) < 0)
				break;
			if (c->out_off == c->out_len)
				break;
			if (now_ms() > deadline) {
				problem("connection %u: could not flush before handoff",
					c->tag);
				break;
			}
			poll(&p, 1, 100);
		}
		if (ioctl(c->fd, FIONREAD, &queued) == 0 && queued > 0)
			w->st->inflight_queued += queued;
		memset(&m, 0, sizeof(m));
		if (ss_duplicate_socket(c->fd, w->peer, &m.info) < 0) {
			problem("connection %u: ss_duplicate_socket: %m", c->tag);
			continue;
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

/* A cancelled registration's eventfd fired. */
static void cancelled_signalled(struct conn *c)
{
	uint64_t v = 0;

	if (read(c->efd, &v, sizeof(v)) != sizeof(v))
		return;
	if (!c->noisy)
		problem("connection %u: eventfd signalled %" PRIu64
			" time(s) after its registration was replaced", c->tag, v);
	c->noisy = true;
}

/*
 * An event recorded but never signalled would stall a connection forever.
 * Look for them with ENUM_PEEK (which fetches and resets nothing): recorded
 * events, and an eventfd still unsignalled at two sweeps in a row.
 */
static void worker_sweep(struct worker *w)
{
	size_t i;

	for (i = 0; i < w->n; i++) {
		struct conn *c = w->c[i];
		struct sharedsock_enum a = {
			.size = sizeof(a), .flags = SHAREDSOCK_ENUM_PEEK,
			.fd = c->fd, .eventfd = -1,
		};
		struct pollfd p = { .fd = c->efd, .events = POLLIN };

		if (c->state != CONN_ACTIVE || c->dead)
			continue;
		if (ioctl(w->dev, SHAREDSOCK_IOC_ENUM, &a) < 0 || !a.events ||
		    poll(&p, 1, 0) != 0) {
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

static void worker_dump(struct worker *w)
{
	size_t i;

	note("pid %d: %zu connections, acceptor pipe %s, %u acks pending, "
	     "%" PRIu64 " requests", (int)getpid(), w->n,
	     w->acc_rd >= 0 ? "open" : "closed", w->acks_pending, w->st->requests);
	for (i = 0; i < w->n && i < 40; i++) {
		struct conn *c = w->c[i];
		struct sharedsock_enum a = {
			.size = sizeof(a), .flags = SHAREDSOCK_ENUM_PEEK,
			.fd = c->fd, .eventfd = -1,
		};
		struct pollfd p = { .fd = c->efd, .events = POLLIN };
		int queued = -1;

		ioctl(w->dev, SHAREDSOCK_IOC_ENUM, &a);
		ioctl(c->fd, FIONREAD, &queued);
		note("  conn %u state %d in %zu out %zu eof %d pending %#x mask %#x "
		     "eventfd %s queued %d", c->tag, c->state, c->in_len - c->in_off,
		     c->out_len - c->out_off, c->eof, a.events, a.mask,
		     poll(&p, 1, 0) > 0 ? "set" : "clear", queued);
	}
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

static int worker_main(struct worker *w)
{
	struct pollfd *pfd = NULL;
	struct conn **who = NULL;
	size_t pcap = 0, i;

	snprintf(role, sizeof(role), "worker %d", w->id);
	w->st = &shm->w[w->id];
	err_counter = &w->st->errors;
	w->st->pid = getpid();
	w->dev = open(SHAREDSOCK_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (w->dev < 0)
		die("open %s: %m", SHAREDSOCK_DEVICE_PATH);
	if (w->id == cfg.to) {
		pid_t me = getpid();

		if (writen(w->ack_wr, &me, sizeof(me)) < 0)
			die("write hello: %m");
	}
	if (w->id == cfg.from && readn(w->ack_rd, &w->peer, sizeof(w->peer)) != 1)
		die("read hello: %m");

	while (!worker_done(w)) {
		size_t np = 0, need = w->n + 3;
		int n;

		if (dump_requested) {
			dump_requested = 0;
			worker_dump(w);
		}
		if (pcap < need) {
			pcap = need * 2;
			pfd = realloc(pfd, pcap * sizeof(*pfd));
			who = realloc(who, pcap * sizeof(*who));
			if (!pfd || !who)
				die("out of memory");
		}
		if (w->acc_rd >= 0) {
			pfd[np] = (struct pollfd){ .fd = w->acc_rd, .events = POLLIN };
			who[np++] = NULL;
		}
		if (w->ho_rd >= 0) {
			pfd[np] = (struct pollfd){ .fd = w->ho_rd, .events = POLLIN };
			who[np++] = NULL;
		}
		if (w->acks_pending) {
			pfd[np] = (struct pollfd){ .fd = w->ack_rd, .events = POLLIN };
			who[np++] = NULL;
		}
		for (i = 0; i < w->n; i++) {
			/* Not before the ack: until then, signals are legitimate. */
			if (w->c[i]->state == CONN_HANDED)
				continue;
			pfd[np] = (struct pollfd){ .fd = w->c[i]->efd, .events = POLLIN };
			who[np++] = w->c[i];
		}
		n = poll(pfd, np, 100);
		if (n < 0 && errno != EINTR)
			die("poll: %m");
		for (i = 0; n > 0 && i < np; i++) {
			struct conn *c = who[i];

			if (!pfd[i].revents)
				continue;
			if (!c) {
				if (pfd[i].fd == w->acc_rd)
					worker_take_token(w);
				else if (pfd[i].fd == w->ho_rd)
					worker_take_handoff(w);
				else if (pfd[i].fd == w->ack_rd)
					worker_take_ack(w);
				continue;
			}
			if (c->dead)
				continue;
			if (c->state == CONN_CANCELLED)
				cancelled_signalled(c);
			else
				conn_event(w, c);
		}
		conns_reap(w);
		if (now_ms() - w->last_sweep_ms >= SWEEP_MS) {
			w->last_sweep_ms = now_ms();
			worker_sweep(w);
			conns_reap(w);
		}
		if (w->id == cfg.from && !w->handed_off && w->ho_wr >= 0 &&
		    (long)w->st->requests >= w->handoff_after &&
		    count_state(w, CONN_ACTIVE))
			worker_handoff(w);
	}

	/* Last look at the cancelled registrations' eventfds, then close. */
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
	conns_reap(w);
	free(pfd);
	free(who);
	return w->st->errors ? 1 : 0;
}

/* --- Acceptor --- */

static int acceptor_main(int lfd, const int *to_worker, const pid_t *wpid)
{
	struct acceptor_stats *st = &shm->a;
	int i;

	snprintf(role, sizeof(role), "acceptor");
	err_counter = &st->errors;
	while (st->accepted < (uint64_t)cfg.conns) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		struct token_msg m;
		int one = 1, fd, k;

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
		/* Socket state is shared: the workers will see this option. */
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
			die("TCP_NODELAY: %m");
		k = st->accepted % cfg.workers;
		memset(&m, 0, sizeof(m));
		if (cfg.bufsize) {
			/* A small send buffer: the workers' sends will block. */
			socklen_t len = sizeof(m.sndbuf);

			if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &cfg.bufsize,
				       sizeof(cfg.bufsize)) < 0 ||
			    getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &m.sndbuf, &len) < 0)
				die("SO_SNDBUF: %m");
		}
		if (ss_duplicate_socket(fd, wpid[k], &m.info) < 0)
			die("ss_duplicate_socket to worker %d: %m", k);
		m.tag = st->accepted;
		if (writen(to_worker[k], &m, sizeof(m)) < 0)
			die("write token: %m");
		/* The token keeps the socket alive: our descriptor can go. */
		close(fd);
		st->exported++;
		st->accepted++;
	}
	close(lfd);
	for (i = 0; i < cfg.workers; i++)
		close(to_worker[i]);
	return st->errors ? 1 : 0;
}

/* --- Client load generator --- */

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

		reserve(&c->in, &c->in_cap, c->in_len + 16384);
		n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
		if (n > 0) {
			c->in_len += n;
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

static int client_main(int index)
{
	struct client_stats *st = &shm->c[index];
	struct cconn **c = calloc(cfg.window, sizeof(*c));
	struct pollfd *pfd = calloc(cfg.window, sizeof(*pfd));
	unsigned char *scratch = malloc(cfg.maxlen);
	uint32_t next = index;
	int64_t last_progress = now_ms();
	uint64_t last_requests = 0;
	unsigned int active = 0, i;

	snprintf(role, sizeof(role), "client %d", index);
	err_counter = &st->errors;
	if (!c || !pfd || !scratch)
		die("out of memory");
	for (;;) {
		int n;

		while (active < (unsigned int)cfg.window && next < (uint32_t)cfg.conns) {
			c[active++] = cconn_open(next, st);
			next += cfg.clients;
		}
		if (!active)
			break;
		for (i = 0; i < active; i++)
			pfd[i] = (struct pollfd){
				.fd = c[i]->fd,
				.events = POLLIN | (c[i]->out_len ? POLLOUT : 0),
			};
		n = poll(pfd, active, 1000);
		if (n < 0 && errno != EINTR)
			die("poll: %m");
		for (i = 0; n > 0 && i < active; i++) {
			if (pfd[i].revents & (POLLIN | POLLERR | POLLHUP))
				cconn_read(c[i], st, scratch);
			if (!c[i]->dead && (pfd[i].revents & POLLOUT))
				cconn_send(c[i], st);
			if (!c[i]->dead)
				cconn_fill(c[i]);
		}
		for (i = 0; i < active;) {
			struct cconn *d = c[i];

			if (!d->dead && (d->acked < (uint32_t)cfg.requests || d->out_len)) {
				i++;
				continue;
			}
			if (!d->dead)
				st->completed++;
			close(d->fd);
			free(d->in);
			free(d->out);
			free(d);
			c[i] = c[--active];
		}
		if (st->requests != last_requests) {
			last_requests = st->requests;
			last_progress = now_ms();
		}
		if (dump_requested || now_ms() - last_progress > 5000) {
			dump_requested = 0;
			last_progress = now_ms();
			note("%" PRIu64 " requests answered, %u connections open:",
			     st->requests, active);
			for (i = 0; i < active && i < 20; i++)
				note("  conn %u: sent %u, answered %u, worker %d, %zu bytes unsent",
				     c[i]->id, c[i]->next_seq, c[i]->acked, c[i]->worker,
				     c[i]->out_len - c[i]->out_off);
		}
	}
	free(c);
	free(pfd);
	free(scratch);
	return st->errors ? 1 : 0;
}

/* --- Main: set up, wait, check, report --- */

struct child {
	pid_t pid;
	char name[24];
	int status;
	bool done;
};

static struct child children[MAX_WORKERS + MAX_CLIENTS + 1];
static int nchildren;

static pid_t spawn(const char *name, int (*fn)(void *), void *arg,
		   const int *keep, int nkeep, const int *fds, int nfds)
{
	pid_t pid;
	int i, j;

	pid = fork();
	if (pid < 0)
		die("fork: %m");
	if (pid == 0) {
		/* Keep only our pipe ends, or end of file never comes. */
		for (i = 0; i < nfds; i++) {
			bool mine = false;

			for (j = 0; j < nkeep; j++)
				mine |= fds[i] == keep[j];
			if (!mine && fds[i] >= 0)
				close(fds[i]);
		}
		catch(SIGUSR1, on_usr1);
		signal(SIGALRM, SIG_DFL);
		alarm(cfg.timeout + 10);	/* a last resort */
		_exit(fn(arg));
	}
	children[nchildren].pid = pid;
	snprintf(children[nchildren].name, sizeof(children[0].name), "%s", name);
	nchildren++;
	return pid;
}

struct worker_arg {
	struct worker w;
};

static int run_worker(void *arg)
{
	return worker_main(&((struct worker_arg *)arg)->w);
}

struct acceptor_arg {
	int lfd;
	int to_worker[MAX_WORKERS];
	pid_t wpid[MAX_WORKERS];
};

static int run_acceptor(void *arg)
{
	struct acceptor_arg *a = arg;

	return acceptor_main(a->lfd, a->to_worker, a->wpid);
}

static int run_client(void *arg)
{
	return client_main(*(int *)arg);
}

static int status_read(int dev, struct sharedsock_status *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	return ioctl(dev, SHAREDSOCK_IOC_STATUS, st);
}

static void kill_children(int sig)
{
	int i;

	for (i = 0; i < nchildren; i++)
		if (!children[i].done)
			kill(children[i].pid, sig);
}

/* Wait for every child; on a failure or the timeout, stop the others. */
static bool wait_children(void)
{
	bool ok = true, killing = false;
	int left = nchildren;

	catch(SIGALRM, on_alarm);
	alarm(cfg.timeout);
	while (left) {
		int status, i;
		pid_t pid = waitpid(-1, &status, 0);

		if (pid < 0) {
			if (errno != EINTR)
				die("waitpid: %m");
			if (alarm_fired && !killing) {
				say("FAILED: timed out after %d s; what each process was doing:",
				    cfg.timeout);
				ok = false;
				killing = true;
				kill_children(SIGUSR1);
				usleep(500000);
				kill_children(SIGKILL);
			}
			continue;
		}
		for (i = 0; i < nchildren; i++) {
			if (children[i].pid != pid)
				continue;
			children[i].done = true;
			children[i].status = status;
			left--;
			if (WIFEXITED(status) && !WEXITSTATUS(status))
				break;
			if (!killing) {
				if (WIFEXITED(status))
					say("FAILED: %s (pid %d) exited with status %d",
					    children[i].name, (int)pid, WEXITSTATUS(status));
				else
					say("FAILED: %s (pid %d) killed by signal %d",
					    children[i].name, (int)pid, WTERMSIG(status));
				say("stopping the others; what they were doing:");
				ok = false;
				killing = true;
				kill_children(SIGUSR1);
				usleep(500000);
				kill_children(SIGKILL);
			}
			break;
		}
	}
	alarm(0);
	return ok;
}

static int failures;

#define CHECK(cond, ...)					\
	do {							\
		if (!(cond)) {					\
			failures++;				\
			say("FAILED: " __VA_ARGS__);		\
		}						\
	} while (0)

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-w workers] [-c connections] [-r requests] [-p clients]\n"
		"          [-d depth] [-m max_payload] [-W window] [-k handoff_after]\n"
		"          [-b buffer_bytes] [-s seed] [-t timeout_s]\n", prog);
	exit(2);
}

static long arg_num(const char *s, long lo, long hi, const char *prog)
{
	char *end;
	long v = strtol(s, &end, 0);

	if (*s == '\0' || *end || v < lo || v > hi)
		usage(prog);
	return v;
}

int main(int argc, char **argv)
{
	struct sharedsock_status before, after;
	uint64_t exp_req_bytes = 0, exp_rsp_bytes = 0, handoffs;
	uint64_t sum_conns = 0, sum_closed = 0, sum_req = 0, sum_in = 0, sum_out = 0;
	uint64_t worker_errors = 0, lost = 0, ev_read = 0, ev_write = 0, ev_close = 0;
	struct client_stats cl = { 0 };
	int fds[2 * MAX_WORKERS + 4], nfds = 0;
	int acc[MAX_WORKERS][2], ho[2], ack[2];
	struct acceptor_arg aa = { 0 };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t slen = sizeof(sin);
	pid_t wpid[MAX_WORKERS];
	int64_t t0;
	int dev, lfd, opt, i, k;
	bool ok;

	while ((opt = getopt(argc, argv, "w:c:r:p:d:m:W:k:b:s:t:h")) != -1) {
		switch (opt) {
		case 'w': cfg.workers = arg_num(optarg, 2, MAX_WORKERS, argv[0]); break;
		case 'c': cfg.conns = arg_num(optarg, 1, 100000, argv[0]); break;
		case 'r': cfg.requests = arg_num(optarg, 1, 1000000, argv[0]); break;
		case 'p': cfg.clients = arg_num(optarg, 1, MAX_CLIENTS, argv[0]); break;
		case 'd': cfg.depth = arg_num(optarg, 1, 1000, argv[0]); break;
		case 'm': cfg.maxlen = arg_num(optarg, 1, MAX_PAYLOAD, argv[0]); break;
		case 'W': cfg.window = arg_num(optarg, 1, 10000, argv[0]); break;
		case 'k': cfg.handoff_after = arg_num(optarg, 0, 1L << 40, argv[0]); break;
		case 'b': cfg.bufsize = arg_num(optarg, 0, 1 << 26, argv[0]); break;
		case 's': cfg.seed = arg_num(optarg, 0, 1L << 40, argv[0]); break;
		case 't': cfg.timeout = arg_num(optarg, 1, 3600, argv[0]); break;
		default: usage(argv[0]);
		}
	}
	if (optind != argc)
		usage(argv[0]);
	if (cfg.handoff_after < 0) {
		/* Half of worker 0's share: its connections are mid-stream. */
		long share = (cfg.conns + cfg.workers - 1) / cfg.workers;

		cfg.handoff_after = share * cfg.requests / 2;
		if (cfg.handoff_after < 1)
			cfg.handoff_after = 1;
	}
	signal(SIGPIPE, SIG_IGN);
	t0 = now_ms();

	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED)
		die("mmap: %m");
	dev = open(SHAREDSOCK_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (dev < 0)
		die("open %s: %m (is the module loaded?)", SHAREDSOCK_DEVICE_PATH);
	if (status_read(dev, &before) < 0)
		die("SHAREDSOCK_IOC_STATUS: %m");

	/* Expected traffic, from the same generator the client uses. */
	for (i = 0; i < cfg.conns; i++)
		for (k = 0; k < cfg.requests; k++) {
			uint32_t len = req_len(i, k);

			exp_req_bytes += sizeof(struct req_hdr) + len;
			exp_rsp_bytes += sizeof(struct rsp_hdr) + len;
		}

	for (i = 0; i < cfg.workers; i++) {
		if (pipe2(acc[i], O_CLOEXEC) < 0)
			die("pipe: %m");
		fds[nfds++] = acc[i][0];
		fds[nfds++] = acc[i][1];
	}
	if (pipe2(ho, O_CLOEXEC) < 0 || pipe2(ack, O_CLOEXEC) < 0)
		die("pipe: %m");
	fds[nfds++] = ho[0];
	fds[nfds++] = ho[1];
	fds[nfds++] = ack[0];
	fds[nfds++] = ack[1];

	for (i = 0; i < cfg.workers; i++) {
		struct worker_arg wa = { .w = {
			.id = i, .acc_rd = acc[i][0], .ho_rd = -1, .ho_wr = -1,
			.ack_rd = -1, .ack_wr = -1, .dev = -1,
			.handoff_after = cfg.handoff_after,
		} };
		int keep[3] = { acc[i][0], -1, -1 };
		char name[24];

		if (i == cfg.from) {
			wa.w.ho_wr = keep[1] = ho[1];
			wa.w.ack_rd = keep[2] = ack[0];
		} else if (i == cfg.to) {
			wa.w.ho_rd = keep[1] = ho[0];
			wa.w.ack_wr = keep[2] = ack[1];
		}
		snprintf(name, sizeof(name), "worker %d", i);
		wpid[i] = spawn(name, run_worker, &wa, keep, 3, fds, nfds);
	}

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(lfd, 1024) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &slen) < 0)
		die("listening socket: %m");
	cfg.port = ntohs(sin.sin_port);
	fds[nfds++] = lfd;

	aa.lfd = lfd;
	for (i = 0; i < cfg.workers; i++) {
		aa.to_worker[i] = acc[i][1];
		aa.wpid[i] = wpid[i];
	}
	{
		int keep[MAX_WORKERS + 1];

		for (i = 0; i < cfg.workers; i++)
			keep[i] = acc[i][1];
		keep[cfg.workers] = lfd;
		spawn("acceptor", run_acceptor, &aa, keep, cfg.workers + 1, fds, nfds);
	}
	for (i = 0; i < cfg.clients; i++) {
		char name[24];

		snprintf(name, sizeof(name), "client %d", i);
		spawn(name, run_client, &i, NULL, 0, fds, nfds);
	}
	for (i = 0; i < nfds; i++)
		close(fds[i]);

	say("sharedsock acceptor/worker demo: %d workers, %d connections x %d "
	    "requests (payload 1..%d bytes, %d in flight per connection), "
	    "%d client processes, port %u", cfg.workers, cfg.conns, cfg.requests,
	    cfg.maxlen, cfg.depth, cfg.clients, cfg.port);
	say("handoff: worker %d hands its live connections to worker %d after "
	    "answering %ld requests", cfg.from, cfg.to, cfg.handoff_after);

	ok = wait_children();
	CHECK(ok, "a process failed or the run timed out");
	if (status_read(dev, &after) < 0)
		die("SHAREDSOCK_IOC_STATUS: %m");

	/* The table. */
	for (i = 0; i < cfg.clients; i++) {
		struct client_stats *c = &shm->c[i];

		cl.opened += c->opened;
		cl.completed += c->completed;
		cl.requests += c->requests;
		cl.bytes_sent += c->bytes_sent;
		cl.bytes_verified += c->bytes_verified;
		cl.switched += c->switched;
		cl.errors += c->errors;
		for (k = 0; k < cfg.workers; k++) {
			cl.worker_requests[k] += c->worker_requests[k];
			cl.worker_bytes[k] += c->worker_bytes[k];
		}
	}
	say("%-6s %6s %6s %6s %6s %8s %9s %9s %6s", "worker", "pid", "conns",
	    "in", "out", "requests", "bytes_in", "bytes_out", "errors");
	for (i = 0; i < cfg.workers; i++) {
		struct worker_stats *w = &shm->w[i];

		say("%6d %6d %6" PRIu64 " %6" PRIu64 " %6" PRIu64 " %8" PRIu64
		    " %9" PRIu64 " %9" PRIu64 " %6" PRIu64, i, (int)w->pid,
		    w->conns, w->handed_in, w->handed_out, w->requests,
		    w->bytes_in, w->bytes_out, w->errors);
		sum_conns += w->conns;
		sum_closed += w->closed;
		sum_req += w->requests;
		sum_in += w->bytes_in;
		sum_out += w->bytes_out;
		worker_errors += w->errors;
		lost += w->lost_wakeups;
		ev_read += w->ev_read;
		ev_write += w->ev_write;
		ev_close += w->ev_close;
		CHECK(w->closed == w->conns + w->handed_in - w->handed_out,
		      "worker %d closed %" PRIu64 " connections on FD_CLOSE, "
		      "expected %" PRIu64, i, w->closed,
		      w->conns + w->handed_in - w->handed_out);
		CHECK(w->requests == cl.worker_requests[i],
		      "worker %d answered %" PRIu64 " requests, the client counted %"
		      PRIu64, i, w->requests, cl.worker_requests[i]);
		CHECK(w->bytes_out == cl.worker_bytes[i],
		      "worker %d sent %" PRIu64 " bytes, the client verified %" PRIu64,
		      i, w->bytes_out, cl.worker_bytes[i]);
	}
	say("%6s %6s %6" PRIu64 " %6s %6s %8" PRIu64 " %9" PRIu64 " %9" PRIu64
	    " %6" PRIu64, "total", "", sum_conns, "", "", sum_req, sum_in, sum_out,
	    worker_errors);
	say("(conns: redeemed from the acceptor; in/out: connections handed over)");
	say("acceptor: accepted %" PRIu64 ", tokens sent %" PRIu64, shm->a.accepted,
	    shm->a.exported);

	handoffs = shm->w[cfg.from].handed_out;
	say("handoffs: %" PRIu64 " live connections, worker %d (pid %d) -> worker "
	    "%d (pid %d), after %" PRIu64 " requests", handoffs, cfg.from,
	    (int)shm->w[cfg.from].pid, cfg.to, (int)shm->w[cfg.to].pid,
	    shm->w[cfg.from].handoff_at);
	say("  in flight: %" PRIu64 " bytes queued in the sockets, %" PRIu64
	    " bytes of partial requests carried with the tokens",
	    shm->w[cfg.from].inflight_queued, shm->w[cfg.from].inflight_carried);
	say("  after the handoff worker %d read %" PRIu64 " bytes and answered %"
	    PRIu64 " requests on them; %" PRIu64 " connections seen switching by "
	    "the client", cfg.to, shm->w[cfg.to].after_bytes_in,
	    shm->w[cfg.to].after_requests, cl.switched);
	say("registrations cancelled: %" PRIu64 " (module counter +%" PRIu64
	    "); eventfds of worker %d silent afterwards: %" PRIu64 "/%" PRIu64
	    " (%" PRIu64 " signals before the cancellation)", handoffs,
	    (uint64_t)(after.registrations_replaced - before.registrations_replaced),
	    cfg.from, shm->w[cfg.from].cancelled_silent,
	    shm->w[cfg.from].cancelled_checked, shm->w[cfg.from].signals_before_ack);
	say("tokens pending at end: %u (exported +%" PRIu64 ", redeemed +%" PRIu64
	    ", expired +%" PRIu64 "); registrations left: %u",
	    after.tokens_pending,
	    (uint64_t)(after.tokens_exported - before.tokens_exported),
	    (uint64_t)(after.tokens_redeemed - before.tokens_redeemed),
	    (uint64_t)(after.tokens_expired - before.tokens_expired),
	    after.registrations);
	say("client: connections %" PRIu64 "/%" PRIu64 ", requests %" PRIu64
	    ", bytes sent %" PRIu64 ", bytes verified %" PRIu64 ", errors %" PRIu64,
	    cl.completed, cl.opened, cl.requests, cl.bytes_sent,
	    cl.bytes_verified, cl.errors);
	say("events fetched: FD_READ %" PRIu64 ", FD_WRITE %" PRIu64 ", FD_CLOSE %"
	    PRIu64, ev_read, ev_write, ev_close);
	if (lost)
		say("lost wake-ups (events recorded, eventfd not signalled): %" PRIu64,
		    lost);

	/* The checks. */
	CHECK(cl.opened == (uint64_t)cfg.conns && cl.completed == (uint64_t)cfg.conns,
	      "client completed %" PRIu64 " of %d connections", cl.completed,
	      cfg.conns);
	CHECK(cl.requests == (uint64_t)cfg.conns * cfg.requests && !cl.errors,
	      "client: %" PRIu64 " requests answered correctly, %" PRIu64 " errors",
	      cl.requests, cl.errors);
	CHECK(cl.bytes_sent == exp_req_bytes && sum_in == exp_req_bytes,
	      "request bytes: expected %" PRIu64 ", client sent %" PRIu64
	      ", workers read %" PRIu64, exp_req_bytes, cl.bytes_sent, sum_in);
	CHECK(cl.bytes_verified == exp_rsp_bytes && sum_out == exp_rsp_bytes,
	      "response bytes: expected %" PRIu64 ", workers sent %" PRIu64
	      ", client verified %" PRIu64, exp_rsp_bytes, sum_out,
	      cl.bytes_verified);
	CHECK(shm->a.accepted == (uint64_t)cfg.conns && sum_conns == shm->a.accepted &&
	      sum_closed == shm->a.accepted,
	      "connections: accepted %" PRIu64 ", redeemed %" PRIu64 ", closed %"
	      PRIu64, shm->a.accepted, sum_conns, sum_closed);
	CHECK(ev_close == (uint64_t)cfg.conns,
	      "FD_CLOSE reported %" PRIu64 " times for %d connections", ev_close,
	      cfg.conns);
	CHECK(sum_req == (uint64_t)cfg.conns * cfg.requests,
	      "workers answered %" PRIu64 " requests", sum_req);
	CHECK(handoffs > 0, "no connection was handed off");
	CHECK(cl.switched <= handoffs,
	      "the client saw %" PRIu64 " connections change worker, only %" PRIu64
	      " were handed off", cl.switched, handoffs);
	CHECK(shm->w[cfg.to].handed_in == handoffs,
	      "worker %d took over %" PRIu64 " of %" PRIu64 " handed-off connections",
	      cfg.to, shm->w[cfg.to].handed_in, handoffs);
	CHECK(shm->w[cfg.from].cancelled_checked == handoffs &&
	      shm->w[cfg.from].cancelled_silent == handoffs,
	      "cancelled registrations: %" PRIu64 " of %" PRIu64 " stayed silent",
	      shm->w[cfg.from].cancelled_silent, handoffs);
	CHECK(after.registrations_replaced - before.registrations_replaced == handoffs,
	      "module counted %" PRIu64 " replaced registrations, expected %" PRIu64,
	      (uint64_t)(after.registrations_replaced - before.registrations_replaced),
	      handoffs);
	CHECK(after.registrations_created - before.registrations_created ==
	      (uint64_t)cfg.conns,
	      "module counted %" PRIu64 " registrations created, expected %d",
	      (uint64_t)(after.registrations_created - before.registrations_created),
	      cfg.conns);
	CHECK(after.tokens_pending == 0, "%u tokens still pending",
	      after.tokens_pending);
	CHECK(after.tokens_exported - before.tokens_exported == cfg.conns + handoffs &&
	      after.tokens_redeemed - before.tokens_redeemed == cfg.conns + handoffs,
	      "tokens: exported +%" PRIu64 ", redeemed +%" PRIu64 ", expected %"
	      PRIu64, (uint64_t)(after.tokens_exported - before.tokens_exported),
	      (uint64_t)(after.tokens_redeemed - before.tokens_redeemed),
	      cfg.conns + handoffs);
	CHECK(after.registrations == before.registrations,
	      "%u registrations left, %u before", after.registrations,
	      before.registrations);
	CHECK(!worker_errors && !shm->a.errors, "workers reported %" PRIu64
	      " errors, the acceptor %" PRIu64, worker_errors, shm->a.errors);
	CHECK(!lost, "%" PRIu64 " lost wake-ups", lost);

	say("time: %.1f s", (now_ms() - t0) / 1000.0);
	if (failures)
		say("result: FAIL (%d checks failed)", failures);
	else
		say("result: PASS (every byte verified, handoff without loss, "
		    "cancelled registrations silent, no token left)");
	return failures ? 1 : 0;
}
