// SPDX-License-Identifier: GPL-2.0
/*
 * A Windows program, ported: an echo server whose listener hands each
 * accepted connection to a worker process with WSADuplicateSocket, and
 * whose worker serves it with WSAEventSelect.  Written as Windows code is
 * (Winsock names only); the only port is the include below.  The file is
 * included by winsock_test.c, which stands in for the rest of <windows.h>
 * (HANDLE, ReadFile, WriteFile, CloseHandle) and for CreateProcess.
 */
#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#else
#include <sharedsock/winsock.h>
#endif
#include <stdio.h>
#include <string.h>

#define ECHO_BUFFER_SIZE 512
#define ECHO_IDLE_TIMEOUT 10000	/* ms: a client silent this long has hung */

/*
 * Listener: accept one client on 127.0.0.1, report the port through
 * hReady, hand the connection to the worker process dwWorkerProcessId
 * through hToWorker, then close everything.  Returns 0 or a WSAE* code.
 */
static int EchoListener(HANDLE hReady, HANDLE hToWorker, DWORD dwWorkerProcessId)
{
	WSADATA wsaData;
	WSAPROTOCOL_INFOA protocolInfo;
	SOCKADDR_IN addr;
	SOCKET listener, client;
	socklen_t addrLen = sizeof(addr);
	DWORD written;
	u_short port;
	int err;

	err = WSAStartup(MAKEWORD(2, 2), &wsaData);
	if (err != 0)
		return err;

	listener = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
	if (listener == INVALID_SOCKET) {
		err = WSAGetLastError();
		WSACleanup();
		return err;
	}
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = 0;
	if (bind(listener, (SOCKADDR *)&addr, sizeof(addr)) == SOCKET_ERROR ||
	    listen(listener, SOMAXCONN) == SOCKET_ERROR ||
	    getsockname(listener, (SOCKADDR *)&addr, &addrLen) == SOCKET_ERROR) {
		err = WSAGetLastError();
		goto out_listener;
	}
	port = ntohs(addr.sin_port);
	if (!WriteFile(hReady, &port, sizeof(port), &written, NULL)) {
		err = WSAEFAULT;
		goto out_listener;
	}

	client = accept(listener, NULL, NULL);
	if (client == INVALID_SOCKET) {
		err = WSAGetLastError();
		goto out_listener;
	}
	if (WSADuplicateSocketA(client, dwWorkerProcessId, &protocolInfo) == SOCKET_ERROR) {
		err = WSAGetLastError();
		closesocket(client);
		goto out_listener;
	}
	if (!WriteFile(hToWorker, &protocolInfo, sizeof(protocolInfo), &written, NULL) ||
	    written != sizeof(protocolInfo))
		err = WSAEFAULT;
	else
		err = 0;
	/* The worker has its own descriptor now: ours can go. */
	closesocket(client);

out_listener:
	closesocket(listener);
	WSACleanup();
	return err;
}

/*
 * Worker: receive the protocol info from hFromListener, recreate the
 * socket and echo everything until the client closes.  Returns 0 or a
 * WSAE* code; *lpEchoed counts the bytes echoed.
 */
static int EchoWorker(HANDLE hFromListener, DWORD *lpEchoed)
{
	WSADATA wsaData;
	WSAPROTOCOL_INFOA protocolInfo;
	WSANETWORKEVENTS networkEvents;
	WSAEVENT hEvent;
	SOCKET s;
	char buffer[ECHO_BUFFER_SIZE];
	DWORD bytesRead, wait;
	BOOL done = FALSE;
	int err = 0, n, sent, r;

	*lpEchoed = 0;
	err = WSAStartup(MAKEWORD(2, 2), &wsaData);
	if (err != 0)
		return err;

	if (!ReadFile(hFromListener, &protocolInfo, sizeof(protocolInfo), &bytesRead, NULL) ||
	    bytesRead != sizeof(protocolInfo)) {
		WSACleanup();
		return WSAEFAULT;
	}
	s = WSASocketA(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
		       &protocolInfo, 0, 0);
	if (s == INVALID_SOCKET) {
		err = WSAGetLastError();
		WSACleanup();
		return err;
	}
	if (protocolInfo.iAddressFamily != AF_INET ||
	    protocolInfo.iSocketType != SOCK_STREAM) {
		err = WSAEAFNOSUPPORT;
		goto out_socket;
	}

	hEvent = WSACreateEvent();
	if (hEvent == WSA_INVALID_EVENT) {
		err = WSAGetLastError();
		goto out_socket;
	}
	if (WSAEventSelect(s, hEvent, FD_READ | FD_CLOSE) == SOCKET_ERROR) {
		err = WSAGetLastError();
		goto out_event;
	}

	while (!done) {
		wait = WSAWaitForMultipleEvents(1, &hEvent, FALSE, ECHO_IDLE_TIMEOUT, FALSE);
		if (wait == WSA_WAIT_TIMEOUT) {
			err = WSAETIMEDOUT;
			break;
		}
		if (wait != WSA_WAIT_EVENT_0) {
			err = WSAGetLastError();
			break;
		}
		if (WSAEnumNetworkEvents(s, hEvent, &networkEvents) == SOCKET_ERROR) {
			err = WSAGetLastError();
			break;
		}
		if (networkEvents.lNetworkEvents & FD_READ) {
			if (networkEvents.iErrorCode[FD_READ_BIT] != 0) {
				err = networkEvents.iErrorCode[FD_READ_BIT];
				break;
			}
			n = recv(s, buffer, sizeof(buffer), 0);
			if (n == SOCKET_ERROR) {
				/* FD_READ may be stale: the data went already. */
				if (WSAGetLastError() == WSAEWOULDBLOCK)
					continue;
				err = WSAGetLastError();
				break;
			}
			for (sent = 0; sent < n; sent += r) {
				r = send(s, buffer + sent, n - sent, 0);
				if (r == SOCKET_ERROR) {
					err = WSAGetLastError();
					done = TRUE;
					break;
				}
			}
			*lpEchoed += n;
		}
		if (networkEvents.lNetworkEvents & FD_CLOSE) {
			err = networkEvents.iErrorCode[FD_CLOSE_BIT];
			done = TRUE;
		}
	}
	WSAEventSelect(s, hEvent, 0);

out_event:
	WSACloseEvent(hEvent);
out_socket:
	closesocket(s);
	WSACleanup();
	return err;
}
