// SPDX-License-Identifier: GPL-2.0
/*
 * The zoo: every socket kind socket() creates in the VM (every family,
 * type and protocol; the VM's init loads Debian's sctp, tls, af_key, can,
 * vsock, tipc, rds, ... modules first), registered in eventfd mode and in
 * queue mode, runs the same script of ordinary socket system calls as an
 * unregistered twin of the same kind, and every call must answer the
 * same: return value and errno, option lengths and values, and for data
 * the same bytes.  Registration succeeds on the kinds served and fails
 * with EOPNOTSUPP on every other kind.
 *
 * The script (script() below): fcntl (O_NONBLOCK toggles, F_SETOWN), a
 * getsockopt() sweep of every option number at SOL_SOCKET, IP, IPv6, TCP,
 * UDP, SCTP, TLS and the families' own levels, setsockopt() of a table of
 * options, ioctl (FIONREAD, FIONBIO, SIOCOUTQ, SIOCATMARK), poll, every
 * send and receive call on the socket unconnected (MSG_DONTWAIT, PEEK,
 * TRUNC, OOB, ERRQUEUE), bind, listen, accept4 (with a client connecting,
 * a plain TCP one for an MPTCP listener), connect (AF_UNSPEC first, then to
 * a peer, then a second connect), data both ways with a peer where the
 * kind has one (send/recv/sendto/recvfrom/sendmsg/recvmsg/sendmmsg/
 * recvmmsg, MSG_OOB, splice both ways, sendfile), IPV6_ADDRFORM on an
 * IPv6 socket connected to a v4-mapped address, TCP_ULP "tls" and a bogus
 * ULP, shutdown each way, dup (closed first, or the original first), fork
 * (the child closes).
 *
 * The differences a registration makes, and only those, are allowed:
 *  - A served kind's registration puts the file in O_NONBLOCK
 *    (Documentation/sharedsock.rst, "Both calls put the socket's file in
 *    O_NONBLOCK"): checked right after registering; the script then makes
 *    every socket non-blocking itself, twin included.
 *  - A registered TCP socket carries the module's ULP: getsockopt(TCP_ULP)
 *    reads "sharedsock", TCP_ULP "tls" is refused with EEXIST and
 *    IPV6_ADDRFORM with EBUSY (Documentation/sharedsock.rst); when one is
 *    refused, the rest of that run is not compared (the twin's socket has
 *    become another kind).
 *
 * Also, for the served kinds: a second thread blocked in recv() or
 * accept() on the socket while the main thread calls shutdown() or
 * close(); the blocked call returns as on the twin (after close() it only
 * returns once the peer sends or a client connects, as without a
 * registration).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "kselftest_harness.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP	262
#endif
#ifndef SOL_TLS
#define SOL_TLS		282
#endif
#ifndef TCP_ULP
#define TCP_ULP		31
#endif
#ifndef IPV6_ADDRFORM
#define IPV6_ADDRFORM	1
#endif
#ifndef SOCK_DCCP
#define SOCK_DCCP	6
#endif
#ifndef SOCK_PACKET
#define SOCK_PACKET	10
#endif
#ifndef SOL_SCTP
#define SOL_SCTP	132
#endif

struct kind {
	int family, type, protocol;
};

static const int types[] = {
	SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_RDM, SOCK_SEQPACKET,
	SOCK_DCCP, SOCK_PACKET,
};
/*
 * Protocol numbers: IP protocols, netlink protocols and CAN protocols
 * overlap; socket() sorts them out.  AF_PACKET takes an ethertype: only 0
 * and ETH_P_ALL are tried there.
 */
static const int protocols[] = {
	0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 15, 16, IPPROTO_UDP,
	IPPROTO_DCCP, IPPROTO_ICMPV6, 115 /* L2TP */, IPPROTO_SCTP,
	IPPROTO_UDPLITE, IPPROTO_RAW, IPPROTO_MPTCP,
};

/* What the event layer serves (Documentation/sharedsock.rst). */
static bool served(const struct kind *k)
{
	if (k->family == AF_UNIX)	/* SOCK_RAW is a datagram socket there */
		return k->type == SOCK_STREAM || k->type == SOCK_DGRAM ||
		       k->type == SOCK_SEQPACKET || k->type == SOCK_RAW;
	if (k->family != AF_INET && k->family != AF_INET6)
		return false;
	if (k->type == SOCK_STREAM)
		return k->protocol == 0 || k->protocol == IPPROTO_TCP;
	if (k->type == SOCK_DGRAM)
		return k->protocol == 0 || k->protocol == IPPROTO_UDP ||
		       k->protocol == IPPROTO_UDPLITE;
	return false;
}

static bool is_inet(const struct kind *k)
{
	return k->family == AF_INET || k->family == AF_INET6;
}

static bool is_udp(const struct kind *k)
{
	return is_inet(k) && k->type == SOCK_DGRAM &&
	       (k->protocol == 0 || k->protocol == IPPROTO_UDP ||
		k->protocol == IPPROTO_UDPLITE);
}

/* Kinds whose script has a peer to exchange data with. */
static bool has_peer(const struct kind *k)
{
	if (k->family == AF_UNIX)
		return true;
	return is_inet(k) && (k->type == SOCK_STREAM || is_udp(k));
}

static int open_kind(const struct kind *k)
{
	return socket(k->family, k->type | SOCK_CLOEXEC, k->protocol);
}

/* One call's answer. */
struct rec {
	const char *what;
	int a, b;		/* the option level and name, or 0 */
	long ret;
	int err;
	unsigned int len;	/* option length, or bytes of data kept */
	unsigned char data[40];
};

#define MAXREC 2600
struct run {
	struct rec r[MAXREC];
	int n;
	int stop;		/* index of a documented refusal, or -1 */
};

static struct run runs[3];

static struct rec *put(struct run *u, const char *what, int a, int b,
		       long ret, int err)
{
	struct rec *r;

	if (u->n >= MAXREC)
		return NULL;
	r = &u->r[u->n++];
	memset(r, 0, sizeof(*r));
	r->what = what;
	r->a = a;
	r->b = b;
	r->ret = ret;
	r->err = ret < 0 ? err : 0;
	return r;
}

static void put_data(struct rec *r, const void *data, size_t len)
{
	if (!r)
		return;
	if (len > sizeof(r->data))
		len = sizeof(r->data);
	r->len = len;
	memcpy(r->data, data, len);
}

/* Record a call's result (its errno when it fails). */
#define REC(u, what, expr)						\
	({ long r_; int e_; errno = 0; r_ = (long)(expr); e_ = errno;	\
	   put(u, what, 0, 0, r_, e_); r_; })
/* A call that returns a descriptor: only whether it did. */
#define REC_FD(u, what, expr)						\
	({ long r_; int e_; errno = 0; r_ = (long)(expr); e_ = errno;	\
	   put(u, what, 0, 0, r_ < 0 ? r_ : 0, e_); r_; })
/* A call that returns a byte count of @buf: the bytes too. */
#define REC_DATA(u, what, expr, buf)					\
	({ long r_; int e_; struct rec *q_; errno = 0; r_ = (long)(expr); \
	   e_ = errno; q_ = put(u, what, 0, 0, r_, e_);			\
	   (r_ > 0 ? put_data(q_, buf, r_) : (void)0); r_; })
/* Record a value computed by the test (poll revents, a flag, ...). */
#define REC_VAL(u, what, v)	put(u, what, 0, 0, (long)(v), 0)

static bool wait_poll_at(int fd, short events, int ms, int line)
{
	struct pollfd p = { .fd = fd, .events = events };
	bool ok = poll(&p, 1, ms) == 1 && (p.revents & events);

	if (!ok && ms >= WAIT_MS)
		fprintf(stderr, "# zoo_test.c:%d: the wait for %#x timed out\n", line, events);
	return ok;
}

#define wait_poll(fd, events, ms)	wait_poll_at(fd, events, ms, __LINE__)

/* Read what @fd receives until @want bytes came (or WAIT_MS); record it. */
static void drain(struct run *u, const char *what, int fd, size_t want)
{
	unsigned char buf[64];
	size_t got = 0;
	ssize_t n;

	while (got < want && got < sizeof(buf)) {
		if (!wait_poll(fd, POLLIN, WAIT_MS))
			break;
		n = recv(fd, buf + got, sizeof(buf) - got, MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	put_data(put(u, what, 0, 0, got, 0), buf, got);
}

/* The address a socket of @k binds to (and its length). */
static socklen_t bind_addr(const struct kind *k, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	ss->ss_family = k->family;
	if (k->family == AF_INET) {
		struct sockaddr_in *in = (void *)ss;

		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof(*in);
	}
	if (k->family == AF_INET6) {
		struct sockaddr_in6 *in6 = (void *)ss;

		in6->sin6_addr = in6addr_loopback;
		return sizeof(*in6);
	}
	if (k->family == AF_UNIX)
		return sizeof(sa_family_t);	/* autobind */
	return 16;
}

/*
 * A peer for @k's script: a listener (stream kinds) or a bound datagram
 * socket, unregistered, of the same kind; its address for connect() in
 * @ss (IPv6: the v4-mapped address of a dual-stack socket, for ADDRFORM).
 */
static int make_helper(const struct kind *k, struct sockaddr_storage *ss,
		       socklen_t *len)
{
	struct kind hk = *k;
	int h, zero = 0;

	if (k->family == AF_UNIX && k->type == SOCK_RAW)
		hk.type = SOCK_DGRAM;
	h = open_kind(&hk);
	if (h < 0)
		return -1;
	memset(ss, 0, sizeof(*ss));
	ss->ss_family = k->family;
	*len = bind_addr(k, ss);
	if (k->family == AF_INET6) {
		struct sockaddr_in6 *in6 = (void *)ss;

		setsockopt(h, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		in6->sin6_addr = in6addr_any;
	}
	if (bind(h, (void *)ss, *len) ||
	    (k->type != SOCK_DGRAM && !(k->family == AF_UNIX && k->type == SOCK_RAW) &&
	     listen(h, 8))) {
		close(h);
		return -1;
	}
	*len = sizeof(*ss);
	if (getsockname(h, (void *)ss, len)) {
		close(h);
		return -1;
	}
	if (k->family == AF_INET6) {
		struct sockaddr_in6 *in6 = (void *)ss;

		inet_pton(AF_INET6, "::ffff:127.0.0.1", &in6->sin6_addr);
	}
	return h;
}

/* getsockopt() options whose value is the same on any two sockets alike. */
static bool value_compared(int level, int name)
{
	if (level == SOL_SOCKET)
		return name == SO_TYPE || name == SO_ERROR || name == SO_DOMAIN ||
		       name == SO_PROTOCOL || name == SO_ACCEPTCONN ||
		       name == SO_KEEPALIVE || name == SO_REUSEADDR ||
		       name == SO_BROADCAST || name == SO_RCVBUF ||
		       name == SO_SNDBUF || name == SO_OOBINLINE ||
		       name == SO_PRIORITY || name == SO_RCVLOWAT;
	if (level == IPPROTO_IP)
		return name == IP_TOS || name == IP_TTL || name == IP_RECVERR;
	if (level == IPPROTO_IPV6)
		return name == IPV6_V6ONLY || name == IPV6_UNICAST_HOPS ||
		       name == IPV6_RECVERR;
	if (level == IPPROTO_TCP)
		return name == TCP_NODELAY || name == TCP_CORK ||
		       name == TCP_KEEPIDLE || name == TCP_ULP;
	return false;
}

/* The getsockopt() sweep: levels and the option numbers tried there. */
struct level {
	int level, from, to;
};

static const struct level levels[] = {
	{ SOL_SOCKET, 0, 80 }, { IPPROTO_IP, 0, 70 }, { IPPROTO_IPV6, 0, 80 },
	{ IPPROTO_TCP, 0, 45 }, { IPPROTO_UDP, 0, 5 }, { IPPROTO_UDP, 100, 106 },
	{ SOL_SCTP, 0, 135 }, { SOL_TLS, 0, 6 },
	/* packet, netlink, CAN raw, TIPC, ALG, vsock, RDS, KCM, PPPoL2TP, NFC, XDP */
	{ 263, 0, 25 }, { 270, 0, 14 }, { 101, 0, 10 }, { 271, 125, 140 },
	{ 279, 0, 8 }, { 40, 0, 10 }, { 276, 0, 12 }, { 281, 0, 3 },
	{ 273, 0, 6 }, { 280, 0, 6 }, { 283, 0, 8 },
};

/*
 * SCTP getsockopt() numbers that act (peel off an association into a new
 * descriptor, connect): not a question to ask blindly.
 */
static bool sctp_acts(int level, int name)
{
	return level == SOL_SCTP && (name == 102 || name == 111 || name == 122);
}

static void getsockopt_sweep(struct run *u, int fd)
{
	size_t l;
	int name;

	for (l = 0; l < ARRAY_SIZE(levels); l++)
		for (name = levels[l].from; name <= levels[l].to; name++) {
			unsigned char buf[256];
			socklen_t len = sizeof(buf);
			struct rec *r;
			int ret;

			if (sctp_acts(levels[l].level, name))
				continue;
			memset(buf, 0, sizeof(buf));
			errno = 0;
			ret = getsockopt(fd, levels[l].level, name, buf, &len);
			r = put(u, "getsockopt", levels[l].level, name, ret, errno);
			if (!r || ret)
				continue;
			r->len = len;
			if (value_compared(levels[l].level, name))
				put_data(r, buf, len);
		}
}

/* setsockopt() with these values, in this order, on every kind. */
struct set {
	int level, name;
	const void *val;
	socklen_t len;
};

static const int one = 1, zero = 0, tos = 0x10, ttl = 33, bufsz = 65536,
	pmtu = 2 /* IP_PMTUDISC_DO */, tcpidle = 30, lowat = 1;
static const struct linger lg = { 1, 0 };
static const struct timeval tmo = { 0, 100000 };
static const struct ip_mreq mreq = {
	.imr_multiaddr = { 0x010101efu },	/* 239.1.1.1, network order */
	.imr_interface = { 0 },
};

static const struct set sets[] = {
	{ SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(int) },
	{ SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(int) },
	{ SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(int) },
	{ SOL_SOCKET, SO_REUSEADDR, &one, sizeof(int) },
	{ SOL_SOCKET, SO_BROADCAST, &one, sizeof(int) },
	{ SOL_SOCKET, SO_PRIORITY, &one, sizeof(int) },
	{ SOL_SOCKET, SO_MARK, &one, sizeof(int) },
	{ SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(int) },
	{ SOL_SOCKET, SO_TIMESTAMP, &one, sizeof(int) },
	{ SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo) },
	{ SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo) },
	{ SOL_SOCKET, SO_LINGER, &lg, sizeof(lg) },
	{ SOL_SOCKET, SO_BINDTODEVICE, "lo", 3 },
	{ SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(int) },
	{ SOL_SOCKET, SO_PASSCRED, &one, sizeof(int) },
	{ IPPROTO_IP, IP_TOS, &tos, sizeof(int) },
	{ IPPROTO_IP, IP_TTL, &ttl, sizeof(int) },
	{ IPPROTO_IP, IP_RECVERR, &one, sizeof(int) },
	{ IPPROTO_IP, IP_PKTINFO, &one, sizeof(int) },
	{ IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(int) },
	{ IPPROTO_IP, IP_FREEBIND, &one, sizeof(int) },
	{ IPPROTO_IP, IP_MULTICAST_TTL, &one, sizeof(int) },
	{ IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq) },
	{ IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(int) },
	{ IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof(int) },
	{ IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof(int) },
	{ IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(int) },
	{ IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof(int) },
	{ IPPROTO_TCP, TCP_NODELAY, &one, sizeof(int) },
	{ IPPROTO_TCP, TCP_KEEPIDLE, &tcpidle, sizeof(int) },
	{ IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(int) },
	{ IPPROTO_TCP, TCP_CONGESTION, "reno", 4 },
	{ IPPROTO_TCP, TCP_NOTSENT_LOWAT, &bufsz, sizeof(int) },
	{ IPPROTO_TCP, TCP_INQ, &one, sizeof(int) },
	{ IPPROTO_UDP, 1 /* UDP_CORK */, &zero, sizeof(int) },
	{ IPPROTO_UDP, 104 /* UDP_GRO */, &zero, sizeof(int) },
	{ SOL_SCTP, 3 /* SCTP_NODELAY */, &one, sizeof(int) },
	{ SOL_SCTP, 4 /* SCTP_AUTOCLOSE */, &zero, sizeof(int) },
	{ 263, 8 /* PACKET_AUXDATA */, &one, sizeof(int) },
	{ 270, 3 /* NETLINK_PKTINFO */, &one, sizeof(int) },
	{ 101, 3 /* CAN_RAW_LOOPBACK */, &one, sizeof(int) },
	{ 271, 127 /* TIPC_IMPORTANCE */, &one, sizeof(int) },
	{ 0x7fff, 1, &one, sizeof(int) },	/* a level nobody has */
};

static void setsockopt_table(struct run *u, int fd)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(sets); i++) {
		errno = 0;
		put(u, "setsockopt", sets[i].level, sets[i].name,
		    setsockopt(fd, sets[i].level, sets[i].name, sets[i].val,
			       sets[i].len), errno);
	}
}

/* The errors a registration may refuse TCP_ULP or IPV6_ADDRFORM with. */
static bool refused(int err)
{
	return err == EBUSY || err == EEXIST;
}

/*
 * A call a registration may refuse (documented): recorded with what
 * "refusable"; compare() stops at such a refusal.
 */
static long refusable(struct run *u, int fd, int level, int name,
		      const void *val, socklen_t len)
{
	long ret;

	errno = 0;
	ret = setsockopt(fd, level, name, val, len);
	put(u, "refusable setsockopt", level, name, ret, errno);
	return ret;
}

/* Every send and receive call, none of which may wait. */
static void data_calls(struct run *u, int fd)
{
	unsigned char buf[64], b2[64];
	struct iovec iov = { buf, sizeof(buf) }, iov2 = { b2, sizeof(b2) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct mmsghdr mm[2] = {
		{ .msg_hdr = { .msg_iov = &iov, .msg_iovlen = 1 } },
		{ .msg_hdr = { .msg_iov = &iov2, .msg_iovlen = 1 } },
	};
	struct sockaddr_storage from;
	socklen_t flen = sizeof(from);
	const int dw = MSG_DONTWAIT | MSG_NOSIGNAL;

	REC_DATA(u, "recv", recv(fd, buf, sizeof(buf), dw), buf);
	REC_DATA(u, "recv PEEK", recv(fd, buf, sizeof(buf), dw | MSG_PEEK), buf);
	REC_DATA(u, "recv TRUNC", recv(fd, buf, 1, dw | MSG_TRUNC), buf);
	REC_DATA(u, "recv OOB", recv(fd, buf, sizeof(buf), dw | MSG_OOB), buf);
	REC_DATA(u, "recv ERRQUEUE", recv(fd, buf, sizeof(buf), dw | MSG_ERRQUEUE), buf);
	REC_DATA(u, "recvfrom", recvfrom(fd, buf, sizeof(buf), dw, (void *)&from, &flen), buf);
	REC_DATA(u, "recvmsg", recvmsg(fd, &mh, dw), buf);
	REC(u, "recvmmsg", recvmmsg(fd, mm, 2, dw, NULL));
	REC(u, "read", read(fd, buf, 0));
}

static void send_calls(struct run *u, int fd)
{
	const int dw = MSG_DONTWAIT | MSG_NOSIGNAL;
	struct iovec iov[2] = { { "ab", 2 }, { "cd", 2 } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	struct iovec i1 = { "ef", 2 }, i2 = { "gh", 2 };
	struct mmsghdr mm[2] = {
		{ .msg_hdr = { .msg_iov = &i1, .msg_iovlen = 1 } },
		{ .msg_hdr = { .msg_iov = &i2, .msg_iovlen = 1 } },
	};

	REC(u, "send", send(fd, "x", 1, dw));
	REC(u, "sendmsg", sendmsg(fd, &mh, dw));
	REC(u, "sendmmsg", sendmmsg(fd, mm, 2, dw));
}

/* fcntl and ioctl calls; leaves the socket non-blocking. */
static void flag_calls(struct run *u, int fd)
{
	int v = 0, on = 1, off = 0;

	REC(u, "F_SETFL O_NONBLOCK", fcntl(fd, F_SETFL, O_RDWR | O_NONBLOCK));
	REC(u, "F_GETFL", fcntl(fd, F_GETFL) & (O_NONBLOCK | O_ACCMODE));
	REC(u, "F_SETFL 0", fcntl(fd, F_SETFL, O_RDWR));
	REC(u, "F_GETFL", fcntl(fd, F_GETFL) & (O_NONBLOCK | O_ACCMODE));
	REC(u, "FIONBIO 1", ioctl(fd, FIONBIO, &on));
	REC(u, "F_GETFL", fcntl(fd, F_GETFL) & (O_NONBLOCK | O_ACCMODE));
	REC(u, "FIONBIO 0", ioctl(fd, FIONBIO, &off));
	REC(u, "F_SETFL O_NONBLOCK", fcntl(fd, F_SETFL, O_RDWR | O_NONBLOCK));
	REC(u, "F_SETOWN", fcntl(fd, F_SETOWN, getpid()));
	REC(u, "F_GETOWN", fcntl(fd, F_GETOWN) == getpid());
	REC(u, "F_GETFD", fcntl(fd, F_GETFD));
	REC(u, "FIONREAD", ioctl(fd, FIONREAD, &v));
	REC_VAL(u, "FIONREAD value", v);
	REC(u, "SIOCOUTQ", ioctl(fd, SIOCOUTQ, &v));
	REC(u, "SIOCATMARK", ioctl(fd, SIOCATMARK, &v));
}

static short poll_now(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT | POLLPRI | POLLRDHUP };

	return poll(&p, 1, 0) == 1 ? p.revents : 0;
}

/* The listener part: listen, accept4 empty, a client, accept4. */
static void listen_calls(struct run *u, const struct kind *k, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct kind ck = *k;
	int c, a;

	REC(u, "listen", listen(fd, 4));
	REC_FD(u, "accept4 empty", accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC));
	/* a client only where accept() takes one (not SCTP one-to-many) */
	if (!(is_inet(k) || k->family == AF_UNIX) ||
	    (is_inet(k) && k->type != SOCK_STREAM) ||
	    !(fcntl(fd, F_GETFL) & O_NONBLOCK))
		return;
	{
		int acc = 0;
		socklen_t al = sizeof(acc);

		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &al) || !acc)
			return;
	}
	if (getsockname(fd, (void *)&ss, &len))
		return;
	/* An MPTCP listener gets a plain TCP client (its fallback path). */
	if (k->protocol == IPPROTO_MPTCP)
		ck.protocol = 0;
	c = socket(ck.family, ck.type | SOCK_NONBLOCK | SOCK_CLOEXEC, ck.protocol);
	if (c < 0)
		return;
	REC(u, "client connect", connect(c, (void *)&ss, len) && errno == EINPROGRESS ? 0 : -1);
	REC_VAL(u, "listener readable", wait_poll(fd, POLLIN, WAIT_MS));
	a = REC_FD(u, "accept4", accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC));
	if (a >= 0) {
		int t = 0;
		socklen_t tl = sizeof(t);

		REC(u, "child SO_TYPE", getsockopt(a, SOL_SOCKET, SO_TYPE, &t, &tl));
		REC_VAL(u, "child type", t);
		REC(u, "child send", send(a, "c", 1, MSG_DONTWAIT | MSG_NOSIGNAL));
		drain(u, "client got", c, 1);
		REC_VAL(u, "child poll", poll_now(a) & (POLLOUT | POLLIN));
		close(a);
	}
	close(c);
}

/* The connected part, with @peer (or -1) at the other end. */
static void peer_calls(struct run *u, const struct kind *k, int fd, int peer)
{
	const int dw = MSG_DONTWAIT | MSG_NOSIGNAL;
	unsigned char buf[64];
	struct mmsghdr mm[2];
	struct iovec iov[2] = { { buf, 32 }, { buf + 32, 32 } };
	int v = 0, pfd[2], mfd;
	bool urgent;
	long r;

	send_calls(u, fd);
	drain(u, "peer got", peer, 9);
	REC(u, "peer send", send(peer, "pong!", 5, dw));
	REC_VAL(u, "readable", wait_poll(fd, POLLIN, WAIT_MS));
	REC(u, "FIONREAD", ioctl(fd, FIONREAD, &v));
	REC_VAL(u, "FIONREAD value", v);
	REC_DATA(u, "recv PEEK", recv(fd, buf, sizeof(buf), dw | MSG_PEEK), buf);
	REC_DATA(u, "recv 2", recv(fd, buf, 2, dw), buf);
	REC_DATA(u, "recvfrom", recvfrom(fd, buf, sizeof(buf), dw, NULL, NULL), buf);
	REC_DATA(u, "recv empty", recv(fd, buf, sizeof(buf), dw), buf);
	REC_DATA(u, "recv ERRQUEUE", recv(fd, buf, sizeof(buf), dw | MSG_ERRQUEUE), buf);

	/* MSG_TRUNC: a datagram's full length; TCP drops the bytes */
	REC(u, "peer send", send(peer, "truncated", 9, dw));
	REC_VAL(u, "readable", wait_poll(fd, POLLIN, WAIT_MS));
	REC_DATA(u, "recv TRUNC", recv(fd, buf, 3, dw | MSG_TRUNC), buf);
	if (k->type == SOCK_STREAM)	/* the rest of the bytes */
		drain(u, "rest", fd, 6);

	/* recvmsg, recvmmsg */
	REC(u, "peer send", send(peer, "xyz", 3, dw));
	REC_VAL(u, "readable", wait_poll(fd, POLLIN, WAIT_MS));
	{
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };

		REC_DATA(u, "recvmsg", recvmsg(fd, &mh, dw), buf);
		REC_VAL(u, "recvmsg flags", mh.msg_flags);
	}
	REC(u, "peer send", send(peer, "uvw", 3, dw));
	REC_VAL(u, "readable", wait_poll(fd, POLLIN, WAIT_MS));
	memset(mm, 0, sizeof(mm));
	mm[0].msg_hdr.msg_iov = &iov[0];
	mm[0].msg_hdr.msg_iovlen = 1;
	mm[1].msg_hdr.msg_iov = &iov[1];
	mm[1].msg_hdr.msg_iovlen = 1;
	REC(u, "recvmmsg", recvmmsg(fd, mm, 2, dw, NULL));
	put_data(put(u, "recvmmsg data", 0, 0, mm[0].msg_len, 0), buf, mm[0].msg_len);

	/*
	 * MSG_OOB both ways; urgent data (POLLPRI) only on TCP and AF_UNIX
	 * stream: MPTCP takes the flag and sends the byte in line.
	 */
	urgent = k->protocol != IPPROTO_MPTCP;
	r = REC(u, "send OOB", send(fd, "!", 1, dw | MSG_OOB));
	if (r == 1 && urgent && wait_poll(peer, POLLPRI, WAIT_MS))
		REC_DATA(u, "peer recv OOB", recv(peer, buf, 1, dw | MSG_OOB), buf);
	r = REC(u, "peer send OOB", send(peer, "#", 1, dw | MSG_OOB));
	if (r == 1 && urgent) {
		REC_VAL(u, "OOB pending", wait_poll(fd, POLLPRI, WAIT_MS));
		REC(u, "SIOCATMARK", ioctl(fd, SIOCATMARK, &v));
		REC_DATA(u, "recv OOB", recv(fd, buf, 1, dw | MSG_OOB), buf);
	}

	/* splice both ways, sendfile */
	if (pipe2(pfd, O_CLOEXEC | O_NONBLOCK) == 0) {
		if (write(pfd[1], "spl", 3) == 3)
			REC(u, "splice to socket",
			    splice(pfd[0], NULL, fd, NULL, 3, SPLICE_F_NONBLOCK));
		drain(u, "peer got", peer, 3);
		/* empty the pipe, whatever the splice did */
		while (read(pfd[0], buf, sizeof(buf)) > 0)
			;
		REC(u, "peer send", send(peer, "ice", 3, dw));
		REC_VAL(u, "readable", wait_poll(fd, POLLIN, WAIT_MS));
		r = REC(u, "splice from socket",
			splice(fd, NULL, pfd[1], NULL, 16, SPLICE_F_NONBLOCK));
		if (r > 0)
			REC_DATA(u, "pipe got", read(pfd[0], buf, sizeof(buf)), buf);
		else
			REC_DATA(u, "recv instead", recv(fd, buf, sizeof(buf), dw), buf);
		close(pfd[0]);
		close(pfd[1]);
	}
	mfd = memfd_create("zoo", MFD_CLOEXEC);
	if (mfd >= 0 && write(mfd, "sendfile", 8) == 8) {
		off_t off = 0;

		REC(u, "sendfile", sendfile(fd, mfd, &off, 8));
		drain(u, "peer got", peer, 8);
	}
	if (mfd >= 0)
		close(mfd);
	REC(u, "SIOCOUTQ", ioctl(fd, SIOCOUTQ, &v));
}

/* IPV6_ADDRFORM and TCP_ULP, with data after each; false once refused. */
static bool form_calls(struct run *u, const struct kind *k, int fd, int peer)
{
	const int dw = MSG_DONTWAIT | MSG_NOSIGNAL;
	unsigned char buf[64];
	socklen_t len = sizeof(buf);
	int inet = AF_INET, v = 0;
	long r;

	if (k->family == AF_INET6) {
		r = refusable(u, fd, IPPROTO_IPV6, IPV6_ADDRFORM, &inet, sizeof(inet));
		if (r && refused(errno))
			return false;
		REC(u, "IP_TOS after ADDRFORM", getsockopt(fd, IPPROTO_IP, IP_TOS, &v, &len));
		REC(u, "IPV6_V6ONLY after ADDRFORM",
		    getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v, &len));
		if (peer >= 0) {
			REC(u, "send after ADDRFORM", send(fd, "v4", 2, dw));
			drain(u, "peer got", peer, 2);
		}
	}
	if (!is_inet(k))
		return true;
	REC(u, "TCP_ULP bogus", setsockopt(fd, IPPROTO_TCP, TCP_ULP, "zoo-bogus", 9));
	/* documented: EEXIST on a registered socket, which has the ULP */
	r = refusable(u, fd, IPPROTO_TCP, TCP_ULP, "tls", 3);
	if (r && refused(errno))
		return false;
	len = sizeof(buf);
	memset(buf, 0, sizeof(buf));
	REC_DATA(u, "TCP_ULP get", getsockopt(fd, IPPROTO_TCP, TCP_ULP, buf, &len) ?: (int)len, buf);
	REC(u, "TCP_ULP again", setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", 3));
	len = sizeof(buf);
	REC(u, "TLS_TX", getsockopt(fd, SOL_TLS, 1, buf, &len));
	if (peer >= 0) {
		REC(u, "send after ULP", send(fd, "tls", 3, dw));
		drain(u, "peer got", peer, 3);
		REC(u, "peer send", send(peer, "TLS", 3, dw));
		REC_VAL(u, "readable", wait_poll(fd, POLLIN, WAIT_MS));
		REC_DATA(u, "recv after ULP", recv(fd, buf, sizeof(buf), dw), buf);
	}
	return true;
}

static void shutdown_calls(struct run *u, const struct kind *k, int fd, int peer)
{
	unsigned char buf[8];
	long r;

	REC(u, "shutdown RD", shutdown(fd, SHUT_RD));
	REC_DATA(u, "recv after SHUT_RD", recv(fd, buf, sizeof(buf), MSG_DONTWAIT), buf);
	r = REC(u, "shutdown WR", shutdown(fd, SHUT_WR));
	if (r == 0 && peer >= 0 && k->type != SOCK_DGRAM && k->type != SOCK_RAW)
		REC_VAL(u, "peer EOF", peer_eof_within(peer, WAIT_MS));
	REC(u, "send after SHUT_WR", send(fd, "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL));
	REC(u, "shutdown RDWR", shutdown(fd, SHUT_RDWR));
	REC(u, "shutdown bogus", shutdown(fd, 7));
	REC_VAL(u, "poll", poll_now(fd) & ~POLLOUT);
}

/* dup (closed first / original closed first), fork (the child closes). */
static void close_calls(struct run *u, int fd)
{
	int d, t = 0;
	socklen_t tl = sizeof(t);
	pid_t pid;

	d = REC_FD(u, "dup", dup(fd));
	REC(u, "close dup", close(d));
	pid = fork();
	if (pid == 0) {
		close(fd);
		_exit(0);
	}
	REC_VAL(u, "child closed", pid > 0 ? wait_exit(pid) : -1);
	REC(u, "SO_TYPE after fork", getsockopt(fd, SOL_SOCKET, SO_TYPE, &t, &tl));
	d = REC_FD(u, "dup", dup(fd));
	REC(u, "close original", close(fd));
	REC(u, "SO_TYPE on dup", getsockopt(d, SOL_SOCKET, SO_TYPE, &t, &tl));
	REC_VAL(u, "type", t);
	REC(u, "close dup", close(d));
}

/* The whole script on @fd; closes it. */
static void script(struct run *u, const struct kind *k, int fd)
{
	struct sockaddr_storage ss, hs;
	socklen_t len, hlen = 0;
	int helper = -1, peer = -1;

	u->n = 0;
	u->stop = -1;
	flag_calls(u, fd);
	getsockopt_sweep(u, fd);
	setsockopt_table(u, fd);
	REC_VAL(u, "poll", poll_now(fd));
	data_calls(u, fd);
	/* Unconnected sends only where nothing leaves the socket. */
	if (!is_inet(k) && k->family != AF_PACKET)
		send_calls(u, fd);

	len = bind_addr(k, &ss);
	REC(u, "bind", bind(fd, (void *)&ss, len));
	len = sizeof(ss);
	REC(u, "getsockname", getsockname(fd, (void *)&ss, &len));
	REC_VAL(u, "name length", len);
	if (k->type == SOCK_STREAM || k->type == SOCK_SEQPACKET)
		listen_calls(u, k, fd);

	/* AF_UNSPEC first (disconnects, or stops a listener), then connect. */
	memset(&ss, 0, sizeof(ss));
	REC(u, "connect AF_UNSPEC", connect(fd, (void *)&ss, sizeof(ss)));
	if (has_peer(k))
		helper = make_helper(k, &hs, &hlen);
	if (helper >= 0) {
		long r;

		r = REC(u, "connect", connect(fd, (void *)&hs, hlen));
		if (r == 0 || errno == EINPROGRESS) {
			REC_VAL(u, "connected",
				wait_poll(fd, POLLOUT, WAIT_MS));
			if (k->type == SOCK_DGRAM || (k->family == AF_UNIX && k->type == SOCK_RAW)) {
				len = sizeof(ss);
				if (getsockname(fd, (void *)&ss, &len) == 0 &&
				    connect(helper, (void *)&ss, len) == 0)
					peer = dup(helper);
			} else if (wait_poll(helper, POLLIN, WAIT_MS)) {
				peer = accept4(helper, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
			}
		}
		REC_VAL(u, "peer", peer >= 0);
		REC(u, "second connect", connect(fd, (void *)&hs, hlen));
		len = sizeof(ss);
		REC(u, "getpeername", getpeername(fd, (void *)&ss, &len));
		{
			int e = 0;
			socklen_t el = sizeof(e);

			REC(u, "SO_ERROR", getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el));
			REC_VAL(u, "SO_ERROR value", e);
		}
	} else {
		/* No peer: a connect to the bind address, answered at once. */
		len = bind_addr(k, &ss);
		if (!is_inet(k))
			REC(u, "connect", connect(fd, (void *)&ss, len));
	}
	if (peer >= 0)
		peer_calls(u, k, fd, peer);
	if (!form_calls(u, k, fd, peer))
		u->stop = u->n - 1;
	else
		shutdown_calls(u, k, fd, peer);
	close_calls(u, fd);
	if (peer >= 0)
		close(peer);
	if (helper >= 0)
		close(helper);
}

static void kind_name(const struct kind *k, char *buf, size_t len)
{
	snprintf(buf, len, "family %d type %d protocol %d", k->family, k->type,
		 k->protocol);
}

/* Every answer of @u as in @twin (up to a documented refusal). */
static int compare(struct __test_metadata *_metadata, const struct kind *k,
		   const char *mode, const struct run *twin, const struct run *u)
{
	char name[64];
	int i, bad = 0;

	kind_name(k, name, sizeof(name));
	for (i = 0; i < twin->n && i < u->n; i++) {
		const struct rec *a = &twin->r[i], *b = &u->r[i];

		if (u->stop == i) {
			/* documented: refused on a registered socket */
			EXPECT_TRUE(refused(b->err));
			EXPECT_TRUE(served(k));
			return bad;
		}
		if (a->what != b->what || a->a != b->a || a->b != b->b) {
			TH_LOG("%s, %s: the scripts parted at step %d (%s / %s)",
			       name, mode, i, a->what, b->what);
			bad++;
			break;
		}
		/* documented: a registered TCP socket has the module's ULP */
		if (((!strcmp(b->what, "getsockopt") && b->a == IPPROTO_TCP &&
		      b->b == TCP_ULP) || !strcmp(b->what, "TCP_ULP get")) &&
		    served(k) && !strcmp((const char *)b->data, "sharedsock"))
			continue;
		if (a->ret != b->ret || a->err != b->err || a->len != b->len ||
		    memcmp(a->data, b->data, sizeof(a->data))) {
			TH_LOG("%s, %s: step %d %s(%d, %d): %ld errno %d len %u, unregistered %ld errno %d len %u",
			       name, mode, i, b->what, b->a, b->b, b->ret, b->err,
			       b->len, a->ret, a->err, a->len);
			bad++;
		}
	}
	if (twin->stop < 0 && u->stop < 0 && twin->n != u->n) {
		TH_LOG("%s, %s: %d steps, unregistered %d", name, mode, u->n, twin->n);
		bad++;
	}
	EXPECT_EQ(0, bad);
	return bad;
}

static int register_fd(int fd, int efd, int queue)
{
	int ret = queue < 0 ?
		  ss_event_select(fd, efd, SS_FD_ALL_EVENTS) :
		  ss_async_select(fd, queue, 0x401, SS_FD_ALL_EVENTS);

	return ret ? errno : 0;
}

/* Every kind of family @f socket() creates, into @ks (at most @room). */
static int kinds(int f, struct kind *ks, int room)
{
	int n = 0;
	size_t t, p;

	{
		bool any = false;

		for (t = 0; t < ARRAY_SIZE(types); t++)
			for (p = 0; p < ARRAY_SIZE(protocols); p++) {
				struct kind k = { f, types[t], protocols[p] };
				int fd;

				if (f == AF_PACKET) {
					if (p > 1)
						break;
					k.protocol = p ? htons(ETH_P_ALL) : 0;
				}
				fd = open_kind(&k);
				if (fd < 0 && errno == EAFNOSUPPORT && !any)
					return 0;	/* no such family here */
				if (fd < 0)
					continue;
				any = true;
				close(fd);
				if (n < room)
					ks[n++] = k;
			}
	}
	return n;
}

static struct kind all[512];

static void sweep(struct __test_metadata *_metadata, int family)
{
	int nall;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int queue = ss_queue_create(O_CLOEXEC | O_NONBLOCK);
	int i, nserved = 0, nrefused = 0, nbad = 0;
	char list[4096] = "";
	long start = now_us();

	ASSERT_LE(0, efd);
	ASSERT_LE(0, queue);
	signal(SIGPIPE, SIG_IGN);
	nall = kinds(family, all, ARRAY_SIZE(all));
	if (!nall) {
		close(efd);
		close(queue);
		SKIP(return, "no family %d in this kernel", family);
	}
	for (i = 0; i < nall; i++) {
		const struct kind *k = &all[i];
		int twin, e, q, err_e, err_q;
		long t0 = now_us();
		char name[64];

		kind_name(k, name, sizeof(name));
		twin = open_kind(k);
		e = open_kind(k);
		q = open_kind(k);
		ASSERT_LE(0, twin) TH_LOG("%s", name);
		ASSERT_LE(0, e);
		ASSERT_LE(0, q);
		err_e = register_fd(e, efd, -1);
		err_q = register_fd(q, -1, queue);
		if (served(k)) {
			EXPECT_EQ(0, err_e) TH_LOG("%s: %s", name, strerror(err_e));
			EXPECT_EQ(0, err_q) TH_LOG("%s: %s", name, strerror(err_q));
			/* documented: a registration makes the file non-blocking */
			EXPECT_TRUE(fcntl(e, F_GETFL) & O_NONBLOCK);
			EXPECT_TRUE(fcntl(q, F_GETFL) & O_NONBLOCK);
			nserved++;
		} else {
			EXPECT_EQ(EOPNOTSUPP, err_e) TH_LOG("%s: %s", name, strerror(err_e));
			EXPECT_EQ(EOPNOTSUPP, err_q) TH_LOG("%s: %s", name, strerror(err_q));
			/* refused: nothing changed */
			EXPECT_FALSE(fcntl(e, F_GETFL) & O_NONBLOCK) TH_LOG("%s", name);
			EXPECT_FALSE(fcntl(q, F_GETFL) & O_NONBLOCK) TH_LOG("%s", name);
			nrefused++;
		}
		EXPECT_FALSE(fcntl(twin, F_GETFL) & O_NONBLOCK);
		close(q);
		script(&runs[0], k, twin);
		script(&runs[1], k, e);
		/* the queue-mode socket again, registered afresh */
		q = open_kind(k);
		ASSERT_LE(0, q);
		register_fd(q, -1, queue);
		script(&runs[2], k, q);
		if (now_us() - t0 > 2000000)
			TH_LOG("%s took %ld ms", name, (now_us() - t0) / 1000);
		nbad += compare(_metadata, k, "eventfd mode", &runs[0], &runs[1]) ? 1 : 0;
		nbad += compare(_metadata, k, "queue mode", &runs[0], &runs[2]) ? 1 : 0;
		if (strlen(list) + 32 < sizeof(list))
			snprintf(list + strlen(list), sizeof(list) - strlen(list),
				 " %d/%d/%d", k->family, k->type, k->protocol);
	}
	TH_LOG("%d kinds (%d served, %d refused), %d runs differed, %ld ms:%s",
	       nserved + nrefused, nserved, nrefused, nbad,
	       (now_us() - start) / 1000, list);
	/* TCP, UDP (protocol 0 and named); UDP-Lite is gone from 7.x */
	if (family == AF_INET || family == AF_INET6)
		EXPECT_LE(4, nserved);
	if (family == AF_UNIX)	/* stream, dgram, seqpacket, raw */
		EXPECT_LE(4, nserved);
	close(efd);
	close(queue);
}

/* One test per family, so that each is bounded and reported apart. */
FIXTURE(zoo) {
};

FIXTURE_VARIANT(zoo) {
	int family;
};

FIXTURE_SETUP(zoo)
{
}

FIXTURE_TEARDOWN(zoo)
{
}

#define FAMILY(name, nr)					\
	FIXTURE_VARIANT_ADD(zoo, name) { .family = nr }

FAMILY(unix, 1);
FAMILY(inet, 2);
FAMILY(ax25, 3);
FAMILY(ipx, 4);
FAMILY(appletalk, 5);
FAMILY(netrom, 6);
FAMILY(bridge, 7);
FAMILY(atmpvc, 8);
FAMILY(x25, 9);
FAMILY(inet6, 10);
FAMILY(rose, 11);
FAMILY(decnet, 12);
FAMILY(netbeui, 13);
FAMILY(security, 14);
FAMILY(key, 15);
FAMILY(netlink, 16);
FAMILY(packet, 17);
FAMILY(ash, 18);
FAMILY(econet, 19);
FAMILY(atmsvc, 20);
FAMILY(rds, 21);
FAMILY(sna, 22);
FAMILY(irda, 23);
FAMILY(pppox, 24);
FAMILY(wanpipe, 25);
FAMILY(llc, 26);
FAMILY(ib, 27);
FAMILY(mpls, 28);
FAMILY(can, 29);
FAMILY(tipc, 30);
FAMILY(bluetooth, 31);
FAMILY(iucv, 32);
FAMILY(rxrpc, 33);
FAMILY(isdn, 34);
FAMILY(phonet, 35);
FAMILY(ieee802154, 36);
FAMILY(caif, 37);
FAMILY(alg, 38);
FAMILY(nfc, 39);
FAMILY(vsock, 40);
FAMILY(kcm, 41);
FAMILY(qipcrtr, 42);
FAMILY(smc, 43);
FAMILY(xdp, 44);
FAMILY(mctp, 45);

TEST_F_TIMEOUT(zoo, every_kind_every_call, 240)
{
	sweep(_metadata, variant->family);
}

/* A second thread blocked in recv() or accept() while the socket goes. */
struct blocked {
	int fd;
	bool accept;
	long ret;
	int err;
	int done;	/* eventfd, written when the call returned */
	volatile pid_t tid;
};

static void *blocked_call(void *arg)
{
	struct blocked *b = arg;
	char c;
	uint64_t one64 = 1;

	b->tid = gettid();
	errno = 0;
	if (b->accept)
		b->ret = accept4(b->fd, NULL, NULL, SOCK_CLOEXEC);
	else
		b->ret = recv(b->fd, &c, 1, 0);
	b->err = b->ret < 0 ? errno : 0;
	if (b->accept && b->ret >= 0) {
		close(b->ret);
		b->ret = 0;	/* a descriptor */
	}
	if (write(b->done, &one64, sizeof(one64)) != sizeof(one64))
		b->err = -1;
	return NULL;
}

/*
 * @b's thread is asleep in its accept4() or recv() (recvfrom) within @ms:
 * only then may its descriptor be closed -- a call that has not begun
 * would find the number taken by the next socket made.
 */
static bool blocked_in_call(struct blocked *b, int ms)
{
	long want = b->accept ? SYS_accept4 : SYS_recvfrom, nr;
	char path[48], dir[32];
	FILE *f;

	for (; ms > 0; ms--, usleep(1000)) {
		if (!b->tid)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", b->tid);
		snprintf(dir, sizeof(dir), "self/task/%d", b->tid);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fscanf(f, "%ld", &nr) != 1)
			nr = -1;
		fclose(f);
		if (nr == want && proc_state_of(dir) == 'S')
			return true;
	}
	return false;
}

static bool readable_eventfd(int fd, int ms)
{
	return wait_poll(fd, POLLIN, ms);
}

enum action { ACT_SHUT_RD, ACT_SHUT_RDWR, ACT_CLOSE, ACT_MAX };

/*
 * One round: @mode 0 unregistered, 1 eventfd, 2 queue.  The call's result
 * into @ret/@err; false when it did not return (a hang).
 */
static bool blocked_round(struct __test_metadata *_metadata, const struct kind *k,
			  int mode, bool acc, enum action act, long *ret, int *err)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct blocked *bp = calloc(1, sizeof(*bp));	/* leaked by a hang */
	int efd = eventfd(0, EFD_CLOEXEC), queue = -1, helper = -1, peer = -1, fd;
	pthread_t th;
	bool returned;

#define b (*bp)
	if (!bp)
		return false;
	b.accept = acc;
	b.done = eventfd(0, EFD_CLOEXEC);
	if (efd < 0 || b.done < 0)
		return false;
	fd = open_kind(k);
	if (fd < 0)
		return false;
	if (acc) {
		len = bind_addr(k, &ss);
		if (bind(fd, (void *)&ss, len) || listen(fd, 4))
			return false;
		len = sizeof(ss);
		getsockname(fd, (void *)&ss, &len);
	} else {
		helper = make_helper(k, &ss, &len);
		if (k->family == AF_UNIX && k->type == SOCK_DGRAM) {
			sa_family_t af = AF_UNIX;	/* autobind: a name to answer */

			if (bind(fd, (void *)&af, sizeof(af)))
				return false;
		}
		if (helper < 0 || connect(fd, (void *)&ss, len))
			return false;
		if (k->type == SOCK_DGRAM || (k->family == AF_UNIX && k->type == SOCK_RAW)) {
			len = sizeof(ss);
			getsockname(fd, (void *)&ss, &len);
			if (connect(helper, (void *)&ss, len))
				return false;
			peer = helper;
			helper = -1;
		} else {
			peer = accept4(helper, NULL, NULL, SOCK_CLOEXEC);
			if (peer < 0)
				return false;
		}
	}
	if (mode == 1)
		EXPECT_EQ(0, ss_event_select(fd, efd, SS_FD_ALL_EVENTS));
	if (mode == 2) {
		queue = ss_queue_create(O_CLOEXEC);
		EXPECT_EQ(0, ss_async_select(fd, queue, 0x402, SS_FD_ALL_EVENTS));
	}
	/* blocking again: allowed at the fcntl() level (documented) */
	EXPECT_EQ(0, fcntl(fd, F_SETFL, O_RDWR));
	b.fd = fd;
	EXPECT_EQ(0, pthread_create(&th, NULL, blocked_call, &b));
	EXPECT_TRUE(blocked_in_call(&b, WAIT_MS));
	if (act == ACT_CLOSE) {
		close(fd);
		fd = -1;
		/* Linux: the call holds the file; a peer's data ends it */
		if (acc) {
			int c = socket(k->family, k->type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

			connect(c, (void *)&ss, len);
			returned = readable_eventfd(b.done, WAIT_MS);
			close(c);
		} else {
			send(peer, "z", 1, MSG_NOSIGNAL);
			returned = readable_eventfd(b.done, WAIT_MS);
		}
	} else {
		shutdown(fd, act == ACT_SHUT_RD ? SHUT_RD : SHUT_RDWR);
		returned = readable_eventfd(b.done, WAIT_MS);
	}
	if (returned) {
		pthread_join(th, NULL);
		*ret = b.ret;
		*err = b.err;
	} else {
		pthread_detach(th);	/* the test ends with it */
	}
	if (fd >= 0)
		close(fd);
	if (peer >= 0)
		close(peer);
	if (helper >= 0)
		close(helper);
	if (queue >= 0)
		close(queue);
	close(efd);
	if (returned) {
		close(b.done);
		free(bp);
	}
#undef b
	return returned;
}

static const char *const actions[] = { "shutdown(SHUT_RD)", "shutdown(SHUT_RDWR)", "close()" };

TEST(blocked_call_while_socket_goes)
{
	struct kind served_kinds[] = {
		{ AF_INET, SOCK_STREAM, 0 }, { AF_INET6, SOCK_STREAM, 0 },
		{ AF_INET, SOCK_DGRAM, 0 }, { AF_INET6, SOCK_DGRAM, 0 },
		{ AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE },
		{ AF_UNIX, SOCK_STREAM, 0 }, { AF_UNIX, SOCK_DGRAM, 0 },
		{ AF_UNIX, SOCK_SEQPACKET, 0 },
	};
	size_t i;
	int acc, act, mode, rounds = 0;
	long start = now_us();

	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < ARRAY_SIZE(served_kinds); i++)
	for (acc = 0; acc < 2; acc++)
	for (act = 0; act < ACT_MAX; act++) {
		const struct kind *k = &served_kinds[i];
		long ret0 = 0, ret;
		int err0 = 0, err;
		char name[64];

		int probe = open_kind(k);

		if (probe < 0)		/* UDP-Lite: not in 7.x */
			continue;
		close(probe);
		if (acc && k->type == SOCK_DGRAM)
			continue;
		kind_name(k, name, sizeof(name));
		for (mode = 0; mode < 3; mode++) {
			ret = -2;
			err = 0;
			if (!blocked_round(_metadata, k, mode, acc, act, &ret, &err)) {
				EXPECT_TRUE(false) TH_LOG("%s, mode %d: %s blocked in %s did not return",
						    name, mode, actions[act], acc ? "accept" : "recv");
				continue;
			}
			rounds++;
			if (mode == 0) {
				ret0 = ret;
				err0 = err;
				continue;
			}
			EXPECT_EQ(ret0, ret) TH_LOG("%s, mode %d, %s during %s", name, mode,
						  actions[act], acc ? "accept" : "recv");
			EXPECT_EQ(err0, err) TH_LOG("%s, mode %d, %s during %s", name, mode,
						  actions[act], acc ? "accept" : "recv");
		}
	}
	TH_LOG("%d rounds, %ld ms", rounds, (now_us() - start) / 1000);
}

TEST_HARNESS_MAIN
