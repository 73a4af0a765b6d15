/*
 * Origin connections (spec/egress.md §11): resolution, the SSRF guard,
 * connect, verified TLS, and the per-worker pool of idle connections.
 * Everything runs on the calling worker's loop; nothing blocks.
 */
#ifndef EG_UPSTREAM_H
#define EG_UPSTREAM_H

#include <stddef.h>

struct bufferevent;
struct cm_settings;
struct eg_cfg;
struct eg_worker;
struct eg_up;		/* one origin connection */
struct eg_dial;		/* a connection being made */

enum eg_up_result {
	EG_UP_OK,
	EG_UP_DNS_FAILURE,	/* 502 dns_failure */
	EG_UP_PRIVATE,		/* 403 private_address */
	EG_UP_CONNECT_FAILED,	/* 502 upstream_connect_failed */
	EG_UP_TLS_FAILED,	/* 502 upstream_tls_failed */
	EG_UP_TIMEOUT,		/* 504 upstream_timeout */
};

/*
 * Called once per eg_up_dial() that was not cancelled, always from the
 * loop (never inside eg_up_dial()).  On EG_UP_OK up is the caller's; else
 * up is NULL and why names the failure (valid during the call only, no
 * secrets: host, address, OpenSSL's verify text).
 */
typedef void	(*eg_dial_cb)(struct eg_up *up, enum eg_up_result res,
		    const char *why, void *arg);

/*
 * A connection to host:port (tls or plain TCP): an idle pooled one for
 * the same (tls, host, port) if one is alive, else resolve (egress.resolve
 * override, else evdns A+AAAA), drop guarded addresses unless
 * allow_private or the address came from egress.resolve, connect to
 * exactly a checked address (IPv4 first, next candidate after 2 s or on
 * failure, all within timeouts.upstream_connect_s), then verified TLS
 * (cfg->up_ctx, SNI = host unless an IP literal, name/IP checked, ALPN
 * http/1.1 only).  host is normalised (cm_host_normalise).  NULL only when
 * out of memory.
 */
struct eg_dial	*eg_up_dial(struct eg_worker *ew, const struct eg_cfg *cfg,
		    const struct cm_settings *s, int tls, const char *host,
		    int port, int allow_private, eg_dial_cb cb, void *arg);
/* Stops a dial; its callback will not run.  Accepts NULL. */
void		 eg_up_dial_cancel(struct eg_dial *d);

/* The connection's bufferevent: the caller sets its callbacks. */
struct bufferevent *eg_up_bev(struct eg_up *up);
/* 1 when it came from the pool (a failure before any byte may retry). */
int		 eg_up_reused(const struct eg_up *up);
/* "addr:port" connected to, for logs. */
const char	*eg_up_peer(const struct eg_up *up);
/*
 * Back to the pool after a complete keep-alive exchange; idle_s is the
 * origin's Keep-Alive timeout or 0.  Closed instead when the pool is full
 * (limits.pool_idle_per_origin / _per_worker) or the worker drains.
 */
void		 eg_up_release(struct eg_up *up, int idle_s);
/* Closes it.  Accepts NULL. */
void		 eg_up_free(struct eg_up *up);

/* Registers the upstream metric series (startup, before workers). */
void		 eg_upstream_metrics_init(void);

/* Per-worker state: resolver (resolver.nameservers or resolv.conf) and pool. */
int		 eg_upstream_worker_init(struct eg_worker *ew,
		    const struct cm_settings *s);
void		 eg_upstream_worker_free(struct eg_worker *ew);
/* Closes every idle pooled connection (drain), or those whose host has no
 * route in cfg any more (reload). */
void		 eg_pool_close_all(struct eg_worker *ew);
void		 eg_pool_prune(struct eg_worker *ew, const struct eg_cfg *cfg);
size_t		 eg_pool_idle(const struct eg_worker *ew);

/*
 * The SSRF guard of §11.2: 1 when the address (struct sockaddr of
 * AF_INET or AF_INET6) is in a blocked range, including the IPv4 inside
 * ::ffff:0:0/96, 64:ff9b::/96 and 2002::/16.
 */
struct sockaddr;
int		 eg_ssrf_blocked(const struct sockaddr *sa);

/* A verifying client SSL_CTX: default trust plus ca_file (may be NULL). */
struct ssl_ctx_st;
struct ssl_ctx_st *eg_upstream_ctx_new(const char *ca_file, char *err,
		    size_t errlen);

#endif /* EG_UPSTREAM_H */
