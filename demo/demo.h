/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * acceptor_demo: what its parts share.
 *
 *   server.c   the pattern: the acceptor and the workers (read it first)
 *   verify.c   the checks the workers make as they go
 *   client.c   the load generator, which verifies every response byte
 *   report.c   the table and the checks at the end
 *   main.c     options, processes, waiting
 *   common.c   output, pipe I/O, the request stream
 */
#ifndef DEMO_H
#define DEMO_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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

/* --- The protocol --- */

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

/* --- Statistics, in memory shared by every process --- */

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

struct config {
	int workers, conns, requests, clients, depth, maxlen, window, timeout;
	int bufsize;		/* server SO_SNDBUF and client SO_RCVBUF; 0: the system's */
	long handoff_after;
	uint64_t seed;
	int from, to;		/* the handoff: worker 0 -> worker 1 */
	uint16_t port;
};

extern struct config cfg;
extern struct shared *shm;
extern char role[32];
extern uint64_t *err_counter;
extern volatile sig_atomic_t dump_requested, alarm_fired;

/* --- A worker's connections (server.c; verify.c looks at them) --- */

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
	int acc_rd, ho_rd, ho_wr, ack_rd, ack_wr;
	pid_t peer;
	struct conn **c;
	size_t n, cap;
	bool handed_off;
	unsigned int acks_pending;
	int64_t last_ack_ms, last_sweep_ms;
	long handoff_after;
};

/* server.c */
int acceptor_main(int lfd, const int *to_worker, const pid_t *wpid);
int worker_main(struct worker *w);
void conn_event(struct worker *w, struct conn *c);

/* verify.c */
void check_registration(struct conn *c, int sndbuf);
void check_close(struct conn *c, const struct ss_network_events *ne);
void cancelled_signalled(struct conn *c);
void cancelled_final(struct worker *w);
void worker_checks(struct worker *w);

/* client.c */
int client_main(int index);

/* report.c */
struct sharedsock_status;
int status_read(struct sharedsock_status *st);
int report(const struct sharedsock_status *before,
	   const struct sharedsock_status *after, bool processes_ok,
	   int64_t t0);

/* common.c */
__attribute__((format(printf, 1, 2)))
void say(const char *fmt, ...);
__attribute__((format(printf, 1, 2)))
void note(const char *fmt, ...);
__attribute__((format(printf, 1, 2)))
void problem(const char *fmt, ...);
__attribute__((format(printf, 1, 2), noreturn))
void die(const char *fmt, ...);
int64_t now_ms(void);
int readn(int fd, void *buf, size_t len);
int writen(int fd, const void *buf, size_t len);
void reserve(unsigned char **buf, size_t *cap, size_t need);
ssize_t recv_more(int fd, unsigned char **buf, size_t *len, size_t *cap);
void catch(int sig, void (*fn)(int));
void on_usr1(int sig);
void on_alarm(int sig);
uint64_t splitmix(uint64_t *s);
uint32_t req_len(uint32_t conn, uint32_t seq);
uint32_t req_payload(uint32_t conn, uint32_t seq, unsigned char *buf);
unsigned char mix(uint32_t conn, uint32_t seq, uint32_t i);

#endif /* DEMO_H */
