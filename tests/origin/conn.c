/*
 * bbt-origin connections: accept, TLS, request heads and bodies through
 * the shared codec (common/http.h), keep-alive and pipelining, response
 * writing, lingering close, and the request log.
 *
 * Requests on one connection are answered strictly in order: the next
 * head is not parsed until the previous response is complete, so
 * pipelined requests wait in the input buffer (capped by the read
 * watermark).  A request body is hashed as it arrives and only its
 * first BBT_BODY_PREFIX_BYTES are kept.
 *
 * --log lines, one per request once its body is complete or cut off:
 *   {"event": "request", "ts_ms", "conn", "req", "listener", "tls",
 *    "sni", "alpn", "peer", "method", "target", "version", "headers":
 *    [[name, value], ...], "body_len", "body_sha256" (null when cut
 *    off), "body_prefix", "complete"}
 * plus {"event": "refused", "conn", "status", "reason", "why"} when the
 * codec refuses a head or body, {"event": "tls_failed", "conn", "sni",
 * "reason"} when a handshake fails and {"event": "close", "conn", "why",
 * "requests"} when a connection ends.
 */
#include "config.h"

#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/util.h>

#include <openssl/err.h>

#include "common/util.h"
#include "tests/origin/origin.h"

static void	 bbt_conn_readcb(struct bufferevent *bev, void *arg);
static void	 bbt_conn_writecb(struct bufferevent *bev, void *arg);
static void	 bbt_conn_eventcb(struct bufferevent *bev, short what,
		    void *arg);
static void	 bbt_conn_timer_cb(evutil_socket_t fd, short what, void *arg);
static void	 bbt_conn_idle_cb(evutil_socket_t fd, short what, void *arg);
static void	 bbt_conn_reap_cb(evutil_socket_t fd, short what, void *arg);
static void	 bbt_conn_kick_cb(evutil_socket_t fd, short what, void *arg);
static void	 bbt_conn_eof(struct bbt_conn *c);
static void	 bbt_conn_free(struct bbt_conn *c);
static void	 bbt_conn_process(struct bbt_conn *c);
static int	 bbt_conn_begin(struct bbt_conn *c);
static int	 bbt_conn_body(struct bbt_conn *c);
static void	 bbt_conn_hash(struct bbt_conn *c, struct evbuffer *data,
		    int drain);
static void	 bbt_conn_refuse(struct bbt_conn *c, int status,
		    const char *reason, const char *why);
static void	 bbt_conn_req_clear(struct bbt_conn *c);
static void	 bbt_conn_linger(struct bbt_conn *c);
static void	 bbt_conn_idle_arm(struct bbt_conn *c, int ms);

/* The one place the state changes: a breakpoint here sees them all. */
void
bbt_conn_set(struct bbt_conn *c, enum bbt_conn_state state)
{
	c->state = state;
}

void
bbt_conn_accept(struct bbt_listener *l, int fd, const struct sockaddr *sa,
    int salen)
{
	struct bbt_origin	*o = l->o;
	struct bbt_conn		*c;
	struct cm_http_limits	 lim;
	char			 host[INET6_ADDRSTRLEN];
	const void		*ap;
	int			 port, one = 1;

	(void)salen;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		(void)close(fd);
		return;
	}
	/*
	 * A head and its body can leave as two TLS records; with Nagle the
	 * second waits for the peer's delayed ACK, 40 ms per response.
	 */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->id = ++o->next_conn;
	c->o = o;
	c->l = l;
	c->fd = fd;
	if (sa->sa_family == AF_INET6) {
		ap = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	} else {
		ap = &((const struct sockaddr_in *)sa)->sin_addr;
		port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
	}
	if (evutil_inet_ntop(sa->sa_family, ap, host, sizeof(host)) == NULL)
		cm_strlcpy(host, "?", sizeof(host));
	(void)snprintf(c->peer, sizeof(c->peer), "%s:%d", host, port);
	TAILQ_INSERT_TAIL(&o->conns, c, entry);
	o->st.connections++;
	o->st.open++;
	l->connections++;

	memset(&lim, 0, sizeof(lim));
	lim.request_line_bytes = BBT_HEAD_LINE_BYTES;
	lim.header_bytes = BBT_HEAD_BYTES;
	lim.header_count = BBT_HEAD_COUNT;
	c->p = cm_http_parser_new(CM_HTTP_REQUEST, &lim);
	c->scratch = evbuffer_new();
	c->timer = evtimer_new(o->base, bbt_conn_timer_cb, c);
	c->idle = evtimer_new(o->base, bbt_conn_idle_cb, c);
	c->reap = event_new(o->base, -1, 0, bbt_conn_reap_cb, c);
	c->kick = event_new(o->base, -1, 0, bbt_conn_kick_cb, c);
	if (c->p == NULL || c->scratch == NULL || c->timer == NULL ||
	    c->idle == NULL || c->reap == NULL || c->kick == NULL)
		goto fail;
	if (l->tls) {
		if ((c->ssl = SSL_new(o->ssl)) == NULL)
			goto fail;
		c->bev = bufferevent_openssl_socket_new(o->base, fd, c->ssl,
		    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		if (c->bev == NULL) {
			SSL_free(c->ssl);
			c->ssl = NULL;
			goto fail;
		}
		/* Clients often skip close_notify: not an error here. */
		bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
		bbt_conn_set(c, BBT_CONN_TLS);
	} else {
		c->bev = bufferevent_socket_new(o->base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
		if (c->bev == NULL)
			goto fail;
		bbt_conn_set(c, BBT_CONN_HEAD);
	}
	c->fd = -1;		/* the bufferevent owns it now */
	bufferevent_setcb(c->bev, bbt_conn_readcb, bbt_conn_writecb,
	    bbt_conn_eventcb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, BBT_IN_HIGH_BYTES);
	(void)bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	bbt_conn_idle_arm(c, o->idle_ms);
	return;
 fail:
	if (c->bev == NULL && fd != -1)
		(void)close(fd);
	c->fd = -1;
	bbt_conn_free(c);
}

static void
bbt_conn_idle_arm(struct bbt_conn *c, int ms)
{
	struct timeval	 tv;

	if (ms <= 0) {
		(void)event_del(c->idle);
		return;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	(void)evtimer_add(c->idle, &tv);
}

void
bbt_conn_timer(struct bbt_conn *c, int ms)
{
	struct timeval	 tv;

	if (ms < 0)
		ms = 0;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	(void)evtimer_add(c->timer, &tv);
}

struct evbuffer *
bbt_conn_out(struct bbt_conn *c)
{
	return (bufferevent_get_output(c->bev));
}

/* Safe from any callback of c, any number of times. */
void
bbt_conn_close(struct bbt_conn *c, const char *why)
{
	if (c->state == BBT_CONN_DEAD)
		return;
	/* A request cut off mid-body is logged with what did arrive. */
	if (c->req.msg != NULL && !c->req.logged)
		bbt_conn_finish_req(c, 0);
	bbt_main_log(c->o, json_pack("{s:s, s:I, s:s, s:I}", "event", "close",
	    "conn", (json_int_t)c->id, "why", why, "requests",
	    (json_int_t)c->nreq));
	bbt_conn_set(c, BBT_CONN_DEAD);
	if (c->bev != NULL)
		(void)bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	(void)event_del(c->timer);
	(void)event_del(c->idle);
	event_active(c->reap, EV_TIMEOUT, 0);	/* free on the next turn */
}

static void
bbt_conn_free(struct bbt_conn *c)
{
	if (c == NULL)
		return;
	TAILQ_REMOVE(&c->o->conns, c, entry);
	c->o->st.open--;
	bbt_cgi_free(c->cgi);
	bbt_ws_free(c->ws);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (c->fd != -1)
		(void)close(c->fd);
	bbt_conn_req_clear(c);
	cm_http_parser_free(c->p);
	if (c->scratch != NULL)
		evbuffer_free(c->scratch);
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->idle != NULL)
		event_free(c->idle);
	if (c->reap != NULL)
		event_free(c->reap);
	if (c->kick != NULL)
		event_free(c->kick);
	free(c);
}

void
bbt_conn_free_all(struct bbt_origin *o)
{
	struct bbt_conn	*c;

	while ((c = TAILQ_FIRST(&o->conns)) != NULL)
		bbt_conn_free(c);
}

static void
bbt_conn_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	bbt_conn_free(arg);
}

static void
bbt_conn_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	bbt_conn_process(arg);
}

static void
bbt_conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bbt_conn	*c = arg;

	(void)fd;
	(void)what;
	if (c->state == BBT_CONN_REPLY && c->rep.tick != NULL)
		c->rep.tick(c);
}

static void
bbt_conn_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bbt_conn	*c = arg;

	(void)fd;
	(void)what;
	switch (c->state) {
	case BBT_CONN_TLS:
	case BBT_CONN_HEAD:
	case BBT_CONN_BODY:
	case BBT_CONN_LINGER:
		bbt_conn_close(c, "idle");
		break;
	default:
		break;
	}
}

static void
bbt_conn_readcb(struct bufferevent *bev, void *arg)
{
	struct bbt_conn	*c = arg;

	(void)bev;
	switch (c->state) {
	case BBT_CONN_LINGER:
		(void)evbuffer_drain(bufferevent_get_input(c->bev),
		    evbuffer_get_length(bufferevent_get_input(c->bev)));
		break;
	case BBT_CONN_HEAD:
	case BBT_CONN_BODY:
		bbt_conn_idle_arm(c, c->o->idle_ms);
		bbt_conn_process(c);
		break;
	case BBT_CONN_CGI:
	case BBT_CONN_WS:
		bbt_conn_process(c);
		break;
	default:
		/* REPLY: pipelined bytes wait for bbt_conn_done(). */
		break;
	}
}

static void
bbt_conn_writecb(struct bufferevent *bev, void *arg)
{
	struct bbt_conn	*c = arg;

	(void)bev;
	if (c->state == BBT_CONN_REPLY && c->rep.pump != NULL)
		c->rep.pump(c);
	else if (c->state == BBT_CONN_LINGER)
		bbt_conn_linger(c);
	else if (c->state == BBT_CONN_CGI)
		bbt_cgi_drained(c);
	else if (c->state == BBT_CONN_WS)
		bbt_ws_read(c);
}

static void
bbt_conn_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct bbt_conn	*c = arg;
	struct bbt_origin *o = c->o;
	unsigned long	 e;
	char		 buf[256];
	const char	*sni;

	if (what & BEV_EVENT_CONNECTED) {
		o->st.tls_ok++;
		bbt_conn_set(c, BBT_CONN_HEAD);
		bbt_conn_idle_arm(c, o->idle_ms);
		return;
	}
	if ((what & BEV_EVENT_ERROR) && c->state == BBT_CONN_TLS) {
		o->st.tls_failed++;
		e = bufferevent_get_openssl_error(bev);
		if (e != 0)
			ERR_error_string_n(e, buf, sizeof(buf));
		else
			(void)snprintf(buf, sizeof(buf), "%s",
			    errno != 0 ? strerror(errno) : "closed");
		sni = SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name);
		bbt_main_log(o, json_pack("{s:s, s:I, s:o, s:s}", "event",
		    "tls_failed", "conn", (json_int_t)c->id, "sni",
		    sni != NULL ? json_string(sni) : json_null(), "reason",
		    buf));
		while (bufferevent_get_openssl_error(bev) != 0)
			continue;
	}
	if (what & BEV_EVENT_ERROR) {
		if (c->state == BBT_CONN_BODY ||
		    (c->state == BBT_CONN_CGI && !c->cgi_body_done))
			o->st.aborted++;
		bbt_conn_close(c, "connection error");
		return;
	}
	if (what & BEV_EVENT_EOF) {
		c->eof = 1;
		bbt_conn_eof(c);
	}
}

/*
 * The peer shut its side.  Requests already complete in the input are
 * still answered (a client may half-close after its last request); a
 * cut body, a partial head or a response nobody is producing ends here.
 */
static void
bbt_conn_eof(struct bbt_conn *c)
{
	switch (c->state) {
	case BBT_CONN_HEAD:
		bbt_conn_process(c);	/* closes if no whole head is left */
		break;
	case BBT_CONN_CGI:
		if (c->cgi_body_done)
			break;		/* the CGI still answers */
		/* FALLTHROUGH */
	case BBT_CONN_BODY:
		c->o->st.aborted++;
		bbt_conn_close(c, "peer closed mid-body");
		break;
	case BBT_CONN_REPLY:
		/* /never has neither: nothing would ever end it. */
		if (c->rep.pump == NULL && c->rep.tick == NULL)
			bbt_conn_close(c, "peer closed");
		break;
	default:
		bbt_conn_close(c, "peer closed");
		break;
	}
}


/*
 * The bytes as a JSON string, uncapped, each invalid UTF-8 byte replaced
 * by U+FFFD (cm_log_peer() caps at a log line's budget; tests compare
 * whole values).
 */
json_t *
bbt_conn_text(const void *s, size_t len)
{
	const unsigned char	*p = s;
	char			*out;
	size_t			 i = 0, o = 0, n;
	json_t			*j;

	if ((out = malloc(len * 3 + 1)) == NULL)
		return (NULL);
	while (i < len) {
		if ((n = cm_utf8_seq(p + i, len - i)) == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(out + o, p + i, n);
		o += n;
		i += n;
	}
	j = json_stringn(out, o);
	free(out);
	return (j);
}

json_t *
bbt_conn_fields_json(const struct cm_http_fields *f)
{
	json_t		*a;
	const char	*n, *v;
	size_t		 i;

	if ((a = json_array()) == NULL)
		return (NULL);
	for (i = 0; f != NULL && i < cm_http_fields_len(f); i++) {
		n = cm_http_fields_name(f, i);
		v = cm_http_fields_value(f, i);
		(void)json_array_append_new(a, json_pack("[o, o]",
		    bbt_conn_text(n, strlen(n)), bbt_conn_text(v, strlen(v))));
	}
	return (a);
}

static void
bbt_conn_req_clear(struct bbt_conn *c)
{
	EVP_MD_CTX_free(c->req.sha);
	free(c->req.buf);
	memset(&c->req, 0, sizeof(c->req));
}

/* A head is complete: set the request up and pick who answers it. */
static int
bbt_conn_begin(struct bbt_conn *c)
{
	struct bbt_origin	*o = c->o;
	struct bbt_req		*r = &c->req;
	const char		*target, *q, *up, *why;
	size_t			 tlen;

	bbt_conn_req_clear(c);
	memset(&c->rep, 0, sizeof(c->rep));
	r->msg = cm_http_parser_msg(c->p);
	r->n = ++c->nreq;
	target = cm_http_msg_target(r->msg);
	tlen = strlen(target);
	if ((r->buf = malloc(tlen + 2)) == NULL ||
	    (r->sha = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(r->sha, EVP_sha256(), NULL) != 1)
		return (-1);
	/* Absolute-form targets (plain proxies) keep their scheme here. */
	memcpy(r->buf, target, tlen + 1);
	if ((q = strchr(r->buf, '?')) != NULL) {
		r->buf[q - r->buf] = '\0';
		r->query = r->buf + (q - r->buf) + 1;
	} else {
		r->buf[tlen + 1] = '\0';
		r->query = r->buf + tlen + 1;
	}
	r->path = r->buf;
	r->head = cm_http_msg_method(r->msg) == HTTP_HEAD;
	r->counted = strcmp(r->path, "/stats") != 0;
	if (r->counted) {
		o->st.requests++;
		c->l->requests++;
		if (!c->served) {
			c->served = 1;
			o->st.served++;
		}
	} else
		o->st.stats_requests++;
	(void)event_del(c->idle);

	if (cm_http_msg_expect(r->msg) == CM_HTTP_EXPECT_OTHER) {
		bbt_conn_refuse(c, 417, "expectation_failed",
		    "only 100-continue is understood");
		return (0);
	}
	up = cm_http_msg_upgrade(r->msg);
	if (up != NULL && strcasecmp(up, "websocket") == 0)
		return (bbt_ws_upgrade(c));
	if (cm_http_msg_expect(r->msg) == CM_HTTP_EXPECT_CONTINUE &&
	    cm_http_msg_framing(r->msg, NULL) != CM_HTTP_FRAMING_NONE &&
	    cm_http_write_response(bbt_conn_out(c), 100, NULL, NULL,
	    CM_HTTP_FRAMING_NONE, 0, &why) == -1)
		return (-1);
	if (bbt_cgi_wants(c)) {
		bbt_conn_set(c, BBT_CONN_CGI);
		return (bbt_cgi_start(c));
	}
	bbt_conn_set(c, BBT_CONN_BODY);
	return (0);
}

/* Hashes data and keeps its prefix; drains it unless the CGI wants it. */
static void
bbt_conn_hash(struct bbt_conn *c, struct evbuffer *data, int drain)
{
	struct bbt_req		*r = &c->req;
	struct evbuffer_iovec	*v;
	size_t			 len = evbuffer_get_length(data), take;
	int			 n, i;

	if (r->prefix_len < sizeof(r->prefix) && len > 0) {
		take = sizeof(r->prefix) - r->prefix_len;
		if (take > len)
			take = len;
		(void)evbuffer_copyout(data, r->prefix + r->prefix_len, take);
		r->prefix_len += take;
	}
	/* Hash the chains in place: nothing is copied. */
	if (len > 0 && (n = evbuffer_peek(data, -1, NULL, NULL, 0)) > 0 &&
	    (v = calloc((size_t)n, sizeof(*v))) != NULL) {
		n = evbuffer_peek(data, -1, NULL, v, n);
		for (i = 0; i < n; i++)
			(void)EVP_DigestUpdate(r->sha, v[i].iov_base,
			    v[i].iov_len);
		free(v);
	}
	r->body_len += len;
	if (drain)
		(void)evbuffer_drain(data, len);
	if (r->body_len > c->o->st.body_bytes_max)
		c->o->st.body_bytes_max = r->body_len;
}

/*
 * Feeds the body through the codec: decoded bytes go to the hash (and
 * to the CGI's stdin in BBT_CONN_CGI).  1: the body is complete; 0: need
 * more; -1: refused (the connection is being answered and closed).
 */
static int
bbt_conn_body(struct bbt_conn *c)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	const char	*why;
	size_t		 before;
	uint64_t	 got;
	int		 rc;

	for (;;) {
		/* git http-backend is behind: leave the bytes in the socket. */
		if (c->state == BBT_CONN_CGI && bbt_cgi_body(c, c->scratch) == 1)
			return (0);
		before = evbuffer_get_length(in);
		got = cm_http_parser_body_bytes(c->p);
		rc = cm_http_body_read(c->p, in, c->scratch, BBT_IN_HIGH_BYTES,
		    &why);
		if (rc == -1) {
			bbt_conn_refuse(c, 400, "bad_request", why);
			return (-1);
		}
		if (c->state == BBT_CONN_CGI) {
			bbt_conn_hash(c, c->scratch, 0);
			if (bbt_cgi_body(c, c->scratch) == 1 && rc != 1)
				return (0);	/* bbt_conn_resume() follows */
		} else
			bbt_conn_hash(c, c->scratch, 1);
		if (rc == 1)
			return (1);
		/* No progress: wait for bytes. */
		if (evbuffer_get_length(in) == before &&
		    cm_http_parser_body_bytes(c->p) == got)
			return (0);
	}
}

/* The body is complete (or cut off): finish the hash, log, count. */
void
bbt_conn_finish_req(struct bbt_conn *c, int complete)
{
	struct bbt_req	*r = &c->req;
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0, i;
	json_t		*j, *echo;
	struct timespec	 ts;

	if (r->logged)
		return;
	r->logged = 1;
	if (complete && r->sha != NULL &&
	    EVP_DigestFinal_ex(r->sha, md, &mdlen) == 1) {
		for (i = 0; i < mdlen && i < 32; i++)
			(void)snprintf(r->sha_hex + i * 2, 3, "%02x", md[i]);
	}
	if (r->body_len > c->o->st.body_bytes_max)
		c->o->st.body_bytes_max = r->body_len;
	if (c->o->log_fd == -1)
		return;
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	/* "event" first: tests grep for it. */
	if ((j = json_pack("{s:s, s:I}", "event", "request", "ts_ms",
	    (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000)) == NULL)
		return;
	if ((echo = bbt_fixture_echo_json(c)) != NULL) {
		(void)json_object_update(j, echo);
		json_decref(echo);
	}
	(void)json_object_set_new(j, "listener", json_string(c->l->addr));
	(void)json_object_set_new(j, "peer", json_string(c->peer));
	(void)json_object_set_new(j, "complete", json_boolean(complete));
	bbt_main_log(c->o, j);
}

/* An error answer, then close: the codec's refusals are sticky. */
static void
bbt_conn_refuse(struct bbt_conn *c, int status, const char *reason,
    const char *why)
{
	char	 body[512];
	int	 n;

	c->o->st.refused++;
	bbt_main_log(c->o, json_pack("{s:s, s:I, s:i, s:s, s:s}", "event",
	    "refused", "conn", (json_int_t)c->id, "status", status, "reason",
	    reason != NULL ? reason : "", "why", why != NULL ? why : ""));
	if (c->req.msg != NULL && !c->req.logged)
		bbt_conn_finish_req(c, 0);
	n = snprintf(body, sizeof(body), "bbt-origin: %s: %s\n",
	    reason != NULL ? reason : "refused", why != NULL ? why : "");
	if (n < 0 || (size_t)n >= sizeof(body))
		n = (int)strlen(body);
	c->rep.close = 1;
	bbt_conn_set(c, BBT_CONN_REPLY);
	bbt_conn_simple(c, status, "text/plain", body, (size_t)n);
}

static void
bbt_conn_process(struct bbt_conn *c)
{
	struct evbuffer	*in;
	const char	*why, *reason;
	int		 rc, status;

	while (c->state != BBT_CONN_DEAD) {
		in = bufferevent_get_input(c->bev);
		switch (c->state) {
		case BBT_CONN_HEAD:
			rc = cm_http_head_read(c->p, in, &why);
			if (rc == 0) {
				if (c->eof)
					bbt_conn_close(c, "peer closed");
				return;
			}
			if (rc == -1) {
				status = cm_http_parser_error(c->p, &reason);
				bbt_conn_refuse(c, status, reason, why);
				return;
			}
			if (bbt_conn_begin(c) == -1) {
				bbt_conn_close(c, "out of memory");
				return;
			}
			break;
		case BBT_CONN_BODY:
			rc = bbt_conn_body(c);
			if (rc != 1)
				return;
			bbt_conn_finish_req(c, 1);
			bbt_conn_set(c, BBT_CONN_REPLY);
			bbt_fixture_dispatch(c);
			break;
		case BBT_CONN_CGI:
			if (c->cgi_body_done) {
				/* Later bytes wait their turn. */
				return;
			}
			if (bbt_conn_body(c) != 1)
				return;
			c->cgi_body_done = 1;
			bbt_conn_finish_req(c, 1);
			/* May end the exchange and free the CGI: last. */
			bbt_cgi_body_end(c);
			return;
		case BBT_CONN_WS:
			bbt_ws_read(c);
			return;
		default:
			return;
		}
	}
}

void
bbt_conn_resume(struct bbt_conn *c)
{
	event_active(c->kick, EV_TIMEOUT, 0);
}

void
bbt_conn_upgraded(struct bbt_conn *c)
{
	bbt_conn_finish_req(c, 1);
	bbt_conn_set(c, BBT_CONN_WS);
	/* Frames may have come with the head. */
	event_active(c->kick, EV_TIMEOUT, 0);
}

/* After the last byte of a closing response: FIN, then wait for EOF. */
static void
bbt_conn_linger(struct bbt_conn *c)
{
	if (evbuffer_get_length(bbt_conn_out(c)) > 0 || c->shut)
		return;
	if (c->eof) {
		bbt_conn_close(c, "done");
		return;
	}
	c->shut = 1;
	/*
	 * Closing with unread input would send a RST that can destroy the
	 * response in flight; half-close and drain instead.
	 */
	if (c->ssl != NULL)
		(void)SSL_shutdown(c->ssl);
	ERR_clear_error();
	(void)shutdown(bufferevent_getfd(c->bev), SHUT_WR);
	bbt_conn_idle_arm(c, BBT_LINGER_MS);
}

void
bbt_conn_done(struct bbt_conn *c)
{
	if (c->state == BBT_CONN_DEAD)
		return;
	(void)event_del(c->timer);
	c->rep.pump = NULL;
	c->rep.tick = NULL;
	/* Called from CGI callbacks too: they return without touching it. */
	bbt_cgi_free(c->cgi);
	c->cgi = NULL;
	/* After a half-close, pipelined requests still get answers. */
	if (c->rep.close || (c->eof &&
	    evbuffer_get_length(bufferevent_get_input(c->bev)) == 0)) {
		bbt_conn_set(c, BBT_CONN_LINGER);
		bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
		bbt_conn_linger(c);
		return;
	}
	bbt_conn_req_clear(c);
	memset(&c->rep, 0, sizeof(c->rep));
	c->cgi_body_done = 0;
	cm_http_parser_reset(c->p);
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	bbt_conn_set(c, BBT_CONN_HEAD);
	bbt_conn_idle_arm(c, c->o->idle_ms);
	/* Pipelined requests may be waiting already. */
	event_active(c->kick, EV_TIMEOUT, 0);
}

int
bbt_conn_head(struct bbt_conn *c, int status, struct cm_http_fields *f,
    enum cm_http_framing framing, uint64_t length)
{
	const char	*why;
	char		 n[32];
	int		 rc;

	if (f == NULL && (f = cm_http_fields_new()) == NULL)
		return (-1);
	if (c->req.msg != NULL) {
		if (!cm_http_msg_keep_alive(c->req.msg))
			c->rep.close = 1;
		/* HTTP/1.0 has no chunked coding: delimit by closing. */
		if (framing == CM_HTTP_FRAMING_CHUNKED &&
		    cm_http_msg_version(c->req.msg) == 10)
			framing = CM_HTTP_FRAMING_CLOSE;
	}
	if (framing == CM_HTTP_FRAMING_CLOSE)
		c->rep.close = 1;
	(void)snprintf(n, sizeof(n), "%llu", (unsigned long long)c->id);
	(void)cm_http_fields_add(f, "X-Bbt-Conn", n);
	(void)snprintf(n, sizeof(n), "%llu", (unsigned long long)c->req.n);
	(void)cm_http_fields_add(f, "X-Bbt-Req", n);
	if (c->rep.close)
		(void)cm_http_fields_set(f, "Connection", "close");
	rc = cm_http_write_response(bbt_conn_out(c), status, NULL, f, framing,
	    length, &why);
	cm_http_fields_free(f);
	c->rep.framing = framing;
	c->rep.started = 1;
	return (rc);
}

void
bbt_conn_data(struct bbt_conn *c, const void *p, size_t len)
{
	if (c->req.head || len == 0)
		return;
	if (c->rep.framing == CM_HTTP_FRAMING_CHUNKED)
		(void)cm_http_write_chunk_bytes(bbt_conn_out(c), p, len);
	else
		(void)evbuffer_add(bbt_conn_out(c), p, len);
}

void
bbt_conn_end(struct bbt_conn *c)
{
	if (!c->req.head && c->rep.framing == CM_HTTP_FRAMING_CHUNKED)
		(void)cm_http_write_last_chunk(bbt_conn_out(c), NULL);
	bbt_conn_done(c);
}

void
bbt_conn_simple(struct bbt_conn *c, int status, const char *type,
    const void *body, size_t len)
{
	struct cm_http_fields	*f;
	int			 bodyless;

	bodyless = status == 204 || status == 304 || status < 200;
	if ((f = cm_http_fields_new()) == NULL) {
		bbt_conn_close(c, "out of memory");
		return;
	}
	if (type != NULL && !bodyless)
		(void)cm_http_fields_add(f, "Content-Type", type);
	if (bbt_conn_head(c, status, f, bodyless ? CM_HTTP_FRAMING_NONE :
	    CM_HTTP_FRAMING_LENGTH, len) == -1) {
		bbt_conn_close(c, "cannot write head");
		return;
	}
	if (!bodyless)
		bbt_conn_data(c, body, len);
	bbt_conn_end(c);
}
