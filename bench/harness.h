/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The benchmark's shared harness: options, result rows in memory shared
 * with the phase children, messages, timing and statistics, process and
 * socket helpers, /proc readers, and the entry point of every benchmark
 * family.  Each family (micro.c, handoff.c, event.c, overhead.c, memory.c,
 * scale.c, trace.c, unload.c) calls only what is declared here; the
 * harness (harness*.c) runs the families, prints the table, the targets
 * and the CSV.
 */
#ifndef SHAREDSOCK_BENCH_HARNESS_H
#define SHAREDSOCK_BENCH_HARNESS_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <linux/sharedsock.h>
#include <sharedsock.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

#define MAX_RUNS	32
#define MAX_ROWS	160
#define MAX_LEVELS	6
#define HO_MAXN		64	/* most sockets handed over at once */
#define MSG_SIZE	64	/* bytes per message in the event tests */

/* ------------------------------------------------------------------ */
/* Options (harness_main.c)                                            */

enum {
	PH_HANDOFF = 1 << 0,
	PH_EVENT = 1 << 1,
	PH_MEMORY = 1 << 2,
	PH_SCALE = 1 << 3,
	PH_MICRO = 1 << 4,
	PH_UNLOAD = 1 << 5,
	PH_OVERHEAD = 1 << 6,
	PH_TRACE = 1 << 7,	/* opt-in: function_graph of the hot paths */
	PH_ALL = (1 << 7) - 1,
};

struct options {
	int runs;
	unsigned int phases;
	long handoff_iters;	/* single-socket handoffs per run and mechanism */
	long latency_iters;	/* ping-pong round trips per run and variant */
	long stream_msgs;	/* messages per run in the streaming tests */
	long cpu_msgs;		/* messages per run in the one-thread cost test */
	long levels[MAX_LEVELS];
	int nlevels;
	long sample;		/* redeems timed per run and level */
	long regs;		/* registrations for the memory figure */
	long unload_tokens;
	long micro_ops;
	bool xcpu;		/* also run the cross-CPU placements */
	unsigned int phase_timeout;
	const char *ko;
};

extern struct options opt;

/* ------------------------------------------------------------------ */
/* Results, in memory shared with the phase children (harness.c)       */

struct row {
	char name[48];		/* CSV name */
	char label[72];		/* table label */
	char unit[16];
	int n;
	double v[MAX_RUNS];
	int npeers;
	int peer[2];		/* rows this one is compared with */
	int nr[2];
	double r[2][MAX_RUNS];	/* per-run ratios to peer[i], when paired */
};

struct shared {
	int nrows;
	struct row rows[MAX_ROWS];
	/* Scale phase -> parent: tokens left behind when the child exits. */
	long reap_tokens;
	long reap_slab_base;	/* sharedsock_token active objects before the test */
	uint64_t reap_exit_ns;
	char notes[16][160];
	int nnotes;
};

extern struct shared *sh;

int row_find(const char *name);
int row_new(const char *name, const char *label, const char *unit);
void row_add(int i, double v);
/* Compare row @i with @peer from their medians (measured at other times). */
void row_compare(int i, int peer);
/* Record one run's ratio of row @i to @peer, both measured in that run. */
void row_ratio(int i, int peer, double ratio);
bool row_ratio_stats(int i, int k, double *med, double *min, double *max);

/* ------------------------------------------------------------------ */
/* Messages, timing, statistics, processes (harness.c)                 */

void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Report a failed call (errno) and return -1. */
int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A line for the end of the report (kept in shared memory). */
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int read_full(int fd, void *buf, size_t len);
int write_full(int fd, const void *buf, size_t len);
/* Median of @n values; sorts them. */
double median_u64(uint64_t *v, size_t n);
void stats(const double *src, int n, double *med, double *min, double *max);
uint64_t rng(void);
const char *fmt_count(long n, char *buf, size_t len);

/* fork() with stdout flushed; the child dies with its parent; -1 reported. */
pid_t fork_child(void);
/* Run on CPU @cpu only. */
int pin_cpu(int cpu);
/* Run anywhere again. */
void unpin(void);
/* Placements of the two processes: 0 both on CPU 0, 1 on CPUs 0 and 1. */
int nplacements(void);
extern const char *const place_sect[2];
int wait_exit(pid_t pid);
bool raise_nofile(rlim_t want);

/* ------------------------------------------------------------------ */
/* Sockets, the module, /proc (harness_sys.c)                          */

int tcp_listener(uint16_t *port);
int tcp_connect(uint16_t port);
/* A connected TCP loopback pair, TCP_NODELAY on both ends. */
int tcp_pair(int *client, int *server);
int set_nonblock(int fd, bool on);

/* SCM_RIGHTS of up to HO_MAXN descriptors with one byte of data. */
struct scm_msg {
	union {
		char buf[CMSG_SPACE(sizeof(int) * HO_MAXN)];
		struct cmsghdr align;
	} u;
	char byte;
	struct iovec iov;
	struct msghdr m;
};

/* Make @s ready to send @fds (@n of them), or to receive @n. */
void scm_prepare(struct scm_msg *s, const int *fds, int n);

/* Redeem a token to this process and close the descriptor. */
static inline int redeem_close(const struct ss_protocol_info *info)
{
	int fd = ss_socket_from_info(info, 0);

	if (fd < 0)
		return fail("ss_socket_from_info");
	close(fd);
	return 0;
}

/* One vectored handoff of @nf sockets to this process, then close them. */
int vec_roundtrip(const int *socks, int nf);
/* Raw STATUS on a descriptor of our own. */
int dev_status(int dev, struct sharedsock_status *st);
int read_param(const char *name, long *val);
int write_param(const char *name, long val);

struct slab {
	long active_objs, num_objs, objsize, objperslab, pagesperslab;
	long active_slabs, num_slabs;
};

int slab_read(const char *cache, struct slab *s);
long slab_bytes(const struct slab *s);
/* Slab + VmallocUsed of /proc/meminfo, in bytes. */
long kernel_mem(void);

/* ------------------------------------------------------------------ */
/* Report (harness_report.c)                                           */

/* The redeem target compares the highest level with the lowest. */
void targets_set_levels(void);
void print_table(void);
int print_targets(void);
void print_csv(void);

/* ------------------------------------------------------------------ */
/* The benchmark families; each phase but unload runs in a child       */

int phase_micro(void);		/* micro.c */
int phase_handoff(void);	/* handoff.c */
int phase_event(void);		/* event.c */
int phase_overhead(void);	/* overhead.c */
int phase_memory(void);		/* memory.c */
int phase_scale(void);		/* scale.c */
void scale_reap(void);		/* scale.c, in the parent after phase_scale */
int phase_trace(void);		/* trace.c */
int phase_unload(void);		/* unload.c, in the parent */

#endif
