/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * sharedsock: hand a live socket to another process, Winsock style.
 *
 * Open /dev/sharedsock and issue the ioctls below.  Every structure begins
 * with a @size field that the caller sets to sizeof(struct); the kernel
 * accepts any size from the first published version upwards, provided the
 * bytes it does not know about are zero (E2BIG otherwise).  Every field named @reserved and
 * every undefined @flags bit must be zero.
 */
#ifndef _UAPI_LINUX_SHAREDSOCK_H
#define _UAPI_LINUX_SHAREDSOCK_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define SHAREDSOCK_DEVICE_PATH	"/dev/sharedsock"

/* Size of the token secret in bytes (128 random bits). */
#define SHAREDSOCK_SECRET_SIZE	16

/**
 * struct sharedsock_info - what the target needs to redeem a duplicate
 * @family:   address family of the socket (AF_INET, AF_UNIX, ...)
 * @type:     socket type (SOCK_STREAM, SOCK_DGRAM, ...)
 * @protocol: protocol of the socket (IPPROTO_TCP, 0, ...)
 * @reserved: must be zero
 * @id:       public token identifier, never reused while the module is loaded
 * @secret:   random bytes proving possession of the token
 *
 * Plain bytes: the exporter sends it to the target over any IPC.
 */
struct sharedsock_info {
	__s32 family;
	__s32 type;
	__s32 protocol;
	__u32 reserved;
	__u64 id;
	__u8 secret[SHAREDSOCK_SECRET_SIZE];
};

/**
 * struct sharedsock_duplicate - SHAREDSOCK_IOC_DUPLICATE argument
 * @size:     sizeof(struct sharedsock_duplicate)
 * @flags:    must be zero
 * @fd:       in: the socket to duplicate
 * @pid:      in: the target process, in the caller's pid namespace
 * @ttl_ms:   in: token lifetime in milliseconds; 0 selects the module's
 *            default_ttl_ms, values above max_ttl_ms are rejected
 * @reserved: must be zero
 * @info:     out: the token for the target
 */
struct sharedsock_duplicate {
	__u32 size;
	__u32 flags;
	__s32 fd;
	__s32 pid;
	__u32 ttl_ms;
	__u32 reserved;
	struct sharedsock_info info;
};

/* Redeem flags. */
#define SHAREDSOCK_REDEEM_CLOEXEC	0x1U

/**
 * struct sharedsock_redeem - SHAREDSOCK_IOC_REDEEM argument
 * @size:     sizeof(struct sharedsock_redeem)
 * @flags:    SHAREDSOCK_REDEEM_* bits
 * @info:     in: the token, as returned to the exporter
 *
 * The ioctl returns the new descriptor, as pidfd_getfd(2) does.
 */
struct sharedsock_redeem {
	__u32 size;
	__u32 flags;
	struct sharedsock_info info;
};

/**
 * struct sharedsock_revoke - SHAREDSOCK_IOC_REVOKE argument
 * @size:     sizeof(struct sharedsock_revoke)
 * @flags:    must be zero
 * @info:     in: the token to withdraw
 */
struct sharedsock_revoke {
	__u32 size;
	__u32 flags;
	struct sharedsock_info info;
};

#define SHAREDSOCK_IOC_MAGIC	0xB8

#define SHAREDSOCK_IOC_DUPLICATE \
	_IOWR(SHAREDSOCK_IOC_MAGIC, 0x01, struct sharedsock_duplicate)
#define SHAREDSOCK_IOC_REDEEM \
	_IOW(SHAREDSOCK_IOC_MAGIC, 0x02, struct sharedsock_redeem)
#define SHAREDSOCK_IOC_REVOKE \
	_IOW(SHAREDSOCK_IOC_MAGIC, 0x03, struct sharedsock_revoke)

#endif /* _UAPI_LINUX_SHAREDSOCK_H */
