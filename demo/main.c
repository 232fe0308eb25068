// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * acceptor_demo: an acceptor/worker TCP server on sharedsock, end to end,
 * with everything checked.  Start reading at server.c: the pattern.
 *
 * main: reads the options, forks N workers, the acceptor and P client load
 * generators, connected by pipes (acceptor -> each worker: tokens; worker
 * 0 -> worker 1: the handoff; worker 1 -> worker 0: its pid, then the
 * acknowledgements), waits for them -- on a failure or the timeout, has
 * every process say what it was doing and stops them -- and reports
 * (report.c).  Exit status 0 only if every check held.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/sharedsock.h>

#include "demo.h"

/* Every pipe end; a child keeps its own and closes the others. */
struct pipes {
	int acc[MAX_WORKERS][2], ho[2], ack[2];
	int fds[2 * MAX_WORKERS + 5], nfds;
};

struct child {
	pid_t pid;
	char name[24];
	int status;
	bool done;
};

static struct child children[MAX_WORKERS + MAX_CLIENTS + 1];
static int nchildren;

static pid_t spawn(const char *name, int (*fn)(void *), void *arg,
		   const int *keep, int nkeep, const int *fds, int nfds)
{
	pid_t pid;
	int i, j;

	pid = fork();
	if (pid < 0)
		die("fork: %m");
	if (pid == 0) {
		/* Keep only our pipe ends, or end of file never comes. */
		for (i = 0; i < nfds; i++) {
			bool mine = false;

			for (j = 0; j < nkeep; j++)
				mine |= fds[i] == keep[j];
			if (!mine && fds[i] >= 0)
				close(fds[i]);
		}
		catch(SIGUSR1, on_usr1);
		signal(SIGALRM, SIG_DFL);
		alarm(cfg.timeout + 10);	/* a last resort */
		_exit(fn(arg));
	}
	children[nchildren].pid = pid;
	snprintf(children[nchildren].name, sizeof(children[0].name), "%s", name);
	nchildren++;
	return pid;
}

struct worker_arg {
	struct worker w;
};

static int run_worker(void *arg)
{
	return worker_main(&((struct worker_arg *)arg)->w);
}

struct acceptor_arg {
	int lfd;
	int to_worker[MAX_WORKERS];
	pid_t wpid[MAX_WORKERS];
};

static int run_acceptor(void *arg)
{
	struct acceptor_arg *a = arg;

	return acceptor_main(a->lfd, a->to_worker, a->wpid);
}

static int run_client(void *arg)
{
	return client_main(*(int *)arg);
}

static void kill_children(int sig)
{
	int i;

	for (i = 0; i < nchildren; i++)
		if (!children[i].done)
			kill(children[i].pid, sig);
}

/* A failure: have every process say what it is doing, then stop them. */
static void stop_all(bool *ok, bool *killing)
{
	*ok = false;
	*killing = true;
	kill_children(SIGUSR1);
	usleep(500000);
	kill_children(SIGKILL);
}

/* Wait for every child; on a failure or the timeout, stop the others. */
static bool wait_children(void)
{
	bool ok = true, killing = false;
	int left = nchildren;

	catch(SIGALRM, on_alarm);
	alarm(cfg.timeout);
	while (left) {
		int status, i;
		pid_t pid = waitpid(-1, &status, 0);

		if (pid < 0) {
			if (errno != EINTR)
				die("waitpid: %m");
			if (alarm_fired && !killing) {
				say("FAILED: timed out after %d s; what each process was doing:",
				    cfg.timeout);
				stop_all(&ok, &killing);
			}
			continue;
		}
		for (i = 0; i < nchildren; i++) {
			if (children[i].pid != pid)
				continue;
			children[i].done = true;
			children[i].status = status;
			left--;
			if (WIFEXITED(status) && !WEXITSTATUS(status))
				break;
			if (!killing) {
				if (WIFEXITED(status))
					say("FAILED: %s (pid %d) exited with status %d",
					    children[i].name, (int)pid, WEXITSTATUS(status));
				else
					say("FAILED: %s (pid %d) killed by signal %d",
					    children[i].name, (int)pid, WTERMSIG(status));
				say("stopping the others; what they were doing:");
				stop_all(&ok, &killing);
			}
			break;
		}
	}
	alarm(0);
	return ok;
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-w workers] [-c connections] [-r requests] [-p clients]\n"
		"          [-d depth] [-m max_payload] [-W window] [-k handoff_after]\n"
		"          [-b buffer_bytes] [-s seed] [-t timeout_s]\n", prog);
	exit(2);
}

static long arg_num(const char *s, long lo, long hi, const char *prog)
{
	char *end;
	long v = strtol(s, &end, 0);

	if (*s == '\0' || *end || v < lo || v > hi)
		usage(prog);
	return v;
}

static void parse_options(int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "w:c:r:p:d:m:W:k:b:s:t:h")) != -1) {
		switch (opt) {
		case 'w': cfg.workers = arg_num(optarg, 2, MAX_WORKERS, argv[0]); break;
		case 'c': cfg.conns = arg_num(optarg, 1, 100000, argv[0]); break;
		case 'r': cfg.requests = arg_num(optarg, 1, 1000000, argv[0]); break;
		case 'p': cfg.clients = arg_num(optarg, 1, MAX_CLIENTS, argv[0]); break;
		case 'd': cfg.depth = arg_num(optarg, 1, 1000, argv[0]); break;
		case 'm': cfg.maxlen = arg_num(optarg, 1, MAX_PAYLOAD, argv[0]); break;
		case 'W': cfg.window = arg_num(optarg, 1, 10000, argv[0]); break;
		case 'k': cfg.handoff_after = arg_num(optarg, 0, 1L << 40, argv[0]); break;
		case 'b': cfg.bufsize = arg_num(optarg, 0, 1 << 26, argv[0]); break;
		case 's': cfg.seed = arg_num(optarg, 0, 1L << 40, argv[0]); break;
		case 't': cfg.timeout = arg_num(optarg, 1, 3600, argv[0]); break;
		default: usage(argv[0]);
		}
	}
	if (optind != argc)
		usage(argv[0]);
	if (cfg.handoff_after < 0) {
		/* Half of worker 0's share: its connections are mid-stream. */
		long share = (cfg.conns + cfg.workers - 1) / cfg.workers;

		cfg.handoff_after = share * cfg.requests / 2;
		if (cfg.handoff_after < 1)
			cfg.handoff_after = 1;
	}
}

static void pipe_pair(struct pipes *p, int *ends)
{
	if (pipe2(ends, O_CLOEXEC) < 0)
		die("pipe: %m");
	p->fds[p->nfds++] = ends[0];
	p->fds[p->nfds++] = ends[1];
}

static void make_pipes(struct pipes *p)
{
	int i;

	for (i = 0; i < cfg.workers; i++)
		pipe_pair(p, p->acc[i]);
	pipe_pair(p, p->ho);
	pipe_pair(p, p->ack);
}

/* Worker @i with its pipe ends: tokens in, and the handoff's if it has one. */
static pid_t spawn_worker(int i, struct pipes *p)
{
	struct worker_arg wa = { .w = {
		.id = i, .acc_rd = p->acc[i][0], .ho_rd = -1, .ho_wr = -1,
		.ack_rd = -1, .ack_wr = -1,
		.handoff_after = cfg.handoff_after,
	} };
	int keep[3] = { p->acc[i][0], -1, -1 };
	char name[24];

	if (i == cfg.from) {
		wa.w.ho_wr = keep[1] = p->ho[1];
		wa.w.ack_rd = keep[2] = p->ack[0];
	} else if (i == cfg.to) {
		wa.w.ho_rd = keep[1] = p->ho[0];
		wa.w.ack_wr = keep[2] = p->ack[1];
	}
	snprintf(name, sizeof(name), "worker %d", i);
	return spawn(name, run_worker, &wa, keep, 3, p->fds, p->nfds);
}

static int listen_loopback(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t slen = sizeof(sin);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(lfd, 1024) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &slen) < 0)
		die("listening socket: %m");
	cfg.port = ntohs(sin.sin_port);
	return lfd;
}

/* The acceptor: the listener and the write end of every worker's pipe. */
static void spawn_acceptor(struct pipes *p, const pid_t *wpid)
{
	struct acceptor_arg aa = { .lfd = listen_loopback() };
	int keep[MAX_WORKERS + 1], i;

	p->fds[p->nfds++] = aa.lfd;
	for (i = 0; i < cfg.workers; i++) {
		aa.to_worker[i] = keep[i] = p->acc[i][1];
		aa.wpid[i] = wpid[i];
	}
	keep[cfg.workers] = aa.lfd;
	spawn("acceptor", run_acceptor, &aa, keep, cfg.workers + 1, p->fds, p->nfds);
}

static void spawn_all(void)
{
	struct pipes p = { .nfds = 0 };
	pid_t wpid[MAX_WORKERS];
	char name[24];
	int i;

	make_pipes(&p);
	for (i = 0; i < cfg.workers; i++)
		wpid[i] = spawn_worker(i, &p);
	spawn_acceptor(&p, wpid);
	for (i = 0; i < cfg.clients; i++) {
		snprintf(name, sizeof(name), "client %d", i);
		spawn(name, run_client, &i, NULL, 0, p.fds, p.nfds);
	}
	for (i = 0; i < p.nfds; i++)
		close(p.fds[i]);
}

int main(int argc, char **argv)
{
	struct sharedsock_status before, after;
	int64_t t0;
	bool ok;

	parse_options(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	t0 = now_ms();

	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED)
		die("mmap: %m");
	if (status_read(&before) < 0)
		die("SHAREDSOCK_IOC_STATUS: %m");
	spawn_all();

	say("sharedsock acceptor/worker demo: %d workers, %d connections x %d "
	    "requests (payload 1..%d bytes, %d in flight per connection), "
	    "%d client processes, port %u", cfg.workers, cfg.conns, cfg.requests,
	    cfg.maxlen, cfg.depth, cfg.clients, cfg.port);
	say("handoff: worker %d hands its live connections to worker %d after "
	    "answering %ld requests", cfg.from, cfg.to, cfg.handoff_after);

	ok = wait_children();
	if (status_read(&after) < 0)
		die("SHAREDSOCK_IOC_STATUS: %m");
	return report(&before, &after, ok, t0);
}
