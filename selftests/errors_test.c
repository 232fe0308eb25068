// SPDX-License-Identifier: GPL-2.0
/*
 * Error paths: every way to get an ioctl or a library call wrong, the errno
 * it gives, and that a failing call changes nothing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "kselftest_harness.h"

#ifndef SYS_io_uring_setup
#define SYS_io_uring_setup __NR_io_uring_setup
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define GARBAGE		0xA5
#define PAGE		4096
#define DEFAULT_MAX_TTL	3600000u

/* errno of a call that returned @ret: 0 when it did not fail. */
static int err_of(long ret)
{
	return ret == -1 ? errno : 0;
}

static bool all_bytes(const void *p, size_t len, unsigned char c)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i] != c)
			return false;
	return true;
}

static long read_long(const char *path, long dflt)
{
	FILE *f = fopen(path, "r");
	long val;

	if (!f)
		return dflt;
	if (fscanf(f, "%ld", &val) != 1)
		val = dflt;
	fclose(f);
	return val;
}

static unsigned int max_ttl_ms(void)
{
	return read_long("/sys/module/sharedsock/parameters/max_ttl_ms",
			 DEFAULT_MAX_TTL);
}

/* A process id no process can have: pids are below pid_max. */
static pid_t unused_pid(void)
{
	return read_long("/proc/sys/kernel/pid_max", 4194304);
}

/*
 * Redeem @info and check the new descriptor reaches @peer.  0 on success,
 * the redeem's errno, or -1 when the descriptor does not carry data.
 */
static int redeem_check(int dev, const struct sharedsock_info *info, int peer)
{
	int fd = raw_redeem(dev, info, 0);
	bool ok;

	if (fd < 0)
		return errno;
	ok = transfer_ok(fd, peer, "redeemed");
	close(fd);
	return ok ? 0 : -1;
}

/* A DUPLICATE argument whose output part is garbage. */
static struct sharedsock_duplicate dup_args(int fd, pid_t pid,
					    unsigned int ttl_ms)
{
	struct sharedsock_duplicate args;

	memset(&args, GARBAGE, sizeof(args));
	args.size = sizeof(args);
	args.flags = 0;
	args.fd = fd;
	args.pid = pid;
	args.ttl_ms = ttl_ms;
	args.reserved = 0;
	return args;
}

/* errno of a DUPLICATE expected to fail; checks it wrote no output. */
static int dup_fails(struct __test_metadata *_metadata, int dev, int fd,
		     pid_t pid, unsigned int ttl_ms)
{
	struct sharedsock_duplicate args = dup_args(fd, pid, ttl_ms);
	int err = err_of(ioctl(dev, SHAREDSOCK_IOC_DUPLICATE, &args));

	EXPECT_TRUE(all_bytes(&args.info, sizeof(args.info), GARBAGE))
		TH_LOG("fd %d pid %d: output written by a failing call",
		       fd, pid);
	return err;
}

/* A unix stream pair and a device descriptor. */
FIXTURE(ss)
{
	int dev;
	int sv[2];	/* sv[0] is exported; sv[1] is its peer */
};

FIXTURE_SETUP(ss)
{
	self->sv[0] = self->sv[1] = -1;
	self->dev = dev_open();
	ASSERT_LE(0, self->dev);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, self->sv));
}

FIXTURE_TEARDOWN(ss)
{
	if (self->sv[0] >= 0)
		close(self->sv[0]);
	if (self->sv[1] >= 0)
		close(self->sv[1]);
	close(self->dev);
}

/*
 * Close the exported end: when no token holds the socket, the peer sees EOF
 * at once.  How the tests prove a failed call left no token behind: one
 * would hold the socket for the default lifetime (60 s), longer than the
 * wait.
 */
static bool no_token_holds(int *fd, int peer)
{
	close(*fd);
	*fd = -1;
	return peer_eof_within(peer, WAIT_MS);
}

/* ------------------------------------------------------------------ */
/* Checks common to the three ioctls                                  */
/* ------------------------------------------------------------------ */

enum ss_op { OP_DUPLICATE, OP_REDEEM, OP_REVOKE };

FIXTURE(ioc)
{
	int dev;
	int sv[2];
	struct sharedsock_info tok;	/* pending, for REDEEM and REVOKE */
	int nsock;			/* socket descriptors after setup */
	unsigned char *map;		/* two read-write pages, one PROT_NONE */
};

FIXTURE_VARIANT(ioc)
{
	enum ss_op op;
	unsigned long cmd;
	__u32 size;		/* sizeof the structure */
	__u32 v0;		/* first published size */
	size_t reserved_off;	/* offset of the input's reserved field */
};

FIXTURE_VARIANT_ADD(ioc, duplicate)
{
	.op = OP_DUPLICATE, .cmd = SHAREDSOCK_IOC_DUPLICATE,
	.size = sizeof(struct sharedsock_duplicate), .v0 = 64,
	.reserved_off = offsetof(struct sharedsock_duplicate, reserved),
};

FIXTURE_VARIANT_ADD(ioc, redeem)
{
	.op = OP_REDEEM, .cmd = SHAREDSOCK_IOC_REDEEM,
	.size = sizeof(struct sharedsock_redeem), .v0 = 48,
	.reserved_off = offsetof(struct sharedsock_redeem, info.reserved),
};

FIXTURE_VARIANT_ADD(ioc, revoke)
{
	.op = OP_REVOKE, .cmd = SHAREDSOCK_IOC_REVOKE,
	.size = sizeof(struct sharedsock_revoke), .v0 = 48,
	.reserved_off = offsetof(struct sharedsock_revoke, info.reserved),
};

FIXTURE_SETUP(ioc)
{
	self->sv[0] = self->sv[1] = -1;
	self->dev = dev_open();
	ASSERT_LE(0, self->dev);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, self->sv));
	if (variant->op != OP_DUPLICATE)
		ASSERT_EQ(0, raw_duplicate(self->dev, self->sv[0], getpid(), 0,
					   &self->tok));
	self->map = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	ASSERT_EQ(0, mprotect(self->map + 2 * PAGE, PAGE, PROT_NONE));
	self->nsock = count_socket_fds();
}

FIXTURE_TEARDOWN(ioc)
{
	if (self->sv[0] >= 0)
		close(self->sv[0]);
	if (self->sv[1] >= 0)
		close(self->sv[1]);
	close(self->dev);
	munmap(self->map, 3 * PAGE);
}

static void set_size(void *p, __u32 size)
{
	memcpy(p, &size, sizeof(size));
}

/* A valid argument at @p (zeros after it up to @len); output is garbage. */
static void fill_valid(FIXTURE_DATA(ioc) *self,
		       const FIXTURE_VARIANT(ioc) *variant, void *p, size_t len)
{
	memset(p, 0, len);
	switch (variant->op) {
	case OP_DUPLICATE: {
		struct sharedsock_duplicate a = dup_args(self->sv[0], getpid(), 0);

		memcpy(p, &a, sizeof(a));
		break;
	}
	case OP_REDEEM: {
		struct sharedsock_redeem a = {
			.size = sizeof(a), .info = self->tok,
		};

		memcpy(p, &a, sizeof(a));
		break;
	}
	case OP_REVOKE: {
		struct sharedsock_revoke a = {
			.size = sizeof(a), .info = self->tok,
		};

		memcpy(p, &a, sizeof(a));
		break;
	}
	}
}

/* A call on the argument at @p failed: it must not have written output. */
static void output_untouched(struct __test_metadata *_metadata,
			     const FIXTURE_VARIANT(ioc) *variant, const void *p)
{
	const unsigned char *b = p;

	if (variant->op == OP_DUPLICATE)
		EXPECT_TRUE(all_bytes(b + offsetof(struct sharedsock_duplicate, info),
				      sizeof(struct sharedsock_info), GARBAGE));
}

/* The call on @p returned @ret: check it did its job, renew the token. */
static void succeeded(struct __test_metadata *_metadata,
		      FIXTURE_DATA(ioc) *self,
		      const FIXTURE_VARIANT(ioc) *variant, const void *p,
		      long ret)
{
	switch (variant->op) {
	case OP_DUPLICATE: {
		struct sharedsock_info info;

		ASSERT_EQ(0, ret) TH_LOG("errno %d", errno);
		memcpy(&info, (const char *)p +
		       offsetof(struct sharedsock_duplicate, info), sizeof(info));
		EXPECT_EQ(AF_UNIX, info.family);
		EXPECT_EQ(SOCK_STREAM, info.type);
		EXPECT_EQ(0, info.reserved);
		EXPECT_NE(0, info.id);
		EXPECT_EQ(0, redeem_check(self->dev, &info, self->sv[1]));
		return;
	}
	case OP_REDEEM:
		ASSERT_LE(0, ret) TH_LOG("errno %d", errno);
		EXPECT_TRUE(transfer_ok(ret, self->sv[1], "accepted"));
		close(ret);
		break;
	case OP_REVOKE:
		ASSERT_EQ(0, ret) TH_LOG("errno %d", errno);
		EXPECT_EQ(EINVAL, err_of(raw_redeem(self->dev, &self->tok, 0)));
		break;
	}
	ASSERT_EQ(0, raw_duplicate(self->dev, self->sv[0], getpid(), 0,
				   &self->tok));
}

/*
 * After only failing calls: no descriptor appeared, no DUPLICATE left a
 * token holding the socket, and the pending token was neither redeemed nor
 * revoked.
 */
static void nothing_changed(struct __test_metadata *_metadata,
			    FIXTURE_DATA(ioc) *self,
			    const FIXTURE_VARIANT(ioc) *variant)
{
	EXPECT_EQ(self->nsock, count_socket_fds());
	if (variant->op == OP_DUPLICATE) {
		EXPECT_TRUE(no_token_holds(&self->sv[0], self->sv[1]));
	} else {
		EXPECT_EQ(0, redeem_check(self->dev, &self->tok, self->sv[1]));
	}
}

TEST_F(ioc, bad_pointer_efault)
{
	unsigned char *end = self->map + 2 * PAGE;	/* PROT_NONE from here */
	unsigned char tmp[128];

	EXPECT_EQ(EFAULT, err_of(ioctl(self->dev, variant->cmd, NULL)));
	EXPECT_EQ(EFAULT, err_of(ioctl(self->dev, variant->cmd, end)));
	EXPECT_EQ(EFAULT, err_of(ioctl(self->dev, variant->cmd, (void *)-4096L)));

	/* only the size field is readable */
	set_size(end - 4, variant->size);
	EXPECT_EQ(EFAULT, err_of(ioctl(self->dev, variant->cmd, end - 4)));

	/* a valid argument but for its last byte */
	fill_valid(self, variant, tmp, sizeof(tmp));
	memcpy(end - (variant->size - 1), tmp, variant->size - 1);
	EXPECT_EQ(EFAULT, err_of(ioctl(self->dev, variant->cmd,
				       end - (variant->size - 1))));

	nothing_changed(_metadata, self, variant);
}

/*
 * DUPLICATE writes its argument back, REDEEM and REVOKE only read theirs.
 * A DUPLICATE whose token cannot be returned fails and withdraws it.
 */
TEST_F(ioc, read_only_argument)
{
	long ret;

	fill_valid(self, variant, self->map, PAGE);
	ASSERT_EQ(0, mprotect(self->map, PAGE, PROT_READ));
	ret = ioctl(self->dev, variant->cmd, self->map);
	if (variant->op == OP_DUPLICATE) {
		EXPECT_EQ(-1, ret);
		EXPECT_EQ(EFAULT, errno);
		nothing_changed(_metadata, self, variant);
	} else {
		succeeded(_metadata, self, variant, self->map, ret);
		nothing_changed(_metadata, self, variant);
	}
}

TEST_F(ioc, size_below_v0_einval_above_page_e2big)
{
	const __u32 small[] = { 0, 1, 4, 8, variant->v0 / 2, variant->v0 - 4,
				variant->v0 - 1 };
	const __u32 big[] = { PAGE + 1, PAGE + 8, 2 * PAGE, 0x10000,
			      0x80000000u, UINT32_MAX };
	unsigned char *p = self->map;	/* two readable pages of zeros */

	for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++) {
		fill_valid(self, variant, p, 2 * PAGE);
		set_size(p, small[i]);
		EXPECT_EQ(EINVAL, err_of(ioctl(self->dev, variant->cmd, p)))
			TH_LOG("size %u", small[i]);
		output_untouched(_metadata, variant, p);
	}
	for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
		fill_valid(self, variant, p, 2 * PAGE);
		set_size(p, big[i]);
		EXPECT_EQ(E2BIG, err_of(ioctl(self->dev, variant->cmd, p)))
			TH_LOG("size %u", big[i]);
		output_untouched(_metadata, variant, p);
	}
	nothing_changed(_metadata, self, variant);
}

TEST_F(ioc, nonzero_trailing_bytes_e2big)
{
	const struct { __u32 size; __u32 at; unsigned char val; } cases[] = {
		{ variant->size + 1, variant->size, 1 },
		{ variant->size + 8, variant->size + 7, 0x80 },
		{ variant->size + 8, variant->size + 3, 0xff },
		{ PAGE, variant->size, 1 },
		{ PAGE, PAGE / 2, 0x10 },
		{ PAGE, PAGE - 1, 1 },
	};
	unsigned char *p = self->map;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fill_valid(self, variant, p, 2 * PAGE);
		set_size(p, cases[i].size);
		p[cases[i].at] = cases[i].val;
		EXPECT_EQ(E2BIG, err_of(ioctl(self->dev, variant->cmd, p)))
			TH_LOG("size %u, byte %u = %#x", cases[i].size,
			       cases[i].at, cases[i].val);
		output_untouched(_metadata, variant, p);
	}
	nothing_changed(_metadata, self, variant);
}

TEST_F(ioc, zero_trailing_bytes_accepted)
{
	const __u32 sizes[] = { variant->size + 1, variant->size + 8,
				variant->size + 64, PAGE - 1, PAGE };
	unsigned char *p = self->map;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		long ret;

		fill_valid(self, variant, p, 2 * PAGE);
		set_size(p, sizes[i]);
		ret = ioctl(self->dev, variant->cmd, p);
		succeeded(_metadata, self, variant, p, ret);
		/* bytes the kernel does not know are not written */
		EXPECT_TRUE(all_bytes(p + variant->size,
				      2 * PAGE - variant->size, 0))
			TH_LOG("size %u", sizes[i]);
	}
	nothing_changed(_metadata, self, variant);
}

TEST_F(ioc, undefined_flags_and_reserved_einval)
{
	const __u32 dup_flags[] = { 1, 2, 0x80000000u, UINT32_MAX };
	const __u32 redeem_flags[] = { 2, 4, SHAREDSOCK_REDEEM_CLOEXEC | 2,
				       0x80000000u, UINT32_MAX };
	const __u32 revoke_flags[] = { 1, 2, 0x80000000u, UINT32_MAX };
	const __u32 reserved[] = { 1, 0x80000000u, UINT32_MAX };
	const __u32 *flags;
	size_t nflags;
	unsigned char *p = self->map;

	switch (variant->op) {
	case OP_DUPLICATE:
		flags = dup_flags;
		nflags = sizeof(dup_flags) / sizeof(dup_flags[0]);
		break;
	case OP_REDEEM:
		flags = redeem_flags;
		nflags = sizeof(redeem_flags) / sizeof(redeem_flags[0]);
		break;
	default:
		flags = revoke_flags;
		nflags = sizeof(revoke_flags) / sizeof(revoke_flags[0]);
		break;
	}
	for (size_t i = 0; i < nflags; i++) {
		fill_valid(self, variant, p, PAGE);
		memcpy(p + offsetof(struct sharedsock_redeem, flags), &flags[i],
		       sizeof(flags[i]));
		EXPECT_EQ(EINVAL, err_of(ioctl(self->dev, variant->cmd, p)))
			TH_LOG("flags %#x", flags[i]);
		output_untouched(_metadata, variant, p);
	}
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		fill_valid(self, variant, p, PAGE);
		memcpy(p + variant->reserved_off, &reserved[i],
		       sizeof(reserved[i]));
		EXPECT_EQ(EINVAL, err_of(ioctl(self->dev, variant->cmd, p)))
			TH_LOG("reserved %#x", reserved[i]);
		output_untouched(_metadata, variant, p);
	}
	if (variant->op == OP_REDEEM) {
		/* the one defined flag is accepted, and does what it says */
		long fd;

		fill_valid(self, variant, p, PAGE);
		((struct sharedsock_redeem *)p)->flags = SHAREDSOCK_REDEEM_CLOEXEC;
		fd = ioctl(self->dev, variant->cmd, p);
		ASSERT_LE(0, fd);
		EXPECT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
		succeeded(_metadata, self, variant, p, fd);
	}
	nothing_changed(_metadata, self, variant);
}

/* ------------------------------------------------------------------ */
/* The device                                                         */
/* ------------------------------------------------------------------ */

TEST_F(ss, unknown_cmd_enotty)
{
	const struct { unsigned long cmd; const char *what; } cmds[] = {
		{ _IOWR(SHAREDSOCK_IOC_MAGIC, 0x00, struct sharedsock_duplicate), "nr 0" },
		{ _IOWR(SHAREDSOCK_IOC_MAGIC, 0x04, struct sharedsock_duplicate), "nr 4" },
		{ _IOWR(SHAREDSOCK_IOC_MAGIC, 0xff, struct sharedsock_duplicate), "nr 255" },
		{ _IOWR(SHAREDSOCK_IOC_MAGIC - 1, 0x01, struct sharedsock_duplicate), "magic - 1" },
		{ _IOWR(SHAREDSOCK_IOC_MAGIC + 1, 0x01, struct sharedsock_duplicate), "magic + 1" },
		{ _IOWR('s', 0x01, struct sharedsock_duplicate), "magic 's'" },
		{ _IOC(_IOC_READ | _IOC_WRITE, SHAREDSOCK_IOC_MAGIC, 0x01, 72), "duplicate, size 72" },
		{ _IOC(_IOC_READ | _IOC_WRITE, SHAREDSOCK_IOC_MAGIC, 0x01, 48), "duplicate, size 48" },
		{ _IOC(_IOC_READ | _IOC_WRITE, SHAREDSOCK_IOC_MAGIC, 0x01, 0), "duplicate, size 0" },
		{ _IOC(_IOC_WRITE, SHAREDSOCK_IOC_MAGIC, 0x02, 64), "redeem, size 64" },
		{ _IOC(_IOC_WRITE, SHAREDSOCK_IOC_MAGIC, 0x02, 40), "redeem, size 40" },
		{ _IOC(_IOC_WRITE, SHAREDSOCK_IOC_MAGIC, 0x03, 56), "revoke, size 56" },
		{ _IOW(SHAREDSOCK_IOC_MAGIC, 0x01, struct sharedsock_duplicate), "duplicate, _IOW" },
		{ _IOWR(SHAREDSOCK_IOC_MAGIC, 0x02, struct sharedsock_redeem), "redeem, _IOWR" },
		{ _IOR(SHAREDSOCK_IOC_MAGIC, 0x03, struct sharedsock_revoke), "revoke, _IOR" },
		{ _IO(SHAREDSOCK_IOC_MAGIC, 0x01), "duplicate, _IO" },
	};
	struct sharedsock_duplicate args, before;

	/* A valid DUPLICATE argument: a loose match would export. */
	args = dup_args(self->sv[0], getpid(), 0);
	before = args;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		EXPECT_EQ(ENOTTY, err_of(ioctl(self->dev, cmds[i].cmd, &args)))
			TH_LOG("%s (%#lx)", cmds[i].what, cmds[i].cmd);
		EXPECT_EQ(0, memcmp(&args, &before, sizeof(args)))
			TH_LOG("%s wrote its argument", cmds[i].what);
	}
	EXPECT_TRUE(no_token_holds(&self->sv[0], self->sv[1]));
}

/* ------------------------------------------------------------------ */
/* DUPLICATE                                                          */
/* ------------------------------------------------------------------ */

TEST_F(ss, duplicate_ttl_above_max_einval)
{
	unsigned int max = max_ttl_ms();
	struct sharedsock_info info;

	TH_LOG("max_ttl_ms %u", max);
	if (max < UINT32_MAX)
		EXPECT_EQ(EINVAL, dup_fails(_metadata, self->dev, self->sv[0],
					    getpid(), max + 1));
	if (max < UINT32_MAX - 1000)
		EXPECT_EQ(EINVAL, dup_fails(_metadata, self->dev, self->sv[0],
					    getpid(), max + 1000));
	if (max < UINT32_MAX)
		EXPECT_EQ(EINVAL, dup_fails(_metadata, self->dev, self->sv[0],
					    getpid(), UINT32_MAX));
	/* the maximum itself is allowed */
	ASSERT_EQ(0, raw_duplicate(self->dev, self->sv[0], getpid(), max, &info));
	EXPECT_EQ(0, redeem_check(self->dev, &info, self->sv[1]));
	EXPECT_TRUE(no_token_holds(&self->sv[0], self->sv[1]));
}

TEST_F(ss, duplicate_bad_fd_ebadf)
{
	int closed = dup(self->sv[0]);

	ASSERT_LE(0, closed);
	ASSERT_EQ(0, close(closed));
	EXPECT_EQ(EBADF, dup_fails(_metadata, self->dev, -1, getpid(), 0));
	EXPECT_EQ(EBADF, dup_fails(_metadata, self->dev, INT_MIN, getpid(), 0));
	EXPECT_EQ(EBADF, dup_fails(_metadata, self->dev, closed, getpid(), 0));
	EXPECT_EQ(EBADF, dup_fails(_metadata, self->dev, 1 << 20, getpid(), 0));
	EXPECT_EQ(EBADF, dup_fails(_metadata, self->dev, INT_MAX, getpid(), 0));
	/* the socket itself still exports */
	{
		struct sharedsock_info info;

		ASSERT_EQ(0, raw_duplicate(self->dev, self->sv[0], getpid(), 0,
					   &info));
		EXPECT_EQ(0, redeem_check(self->dev, &info, self->sv[1]));
	}
}

/* An O_PATH descriptor is no open file, even when it names a socket. */
TEST_F(ss, duplicate_o_path_ebadf)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int lsock, path_sock, path_file, path_dev;
	char file[64];
	struct stat st;

	snprintf(addr.sun_path, sizeof(addr.sun_path),
		 "/tmp/errors_test.%d.sock", getpid());
	snprintf(file, sizeof(file), "/tmp/errors_test.%d.file", getpid());
	unlink(addr.sun_path);
	lsock = socket(AF_UNIX, SOCK_STREAM, 0);
	ASSERT_LE(0, lsock);
	ASSERT_EQ(0, bind(lsock, (struct sockaddr *)&addr, sizeof(addr)));
	ASSERT_EQ(0, listen(lsock, 1));

	path_sock = open(addr.sun_path, O_PATH | O_CLOEXEC);
	ASSERT_LE(0, path_sock);
	ASSERT_EQ(0, fstat(path_sock, &st));
	EXPECT_TRUE(S_ISSOCK(st.st_mode));	/* it does name a socket */
	path_file = open(file, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	ASSERT_LE(0, path_file);
	close(path_file);
	path_file = open(file, O_PATH | O_CLOEXEC);
	ASSERT_LE(0, path_file);
	path_dev = open(SHAREDSOCK_DEVICE_PATH, O_PATH | O_CLOEXEC);
	ASSERT_LE(0, path_dev);

	EXPECT_EQ(EBADF, dup_fails(_metadata, self->dev, path_sock, getpid(), 0));
	EXPECT_EQ(EBADF, dup_fails(_metadata, self->dev, path_file, getpid(), 0));
	EXPECT_EQ(EBADF, dup_fails(_metadata, self->dev, path_dev, getpid(), 0));
	/* and an O_PATH device descriptor is no device either */
	{
		struct sharedsock_duplicate args = dup_args(self->sv[0], getpid(), 0);

		EXPECT_EQ(EBADF, err_of(ioctl(path_dev, SHAREDSOCK_IOC_DUPLICATE,
					      &args)));
	}

	close(path_sock);
	close(path_file);
	close(path_dev);
	close(lsock);
	unlink(addr.sun_path);
	unlink(file);
	EXPECT_TRUE(no_token_holds(&self->sv[0], self->sv[1]));
}

static int io_uring_fd(void)
{
	struct io_uring_params params;

	memset(&params, 0, sizeof(params));
	return syscall(SYS_io_uring_setup, 4, &params);
}

TEST_F(ss, duplicate_not_a_socket_enotsock)
{
	struct { int fd; const char *what; } fds[12];
	char file[64];
	int pipefd[2];
	size_t n = 0;

	ASSERT_EQ(0, pipe2(pipefd, O_CLOEXEC));
	fds[n++] = (typeof(fds[0])){ pipefd[0], "pipe read end" };
	fds[n++] = (typeof(fds[0])){ pipefd[1], "pipe write end" };
	snprintf(file, sizeof(file), "/tmp/errors_test.%d.reg", getpid());
	fds[n++] = (typeof(fds[0])){ open(file, O_CREAT | O_RDWR | O_CLOEXEC, 0600),
				     "regular file" };
	unlink(file);
	fds[n++] = (typeof(fds[0])){ open("/dev/null", O_RDWR | O_CLOEXEC), "/dev/null" };
	fds[n++] = (typeof(fds[0])){ eventfd(0, EFD_CLOEXEC), "eventfd" };
	fds[n++] = (typeof(fds[0])){ epoll_create1(EPOLL_CLOEXEC), "epoll" };
	fds[n++] = (typeof(fds[0])){ memfd_create("errors_test", MFD_CLOEXEC), "memfd" };
	fds[n++] = (typeof(fds[0])){ self->dev, "/dev/sharedsock" };
	fds[n++] = (typeof(fds[0])){ io_uring_fd(), "io_uring" };
	fds[n++] = (typeof(fds[0])){ syscall(SYS_pidfd_open, getpid(), 0), "pidfd" };
	fds[n++] = (typeof(fds[0])){ open("/proc/self/status", O_RDONLY | O_CLOEXEC),
				     "procfs file" };

	for (size_t i = 0; i < n; i++) {
		ASSERT_LE(0, fds[i].fd) TH_LOG("%s: errno %d", fds[i].what, errno);
		EXPECT_EQ(ENOTSOCK, dup_fails(_metadata, self->dev, fds[i].fd,
					      getpid(), 0))
			TH_LOG("%s", fds[i].what);
	}
	/* the library reports the same */
	{
		struct ss_protocol_info info;

		memset(&info, GARBAGE, sizeof(info));
		EXPECT_EQ(-1, ss_duplicate_socket(pipefd[0], getpid(), &info));
		EXPECT_EQ(ENOTSOCK, errno);
		EXPECT_TRUE(all_bytes(&info, sizeof(info), GARBAGE));
	}
	for (size_t i = 0; i < n; i++)
		if (fds[i].fd != self->dev)
			close(fds[i].fd);
	EXPECT_TRUE(no_token_holds(&self->sv[0], self->sv[1]));
}

/* The descriptor is checked before the process: EBADF, ENOTSOCK, ESRCH. */
TEST_F(ss, duplicate_fd_checked_before_pid)
{
	int pipefd[2], closed, opath;

	ASSERT_EQ(0, pipe2(pipefd, O_CLOEXEC));
	closed = dup(pipefd[0]);
	ASSERT_LE(0, closed);
	close(closed);
	opath = open("/tmp", O_PATH | O_CLOEXEC);
	ASSERT_LE(0, opath);

	EXPECT_EQ(EBADF, dup_fails(_metadata, self->dev, -1, -1, 0));
	EXPECT_EQ(EBADF, dup_fails(_metadata, self->dev, closed, 0, 0));
	EXPECT_EQ(EBADF, dup_fails(_metadata, self->dev, opath, unused_pid(), 0));
	EXPECT_EQ(ENOTSOCK, dup_fails(_metadata, self->dev, pipefd[0], -1, 0));
	EXPECT_EQ(ENOTSOCK, dup_fails(_metadata, self->dev, pipefd[1], 0, 0));
	EXPECT_EQ(ENOTSOCK, dup_fails(_metadata, self->dev, self->dev,
				      unused_pid(), 0));
	/* a good descriptor with the same pids: the pid is now the error */
	EXPECT_EQ(ESRCH, dup_fails(_metadata, self->dev, self->sv[0], -1, 0));
	EXPECT_EQ(ESRCH, dup_fails(_metadata, self->dev, self->sv[0], 0, 0));
	close(pipefd[0]);
	close(pipefd[1]);
	close(opath);
	EXPECT_TRUE(no_token_holds(&self->sv[0], self->sv[1]));
}

TEST_F(ss, duplicate_bad_pid_esrch)
{
	pid_t reaped;

	reaped = fork();
	ASSERT_LE(0, reaped);
	if (reaped == 0)
		_exit(0);
	ASSERT_EQ(0, wait_exit(reaped));

	EXPECT_EQ(ESRCH, dup_fails(_metadata, self->dev, self->sv[0], 0, 0));
	EXPECT_EQ(ESRCH, dup_fails(_metadata, self->dev, self->sv[0], -1, 0));
	EXPECT_EQ(ESRCH, dup_fails(_metadata, self->dev, self->sv[0], -getpid(), 0));
	EXPECT_EQ(ESRCH, dup_fails(_metadata, self->dev, self->sv[0], INT_MIN, 0));
	EXPECT_EQ(ESRCH, dup_fails(_metadata, self->dev, self->sv[0], INT_MAX, 0));
	EXPECT_EQ(ESRCH, dup_fails(_metadata, self->dev, self->sv[0],
				   unused_pid(), 0));
	EXPECT_EQ(ESRCH, dup_fails(_metadata, self->dev, self->sv[0], reaped, 0))
		TH_LOG("pid %d of a reaped child", reaped);
	EXPECT_TRUE(no_token_holds(&self->sv[0], self->sv[1]));
}

struct thread_ctl {
	int ready[2];	/* thread -> test: its tid */
	int gate[2];	/* test -> thread: exit */
};

static void *idle_thread(void *arg)
{
	struct thread_ctl *ctl = arg;
	pid_t tid = gettid();
	char c;

	if (write(ctl->ready[1], &tid, sizeof(tid)) != sizeof(tid))
		return NULL;
	if (read(ctl->gate[0], &c, 1) != 1)
		return NULL;
	return NULL;
}

/* A token is bound to a process: a thread's id names none. */
TEST_F(ss, duplicate_non_leader_thread_esrch)
{
	struct thread_ctl ctl;
	struct sharedsock_info info;
	pthread_t thread;
	pid_t tid;

	ASSERT_EQ(0, pipe(ctl.ready));
	ASSERT_EQ(0, pipe(ctl.gate));
	ASSERT_EQ(0, pthread_create(&thread, NULL, idle_thread, &ctl));
	ASSERT_EQ(sizeof(tid), read(ctl.ready[0], &tid, sizeof(tid)));
	ASSERT_NE(getpid(), tid);

	EXPECT_EQ(ESRCH, dup_fails(_metadata, self->dev, self->sv[0], tid, 0))
		TH_LOG("tid %d of a live thread of pid %d", tid, getpid());
	/* the same process through its leader's id works */
	ASSERT_EQ(0, raw_duplicate(self->dev, self->sv[0], getpid(), 0, &info));
	EXPECT_EQ(0, redeem_check(self->dev, &info, self->sv[1]));

	ASSERT_EQ(1, write(ctl.gate[1], "x", 1));
	ASSERT_EQ(0, pthread_join(thread, NULL));
	EXPECT_TRUE(no_token_holds(&self->sv[0], self->sv[1]));
}

/* Wait until @pid has exited, but leave it a zombie. */
static int wait_zombie(pid_t pid)
{
	siginfo_t si = { 0 };

	return waitid(P_PID, pid, &si, WEXITED | WNOWAIT) ? -1 : si.si_pid;
}

TEST_F(ss, duplicate_to_zombie_esrch)
{
	struct sharedsock_info info;
	int gate[2];
	pid_t fresh, known;

	/* a child that exits at once, never a target */
	fresh = fork();
	ASSERT_LE(0, fresh);
	if (fresh == 0)
		_exit(0);
	ASSERT_EQ(fresh, wait_zombie(fresh));
	EXPECT_EQ(ESRCH, dup_fails(_metadata, self->dev, self->sv[0], fresh, 0));

	/* a child that was a target while alive */
	ASSERT_EQ(0, pipe(gate));
	known = fork();
	ASSERT_LE(0, known);
	if (known == 0) {
		char c;

		close(self->sv[0]);
		close(self->sv[1]);
		_exit(read(gate[0], &c, 1) == 1 ? 0 : 1);
	}
	ASSERT_EQ(0, raw_duplicate(self->dev, self->sv[0], known, 0, &info));
	ASSERT_EQ(1, write(gate[1], "x", 1));
	ASSERT_EQ(known, wait_zombie(known));
	EXPECT_EQ(ESRCH, dup_fails(_metadata, self->dev, self->sv[0], known, 0));

	EXPECT_EQ(0, wait_exit(fresh));
	EXPECT_EQ(0, wait_exit(known));
	/* the exited child's token went with it */
	EXPECT_TRUE(no_token_holds(&self->sv[0], self->sv[1]));
}

TEST(duplicate_success_describes_the_socket)
{
	const struct { int family, type, protocol; } kinds[] = {
		{ AF_INET, SOCK_STREAM, IPPROTO_TCP },
		{ AF_INET, SOCK_DGRAM, IPPROTO_UDP },
		{ AF_INET6, SOCK_STREAM, IPPROTO_TCP },
		{ AF_INET6, SOCK_DGRAM, IPPROTO_UDP },
		{ AF_UNIX, SOCK_STREAM, 0 },
		{ AF_UNIX, SOCK_DGRAM, 0 },
		{ AF_UNIX, SOCK_SEQPACKET, 0 },
	};
	int dev = dev_open();

	ASSERT_LE(0, dev);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		/* type flags are no part of the type */
		int fd = socket(kinds[i].family,
				kinds[i].type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		struct sharedsock_duplicate args = dup_args(fd, getpid(), 0);
		struct sharedsock_duplicate in = args;

		ASSERT_LE(0, fd);
		ASSERT_EQ(0, ioctl(dev, SHAREDSOCK_IOC_DUPLICATE, &args))
			TH_LOG("kind %zu: errno %d", i, errno);
		EXPECT_EQ(kinds[i].family, args.info.family) TH_LOG("kind %zu", i);
		EXPECT_EQ(kinds[i].type, args.info.type) TH_LOG("kind %zu", i);
		EXPECT_EQ(kinds[i].protocol, args.info.protocol) TH_LOG("kind %zu", i);
		EXPECT_EQ(0, args.info.reserved);
		EXPECT_NE(0, args.info.id);
		/* the input fields come back as they went in */
		EXPECT_EQ(0, memcmp(&in, &args,
				    offsetof(struct sharedsock_duplicate, info)));
		EXPECT_EQ(0, raw_revoke(dev, &args.info));
		close(fd);
	}
	close(dev);
}

TEST_F(ss, duplicate_tokens_are_distinct)
{
	struct sharedsock_info a, b, c;
	int other[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, other));
	ASSERT_EQ(0, raw_duplicate(self->dev, self->sv[0], getpid(), 0, &a));
	ASSERT_EQ(0, raw_duplicate(self->dev, self->sv[0], getpid(), 0, &b));
	ASSERT_EQ(0, raw_duplicate(self->dev, other[0], getpid(), 0, &c));
	EXPECT_NE(a.id, b.id);
	EXPECT_NE(a.id, c.id);
	EXPECT_NE(b.id, c.id);
	EXPECT_NE(0, memcmp(a.secret, b.secret, sizeof(a.secret)));
	EXPECT_NE(0, memcmp(a.secret, c.secret, sizeof(a.secret)));
	EXPECT_NE(0, memcmp(b.secret, c.secret, sizeof(a.secret)));
	EXPECT_FALSE(all_bytes(a.secret, sizeof(a.secret), 0));
	/* each redeems on its own, to its own socket */
	EXPECT_EQ(0, redeem_check(self->dev, &b, self->sv[1]));
	EXPECT_EQ(0, redeem_check(self->dev, &c, other[1]));
	EXPECT_EQ(0, redeem_check(self->dev, &a, self->sv[1]));
	close(other[0]);
	close(other[1]);
}

/* ------------------------------------------------------------------ */
/* REDEEM                                                             */
/* ------------------------------------------------------------------ */

TEST_F(ss, redeem_unknown_token_einval)
{
	struct sharedsock_info tok, other, bogus;
	int nsock;

	ASSERT_EQ(0, raw_duplicate(self->dev, self->sv[0], getpid(), 0, &tok));
	ASSERT_EQ(0, raw_duplicate(self->dev, self->sv[0], getpid(), 0, &other));
	ASSERT_EQ(0, raw_revoke(self->dev, &other));
	nsock = count_socket_fds();

	memset(&bogus, 0, sizeof(bogus));
	EXPECT_EQ(EINVAL, err_of(raw_redeem(self->dev, &bogus, 0)));

	bogus = tok;
	bogus.id = 0x5eed5eed5eed5eedull;
	EXPECT_EQ(EINVAL, err_of(raw_redeem(self->dev, &bogus, 0)));
	bogus.id = UINT64_MAX;
	EXPECT_EQ(EINVAL, err_of(raw_redeem(self->dev, &bogus, 0)));
	bogus.id = tok.id + 1000;
	EXPECT_EQ(EINVAL, err_of(raw_redeem(self->dev, &bogus, 0)));

	/* the secret belongs to its own id */
	bogus = tok;
	bogus.id = other.id;
	EXPECT_EQ(EINVAL, err_of(raw_redeem(self->dev, &bogus, 0)));
	bogus = other;
	bogus.id = tok.id;
	EXPECT_EQ(EINVAL, err_of(raw_redeem(self->dev, &bogus, 0)));
	/* the id alone is not enough */
	bogus = tok;
	memset(bogus.secret, 0, sizeof(bogus.secret));
	EXPECT_EQ(EINVAL, err_of(raw_redeem(self->dev, &bogus, 0)));

	EXPECT_EQ(nsock, count_socket_fds());
	EXPECT_EQ(0, redeem_check(self->dev, &tok, self->sv[1]));
}

/* A failed redeem with a wrong secret burns nothing: the token remains. */
TEST_F(ss, redeem_wrong_secret_einval_then_right_one_works)
{
	struct sharedsock_info tok, bogus;
	int nsock;

	ASSERT_EQ(0, raw_duplicate(self->dev, self->sv[0], getpid(), 0, &tok));
	nsock = count_socket_fds();
	for (int i = 0; i < SHAREDSOCK_SECRET_SIZE; i++) {
		bogus = tok;
		bogus.secret[i] ^= 1u << (i % 8);
		EXPECT_EQ(EINVAL, err_of(raw_redeem(self->dev, &bogus, 0)))
			TH_LOG("secret byte %d", i);
		EXPECT_EQ(EINVAL, err_of(raw_redeem(self->dev, &bogus,
						    SHAREDSOCK_REDEEM_CLOEXEC)));
	}
	EXPECT_EQ(nsock, count_socket_fds());
	EXPECT_EQ(0, redeem_check(self->dev, &tok, self->sv[1]));
	/* and then it is used up */
	EXPECT_EQ(EINVAL, err_of(raw_redeem(self->dev, &tok, 0)));
	EXPECT_EQ(nsock, count_socket_fds());
}

/*
 * A structure whose family, type or protocol was altered on the way is
 * invalid as a whole (EINVAL), even with the right id and secret; neither
 * redeem nor revoke takes the token, and the intact one still redeems.
 */
TEST_F(ss, redeem_altered_description_einval_then_intact_works)
{
	struct sharedsock_info tok, bogus;
	int nsock;

	ASSERT_EQ(0, raw_duplicate(self->dev, self->sv[0], getpid(), 0, &tok));
	nsock = count_socket_fds();
	bogus = tok;
	bogus.family = AF_INET6;
	EXPECT_EQ(EINVAL, err_of(raw_redeem(self->dev, &bogus, 0)));
	EXPECT_EQ(EINVAL, err_of(raw_revoke(self->dev, &bogus)));
	bogus = tok;
	bogus.type = SOCK_DGRAM;
	EXPECT_EQ(EINVAL, err_of(raw_redeem(self->dev, &bogus, 0)));
	bogus = tok;
	bogus.protocol = IPPROTO_UDP;
	EXPECT_EQ(EINVAL, err_of(raw_redeem(self->dev, &bogus, 0)));
	bogus = tok;
	bogus.family = 0;
	bogus.type = 0;
	bogus.protocol = 0;
	EXPECT_EQ(EINVAL, err_of(raw_redeem(self->dev, &bogus, 0)));
	EXPECT_EQ(nsock, count_socket_fds());
	EXPECT_EQ(0, redeem_check(self->dev, &tok, self->sv[1]));
}

TEST_F(ss, redeem_revoked_token_einval)
{
	struct sharedsock_info tok;
	int nsock = count_socket_fds();

	ASSERT_EQ(0, raw_duplicate(self->dev, self->sv[0], getpid(), 0, &tok));
	ASSERT_EQ(0, raw_revoke(self->dev, &tok));
	EXPECT_EQ(EINVAL, err_of(raw_redeem(self->dev, &tok, 0)));
	EXPECT_EQ(EINVAL, err_of(raw_redeem(self->dev, &tok,
					    SHAREDSOCK_REDEEM_CLOEXEC)));
	EXPECT_EQ(nsock, count_socket_fds());
	EXPECT_TRUE(no_token_holds(&self->sv[0], self->sv[1]));
}

/* ------------------------------------------------------------------ */
/* REVOKE                                                             */
/* ------------------------------------------------------------------ */

TEST_F(ss, revoke_unknown_token_or_wrong_secret_einval)
{
	struct sharedsock_info tok, bogus;

	ASSERT_EQ(0, raw_duplicate(self->dev, self->sv[0], getpid(), 0, &tok));
	/* only the token keeps the socket open from here */
	close(self->sv[0]);
	self->sv[0] = -1;
	EXPECT_TRUE(peer_open_for(self->sv[1], 100));

	memset(&bogus, 0, sizeof(bogus));
	EXPECT_EQ(EINVAL, err_of(raw_revoke(self->dev, &bogus)));
	bogus = tok;
	bogus.id = 0x5eed5eed5eed5eedull;
	EXPECT_EQ(EINVAL, err_of(raw_revoke(self->dev, &bogus)));
	for (int i = 0; i < SHAREDSOCK_SECRET_SIZE; i++) {
		bogus = tok;
		bogus.secret[i] ^= 0x80u >> (i % 8);
		EXPECT_EQ(EINVAL, err_of(raw_revoke(self->dev, &bogus)))
			TH_LOG("secret byte %d", i);
	}
	/* none of them withdrew the token */
	EXPECT_TRUE(peer_open_for(self->sv[1], 100));
	EXPECT_EQ(0, raw_revoke(self->dev, &tok));
	EXPECT_TRUE(peer_eof_within(self->sv[1], WAIT_MS));
}

TEST_F(ss, revoke_twice_or_after_redeem_einval)
{
	struct sharedsock_info tok;
	int fd;

	ASSERT_EQ(0, raw_duplicate(self->dev, self->sv[0], getpid(), 0, &tok));
	EXPECT_EQ(0, raw_revoke(self->dev, &tok));
	EXPECT_EQ(EINVAL, err_of(raw_revoke(self->dev, &tok)));

	/* a redeemed token is no longer pending; the descriptor stays */
	ASSERT_EQ(0, raw_duplicate(self->dev, self->sv[0], getpid(), 0, &tok));
	fd = raw_redeem(self->dev, &tok, 0);
	ASSERT_LE(0, fd);
	EXPECT_EQ(EINVAL, err_of(raw_revoke(self->dev, &tok)));
	EXPECT_TRUE(transfer_ok(fd, self->sv[1], "still here"));
	close(fd);
	EXPECT_TRUE(no_token_holds(&self->sv[0], self->sv[1]));
}

/* ------------------------------------------------------------------ */
/* The library                                                        */
/* ------------------------------------------------------------------ */

/* Winsock checks the output pointer last, and keeps no token. */
TEST_F(ss, lib_duplicate_null_info_efault_leaves_no_token)
{
	/* the longest lifetime: such a token would outlast any wait here */
	unsigned int ttl = max_ttl_ms();

	errno = 0;
	EXPECT_EQ(-1, ss_duplicate_socket(self->sv[0], getpid(), NULL));
	EXPECT_EQ(EFAULT, errno);
	errno = 0;
	EXPECT_EQ(-1, ss_duplicate_socket_ttl(self->sv[0], getpid(), ttl, NULL));
	EXPECT_EQ(EFAULT, errno);
	/* a token would keep the socket open for a minute, or an hour */
	EXPECT_TRUE(no_token_holds(&self->sv[0], self->sv[1]));
}

TEST_F(ss, lib_duplicate_null_info_reports_earlier_errors_first)
{
	int pipefd[2];

	ASSERT_EQ(0, pipe2(pipefd, O_CLOEXEC));
	EXPECT_EQ(-1, ss_duplicate_socket(-1, getpid(), NULL));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, ss_duplicate_socket(pipefd[0], getpid(), NULL));
	EXPECT_EQ(ENOTSOCK, errno);
	EXPECT_EQ(-1, ss_duplicate_socket(self->sv[0], -1, NULL));
	EXPECT_EQ(ESRCH, errno);
	EXPECT_EQ(-1, ss_duplicate_socket(self->sv[0], unused_pid(), NULL));
	EXPECT_EQ(ESRCH, errno);
	if (max_ttl_ms() < UINT32_MAX) {
		EXPECT_EQ(-1, ss_duplicate_socket_ttl(self->sv[0], getpid(),
						      max_ttl_ms() + 1, NULL));
		EXPECT_EQ(EINVAL, errno);
	}
	close(pipefd[0]);
	close(pipefd[1]);
	EXPECT_TRUE(no_token_holds(&self->sv[0], self->sv[1]));
}

TEST_F(ss, lib_duplicate_failure_leaves_info_untouched)
{
	struct ss_protocol_info info;

	memset(&info, GARBAGE, sizeof(info));
	EXPECT_EQ(-1, ss_duplicate_socket(-1, getpid(), &info));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, ss_duplicate_socket(self->sv[0], 0, &info));
	EXPECT_EQ(ESRCH, errno);
	if (max_ttl_ms() < UINT32_MAX) {
		EXPECT_EQ(-1, ss_duplicate_socket_ttl(self->sv[0], getpid(),
						      UINT32_MAX, &info));
		EXPECT_EQ(EINVAL, errno);
	}
	EXPECT_TRUE(all_bytes(&info, sizeof(info), GARBAGE));
	EXPECT_TRUE(no_token_holds(&self->sv[0], self->sv[1]));
}

TEST_F(ss, lib_socket_from_info_null_efault)
{
	int nsock = count_socket_fds();

	EXPECT_EQ(-1, ss_socket_from_info(NULL, 0));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ss_socket_from_info(NULL, O_CLOEXEC));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(nsock, count_socket_fds());
}

/* Only 0 and O_CLOEXEC; a refused call leaves the token redeemable. */
TEST_F(ss, lib_socket_from_info_bad_flags_einval)
{
	const int bad[] = { O_NONBLOCK, O_CLOEXEC | O_NONBLOCK, O_RDWR,
			    O_APPEND, SHAREDSOCK_REDEEM_CLOEXEC, -1 };
	struct ss_protocol_info info;
	int nsock, fd;

	ASSERT_EQ(0, ss_duplicate_socket(self->sv[0], getpid(), &info));
	nsock = count_socket_fds();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		EXPECT_EQ(-1, ss_socket_from_info(&info, bad[i]))
			TH_LOG("flags %#x", bad[i]);
		EXPECT_EQ(EINVAL, errno) TH_LOG("flags %#x", bad[i]);
	}
	EXPECT_EQ(nsock, count_socket_fds());
	fd = ss_socket_from_info(&info, O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(0, fcntl(fd, F_GETFL) & O_NONBLOCK);
	EXPECT_TRUE(transfer_ok(fd, self->sv[1], "library"));
	close(fd);
}

TEST_F(ss, lib_revoke_null_efault)
{
	struct ss_protocol_info info;
	int fd;

	ASSERT_EQ(0, ss_duplicate_socket(self->sv[0], getpid(), &info));
	EXPECT_EQ(-1, ss_revoke(NULL));
	EXPECT_EQ(EFAULT, errno);
	/* nothing was revoked */
	fd = ss_socket_from_info(&info, 0);
	ASSERT_LE(0, fd);
	EXPECT_TRUE(transfer_ok(fd, self->sv[1], "kept"));
	close(fd);
	/* and a used token does not revoke */
	EXPECT_EQ(-1, ss_revoke(&info));
	EXPECT_EQ(EINVAL, errno);
}

TEST_HARNESS_MAIN
