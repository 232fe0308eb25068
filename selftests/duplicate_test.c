// SPDX-License-Identifier: GPL-2.0
/*
 * Duplicate and redeem: one socket, several descriptors, across processes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "kselftest_harness.h"

static int kcmp_files(pid_t pid1, pid_t pid2, int fd1, int fd2)
{
	return syscall(SYS_kcmp, pid1, pid2, KCMP_FILE, fd1, fd2);
}

FIXTURE(sock)
{
	int sv[2];	/* sv[0] is exported; sv[1] is its peer */
};

FIXTURE_VARIANT(sock)
{
	int family;
	int type;
	int protocol;	/* what SO_PROTOCOL reports */
	bool stream;	/* closing the last descriptor gives the peer EOF */
};

FIXTURE_VARIANT_ADD(sock, tcp4)
{
	.family = AF_INET, .type = SOCK_STREAM, .protocol = IPPROTO_TCP,
	.stream = true,
};

FIXTURE_VARIANT_ADD(sock, tcp6)
{
	.family = AF_INET6, .type = SOCK_STREAM, .protocol = IPPROTO_TCP,
	.stream = true,
};

FIXTURE_VARIANT_ADD(sock, udp4)
{
	.family = AF_INET, .type = SOCK_DGRAM, .protocol = IPPROTO_UDP,
};

FIXTURE_VARIANT_ADD(sock, udp6)
{
	.family = AF_INET6, .type = SOCK_DGRAM, .protocol = IPPROTO_UDP,
};

FIXTURE_VARIANT_ADD(sock, unix_stream)
{
	.family = AF_UNIX, .type = SOCK_STREAM, .stream = true,
};

FIXTURE_VARIANT_ADD(sock, unix_dgram)
{
	.family = AF_UNIX, .type = SOCK_DGRAM,
};

FIXTURE_VARIANT_ADD(sock, unix_seqpacket)
{
	.family = AF_UNIX, .type = SOCK_SEQPACKET, .stream = true,
};

FIXTURE_SETUP(sock)
{
	ASSERT_EQ(0, socket_pair(variant->family, variant->type, self->sv));
}

FIXTURE_TEARDOWN(sock)
{
	close(self->sv[0]);
	close(self->sv[1]);
}

static int sockopt_int(int fd, int opt)
{
	socklen_t len = sizeof(int);
	int val = -1;

	if (getsockopt(fd, SOL_SOCKET, opt, &val, &len))
		return -1;
	return val;
}

/*
 * Target side of the cross-process test; returns the failing step.
 * sync[0]: read end of parent->child, sync[1]: write end of child->parent.
 */
static int target_main(const FIXTURE_VARIANT(sock) *variant, int info_rd,
		       int ack_wr)
{
	struct ss_protocol_info info;
	char buf[64];
	ssize_t n;
	int fd;

	if (recv_info(info_rd, &info))
		return 10;
	if (info.family != variant->family || info.type != variant->type ||
	    info.protocol != variant->protocol)
		return 11;
	fd = ss_socket_from_info(&info, 0);
	if (fd < 0)
		return 12;
	if (sockopt_int(fd, SO_DOMAIN) != variant->family ||
	    sockopt_int(fd, SO_TYPE) != variant->type ||
	    sockopt_int(fd, SO_PROTOCOL) != variant->protocol)
		return 13;
	/* target -> peer through the redeemed descriptor */
	if (send(fd, "from-target", 11, 0) != 11)
		return 14;
	/* peer -> target */
	n = recv(fd, buf, sizeof(buf), 0);
	if (n != 9 || memcmp(buf, "to-target", 9))
		return 15;
	if (write(ack_wr, "k", 1) != 1)
		return 16;
	/* keep the descriptor until the parent is done with its own */
	if (read(info_rd, buf, 1) != 1)
		return 17;
	close(fd);
	return 0;
}

TEST_F(sock, cross_process_data_both_ways)
{
	struct ss_protocol_info info;
	int to_child[2], to_parent[2];
	char buf[64];
	pid_t pid;

	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(to_parent));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		close(self->sv[1]);
		_exit(target_main(variant, to_child[0], to_parent[1]));
	}
	ASSERT_EQ(0, ss_duplicate_socket(self->sv[0], pid, &info));
	EXPECT_EQ(variant->family, info.family);
	EXPECT_EQ(variant->type, info.type);
	EXPECT_EQ(variant->protocol, info.protocol);
	ASSERT_EQ(0, send_info(to_child[1], &info));

	ASSERT_EQ(11, recv(self->sv[1], buf, sizeof(buf), 0));
	ASSERT_EQ(0, memcmp(buf, "from-target", 11));
	ASSERT_EQ(9, send(self->sv[1], "to-target", 9, 0));
	ASSERT_EQ(1, read(to_parent[0], buf, 1));

	/* The exporter's own descriptor still works, both ways. */
	EXPECT_TRUE(transfer_ok(self->sv[0], self->sv[1], "from-source"));
	EXPECT_TRUE(transfer_ok(self->sv[1], self->sv[0], "to-source"));

	ASSERT_EQ(1, write(to_child[1], "x", 1));
	EXPECT_EQ(0, wait_exit(pid));
}

TEST_F(sock, same_file_kcmp)
{
	struct ss_protocol_info info;
	int to_child[2], to_parent[2];
	pid_t pid;
	char c;

	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(to_parent));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int fd;

		if (recv_info(to_child[0], &info))
			_exit(1);
		fd = ss_socket_from_info(&info, 0);
		if (fd < 0 || write(to_parent[1], &fd, sizeof(fd)) != sizeof(fd))
			_exit(2);
		/* hold the descriptor until the parent compared */
		_exit(read(to_child[0], &c, 1) == 1 ? 0 : 3);
	}
	ASSERT_EQ(0, ss_duplicate_socket(self->sv[0], pid, &info));
	ASSERT_EQ(0, send_info(to_child[1], &info));
	{
		int child_fd;

		ASSERT_EQ(sizeof(child_fd),
			  read(to_parent[0], &child_fd, sizeof(child_fd)));
		EXPECT_EQ(0, kcmp_files(getpid(), pid, self->sv[0], child_fd));
		/* and a different socket is a different file */
		EXPECT_NE(0, kcmp_files(getpid(), pid, self->sv[1], child_fd));
	}
	ASSERT_EQ(1, write(to_child[1], "x", 1));
	EXPECT_EQ(0, wait_exit(pid));
}

TEST_F(sock, own_pid_shares_options_and_flags)
{
	struct ss_protocol_info info;
	int val, fd;

	ASSERT_EQ(0, ss_duplicate_socket(self->sv[0], getpid(), &info));
	fd = ss_socket_from_info(&info, 0);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(0, kcmp_files(getpid(), getpid(), self->sv[0], fd));

	/* setsockopt through one descriptor, getsockopt through the other */
	val = 65536;
	ASSERT_EQ(0, setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &val, sizeof(val)));
	EXPECT_EQ(sockopt_int(fd, SO_SNDBUF), sockopt_int(self->sv[0], SO_SNDBUF));
	val = 1;
	ASSERT_EQ(0, setsockopt(self->sv[0], SOL_SOCKET, SO_KEEPALIVE, &val,
				sizeof(val)));
	EXPECT_EQ(1, sockopt_int(fd, SO_KEEPALIVE));

	/* O_NONBLOCK lives in the shared struct file */
	EXPECT_EQ(0, fcntl(self->sv[0], F_GETFL) & O_NONBLOCK);
	ASSERT_EQ(0, fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK));
	EXPECT_NE(0, fcntl(self->sv[0], F_GETFL) & O_NONBLOCK);
	{
		char c;

		EXPECT_EQ(-1, recv(self->sv[0], &c, 1, 0));
		EXPECT_EQ(EAGAIN, errno);
	}

	EXPECT_TRUE(transfer_ok(fd, self->sv[1], "hello"));
	close(fd);
}

TEST_F(sock, cloexec_on_request)
{
	struct ss_protocol_info info;
	int fd;

	ASSERT_EQ(0, ss_duplicate_socket(self->sv[0], getpid(), &info));
	fd = ss_socket_from_info(&info, O_CLOEXEC);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);

	ASSERT_EQ(0, ss_duplicate_socket(self->sv[0], getpid(), &info));
	fd = ss_socket_from_info(&info, 0);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(0, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
}

/*
 * Closing every descriptor but one keeps the connection; closing the last
 * one, in another process, gives the peer EOF.
 */
TEST_F(sock, last_descriptor_closes)
{
	struct ss_protocol_info info;
	int to_child[2], to_parent[2];
	pid_t pid;
	char c;

	if (!variant->stream)
		SKIP(return, "datagram sockets have no EOF");
	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(to_parent));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int fd, again;

		close(self->sv[1]);
		if (recv_info(to_child[0], &info))
			_exit(1);
		fd = ss_socket_from_info(&info, 0);
		again = dup(fd);
		if (fd < 0 || again < 0)
			_exit(2);
		close(fd);	/* a dup'd descriptor remains */
		if (write(to_parent[1], "r", 1) != 1)
			_exit(3);
		if (read(to_child[0], &c, 1) != 1)
			_exit(4);
		close(again);
		_exit(0);
	}
	close(to_parent[1]);	/* a child that fails ends our wait */
	ASSERT_EQ(0, ss_duplicate_socket(self->sv[0], pid, &info));
	ASSERT_EQ(0, send_info(to_child[1], &info));
	/* Once the child redeemed (and kept a dup), close the exporter's fd. */
	ASSERT_EQ(1, read(to_parent[0], &c, 1));
	close(self->sv[0]);
	self->sv[0] = -1;
	EXPECT_TRUE(peer_open_for(self->sv[1], 300));
	ASSERT_EQ(1, write(to_child[1], "x", 1));
	EXPECT_EQ(0, wait_exit(pid));
	EXPECT_TRUE(peer_eof_within(self->sv[1], WAIT_MS));
}

/* The exporter closes its descriptor before the target redeems. */
TEST_F(sock, source_closes_before_redeem)
{
	struct ss_protocol_info info;
	int to_child[2];
	pid_t pid;

	ASSERT_EQ(0, pipe(to_child));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int fd;

		close(self->sv[1]);
		if (recv_info(to_child[0], &info))
			_exit(1);
		fd = ss_socket_from_info(&info, 0);
		if (fd < 0)
			_exit(2);
		if (send(fd, "late", 4, 0) != 4)
			_exit(3);
		_exit(0);
	}
	ASSERT_EQ(0, ss_duplicate_socket(self->sv[0], pid, &info));
	close(self->sv[0]);
	self->sv[0] = -1;
	if (variant->stream)
		EXPECT_TRUE(peer_open_for(self->sv[1], 200));
	ASSERT_EQ(0, send_info(to_child[1], &info));
	EXPECT_EQ(0, wait_exit(pid));
	{
		char buf[8];

		EXPECT_EQ(4, recv(self->sv[1], buf, sizeof(buf), 0));
	}
}

/* The exporter process exits before the target redeems. */
TEST_F(sock, exporter_exits_before_redeem)
{
	struct ss_protocol_info info;
	int info_pipe[2];
	pid_t exporter;
	int fd;

	ASSERT_EQ(0, pipe(info_pipe));
	exporter = fork();
	ASSERT_GE(exporter, 0);
	if (exporter == 0) {
		struct ss_protocol_info out;

		close(self->sv[1]);
		if (ss_duplicate_socket(self->sv[0], getppid(), &out))
			_exit(1);
		_exit(send_info(info_pipe[1], &out) ? 2 : 0);
	}
	ASSERT_EQ(0, wait_exit(exporter));
	close(self->sv[0]);	/* our copy from before the fork */
	self->sv[0] = -1;
	ASSERT_EQ(0, recv_info(info_pipe[0], &info));
	fd = ss_socket_from_info(&info, 0);
	ASSERT_GE(fd, 0);
	EXPECT_TRUE(transfer_ok(fd, self->sv[1], "orphan"));
	EXPECT_TRUE(transfer_ok(self->sv[1], fd, "reply"));
	close(fd);
}

TEST_HARNESS_MAIN
