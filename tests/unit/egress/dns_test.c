/*
 * Resolution of origin names (spec/egress.md §11.1, egress/dns.c), at
 * the resolver's own API against the fixture's DNS server (upfix.c):
 * the egress.resolve override and its order, IP literals, A and AAAA
 * answers, one lookup shared by concurrent waiters, cancelling, the TTL
 * clamp, cached failures, and the timeout with its attempts.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include <event2/dns.h>

#include "common/settings.h"
#include "common/util.h"
#include "egress/dns.h"
#include "tests/unit/egress/upfix.h"

/* One waiter's view of an answer. */
struct wres {
	int			 called;
	struct eg_dns_res	 res;
};

static void
wres_cb(const struct eg_dns_res *res, void *arg)
{
	struct wres	*w = arg;

	w->called++;
	w->res = *res;
}

static void
noop_dns_cb(const struct eg_dns_res *res, void *arg)
{
	fail_msg("unexpected DNS callback");
}

/* Resolves name:port, waiting up to ms; returns 1 if answered at once. */
static int
resolve(const char *name, int port, struct wres *w, int ms)
{
	struct eg_dns_wait	*h;
	int			 r;

	memset(w, 0, sizeof(*w));
	r = eg_dns_resolve(F.ew.dns, F.s, name, port, &w->res, wres_cb, w,
	    &h);
	assert_int_not_equal(r, -1);
	if (r == 1) {
		assert_null(h);
		return (1);
	}
	assert_non_null(h);
	assert_int_equal(w->called, 0);		/* never inside the call */
	if (!run_until(&w->called, ms))
		fail_msg("%s: no answer within %d ms", name, ms);
	assert_int_equal(w->called, 1);
	return (0);
}

static void
cand_is(const struct eg_dns_cand *c, const char *addr, int port)
{
	char	 buf[INET6_ADDRSTRLEN];

	if (c->ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)&c->ss;

		inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
		assert_int_equal(ntohs(sin->sin_port), port);
		assert_int_equal(c->len, sizeof(*sin));
	} else {
		const struct sockaddr_in6 *sin6 = (const void *)&c->ss;

		assert_int_equal(c->ss.ss_family, AF_INET6);
		inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf));
		assert_int_equal(ntohs(sin6->sin6_port), port);
		assert_int_equal(c->len, sizeof(*sin6));
	}
	assert_string_equal(buf, addr);
}

static void
test_override_order(void **state)
{
	const char	*addrs[] = { "::1", "127.0.0.2:81", "[::2]:82", NULL };
	const char	*byport[] = { "127.0.0.3", NULL };
	struct wres	 w;

	(void)state;
	add_resolve("order.test", 0, addrs);
	add_resolve("order.test", 8443, byport);
	assert_int_equal(resolve("order.test", 443, &w, 0), 1);
	assert_int_equal(w.res.n, 3);
	/* IPv4 first, whatever the order written; port 0 keeps 443. */
	cand_is(&w.res.c[0], "127.0.0.2", 81);
	cand_is(&w.res.c[1], "::1", 443);
	cand_is(&w.res.c[2], "::2", 82);
	assert_true(w.res.c[0].exempt && w.res.c[1].exempt &&
	    w.res.c[2].exempt);
	/* host:port beats host. */
	assert_int_equal(resolve("order.test", 8443, &w, 0), 1);
	assert_int_equal(w.res.n, 1);
	cand_is(&w.res.c[0], "127.0.0.3", 8443);
	assert_int_equal(queries("order.test", EVDNS_TYPE_A), 0);
}

static void
test_literals(void **state)
{
	struct wres	 w;

	(void)state;
	assert_int_equal(resolve("10.1.2.3", 443, &w, 0), 1);
	assert_int_equal(w.res.n, 1);
	cand_is(&w.res.c[0], "10.1.2.3", 443);
	assert_int_equal(w.res.c[0].exempt, 0);	/* the guard applies */
	assert_int_equal(resolve("fd00:ec2::254", 80, &w, 0), 1);
	cand_is(&w.res.c[0], "fd00:ec2::254", 80);
	assert_int_equal(w.res.c[0].exempt, 0);
}

static void
test_answer_then_cache(void **state)
{
	struct wres	 w;

	(void)state;
	assert_int_equal(resolve("x.dns.test", 8080, &w, 5000), 0);
	assert_int_equal(w.res.n, 1);
	cand_is(&w.res.c[0], "127.0.0.1", 8080);
	assert_int_equal(w.res.c[0].exempt, 0);
	/* A and AAAA went out together, once each. */
	assert_int_equal(queries("x.dns.test", EVDNS_TYPE_A), 1);
	assert_int_equal(queries("x.dns.test", EVDNS_TYPE_AAAA), 1);
	/* The cache answers at once, with the port of the new request. */
	assert_int_equal(resolve("x.dns.test", 443, &w, 0), 1);
	cand_is(&w.res.c[0], "127.0.0.1", 443);
	assert_int_equal(queries("x.dns.test", EVDNS_TYPE_A), 1);
	assert_true(eg_dns_cached(F.ew.dns) >= 1);
	/* One lookup on the wire so far (the override never queries). */
	assert_int_equal(eg_dns_queries(F.ew.dns), 1);
}

static void
test_aaaa_only(void **state)
{
	struct wres	 w;

	(void)state;
	assert_int_equal(resolve("mapped.dns.test", 443, &w, 5000), 0);
	assert_int_equal(w.res.n, 1);
	cand_is(&w.res.c[0], "::ffff:127.0.0.1", 443);
	assert_int_equal(queries("mapped.dns.test", EVDNS_TYPE_AAAA), 1);
}

static void
test_shared_lookup(void **state)
{
	struct eg_dns_wait	*h1, *h2;
	struct wres		 w1, w2;

	(void)state;
	memset(&w1, 0, sizeof(w1));
	memset(&w2, 0, sizeof(w2));
	assert_int_equal(eg_dns_resolve(F.ew.dns, F.s, "meta.dns.test", 80,
	    &w1.res, wres_cb, &w1, &h1), 0);
	assert_int_equal(eg_dns_resolve(F.ew.dns, F.s, "meta.dns.test", 443,
	    &w2.res, wres_cb, &w2, &h2), 0);
	assert_true(run_until(&w2.called, 5000));
	assert_true(run_until(&w1.called, 5000));
	cand_is(&w1.res.c[0], "169.254.169.254", 80);
	cand_is(&w2.res.c[0], "169.254.169.254", 443);
	assert_int_equal(queries("meta.dns.test", EVDNS_TYPE_A), 1);
}

static void
test_cancel(void **state)
{
	struct eg_dns_wait	*h1, *h2;
	struct wres		 w1, w2;

	(void)state;
	/* One of two waiters goes; the other still gets the answer. */
	memset(&w1, 0, sizeof(w1));
	memset(&w2, 0, sizeof(w2));
	assert_int_equal(eg_dns_resolve(F.ew.dns, F.s, "priv.dns.test", 80,
	    &w1.res, wres_cb, &w1, &h1), 0);
	assert_int_equal(eg_dns_resolve(F.ew.dns, F.s, "priv.dns.test", 80,
	    &w2.res, wres_cb, &w2, &h2), 0);
	eg_dns_cancel(h1);
	assert_true(run_until(&w2.called, 5000));
	cand_is(&w2.res.c[0], "10.0.0.1", 80);
	run_for(50);
	assert_int_equal(w1.called, 0);
	/* The last waiter goes: the lookup stops, and the next one is new. */
	eg_dns_advance(F.ew.dns, 600 * 1000);
	memset(&w1, 0, sizeof(w1));
	assert_int_equal(eg_dns_resolve(F.ew.dns, F.s, "priv.dns.test", 80,
	    &w1.res, wres_cb, &w1, &h1), 0);
	eg_dns_cancel(h1);
	assert_int_equal(resolve("priv.dns.test", 80, &w2, 5000), 0);
	assert_int_equal(w1.called, 0);
	assert_int_equal(queries("priv.dns.test", EVDNS_TYPE_A), 3);
	/*
	 * A lookup that never gets an answer: cancelled, it is not sent
	 * again when resolver.timeout_ms passes.
	 */
	F.s->v[CM_S_EG_RESOLVER_TIMEOUT_MS] = 200;
	memset(&w1, 0, sizeof(w1));
	assert_int_equal(eg_dns_resolve(F.ew.dns, F.s, "slow2.dns.test", 80,
	    &w1.res, wres_cb, &w1, &h1), 0);
	run_for(20);
	eg_dns_cancel(h1);
	eg_dns_cancel(NULL);
	run_for(500);
	assert_int_equal(w1.called, 0);
	assert_int_equal(queries("slow2.dns.test", EVDNS_TYPE_A), 1);
	F.s->v[CM_S_EG_RESOLVER_TIMEOUT_MS] = 3000;
}

static void
test_nxdomain_cached(void **state)
{
	struct wres	 w;

	(void)state;
	assert_int_equal(resolve("nx.dns.test", 443, &w, 5000), 0);
	assert_int_equal(w.res.n, 0);
	assert_string_equal(w.res.why, "dns lookup failed: name does not "
	    "exist (nx.dns.test)");
	/* Failures are cached for EG_DNS_NEG_TTL_S. */
	eg_dns_advance(F.ew.dns, (EG_DNS_NEG_TTL_S - 1) * 1000);
	assert_int_equal(resolve("nx.dns.test", 443, &w, 0), 1);
	assert_int_equal(w.res.n, 0);
	assert_string_equal(w.res.why, "dns lookup failed: name does not "
	    "exist (nx.dns.test)");
	eg_dns_advance(F.ew.dns, 2000);
	assert_int_equal(resolve("nx.dns.test", 443, &w, 5000), 0);
	assert_int_equal(queries("nx.dns.test", EVDNS_TYPE_A), 2);
}

static void
test_ttl_clamped(void **state)
{
	struct wres	 w;

	(void)state;
	/* TTL 1 lives EG_DNS_TTL_MIN_S. */
	assert_int_equal(resolve("ttl1.dns.test", 80, &w, 5000), 0);
	eg_dns_advance(F.ew.dns, (EG_DNS_TTL_MIN_S - 1) * 1000);
	assert_int_equal(resolve("ttl1.dns.test", 80, &w, 0), 1);
	eg_dns_advance(F.ew.dns, 2000);
	assert_int_equal(resolve("ttl1.dns.test", 80, &w, 5000), 0);
	assert_int_equal(queries("ttl1.dns.test", EVDNS_TYPE_A), 2);
	/* TTL 1000 lives EG_DNS_TTL_MAX_S. */
	assert_int_equal(resolve("ttl1000.dns.test", 80, &w, 5000), 0);
	eg_dns_advance(F.ew.dns, (EG_DNS_TTL_MAX_S - 1) * 1000);
	assert_int_equal(resolve("ttl1000.dns.test", 80, &w, 0), 1);
	eg_dns_advance(F.ew.dns, 2000);
	assert_int_equal(resolve("ttl1000.dns.test", 80, &w, 5000), 0);
	assert_int_equal(queries("ttl1000.dns.test", EVDNS_TYPE_A), 2);
}

static void
test_bad_names(void **state)
{
	struct eg_dns_wait	*h;
	struct eg_dns_res	 res;
	char			 longname[300];

	(void)state;
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(eg_dns_resolve(F.ew.dns, F.s, longname, 80, &res,
	    noop_dns_cb, NULL, &h), 1);
	assert_int_equal(res.n, 0);
	assert_int_equal(eg_dns_resolve(F.ew.dns, F.s, "", 80, &res,
	    noop_dns_cb, NULL, &h), 1);
	assert_int_equal(res.n, 0);
}

static void
test_timeout(void **state)
{
	struct wres	 w;
	uint64_t	 t0;

	(void)state;
	/* Last: timeouts mark the test nameserver as failing. */
	F.s->v[CM_S_EG_RESOLVER_TIMEOUT_MS] = 200;	/* reconfigures */
	t0 = cm_now_ms();
	assert_int_equal(resolve("slow.dns.test", 80, &w, 5000), 0);
	assert_int_equal(w.res.n, 0);
	assert_string_equal(w.res.why, "dns lookup failed: request timed "
	    "out (slow.dns.test)");
	/* EG_DNS_ATTEMPTS sends of each, resolver.timeout_ms apart. */
	assert_int_equal(queries("slow.dns.test", EVDNS_TYPE_A),
	    EG_DNS_ATTEMPTS);
	assert_int_equal(queries("slow.dns.test", EVDNS_TYPE_AAAA),
	    EG_DNS_ATTEMPTS);
	assert_true(cm_now_ms() - t0 < 2000);
	F.s->v[CM_S_EG_RESOLVER_TIMEOUT_MS] = 3000;
}

int
main(void)
{
	const struct CMUnitTest	 tests[] = {
		cmocka_unit_test(test_override_order),
		cmocka_unit_test(test_literals),
		cmocka_unit_test(test_answer_then_cache),
		cmocka_unit_test(test_aaaa_only),
		cmocka_unit_test(test_shared_lookup),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_nxdomain_cached),
		cmocka_unit_test(test_ttl_clamped),
		cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_timeout),
	};

	return (cmocka_run_group_tests_name("dns", tests, fx_setup,
	    fx_teardown));
}
