// SPDX-License-Identifier: GPL-2.0
/*
 * Harness: the report at the end of a run from the shared rows: the table
 * (median, min, max over the runs, ratios to peers), the targets with
 * PASS/MISS, and the CSV between "### CSV BEGIN" and "### CSV END".
 * Measures nothing itself.
 */
#include "harness.h"

#include <stdio.h>
#include <string.h>

struct target {
	const char *what;
	const char *row;
	const char *peer;	/* ratio to this row's median; NULL: the row's median */
	double limit;
	bool strict;		/* value < limit rather than <= */
	const char *unit;
};

static struct target targets[] = {
	{ "batched handoff (x64), sharedsock vectored / SCM_RIGHTS per socket",
	  "handoff.64.sharedsock_vec", "handoff.64.scm_rights", 0.8, false, "x" },
	{ "single handoff, sharedsock / SCM_RIGHTS",
	  "handoff.1.sharedsock", "handoff.1.scm_rights", 1.2, false, "x" },
	{ "event latency, sharedsock / epoll",
	  "event.latency.sharedsock", "event.latency.epoll", 1.2, false, "x" },
	{ "per-packet overhead of a registration",
	  "overhead.cpu.percent", NULL, 5.0, true, "%" },
	{ "redeem with most pending / fewest pending",
	  NULL, NULL, 1.2, false, "x" },	/* rows filled in from the levels */
	{ "kernel memory per pending token",
	  "mem.token.slab", NULL, 128, false, " B" },
	{ "kernel memory per registration",
	  "mem.reg.slab", NULL, 256, false, " B" },
};
#define NTARGETS (sizeof(targets) / sizeof(targets[0]))
#define TARGET_REDEEM 4

static char redeem_hi[48], redeem_lo[48];

void targets_set_levels(void)
{
	long lo, hi;

	if (!opt.nlevels)
		return;
	lo = hi = opt.levels[0];
	for (int i = 1; i < opt.nlevels; i++) {
		if (opt.levels[i] < lo)
			lo = opt.levels[i];
		if (opt.levels[i] > hi)
			hi = opt.levels[i];
	}
	snprintf(redeem_hi, sizeof(redeem_hi), "scale.redeem.%ld", hi);
	snprintf(redeem_lo, sizeof(redeem_lo), "scale.redeem.%ld", lo);
	if (hi != lo) {
		targets[TARGET_REDEEM].row = redeem_hi;
		targets[TARGET_REDEEM].peer = redeem_lo;
	}
}

/* Measured value of a target; false when it was not measured. */
static bool target_value(const struct target *t, double *v)
{
	int i = t->row ? row_find(t->row) : -1, p;
	double mn, mx;

	if (i < 0 || !sh->rows[i].n)
		return false;
	if (!t->peer) {
		stats(sh->rows[i].v, sh->rows[i].n, v, &mn, &mx);
		return true;
	}
	p = row_find(t->peer);
	for (int k = 0; p >= 0 && k < sh->rows[i].npeers; k++)
		if (sh->rows[i].peer[k] == p)
			return row_ratio_stats(i, k, v, &mn, &mx);
	return false;
}

static bool target_met(const struct target *t, double v)
{
	return t->strict ? v < t->limit : v <= t->limit;
}

/* The target attached to row @i compared with peer @p (-1: none). */
static const struct target *target_of(int i, int p)
{
	for (size_t k = 0; k < NTARGETS; k++) {
		const struct target *t = &targets[k];

		if (!t->row || strcmp(t->row, sh->rows[i].name))
			continue;
		if (!t->peer ? p < 0 : p >= 0 && !strcmp(t->peer, sh->rows[p].name))
			return t;
	}
	return NULL;
}

static const char *fmtv(double v, char *buf, size_t len)
{
	double a = v < 0 ? -v : v;

	if (a >= 100)
		snprintf(buf, len, "%.0f", v);
	else if (a >= 10)
		snprintf(buf, len, "%.1f", v);
	else
		snprintf(buf, len, "%.2f", v);
	return buf;
}

static const char *peer_short(const char *name)
{
	const char *dot = strrchr(name, '.');

	return dot ? dot + 1 : name;
}

static const struct {
	const char *sect, *what;
} sections[] = {
	{ "micro", "the pieces, in one process (no wake-ups)" },
	{ "handoff", "A -> B until B holds a usable fd; A and B both on CPU 0" },
	{ "handoff-xcpu", "the same with A on CPU 0, B on CPU 1 (a cross-CPU wake-up each)" },
	{ "event", "sender P and registrant/reader Q: threads, both on CPU 0" },
	{ "event-xcpu", "threads, P on CPU 0, Q on CPU 1" },
	{ "event-proc", "processes, both on CPU 0" },
	{ "overhead", "per packet; 1 thread: 32 sends then 32 recvs, 8 fresh connections each per run" },
	{ "overhead-xcpu", "threads: writer on CPU 0, blocking reader on CPU 1" },
	{ "mem", "kernel memory from /proc/slabinfo deltas (booted with slab_nomerge)" },
	{ "reg", "registration calls (UDP sockets, one eventfd)" },
	{ "scale", "tokens of one UDP socket exported to this process; median of" },
	{ "unload", "delete_module(O_NONBLOCK) with no /dev/sharedsock fd open, reload" },
};

static void row_section(const struct row *r, char *sect, size_t len)
{
	const char *dot = strchr(r->name, '.');

	snprintf(sect, len, "%.*s", dot ? (int)(dot - r->name) : (int)strlen(r->name), r->name);
}

/* Rows grouped by section, sections in order of first appearance. */
static int ordered_rows(int *out)
{
	bool done[MAX_ROWS] = { false };
	int n = 0;

	for (int i = 0; i < sh->nrows; i++) {
		char si[48], sj[48];

		if (done[i])
			continue;
		row_section(&sh->rows[i], si, sizeof(si));
		for (int j = i; j < sh->nrows; j++) {
			row_section(&sh->rows[j], sj, sizeof(sj));
			if (!done[j] && !strcmp(si, sj)) {
				done[j] = true;
				out[n++] = j;
			}
		}
	}
	return n;
}

/* ------------------------------------------------------------------ */
/* The table                                                           */

static void print_section_header(const char *sect)
{
	const char *what = "";

	for (size_t k = 0; k < sizeof(sections) / sizeof(sections[0]); k++)
		if (!strcmp(sections[k].sect, sect))
			what = sections[k].what;
	say("%s", "");
	if (!strcmp(sect, "scale"))
		say("[scale] %s %ld-redeem blocks", what, 100L);
	else
		say("[%s] %s", sect, what);
}

/* Row @i: its values, and a line per peer with the ratio. */
static void print_row(int i)
{
	struct row *r = &sh->rows[i];
	char b1[32], b2[32], b3[32], b4[32], b5[32], b6[32];
	double med, mn, mx;

	stats(r->v, r->n, &med, &mn, &mx);
	if (!r->npeers) {
		say("%-50s %-9s %9s %9s %9s %4d", r->label, r->unit,
		    fmtv(med, b1, 32), fmtv(mn, b2, 32), fmtv(mx, b3, 32), r->n);
		return;
	}
	for (int k = 0; k < r->npeers; k++) {
		double rm, rmin, rmax;
		char ratio[96];

		if (row_ratio_stats(i, k, &rm, &rmin, &rmax))
			snprintf(ratio, sizeof(ratio), "%sx vs %s (%s-%s)%s",
				 fmtv(rm, b4, 32), peer_short(sh->rows[r->peer[k]].name),
				 fmtv(rmin, b5, 32), fmtv(rmax, b6, 32),
				 r->nr[k] ? "" : " [medians]");
		else
			snprintf(ratio, sizeof(ratio), "n/a");
		if (!k)
			say("%-50s %-9s %9s %9s %9s %4d  %s", r->label, r->unit,
			    fmtv(med, b1, 32), fmtv(mn, b2, 32), fmtv(mx, b3, 32), r->n,
			    ratio);
		else
			say("%-50s %-9s %9s %9s %9s %4s  %s", "", "", "", "", "", "", ratio);
	}
}

void print_table(void)
{
	char prev[48] = "";
	int order[MAX_ROWS], n = ordered_rows(order);

	say("%-50s %-9s %9s %9s %9s %4s  %s", "measurement", "unit", "median", "min", "max",
	    "runs", "ratio to peer: median (min-max)");
	for (int o = 0; o < n; o++) {
		struct row *r = &sh->rows[order[o]];
		char sect[48];

		if (!r->n)
			continue;
		row_section(r, sect, sizeof(sect));
		if (strcmp(sect, prev)) {
			print_section_header(sect);
			snprintf(prev, sizeof(prev), "%s", sect);
		}
		print_row(order[o]);
	}
}

int print_targets(void)
{
	int met = 0, total = 0;
	char b1[32], b2[32];

	say("%s", "");
	say("%-62s %10s %10s  %s", "targets", "measured", "target", "verdict");
	for (size_t k = 0; k < NTARGETS; k++) {
		const struct target *t = &targets[k];
		double v;
		char meas[40], lim[40];

		snprintf(lim, sizeof(lim), "%s%s%s", t->strict ? "< " : "<= ",
			 fmtv(t->limit, b2, 32), t->unit);
		if (!target_value(t, &v)) {
			say("%-62s %10s %10s  %s", t->what, "-", lim, "not measured");
			continue;
		}
		snprintf(meas, sizeof(meas), "%s%s", fmtv(v, b1, 32), t->unit);
		total++;
		met += target_met(t, v);
		say("%-62s %10s %10s  %s", t->what, meas, lim, target_met(t, v) ? "PASS" : "MISS");
	}
	say("%d of %d targets met", met, total);
	return 0;
}

/* ------------------------------------------------------------------ */
/* The CSV                                                             */

static void csv_field(const char *s)
{
	bool quote = strpbrk(s, ",\"") != NULL;

	if (!quote) {
		fputs(s, stdout);
		return;
	}
	putchar('"');
	for (; *s; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

/* The CSV line of row @i compared with its @k-th peer (or none). */
static void csv_line(int i, int k)
{
	struct row *r = &sh->rows[i];
	const struct target *t = target_of(i, r->npeers ? r->peer[k] : -1);
	double med, mn, mx, rm, rmin, rmax, tv;

	stats(r->v, r->n, &med, &mn, &mx);
	printf("%s,%s,%.6g,%.6g,%.6g,%d,", r->name, r->unit, med, mn, mx, r->n);
	if (r->npeers && row_ratio_stats(i, k, &rm, &rmin, &rmax))
		printf("%s,%.6g,%.6g,%.6g,", sh->rows[r->peer[k]].name, rm, rmin, rmax);
	else if (r->npeers)
		printf("%s,,,,", sh->rows[r->peer[k]].name);
	else
		printf(",,,,");
	if (t && target_value(t, &tv))
		printf("%s%g,%s,", t->strict ? "<" : "<=", t->limit,
		       target_met(t, tv) ? "PASS" : "MISS");
	else
		printf(",,");
	csv_field(r->label + strspn(r->label, " "));
	putchar('\n');
}

void print_csv(void)
{
	int order[MAX_ROWS], n = ordered_rows(order);

	printf("### CSV BEGIN\n");
	printf("name,unit,median,min,max,runs,peer,ratio,ratio_min,ratio_max,target,verdict,label\n");
	for (int o = 0; o < n; o++) {
		struct row *r = &sh->rows[order[o]];
		int lines = r->npeers ? r->npeers : 1;

		if (!r->n)
			continue;
		for (int k = 0; k < lines; k++)
			csv_line(order[o], k);
	}
	printf("### CSV END\n");
	fflush(stdout);
}
