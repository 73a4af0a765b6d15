/*
 * The fixture of tests/unit/egress/upstream_test.c and dns_test.c: a
 * real worker (cm_worker_new with a hand-made snapshot) and its egress
 * upstream state, in-process TLS and plain origins on 127.0.0.1 with
 * leaves from two throwaway bottle CAs, sockets that refuse, never
 * answer a SYN or never speak TLS, and an in-process DNS server
 * (libevent's evdns server side) that counts the queries it gets.
 * Every wait is bounded by a timer.
 */
#ifndef UPFIX_H
#define UPFIX_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "common/settings.h"
#include "egress/dns.h"
#include "egress/egress.h"
#include "egress/upstream.h"

struct bufferevent;
struct cm_snap;
struct cm_worker;
struct event_base;
struct evconnlistener;
struct evdns_server_port;

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


extern struct fx F;

/* What one dial's callback got. */
struct dres {
	int			 called;
	struct eg_up		*up;
	enum eg_up_result	 res;
	char			 why[512];
};

/* cmocka group setup and teardown. */
int		 fx_setup(void **state);
int		 fx_teardown(void **state);

/* Runs the loop until *flag (NULL: never) or ms pass; returns *flag. */
int		 run_until(const int *flag, int ms);
void		 run_for(int ms);
/* Starts a dial (asserting no callback ran inside eg_up_dial()). */
struct eg_dial	*dial_start(int tls, const char *host, int port,
		    int allow_private, struct dres *r);
/* A dial, waited for up to ms. */
void		 dial(int tls, const char *host, int port, int allow_private,
		    int ms, struct dres *r);

/* Adds an egress.resolve entry: host[:port] -> addrs (NULL-terminated). */
void		 add_resolve(const char *host, int port,
		    const char *const *addrs);
void		 add_resolve1(const char *host, const char *addr);
/* "127.0.0.1:port" in a rotating static buffer. */
const char	*loop_addr(int port);

/* The origins' side of every connection. */
void		 srv_close_all(void);
void		 srv_poke_all(void);	/* one byte, straight to the socket */
int		 srv_count(void);

/* DNS queries the test server got for name (EVDNS_TYPE_A or _AAAA). */
int		 queries(const char *name, int type);

#endif /* UPFIX_H */
