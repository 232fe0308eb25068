// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Duplicate, redeem and revoke.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/sharedsock.h>

#include "sharedsock.h"
#include "internal.h"

_Static_assert(sizeof(struct ss_protocol_info) ==
	       sizeof(struct sharedsock_info), "protocol info layout");
_Static_assert(offsetof(struct ss_protocol_info, token_id) ==
	       offsetof(struct sharedsock_info, id), "token id offset");
_Static_assert(offsetof(struct ss_protocol_info, token_secret) ==
	       offsetof(struct sharedsock_info, secret), "token secret offset");

static void ss_info_to_kernel(const struct ss_protocol_info *info,
			      struct sharedsock_info *kinfo)
{
	memcpy(kinfo, info, sizeof(*kinfo));
}

int ss_duplicate_socket_ttl(int sockfd, pid_t target_pid, unsigned int ttl_ms,
			    struct ss_protocol_info *info)
{
	struct sharedsock_duplicate args = {
		.size = sizeof(args),
		.fd = sockfd,
		.pid = target_pid,
		.ttl_ms = ttl_ms,
	};
	int dev = ss__device_fd();

	if (dev < 0)
		return -1;
	if (ioctl(dev, SHAREDSOCK_IOC_DUPLICATE, &args) < 0)
		return -1;
	if (!info) {
		/* Winsock checks the output last; leave no token behind. */
		struct sharedsock_revoke revoke = {
			.size = sizeof(revoke),
			.info = args.info,
		};

		ioctl(dev, SHAREDSOCK_IOC_REVOKE, &revoke);
		errno = EFAULT;
		return -1;
	}
	memcpy(info, &args.info, sizeof(*info));
	return 0;
}

int ss_duplicate_socket(int sockfd, pid_t target_pid,
			struct ss_protocol_info *info)
{
	return ss_duplicate_socket_ttl(sockfd, target_pid, 0, info);
}

int ss_duplicate_sockets(const int *sockfds, unsigned int count,
			 pid_t target_pid, unsigned int ttl_ms,
			 struct ss_protocol_info *info)
{
	struct sharedsock_duplicate_vec args = {
		.size = sizeof(args),
		.fds = (uintptr_t)sockfds,
		.count = count,
		.pid = target_pid,
		.ttl_ms = ttl_ms,
	};
	int dev;

	if (!info) {
		errno = EFAULT;
		return -1;
	}
	dev = ss__device_fd();
	if (dev < 0 || ioctl(dev, SHAREDSOCK_IOC_DUPLICATE_VEC, &args) < 0)
		return -1;
	memcpy(info, &args.info, sizeof(*info));
	return 0;
}

/* Check a redeem's arguments; returns the device fd or -1 with errno. */
static int ss_redeem_prepare(const struct ss_protocol_info *info, int flags,
			     __u32 *kflags, struct sharedsock_info *kinfo)
{
	if (!info) {
		errno = EFAULT;
		return -1;
	}
	if (flags & ~O_CLOEXEC) {
		errno = EINVAL;
		return -1;
	}
	*kflags = flags & O_CLOEXEC ? SHAREDSOCK_REDEEM_CLOEXEC : 0;
	ss_info_to_kernel(info, kinfo);
	return ss__device_fd();
}

int ss_socket_from_info(const struct ss_protocol_info *info, int flags)
{
	struct sharedsock_redeem args = { .size = sizeof(args) };
	int dev = ss_redeem_prepare(info, flags, &args.flags, &args.info);

	if (dev < 0)
		return -1;
	return ioctl(dev, SHAREDSOCK_IOC_REDEEM, &args);
}

int ss_sockets_from_info(const struct ss_protocol_info *info, int *fds,
			 unsigned int max, int flags)
{
	struct sharedsock_redeem_vec args = {
		.size = sizeof(args),
		.fds = (uintptr_t)fds,
		.count = max,
	};
	int dev;

	if (!fds && max) {
		errno = EFAULT;
		return -1;
	}
	dev = ss_redeem_prepare(info, flags, &args.flags, &args.info);
	if (dev < 0)
		return -1;
	return ioctl(dev, SHAREDSOCK_IOC_REDEEM_VEC, &args);
}

int ss_revoke(const struct ss_protocol_info *info)
{
	struct sharedsock_revoke args = { .size = sizeof(args) };
	int dev;

	if (!info) {
		errno = EFAULT;
		return -1;
	}
	dev = ss__device_fd();
	if (dev < 0)
		return -1;
	ss_info_to_kernel(info, &args.info);
	return ioctl(dev, SHAREDSOCK_IOC_REVOKE, &args) < 0 ? -1 : 0;
}
