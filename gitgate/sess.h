/*
 * One service exchange (upload-pack or receive-pack) on a connection,
 * whatever the front.  The front hands the session its input (the
 * socket's bytes on git://, the decoded request body on HTTP) and sends
 * what the session stages in out; the session never knows which front
 * it runs on beyond the stateless flag.  Errors leave through
 * gg_sess_fail(), which picks the channel spec/gitgate.md §2.5 allows.
 */
#ifndef GG_SESS_H
#define GG_SESS_H

#include <stddef.h>
#include <stdint.h>

#include "gitgate/route.h"

struct cm_snap;
struct evbuffer;
struct gg_cfg;
struct gg_conn;
struct gg_receive;
struct gg_refs;
struct gg_repo;
struct gg_upload;

struct gg_sess {
	struct gg_conn		*c;		/* borrowed; outlives s */
	struct cm_snap		*snap;		/* referenced */
	const struct gg_cfg	*cfg;		/* of snap */
	const struct gg_repo	*repo;		/* of snap */
	enum gg_svc		 svc;
	int			 version;	/* the client asked: 0/1/2 */
	int			 stateless;	/* HTTP */
	int			 rpc;	/* HTTP POST: no advertisement */
	struct evbuffer		*in;		/* borrowed */
	int			 in_eof;	/* no more input will come */
	uint64_t		 in_offset;	/* bytes consumed, for logs */
	struct evbuffer		*out;		/* owned: staged output */
	int			 band;	/* 0, or 1/2 once sideband runs */
	size_t			 band_max;
	int			 waiting; /* for client bytes: idle clock */
	uint64_t		 wait_ms;	/* since */
	int			 busy;	/* the client waits on the gate */
	uint64_t		 started_ms;
	uint64_t		 last_sent_ms;	/* keepalive clock */
	int			 ended;
	int			 m_bytes[2];	/* client_in/out slots (§14) */
	struct gg_upload	*up;		/* owned, upload-pack */
	struct gg_receive	*rp;		/* owned, receive-pack */
};

struct gg_sess	*gg_sess_new(struct gg_conn *c, struct cm_snap *snap,
		    const struct gg_repo *repo, enum gg_svc svc, int version,
		    int stateless, int rpc);
void		 gg_sess_free(struct gg_sess *s);
/* Begins: the advertisement, or (rpc) reading the request. */
void		 gg_sess_start(struct gg_sess *s);
/* More input arrived in s->in, or s->in_eof was set. */
void		 gg_sess_input(struct gg_sess *s);
/* The client's output drained (pack streaming refills). */
void		 gg_sess_drained(struct gg_sess *s);
/* Once a second: idle clock, keepalives, progress. */
void		 gg_sess_tick(struct gg_sess *s, uint64_t now);
/* 0005\x01 after keepalive_s of silence while the client waits. */
void		 gg_sess_keepalive(struct gg_sess *s, uint64_t now);
/* The connection is going away: cancel jobs, withdraw holds. */
void		 gg_sess_abort(struct gg_sess *s);
/* Sends what is staged in s->out; 0 or -1 (the conn is closing). */
int		 gg_sess_flush(struct gg_sess *s);
/*
 * Fails the exchange with msg (without "bb-sidecar: " when the caller
 * wrote its own prefix): band 3 once the sideband runs, else status and
 * a text body on HTTP before the response started, else ERR.  Ends.
 */
void		 gg_sess_fail(struct gg_sess *s, int status, const char *fmt,
		    ...) __attribute__((format(printf, 3, 4)));
/* A malformed input: logs proto_error (offset, hex) and fails. */
void		 gg_sess_proto_error(struct gg_sess *s, const char *why,
		    const void *bytes, size_t n);
/* The exchange is over; keep 0 closes the connection. */
void		 gg_sess_end(struct gg_sess *s, int keep);
/* A band-2 line "bb-sidecar: ..." when a sideband runs; else nothing. */
void		 gg_sess_progress(struct gg_sess *s, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
/* Waiting for client bytes from now (the idle clock runs) or not. */
void		 gg_sess_wait_input(struct gg_sess *s, int on);
/* A parser needs more client bytes: wait (idle clock on), and on a
 * connection (not a buffered HTTP body) read again. */
void		 gg_sess_need_input(struct gg_sess *s);
/*
 * The ref advertisement of a session that is not an RPC (git:// or an
 * HTTP GET of info/refs).  1: the request follows (the session waits for
 * it); 0: the session ended (a stateless GET) or the connection closed.
 */
int		 gg_sess_advertise(struct gg_sess *s, const struct gg_refs *refs,
		    enum gg_svc svc);
/* "git" or "http", for logs. */
const char	*gg_sess_front(const struct gg_sess *s);

/* upload.c */
struct gg_upload *gg_upload_new(struct gg_sess *s);
void		 gg_upload_free(struct gg_upload *u);
void		 gg_upload_start(struct gg_upload *u);
void		 gg_upload_input(struct gg_upload *u);
void		 gg_upload_drained(struct gg_upload *u);
void		 gg_upload_tick(struct gg_upload *u, uint64_t now);
void		 gg_upload_abort(struct gg_upload *u);

/* receive.c */
struct gg_receive *gg_receive_new(struct gg_sess *s);
void		 gg_receive_free(struct gg_receive *r);
void		 gg_receive_start(struct gg_receive *r);
void		 gg_receive_input(struct gg_receive *r);
void		 gg_receive_tick(struct gg_receive *r, uint64_t now);
void		 gg_receive_abort(struct gg_receive *r);

#endif /* GG_SESS_H */
