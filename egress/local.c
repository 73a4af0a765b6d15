#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <jansson.h>

#include "common/http.h"
#include "common/routes.h"
#include "common/snapshot.h"
#include "egress/conn.h"
#include "egress/egress.h"
#include "egress/emetrics.h"
#include "egress/local.h"
#include "egress/refuse.h"
#include "egress/xchg.h"

static json_t *
eg_local_allowlist(const struct eg_xchg *x)
{
	char		 ts[32];
	struct tm	 tm;
	json_t		*o, *j;

	gmtime_r(&x->cfg->loaded_at, &tm);
	(void)strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if ((j = cm_routes_json(x->cfg->routes)) == NULL)
		return (NULL);
	/* Routes exactly in routes.yaml form, so one can be copied back. */
	o = json_pack("{s:i,s:I,s:s,s:O}", "log", cm_routes_log(x->cfg->routes),
	    "generation", (json_int_t)x->snap->generation, "loaded_at", ts,
	    "routes", json_object_get(j, "routes"));
	json_decref(j);
	return (o);
}

void
eg_local_answer(struct eg_xchg *x)
{
	struct eg_conn		*c = x->c;
	struct eg_refusal	 r;
	struct cm_http_fields	*f;
	enum llhttp_method	 m = cm_http_msg_method(x->req);
	const char		*why;
	json_t			*o;
	char			*s;
	size_t			 len;
	int			 ka = cm_http_msg_keep_alive(x->req);

	if (strcmp(x->r.path, "/allowlist") != 0) {
		eg_refusal_set(&r, 404, "not_found",
		    "egress: _egress.local serves only /allowlist");
		eg_conn_refuse(c, &r);
		return;
	}
	if (m != HTTP_GET && m != HTTP_HEAD) {
		eg_refusal_set(&r, 405, "method_not_allowed",
		    "egress: /allowlist takes GET or HEAD");
		eg_conn_refuse(c, &r);
		return;
	}
	if (x->cfg == NULL || (o = eg_local_allowlist(x)) == NULL ||
	    (s = json_dumps(o, JSON_PRESERVE_ORDER | JSON_INDENT(2))) == NULL) {
		eg_conn_close(c, "out_of_memory");
		return;
	}
	json_decref(o);
	len = strlen(s);
	f = cm_http_fields_new();
	if (f == NULL ||
	    cm_http_fields_add(f, "Content-Type", "application/json") == -1 ||
	    cm_http_fields_add(f, "Cache-Control", "no-store") == -1 ||
	    (!ka && cm_http_fields_add(f, "Connection", "close") == -1) ||
	    cm_http_write_response(bufferevent_get_output(c->bev), 200, NULL,
	    f, CM_HTTP_FRAMING_LENGTH, len + 1, &why) == -1) {
		cm_http_fields_free(f);
		free(s);
		eg_conn_close(c, "out_of_memory");
		return;
	}
	cm_http_fields_free(f);
	if (m != HTTP_HEAD) {
		evbuffer_add(bufferevent_get_output(c->bev), s, len);
		evbuffer_add(bufferevent_get_output(c->bev), "\n", 1);
	}
	free(s);
	eg_metrics_local(c->ew);
	eg_conn_xchg_done(c, ka);
}
