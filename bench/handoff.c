// SPDX-License-Identifier: GPL-2.0
/*
 * Handoff family: process A hands 1, 16 or 64 connected TCP loopback
 * sockets to a persistent process B, timed from A's start until B holds
 * every descriptor, per socket:
 *   sharedsock      a token per socket (duplicate, tokens over a pipe, redeem)
 *   sharedsock_vec  one token for all (duplicate_vec, pipe, redeem_vec)
 *   scm_rights      one sendmsg over an AF_UNIX socketpair
 *   pidfd_getfd     fd numbers over a pipe, pidfd_getfd in B
 * Rows handoff[-xcpu].N.MECH, with per-run ratios to SCM_RIGHTS and
 * pidfd_getfd.
 */
#include "harness.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>

enum { M_SS, M_SSV, M_SCM, M_PIDFD, M_NR };

static const char *const mech_key[M_NR] = {
	"sharedsock", "sharedsock_vec", "scm_rights", "pidfd_getfd"
};
static const char *const mech_label[M_NR] = {
	"sharedsock, a token per socket (dup, pipe, redeem)",
	"sharedsock vectored, one token (dup_vec, pipe, redeem_vec)",
	"SCM_RIGHTS (AF_UNIX socketpair)",
	"pidfd_getfd (fd number over pipe)",
};

#define NSIZES 3
static const int sizes[NSIZES] = { 1, 16, 64 };

struct ho_cmd {
	int mech;
	int n;		/* sockets per handoff; 0 = quit */
	int iters;
	int verify;
	int cpu;	/* where B runs */
};

struct ho {
	int pool[HO_MAXN];	/* A's connected client sockets */
	int peer[HO_MAXN];	/* their accepted ends, kept open by A */
	ino_t ino[HO_MAXN];
	int cmd[2], data[2], ack[2], unx[2];
	pid_t b;
	int pidfd;		/* B: pidfd of A */
};

/* Row indexes: [placement][size][mechanism]. */
typedef int ho_rows_t[2][NSIZES][M_NR];

/* ------------------------------------------------------------------ */
/* B, the receiver                                                     */

/* B: the descriptors are the sockets A sent, usable, in order. */
static bool ho_verify(const struct ho *h, const int *fds, int n)
{
	for (int i = 0; i < n; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int type = 0;
		socklen_t tlen = sizeof(type);
		struct stat st;

		if (fstat(fds[i], &st) || !S_ISSOCK(st.st_mode) ||
		    st.st_ino != h->ino[i] ||
		    getsockopt(fds[i], SOL_SOCKET, SO_TYPE, &type, &tlen) ||
		    type != SOCK_STREAM ||
		    getpeername(fds[i], (struct sockaddr *)&ss, &len)) {
			say("error: B: socket %d of %d is not the one A sent", i, n);
			return false;
		}
	}
	return true;
}

static int ho_recv_tokens(struct ho *h, int n, int *fds)
{
	struct ss_protocol_info infos[HO_MAXN];
	int got = 0;

	if (read_full(h->data[0], infos, sizeof(infos[0]) * (size_t)n))
		return fail("B: read tokens");
	for (; got < n; got++) {
		fds[got] = ss_socket_from_info(&infos[got], 0);
		if (fds[got] < 0) {
			fail("B: ss_socket_from_info");
			break;
		}
	}
	return got;
}

static int ho_recv_vec(struct ho *h, int n, int *fds)
{
	struct ss_protocol_info info;
	int got = 0;

	if (read_full(h->data[0], &info, sizeof(info)))
		return fail("B: read token");
	while (got < n) {
		int k = ss_sockets_from_info(&info, fds + got, (unsigned int)(n - got), 0);

		if (k <= 0) {
			fail("B: ss_sockets_from_info");
			break;
		}
		got += k;
	}
	return got;
}

static int ho_recv_scm(struct ho *h, int n, int *fds)
{
	struct scm_msg s;
	struct cmsghdr *cm;
	int got = 0;

	scm_prepare(&s, NULL, n);
	if (recvmsg(h->unx[1], &s.m, 0) != 1)
		return fail("B: recvmsg");
	for (cm = CMSG_FIRSTHDR(&s.m); cm; cm = CMSG_NXTHDR(&s.m, cm)) {
		size_t k;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		if (got + (int)k > HO_MAXN)
			k = (size_t)(HO_MAXN - got);
		memcpy(fds + got, CMSG_DATA(cm), k * sizeof(int));
		got += (int)k;
	}
	if (s.m.msg_flags & MSG_CTRUNC)
		say("error: B: SCM_RIGHTS control data truncated");
	return got;
}

static int ho_recv_pidfd(struct ho *h, int n, int *fds)
{
	int nums[HO_MAXN], got = 0;

	if (read_full(h->data[0], nums, sizeof(int) * (size_t)n))
		return fail("B: read fd numbers");
	for (; got < n; got++) {
		fds[got] = (int)syscall(SYS_pidfd_getfd, h->pidfd, nums[got], 0);
		if (fds[got] < 0) {
			fail("B: pidfd_getfd");
			break;
		}
	}
	return got;
}

/* B: receive one handoff of @n sockets; returns how many it got. */
static int ho_receive(struct ho *h, int mech, int n, int *fds)
{
	switch (mech) {
	case M_SS:
		return ho_recv_tokens(h, n, fds);
	case M_SSV:
		return ho_recv_vec(h, n, fds);
	case M_SCM:
		return ho_recv_scm(h, n, fds);
	case M_PIDFD:
		return ho_recv_pidfd(h, n, fds);
	}
	return -1;
}

/* B: one command's handoffs, each acknowledged with B's clock (0: failed). */
static int ho_b_command(struct ho *h, const struct ho_cmd *cmd)
{
	int fds[HO_MAXN];

	for (int it = 0; it < cmd->iters; it++) {
		int got = ho_receive(h, cmd->mech, cmd->n, fds);
		uint64_t t = now_ns();

		if (got != cmd->n)
			t = 0;
		else if (cmd->verify && it == 0 && !ho_verify(h, fds, got))
			t = 0;
		for (int i = 0; i < got; i++)
			close(fds[i]);
		if (write_full(h->ack[1], &t, sizeof(t)))
			return 1;
		if (!t)
			return 1;
	}
	return 0;
}

static int ho_b_main(struct ho *h)
{
	int cpu = -1;

	h->pidfd = (int)syscall(SYS_pidfd_open, getppid(), 0);
	if (h->pidfd < 0)
		fail("B: pidfd_open");
	for (;;) {
		struct ho_cmd cmd;

		if (read_full(h->cmd[0], &cmd, sizeof(cmd)))
			return 1;
		if (!cmd.n)
			return 0;
		if (cmd.cpu != cpu) {
			if (pin_cpu(cmd.cpu))
				fail("B: sched_setaffinity");
			cpu = cmd.cpu;
		}
		if (ho_b_command(h, &cmd))
			return 1;
	}
}

/* ------------------------------------------------------------------ */
/* A, the sender                                                       */

/* A: start one handoff of the first @n sockets of the pool by @mech. */
static int ho_send(struct ho *h, int mech, int n, struct scm_msg *scm)
{
	struct ss_protocol_info infos[HO_MAXN];

	switch (mech) {
	case M_SS:
		for (int i = 0; i < n; i++)
			if (ss_duplicate_socket(h->pool[i], h->b, &infos[i]))
				return fail("A: ss_duplicate_socket");
		if (write_full(h->data[1], infos, sizeof(infos[0]) * (size_t)n))
			return fail("A: write tokens");
		break;
	case M_SSV:
		if (ss_duplicate_sockets(h->pool, (unsigned int)n, h->b, 0, &infos[0]))
			return fail("A: ss_duplicate_sockets");
		if (write_full(h->data[1], infos, sizeof(infos[0])))
			return fail("A: write token");
		break;
	case M_SCM:
		if (sendmsg(h->unx[0], &scm->m, 0) != 1)
			return fail("A: sendmsg SCM_RIGHTS");
		break;
	case M_PIDFD:
		if (write_full(h->data[1], h->pool, sizeof(int) * (size_t)n))
			return fail("A: write fd numbers");
		break;
	}
	return 0;
}

/*
 * A: @iters handoffs of @n sockets by @mech.  @lat gets the time from the
 * start of each handoff until B holds every descriptor (B's clock reading,
 * sent back with its acknowledgement; CLOCK_MONOTONIC is system-wide).
 */
static int ho_run(struct ho *h, int mech, int n, int iters, bool verify, int cpu,
		  uint64_t *lat)
{
	struct ho_cmd cmd = {
		.mech = mech, .n = n, .iters = iters, .verify = verify, .cpu = cpu,
	};
	struct scm_msg scm;

	scm_prepare(&scm, h->pool, n);
	if (write_full(h->cmd[1], &cmd, sizeof(cmd)))
		return fail("A: command to B");
	for (int it = 0; it < iters; it++) {
		uint64_t t0 = now_ns(), t2;

		if (ho_send(h, mech, n, &scm))
			return -1;
		if (read_full(h->ack[0], &t2, sizeof(t2)))
			return fail("A: ack from B");
		if (!t2) {
			say("error: B failed a %s handoff of %d", mech_key[mech], n);
			return -1;
		}
		lat[it] = t2 > t0 ? t2 - t0 : 0;
	}
	return 0;
}

static int ho_iters(int n)
{
	long it = opt.handoff_iters;

	if (n > 1)
		it = opt.handoff_iters * 4 / n;	/* 4x the sockets, fewer wake-ups */
	return (int)(it < 10 ? 10 : it);
}

/* ------------------------------------------------------------------ */
/* The phase                                                           */

/* A's pool of connected sockets (peers kept open), and the channels to B. */
static int ho_setup(struct ho *h)
{
	uint16_t port;
	int l;

	memset(h, 0, sizeof(*h));
	l = tcp_listener(&port);
	if (l < 0)
		return -1;
	for (int i = 0; i < HO_MAXN; i++) {
		struct stat st;

		h->pool[i] = tcp_connect(port);
		if (h->pool[i] < 0)
			return -1;
		h->peer[i] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		if (h->peer[i] < 0)
			return fail("accept");
		if (fstat(h->pool[i], &st))
			return fail("fstat");
		h->ino[i] = st.st_ino;
	}
	close(l);
	if (pipe2(h->cmd, O_CLOEXEC) || pipe2(h->data, O_CLOEXEC) ||
	    pipe2(h->ack, O_CLOEXEC) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, h->unx))
		return fail("pipes");
	return 0;
}

/* Fork B, which keeps only its ends of the channels. */
static int ho_fork_b(struct ho *h)
{
	h->b = fork_child();
	if (h->b < 0)
		return -1;
	if (h->b == 0) {
		for (int i = 0; i < HO_MAXN; i++) {
			close(h->pool[i]);
			close(h->peer[i]);
		}
		close(h->cmd[1]);
		close(h->data[1]);
		close(h->ack[0]);
		close(h->unx[0]);
		_exit(ho_b_main(h));
	}
	close(h->cmd[0]);
	close(h->data[0]);
	close(h->ack[1]);
	close(h->unx[1]);
	/* pidfd_getfd needs ptrace access; root has it, Yama may want this. */
	prctl(PR_SET_PTRACER, h->b, 0, 0, 0);
	return 0;
}

static void ho_rows(ho_rows_t row, int np)
{
	for (int pl = 0; pl < np; pl++)
		for (size_t s = 0; s < NSIZES; s++) {
			char name[48], label[72];
			int n = sizes[s];

			for (int m = 0; m < M_NR; m++) {
				snprintf(name, sizeof(name), "handoff%s.%d.%s", place_sect[pl], n,
					 mech_key[m]);
				snprintf(label, sizeof(label), "x%-2d %s", n, mech_label[m]);
				row[pl][s][m] = row_new(name, label, "ns/socket");
			}
		}
}

/* Warm-up, with every mechanism's result checked by B. */
static int ho_warmup(struct ho *h, int np, uint64_t *lat)
{
	for (int pl = 0; pl < np; pl++)
		for (size_t s = 0; s < NSIZES; s++)
			for (int m = 0; m < M_NR; m++)
				if (ho_run(h, m, sizes[s], ho_iters(sizes[s]) / 8 + 1, true, pl,
					   lat))
					return -1;
	return 0;
}

/* Run @r: every mechanism for size @s at placement @pl, ratios to the peers. */
static int ho_measure(struct ho *h, int r, int pl, size_t s, ho_rows_t row, uint64_t *lat)
{
	int n = sizes[s], iters = ho_iters(n);
	double v[M_NR];

	/* Rotate the order: no mechanism always goes first. */
	for (int k = 0; k < M_NR; k++) {
		int m = (k + r) % M_NR;

		if (ho_run(h, m, n, iters, true, pl, lat))
			return -1;
		v[m] = median_u64(lat, (size_t)iters) / n;
		row_add(row[pl][s][m], v[m]);
	}
	for (int m = M_SS; m <= M_SSV; m++) {
		row_ratio(row[pl][s][m], row[pl][s][M_SCM], v[m] / v[M_SCM]);
		row_ratio(row[pl][s][m], row[pl][s][M_PIDFD], v[m] / v[M_PIDFD]);
	}
	return 0;
}

/* Tell B to quit; its failure fails a phase that went well so far. */
static int ho_stop(struct ho *h, int ret)
{
	struct ho_cmd quit = { 0 };

	write_full(h->cmd[1], &quit, sizeof(quit));
	if (wait_exit(h->b) != 0 && !ret) {
		say("error: handoff receiver B failed");
		ret = -1;
	}
	return ret;
}

int phase_handoff(void)
{
	struct ho h;
	int maxit = 0, np = nplacements();
	uint64_t *lat;
	ho_rows_t row;

	if (ho_setup(&h))
		return -1;
	for (size_t s = 0; s < NSIZES; s++)
		if (ho_iters(sizes[s]) > maxit)
			maxit = ho_iters(sizes[s]);
	lat = calloc((size_t)maxit, sizeof(*lat));
	if (!lat)
		return fail("calloc");
	if (ho_fork_b(&h))
		return -1;
	if (pin_cpu(0))
		return fail("sched_setaffinity");
	ho_rows(row, np);
	if (ho_warmup(&h, np, lat))
		return ho_stop(&h, -1);
	for (int r = 0; r < opt.runs; r++) {
		uint64_t t0 = now_ns();

		for (int pl = 0; pl < np; pl++)
			for (size_t s = 0; s < NSIZES; s++)
				if (ho_measure(&h, r, pl, s, row, lat))
					return ho_stop(&h, -1);
		say("handoff run %d/%d: %.1f s", r + 1, opt.runs, (now_ns() - t0) / 1e9);
	}
	return ho_stop(&h, 0);
}
