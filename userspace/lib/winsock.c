// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Winsock names over libsharedsock (include/sharedsock/winsock.h).
 *
 * Every function that fails records a WSAE* number for WSAGetLastError();
 * errno is left as the failing system call set it (or set to the closest
 * errno for failures detected here), so a caller may use either.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sharedsock.h"
#include "sharedsock/winsock.h"

/* Windows' sizes: the structure is sent as bytes between processes. */
_Static_assert(sizeof(GUID) == 16, "GUID layout");
_Static_assert(sizeof(WSAPROTOCOLCHAIN) == 32, "WSAPROTOCOLCHAIN layout");
_Static_assert(sizeof(WSAPROTOCOL_INFOA) == 372, "WSAPROTOCOL_INFOA layout");
_Static_assert(offsetof(WSAPROTOCOL_INFOA, iAddressFamily) == 76,
	       "WSAPROTOCOL_INFOA.iAddressFamily offset");
_Static_assert(offsetof(WSAPROTOCOL_INFOA, szProtocol) == 116,
	       "WSAPROTOCOL_INFOA.szProtocol offset");
_Static_assert(sizeof(((WSAPROTOCOL_INFOA *)0)->ProviderId) ==
	       SS_TOKEN_SECRET_SIZE, "the secret fits ProviderId");
_Static_assert(FD_MAX_EVENTS == SS_FD_MAX_EVENTS, "event slots");

/* --- Last error --- */

/*
 * The thread's last Winsock error, and errno as it was when that error was
 * recorded.  If errno has moved since, a plain libc call (recv, send, ...)
 * failed after us and WSAGetLastError() reports that failure instead, as
 * Windows does for its own recv/send.
 */
static _Thread_local int ss_wsa_last;
static _Thread_local int ss_wsa_last_errno;

/*
 * errno -> WSAE*: the one table.  EBADF maps to WSAENOTSOCK because a
 * descriptor that is not open is "not a socket" to Winsock; ESRCH (no
 * such target process) to WSAEINVAL as WSADuplicateSocket reports a bad
 * process id; EPIPE (send after shutdown) to WSAESHUTDOWN; EINPROGRESS
 * (a non-blocking connect under way) to WSAEWOULDBLOCK, which is what
 * Windows code tests for (WSAEINPROGRESS means a blocking call is
 * running).  Entries are searched in order, so the first entry for a WSAE*
 * number is the errno WSASetLastError() sets for it.
 */
static const struct {
	int err;
	int wsa;
} ss_wsa_errors[] = {
	{ EINTR,		WSAEINTR },
	{ ENOTSOCK,		WSAENOTSOCK },
	{ EBADF,		WSAENOTSOCK },
	{ EACCES,		WSAEACCES },
	{ EPERM,		WSAEACCES },
	{ EFAULT,		WSAEFAULT },
	{ EINVAL,		WSAEINVAL },
	{ ESRCH,		WSAEINVAL },
	{ E2BIG,		WSAEINVAL },
	{ ENOTTY,		WSAEINVAL },
	{ EMFILE,		WSAEMFILE },
	{ ENFILE,		WSAEMFILE },
	{ EAGAIN,		WSAEWOULDBLOCK },
	{ EINPROGRESS,		WSAEWOULDBLOCK },
	{ EALREADY,		WSAEALREADY },
	{ EDESTADDRREQ,		WSAEDESTADDRREQ },
	{ EMSGSIZE,		WSAEMSGSIZE },
	{ EPROTOTYPE,		WSAEPROTOTYPE },
	{ ENOPROTOOPT,		WSAENOPROTOOPT },
	{ EPROTONOSUPPORT,	WSAEPROTONOSUPPORT },
	{ ESOCKTNOSUPPORT,	WSAESOCKTNOSUPPORT },
	{ EOPNOTSUPP,		WSAEOPNOTSUPP },
	{ ENOSYS,		WSAEOPNOTSUPP },
	{ EPFNOSUPPORT,		WSAEPFNOSUPPORT },
	{ EAFNOSUPPORT,		WSAEAFNOSUPPORT },
	{ EADDRINUSE,		WSAEADDRINUSE },
	{ EADDRNOTAVAIL,	WSAEADDRNOTAVAIL },
	{ ENETDOWN,		WSAENETDOWN },
	{ ENOENT,		WSAENETDOWN },	/* no /dev/sharedsock */
	{ ENODEV,		WSAENETDOWN },	/* the module not loaded */
	{ ENXIO,		WSAENETDOWN },
	{ ENETUNREACH,		WSAENETUNREACH },
	{ ENETRESET,		WSAENETRESET },
	{ ECONNABORTED,		WSAECONNABORTED },
	{ ECONNRESET,		WSAECONNRESET },
	{ ENOBUFS,		WSAENOBUFS },
	{ ENOMEM,		WSAENOBUFS },
	{ ETOOMANYREFS,		WSAENOBUFS },
	{ EISCONN,		WSAEISCONN },
	{ ENOTCONN,		WSAENOTCONN },
	{ ESHUTDOWN,		WSAESHUTDOWN },
	{ EPIPE,		WSAESHUTDOWN },
	{ ETIMEDOUT,		WSAETIMEDOUT },
	{ ECONNREFUSED,		WSAECONNREFUSED },
	{ ELOOP,		WSAELOOP },
	{ ENAMETOOLONG,		WSAENAMETOOLONG },
	{ EHOSTDOWN,		WSAEHOSTDOWN },
	{ EHOSTUNREACH,		WSAEHOSTUNREACH },
	{ ENOTEMPTY,		WSAENOTEMPTY },
	{ EUSERS,		WSAEUSERS },
	{ EDQUOT,		WSAEDQUOT },
	{ ESTALE,		WSAESTALE },
	{ EREMOTE,		WSAEREMOTE },
	{ ECANCELED,		WSAECANCELLED },
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

int ss_wsa_error(int errnum)
{
	size_t i;

	if (!errnum)
		return 0;
	for (i = 0; i < ARRAY_SIZE(ss_wsa_errors); i++)
		if (ss_wsa_errors[i].err == errnum)
			return ss_wsa_errors[i].wsa;
	/* A system call failed in a way Winsock has no name for. */
	return WSASYSCALLFAILURE;
}

/* The errno closest to a WSAE* number, or 0 if there is none. */
static int ss_errno_of(int wsa)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ss_wsa_errors); i++)
		if (ss_wsa_errors[i].wsa == wsa)
			return ss_wsa_errors[i].err;
	return 0;
}

/* Record @wsa as the thread's last error, errno as it stands. */
static void ss_wsa_record(int wsa)
{
	ss_wsa_last = wsa;
	ss_wsa_last_errno = errno;
}

/* Fail with the translation of errno. */
static int ss_wsa_fail_errno(void)
{
	ss_wsa_record(ss_wsa_error(errno));
	return SOCKET_ERROR;
}

/* Fail with @wsa, setting errno to match it. */
static int ss_wsa_fail(int wsa)
{
	WSASetLastError(wsa);
	return SOCKET_ERROR;
}

int WSAGetLastError(void)
{
	int err = errno;

	if (err == ss_wsa_last_errno)
		return ss_wsa_last;
	return ss_wsa_error(err);
}

void WSASetLastError(int iError)
{
	int err = ss_errno_of(iError);

	if (err || !iError)
		errno = err;
	ss_wsa_record(iError);
}

/* --- Startup --- */

static void ss_wsa_fill(WSADATA *data, WORD version)
{
	memset(data, 0, sizeof(*data));
	data->wVersion = version;
	data->wHighVersion = MAKEWORD(2, 2);
	/* Winsock 1.x callers read the limits; 2.x ones are told none. */
	if ((version & 0xff) == 1) {
		data->iMaxSockets = 32767;
		data->iMaxUdpDg = 65467;
	}
	strcpy(data->szDescription, "sharedsock Winsock compatibility");
	strcpy(data->szSystemStatus, "Running");
}

/*
 * Windows' answers: no 0.x (refused, though the data says what would be
 * granted), 1.0 as asked and any later 1.x as 1.1, 2.0 to 2.2 as asked,
 * anything newer 2.2.
 */
int WSAStartup(WORD wVersionRequested, WSADATA *lpWSAData)
{
	BYTE major = wVersionRequested & 0xff, minor = wVersionRequested >> 8;

	if (major == 0) {
		if (lpWSAData)
			ss_wsa_fill(lpWSAData, MAKEWORD(2, 2));
		WSASetLastError(WSAVERNOTSUPPORTED);
		return WSAVERNOTSUPPORTED;
	}
	if (!lpWSAData)
		return WSAEFAULT;
	if (major == 1)
		ss_wsa_fill(lpWSAData, MAKEWORD(1, minor ? 1 : 0));
	else if (major > 2 || minor > 2)
		ss_wsa_fill(lpWSAData, MAKEWORD(2, 2));
	else
		ss_wsa_fill(lpWSAData, wVersionRequested);
	return 0;
}

int WSACleanup(void)
{
	return 0;
}

/* --- Duplicate and redeem --- */

/*
 * How the token travels in a WSAPROTOCOL_INFOA.  Windows keeps its
 * provider's private data in the structure; so does sharedsock:
 *
 *	dwServiceFlags4		SS_WSA_MAGIC ("SSK1"), the structure's mark
 *	iVersion		SS_WSA_VERSION (2, as Windows' providers)
 *	iAddressFamily, iSocketType, iProtocol	the socket's, for the target
 *	dwCatalogEntryId	token id, low 32 bits
 *	dwProviderReserved	token id, high 32 bits
 *	ProviderId		the 16-byte secret, byte for byte
 *
 * Every other field is zero.  A structure without the mark is rejected with
 * WSAEINVAL before the kernel is asked; the kernel rejects the rest.
 */
#define SS_WSA_MAGIC	0x53534B31U
#define SS_WSA_VERSION	2

/*
 * Copy @len bytes between a caller's structure and ours through a pipe:
 * the kernel checks the caller's pointer on the way, so that a bad one is
 * WSAEFAULT, as Windows says, rather than a crash.  Without a pipe (no
 * descriptor left), a plain copy.
 */
static int ss_wsa_copy(void *to, const void *from, size_t len)
{
	int saved = errno, p[2], ok;

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK)) {
		errno = saved;
		memcpy(to, from, len);
		return 0;
	}
	/* At most PIPE_BUF bytes: the write is whole or fails. */
	ok = write(p[1], from, len) == (ssize_t)len &&
	     read(p[0], to, len) == (ssize_t)len;
	close(p[0]);
	close(p[1]);
	errno = ok ? saved : EFAULT;
	return ok ? 0 : -1;
}

/*
 * The two variants share every field but the last, at the same offsets:
 * the work is done on the wide one, and an ANSI caller's structure is its
 * first sizeof(WSAPROTOCOL_INFOA) bytes (the name, empty, is all zero).
 */
_Static_assert(offsetof(WSAPROTOCOL_INFOA, szProtocol) ==
	       offsetof(WSAPROTOCOL_INFOW, szProtocol),
	       "WSAPROTOCOL_INFOA and W share their fields");

static void ss_info_to_wsa(const struct ss_protocol_info *info,
			   WSAPROTOCOL_INFOW *wsa)
{
	memset(wsa, 0, sizeof(*wsa));
	wsa->dwServiceFlags4 = SS_WSA_MAGIC;
	wsa->iVersion = SS_WSA_VERSION;
	wsa->iAddressFamily = info->family;
	wsa->iSocketType = info->type;
	wsa->iProtocol = info->protocol;
	wsa->dwCatalogEntryId = (DWORD)info->token_id;
	wsa->dwProviderReserved = (DWORD)(info->token_id >> 32);
	memcpy(&wsa->ProviderId, info->token_secret, SS_TOKEN_SECRET_SIZE);
}

static int ss_info_from_wsa(const WSAPROTOCOL_INFOW *wsa,
			    struct ss_protocol_info *info)
{
	if (wsa->dwServiceFlags4 != SS_WSA_MAGIC ||
	    wsa->iVersion != SS_WSA_VERSION)
		return -1;
	memset(info, 0, sizeof(*info));
	info->family = wsa->iAddressFamily;
	info->type = wsa->iSocketType;
	info->protocol = wsa->iProtocol;
	info->token_id = (unsigned long long)wsa->dwProviderReserved << 32 |
			 wsa->dwCatalogEntryId;
	memcpy(info->token_secret, &wsa->ProviderId, SS_TOKEN_SECRET_SIZE);
	return 0;
}

/* WSADuplicateSocketA/W: into @size bytes at @lpProtocolInfo. */
static int ss_wsa_duplicate(SOCKET s, DWORD dwProcessId, void *lpProtocolInfo,
			    size_t size)
{
	/* A pid beyond pid_t's range is no process. */
	pid_t pid = dwProcessId > INT_MAX ? -1 : (pid_t)dwProcessId;
	struct ss_protocol_info info;
	WSAPROTOCOL_INFOW wsa;

	/*
	 * ss_duplicate_socket() checks the socket, then the process, then
	 * the output pointer (withdrawing the token it could not return):
	 * Windows' order.
	 */
	if (ss_duplicate_socket(s, pid, lpProtocolInfo ? &info : NULL)) {
		/*
		 * A process we may not hand sockets to is a bad process id to
		 * Winsock (Windows fails OpenProcess and says WSAEINVAL).
		 */
		if (errno == EPERM)
			return ss_wsa_fail(WSAEINVAL);
		return ss_wsa_fail_errno();
	}
	ss_info_to_wsa(&info, &wsa);
	if (ss_wsa_copy(lpProtocolInfo, &wsa, size)) {
		/* Nobody could redeem it: withdraw the token. */
		ss_revoke(&info);
		return ss_wsa_fail(WSAEFAULT);
	}
	return 0;
}

/*
 * An af/type/protocol argument agrees with the structure: 0 and
 * FROM_PROTOCOL_INFO mean "the structure's", an explicit value must be the
 * structure's since the socket exists already.
 */
static int ss_wsa_agrees(int given, int actual)
{
	return given == 0 || given == FROM_PROTOCOL_INFO || given == actual;
}

/* WSASocketA/W, with a structure of @size bytes at @lpProtocolInfo. */
static SOCKET ss_wsa_socket(int af, int type, int protocol,
			    const void *lpProtocolInfo, size_t size, GROUP g,
			    DWORD dwFlags)
{
	int flags = type & (SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct ss_protocol_info info;
	WSAPROTOCOL_INFOW wsa = { 0 };
	int fd;

	if (g != 0) {
		/* Socket groups are not supported. */
		ss_wsa_fail(WSAEINVAL);
		return INVALID_SOCKET;
	}
	if (type != FROM_PROTOCOL_INFO)
		type &= ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
	else
		flags = 0;

	if (!lpProtocolInfo) {
		if (dwFlags & WSA_FLAG_NO_HANDLE_INHERIT)
			flags |= SOCK_CLOEXEC;
		fd = socket(af, type | flags, protocol);
		if (fd < 0) {
			ss_wsa_fail_errno();
			return INVALID_SOCKET;
		}
		return fd;
	}

	/*
	 * Redeem.  An explicit value that contradicts the structure cannot
	 * be honoured (the socket exists): WSAEINVAL, and the token stays
	 * valid for a corrected call.
	 */
	if (ss_wsa_copy(&wsa, lpProtocolInfo, size)) {
		ss_wsa_fail(WSAEFAULT);
		return INVALID_SOCKET;
	}
	if (ss_info_from_wsa(&wsa, &info) ||
	    !ss_wsa_agrees(af, info.family) ||
	    !ss_wsa_agrees(type, info.type) ||
	    !ss_wsa_agrees(protocol, info.protocol)) {
		ss_wsa_fail(WSAEINVAL);
		return INVALID_SOCKET;
	}
	fd = ss_socket_from_info(&info, O_CLOEXEC);
	if (fd < 0) {
		ss_wsa_fail_errno();
		return INVALID_SOCKET;
	}
	/* O_NONBLOCK belongs to the shared socket: set it only if asked. */
	if ((flags & SOCK_NONBLOCK) &&
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)) {
		ss_wsa_fail_errno();
		close(fd);
		return INVALID_SOCKET;
	}
	return fd;
}

int WSADuplicateSocketA(SOCKET s, DWORD dwProcessId,
			WSAPROTOCOL_INFOA *lpProtocolInfo)
{
	return ss_wsa_duplicate(s, dwProcessId, lpProtocolInfo,
				sizeof(*lpProtocolInfo));
}

int WSADuplicateSocketW(SOCKET s, DWORD dwProcessId,
			WSAPROTOCOL_INFOW *lpProtocolInfo)
{
	return ss_wsa_duplicate(s, dwProcessId, lpProtocolInfo,
				sizeof(*lpProtocolInfo));
}

SOCKET WSASocketA(int af, int type, int protocol,
		  WSAPROTOCOL_INFOA *lpProtocolInfo, GROUP g, DWORD dwFlags)
{
	return ss_wsa_socket(af, type, protocol, lpProtocolInfo,
			     sizeof(*lpProtocolInfo), g, dwFlags);
}

SOCKET WSASocketW(int af, int type, int protocol,
		  WSAPROTOCOL_INFOW *lpProtocolInfo, GROUP g, DWORD dwFlags)
{
	return ss_wsa_socket(af, type, protocol, lpProtocolInfo,
			     sizeof(*lpProtocolInfo), g, dwFlags);
}

/* --- Event registration --- */

int WSAEventSelect(SOCKET s, WSAEVENT hEventObject, long lNetworkEvents)
{
	if (ss_event_select(s, hEventObject, lNetworkEvents))
		return ss_wsa_fail_errno();
	return 0;
}

int WSAAsyncSelect(SOCKET s, HWND hWnd, unsigned int wMsg, long lEvent)
{
	if (ss_async_select(s, hWnd, wMsg, lEvent))
		return ss_wsa_fail_errno();
	return 0;
}

/*
 * The WSAE* number of an event's errno.  FD_CLOSE after a reset (or a
 * keep-alive timeout) reports WSAECONNABORTED, as Windows does (observed;
 * its documentation names WSAECONNRESET for the reset case but defines
 * WSAECONNABORTED for "terminated due to a time-out or other failure").
 */
static int ss_wsa_event_error(int bit, int err)
{
	if (bit == FD_CLOSE_BIT &&
	    (err == ECONNRESET || err == EPIPE || err == ETIMEDOUT))
		return WSAECONNABORTED;
	return ss_wsa_error(err);
}

int WSAEnumNetworkEvents(SOCKET s, WSAEVENT hEventObject,
			 WSANETWORKEVENTS *lpNetworkEvents)
{
	struct ss_network_events ne;
	int bit;

	/*
	 * WSACreateEvent never returns 0, so 0 stands for Windows' NULL
	 * ("no event object to reset") as well as WSA_INVALID_EVENT.
	 */
	if (hEventObject == 0)
		hEventObject = WSA_INVALID_EVENT;
	if (!lpNetworkEvents) {
		/* Not a socket comes first; nothing is fetched. */
		if (ss_registered_events(s) < 0)
			return ss_wsa_fail_errno();
		return ss_wsa_fail(WSAEFAULT);
	}
	if (ss_enum_network_events(s, hEventObject, &ne))
		return ss_wsa_fail_errno();
	lpNetworkEvents->lNetworkEvents = ne.network_events;
	for (bit = 0; bit < FD_MAX_EVENTS; bit++)
		if (ne.network_events & (1L << bit))
			lpNetworkEvents->iErrorCode[bit] =
				ss_wsa_event_error(bit, ne.error_code[bit]);
	return 0;
}

LPARAM ss_wsa_select_lparam(const struct ss_message *msg)
{
	int bit = 0;

	while (bit < FD_MAX_EVENTS && !(msg->event & (1L << bit)))
		bit++;
	return WSAMAKESELECTREPLY(msg->event,
				  ss_wsa_event_error(bit, msg->error));
}

/* --- Event objects --- */

/*
 * @fd is an eventfd: an open anonymous-inode descriptor that /proc names
 * "anon_inode:[eventfd]" (without /proc, any anonymous inode passes).
 * WSASetEvent on a socket must not send bytes, WSAResetEvent on a message
 * queue must not eat messages.
 */
static int ss_is_event(WSAEVENT fd)
{
	static const char name[] = "anon_inode:[eventfd]";
	char path[64], link[sizeof(name) + 1];
	struct stat st;
	ssize_t len;

	if (fd < 0 || fstat(fd, &st)) {
		errno = EBADF;
		return 0;
	}
	if ((st.st_mode & S_IFMT) != 0) {
		errno = EINVAL;
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	len = readlink(path, link, sizeof(link));
	if (len >= 0 && (len != (ssize_t)strlen(name) || memcmp(link, name, len))) {
		errno = EINVAL;
		return 0;
	}
	return 1;
}

WSAEVENT WSACreateEvent(void)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	if (fd == 0) {
		/* Keep 0 free to stand for NULL (see WSAEnumNetworkEvents). */
		int moved = fcntl(fd, F_DUPFD_CLOEXEC, 1);

		close(fd);
		fd = moved;
	}
	if (fd < 0) {
		ss_wsa_fail(errno == ENOMEM ? WSA_NOT_ENOUGH_MEMORY :
			    ss_wsa_error(errno));
		return WSA_INVALID_EVENT;
	}
	return fd;
}

BOOL WSACloseEvent(WSAEVENT hEvent)
{
	if (!ss_is_event(hEvent)) {
		ss_wsa_fail(WSA_INVALID_HANDLE);
		return FALSE;
	}
	close(hEvent);
	return TRUE;
}

BOOL WSASetEvent(WSAEVENT hEvent)
{
	uint64_t one = 1;
	int saved = errno;

	if (!ss_is_event(hEvent)) {
		ss_wsa_fail(WSA_INVALID_HANDLE);
		return FALSE;
	}
	/* EAGAIN: the counter is at its maximum, the event is set. */
	if (write(hEvent, &one, sizeof(one)) != sizeof(one) && errno != EAGAIN) {
		ss_wsa_fail(WSA_INVALID_HANDLE);
		return FALSE;
	}
	errno = saved;
	return TRUE;
}

BOOL WSAResetEvent(WSAEVENT hEvent)
{
	struct pollfd p = { .fd = hEvent, .events = POLLIN };
	uint64_t count;
	int saved = errno;

	if (!ss_is_event(hEvent)) {
		ss_wsa_fail(WSA_INVALID_HANDLE);
		return FALSE;
	}
	/*
	 * Drain without blocking, even if the caller made the eventfd
	 * blocking: read only while poll says the counter is non-zero.
	 */
	while (poll(&p, 1, 0) == 1 && (p.revents & POLLIN)) {
		if (read(hEvent, &count, sizeof(count)) < 0 && errno != EAGAIN &&
		    errno != EINTR) {
			ss_wsa_fail(WSA_INVALID_HANDLE);
			return FALSE;
		}
	}
	errno = saved;
	return TRUE;
}

static long long ss_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/*
 * poll() @n descriptors for up to @deadline (ms on CLOCK_MONOTONIC, -1 for
 * none), resuming after signals: the number ready, 0 on timeout, -1 on
 * error.  Windows' waits are not interrupted by signals either.
 */
static int ss_poll_until(struct pollfd *pfd, nfds_t n, long long deadline)
{
	for (;;) {
		long long left = deadline < 0 ? -1 : deadline - ss_now_ms();
		int ret;

		if (deadline >= 0 && left < 0)
			left = 0;
		ret = poll(pfd, n, left > INT_MAX ? INT_MAX : (int)left);
		if (ret > 0 || (ret < 0 && errno != EINTR))
			return ret;
		if (ret == 0 && (deadline < 0 || left <= INT_MAX))
			return 0;
	}
}

DWORD WSAWaitForMultipleEvents(DWORD cEvents, const WSAEVENT *lphEvents,
			       BOOL fWaitAll, DWORD dwTimeout,
			       BOOL fAlertable)
{
	struct pollfd pfd[WSA_MAXIMUM_WAIT_EVENTS];
	long long deadline;
	int saved = errno;
	DWORD i;
	nfds_t n;
	int ret;

	/* Alertable waits need APCs, which do not exist here. */
	(void)fAlertable;

	/* What Windows documents for these (not WSAEINVAL). */
	if (!lphEvents || cEvents == 0 || cEvents > WSA_MAXIMUM_WAIT_EVENTS) {
		ss_wsa_fail(WSA_INVALID_PARAMETER);
		return WSA_WAIT_FAILED;
	}
	deadline = dwTimeout == WSA_INFINITE ? -1 : ss_now_ms() + dwTimeout;

	/*
	 * Poll only: the events are manual-reset, a wait does not consume
	 * them.  Wait-any: the lowest signalled index.  Wait-all: check all
	 * of them at one instant; if some are not set, wait for any of those
	 * and check again (one set earlier may have been reset meanwhile).
	 */
	for (i = 0; i < cEvents; i++)
		pfd[i] = (struct pollfd){ .fd = lphEvents[i], .events = POLLIN };
	n = cEvents;
	for (;;) {
		ret = ss_poll_until(pfd, n, deadline);
		if (ret < 0) {
			ss_wsa_fail(ss_wsa_error(errno));
			return WSA_WAIT_FAILED;
		}
		for (i = 0; i < n; i++) {
			if (pfd[i].revents & POLLNVAL) {
				ss_wsa_fail(WSA_INVALID_HANDLE);
				return WSA_WAIT_FAILED;
			}
		}
		if (ret == 0)
			break;
		if (!fWaitAll) {
			for (i = 0; i < n; i++)
				if (pfd[i].revents & POLLIN)
					break;
			errno = saved;
			return WSA_WAIT_EVENT_0 + i;
		}
		/* Wait-all: take a snapshot of all of them now. */
		for (i = 0; i < cEvents; i++)
			pfd[i] = (struct pollfd){ .fd = lphEvents[i],
						  .events = POLLIN };
		ret = poll(pfd, cEvents, 0);
		if (ret < 0 && errno != EINTR) {
			ss_wsa_fail(ss_wsa_error(errno));
			return WSA_WAIT_FAILED;
		}
		if (ret == (int)cEvents) {
			for (i = 0; i < cEvents; i++)
				if (!(pfd[i].revents & POLLIN))
					break;
			if (i == cEvents) {
				errno = saved;
				return WSA_WAIT_EVENT_0;
			}
		}
		/* Keep the unset ones and wait for any of them. */
		for (i = 0, n = 0; i < cEvents; i++) {
			if (pfd[i].revents & POLLNVAL) {
				ss_wsa_fail(WSA_INVALID_HANDLE);
				return WSA_WAIT_FAILED;
			}
			if (!(pfd[i].revents & POLLIN))
				pfd[n++] = (struct pollfd){ .fd = lphEvents[i],
							    .events = POLLIN };
		}
		if (n == 0)
			n = cEvents;	/* all set but a poll was interrupted */
	}
	errno = saved;
	return WSA_WAIT_TIMEOUT;
}

/* --- Socket calls --- */

/* @s is an open socket; WSAENOTSOCK recorded if not. */
static int ss_wsa_is_socket(SOCKET s)
{
	struct stat st;

	if (s < 0 || fstat(s, &st)) {
		errno = EBADF;
		ss_wsa_record(WSAENOTSOCK);
		return 0;
	}
	if (!S_ISSOCK(st.st_mode)) {
		errno = ENOTSOCK;
		ss_wsa_record(WSAENOTSOCK);
		return 0;
	}
	return 1;
}

int closesocket(SOCKET s)
{
	if (!ss_wsa_is_socket(s))
		return SOCKET_ERROR;
	/* Linux frees the descriptor even when close() reports EINTR. */
	if (close(s) && errno != EINTR)
		return ss_wsa_fail_errno();
	return 0;
}

/* Clearing non-blocking mode: refused while the socket is registered. */
static int ss_wsa_set_blocking(SOCKET s)
{
	long mask = ss_registered_events(s);
	int fl;

	/* No device: nothing can be registered. */
	if (mask < 0 && errno != ENOENT && errno != ENODEV && errno != ENXIO)
		return ss_wsa_fail_errno();
	if (mask > 0)
		return ss_wsa_fail(WSAEINVAL);
	fl = fcntl(s, F_GETFL);
	if (fl < 0 || fcntl(s, F_SETFL, fl & ~O_NONBLOCK))
		return ss_wsa_fail_errno();
	return 0;
}

int ioctlsocket(SOCKET s, long cmd, u_long *argp)
{
	u_long arg;
	int fl, n;

	if (!ss_wsa_is_socket(s))
		return SOCKET_ERROR;
	/* A bad argp is WSAEFAULT, as on Windows, not a crash. */
	if (!argp)
		return ss_wsa_fail(WSAEFAULT);
	switch (cmd) {
	case FIONBIO:
		if (ss_wsa_copy(&arg, argp, sizeof(arg)))
			return ss_wsa_fail(WSAEFAULT);
		if (!arg)
			return ss_wsa_set_blocking(s);
		fl = fcntl(s, F_GETFL);
		if (fl < 0 || fcntl(s, F_SETFL, fl | O_NONBLOCK))
			return ss_wsa_fail_errno();
		return 0;
	case FIONREAD:
		if (ioctl(s, FIONREAD, &n))
			return ss_wsa_fail_errno();
		arg = (u_long)n;
		if (ss_wsa_copy(argp, &arg, sizeof(arg)))
			return ss_wsa_fail(WSAEFAULT);
		return 0;
	default:
		return ss_wsa_fail(WSAEINVAL);
	}
}
