// SPDX-License-Identifier: GPL-2.0
/*
 * Every socket kind socket() creates in the VM, not only the served ones:
 * registration (eventfd and queue modes) succeeds on TCP and UDP over IPv4
 * and IPv6 and on AF_UNIX stream, datagram and seqpacket, and is refused
 * with EOPNOTSUPP on everything else (MPTCP, raw, ping, packet, netlink,
 * ...).  On every kind, registered or not, setsockopt() at each level
 * answers exactly as it does on an unregistered socket of the same kind:
 * the registration never calls an operation the protocol lacks (AF_UNIX
 * has no setsockopt; the first event layer called NULL there).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "kselftest_harness.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP	262
#endif
#ifndef AF_VSOCK
#define AF_VSOCK	40
#endif

struct kind {
	int family, type, protocol;
	bool served;
};

/* Families, types and protocols to try; socket() decides what exists. */
static const int families[] = {
	AF_UNIX, AF_INET, AF_INET6, AF_NETLINK, AF_PACKET, AF_KEY, AF_VSOCK,
	AF_ALG, AF_TIPC, AF_CAN, AF_BLUETOOTH, AF_RDS, AF_XDP, AF_QIPCRTR,
};
static const int types[] = {
	SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_RAW, SOCK_RDM,
};
static const int protocols[] = {
	0, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE, IPPROTO_SCTP,
	IPPROTO_MPTCP, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_RAW,
};

/* What the event layer serves (Documentation/sharedsock.rst). */
static bool served(int family, int type, int protocol)
{
	/* AF_UNIX makes a SOCK_RAW socket a datagram socket */
	if (family == AF_UNIX)
		return type == SOCK_STREAM || type == SOCK_DGRAM ||
		       type == SOCK_SEQPACKET || type == SOCK_RAW;
	if (family != AF_INET && family != AF_INET6)
		return false;
	if (type == SOCK_STREAM)
		return protocol == 0 || protocol == IPPROTO_TCP;
	if (type == SOCK_DGRAM)
		return protocol == 0 || protocol == IPPROTO_UDP ||
		       protocol == IPPROTO_UDPLITE;
	return false;
}

static bool readable_within(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

static int open_kind(const struct kind *k)
{
	int proto = k->protocol;

	/* packet sockets take the ethertype in network order */
	if (k->family == AF_PACKET && proto == IPPROTO_RAW)
		proto = htons(ETH_P_ALL);
	return socket(k->family, k->type | SOCK_CLOEXEC, proto);
}

/* The setsockopt() calls tried on every kind: one per level. */
struct opt {
	int level, name, value;
};

static const struct opt opts[] = {
	{ SOL_SOCKET, SO_RCVBUF, 65536 },
	{ SOL_SOCKET, SO_KEEPALIVE, 1 },
	{ IPPROTO_IP, IP_TOS, 0x10 },
	{ IPPROTO_IPV6, IPV6_V6ONLY, 1 },
	{ IPPROTO_TCP, TCP_NODELAY, 1 },
	{ IPPROTO_UDP, 1 /* UDP_CORK */, 0 },
	{ SOL_NETLINK, NETLINK_PKTINFO, 1 },
	{ 263 /* SOL_PACKET */, 8 /* PACKET_AUXDATA */, 1 },
	{ 0x7fff, 1, 1 },	/* a level nobody has */
};

/* setsockopt()'s outcome: 0, or the errno. */
static int set_result(int fd, const struct opt *o)
{
	return setsockopt(fd, o->level, o->name, &o->value, sizeof(o->value)) ?
	       errno : 0;
}

/*
 * Register @fd (eventfd mode when @queue < 0, else queue mode): 0 or the
 * errno.
 */
static int register_fd(int fd, int efd, int queue)
{
	int ret = queue < 0 ?
		  ss_event_select(fd, efd, SS_FD_READ | SS_FD_WRITE | SS_FD_CLOSE) :
		  ss_async_select(fd, queue, 0x400, SS_FD_READ | SS_FD_WRITE | SS_FD_CLOSE);

	return ret ? errno : 0;
}

static void sweep(struct __test_metadata *_metadata, bool queue_mode)
{
	int efd = eventfd(0, EFD_CLOEXEC);
	int queue = queue_mode ? ss_queue_create(0) : -1;
	int nserved = 0, nrefused = 0;
	size_t f, t, p, o;

	ASSERT_LE(0, efd);
	if (queue_mode)
		ASSERT_LE(0, queue);
	for (f = 0; f < ARRAY_SIZE(families); f++)
	for (t = 0; t < ARRAY_SIZE(types); t++)
	for (p = 0; p < ARRAY_SIZE(protocols); p++) {
		struct kind k = { families[f], types[t], protocols[p], false };
		int fd, twin, err;

		fd = open_kind(&k);
		if (fd < 0)
			continue;
		twin = open_kind(&k);
		ASSERT_LE(0, twin);
		k.served = served(k.family, k.type, k.protocol);
		err = register_fd(fd, efd, queue);
		if (k.served) {
			EXPECT_EQ(0, err) TH_LOG("family %d type %d protocol %d: %s",
						 k.family, k.type, k.protocol, strerror(err));
			nserved++;
		} else {
			EXPECT_EQ(EOPNOTSUPP, err)
				TH_LOG("family %d type %d protocol %d: %s, not EOPNOTSUPP",
				       k.family, k.type, k.protocol, strerror(err));
			nrefused++;
		}
		for (o = 0; o < ARRAY_SIZE(opts); o++)
			EXPECT_EQ(set_result(twin, &opts[o]), set_result(fd, &opts[o]))
				TH_LOG("family %d type %d protocol %d: setsockopt(%d, %d)",
				       k.family, k.type, k.protocol,
				       opts[o].level, opts[o].name);
		/* Still registered after all of it, and cancelled cleanly. */
		if (k.served) {
			EXPECT_NE(0, ss_registered_events(fd));
			EXPECT_EQ(0, queue_mode ? ss_async_select(fd, queue, 0, 0) :
					       ss_event_select(fd, -1, 0));
		}
		close(twin);
		close(fd);
	}
	TH_LOG("%d kinds served, %d refused", nserved, nrefused);
	/* TCP, UDP, UDP-Lite over v4 and v6 (protocol 0 and named), AF_UNIX x3 */
	EXPECT_LE(11, nserved);
	EXPECT_LE(4, nrefused);
	close(efd);
	if (queue >= 0)
		close(queue);
}

TEST(every_kind_eventfd_mode)
{
	sweep(_metadata, false);
}

TEST(every_kind_queue_mode)
{
	sweep(_metadata, true);
}

/*
 * The review's reproducer: a registered AF_UNIX socketpair end, then
 * setsockopt(IP_TOS).  An AF_UNIX socket has no setsockopt operation: the
 * call fails with EOPNOTSUPP, as without a registration.
 */
TEST(unix_setsockopt_after_registration)
{
	int sv[2], efd = eventfd(0, EFD_CLOEXEC), tos = 0x10;
	struct ss_network_events ne;

	ASSERT_LE(0, efd);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	ASSERT_EQ(0, ss_event_select(sv[0], efd, SS_FD_READ));
	EXPECT_EQ(-1, setsockopt(sv[0], IPPROTO_IP, IP_TOS, &tos, sizeof(tos)));
	EXPECT_EQ(EOPNOTSUPP, errno);
	/* Still served: data is FD_READ. */
	ASSERT_EQ(1, write(sv[1], "x", 1));
	ASSERT_TRUE(readable_within(efd, WAIT_MS));
	ASSERT_EQ(0, ss_enum_network_events(sv[0], efd, &ne));
	EXPECT_EQ(SS_FD_READ, ne.network_events);
	close(sv[0]);
	close(sv[1]);
	close(efd);
}

/* An MPTCP socket (listener or not) is refused, so nothing inherits. */
TEST(mptcp_is_refused)
{
	int efd = eventfd(0, EFD_CLOEXEC);
	int s = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);

	ASSERT_LE(0, efd);
	if (s < 0)
		SKIP(return, "no MPTCP in this kernel");
	EXPECT_EQ(-1, ss_event_select(s, efd, SS_FD_ACCEPT));
	EXPECT_EQ(EOPNOTSUPP, errno);
	close(s);
	close(efd);
}

TEST_HARNESS_MAIN
