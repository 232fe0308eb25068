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
#include <net/af_unix.h>
#include <net/tcp.h>

#include "sockstate.h"

static_assert(SS_SHUT_RCV == RCV_SHUTDOWN && SS_SHUT_SEND == SEND_SHUTDOWN);

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

/*
 * At registration: the socket was connected by its own connect(), not
 * accepted, so that event mode reports FD_CONNECT for it (Windows).  No
 * socket records which way it was made; these are the traces each kind
 * keeps:
 *  - TCP: an accepted socket is a clone of its listener and keeps the
 *    listener's sk_max_ack_backlog, which a socket that never listened
 *    has at 0 (so a child of a listen(fd, 0) listener is taken for a
 *    connected one: Documentation/winsock.rst);
 *  - AF_UNIX stream: an accepted socket shares its listener's address, a
 *    socketpair() end has none and neither has its peer, a connecting one
 *    has none (unless it was bound: taken for accepted) and its peer, the
 *    accepted one, has its listener's;
 *  - UDP: connected, as connect() leaves it.
 */
static bool ss_unix_connected_before(struct sock *sk)
{
	struct sock *peer;
	bool named;

	if (READ_ONCE(unix_sk(sk)->addr))
		return false;
	/*
	 * As unix_peer_get() (no longer declared to modules from 7.2): the
	 * peer is read under the socket's state lock, and the reference the
	 * socket holds on it keeps it while the lock is held.
	 */
	unix_state_lock(sk);
	peer = unix_peer(sk);
	named = peer && READ_ONCE(unix_sk(peer)->addr);
	unix_state_unlock(sk);
	return named;
}

bool ss_sock_connected_before(const struct socket *sock, struct sock *sk)
{
	if (ss_sock_is_tcp(sk))
		return READ_ONCE(sock->state) != SS_UNCONNECTED &&
		       ss_sock_established(sock, sk) &&
		       !READ_ONCE(sk->sk_max_ack_backlog);
	if (sk->sk_family == AF_UNIX)
		return ss_sock_is_stream(sock) &&
		       ss_sock_established(sock, sk) &&
		       ss_unix_connected_before(sk);
	return READ_ONCE(sk->sk_state) == TCP_ESTABLISHED;
}

/* A TCP connect() is in progress. */
bool ss_sock_connecting(const struct sock *sk)
{
	return ss_sock_is_tcp(sk) && READ_ONCE(sk->sk_state) == TCP_SYN_SENT;
}

