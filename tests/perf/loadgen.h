/*
 * loadgen: the load client of `make perf` (spec/egress.md §23,
 * spec/bundle.md §8).  Keeps N TLS tunnels open through an HTTP proxy
 * (CONNECT, then TLS inside) or straight to the origin, and fires GETs
 * for a fixed time; also times exec-to-ready and SIGTERM-to-exit of a
 * daemon (lgstart.c).
 *
 * Private to tests/perf/.  The client must cost less than what it
 * measures, so the TLS layer sits on the socket itself (no bufferevent
 * filter, no extra copy); responses still go through the shared codec
 * (common/http.h).  Its numbers live here, not in common/bounds.h,
 * because nothing in the sidecar may use them.
 */
#ifndef BBP_LOADGEN_H
#define BBP_LOADGEN_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

struct event;
struct event_base;
struct evbuffer;
struct cm_http_parser;

/* 2^7 sub-buckets per power of two: a recorded value is within 0.8%. */
#define BBP_HIST_SUB_BITS	7
/* Values up to 2^32 us (71 minutes); longer ones count as that. */
#define BBP_HIST_MAX_BITS	32
#define BBP_HIST_BUCKETS	\
	((BBP_HIST_MAX_BITS - BBP_HIST_SUB_BITS + 1) << BBP_HIST_SUB_BITS)
/* One SSL_read lands in this much reserved evbuffer space. */
#define BBP_READ_BYTES		(16 * 1024)
/* A response head or CONNECT answer larger than this is an error. */
#define BBP_HEAD_BYTES		(64 * 1024)
/* A failed connection waits this long before it dials again. */
#define BBP_RETRY_MS		20
/* Connections (tunnels) one run may hold: the memory benchmark's 1,000. */
#define BBP_MAX_CONNS		20000
#define BBP_MAX_THREADS		16
/* Tunnels being set up at once in idle mode (a listen backlog's worth). */
#define BBP_DEF_CONCURRENCY	32
/* start mode: the /readyz poll interval (spec/bundle.md §8) ... */
#define BBP_POLL_US		1000
/* ... one poll's connect-and-read budget ... */
#define BBP_POLL_IO_MS		200
/* ... and the longest a start or a stop may take before it fails. */
#define BBP_START_TIMEOUT_MS	10000
#define BBP_MAX_RUNS		50
/* rate: a request sent this long after it was due counts as late. */
#define BBP_LATE_US		1000
/* First error text kept for the report. */
#define BBP_ERR_BYTES		200

enum bbp_mode {
	BBP_M_KEEPALIVE,	/* N tunnels, requests back to back */
	BBP_M_NEW,		/* a new tunnel (CONNECT + TLS) per request */
	BBP_M_RATE,		/* N tunnels, a fixed total request rate */
	BBP_M_IDLE,		/* N tunnels, one request each, then held */
	BBP_M_START,		/* exec to /readyz 200, RSS, SIGTERM to exit */
};

/* A latency histogram in microseconds (HDR-like: log-linear buckets). */
struct bbp_hist {
	uint64_t	 n[BBP_HIST_BUCKETS];
	uint64_t	 count;
	uint64_t	 max;
	uint64_t	 sum;
};

/* The command line; read-only once the threads run. */
struct bbp_opts {
	enum bbp_mode		 mode;
	struct sockaddr_storage	 dial;		/* proxy or origin */
	socklen_t		 dial_len;
	const char		*tunnel;	/* CONNECT to; NULL: direct */
	const char		*sni;		/* SNI and the name verified */
	const char		*host;		/* Host field */
	const char		*path;
	const char		*cafile;
	const char		*label;
	const char		*ready_file;	/* idle: once all are held */
	int			 conns;
	int			 threads;
	int			 concurrency;	/* idle: in setup at once */
	double			 duration_s;
	double			 warmup_s;
	double			 rate;		/* rate: requests/s in total */
	double			 hold_s;	/* idle: how long to hold */
	/* start mode */
	struct sockaddr_storage	 control;
	socklen_t		 control_len;
	int			 runs;
	double			 rss_after_s;
	char			**argv;		/* the daemon's command line */
	/* derived */
	char			*request;	/* the GET, written whole */
	size_t			 request_len;
	char			*connect;	/* the CONNECT head */
	size_t			 connect_len;
	uint64_t		 t0_us;		/* all threads start here */
	uint64_t		 sched_us;	/* rate: first one due */
	uint64_t		 rec_us;	/* responses count from */
	uint64_t		 end_us;	/* ... to (exclusive) */
};

struct bbp_conn;

/* One thread: its loop, its connections, its counts. */
struct bbp_thread {
	int			 id;
	const struct bbp_opts	*o;
	SSL_CTX			*ctx;		/* shared, read-only */
	struct event_base	*base;		/* owned */
	struct event		*stop;		/* owned: ends the run */
	struct bbp_conn		*conns;		/* owned: nconns of them */
	int			 nconns;
	int			 first;		/* global index of conns[0] */
	int			 next_idle;	/* idle: next conn to set up */
	int			 in_setup;	/* idle: being set up now */
	int			 held;		/* idle: done, holding */
	int			 failed;	/* idle: gave up */
	int			 stopping;
	uint64_t		 end;		/* when its loop ended */
	struct bbp_hist		 hist;		/* recorded latencies */
	uint64_t		 ok;		/* recorded 2xx responses */
	uint64_t		 ok_all;	/* warm-up included */
	uint64_t		 errors;	/* recorded failures */
	uint64_t		 errors_all;
	uint64_t		 tunnels;	/* TLS sessions set up */
	uint64_t		 body_bytes;
	uint64_t		 dropped;	/* idle: held, then closed */
	uint64_t		 late;		/* rate: sent past due */
	char			 err[BBP_ERR_BYTES];	/* first failure */
};

/* loadgen.c */
uint64_t	 bbp_loadgen_now_us(void);
/* Records the first failure's text; later ones only count. */
void		 bbp_loadgen_error(struct bbp_thread *t, const char *what,
		    const char *detail);
/* Idle mode: every tunnel of t is held (or failed); starts the hold. */
void		 bbp_loadgen_idle_ready(struct bbp_thread *t);

/* lgconn.c: the connection state machine. */
/* Allocates t->conns; 0/-1. */
int		 bbp_lgconn_init(struct bbp_thread *t);
/* Starts connection i (dial, CONNECT, TLS, first request). */
void		 bbp_lgconn_start(struct bbp_thread *t, int i);
/* Closes every connection and frees t->conns. */
void		 bbp_lgconn_free_all(struct bbp_thread *t);

/* lghist.c */
void		 bbp_lghist_add(struct bbp_hist *h, uint64_t us);
void		 bbp_lghist_merge(struct bbp_hist *dst,
		    const struct bbp_hist *src);
/* The value at quantile q (0..1), in us; 0 when empty. */
uint64_t	 bbp_lghist_quantile(const struct bbp_hist *h, double q);

/* lgstart.c: exec-to-ready, idle RSS and SIGTERM-to-exit; exit code. */
int		 bbp_lgstart_main(const struct bbp_opts *o);

#endif /* BBP_LOADGEN_H */
