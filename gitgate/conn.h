/*
 * One client connection on either front (git:// or smart HTTP).  The
 * connection owns the socket, a 1 Hz tick that enforces the idle,
 * write-stall and keepalive times, and the reference count that keeps
 * it alive while jobs or queue waiters still point at it.  The protocol
 * itself runs in a session (sess.h), one per service exchange.
 */
#ifndef GG_CONN_H
#define GG_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

struct bufferevent;
struct cm_http_parser;
struct cm_worker;
struct event;
struct evbuffer;
struct gg_http;
struct gg_sess;
struct gg_worker;

/* What a new request gets once the drain began (§2.3: 503 draining). */
#define GG_DRAIN_MSG		"bb-sidecar: gate shutting down, retry"

enum gg_front {
	GG_FRONT_GIT,
	GG_FRONT_HTTP,
};

enum gg_conn_state {
	GG_CONN_REQUEST,	/* git: first pkt-line; http: a head */
	GG_CONN_SESSION,	/* a session owns the exchange */
	GG_CONN_DONE,		/* it ended; the done event decides next */
	GG_CONN_FLUSH,		/* last bytes queued; close once written */
};

struct gg_conn {
	TAILQ_ENTRY(gg_conn)	 entry;
	uint64_t		 id;
	enum gg_front		 front;
	enum gg_conn_state	 state;
	struct gg_worker	*gw;		/* borrowed */
	struct bufferevent	*bev;		/* owned */
	struct event		*tick;		/* owned: 1 Hz while open */
	struct event		*reap;		/* owned: fires the free */
	struct event		*pump;		/* owned: deferred input */
	struct event		*done;		/* owned: after a session */
	char			 client[64];
	int			 dead;
	int			 refs;		/* jobs and waiters */
	uint64_t		 opened_ms;
	uint64_t		 last_in_ms;	/* client bytes arrived */
	uint64_t		 last_out_ms;	/* output drained or sent */
	uint64_t		 state_ms;	/* entered the current wait */
	uint64_t		 bytes_in;
	uint64_t		 bytes_out;
	uint64_t		 flush_deadline_ms;
	struct gg_sess		*sess;		/* owned */
	struct gg_http		*http;		/* owned: HTTP front state */
	int			 over_ok;	/* for the done event */
	int			 linger;	/* FLUSH: then half-close, read */
};

/* Accept functions of the two listeners (the service's accept). */
void		 gg_conn_accept(struct cm_worker *w, int fd,
		    const struct sockaddr *sa, socklen_t salen, int listener);
/* Marks c dead and frees it once no reference is left; idempotent. */
void		 gg_conn_close(struct gg_conn *c, const char *why);
/* Queued output is written, then the connection closes. */
void		 gg_conn_finish(struct gg_conn *c);
/*
 * As gg_conn_finish(), but after the output the write side is shut down
 * and client bytes are read and dropped until EOF (at most 2 s), so an
 * answer sent before the client's request is not lost to a reset.
 */
void		 gg_conn_finish_linger(struct gg_conn *c);
void		 gg_conn_hold(struct gg_conn *c);
/* Drops a reference; 1 if c is dead (the caller must not use it). */
int		 gg_conn_release(struct gg_conn *c);
/* The client's output buffer (bufferevent) and its input. */
struct evbuffer	*gg_conn_output(struct gg_conn *c);
struct evbuffer	*gg_conn_input(struct gg_conn *c);
/* Bytes queued towards the client and not yet written. */
size_t		 gg_conn_pending(struct gg_conn *c);
/* Starts/stops reading from the socket (back-pressure). */
void		 gg_conn_reading(struct gg_conn *c, int on);
/*
 * The session wants more input: reading resumes and bytes already
 * buffered are handed over on the next loop turn (never re-entrantly).
 */
void		 gg_conn_pump(struct gg_conn *c);
/* A session's output was queued: counts it for the stall clock. */
void		 gg_conn_sent(struct gg_conn *c, size_t n);
/* Drain and stop (service hooks). */
void		 gg_conn_drain_worker(struct gg_worker *gw);
void		 gg_conn_kill_worker(struct gg_worker *gw);
void		 gg_conn_free_all(struct gg_worker *gw);

/* front_git.c / front_http.c, called by conn.c */
void		 gg_git_read(struct gg_conn *c);
void		 gg_git_tick(struct gg_conn *c, uint64_t now);
/* The client half-closed before its request line was complete. */
void		 gg_git_eof(struct gg_conn *c);
void		 gg_http_start(struct gg_conn *c);
void		 gg_http_read(struct gg_conn *c);
void		 gg_http_eof(struct gg_conn *c);
void		 gg_http_tick(struct gg_conn *c, uint64_t now);
void		 gg_http_free(struct gg_http *h);
/*
 * The exchange on c is over (ok 0 means close): runs the front's next
 * step on the next loop turn, so a session never frees itself.
 */
void		 gg_conn_over(struct gg_conn *c, int ok);
void		 gg_http_sess_done(struct gg_conn *c, int ok);
/* HTTP: wraps the session's staged output into the response. */
int		 gg_http_send(struct gg_conn *c, struct evbuffer *data);
/* HTTP: 1 while a request head is partly read. */
int		 gg_http_head_begun(struct gg_conn *c);
/* HTTP: 1 once the response head went out. */
int		 gg_http_started(struct gg_conn *c);
/* HTTP: an error response before the head went out. */
void		 gg_http_refuse(struct gg_conn *c, int status,
		    const char *reason, const char *msg);

#endif /* GG_CONN_H */
