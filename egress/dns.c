/*
 * Resolution of origin names (spec/egress.md §11.1).  Each worker owns
 * one evdns_base and one cache, so nothing here takes a lock.  A lookup
 * sends A and AAAA together and answers every dial waiting for the same
 * host at once; its result is cached for the answer's TTL clamped to
 * [EG_DNS_TTL_MIN_S, EG_DNS_TTL_MAX_S], a failure for EG_DNS_NEG_TTL_S.
 *
 * evdns always calls back from the loop, also after evdns_cancel_request()
 * (with DNS_ERR_CANCEL), so a query outlives its last waiter until both
 * of its callbacks have run.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "common/log.h"
#include "common/settings.h"
#include "common/util.h"
#include "egress/dns.h"

#define EG_DNS_RESOLV_CONF	"/etc/resolv.conf"

enum eg_dns_fam { EG_DNS_A, EG_DNS_AAAA, EG_DNS_NFAM };

/* A cached answer, or a cached failure (why != NULL). */
struct eg_dns_entry {
	LIST_ENTRY(eg_dns_entry)	 bucket;
	TAILQ_ENTRY(eg_dns_entry)	 age;	/* oldest first */
	uint32_t			 hash;
	uint64_t			 expires_ms;
	const char			*why;	/* static */
	size_t				 n4, n6;
	struct in_addr			 v4[EG_MAX_DNS_ADDRS];
	struct in6_addr			 v6[EG_MAX_DNS_ADDRS];
	char				 host[CM_HOST_BUF_BYTES];
};

struct eg_dns_wait {
	TAILQ_ENTRY(eg_dns_wait)	 entry;
	struct eg_dns_query		*q;	/* borrowed */
	int				 port;
	eg_dns_cb			 cb;
	void				*arg;
};

/* One lookup on the wire. */
struct eg_dns_query {
	TAILQ_ENTRY(eg_dns_query)	 entry;	/* d->queries or d->orphans */
	struct eg_dns			*d;	/* borrowed */
	struct evdns_request		*req[EG_DNS_NFAM];	/* evdns's */
	int				 pending;	/* callbacks to come */
	int				 orphan;	/* cancelled */
	int				 done;	/* calling the waiters */
	int				 err[EG_DNS_NFAM];
	int				 ttl;	/* smallest seen, -1 none */
	TAILQ_HEAD(, eg_dns_wait)	 waiters;
	struct eg_dns_entry		 ans;	/* being filled */
};

struct eg_dns {
	struct event_base		*base;	/* borrowed */
	struct evdns_base		*evdns;	/* owned */
	uint64_t			 conf_sig;	/* of its settings */
	int				 configured;	/* once */
	uint64_t			 skew_ms;	/* tests only */
	uint64_t			 nqueries;
	size_t				 ncached;
	LIST_HEAD(, eg_dns_entry)	 buckets[EG_DNS_CACHE_BUCKETS];
	TAILQ_HEAD(, eg_dns_entry)	 age;
	TAILQ_HEAD(, eg_dns_query)	 queries;
	TAILQ_HEAD(, eg_dns_query)	 orphans;
};

static uint32_t	 eg_dns_hash(const char *host);
static uint64_t	 eg_dns_sig(const struct cm_settings *s);
static uint64_t	 eg_dns_now(const struct eg_dns *d);
static int	 eg_dns_configure(struct eg_dns *d,
		    const struct cm_settings *s, char *err, size_t errlen);
static int	 eg_dns_override(const struct cm_settings *s,
		    const char *host, int port, struct eg_dns_res *res);
static int	 eg_dns_literal(const char *host, int port,
		    struct eg_dns_res *res);
static void	 eg_dns_fill(const struct eg_dns_entry *e, const char *host,
		    int port, struct eg_dns_res *res);
static struct eg_dns_entry *eg_dns_lookup(struct eg_dns *d, const char *host,
		    uint32_t hash);
static void	 eg_dns_drop(struct eg_dns *d, struct eg_dns_entry *e);
static void	 eg_dns_store(struct eg_dns *d, const struct eg_dns_entry *e);
static void	 eg_dns_answer(struct eg_dns_query *q, enum eg_dns_fam fam,
		    int result, int count, int ttl, const void *addrs);
static void	 eg_dns_a_cb(int result, char type, int count, int ttl,
		    void *addrs, void *arg);
static void	 eg_dns_aaaa_cb(int result, char type, int count, int ttl,
		    void *addrs, void *arg);
static void	 eg_dns_finish(struct eg_dns_query *q);
static void	 eg_dns_query_free(struct eg_dns_query *q);

/* FNV-1a: the cache is per worker and holds names we were asked for. */
static uint32_t
eg_dns_hash(const char *host)
{
	uint32_t	 h = 2166136261u;

	for (; *host != '\0'; host++)
		h = (h ^ (unsigned char)*host) * 16777619u;
	return (h);
}

/* What the resolver was built from, so a reload can tell it changed. */
static uint64_t
eg_dns_sig(const struct cm_settings *s)
{
	uint64_t	 h = 1469598103934665603ull;
	long long	 t = s->v[CM_S_EG_RESOLVER_TIMEOUT_MS];
	size_t		 i;
	const char	*p;

	for (i = 0; i < s->nnameservers; i++) {
		for (p = s->nameservers[i]; *p != '\0'; p++)
			h = (h ^ (unsigned char)*p) * 1099511628211ull;
		h = (h ^ 0xff) * 1099511628211ull;	/* separator */
	}
	for (i = 0; i < sizeof(t); i++, t >>= 8)
		h = (h ^ (uint64_t)(t & 0xff)) * 1099511628211ull;
	return (h);
}

static uint64_t
eg_dns_now(const struct eg_dns *d)
{
	return (cm_now_ms() + d->skew_ms);
}

static int
eg_dns_configure(struct eg_dns *d, const struct cm_settings *s, char *err,
    size_t errlen)
{
	char		 tmo[32], att[16];
	long long	 ms = s->v[CM_S_EG_RESOLVER_TIMEOUT_MS];
	size_t		 i;
	int		 rc = 0, r;

	if (d->configured)
		(void)evdns_base_clear_nameservers_and_suspend(d->evdns);
	for (i = 0; i < s->nnameservers; i++)
		if (evdns_base_nameserver_ip_add(d->evdns,
		    s->nameservers[i]) != 0) {
			(void)snprintf(err, errlen, "egress.resolver."
			    "nameservers: cannot use \"%s\"",
			    s->nameservers[i]);
			rc = -1;
		}
	if (s->nnameservers == 0) {
		/* Nameservers only: no search list, options or hosts file. */
		r = evdns_base_resolv_conf_parse(d->evdns,
		    DNS_OPTION_NAMESERVERS, EG_DNS_RESOLV_CONF);
		if (r != 0)
			cm_log(CM_LOG_WARN, "egress", "resolver", 0,
			    json_pack("{s:s,s:i,s:s}", "file",
			    EG_DNS_RESOLV_CONF, "error", r, "using",
			    evdns_base_count_nameservers(d->evdns) > 0 ?
			    "what it listed, else 127.0.0.1" : "none"));
	}
	(void)snprintf(tmo, sizeof(tmo), "%lld.%03lld", ms / 1000, ms % 1000);
	(void)snprintf(att, sizeof(att), "%d", EG_DNS_ATTEMPTS);
	/* evdns's "attempts" counts every send, the first included. */
	if (evdns_base_set_option(d->evdns, "timeout:", tmo) != 0 ||
	    evdns_base_set_option(d->evdns, "attempts:", att) != 0) {
		(void)snprintf(err, errlen, "egress.resolver.timeout_ms: "
		    "evdns refused %s", tmo);
		rc = -1;
	}
	if (d->configured)
		(void)evdns_base_resume(d->evdns);
	d->configured = 1;
	d->conf_sig = eg_dns_sig(s);
	return (rc);
}

struct eg_dns *
eg_dns_new(struct event_base *base, const struct cm_settings *s, char *err,
    size_t errlen)
{
	struct eg_dns	*d;
	size_t		 i;

	if ((d = calloc(1, sizeof(*d))) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return (NULL);
	}
	d->base = base;
	for (i = 0; i < EG_DNS_CACHE_BUCKETS; i++)
		LIST_INIT(&d->buckets[i]);
	TAILQ_INIT(&d->age);
	TAILQ_INIT(&d->queries);
	TAILQ_INIT(&d->orphans);
	/* Idle resolver sockets must not keep a loop alive on their own. */
	d->evdns = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (d->evdns == NULL) {
		(void)snprintf(err, errlen, "evdns_base_new failed");
		free(d);
		return (NULL);
	}
	if (eg_dns_configure(d, s, err, errlen) == -1) {
		eg_dns_free(d);
		return (NULL);
	}
	return (d);
}

static void
eg_dns_query_free(struct eg_dns_query *q)
{
	struct eg_dns_wait	*w;

	while ((w = TAILQ_FIRST(&q->waiters)) != NULL) {
		TAILQ_REMOVE(&q->waiters, w, entry);
		free(w);
	}
	free(q);
}

void
eg_dns_free(struct eg_dns *d)
{
	struct eg_dns_query	*q;
	struct eg_dns_entry	*e;

	if (d == NULL)
		return;
	/*
	 * evdns_base_free(, 0) drops requests without calling back; the
	 * loop no longer runs, so no deferred callback reaches a query.
	 */
	while ((q = TAILQ_FIRST(&d->queries)) != NULL) {
		TAILQ_REMOVE(&d->queries, q, entry);
		eg_dns_query_free(q);
	}
	while ((q = TAILQ_FIRST(&d->orphans)) != NULL) {
		TAILQ_REMOVE(&d->orphans, q, entry);
		eg_dns_query_free(q);
	}
	while ((e = TAILQ_FIRST(&d->age)) != NULL)
		eg_dns_drop(d, e);
	if (d->evdns != NULL)
		evdns_base_free(d->evdns, 0);
	free(d);
}

/* Puts one address into a candidate with the given port. */
static int
eg_dns_cand_set(struct eg_dns_cand *c, int family, const void *addr,
    int port, int exempt)
{
	memset(c, 0, sizeof(*c));
	c->exempt = exempt;
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)(void *)&c->ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		memcpy(&sin->sin_addr, addr, sizeof(sin->sin_addr));
		c->len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)
		    (void *)&c->ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		memcpy(&sin6->sin6_addr, addr, sizeof(sin6->sin6_addr));
		c->len = sizeof(*sin6);
	}
	return (0);
}

/*
 * egress.resolve: an entry for host:port beats one for host.  Returns 1
 * when one applied (res filled, IPv4 first), else 0.
 */
static int
eg_dns_override(const struct cm_settings *s, const char *host, int port,
    struct eg_dns_res *res)
{
	const struct cm_resolve_entry	*e = NULL;
	size_t				 i, j;
	int				 pass;

	for (i = 0; i < s->nresolve; i++) {
		if (strcmp(s->resolve[i].host, host) != 0)
			continue;
		if (s->resolve[i].port == port) {
			e = &s->resolve[i];
			break;
		}
		if (s->resolve[i].port == 0 && e == NULL)
			e = &s->resolve[i];
	}
	if (e == NULL)
		return (0);
	res->n = 0;
	for (pass = 0; pass < 2; pass++)
		for (j = 0; j < e->naddrs &&
		    res->n < sizeof(res->c) / sizeof(res->c[0]); j++) {
			unsigned char	 bin[16];
			int		 p = e->addrs[j].port != 0 ?
			    e->addrs[j].port : port;

			if (pass == 0 &&
			    inet_pton(AF_INET, e->addrs[j].host, bin) == 1)
				eg_dns_cand_set(&res->c[res->n++], AF_INET, bin,
				    p, 1);
			else if (pass == 1 &&
			    inet_pton(AF_INET6, e->addrs[j].host, bin) == 1)
				eg_dns_cand_set(&res->c[res->n++], AF_INET6,
				    bin, p, 1);
		}
	if (res->n == 0)
		(void)snprintf(res->why, sizeof(res->why),
		    "egress.resolve has no usable address (%s)", host);
	return (1);
}

/* An IP-literal host needs no lookup; the guard still applies. */
static int
eg_dns_literal(const char *host, int port, struct eg_dns_res *res)
{
	unsigned char	 bin[16];

	if (inet_pton(AF_INET, host, bin) == 1)
		eg_dns_cand_set(&res->c[0], AF_INET, bin, port, 0);
	else if (inet_pton(AF_INET6, host, bin) == 1)
		eg_dns_cand_set(&res->c[0], AF_INET6, bin, port, 0);
	else
		return (0);
	res->n = 1;
	return (1);
}

static void
eg_dns_fill(const struct eg_dns_entry *e, const char *host, int port,
    struct eg_dns_res *res)
{
	size_t	 i;

	res->n = 0;
	if (e->why != NULL || e->n4 + e->n6 == 0) {
		(void)snprintf(res->why, sizeof(res->why),
		    "dns lookup failed: %s (%s)", e->why != NULL ? e->why :
		    "no usable address", host);
		return;
	}
	for (i = 0; i < e->n4; i++)
		eg_dns_cand_set(&res->c[res->n++], AF_INET, &e->v4[i], port, 0);
	for (i = 0; i < e->n6; i++)
		eg_dns_cand_set(&res->c[res->n++], AF_INET6, &e->v6[i], port,
		    0);
}

static struct eg_dns_entry *
eg_dns_lookup(struct eg_dns *d, const char *host, uint32_t hash)
{
	struct eg_dns_entry	*e;

	LIST_FOREACH(e, &d->buckets[hash % EG_DNS_CACHE_BUCKETS], bucket)
		if (e->hash == hash && strcmp(e->host, host) == 0)
			return (e);
	return (NULL);
}

static void
eg_dns_drop(struct eg_dns *d, struct eg_dns_entry *e)
{
	LIST_REMOVE(e, bucket);
	TAILQ_REMOVE(&d->age, e, age);
	d->ncached--;
	free(e);
}

static void
eg_dns_store(struct eg_dns *d, const struct eg_dns_entry *src)
{
	struct eg_dns_entry	*e;

	if ((e = eg_dns_lookup(d, src->host, src->hash)) != NULL)
		eg_dns_drop(d, e);
	if (d->ncached >= EG_MAX_DNS_CACHE_ENTRIES)
		eg_dns_drop(d, TAILQ_FIRST(&d->age));
	if ((e = malloc(sizeof(*e))) == NULL)
		return;		/* not cached: the next dial asks again */
	*e = *src;
	LIST_INSERT_HEAD(&d->buckets[e->hash % EG_DNS_CACHE_BUCKETS], e,
	    bucket);
	TAILQ_INSERT_TAIL(&d->age, e, age);
	d->ncached++;
}

int
eg_dns_resolve(struct eg_dns *d, const struct cm_settings *s,
    const char *host, int port, struct eg_dns_res *res, eg_dns_cb cb,
    void *arg, struct eg_dns_wait **wp)
{
	struct eg_dns_entry	*e;
	struct eg_dns_query	*q;
	struct eg_dns_wait	*w;
	uint32_t		 hash;
	char			 err[160];

	*wp = NULL;
	res->n = 0;
	res->why[0] = '\0';
	if (eg_dns_override(s, host, port, res) || eg_dns_literal(host, port,
	    res))
		return (1);
	if (strlen(host) > CM_MAX_HOST_BYTES || host[0] == '\0') {
		(void)snprintf(res->why, sizeof(res->why),
		    "dns lookup failed: bad host name");
		return (1);
	}
	hash = eg_dns_hash(host);
	if ((e = eg_dns_lookup(d, host, hash)) != NULL) {
		if (eg_dns_now(d) < e->expires_ms) {
			eg_dns_fill(e, host, port, res);
			return (1);
		}
		eg_dns_drop(d, e);
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return (-1);
	w->port = port;
	w->cb = cb;
	w->arg = arg;
	TAILQ_FOREACH(q, &d->queries, entry)
		if (q->ans.hash == hash && strcmp(q->ans.host, host) == 0)
			break;
	if (q == NULL) {
		if ((q = calloc(1, sizeof(*q))) == NULL) {
			free(w);
			return (-1);
		}
		q->d = d;
		q->ttl = -1;
		q->ans.hash = hash;
		cm_strlcpy(q->ans.host, host, sizeof(q->ans.host));
		TAILQ_INIT(&q->waiters);
		if (eg_dns_sig(s) != d->conf_sig &&
		    eg_dns_configure(d, s, err, sizeof(err)) == -1)
			cm_log(CM_LOG_WARN, "egress", "resolver", 0,
			    json_pack("{s:s}", "error", err));
		/* Never the search list: names in routes are absolute. */
		q->req[EG_DNS_A] = evdns_base_resolve_ipv4(d->evdns, host,
		    DNS_QUERY_NO_SEARCH, eg_dns_a_cb, q);
		q->err[EG_DNS_A] = q->req[EG_DNS_A] != NULL ? 0 :
		    DNS_ERR_UNKNOWN;
		q->req[EG_DNS_AAAA] = evdns_base_resolve_ipv6(d->evdns, host,
		    DNS_QUERY_NO_SEARCH, eg_dns_aaaa_cb, q);
		q->err[EG_DNS_AAAA] = q->req[EG_DNS_AAAA] != NULL ? 0 :
		    DNS_ERR_UNKNOWN;
		q->pending = (q->req[EG_DNS_A] != NULL) +
		    (q->req[EG_DNS_AAAA] != NULL);
		if (q->pending == 0) {
			free(q);
			free(w);
			(void)snprintf(res->why, sizeof(res->why),
			    "dns lookup failed: could not start (%s)", host);
			return (1);
		}
		d->nqueries++;
		TAILQ_INSERT_TAIL(&d->queries, q, entry);
	}
	w->q = q;
	TAILQ_INSERT_TAIL(&q->waiters, w, entry);
	*wp = w;
	return (0);
}

void
eg_dns_cancel(struct eg_dns_wait *w)
{
	struct eg_dns_query	*q;
	struct eg_dns		*d;
	int			 i;

	if (w == NULL)
		return;
	q = w->q;
	d = q->d;
	TAILQ_REMOVE(&q->waiters, w, entry);
	free(w);
	if (q->done || !TAILQ_EMPTY(&q->waiters))
		return;
	/*
	 * Nobody waits: stop the lookup.  evdns still calls back (with
	 * DNS_ERR_CANCEL, or the answer already on its way), so the query
	 * waits among the orphans until then, and a new dial starts afresh.
	 */
	TAILQ_REMOVE(&d->queries, q, entry);
	TAILQ_INSERT_TAIL(&d->orphans, q, entry);
	q->orphan = 1;
	for (i = 0; i < EG_DNS_NFAM; i++)
		if (q->req[i] != NULL)
			evdns_cancel_request(d->evdns, q->req[i]);
}

static void
eg_dns_answer(struct eg_dns_query *q, enum eg_dns_fam fam, int result,
    int count, int ttl, const void *addrs)
{
	struct eg_dns_entry	*a = &q->ans;
	int			 i;

	q->req[fam] = NULL;	/* evdns frees the handle after this call */
	q->pending--;
	q->err[fam] = result;
	if (result == DNS_ERR_NONE && count > 0 && addrs != NULL) {
		for (i = 0; i < count; i++) {
			if (fam == EG_DNS_A && a->n4 < EG_MAX_DNS_ADDRS)
				memcpy(&a->v4[a->n4++], (const char *)addrs +
				    (size_t)i * 4, 4);
			else if (fam == EG_DNS_AAAA && a->n6 < EG_MAX_DNS_ADDRS)
				memcpy(&a->v6[a->n6++], (const char *)addrs +
				    (size_t)i * 16, 16);
		}
		if (q->ttl < 0 || ttl < q->ttl)
			q->ttl = ttl < 0 ? 0 : ttl;
	}
	if (q->pending == 0)
		eg_dns_finish(q);
}

static void
eg_dns_a_cb(int result, char type, int count, int ttl, void *addrs,
    void *arg)
{
	/* type is 0 on errors: the callback itself says the family. */
	if (result == DNS_ERR_NONE && type != DNS_IPv4_A)
		count = 0;
	eg_dns_answer(arg, EG_DNS_A, result, count, ttl, addrs);
}

static void
eg_dns_aaaa_cb(int result, char type, int count, int ttl, void *addrs,
    void *arg)
{
	if (result == DNS_ERR_NONE && type != DNS_IPv6_AAAA)
		count = 0;
	eg_dns_answer(arg, EG_DNS_AAAA, result, count, ttl, addrs);
}

/* Both answers are in: cache, then call every waiter. */
static void
eg_dns_finish(struct eg_dns_query *q)
{
	struct eg_dns		*d = q->d;
	struct eg_dns_entry	*a = &q->ans;
	struct eg_dns_wait	*w;
	struct eg_dns_res	 res;
	int			 e4 = q->err[EG_DNS_A];
	int			 e6 = q->err[EG_DNS_AAAA];
	int			 ttl;

	if (q->orphan) {
		TAILQ_REMOVE(&d->orphans, q, entry);
		eg_dns_query_free(q);
		return;
	}
	TAILQ_REMOVE(&d->queries, q, entry);
	q->done = 1;
	if (a->n4 + a->n6 > 0) {
		ttl = q->ttl < EG_DNS_TTL_MIN_S ? EG_DNS_TTL_MIN_S :
		    q->ttl > EG_DNS_TTL_MAX_S ? EG_DNS_TTL_MAX_S : q->ttl;
	} else {
		ttl = EG_DNS_NEG_TTL_S;
		/* NXDOMAIN says most; else the IPv4 lookup's error. */
		if (e4 == DNS_ERR_NOTEXIST || e6 == DNS_ERR_NOTEXIST)
			a->why = evdns_err_to_string(DNS_ERR_NOTEXIST);
		else if (e4 != DNS_ERR_NONE)
			a->why = evdns_err_to_string(e4);
		else if (e6 != DNS_ERR_NONE)
			a->why = evdns_err_to_string(e6);
		else
			a->why = "no usable address";
	}
	a->expires_ms = eg_dns_now(d) + (uint64_t)ttl * 1000;
	if (e4 != DNS_ERR_SHUTDOWN && e6 != DNS_ERR_SHUTDOWN)
		eg_dns_store(d, a);
	/*
	 * A waiter's callback may cancel another waiter of this query (it
	 * is then gone from the list) or resolve again (the cache answers).
	 */
	while ((w = TAILQ_FIRST(&q->waiters)) != NULL) {
		TAILQ_REMOVE(&q->waiters, w, entry);
		res.why[0] = '\0';
		eg_dns_fill(a, a->host, w->port, &res);
		w->cb(&res, w->arg);
		free(w);
	}
	free(q);
}

size_t
eg_dns_cached(const struct eg_dns *d)
{
	return (d->ncached);
}

uint64_t
eg_dns_queries(const struct eg_dns *d)
{
	return (d->nqueries);
}

void
eg_dns_advance(struct eg_dns *d, uint64_t ms)
{
	d->skew_ms += ms;
}
