/*
 * One load connection: dial, CONNECT through the proxy (or not), TLS
 * inside, then GETs, each read whole through the shared codec.  A
 * connection is a small state machine driven by one-shot fd events, so
 * that each wait says exactly what it waits for (OpenSSL may want to
 * write while reading).  Failures count, and the connection dials again
 * after a pause; only idle mode gives up.
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/http.h"
#include "tests/perf/loadgen.h"

enum bbp_lgconn_state {
	BBP_C_OFF,		/* not started, or given up */
	BBP_C_WAIT,		/* pausing before the next dial */
	BBP_C_TCP,		/* connect(2) in progress */
	BBP_C_CONNECT_W,	/* writing the CONNECT head */
	BBP_C_CONNECT_R,	/* reading the proxy's answer */
	BBP_C_TLS,		/* the handshake inside the tunnel */
	BBP_C_READY,		/* between requests (rate: until due) */
	BBP_C_SEND,		/* writing the GET */
	BBP_C_RECV,		/* reading the response */
	BBP_C_HELD,		/* idle mode: one request done, held open */
};

struct bbp_conn {
	struct bbp_thread	*t;		/* borrowed */
	int			 i;		/* in t->conns */
	int			 fd;		/* -1 when closed */
	SSL			*ssl;		/* owned; NULL before TLS */
	enum bbp_lgconn_state	 st;
	struct event		*ev;		/* owned: one-shot fd wait */
	struct event		*tmr;		/* owned: due time or retry */
	struct evbuffer		*in;		/* owned: bytes not parsed */
	struct evbuffer		*sink;		/* owned: decoded body */
	struct cm_http_parser	*p;		/* owned */
	size_t			 wrote;		/* of the CONNECT head */
	int			 head;		/* response head parsed */
	int			 status;
	int			 keep;		/* the response allows reuse */
	uint64_t		 t_dial;	/* the current dial began */
	uint64_t		 t_req;		/* issued (rate: due) */
	uint64_t		 due;		/* rate: the next one is due */
	uint64_t		 every;		/* rate: this conn's interval */
};

static void	bbp_lgconn_step(struct bbp_conn *);
static void	bbp_lgconn_io_cb(evutil_socket_t, short, void *);
static void	bbp_lgconn_tmr_cb(evutil_socket_t, short, void *);
static void	bbp_lgconn_dial(struct bbp_conn *);

static int
bbp_lgconn_recording(const struct bbp_thread *t, uint64_t now)
{
	return (now >= t->o->rec_us && now < t->o->end_us);
}

static void
bbp_lgconn_wait(struct bbp_conn *c, short what)
{
	(void)event_del(c->ev);
	(void)event_assign(c->ev, c->t->base, c->fd, what, bbp_lgconn_io_cb,
	    c);
	(void)event_add(c->ev, NULL);
}

static void
bbp_lgconn_after(struct bbp_conn *c, uint64_t us)
{
	struct timeval	 tv;

	tv.tv_sec = (time_t)(us / 1000000);
	tv.tv_usec = (suseconds_t)(us % 1000000);
	(void)evtimer_add(c->tmr, &tv);
}

static void
bbp_lgconn_close(struct bbp_conn *c)
{
	(void)event_del(c->ev);
	(void)event_del(c->tmr);
	if (c->ssl != NULL) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd != -1) {
		(void)close(c->fd);
		c->fd = -1;
	}
	(void)evbuffer_drain(c->in, evbuffer_get_length(c->in));
	(void)evbuffer_drain(c->sink, evbuffer_get_length(c->sink));
	cm_http_parser_reset(c->p);
	c->head = 0;
	c->st = BBP_C_OFF;
}

/* Idle mode: one more tunnel finished setting up (held or not). */
static void
bbp_lgconn_idle_next(struct bbp_thread *t)
{
	t->in_setup--;
	while (t->next_idle < t->nconns &&
	    t->in_setup < t->o->concurrency) {
		t->in_setup++;
		bbp_lgconn_start(t, t->next_idle++);
	}
	if (t->held + t->failed == t->nconns)
		bbp_loadgen_idle_ready(t);
}

static void
bbp_lgconn_fail(struct bbp_conn *c, const char *what, const char *detail)
{
	struct bbp_thread	*t = c->t;
	int			 was_held = c->st == BBP_C_HELD;

	bbp_lgconn_close(c);
	if (t->stopping)
		return;
	t->errors_all++;
	if (bbp_lgconn_recording(t, bbp_loadgen_now_us()))
		t->errors++;
	bbp_loadgen_error(t, what, detail);
	if (t->o->mode == BBP_M_IDLE) {
		if (was_held) {
			t->dropped++;
			return;
		}
		t->failed++;
		bbp_lgconn_idle_next(t);
		return;
	}
	c->st = BBP_C_WAIT;
	bbp_lgconn_after(c, BBP_RETRY_MS * 1000);
}

/* The OpenSSL error queue's last entry, cleared (STYLE.md 4). */
static void
bbp_lgconn_tls_fail(struct bbp_conn *c, const char *what, int err)
{
	char		 buf[160];
	unsigned long	 e, last = 0;

	while ((e = ERR_get_error()) != 0)
		last = e;
	if (last != 0)
		ERR_error_string_n(last, buf, sizeof(buf));
	else if (err == SSL_ERROR_ZERO_RETURN ||
	    (err == SSL_ERROR_SYSCALL && errno == 0))
		(void)snprintf(buf, sizeof(buf), "the peer closed");
	else
		(void)snprintf(buf, sizeof(buf), "SSL error %d, errno %d", err,
		    errno);
	bbp_lgconn_fail(c, what, buf);
}

static void
bbp_lgconn_tls_begin(struct bbp_conn *c)
{
	const struct bbp_opts	*o = c->t->o;

	if ((c->ssl = SSL_new(c->t->ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->fd) != 1 ||
	    SSL_set_tlsext_host_name(c->ssl, o->sni) != 1 ||
	    SSL_set1_host(c->ssl, o->sni) != 1) {
		bbp_lgconn_tls_fail(c, "tls_setup", SSL_ERROR_SSL);
		return;
	}
	SSL_set_connect_state(c->ssl);
	c->st = BBP_C_TLS;
}

/* The response is complete: count it, then the mode says what next. */
static void
bbp_lgconn_done(struct bbp_conn *c)
{
	struct bbp_thread	*t = c->t;
	uint64_t		 now = bbp_loadgen_now_us();
	char			 detail[32];

	cm_http_parser_reset(c->p);
	c->head = 0;
	if (c->status < 200 || c->status > 299) {
		(void)snprintf(detail, sizeof(detail), "status %d", c->status);
		bbp_lgconn_fail(c, "http", detail);
		return;
	}
	t->ok_all++;
	if (bbp_lgconn_recording(t, now)) {
		t->ok++;
		bbp_lghist_add(&t->hist, now - c->t_req);
	}
	switch (t->o->mode) {
	case BBP_M_NEW:
		bbp_lgconn_close(c);
		bbp_lgconn_dial(c);
		return;
	case BBP_M_IDLE:
		c->st = BBP_C_HELD;
		t->held++;
		/* Only to notice a peer that closes the held tunnel. */
		bbp_lgconn_wait(c, EV_READ);
		bbp_lgconn_idle_next(t);
		return;
	default:
		if (!c->keep) {
			bbp_lgconn_close(c);
			bbp_lgconn_dial(c);
			return;
		}
		c->st = BBP_C_READY;
		bbp_lgconn_step(c);
		return;
	}
}

/*
 * Parses what c->in holds.  1: the response is complete; 0: more bytes
 * needed; -1: failed (the connection is closed).
 */
static int
bbp_lgconn_parse(struct bbp_conn *c)
{
	struct cm_http_msg	*m;
	const char		*why;
	int			 rc;

	if (!c->head) {
		rc = cm_http_head_read(c->p, c->in, &why);
		if (rc == -1) {
			bbp_lgconn_fail(c, "http", why);
			return (-1);
		}
		if (rc == 0) {
			if (evbuffer_get_length(c->in) > BBP_HEAD_BYTES) {
				bbp_lgconn_fail(c, "http", "head too large");
				return (-1);
			}
			return (0);
		}
		m = cm_http_parser_msg(c->p);
		c->head = 1;
		c->status = cm_http_msg_status(m);
		c->keep = cm_http_msg_keep_alive(m);
	}
	rc = cm_http_body_read(c->p, c->in, c->sink, SIZE_MAX, &why);
	c->t->body_bytes += evbuffer_get_length(c->sink);
	(void)evbuffer_drain(c->sink, evbuffer_get_length(c->sink));
	if (rc == -1) {
		bbp_lgconn_fail(c, "http", why);
		return (-1);
	}
	return (rc);
}

/*
 * Reads TLS records into c->in until the response is complete or
 * OpenSSL wants the socket.  Leaves c in its next state.
 */
static void
bbp_lgconn_recv(struct bbp_conn *c)
{
	struct evbuffer_iovec	 v;
	const char		*why;
	int			 n, err, rc;

	for (;;) {
		if (evbuffer_reserve_space(c->in, BBP_READ_BYTES, &v, 1) < 1) {
			bbp_lgconn_fail(c, "memory", "evbuffer_reserve_space");
			return;
		}
		ERR_clear_error();
		n = SSL_read(c->ssl, v.iov_base, (int)v.iov_len);
		if (n > 0) {
			v.iov_len = (size_t)n;
			(void)evbuffer_commit_space(c->in, &v, 1);
			if ((rc = bbp_lgconn_parse(c)) == -1)
				return;
			if (rc == 1) {
				bbp_lgconn_done(c);
				return;
			}
			continue;
		}
		(void)evbuffer_commit_space(c->in, &v, 0);
		err = SSL_get_error(c->ssl, n);
		if (err == SSL_ERROR_WANT_READ) {
			bbp_lgconn_wait(c, EV_READ);
			return;
		}
		if (err == SSL_ERROR_WANT_WRITE) {
			bbp_lgconn_wait(c, EV_WRITE);
			return;
		}
		/* An until-close body ends at the peer's close. */
		if (c->head && (err == SSL_ERROR_ZERO_RETURN ||
		    err == SSL_ERROR_SYSCALL) &&
		    cm_http_parser_eof(c->p, &why) == 1) {
			c->keep = 0;
			bbp_lgconn_done(c);
			return;
		}
		bbp_lgconn_tls_fail(c, "recv", err);
		return;
	}
}

/* Held tunnels: anything but silence means the proxy let go. */
static void
bbp_lgconn_held(struct bbp_conn *c)
{
	char	 buf[4096];
	int	 n, err;

	ERR_clear_error();
	n = SSL_read(c->ssl, buf, (int)sizeof(buf));
	if (n > 0) {
		bbp_lgconn_fail(c, "idle", "bytes on a held tunnel");
		return;
	}
	err = SSL_get_error(c->ssl, n);
	if (err == SSL_ERROR_WANT_READ) {
		bbp_lgconn_wait(c, EV_READ);
		return;
	}
	if (err == SSL_ERROR_WANT_WRITE) {
		bbp_lgconn_wait(c, EV_WRITE);
		return;
	}
	bbp_lgconn_tls_fail(c, "idle", err);
}

static void
bbp_lgconn_step(struct bbp_conn *c)
{
	struct bbp_thread	*t = c->t;
	const struct bbp_opts	*o = t->o;
	const char		*why;
	socklen_t		 len;
	uint64_t		 now;
	ssize_t			 w;
	int			 n, err, rc, soerr;

	for (;;) {
		switch (c->st) {
		case BBP_C_OFF:
		case BBP_C_WAIT:
			return;
		case BBP_C_TCP:
			len = sizeof(soerr);
			if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr,
			    &len) == -1)
				soerr = errno;
			if (soerr != 0) {
				bbp_lgconn_fail(c, "connect", strerror(soerr));
				return;
			}
			if (o->tunnel == NULL) {
				bbp_lgconn_tls_begin(c);
				break;
			}
			c->wrote = 0;
			c->st = BBP_C_CONNECT_W;
			break;
		case BBP_C_CONNECT_W:
			w = send(c->fd, o->connect + c->wrote,
			    o->connect_len - c->wrote, MSG_NOSIGNAL);
			if (w == -1 && (errno == EAGAIN || errno == EINTR)) {
				bbp_lgconn_wait(c, EV_WRITE);
				return;
			}
			if (w == -1) {
				bbp_lgconn_fail(c, "connect", strerror(errno));
				return;
			}
			c->wrote += (size_t)w;
			if (c->wrote == o->connect_len) {
				cm_http_parser_set_method(c->p, HTTP_CONNECT);
				c->st = BBP_C_CONNECT_R;
			}
			break;
		case BBP_C_CONNECT_R:
			n = evbuffer_read(c->in, c->fd, BBP_READ_BYTES);
			if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
				bbp_lgconn_wait(c, EV_READ);
				return;
			}
			if (n <= 0) {
				bbp_lgconn_fail(c, "proxy", n == 0 ?
				    "closed before answering CONNECT" :
				    strerror(errno));
				return;
			}
			rc = cm_http_head_read(c->p, c->in, &why);
			if (rc == -1) {
				bbp_lgconn_fail(c, "proxy", why);
				return;
			}
			if (rc == 0)
				break;
			c->status = cm_http_msg_status(
			    cm_http_parser_msg(c->p));
			if (c->status != 200) {
				char	 d[48];

				(void)snprintf(d, sizeof(d), "CONNECT got %d",
				    c->status);
				bbp_lgconn_fail(c, "proxy", d);
				return;
			}
			if (evbuffer_get_length(c->in) > 0) {
				bbp_lgconn_fail(c, "proxy",
				    "bytes after the CONNECT answer");
				return;
			}
			cm_http_parser_reset(c->p);
			cm_http_parser_set_method(c->p, HTTP_GET);
			bbp_lgconn_tls_begin(c);
			break;
		case BBP_C_TLS:
			ERR_clear_error();
			n = SSL_connect(c->ssl);
			if (n == 1) {
				t->tunnels++;
				c->st = BBP_C_READY;
				break;
			}
			err = SSL_get_error(c->ssl, n);
			if (err == SSL_ERROR_WANT_READ ||
			    err == SSL_ERROR_WANT_WRITE) {
				bbp_lgconn_wait(c, err == SSL_ERROR_WANT_READ ?
				    EV_READ : EV_WRITE);
				return;
			}
			bbp_lgconn_tls_fail(c, "tls", err);
			return;
		case BBP_C_READY:
			now = bbp_loadgen_now_us();
			if (o->mode == BBP_M_RATE) {
				if (now < c->due) {
					bbp_lgconn_after(c, c->due - now);
					return;
				}
				/* Latency counts from when it was due. */
				if (now > c->due + BBP_LATE_US &&
				    bbp_lgconn_recording(t, now))
					t->late++;
				c->t_req = c->due;
				c->due += c->every;
			} else if (o->mode == BBP_M_NEW)
				c->t_req = c->t_dial;
			else
				c->t_req = now;
			c->st = BBP_C_SEND;
			break;
		case BBP_C_SEND:
			ERR_clear_error();
			n = SSL_write(c->ssl, o->request, (int)o->request_len);
			if (n > 0) {
				c->st = BBP_C_RECV;
				c->head = 0;
				break;
			}
			err = SSL_get_error(c->ssl, n);
			if (err == SSL_ERROR_WANT_READ ||
			    err == SSL_ERROR_WANT_WRITE) {
				bbp_lgconn_wait(c, err == SSL_ERROR_WANT_READ ?
				    EV_READ : EV_WRITE);
				return;
			}
			bbp_lgconn_tls_fail(c, "send", err);
			return;
		case BBP_C_RECV:
			bbp_lgconn_recv(c);
			return;
		case BBP_C_HELD:
			bbp_lgconn_held(c);
			return;
		}
	}
}

static void
bbp_lgconn_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bbp_conn	*c = arg;

	(void)fd;
	(void)what;
	if (!c->t->stopping)
		bbp_lgconn_step(c);
}

static void
bbp_lgconn_tmr_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bbp_conn	*c = arg;

	(void)fd;
	(void)what;
	if (c->t->stopping)
		return;
	if (c->st == BBP_C_WAIT)
		bbp_lgconn_dial(c);
	else
		bbp_lgconn_step(c);
}

static void
bbp_lgconn_dial(struct bbp_conn *c)
{
	const struct bbp_opts	*o = c->t->o;
	int			 one = 1;

	c->t_dial = bbp_loadgen_now_us();
	c->fd = socket(o->dial.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (c->fd == -1) {
		bbp_lgconn_fail(c, "socket", strerror(errno));
		return;
	}
	/* Requests are written whole; never hold a tail for an ACK. */
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->st = BBP_C_TCP;
	if (connect(c->fd, (const struct sockaddr *)&o->dial, o->dial_len) ==
	    -1) {
		if (errno != EINPROGRESS) {
			bbp_lgconn_fail(c, "connect", strerror(errno));
			return;
		}
		bbp_lgconn_wait(c, EV_WRITE);
		return;
	}
	bbp_lgconn_step(c);
}

int
bbp_lgconn_init(struct bbp_thread *t)
{
	const struct bbp_opts	*o = t->o;
	struct bbp_conn		*c;
	int			 i;

	if ((t->conns = calloc((size_t)t->nconns, sizeof(*t->conns))) == NULL)
		return (-1);
	for (i = 0; i < t->nconns; i++) {
		c = &t->conns[i];
		c->t = t;
		c->i = i;
		c->fd = -1;
		c->ev = event_new(t->base, -1, 0, bbp_lgconn_io_cb, c);
		c->tmr = evtimer_new(t->base, bbp_lgconn_tmr_cb, c);
		c->in = evbuffer_new();
		c->sink = evbuffer_new();
		c->p = cm_http_parser_new(CM_HTTP_RESPONSE, NULL);
		if (c->ev == NULL || c->tmr == NULL || c->in == NULL ||
		    c->sink == NULL || c->p == NULL)
			return (-1);
		if (o->mode == BBP_M_RATE) {
			/*
			 * The rate is spread evenly: conn k of n is due at
			 * k/rate, then every n/rate.
			 */
			c->every = (uint64_t)(1e6 * o->conns / o->rate);
			c->due = o->sched_us + (uint64_t)(1e6 *
			    (t->first + i) / o->rate);
		}
	}
	return (0);
}

void
bbp_lgconn_start(struct bbp_thread *t, int i)
{
	bbp_lgconn_dial(&t->conns[i]);
}

void
bbp_lgconn_free_all(struct bbp_thread *t)
{
	struct bbp_conn	*c;
	int		 i;

	if (t->conns == NULL)
		return;
	for (i = 0; i < t->nconns; i++) {
		c = &t->conns[i];
		if (c->ev == NULL || c->tmr == NULL || c->in == NULL ||
		    c->sink == NULL || c->p == NULL) {
			if (c->ev != NULL)
				event_free(c->ev);
			if (c->tmr != NULL)
				event_free(c->tmr);
			if (c->in != NULL)
				evbuffer_free(c->in);
			if (c->sink != NULL)
				evbuffer_free(c->sink);
			cm_http_parser_free(c->p);
			continue;
		}
		bbp_lgconn_close(c);
		event_free(c->ev);
		event_free(c->tmr);
		evbuffer_free(c->in);
		evbuffer_free(c->sink);
		cm_http_parser_free(c->p);
	}
	free(t->conns);
	t->conns = NULL;
}
