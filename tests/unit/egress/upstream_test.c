/*
 * Origin connections (spec/egress.md §11) on a real event_base: a real
 * worker (cm_worker_new with a hand-made snapshot), in-process TLS and
 * plain origins on 127.0.0.1 with certificates from throwaway bottle
 * CAs, and an in-process DNS server (libevent's evdns server side) that
 * counts the queries it gets.  Every wait is bounded by a timer.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/dns_struct.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/ca.h"
#include "common/metrics.h"
#include "common/routes.h"
#include "common/settings.h"
#include "common/snapshot.h"
#include "common/util.h"
#include "common/worker.h"
#include "common/yaml.h"
#include "egress/dns.h"
#include "egress/egress.h"
#include "egress/upstream.h"

#define MAX_SRV		64
#define MAX_NAMES	32

struct srv_conn {
	struct bufferevent	*bev;
};

/* DNS queries seen, by name (lower-cased) and type. */
struct dns_count {
	char		 name[64];
	int		 a, aaaa;
};

struct fx {
	char			 dir[64];
	char			 ca1_cert[128];
	struct cm_snap		*snap;
	struct cm_settings	*s;		/* snap's */
	struct cm_worker	*w;
	struct event_base	*base;
	struct eg_worker	 ew;
	struct eg_cfg		 cfg;
	EVP_PKEY		*key;
	SSL_CTX			*srv_name;	/* good.test, CA 1 */
	SSL_CTX			*srv_ip;	/* 127.0.0.1, CA 1 */
	SSL_CTX			*srv_bad;	/* bad.test, CA 2 */
	struct evconnlistener	*tls_lis, *bad_lis, *plain_lis;
	int			 tls_port, bad_port, plain_port;
	int			 closed_port;
	int			 black_fd, black_port, black_fill[2];
	int			 silent_fd, silent_port;
	struct srv_conn		 conns[MAX_SRV];
	char			 last_sni[256];
	unsigned char		 last_alpn[64];
	unsigned int		 last_alpn_len;
	struct evdns_server_port *dns;
	int			 dns_fd, dns_port;
	struct dns_count	 counts[MAX_NAMES];
	int			 ttl_x;
};

static struct fx F;

struct dres {
	int			 called;
	struct eg_up		*up;
	enum eg_up_result	 res;
	char			 why[512];
};

/* ---- loop helpers ------------------------------------------------ */

static void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
	*(int *)arg = 1;
}

/* Runs the loop until *flag or ms pass; returns *flag. */
static int
run_until(const int *flag, int ms)
{
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };
	int		 expired = 0;
	struct event	*g = evtimer_new(F.base, guard_cb, &expired);

	assert_non_null(g);
	evtimer_add(g, &tv);
	while ((flag == NULL || !*flag) && !expired)
		event_base_loop(F.base, EVLOOP_ONCE);
	event_free(g);
	return (flag != NULL ? *flag : 0);
}

static void
run_for(int ms)
{
	(void)run_until(NULL, ms);
}

static void
dial_cb(struct eg_up *up, enum eg_up_result res, const char *why, void *arg)
{
	struct dres	*r = arg;

	r->called++;
	r->up = up;
	r->res = res;
	cm_strlcpy(r->why, why != NULL ? why : "", sizeof(r->why));
	if (res == EG_UP_OK)
		assert_null(why);
	else
		assert_null(up);
}

static struct eg_dial *
dial_start(int tls, const char *host, int port, int allow_private,
    struct dres *r)
{
	struct eg_dial	*d;

	memset(r, 0, sizeof(*r));
	d = eg_up_dial(&F.ew, &F.cfg, F.s, tls, host, port, allow_private,
	    dial_cb, r);
	assert_non_null(d);
	/* Never from inside eg_up_dial(), whatever the outcome. */
	assert_int_equal(r->called, 0);
	return (d);
}

static void
dial(int tls, const char *host, int port, int allow_private, int ms,
    struct dres *r)
{
	(void)dial_start(tls, host, port, allow_private, r);
	if (!run_until(&r->called, ms))
		fail_msg("dial %s:%d: no callback within %d ms", host, port, ms);
	assert_int_equal(r->called, 1);
}

/* ---- settings ---------------------------------------------------- */

/* egress.resolve: host[:port] -> addrs ("addr" keeps the port). */
static void
add_resolve(const char *host, int port, const char *const *addrs)
{
	struct cm_resolve_entry	*e;
	const char		*why;
	size_t			 n = 0, i;

	while (addrs[n] != NULL)
		n++;
	F.s->resolve = realloc(F.s->resolve, (F.s->nresolve + 1) *
	    sizeof(*F.s->resolve));
	assert_non_null(F.s->resolve);
	e = &F.s->resolve[F.s->nresolve++];
	memset(e, 0, sizeof(*e));
	e->host = strdup(host);
	e->port = port;
	e->naddrs = n;
	e->addrs = calloc(n, sizeof(*e->addrs));
	assert_non_null(e->addrs);
	for (i = 0; i < n; i++) {
		char	 tmp[96];

		if (cm_addr_parse(addrs[i], &e->addrs[i], &why) == 0)
			continue;
		(void)snprintf(tmp, sizeof(tmp), "%s%s%s:0",
		    strchr(addrs[i], ':') ? "[" : "", addrs[i],
		    strchr(addrs[i], ':') ? "]" : "");
		if (cm_addr_parse(tmp, &e->addrs[i], &why) != 0)
			fail_msg("%s: %s", addrs[i], why);
	}
}

static void
add_resolve1(const char *host, const char *addr)
{
	const char	*a[] = { addr, NULL };

	add_resolve(host, 0, a);
}

static const char *
loop_addr(int port)
{
	static char	 buf[8][32];
	static int	 n;
	char		*b = buf[n++ % 8];

	(void)snprintf(b, sizeof(buf[0]), "127.0.0.1:%d", port);
	return (b);
}

/* ---- origins ----------------------------------------------------- */

static struct srv_conn *
srv_slot(void)
{
	size_t	 i;

	for (i = 0; i < MAX_SRV; i++)
		if (F.conns[i].bev == NULL)
			return (&F.conns[i]);
	fail_msg("too many server connections");
	return (NULL);
}

static void
srv_read_cb(struct bufferevent *bev, void *arg)
{
	/* Echo, so a test can see the connection carries bytes. */
	bufferevent_write_buffer(bev, bufferevent_get_input(bev));
}

static void
srv_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct srv_conn	*c = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
}

static void
srv_accept(int fd, SSL_CTX *ctx)
{
	struct srv_conn	*c = srv_slot();

	if (ctx != NULL)
		c->bev = bufferevent_openssl_socket_new(F.base, fd,
		    SSL_new(ctx), BUFFEREVENT_SSL_ACCEPTING,
		    BEV_OPT_CLOSE_ON_FREE);
	else
		c->bev = bufferevent_socket_new(F.base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
	assert_non_null(c->bev);
	bufferevent_setcb(c->bev, srv_read_cb, NULL, srv_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void
tls_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	srv_accept(fd, arg);
}

static void
plain_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	srv_accept(fd, NULL);
}

/* Closes every origin-side connection at once (no loop turn). */
static void
srv_close_all(void)
{
	size_t	 i;

	for (i = 0; i < MAX_SRV; i++)
		if (F.conns[i].bev != NULL) {
			bufferevent_free(F.conns[i].bev);
			F.conns[i].bev = NULL;
		}
}

/* Writes a byte straight to every origin-side socket. */
static void
srv_poke_all(void)
{
	size_t	 i;

	for (i = 0; i < MAX_SRV; i++)
		if (F.conns[i].bev != NULL)
			(void)send(bufferevent_getfd(F.conns[i].bev), "x", 1,
			    MSG_NOSIGNAL);
}

static int
srv_count(void)
{
	size_t	 i;
	int	 n = 0;

	for (i = 0; i < MAX_SRV; i++)
		n += F.conns[i].bev != NULL;
	return (n);
}

static int
sni_cb(SSL *ssl, int *al, void *arg)
{
	const char	*n = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

	cm_strlcpy(F.last_sni, n != NULL ? n : "", sizeof(F.last_sni));
	if (n == NULL)
		(void)SSL_set_SSL_CTX(ssl, F.srv_ip);
	return (SSL_TLSEXT_ERR_OK);
}

static int
alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	F.last_alpn_len = inlen < sizeof(F.last_alpn) ? inlen : 0;
	memcpy(F.last_alpn, in, F.last_alpn_len);
	if (SSL_select_next_proto((unsigned char **)out, outlen,
	    (const unsigned char *)"\x08http/1.1", 9, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return (SSL_TLSEXT_ERR_NOACK);
	return (SSL_TLSEXT_ERR_OK);
}

static SSL_CTX *
srv_ctx(struct cm_ca *ca, const char *host)
{
	SSL_CTX	*ctx = SSL_CTX_new(TLS_server_method());
	X509	*x = NULL;
	char	 err[256];

	assert_non_null(ctx);
	if (cm_ca_mint_leaf(ca, F.key, host, 30, &x, err, sizeof(err)) != 0)
		fail_msg("mint %s: %s", host, err);
	assert_int_equal(SSL_CTX_use_certificate(ctx, x), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(ctx, F.key), 1);
	SSL_CTX_set_tlsext_servername_callback(ctx, sni_cb);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, NULL);
	X509_free(x);
	return (ctx);
}

static struct evconnlistener *
listen_on(evconnlistener_cb cb, void *arg, int *port)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	struct evconnlistener	*l;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = evconnlistener_new_bind(F.base, cb, arg, LEV_OPT_CLOSE_ON_FREE |
	    LEV_OPT_REUSEABLE, 16, (struct sockaddr *)&sin, sizeof(sin));
	assert_non_null(l);
	assert_int_equal(getsockname(evconnlistener_get_fd(l),
	    (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return (l);
}

/* A bound socket: listening with the given backlog, or closed (-1). */
static int
raw_socket(int backlog, int *port)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	if (backlog < 0) {
		(void)close(fd);
		return (-1);
	}
	assert_int_equal(listen(fd, backlog), 0);
	return (fd);
}

/* ---- DNS server -------------------------------------------------- */

static struct dns_count *
dns_count(const char *name)
{
	size_t	 i;

	for (i = 0; i < MAX_NAMES; i++)
		if (F.counts[i].name[0] != '\0' &&
		    strcasecmp(F.counts[i].name, name) == 0)
			return (&F.counts[i]);
	for (i = 0; i < MAX_NAMES; i++)
		if (F.counts[i].name[0] == '\0') {
			cm_strlcpy(F.counts[i].name, name,
			    sizeof(F.counts[i].name));
			return (&F.counts[i]);
		}
	fail_msg("too many names");
	return (NULL);
}

static int
queries(const char *name, int type)
{
	struct dns_count	*c = dns_count(name);

	return (type == EVDNS_TYPE_A ? c->a : c->aaaa);
}

static void
dns_server_cb(struct evdns_server_request *req, void *arg)
{
	int	 i;

	for (i = 0; i < req->nquestions; i++) {
		const struct evdns_server_question *q = req->questions[i];
		struct dns_count	*c = dns_count(q->name);
		uint32_t		 a;
		struct in6_addr		 a6;

		if (q->type == EVDNS_TYPE_A)
			c->a++;
		else if (q->type == EVDNS_TYPE_AAAA)
			c->aaaa++;
		if (strcasecmp(q->name, "slow.dns.test") == 0 ||
		    strcasecmp(q->name, "slow2.dns.test") == 0) {
			evdns_server_request_drop(req);
			return;
		}
		if (strcasecmp(q->name, "nx.dns.test") == 0) {
			evdns_server_request_respond(req, DNS_ERR_NOTEXIST);
			return;
		}
		if (q->type == EVDNS_TYPE_A) {
			const char *ip = NULL;
			int ttl = 60;

			if (strcasecmp(q->name, "x.dns.test") == 0) {
				ip = "127.0.0.1";
				ttl = F.ttl_x;
			} else if (strcasecmp(q->name, "priv.dns.test") == 0)
				ip = "10.0.0.1";
			else if (strcasecmp(q->name, "meta.dns.test") == 0)
				ip = "169.254.169.254";
			else if (strcasecmp(q->name, "ttl1.dns.test") == 0) {
				ip = "127.0.0.1";
				ttl = 1;
			} else if (strcasecmp(q->name, "ttl1000.dns.test") ==
			    0) {
				ip = "127.0.0.1";
				ttl = 1000;
			}
			if (ip != NULL) {
				inet_pton(AF_INET, ip, &a);
				evdns_server_request_add_a_reply(req, q->name,
				    1, &a, ttl);
			}
		} else if (q->type == EVDNS_TYPE_AAAA &&
		    strcasecmp(q->name, "mapped.dns.test") == 0) {
			inet_pton(AF_INET6, "::ffff:127.0.0.1", &a6);
			evdns_server_request_add_aaaa_reply(req, q->name, 1,
			    &a6, 60);
		}
	}
	evdns_server_request_respond(req, 0);
}

/* ---- setup ------------------------------------------------------- */

static int
setup(void **state)
{
	struct cm_ca	*ca1 = NULL, *ca2 = NULL;
	json_t		*info = NULL;
	char		 err[256], path[160];
	struct sockaddr_in sin;
	socklen_t	 len = sizeof(sin);
	int		 i;

	/* As the runtime does: a write to a closed peer is an error. */
	(void)signal(SIGPIPE, SIG_IGN);
	memset(&F, 0, sizeof(F));
	cm_strlcpy(F.dir, "/tmp/bb-upstream-test.XXXXXX", sizeof(F.dir));
	assert_non_null(mkdtemp(F.dir));
	for (i = 1; i <= 2; i++) {
		(void)snprintf(path, sizeof(path), "%s/ca%d", F.dir, i);
		if (cm_ca_init(path, "upstream-test", 0, 0, &info, err,
		    sizeof(err)) != 0)
			fail_msg("ca init: %s", err);
		json_decref(info);
		(void)snprintf(path, sizeof(path), "%s/ca%d/ca.pem", F.dir, i);
		if (cm_ca_load(path, i == 1 ? &ca1 : &ca2, err,
		    sizeof(err)) != 0)
			fail_msg("ca load: %s", err);
	}
	(void)snprintf(F.ca1_cert, sizeof(F.ca1_cert), "%s/ca1/ca-cert.pem",
	    F.dir);
	assert_non_null(F.key = cm_ca_leaf_key_new(err, sizeof(err)));

	assert_int_equal(cm_metrics_init(1), 0);
	eg_upstream_metrics_init();

	F.snap = calloc(1, sizeof(*F.snap));
	assert_non_null(F.snap);
	atomic_init(&F.snap->refs, 1);
	F.snap->generation = 1;
	assert_non_null(F.s = F.snap->settings = cm_settings_new());
	assert_non_null(F.w = cm_worker_new(0, F.snap));
	cm_snap_unref(F.snap);		/* the worker holds it now */
	F.base = cm_worker_base(F.w);

	/* The DNS server first: the resolver is built pointing at it. */
	F.dns_fd = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(F.dns_fd, (struct sockaddr *)&sin,
	    sizeof(sin)), 0);
	assert_int_equal(getsockname(F.dns_fd, (struct sockaddr *)&sin, &len),
	    0);
	F.dns_port = ntohs(sin.sin_port);
	evutil_make_socket_nonblocking(F.dns_fd);
	F.dns = evdns_add_server_port_with_base(F.base, F.dns_fd, 0,
	    dns_server_cb, NULL);
	assert_non_null(F.dns);
	F.ttl_x = 60;
	F.s->nameservers = calloc(1, sizeof(char *));
	(void)snprintf(path, sizeof(path), "127.0.0.1:%d", F.dns_port);
	F.s->nameservers[0] = strdup(path);
	F.s->nnameservers = 1;

	F.ew.w = F.w;
	TAILQ_INIT(&F.ew.conns);
	assert_int_equal(eg_upstream_worker_init(&F.ew, F.s), 0);
	F.cfg.up_ctx = eg_upstream_ctx_new(F.ca1_cert, err, sizeof(err));
	if (F.cfg.up_ctx == NULL)
		fail_msg("ctx: %s", err);

	F.srv_name = srv_ctx(ca1, "good.test");
	F.srv_ip = srv_ctx(ca1, "127.0.0.1");
	F.srv_bad = srv_ctx(ca2, "bad.test");
	F.tls_lis = listen_on(tls_accept_cb, F.srv_name, &F.tls_port);
	F.bad_lis = listen_on(tls_accept_cb, F.srv_bad, &F.bad_port);
	F.plain_lis = listen_on(plain_accept_cb, NULL, &F.plain_port);
	(void)raw_socket(-1, &F.closed_port);
	/*
	 * A SYN that nobody answers: a listener with backlog 0 whose queue
	 * is already full; Linux then drops new SYNs.
	 */
	F.black_fd = raw_socket(0, &F.black_port);
	for (i = 0; i < 2; i++) {
		F.black_fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK,
		    0);
		sin.sin_port = htons((uint16_t)F.black_port);
		(void)connect(F.black_fill[i], (struct sockaddr *)&sin,
		    sizeof(sin));
	}
	/* TCP completes (the kernel accepts), TLS never answers. */
	F.silent_fd = raw_socket(16, &F.silent_port);

	add_resolve1("good.test", loop_addr(F.tls_port));
	add_resolve1("other.test", loop_addr(F.tls_port));
	add_resolve1("bad.test", loop_addr(F.bad_port));
	add_resolve1("closed.test", loop_addr(F.closed_port));
	add_resolve1("black.test", loop_addr(F.black_port));
	add_resolve1("silent.test", loop_addr(F.silent_port));
	add_resolve1("loop.test", "127.0.0.1");
	add_resolve1("pool.test", loop_addr(F.plain_port));
	add_resolve1("keep.test", loop_addr(F.plain_port));
	add_resolve1("gone.test", loop_addr(F.plain_port));
	add_resolve1("a.test", loop_addr(F.plain_port));
	add_resolve1("b.test", loop_addr(F.plain_port));
	{
		const char *two[] = { loop_addr(F.closed_port),
		    loop_addr(F.plain_port), NULL };
		const char *stag[] = { loop_addr(F.black_port),
		    loop_addr(F.plain_port), NULL };
		const char *nothing[] = { NULL };

		add_resolve("two.test", 0, two);
		add_resolve("stag.test", 0, stag);
		add_resolve("empty.test", 0, nothing);
	}
	cm_ca_unref(ca1);
	cm_ca_unref(ca2);
	*state = &F;
	return (0);
}

static int
teardown(void **state)
{
	char	 cmd[128];
	int	 i;

	eg_upstream_worker_free(&F.ew);
	srv_close_all();
	evconnlistener_free(F.tls_lis);
	evconnlistener_free(F.bad_lis);
	evconnlistener_free(F.plain_lis);
	evdns_close_server_port(F.dns);
	(void)close(F.dns_fd);
	for (i = 0; i < 2; i++)
		(void)close(F.black_fill[i]);
	(void)close(F.black_fd);
	(void)close(F.silent_fd);
	SSL_CTX_free(F.cfg.up_ctx);
	SSL_CTX_free(F.srv_name);
	SSL_CTX_free(F.srv_ip);
	SSL_CTX_free(F.srv_bad);
	EVP_PKEY_free(F.key);
	cm_routes_free(F.cfg.routes);
	cm_worker_join(F.w);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", F.dir);
	(void)system(cmd);
	return (0);
}

/* ---- tests ------------------------------------------------------- */

static void
readcb_flag(struct bufferevent *bev, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_input(bev)) >= 4)
		*(int *)arg = 1;
}

static void
test_tls_override_ok(void **state)
{
	struct dres	 r;
	char		 want[64], got[8] = { 0 };
	int		 echoed = 0;

	(void)state;
	dial(1, "good.test", 443, 0, 5000, &r);
	if (r.res != EG_UP_OK)
		fail_msg("res %d: %s", r.res, r.why);
	assert_int_equal(eg_up_reused(r.up), 0);
	(void)snprintf(want, sizeof(want), "127.0.0.1:%d", F.tls_port);
	assert_string_equal(eg_up_peer(r.up), want);
	assert_string_equal(F.last_sni, "good.test");
	assert_int_equal(F.last_alpn_len, 9);
	assert_memory_equal(F.last_alpn, "\x08http/1.1", 9);
	/* The bufferevent carries bytes both ways. */
	bufferevent_setcb(eg_up_bev(r.up), readcb_flag, NULL, NULL, &echoed);
	bufferevent_enable(eg_up_bev(r.up), EV_READ | EV_WRITE);
	bufferevent_write(eg_up_bev(r.up), "ping", 4);
	assert_true(run_until(&echoed, 5000));
	bufferevent_read(eg_up_bev(r.up), got, 4);
	assert_string_equal(got, "ping");
	assert_true(SSL_version(bufferevent_openssl_get_ssl(eg_up_bev(r.up))) >=
	    TLS1_2_VERSION);
	eg_up_free(r.up);
}

static void
test_tls_wrong_ca(void **state)
{
	struct dres	 r;

	(void)state;
	dial(1, "bad.test", 443, 0, 5000, &r);
	assert_int_equal(r.res, EG_UP_TLS_FAILED);
	assert_string_equal(r.why, "certificate verify failed: unable to get "
	    "local issuer certificate (bad.test:443)");
	assert_int_equal(ERR_peek_error(), 0);	/* queue left clean */
}

static void
test_tls_name_mismatch(void **state)
{
	struct dres	 r;

	(void)state;
	dial(1, "other.test", 443, 0, 5000, &r);
	assert_int_equal(r.res, EG_UP_TLS_FAILED);
	assert_string_equal(r.why, "certificate verify failed: hostname "
	    "mismatch (other.test:443)");
}

static void
test_tls_not_answering(void **state)
{
	struct dres	 r;

	(void)state;
	/* The origin accepts TCP, never speaks TLS: the deadline covers it. */
	F.s->v[CM_S_EG_UPSTREAM_CONNECT_S] = 1;
	dial(1, "silent.test", 443, 0, 5000, &r);
	F.s->v[CM_S_EG_UPSTREAM_CONNECT_S] = 10;
	assert_int_equal(r.res, EG_UP_TIMEOUT);
	assert_string_equal(r.why, "tls handshake timed out after 1 s "
	    "(silent.test:443)");
}

static void
test_tls_ip_literal(void **state)
{
	struct dres	 r;
	char		 want[96];

	(void)state;
	F.last_sni[0] = 'x';
	dial(1, "127.0.0.1", F.tls_port, 1, 5000, &r);
	if (r.res != EG_UP_OK)
		fail_msg("res %d: %s", r.res, r.why);
	assert_string_equal(F.last_sni, "");	/* no SNI for an IP */
	eg_up_free(r.up);
	/* Not exempt without allow_private. */
	dial(1, "127.0.0.1", F.tls_port, 0, 5000, &r);
	assert_int_equal(r.res, EG_UP_PRIVATE);
	(void)snprintf(want, sizeof(want), "host resolves only to non-public "
	    "addresses (127.0.0.1:%d)", F.tls_port);
	assert_string_equal(r.why, want);
}

static void
test_connect_refused(void **state)
{
	struct dres	 r;
	char		 want[160];

	(void)state;
	dial(0, "closed.test", 80, 0, 5000, &r);
	assert_int_equal(r.res, EG_UP_CONNECT_FAILED);
	(void)snprintf(want, sizeof(want), "connect failed: 127.0.0.1:%d: "
	    "Connection refused (closed.test:80)", F.closed_port);
	assert_string_equal(r.why, want);
}

static void
test_connect_next_candidate(void **state)
{
	struct dres	 r;
	char		 want[64];

	(void)state;
	dial(0, "two.test", 80, 0, 5000, &r);
	if (r.res != EG_UP_OK)
		fail_msg("res %d: %s", r.res, r.why);
	(void)snprintf(want, sizeof(want), "127.0.0.1:%d", F.plain_port);
	assert_string_equal(eg_up_peer(r.up), want);
	eg_up_free(r.up);
}

static void
test_connect_timeout(void **state)
{
	struct dres	 r;
	uint64_t	 t0 = cm_now_ms(), dt;

	(void)state;
	F.s->v[CM_S_EG_UPSTREAM_CONNECT_S] = 1;
	dial(0, "black.test", 80, 0, 5000, &r);
	F.s->v[CM_S_EG_UPSTREAM_CONNECT_S] = 10;
	dt = cm_now_ms() - t0;
	if (r.res == EG_UP_OK) {
		eg_up_free(r.up);
		skip();		/* this kernel answered a full backlog */
	}
	assert_int_equal(r.res, EG_UP_TIMEOUT);
	assert_string_equal(r.why, "connect timed out after 1 s "
	    "(black.test:80)");
	assert_true(dt >= 900 && dt < 3000);
}

static void
test_connect_stagger(void **state)
{
	struct dres	 r;
	uint64_t	 t0 = cm_now_ms(), dt;
	char		 want[64];

	(void)state;
	/* The first candidate hangs; the second starts after 2 s. */
	dial(0, "stag.test", 80, 0, 8000, &r);
	dt = cm_now_ms() - t0;
	if (r.res != EG_UP_OK)
		fail_msg("res %d: %s", r.res, r.why);
	(void)snprintf(want, sizeof(want), "127.0.0.1:%d", F.plain_port);
	assert_string_equal(eg_up_peer(r.up), want);
	assert_true(dt >= EG_DIAL_STAGGER_MS - 100 &&
	    dt < EG_DIAL_STAGGER_MS + 2000);
	eg_up_free(r.up);
}

static void
test_private_refused(void **state)
{
	static const char *const lits[] = { "127.0.0.1", "10.0.0.1",
	    "169.254.169.254", "::1", "::ffff:127.0.0.1", "fd00:ec2::254" };
	struct dres	 r;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(lits) / sizeof(lits[0]); i++) {
		dial(0, lits[i], F.plain_port, 0, 5000, &r);
		assert_int_equal(r.res, EG_UP_PRIVATE);
		assert_non_null(strstr(r.why, "host resolves only to "
		    "non-public addresses"));
	}
	/* egress.resolve addresses are exempt; "addr" keeps the port. */
	dial(0, "loop.test", F.plain_port, 0, 5000, &r);
	if (r.res != EG_UP_OK)
		fail_msg("res %d: %s", r.res, r.why);
	eg_up_free(r.up);
	dial(0, "empty.test", 80, 0, 5000, &r);
	assert_int_equal(r.res, EG_UP_DNS_FAILURE);
}

static void
noop_dns_cb(const struct eg_dns_res *res, void *arg)
{
	fail_msg("unexpected DNS callback");
}

static void
test_resolve_override_order(void **state)
{
	const char		*addrs[] = { "::1", "127.0.0.2:81", "[::2]:82",
				    NULL };
	const char		*byport[] = { "127.0.0.3", NULL };
	struct eg_dns_res	 res;
	struct eg_dns_wait	*w;
	const struct sockaddr_in *sin = (const void *)&res.c[0].ss;
	const struct sockaddr_in6 *sin6;

	(void)state;
	add_resolve("order.test", 0, addrs);
	add_resolve("order.test", 8443, byport);
	assert_int_equal(eg_dns_resolve(F.ew.dns, F.s, "order.test", 443,
	    &res, noop_dns_cb, NULL, &w), 1);
	assert_int_equal(res.n, 3);
	/* IPv4 first, whatever the order written. */
	assert_int_equal(res.c[0].ss.ss_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 81);
	sin6 = (const void *)&res.c[1].ss;
	assert_int_equal(res.c[1].ss.ss_family, AF_INET6);
	assert_int_equal(ntohs(sin6->sin6_port), 443);
	sin6 = (const void *)&res.c[2].ss;
	assert_int_equal(ntohs(sin6->sin6_port), 82);
	assert_true(res.c[0].exempt && res.c[1].exempt && res.c[2].exempt);
	/* host:port beats host. */
	assert_int_equal(eg_dns_resolve(F.ew.dns, F.s, "order.test", 8443,
	    &res, noop_dns_cb, NULL, &w), 1);
	assert_int_equal(res.n, 1);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), 0x7f000003);
	assert_int_equal(ntohs(sin->sin_port), 8443);
	/* A literal is not exempt. */
	assert_int_equal(eg_dns_resolve(F.ew.dns, F.s, "10.1.2.3", 443,
	    &res, noop_dns_cb, NULL, &w), 1);
	assert_int_equal(res.n, 1);
	assert_int_equal(res.c[0].exempt, 0);
}

static void
test_dns_resolves_and_caches(void **state)
{
	struct dres	 r;

	(void)state;
	dial(0, "x.dns.test", F.plain_port, 1, 5000, &r);
	if (r.res != EG_UP_OK)
		fail_msg("res %d: %s", r.res, r.why);
	eg_up_free(r.up);
	assert_int_equal(queries("x.dns.test", EVDNS_TYPE_A), 1);
	assert_int_equal(queries("x.dns.test", EVDNS_TYPE_AAAA), 1);
	/* Cached: no second query. */
	dial(0, "x.dns.test", F.plain_port, 1, 5000, &r);
	assert_int_equal(r.res, EG_UP_OK);
	eg_up_free(r.up);
	assert_int_equal(queries("x.dns.test", EVDNS_TYPE_A), 1);
	/* Not cached as exempt: the guard still applies to DNS answers. */
	dial(0, "x.dns.test", F.plain_port, 0, 5000, &r);
	assert_int_equal(r.res, EG_UP_PRIVATE);
	assert_true(eg_dns_cached(F.ew.dns) >= 1);
}

static void
test_dns_shared_lookup(void **state)
{
	struct dres	 r1, r2;

	(void)state;
	/* Two dials at once for one name: one lookup on the wire. */
	(void)dial_start(0, "meta.dns.test", 80, 0, &r1);
	(void)dial_start(0, "meta.dns.test", 80, 0, &r2);
	assert_true(run_until(&r1.called, 5000));
	assert_true(run_until(&r2.called, 5000));
	assert_int_equal(r1.res, EG_UP_PRIVATE);
	assert_int_equal(r2.res, EG_UP_PRIVATE);
	assert_int_equal(queries("meta.dns.test", EVDNS_TYPE_A), 1);
}

static void
test_dns_private_answers(void **state)
{
	static const char *const names[] = { "priv.dns.test", "meta.dns.test",
	    "mapped.dns.test" };
	struct dres	 r;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		dial(1, names[i], 443, 0, 5000, &r);
		if (r.res != EG_UP_PRIVATE)
			fail_msg("%s: res %d: %s", names[i], r.res, r.why);
	}
	assert_int_equal(queries("mapped.dns.test", EVDNS_TYPE_AAAA), 1);
}

static void
test_dns_nxdomain_cached(void **state)
{
	struct dres	 r;

	(void)state;
	dial(1, "nx.dns.test", 443, 0, 5000, &r);
	assert_int_equal(r.res, EG_UP_DNS_FAILURE);
	assert_string_equal(r.why, "dns lookup failed: name does not exist "
	    "(nx.dns.test)");
	assert_int_equal(queries("nx.dns.test", EVDNS_TYPE_A), 1);
	/* Failures are cached for EG_DNS_NEG_TTL_S. */
	eg_dns_advance(F.ew.dns, (EG_DNS_NEG_TTL_S - 1) * 1000);
	dial(1, "nx.dns.test", 443, 0, 5000, &r);
	assert_int_equal(r.res, EG_UP_DNS_FAILURE);
	assert_int_equal(queries("nx.dns.test", EVDNS_TYPE_A), 1);
	eg_dns_advance(F.ew.dns, 2000);
	dial(1, "nx.dns.test", 443, 0, 5000, &r);
	assert_int_equal(r.res, EG_UP_DNS_FAILURE);
	assert_int_equal(queries("nx.dns.test", EVDNS_TYPE_A), 2);
}

/* Resolves name, which must be cached; returns the queries sent. */
static int
lookups(const char *name)
{
	struct eg_dns_res	 res;
	struct eg_dns_wait	*w;

	if (eg_dns_resolve(F.ew.dns, F.s, name, 80, &res, noop_dns_cb, NULL,
	    &w) == 1)
		return (queries(name, EVDNS_TYPE_A));
	eg_dns_cancel(w);
	fail_msg("%s: not cached", name);
	return (-1);
}

static void
test_dns_ttl_clamped(void **state)
{
	struct dres	 r;

	(void)state;
	/* TTL 1 lives EG_DNS_TTL_MIN_S. */
	dial(0, "ttl1.dns.test", F.plain_port, 1, 5000, &r);
	assert_int_equal(r.res, EG_UP_OK);
	eg_up_free(r.up);
	eg_dns_advance(F.ew.dns, (EG_DNS_TTL_MIN_S - 1) * 1000);
	assert_int_equal(lookups("ttl1.dns.test"), 1);
	eg_dns_advance(F.ew.dns, 2000);
	dial(0, "ttl1.dns.test", F.plain_port, 1, 5000, &r);
	assert_int_equal(r.res, EG_UP_OK);
	eg_up_free(r.up);
	assert_int_equal(queries("ttl1.dns.test", EVDNS_TYPE_A), 2);
	/* TTL 1000 lives EG_DNS_TTL_MAX_S. */
	dial(0, "ttl1000.dns.test", F.plain_port, 1, 5000, &r);
	assert_int_equal(r.res, EG_UP_OK);
	eg_up_free(r.up);
	eg_dns_advance(F.ew.dns, (EG_DNS_TTL_MAX_S - 1) * 1000);
	assert_int_equal(lookups("ttl1000.dns.test"), 1);
	eg_dns_advance(F.ew.dns, 2000);
	dial(0, "ttl1000.dns.test", F.plain_port, 1, 5000, &r);
	assert_int_equal(r.res, EG_UP_OK);
	eg_up_free(r.up);
	assert_int_equal(queries("ttl1000.dns.test", EVDNS_TYPE_A), 2);
}

static int
metric(const char *series)
{
	struct evbuffer	*b = evbuffer_new();
	char		*text, *p;
	int		 v = -1;

	cm_metrics_write(b);
	evbuffer_add(b, "", 1);
	text = (char *)evbuffer_pullup(b, -1);
	if ((p = strstr(text, series)) != NULL)
		v = atoi(p + strlen(series) + 1);
	evbuffer_free(b);
	return (v);
}

static void
test_pool_reuse(void **state)
{
	struct dres		 r;
	struct bufferevent	*bev;
	int			 reused = metric("bb_egress_upstream_connects_"
				    "total{result=\"reused\"}");
	int			 fresh = metric("bb_egress_upstream_connects_"
				    "total{result=\"new\"}");

	(void)state;
	dial(0, "pool.test", 80, 0, 5000, &r);
	assert_int_equal(r.res, EG_UP_OK);
	bev = eg_up_bev(r.up);
	eg_up_release(r.up, 0);
	assert_int_equal(eg_pool_idle(&F.ew), 1);
	run_for(50);
	assert_int_equal(eg_pool_idle(&F.ew), 1);
	dial(0, "pool.test", 80, 0, 5000, &r);
	assert_int_equal(r.res, EG_UP_OK);
	assert_int_equal(eg_up_reused(r.up), 1);
	assert_ptr_equal(eg_up_bev(r.up), bev);
	assert_int_equal(eg_pool_idle(&F.ew), 0);
	/* Another key (tls) is not this connection. */
	eg_up_release(r.up, 0);
	dial(1, "good.test", 443, 0, 5000, &r);
	assert_int_equal(r.res, EG_UP_OK);
	assert_int_equal(eg_up_reused(r.up), 0);
	eg_up_release(r.up, 0);
	assert_int_equal(eg_pool_idle(&F.ew), 2);
	/* Session tickets follow a TLS 1.3 handshake: the pool reads them. */
	run_for(50);
	assert_int_equal(eg_pool_idle(&F.ew), 2);
	dial(1, "good.test", 443, 0, 5000, &r);
	assert_int_equal(eg_up_reused(r.up), 1);
	eg_up_free(r.up);
	eg_pool_close_all(&F.ew);
	assert_int_equal(eg_pool_idle(&F.ew), 0);
	assert_int_equal(metric("bb_egress_upstream_connects_total"
	    "{result=\"reused\"}"), reused + 2);
	assert_int_equal(metric("bb_egress_upstream_connects_total"
	    "{result=\"new\"}"), fresh + 2);
}

static void
test_pool_eof_while_idle(void **state)
{
	struct dres	 r;

	(void)state;
	dial(0, "pool.test", 80, 0, 5000, &r);
	assert_int_equal(r.res, EG_UP_OK);
	run_for(20);			/* the origin accepts */
	eg_up_release(r.up, 0);
	srv_close_all();
	run_for(100);
	assert_int_equal(eg_pool_idle(&F.ew), 0);
}

static void
test_pool_eof_at_take(void **state)
{
	struct dres	 r;

	(void)state;
	dial(0, "pool.test", 80, 0, 5000, &r);
	assert_int_equal(r.res, EG_UP_OK);
	run_for(20);
	eg_up_release(r.up, 0);
	/* The loop does not run between the close and the take. */
	srv_close_all();
	usleep(20000);
	dial(0, "pool.test", 80, 0, 5000, &r);
	assert_int_equal(r.res, EG_UP_OK);
	assert_int_equal(eg_up_reused(r.up), 0);
	eg_up_free(r.up);
	run_for(20);
}

static void
test_pool_unexpected_bytes(void **state)
{
	struct dres	 r;

	(void)state;
	srv_close_all();
	dial(0, "pool.test", 80, 0, 5000, &r);
	assert_int_equal(r.res, EG_UP_OK);
	run_for(20);
	assert_int_equal(srv_count(), 1);
	eg_up_release(r.up, 0);
	srv_poke_all();
	usleep(20000);
	dial(0, "pool.test", 80, 0, 5000, &r);
	assert_int_equal(eg_up_reused(r.up), 0);
	run_for(20);
	eg_up_release(r.up, 0);
	assert_int_equal(eg_pool_idle(&F.ew), 1);
	/* With the loop running, the pool itself drops it. */
	srv_poke_all();
	run_for(100);
	assert_int_equal(eg_pool_idle(&F.ew), 0);
	srv_close_all();
}

static void
test_pool_limits(void **state)
{
	struct dres	 r[5];
	int		 i;

	(void)state;
	F.s->v[CM_S_EG_POOL_IDLE_PER_ORIGIN] = 2;
	F.s->v[CM_S_EG_POOL_IDLE_PER_WORKER] = 3;
	for (i = 0; i < 5; i++) {
		dial(0, i < 3 ? "a.test" : "b.test", 80, 0, 5000, &r[i]);
		assert_int_equal(r[i].res, EG_UP_OK);
	}
	for (i = 0; i < 3; i++)
		eg_up_release(r[i].up, 0);
	assert_int_equal(eg_pool_idle(&F.ew), 2);	/* per origin */
	for (i = 3; i < 5; i++)
		eg_up_release(r[i].up, 0);
	assert_int_equal(eg_pool_idle(&F.ew), 3);	/* per worker */
	/* The oldest a.test one went; the newest a.test one stays. */
	dial(0, "a.test", 80, 0, 5000, &r[0]);
	assert_int_equal(eg_up_reused(r[0].up), 1);
	assert_ptr_equal(r[0].up, r[2].up);
	F.s->v[CM_S_EG_POOL_IDLE_PER_ORIGIN] = 0;
	eg_up_release(r[0].up, 0);			/* pooling off */
	assert_int_equal(eg_pool_idle(&F.ew), 2);
	F.s->v[CM_S_EG_POOL_IDLE_PER_ORIGIN] = 8;
	F.s->v[CM_S_EG_POOL_IDLE_PER_WORKER] = 256;
	eg_pool_close_all(&F.ew);
	srv_close_all();
}

static void
test_pool_idle_timeout(void **state)
{
	struct dres	 r1, r2;

	(void)state;
	dial(0, "a.test", 80, 0, 5000, &r1);
	dial(0, "b.test", 80, 0, 5000, &r2);
	assert_int_equal(r1.res, EG_UP_OK);
	assert_int_equal(r2.res, EG_UP_OK);
	eg_up_release(r1.up, 1);	/* Keep-Alive: timeout=1 */
	F.s->v[CM_S_EG_POOL_IDLE_S] = 1;
	eg_up_release(r2.up, 5);	/* pool_idle_s is shorter */
	F.s->v[CM_S_EG_POOL_IDLE_S] = 30;
	assert_int_equal(eg_pool_idle(&F.ew), 2);
	run_for(600);
	assert_int_equal(eg_pool_idle(&F.ew), 2);
	run_for(800);
	assert_int_equal(eg_pool_idle(&F.ew), 0);
	srv_close_all();
}

static void
test_pool_prune(void **state)
{
	static const char yaml[] = "routes:\n  - host: keep.test\n";
	struct cm_cfg_ctx	 cx;
	struct dres		 r1, r2;
	char			 path[160];
	FILE			*fp;

	(void)state;
	(void)snprintf(path, sizeof(path), "%s/routes.yaml", F.dir);
	assert_non_null(fp = fopen(path, "w"));
	fputs(yaml, fp);
	fclose(fp);
	memset(&cx, 0, sizeof(cx));
	cx.path = "routes.yaml";
	F.cfg.routes = cm_routes_load(&cx, path);
	if (F.cfg.routes == NULL)
		fail_msg("routes: %s", cx.errors[0]);
	dial(0, "keep.test", 80, 0, 5000, &r1);
	dial(0, "gone.test", 80, 0, 5000, &r2);
	eg_up_release(r1.up, 0);
	eg_up_release(r2.up, 0);
	assert_int_equal(eg_pool_idle(&F.ew), 2);
	eg_pool_prune(&F.ew, &F.cfg);
	assert_int_equal(eg_pool_idle(&F.ew), 1);
	dial(0, "keep.test", 80, 0, 5000, &r1);
	assert_int_equal(eg_up_reused(r1.up), 1);
	eg_up_release(r1.up, 0);
	eg_pool_close_all(&F.ew);
	assert_int_equal(eg_pool_idle(&F.ew), 0);
	srv_close_all();
}

static void
test_cancel_any_stage(void **state)
{
	struct dres	 r, p;
	struct eg_dial	*d;

	(void)state;
	/* Finished, the callback not yet delivered. */
	d = dial_start(0, "closed.test", 80, 0, &r);
	eg_up_dial_cancel(d);
	/* Waiting for DNS: evdns calls back later with DNS_ERR_CANCEL. */
	d = dial_start(0, "slow2.dns.test", 80, 0, &r);
	run_for(50);
	eg_up_dial_cancel(d);
	/* Two dials share one lookup; cancelling one keeps the other. */
	eg_dns_advance(F.ew.dns, 600 * 1000);	/* not from the cache */
	(void)dial_start(0, "priv.dns.test", 80, 0, &p);
	d = dial_start(0, "priv.dns.test", 80, 0, &r);
	eg_up_dial_cancel(d);
	assert_true(run_until(&p.called, 5000));
	assert_int_equal(p.res, EG_UP_PRIVATE);
	/* Connecting. */
	d = dial_start(0, "black.test", 80, 0, &r);
	run_for(50);
	eg_up_dial_cancel(d);
	/* In the TLS handshake. */
	d = dial_start(1, "silent.test", 443, 0, &r);
	run_for(200);
	eg_up_dial_cancel(d);
	/* Holding a pooled connection. */
	dial(0, "pool.test", 80, 0, 5000, &p);
	assert_int_equal(p.res, EG_UP_OK);
	eg_up_release(p.up, 0);
	d = dial_start(0, "pool.test", 80, 0, &r);
	assert_int_equal(eg_pool_idle(&F.ew), 0);
	eg_up_dial_cancel(d);
	eg_up_dial_cancel(NULL);
	run_for(300);
	assert_int_equal(r.called, 0);
	srv_close_all();
}

static void
test_dns_timeout(void **state)
{
	struct dres	 r;
	uint64_t	 t0;

	(void)state;
	/* Last: timeouts mark the test nameserver as failing. */
	F.s->v[CM_S_EG_RESOLVER_TIMEOUT_MS] = 200;
	t0 = cm_now_ms();
	dial(0, "slow.dns.test", 80, 0, 5000, &r);
	assert_int_equal(r.res, EG_UP_DNS_FAILURE);
	assert_string_equal(r.why, "dns lookup failed: request timed out "
	    "(slow.dns.test)");
	/* EG_DNS_ATTEMPTS sends of each, resolver.timeout_ms apart. */
	assert_int_equal(queries("slow.dns.test", EVDNS_TYPE_A),
	    EG_DNS_ATTEMPTS);
	assert_true(cm_now_ms() - t0 < 2000);
	F.s->v[CM_S_EG_RESOLVER_TIMEOUT_MS] = 3000;
}

static void
test_ctx_bad_ca_file(void **state)
{
	char	 err[256], path[160];

	(void)state;
	(void)snprintf(path, sizeof(path), "%s/none.pem", F.dir);
	assert_null(eg_upstream_ctx_new(path, err, sizeof(err)));
	assert_non_null(strstr(err, "egress.upstream_ca_file: cannot load"));
	assert_non_null(strstr(err, path));
	assert_int_equal(ERR_peek_error(), 0);
}

static void
test_no_connection_leaked(void **state)
{
	(void)state;
	eg_pool_close_all(&F.ew);
	assert_int_equal(metric("bb_egress_connections_active"
	    "{side=\"upstream\"}"), 0);
	assert_true(metric("bb_egress_upstream_connects_total"
	    "{result=\"failed\"}") >= 5);
}

int
main(void)
{
	const struct CMUnitTest	 tests[] = {
		cmocka_unit_test(test_tls_override_ok),
		cmocka_unit_test(test_tls_wrong_ca),
		cmocka_unit_test(test_tls_name_mismatch),
		cmocka_unit_test(test_tls_not_answering),
		cmocka_unit_test(test_tls_ip_literal),
		cmocka_unit_test(test_connect_refused),
		cmocka_unit_test(test_connect_next_candidate),
		cmocka_unit_test(test_connect_timeout),
		cmocka_unit_test(test_connect_stagger),
		cmocka_unit_test(test_private_refused),
		cmocka_unit_test(test_resolve_override_order),
		cmocka_unit_test(test_dns_resolves_and_caches),
		cmocka_unit_test(test_dns_shared_lookup),
		cmocka_unit_test(test_dns_private_answers),
		cmocka_unit_test(test_dns_nxdomain_cached),
		cmocka_unit_test(test_dns_ttl_clamped),
		cmocka_unit_test(test_pool_reuse),
		cmocka_unit_test(test_pool_eof_while_idle),
		cmocka_unit_test(test_pool_eof_at_take),
		cmocka_unit_test(test_pool_unexpected_bytes),
		cmocka_unit_test(test_pool_limits),
		cmocka_unit_test(test_pool_idle_timeout),
		cmocka_unit_test(test_pool_prune),
		cmocka_unit_test(test_cancel_any_stage),
		cmocka_unit_test(test_dns_timeout),
		cmocka_unit_test(test_ctx_bad_ca_file),
		cmocka_unit_test(test_no_connection_leaked),
	};

	return (cmocka_run_group_tests_name("upstream", tests, setup,
	    teardown));
}
