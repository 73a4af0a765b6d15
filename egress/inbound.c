/*
 * Inbound detection (spec/egress.md §10.2, §12).  Three modes:
 *   BUFFER  text bodies: held (head too) up to inbound_buffer_bytes and
 *           scanned whole; a block becomes 403 injection_blocked.
 *   STREAM  past the cap or a stall: the head and what was scanned go
 *           out, then each piece is scanned before it is forwarded; a
 *           block aborts the response (no last chunk, early close).
 *   EVENTS  text/event-stream and ndjson: each event is scanned before
 *           it is forwarded; family counts carry across events.
 * A coded body is decoded for the scan.  Buffered, the original bytes
 * are forwarded; once streaming, the decoded ones (§10.2).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/bounds.h"
#include "common/decode.h"
#include "common/http.h"
#include "common/log.h"
#include "common/routes.h"
#include "common/scan.h"
#include "common/scan_inject.h"
#include "common/snapshot.h"
#include "common/sse.h"
#include "common/util.h"
#include "common/worker.h"
#include "egress/conn.h"
#include "egress/egress.h"
#include "egress/emetrics.h"
#include "egress/inbound.h"
#include "egress/logs.h"
#include "egress/refuse.h"
#include "egress/upstream.h"
#include "egress/xchg.h"

enum eg_inbound_mode { EG_INB_BUFFER, EG_INB_STREAM, EG_INB_EVENTS };

struct eg_inbound {
	enum eg_inbound_mode	 mode;
	enum cm_inject_format	 format;
	struct cm_decode	*dec;		/* owned, NULL for identity */
	struct evbuffer		*raw;		/* owned: BUFFER, bytes as sent */
	struct evbuffer		*plain;		/* owned: decoded, to scan */
	struct cm_inject	*inj;		/* owned: STREAM/EVENTS scanner */
	struct cm_sse		*sse;		/* owned: EVENTS splitter */
	struct event		*stall;		/* owned: BUFFER stall timer */
	int			 warned;
	int			 head_out;
	size_t			 cap;
};

static int	eg_inbound_to_stream(struct eg_xchg *);

/* §10.2: the types scanned; a missing Content-Type counts as text. */
static int
eg_inbound_type(const char *ct, enum cm_inject_format *fmt, int *events)
{
	char	 t[128];
	size_t	 n;

	*events = 0;
	*fmt = CM_INJECT_TEXT;
	if (ct == NULL)
		return (1);
	n = strcspn(ct, ";");
	if (n >= sizeof(t))
		return (0);
	memcpy(t, ct, n);
	t[n] = '\0';
	while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
		t[--n] = '\0';
	if (strcasecmp(t, "text/event-stream") == 0 ||
	    strcasecmp(t, "application/x-ndjson") == 0) {
		*events = t[0] == 't' || t[0] == 'T' ? 1 : 2;
		*fmt = CM_INJECT_JSON;
		return (1);
	}
	if (strcasecmp(t, "application/json") == 0 ||
	    (n > 5 && strcasecmp(t + n - 5, "+json") == 0)) {
		*fmt = CM_INJECT_JSON;
		return (1);
	}
	if (strcasecmp(t, "application/xml") == 0 ||
	    (n > 4 && strcasecmp(t + n - 4, "+xml") == 0) ||
	    strcasecmp(t, "text/html") == 0 || strcasecmp(t, "text/xml") == 0) {
		*fmt = CM_INJECT_HTML;
		return (1);
	}
	if (strncasecmp(t, "text/", 5) == 0 ||
	    strcasecmp(t, "application/javascript") == 0 ||
	    strcasecmp(t, "application/ecmascript") == 0)
		return (1);
	return (0);
}

void
eg_inbound_free(struct eg_xchg *x)
{
	struct eg_inbound	*in = x->inb;

	if (in == NULL)
		return;
	cm_decode_free(in->dec);
	if (in->raw != NULL)
		evbuffer_free(in->raw);
	if (in->plain != NULL)
		evbuffer_free(in->plain);
	cm_inject_free(in->inj);
	cm_sse_free(in->sse);
	if (in->stall != NULL)
		event_free(in->stall);
	free(in);
	x->inb = NULL;
}

static void
eg_inbound_stall_cb(evutil_socket_t fd, short what, void *arg)
{
	struct eg_xchg	*x = arg;
	struct eg_conn	*c = x->c;

	/* The origin went quiet while we buffered: stream what we have. */
	if (x->inb != NULL && x->inb->mode == EG_INB_BUFFER &&
	    eg_inbound_to_stream(x) == -1 && c->x == x)
		eg_conn_close(c, "out_of_memory");
}

int
eg_inbound_start(struct eg_xchg *x, struct cm_http_msg *resp,
    struct eg_refusal *r)
{
	struct cm_http_fields	*f = cm_http_msg_fields(resp);
	enum cm_decode_coding	 codings[CM_MAX_DECODE_CODINGS];
	struct eg_inbound	*in;
	const char		*ce, *why;
	enum cm_inject_format	 fmt;
	size_t			 ncod = 0;
	int			 events, st = cm_http_msg_status(resp);

	if (x->r.route == NULL || x->cfg->scan == NULL ||
	    !(cm_route_inbound(x->r.route) & CM_DET_INJECTION) ||
	    x->down_nobody || st == 204 || st == 304 ||
	    !eg_inbound_type(cm_http_fields_get(f, "Content-Type"), &fmt,
	    &events))
		return (0);
	ce = cm_http_fields_get(f, "Content-Encoding");
	if (ce != NULL && cm_decode_parse(ce, codings, &ncod, &why) == -1) {
		eg_refusal_set(r, 502, "unscannable_encoding",
		    "egress: %s answered in a coding the scanner cannot read",
		    x->r.host);
		cm_strlcpy(r->host, x->r.host, sizeof(r->host));
		return (-1);
	}
	if (st == 206 && ncod > 0) {
		/* A coded range cannot be decoded on its own. */
		eg_log_event_snap(x->c, x->snap, 1, CM_LOG_WARN, "warn",
		    json_pack("{s:s,s:s}", "host", x->r.host, "reason",
		    "unscannable_range"));
		return (0);
	}
	if ((in = calloc(1, sizeof(*in))) == NULL)
		goto oom;
	x->inb = in;
	in->format = fmt;
	in->cap = (size_t)x->snap->settings->v[CM_S_EG_INBOUND_BUFFER_BYTES];
	in->plain = evbuffer_new();
	if (in->plain == NULL ||
	    (ncod > 0 && (in->dec = cm_decode_new(codings, ncod, NULL)) == NULL))
		goto oom;
	if (events) {
		in->mode = EG_INB_EVENTS;
		in->sse = cm_sse_new(events == 1 ? CM_SSE_EVENTS : CM_SSE_NDJSON,
		    (size_t)x->snap->settings->v[CM_S_EG_SSE_EVENT_BYTES]);
		in->inj = cm_inject_new(x->cfg->scan, fmt, CM_INJECT_UTF8);
		if (in->sse == NULL || in->inj == NULL)
			goto oom;
		/* Streams start at once, decoded when they were coded. */
		in->head_out = 1;
		if (eg_xchg_head_out(x, ncod > 0) == -1)
			goto oom;
		return (1);
	}
	in->mode = EG_INB_BUFFER;
	in->raw = evbuffer_new();
	in->stall = evtimer_new(cm_worker_base(x->c->ew->w),
	    eg_inbound_stall_cb, x);
	if (in->raw == NULL || in->stall == NULL)
		goto oom;
	return (1);
oom:
	eg_refusal_set(r, 500, "internal_error", "egress: out of memory");
	return (-1);
}

size_t
eg_inbound_room(const struct eg_xchg *x)
{
	const struct eg_inbound	*in = x->inb;
	size_t			 have, cap;

	if (in->mode == EG_INB_BUFFER) {
		have = evbuffer_get_length(in->raw) +
		    evbuffer_get_length(x->rbody);
		return (have < in->cap ? in->cap - have : 0);
	}
	cap = (size_t)x->snap->settings->v[CM_S_EG_IO_BUFFER_BYTES];
	have = evbuffer_get_length(x->rbody) + evbuffer_get_length(in->plain);
	return (have < cap ? cap - have : 0);
}

/* Decodes (or moves) x->rbody into in->plain; keeps a raw copy if asked. */
static int
eg_inbound_decode(struct eg_xchg *x, int done, int keep_raw)
{
	struct eg_inbound	*in = x->inb;
	const char		*why;
	size_t			 n = evbuffer_get_length(x->rbody);

	/* Buffered: the bytes as sent are what a clean body forwards. */
	if (keep_raw && n > 0 &&
	    evbuffer_add(in->raw, evbuffer_pullup(x->rbody, -1), n) == -1)
		return (-1);
	if (in->dec == NULL) {
		evbuffer_add_buffer(in->plain, x->rbody);
		return (0);
	}
	if (cm_decode_read(in->dec, x->rbody, done, in->plain,
	    (size_t)-1 >> 1, &why) == -1) {
		eg_log_event_snap(x->c, x->snap, 1, CM_LOG_WARN, "warn",
		    json_pack("{s:s,s:s,s:s}", "host", x->r.host, "reason",
		    "unscannable_encoding", "error", why));
		return (-2);
	}
	evbuffer_drain(x->rbody, evbuffer_get_length(x->rbody));
	return (0);
}

static void
eg_inbound_warn(struct eg_xchg *x, const struct cm_inject_result *res)
{
	char	 fam[160];

	if (x->inb->warned)
		return;
	x->inb->warned = 1;
	eg_metrics_injection(x->c->ew, 0);
	(void)cm_inject_families_str(res->families, fam, sizeof(fam));
	eg_log_event_snap(x->c, x->snap, 1, CM_LOG_WARN, "warn",
	    json_pack("{s:s,s:s,s:s,s:s}", "host", x->r.host, "rule",
	    "naive_injection_detection", "severity", "warn", "families", fam));
}

static void
eg_inbound_blocked_log(struct eg_xchg *x, const struct cm_inject_result *res,
    const char *how)
{
	char	 fam[160];

	eg_metrics_injection(x->c->ew, 1);
	(void)cm_inject_families_str(res->block_families ? res->block_families :
	    res->families, fam, sizeof(fam));
	eg_log_event_snap(x->c, x->snap, 1, CM_LOG_INFO, "block",
	    json_pack("{s:s,s:s,s:s,s:s,s:s}", "host", x->r.host, "reason",
	    "injection_blocked", "rule", "naive_injection_detection",
	    "families", fam, "action", how));
}

/* BUFFER, whole body in hand: scan it and answer. */
static int
eg_inbound_whole(struct eg_xchg *x)
{
	struct eg_inbound	*in = x->inb;
	struct eg_conn		*c = x->c;
	struct cm_inject_result	 res;
	struct eg_refusal	 r;
	const char		*why;
	size_t			 n = evbuffer_get_length(in->plain);

	event_del(in->stall);
	if (cm_inject_scan(x->cfg->scan, eg_worker_of(c->ew->w)->scanner,
	    in->format, CM_INJECT_UTF8, n > 0 ? evbuffer_pullup(in->plain, -1) :
	    (const unsigned char *)"", n, &res, &why) == -1) {
		eg_conn_close(c, "out_of_memory");
		return (-1);
	}
	if (res.severity == CM_INJECT_BLOCK) {
		char	 fam[160];

		eg_inbound_blocked_log(x, &res, "replaced");
		(void)cm_inject_families_str(res.block_families, fam,
		    sizeof(fam));
		eg_refusal_set(&r, 403, "injection_blocked",
		    "egress: the response from %s looks like a prompt "
		    "injection (%s)", x->r.host, fam);
		r.rule = "naive_injection_detection";
		cm_strlcpy(r.host, x->r.host, sizeof(r.host));
		/* The body was read whole: the origin connection is fine. */
		if (x->up != NULL && x->up_reusable) {
			eg_up_release(x->up, x->up_idle_s);
			x->up = NULL;
		}
		eg_xchg_refuse(x, &r);
		return (-1);
	}
	if (res.severity == CM_INJECT_WARN)
		eg_inbound_warn(x, &res);
	/* The original bytes, still encoded if they were. */
	if (eg_xchg_head_out(x, 0) == -1 ||
	    eg_xchg_down(x, in->raw, evbuffer_get_length(in->raw)) == -1) {
		eg_conn_close(c, "out_of_memory");
		return (-1);
	}
	eg_xchg_down_end(x);
	return (1);
}

/* BUFFER -> STREAM: what was scanned goes out, the rest streams. */
static int
eg_inbound_to_stream(struct eg_xchg *x)
{
	struct eg_inbound	*in = x->inb;
	struct cm_inject_result	 res;
	const char		*why;
	size_t			 n = evbuffer_get_length(in->plain);

	event_del(in->stall);
	in->mode = EG_INB_STREAM;
	if ((in->inj = cm_inject_new(x->cfg->scan, in->format,
	    CM_INJECT_UTF8)) == NULL)
		return (-1);
	if (n > 0 && cm_inject_feed(in->inj, eg_worker_of(x->c->ew->w)->scanner,
	    evbuffer_pullup(in->plain, -1), n, &why) == -1)
		return (-1);
	cm_inject_get(in->inj, &res);
	if (res.severity == CM_INJECT_BLOCK) {
		struct eg_refusal r;

		/* Nothing left yet: it can still be a clean 403. */
		eg_inbound_blocked_log(x, &res, "replaced");
		eg_refusal_set(&r, 403, "injection_blocked",
		    "egress: the response from %s looks like a prompt "
		    "injection", x->r.host);
		r.close = 1;
		eg_xchg_refuse(x, &r);
		return (-2);
	}
	if (res.severity == CM_INJECT_WARN)
		eg_inbound_warn(x, &res);
	/* Coded: decoded from now on; the raw copy is dropped. */
	in->head_out = 1;
	if (eg_xchg_head_out(x, in->dec != NULL) == -1)
		return (-1);
	if (in->dec == NULL) {
		evbuffer_drain(in->plain, n);
		if (eg_xchg_down(x, in->raw, evbuffer_get_length(in->raw)) == -1)
			return (-1);
	} else if (eg_xchg_down(x, in->plain, n) == -1)
		return (-1);
	evbuffer_free(in->raw);
	in->raw = NULL;
	return (0);
}

/* STREAM: scan each new piece, forward it unless it blocks. */
static int
eg_inbound_stream(struct eg_xchg *x, int done)
{
	struct eg_inbound	*in = x->inb;
	struct cm_scanner	*sc = eg_worker_of(x->c->ew->w)->scanner;
	struct cm_inject_result	 res;
	const char		*why;
	size_t			 n = evbuffer_get_length(in->plain);

	if ((n > 0 && cm_inject_feed(in->inj, sc, evbuffer_pullup(in->plain,
	    -1), n, &why) == -1) || (done && cm_inject_finish(in->inj, sc,
	    &why) == -1)) {
		eg_conn_close(x->c, "out_of_memory");
		return (-1);
	}
	cm_inject_get(in->inj, &res);
	if (res.severity == CM_INJECT_BLOCK) {
		/* Too late for a 403: cut the response short (§10.2). */
		eg_inbound_blocked_log(x, &res, "aborted");
		eg_conn_close(x->c, "injection_blocked");
		return (-1);
	}
	if (res.severity == CM_INJECT_WARN)
		eg_inbound_warn(x, &res);
	if (eg_xchg_down(x, in->plain, n) == -1) {
		eg_conn_close(x->c, "out_of_memory");
		return (-1);
	}
	if (done) {
		eg_xchg_down_end(x);
		return (1);
	}
	return (0);
}

/* EVENTS: one SSE event or ndjson record at a time. */
static int
eg_inbound_events(struct eg_xchg *x, int done)
{
	struct eg_inbound	*in = x->inb;
	struct cm_scanner	*sc = eg_worker_of(x->c->ew->w)->scanner;
	struct cm_inject_result	 res;
	struct evbuffer		*ev = evbuffer_new(), *data = evbuffer_new();
	const char		*why;
	unsigned		 flags;
	int			 rc, more;

	if (ev == NULL || data == NULL)
		goto fail;
	for (;;) {
		rc = cm_sse_next(in->sse, in->plain, ev, &flags, &why);
		if (rc == 0 && done)
			rc = cm_sse_finish(in->sse, in->plain, ev, &flags, &why);
		if (rc == -1)
			goto fail;
		if (rc == 0)
			break;
		evbuffer_drain(data, evbuffer_get_length(data));
		/* SSE: what the client dispatches; ndjson: the record. */
		if (in->format == CM_INJECT_JSON && in->sse != NULL &&
		    (flags & CM_SSE_START) && (flags & CM_SSE_END) &&
		    cm_sse_data(evbuffer_pullup(ev, -1),
		    evbuffer_get_length(ev), data) == 0 &&
		    evbuffer_get_length(data) > 0)
			more = cm_inject_feed(in->inj, sc, evbuffer_pullup(data,
			    -1), evbuffer_get_length(data), &why);
		else
			more = cm_inject_feed(in->inj, sc, evbuffer_pullup(ev,
			    -1), evbuffer_get_length(ev), &why);
		/* A separator, so phrases do not join across events. */
		if (more == 0)
			more = cm_inject_feed(in->inj, sc, "\n", 1, &why);
		if (more == -1)
			goto fail;
		cm_inject_get(in->inj, &res);
		if (res.severity == CM_INJECT_BLOCK) {
			char	 fam[160], line[256];

			(void)cm_inject_families_str(res.block_families ?
			    res.block_families : res.families, fam, sizeof(fam));
			(void)snprintf(line, sizeof(line), ": bb-sidecar: egress: "
			    "stream blocked by naive_injection_detection (%s)\n\n",
			    fam);
			evbuffer_drain(ev, evbuffer_get_length(ev));
			evbuffer_add(ev, line, strlen(line));
			(void)eg_xchg_down(x, ev, evbuffer_get_length(ev));
			eg_inbound_blocked_log(x, &res, "aborted");
			evbuffer_free(ev);
			evbuffer_free(data);
			/* No last chunk: the agent sees the stream cut. */
			eg_conn_finish(x->c);
			return (-1);
		}
		if (res.severity == CM_INJECT_WARN)
			eg_inbound_warn(x, &res);
		if (eg_xchg_down(x, ev, evbuffer_get_length(ev)) == -1)
			goto fail;
	}
	evbuffer_free(ev);
	evbuffer_free(data);
	if (done) {
		eg_xchg_down_end(x);
		return (1);
	}
	return (0);
fail:
	if (ev != NULL)
		evbuffer_free(ev);
	if (data != NULL)
		evbuffer_free(data);
	eg_conn_close(x->c, "out_of_memory");
	return (-1);
}

int
eg_inbound_body(struct eg_xchg *x, int done)
{
	struct eg_inbound	*in = x->inb;
	struct timeval		 tv;
	int64_t			 ms;
	int			 rc;

	rc = eg_inbound_decode(x, done, in->mode == EG_INB_BUFFER);
	if (rc == -2) {
		struct eg_refusal r;

		if (in->head_out) {
			eg_conn_close(x->c, "unscannable_encoding");
			return (-1);
		}
		eg_refusal_set(&r, 502, "unscannable_encoding",
		    "egress: the response from %s cannot be decoded for the "
		    "scanner", x->r.host);
		r.close = 1;
		eg_xchg_refuse(x, &r);
		return (-1);
	}
	if (rc == -1) {
		eg_conn_close(x->c, "out_of_memory");
		return (-1);
	}
	switch (in->mode) {
	case EG_INB_BUFFER:
		if (done)
			return (eg_inbound_whole(x));
		if (evbuffer_get_length(in->raw) >= in->cap) {
			rc = eg_inbound_to_stream(x);
			if (rc == -2)
				return (-1);
			if (rc == -1) {
				eg_conn_close(x->c, "out_of_memory");
				return (-1);
			}
			return (0);
		}
		/* A stall while buffering switches to streaming (§10.2). */
		ms = x->snap->settings->v[CM_S_EG_INBOUND_STALL_MS];
		if (ms > 0) {
			tv.tv_sec = ms / 1000;
			tv.tv_usec = (ms % 1000) * 1000;
			event_add(in->stall, &tv);
		}
		return (0);
	case EG_INB_STREAM:
		return (eg_inbound_stream(x, done));
	default:
		return (eg_inbound_events(x, done));
	}
}
