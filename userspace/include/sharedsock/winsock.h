/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Winsock names for code ported from Windows, on top of libsharedsock.
 *
 *	#include <sharedsock/winsock.h>		link with -lsharedsock
 *
 * Types, constants and error numbers carry Windows' values; the functions
 * follow Windows' documented and observed behaviour, Windows' own
 * conformance tests deciding where its documentation differs.  Where
 * Linux differs, sharedsock_winsock(3) and the project's
 * Documentation/winsock.rst say how and why.  In
 * short: a SOCKET is a file descriptor, a WSAEVENT an eventfd, an HWND a
 * message queue descriptor from ss_queue_create(), and the plain BSD calls
 * (bind, listen, accept, connect, recv, send, shutdown, ...) are libc's.
 */
#ifndef SHAREDSOCK_WINSOCK_H
#define SHAREDSOCK_WINSOCK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <sharedsock.h>

#ifdef __cplusplus
extern "C" {
#endif

/* --- Basic Windows types --- */

typedef uint8_t BYTE;
typedef uint16_t WORD;
typedef uint32_t DWORD;
typedef int BOOL;
typedef char CHAR;
typedef unsigned char u_char;
typedef unsigned short u_short;
typedef unsigned int u_int;
typedef unsigned long u_long;
typedef uintptr_t WPARAM;
typedef intptr_t LPARAM;

#ifndef TRUE
#define TRUE	1
#endif
#ifndef FALSE
#define FALSE	0
#endif

#define MAKEWORD(lo, hi) \
	((WORD)(((BYTE)((lo) & 0xff)) | ((WORD)((BYTE)((hi) & 0xff))) << 8))

#ifndef GUID_DEFINED
#define GUID_DEFINED
/* Windows' GUID: 16 bytes (its "unsigned long" is 32 bits). */
typedef struct _GUID {
	uint32_t Data1;
	uint16_t Data2;
	uint16_t Data3;
	unsigned char Data4[8];
} GUID;
#endif

/* --- Sockets --- */

/* A socket is its file descriptor. */
typedef int SOCKET;
#define INVALID_SOCKET		((SOCKET)(-1))
#define SOCKET_ERROR		(-1)

/* Socket groups are not supported: pass 0. */
typedef unsigned int GROUP;

typedef struct sockaddr SOCKADDR, *PSOCKADDR, *LPSOCKADDR;
typedef struct sockaddr_in SOCKADDR_IN, *PSOCKADDR_IN, *LPSOCKADDR_IN;
typedef struct sockaddr_in6 SOCKADDR_IN6, *PSOCKADDR_IN6, *LPSOCKADDR_IN6;
typedef struct sockaddr_storage SOCKADDR_STORAGE, *PSOCKADDR_STORAGE;

/* shutdown(): Windows' names, the same values as SHUT_RD/WR/RDWR. */
#define SD_RECEIVE		0
#define SD_SEND			1
#define SD_BOTH			2

/* WSASocketA() flags; accepted, see Documentation/winsock.rst. */
#define WSA_FLAG_OVERLAPPED		0x01
#define WSA_FLAG_NO_HANDLE_INHERIT	0x80

/* ioctlsocket() commands: Linux's values (FIONBIO, FIONREAD). */

/* --- WSAStartup --- */

#define WSADESCRIPTION_LEN	256
#define WSASYS_STATUS_LEN	128

typedef struct WSAData {
	WORD wVersion;
	WORD wHighVersion;
	char szDescription[WSADESCRIPTION_LEN + 1];
	char szSystemStatus[WSASYS_STATUS_LEN + 1];
	unsigned short iMaxSockets;
	unsigned short iMaxUdpDg;
	char *lpVendorInfo;
} WSADATA, *LPWSADATA;

/* --- WSAPROTOCOL_INFOA: what WSADuplicateSocketA hands over --- */

#define WSAPROTOCOL_LEN		255
#define MAX_PROTOCOL_CHAIN	7
#define FROM_PROTOCOL_INFO	(-1)

typedef struct _WSAPROTOCOLCHAIN {
	int ChainLen;
	DWORD ChainEntries[MAX_PROTOCOL_CHAIN];
} WSAPROTOCOLCHAIN, *LPWSAPROTOCOLCHAIN;

/*
 * Windows' layout (372 bytes), plain bytes: send it over any IPC.  Only
 * iAddressFamily, iSocketType and iProtocol are meaningful to the
 * application; the rest belongs to the provider (winsock.c says how the
 * sharedsock token is stored in it).
 */
/* The fields both variants share, at the same offsets. */
#define SS_WSAPROTOCOL_INFO_FIELDS \
	DWORD dwServiceFlags1; \
	DWORD dwServiceFlags2; \
	DWORD dwServiceFlags3; \
	DWORD dwServiceFlags4; \
	DWORD dwProviderFlags; \
	GUID ProviderId; \
	DWORD dwCatalogEntryId; \
	WSAPROTOCOLCHAIN ProtocolChain; \
	int iVersion; \
	int iAddressFamily; \
	int iMaxSockAddr; \
	int iMinSockAddr; \
	int iSocketType; \
	int iProtocol; \
	int iProtocolMaxOffset; \
	int iNetworkByteOrder; \
	int iSecurityScheme; \
	DWORD dwMessageSize; \
	DWORD dwProviderReserved;

typedef struct _WSAPROTOCOL_INFOA {
	SS_WSAPROTOCOL_INFO_FIELDS
	CHAR szProtocol[WSAPROTOCOL_LEN + 1];
} WSAPROTOCOL_INFOA, *LPWSAPROTOCOL_INFOA;

/* Windows' wide character: UTF-16, whatever wchar_t is here. */
typedef uint16_t WCHAR;

/*
 * The wide variant (628 bytes): the same fields at the same offsets, but
 * for the protocol's name, which sharedsock leaves empty in both.
 */
typedef struct _WSAPROTOCOL_INFOW {
	SS_WSAPROTOCOL_INFO_FIELDS
	WCHAR szProtocol[WSAPROTOCOL_LEN + 1];
} WSAPROTOCOL_INFOW, *LPWSAPROTOCOL_INFOW;

/* As Windows' headers: the wide variants when UNICODE is defined. */
#ifdef UNICODE
typedef WSAPROTOCOL_INFOW WSAPROTOCOL_INFO;
typedef LPWSAPROTOCOL_INFOW LPWSAPROTOCOL_INFO;
#define WSADuplicateSocket	WSADuplicateSocketW
#define WSASocket		WSASocketW
#else
typedef WSAPROTOCOL_INFOA WSAPROTOCOL_INFO;
typedef LPWSAPROTOCOL_INFOA LPWSAPROTOCOL_INFO;
#define WSADuplicateSocket	WSADuplicateSocketA
#define WSASocket		WSASocketA
#endif

/* --- Network events --- */

#define FD_READ_BIT			SS_FD_READ_BIT
#define FD_WRITE_BIT			SS_FD_WRITE_BIT
#define FD_OOB_BIT			SS_FD_OOB_BIT
#define FD_ACCEPT_BIT			SS_FD_ACCEPT_BIT
#define FD_CONNECT_BIT			SS_FD_CONNECT_BIT
#define FD_CLOSE_BIT			SS_FD_CLOSE_BIT
#define FD_QOS_BIT			SS_FD_QOS_BIT
#define FD_GROUP_QOS_BIT		SS_FD_GROUP_QOS_BIT
#define FD_ROUTING_INTERFACE_CHANGE_BIT	SS_FD_ROUTING_INTERFACE_CHANGE_BIT
#define FD_ADDRESS_LIST_CHANGE_BIT	SS_FD_ADDRESS_LIST_CHANGE_BIT
#define FD_MAX_EVENTS			SS_FD_MAX_EVENTS

#define FD_READ				SS_FD_READ
#define FD_WRITE			SS_FD_WRITE
#define FD_OOB				SS_FD_OOB
#define FD_ACCEPT			SS_FD_ACCEPT
#define FD_CONNECT			SS_FD_CONNECT
#define FD_CLOSE			SS_FD_CLOSE
#define FD_QOS				SS_FD_QOS
#define FD_GROUP_QOS			SS_FD_GROUP_QOS
#define FD_ROUTING_INTERFACE_CHANGE	SS_FD_ROUTING_INTERFACE_CHANGE
#define FD_ADDRESS_LIST_CHANGE		SS_FD_ADDRESS_LIST_CHANGE
#define FD_ALL_EVENTS			SS_FD_ALL_EVENTS

typedef struct _WSANETWORKEVENTS {
	long lNetworkEvents;
	int iErrorCode[FD_MAX_EVENTS];	/* WSAE* numbers, by FD_*_BIT */
} WSANETWORKEVENTS, *LPWSANETWORKEVENTS;

/* An event object is an eventfd (manual-reset, see WSACreateEvent). */
typedef int WSAEVENT;
typedef WSAEVENT *LPWSAEVENT;
#define WSA_INVALID_EVENT		((WSAEVENT)(-1))
#define WSA_MAXIMUM_WAIT_EVENTS		64

#define WSA_INFINITE			0xFFFFFFFFU
#define WSA_WAIT_EVENT_0		0U
#define WSA_WAIT_IO_COMPLETION		0xC0U
#define WSA_WAIT_TIMEOUT		258U
#define WSA_WAIT_FAILED			0xFFFFFFFFU

/* A "window" is a message queue descriptor from ss_queue_create(). */
typedef int HWND;

/* WSAAsyncSelect messages: lParam = MAKELONG(event, error). */
#define WSAMAKESELECTREPLY(event, error) \
	((LPARAM)(DWORD)(((WORD)(event)) | (((DWORD)(WORD)(error)) << 16)))
#define WSAGETSELECTEVENT(lParam)	((WORD)((DWORD)(lParam) & 0xffff))
#define WSAGETSELECTERROR(lParam)	((WORD)(((DWORD)(lParam) >> 16) & 0xffff))

/* --- Error numbers: Windows' values --- */

#define WSA_INVALID_HANDLE		6
#define WSA_NOT_ENOUGH_MEMORY		8
#define WSA_INVALID_PARAMETER		87

#define WSABASEERR			10000
#define WSAEINTR			10004
#define WSAEBADF			10009
#define WSAEACCES			10013
#define WSAEFAULT			10014
#define WSAEINVAL			10022
#define WSAEMFILE			10024
#define WSAEWOULDBLOCK			10035
#define WSAEINPROGRESS			10036
#define WSAEALREADY			10037
#define WSAENOTSOCK			10038
#define WSAEDESTADDRREQ			10039
#define WSAEMSGSIZE			10040
#define WSAEPROTOTYPE			10041
#define WSAENOPROTOOPT			10042
#define WSAEPROTONOSUPPORT		10043
#define WSAESOCKTNOSUPPORT		10044
#define WSAEOPNOTSUPP			10045
#define WSAEPFNOSUPPORT			10046
#define WSAEAFNOSUPPORT			10047
#define WSAEADDRINUSE			10048
#define WSAEADDRNOTAVAIL		10049
#define WSAENETDOWN			10050
#define WSAENETUNREACH			10051
#define WSAENETRESET			10052
#define WSAECONNABORTED			10053
#define WSAECONNRESET			10054
#define WSAENOBUFS			10055
#define WSAEISCONN			10056
#define WSAENOTCONN			10057
#define WSAESHUTDOWN			10058
#define WSAETOOMANYREFS			10059
#define WSAETIMEDOUT			10060
#define WSAECONNREFUSED			10061
#define WSAELOOP			10062
#define WSAENAMETOOLONG			10063
#define WSAEHOSTDOWN			10064
#define WSAEHOSTUNREACH			10065
#define WSAENOTEMPTY			10066
#define WSAEPROCLIM			10067
#define WSAEUSERS			10068
#define WSAEDQUOT			10069
#define WSAESTALE			10070
#define WSAEREMOTE			10071
#define WSASYSNOTREADY			10091
#define WSAVERNOTSUPPORTED		10092
#define WSANOTINITIALISED		10093
#define WSAEDISCON			10101
#define WSAENOMORE			10102
#define WSAECANCELLED			10103
#define WSAEINVALIDPROCTABLE		10104
#define WSAEINVALIDPROVIDER		10105
#define WSAEPROVIDERFAILEDINIT		10106
#define WSASYSCALLFAILURE		10107

/* --- Functions --- */

/* Fill *lpWSAData (version 2.2 at most) and succeed; no state is kept. */
int WSAStartup(WORD wVersionRequested, WSADATA *lpWSAData);
int WSACleanup(void);

/*
 * The calling thread's last Winsock error.  It also reflects a later
 * failure of a plain libc call (recv, send, connect, ...): when errno has
 * changed since the last error this layer recorded, errno is translated.
 */
int WSAGetLastError(void);
void WSASetLastError(int iError);

int WSADuplicateSocketA(SOCKET s, DWORD dwProcessId,
			WSAPROTOCOL_INFOA *lpProtocolInfo);
SOCKET WSASocketA(int af, int type, int protocol,
		  WSAPROTOCOL_INFOA *lpProtocolInfo, GROUP g, DWORD dwFlags);
int WSADuplicateSocketW(SOCKET s, DWORD dwProcessId,
			WSAPROTOCOL_INFOW *lpProtocolInfo);
SOCKET WSASocketW(int af, int type, int protocol,
		  WSAPROTOCOL_INFOW *lpProtocolInfo, GROUP g, DWORD dwFlags);

int WSAEventSelect(SOCKET s, WSAEVENT hEventObject, long lNetworkEvents);
int WSAEnumNetworkEvents(SOCKET s, WSAEVENT hEventObject,
			 WSANETWORKEVENTS *lpNetworkEvents);
int WSAAsyncSelect(SOCKET s, HWND hWnd, unsigned int wMsg, long lEvent);

WSAEVENT WSACreateEvent(void);
BOOL WSACloseEvent(WSAEVENT hEvent);
BOOL WSASetEvent(WSAEVENT hEvent);
BOOL WSAResetEvent(WSAEVENT hEvent);
DWORD WSAWaitForMultipleEvents(DWORD cEvents, const WSAEVENT *lphEvents,
			       BOOL fWaitAll, DWORD dwTimeout,
			       BOOL fAlertable);

int closesocket(SOCKET s);
int ioctlsocket(SOCKET s, long cmd, u_long *argp);

/* --- sharedsock additions for ported code --- */

/* The WSAE* number for an errno value (0 for 0). */
int ss_wsa_error(int errnum);

/*
 * The lParam a window procedure would receive for a message read from a
 * queue with ss_queue_read(): WSAMAKESELECTREPLY(event, WSAE* error).
 */
LPARAM ss_wsa_select_lparam(const struct ss_message *msg);

#ifdef __cplusplus
}
#endif

#endif /* SHAREDSOCK_WINSOCK_H */
