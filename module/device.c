// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/sharedsock: argument checking and ioctl dispatch.
 */
#include <linux/cred.h>
#include <linux/eventfd.h>
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/net.h>
#include <linux/sched/signal.h>
#include <linux/uaccess.h>
#include <linux/user_namespace.h>

#include "compat.h"
#include "reg.h"
#include "watch.h"
#include "sharedsock.h"

#define SS_DUPLICATE_SIZE_VER0	64
#define SS_REDEEM_SIZE_VER0	48
#define SS_REVOKE_SIZE_VER0	48
#define SS_DUPLICATE_VEC_SIZE_VER0	72
#define SS_REDEEM_VEC_SIZE_VER0	64
#define SS_SELECT_SIZE_VER0	32
#define SS_ENUM_SIZE_VER0	72
#define SS_QUEUE_SIZE_VER0	8
#define SS_QUEUE_READ_SIZE_VER0	24
#define SS_STATUS_SIZE_VER0	104
#define SS_LIST_SIZE_VER0	24
#define SS_LIST_MAX		BIT(20)

/*
 * Copy an extensible argument: its first __u32 is the size userspace knows;
 * bytes beyond what this kernel knows must be zero.
 */
static int ss_copy_args(void *karg, size_t ksize, size_t min_size,
			const void __user *uarg)
{
	u32 usize;

	if (get_user(usize, (const u32 __user *)uarg))
		return -EFAULT;
	if (usize < min_size)
		return -EINVAL;
	if (usize > PAGE_SIZE)
		return -E2BIG;
	return copy_struct_from_user(karg, ksize, uarg, usize);
}

/*
 * What ptrace asks of a caller whose ids do not match, CAP_SYS_PTRACE; or
 * CAP_SYS_ADMIN, which export has always taken as well.
 */
static bool ss_has_ptrace_cap(struct user_namespace *ns)
{
	return ns_capable(ns, CAP_SYS_PTRACE) || ns_capable(ns, CAP_SYS_ADMIN);
}

/*
 * The credential test of __ptrace_may_access(): each of the target's real,
 * effective and saved uids is the exporter's effective uid, and each of its
 * gids the exporter's effective gid.
 */
static bool ss_same_ids(const struct cred *cred, const struct cred *tcred)
{
	return uid_eq(cred->euid, tcred->uid) &&
	       uid_eq(cred->euid, tcred->euid) &&
	       uid_eq(cred->euid, tcred->suid) &&
	       gid_eq(cred->egid, tcred->gid) &&
	       gid_eq(cred->egid, tcred->egid) &&
	       gid_eq(cred->egid, tcred->sgid);
}

/*
 * Mirror OpenProcess(PROCESS_DUP_HANDLE) with ptrace's access check, as
 * far as a module can reach it (ptrace_may_access() and the LSM's
 * ptrace_access_check hook are not exported): a process may export to
 * itself; to another only if that one runs entirely as the exporter's
 * effective ids and is dumpable, each of which CAP_SYS_PTRACE (or
 * CAP_SYS_ADMIN) over the relevant user namespace replaces.  Under
 * rcu_read_lock().
 */
static bool ss_may_export_to(struct task_struct *task)
{
	const struct cred *tcred = __task_cred(task);
	struct user_namespace *ns;
	bool ok;

	if (READ_ONCE(ss_cross_user) || same_thread_group(task, current))
		return true;
	if (!ss_same_ids(current_cred(), tcred) &&
	    !ss_has_ptrace_cap(tcred->user_ns))
		return false;
	/*
	 * A process that drops privileges becomes non-dumpable in the same
	 * commit_creds(): read its dumpability after its credentials, as
	 * ptrace does (pairs with the write barrier there).
	 */
	smp_rmb();
	ns = ss_task_get_nondumpable_ns(task);
	if (!ns)
		return true;
	ok = ss_has_ptrace_cap(ns);
	put_user_ns(ns);
	return ok;
}

/* Resolve a process id in the caller's pid namespace to a target. */
static struct pid *ss_get_target_pid(pid_t nr)
{
	struct task_struct *task;
	struct pid *pid;
	int err = 0;

	if (nr <= 0)
		return ERR_PTR(-ESRCH);
	pid = find_get_pid(nr);
	if (!pid)
		return ERR_PTR(-ESRCH);

	rcu_read_lock();
	task = pid_task(pid, PIDTYPE_TGID);
	if (!task)
		err = -ESRCH;
	else if (!ss_may_export_to(task))
		err = -EPERM;
	rcu_read_unlock();

	if (err) {
		put_pid(pid);
		return ERR_PTR(err);
	}
	return pid;
}

static u32 ss_ttl_ms(u32 requested)
{
	u32 longest = max(READ_ONCE(ss_max_ttl_ms), 1U);

	if (requested)
		return requested <= longest ? requested : 0;
	return clamp(READ_ONCE(ss_default_ttl_ms), 1U, longest);
}

/* Take a reference to the socket file behind @fd. */
static int ss_fget_socket(int fd, struct file **filep)
{
	struct file *file = fget(fd);

	if (!file)
		return -EBADF;
	if (!sock_from_file(file)) {
		fput(file);
		return -ENOTSOCK;
	}
	*filep = file;
	return 0;
}

/* Take a reference to each of the @nr sockets named in the user array. */
static int ss_fget_sockets(const s32 __user *ufds, unsigned int nr,
			   struct file **files)
{
	unsigned int i;
	int err = 0;
	s32 fd;

	for (i = 0; i < nr && !err; i++)
		err = get_user(fd, &ufds[i]) ?: ss_fget_socket(fd, &files[i]);
	if (err)
		for (i--; i--;)
			fput(files[i]);
	return err;
}

/*
 * Export @files (the references are consumed) to the process @pid_nr as
 * one token, and copy the argument @args, holding @info, back to @uarg.
 */
static int ss_export(struct file **files, unsigned int nr, pid_t pid_nr,
		     u32 ttl_ms, struct sharedsock_info *info,
		     void __user *uarg, const void *args, size_t len)
{
	struct pid *pid = ss_get_target_pid(pid_nr);
	int err;

	if (IS_ERR(pid)) {
		while (nr--)
			fput(files[nr]);
		return PTR_ERR(pid);
	}
	err = ss_token_export(files, nr, pid, ttl_ms, info);
	put_pid(pid);
	if (err)
		return err;
	if (copy_to_user(uarg, args, len)) {
		/* Nobody saw the secret: withdraw the token. */
		ss_token_revoke(info);
		return -EFAULT;
	}
	return 0;
}

static long ss_ioctl_duplicate(void __user *uarg)
{
	struct sharedsock_duplicate args;
	struct file *file;
	u32 ttl_ms;
	int err;

	err = ss_copy_args(&args, sizeof(args), SS_DUPLICATE_SIZE_VER0, uarg);
	if (err)
		return err;
	ttl_ms = ss_ttl_ms(args.ttl_ms);
	if (args.flags || args.reserved || !ttl_ms)
		return -EINVAL;
	err = ss_fget_socket(args.fd, &file);
	if (err)
		return err;
	return ss_export(&file, 1, args.pid, ttl_ms, &args.info, uarg, &args,
			 min_t(size_t, args.size, sizeof(args)));
}

static long ss_ioctl_duplicate_vec(void __user *uarg)
{
	struct sharedsock_duplicate_vec args;
	struct file **files;
	u32 ttl_ms;
	int err;

	err = ss_copy_args(&args, sizeof(args), SS_DUPLICATE_VEC_SIZE_VER0,
			   uarg);
	if (err)
		return err;
	ttl_ms = ss_ttl_ms(args.ttl_ms);
	if (args.flags || args.reserved || !ttl_ms || !args.count ||
	    args.count > SHAREDSOCK_VEC_MAX)
		return -EINVAL;
	files = kmalloc_array(args.count, sizeof(*files), GFP_KERNEL);
	if (!files)
		return -ENOMEM;
	err = ss_fget_sockets(u64_to_user_ptr(args.fds), args.count, files);
	if (!err)
		err = ss_export(files, args.count, args.pid, ttl_ms, &args.info,
				uarg, &args,
				min_t(size_t, args.size, sizeof(args)));
	kfree(files);
	return err;
}

static unsigned int ss_redeem_o_flags(u32 flags)
{
	return flags & SHAREDSOCK_REDEEM_CLOEXEC ? O_CLOEXEC : 0;
}

static long ss_ioctl_redeem(const void __user *uarg)
{
	struct sharedsock_redeem args;
	int err;

	err = ss_copy_args(&args, sizeof(args), SS_REDEEM_SIZE_VER0, uarg);
	if (err)
		return err;
	if ((args.flags & ~SHAREDSOCK_REDEEM_CLOEXEC) || args.info.reserved)
		return -EINVAL;
	return ss_token_redeem(&args.info, ss_redeem_o_flags(args.flags));
}

static long ss_ioctl_redeem_vec(const void __user *uarg)
{
	struct sharedsock_redeem_vec args;
	int err;

	err = ss_copy_args(&args, sizeof(args), SS_REDEEM_VEC_SIZE_VER0, uarg);
	if (err)
		return err;
	if ((args.flags & ~SHAREDSOCK_REDEEM_CLOEXEC) || args.reserved ||
	    args.info.reserved || !args.count)
		return -EINVAL;
	/* Refused before the token is looked at, as every bad argument is. */
	if (!args.fds)
		return -EFAULT;
	return ss_token_redeem_vec(&args.info, ss_redeem_o_flags(args.flags),
				   u64_to_user_ptr(args.fds),
				   min_t(u32, args.count, SHAREDSOCK_VEC_MAX));
}

static long ss_ioctl_revoke(const void __user *uarg)
{
	struct sharedsock_revoke args;
	int err;

	err = ss_copy_args(&args, sizeof(args), SS_REVOKE_SIZE_VER0, uarg);
	if (err)
		return err;
	if (args.flags || args.info.reserved)
		return -EINVAL;
	return ss_token_revoke(&args.info);
}

static long ss_ioctl_select(const void __user *uarg)
{
	struct sharedsock_select args;
	struct socket *sock;
	int err;

	err = ss_copy_args(&args, sizeof(args), SS_SELECT_SIZE_VER0, uarg);
	if (err)
		return err;
	if (args.flags || args.reserved ||
	    (args.events & ~SHAREDSOCK_FD_ALL_EVENTS) ||
	    args.sink > SHAREDSOCK_SINK_QUEUE)
		return -EINVAL;
	sock = sockfd_lookup(args.fd, &err);
	if (!sock)
		return err;
	err = ss_watch_select(sock, args.fd, &args);
	sockfd_put(sock);
	return err;
}

static long ss_ioctl_enum(void __user *uarg)
{
	struct eventfd_ctx *evt = NULL;
	struct ss_queue *queue = NULL;
	struct sharedsock_enum args;
	struct socket *sock;
	bool peek;
	int err;

	err = ss_copy_args(&args, sizeof(args), SS_ENUM_SIZE_VER0, uarg);
	if (err)
		return err;
	if ((args.flags & ~SHAREDSOCK_ENUM_PEEK) || args.reserved)
		return -EINVAL;
	peek = args.flags & SHAREDSOCK_ENUM_PEEK;
	sock = sockfd_lookup(args.fd, &err);
	if (!sock)
		return err;
	if (args.eventfd != -1) {
		evt = eventfd_ctx_fdget(args.eventfd);
		if (IS_ERR(evt)) {
			evt = NULL;
			/* A peek may ask about a queue registration. */
			queue = peek ? ss_queue_from_fd(args.eventfd) :
				       ERR_PTR(-EINVAL);
			if (IS_ERR(queue)) {
				err = PTR_ERR(queue);
				goto out_sock;
			}
		}
	}
	ss_reg_enum(ss_watch_reg(sock), evt, queue, &args);
	if (copy_to_user(uarg, &args, min_t(size_t, args.size, sizeof(args)))) {
		ss_reg_enum_undo(ss_watch_reg(sock), evt, &args);
		err = -EFAULT;
	}
	if (evt)
		eventfd_ctx_put(evt);
	if (queue)
		ss_queue_put(queue);
out_sock:
	sockfd_put(sock);
	return err;
}

static long ss_ioctl_queue_create(const void __user *uarg)
{
	struct sharedsock_queue_create args;
	int err;

	err = ss_copy_args(&args, sizeof(args), SS_QUEUE_SIZE_VER0, uarg);
	if (err)
		return err;
	if (args.flags & ~(SHAREDSOCK_QUEUE_CLOEXEC | SHAREDSOCK_QUEUE_NONBLOCK))
		return -EINVAL;
	return ss_queue_create(args.flags, ss_regs_queue_closed);
}

static long ss_ioctl_queue_read(const void __user *uarg)
{
	struct sharedsock_queue_read args;
	int err;

	err = ss_copy_args(&args, sizeof(args), SS_QUEUE_READ_SIZE_VER0, uarg);
	if (err)
		return err;
	if (args.flags || !args.count)
		return -EINVAL;
	if (!args.msgs)
		return -EFAULT;
	return ss_queue_read_fd(args.queue_fd, u64_to_user_ptr(args.msgs),
				args.count);
}

static long ss_ioctl_status(void __user *uarg)
{
	struct sharedsock_status st;
	int err;

	err = ss_copy_args(&st, sizeof(st), SS_STATUS_SIZE_VER0, uarg);
	if (err)
		return err;
	if (st.flags)
		return -EINVAL;
	ss_status_fill(&st);
	if (copy_to_user(uarg, &st, min_t(size_t, st.size, sizeof(st))))
		return -EFAULT;
	return 0;
}

/*
 * SHAREDSOCK_IOC_LIST: the entries are copied out a batch at a time, with
 * no lock held and nothing allocated by the count asked for.
 */
static long ss_ioctl_list(void __user *uarg)
{
	struct sharedsock_list args;
	void __user *uentries;
	u32 room, total = 0;
	long written;
	int err;

	err = ss_copy_args(&args, sizeof(args), SS_LIST_SIZE_VER0, uarg);
	if (err)
		return err;
	if (args.flags)
		return -EINVAL;
	room = min(args.count, SS_LIST_MAX);
	uentries = u64_to_user_ptr(args.entries);
	switch (args.kind) {
	case SHAREDSOCK_LIST_TOKENS:
		written = ss_tokens_list(uentries, room, &total);
		break;
	case SHAREDSOCK_LIST_REGISTRATIONS:
		written = ss_regs_list(uentries, room, &total);
		break;
	default:
		return -EINVAL;
	}
	if (written < 0)
		return written;
	if (put_user(total, &((struct sharedsock_list __user *)uarg)->count))
		return -EFAULT;
	return written;
}

static long ss_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case SHAREDSOCK_IOC_DUPLICATE:
		return ss_ioctl_duplicate(uarg);
	case SHAREDSOCK_IOC_REDEEM:
		return ss_ioctl_redeem(uarg);
	case SHAREDSOCK_IOC_REVOKE:
		return ss_ioctl_revoke(uarg);
	case SHAREDSOCK_IOC_DUPLICATE_VEC:
		return ss_ioctl_duplicate_vec(uarg);
	case SHAREDSOCK_IOC_REDEEM_VEC:
		return ss_ioctl_redeem_vec(uarg);
	case SHAREDSOCK_IOC_SELECT:
		return ss_ioctl_select(uarg);
	case SHAREDSOCK_IOC_ENUM:
		return ss_ioctl_enum(uarg);
	case SHAREDSOCK_IOC_QUEUE_CREATE:
		return ss_ioctl_queue_create(uarg);
	case SHAREDSOCK_IOC_QUEUE_READ:
		return ss_ioctl_queue_read(uarg);
	case SHAREDSOCK_IOC_STATUS:
		return ss_ioctl_status(uarg);
	case SHAREDSOCK_IOC_LIST:
		return ss_ioctl_list(uarg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations ss_device_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= ss_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

/*
 * A fixed minor (10:244, in the range devices.txt reserves for local use)
 * with the devname alias below lets kmod's static-nodes make
 * /dev/sharedsock at boot and the kernel load the module on its first
 * open, as for /dev/fuse and /dev/uinput.  Should another local driver
 * hold it, a dynamic minor still gives the device (without autoload).
 */
#define SS_DEVICE_MINOR	244

static struct miscdevice ss_device = {
	.minor	= SS_DEVICE_MINOR,
	.name	= "sharedsock",
	.fops	= &ss_device_fops,
	.mode	= 0666,
};

MODULE_ALIAS_MISCDEV(SS_DEVICE_MINOR);
MODULE_ALIAS("devname:sharedsock");

int ss_device_init(void)
{
	int err;

	BUILD_BUG_ON(sizeof(struct sharedsock_duplicate) != SS_DUPLICATE_SIZE_VER0);
	BUILD_BUG_ON(sizeof(struct sharedsock_redeem) != SS_REDEEM_SIZE_VER0);
	BUILD_BUG_ON(sizeof(struct sharedsock_revoke) != SS_REVOKE_SIZE_VER0);
	BUILD_BUG_ON(sizeof(struct sharedsock_duplicate_vec) !=
		     SS_DUPLICATE_VEC_SIZE_VER0);
	BUILD_BUG_ON(sizeof(struct sharedsock_redeem_vec) !=
		     SS_REDEEM_VEC_SIZE_VER0);
	BUILD_BUG_ON(sizeof(struct sharedsock_select) != SS_SELECT_SIZE_VER0);
	BUILD_BUG_ON(sizeof(struct sharedsock_enum) != SS_ENUM_SIZE_VER0);
	BUILD_BUG_ON(sizeof(struct sharedsock_queue_create) != SS_QUEUE_SIZE_VER0);
	BUILD_BUG_ON(sizeof(struct sharedsock_queue_read) !=
		     SS_QUEUE_READ_SIZE_VER0);
	BUILD_BUG_ON(sizeof(struct sharedsock_status) != SS_STATUS_SIZE_VER0);
	BUILD_BUG_ON(sizeof(struct sharedsock_list) != SS_LIST_SIZE_VER0);
	err = misc_register(&ss_device);
	if (err != -EBUSY)
		return err;
	pr_warn("sharedsock: minor %d is taken: /dev/sharedsock gets a dynamic one, and the module no longer loads on first open\n",
		SS_DEVICE_MINOR);
	ss_device.minor = MISC_DYNAMIC_MINOR;
	return misc_register(&ss_device);
}

void ss_device_exit(void)
{
	misc_deregister(&ss_device);
}
