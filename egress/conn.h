/*
 * One agent connection: plain HTTP or a bumped tunnel.  Owns the agent
 * bufferevent and the request parser; runs one exchange at a time
 * (pipelined requests wait in the input buffer).
 */
#ifndef EG_CONN_H
#define EG_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "common/routes.h"

struct bufferevent;
struct cm_http_parser;
struct cm_snap;
struct cm_worker;
struct eg_refusal;
struct eg_worker;
struct eg_xchg;
struct eg_hold;
struct event;

enum eg_conn_state {
	EG_CONN_HEAD,		/* waiting for a request head */
	EG_CONN_TLS_WAIT,	/* CONNECT answered; first tunnel byte next */
	EG_CONN_TLS,		/* agent-side TLS handshake */
	EG_CONN_XCHG,		/* an exchange owns the connection */
	EG_CONN_RELAY,		/* after a 101: bytes both ways */
	EG_CONN_FLUSH,		/* last response queued; close once written */
	EG_CONN_HELD,		/* a CONNECT waits for an operator */
};

struct eg_conn {
	TAILQ_ENTRY(eg_conn)	 entry;		/* in ew->conns */
	uint64_t		 id;		/* in every log line */
	enum eg_conn_state	 state;		/* set only by eg_conn_set() */
	struct eg_worker	*ew;		/* borrowed; fixed for life */
	struct bufferevent	*bev;		/* owned: agent side */
	struct cm_http_parser	*parser;	/* owned: agent requests */
	struct eg_xchg		*x;		/* owned: the current exchange */
	struct event		*timer;		/* owned: head/idle/TLS */
	struct event		*reap;		/* owned: fires the free */
	char			 client[64];	/* agent address */
	struct sockaddr_storage	 peer;
	uint64_t		 nreq;		/* requests on this conn */
	int			 head_clock;	/* request_head_s is running */
	struct event		*peek;		/* owned: first tunnel byte */
	struct eg_hold		*hold;		/* owned: a held CONNECT */
	uint64_t		 flush_deadline_ms;
	int			 dead;
	/* A bumped tunnel (state >= EG_CONN_TLS_WAIT once CONNECTed). */
	int			 tunnel;
	char			 thost[256];	/* CONNECT host, normalised */
	int			 tport;
	int			 tis_ip;
	char			 sni[256];	/* "" when none */
	int			 sni_checked;	/* first request saw the SNI check */
	int			 tunnel_counted;	/* in the per-client count */
};

/* Accepts on worker w (the service's accept function). */
void		 eg_conn_accept(struct cm_worker *w, int fd,
		    const struct sockaddr *sa, socklen_t salen, int listener);
/* Safe from any callback of c, any number of times. */
void		 eg_conn_close(struct eg_conn *c, const char *why);
void		 eg_conn_set(struct eg_conn *c, enum eg_conn_state st);
/*
 * Writes an egress refusal to the agent.  When r->close (or the request
 * body cannot be kept), the connection closes after it is written;
 * otherwise the connection goes back to reading heads.
 */
void		 eg_conn_refuse(struct eg_conn *c, const struct eg_refusal *r);
/* The exchange finished; keep_alive 0 closes after the output drains. */
void		 eg_conn_xchg_done(struct eg_conn *c, int keep_alive);
/* No more reads: closes once the queued output is written. */
void		 eg_conn_finish(struct eg_conn *c);
/* Stops/starts reading from the agent (back-pressure). */
void		 eg_conn_pause(struct eg_conn *c, int paused);
/* Arms the agent's read timeout for the state (head/idle/TLS). */
void		 eg_conn_arm_timer(struct eg_conn *c, int seconds);
/* Drain: close idle connections now; busy ones finish. */
void		 eg_conn_drain_worker(struct eg_worker *ew);
void		 eg_conn_kill_worker(struct eg_worker *ew);
/* A snapshot was published: end what the new policy no longer allows. */
struct eg_cfg;
void		 eg_conn_reload(struct eg_worker *ew, const struct eg_cfg *cfg);
/* After the loop ended: frees every connection at once. */
void		 eg_conn_free_all(struct eg_worker *ew);

/* (Re)installs the agent bufferevent's callbacks and watermarks. */
void		 eg_conn_setcb(struct eg_conn *c);

/* A held CONNECT was decided (hold.c via dlp.c). */
void		 eg_conn_connect_released(void *owner, int approved,
		    const struct eg_refusal *r);

/* The bumped TLS side (bump.c). */
/* on_socket: TLS directly on the fd (nothing buffered yet). */
int		 eg_bump_start(struct eg_conn *c, int on_socket);
void		 eg_bump_done(struct eg_conn *c);
void		 eg_bump_failed(struct eg_conn *c);
/* Per-client tunnel counting for limits.tunnels_per_client (bump.c). */
int		 eg_tunnels_acquire(struct eg_conn *c, long long limit);
void		 eg_tunnels_release(struct eg_conn *c);

#endif /* EG_CONN_H */
