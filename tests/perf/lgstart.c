/*
 * loadgen --mode start: the runtime rows of spec/bundle.md §8 and the
 * start-to-ready row of spec/egress.md §23.  Each of --runs runs execs
 * the command after "--", polls GET /readyz on --control every 1 ms
 * until it answers 200 (exec to ready), optionally waits --rss-after
 * seconds and reads VmRSS from /proc/PID/status (idle RSS), then sends
 * SIGTERM and polls every 1 ms until the process is gone (stop when
 * idle).  The daemon's stdout goes to our stderr, so stdout holds only
 * the one JSON report: every run, and the medians.  Exit 1 when any
 * run failed to become ready or to stop in time.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "common/http.h"
#include "tests/perf/loadgen.h"

struct bbp_lgstart_run {
	double		 ready_ms;	/* -1: never ready */
	double		 stop_ms;	/* -1: did not stop in time */
	long		 rss_kb;	/* -1: not measured */
	long		 threads;
	int		 status;	/* the exit code, 128+N for signal N */
};

static void
bbp_lgstart_sleep_until(uint64_t when)
{
	uint64_t	 now = bbp_loadgen_now_us();
	struct timespec	 ts;

	if (now >= when)
		return;
	ts.tv_sec = (time_t)((when - now) / 1000000);
	ts.tv_nsec = (long)((when - now) % 1000000) * 1000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* One poll: 1 when /readyz answered 200, 0 otherwise. */
static int
bbp_lgstart_ready(const struct bbp_opts *o, struct cm_http_parser *p,
    struct evbuffer *in)
{
	static const char req[] = "GET /readyz HTTP/1.1\r\nHost: control\r\n"
	    "User-Agent: bb-loadgen\r\nConnection: close\r\n\r\n";
	struct timeval	 tv = { 0, BBP_POLL_IO_MS * 1000 };
	const char	*why;
	int		 fd, n, rc = 0, ok = 0;

	cm_http_parser_reset(p);
	(void)evbuffer_drain(in, evbuffer_get_length(in));
	fd = socket(o->control.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return (0);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	/* On loopback a refused connect answers at once. */
	if (connect(fd, (const struct sockaddr *)&o->control,
	    o->control_len) == -1 ||
	    send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) !=
	    (ssize_t)(sizeof(req) - 1)) {
		(void)close(fd);
		return (0);
	}
	while (evbuffer_get_length(in) <= BBP_HEAD_BYTES) {
		if ((n = evbuffer_read(in, fd, BBP_READ_BYTES)) <= 0)
			break;
		if ((rc = cm_http_head_read(p, in, &why)) != 0)
			break;
	}
	if (rc == 1 && cm_http_msg_status(cm_http_parser_msg(p)) == 200)
		ok = 1;
	(void)close(fd);
	return (ok);
}

static long
bbp_lgstart_status_kb(pid_t pid, const char *key)
{
	char	 path[64], line[256];
	size_t	 klen = strlen(key);
	long	 v = -1;
	FILE	*f;

	(void)snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	(void)fclose(f);
	return (v);
}

/* Polls every 1 ms until pid exits; the ms it took, -1 past the limit. */
static double
bbp_lgstart_reap(pid_t pid, uint64_t t0, int *status)
{
	uint64_t	 tick = t0;
	int		 st;
	pid_t		 r;

	for (;;) {
		r = waitpid(pid, &st, WNOHANG);
		if (r == pid) {
			*status = WIFEXITED(st) ? WEXITSTATUS(st) :
			    128 + WTERMSIG(st);
			return ((double)(bbp_loadgen_now_us() - t0) / 1e3);
		}
		if (r == -1 && errno != EINTR) {
			*status = -1;
			return (-1);
		}
		if (bbp_loadgen_now_us() - t0 > BBP_START_TIMEOUT_MS * 1000) {
			(void)kill(pid, SIGKILL);
			(void)waitpid(pid, &st, 0);
			*status = 128 + SIGKILL;
			return (-1);
		}
		tick += BBP_POLL_US;
		bbp_lgstart_sleep_until(tick);
	}
}

static int
bbp_lgstart_one(const struct bbp_opts *o, struct cm_http_parser *p,
    struct evbuffer *in, struct bbp_lgstart_run *r)
{
	uint64_t	 t0, tick, ready;
	pid_t		 pid;
	int		 st;

	r->ready_ms = r->stop_ms = -1;
	r->rss_kb = r->threads = -1;
	r->status = -1;
	t0 = bbp_loadgen_now_us();
	if ((pid = fork()) == -1)
		return (-1);
	if (pid == 0) {
		/* Our stdout is the report; the daemon's goes with stderr. */
		(void)dup2(STDERR_FILENO, STDOUT_FILENO);
		(void)execvp(o->argv[0], o->argv);
		fprintf(stderr, "loadgen: %s: %s\n", o->argv[0],
		    strerror(errno));
		_exit(127);
	}
	for (tick = t0;; ) {
		if (bbp_lgstart_ready(o, p, in))
			break;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			r->status = WIFEXITED(st) ? WEXITSTATUS(st) :
			    128 + WTERMSIG(st);
			fprintf(stderr, "loadgen: the daemon exited (%d) "
			    "before it was ready\n", r->status);
			return (-1);
		}
		if (bbp_loadgen_now_us() - t0 > BBP_START_TIMEOUT_MS * 1000) {
			fprintf(stderr, "loadgen: not ready in %d ms\n",
			    BBP_START_TIMEOUT_MS);
			(void)kill(pid, SIGKILL);
			(void)waitpid(pid, &st, 0);
			return (-1);
		}
		/* Every 1 ms from exec, however long a poll took. */
		tick += BBP_POLL_US;
		bbp_lgstart_sleep_until(tick);
	}
	ready = bbp_loadgen_now_us();
	r->ready_ms = (double)(ready - t0) / 1e3;
	if (o->rss_after_s > 0) {
		bbp_lgstart_sleep_until(ready + (uint64_t)(o->rss_after_s *
		    1e6));
		r->rss_kb = bbp_lgstart_status_kb(pid, "VmRSS");
		r->threads = bbp_lgstart_status_kb(pid, "Threads");
	}
	t0 = bbp_loadgen_now_us();
	(void)kill(pid, SIGTERM);
	r->stop_ms = bbp_lgstart_reap(pid, t0, &r->status);
	return (r->stop_ms < 0 ? -1 : 0);
}

static int
bbp_lgstart_cmp(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return (x < y ? -1 : x > y);
}

/* The median of the n values that are >= 0; -1 when there are none. */
static double
bbp_lgstart_median(double *v, int n)
{
	int	 i, k = 0;

	for (i = 0; i < n; i++)
		if (v[i] >= 0)
			v[k++] = v[i];
	if (k == 0)
		return (-1);
	qsort(v, (size_t)k, sizeof(*v), bbp_lgstart_cmp);
	return (k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2);
}

int
bbp_lgstart_main(const struct bbp_opts *o)
{
	struct bbp_lgstart_run	 runs[BBP_MAX_RUNS];
	double			 rd[BBP_MAX_RUNS], sd[BBP_MAX_RUNS];
	double			 rss[BBP_MAX_RUNS];
	struct cm_http_parser	*p;
	struct evbuffer		*in;
	json_t			*j, *a;
	int			 i, failed = 0;

	p = cm_http_parser_new(CM_HTTP_RESPONSE, NULL);
	in = evbuffer_new();
	if (p == NULL || in == NULL || (a = json_array()) == NULL)
		return (1);
	for (i = 0; i < o->runs; i++) {
		if (bbp_lgstart_one(o, p, in, &runs[i]) == -1)
			failed++;
		rd[i] = runs[i].ready_ms;
		sd[i] = runs[i].stop_ms;
		rss[i] = (double)runs[i].rss_kb;
		(void)json_array_append_new(a, json_pack("{s:f,s:f,s:I,s:I,"
		    "s:i}", "ready_ms", runs[i].ready_ms, "stop_ms",
		    runs[i].stop_ms, "rss_kb", (json_int_t)runs[i].rss_kb,
		    "threads", (json_int_t)runs[i].threads, "exit",
		    runs[i].status));
	}
	j = json_pack("{s:s?,s:i,s:i,s:f,s:f,s:f,s:o}", "label", o->label,
	    "runs", o->runs, "failed", failed, "ready_ms_median",
	    bbp_lgstart_median(rd, o->runs), "stop_ms_median",
	    bbp_lgstart_median(sd, o->runs), "rss_kb_median",
	    bbp_lgstart_median(rss, o->runs), "each", a);
	if (j != NULL) {
		(void)json_dumpf(j, stdout, JSON_COMPACT |
		    JSON_REAL_PRECISION(6));
		fputc('\n', stdout);
	}
	json_decref(j);
	cm_http_parser_free(p);
	evbuffer_free(in);
	return (failed > 0);
}
