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
 * socket's lock, as kTLS and espintcp are installed.  The ULP does
 * nothing; its presence is the point.  From then on every other ULP, kTLS
 * included, is refused by the kernel itself -- a socket has one ULP
 * (__tcp_set_ulp(): EEXIST) -- and a socket that got another one first is
 * refused by the registration; BPF sockmap refuses the socket too
 * (sk_psock_init(): no ULP sockets).  A listener's children are clones
 * that carry the ULP, each holding the module (tcp_cleanup_ulp() drops it
 * as the child is destroyed); so does every socket that carries it, until
 * it is destroyed: the module cannot be unloaded while one exists.  A ULP
 * cannot be taken off a socket: a socket once registered keeps it,
 * cancelled or not.
 *
 * IPV6_ADDRFORM is not closed off this way.  It converts a TCP socket only
 * while its sk_prot is tcpv6_prot, so pointing sk_prot at a copy would
 * refuse it; but a listener's children take their sk_prot_creator from
 * the listener's sk_prot, and a child's TIME_WAIT sock then points at the
 * copy for up to a minute after the child (and the module's hold) is gone:
 * the debug kernel caught one freed after the module was unloaded.
 */
#include <linux/module.h>
#include <linux/net.h>
#include <net/inet_connection_sock.h>
#include <net/tcp.h>

#include "ulp.h"

#define SS_ULP_NAME	"sharedsock"

/* Nothing to set up: the ULP's presence is what counts. */
static int ss_ulp_init(struct sock *sk)
{
	return 0;
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
 * ULP was there first.  Through the protocol's own setsockopt,
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
	return tcp_register_ulp(&ss_ulp_ops);
}

void ss_ulp_exit(void)
{
	tcp_unregister_ulp(&ss_ulp_ops);
}
