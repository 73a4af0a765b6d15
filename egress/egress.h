/*
 * Types shared by the files of the egress service (not by other
 * services).  spec/egress.md is the behaviour; this is the plumbing.
 */
#ifndef EG_EGRESS_H
#define EG_EGRESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <time.h>

#include <openssl/ssl.h>

#include "common/service.h"
#include "common/settings.h"

struct cm_ca;
struct cm_certcache;
struct cm_routes;
struct cm_snap;
struct cm_worker;
struct evdns_base;
struct eg_conn;
struct eg_pool;
struct eg_dns;
struct cm_scanset;
struct cm_scanner;

/* The egress part of a config snapshot: immutable once loaded. */
struct eg_cfg {
	struct cm_routes	*routes;	/* owned */
	struct cm_ca		*ca;		/* a reference */
	SSL_CTX			*up_ctx;	/* owned: verifying origin TLS */
	char			*routes_path;	/* owned: for logs */
	time_t			 loaded_at;
	int			 hold_timeout_s;	/* EGRESS_TOKEN_ALLOW_... */
	struct cm_scanset	*scan;		/* a reference: rules + secrets */
	char			*state_dir;	/* owned: for the queue */
};

/* Process-wide, created by eg_start() and read-only afterwards. */
struct eg_global {
	EVP_PKEY		*leaf_key;	/* shared by every leaf */
	struct cm_certcache	*certs;		/* thread-safe */
	SSL_CTX			*agent_ctx;	/* server side of the bump */
};

/* One per worker, on that worker only: no locks. */
struct eg_worker {
	struct cm_worker	*w;		/* borrowed */
	struct eg_dns		*dns;		/* owned: evdns + cache */
	struct eg_pool		*pool;		/* owned: idle origin conns */
	struct cm_scanner	*scanner;	/* owned: scan scratch */
	TAILQ_HEAD(, eg_conn)	 conns;		/* every agent connection */
	size_t			 nconns;
	uint64_t		 next_id;
};

extern const struct eg_global *eg_g;	/* set once by eg_start() */

/* The egress config of a snapshot. */
const struct eg_cfg	*eg_cfg_of(const struct cm_snap *snap);
/* This worker's egress state. */
struct eg_worker	*eg_worker_of(struct cm_worker *w);

#endif /* EG_EGRESS_H */
