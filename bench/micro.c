// SPDX-License-Identifier: GPL-2.0
/*
 * Micro family: the pieces of a handoff and of an event loop, in one
 * process with no wake-ups: the syscall floor, clock_gettime, each
 * sharedsock ioctl, dup()+close, pidfd_getfd, SCM_RIGHTS of 1 and 64
 * descriptors, a 40-byte pipe transfer, getrandom(16), enum vs
 * epoll_wait(0), and a vectored handoff of 64 sockets to itself.  Each
 * value is the median over blocks of 50 operations of the block's mean.
 * Rows micro.*.
 */
#include "harness.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>

enum {
	MI_SYSCALL, MI_CLOCK, MI_DUP, MI_REDEEM, MI_DUPCLOSE, MI_PIDFD, MI_SCM1, MI_SCM64,
	MI_PIPE, MI_ENUM, MI_EPOLL, MI_RANDOM, MI_DUPREVOKE, MI_VEC64, MI_NR
};

static const struct {
	const char *name, *label, *unit;
} micro_rows[MI_NR] = {
	{ "micro.syscall", "getppid() (syscall floor)", "ns/op" },
	{ "micro.clock", "clock_gettime(CLOCK_MONOTONIC)", "ns/op" },
	{ "micro.ss_duplicate", "ss_duplicate_socket ioctl (to self)", "ns/op" },
	{ "micro.ss_redeem_close", "ss_socket_from_info ioctl + close", "ns/op" },
	{ "micro.dup_close", "dup() + close (fd install floor)", "ns/op" },
	{ "micro.pidfd_getfd_close", "pidfd_getfd (self) + close", "ns/op" },
	{ "micro.scm1", "SCM_RIGHTS 1 fd send+recv+close, 1 proc", "ns/op" },
	{ "micro.scm64", "SCM_RIGHTS 64 fds send+recv+close, 1 proc", "ns/socket" },
	{ "micro.pipe40", "pipe write+read of one 40 B token", "ns/op" },
	{ "micro.ss_enum", "ss_enum_network_events, nothing pending", "ns/op" },
	{ "micro.epoll_wait0", "epoll_wait(timeout 0), nothing ready", "ns/op" },
	{ "micro.getrandom16", "getrandom(16 B): the CRNG a secret comes from", "ns/op" },
	{ "micro.ss_dup_revoke", "ss_duplicate_socket + ss_revoke (to self)", "ns/op" },
	{ "micro.ss_vec64", "ss_duplicate_sockets + ss_sockets_from_info"
	  " + close, 64 sockets, 1 proc", "ns/socket" },
};

struct micro {
	long n;			/* operations per run */
	struct ss_protocol_info *infos;
	int sock, srv;		/* a connected TCP pair */
	int pidfd, sp[2], pp[2];
	int c, dummy, evfd, ep;	/* a registered socket, nothing pending */
	int pool64[HO_MAXN];
	int rows[MI_NR];
};

/*
 * Time the statements over i in [0, count) in blocks of 50; the run's value
 * is the median block's mean, divided by @per.
 */
#define TIMED(rowi, count, per, ...) do {					\
		uint64_t m_[1024];						\
		size_t nb_ = 0;							\
		for (long b_ = 0; b_ < (count); b_ += 50) {			\
			long e_ = b_ + 50 < (count) ? b_ + 50 : (count);	\
			uint64_t t_ = now_ns();					\
			for (long i = b_; i < e_; i++) {			\
				__VA_ARGS__					\
			}							\
			if (nb_ < 1024)						\
				m_[nb_++] = (now_ns() - t_) / (uint64_t)(e_ - b_); \
		}								\
		row_add(rowi, median_u64(m_, nb_) / (per));			\
	} while (0)

/* Send @nf descriptors of @sock over the socketpair and receive and close them. */
static int scm_roundtrip(const int *sp, int sock, int nf)
{
	struct scm_msg s;
	int fds[HO_MAXN];
	struct cmsghdr *cm;

	for (int k = 0; k < nf; k++)
		fds[k] = sock;
	scm_prepare(&s, fds, nf);
	if (sendmsg(sp[0], &s.m, 0) != 1)
		return fail("sendmsg");
	s.m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nf);
	if (recvmsg(sp[1], &s.m, 0) != 1)
		return fail("recvmsg");
	cm = CMSG_FIRSTHDR(&s.m);
	if (!cm || cm->cmsg_len != CMSG_LEN(sizeof(int) * (size_t)nf)) {
		say("error: SCM_RIGHTS: descriptors missing");
		return -1;
	}
	memcpy(fds, CMSG_DATA(cm), sizeof(int) * (size_t)nf);
	for (int k = 0; k < nf; k++)
		close(fds[k]);
	return 0;
}

static int micro_setup(struct micro *mc)
{
	struct epoll_event eev = { .events = EPOLLIN };

	mc->n = opt.micro_ops;
	mc->infos = calloc((size_t)mc->n, sizeof(*mc->infos));
	if (!mc->infos)
		return fail("calloc");
	if (tcp_pair(&mc->sock, &mc->srv))
		return -1;
	mc->pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (mc->pidfd < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, mc->sp) ||
	    pipe2(mc->pp, O_CLOEXEC))
		return fail("setup");
	/* A registered socket with nothing pending, and its epoll twin. */
	if (tcp_pair(&mc->c, &mc->dummy))
		return -1;
	mc->evfd = eventfd(0, EFD_CLOEXEC);
	mc->ep = epoll_create1(EPOLL_CLOEXEC);
	if (mc->evfd < 0 || mc->ep < 0 || ss_event_select(mc->c, mc->evfd, SS_FD_READ) ||
	    epoll_ctl(mc->ep, EPOLL_CTL_ADD, mc->srv, &eev))
		return fail("setup events");
	for (int k = 0; k < MI_NR; k++)
		mc->rows[k] = row_new(micro_rows[k].name, micro_rows[k].label,
				      micro_rows[k].unit);
	for (int k = 0; k < HO_MAXN; k++)
		mc->pool64[k] = mc->sock;
	return 0;
}

/* One run of the calls that hand over or install a descriptor. */
static int micro_fd_calls(struct micro *mc)
{
	const int *rows = mc->rows, sock = mc->sock, pidfd = mc->pidfd;
	struct ss_protocol_info *infos = mc->infos;
	long n = mc->n, n64 = n / 16 + 1;

	TIMED(rows[MI_DUP], n, 1,
	      if (ss_duplicate_socket(sock, getpid(), &infos[i]))
		      return fail("ss_duplicate_socket"););
	TIMED(rows[MI_REDEEM], n, 1, if (redeem_close(&infos[i])) return -1;);
	TIMED(rows[MI_DUPCLOSE], n, 1,
	      int fd = dup(sock);
	      if (fd < 0)
		      return fail("dup");
	      close(fd););
	TIMED(rows[MI_PIDFD], n, 1,
	      int fd = (int)syscall(SYS_pidfd_getfd, pidfd, sock, 0);
	      if (fd < 0)
		      return fail("pidfd_getfd");
	      close(fd););
	TIMED(rows[MI_SCM1], n, 1, if (scm_roundtrip(mc->sp, sock, 1)) return -1;);
	TIMED(rows[MI_SCM64], n64, HO_MAXN, if (scm_roundtrip(mc->sp, sock, HO_MAXN)) return -1;);
	return 0;
}

/* One run of the rest: floors, the token's transport and secret, events. */
static int micro_other_calls(struct micro *mc)
{
	const int *rows = mc->rows, sock = mc->sock;
	struct ss_protocol_info *infos = mc->infos;
	long n = mc->n, n64 = n / 16 + 1;
	struct ss_network_events ne;
	struct epoll_event out;
	char buf[64];

	TIMED(rows[MI_PIPE], n, 1,
	      if (write_full(mc->pp[1], &infos[0], sizeof(infos[0])) ||
		  read_full(mc->pp[0], buf, sizeof(infos[0])))
		      return fail("pipe"););
	TIMED(rows[MI_ENUM], n, 1,
	      if (ss_enum_network_events(mc->c, mc->evfd, &ne))
		      return fail("ss_enum_network_events"););
	TIMED(rows[MI_EPOLL], n, 1,
	      if (epoll_wait(mc->ep, &out, 1, 0) < 0)
		      return fail("epoll_wait"););
	TIMED(rows[MI_RANDOM], n, 1,
	      if (getrandom(buf, 16, 0) != 16)
		      return fail("getrandom"););
	TIMED(rows[MI_DUPREVOKE], n, 1,
	      if (ss_duplicate_socket(sock, getpid(), &infos[0]) || ss_revoke(&infos[0]))
		      return fail("duplicate + revoke"););
	TIMED(rows[MI_VEC64], n64, HO_MAXN,
	      if (vec_roundtrip(mc->pool64, HO_MAXN)) return -1;);
	return 0;
}

int phase_micro(void)
{
	struct micro mc;

	if (micro_setup(&mc))
		return -1;
	for (int r = 0; r < opt.runs; r++) {
		TIMED(mc.rows[MI_SYSCALL], mc.n, 1, syscall(SYS_getppid););
		TIMED(mc.rows[MI_CLOCK], mc.n, 1, now_ns(););
		if (micro_fd_calls(&mc) || micro_other_calls(&mc))
			return -1;
	}
	free(mc.infos);
	return 0;
}
