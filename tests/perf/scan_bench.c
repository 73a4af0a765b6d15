/*
 * Scan-engine microbenchmark for spec/egress.md §23 (make perf; not a
 * test): MB/s per core of the full default outbound set (every §8.2
 * rule, 8 known secrets in every form) and of the inbound injection
 * scanner, on a generated mixed corpus of JSON, prose and source, with
 * no hits and with hits.  Time is the thread's CPU time, so the figure
 * is per core; each case runs REPS times and the best run counts, as
 * other work on the machine only ever slows a run down.
 *
 * Usage: scan_bench [MiB]   (corpus size, default 32)
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/scan.h"
#include "common/scan_inject.h"

#define PIECE	(1024 * 1024)		/* a buffered body (§10.1) */
#define SPIECE	(16 * 1024)		/* a TLS record's worth, streaming */
#define REPS	3

static uint32_t	 bx = 2463534242u;

static uint32_t
brnd(void)
{
	bx ^= bx << 13;
	bx ^= bx >> 17;
	bx ^= bx << 5;
	return (bx);
}

static const char *const words[] = {
	"the", "of", "and", "to", "in", "is", "that", "for", "it", "as",
	"with", "was", "on", "be", "at", "by", "this", "had", "not", "are",
	"but", "from", "or", "have", "an", "they", "which", "one", "you",
	"were", "all", "we", "when", "your", "can", "said", "there", "use",
	"each", "she", "how", "their", "if", "will", "up", "other", "about",
	"out", "many", "then", "them", "these", "so", "some", "her", "would",
	"make", "like", "him", "into", "time", "has", "look", "two", "more",
	"write", "go", "see", "number", "no", "way", "could", "people", "my",
	"than", "first", "water", "been", "call", "who", "oil", "its", "now",
	"find", "long", "down", "day", "did", "get", "come", "made", "may",
	"part", "server", "request", "config", "token", "value", "system",
	"user", "data", "error", "return", "function", "string", "buffer",
	"session", "password", "environment", "secret", "access", "key",
	"instructions", "previous", "ignore", "command", "tool", "send",
};
#define NWORDS	(sizeof(words) / sizeof(words[0]))

static size_t
put(char *b, size_t at, size_t cap, const char *s)
{
	size_t	 n = strlen(s);

	if (at + n > cap)
		n = cap - at;
	memcpy(b + at, s, n);
	return (at + n);
}

/* Prose, JSON and C-like source, in random order of paragraphs. */
static void
gen_corpus(char *b, size_t cap)
{
	char	 tmp[256];
	size_t	 at = 0, i, k;

	while (at < cap) {
		switch (brnd() % 3) {
		case 0:
			k = 8 + brnd() % 40;
			for (i = 0; i < k && at < cap; i++) {
				at = put(b, at, cap, words[brnd() % NWORDS]);
				at = put(b, at, cap, brnd() % 9 ? " " : ". ");
			}
			at = put(b, at, cap, "\n\n");
			break;
		case 1:
			snprintf(tmp, sizeof(tmp), "{\"id\": %u, \"name\": "
			    "\"%s_%s\", \"count\": %u, \"ok\": %s, \"ts\": "
			    "\"2024-0%u-1%uT1%u:0%u:00Z\"},\n", brnd() % 100000,
			    words[brnd() % NWORDS],
			    words[brnd() % NWORDS], brnd() % 1000,
			    brnd() % 2 ? "true" : "false", 1 + brnd() % 9,
			    brnd() % 9, brnd() % 9, brnd() % 9);
			at = put(b, at, cap, tmp);
			break;
		default:
			snprintf(tmp, sizeof(tmp), "\tif (%s->%s_%s != NULL &&"
			    " n < %u) {\n\t\t%s(%s, %u);\n\t\treturn (-1);"
			    "\n\t}\n",
			    words[brnd() % NWORDS], words[brnd() % NWORDS],
			    words[brnd() % NWORDS], brnd() % 4096,
			    words[brnd() % NWORDS], words[brnd() % NWORDS],
			    brnd() % 64);
			at = put(b, at, cap, tmp);
			break;
		}
	}
}

/* A token of some rule or a secret every ~4 KiB. */
static void
add_hits(char *b, size_t cap, char sec[8][49])
{
	static const char *const pre[] = { "ghp_", "AKIA", "xoxb-", "npm_",
	    "sk-proj-" };
	const char	*al = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	size_t		 at, i, k;

	for (at = 1000; at + 200 < cap; at += 3000 + brnd() % 2000) {
		b[at++] = ' ';
		if (brnd() % 3 == 0) {
			k = brnd() % 8;
			memcpy(b + at, sec[k], strlen(sec[k]));
			at += strlen(sec[k]);
		} else {
			k = brnd() % 5;
			memcpy(b + at, pre[k], strlen(pre[k]));
			at += strlen(pre[k]);
			for (i = 0; i < (k == 1 ? 16 : 48); i++)
				b[at++] = al[brnd() % 32];
		}
		b[at++] = ' ';
	}
}

static double
cpu_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

static double
bench_out_once(struct cm_scanset *set, struct cm_scanner *sc, const char *b,
    size_t n, unsigned views, size_t *nhits)
{
	struct cm_scan_opts	 o = { CM_SCAN_SURF_BODY,
	    CM_SCAN_DEFAULT_DETECTORS, views };
	struct cm_scan_hits	 h;
	const char		*why = NULL;
	double			 t0, t1;
	size_t			 at;

	cm_scan_hits_init(&h);
	*nhits = 0;
	t0 = cpu_now();
	for (at = 0; at < n; at += PIECE) {
		cm_scan_hits_clear(&h);
		if (cm_scan_buf(sc, set, &o, b + at, n - at < PIECE ? n - at :
		    PIECE, &h, &why) == -1) {
			fprintf(stderr, "scan: %s\n", why);
			exit(1);
		}
		*nhits += h.n;
	}
	t1 = cpu_now();
	cm_scan_hits_free(&h);
	return ((double)n / (1024.0 * 1024.0) / (t1 - t0));
}

static double
bench_stream_once(struct cm_scanset *set, struct cm_scanner *sc, const char *b,
    size_t n, size_t *nhits)
{
	struct cm_scan_opts	 o = { CM_SCAN_SURF_BODY,
	    CM_SCAN_DEFAULT_DETECTORS, 0 };
	struct cm_scan_stream	*st;
	struct cm_scan_hits	 h;
	const char		*why = NULL;
	uint64_t		 safe;
	double			 t0, t1;
	size_t			 at;

	cm_scan_hits_init(&h);
	t0 = cpu_now();
	st = cm_scan_stream_new(set, &o);
	for (at = 0; at < n; at += SPIECE)
		(void)cm_scan_stream_feed(st, sc, b + at, n - at < SPIECE ?
		    n - at : SPIECE, &h, &safe, &why);
	(void)cm_scan_stream_finish(st, sc, &h, &safe, &why);
	t1 = cpu_now();
	*nhits = h.n;
	cm_scan_stream_free(st);
	cm_scan_hits_free(&h);
	return ((double)n / (1024.0 * 1024.0) / (t1 - t0));
}

static double
bench_in_once(struct cm_scanset *set, struct cm_scanner *sc, const char *b,
    size_t n, enum cm_inject_format fmt, int *sev)
{
	struct cm_inject_result	 r;
	const char		*why = NULL;
	double			 t0, t1;
	size_t			 at;

	*sev = 0;
	t0 = cpu_now();
	for (at = 0; at < n; at += PIECE) {
		if (cm_inject_scan(set, sc, fmt, CM_INJECT_UTF8, b + at,
		    n - at < PIECE ? n - at : PIECE, &r, &why) == -1) {
			fprintf(stderr, "inject: %s\n", why);
			exit(1);
		}
		if ((int)r.severity > *sev)
			*sev = (int)r.severity;
	}
	t1 = cpu_now();
	return ((double)n / (1024.0 * 1024.0) / (t1 - t0));
}

static double
bench_out(struct cm_scanset *set, struct cm_scanner *sc, const char *b,
    size_t n, unsigned views, size_t *nhits)
{
	double	 r, best = 0;
	int	 i;

	for (i = 0; i < REPS; i++)
		if ((r = bench_out_once(set, sc, b, n, views, nhits)) > best)
			best = r;
	return (best);
}

static double
bench_stream(struct cm_scanset *set, struct cm_scanner *sc, const char *b,
    size_t n, size_t *nhits)
{
	double	 r, best = 0;
	int	 i;

	for (i = 0; i < REPS; i++)
		if ((r = bench_stream_once(set, sc, b, n, nhits)) > best)
			best = r;
	return (best);
}

static double
bench_in(struct cm_scanset *set, struct cm_scanner *sc, const char *b,
    size_t n, enum cm_inject_format fmt, int *sev)
{
	double	 r, best = 0;
	int	 i;

	for (i = 0; i < REPS; i++)
		if ((r = bench_in_once(set, sc, b, n, fmt, sev)) > best)
			best = r;
	return (best);
}

int
main(int argc, char **argv)
{
	struct cm_secret	 v[8];
	struct cm_scan_config	 cfg;
	struct cm_scanset	*set;
	struct cm_scanner	*sc;
	static char		 sec[8][49];
	const char		*why = NULL, *al = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_/+";
	char			*clean, *hits, name[8][16];
	size_t			 mib = 32, n, i, k, nh;
	double			 r;
	int			 sev;

	if (argc > 1)
		mib = strtoul(argv[1], NULL, 10);
	if (mib == 0 || mib > 1024)
		mib = 32;
	n = mib * 1024 * 1024;
	/* 8 fake secrets of 24-48 bytes, some with reserved bytes. */
	for (i = 0; i < 8; i++) {
		size_t len = 24 + (i * 3) % 25;

		snprintf(sec[i], sizeof(sec[i]), "bench%zu-", i);
		for (k = strlen(sec[i]); k < len; k++)
			sec[i][k] = al[brnd() % (i % 2 ? 66 : 62)];
		sec[i][len] = '\0';
		snprintf(name[i], sizeof(name[i]), "EGRESS_TOKEN_%zu", i);
		v[i] = (struct cm_secret){ name[i], (unsigned char *)sec[i],
		    len };
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.inbound = 1;
	if ((set = cm_scanset_new(&cfg, v, 8, &why)) == NULL ||
	    (sc = cm_scanner_new()) == NULL) {
		fprintf(stderr, "scan_bench: %s\n", why);
		return (1);
	}
	clean = malloc(n);
	hits = malloc(n);
	gen_corpus(clean, n);
	memcpy(hits, clean, n);
	add_hits(hits, n, sec);
	printf("scan_bench: %zu MiB mixed corpus, %zu rules, %zu known "
	    "secrets, longest match %zu bytes\n", mib, cm_scan_nrules(),
	    cm_scanset_nsecrets(set), cm_scanset_max_match(set));
	printf("%-44s %10s %8s %s\n", "case", "MB/s/core", "hits", "target");
	(void)bench_out(set, sc, clean, n < PIECE * 4 ? n : PIECE * 4, 0, &nh);
	r = bench_out(set, sc, clean, n, 0, &nh);
	printf("%-44s %10.1f %8zu %s\n", "outbound, no hits (1 MiB buffers)", r,
	    nh, r >= 200 ? ">= 200 ok" : ">= 200 MISSED");
	r = bench_out(set, sc, hits, n, 0, &nh);
	printf("%-44s %10.1f %8zu\n", "outbound, hits every ~4 KiB", r, nh);
	r = bench_stream(set, sc, clean, n, &nh);
	printf("%-44s %10.1f %8zu\n", "outbound stream, 16 KiB pieces, no hits",
	    r, nh);
	r = bench_stream(set, sc, hits, n, &nh);
	printf("%-44s %10.1f %8zu\n", "outbound stream, 16 KiB pieces, hits", r,
	    nh);
	r = bench_out(set, sc, clean, n, CM_SCAN_VIEW_PERCENT |
	    CM_SCAN_VIEW_JSON | CM_SCAN_VIEW_FOLD, &nh);
	printf("%-44s %10.1f %8zu\n", "outbound + 3 views (ASCII), no hits", r,
	    nh);
	r = bench_in(set, sc, clean, n, CM_INJECT_TEXT, &sev);
	printf("%-44s %10.1f %8s %s\n", "inbound text", r,
	    sev == 2 ? "block" : sev == 1 ? "warn" : "none",
	    r >= 100 ? ">= 100 ok" : ">= 100 MISSED");
	r = bench_in(set, sc, clean, n, CM_INJECT_JSON, &sev);
	printf("%-44s %10.1f %8s\n", "inbound JSON", r,
	    sev == 2 ? "block" : sev == 1 ? "warn" : "none");
	r = bench_in(set, sc, clean, n, CM_INJECT_HTML, &sev);
	printf("%-44s %10.1f %8s\n", "inbound HTML", r,
	    sev == 2 ? "block" : sev == 1 ? "warn" : "none");
	free(clean);
	free(hits);
	cm_scanner_free(sc);
	cm_scanset_unref(set);
	return (0);
}
