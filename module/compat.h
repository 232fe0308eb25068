/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel interface glue, kept in one place so that the rest of the module
 * reads like code written for the newest kernel: each block below gives an
 * older kernel the newer interface.  Supported: 6.1 and later.  Kbuild
 * detects each feature from the kernel's headers (SHAREDSOCK_HAVE_*), which
 * also catches distribution backports; the version named is where it came.
 */
#ifndef _SHAREDSOCK_COMPAT_H
#define _SHAREDSOCK_COMPAT_H

#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/net.h>
#include <linux/socket.h>
#include <linux/sched.h>
#include <linux/timer.h>
#include <linux/user_namespace.h>

/* 6.8 added the user pointer argument to receive_fd(). */
#ifdef SHAREDSOCK_HAVE_RECEIVE_FD_UFD
#define ss_receive_fd(file, o_flags)	receive_fd(file, NULL, o_flags)
#else
#define ss_receive_fd(file, o_flags)	receive_fd(file, o_flags)
#endif

/*
 * ss_task_get_nondumpable_ns() - NULL if @task is dumpable (what ptrace
 * calls SUID_DUMP_USER), else a reference to the user namespace over which
 * CAP_SYS_PTRACE lets ptrace at it anyway.  Under rcu_read_lock().  No
 * kernel exports an accessor: this reads what __ptrace_may_access() reads.
 * 7.2 moved dumpability and that namespace from the mm to
 * task->exec_state, which is never NULL and is freed after a grace period.
 * Before, task_lock() keeps task->mm, and a task without one (a kernel
 * thread, or exited) is not judged by dumpability.
 */
#ifdef SHAREDSOCK_HAVE_TASK_EXEC_STATE
#include <linux/sched/exec_state.h>

static inline struct user_namespace *
ss_task_get_nondumpable_ns(struct task_struct *task)
{
	struct task_exec_state *es = rcu_dereference(task->exec_state);

	if (READ_ONCE(es->dumpable) == TASK_DUMPABLE_OWNER)
		return NULL;
	return get_user_ns(es->user_ns);
}
#else
#include <linux/sched/coredump.h>
#include <linux/sched/mm.h>
#include <linux/sched/task.h>

static inline struct user_namespace *
ss_task_get_nondumpable_ns(struct task_struct *task)
{
	struct user_namespace *ns = NULL;

	task_lock(task);
	if (task->mm && get_dumpable(task->mm) != SUID_DUMP_USER)
		ns = get_user_ns(task->mm->user_ns);
	task_unlock(task);
	return ns;
}
#endif

/* 6.16 renamed from_timer() to timer_container_of(). */
#ifndef SHAREDSOCK_HAVE_TIMER_CONTAINER_OF
#define timer_container_of(var, timer, field)	from_timer(var, timer, field)
#endif

/* 6.8 dropped eventfd_signal()'s count: it always adds one. */
#ifndef SHAREDSOCK_HAVE_EVENTFD_SIGNAL_CTX
#define eventfd_signal(ctx)	eventfd_signal(ctx, 1)
#endif

/* 6.12 made struct fd opaque: its file is read through fd_file(). */
#ifndef fd_file
#define fd_file(f)	((f).file)
#endif

/*
 * 6.5 removed proto_ops.sendpage: splice() and sendfile() to a socket reach
 * its ->sendmsg with MSG_SPLICE_PAGES instead.  Kbuild defines
 * SHAREDSOCK_HAVE_SENDPAGE where it still exists.
 */

/*
 * 7.2 dropped struct proto.recvmsg's addr_len (6.12 has it): Kbuild
 * defines SHAREDSOCK_HAVE_RECVMSG_ADDR_LEN where it is there.
 */

/* 7.0 gave proto_ops.connect and struct proto.connect a sockaddr_unsized. */
#ifndef SHAREDSOCK_HAVE_SOCKADDR_UNSIZED
#define sockaddr_unsized	sockaddr
#endif

/*
 * 6.10 passes proto_ops.accept's flags in a structure.  Older kernels get
 * the structure, a caller of the protocol's accept taking it, and
 * SS_ACCEPT_OP(fn), which gives fn(sock, newsock, arg) the old signature.
 */
#ifndef SHAREDSOCK_HAVE_PROTO_ACCEPT_ARG
struct proto_accept_arg {
	int flags;
	int err;
	int is_empty;
	bool kern;
};

static inline int proto_ops_accept(const struct proto_ops *ops,
				   struct socket *sock, struct socket *newsock,
				   struct proto_accept_arg *arg)
{
	return ops->accept(sock, newsock, arg->flags, arg->kern);
}

#define SS_ACCEPT_OP(fn)	fn##_flags
#define SS_DEFINE_ACCEPT_OP(fn)						\
static int fn##_flags(struct socket *sock, struct socket *newsock,	\
		      int flags, bool kern)				\
{									\
	struct proto_accept_arg arg = { .flags = flags, .kern = kern };	\
									\
	return fn(sock, newsock, &arg);					\
}
#else
static inline int proto_ops_accept(const struct proto_ops *ops,
				   struct socket *sock, struct socket *newsock,
				   struct proto_accept_arg *arg)
{
	return ops->accept(sock, newsock, arg);
}

#define SS_ACCEPT_OP(fn)	fn
#define SS_DEFINE_ACCEPT_OP(fn)
#endif

#endif /* _SHAREDSOCK_COMPAT_H */
