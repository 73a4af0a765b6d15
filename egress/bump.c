/*
 * The TLS bump towards the agent (spec/egress.md §3.2-§3.3, §15): the
 * leaf is minted for the CONNECT host, never chosen from SNI; SNI that
 * disagrees is remembered and refuses the first request with 421.
 */
#include "config.h"

#include <stdatomic.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/ca.h"
#include "common/certcache.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/routes.h"
#include "common/snapshot.h"
#include "common/util.h"
#include "common/worker.h"
#include "egress/conn.h"
#include "egress/egress.h"
#include "egress/emetrics.h"
#include "egress/logs.h"
#include "egress/service.h"

/*
 * Tunnels per agent address, process-wide without a lock: counters in
 * buckets by a hash of the address.  Two agents sharing a bucket share a
 * limit, which only ever errs on the strict side.
 */
#define EG_TUNNEL_BUCKETS	1024
static atomic_int eg_tunnel_counts[EG_TUNNEL_BUCKETS];

static unsigned
eg_tunnel_bucket(const struct eg_conn *c)
{
	const unsigned char	*p;
	size_t			 n, i;
	unsigned		 h = 2166136261u;

	if (c->peer.ss_family == AF_INET) {
		p = (const unsigned char *)&((const struct sockaddr_in *)
		    &c->peer)->sin_addr;
		n = 4;
	} else {
		p = (const unsigned char *)&((const struct sockaddr_in6 *)
		    &c->peer)->sin6_addr;
		n = 16;
	}
	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return (h % EG_TUNNEL_BUCKETS);
}

int
eg_tunnels_acquire(struct eg_conn *c, long long limit)
{
	atomic_int	*n = &eg_tunnel_counts[eg_tunnel_bucket(c)];

	if (c->tunnel_counted)
		return (0);	/* a second CONNECT on a refused first one */
	if (atomic_fetch_add(n, 1) >= limit) {
		atomic_fetch_sub(n, 1);
		return (-1);
	}
	c->tunnel_counted = 1;
	return (0);
}

void
eg_tunnels_release(struct eg_conn *c)
{
	if (c->tunnel_counted) {
		atomic_fetch_sub(&eg_tunnel_counts[eg_tunnel_bucket(c)], 1);
		c->tunnel_counted = 0;
	}
}

static int
eg_bump_alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned int	 i = 0;

	/* http/1.1 when offered; otherwise no ALPN at all (§3.2). */
	while (i < inlen) {
		unsigned int l = in[i];

		if (i + 1 + l > inlen)
			break;
		if (l == 8 && memcmp(in + i + 1, "http/1.1", 8) == 0) {
			*out = in + i + 1;
			*outlen = 8;
			return (SSL_TLSEXT_ERR_OK);
		}
		i += 1 + l;
	}
	return (SSL_TLSEXT_ERR_NOACK);
}

SSL_CTX *
eg_bump_ctx_new(char *err, size_t errlen)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		(void)snprintf(err, errlen, "SSL_CTX_new failed");
		return (NULL);
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* Idle tunnels hold no TLS buffers (§23's memory target). */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_alpn_select_cb(ctx, eg_bump_alpn_cb, NULL);
	return (ctx);
}

int
eg_bump_start(struct eg_conn *c, int on_socket)
{
	struct cm_snap		*snap = cm_worker_snap(c->ew->w);
	const struct eg_cfg	*cfg = eg_cfg_of(snap);
	struct bufferevent	*tls;
	X509			*leaf = NULL;
	SSL			*ssl;
	char			 err[256];

	if (cfg == NULL || cm_certcache_get(eg_g->certs, cfg->ca,
	    eg_g->leaf_key, c->thost,
	    (int)snap->settings->v[CM_S_EG_LEAF_VALIDITY_DAYS], &leaf, err,
	    sizeof(err)) == -1) {
		cm_log(CM_LOG_ERROR, "egress", "mint_failed", c->id,
		    json_pack("{s:s,s:s}", "host", c->thost, "error", err));
		return (-1);
	}
	ERR_clear_error();
	if ((ssl = SSL_new(eg_g->agent_ctx)) == NULL) {
		X509_free(leaf);
		return (-1);
	}
	if (SSL_use_certificate(ssl, leaf) != 1 ||
	    SSL_use_PrivateKey(ssl, eg_g->leaf_key) != 1 ||
	    SSL_add1_chain_cert(ssl, cm_ca_cert(cfg->ca)) != 1) {
		X509_free(leaf);
		SSL_free(ssl);
		ERR_clear_error();
		return (-1);
	}
	X509_free(leaf);
	if (on_socket) {
		int fd = bufferevent_getfd(c->bev);

		/* Detach the fd so freeing the plain side keeps it open. */
		tls = bufferevent_openssl_socket_new(cm_worker_base(c->ew->w),
		    fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		if (tls == NULL) {
			SSL_free(ssl);
			return (-1);
		}
		bufferevent_setfd(c->bev, -1);
		bufferevent_free(c->bev);
	} else {
		/* The ClientHello already sits in c->bev's input. */
		tls = bufferevent_openssl_filter_new(cm_worker_base(c->ew->w),
		    c->bev, ssl, BUFFEREVENT_SSL_ACCEPTING,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		if (tls == NULL) {
			SSL_free(ssl);
			return (-1);
		}
	}
	bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
	c->bev = tls;
	eg_conn_set(c, EG_CONN_TLS);
	eg_conn_setcb(c);
	return (0);
}

void
eg_bump_done(struct eg_conn *c)
{
	SSL		*ssl = bufferevent_openssl_get_ssl(c->bev);
	const char	*sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	const char	*why;
	char		 norm[256];

	event_del(c->timer);
	c->sni[0] = '\0';
	if (sni != NULL) {
		if (cm_host_normalise(sni, strlen(sni), norm, sizeof(norm),
		    NULL, &why) == 0)
			cm_strlcpy(c->sni, norm, sizeof(c->sni));
		else
			cm_strlcpy(c->sni, "(invalid)", sizeof(c->sni));
	}
	eg_conn_set(c, EG_CONN_HEAD);
	eg_conn_arm_timer(c, (int)cm_worker_snap(c->ew->w)->settings->
	    v[CM_S_EG_CLIENT_IDLE_S]);
	/* A request may have come with the handshake's last flight. */
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		bufferevent_trigger(c->bev, EV_READ, BEV_OPT_DEFER_CALLBACKS);
}

void
eg_bump_failed(struct eg_conn *c)
{
	unsigned long	 e;
	char		 buf[256] = "handshake failed";
	const char	*hint = NULL;

	while ((e = bufferevent_get_openssl_error(c->bev)) != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	if (strstr(buf, "unknown ca") != NULL)
		hint = "the agent does not trust the bottle CA";
	eg_log_event(c, 1, CM_LOG_WARN, "tls_error", json_pack("{s:s,s:s,"
	    "s:s?}", "host", c->thost, "reason", buf, "hint", hint));
	ERR_clear_error();
	eg_conn_close(c, "tls_error");
}
