// SPDX-License-Identifier: GPL-2.0
/*
 * Harness: loopback TCP pairs, SCM_RIGHTS messages, a vectored handoff to
 * this process, the module's STATUS and parameters, and the /proc/slabinfo
 * and /proc/meminfo readers the memory figures come from.  Measures
 * nothing itself.
 */
#include "harness.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>

#define PARAM_DIR	"/sys/module/sharedsock/parameters/"

/* ------------------------------------------------------------------ */
/* Sockets                                                             */

int tcp_listener(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return fail("socket");
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 256) ||
	    getsockname(fd, (struct sockaddr *)&a, &len)) {
		fail("listen on loopback");
		close(fd);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

int tcp_connect(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return fail("socket");
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		fail("connect");
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

int tcp_pair(int *client, int *server)
{
	uint16_t port;
	int l = tcp_listener(&port), one = 1;

	if (l < 0)
		return -1;
	*client = tcp_connect(port);
	*server = *client < 0 ? -1 : accept4(l, NULL, NULL, SOCK_CLOEXEC);
	close(l);
	if (*client < 0 || *server < 0) {
		if (*client >= 0)
			close(*client);
		return fail("accept");
	}
	setsockopt(*server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

int set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	return fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

void scm_prepare(struct scm_msg *s, const int *fds, int n)
{
	struct cmsghdr *cm;

	s->byte = 'x';
	s->iov.iov_base = &s->byte;
	s->iov.iov_len = 1;
	memset(&s->m, 0, sizeof(s->m));
	s->m.msg_iov = &s->iov;
	s->m.msg_iovlen = 1;
	s->m.msg_control = s->u.buf;
	s->m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
	if (!fds)
		return;
	cm = CMSG_FIRSTHDR(&s->m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
	memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)n);
}

/* ------------------------------------------------------------------ */
/* The module                                                          */

int vec_roundtrip(const int *socks, int nf)
{
	struct ss_protocol_info info;
	int fds[HO_MAXN];

	if (ss_duplicate_sockets(socks, (unsigned int)nf, getpid(), 0, &info))
		return fail("ss_duplicate_sockets");
	if (ss_sockets_from_info(&info, fds, (unsigned int)nf, 0) != nf)
		return fail("ss_sockets_from_info");
	for (int k = 0; k < nf; k++)
		close(fds[k]);
	return 0;
}

int dev_status(int dev, struct sharedsock_status *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	return ioctl(dev, SHAREDSOCK_IOC_STATUS, st);
}

int read_param(const char *name, long *val)
{
	char path[128], buf[64];
	int fd, n;

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = (int)read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	*val = strtol(buf, NULL, 10);
	return 0;
}

int write_param(const char *name, long val)
{
	char path[128], buf[64];
	int fd, n, ret;

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = snprintf(buf, sizeof(buf), "%ld\n", val);
	ret = write(fd, buf, (size_t)n) == n ? 0 : -1;
	close(fd);
	return ret;
}

/* ------------------------------------------------------------------ */
/* /proc/slabinfo and /proc/meminfo                                    */

int slab_read(const char *cache, struct slab *s)
{
	char line[512];
	size_t len = strlen(cache);
	FILE *f = fopen("/proc/slabinfo", "re");
	int found = -1;

	memset(s, 0, sizeof(*s));
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, cache, len) || line[len] != ' ')
			continue;
		if (sscanf(line + len, " %ld %ld %ld %ld %ld : tunables %*d %*d %*d : slabdata %ld %ld",
			   &s->active_objs, &s->num_objs, &s->objsize,
			   &s->objperslab, &s->pagesperslab, &s->active_slabs,
			   &s->num_slabs) == 7)
			found = 0;
		break;
	}
	fclose(f);
	return found;
}

long slab_bytes(const struct slab *s)
{
	return s->num_slabs * s->pagesperslab * sysconf(_SC_PAGESIZE);
}

/* A /proc/meminfo field in bytes, -1 if missing. */
static long meminfo(const char *field)
{
	char line[256];
	size_t len = strlen(field);
	FILE *f = fopen("/proc/meminfo", "re");
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, len) && line[len] == ':') {
			kb = strtol(line + len + 1, NULL, 10);
			break;
		}
	fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

long kernel_mem(void)
{
	return meminfo("Slab") + meminfo("VmallocUsed");
}
