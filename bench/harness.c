// SPDX-License-Identifier: GPL-2.0
/*
 * Harness: the result rows in memory shared with the phase children,
 * messages, I/O, statistics and process helpers that every benchmark
 * family uses.  Measures nothing itself.
 */
#include "harness.h"

#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>

struct shared *sh;

/* ------------------------------------------------------------------ */
/* Messages                                                            */

void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("# %s\n", buf);
	fflush(stdout);
}

int fail(const char *fmt, ...)
{
	int err = errno;
	char buf[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("# error: %s: %s\n", buf, strerror(err));
	fflush(stdout);
	errno = err;
	return -1;
}

void note(const char *fmt, ...)
{
	va_list ap;

	if (sh->nnotes >= (int)(sizeof(sh->notes) / sizeof(sh->notes[0])))
		return;
	va_start(ap, fmt);
	vsnprintf(sh->notes[sh->nnotes++], sizeof(sh->notes[0]), fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------ */
/* I/O and statistics                                                  */

int read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t r = read(fd, p, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EPIPE;
			return -1;
		}
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t r = write(fd, p, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double median_u64(uint64_t *v, size_t n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	return n % 2 ? (double)v[n / 2] : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2;
}

void stats(const double *src, int n, double *med, double *min, double *max)
{
	double v[MAX_RUNS];

	*med = *min = *max = 0;
	if (n <= 0)
		return;
	memcpy(v, src, sizeof(double) * (size_t)n);
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	*min = v[0];
	*max = v[n - 1];
	*med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

uint64_t rng(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

const char *fmt_count(long n, char *buf, size_t len)
{
	if (n >= 1000000 && n % 1000000 == 0)
		snprintf(buf, len, "%ldM", n / 1000000);
	else if (n >= 1000 && n % 1000 == 0)
		snprintf(buf, len, "%ldk", n / 1000);
	else
		snprintf(buf, len, "%ld", n);
	return buf;
}

/* ------------------------------------------------------------------ */
/* Processes                                                           */

static void die_with_parent(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

pid_t fork_child(void)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return fail("fork");
	if (pid == 0)
		die_with_parent();
	return pid;
}

int pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

void unpin(void)
{
	cpu_set_t set;
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	CPU_ZERO(&set);
	for (long i = 0; i < n && i < CPU_SETSIZE; i++)
		CPU_SET(i, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

int nplacements(void)
{
	return opt.xcpu && sysconf(_SC_NPROCESSORS_ONLN) >= 2 ? 2 : 1;
}

const char *const place_sect[2] = { "", "-xcpu" };

int wait_exit(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

bool raise_nofile(rlim_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return false;
	if (rl.rlim_cur >= want)
		return true;
	rl.rlim_cur = want;
	if (rl.rlim_max < want)
		rl.rlim_max = want;
	return setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

/* ------------------------------------------------------------------ */
/* Rows                                                                */

int row_find(const char *name)
{
	for (int i = 0; i < sh->nrows; i++)
		if (!strcmp(sh->rows[i].name, name))
			return i;
	return -1;
}

int row_new(const char *name, const char *label, const char *unit)
{
	int i = row_find(name);
	struct row *r;

	if (i >= 0)
		return i;
	if (sh->nrows >= MAX_ROWS) {
		say("error: too many result rows");
		exit(1);
	}
	i = sh->nrows++;
	r = &sh->rows[i];
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	snprintf(r->label, sizeof(r->label), "%s", label);
	snprintf(r->unit, sizeof(r->unit), "%s", unit);
	return i;
}

void row_add(int i, double v)
{
	struct row *r = &sh->rows[i];

	if (r->n < MAX_RUNS)
		r->v[r->n++] = v;
}

static int row_peer_slot(int i, int peer)
{
	struct row *r = &sh->rows[i];

	for (int k = 0; k < r->npeers; k++)
		if (r->peer[k] == peer)
			return k;
	if (r->npeers >= 2)
		return -1;
	r->peer[r->npeers] = peer;
	return r->npeers++;
}

void row_compare(int i, int peer)
{
	row_peer_slot(i, peer);
}

void row_ratio(int i, int peer, double ratio)
{
	int k = row_peer_slot(i, peer);
	struct row *r = &sh->rows[i];

	if (k >= 0 && r->nr[k] < MAX_RUNS)
		r->r[k][r->nr[k]++] = ratio;
}

/* Ratio of row @i to its k-th peer: median, min, max; false if unknown. */
bool row_ratio_stats(int i, int k, double *med, double *min, double *max)
{
	struct row *r = &sh->rows[i], *p;
	double pm, pmin, pmax, m, mn, mx;

	if (k >= r->npeers)
		return false;
	if (r->nr[k]) {
		stats(r->r[k], r->nr[k], med, min, max);
		return true;
	}
	p = &sh->rows[r->peer[k]];
	if (!r->n || !p->n)
		return false;
	stats(r->v, r->n, &m, &mn, &mx);
	stats(p->v, p->n, &pm, &pmin, &pmax);
	if (pm <= 0 || pmin <= 0 || pmax <= 0)
		return false;
	*med = m / pm;
	*min = mn / pmax;
	*max = mx / pmin;
	return true;
}
