// SPDX-License-Identifier: GPL-2.0
/*
 * Registering a socket: SHAREDSOCK_IOC_SELECT, and the preparation every
 * registered socket gets first.
 *
 * A socket's calls are made to reach the module before its first
 * registration, with no lock but the socket's own: a TCP socket takes the
 * module's ULP, whose init installs the struct proto copy (ulp.c,
 * skprot.c); a UDP socket gets the copy directly; an AF_UNIX socket gets
 * the proto_ops copy (unixops.c).  Each is a no-op on a socket that has
 * it already.  Then, under ss_reg_mutex, the registration is published
 * (attach.c) and its sink installed (reg.c).  Socket kinds not served are
 * refused (EOPNOTSUPP) before anything is changed.
 */
#include <linux/file.h>
#include <net/sock.h>

#include "attach.h"
#include "copies.h"
#include "sharedsock.h"
#include "skprot.h"
#include "sockstate.h"
#include "ulp.h"
#include "unixops.h"
#include "watch.h"

/* A UDP socket: the struct proto copy, under the socket's lock. */
static int ss_watch_prepare_udp(struct socket *sock)
{
	int err;

	lock_sock(sock->sk);
	err = ss_prot_install(sock->sk);
	release_sock(sock->sk);
	return err;
}

/*
 * Make @sock's calls reach the module (the caller holds its file and no
 * lock): 0, or -EOPNOTSUPP for a kind not served or a socket that another
 * kernel user took over first, -ENOMEM.
 */
static int ss_watch_prepare(struct socket *sock)
{
	switch (ss_watch_kind_of(sock)) {
	case SS_WATCH_TCP:
		return ss_ulp_attach(sock);
	case SS_WATCH_UDP:
	case SS_WATCH_UDP6:
		return ss_watch_prepare_udp(sock);
	case SS_WATCH_UNIX:
		return ss_unix_install(sock);
	default:
		return -EOPNOTSUPP;
	}
}

/* The registration of @sock, or NULL; the caller holds its file. */
struct ss_reg *ss_watch_reg(struct socket *sock)
{
	return ss_reg_lookup(sock);
}

/* @sock's registration, published with *@spare if it has none. */
static struct ss_reg *ss_watch_get(struct socket *sock, struct ss_reg **spare)
{
	struct ss_reg *reg = ss_reg_lookup(sock);

	lockdep_assert_held(&ss_reg_mutex);
	if (reg)
		return reg;
	/*
	 * Prepared, but a UDP socket may have been converted by
	 * IPV6_ADDRFORM since: not ours to watch any more.
	 */
	if (sock->sk && ss_watch_kind_of(sock) != SS_WATCH_UNIX &&
	    !ss_prot_is_ours(sock->sk))
		return ERR_PTR(-EOPNOTSUPP);
	return ss_attach_publish(spare, sock, false);
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
	struct ss_reg *reg, *spare = NULL;
	struct ss_sink sink;
	u32 look;
	int err;

	err = ss_sink_get(&sink, args);
	if (err)
		return err;
	/* Before the lock, in case the socket has no registration. */
	if (args->events && !ss_reg_lookup(sock)) {
		if (ss_watch_kind_of(sock) < 0) {
			err = -EOPNOTSUPP;
			goto out;
		}
		spare = ss_reg_alloc();
		err = spare ? ss_watch_prepare(sock) : -ENOMEM;
		if (err)
			goto out;
	}

	mutex_lock(&ss_reg_mutex);
	/* Refused before a first registration is published for nothing. */
	if (sink.kind == SS_SINK_QUEUE && ss_queue_closed(sink.queue)) {
		err = -EINVAL;
		goto out_unlock;
	}
	reg = args->events ? ss_watch_get(sock, &spare) : ss_reg_lookup(sock);
	if (IS_ERR(reg)) {
		err = PTR_ERR(reg);
		goto out_unlock;
	}
	ss_file_set_nonblock(sock->file);
	if (!reg)
		goto out_unlock;

	err = ss_reg_set_sink(reg, &sink, args->events, sockfd, args->msg,
			      &look);
	if (err)
		goto out_unlock;
	if (sink.kind != SS_SINK_NONE)
		ss_stat_add(SS_STAT_REGS_REPLACED, 1);
	ss_reg_set_registrant(reg);
	ss_reg_check(reg, look, 0);

out_unlock:
	mutex_unlock(&ss_reg_mutex);
out:
	if (spare)
		ss_reg_free(spare);
	ss_sink_put(&sink);
	return err;
}

void ss_watch_init(void)
{
	ss_attach_init(ss_watch_prepare);
}

/*
 * Every registered socket, and every socket that points at one of the
 * module's copies, holds the module: none is left.
 */
void ss_watch_exit(void)
{
	ss_attach_exit();
	ss_copies_free();
}
