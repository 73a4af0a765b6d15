/*
 * The git:// front (spec/gitgate.md §2.2): one request line, then one
 * service exchange on the same connection, then close.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/log.h"
#include "common/metrics.h"
#include "common/settings.h"
#include "common/snapshot.h"
#include "common/worker.h"
#include "gitgate/conf.h"
#include "gitgate/conn.h"
#include "gitgate/gg.h"
#include "gitgate/pktline.h"
#include "gitgate/route.h"
#include "gitgate/sess.h"

/* Before any session exists: ERR, a log line, close. */
static void
gg_git_refuse(struct gg_conn *c, const char *event, const char *msg,
    const void *bytes, size_t n)
{
	char	 hex[80];

	gg_pktline_hex(bytes, n, hex, sizeof(hex));
	cm_log(CM_LOG_INFO, "gitgate", event, c->id, json_pack("{s:s,s:s,"
	    "s:s,s:i,s:s}", "client", c->client, "front", "git", "msg", msg,
	    "offset", 0, "bytes", hex));
	cm_metric_add(c->gw->w, gg_m.refusals, 1);
	(void)gg_pktline_printf(gg_conn_output(c), "ERR %s", msg);
	gg_conn_finish(c);
}

static void
gg_git_request(struct gg_conn *c)
{
	struct evbuffer		*in = gg_conn_input(c);
	struct cm_snap		*snap = cm_worker_snap(c->gw->w);
	const struct gg_cfg	*cfg = gg_cfg_of(snap);
	const struct gg_repo	*repo;
	struct gg_pkt		*pkt;
	struct gg_greq		 rq;
	const char		*why;
	char			 name[GG_MAX_NAME_BYTES + 1], msg[1024];
	unsigned char		 peek[32];
	size_t			 np;
	int			 rc;

	if ((pkt = malloc(sizeof(*pkt))) == NULL) {
		gg_conn_close(c, "out_of_memory");
		return;
	}
	np = (size_t)evbuffer_copyout(in, peek, sizeof(peek));
	rc = gg_pktline_read(in, 0, pkt, &why);
	if (rc == 0) {
		free(pkt);
		return;
	}
	if (rc == -1) {
		(void)snprintf(msg, sizeof(msg), "bb-sidecar: bad request: %s",
		    why);
		gg_git_refuse(c, "proto_error", msg, peek, np);
		free(pkt);
		return;
	}
	if (pkt->kind != GG_PKT_DATA || gg_route_git_request(pkt->data,
	    pkt->len, &rq, &why) == -1) {
		(void)snprintf(msg, sizeof(msg), "bb-sidecar: bad request: %s",
		    pkt->kind != GG_PKT_DATA ? "expected a request line" : why);
		gg_git_refuse(c, "proto_error", msg, pkt->data, pkt->len);
		free(pkt);
		return;
	}
	if (gg_route_path_name(rq.path, rq.pathlen, name, sizeof(name)) == -1
	    || (repo = gg_conf_repo(cfg, name)) == NULL) {
		gg_route_unknown_msg(cfg, rq.path, rq.pathlen, msg,
		    sizeof(msg));
		gg_git_refuse(c, "unknown_repo", msg, rq.path, rq.pathlen);
		free(pkt);
		return;
	}
	if (cm_log_enabled(CM_LOG_DEBUG))
		cm_log(CM_LOG_DEBUG, "gitgate", "request", c->id, json_pack(
		    "{s:s,s:s,s:i}", "repo", repo->name, "service", rq.svc ==
		    GG_SVC_UPLOAD ? "upload-pack" : "receive-pack", "version",
		    rq.version));
	free(pkt);
	c->sess = gg_sess_new(c, snap, repo, rq.svc, rq.version, 0, 0);
	if (c->sess == NULL) {
		gg_conn_close(c, "out_of_memory");
		return;
	}
	c->state = GG_CONN_SESSION;
	cm_metric_add(c->gw->w, gg_m.requests, 1);
	gg_sess_start(c->sess);
}

void
gg_git_read(struct gg_conn *c)
{
	switch (c->state) {
	case GG_CONN_REQUEST:
		gg_git_request(c);
		break;
	case GG_CONN_SESSION:
		if (c->sess != NULL)
			gg_sess_input(c->sess);
		break;
	default:
		break;
	}
}

void
gg_git_tick(struct gg_conn *c, uint64_t now)
{
	const struct cm_settings *s = cm_worker_snap(c->gw->w)->settings;
	uint64_t		 idle = (uint64_t)s->v[CM_S_GG_IDLE_TIMEOUT_S];
	char			 msg[128];

	if (c->state == GG_CONN_REQUEST) {
		if (now - c->opened_ms < idle * 1000)
			return;
		(void)snprintf(msg, sizeof(msg), "bb-sidecar: timed out after "
		    "%llu s waiting for client data", (unsigned long long)idle);
		cm_log(CM_LOG_INFO, "gitgate", "timeout", c->id, json_pack(
		    "{s:s,s:s,s:s}", "client", c->client, "front", "git",
		    "what", "request_line"));
		(void)gg_pktline_printf(gg_conn_output(c), "ERR %s", msg);
		gg_conn_finish(c);
		return;
	}
	if (c->state == GG_CONN_SESSION && c->sess != NULL)
		gg_sess_tick(c->sess, now);
}

void
gg_git_eof(struct gg_conn *c)
{
	unsigned char	 peek[32];
	size_t		 np;

	np = (size_t)evbuffer_copyout(gg_conn_input(c), peek, sizeof(peek));
	gg_git_refuse(c, "proto_error", "bb-sidecar: bad request: truncated "
	    "pkt-line", peek, np);
}
