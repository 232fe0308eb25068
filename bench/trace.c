// SPDX-License-Identifier: GPL-2.0
/*
 * Trace family (opt-in, `trace`): where the time goes, as a function_graph
 * trace of the module's hot paths: three duplicates and redeems, a
 * vectored handoff of 4 sockets, packets on a registered TCP socket, and
 * ss_enum_network_events.  Prints "# trace | ..." lines, no rows; tracing
 * inflates every call, so read the proportions, not the times.
 */
#include "harness.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/stat.h>

static char tracefs[64];

static int tr_write(const char *file, const char *val)
{
	char path[128];
	int fd, ret;

	snprintf(path, sizeof(path), "%s/%s", tracefs, file);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return fail("open %s", path);
	ret = write(fd, val, strlen(val)) == (ssize_t)strlen(val) ? 0 : -1;
	if (ret)
		fail("write '%s' to %s", val, path);
	close(fd);
	return ret;
}

/* Print the module's functions that can be traced. */
static void tr_list_traceable(void)
{
	char line[256], avail[128];
	FILE *a;

	snprintf(avail, sizeof(avail), "%s/available_filter_functions", tracefs);
	a = fopen(avail, "re");
	while (a && fgets(line, sizeof(line), a))
		if (strstr(line, "[sharedsock]"))
			printf("# trace: traceable: %s", line);
	if (a)
		fclose(a);
}

/* Set the graph functions one by one; report the module's traceable ones if one is missing. */
static int tr_graph_functions(const char *funcs)
{
	char list[256], *save = NULL, path[128];
	bool first = true;

	snprintf(list, sizeof(list), "%s", funcs);
	snprintf(path, sizeof(path), "%s/set_graph_function", tracefs);
	for (char *f = strtok_r(list, " ", &save); f; f = strtok_r(NULL, " ", &save)) {
		int fd = open(path, O_WRONLY | O_CLOEXEC | (first ? O_TRUNC : O_APPEND));
		bool ok = fd >= 0 && write(fd, f, strlen(f)) == (ssize_t)strlen(f);

		if (fd >= 0)
			close(fd);
		first = false;
		if (!ok) {
			fail("set_graph_function %s", f);
			tr_list_traceable();
			return -1;
		}
	}
	return 0;
}

/* Print the trace buffer (at most 400 lines). */
static int tr_print(void)
{
	char path[128], line[512];
	FILE *f;
	int lines = 0;

	snprintf(path, sizeof(path), "%s/trace", tracefs);
	f = fopen(path, "re");
	if (!f)
		return fail("open %s", path);
	while (fgets(line, sizeof(line), f) && lines < 400) {
		line[strcspn(line, "\n")] = 0;
		if (line[0] == '#' || !line[0])
			continue;
		printf("# trace | %s\n", line);
		lines++;
	}
	fclose(f);
	return 0;
}

/* Trace what @fn does under @funcs (depth @depth) and print it. */
static int tr_run(const char *title, const char *funcs, const char *depth,
		  int (*fn)(void *), void *arg)
{
	int ret;

	if (tr_write("tracing_on", "0") || tr_write("current_tracer", "nop") ||
	    tr_write("trace", "") || tr_graph_functions(funcs) ||
	    tr_write("max_graph_depth", depth) ||
	    tr_write("current_tracer", "function_graph"))
		return -1;
	tr_write("options/funcgraph-irqs", "0");
	if (tr_write("tracing_on", "1"))
		return -1;
	ret = fn(arg);
	tr_write("tracing_on", "0");
	say("trace: %s (function_graph of %s, depth %s; times inflated by tracing)", title,
	    funcs, depth);
	if (tr_print())
		return -1;
	tr_write("current_tracer", "nop");
	tr_write("set_graph_function", "");
	tr_write("max_graph_depth", "0");
	return ret;
}

static int tr_tokens(void *arg)
{
	int sock = *(int *)arg;
	struct ss_protocol_info info[3];

	for (int i = 0; i < 3; i++)
		if (ss_duplicate_socket(sock, getpid(), &info[i]))
			return fail("ss_duplicate_socket");
	for (int i = 0; i < 3; i++)
		if (redeem_close(&info[i]))
			return -1;
	return 0;
}

static int tr_vec(void *arg)
{
	int socks[4] = { *(int *)arg, *(int *)arg, *(int *)arg, *(int *)arg };

	return vec_roundtrip(socks, 4);
}

static int tr_packets(void *arg)
{
	int *fds = arg;
	char buf[MSG_SIZE] = { 0 };

	for (int i = 0; i < 3; i++) {
		ssize_t r;

		if (send(fds[0], buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
			return fail("send");
		do
			r = recv(fds[1], buf, sizeof(buf), 0);
		while (r < 0 && errno == EAGAIN);
		if (r <= 0)
			return fail("recv");
	}
	return 0;
}

static int tr_enum(void *arg)
{
	int *fds = arg;
	struct ss_network_events ne;

	for (int i = 0; i < 3; i++)
		if (ss_enum_network_events(fds[1], fds[2], &ne))
			return fail("ss_enum_network_events");
	return 0;
}

int phase_trace(void)
{
	int sock, fds[3];
	struct stat st;

	snprintf(tracefs, sizeof(tracefs), "/sys/kernel/tracing");
	if (stat("/sys/kernel/tracing/trace", &st) &&
	    mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL))
		return fail("mount tracefs");
	pin_cpu(0);
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || tcp_pair(&fds[0], &fds[1]))
		return fail("socket");
	fds[2] = eventfd(0, EFD_CLOEXEC);
	/* Warm the paths (and open the library's descriptor) untraced. */
	if (tr_tokens(&sock) || fds[2] < 0 || ss_event_select(fds[1], fds[2], SS_FD_READ) ||
	    tr_packets(fds))
		return -1;
	if (tr_run("3 duplicates then 3 redeems+closes", "ss_ioctl", "4", tr_tokens, &sock) ||
	    tr_run("a vectored handoff of 4 sockets", "ss_ioctl", "5", tr_vec, &sock) ||
	    tr_run("3 x (64 B send, recv) on a registered TCP socket",
		   "ss_reg_wake ss_recvmsg", "3", tr_packets, fds) ||
	    tr_run("3 ss_enum_network_events", "ss_ioctl", "3", tr_enum, fds))
		return -1;
	return 0;
}
