// SPDX-License-Identifier: GPL-2.0
/*
 * Regression tests for the hazards of the first event layer that an
 * independent review reproduced (event-layer.md in the design notes; the
 * others have their tests beside the code they concern: kinds_test for
 * hazard 1, vector_test for hazard 9, security_test for hazard 10).
 *
 * Hazard 4: a global lock held across lock_sock().  One socket whose lock
 * is held up -- here a send() stalled on a page fault that userfaultfd
 * holds open -- must hold up nobody but its own callers: a registration
 * made on it meanwhile waits, and the close and registration of every
 * other registered socket go on.
 *
 * Hazard 3, its kTLS half: a setsockopt(TCP_ULP "tls") that copies a TCP
 * socket's operations and that entered the protocol before the
 * registration swapped them, completing after it.  Held open with
 * userfaultfd while it copies its argument (after the dispatch, before the
 * socket's lock), it must find the registered socket refused to it; and
 * the registration must go with the socket's last close.  Its
 * IPV6_ADDRFORM half, held open the same way: a TCP socket is refused to
 * it (its struct proto is the module's); a UDP socket is converted, and
 * the registration, which no longer sees the socket's calls, must still
 * go once the socket is closed, and LIST must not trip over it.
 *
 * Hazard 8: a registration that took its queue before the queue's close
 * and linked it after; held open on demand the same way, while the
 * registration waits for the socket's lock.
 *
 * Hazard 5: LIST allocated room for as many entries as the caller asked
 * for (up to 2^20) before it counted any: sixteen callers pinned hundreds
 * of megabytes.  It now copies out a small batch at a time.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common.h"
#include "kselftest_harness.h"

/*
 * A page whose first touch userfaultfd holds until it is released, right
 * after an ordinary page.
 */
struct held_page {
	int uffd;
	char *base;
	char *page;
	long size;
};

static int held_page_open(struct held_page *h)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { 0 };

	h->size = sysconf(_SC_PAGESIZE);
	h->uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (h->uffd < 0 || ioctl(h->uffd, UFFDIO_API, &api))
		return -1;
	h->base = mmap(NULL, 2 * h->size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (h->base == MAP_FAILED)
		return -1;
	h->base[0] = 1;
	h->page = h->base + h->size;
	reg.range.start = (uintptr_t)h->page;
	reg.range.len = h->size;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	return ioctl(h->uffd, UFFDIO_REGISTER, &reg);
}

/* True once some thread is stalled on the page, within @ms. */
static bool held_page_faulted(struct held_page *h, int ms)
{
	struct pollfd pfd = { .fd = h->uffd, .events = POLLIN };
	struct uffd_msg msg;

	return poll(&pfd, 1, ms) == 1 &&
	       read(h->uffd, &msg, sizeof(msg)) == sizeof(msg) &&
	       msg.event == UFFD_EVENT_PAGEFAULT;
}

/* Let the stalled thread go on, with @len bytes of @src on the page. */
static void held_page_fill(struct held_page *h, const void *src, size_t len)
{
	char *buf = calloc(1, h->size);
	struct uffdio_copy copy = {
		.dst = (uintptr_t)h->page, .src = (uintptr_t)buf, .len = h->size,
	};

	memcpy(buf, src, len);
	ioctl(h->uffd, UFFDIO_COPY, &copy);
	free(buf);
}

/* Let the stalled thread go on: the page becomes a zero page. */
static void held_page_release(struct held_page *h)
{
	struct uffdio_zeropage zp = {
		.range = { .start = (uintptr_t)h->page, .len = h->size },
	};

	ioctl(h->uffd, UFFDIO_ZEROPAGE, &zp);
}

static bool readable_within(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, ms) == 1;
}

/* A call made on its own thread, which says on @done when it returned. */

struct call {
	int fd, efd, ret, err;
	int done;		/* an eventfd */
	volatile pid_t tid;
	enum { CALL_SEND, CALL_SELECT, CALL_ASYNC_SELECT, CALL_CLOSE,
	       CALL_SETSOCKOPT } what;
	int level, name;
	char *buf;
	long len;
	pthread_t thread;
};

static void *call_main(void *arg)
{
	struct call *c = arg;

	c->tid = gettid();
	switch (c->what) {
	case CALL_SEND:
		c->ret = send(c->fd, c->buf, c->len, MSG_NOSIGNAL);
		break;
	case CALL_SELECT:
		c->ret = ss_event_select(c->fd, c->efd, SS_FD_READ);
		break;
	case CALL_ASYNC_SELECT:	/* efd: a queue */
		c->ret = ss_async_select(c->fd, c->efd, 1, SS_FD_READ);
		break;
	case CALL_CLOSE:
		c->ret = close(c->fd);
		break;
	case CALL_SETSOCKOPT:
		c->ret = setsockopt(c->fd, c->level, c->name, c->buf, c->len);
		break;
	}
	c->err = errno;
	eventfd_write(c->done, 1);
	return NULL;
}

static int call_start(struct call *c)
{
	c->done = eventfd(0, EFD_CLOEXEC);
	if (c->done < 0)
		return -1;
	return pthread_create(&c->thread, NULL, call_main, c) ? -1 : 0;
}

static bool call_returned_within(struct call *c, int ms)
{
	struct pollfd pfd = { .fd = c->done, .events = POLLIN };

	return poll(&pfd, 1, ms) == 1;
}

/*
 * @c's thread is blocked in its call (asleep, interruptibly or not: a
 * socket's lock is waited for uninterruptibly), within @ms.
 */
static bool call_blocked_within(struct call *c, int ms)
{
	char dir[32], state;

	for (; ms > 0; ms--, usleep(1000)) {
		if (!c->tid)
			continue;
		snprintf(dir, sizeof(dir), "self/task/%d", c->tid);
		state = proc_state_of(dir);
		if (state == 'S' || state == 'D')
			return true;
	}
	return false;
}

static void call_join(struct call *c)
{
	pthread_join(c->thread, NULL);
	close(c->done);
}

/* @c, a send of @h's held page on @fd, started and stalled in its copy. */
static bool send_stalled(struct call *c, int fd, struct held_page *h)
{
	c->fd = fd;
	c->buf = h->page;
	c->len = h->size;
	return !call_start(c) && held_page_faulted(h, WAIT_MS);
}

/* @c (on @fd, with @efd) started, and blocked in its call. */
static bool call_started_blocked(struct call *c, int fd, int efd)
{
	c->fd = fd;
	c->efd = efd;
	return !call_start(c) && call_blocked_within(c, WAIT_MS);
}

TEST(stalled_socket_lock_holds_up_no_other_socket)
{
	int a[2], b[2], c[2], efd;
	struct call send_a = { .what = CALL_SEND };
	struct call select_a = { .what = CALL_SELECT };
	struct call close_b = { .what = CALL_CLOSE };
	struct call select_c = { .what = CALL_SELECT };
	struct held_page h;

	if (held_page_open(&h))
		SKIP(return, "no userfaultfd (errno %d)", errno);
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_GE(efd, 0);
	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, a));
	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, b));
	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, c));
	ASSERT_EQ(0, ss_event_select(b[0], efd, SS_FD_READ));

	/* A send on a[0] stalls in its copy, holding a[0]'s socket lock. */
	ASSERT_TRUE(send_stalled(&send_a, a[0], &h));
	/* A registration on a[0] waits for that lock... */
	ASSERT_TRUE(call_started_blocked(&select_a, a[0], efd));

	/* ...and holds up nobody else. */
	close_b.fd = b[0];
	ASSERT_EQ(0, call_start(&close_b));
	EXPECT_TRUE(call_returned_within(&close_b, WAIT_MS)) {
		TH_LOG("closing another registered socket waited for a[0]'s lock");
	}
	select_c.fd = c[0];
	select_c.efd = efd;
	ASSERT_EQ(0, call_start(&select_c));
	EXPECT_TRUE(call_returned_within(&select_c, WAIT_MS)) {
		TH_LOG("registering another socket waited for a[0]'s lock");
	}

	held_page_release(&h);
	call_join(&send_a);
	call_join(&select_a);
	call_join(&close_b);
	call_join(&select_c);
	EXPECT_EQ(h.size, send_a.ret);
	EXPECT_EQ(0, select_a.ret);
	EXPECT_EQ(0, close_b.ret);
	EXPECT_EQ(0, select_c.ret);
	/* a[0]'s registration took effect once the lock was free. */
	ASSERT_EQ(0, ss_event_select(c[0], efd, 0));
	ASSERT_EQ(h.size, recv(a[1], h.page, h.size, MSG_WAITALL));
	eventfd_read(efd, &(eventfd_t){ 0 });
	ASSERT_EQ(1, send(a[1], "x", 1, 0));
	EXPECT_TRUE(readable_within(efd, WAIT_MS));
	EXPECT_TRUE(peer_eof_within(b[1], WAIT_MS));
	close(a[0]);
	close(a[1]);
	close(b[1]);
	close(c[0]);
	close(c[1]);
	close(efd);
	close(h.uffd);
	munmap(h.base, 2 * h.size);
}

/* messages_posted of the module's status, or -1. */
static long long messages_posted(void)
{
	struct sharedsock_status st;
	int dev = dev_open();
	long long n = -1;

	if (dev >= 0 && !dev_status(dev, &st))
		n = st.messages_posted;
	if (dev >= 0)
		close(dev);
	return n;
}

/*
 * Hazard 8: a registration racing the close of its queue was linked to the
 * queue after the close had cancelled the others, and posted into it
 * forever.  The window is held open on demand: the registration has taken
 * the queue (and let its descriptor go) and waits for the socket's lock,
 * which a send stalled in its copy holds, while the queue is closed.  It
 * must then be refused, and nothing may be posted for the socket.
 */
TEST(select_racing_its_queue_close_is_refused)
{
	struct call send_a = { .what = CALL_SEND };
	struct call select_a = { .what = CALL_ASYNC_SELECT };
	long long posted;
	int a[2], queue, efd;
	struct held_page h;

	if (held_page_open(&h))
		SKIP(return, "no userfaultfd (errno %d)", errno);
	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, a));
	queue = ss_queue_create(0);
	ASSERT_GE(queue, 0);

	/* A send on a[0] stalls in its copy, holding a[0]'s socket lock... */
	ASSERT_TRUE(send_stalled(&send_a, a[0], &h));
	/* ...which the first registration of a[0] waits for. */
	ASSERT_TRUE(call_started_blocked(&select_a, a[0], queue));

	/* The queue's last descriptor goes meanwhile: its file is closed. */
	ASSERT_EQ(0, close(queue));
	held_page_release(&h);
	call_join(&send_a);
	call_join(&select_a);
	EXPECT_EQ(h.size, send_a.ret);
	EXPECT_EQ(-1, select_a.ret);
	EXPECT_EQ(EINVAL, select_a.err);

	/* Nothing is posted for a[0] into the closed queue... */
	ASSERT_EQ(h.size, recv(a[1], h.page, h.size, MSG_WAITALL));
	posted = messages_posted();
	ASSERT_GE(posted, 0);
	ASSERT_EQ(1, send(a[1], "x", 1, 0));
	ASSERT_TRUE(readable_within(a[0], WAIT_MS));
	usleep(100 * 1000);
	EXPECT_EQ(posted, messages_posted());
	/* ...and the socket can be registered again. */
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_GE(efd, 0);
	ASSERT_EQ(0, ss_event_select(a[0], efd, SS_FD_READ));
	EXPECT_TRUE(readable_within(efd, WAIT_MS));
	close(efd);
	close(a[0]);
	close(a[1]);
	close(h.uffd);
	munmap(h.base, 2 * h.size);
}

/* VmallocUsed of /proc/meminfo, in kB, or -1. */
static long vmalloc_used_kb(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmallocUsed: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

struct lister {
	int dev;
	struct sharedsock_list args;
	int ret;
};

static void *lister_main(void *arg)
{
	struct lister *l = arg;

	l->ret = ioctl(l->dev, SHAREDSOCK_IOC_LIST, &l->args);
	return NULL;
}

#define LIST_TOKENS	40	/* more than a batch */

/*
 * A LIST that asks for 2^20 entries over 40 tokens, held in its copy-out
 * by userfaultfd: meanwhile, nothing the size of its request is allocated.
 */
TEST(list_allocates_nothing_by_the_count_asked_for)
{
	struct sharedsock_token_entry *entries;
	struct sharedsock_info info;
	struct lister l = { 0 };
	long before, during;
	struct held_page h;
	pthread_t thread;
	int sv[2], i;

	if (held_page_open(&h))
		SKIP(return, "no userfaultfd (errno %d)", errno);
	before = vmalloc_used_kb();
	if (before < 0)
		SKIP(return, "no VmallocUsed in /proc/meminfo");
	l.dev = dev_open();
	ASSERT_GE(l.dev, 0);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	for (i = 0; i < LIST_TOKENS; i++)
		ASSERT_EQ(0, raw_duplicate(l.dev, sv[0], getpid(), 0, &info));

	/* One entry's room on the ordinary page, the rest on the held one. */
	entries = (void *)(h.page - sizeof(*entries));
	l.args = (struct sharedsock_list){
		.size = sizeof(l.args),
		.kind = SHAREDSOCK_LIST_TOKENS,
		.count = 1 << 20,
		.entries = (uintptr_t)entries,
	};
	ASSERT_EQ(0, pthread_create(&thread, NULL, lister_main, &l));
	ASSERT_TRUE(held_page_faulted(&h, WAIT_MS));
	during = vmalloc_used_kb();
	held_page_release(&h);
	pthread_join(thread, NULL);

	EXPECT_EQ(LIST_TOKENS, l.ret);
	EXPECT_EQ(LIST_TOKENS, l.args.count);
	/* 2^20 entries would be 56 MiB. */
	EXPECT_LT(during - before, 16 * 1024) {
		TH_LOG("VmallocUsed grew by %ld kB during the LIST", during - before);
	}
	close(sv[0]);
	close(sv[1]);
	close(l.dev);
	close(h.uffd);
	munmap(h.base, 2 * h.size);
}

/* Whether LIST still shows a registration of the socket inode @ino. */
static bool registration_listed(int dev, ino_t ino)
{
	unsigned long long inos[256];
	int i, n = registration_inos(dev, inos, 256);

	for (i = 0; i < n && i < 256; i++)
		if (inos[i] == ino)
			return true;
	return n < 0;
}

/* The registration of the socket inode @ino goes within @ms. */
static bool registration_gone_within(int dev, ino_t ino, int ms)
{
	for (; ms > 0; ms -= 10, usleep(10000))
		if (!registration_listed(dev, ino))
			return true;
	return false;
}

/*
 * Register @fd (a connected TCP socket whose peer is @peer) while a
 * setsockopt(@level, @name) of @optlen bytes of @optval is held in the
 * copy of its argument; returns that setsockopt's result, errno in @err.
 * Then checks that events are delivered and that the registration goes
 * with the socket's last close.
 */
static int register_during_setsockopt(struct __test_metadata *_metadata,
				      int fd, int peer, int level, int name,
				      const void *optval, size_t optlen, int *err)
{
	struct call set = { .what = CALL_SETSOCKOPT, .fd = fd, .level = level,
			    .name = name };
	struct call reg = { .what = CALL_SELECT };
	struct stat st;
	struct held_page h;
	int dev, efd, ret;

	if (held_page_open(&h)) {
		*err = ENOSYS;
		return -2;
	}
	dev = dev_open();
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (dev < 0 || efd < 0 || fstat(fd, &st))
		return -2;
	set.buf = h.page;
	set.len = optlen;
	if (call_start(&set) || !held_page_faulted(&h, WAIT_MS))
		return -2;
	/*
	 * Were the argument copied under the socket's lock, the registration
	 * would wait for that lock: it is let go once it waits.
	 */
	reg.fd = fd;
	reg.efd = efd;
	if (call_start(&reg))
		return -2;
	if (!call_returned_within(&reg, 0))
		call_blocked_within(&reg, WAIT_MS);
	held_page_fill(&h, optval, optlen);
	call_join(&set);
	call_join(&reg);
	EXPECT_EQ(0, reg.ret);
	ret = set.ret;
	*err = set.err;

	/* The registration reports... */
	eventfd_read(efd, &(eventfd_t){ 0 });
	EXPECT_EQ(1, send(peer, "x", 1, 0));
	EXPECT_TRUE(readable_within(efd, WAIT_MS));
	/* ...and goes with the socket. */
	EXPECT_TRUE(registration_listed(dev, st.st_ino));
	close(fd);
	EXPECT_TRUE(registration_gone_within(dev, st.st_ino, WAIT_MS)) {
		TH_LOG("the registration outlived its socket");
	}
	close(efd);
	close(dev);
	close(h.uffd);
	munmap(h.base, 2 * h.size);
	return ret;
}

/*
 * A LIST of @kind (entries of @size bytes) started on its own thread, with
 * room for 200 entries of which the first batch (32) lies on the ordinary
 * page before @h's held one: it stalls copying its second batch out,
 * between two holds of its lock.  Returns where its entries go, or NULL.
 */
static void *list_held_in_second_batch(struct lister *l, struct held_page *h,
				       unsigned int kind, size_t size,
				       pthread_t *thread)
{
	void *entries = h->page - 32 * size;

	l->args = (struct sharedsock_list){
		.size = sizeof(l->args), .kind = kind, .count = 200,
		.entries = (uintptr_t)entries,
	};
	if (pthread_create(thread, NULL, lister_main, l) ||
	    !held_page_faulted(h, WAIT_MS))
		return NULL;
	return entries;
}

#define CURSOR_SOCKS	100

/* The index in @inos (of @n) of @ino, or -1. */
static int ino_index(const unsigned long long *inos, int n, unsigned long long ino)
{
	for (int i = 0; i < n; i++)
		if (inos[i] == ino)
			return i;
	return -1;
}

/*
 * Hazard 5, its other half: LIST drops the registrations' lock between its
 * batches.  Held in the copy of its second batch (userfaultfd), with its
 * place on the last registration that batch took, the registrations at and
 * around that place and some further on go; released, it must go on right
 * after its place -- with what is still there, once each -- and not from
 * the start of the list, nor from a registration that is gone.
 */
TEST(list_goes_on_past_registrations_gone_between_batches)
{
	unsigned long long inos[CURSOR_SOCKS], listed[2 * CURSOR_SOCKS];
	struct sharedsock_reg_entry *entries;
	int s[CURSOR_SOCKS], efd, i, ms;
	pthread_t thread;
	struct held_page h;
	struct lister l;
	struct stat st;

	if (held_page_open(&h))
		SKIP(return, "no userfaultfd (errno %d)", errno);
	l.dev = dev_open();
	ASSERT_GE(l.dev, 0);
	/* The suite's other registrations are gone (a UDP6 one at the sweep). */
	for (ms = 3000; registration_inos(l.dev, listed, 1) != 0 && ms > 0; ms -= 50)
		usleep(50 * 1000);
	if (ms <= 0)
		SKIP(return, "other registrations exist");
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_GE(efd, 0);
	for (i = 0; i < CURSOR_SOCKS; i++) {
		s[i] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		ASSERT_GE(s[i], 0);
		ASSERT_EQ(0, ss_event_select(s[i], efd, SS_FD_READ));
		ASSERT_EQ(0, fstat(s[i], &st));
		inos[i] = st.st_ino;
	}

	entries = list_held_in_second_batch(&l, &h, SHAREDSOCK_LIST_REGISTRATIONS,
					    sizeof(*entries), &thread);
	ASSERT_NE(NULL, entries);
	/* Its place is s[63], the last of the second batch: s[62..64] go, and
	 * s[80..89] further on.
	 */
	for (i = 62; i <= 64; i++)
		close(s[i]);
	for (i = 80; i < 90; i++)
		close(s[i]);
	held_page_release(&h);
	pthread_join(thread, NULL);

	/* s[0..63] as they were taken, then s[65..79] and s[90..99]. */
	ASSERT_EQ(64 + 15 + 10, l.ret);
	for (i = 0; i < l.ret; i++)
		listed[i] = entries[i].socket_ino;
	for (i = 0; i < CURSOR_SOCKS; i++) {
		int at = ino_index(listed, l.ret, inos[i]);
		bool gone = i == 64 || (i >= 80 && i < 90);

		EXPECT_EQ(gone ? -1 : (i < 80 ? i - (i > 64) : i - 11), at)
			TH_LOG("s[%d]", i);
	}
	for (i = 0; i < CURSOR_SOCKS; i++)
		if (i < 62 || (i > 64 && (i < 80 || i >= 90)))
			close(s[i]);
	close(efd);
	close(l.dev);
	close(h.uffd);
	munmap(h.base, 2 * h.size);
}

#define CURSOR_TOKENS	100

/*
 * The same for tokens: a LIST of tokens held in its second batch, whose
 * place is the last token that batch took; tokens at and around that place
 * and some further on are revoked.  It must go on right after its place.
 */
TEST(token_list_goes_on_past_tokens_gone_between_batches)
{
	struct sharedsock_info info[CURSOR_TOKENS];
	struct sharedsock_token_entry *entries;
	pthread_t thread;
	struct held_page h;
	struct lister l;
	int sv[2], i, at, ms;

	if (held_page_open(&h))
		SKIP(return, "no userfaultfd (errno %d)", errno);
	l.dev = dev_open();
	ASSERT_GE(l.dev, 0);
	/* Those of earlier tests go with their processes: wait for that. */
	for (ms = 3000; ms > 0; ms -= 50, usleep(50 * 1000)) {
		void *none = NULL;

		i = list_all(l.dev, SHAREDSOCK_LIST_TOKENS, sizeof(*entries), &none);
		free(none);
		if (!i)
			break;
	}
	if (ms <= 0)
		SKIP(return, "other tokens are pending");
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	for (i = 0; i < CURSOR_TOKENS; i++)
		ASSERT_EQ(0, raw_duplicate(l.dev, sv[0], getpid(), 0, &info[i]));

	entries = list_held_in_second_batch(&l, &h, SHAREDSOCK_LIST_TOKENS,
					    sizeof(*entries), &thread);
	ASSERT_NE(NULL, entries);
	for (i = 62; i <= 64; i++)
		EXPECT_EQ(0, raw_revoke(l.dev, &info[i]));
	for (i = 80; i < 90; i++)
		EXPECT_EQ(0, raw_revoke(l.dev, &info[i]));
	held_page_release(&h);
	pthread_join(thread, NULL);

	/* Tokens 0..63 as they were taken, then 65..79 and 90..99. */
	ASSERT_EQ(64 + 15 + 10, l.ret);
	for (at = 0, i = 0; i < CURSOR_TOKENS; i++) {
		if (i == 64 || (i >= 80 && i < 90))
			continue;
		EXPECT_EQ(info[i].id, entries[at].id)
			TH_LOG("token %d at %d", i, at);
		at++;
	}
	close(sv[0]);
	close(sv[1]);
	close(l.dev);
	close(h.uffd);
	munmap(h.base, 2 * h.size);
}

TEST(tls_set_in_flight_at_registration_is_refused)
{
	int probe[2], a[2], err, ret;

	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, probe));
	if (setsockopt(probe[0], IPPROTO_TCP, TCP_ULP, "tls", 3))
		SKIP(return, "no kTLS here (errno %d)", errno);
	close(probe[0]);
	close(probe[1]);
	ASSERT_EQ(0, socket_pair(AF_INET, SOCK_STREAM, a));
	ret = register_during_setsockopt(_metadata, a[0], a[1], IPPROTO_TCP,
					 TCP_ULP, "tls", 4, &err);
	if (ret == -2)
		SKIP(return, "no userfaultfd (errno %d)", err);
	/* kTLS never takes a registered socket. */
	EXPECT_EQ(-1, ret);
	EXPECT_EQ(EEXIST, err);
	close(a[1]);
}

/*
 * An IPv6 socket of @type connected, through an IPv4-mapped address, to
 * an IPv4 socket on the loopback: IPV6_ADDRFORM can convert sv[0].
 */
static int mapped_pair(int type, int sv[2])
{
	struct sockaddr_in in4 = { .sin_family = AF_INET };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };
	socklen_t len4 = sizeof(in4), len6 = sizeof(in6);
	int v4 = socket(AF_INET, type, 0), v6 = socket(AF_INET6, type, 0);
	int peer = -1;

	in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (v4 < 0 || v6 < 0 || bind(v4, (void *)&in4, len4) ||
	    getsockname(v4, (void *)&in4, &len4) ||
	    (type == SOCK_STREAM && listen(v4, 1)))
		return -1;
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &in6.sin6_addr);
	in6.sin6_port = in4.sin_port;
	if (connect(v6, (void *)&in6, len6))
		return -1;
	if (type == SOCK_STREAM) {
		peer = accept(v4, NULL, NULL);
		close(v4);
	} else {
		if (getsockname(v6, (void *)&in6, &len6))
			return -1;
		in4.sin_port = in6.sin6_port;
		peer = connect(v4, (void *)&in4, sizeof(in4)) ? -1 : v4;
	}
	sv[0] = v6;
	sv[1] = peer;
	return peer < 0 ? -1 : 0;
}

TEST(tcp_addrform_in_flight_at_registration_is_refused)
{
	int a[2], err, ret, pf_inet = AF_INET;

	ASSERT_EQ(0, mapped_pair(SOCK_STREAM, a));
	ret = register_during_setsockopt(_metadata, a[0], a[1], IPPROTO_IPV6,
					 IPV6_ADDRFORM, &pf_inet,
					 sizeof(pf_inet), &err);
	if (ret == -2)
		SKIP(return, "no userfaultfd (errno %d)", err);
	/* The module's struct proto is not tcpv6_prot. */
	EXPECT_EQ(-1, ret);
	EXPECT_EQ(EBUSY, err);
	close(a[1]);
}

TEST(udp_addrform_in_flight_leaves_nothing_behind)
{
	int a[2], err, ret, pf_inet = AF_INET, dev;

	ASSERT_EQ(0, mapped_pair(SOCK_DGRAM, a));
	ret = register_during_setsockopt(_metadata, a[0], a[1], IPPROTO_IPV6,
					 IPV6_ADDRFORM, &pf_inet,
					 sizeof(pf_inet), &err);
	if (ret == -2)
		SKIP(return, "no userfaultfd (errno %d)", err);
	/* Converted: the kernel does not ask the registration. */
	EXPECT_EQ(0, ret);
	/* LIST after the socket is gone, its registration too. */
	dev = dev_open();
	ASSERT_LE(0, dev);
	EXPECT_LE(0, registration_inos(dev, (unsigned long long[1]){ 0 }, 1));
	close(dev);
	close(a[1]);
}

TEST_HARNESS_MAIN
