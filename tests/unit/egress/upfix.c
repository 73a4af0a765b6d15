/*
 * The fixture shared by the upstream and dns tests (upfix.h).  The DNS
 * server's zone: x, priv (10.0.0.1), meta (169.254.169.254), ttl1 and
 * ttl1000 (127.0.0.1, TTL as named) and mapped (AAAA ::ffff:127.0.0.1
 * only) under .dns.test; nx.dns.test is NXDOMAIN; slow and slow2 never
 * get an answer.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
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
#include "tests/unit/egress/upfix.h"

struct fx F;

/* ---- loop helpers ------------------------------------------------ */

static void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
	*(int *)arg = 1;
}

/* Runs the loop until *flag or ms pass; returns *flag. */
int
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

void
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

struct eg_dial *
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

void
dial(int tls, const char *host, int port, int allow_private, int ms,
    struct dres *r)
{
	(void)dial_start(tls, host, port, allow_private, r);
	if (!run_until(&r->called, ms))
		fail_msg("dial %s:%d: no callback in %d ms", host, port, ms);
	assert_int_equal(r->called, 1);
}

/* ---- settings ---------------------------------------------------- */

/* egress.resolve: host[:port] -> addrs ("addr" keeps the port). */
void
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

void
add_resolve1(const char *host, const char *addr)
{
	const char	*a[] = { addr, NULL };

	add_resolve(host, 0, a);
}

const char *
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
void
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
void
srv_poke_all(void)
{
	size_t	 i;

	for (i = 0; i < MAX_SRV; i++)
		if (F.conns[i].bev != NULL)
			(void)send(bufferevent_getfd(F.conns[i].bev), "x", 1,
			    MSG_NOSIGNAL);
}

int
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

int
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

int
fx_setup(void **state)
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

int
fx_teardown(void **state)
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
