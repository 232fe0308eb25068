// SPDX-License-Identifier: GPL-2.0
/*
 * Watching a registered socket through its operations.
 *
 * A registered socket's sock->ops points at a copy of its protocol's
 * proto_ops, one struct ss_ops per protocol shared by all its registered
 * sockets (as kTLS shares its tables), in which a few operations are
 * wrapped; the socket inode's i_private points at the registration, which
 * the wrappers thus find in O(1) from any descriptor:
 *  - release: the socket's last close; the registration is torn down
 *    synchronously, before the protocol's own release;
 *  - recvmsg, sendmsg, sendpage, accept, connect: Winsock's re-enabling
 *    calls, whichever syscall reached them (read, recv, io_uring, ...);
 *  - shutdown: to tell a local shutdown from the peer's;
 *  - setsockopt: to refuse TCP_ULP and IPV6_ADDRFORM, which would replace
 *    sock->ops behind our back.
 * Readiness comes from the socket's wait queue or its sock callbacks
 * (sockcb.c).  The Winsock state and its delivery are the registration's
 * (reg.c).
 */
#include <linux/file.h>
#include <linux/indirect_call_wrapper.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <net/inet_common.h>
#include <net/inet_connection_sock.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "compat.h"
#include "sharedsock.h"
#include "sockstate.h"
#include "ulp.h"
#include "watch.h"

static LIST_HEAD(ss_ops_tables);	/* under ss_reg_mutex */

static int ss_release(struct socket *sock);
static int ss_accept(struct socket *sock, struct socket *newsock,
		     struct proto_accept_arg *arg);
SS_DEFINE_ACCEPT_OP(ss_accept)

/* The table of a socket whose sock->ops are ours. */
static struct ss_ops *ss_ops_of(struct socket *sock)
{
	return container_of(READ_ONCE(sock->ops), struct ss_ops, ops);
}

static const struct proto_ops *ss_orig(struct socket *sock)
{
	return ss_ops_of(sock)->orig;
}

/*
 * The registration of a socket whose sock->ops are ours, or NULL (a socket
 * accept() created, see struct ss_ops).  It is kept in the socket inode's
 * i_private, which neither sockfs nor the network stack use: a sockfs
 * inode is set up by sock_alloc_inode() and inode_init_always(), which
 * clears i_private, and nothing under net/ touches it.  ss_reg_attach()
 * refuses a socket on which someone else has set it.
 */
static struct ss_reg *ss_reg_of(struct socket *sock)
{
	return READ_ONCE(SOCK_INODE(sock)->i_private);
}

/* The registration of @sock, or NULL; the caller holds a file reference. */
struct ss_reg *ss_watch_reg(struct socket *sock)
{
	/* Pairs with ss_reg_publish(): our ops imply i_private is set. */
	if (smp_load_acquire(&sock->ops)->release != ss_release)
		return NULL;
	return ss_reg_of(sock);
}

/* --- Wrapped socket operations --- */

static int ss_recvmsg(struct socket *sock, struct msghdr *m, size_t len,
		      int flags)
{
	struct ss_reg *reg = ss_reg_of(sock);
	/* A direct call for IPv4, as sock_recvmsg() makes without us. */
	int ret = INDIRECT_CALL_1(ss_orig(sock)->recvmsg, inet_recvmsg,
				  sock, m, len, flags);

	if (reg)
		ss_reg_received(reg, flags & MSG_OOB);
	return ret;
}

static void ss_send_done(struct ss_reg *reg, long ret)
{
	/* Only a send that would block re-enables FD_WRITE. */
	if (reg && ret == -EAGAIN)
		ss_reg_called(reg, SS_CALL_SEND_BLOCKED);
}

static int ss_sendmsg(struct socket *sock, struct msghdr *m, size_t len)
{
	struct ss_reg *reg = ss_reg_of(sock);
	int ret = INDIRECT_CALL_1(ss_orig(sock)->sendmsg, inet_sendmsg,
				  sock, m, len);

	ss_send_done(reg, ret);
	return ret;
}

#ifdef SHAREDSOCK_HAVE_SENDPAGE
static ssize_t ss_sendpage(struct socket *sock, struct page *page, int offset,
			   size_t size, int flags)
{
	struct ss_reg *reg = ss_reg_of(sock);
	ssize_t ret = ss_orig(sock)->sendpage(sock, page, offset, size, flags);

	ss_send_done(reg, ret);
	return ret;
}
#endif

/*
 * How a connect() that started a connection ended.  One that failed at
 * once (an AF_UNIX peer that does not listen, no route) is, on Windows,
 * where the socket is non-blocking, an FD_CONNECT with the error; one
 * refused for its arguments is nothing.
 */
static enum ss_connect_end ss_connect_end_of(struct socket *sock, int ret)
{
	switch (ret) {
	case 0:
		return SS_CONNECT_DONE;
	case -EINPROGRESS:
	case -EALREADY:
		return SS_CONNECT_GOES_ON;
	case -EINTR:
	case -ERESTARTSYS:
		/* A signal ends the wait of a blocking TCP connect, not the
		 * attempt.
		 */
		return ss_sock_is_tcp(sock->sk) ? SS_CONNECT_GOES_ON :
						  SS_CONNECT_REFUSED;
	case -ECONNREFUSED:
	case -ENETUNREACH:
	case -EHOSTUNREACH:
	case -ETIMEDOUT:
	case -ECONNRESET:
		return SS_CONNECT_FAILED;
	default:
		return SS_CONNECT_REFUSED;
	}
}

/*
 * Whether this connect() starts a connection of a stream socket: not one
 * that asks how an attempt in progress went (EALREADY, or its outcome once
 * more: that outcome has been recorded as it came), nor a disconnect.
 */
static bool ss_connect_starts(struct socket *sock,
			      struct sockaddr_unsized *addr, int len)
{
	return ss_sock_is_stream(sock) &&
	       READ_ONCE(sock->state) == SS_UNCONNECTED &&
	       len >= (int)sizeof(addr->sa_family) &&
	       addr->sa_family != AF_UNSPEC;
}

static int ss_connect(struct socket *sock, struct sockaddr_unsized *addr,
		      int len, int flags)
{
	const struct proto_ops *orig = ss_orig(sock);
	struct ss_reg *reg = ss_reg_of(sock);
	bool starts = reg && ss_connect_starts(sock, addr, len);
	int ret;

	if (starts)
		ss_reg_connect_start(reg);
	ret = orig->connect(sock, addr, len, flags);
	if (starts)
		ss_reg_connect_end(reg, ss_connect_end_of(sock, ret), -ret);
	/* A socket that connects, or tried to, may now be hooked. */
	if (reg)
		ss_sk_try_hook(reg, ss_ops_of(sock));
	return ret;
}

/* A stream socket that listens gets a wait entry: see sockcb.c. */
static int ss_listen(struct socket *sock, int backlog)
{
	struct ss_reg *reg = ss_reg_of(sock);

	if (reg)
		ss_sk_unhook_reg(reg, ss_ops_of(sock));
	return ss_orig(sock)->listen(sock, backlog);
}

static int ss_shutdown(struct socket *sock, int how)
{
	struct ss_reg *reg = ss_reg_of(sock);

	if (reg && how >= SHUT_RD && how <= SHUT_RDWR)
		ss_reg_local_shutdown(reg, (how + 1) & SHUTDOWN_MASK);
	return ss_orig(sock)->shutdown(sock, how);
}

static int ss_setsockopt(struct socket *sock, int level, int optname,
			 sockptr_t optval, unsigned int optlen)
{
	/* Both would replace sock->ops, and with it the registration. */
	if ((level == SOL_TCP && optname == TCP_ULP) ||
	    (level == SOL_IPV6 && optname == IPV6_ADDRFORM))
		return -EBUSY;
	return ss_orig(sock)->setsockopt(sock, level, optname, optval, optlen);
}

/* --- Shared proto_ops tables --- */

static void ss_ops_wrap(struct proto_ops *ops, const struct proto_ops *orig)
{
	/* memcpy(), padding included, for ss_ops_find() to compare. */
	memcpy(ops, orig, sizeof(*ops));
	ops->owner = THIS_MODULE;
	ops->release = ss_release;
	ops->recvmsg = ss_recvmsg;
	ops->sendmsg = ss_sendmsg;
#ifdef SHAREDSOCK_HAVE_SENDPAGE
	if (orig->sendpage)
		ops->sendpage = ss_sendpage;
#endif
	/*
	 * An operation the protocol lacks stays NULL, for the socket layer
	 * to refuse (AF_UNIX has no setsockopt): a wrapper would call NULL.
	 */
	if (orig->connect)
		ops->connect = ss_connect;
	if (orig->listen)
		ops->listen = ss_listen;
	if (orig->shutdown)
		ops->shutdown = ss_shutdown;
	if (orig->setsockopt)
		ops->setsockopt = ss_setsockopt;
	if (orig->accept)
		ops->accept = SS_ACCEPT_OP(ss_accept);
}

/*
 * The table wrapping @orig, made from @fresh (allocated by the caller,
 * outside the lock) if there is none yet, in which case *@fresh is taken.
 * A table is looked up by its contents, not only by @orig: after a
 * protocol module is unloaded another one may have its proto_ops at the
 * same address.
 */
static struct ss_ops *ss_ops_find(const struct proto_ops *orig,
				  struct ss_ops **fresh)
{
	struct ss_ops *table, *made = *fresh;

	lockdep_assert_held(&ss_reg_mutex);
	ss_ops_wrap(&made->ops, orig);
	made->orig = orig;
	list_for_each_entry(table, &ss_ops_tables, node)
		if (table->orig == orig &&
		    !memcmp(&table->ops, &made->ops, sizeof(made->ops)))
			return table;
	memset(made->sk_cb, 0, sizeof(made->sk_cb));
	list_add(&made->node, &ss_ops_tables);
	*fresh = NULL;
	return made;
}

/*
 * accept() gave @newsock the listener's ops (and took a reference on their
 * owner, this module), and its sock may have cloned the listener's hooked
 * callbacks, but it gets no registration: give it its protocol's.
 */
static void ss_ops_disown(struct socket *newsock, struct ss_ops *table)
{
	if (newsock->sk)
		ss_sk_unhook(newsock->sk, table);
	if (READ_ONCE(newsock->ops) != &table->ops)
		return;
	__module_get(table->orig->owner);
	WRITE_ONCE(newsock->ops, table->orig);
	module_put(THIS_MODULE);
}

/* --- Attach, inherit, detach --- */

static void ss_set_nonblock(struct file *file)
{
	spin_lock(&file->f_lock);
	file->f_flags |= O_NONBLOCK;
	spin_unlock(&file->f_lock);
}

/* Point @reg's socket at it and at @table: from here on it reports to it. */
static void ss_reg_publish(struct ss_reg *reg, struct ss_ops *table)
{
	struct socket *sock = reg->sock;

	lockdep_assert_held(&ss_reg_mutex);
	ss_reg_link(reg);
	ss_sk_learn(sock, table);
	add_wait_queue(&sock->wq.wait, &reg->wait);
	/* Whoever reads i_private sees an initialised @reg... */
	smp_store_release(&SOCK_INODE(sock)->i_private, reg);
	/* ...and whoever sees our ops sees i_private (ss_watch_reg()). */
	smp_store_release(&sock->ops, &table->ops);
}

/*
 * Register @sock with @reg and @fresh, both allocated by the caller; what
 * is used is taken (set to NULL).
 */
static struct ss_reg *ss_reg_attach(struct socket *sock, struct ss_reg **reg,
				    struct ss_ops **fresh)
{
	struct sock *sk = sock->sk;
	struct ss_ops *table;
	struct ss_reg *made;

	lockdep_assert_held(&ss_reg_mutex);
	if (!sk)
		return ERR_PTR(-EINVAL);
	if (!ss_sock_served(sock, sk))
		return ERR_PTR(-EOPNOTSUPP);
	/* Someone else's i_private (see ss_reg_of()), or our ops without a
	 * registration (a kernel accept()'s socket): not ours to take.
	 */
	if (SOCK_INODE(sock)->i_private || sock->ops->release == ss_release)
		return ERR_PTR(-EBUSY);
	if (!*reg || !*fresh)
		return ERR_PTR(-ENOMEM);
	/* Another ULP (kTLS, ...) owns the socket already (see ulp.c). */
	if (ss_sock_is_tcp(sk) && !ss_ulp_is_ours(sk))
		return ERR_PTR(-EOPNOTSUPP);

	made = *reg;
	*reg = NULL;
	table = ss_ops_find(sock->ops, fresh);
	ss_reg_init(made, sock, ss_sock_was_connected(sock, sk),
		    ss_sock_connecting(sk));
	/* The socket now holds this module, as it holds its protocol's. */
	__module_get(THIS_MODULE);
	ss_reg_publish(made, table);
	return made;
}

/*
 * A socket accepted from a registered listener inherits its registration
 * (same sink, same mask) and reports FD_WRITE.  @child was allocated before
 * the connection was taken, so this cannot fail.
 */
static void ss_reg_inherit(struct ss_reg *parent, struct ss_ops *table,
			   struct ss_reg *child, struct socket *newsock)
{
	/*
	 * do_accept() copied the listener's ops into newsock and took a
	 * reference on their owner -- ours, unless the listener was
	 * registered between that copy and the call to us.
	 */
	bool holds_us = READ_ONCE(newsock->ops) == &table->ops;

	ss_reg_init(child, newsock, true, false);
	mutex_lock(&ss_reg_mutex);
	ss_reg_inherit_sink(child, parent);
	if (child->sink.kind == SS_SINK_NONE) {
		/* Nothing to inherit: give the socket back its own ops. */
		ss_ops_disown(newsock, table);
		mutex_unlock(&ss_reg_mutex);
		ss_reg_free(child);
		return;
	}
	/* The socket holds this module and its protocol's, one of them
	 * taken by do_accept(); the protocol's is dropped in ss_release().
	 */
	__module_get(holds_us ? table->orig->owner : THIS_MODULE);
	ss_reg_resolve_later(child);
	/* Registered sockets are non-blocking, inherited ones included. */
	ss_set_nonblock(newsock->file);
	ss_reg_publish(child, table);
	mutex_unlock(&ss_reg_mutex);
	ss_sk_try_hook(child, table);
	ss_reg_check(child, SS_EV_ALL, 0);
}

static int ss_accept(struct socket *sock, struct socket *newsock,
		     struct proto_accept_arg *arg)
{
	struct ss_ops *table = ss_ops_of(sock);
	struct ss_reg *reg = ss_reg_of(sock);
	struct ss_reg *child = NULL;
	int ret;

	/*
	 * Allocated first so that an accepted connection is never lost.  The
	 * socket a kernel accept() (@arg->kern) creates has no file and gets no
	 * registration; kernel_accept() gives it our ops after we return.
	 */
	if (reg && !arg->kern) {
		child = ss_reg_alloc();
		if (!child) {
			ss_ops_disown(newsock, table);
			return -ENOMEM;
		}
	}
	ret = proto_ops_accept(table->orig, sock, newsock, arg);
	if (ret >= 0 && child) {
		ss_reg_inherit(reg, table, child, newsock);
	} else {
		if (child)
			ss_reg_free(child);
		ss_ops_disown(newsock, table);
	}
	if (reg)
		ss_reg_called(reg, SS_CALL_ACCEPT);
	return ret;
}

/*
 * Tear the registration down; the socket is in its last close, so no
 * caller that holds its file (the only ones that hook and unhook) remains.
 */
static void ss_reg_detach(struct ss_reg *reg, struct ss_ops *table)
{
	struct socket *sock = reg->sock;
	struct ss_sink none = {};

	if (reg->hooked)
		ss_sk_unhook(sock->sk, table);
	else
		remove_wait_queue(&sock->wq.wait, &reg->wait);
	mutex_lock(&ss_reg_mutex);
	ss_reg_unlink(reg);
	ss_reg_set_sink(reg, &none, 0, -1, 0);
	WRITE_ONCE(SOCK_INODE(sock)->i_private, NULL);
	/* The protocol's ops back, if they are still ours (as kTLS does). */
	if (READ_ONCE(sock->ops) == &table->ops)
		WRITE_ONCE(sock->ops, table->orig);
	mutex_unlock(&ss_reg_mutex);
	cancel_work_sync(&reg->signal_work);
	ss_sink_put(&none);
}

static int ss_release(struct socket *sock)
{
	struct ss_ops *table = ss_ops_of(sock);
	const struct proto_ops *orig = table->orig;
	struct ss_reg *reg = ss_reg_of(sock);
	int ret;

	/* A socket with our ops but no registration (see struct ss_ops)
	 * holds this module instead of its protocol's; its sock may be a
	 * clone that carries our callbacks (see sockcb.c).
	 */
	if (!reg) {
		if (sock->sk)
			ss_sk_unhook(sock->sk, table);
		return orig->release(sock);
	}

	ss_reg_detach(reg, table);
	ret = orig->release(sock);
	module_put(orig->owner);
	ss_reg_free_rcu(reg);
	return ret;
}

/*
 * Before a socket's first registration, with no lock held: a TCP socket
 * takes the sharedsock ULP (ulp.c) before its operations are swapped.
 */
static int ss_watch_prepare(struct socket *sock)
{
	struct sock *sk = sock->sk;

	if (!sk || !ss_sock_served(sock, sk) || !ss_sock_is_tcp(sk))
		return 0;	/* ss_reg_attach() judges it */
	return ss_ulp_attach(sock);
}

/**
 * ss_watch_select - register (or cancel) events on the underlying socket
 * @sock:   the socket (the caller holds a reference to its file)
 * @sockfd: the descriptor it was named by, for queue messages
 * @args:   sink, mask and message
 *
 * Replaces whatever registration the socket had, made through any
 * descriptor by any process; the previous sink receives nothing further.
 * Recorded events that were not fetched are kept.
 */
int ss_watch_select(struct socket *sock, int sockfd,
		    const struct sharedsock_select *args)
{
	struct ss_ops *fresh = NULL;
	struct ss_reg *reg, *spare = NULL;
	struct ss_sink sink;
	int err;

	err = ss_sink_get(&sink, args);
	if (err)
		return err;
	/*
	 * Done before the lock, in case the socket has no registration; the
	 * ULP last, so that a registration that fails for memory leaves the
	 * socket as it was.
	 */
	if (args->events && !ss_watch_reg(sock)) {
		spare = ss_reg_alloc();
		/* Not charged to a cgroup: the table is shared. */
		fresh = kmalloc(sizeof(*fresh), GFP_KERNEL);
		err = spare && fresh ? ss_watch_prepare(sock) : 0;
		if (err)
			goto out;
	}

	mutex_lock(&ss_reg_mutex);
	reg = ss_watch_reg(sock);
	if (!reg && args->events) {
		reg = ss_reg_attach(sock, &spare, &fresh);
		if (IS_ERR(reg)) {
			err = PTR_ERR(reg);
			goto out_unlock;
		}
	}
	ss_set_nonblock(sock->file);
	if (!reg)
		goto out_unlock;

	err = ss_reg_set_sink(reg, &sink, args->events, sockfd, args->msg);
	if (err)
		goto out_unlock;
	if (sink.kind != SS_SINK_NONE)
		ss_stat_add(SS_STAT_REGS_REPLACED, 1);
	ss_reg_set_registrant(reg);
	ss_reg_check(reg, SS_EV_ALL, 0);
	mutex_unlock(&ss_reg_mutex);
	/* Connected meanwhile by a connect() that began before us? */
	ss_sk_try_hook(reg, ss_ops_of(sock));
	goto out;

out_unlock:
	mutex_unlock(&ss_reg_mutex);
out:
	if (spare)
		ss_reg_free(spare);
	kfree(fresh);
	ss_sink_put(&sink);
	return err;
}

/* Every registered socket holds the module: no table is in use now. */
void ss_watch_exit(void)
{
	struct ss_ops *table, *next;

	ss_sk_exit();
	list_for_each_entry_safe(table, next, &ss_ops_tables, node) {
		list_del(&table->node);
		kfree(table);
	}
}
