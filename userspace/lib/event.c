// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Event registration: WSAEventSelect, WSAEnumNetworkEvents, WSAAsyncSelect.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/sharedsock.h>

#include "sharedsock.h"
#include "internal.h"

#define SS_READ_BATCH	64

_Static_assert(SS_FD_ALL_EVENTS == SHAREDSOCK_FD_ALL_EVENTS, "event bits");
_Static_assert(SS_FD_MAX_EVENTS == SHAREDSOCK_FD_MAX_EVENTS, "event count");

static int ss_select(int sockfd, unsigned int sink, int sink_fd,
		     unsigned int msg, long network_events)
{
	struct sharedsock_select args = {
		.size = sizeof(args),
		.fd = sockfd,
		.sink = sink,
		.sink_fd = sink_fd,
		.events = (unsigned int)network_events,
		.msg = msg,
	};
	int dev;

	if (network_events < 0 || network_events > SHAREDSOCK_FD_ALL_EVENTS) {
		errno = EINVAL;
		return -1;
	}
	dev = ss__device_fd();
	if (dev < 0)
		return -1;
	return ioctl(dev, SHAREDSOCK_IOC_SELECT, &args) < 0 ? -1 : 0;
}

int ss_event_select(int sockfd, int eventfd, long network_events)
{
	return ss_select(sockfd, SHAREDSOCK_SINK_EVENTFD, eventfd, 0,
			 network_events);
}

int ss_async_select(int sockfd, int queuefd, unsigned int msg,
		    long network_events)
{
	return ss_select(sockfd, SHAREDSOCK_SINK_QUEUE, queuefd, msg,
			 network_events);
}

int ss_enum_network_events(int sockfd, int eventfd,
			   struct ss_network_events *ne)
{
	struct sharedsock_enum args = {
		.size = sizeof(args),
		.fd = sockfd,
		.eventfd = eventfd,
	};
	int dev, bit;

	if (!ne) {
		errno = EFAULT;
		return -1;
	}
	dev = ss__device_fd();
	if (dev < 0)
		return -1;
	if (ioctl(dev, SHAREDSOCK_IOC_ENUM, &args) < 0)
		return -1;
	ne->network_events = args.events;
	for (bit = 0; bit < SS_FD_MAX_EVENTS; bit++)
		if (args.events & (1U << bit))
			ne->error_code[bit] = args.errors[bit];
	return 0;
}

long ss_registered_events(int sockfd)
{
	struct sharedsock_enum args = {
		.size = sizeof(args),
		.flags = SHAREDSOCK_ENUM_PEEK,
		.fd = sockfd,
		.eventfd = -1,
	};
	int dev = ss__device_fd();

	if (dev < 0)
		return -1;
	if (ioctl(dev, SHAREDSOCK_IOC_ENUM, &args) < 0)
		return -1;
	return args.mask;
}

int ss_registration_current(int sockfd, int sink_fd)
{
	struct sharedsock_enum args = {
		.size = sizeof(args),
		.flags = SHAREDSOCK_ENUM_PEEK,
		.fd = sockfd,
		.eventfd = sink_fd,
	};
	int dev = ss__device_fd();

	if (dev < 0)
		return -1;
	if (ioctl(dev, SHAREDSOCK_IOC_ENUM, &args) < 0)
		return -1;
	return args.sink_current ? 1 : 0;
}

int ss_queue_create(int flags)
{
	struct sharedsock_queue_create args = { .size = sizeof(args) };
	int dev;

	if (flags & ~(O_CLOEXEC | O_NONBLOCK)) {
		errno = EINVAL;
		return -1;
	}
	if (flags & O_CLOEXEC)
		args.flags |= SHAREDSOCK_QUEUE_CLOEXEC;
	if (flags & O_NONBLOCK)
		args.flags |= SHAREDSOCK_QUEUE_NONBLOCK;
	dev = ss__device_fd();
	if (dev < 0)
		return -1;
	return ioctl(dev, SHAREDSOCK_IOC_QUEUE_CREATE, &args);
}

ssize_t ss_queue_read(int queuefd, struct ss_message *msgs, size_t max)
{
	struct sharedsock_message buf[SS_READ_BATCH];
	struct sharedsock_queue_read args = {
		.size = sizeof(args),
		.queue_fd = queuefd,
		.msgs = (uintptr_t)buf,
		.count = max < SS_READ_BATCH ? (unsigned int)max : SS_READ_BATCH,
	};
	ssize_t n, i;
	int dev;

	if (!msgs && max) {
		errno = EFAULT;
		return -1;
	}
	if (!max) {
		errno = EINVAL;
		return -1;
	}
	dev = ss__device_fd();
	if (dev < 0)
		return -1;
	/* Not read(2): the module refuses a descriptor that is not a queue. */
	n = ioctl(dev, SHAREDSOCK_IOC_QUEUE_READ, &args);
	if (n < 0)
		return -1;
	for (i = 0; i < n; i++) {
		msgs[i].socket = buf[i].socket;
		msgs[i].msg = buf[i].msg;
		msgs[i].event = buf[i].event;
		msgs[i].error = buf[i].error;
		msgs[i].socket_ino = buf[i].socket_ino;
	}
	return n;
}
