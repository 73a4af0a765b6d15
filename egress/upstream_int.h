/*
 * Private to egress/upstream.c and egress/pool.c: the origin connection
 * struct and the pool's internal calls.  Nothing else includes this.
 */
#ifndef EG_UPSTREAM_INT_H
#define EG_UPSTREAM_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "common/bounds.h"

struct bufferevent;
struct event;
struct eg_pool;
struct eg_worker;

struct eg_up {
	struct eg_worker	*ew;		/* borrowed; fixed for life */
	struct bufferevent	*bev;		/* owned */
	int			 tls;
	int			 port;
	int			 reused;	/* handed out by the pool */
	int			 broken;	/* EOF/bytes while not in use */
	char			 host[CM_HOST_BUF_BYTES];
	char			 peer[64];	/* "addr:port" */
	/* While idle in the pool only. */
	int			 pooled;
	uint32_t		 hash;		/* of (tls, host, port) */
	struct event		*idle;		/* owned: the idle timeout */
	TAILQ_ENTRY(eg_up)	 bucket;	/* in its key's bucket */
	TAILQ_ENTRY(eg_up)	 lru;		/* oldest release first */
};

struct eg_pool	*eg_pool_new(void);
/* Closes every idle connection, then frees the pool.  Accepts NULL. */
void		 eg_pool_free(struct eg_pool *p);
/*
 * An idle connection for (tls, host, port) that shows no sign of being
 * dead (no EOF, no unexpected bytes), taken out of the pool; else NULL.
 * The dead ones met on the way are closed.
 */
struct eg_up	*eg_pool_take(struct eg_worker *ew, int tls, const char *host,
		    int port);
/* Unlinks a pooled connection (eg_up_free() of one that is pooled). */
void		 eg_pool_unlink(struct eg_up *up);

/*
 * 0 when up shows EOF, unexpected bytes or an error on its socket; the
 * bytes pending on a TLS socket count only with peek_tls.
 */
int		 eg_pool_alive(struct eg_up *up, int peek_tls);

#endif /* EG_UPSTREAM_INT_H */
