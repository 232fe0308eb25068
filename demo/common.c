// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * acceptor_demo: what every process uses -- output lines (each starts with
 * "# "), errors counted in the process's statistics, pipe I/O that
 * completes, and the request stream, deterministic from (seed, conn, seq)
 * so that the client can check every byte and main can compute the totals.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "demo.h"

struct config cfg = {
	.workers = 4, .conns = 200, .requests = 50, .clients = 2, .depth = 4,
	.maxlen = 1024, .window = 32, .timeout = 60, .handoff_after = -1,
	.seed = 0x5eed5eedULL, .from = 0, .to = 1,
};

struct shared *shm;
char role[32] = "main";
uint64_t *err_counter;
volatile sig_atomic_t dump_requested, alarm_fired;
static int problems_printed;

/* --- Output --- */

static void vsay(const char *prefix, const char *fmt, va_list ap)
{
	char buf[1024];
	int n = snprintf(buf, sizeof(buf), "# %s", prefix);

	if (n < 0)
		return;
	n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(STDOUT_FILENO, buf, n) < 0)
		return;
}

/* A report line. */
void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay("", fmt, ap);
	va_end(ap);
}

/* A line from this process's role, after @what. */
static void role_say(const char *what, const char *fmt, va_list ap)
{
	char prefix[64];

	snprintf(prefix, sizeof(prefix), "[%s] %s", role, what);
	vsay(prefix, fmt, ap);
}

/* A line from a role. */
void note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	role_say("", fmt, ap);
	va_end(ap);
}

/* Something that makes the run fail, counted in the role's statistics. */
void problem(const char *fmt, ...)
{
	va_list ap;

	if (err_counter)
		(*err_counter)++;
	if (problems_printed++ >= MAX_PROBLEMS)
		return;
	va_start(ap, fmt);
	role_say("ERROR: ", fmt, ap);
	va_end(ap);
}

void die(const char *fmt, ...)
{
	va_list ap;

	if (err_counter)
		(*err_counter)++;
	va_start(ap, fmt);
	role_say("FATAL: ", fmt, ap);
	va_end(ap);
	_exit(3);
}

int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 1 when @len bytes were read, 0 on end of file before any, -1 otherwise. */
int readn(int fd, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, (char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			if (done)
				errno = EPIPE;
			return done ? -1 : 0;
		}
		done += n;
	}
	return 1;
}

int writen(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		done += n;
	}
	return 0;
}

void reserve(unsigned char **buf, size_t *cap, size_t need)
{
	size_t ncap = *cap ? *cap : 4096;

	if (need <= *cap)
		return;
	while (ncap < need)
		ncap *= 2;
	*buf = realloc(*buf, ncap);
	if (!*buf)
		die("out of memory");
	*cap = ncap;
}

/* recv(2) into the free end of a growing buffer, whose *@len it adds to. */
ssize_t recv_more(int fd, unsigned char **buf, size_t *len, size_t *cap)
{
	ssize_t n;

	reserve(buf, cap, *len + 16384);
	n = recv(fd, *buf + *len, *cap - *len, 0);
	if (n > 0)
		*len += n;
	return n;
}

void on_usr1(int sig)
{
	(void)sig;
	dump_requested = 1;
}

void on_alarm(int sig)
{
	(void)sig;
	alarm_fired = 1;
}

void catch(int sig, void (*fn)(int))
{
	struct sigaction sa = { .sa_handler = fn };

	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);	/* no SA_RESTART: poll/waitpid see EINTR */
}

/* --- The request stream: deterministic from (seed, conn, seq) --- */

uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t req_state(uint32_t conn, uint32_t seq)
{
	uint64_t s = cfg.seed ^ ((uint64_t)conn << 32 | seq);

	splitmix(&s);
	return s;
}

uint32_t req_len(uint32_t conn, uint32_t seq)
{
	uint64_t s = req_state(conn, seq);

	return 1 + splitmix(&s) % (uint32_t)cfg.maxlen;
}

/* The payload of request @seq of connection @conn; returns its length. */
uint32_t req_payload(uint32_t conn, uint32_t seq, unsigned char *buf)
{
	uint64_t s = req_state(conn, seq);
	uint32_t len = 1 + splitmix(&s) % (uint32_t)cfg.maxlen;
	uint32_t i;

	for (i = 0; i < len; i += 8) {
		uint64_t r = splitmix(&s);
		uint32_t k;

		for (k = 0; k < 8 && i + k < len; k++)
			buf[i + k] = (unsigned char)(r >> (8 * k));
	}
	return len;
}

/* What the server XORs into response byte @i. */
unsigned char mix(uint32_t conn, uint32_t seq, uint32_t i)
{
	return (unsigned char)((conn * 131u + seq * 31u + i * 7u) ^ 0x5au);
}
