// SPDX-License-Identifier: GPL-2.0
/*
 * The "sharedsock" TCP upper-layer protocol: a registered TCP socket is
 * made the module's through the kernel's interface for exactly that.
 *
 * A registration swaps the socket's proto_ops (watch.c), and two other
 * kernel writers of a TCP socket's operations look at nothing before they
 * write: kTLS (TCP_ULP "tls" copies sock->ops into its own tables, on its
 * first use into tables every later kTLS socket shares) and IPV6_ADDRFORM
 * (which replaces sock->ops).  A setsockopt() of either that entered the
 * protocol before the registration swapped the operations, and reaches
 * the socket's lock after it, would take ours.
 *
 * Before it swaps anything, a registration of a TCP socket installs this
 * ULP through the socket's own setsockopt(TCP_ULP) path, under the
 * socket's lock, as kTLS and espintcp are installed.  From then on:
 *  - every other ULP (kTLS included) is refused by the kernel itself:
 *    a socket has one ULP (__tcp_set_ulp(): EEXIST), and a socket that got
 *    another one first is refused by the registration;
 *  - IPV6_ADDRFORM is refused by the kernel itself (EBUSY): it converts a
 *    TCP socket only while its sk_prot is tcpv6_prot, and the ULP's init
 *    points sk_prot at a verbatim copy, as kTLS points it at its own;
 *  - BPF sockmap refuses the socket (sk_psock_init(): no ULP sockets).
 * The copies change nothing: every operation is the protocol's own.  A
 * listener's children are clones that carry the ULP, each holding the
 * module (tcp_cleanup_ulp() drops it as the child is destroyed); so does
 * every socket that carries it, until it is destroyed: the module cannot
 * be unloaded while one exists.  A ULP cannot be taken off a socket: a
 * socket once registered keeps it, cancelled or not.
 */
#include <linux/module.h>
#include <linux/net.h>
#include <net/inet_connection_sock.h>
#include <net/tcp.h>
#include <net/transp_v6.h>

#include "ulp.h"

#define SS_ULP_NAME	"sharedsock"

/* Verbatim copies of tcp_prot and tcpv6_prot, made at load. */
static struct proto ss_tcp_prot;
#if IS_ENABLED(CONFIG_IPV6)
static struct proto ss_tcpv6_prot;
#endif

/* Under the socket's lock (tcp_set_ulp()'s caller holds it). */
static int ss_ulp_init(struct sock *sk)
{
	struct proto *prot = READ_ONCE(sk->sk_prot);

	if (prot == &tcp_prot) {
		WRITE_ONCE(sk->sk_prot, &ss_tcp_prot);
		return 0;
	}
#if IS_ENABLED(CONFIG_IPV6)
	if (prot == &tcpv6_prot) {
		WRITE_ONCE(sk->sk_prot, &ss_tcpv6_prot);
		return 0;
	}
#endif
	/* Someone else's sk_prot (sockmap's, say): not ours to stack on. */
	return -EOPNOTSUPP;
}

/* A listener's child carries the ULP: it holds the module, as its parent. */
static void ss_ulp_clone(const struct request_sock *req, struct sock *newsk,
			 const gfp_t priority)
{
	__module_get(THIS_MODULE);
}

static struct tcp_ulp_ops ss_ulp_ops = {
	.name	= SS_ULP_NAME,
	.owner	= THIS_MODULE,
	.init	= ss_ulp_init,
	.clone	= ss_ulp_clone,
};

/* Whether @sk carries this ULP; an unlocked look, as it is set only once. */
bool ss_ulp_is_ours(struct sock *sk)
{
	return READ_ONCE(inet_csk(sk)->icsk_ulp_ops) == &ss_ulp_ops;
}

/*
 * Install the ULP on a TCP socket about to be registered (the caller holds
 * its file and no lock): 0 once it carries it, -EOPNOTSUPP when another
 * ULP or sk_prot was there first.  Through the protocol's own setsockopt,
 * which takes the socket's lock; @sock->ops must be the protocol's.
 */
int ss_ulp_attach(struct socket *sock)
{
	const struct proto_ops *ops = READ_ONCE(sock->ops);
	int err;

	if (ss_ulp_is_ours(sock->sk))
		return 0;
	if (!ops->setsockopt)
		return -EOPNOTSUPP;
	err = ops->setsockopt(sock, SOL_TCP, TCP_ULP,
			      KERNEL_SOCKPTR(SS_ULP_NAME), strlen(SS_ULP_NAME));
	/* Another registration may have installed it meanwhile. */
	if (ss_ulp_is_ours(sock->sk))
		return 0;
	return err == -EEXIST || err == -EOPNOTSUPP || !err ? -EOPNOTSUPP : err;
}

int ss_ulp_init_module(void)
{
	ss_tcp_prot = tcp_prot;
#if IS_ENABLED(CONFIG_IPV6)
	ss_tcpv6_prot = tcpv6_prot;
#endif
	return tcp_register_ulp(&ss_ulp_ops);
}

void ss_ulp_exit(void)
{
	tcp_unregister_ulp(&ss_ulp_ops);
}
