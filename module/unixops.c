// SPDX-License-Identifier: GPL-2.0
/*
 * AF_UNIX sockets watched through their operations.
 *
 * AF_UNIX offers a module no sanctioned hook for its calls: its recvmsg
 * reaches sk_prot only while sockmap has replaced it, and the functions
 * that do the work are not exported, so a struct proto copy would have
 * nothing to call.  A watched AF_UNIX socket's sock->ops therefore points
 * at a copy of its proto_ops, one per kind shared by all such sockets, in
 * which a few operations are wrapped:
 *  - release: the socket's last close, before the protocol's own;
 *  - recvmsg, sendmsg (and sendpage where it exists), accept: Winsock's
 *    re-enabling calls, whichever syscall reached them;
 *  - connect: the start and end of a connection;
 *  - shutdown: to tell a local shutdown from the peer's.
 * An operation the protocol lacks stays NULL, for the socket layer to
 * refuse: a wrapper would call NULL (the first design's setsockopt).
 *
 * Why this is safe for AF_UNIX, and was not for TCP: nothing in the kernel
 * but this module writes an AF_UNIX socket's sock->ops -- no ULP, no
 * IPV6_ADDRFORM, no kTLS; sockmap replaces sk_prot only -- and AF_UNIX has
 * no accept that hands out another protocol's sockets (MPTCP's fallback).
 * The copy is installed with a compare-and-exchange from the protocol's
 * own table, and never taken back before the socket is released.
 *
 * References: a socket whose ops are a copy holds this module, as the
 * copy's owner (taken when it is installed, or by accept() as for any
 * owner; dropped by sock_release()), and its protocol's module, as when
 * it was created (dropped by ss_unix_release()).
 */
#include <linux/module.h>
#include <net/sock.h>

#include "attach.h"
#include "compat.h"
#include "copies.h"
#include "sockstate.h"
#include "unixops.h"

static int ss_unix_release(struct socket *sock);
static int ss_unix_accept(struct socket *sock, struct socket *newsock,
			  struct proto_accept_arg *arg);
SS_DEFINE_ACCEPT_OP(ss_unix_accept)

/* The protocol's ops, of a socket whose ops are a copy (only we change them). */
static const struct proto_ops *ss_orig(struct socket *sock)
{
	return ss_copy_orig(READ_ONCE(sock->ops));
}

/* --- Wrapped operations --- */

static int ss_unix_recvmsg(struct socket *sock, struct msghdr *m, size_t len,
			   int flags)
{
	int ret = ss_orig(sock)->recvmsg(sock, m, len, flags);
	struct ss_reg *reg = ss_reg_lookup(sock);

	if (reg)
		ss_reg_received(reg, flags & MSG_OOB, ret == -EFAULT);
	return ret;
}

static void ss_unix_send_done(struct socket *sock, long ret)
{
	struct ss_reg *reg;

	/* Only a send that would block re-enables FD_WRITE. */
	if (ret != -EAGAIN)
		return;
	reg = ss_reg_lookup(sock);
	if (reg)
		ss_reg_called(reg, SS_CALL_SEND_BLOCKED);
}

static int ss_unix_sendmsg(struct socket *sock, struct msghdr *m, size_t len)
{
	int ret = ss_orig(sock)->sendmsg(sock, m, len);

	ss_unix_send_done(sock, ret);
	return ret;
}

#ifdef SHAREDSOCK_HAVE_SENDPAGE
static ssize_t ss_unix_sendpage(struct socket *sock, struct page *page,
				int offset, size_t size, int flags)
{
	ssize_t ret = ss_orig(sock)->sendpage(sock, page, offset, size, flags);

	ss_unix_send_done(sock, ret);
	return ret;
}
#endif

/* How a connect() that started a connection ended (AF_UNIX: at once). */
static enum ss_connect_end ss_unix_connect_end(int ret)
{
	if (!ret)
		return SS_CONNECT_DONE;
	if (ret == -EINPROGRESS || ret == -EALREADY)
		return SS_CONNECT_GOES_ON;
	return ss_connect_err_is_attempt(-ret) ? SS_CONNECT_FAILED :
						 SS_CONNECT_REFUSED;
}

/* A connect() that starts a connection of a stream socket. */
static bool ss_unix_connect_starts(struct socket *sock,
				   struct sockaddr_unsized *addr, int len)
{
	return ss_sock_is_stream(sock) &&
	       READ_ONCE(sock->state) == SS_UNCONNECTED &&
	       len >= (int)sizeof(addr->sa_family) &&
	       addr->sa_family != AF_UNSPEC;
}

static int ss_unix_connect(struct socket *sock, struct sockaddr_unsized *addr,
			   int len, int flags)
{
	struct ss_reg *reg = ss_reg_lookup(sock);
	bool starts = reg && ss_unix_connect_starts(sock, addr, len);
	int ret;

	if (starts)
		ss_reg_connect_start(reg);
	ret = ss_orig(sock)->connect(sock, addr, len, flags);
	if (starts)
		ss_reg_connect_end(reg, ss_unix_connect_end(ret), -ret);
	return ret;
}

static int ss_unix_shutdown(struct socket *sock, int how)
{
	struct ss_reg *reg = ss_reg_lookup(sock);

	if (reg && how >= SHUT_RD && how <= SHUT_RDWR)
		ss_reg_local_shutdown(reg, (how + 1) & SHUTDOWN_MASK);
	return ss_orig(sock)->shutdown(sock, how);
}

static int ss_unix_accept(struct socket *sock, struct socket *newsock,
			  struct proto_accept_arg *arg)
{
	const struct proto_ops *ops = READ_ONCE(sock->ops), *orig = ss_orig(sock);
	struct ss_reg *reg = ss_reg_lookup(sock);
	struct ss_adopt *adopt = arg->kern ? NULL :
				 ss_attach_adopt_prepare(reg);
	int ret;

	/*
	 * accept() gave @newsock our ops, holding us as their owner, before
	 * the call (a kernel accept does after it, on success): it holds its
	 * protocol's module too, dropped by ss_unix_release().
	 */
	if (arg->kern || READ_ONCE(newsock->ops) == ops)
		__module_get(orig->owner);
	/* Without it the accept fails before it takes a connection. */
	if (reg && !arg->kern && !adopt)
		return -ENOMEM;
	ret = proto_ops_accept(orig, sock, newsock, arg);
	if (arg->kern && ret < 0)
		module_put(orig->owner);
	ss_attach_adopt(adopt, sock, ret < 0 ? NULL : newsock->sk);
	if (reg)
		ss_reg_called(reg, SS_CALL_ACCEPT);
	return ret;
}

static int ss_unix_release(struct socket *sock)
{
	const struct proto_ops *orig = ss_orig(sock);
	struct ss_reg *reg = ss_reg_lookup(sock);
	struct ss_sink old;
	int ret;

	if (reg)
		ss_attach_closing(reg, sock->sk, &old);
	ret = orig->release(sock);
	if (reg)
		ss_attach_closed(reg, &old);
	module_put(orig->owner);
	return ret;
}

/* --- The copies --- */

/* Fill @copy, a proto_ops, from @table, the protocol's (struct ss_copies). */
static void ss_unix_wrap(void *copy, const void *table)
{
	const struct proto_ops *orig = table;
	struct proto_ops *ops = copy;

	*ops = *orig;
	ops->owner = THIS_MODULE;
	ops->release = ss_unix_release;
	ops->recvmsg = ss_unix_recvmsg;
	ops->sendmsg = ss_unix_sendmsg;
#ifdef SHAREDSOCK_HAVE_SENDPAGE
	if (orig->sendpage)
		ops->sendpage = ss_unix_sendpage;
#endif
	if (orig->connect)
		ops->connect = ss_unix_connect;
	if (orig->shutdown)
		ops->shutdown = ss_unix_shutdown;
	if (orig->accept)
		ops->accept = SS_ACCEPT_OP(ss_unix_accept);
}

/* The copies, one per AF_UNIX kind (kept until module exit). */
static const struct ss_copies ss_unix_tables = {
	.size = sizeof(const struct proto_ops),
	.wrap = ss_unix_wrap,
};

/**
 * ss_unix_install - point an AF_UNIX socket's ops at their copy
 * @sock: the socket; the caller holds its file
 *
 * Return: 0 once they are the copy, -ENOMEM.
 */
int ss_unix_install(struct socket *sock)
{
	const struct proto_ops *orig = READ_ONCE(sock->ops);
	const struct proto_ops *copy;

	if (orig->owner == THIS_MODULE)
		return 0;
	copy = ss_copy_get(&ss_unix_tables, orig);
	if (!copy)
		return -ENOMEM;
	/* The socket holds its protocol's module already, from its creation. */
	__module_get(THIS_MODULE);
	if (cmpxchg(&sock->ops, orig, copy) != orig)
		module_put(THIS_MODULE);	/* another one installed it */
	return 0;
}
