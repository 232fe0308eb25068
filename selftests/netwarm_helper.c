// SPDX-License-Identifier: GPL-2.0
/*
 * Run by the test VM's init before the suite, while nothing else runs:
 * carries one TCP connection and one UDP datagram over loopback for IPv4
 * and IPv6, so that the kernel's first-use work on those paths (the
 * DO_ONCE() hash secrets of inet_ehashfn(), udp_ehashfn(), udp6_ehashfn(),
 * ..., each a static key patched in live kernel text) is done now.
 * Patching kernel text while another vCPU runs it is what QEMU's
 * multi-threaded TCG got wrong once on 7.3 ("Oops: int3" in udp6_ehashfn,
 * two test processes sending the boot's first UDPv6 datagrams at once);
 * on real hardware it is harmless either way.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int loopback(int family, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		*len = sizeof(*a);
	}
	return 0;
}

/* One byte over a fresh loopback pair of @type: 0 on success. */
static int carry(int family, int type)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int srv, cli, acc = -1, ret = -1;
	char c = 'w';

	loopback(family, &ss, &len);
	srv = socket(family, type, 0);
	cli = socket(family, type, 0);
	if (srv < 0 || cli < 0)
		goto out;
	if (bind(srv, (struct sockaddr *)&ss, len) ||
	    getsockname(srv, (struct sockaddr *)&ss, &len))
		goto out;
	if (type == SOCK_STREAM && listen(srv, 1))
		goto out;
	if (connect(cli, (struct sockaddr *)&ss, len))
		goto out;
	if (type == SOCK_STREAM) {
		acc = accept(srv, NULL, NULL);
		if (acc < 0)
			goto out;
	}
	if (send(cli, &c, 1, 0) != 1 ||
	    recv(acc >= 0 ? acc : srv, &c, 1, 0) != 1)
		goto out;
	ret = 0;
out:
	if (acc >= 0)
		close(acc);
	if (cli >= 0)
		close(cli);
	if (srv >= 0)
		close(srv);
	return ret;
}

int main(void)
{
	static const int families[] = { AF_INET, AF_INET6 };
	static const int types[] = { SOCK_STREAM, SOCK_DGRAM };
	int bad = 0;
	size_t f, t;

	for (f = 0; f < 2; f++)
		for (t = 0; t < 2; t++)
			if (carry(families[f], types[t])) {
				fprintf(stderr, "netwarm: family %d type %d: %m\n",
					families[f], types[t]);
				bad = 1;
			}
	return bad;
}
