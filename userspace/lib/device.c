// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The cached /dev/sharedsock descriptor: the library's only global state.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <unistd.h>

#include <linux/sharedsock.h>

#include "internal.h"

static atomic_int ss_devfd = -1;

/*
 * Open the device once per process.  Threads racing here agree on one
 * descriptor; a child after fork inherits it, and O_CLOEXEC keeps it out of
 * programs the process executes.
 */
int ss__device_fd(void)
{
	int fd = atomic_load_explicit(&ss_devfd, memory_order_acquire);
	int expected = -1;

	if (fd >= 0)
		return fd;
	fd = open(SHAREDSOCK_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		/*
		 * No node: the module is not loaded (nor loadable on first
		 * open), which the kernel reports as ENODEV when the node
		 * exists but no driver does.  ENOENT would read "No such
		 * file or directory", as if the caller had named a file.
		 */
		if (errno == ENOENT)
			errno = ENODEV;
		return -1;
	}
	if (!atomic_compare_exchange_strong(&ss_devfd, &expected, fd)) {
		close(fd);
		fd = expected;
	}
	return fd;
}
