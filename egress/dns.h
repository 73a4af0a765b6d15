/*
 * Name resolution for origin connections (spec/egress.md §11.1): one
 * evdns_base per worker, A and AAAA in parallel, answers cached on the
 * worker for their TTL, and the egress.resolve override.  Only
 * upstream.c uses it; nothing here blocks.
 */
#ifndef EG_DNS_H
#define EG_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/bounds.h"

struct cm_settings;
struct event_base;
struct eg_dns;
struct eg_dns_wait;	/* one pending eg_dns_resolve() */

/* One address to try, port included. */
struct eg_dns_cand {
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 exempt;	/* egress.resolve: no guard */
};

/* An answer: IPv4 candidates first, then IPv6; n 0 means it failed. */
struct eg_dns_res {
	size_t			 n;
	struct eg_dns_cand	 c[2 * EG_MAX_DNS_ADDRS];
	char			 why[160];	/* n 0: names the host */
};

/* res is valid during the call only. */
typedef void	(*eg_dns_cb)(const struct eg_dns_res *res, void *arg);

/*
 * A resolver on base: nameservers from s->nameservers ("addr",
 * "addr:port", "[v6]:port") or else /etc/resolv.conf's nameserver lines
 * (nothing else from it, no hosts file), s's resolver.timeout_ms,
 * EG_DNS_ATTEMPTS sends.  NULL with err on failure.
 */
struct eg_dns	*eg_dns_new(struct event_base *base,
		    const struct cm_settings *s, char *err, size_t errlen);
/* Drops pending lookups without calling back.  Accepts NULL. */
void		 eg_dns_free(struct eg_dns *d);

/*
 * Addresses for host (normalised, no brackets) and port.  In order: the
 * egress.resolve entry of s for host:port, else for host (its addresses
 * are exempt; port 0 keeps port), an IP literal, the cache, evdns.
 * Returns 1 when res was filled now; 0 when cb(res, arg) will run later
 * from the loop (*wp is the handle for eg_dns_cancel()); -1 when out of
 * memory.  A change of s's nameservers or timeout reconfigures evdns.
 */
int		 eg_dns_resolve(struct eg_dns *d, const struct cm_settings *s,
		    const char *host, int port, struct eg_dns_res *res,
		    eg_dns_cb cb, void *arg, struct eg_dns_wait **wp);
/* Before its callback ran only; it will not run then.  Accepts NULL. */
void		 eg_dns_cancel(struct eg_dns_wait *w);

/* Cached hosts, and lookups on the wire (for tests and debugging). */
size_t		 eg_dns_cached(const struct eg_dns *d);
uint64_t	 eg_dns_queries(const struct eg_dns *d);
/* Tests: moves the cache's clock forward by ms. */
void		 eg_dns_advance(struct eg_dns *d, uint64_t ms);

#endif /* EG_DNS_H */
