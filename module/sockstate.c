// SPDX-License-Identifier: GPL-2.0
/*
 * What holds on a socket of a served kind: TCP and UDP over IPv4 and IPv6,
 * AF_UNIX stream, datagram and seqpacket (ss_sock_served()).  Every read
 * is lockless, as the protocol's own poll makes it, and is made only on a
 * socket of a served kind: on any other the answers would be wrong or
 * unsafe, which is why registration refuses it as a whole.
 */
#include <linux/udp.h>
#include <net/inet_connection_sock.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "sockstate.h"

/* The key of sock_def_readable(): data or a connection arrived. */
#define SS_DATA_WAKE	(EPOLLIN | EPOLLPRI | EPOLLRDNORM | EPOLLRDBAND)
/* The key of sock_def_write_space() and sk_stream_write_space(): space. */
#define SS_SPACE_WAKE	(EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND)

static_assert(SS_SHUT_RCV == RCV_SHUTDOWN && SS_SHUT_SEND == SEND_SHUTDOWN);

bool ss_sock_is_tcp(const struct sock *sk)
{
	return (sk->sk_family == AF_INET || sk->sk_family == AF_INET6) &&
	       sk->sk_type == SOCK_STREAM && sk->sk_protocol == IPPROTO_TCP;
}

bool ss_sock_is_udp(const struct sock *sk)
{
	return (sk->sk_family == AF_INET || sk->sk_family == AF_INET6) &&
	       sk->sk_type == SOCK_DGRAM &&
	       (sk->sk_protocol == IPPROTO_UDP ||
		sk->sk_protocol == IPPROTO_UDPLITE);
}

/*
 * The socket kinds the event layer serves.  Its readiness and re-enabling
 * rules read those protocols' state; on any other kind (MPTCP, SCTP, raw
 * and ping, packet, netlink, vsock, ...) they would be wrong or unsafe, so
 * registration refuses it as a whole.
 */
bool ss_sock_served(const struct socket *sock, const struct sock *sk)
{
	if (sk->sk_family == AF_UNIX)
		return sock->type == SOCK_STREAM || sock->type == SOCK_DGRAM ||
		       sock->type == SOCK_SEQPACKET;
	return ss_sock_is_tcp(sk) || ss_sock_is_udp(sk);
}

bool ss_sock_is_stream(const struct socket *sock)
{
	return sock->type == SOCK_STREAM || sock->type == SOCK_SEQPACKET;
}

bool ss_sock_listening(const struct sock *sk)
{
	return READ_ONCE(sk->sk_state) == TCP_LISTEN;
}

static bool ss_sock_accept_pending(struct sock *sk)
{
	if (sk->sk_family == AF_INET || sk->sk_family == AF_INET6)
		return !reqsk_queue_empty(&inet_csk(sk)->icsk_accept_queue);
	return !skb_queue_empty_lockless(&sk->sk_receive_queue);
}

/*
 * What tcp_poll() calls readable, less the FIN and without SO_RCVLOWAT
 * (FD_READ means any data): a recv() would return data.  An urgent byte
 * not read inline is skipped by recv(), so at the head of the stream it
 * takes one more byte after it to count; data beyond an urgent mark counts
 * (tcp_inq() stops at the mark).
 */
static bool ss_tcp_readable(struct sock *sk)
{
	const struct tcp_sock *tp = tcp_sk(sk);
	int state = READ_ONCE(sk->sk_state);
	u32 copied = READ_ONCE(tp->copied_seq);
	int avail = READ_ONCE(tp->rcv_nxt) - copied;
	int target = 1;

	if ((1 << state) & (TCPF_SYN_SENT | TCPF_LISTEN))
		return false;
	/* A passive Fast Open child has data in SYN_RECV already. */
	if (state == TCP_SYN_RECV && !rcu_access_pointer(tp->fastopen_rsk))
		return false;
	if (avail > 0 && sock_flag(sk, SOCK_DONE))
		avail--;
	if (READ_ONCE(tp->urg_data) && READ_ONCE(tp->urg_seq) == copied &&
	    !sock_flag(sk, SOCK_URGINLINE))
		target++;
	return avail >= target;
}

/* Data (not merely an end of file) is waiting to be read. */
bool ss_sock_readable(struct sock *sk)
{
	if (ss_sock_is_tcp(sk))
		return ss_tcp_readable(sk);
	if (ss_sock_is_udp(sk) &&
	    !skb_queue_empty_lockless(&udp_sk(sk)->reader_queue))
		return true;
	return !skb_queue_empty_lockless(&sk->sk_receive_queue);
}

/* TCP urgent data is waiting and is not read inline: FD_OOB. */
static bool ss_sock_urgent(struct sock *sk)
{
	return ss_sock_is_tcp(sk) && !sock_flag(sk, SOCK_URGINLINE) &&
	       (READ_ONCE(tcp_sk(sk)->urg_data) & TCP_URG_VALID);
}

bool ss_sock_established(const struct socket *sock, const struct sock *sk)
{
	int state = READ_ONCE(sk->sk_state);

	if (!ss_sock_is_stream(sock))
		return true;
	/* A passive Fast Open child may send before the handshake ends. */
	if (state == TCP_SYN_RECV && ss_sock_is_tcp(sk))
		return rcu_access_pointer(tcp_sk(sk)->fastopen_rsk);
	return state == TCP_ESTABLISHED || state == TCP_CLOSE_WAIT;
}

/*
 * At registration: the stream socket's connection exists, or existed and
 * has ended already (a reset, or FINs both ways), so that its FD_CLOSE
 * is recorded at once.  Accepted and blocking-connected sockets are
 * SS_CONNECTED for good; TCP reaches the FIN states only from a connection
 * (a full socket leaves TIME_WAIT to its timewait sock and is closed).
 */
bool ss_sock_was_connected(const struct socket *sock, const struct sock *sk)
{
	const struct tcp_sock *tp = tcp_sk(sk);

	if (ss_sock_established(sock, sk) ||
	    READ_ONCE(sock->state) == SS_CONNECTED)
		return true;
	if (!ss_sock_is_tcp(sk))
		return false;
	if ((1 << READ_ONCE(sk->sk_state)) &
	    (TCPF_FIN_WAIT1 | TCPF_FIN_WAIT2 | TCPF_LAST_ACK | TCPF_CLOSING))
		return true;
	/*
	 * Closed: a non-blocking connect leaves the socket SS_CONNECTING for
	 * good, so ask TCP whether its SYN was ever acknowledged (a refused
	 * or failed attempt was not; a disconnect clears the count).
	 */
	return READ_ONCE(sk->sk_state) == TCP_CLOSE &&
	       (READ_ONCE(tp->bytes_acked) || READ_ONCE(tp->bytes_received));
}

/* A TCP connect() is in progress. */
bool ss_sock_connecting(const struct sock *sk)
{
	return ss_sock_is_tcp(sk) && READ_ONCE(sk->sk_state) == TCP_SYN_SENT;
}

/*
 * Room to send, as the protocol's write-space callback judges it before it
 * wakes anyone (sk_stream_write_space(), unix_write_space(),
 * sock_def_write_space()): it is called on every freed send buffer (UDP,
 * AF_UNIX), or whenever some space came back (TCP).
 */
bool ss_sock_writable(struct sock *sk)
{
	int wmem = refcount_read(&sk->sk_wmem_alloc);

	if (ss_sock_is_tcp(sk))
		return __sk_stream_is_writeable(sk, 1);
	if (sk->sk_family == AF_UNIX)
		return (wmem << 2) <= READ_ONCE(sk->sk_sndbuf);
	return (wmem << 1) <= READ_ONCE(sk->sk_sndbuf);
}

/*
 * Look at @sk for the rules (rules.c); @obs->space and @obs->space_wake
 * are the caller's, from the wake-up key or from poll.
 */
void ss_sock_observe(const struct socket *sock, struct sock *sk,
		     struct ss_obs *obs)
{
	int state = READ_ONCE(sk->sk_state);

	obs->listening = state == TCP_LISTEN;
	obs->sk_err = READ_ONCE(sk->sk_err);
	if (obs->listening) {
		obs->accept_pending = ss_sock_accept_pending(sk);
		return;
	}
	obs->readable = ss_sock_readable(sk);
	obs->urgent = ss_sock_urgent(sk);
	obs->established = ss_sock_established(sock, sk);
	obs->connect_failed = state == TCP_CLOSE && obs->sk_err;
	if (ss_sock_is_tcp(sk))
		obs->peer_closed = (1 << state) &
				   (TCPF_CLOSE_WAIT | TCPF_LAST_ACK |
				    TCPF_CLOSING | TCPF_TIME_WAIT | TCPF_CLOSE);
	else
		obs->rcv_shutdown = READ_ONCE(sk->sk_shutdown) & RCV_SHUTDOWN;
}

/* What a wake-up with @key (0: a state change) may have changed. */
unsigned int ss_wake_classes(__poll_t key)
{
	unsigned int wake = 0;

	if (!key)
		return SS_WAKE_IN | SS_WAKE_PRI;
	if (key & EPOLLIN)
		wake |= SS_WAKE_IN;
	if (key & (EPOLLIN | EPOLLPRI))
		wake |= SS_WAKE_PRI;
	if (key & EPOLLOUT)
		wake |= SS_WAKE_OUT;
	return wake;
}

/*
 * The classes of a wake-up whose key names only data and/or space, for
 * ss_rules_wake_is_noop(); 0 for any other (a state change, an error).
 */
unsigned int ss_wake_pure(__poll_t key)
{
	if (!key || (key & ~(SS_DATA_WAKE | SS_SPACE_WAKE)))
		return 0;
	return ss_wake_classes(key);
}
