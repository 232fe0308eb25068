// SPDX-License-Identifier: GPL-2.0
/*
 * A registration on its socket: published, torn down at the socket's last
 * close, inherited by the sockets accepted from a registered listener.
 *
 * Published, a registration has:
 *  - a wait entry on the socket's wait queue, put there by the protocol's
 *    own poll, called through vfs_poll() with the module's poll table, as
 *    epoll, io_uring's poll and KVM's irqfd do -- or, for a TCP socket, the
 *    sock callbacks its ULP wrapped (sockcb.c).  It is a priority entry
 *    (add_wait_queue_priority(), as irqfd's): the wake-up reaches it before
 *    any waiter the protocol wakes, so it looks at the socket before a
 *    woken reader can take the data away.  The wake-up key says what
 *    changed (reg.c);
 *  - its place in the table by socket (reg.c), where the socket's calls
 *    find it: struct proto for TCP and UDP (skprot.c, installed for TCP by
 *    the module's ULP, ulp.c), proto_ops for AF_UNIX (unixops.c);
 *  - a reference to the socket's inode, which keeps struct socket and the
 *    wait queue in it valid whatever happens to the socket, and one to
 *    this module.  It holds nothing that keeps the socket open.
 *
 * It is torn down at the socket's last close, before the protocol's own
 * close or release runs (skprot.c, unixops.c).  The one socket that can be
 * released without passing through the module is a UDP socket that
 * IPV6_ADDRFORM took from IPv6 to IPv4, which replaces its struct proto
 * without looking: its registration stays inert (nothing wakes a released
 * socket's queue) until the sweep below finds the socket's file gone.
 *
 * A socket accepted from a registered listener inherits its registration.
 * The accept reaches the module through the listener's operations, before
 * the new socket has a file or a descriptor: the registration is made on
 * the way back to userspace (task work), once the descriptor is installed
 * and can be found in the caller's table -- where a queue's messages need
 * it anyway.
 */
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/task_work.h>
#include <linux/workqueue.h>
#include <net/sock.h>

#include "attach.h"
#include "sharedsock.h"
#include "sockcb.h"
#include "sockstate.h"
#include "ulp.h"

static ss_prepare_fn ss_prepare;

/* Registrations whose socket may go without passing through the module. */
static unsigned int ss_escapable_regs;	/* under ss_reg_mutex */
static void ss_attach_sweep(struct work_struct *work);
static DECLARE_DELAYED_WORK(ss_sweep_work, ss_attach_sweep);

/* How often the sweep looks for registrations of released sockets. */
#define SS_SWEEP_PERIOD		HZ
/* Registrations the sweep looks at per hold of ss_reg_mutex. */
#define SS_SWEEP_BATCH		256

/* The served kinds of socket (enum ss_watch_kind), or -1. */
int ss_watch_kind_of(const struct socket *sock)
{
	const struct sock *sk = sock->sk;

	if (!sk)
		return -1;
	if (sk->sk_family == AF_UNIX)
		return sock->type == SOCK_STREAM || sock->type == SOCK_DGRAM ||
		       sock->type == SOCK_SEQPACKET ? SS_WATCH_UNIX : -1;
	if (ss_sock_is_tcp(sk))
		return SS_WATCH_TCP;
	if (ss_sock_is_udp(sk))
		return sk->sk_family == AF_INET6 ? SS_WATCH_UDP6 : SS_WATCH_UDP;
	return -1;
}

/* --- Publishing --- */

struct ss_attach_pt {
	poll_table pt;
	struct ss_reg *reg;
	bool queued;
};

/*
 * The poll table's callback: the protocol names the queues it waits on.
 * The served protocols wait on the socket's own queue; the entry goes
 * there, once, and nowhere else.
 */
static void ss_attach_queue_proc(struct file *file, wait_queue_head_t *wqh,
				 poll_table *pt)
{
	struct ss_attach_pt *p = container_of(pt, struct ss_attach_pt, pt);

	if (p->queued || wqh != &p->reg->sock->wq.wait)
		return;
	add_wait_queue_priority(wqh, &p->reg->wait);
	p->queued = true;
}

/**
 * ss_attach_publish - register @sock with the registration in *@spare
 * @spare: allocated by the caller, taken (set to NULL) on success
 * @sock:  the socket; the caller holds its file and ss_reg_mutex, and has
 *         prepared it (ss_prepare_fn)
 * @accepted: it was accepted (never connected by its own connect())
 *
 * Return: the registration, with no sink yet, or an ERR_PTR: -EOPNOTSUPP
 * for a kind not served, -EEXIST if it has one already, -ENOMEM.
 */
struct ss_reg *ss_attach_publish(struct ss_reg **spare, struct socket *sock,
				 bool accepted)
{
	struct ss_attach_pt p = { .reg = *spare };
	int kind = ss_watch_kind_of(sock);
	struct ss_reg *reg = *spare;
	int err;

	lockdep_assert_held(&ss_reg_mutex);
	if (kind < 0)
		return ERR_PTR(-EOPNOTSUPP);
	if (!reg)
		return ERR_PTR(-ENOMEM);
	ss_reg_init(reg, sock, ss_sock_was_connected(sock, sock->sk),
		    ss_sock_connecting(sock->sk),
		    !accepted && ss_sock_connected_before(sock, sock->sk));
	reg->kind = kind;
	reg->family = sock->sk->sk_family;
	err = ss_reg_link(reg);
	if (err)
		return ERR_PTR(err);
	/* A TCP socket's wrapped callbacks stand for the wait entry. */
	if (kind != SS_WATCH_TCP || !ss_sockcb_hooked(sock->sk)) {
		init_poll_funcptr(&p.pt, ss_attach_queue_proc);
		vfs_poll(sock->file, &p.pt);
		if (WARN_ON_ONCE(!p.queued)) {
			ss_reg_unlink(reg);
			return ERR_PTR(-EOPNOTSUPP);
		}
		reg->waiting = true;
	}
	*spare = NULL;
	/* A TCP socket's calls reach us through the ULP's copy: see ulp.h. */
	if (kind == SS_WATCH_TCP && sock->sk->sk_prot->owner == THIS_MODULE)
		ss_ulp_set_reg(sock->sk, reg);
	ihold(SOCK_INODE(sock));
	__module_get(THIS_MODULE);
	ss_file_set_nonblock(sock->file);
	if (kind == SS_WATCH_UDP6 && !ss_escapable_regs++)
		schedule_delayed_work(&ss_sweep_work, SS_SWEEP_PERIOD);
	return reg;
}

/* --- Teardown --- */

/*
 * Under ss_reg_mutex: out of every list, and out of @sk (the socket's
 * sock, which inet_release() has taken from the socket already, or NULL
 * once released); the sink is returned in @old.
 */
static void ss_attach_unlink(struct ss_reg *reg, struct sock *sk,
			     struct ss_sink *old)
{
	u32 look;

	lockdep_assert_held(&ss_reg_mutex);
	if (sk && reg->kind == SS_WATCH_TCP && ss_ulp_reg(sk) == reg)
		ss_ulp_set_reg(sk, NULL);
	if (reg->waiting)
		remove_wait_queue(&reg->sock->wq.wait, &reg->wait);
	reg->waiting = false;
	ss_reg_unlink(reg);
	memset(old, 0, sizeof(*old));
	ss_reg_set_sink(reg, old, 0, -1, 0, &look);
	if (reg->kind == SS_WATCH_UDP6)
		ss_escapable_regs--;
}

/* With no lock held: the references go, the registration is freed. */
static void ss_attach_finish(struct ss_reg *reg, struct ss_sink *old)
{
	struct inode *inode = SOCK_INODE(reg->sock);

	cancel_work_sync(&reg->signal_work);
	ss_sink_put(old);
	ss_reg_free_rcu(reg);
	iput(inode);
	/*
	 * Last: the caller may be this module's code, which its caller
	 * holds no reference to; ss_attach_exit() waits for it to return.
	 */
	module_put(THIS_MODULE);
}

/*
 * The socket of @reg, whose sock is @sk, is in its last close, before the
 * protocol's own: no
 * caller holds its file, so no SELECT or ENUM can reach @reg any more.
 * From here on nothing is recorded or delivered.  Its sink is returned in
 * @old, for ss_attach_closed().
 */
void ss_attach_closing(struct ss_reg *reg, struct sock *sk,
		       struct ss_sink *old)
{
	mutex_lock(&ss_reg_mutex);
	ss_attach_unlink(reg, sk, old);
	mutex_unlock(&ss_reg_mutex);
}

/*
 * After the protocol's close: the registration is freed and its hold on
 * the module dropped, which is why this comes last -- the module's code
 * around the protocol's close ran under that hold.
 */
void ss_attach_closed(struct ss_reg *reg, struct ss_sink *old)
{
	ss_attach_finish(reg, old);
}

/*
 * Registrations of sockets released without passing through the module
 * (see the top of this file), a batch per hold of ss_reg_mutex.
 */
static void ss_attach_sweep(struct work_struct *work)
{
	struct ss_regs_cursor cursor;
	unsigned int budget;
	struct ss_sink old;
	struct ss_reg *reg;
	bool more;

	ss_regs_cursor_open(&cursor);
	do {
		budget = SS_SWEEP_BATCH;
		mutex_lock(&ss_reg_mutex);
		reg = ss_regs_next_dead(&cursor, &budget);
		if (reg)
			ss_attach_unlink(reg, NULL, &old);
		more = reg || !budget;
		if (!more && ss_escapable_regs)
			schedule_delayed_work(&ss_sweep_work, SS_SWEEP_PERIOD);
		mutex_unlock(&ss_reg_mutex);
		if (reg)
			ss_attach_finish(reg, &old);
		cond_resched();
	} while (more);
	ss_regs_cursor_close(&cursor);
}

/* --- Inheritance --- */

/**
 * struct ss_adopt - an accepted socket to register on the way back to
 * userspace
 * @work:     the task work
 * @child:    its registration, allocated before the accept
 * @listener: a reference to the listener's file
 * @sk:       a reference to the accepted sock
 *
 * Owned by the accepting task's task work, which frees it.
 */
struct ss_adopt {
	struct callback_head work;
	struct ss_reg *child;
	struct file *listener;
	struct sock *sk;
};

/*
 * Before an accept on a listener registered with @parent: what the
 * accepted socket's registration needs, allocated before a connection is
 * taken.  NULL when there is no memory: the accept then fails.
 */
struct ss_adopt *ss_attach_adopt_prepare(struct ss_reg *parent)
{
	struct ss_adopt *adopt;

	if (!parent)
		return NULL;
	adopt = kzalloc(sizeof(*adopt), GFP_KERNEL_ACCOUNT);
	if (!adopt)
		return NULL;
	adopt->child = ss_reg_alloc();
	if (!adopt->child) {
		kfree(adopt);
		return NULL;
	}
	return adopt;
}

static void ss_adopt_free(struct ss_adopt *adopt)
{
	if (adopt->child)
		ss_reg_free(adopt->child);
	kfree(adopt);
}

/* iterate_fd()'s match: the descriptor of the file of @sk's socket. */
static int ss_adopt_match(const void *sk, struct file *file, unsigned int fd)
{
	struct socket *sock = sock_from_file(file);

	return sock && READ_ONCE(sock->sk) == sk ? fd + 1 : 0;
}

/* Register @sock, descriptor @fd, as its listener is registered now. */
static void ss_adopt_publish(struct ss_adopt *adopt, struct socket *sock,
			     int fd)
{
	struct socket *listener = sock_from_file(adopt->listener);
	struct ss_reg *parent, *reg = NULL;

	mutex_lock(&ss_reg_mutex);
	parent = ss_reg_lookup(listener);
	if (parent && ss_reg_may_inherit(parent)) {
		reg = ss_attach_publish(&adopt->child, sock, true);
		if (IS_ERR(reg))
			reg = NULL;
		else
			ss_reg_inherit_sink(reg, parent, fd);
	}
	mutex_unlock(&ss_reg_mutex);
	/* An accepted socket is connected: FD_WRITE, and what else holds. */
	if (reg)
		ss_reg_check(reg, SS_EV_ALL, 0);
}

static void ss_adopt_run(struct callback_head *head)
{
	struct ss_adopt *adopt = container_of(head, struct ss_adopt, work);
	struct socket *sock = NULL;
	struct file *file = NULL;
	int fd;

	fd = iterate_fd(current->files, 0, ss_adopt_match, adopt->sk) - 1;
	if (fd >= 0)
		file = fget(fd);
	if (file)
		sock = sock_from_file(file);
	if (sock && READ_ONCE(sock->sk) == adopt->sk && !ss_prepare(sock))
		ss_adopt_publish(adopt, sock, fd);
	if (file)
		fput(file);
	fput(adopt->listener);
	sock_put(adopt->sk);
	ss_adopt_free(adopt);
}

/**
 * ss_attach_adopt - register an accepted socket once userspace has it
 * @adopt:    from ss_attach_adopt_prepare(), or NULL; taken
 * @listener: the listener, whose file the caller holds
 * @newsk:    the accepted sock, or NULL if the accept failed
 *
 * Nothing is done for a socket that no descriptor of the accepting
 * process names on its way back to userspace (a kernel accept, io_uring's
 * direct descriptors) or that another registration took first.
 */
void ss_attach_adopt(struct ss_adopt *adopt, struct socket *listener,
		     struct sock *newsk)
{
	if (!adopt)
		return;
	if (!newsk || !listener->file)
		goto drop;
	adopt->listener = get_file(listener->file);
	sock_hold(newsk);
	adopt->sk = newsk;
	init_task_work(&adopt->work, ss_adopt_run);
	if (!task_work_add(current, &adopt->work, TWA_RESUME))
		return;
	fput(adopt->listener);
	sock_put(newsk);
drop:
	ss_adopt_free(adopt);
}

void ss_attach_init(ss_prepare_fn prepare)
{
	ss_prepare = prepare;
}

/*
 * Every registration holds the module: none is left.  What remains is
 * this module's code that dropped the last reference on its way out
 * (ss_attach_finish()), preempted before it returned: RCU Tasks waits for
 * every task to pass a voluntary context switch, which that code does not
 * make.
 */
void ss_attach_exit(void)
{
	cancel_delayed_work_sync(&ss_sweep_work);
	synchronize_rcu_tasks();
}
