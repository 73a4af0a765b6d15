/*
 * Origin connections (spec/egress.md §11): dials through egress.resolve,
 * DNS and IP literals; verified TLS and its failures; refused, silent
 * and staggered connects; the SSRF guard on every path; the pool (reuse,
 * EOF and stray bytes, limits, idle timeouts, prune); cancelling at every
 * stage; the §19 counters.  The fixture is upfix.c.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/metrics.h"
#include "common/routes.h"
#include "common/settings.h"
#include "common/util.h"
#include "common/yaml.h"
#include "egress/dns.h"
#include "egress/egress.h"
#include "egress/upstream.h"
#include "tests/unit/egress/upfix.h"

static void
readcb_flag(struct bufferevent *bev, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_input(bev)) >= 4)
		*(int *)arg = 1;
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
test_dns_failure(void **state)
{
	struct dres	 r;

	(void)state;
	dial(1, "nx.dns.test", 443, 0, 5000, &r);
	assert_int_equal(r.res, EG_UP_DNS_FAILURE);
	assert_string_equal(r.why, "dns lookup failed: name does not exist "
	    "(nx.dns.test)");
	dial(1, "empty.test", 443, 0, 5000, &r);
	assert_int_equal(r.res, EG_UP_DNS_FAILURE);
	assert_string_equal(r.why, "egress.resolve has no usable address "
	    "(empty.test)");
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
		cmocka_unit_test(test_dns_resolves_and_caches),
		cmocka_unit_test(test_dns_private_answers),
		cmocka_unit_test(test_dns_failure),
		cmocka_unit_test(test_pool_reuse),
		cmocka_unit_test(test_pool_eof_while_idle),
		cmocka_unit_test(test_pool_eof_at_take),
		cmocka_unit_test(test_pool_unexpected_bytes),
		cmocka_unit_test(test_pool_limits),
		cmocka_unit_test(test_pool_idle_timeout),
		cmocka_unit_test(test_pool_prune),
		cmocka_unit_test(test_cancel_any_stage),
		cmocka_unit_test(test_ctx_bad_ca_file),
		cmocka_unit_test(test_no_connection_leaked),
	};

	return (cmocka_run_group_tests_name("upstream", tests, fx_setup,
	    fx_teardown));
}
