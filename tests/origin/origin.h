/*
 * bbt-origin: the one test origin of every integration test, benchmark
 * and `scripts/dev demo` (spec/bundle.md §1.3, spec/egress.md §22).
 *
 * Private to the files of tests/origin/.  One process, one thread, one
 * event_base: the origin is a peer the tests trust, not a product, so it
 * favours being obviously right over being fast.  Its numbers live here,
 * not in common/bounds.h, because nothing in the sidecar may use them.
 */
#ifndef BBT_ORIGIN_H
#define BBT_ORIGIN_H

#include <sys/queue.h>
#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/http.h"

struct event;
struct event_base;
struct evbuffer;
struct bufferevent;
struct evconnlistener;
struct sockaddr;
struct bbt_conn;
struct bbt_ws;			/* opaque: ws.c */
struct bbt_cgi;			/* opaque: cgi.c */

/* The stored part of a request body: enough to prove what arrived. */
#define BBT_BODY_PREFIX_BYTES		256
/* Pipelined input waiting behind a slow response is capped here. */
#define BBT_IN_HIGH_BYTES		(1024 * 1024)
/* Streamed responses refill the output when it drains below this. */
#define BBT_OUT_LOW_BYTES		(64 * 1024)
/* One refill of a streamed response; also the default chunk size. */
#define BBT_OUT_PIECE_BYTES		(16 * 1024)
/* After the last byte of a closing response, wait this long for EOF. */
#define BBT_LINGER_MS			2000
/* Keep-alive connections idle this long are closed; --idle-ms changes it. */
#define BBT_DEF_IDLE_MS			60000
/* Parser limits: the proxy's limits are under test, not ours. */
#define BBT_HEAD_LINE_BYTES		(64 * 1024)
#define BBT_HEAD_BYTES			(1024 * 1024)
#define BBT_HEAD_COUNT			1000
/* accept() failing (EMFILE) parks a listener this long, never spins. */
#define BBT_ACCEPT_PAUSE_MS		100
/* Listeners, SANs, ALPN names, git hosts accepted on the command line. */
#define BBT_MAX_LISTENERS		16
#define BBT_MAX_NAMES			64
/* A WebSocket message larger than this is closed with 1009. */
#define BBT_WS_MAX_MESSAGE_BYTES	(16 * 1024 * 1024)
/* /gzip/N compresses in memory; a test never needs more. */
#define BBT_GZIP_MAX_BYTES		(64 * 1024 * 1024)
/* /slow, /drip, /sse delays are clamped so a typo cannot hang a test. */
#define BBT_MAX_DELAY_MS		(10 * 60 * 1000)
/* /big-head/N pads the response head up to this. */
#define BBT_MAX_PAD_HEAD_BYTES		(4 * 1024 * 1024)
/* SSE and ndjson fixtures: events and the gap between them. */
#define BBT_SSE_EVENTS			5
#define BBT_SSE_GAP_MS			200
/* /inj/trickle stops mid-body for this long (spec/egress.md §22 test 46). */
#define BBT_TRICKLE_PAUSE_MS		3000
/* /inj/big: 2 MiB of text with the combo at 1.5 MiB (test 45). */
#define BBT_INJ_BIG_BYTES		(2 * 1024 * 1024)
#define BBT_INJ_BIG_AT			(3 * 512 * 1024)
/* git http-backend's stdin is fed at most this far ahead. */
#define BBT_CGI_BUF_BYTES		(256 * 1024)
/* Test certificates: the CA outlives any test run; leaves are fresh. */
#define BBT_CA_DAYS			3650
#define BBT_LEAF_DAYS			30
/* RFC 6455 §1.3: the GUID appended to Sec-WebSocket-Key. */
#define BBT_WS_GUID	"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

struct bbt_listener {
	struct bbt_origin	*o;		/* borrowed */
	struct evconnlistener	*lev;		/* owned */
	struct event		*pause;		/* owned: EMFILE back-off */
	int			 tls;
	char			 addr[64];	/* "127.0.0.1:PORT", bound */
	int			 port;		/* bound port */
	uint64_t		 connections;
	uint64_t		 requests;	/* not counting /stats */
};

struct bbt_stats {
	uint64_t	 connections;	/* accepted */
	uint64_t	 open;		/* now */
	uint64_t	 served;	/* with at least one counted request */
	uint64_t	 requests;	/* every request but /stats */
	uint64_t	 stats_requests;
	uint64_t	 aborted;	/* body cut off by the peer */
	uint64_t	 refused;	/* the codec refused the head or body */
	uint64_t	 tls_ok;
	uint64_t	 tls_failed;
	uint64_t	 body_bytes_max; /* longest body received, even cut */
	uint64_t	 ws_sessions;
	uint64_t	 ws_messages;	/* client messages, reassembled */
	uint64_t	 cgi_runs;
};

struct bbt_origin {
	struct event_base	*base;		/* owned */
	struct bbt_listener	 ls[BBT_MAX_LISTENERS];
	size_t			 nls;
	SSL_CTX			*ssl;		/* owned; NULL: no TLS */
	X509			*leaf;		/* owned: from the test CA */
	X509			*bad_leaf;	/* owned: from a throwaway CA */
	X509			*bad_ca;	/* owned: its issuer */
	EVP_PKEY		*key;		/* owned: both leaves' key */
	const char		*untrusted[BBT_MAX_NAMES];	/* argv */
	size_t			 nuntrusted;
	const char		*alpn[BBT_MAX_NAMES];		/* argv */
	size_t			 nalpn;		/* 0: ALPN not negotiated */
	const char		*git_root;	/* argv; NULL: no CGI */
	const char		*git_hosts[BBT_MAX_NAMES];	/* argv */
	size_t			 ngit_hosts;
	const char		*file_root;	/* argv; NULL: no /file/ */
	int			 log_fd;	/* -1: no --log */
	int			 idle_ms;
	uint64_t		 next_conn;	/* ids start at 1 */
	struct bbt_stats	 st;
	struct event		*sigterm;	/* owned */
	struct event		*sigint;	/* owned */
	struct event		*sigchld;	/* owned */
	TAILQ_HEAD(, bbt_conn)	 conns;		/* every live connection */
};

enum bbt_conn_state {
	BBT_CONN_TLS,		/* server handshake in progress */
	BBT_CONN_HEAD,		/* waiting for (the rest of) a head */
	BBT_CONN_BODY,		/* hashing a request body */
	BBT_CONN_REPLY,		/* a fixture is writing the response */
	BBT_CONN_CGI,		/* git http-backend owns the exchange */
	BBT_CONN_WS,		/* WebSocket frames both ways */
	BBT_CONN_LINGER,	/* response sent; waiting for EOF to close */
	BBT_CONN_DEAD,		/* freed on the next loop turn */
};

/* The request being answered; reset before each head. */
struct bbt_req {
	uint64_t		 n;		/* 1-based on its connection */
	struct cm_http_msg	*msg;		/* borrowed from the parser */
	const char		*path;		/* in buf: no query */
	const char		*query;		/* in buf: after '?', or "" */
	char			*buf;		/* owned: path\0query\0 */
	int			 head;		/* HEAD: no body is written */
	int			 counted;	/* not /stats */
	int			 logged;
	uint64_t		 body_len;
	unsigned char		 prefix[BBT_BODY_PREFIX_BYTES];
	size_t			 prefix_len;
	EVP_MD_CTX		*sha;		/* owned */
	char			 sha_hex[65];	/* once the body is complete */
};

/* How the response under way is framed and streamed. */
struct bbt_reply {
	enum cm_http_framing	 framing;
	int			 started;	/* head written */
	int			 close;		/* Connection: close was sent */
	/* Streaming fixtures: pump when the output drains, tick on timer. */
	void			(*pump)(struct bbt_conn *c);
	void			(*tick)(struct bbt_conn *c);
	uint64_t		 left;		/* bytes still to write */
	uint64_t		 off;		/* bytes written so far */
	unsigned int		 step;		/* event or piece number */
	unsigned int		 steps;
	int			 gap_ms;
	size_t			 piece;
	int			 kind;		/* fixture-private selector */
};

struct bbt_conn {
	uint64_t		 id;		/* in every log line */
	enum bbt_conn_state	 state;		/* set only by bbt_conn_set() */
	struct bbt_origin	*o;		/* borrowed */
	struct bbt_listener	*l;		/* borrowed */
	struct bufferevent	*bev;		/* owned */
	SSL			*ssl;		/* owned by bev; NULL: plain */
	int			 fd;
	char			 peer[64];
	struct cm_http_parser	*p;		/* owned */
	struct evbuffer		*scratch;	/* owned: decoded body bytes */
	struct event		*timer;		/* owned: fixture delays */
	struct event		*idle;		/* owned: keep-alive, linger */
	struct event		*reap;		/* owned: fires the free */
	struct event		*kick;		/* owned: process input later */
	uint64_t		 nreq;		/* requests seen so far */
	int			 served;	/* counted in st.served */
	int			 eof;		/* the peer closed its side */
	int			 shut;		/* our FIN is sent (linger) */
	int			 cgi_body_done;	/* BBT_CONN_CGI: body read */
	struct bbt_req		 req;
	struct bbt_reply	 rep;
	struct bbt_ws		*ws;		/* owned; BBT_CONN_WS only */
	struct bbt_cgi		*cgi;		/* owned; BBT_CONN_CGI only */
	TAILQ_ENTRY(bbt_conn)	 entry;		/* in o->conns */
};

/* tests/origin/main.c */
void		 bbt_main_log(struct bbt_origin *o, json_t *line);
json_t		*bbt_main_stats(struct bbt_origin *o);

/* tests/origin/tls.c */
void		 bbt_tls_free(struct bbt_origin *o);
int		 bbt_tls_make_ca(const char *dir, json_t **info, char *err,
		    size_t errlen);
int		 bbt_tls_setup(struct bbt_origin *o, const char *dir,
		    const char **names, size_t nnames, const char **ips,
		    size_t nips, char *err, size_t errlen);
/* The negotiated ALPN protocol as a JSON string, or JSON null. */
json_t		*bbt_tls_alpn(SSL *ssl);

/* tests/origin/conn.c */
void		 bbt_conn_accept(struct bbt_listener *l, int fd,
		    const struct sockaddr *sa, int salen);
void		 bbt_conn_free_all(struct bbt_origin *o);
void		 bbt_conn_set(struct bbt_conn *c, enum bbt_conn_state state);
void		 bbt_conn_close(struct bbt_conn *c, const char *why);
struct evbuffer	*bbt_conn_out(struct bbt_conn *c);
/* Hashes are final, the request is logged; idempotent. */
void		 bbt_conn_finish_req(struct bbt_conn *c, int complete);
/* The exchange is over: next request, or close after flushing. */
void		 bbt_conn_done(struct bbt_conn *c);
/* Resumes reading the body (CGI back-pressure released). */
void		 bbt_conn_resume(struct bbt_conn *c);
/* After the 101: frames go to ws.c from now on. */
void		 bbt_conn_upgraded(struct bbt_conn *c);
void		 bbt_conn_timer(struct bbt_conn *c, int ms);
json_t		*bbt_conn_fields_json(const struct cm_http_fields *f);
json_t		*bbt_conn_text(const void *p, size_t len);
/*
 * Writes the response head: status, fields (may be NULL; freed here),
 * framing and length, plus Connection: close when the request or the
 * fixture asks for it.  Then bbt_conn_data() as often as needed and
 * bbt_conn_end() once.
 */
int		 bbt_conn_head(struct bbt_conn *c, int status,
		    struct cm_http_fields *f, enum cm_http_framing framing,
		    uint64_t length);
void		 bbt_conn_data(struct bbt_conn *c, const void *p, size_t len);
void		 bbt_conn_end(struct bbt_conn *c);
/* A complete response with a fixed body and its Content-Length. */
void		 bbt_conn_simple(struct bbt_conn *c, int status,
		    const char *type, const void *body, size_t len);

/* tests/origin/fixture.c */
void		 bbt_fixture_dispatch(struct bbt_conn *c);
json_t		*bbt_fixture_echo_json(struct bbt_conn *c);
const char	*bbt_fixture_query(const char *query, const char *key,
		    char *buf, size_t size);

/* tests/origin/text.c: the inbound-detection bodies */
int		 bbt_text_inj(struct bbt_conn *c, const char *name);
/* Clean prose: len bytes of it at offset off of an endless stream. */
void		 bbt_text_filler(char *buf, size_t len, uint64_t off);
const char	*bbt_text_get(const char *name);
int		 bbt_text_gzip(const void *in, size_t len,
		    struct evbuffer *out);
/* /gzip/N: n bytes of the filler, gzip-encoded, with Content-Length. */
void		 bbt_text_gzip_reply(struct bbt_conn *c, size_t n);

/* tests/origin/ws.c */
int		 bbt_ws_upgrade(struct bbt_conn *c);
void		 bbt_ws_read(struct bbt_conn *c);
void		 bbt_ws_free(struct bbt_ws *ws);

/* tests/origin/cgi.c */
int		 bbt_cgi_wants(struct bbt_conn *c);
int		 bbt_cgi_start(struct bbt_conn *c);
/* Decoded request body bytes for the CGI's stdin; 1: stop reading. */
int		 bbt_cgi_body(struct bbt_conn *c, struct evbuffer *data);
/* The request body is complete; may end the exchange (and free it). */
void		 bbt_cgi_body_end(struct bbt_conn *c);
/* The client took what was written: read more CGI output. */
void		 bbt_cgi_drained(struct bbt_conn *c);
void		 bbt_cgi_free(struct bbt_cgi *cgi);
void		 bbt_cgi_reap(struct bbt_origin *o);

#endif /* BBT_ORIGIN_H */
