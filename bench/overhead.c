// SPDX-License-Identifier: GPL-2.0
/*
 * Overhead family: the CPU cost a registration adds to every received
 * packet.  One thread sends bursts of 32 messages of 64 B on a loopback
 * pair and reads them back, so the whole receive path (softirq, wake-up
 * callbacks, recv) runs with no scheduling in between.  Three classes of
 * fresh connections: readers registered (FD_READ), not registered, and not
 * registered again as an A/A control.  Rows overhead.cpu.*.
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#define CPU_CONNS 8
#define CPU_BURST 32
#define CPU_CLASSES 3

/* One burst from @w, read back from @r; @t gets its time. */
static int cpu_burst(int w, int r, char *buf, uint64_t *t)
{
	uint64_t t0 = now_ns();

	for (int i = 0; i < CPU_BURST; i++)
		if (send(w, buf, MSG_SIZE, 0) != MSG_SIZE)
			return fail("send");
	for (long left = (long)CPU_BURST * MSG_SIZE; left > 0;) {
		ssize_t n = recv(r, buf, MSG_SIZE, 0);

		if (n < 0 && errno == EAGAIN)
			continue;
		if (n <= 0)
			return fail("recv");
		left -= n;
	}
	*t = now_ns() - t0;
	return 0;
}

/*
 * Bursts rotate over the classes, and within a class over its connections,
 * so that a slower moment of the host weighs on all; @v gets each class's
 * median burst, per message.
 */
static int ev_cpu_cost(int (*wfd)[CPU_CONNS], int (*rfd)[CPU_CONNS], long msgs, double *v)
{
	char buf[MSG_SIZE];
	size_t nb = (size_t)(msgs + CPU_BURST - 1) / CPU_BURST, k = 0;
	uint64_t *t[CPU_CLASSES];

	for (int j = 0; j < CPU_CLASSES; j++) {
		t[j] = calloc(nb, sizeof(uint64_t));
		if (!t[j])
			return fail("calloc");
	}
	memset(buf, 'c', sizeof(buf));
	for (long done = 0; done < msgs; done += CPU_BURST, k++)
		for (int j = 0; j < CPU_CLASSES; j++) {
			int cls = (int)((k + (size_t)j) % CPU_CLASSES);
			int c = (int)((k / CPU_CLASSES) % CPU_CONNS);

			if (cpu_burst(wfd[cls][c], rfd[cls][c], buf, &t[cls][k]))
				return -1;
		}
	for (int j = 0; j < CPU_CLASSES; j++) {
		v[j] = median_u64(t[j], k) / CPU_BURST;
		free(t[j]);
	}
	return 0;
}

/*
 * One run of the per-packet overhead: fresh pairs (so that where their
 * memory lands, which biases a class in software emulation, changes from
 * run to run), the first class's readers registered by this process, the
 * other two classes never registered.
 */
static int overhead_run(long msgs, double *cv)
{
	int w[CPU_CLASSES][CPU_CONNS], r[CPU_CLASSES][CPU_CONNS], evfd, made = 0, ret = -1;

	evfd = eventfd(0, EFD_CLOEXEC);
	if (evfd < 0)
		return fail("eventfd");
	for (; made < CPU_CLASSES * CPU_CONNS; made++) {
		int i = made / CPU_CONNS, c = made % CPU_CONNS;

		if (tcp_pair(&w[i][c], &r[i][c]))
			goto out;
		if (i == 0 ? ss_event_select(r[i][c], evfd, SS_FD_READ) :
			     set_nonblock(r[i][c], true)) {
			fail(i == 0 ? "ss_event_select" : "O_NONBLOCK");
			made++;
			goto out;
		}
	}
	if (!ev_cpu_cost(w, r, 1024, cv))		/* warm-up */
		ret = ev_cpu_cost(w, r, msgs, cv);
out:
	while (made--) {
		close(w[made / CPU_CONNS][made % CPU_CONNS]);
		close(r[made / CPU_CONNS][made % CPU_CONNS]);
	}
	close(evfd);
	return ret;
}

/* Per-packet overhead of a registration, one thread. */
int phase_overhead(void)
{
	int reg = row_new("overhead.cpu.registered", "send+recv 64 B, reader registered",
			  "ns/msg");
	int plain = row_new("overhead.cpu.plain", "send+recv 64 B, not registered", "ns/msg");
	int pct = row_new("overhead.cpu.percent", "per-packet overhead of a registration", "%");
	int ctl = row_new("overhead.cpu.control",
			  "  control: another unregistered pair vs the first", "%");
	double cv[CPU_CLASSES];

	if (pin_cpu(0))
		return fail("sched_setaffinity");
	for (int run = 0; run < opt.runs; run++) {
		if (overhead_run(opt.cpu_msgs, cv))
			return -1;
		row_add(reg, cv[0]);
		row_add(plain, cv[1]);
		row_ratio(reg, plain, cv[0] / cv[1]);
		row_add(pct, (cv[0] / cv[1] - 1) * 100);
		row_add(ctl, (cv[2] / cv[1] - 1) * 100);
	}
	return 0;
}
