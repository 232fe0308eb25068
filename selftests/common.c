// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers shared by the sharedsock selftests.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

/* kselftest convention: without the module there is nothing to test. */
__attribute__((constructor)) static void require_module(void)
{
	if (access(SHAREDSOCK_DEVICE_PATH, F_OK) == 0)
		return;
	printf("TAP version 13\n1..0 # SKIP %s missing: sharedsock module not loaded\n",
	       SHAREDSOCK_DEVICE_PATH);
	exit(4);	/* KSFT_SKIP */
}

int dev_open(void)
{
	return open(SHAREDSOCK_DEVICE_PATH, O_RDWR | O_CLOEXEC);
}

int raw_duplicate(int dev, int fd, pid_t pid, unsigned int ttl_ms,
		  struct sharedsock_info *info)
{
	struct sharedsock_duplicate args = {
		.size = sizeof(args), .fd = fd, .pid = pid, .ttl_ms = ttl_ms,
	};
	int ret = ioctl(dev, SHAREDSOCK_IOC_DUPLICATE, &args);

	if (ret == 0 && info)
		*info = args.info;
	return ret;
}

int raw_redeem(int dev, const struct sharedsock_info *info, unsigned int flags)
{
	struct sharedsock_redeem args = {
		.size = sizeof(args), .flags = flags, .info = *info,
	};

	return ioctl(dev, SHAREDSOCK_IOC_REDEEM, &args);
}

int raw_revoke(int dev, const struct sharedsock_info *info)
{
	struct sharedsock_revoke args = { .size = sizeof(args), .info = *info };

	return ioctl(dev, SHAREDSOCK_IOC_REVOKE, &args);
}

static int inet_pair(int family, int type, int sv[2])
{
	struct sockaddr_storage addr = { .ss_family = family };
	socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) :
					    sizeof(struct sockaddr_in6);
	int a, b, l = -1;

	if (family == AF_INET)
		((struct sockaddr_in *)&addr)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&addr)->sin6_addr = in6addr_loopback;

	a = socket(family, type, 0);
	b = socket(family, type, 0);
	if (a < 0 || b < 0)
		goto fail;
	if (type == SOCK_DGRAM) {
		struct sockaddr_storage addr_b = addr;
		socklen_t len_b = len;

		if (bind(a, (void *)&addr, len) || bind(b, (void *)&addr_b, len_b))
			goto fail;
		if (getsockname(a, (void *)&addr, &len) ||
		    getsockname(b, (void *)&addr_b, &len_b))
			goto fail;
		if (connect(a, (void *)&addr_b, len_b) || connect(b, (void *)&addr, len))
			goto fail;
		sv[0] = a;
		sv[1] = b;
		return 0;
	}
	close(b);
	b = -1;
	l = a;
	a = -1;
	if (bind(l, (void *)&addr, len) || listen(l, 1) ||
	    getsockname(l, (void *)&addr, &len))
		goto fail;
	a = socket(family, type, 0);
	if (a < 0 || connect(a, (void *)&addr, len))
		goto fail;
	b = accept(l, NULL, NULL);
	if (b < 0)
		goto fail;
	close(l);
	sv[0] = a;
	sv[1] = b;
	return 0;
fail:
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	if (l >= 0)
		close(l);
	return -1;
}

int loopback_listener(struct sockaddr_in *addr, socklen_t *len)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);

	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*len = sizeof(*addr);
	if (l < 0)
		return -1;
	if (bind(l, (void *)addr, *len) || listen(l, 16) ||
	    getsockname(l, (void *)addr, len)) {
		close(l);
		return -1;
	}
	return l;
}

int socket_pair(int family, int type, int sv[2])
{
	if (family == AF_UNIX)
		return socketpair(AF_UNIX, type, 0, sv);
	return inet_pair(family, type, sv);
}

/*
 * The peer may be non-blocking (a registered socket is), and on a loaded
 * machine loopback data may be delivered after send() returns: wait for
 * the bytes (WAIT_MS), however they are split.
 */
bool transfer_ok(int fd, int peer, const char *msg)
{
	size_t len = strlen(msg), got = 0;
	char buf[256];
	ssize_t n;

	if (len >= sizeof(buf) || send(fd, msg, len, 0) != (ssize_t)len)
		return false;
	while (got < len) {
		struct pollfd p = { .fd = peer, .events = POLLIN };

		if (poll(&p, 1, WAIT_MS) != 1)
			return false;
		n = recv(peer, buf + got, sizeof(buf) - got, MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n <= 0)
			return false;
		got += n;
	}
	return got == len && memcmp(buf, msg, len) == 0;
}

bool peer_eof_within(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char c;
	ssize_t n;

	if (poll(&pfd, 1, ms) != 1)
		return false;
	n = recv(fd, &c, 1, MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

bool peer_open_for(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, ms) == 0;
}

bool inq_at_least(int fd, int len, int ms)
{
	long end = now_us() + ms * 1000L;
	int n;

	do {
		if (ioctl(fd, FIONREAD, &n) == 0 && n >= len)
			return true;
		usleep(1000);
	} while (now_us() < end);
	return false;
}

/* The state letter of /proc/@dir/stat ("self/task/TID", a pid), or 0. */
char proc_state_of(const char *dir)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%s/stat", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

char proc_state(pid_t pid)
{
	char dir[24];

	snprintf(dir, sizeof(dir), "%d", (int)pid);
	return proc_state_of(dir);
}

bool threads_asleep(int ms)
{
	long end = now_us() + ms * 1000L;
	pid_t self = gettid();
	char dir[32];

	for (;;) {
		DIR *d = opendir("/proc/self/task");
		struct dirent *de;
		bool all = d != NULL;

		while (d && (de = readdir(d))) {
			pid_t tid = atoi(de->d_name);

			if (de->d_name[0] == '.' || tid == self)
				continue;
			snprintf(dir, sizeof(dir), "self/task/%d", tid);
			if (proc_state_of(dir) != 'S')
				all = false;
		}
		if (d)
			closedir(d);
		if (all)
			return true;
		if (now_us() > end)
			return false;
		usleep(1000);
	}
}

int send_info(int fd, const struct ss_protocol_info *info)
{
	return write(fd, info, sizeof(*info)) == sizeof(*info) ? 0 : -1;
}

int recv_info(int fd, struct ss_protocol_info *info)
{
	return read(fd, info, sizeof(*info)) == sizeof(*info) ? 0 : -1;
}

int wait_exit(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

int become_user(uid_t uid)
{
	if (setgroups(0, NULL) || setresgid(uid, uid, uid) ||
	    setresuid(uid, uid, uid))
		return -1;
	/*
	 * Changing ids made the process non-dumpable (until it executes a
	 * program), and the module, like ptrace, refuses to export to such
	 * a process: be what a program started by @uid would be.
	 */
	return prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
}

int count_socket_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *de;
	struct stat st;
	int n = 0;

	if (!dir)
		return -1;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(dir), de->d_name, &st, 0) == 0 &&
		    S_ISSOCK(st.st_mode))
			n++;
	}
	closedir(dir);
	return n;
}

int dev_status(int dev, struct sharedsock_status *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	return ioctl(dev, SHAREDSOCK_IOC_STATUS, st);
}

/* LIST of @kind into a buffer of its own (free it); the count, or -1. */
int list_all(int dev, unsigned int kind, size_t entry, void **out)
{
	unsigned int room = 256;
	void *e = NULL;
	int n;

	for (;;) {
		struct sharedsock_list args = {
			.size = sizeof(args), .kind = kind, .count = room,
		};

		free(e);
		e = calloc(room, entry);
		if (!e)
			return -1;
		args.entries = (unsigned long)e;
		n = ioctl(dev, SHAREDSOCK_IOC_LIST, &args);
		if (n < 0) {
			free(e);
			return -1;
		}
		if (args.count <= room) {
			*out = e;
			return n;
		}
		room = args.count + 64;
	}
}

/* A process that has exited, or is exiting: gone, or a zombie. */
static bool exited(pid_t pid)
{
	char dir[16];
	char state;

	if (pid <= 0)
		return true;
	snprintf(dir, sizeof(dir), "%d", pid);
	state = proc_state_of(dir);
	return !state || state == 'Z' || state == 'X';
}

long tokens_settled(int ms)
{
	long end = now_us() + ms * 1000L;
	struct sharedsock_token_entry *e;
	struct sharedsock_status st;
	long ret = -1;
	int dev = dev_open(), n, i;

	if (dev < 0)
		return -1;
	for (;;) {
		if (dev_status(dev, &st))
			break;
		if (geteuid() != 0) {
			ret = st.tokens_pending;
			break;
		}
		n = list_all(dev, SHAREDSOCK_LIST_TOKENS, sizeof(*e), (void **)&e);
		if (n < 0)
			break;
		/* every token counted is listed (a retiring target's are not) */
		for (i = 0; i < n && !exited(e[i].target_pid); i++)
			;
		free(e);
		if (i == n && (long)n == (long)st.tokens_pending) {
			ret = n;
			break;
		}
		if (now_us() > end)
			break;
		usleep(1000);
	}
	close(dev);
	return ret;
}

bool token_listed(int dev, unsigned long long id)
{
	struct sharedsock_token_entry *e;
	int n = list_all(dev, SHAREDSOCK_LIST_TOKENS, sizeof(*e), (void **)&e);
	bool found = false;
	int i;

	/* no answer: listed, so that a wait for its end fails, not passes */
	if (n < 0)
		return true;
	for (i = 0; i < n; i++)
		found |= e[i].id == id;
	free(e);
	return found;
}

int registration_inos(int dev, unsigned long long *inos, int room)
{
	struct sharedsock_reg_entry *e;
	int n = list_all(dev, SHAREDSOCK_LIST_REGISTRATIONS, sizeof(*e), (void **)&e);
	int i;

	if (n < 0)
		return -1;
	for (i = 0; i < n && i < room; i++)
		inos[i] = e[i].socket_ino;
	free(e);
	return n;
}

long module_refcnt(void)
{
	FILE *f = fopen("/sys/module/sharedsock/refcnt", "r");
	long n = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &n) != 1)
		n = -1;
	fclose(f);
	return n;
}

long module_refcnt_back_to(long want, int ms)
{
	long n;

	for (; (n = module_refcnt()) > want && ms > 0; ms -= 10)
		usleep(10000);
	return n;
}

long sockets_used(void)
{
	FILE *f = fopen("/proc/net/sockstat", "r");
	char line[256];
	long n = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "sockets: used %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

int lo_up(void)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_UNIX, SOCK_DGRAM, 0), ret;

	if (s < 0)
		return -1;
	strcpy(ifr.ifr_name, "lo");
	ret = ioctl(s, SIOCGIFFLAGS, &ifr);
	if (!ret) {
		ifr.ifr_flags |= IFF_UP;
		ret = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	close(s);
	return ret;
}

int param_read(const char *name, char *buf, size_t len)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

int param_write(const char *name, const char *val)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

unsigned int below(uint64_t *s, unsigned int n)
{
	return (unsigned int)(rnd(s) % n);
}

long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000L + ts.tv_nsec / 1000L;
}
