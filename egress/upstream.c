/*
 * Dialling origins (spec/egress.md §11): the pool first, else resolve,
 * guard, connect and verified TLS.  A dial owns everything it starts
 * (the DNS wait, the connect attempts, the TLS bufferevent, its timers)
 * until it hands a connection over, so cancelling at any stage frees it
 * all.  Its callback always runs from the kick event, never inside
 * eg_up_dial(), and the dial is freed before the callback runs.
 *
 * Connects are made here with connect(2) on the very sockaddr the guard
 * passed (no second lookup), then bufferevent_socket_connect(bev, NULL)
 * waits for completion, which reports the socket's own error; the fd is
 * then handed to the bufferevent the caller gets (plain, or OpenSSL).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>

#include "common/log.h"
#include "common/metrics.h"
#include "common/settings.h"
#include "common/util.h"
#include "common/worker.h"
#include "egress/dns.h"
#include "egress/egress.h"
#include "egress/upstream.h"
#include "egress/upstream_int.h"

#define EG_DIAL_MAX_CANDS	(2 * EG_MAX_DNS_ADDRS)

enum eg_dial_state {
	EG_DIAL_POOLED,		/* a pooled connection waits for the kick */
	EG_DIAL_RESOLVE,	/* waiting for DNS */
	EG_DIAL_CONNECT,	/* TCP attempts running */
	EG_DIAL_TLS,		/* handshake with the origin */
	EG_DIAL_DONE,		/* result set; the kick delivers it */
};

/* One connect attempt (one candidate address). */
struct eg_dial_try {
	struct eg_dial		*d;		/* borrowed */
	struct bufferevent	*bev;		/* owned; the fd is ours */
};

struct eg_dial {
	struct eg_worker	*ew;		/* borrowed */
	struct event_base	*base;		/* borrowed */
	const struct cm_settings *s;		/* borrowed: the caller's */
	SSL_CTX			*ctx;		/* a reference; NULL if plain */
	int			 tls;
	int			 port;
	int			 allow_private;
	int			 is_ip;
	int			 connect_s;
	char			 host[CM_HOST_BUF_BYTES];
	eg_dial_cb		 cb;
	void			*arg;
	enum eg_dial_state	 state;
	struct eg_dns_wait	*dnsw;		/* owned while resolving */
	struct eg_dns_res	 res;		/* the checked candidates */
	size_t			 next;		/* next candidate to start */
	size_t			 ntries;	/* attempts running */
	struct eg_dial_try	 tries[EG_DIAL_MAX_CANDS];
	struct bufferevent	*tlsbev;	/* owned during the handshake */
	struct eg_up		*up;		/* owned until delivered */
	struct event		*kick;		/* owned: delivers */
	struct event		*deadline;	/* owned: upstream_connect_s */
	struct event		*stagger;	/* owned: next candidate */
	enum eg_up_result	 result;
	char			 peer[64];
	char			 lasterr[160];	/* last connect error */
	char			 why[512];
};

/* Slots of §19, written once by eg_upstream_metrics_init(). */
static int	 eg_up_m_new = -1;
static int	 eg_up_m_reused = -1;
static int	 eg_up_m_failed = -1;
static int	 eg_up_m_active = -1;

static struct eg_up *eg_up_new(struct eg_dial *d, struct bufferevent *bev);
static void	 eg_up_peer_fmt(const struct sockaddr *sa, char *buf,
		    size_t size);
static void	 eg_dial_resolve(struct eg_dial *d);
static void	 eg_dial_dns_cb(const struct eg_dns_res *res, void *arg);
static void	 eg_dial_candidates(struct eg_dial *d);
static void	 eg_dial_next(struct eg_dial *d);
static int	 eg_dial_try_start(struct eg_dial *d, size_t i);
static void	 eg_dial_try_drop(struct eg_dial_try *t, int close_fd);
static void	 eg_dial_try_cb(struct bufferevent *bev, short what,
		    void *arg);
static void	 eg_dial_connected(struct eg_dial *d, int fd, size_t i);
static SSL	*eg_dial_ssl(struct eg_dial *d);
static void	 eg_dial_tls_cb(struct bufferevent *bev, short what,
		    void *arg);
static void	 eg_dial_stagger_cb(evutil_socket_t fd, short what,
		    void *arg);
static void	 eg_dial_deadline_cb(evutil_socket_t fd, short what,
		    void *arg);
static void	 eg_dial_stop(struct eg_dial *d);
static void	 eg_dial_finish(struct eg_dial *d, enum eg_up_result res,
		    const char *why);
static void	 eg_dial_kick_cb(evutil_socket_t fd, short what, void *arg);
static void	 eg_dial_free(struct eg_dial *d);
static void	 eg_upstream_dns_log(int is_warn, const char *msg);

void
eg_upstream_metrics_init(void)
{
	static const char fam[] = "bb_egress_upstream_connects_total";
	static const char help[] = "Origin connections by result.";

	eg_up_m_new = cm_metric_register(fam, "result=\"new\"",
	    CM_METRIC_COUNTER, help);
	eg_up_m_reused = cm_metric_register(fam, "result=\"reused\"",
	    CM_METRIC_COUNTER, help);
	eg_up_m_failed = cm_metric_register(fam, "result=\"failed\"",
	    CM_METRIC_COUNTER, help);
	eg_up_m_active = cm_metric_register("bb_egress_connections_active",
	    "side=\"upstream\"", CM_METRIC_GAUGE, "Open egress connections.");
	/* evdns would print its own warnings on stderr, outside the log. */
	evdns_set_log_fn(eg_upstream_dns_log);
}

static void
eg_upstream_dns_log(int is_warn, const char *msg)
{
	if (is_warn)
		cm_log(CM_LOG_WARN, "egress", "resolver", 0,
		    json_pack("{s:o}", "message", cm_log_peer(msg,
		    strlen(msg))));
}

int
eg_upstream_worker_init(struct eg_worker *ew, const struct cm_settings *s)
{
	char	 err[256];

	ew->dns = NULL;
	if ((ew->pool = eg_pool_new()) == NULL) {
		cm_log(CM_LOG_ERROR, "egress", "worker", 0,
		    json_pack("{s:s}", "error", "out of memory"));
		return (-1);
	}
	if ((ew->dns = eg_dns_new(cm_worker_base(ew->w), s, err,
	    sizeof(err))) == NULL) {
		cm_log(CM_LOG_ERROR, "egress", "resolver", 0,
		    json_pack("{s:s}", "error", err));
		eg_pool_free(ew->pool);
		ew->pool = NULL;
		return (-1);
	}
	return (0);
}

void
eg_upstream_worker_free(struct eg_worker *ew)
{
	eg_pool_free(ew->pool);
	ew->pool = NULL;
	eg_dns_free(ew->dns);
	ew->dns = NULL;
}

struct ssl_ctx_st *
eg_upstream_ctx_new(const char *ca_file, char *err, size_t errlen)
{
	static const unsigned char alpn[] = "\x08http/1.1";
	SSL_CTX		*ctx;
	unsigned long	 e;

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		(void)snprintf(err, errlen, "SSL_CTX_new failed");
		goto fail;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_default_verify_paths(ctx) != 1) {
		(void)snprintf(err, errlen, "cannot set up the trust store");
		goto fail;
	}
	/* Added to the default trust, never instead of it. */
	if (ca_file != NULL &&
	    SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
		e = ERR_peek_last_error();
		(void)snprintf(err, errlen,
		    "egress.upstream_ca_file: cannot load %s: %s", ca_file,
		    e != 0 && ERR_reason_error_string(e) != NULL ?
		    ERR_reason_error_string(e) : "no certificate");
		goto fail;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	/* SSL_CTX_set_alpn_protos returns 0 on success. */
	if (SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1) != 0) {
		(void)snprintf(err, errlen, "cannot set ALPN");
		goto fail;
	}
	(void)SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	(void)SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION);
	return (ctx);
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return (NULL);
}

static void
eg_up_peer_fmt(const struct sockaddr *sa, char *buf, size_t size)
{
	char	 a[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		(void)inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		(void)snprintf(buf, size, "%s:%d", a, ntohs(sin->sin_port));
	} else {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		(void)inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		(void)snprintf(buf, size, "[%s]:%d", a, ntohs(sin6->sin6_port));
	}
}

static struct eg_up *
eg_up_new(struct eg_dial *d, struct bufferevent *bev)
{
	struct eg_up	*up;

	if ((up = calloc(1, sizeof(*up))) == NULL)
		return (NULL);
	up->ew = d->ew;
	up->bev = bev;
	up->tls = d->tls != 0;
	up->port = d->port;
	cm_strlcpy(up->host, d->host, sizeof(up->host));
	cm_strlcpy(up->peer, d->peer, sizeof(up->peer));
	cm_metric_add(d->ew->w, eg_up_m_active, 1);
	return (up);
}

void
eg_up_free(struct eg_up *up)
{
	if (up == NULL)
		return;
	eg_pool_unlink(up);
	if (up->idle != NULL)
		event_free(up->idle);
	/* Safe inside the bufferevent's own callback: libevent holds a ref. */
	bufferevent_free(up->bev);
	cm_metric_add(up->ew->w, eg_up_m_active, -1);
	free(up);
}

struct bufferevent *
eg_up_bev(struct eg_up *up)
{
	return (up->bev);
}

int
eg_up_reused(const struct eg_up *up)
{
	return (up->reused);
}

const char *
eg_up_peer(const struct eg_up *up)
{
	return (up->peer);
}

struct eg_dial *
eg_up_dial(struct eg_worker *ew, const struct eg_cfg *cfg,
    const struct cm_settings *s, int tls, const char *host, int port,
    int allow_private, eg_dial_cb cb, void *arg)
{
	struct eg_dial	*d;
	unsigned char	 bin[16];
	size_t		 i;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return (NULL);
	d->ew = ew;
	d->base = cm_worker_base(ew->w);
	d->s = s;
	d->tls = tls != 0;
	d->port = port;
	d->allow_private = allow_private;
	d->connect_s = (int)s->v[CM_S_EG_UPSTREAM_CONNECT_S];
	d->cb = cb;
	d->arg = arg;
	for (i = 0; i < EG_DIAL_MAX_CANDS; i++)
		d->tries[i].d = d;
	cm_strlcpy(d->host, host, sizeof(d->host));
	d->is_ip = inet_pton(AF_INET, d->host, bin) == 1 ||
	    inet_pton(AF_INET6, d->host, bin) == 1;
	d->kick = event_new(d->base, -1, 0, eg_dial_kick_cb, d);
	d->deadline = evtimer_new(d->base, eg_dial_deadline_cb, d);
	d->stagger = evtimer_new(d->base, eg_dial_stagger_cb, d);
	if (d->kick == NULL || d->deadline == NULL || d->stagger == NULL) {
		eg_dial_free(d);
		return (NULL);
	}
	if (d->tls && cfg != NULL && cfg->up_ctx != NULL) {
		d->ctx = cfg->up_ctx;
		SSL_CTX_up_ref(d->ctx);
	}
	if (strlen(host) >= sizeof(d->host)) {
		eg_dial_finish(d, EG_UP_DNS_FAILURE,
		    "dns lookup failed: host name too long");
		return (d);
	}
	if (d->tls && d->ctx == NULL) {
		eg_dial_finish(d, EG_UP_TLS_FAILED, "no origin TLS context");
		return (d);
	}
	if ((d->up = eg_pool_take(ew, d->tls, d->host, d->port)) != NULL) {
		d->state = EG_DIAL_POOLED;
		event_active(d->kick, EV_TIMEOUT, 1);
		return (d);
	}
	eg_dial_resolve(d);
	return (d);
}

static void
eg_dial_resolve(struct eg_dial *d)
{
	int	 r;

	d->state = EG_DIAL_RESOLVE;
	r = eg_dns_resolve(d->ew->dns, d->s, d->host, d->port, &d->res,
	    eg_dial_dns_cb, d, &d->dnsw);
	if (r == -1)
		eg_dial_finish(d, EG_UP_DNS_FAILURE,
		    "dns lookup failed: out of memory");
	else if (r == 1)
		eg_dial_candidates(d);
}

static void
eg_dial_dns_cb(const struct eg_dns_res *res, void *arg)
{
	struct eg_dial	*d = arg;

	d->dnsw = NULL;		/* the wait is over; it frees itself */
	d->res = *res;
	eg_dial_candidates(d);
}

/* The guard of §11.2 on every candidate, then the first connect. */
static void
eg_dial_candidates(struct eg_dial *d)
{
	struct timeval	 tv = { d->connect_s, 0 };
	size_t		 i, n = 0;
	char		 why[sizeof(d->why)];

	if (d->res.n == 0) {
		eg_dial_finish(d, EG_UP_DNS_FAILURE, d->res.why[0] != '\0' ?
		    d->res.why : "dns lookup failed");
		return;
	}
	for (i = 0; i < d->res.n; i++) {
		const struct eg_dns_cand *c = &d->res.c[i];

		if (c->exempt || d->allow_private ||
		    !eg_ssrf_blocked((const struct sockaddr *)&c->ss))
			d->res.c[n++] = *c;
	}
	d->res.n = n;
	if (n == 0) {
		(void)snprintf(why, sizeof(why), "host resolves only to "
		    "non-public addresses (%s:%d)", d->host, d->port);
		eg_dial_finish(d, EG_UP_PRIVATE, why);
		return;
	}
	d->state = EG_DIAL_CONNECT;
	if (evtimer_add(d->deadline, &tv) == -1) {
		eg_dial_finish(d, EG_UP_CONNECT_FAILED, "cannot arm a timer");
		return;
	}
	eg_dial_next(d);
}

/* Starts the next candidate that can be started; finishes if none. */
static void
eg_dial_next(struct eg_dial *d)
{
	struct timeval	 tv = { EG_DIAL_STAGGER_MS / 1000,
			    (EG_DIAL_STAGGER_MS % 1000) * 1000 };
	char		 why[sizeof(d->why)];

	while (d->next < d->res.n) {
		if (eg_dial_try_start(d, d->next++) == 0) {
			if (d->next < d->res.n)
				(void)evtimer_add(d->stagger, &tv);
			return;
		}
	}
	if (d->ntries == 0) {
		(void)snprintf(why, sizeof(why), "connect failed: %s (%s:%d)",
		    d->lasterr, d->host, d->port);
		eg_dial_finish(d, EG_UP_CONNECT_FAILED, why);
	}
}

static void
eg_dial_try_err(struct eg_dial *d, size_t i, int err)
{
	char	 peer[64], buf[128];

	eg_up_peer_fmt((const struct sockaddr *)&d->res.c[i].ss, peer,
	    sizeof(peer));
	/* GNU strerror_r (_GNU_SOURCE): thread-safe, returns the text. */
	(void)snprintf(d->lasterr, sizeof(d->lasterr), "%s: %s", peer,
	    strerror_r(err, buf, sizeof(buf)));
}

static int
eg_dial_try_start(struct eg_dial *d, size_t i)
{
	const struct eg_dns_cand *c = &d->res.c[i];
	struct eg_dial_try	*t = &d->tries[i];
	int			 fd, one = 1;

	fd = socket(c->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		eg_dial_try_err(d, i, errno);
		return (-1);
	}
	/* Requests are written whole; do not hold a small tail back. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)&c->ss, c->len) == -1 &&
	    errno != EINPROGRESS) {
		eg_dial_try_err(d, i, errno);
		(void)close(fd);
		return (-1);
	}
	/* No BEV_OPT_CLOSE_ON_FREE: a winner's fd moves to a new bev. */
	if ((t->bev = bufferevent_socket_new(d->base, fd, 0)) == NULL) {
		eg_dial_try_err(d, i, ENOMEM);
		(void)close(fd);
		return (-1);
	}
	d->ntries++;
	bufferevent_setcb(t->bev, NULL, NULL, eg_dial_try_cb, t);
	if (bufferevent_socket_connect(t->bev, NULL, 0) == -1) {
		eg_dial_try_err(d, i, errno);
		eg_dial_try_drop(t, 1);
		return (-1);
	}
	return (0);
}

static void
eg_dial_try_drop(struct eg_dial_try *t, int close_fd)
{
	int	 fd;

	if (t->bev == NULL)
		return;
	fd = bufferevent_getfd(t->bev);
	bufferevent_free(t->bev);
	t->bev = NULL;
	if (close_fd && fd >= 0)
		(void)close(fd);
	t->d->ntries--;
}

static void
eg_dial_try_cb(struct bufferevent *bev, short what, void *arg)
{
	struct eg_dial_try	*t = arg;
	struct eg_dial		*d = t->d;
	size_t			 i = (size_t)(t - d->tries), j;
	int			 fd, err = EVUTIL_SOCKET_ERROR();

	if (what & BEV_EVENT_CONNECTED) {
		fd = bufferevent_getfd(bev);
		eg_dial_try_drop(t, 0);
		/* First to connect wins; the others stop now. */
		for (j = 0; j < EG_DIAL_MAX_CANDS; j++)
			eg_dial_try_drop(&d->tries[j], 1);
		(void)event_del(d->stagger);
		eg_dial_connected(d, fd, i);
		return;
	}
	eg_dial_try_err(d, i, err != 0 ? err : ECONNABORTED);
	eg_dial_try_drop(t, 1);
	/* A failure starts the next candidate at once. */
	(void)event_del(d->stagger);
	eg_dial_next(d);
}

static SSL *
eg_dial_ssl(struct eg_dial *d)
{
	SSL	*ssl;

	if ((ssl = SSL_new(d->ctx)) == NULL)
		return (NULL);
	if (d->is_ip) {
		/* No SNI for IP literals (RFC 6066); check the IP SAN. */
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
		    d->host) != 1)
			goto fail;
	} else {
		if (SSL_set_tlsext_host_name(ssl, d->host) != 1 ||
		    SSL_set1_host(ssl, d->host) != 1)
			goto fail;
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	}
	SSL_set_connect_state(ssl);
	return (ssl);
fail:
	SSL_free(ssl);
	return (NULL);
}

static void
eg_dial_connected(struct eg_dial *d, int fd, size_t i)
{
	struct bufferevent	*bev;
	SSL			*ssl;

	eg_up_peer_fmt((const struct sockaddr *)&d->res.c[i].ss, d->peer,
	    sizeof(d->peer));
	if (!d->tls) {
		if ((bev = bufferevent_socket_new(d->base, fd,
		    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
			(void)close(fd);
			eg_dial_finish(d, EG_UP_CONNECT_FAILED,
			    "connect failed: out of memory");
			return;
		}
		if ((d->up = eg_up_new(d, bev)) == NULL) {
			bufferevent_free(bev);
			eg_dial_finish(d, EG_UP_CONNECT_FAILED,
			    "connect failed: out of memory");
			return;
		}
		eg_dial_finish(d, EG_UP_OK, NULL);
		return;
	}
	d->state = EG_DIAL_TLS;
	ERR_clear_error();	/* this thread's queue: start clean */
	if ((ssl = eg_dial_ssl(d)) == NULL) {
		ERR_clear_error();
		(void)close(fd);
		eg_dial_finish(d, EG_UP_TLS_FAILED,
		    "tls handshake failed: cannot set up the session");
		return;
	}
	d->tlsbev = bufferevent_openssl_socket_new(d->base, fd, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (d->tlsbev == NULL) {
		SSL_free(ssl);
		(void)close(fd);
		eg_dial_finish(d, EG_UP_TLS_FAILED,
		    "tls handshake failed: out of memory");
		return;
	}
	bufferevent_setcb(d->tlsbev, NULL, NULL, eg_dial_tls_cb, d);
	(void)bufferevent_enable(d->tlsbev, EV_READ | EV_WRITE);
}

static void
eg_dial_tls_cb(struct bufferevent *bev, short what, void *arg)
{
	struct eg_dial	*d = arg;
	SSL		*ssl = bufferevent_openssl_get_ssl(bev);
	unsigned long	 e, first = 0;
	long		 v;
	char		 why[sizeof(d->why)], buf[128];
	int		 err = EVUTIL_SOCKET_ERROR();

	if (what & BEV_EVENT_CONNECTED) {
		d->tlsbev = NULL;
		if ((d->up = eg_up_new(d, bev)) == NULL) {
			bufferevent_free(bev);
			eg_dial_finish(d, EG_UP_TLS_FAILED,
			    "tls handshake failed: out of memory");
			return;
		}
		eg_dial_finish(d, EG_UP_OK, NULL);
		return;
	}
	/* libevent moved this handshake's errors to the bev: drain them. */
	while ((e = bufferevent_get_openssl_error(bev)) != 0)
		if (first == 0)
			first = e;
	v = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
	if (v != X509_V_OK)
		(void)snprintf(why, sizeof(why), "certificate verify failed: "
		    "%s (%s:%d)", X509_verify_cert_error_string(v), d->host,
		    d->port);
	else if (first != 0)
		(void)snprintf(why, sizeof(why), "tls handshake failed: %s "
		    "(%s:%d)", ERR_reason_error_string(first) != NULL ?
		    ERR_reason_error_string(first) : "error", d->host, d->port);
	else if ((what & BEV_EVENT_EOF) || err == 0)
		(void)snprintf(why, sizeof(why), "tls handshake failed: the "
		    "origin closed the connection (%s:%d)", d->host, d->port);
	else
		(void)snprintf(why, sizeof(why), "tls handshake failed: %s "
		    "(%s:%d)", strerror_r(err, buf, sizeof(buf)), d->host,
		    d->port);
	ERR_clear_error();
	eg_dial_finish(d, EG_UP_TLS_FAILED, why);
}

static void
eg_dial_stagger_cb(evutil_socket_t fd, short what, void *arg)
{
	eg_dial_next(arg);
}

static void
eg_dial_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct eg_dial	*d = arg;
	char		 why[sizeof(d->why)];

	(void)snprintf(why, sizeof(why), "%s timed out after %d s (%s:%d)",
	    d->state == EG_DIAL_TLS ? "tls handshake" : "connect",
	    d->connect_s, d->host, d->port);
	eg_dial_finish(d, EG_UP_TIMEOUT, why);
}

/* Stops everything the dial has started; keeps d->up. */
static void
eg_dial_stop(struct eg_dial *d)
{
	size_t	 i;

	eg_dns_cancel(d->dnsw);
	d->dnsw = NULL;
	for (i = 0; i < EG_DIAL_MAX_CANDS; i++)
		eg_dial_try_drop(&d->tries[i], 1);
	if (d->tlsbev != NULL) {
		bufferevent_free(d->tlsbev);
		d->tlsbev = NULL;
	}
	if (d->deadline != NULL)
		(void)event_del(d->deadline);
	if (d->stagger != NULL)
		(void)event_del(d->stagger);
}

/* Records the outcome; the kick delivers it on the next loop turn. */
static void
eg_dial_finish(struct eg_dial *d, enum eg_up_result res, const char *why)
{
	eg_dial_stop(d);
	d->state = EG_DIAL_DONE;
	d->result = res;
	cm_strlcpy(d->why, why != NULL ? why : "", sizeof(d->why));
	event_active(d->kick, EV_TIMEOUT, 1);
}

static void
eg_dial_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct eg_dial		*d = arg;
	struct eg_worker	*ew = d->ew;
	struct eg_up		*up;
	enum eg_up_result	 res;
	eg_dial_cb		 cb = d->cb;
	void			*cbarg = d->arg;
	char			 why[sizeof(d->why)];

	if (d->state == EG_DIAL_POOLED) {
		up = d->up;
		/* The origin closed or spoke since the take: dial afresh. */
		if (!eg_pool_alive(up, 1)) {
			d->up = NULL;
			eg_up_free(up);
			eg_dial_resolve(d);
			return;
		}
		cm_metric_add(ew->w, eg_up_m_reused, 1);
		d->result = EG_UP_OK;
	} else if (d->result == EG_UP_OK)
		cm_metric_add(ew->w, eg_up_m_new, 1);
	else if (d->result == EG_UP_CONNECT_FAILED ||
	    d->result == EG_UP_TLS_FAILED || d->result == EG_UP_TIMEOUT)
		cm_metric_add(ew->w, eg_up_m_failed, 1);
	up = d->up;
	d->up = NULL;
	res = d->result;
	cm_strlcpy(why, d->why, sizeof(why));
	if (up != NULL)
		bufferevent_setcb(up->bev, NULL, NULL, NULL, NULL);
	eg_dial_free(d);
	cb(res == EG_UP_OK ? up : NULL, res, res == EG_UP_OK ? NULL : why,
	    cbarg);
}

static void
eg_dial_free(struct eg_dial *d)
{
	eg_dial_stop(d);
	eg_up_free(d->up);
	if (d->kick != NULL)
		event_free(d->kick);
	if (d->deadline != NULL)
		event_free(d->deadline);
	if (d->stagger != NULL)
		event_free(d->stagger);
	SSL_CTX_free(d->ctx);
	free(d);
}

void
eg_up_dial_cancel(struct eg_dial *d)
{
	if (d != NULL)
		eg_dial_free(d);
}
