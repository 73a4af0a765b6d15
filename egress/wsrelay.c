/*
 * WebSocket relay with scanning.  Each side has its own parser (ws.c);
 * parsing a side stops while the other side's output is full, and the
 * agent side stops entirely while one of its messages is held.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/log.h"
#include "common/routes.h"
#include "common/scan.h"
#include "common/scan_inject.h"
#include "common/snapshot.h"
#include "common/util.h"
#include "common/worker.h"
#include "egress/conn.h"
#include "egress/dlp.h"
#include "egress/egress.h"
#include "egress/logs.h"
#include "egress/refuse.h"
#include "egress/upstream.h"
#include "egress/ws.h"
#include "egress/wsrelay.h"
#include "egress/xchg.h"

struct eg_wsr {
	struct eg_xchg		*x;		/* borrowed: owner */
	struct eg_ws		*cp;		/* owned: agent -> origin */
	struct eg_ws		*sp;		/* owned: origin -> agent */
	struct evbuffer		*held;		/* owned: a held message */
	int			 held_opcode;
	int			 holding;
	int			 closed;	/* eg_wsr_close ran */
	struct cm_scan_stream	*cstream;	/* owned: long client message */
	uint64_t		 creleased;	/* its bytes sent */
	struct evbuffer		*cpend;		/* owned: its unsent bytes */
	int			 copcode;
	int			 csent;		/* a fragment of it went out */
	struct cm_inject	*sinj;		/* owned: long server text */
	int			 sopcode;
	int			 ssent;
};

static struct evbuffer *
eg_wsr_up(struct eg_xchg *x)
{
	return (bufferevent_get_output(eg_up_bev(x->up)));
}

static struct evbuffer *
eg_wsr_agent(struct eg_xchg *x)
{
	return (bufferevent_get_output(x->c->bev));
}

void
eg_wsr_close(struct eg_xchg *x, unsigned code, const char *reason)
{
	struct eg_wsr	*w = x->wsr;
	const char	*why;

	if (w == NULL || w->closed)
		return;
	w->closed = 1;
	(void)eg_ws_build_close(eg_wsr_agent(x), 0, code, reason, &why);
	if (x->up != NULL)
		(void)eg_ws_build_close(eg_wsr_up(x), 1,
		    code == EG_WS_CLOSE_POLICY ? EG_WS_CLOSE_GOING_AWAY : code,
		    NULL, &why);
	eg_log_event_snap(x->c, x->snap, 1, CM_LOG_INFO, "ws_close",
	    json_pack("{s:s,s:i,s:s}", "host", x->r.host, "code", (int)code,
	    "reason", reason != NULL ? reason : ""));
	eg_conn_finish(x->c);
}

/* A rule hit in a client message: close 1008 naming it. */
static void
eg_wsr_refused(struct eg_xchg *x, const struct eg_refusal *r)
{
	char	 reason[120];

	(void)snprintf(reason, sizeof(reason), "bb-sidecar: %s",
	    r->rule != NULL ? r->rule : r->reason);
	/* The rule string is "id (name)": the id is enough on the wire. */
	reason[strcspn(reason + 12, " ") + 12] = '\0';
	eg_wsr_close(x, EG_WS_CLOSE_POLICY, reason);
}

static int
eg_wsr_c_message(void *arg, int opcode, const void *buf, size_t len)
{
	struct eg_xchg		*x = arg;
	struct eg_wsr		*w = x->wsr;
	struct eg_refusal	 r;
	const char		*why;
	char			*rew;
	size_t			 rl = 0;
	int			 rc;

	rc = eg_dlp_ws(x, buf, len, &rew, &rl, &r);
	switch (rc) {
	case 1:
		/* Held: keep the message, read nothing more (§13). */
		if ((w->held = evbuffer_new()) == NULL ||
		    evbuffer_add(w->held, buf, len) == -1)
			return (-1);
		w->held_opcode = opcode;
		w->holding = 1;
		eg_conn_pause(x->c, 1);
		return (1);
	case -1:
		eg_wsr_refused(x, &r);
		return (-1);
	case 2:
		rc = eg_ws_build_message(eg_wsr_up(x), opcode, 1, rew, rl, 0,
		    &why);
		free(rew);
		break;
	default:
		rc = eg_ws_build_message(eg_wsr_up(x), opcode, 1, buf, len, 0,
		    &why);
		break;
	}
	x->bytes_up += len;
	return (rc == -1 ? -1 : 0);
}

/* A client message past ws_message_buffer_bytes: holdback across frames. */
static int
eg_wsr_c_stream(void *arg, int opcode, const void *buf, size_t len,
    int first, int fin)
{
	struct eg_xchg		*x = arg;
	struct eg_wsr		*w = x->wsr;
	struct cm_scan_opts	 o;
	struct cm_scan_hits	 hits;
	const char		*why;
	uint64_t		 safe = w->creleased;
	size_t			 n;
	int			 active = eg_dlp_outbound_active(x->r.route);

	if (first) {
		cm_scan_stream_free(w->cstream);
		w->cstream = NULL;
		w->creleased = 0;
		w->csent = 0;
		w->copcode = opcode;
		if (w->cpend == NULL && (w->cpend = evbuffer_new()) == NULL)
			return (-1);
		if (active) {
			o.surface = CM_SCAN_SURF_WS;
			o.detectors = cm_route_outbound(x->r.route) &
			    (CM_DET_TOKEN_PATTERNS | CM_DET_KNOWN_SECRETS);
			o.views = CM_SCAN_VIEW_FOLD;
			if ((w->cstream = cm_scan_stream_new(x->cfg->scan,
			    &o)) == NULL)
				return (-1);
		}
	}
	evbuffer_add(w->cpend, buf, len);
	cm_scan_hits_init(&hits);
	if (w->cstream != NULL) {
		if (cm_scan_stream_feed(w->cstream, eg_worker_of(x->c->ew->w)->
		    scanner, buf, len, &hits, &safe, &why) == -1 ||
		    (fin && cm_scan_stream_finish(w->cstream,
		    eg_worker_of(x->c->ew->w)->scanner, &hits, &safe,
		    &why) == -1)) {
			cm_scan_hits_free(&hits);
			return (-1);
		}
		if (hits.n > 0) {
			struct eg_refusal r;
			static __thread char rule[96];

			/*
			 * Too long to hold or rewrite safely: any hit in a
			 * streamed message closes it (fail closed).
			 */
			(void)snprintf(rule, sizeof(rule), "%s", hits.hit[0].rule);
			eg_refusal_set(&r, 403, "dlp_block", "ws");
			r.rule = rule;
			cm_scan_hits_free(&hits);
			eg_wsr_refused(x, &r);
			return (-1);
		}
	} else
		safe = w->creleased + evbuffer_get_length(w->cpend);
	cm_scan_hits_free(&hits);
	n = (size_t)(safe - w->creleased);
	if (n > 0 || fin) {
		unsigned char *p = evbuffer_pullup(w->cpend, (ev_ssize_t)n);

		if (eg_ws_build(eg_wsr_up(x), w->csent ? EG_WS_OP_CONT :
		    w->copcode, fin && n == evbuffer_get_length(w->cpend), 1,
		    p, n, &why) == -1)
			return (-1);
		evbuffer_drain(w->cpend, n);
		w->creleased = safe;
		w->csent = 1;
		x->bytes_up += n;
	}
	return (0);
}

static int
eg_wsr_c_control(void *arg, int opcode, const void *buf, size_t len)
{
	struct eg_xchg		*x = arg;
	struct eg_refusal	 r;
	const char		*why;
	char			*rew = NULL;
	size_t			 rl = 0;
	int			 rc = 0;

	if (len > 0 && opcode != EG_WS_OP_CLOSE)
		rc = eg_dlp_ws(x, buf, len, &rew, &rl, &r);
	if (rc == -1 || rc == 1) {
		/* A control frame cannot wait for an operator. */
		if (rc == 1)
			eg_refusal_set(&r, 403, "dlp_block", "ws");
		eg_wsr_refused(x, &r);
		free(rew);
		return (-1);
	}
	rc = eg_ws_build(eg_wsr_up(x), opcode, 1, 1, rew != NULL ? rew : buf,
	    rew != NULL ? rl : len, &why);
	free(rew);
	return (rc == -1 ? -1 : 0);
}

static int
eg_wsr_inbound_on(struct eg_xchg *x)
{
	return (x->cfg->scan != NULL &&
	    (cm_route_inbound(x->r.route) & CM_DET_INJECTION));
}

static void
eg_wsr_inj_result(struct eg_xchg *x, const struct cm_inject_result *res,
    int *block)
{
	char	 fam[160];

	*block = 0;
	if (res->severity == CM_INJECT_NONE)
		return;
	(void)cm_inject_families_str(res->families, fam, sizeof(fam));
	if (res->severity == CM_INJECT_BLOCK) {
		*block = 1;
		eg_log_event_snap(x->c, x->snap, 1, CM_LOG_INFO, "block",
		    json_pack("{s:s,s:s,s:s,s:s}", "host", x->r.host, "reason",
		    "injection_blocked", "surface", "ws", "families", fam));
		return;
	}
	eg_log_event_snap(x->c, x->snap, 1, CM_LOG_WARN, "warn",
	    json_pack("{s:s,s:s,s:s,s:s}", "host", x->r.host, "rule",
	    "naive_injection_detection", "surface", "ws", "families", fam));
}

static int
eg_wsr_s_message(void *arg, int opcode, const void *buf, size_t len)
{
	struct eg_xchg		*x = arg;
	struct cm_inject_result	 res;
	const char		*why;
	int			 block;

	if (opcode == EG_WS_OP_TEXT && eg_wsr_inbound_on(x)) {
		if (cm_inject_scan(x->cfg->scan, eg_worker_of(x->c->ew->w)->
		    scanner, CM_INJECT_TEXT, CM_INJECT_UTF8, buf, len, &res,
		    &why) == -1)
			return (-1);
		eg_wsr_inj_result(x, &res, &block);
		if (block) {
			eg_wsr_close(x, EG_WS_CLOSE_POLICY,
			    "bb-sidecar: naive_injection_detection");
			return (-1);
		}
	}
	x->bytes_down += len;
	return (eg_ws_build_message(eg_wsr_agent(x), opcode, 0, buf, len, 0,
	    &why) == -1 ? -1 : 0);
}

static int
eg_wsr_s_stream(void *arg, int opcode, const void *buf, size_t len,
    int first, int fin)
{
	struct eg_xchg		*x = arg;
	struct eg_wsr		*w = x->wsr;
	struct cm_inject_result	 res;
	const char		*why;
	int			 block;

	if (first) {
		cm_inject_free(w->sinj);
		w->sinj = NULL;
		w->sopcode = opcode;
		w->ssent = 0;
		if (opcode == EG_WS_OP_TEXT && eg_wsr_inbound_on(x) &&
		    (w->sinj = cm_inject_new(x->cfg->scan, CM_INJECT_TEXT,
		    CM_INJECT_UTF8)) == NULL)
			return (-1);
	}
	if (w->sinj != NULL) {
		if (cm_inject_feed(w->sinj, eg_worker_of(x->c->ew->w)->scanner,
		    buf, len, &why) == -1 || (fin && cm_inject_finish(w->sinj,
		    eg_worker_of(x->c->ew->w)->scanner, &why) == -1))
			return (-1);
		cm_inject_get(w->sinj, &res);
		eg_wsr_inj_result(x, &res, &block);
		if (block) {
			eg_wsr_close(x, EG_WS_CLOSE_POLICY,
			    "bb-sidecar: naive_injection_detection");
			return (-1);
		}
	}
	x->bytes_down += len;
	if (eg_ws_build(eg_wsr_agent(x), w->ssent ? EG_WS_OP_CONT : w->sopcode,
	    fin, 0, buf, len, &why) == -1)
		return (-1);
	w->ssent = 1;
	return (0);
}

static int
eg_wsr_s_control(void *arg, int opcode, const void *buf, size_t len)
{
	struct eg_xchg	*x = arg;
	const char	*why;

	/* Pings are relayed, never generated (§13). */
	return (eg_ws_build(eg_wsr_agent(x), opcode, 1, 0, buf, len, &why) ==
	    -1 ? -1 : 0);
}

int
eg_wsr_start(struct eg_xchg *x)
{
	const struct cm_settings *s = x->snap->settings;
	struct eg_ws_limits	 lim;
	struct eg_ws_cb		 ccb = { NULL, NULL, eg_wsr_c_message,
				    eg_wsr_c_stream, eg_wsr_c_control };
	struct eg_ws_cb		 scb = { NULL, NULL, eg_wsr_s_message,
				    eg_wsr_s_stream, eg_wsr_s_control };
	struct eg_wsr		*w;

	memset(&lim, 0, sizeof(lim));
	lim.message_bytes = (size_t)s->v[CM_S_EG_WS_MESSAGE_BUFFER_BYTES];
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return (-1);
	w->x = x;
	w->cp = eg_ws_new(EG_WS_FROM_CLIENT, &lim, &ccb, x);
	w->sp = eg_ws_new(EG_WS_FROM_SERVER, &lim, &scb, x);
	x->wsr = w;
	if (w->cp == NULL || w->sp == NULL)
		return (-1);
	return (0);
}

void
eg_wsr_free(struct eg_xchg *x)
{
	struct eg_wsr	*w = x->wsr;

	if (w == NULL)
		return;
	eg_ws_free(w->cp);
	eg_ws_free(w->sp);
	if (w->held != NULL)
		evbuffer_free(w->held);
	if (w->cpend != NULL)
		evbuffer_free(w->cpend);
	cm_scan_stream_free(w->cstream);
	cm_inject_free(w->sinj);
	free(w);
	x->wsr = NULL;
}

void
eg_wsr_released(void *arg, int approved, const struct eg_refusal *r)
{
	struct eg_xchg	*x = arg;
	struct eg_wsr	*w = x->wsr;
	const char	*why;

	if (w == NULL || x->c->dead)
		return;
	w->holding = 0;
	if (!approved) {
		eg_wsr_close(x, EG_WS_CLOSE_POLICY, "bb-sidecar: dlp_rejected");
		return;
	}
	(void)eg_ws_build_message(eg_wsr_up(x), w->held_opcode, 1,
	    evbuffer_pullup(w->held, -1), evbuffer_get_length(w->held), 0,
	    &why);
	evbuffer_free(w->held);
	w->held = NULL;
	eg_conn_pause(x->c, 0);
	eg_wsr_relay(x, 1);
}

void
eg_wsr_relay(struct eg_xchg *x, int from_agent)
{
	struct eg_wsr		*w = x->wsr;
	struct eg_conn		*c = x->c;
	struct bufferevent	*src = from_agent ? c->bev : eg_up_bev(x->up);
	struct bufferevent	*dst = from_agent ? eg_up_bev(x->up) : c->bev;
	size_t			 cap = (size_t)x->snap->settings->
				    v[CM_S_EG_IO_BUFFER_BYTES];
	const char		*why;
	int			 rc;

	if (c->dead || w == NULL || w->closed)
		return;
	if (from_agent && w->holding) {
		bufferevent_disable(src, EV_READ);
		return;
	}
	if (evbuffer_get_length(bufferevent_get_output(dst)) < cap) {
		rc = eg_ws_read(from_agent ? w->cp : w->sp,
		    bufferevent_get_input(src), &why);
		if (c->dead || c->x != x || w->closed)
			return;
		if (rc == -1) {
			unsigned code = eg_ws_close_code(from_agent ? w->cp :
			    w->sp);

			eg_log_event_snap(c, x->snap, 1, CM_LOG_WARN, "ws_error",
			    json_pack("{s:s,s:s,s:b}", "host", x->r.host,
			    "error", why, "from_agent", from_agent));
			eg_wsr_close(x, code != 0 ? code : EG_WS_CLOSE_PROTOCOL,
			    NULL);
			return;
		}
		if (w->holding)
			return;
	}
	if (evbuffer_get_length(bufferevent_get_output(dst)) >= cap)
		bufferevent_disable(src, EV_READ);
	else
		bufferevent_enable(src, EV_READ);
}
