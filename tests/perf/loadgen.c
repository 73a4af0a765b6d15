/*
 * loadgen: the load client of `make perf`.
 *
 *   loadgen --connect ADDR:PORT [--tunnel HOST:PORT] --sni NAME
 *	[--host NAME] [--path P] [--cafile F] [--mode M] [--conns N]
 *	[--threads T] [--duration S] [--warmup S] [--rate R]
 *	[--hold S] [--concurrency K] [--ready-file F] [--label L]
 *   loadgen --mode start --control ADDR:PORT [--runs N]
 *	[--rss-after S] -- COMMAND [ARG...]
 *
 * --connect is the address dialled: the proxy, or the origin when
 * there is no --tunnel.  With --tunnel each connection first sends
 * "CONNECT HOST:PORT" and expects 200; TLS then runs inside, with --sni
 * as SNI and as the name the certificate must carry (--cafile holds
 * the trusted CA: the proxy's when bumping, the origin's directly).
 *
 * Modes: keepalive (default): --conns connections, GETs back to back.
 * new: every request on a new connection (dial, CONNECT, handshake,
 * GET with Connection: close); its latency counts from the dial.
 * rate: --conns connections sending --rate requests/s in total, evenly
 * spread; latency counts from when a request was due, so a proxy that
 * falls behind shows it (no coordinated omission).  idle: --conns
 * tunnels, at most --concurrency being set up at once, each does one
 * GET and is then held for --hold seconds (or until SIGTERM); once all
 * are held --ready-file gets {"held","failed"}, so the proxy's RSS can
 * be read.  start: see lgstart.c.
 *
 * Responses complete within [warmup, warmup + duration) are counted.
 * One JSON object goes to stdout: requests, rps, errors, p50/p90/p99/
 * p99.9/max latency in ms, tunnels set up, late (rate) and held/
 * failed/dropped (idle).  Exit 0 unless the run could not start.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/time.h>

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <event2/util.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/util.h"
#include "tests/perf/loadgen.h"

static void	 bbp_loadgen_usage(int rc) __attribute__((noreturn));

static struct bbp_thread bbp_loadgen_threads[BBP_MAX_THREADS];
static int	 bbp_loadgen_nthreads;

static const struct option bbp_loadgen_long[] = {
	{ "mode",		required_argument, NULL, 'm' },
	{ "connect",		required_argument, NULL, 'c' },
	{ "tunnel",		required_argument, NULL, 'T' },
	{ "sni",		required_argument, NULL, 's' },
	{ "host",		required_argument, NULL, 'H' },
	{ "path",		required_argument, NULL, 'p' },
	{ "cafile",		required_argument, NULL, 'a' },
	{ "conns",		required_argument, NULL, 'n' },
	{ "threads",		required_argument, NULL, 't' },
	{ "duration",		required_argument, NULL, 'd' },
	{ "warmup",		required_argument, NULL, 'w' },
	{ "rate",		required_argument, NULL, 'r' },
	{ "hold",		required_argument, NULL, 'h' },
	{ "concurrency",	required_argument, NULL, 'k' },
	{ "ready-file",		required_argument, NULL, 'f' },
	{ "label",		required_argument, NULL, 'l' },
	{ "control",		required_argument, NULL, 'C' },
	{ "runs",		required_argument, NULL, 'R' },
	{ "rss-after",		required_argument, NULL, 'S' },
	{ "help",		no_argument,	   NULL, '?' },
	{ NULL,			0,		   NULL, 0 },
};

static void
bbp_loadgen_usage(int rc)
{
	fprintf(rc == 0 ? stdout : stderr,
	    "usage: loadgen --connect ADDR:PORT [--tunnel HOST:PORT] "
	    "--sni NAME\n"
	    "           [--host NAME] [--path P] [--cafile F]"
	    " [--mode keepalive|new|rate|idle]\n"
	    "           [--conns N] [--threads T] [--duration S]"
	    " [--warmup S] [--rate R]\n"
	    "           [--hold S] [--concurrency K] [--ready-file F]"
	    " [--label L]\n"
	    "       loadgen --mode start --control ADDR:PORT [--runs N]"
	    " [--rss-after S]\n"
	    "           -- COMMAND [ARG...]\n");
	exit(rc);
}

uint64_t
bbp_loadgen_now_us(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
}

void
bbp_loadgen_error(struct bbp_thread *t, const char *what, const char *detail)
{
	if (t->err[0] == '\0')
		(void)snprintf(t->err, sizeof(t->err), "%s: %s", what,
		    detail != NULL ? detail : "failed");
}

static double
bbp_loadgen_num(const char *s, double lo, double hi)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "loadgen: %s: not a number in [%g, %g]\n", s,
		    lo, hi);
		exit(2);
	}
	return (v);
}

static void
bbp_loadgen_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	int	 n = (int)sizeof(*ss);

	memset(ss, 0, sizeof(*ss));
	if (evutil_parse_sockaddr_port(s, (struct sockaddr *)ss, &n) != 0) {
		fprintf(stderr, "loadgen: %s: not a numeric ADDR:PORT\n", s);
		exit(2);
	}
	*len = (socklen_t)n;
}

static void
bbp_loadgen_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bbp_thread	*t = arg;

	(void)fd;
	(void)what;
	t->stopping = 1;
	(void)event_base_loopbreak(t->base);
}

/* SIGTERM/SIGINT (on thread 0): every thread stops and reports. */
static void
bbp_loadgen_signal_cb(evutil_socket_t fd, short what, void *arg)
{
	int	 i;

	(void)fd;
	(void)what;
	(void)arg;
	for (i = 0; i < bbp_loadgen_nthreads; i++)
		(void)event_base_loopbreak(bbp_loadgen_threads[i].base);
}

void
bbp_loadgen_idle_ready(struct bbp_thread *t)
{
	const struct bbp_opts	*o = t->o;
	struct timeval		 tv;
	char			 buf[128];
	FILE			*f;

	(void)snprintf(buf, sizeof(buf), "{\"held\":%d,\"failed\":%d}\n",
	    t->held, t->failed);
	if (o->ready_file != NULL) {
		char	 tmp[4096];

		/* By rename, so a poller never reads half of it. */
		(void)snprintf(tmp, sizeof(tmp), "%s.tmp", o->ready_file);
		if ((f = fopen(tmp, "w")) != NULL) {
			(void)fputs(buf, f);
			if (fclose(f) == 0)
				(void)rename(tmp, o->ready_file);
		}
	}
	fprintf(stderr, "loadgen: idle: %s", buf);
	tv.tv_sec = (time_t)o->hold_s;
	tv.tv_usec = (suseconds_t)((o->hold_s - (double)tv.tv_sec) * 1e6);
	(void)evtimer_add(t->stop, &tv);
}

static void *
bbp_loadgen_run(void *arg)
{
	struct bbp_thread	*t = arg;
	const struct bbp_opts	*o = t->o;
	struct timeval		 tv;
	uint64_t		 now, until;
	int			 i;

	now = bbp_loadgen_now_us();
	if (o->mode == BBP_M_IDLE) {
		/* Setting up may take this long; the hold starts after. */
		until = BBP_START_TIMEOUT_MS * 6 * 1000;
		t->in_setup = 0;
		while (t->next_idle < t->nconns &&
		    t->in_setup < o->concurrency) {
			t->in_setup++;
			bbp_lgconn_start(t, t->next_idle++);
		}
	} else {
		until = o->end_us > now ? o->end_us - now : 0;
		for (i = 0; i < t->nconns; i++)
			bbp_lgconn_start(t, i);
	}
	if (t->stop != NULL && !evtimer_pending(t->stop, NULL)) {
		tv.tv_sec = (time_t)(until / 1000000);
		tv.tv_usec = (suseconds_t)(until % 1000000);
		(void)evtimer_add(t->stop, &tv);
	}
	(void)event_base_dispatch(t->base);
	t->stopping = 1;
	t->end = bbp_loadgen_now_us();
	bbp_lgconn_free_all(t);
	return (NULL);
}

static SSL_CTX *
bbp_loadgen_ctx(const struct bbp_opts *o)
{
	static const unsigned char alpn[] = "\x08http/1.1";
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return (NULL);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (o->cafile != NULL &&
	    SSL_CTX_load_verify_locations(ctx, o->cafile, NULL) != 1) {
		fprintf(stderr, "loadgen: %s: cannot load\n", o->cafile);
		SSL_CTX_free(ctx);
		return (NULL);
	}
	/* As curl does: http/1.1 offered, so the bump answers it. */
	(void)SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1);
	/* 1,000 held tunnels: our side's buffers need not cost anything. */
	if (o->mode == BBP_M_IDLE)
		(void)SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	/* No client session cache: every new tunnel is a full handshake. */
	(void)SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	return (ctx);
}

static const char *
bbp_loadgen_mode_name(enum bbp_mode m)
{
	static const char *const names[] = {
		[BBP_M_KEEPALIVE] = "keepalive", [BBP_M_NEW] = "new",
		[BBP_M_RATE] = "rate", [BBP_M_IDLE] = "idle",
		[BBP_M_START] = "start",
	};

	return (names[m]);
}

static void
bbp_loadgen_report(const struct bbp_opts *o)
{
	struct bbp_hist	*h;
	struct bbp_thread *t;
	struct rusage	 ru;
	json_t		*j;
	uint64_t	 ok = 0, ok_all = 0, err = 0, err_all = 0, tun = 0;
	uint64_t	 bytes = 0;
	uint64_t	 late = 0, dropped = 0, last = 0;
	const char	*first = NULL;
	double		 win;
	int		 i, held = 0, failed = 0;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return;
	for (i = 0; i < bbp_loadgen_nthreads; i++) {
		t = &bbp_loadgen_threads[i];
		bbp_lghist_merge(h, &t->hist);
		ok += t->ok;
		ok_all += t->ok_all;
		err += t->errors;
		err_all += t->errors_all;
		tun += t->tunnels;
		bytes += t->body_bytes;
		late += t->late;
		dropped += t->dropped;
		held += t->held;
		failed += t->failed;
		if (t->end > last)
			last = t->end;
		if (first == NULL && t->err[0] != '\0')
			first = t->err;
	}
	/* A run cut short by a signal counts over the time it had. */
	if (last > o->end_us)
		last = o->end_us;
	win = last > o->rec_us ? (double)(last - o->rec_us) / 1e6 : 0;
	j = json_pack("{s:s?,s:s,s:i,s:i,s:f,s:I,s:I,s:f,s:I,s:I,s:f,s:f,"
	    "s:f,s:f,s:f,s:f,s:I,s:I,s:f,s:I}",
	    "label", o->label, "mode", bbp_loadgen_mode_name(o->mode),
	    "conns", o->conns, "threads", o->threads, "duration_s", win,
	    "requests", (json_int_t)ok, "requests_total", (json_int_t)ok_all,
	    "rps", win > 0 ? (double)ok / win : 0,
	    "errors", (json_int_t)err, "errors_total", (json_int_t)err_all,
	    "p50_ms", bbp_lghist_quantile(h, 0.50) / 1e3,
	    "p90_ms", bbp_lghist_quantile(h, 0.90) / 1e3,
	    "p99_ms", bbp_lghist_quantile(h, 0.99) / 1e3,
	    "p999_ms", bbp_lghist_quantile(h, 0.999) / 1e3,
	    "max_ms", h->max / 1e3,
	    "mean_ms", h->count > 0 ? (double)h->sum / (double)h->count / 1e3 :
	    0, "tunnels", (json_int_t)tun, "body_bytes", (json_int_t)bytes,
	    "rate_target", o->rate, "late", (json_int_t)late);
	/* Our own cost: the client shares the machine with what it loads. */
	if (j != NULL && getrusage(RUSAGE_SELF, &ru) == 0 && ok_all > 0)
		(void)json_object_set_new(j, "client_cpu_us_per_req", json_real(
		    ((double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec) *
		    1e6 / (double)ok_all + ((double)ru.ru_utime.tv_usec +
		    (double)ru.ru_stime.tv_usec) / (double)ok_all));
	if (j != NULL && o->mode == BBP_M_IDLE)
		(void)json_object_update_new(j, json_pack("{s:i,s:i,s:I}",
		    "held", held, "failed", failed, "dropped",
		    (json_int_t)dropped));
	if (j != NULL && first != NULL)
		(void)json_object_set_new(j, "first_error", json_string(first));
	if (j != NULL) {
		(void)json_dumpf(j, stdout, JSON_COMPACT |
		    JSON_REAL_PRECISION(6));
		fputc('\n', stdout);
		(void)fflush(stdout);
	}
	json_decref(j);
	free(h);
}

static int
bbp_loadgen_mode(const char *s)
{
	if (strcmp(s, "keepalive") == 0)
		return (BBP_M_KEEPALIVE);
	if (strcmp(s, "new") == 0)
		return (BBP_M_NEW);
	if (strcmp(s, "rate") == 0)
		return (BBP_M_RATE);
	if (strcmp(s, "idle") == 0)
		return (BBP_M_IDLE);
	if (strcmp(s, "start") == 0)
		return (BBP_M_START);
	fprintf(stderr, "loadgen: %s: unknown mode\n", s);
	exit(2);
}

static void
bbp_loadgen_build(struct bbp_opts *o)
{
	const char	*host = o->host != NULL ? o->host : o->sni;
	int		 n;

	n = asprintf(&o->request, "GET %s HTTP/1.1\r\nHost: %s\r\n"
	    "User-Agent: bb-loadgen\r\nAccept: */*\r\n%s\r\n", o->path, host,
	    o->mode == BBP_M_NEW ? "Connection: close\r\n" : "");
	if (n < 0)
		exit(1);
	o->request_len = (size_t)n;
	if (o->tunnel != NULL) {
		n = asprintf(&o->connect, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n"
		    "User-Agent: bb-loadgen\r\n\r\n", o->tunnel, o->tunnel);
		if (n < 0)
			exit(1);
		o->connect_len = (size_t)n;
	}
}

int
main(int argc, char **argv)
{
	static struct bbp_opts	 o;
	struct event_config	*cfg;
	struct event		*sigs[2] = { NULL, NULL };
	struct bbp_thread	*t;
	struct rlimit		 rl;
	pthread_t		 tids[BBP_MAX_THREADS];
	SSL_CTX			*ctx;
	uint64_t		 now;
	int			 ch, i, first = 0, have_dial = 0, rc = 0;

	o.mode = BBP_M_KEEPALIVE;
	o.path = "/bytes/1024";
	o.conns = 8;
	o.threads = 1;
	o.concurrency = BBP_DEF_CONCURRENCY;
	o.duration_s = 5;
	o.warmup_s = 1;
	o.hold_s = 30;
	o.runs = 5;
	while ((ch = getopt_long(argc, argv, "", bbp_loadgen_long, NULL)) !=
	    -1) {
		switch (ch) {
		case 'm': o.mode = bbp_loadgen_mode(optarg); break;
		case 'c':
			bbp_loadgen_addr(optarg, &o.dial, &o.dial_len);
			have_dial = 1;
			break;
		case 'T': o.tunnel = optarg; break;
		case 's': o.sni = optarg; break;
		case 'H': o.host = optarg; break;
		case 'p': o.path = optarg; break;
		case 'a': o.cafile = optarg; break;
		case 'n': o.conns = (int)bbp_loadgen_num(optarg, 1,
		    BBP_MAX_CONNS); break;
		case 't': o.threads = (int)bbp_loadgen_num(optarg, 1,
		    BBP_MAX_THREADS); break;
		case 'd': o.duration_s = bbp_loadgen_num(optarg, 0.1, 3600);
		    break;
		case 'w': o.warmup_s = bbp_loadgen_num(optarg, 0, 600); break;
		case 'r': o.rate = bbp_loadgen_num(optarg, 1, 1e7); break;
		case 'h': o.hold_s = bbp_loadgen_num(optarg, 0, 3600); break;
		case 'k': o.concurrency = (int)bbp_loadgen_num(optarg, 1,
		    BBP_MAX_CONNS); break;
		case 'f': o.ready_file = optarg; break;
		case 'l': o.label = optarg; break;
		case 'C':
			bbp_loadgen_addr(optarg, &o.control, &o.control_len);
			break;
		case 'R': o.runs = (int)bbp_loadgen_num(optarg, 1,
		    BBP_MAX_RUNS); break;
		case 'S': o.rss_after_s = bbp_loadgen_num(optarg, 0, 600);
		    break;
		default: bbp_loadgen_usage(2);
		}
	}
	(void)signal(SIGPIPE, SIG_IGN);
	if (o.mode == BBP_M_START) {
		if (o.control_len == 0 || optind >= argc)
			bbp_loadgen_usage(2);
		o.argv = argv + optind;
		return (bbp_lgstart_main(&o));
	}
	if (optind != argc || !have_dial || o.sni == NULL ||
	    (o.mode == BBP_M_RATE && o.rate <= 0))
		bbp_loadgen_usage(2);
	/* Idle mode counts held tunnels on one loop; signals end the hold. */
	if (o.mode == BBP_M_IDLE)
		o.threads = 1;
	if (o.threads > o.conns)
		o.threads = o.conns;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	bbp_loadgen_build(&o);
	if (evthread_use_pthreads() == -1 || (ctx = bbp_loadgen_ctx(&o)) ==
	    NULL) {
		fprintf(stderr, "loadgen: setup failed\n");
		return (1);
	}

	now = bbp_loadgen_now_us();
	o.t0_us = now;
	if (o.mode == BBP_M_IDLE) {
		o.rec_us = now;
		o.end_us = UINT64_MAX;
	} else {
		o.rec_us = now + (uint64_t)(o.warmup_s * 1e6);
		o.end_us = o.rec_us + (uint64_t)(o.duration_s * 1e6);
		/* Rate: tunnels first, then a half warm-up of traffic. */
		o.sched_us = now + (uint64_t)(o.warmup_s * 0.5e6);
	}
	bbp_loadgen_nthreads = o.threads;
	for (i = 0; i < o.threads; i++) {
		t = &bbp_loadgen_threads[i];
		t->id = i;
		t->o = &o;
		t->ctx = ctx;
		t->first = first;
		t->nconns = o.conns / o.threads + (i < o.conns % o.threads);
		first += t->nconns;
		/* Rate mode's schedule wants timers finer than epoll's 1 ms. */
		if ((cfg = event_config_new()) == NULL)
			return (1);
		(void)event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
		t->base = event_base_new_with_config(cfg);
		event_config_free(cfg);
		if (t->base == NULL || (t->stop = evtimer_new(t->base,
		    bbp_loadgen_stop_cb, t)) == NULL ||
		    bbp_lgconn_init(t) == -1) {
			fprintf(stderr, "loadgen: out of memory\n");
			return (1);
		}
	}
	t = &bbp_loadgen_threads[0];
	sigs[0] = evsignal_new(t->base, SIGTERM, bbp_loadgen_signal_cb, NULL);
	sigs[1] = evsignal_new(t->base, SIGINT, bbp_loadgen_signal_cb, NULL);
	for (i = 0; i < 2; i++)
		if (sigs[i] != NULL)
			(void)evsignal_add(sigs[i], NULL);
	for (i = 1; i < o.threads; i++)
		if (pthread_create(&tids[i], NULL, bbp_loadgen_run,
		    &bbp_loadgen_threads[i]) != 0) {
			fprintf(stderr, "loadgen: pthread_create failed\n");
			return (1);
		}
	(void)bbp_loadgen_run(&bbp_loadgen_threads[0]);
	for (i = 1; i < o.threads; i++)
		(void)pthread_join(tids[i], NULL);
	bbp_loadgen_report(&o);
	for (i = 0; i < 2; i++)
		if (sigs[i] != NULL)
			event_free(sigs[i]);
	for (i = 0; i < o.threads; i++) {
		t = &bbp_loadgen_threads[i];
		event_free(t->stop);
		event_base_free(t->base);
	}
	SSL_CTX_free(ctx);
	free(o.request);
	free(o.connect);
	return (rc);
}
