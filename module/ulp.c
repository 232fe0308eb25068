// SPDX-License-Identifier: GPL-2.0
/*
 * The "sharedsock" TCP upper-layer protocol: a TCP socket is made the
 * module's through the kernel's interface for exactly that.
 *
 * Before its first registration, a TCP socket is given this ULP through
 * its own setsockopt(TCP_ULP) path, under its lock, as kTLS and espintcp
 * are given theirs.  The ULP's init points the socket's sk_prot at the
 * module's copy (skprot.c), as kTLS's init points it at its own, and wraps
 * its sock callbacks (sockcb.c), as kTLS and espintcp wrap theirs; that is
 * how the module sees the socket's calls and wake-ups.  From then on every other ULP,
 * kTLS included, is refused by the kernel itself -- a socket has one ULP
 * (__tcp_set_ulp(): EEXIST) -- and a socket that got another one first is
 * refused by the registration, as is one in a BPF sockmap (its sk_prot is
 * not the protocol's).  IPV6_ADDRFORM refuses a TCP socket whose sk_prot
 * is not tcpv6_prot (EBUSY).
 *
 * A listener's children are clones that carry the ULP, and sk_prot (see
 * skprot.c for their sk_prot_creator), each holding the module
 * (tcp_cleanup_ulp() drops it as the child is destroyed); so does every
 * socket that carries it, until it is destroyed: the module cannot be
 * unloaded while one exists.  A ULP cannot
 * be taken off a socket: a socket once registered keeps it, cancelled or
 * not, after its close too; its sk_prot is given back at close.
 */
#include <linux/module.h>
#include <linux/net.h>
#include <net/inet_connection_sock.h>
#include <net/tcp.h>

#include "skprot.h"
#include "sockcb.h"
#include "ulp.h"

#define SS_ULP_NAME	"sharedsock"

/*
 * Set once the module has loaded whole (ss_ulp_enable()).  A module still
 * loading can already be entered -- try_module_get() succeeds while it
 * comes up -- and is freed if a later step of its init fails: the ULP,
 * which any process can set on a TCP socket, takes no socket before.
 */
static bool ss_ulp_live;

void ss_ulp_enable(void)
{
	/* Pairs with ss_ulp_init(): all the init did is seen there. */
	smp_store_release(&ss_ulp_live, true);
}

/*
 * Under the socket's lock (do_tcp_setsockopt()): the module's struct proto
 * (skprot.c), and its sock callbacks (sockcb.c), as kTLS installs its own.
 */
static int ss_ulp_init(struct sock *sk)
{
	int err;

	/* Pairs with ss_ulp_enable(). */
	if (!smp_load_acquire(&ss_ulp_live))
		return -EAGAIN;
	err = ss_prot_install(sk);
	if (!err)
		ss_sockcb_hook(sk);
	return err;
}

/* A listener's child carries the ULP: it holds the module, as its parent. */
static void ss_ulp_clone(const struct request_sock *req, struct sock *newsk,
			 const gfp_t priority)
{
	__module_get(THIS_MODULE);
	/* Not the listener's registration: a child has none of its own yet. */
	RCU_INIT_POINTER(inet_csk(newsk)->icsk_ulp_data, NULL);
	ss_prot_cloned(newsk);
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
 * ULP was there first or its sk_prot is not the protocol's.  Through the
 * protocol's own setsockopt, which takes the socket's lock.
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
