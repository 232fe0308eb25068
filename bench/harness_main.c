// SPDX-License-Identifier: GPL-2.0
/*
 * sharedsock_bench: sharedsock against its peers, measured in the same run.
 * Harness: the command line, the header, and the phases in order, each but
 * unload in a child process with a timeout; then the report.  Measures
 * nothing itself; the families are
 *
 *  micro     (micro.c) the pieces, in one process: each ioctl, fd install,
 *            pipe, SCM_RIGHTS, getrandom, enum vs epoll_wait
 *  handoff   (handoff.c) connected TCP sockets from process A to process B,
 *            until B holds usable descriptors: sharedsock vs SCM_RIGHTS vs
 *            pidfd_getfd; 1, 16 and 64 at a time
 *  event     (event.c) ping-pong latency: eventfd wake + enum FD_READ +
 *            recv vs epoll_wait + recv; bursts of 32 messages per wake-up
 *  overhead  (overhead.c) the CPU cost a registration adds to every
 *            received packet, with an A/A control
 *  memory    (memory.c) kernel memory per registration (/proc/slabinfo)
 *  scale     (scale.c) redeem with 1k / 100k / 1M pending tokens, kernel
 *            memory per token, the reap when a target with 1M tokens exits
 *  trace     (trace.c, opt-in) function_graph of the module's hot paths
 *  unload    (unload.c) delete_module with 100k pending tokens, then
 *            reload (last)
 *
 * The peers of a comparison run on CPU 0 (see README.md: under QEMU TCG a
 * cross-CPU wake-up costs milliseconds); "xcpu" adds cross-CPU variants.
 * Every phase but unload runs in a child process and writes its results to
 * shared memory.  The parent never calls the library, so that at the end
 * it holds no /dev/sharedsock descriptor and can unload the module.
 *
 * Human-readable lines start with "# "; the CSV is printed between
 * "### CSV BEGIN" and "### CSV END".  Exit status: 0 when everything ran
 * (targets missed included), 1 on errors, 2 on bad arguments.
 */
#include "harness.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>

struct options opt = {
	.runs = 7,
	.phases = PH_ALL,
	.handoff_iters = 3000,
	.latency_iters = 2000,
	.stream_msgs = 20000,
	.cpu_msgs = 32768,
	.levels = { 1000, 100000, 1000000 },
	.nlevels = 3,
	.sample = 2000,
	.regs = 4096,
	.unload_tokens = 100000,
	.micro_ops = 5000,
	.phase_timeout = 900,
	.ko = "/lib/modules/sharedsock.ko",
};

static const char *const phase_names[] = {
	"handoff", "event", "memory", "scale", "micro", "unload", "overhead", "trace",
};
#define NPHASE_NAMES (sizeof(phase_names) / sizeof(phase_names[0]))

/* ------------------------------------------------------------------ */
/* The command line                                                    */

static void usage(void)
{
	say("usage: sharedsock_bench [OPTION]...   (options may also be joined by commas)");
	say("  runs=N               repeated runs (default %d, at most %d)", opt.runs, MAX_RUNS);
	say("  only=LIST, skip=LIST phases, ':'-separated: micro handoff event overhead memory scale");
	say("                       unload, and trace (which only runs when asked for)");
	say("  quick                3 runs, about a tenth of the work, levels 1k:100k");
	say("  trace                also print a function_graph trace of the module's hot paths");
	say("  xcpu                 also run handoff and event tests with the peers on two CPUs");
	say("                       (under QEMU TCG these measure the emulator's wake-ups)");
	say("  handoff-iters=N      single-socket handoffs per run, mechanism and placement");
	say("                       (default %ld; batches of n do 4N/n)", opt.handoff_iters);
	say("  latency-iters=N      ping-pong round trips per run and variant (default %ld)",
	    opt.latency_iters);
	say("  stream-msgs=N        64 B messages per run in the streaming tests (default %ld)",
	    opt.stream_msgs);
	say("  cpu-msgs=N           messages per run in the one-thread test (default %ld)",
	    opt.cpu_msgs);
	say("  levels=A:B:...       pending-token levels (default 1000:100000:1000000)");
	say("  sample=N             redeems timed per run and level (default %ld)", opt.sample);
	say("  regs=N               registrations for the memory figure (default %ld)", opt.regs);
	say("  unload-tokens=N      tokens pending at unload (default %ld)", opt.unload_tokens);
	say("  micro-ops=N          operations per run in the micro phase (default %ld)",
	    opt.micro_ops);
	say("  ko=PATH              module to reload after unloading (default %s)", opt.ko);
	say("  phase-timeout=S      kill a phase after S seconds (default %u)", opt.phase_timeout);
}

static unsigned int parse_phases(const char *list)
{
	unsigned int mask = 0;
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", list);
	for (char *p = strtok_r(buf, ":+/", &save); p; p = strtok_r(NULL, ":+/", &save)) {
		size_t k;

		for (k = 0; k < NPHASE_NAMES; k++)
			if (!strcmp(p, phase_names[k]))
				break;
		if (k == NPHASE_NAMES) {
			say("error: unknown phase '%s'", p);
			exit(2);
		}
		mask |= 1U << k;
	}
	return mask;
}

static long parse_num(const char *key, const char *val, long min)
{
	char *end;
	long v = strtol(val, &end, 10);

	if (*end == 'k' || *end == 'K')
		v *= 1000, end++;
	else if (*end == 'M')
		v *= 1000000, end++;
	if (*end || v < min) {
		say("error: bad value for %s: '%s'", key, val);
		exit(2);
	}
	return v;
}

static void set_quick(void)
{
	opt.runs = 3;
	opt.handoff_iters /= 10;
	opt.latency_iters /= 10;
	opt.stream_msgs /= 10;
	opt.cpu_msgs /= 8;
	opt.levels[0] = 1000;
	opt.levels[1] = 100000;
	opt.nlevels = 2;
	opt.sample = 400;
	opt.regs = 1024;
	opt.unload_tokens = 20000;
	opt.micro_ops = 1000;
}

/* An option without a value; false if @arg is none. */
static bool parse_flag(const char *arg)
{
	if (!strcmp(arg, "help") || !strcmp(arg, "h")) {
		usage();
		exit(0);
	} else if (!strcmp(arg, "trace")) {
		opt.phases |= PH_TRACE;
	} else if (!strcmp(arg, "xcpu")) {
		opt.xcpu = true;
	} else if (!strcmp(arg, "quick")) {
		set_quick();
	} else {
		return false;
	}
	return true;
}

static void parse_levels(const char *arg, char *val)
{
	char *save = NULL;

	opt.nlevels = 0;
	for (char *p = strtok_r(val, ":+/", &save); p && opt.nlevels < MAX_LEVELS;
	     p = strtok_r(NULL, ":+/", &save))
		opt.levels[opt.nlevels++] = parse_num(arg, p, 1);
	if (!opt.nlevels)
		parse_num(arg, "", 1);
}

/* The counts: name=N, at least min. */
static const struct {
	const char *name;
	long *val;
	long min;
} counts[] = {
	{ "handoff-iters", &opt.handoff_iters, 1 },
	{ "latency-iters", &opt.latency_iters, 1 },
	{ "stream-msgs", &opt.stream_msgs, 1 },
	{ "cpu-msgs", &opt.cpu_msgs, 32 },
	{ "sample", &opt.sample, 1 },
	{ "regs", &opt.regs, 1 },
	{ "unload-tokens", &opt.unload_tokens, 1 },
	{ "micro-ops", &opt.micro_ops, 1 },
};

/* An option with a value; exits with 2 for an unknown one. */
static void parse_valued(const char *arg, char *val)
{
	for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++)
		if (!strcmp(arg, counts[k].name)) {
			*counts[k].val = parse_num(arg, val, counts[k].min);
			return;
		}
	if (!strcmp(arg, "runs")) {
		opt.runs = (int)parse_num(arg, val, 1);
		if (opt.runs > MAX_RUNS)
			opt.runs = MAX_RUNS;
	} else if (!strcmp(arg, "only")) {
		opt.phases = parse_phases(val);
	} else if (!strcmp(arg, "skip")) {
		opt.phases &= ~parse_phases(val);
	} else if (!strcmp(arg, "levels")) {
		parse_levels(arg, val);
	} else if (!strcmp(arg, "ko")) {
		opt.ko = strdup(val);
	} else if (!strcmp(arg, "phase-timeout")) {
		opt.phase_timeout = (unsigned int)parse_num(arg, val, 1);
	} else {
		say("error: unknown option '%s' (try --help)", arg);
		exit(2);
	}
}

static void parse_option(char *arg)
{
	char *val = strchr(arg, '=');

	while (*arg == '-')
		arg++;
	if (val)
		*val++ = 0;
	if (!*arg || parse_flag(arg))
		return;
	if (!val) {
		say("error: option '%s' needs a value", arg);
		exit(2);
	}
	parse_valued(arg, val);
}

/* ------------------------------------------------------------------ */
/* The header                                                          */

static void read_first(const char *path, const char *prefix, char *out, size_t len)
{
	char line[512];
	FILE *f = fopen(path, "re");

	snprintf(out, len, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *p = line;

		if (prefix) {
			if (strncmp(line, prefix, strlen(prefix)))
				continue;
			p = strchr(line, ':');
			if (!p)
				continue;
			p++;
			while (*p == ' ' || *p == '\t')
				p++;
		}
		p[strcspn(p, "\n")] = 0;
		snprintf(out, len, "%.*s", (int)len - 1, p);
		break;
	}
	fclose(f);
}

static void print_header(void)
{
	struct utsname u;
	char cpu[160], cs[64], ver[32] = "?";
	struct sharedsock_status st;
	int dev = open(SHAREDSOCK_DEVICE_PATH, O_RDWR | O_CLOEXEC);

	if (dev >= 0) {
		if (!dev_status(dev, &st))
			snprintf(ver, sizeof(ver), "%s", st.version);
		close(dev);
	}
	uname(&u);
	read_first("/proc/cpuinfo", "model name", cpu, sizeof(cpu));
	read_first("/sys/devices/system/clocksource/clocksource0/current_clocksource", NULL,
		   cs, sizeof(cs));
	say("sharedsock benchmark");
	say("kernel: %s %s (%s)   module: %s", u.sysname, u.release, u.machine, ver);
	say("cpu: %s, %ld online   clocksource: %s", cpu, sysconf(_SC_NPROCESSORS_ONLN), cs);
	say("runs: %d; each value is the median over the runs, with min and max; a ratio is", opt.runs);
	say("  this / peer, computed per run on values measured in the same run, then median");
	say("  (min-max); \"[medians]\" marks ratios of medians measured at different times");
	say("settings: handoff-iters=%ld latency-iters=%ld stream-msgs=%ld cpu-msgs=%ld sample=%ld",
	    opt.handoff_iters, opt.latency_iters, opt.stream_msgs, opt.cpu_msgs, opt.sample);
	say("targets: handoff x64 <= 0.8x SCM_RIGHTS; x1 <= 1.2x SCM_RIGHTS; event latency");
	say("  <= 1.2x epoll; per-packet overhead < 5%%; redeem at max level <= 1.2x of min;");
	say("  <= 128 B per token; <= 256 B per registration");
}

/* ------------------------------------------------------------------ */
/* The phases                                                          */

static const struct phase {
	unsigned int bit;
	int (*run)(void);	/* in a child */
	void (*after)(void);	/* then in the parent */
} phases[] = {
	{ PH_MICRO, phase_micro, NULL },
	{ PH_HANDOFF, phase_handoff, NULL },
	{ PH_EVENT, phase_event, NULL },
	{ PH_OVERHEAD, phase_overhead, NULL },
	{ PH_MEMORY, phase_memory, NULL },
	{ PH_SCALE, phase_scale, scale_reap },
	{ PH_TRACE, phase_trace, NULL },
};

static int run_phase(const struct phase *ph)
{
	const char *name = phase_names[__builtin_ctz(ph->bit)];
	uint64_t t0 = now_ns();
	pid_t pid;
	int rc;

	if (!(opt.phases & ph->bit))
		return 0;
	say("phase %s ...", name);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return fail("fork");
	if (pid == 0) {
		alarm(opt.phase_timeout);
		rc = ph->run();
		fflush(stdout);
		_exit(rc ? 1 : 0);
	}
	rc = wait_exit(pid);
	if (ph->after)
		ph->after();
	say("phase %s: %s in %.1f s", name, rc ? "FAILED" : "done", (now_ns() - t0) / 1e9);
	if (rc) {
		say("error: phase %s exited with status %d%s", name, rc,
		    rc == 128 + SIGALRM ? " (phase-timeout)" : "");
		return -1;
	}
	return 0;
}

/* Every phase asked for, unload last (in this process); returns the errors. */
static int run_phases(void)
{
	int errors = 0;
	uint64_t t;

	for (size_t k = 0; k < sizeof(phases) / sizeof(phases[0]); k++)
		errors += run_phase(&phases[k]) < 0;
	if (!(opt.phases & PH_UNLOAD))
		return errors;
	t = now_ns();
	say("phase unload ...");
	if (phase_unload()) {
		say("error: phase unload failed");
		errors++;
	}
	say("phase unload: done in %.1f s", (now_ns() - t) / 1e9);
	return errors;
}

int main(int argc, char **argv)
{
	int errors;
	uint64_t t0 = now_ns();

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		fail("mmap");
		return 1;
	}
	memset(sh, 0, sizeof(*sh));
	for (int i = 1; i < argc; i++) {
		char *save = NULL;

		for (char *p = strtok_r(argv[i], ", ", &save); p; p = strtok_r(NULL, ", ", &save))
			parse_option(p);
	}
	targets_set_levels();
	print_header();
	if (access(SHAREDSOCK_DEVICE_PATH, R_OK | W_OK)) {
		fail("%s", SHAREDSOCK_DEVICE_PATH);
		return 1;
	}
	errors = run_phases();

	say("%s", "");
	print_header();
	print_table();
	print_targets();
	for (int i = 0; i < sh->nnotes; i++)
		say("note: %s", sh->notes[i]);
	say("total time %.1f s; %d error(s)", (now_ns() - t0) / 1e9, errors);
	print_csv();
	return errors ? 1 : 0;
}
