// SPDX-License-Identifier: GPL-2.0
/*
 * TCP and UDP sockets watched through their struct proto.
 *
 * A registered TCP or UDP socket's sk_prot points at a copy of its
 * protocol's struct proto, one per protocol shared by all such sockets,
 * in which a few operations are wrapped: the socket layer's inet and inet6
 * operations reach the protocol through sk_prot, so every call that
 * Winsock's rules care about passes here, whichever syscall made it (read,
 * recv, recvmmsg, io_uring, sendfile, ...):
 *  - recvmsg, sendmsg (and sendpage where it exists), accept: the
 *    re-enabling calls;
 *  - connect: the start of a connection (its end is a wake-up);
 *  - shutdown: to tell a local shutdown from the peer's;
 *  - close: the socket's last close, before the protocol's own.
 *
 * This is the interposition BPF sockmap and kTLS make (sk_psock_update_proto
 * and tls_build_proto): the copy is installed under the socket's lock, for
 * TCP by the module's ULP through the socket's own setsockopt(TCP_ULP)
 * path (ulp.c), for UDP by the registration itself; it is given back
 * under the lock at close, before the protocol's close runs, as
 * sock_map_close() and tls_sk_proto_close() give theirs back.  It is
 * installed only where sk_prot is still the protocol's own (sk_prot ==
 * sk_prot_creator): not on a sockmap member nor on a socket that another
 * ULP took; and the copy has no psock_update_sk_prot, so that sockmap
 * refuses the socket afterwards.  A TCP socket whose sk_prot is not
 * tcpv6_prot cannot take IPV6_ADDRFORM; a UDP one can, which takes the
 * copy away (attach.c).
 *
 * The copies are owned by this module and freed at its exit.  A TCP
 * listener's children are clones made from the copy: they carry it as
 * sk_prot, and hold the module through the ULP they clone too (ulp.c),
 * until they are destroyed; their sk_prot_creator, which their TIME_WAIT
 * socks inherit and which outlives them by up to a minute, is given the
 * protocol's own back as they are cloned (ss_prot_cloned()).  No other
 * socket keeps the copy past its close, nor any sock the copy's owner.
 */
#include <linux/indirect_call_wrapper.h>
#include <linux/module.h>
#include <net/inet_common.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "attach.h"
#include "compat.h"
#include "copies.h"
#include "skprot.h"
#include "sockcb.h"
#include "sockstate.h"
#include "ulp.h"

/*
 * The protocol's own struct proto, for a socket whose sk_prot is, or was
 * when the call began, a copy.  Read from sk_prot_creator, which nothing
 * changes: sk_prot may have been given back meanwhile, or replaced by
 * IPV6_ADDRFORM (a call that began before runs against the IPv6 protocol,
 * as it would without the module).  A listener's child was made with the
 * copy as its creator.
 */
static struct proto *ss_base(const struct sock *sk)
{
	struct proto *prot = sk->sk_prot_creator;

	if (prot->owner == THIS_MODULE)
		prot = (struct proto *)ss_copy_orig(prot);
	return prot;
}

/* @sk's registration: in the ULP's field for TCP (ulp.h), else looked up. */
static struct ss_reg *ss_prot_reg(const struct sock *sk)
{
	struct socket *sock;

	if (sk->sk_protocol == IPPROTO_TCP)
		return ss_ulp_reg(sk);
	sock = READ_ONCE(sk->sk_socket);
	return sock ? ss_reg_lookup(sock) : NULL;
}

/* --- Wrapped operations --- */

/*
 * The protocol's recvmsg, by a direct call for TCP where the kernel exports
 * tcp_recvmsg() to modules (up to 6.1; later kernels export it to the IPv6
 * module alone), as inet_recvmsg() calls it without us.
 */
#ifdef SHAREDSOCK_HAVE_TCP_RECVMSG_EXPORT
#define ss_call_recvmsg(f, ...)	INDIRECT_CALL_1(f, tcp_recvmsg, __VA_ARGS__)
#else
#define ss_call_recvmsg(f, ...)	f(__VA_ARGS__)
#endif

/*
 * A recv() (with MSG_OOB in @flags: of urgent data) returned @ret.
 */
static void ss_prot_received(struct sock *sk, int flags, int ret)
{
	struct ss_reg *reg = ss_prot_reg(sk);

	if (reg)
		ss_reg_received(reg, flags & MSG_OOB, ret == -EFAULT);
}

#ifdef SHAREDSOCK_HAVE_RECVMSG_ADDR_LEN
static int ss_prot_recvmsg(struct sock *sk, struct msghdr *msg, size_t len,
			   int flags, int *addr_len)
{
	int ret = ss_call_recvmsg(ss_base(sk)->recvmsg, sk, msg, len, flags,
				  addr_len);

	ss_prot_received(sk, flags, ret);
	return ret;
}
#else
static int ss_prot_recvmsg(struct sock *sk, struct msghdr *msg, size_t len,
			   int flags)
{
	int ret = ss_call_recvmsg(ss_base(sk)->recvmsg, sk, msg, len, flags);

	ss_prot_received(sk, flags, ret);
	return ret;
}
#endif

static void ss_prot_send_done(struct sock *sk, long ret)
{
	struct ss_reg *reg;

	/* Only a send that would block re-enables FD_WRITE. */
	if (ret != -EAGAIN)
		return;
	reg = ss_prot_reg(sk);
	if (reg)
		ss_reg_called(reg, SS_CALL_SEND_BLOCKED);
}

static int ss_prot_sendmsg(struct sock *sk, struct msghdr *msg, size_t len)
{
	/* A direct call for TCP, as inet_sendmsg() makes without us. */
	int ret = INDIRECT_CALL_1(ss_base(sk)->sendmsg, tcp_sendmsg, sk, msg,
				  len);

	ss_prot_send_done(sk, ret);
	return ret;
}

#ifdef SHAREDSOCK_HAVE_SENDPAGE
static int ss_prot_sendpage(struct sock *sk, struct page *page, int offset,
			    size_t size, int flags)
{
	int ret = ss_base(sk)->sendpage(sk, page, offset, size, flags);

	ss_prot_send_done(sk, ret);
	return ret;
}
#endif

/*
 * How a connect() ended: for TCP, a SYN on its way or not; a UDP socket is
 * connected at once.
 */
static enum ss_connect_end ss_prot_connect_end(struct sock *sk, int ret)
{
	if (!ret)
		return ss_sock_is_tcp(sk) ? SS_CONNECT_GOES_ON :
					    SS_CONNECT_DONE;
	return ss_connect_err_is_attempt(-ret) ? SS_CONNECT_FAILED :
						 SS_CONNECT_REFUSED;
}

/*
 * Called by inet_stream_connect() only to start a connection, and by
 * inet_dgram_connect() to connect (not to disconnect).
 */
static int ss_prot_connect(struct sock *sk, struct sockaddr_unsized *addr,
			   int len)
{
	struct ss_reg *reg = ss_prot_reg(sk);
	int ret;

	if (reg)
		ss_reg_connect_start(reg);
	ret = ss_base(sk)->connect(sk, addr, len);
	if (reg)
		ss_reg_connect_end(reg, ss_prot_connect_end(sk, ret), -ret);
	return ret;
}

static void ss_prot_shutdown(struct sock *sk, int how)
{
	struct ss_reg *reg = ss_prot_reg(sk);

	if (reg)
		ss_reg_local_shutdown(reg, how & SHUTDOWN_MASK);
	ss_base(sk)->shutdown(sk, how);
}

/*
 * A UDP socket bound, by bind() or by the first send or connect() of an
 * unbound one: FD_WRITE, which an unbound datagram socket does not report
 * in event mode, is looked at again (Windows reports it once bound).
 */
static int ss_prot_get_port(struct sock *sk, unsigned short snum)
{
	int ret = ss_base(sk)->get_port(sk, snum);
	struct ss_reg *reg;

	if (!ret) {
		reg = ss_prot_reg(sk);
		if (reg)
			ss_reg_bound(reg);
	}
	return ret;
}

/*
 * A registered listener's accept: re-enables FD_ACCEPT, and the socket it
 * gives inherits the registration once userspace has it (attach.c).  The
 * registration's memory is taken first, and without it the accept fails
 * (ENOMEM) before it takes a connection: an accepted socket of a
 * registered listener always inherits.
 */
static struct ss_adopt *ss_prot_accept_begin(struct sock *sk, bool kern,
					     struct ss_reg **reg)
{
	*reg = ss_prot_reg(sk);
	if (kern || !*reg)
		return NULL;
	return ss_attach_adopt_prepare(*reg) ?: ERR_PTR(-ENOMEM);
}

static void ss_prot_accept_end(struct sock *sk, struct ss_reg *reg,
			       struct ss_adopt *adopt, struct sock *newsk)
{
	ss_attach_adopt(adopt, sk->sk_socket, newsk);
	if (reg)
		ss_reg_called(reg, SS_CALL_ACCEPT);
}

#ifdef SHAREDSOCK_HAVE_PROTO_ACCEPT_ARG
static struct sock *ss_prot_accept(struct sock *sk,
				   struct proto_accept_arg *arg)
{
	struct ss_reg *reg;
	struct ss_adopt *adopt = ss_prot_accept_begin(sk, arg->kern, &reg);
	struct sock *newsk;

	if (IS_ERR(adopt)) {
		arg->err = PTR_ERR(adopt);
		return NULL;
	}
	newsk = ss_base(sk)->accept(sk, arg);
	ss_prot_accept_end(sk, reg, adopt, newsk);
	return newsk;
}
#else
static struct sock *ss_prot_accept(struct sock *sk, int flags, int *err,
				   bool kern)
{
	struct ss_reg *reg;
	struct ss_adopt *adopt = ss_prot_accept_begin(sk, kern, &reg);
	struct sock *newsk;

	if (IS_ERR(adopt)) {
		*err = PTR_ERR(adopt);
		return NULL;
	}
	newsk = ss_base(sk)->accept(sk, flags, err, kern);
	ss_prot_accept_end(sk, reg, adopt, newsk);
	return newsk;
}
#endif

/*
 * The socket's last close (inet_release()): the registration goes first,
 * then the protocol's callbacks (TCP) and struct proto come back, then
 * its close runs.
 */
static void ss_prot_close(struct sock *sk, long timeout)
{
	struct proto *base = ss_base(sk);
	struct ss_reg *reg = ss_prot_reg(sk);
	struct ss_sink old;

	if (reg)
		ss_attach_closing(reg, sk, &old);
	lock_sock(sk);
	if (sk->sk_protocol == IPPROTO_TCP)
		ss_sockcb_unhook(sk);
	if (ss_prot_is_ours(sk))
		WRITE_ONCE(sk->sk_prot, base);
	release_sock(sk);
	base->close(sk, timeout);
	if (reg)
		ss_attach_closed(reg, &old);
}

/* --- The copies --- */

/* Fill @copy, a struct proto, from @orig, the protocol's (struct ss_copies). */
static void ss_prot_wrap(void *copy, const void *orig)
{
	const struct proto *base = orig;
	struct proto *prot = copy;

	*prot = *base;
	prot->owner = THIS_MODULE;
#ifdef CONFIG_BPF_SYSCALL
	/* BPF sockmap takes no socket whose proto cannot be updated. */
	prot->psock_update_sk_prot = NULL;
#endif
	prot->recvmsg = ss_prot_recvmsg;
	prot->sendmsg = ss_prot_sendmsg;
#ifdef SHAREDSOCK_HAVE_SENDPAGE
	if (base->sendpage)
		prot->sendpage = ss_prot_sendpage;
#endif
	prot->close = ss_prot_close;
	if (base->accept)
		prot->accept = ss_prot_accept;
	if (base->shutdown)
		prot->shutdown = ss_prot_shutdown;
	if (base->connect)
		prot->connect = ss_prot_connect;
	/* UDP, UDPv6 (and UDP-Lite): TCP's binds need no look. */
	if (base->get_port && !strncmp(base->name, "UDP", 3))
		prot->get_port = ss_prot_get_port;
}

/*
 * The copies, one per protocol (kept until module exit: see the top of
 * the file).
 */
static const struct ss_copies ss_prots = {
	.size = sizeof(struct proto),
	.wrap = ss_prot_wrap,
};

/* Whether @sk's calls reach this module. */
bool ss_prot_is_ours(const struct sock *sk)
{
	return READ_ONCE(sk->sk_prot)->owner == THIS_MODULE;
}

/**
 * ss_prot_install - point a TCP or UDP socket's sk_prot at its copy
 * @sk: the sock, locked by the caller (lock_sock())
 *
 * Return: 0, or -EOPNOTSUPP when sk_prot is not its protocol's own (a
 * sockmap member, a socket converted by IPV6_ADDRFORM), -ENOMEM.
 */
int ss_prot_install(struct sock *sk)
{
	struct proto *base = sk->sk_prot;
	struct proto *copy;

	sock_owned_by_me(sk);
	if (ss_prot_is_ours(sk))
		return 0;
	if (base != sk->sk_prot_creator ||
	    !(ss_sock_is_tcp(sk) || ss_sock_is_udp(sk)))
		return -EOPNOTSUPP;
	copy = ss_copy_get(&ss_prots, base);
	if (!copy)
		return -ENOMEM;
	WRITE_ONCE(sk->sk_prot, copy);
	return 0;
}

/*
 * @newsk was cloned from a listener whose sk_prot is a copy (the ULP's
 * clone, in softirq): its sk_prot_creator, the struct proto it is freed
 * by and its TIME_WAIT sock takes, becomes the protocol's own, with the
 * reference sk_prot_alloc() took on the copy's owner.  It is the same
 * slab and the same operations; only the owner differs.
 */
void ss_prot_cloned(struct sock *newsk)
{
	if (newsk->sk_prot_creator->owner != THIS_MODULE)
		return;
	newsk->sk_prot_creator = ss_base(newsk);
	/* The ULP's reference (ulp.c) holds the module still. */
	module_put(THIS_MODULE);
}
