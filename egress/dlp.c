/*
 * Outbound DLP (spec/egress.md §8, §9): scanning the head and the body
 * with the snapshot's scan set, then one decision per scan step: the
 * structural refusals first (CRLF, folded-view hits), then the route's
 * policy (block, redact, supervise) for the hits not on the safelist.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <openssl/sha.h>

#include "common/decode.h"
#include "common/http.h"
#include "common/log.h"
#include "common/routes.h"
#include "common/scan.h"
#include "common/secrets.h"
#include "common/snapshot.h"
#include "common/util.h"
#include "common/worker.h"
#include "egress/conn.h"
#include "egress/dlp.h"
#include "egress/egress.h"
#include "egress/emetrics.h"
#include "egress/hold.h"
#include "egress/logs.h"
#include "egress/policy.h"
#include "egress/refuse.h"
#include "egress/safelist.h"
#include "egress/wsrelay.h"
#include "egress/xchg.h"

/* Per exchange: the streaming body scan and the hold, if any. */
struct eg_dlp_x {
	struct cm_scan_stream	*stream;	/* owned: a streaming body */
	uint64_t		 fed;		/* stream bytes fed so far */
	uint64_t		 released;	/* stream bytes handed back */
	struct cm_scan_hits	 pending;	/* final hits not yet released */
	struct eg_hold		*hold;		/* owned while held */
	uint64_t		 safe;		/* the stream's safe offset */
	int			 held;		/* a hold is deciding this step */
	int			 approved;	/* the hold released the step */
	int			 coding_checked;
	unsigned		 entropy_warned;	/* one warn per surface */
};


void
eg_dlp_hits_free(struct eg_dlp_hits *hs)
{
	free(hs->v);
	memset(hs, 0, sizeof(*hs));
}

static struct eg_dlp_hit *
eg_dlp_hits_push(struct eg_dlp_hits *hs)
{
	struct eg_dlp_hit	*v;

	if (hs->n == hs->cap) {
		size_t cap = hs->cap ? hs->cap * 2 : 8;

		if (cap > CM_MAX_SCAN_HITS ||
		    (v = reallocarray(hs->v, cap, sizeof(*v))) == NULL)
			return (NULL);
		hs->v = v;
		hs->cap = cap;
	}
	memset(&hs->v[hs->n], 0, sizeof(hs->v[0]));
	return (&hs->v[hs->n++]);
}

int
eg_dlp_compile(struct eg_cfg *cfg, const struct cm_snap *snap, char *err,
    size_t errlen)
{
	const struct cm_settings *s = snap->settings;
	struct cm_scan_config	 sc;
	struct cm_secret	*v;
	const char		*why = NULL;
	size_t			 i, n = cm_secrets_count(snap->secrets);

	memset(&sc, 0, sizeof(sc));
	sc.partial_min_len = (size_t)s->v[CM_S_EG_DLP_PARTIAL_MIN_LEN];
	sc.entropy_window = (size_t)s->v[CM_S_EG_DLP_ENTROPY_WINDOW];
	sc.entropy_mbits = (unsigned)s->v[CM_S_EG_DLP_ENTROPY_THRESHOLD];
	sc.inbound = 1;
	if ((v = calloc(n + 1, sizeof(*v))) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return (-1);
	}
	/* Injected credentials are matched like every other known secret. */
	for (i = 0; i < n; i++)
		v[i] = *cm_secrets_get(snap->secrets, i);
	cfg->scan = cm_scanset_new(&sc, v, n, &why);
	free(v);
	if (cfg->scan == NULL) {
		(void)snprintf(err, errlen, "scan rules: %s",
		    why != NULL ? why : "out of memory");
		return (-1);
	}
	return (0);
}

int
eg_dlp_outbound_active(const struct cm_route *rt)
{
	return (rt != NULL && (cm_route_outbound(rt) &
	    (CM_DET_TOKEN_PATTERNS | CM_DET_KNOWN_SECRETS)) != 0);
}

static int
eg_dlp_has_crlf(const char *s)
{
	for (; (s = strchr(s, '%')) != NULL; s++)
		if (strncasecmp(s, "%0d%0a", 6) == 0)
			return (1);
	return (0);
}

int
eg_dlp_crlf(struct cm_http_msg *m, struct eg_refusal *r)
{
	struct cm_http_fields	*f = cm_http_msg_fields(m);
	size_t			 i;
	int			 hit = eg_dlp_has_crlf(cm_http_msg_target(m));

	for (i = 0; !hit && i < cm_http_fields_len(f); i++)
		hit = eg_dlp_has_crlf(cm_http_fields_value(f, i));
	if (!hit)
		return (0);
	eg_refusal_set(r, 403, "crlf_injection",
	    "egress DLP: URL-encoded CRLF (%%0d%%0a)");
	return (-1);
}

/* The safelist key of a hit: the secret's identity or the value's hash. */
static void
eg_dlp_key(struct eg_dlp_hit *dh, const unsigned char *buf, size_t len)
{
	unsigned char	 md[SHA256_DIGEST_LENGTH];
	size_t		 i;

	if (dh->h.secret != NULL) {
		(void)snprintf(dh->key, sizeof(dh->key), "s:%s", dh->h.secret);
		return;
	}
	if (dh->h.off + dh->h.len > len) {
		dh->key[0] = '\0';
		return;
	}
	SHA256(buf + dh->h.off, dh->h.len, md);
	dh->key[0] = 'v';
	dh->key[1] = ':';
	for (i = 0; i < sizeof(md); i++)
		(void)snprintf(dh->key + 2 + i * 2, 3, "%02x", md[i]);
}

/*
 * Scans one surface buffer and appends its hits (context and key set);
 * base is the buffer's offset in its stream (0 for head surfaces).
 */
static int
eg_dlp_scan_surface(struct eg_xchg *x, enum cm_scan_surface surface,
    unsigned views, const char *buf, size_t len, enum eg_dlp_where where,
    size_t field, size_t value_off, const char *location,
    struct eg_dlp_hits *out)
{
	struct cm_scanner	*sc = eg_worker_of(x->c->ew->w)->scanner;
	struct cm_scan_opts	 o;
	struct cm_scan_hits	 hits;
	struct eg_dlp_hit	*dh;
	const char		*why;
	size_t			 i;

	o.surface = surface;
	o.detectors = cm_route_outbound(x->r.route) &
	    (CM_DET_TOKEN_PATTERNS | CM_DET_KNOWN_SECRETS | CM_DET_ENTROPY);
	o.views = views | CM_SCAN_VIEW_FOLD;
	cm_scan_hits_init(&hits);
	if (cm_scan_buf(sc, x->cfg->scan, &o, buf, len, &hits, &why) == -1) {
		cm_scan_hits_free(&hits);
		return (-1);
	}
	for (i = 0; i < hits.n; i++) {
		if ((dh = eg_dlp_hits_push(out)) == NULL)
			break;
		dh->h = hits.hit[i];
		dh->where = where;
		dh->field = field;
		dh->value_off = value_off;
		cm_strlcpy(dh->location, location, sizeof(dh->location));
		(void)cm_scan_excerpt(x->cfg->scan, buf, len, 0, &hits, i, 40,
		    CM_SCAN_REDACT_TAG, dh->context, sizeof(dh->context));
		eg_dlp_key(dh, (const unsigned char *)buf, len);
	}
	cm_scan_hits_free(&hits);
	return (0);
}

/* Entropy warns (never blocks) and safelisted values drop out. */
static void
eg_dlp_filter(struct eg_xchg *x, struct eg_dlp_hits *hs)
{
	struct eg_dlp_x	*d = x->dlp;
	size_t		 i, o;

	for (i = o = 0; i < hs->n; i++) {
		struct eg_dlp_hit *dh = &hs->v[i];

		if (dh->h.detector == CM_SCAN_ENTROPY) {
			unsigned bit = 1u << dh->where;

			eg_metrics_dlp_hit(x->c->ew, -1, CM_SCAN_ENTROPY,
			    EG_DA_WARN);
			if (d != NULL && !(d->entropy_warned & bit)) {
				d->entropy_warned |= bit;
				eg_log_event_snap(x->c, x->snap, 1, CM_LOG_WARN,
				    "warn", json_pack("{s:s,s:s,s:s,s:f}",
				    "host", x->r.host, "rule", "entropy",
				    "surface", dh->location, "bits_per_byte",
				    dh->h.entropy_mbits / 1000.0));
			}
			continue;
		}
		if (dh->key[0] != '\0' && eg_safelist_has(x->r.host, dh->key))
			continue;
		hs->v[o++] = *dh;
	}
	hs->n = o;
}

static void
eg_dlp_block(struct eg_xchg *x, const struct eg_dlp_hit *dh,
    const char *reason, struct eg_refusal *r)
{
	static __thread char rule[160];	/* the refusal points here */

	eg_refusal_set(r, 403, reason, "egress DLP: %s in %s", dh->h.name,
	    dh->location);
	(void)snprintf(rule, sizeof(rule), "%s (%s)", dh->h.rule, dh->h.name);
	r->rule = rule;
	cm_strlcpy(r->host, x->r.host, sizeof(r->host));
	r->hint = strcmp(reason, "dlp_block") == 0 ?
	    "remove the secret from the request; this route's policy is "
	    "block" : "the value cannot be rewritten here; remove it";
	eg_metrics_dlp_hit(x->c->ew, dh->h.rule_idx, dh->h.detector,
	    EG_DA_BLOCK);
	eg_log_event_snap(x->c, x->snap, 1, CM_LOG_INFO, "block",
	    json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "host", x->r.host,
	    "reason", reason, "rule", dh->h.rule, "detector",
	    cm_scan_detector_name(dh->h.detector), "surface", dh->location,
	    "form", cm_scan_form_name(dh->h.form)));
}

/* Rewrites s (len bytes) with every hit of where/field as "********". */
static char *
eg_dlp_rewrite_n(const char *s, size_t len, const struct eg_dlp_hits *hs,
    enum eg_dlp_where where, size_t field, size_t skip, size_t *reslen)
{
	struct cm_scan_hits	 h;
	unsigned char		*out = NULL;
	const char		*why;
	size_t			 i, outlen;
	char			*res;

	cm_scan_hits_init(&h);
	for (i = 0; i < hs->n; i++) {
		if (hs->v[i].where != where || (where == EG_AT_FIELD &&
		    hs->v[i].field != field))
			continue;
		if (h.n == h.cap) {
			struct cm_scan_hit *v = reallocarray(h.hit,
			    h.cap ? h.cap * 2 : 4, sizeof(*v));

			if (v == NULL)
				goto fail;
			h.hit = v;
			h.cap = h.cap ? h.cap * 2 : 4;
		}
		h.hit[h.n++] = hs->v[i].h;
	}
	if (cm_scan_redact(s, len, 0, &h, CM_SCAN_REDACT_STARS, &out, &outlen,
	    &why) == -1 || outlen < skip)
		goto fail;
	cm_scan_hits_free(&h);
	if ((res = malloc(outlen - skip + 1)) == NULL) {
		free(out);
		return (NULL);
	}
	memcpy(res, out + skip, outlen - skip);
	res[outlen - skip] = '\0';
	if (reslen != NULL)
		*reslen = outlen - skip;
	free(out);
	return (res);
fail:
	cm_scan_hits_free(&h);
	free(out);
	return (NULL);
}

static char *
eg_dlp_rewrite(const char *s, size_t len, const struct eg_dlp_hits *hs,
    enum eg_dlp_where where, size_t field, size_t skip)
{
	return (eg_dlp_rewrite_n(s, len, hs, where, field, skip, NULL));
}

/* A raw hit inside a rewritable part of a head surface. */
static int
eg_dlp_rewritable(const struct eg_dlp_hit *dh)
{
	if (dh->where == EG_AT_HOST || dh->h.view != CM_SCAN_IN_RAW)
		return (0);
	/* A hit in a field's name cannot be rewritten away. */
	if (dh->where == EG_AT_FIELD && dh->h.off < dh->value_off)
		return (0);
	return (1);
}

/* Collects the head's hits, in the order of §8.1. */
static int
eg_dlp_scan_head(struct eg_xchg *x, struct eg_dlp_hits *hs)
{
	struct cm_http_fields	*f = cm_http_msg_fields(x->req);
	char			*line, loc[80];
	size_t			 i, nl, vl;

	if (x->r.absolute && eg_dlp_scan_surface(x, CM_SCAN_SURF_HOST, 0,
	    x->r.host, strlen(x->r.host), EG_AT_HOST, 0, 0, "host", hs) == -1)
		return (-1);
	if (eg_dlp_scan_surface(x, CM_SCAN_SURF_PATH, 0, x->r.path,
	    strlen(x->r.path), EG_AT_PATH, 0, 0, "path", hs) == -1)
		return (-1);
	if (x->r.query != NULL && eg_dlp_scan_surface(x, CM_SCAN_SURF_QUERY,
	    CM_SCAN_VIEW_PERCENT, x->r.query, strlen(x->r.query), EG_AT_QUERY,
	    0, 0, "query", hs) == -1)
		return (-1);
	for (i = 0; i < cm_http_fields_len(f); i++) {
		const char *n = cm_http_fields_name(f, i);
		const char *v = cm_http_fields_value(f, i);

		nl = strlen(n);
		vl = strlen(v);
		if ((line = malloc(nl + vl + 3)) == NULL)
			return (-1);
		memcpy(line, n, nl);
		memcpy(line + nl, ": ", 2);
		memcpy(line + nl + 2, v, vl + 1);
		(void)snprintf(loc, sizeof(loc), "header:%.60s", n);
		for (char *p = loc; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
		if (eg_dlp_scan_surface(x, CM_SCAN_SURF_HEADER,
		    CM_SCAN_VIEW_PERCENT, line, nl + vl + 2, EG_AT_FIELD, i,
		    nl + 2, loc, hs) == -1) {
			free(line);
			return (-1);
		}
		free(line);
	}
	return (0);
}

/* Applies redact to the head; 0, or -1 when something cannot be. */
static int
eg_dlp_redact_head(struct eg_xchg *x, const struct eg_dlp_hits *hs)
{
	struct cm_http_fields	*f = cm_http_msg_fields(x->req);
	char			*s;
	size_t			 i, done = 0;

	for (i = 0; i < hs->n; i++)
		if (!eg_dlp_rewritable(&hs->v[i]))
			return (-1);
	for (i = 0; i < hs->n; i++) {
		const struct eg_dlp_hit *dh = &hs->v[i];

		if (dh->where == EG_AT_PATH && !(done & 1)) {
			if ((s = eg_dlp_rewrite(x->r.path, strlen(x->r.path),
			    hs, EG_AT_PATH, 0, 0)) == NULL)
				return (-1);
			free(x->r.path);
			x->r.path = s;
			done |= 1;
		} else if (dh->where == EG_AT_QUERY && !(done & 2)) {
			if ((s = eg_dlp_rewrite(x->r.query, strlen(x->r.query),
			    hs, EG_AT_QUERY, 0, 0)) == NULL)
				return (-1);
			free(x->r.query_own);
			x->r.query_own = s;
			x->r.query = s;
			done |= 2;
		} else if (dh->where == EG_AT_FIELD) {
			const char *n = cm_http_fields_name(f, dh->field);
			const char *v = cm_http_fields_value(f, dh->field);
			size_t nl = strlen(n), vl = strlen(v);
			char *line = malloc(nl + vl + 3);

			if (line == NULL)
				return (-1);
			(void)snprintf(line, nl + vl + 3, "%s: %s", n, v);
			s = eg_dlp_rewrite(line, nl + vl + 2, hs, EG_AT_FIELD,
			    dh->field, nl + 2);
			free(line);
			if (s == NULL || cm_http_fields_set_at(f, dh->field,
			    s) == -1) {
				free(s);
				return (-1);
			}
			free(s);
		}
	}
	return (0);
}

static struct eg_dlp_x *
eg_dlp_state(struct eg_xchg *x)
{
	if (x->dlp == NULL && (x->dlp = calloc(1, sizeof(*x->dlp))) != NULL)
		cm_scan_hits_init(&x->dlp->pending);
	return (x->dlp);
}

void
eg_dlp_xchg_free(struct eg_xchg *x)
{
	if (x == NULL || x->dlp == NULL)
		return;
	eg_hold_cancel(x->dlp->hold);
	cm_scan_stream_free(x->dlp->stream);
	cm_scan_hits_free(&x->dlp->pending);
	free(x->dlp);
	x->dlp = NULL;
}

/* A folded-view hit is Unicode evasion: always a block (§8.5). */
static const struct eg_dlp_hit *
eg_dlp_folded(const struct eg_dlp_hits *hs)
{
	size_t	 i;

	for (i = 0; i < hs->n; i++)
		if (hs->v[i].h.view == CM_SCAN_IN_FOLD)
			return (&hs->v[i]);
	return (NULL);
}

/* The target for a proposal: path and query with every hit tagged. */
static char *
eg_dlp_proposal_path(struct eg_xchg *x, const struct eg_dlp_hits *hs)
{
	struct cm_scan_hits	 ph, qh;
	unsigned char		*p = NULL, *q = NULL;
	const char		*why;
	size_t			 pl = 0, ql = 0, i;
	char			*out;

	cm_scan_hits_init(&ph);
	cm_scan_hits_init(&qh);
	for (i = 0; i < hs->n; i++) {
		struct cm_scan_hits *t = hs->v[i].where == EG_AT_PATH ? &ph :
		    hs->v[i].where == EG_AT_QUERY ? &qh : NULL;
		struct cm_scan_hit *v;

		if (t == NULL || hs->v[i].h.view != CM_SCAN_IN_RAW)
			continue;
		if ((v = reallocarray(t->hit, t->n + 1, sizeof(*v))) == NULL)
			continue;
		t->hit = v;
		t->cap = t->n + 1;
		t->hit[t->n++] = hs->v[i].h;
	}
	if (cm_scan_redact(x->r.path, strlen(x->r.path), 0, &ph,
	    CM_SCAN_REDACT_TAG, &p, &pl, &why) == -1)
		pl = 0;
	if (x->r.query != NULL && cm_scan_redact(x->r.query,
	    strlen(x->r.query), 0, &qh, CM_SCAN_REDACT_TAG, &q, &ql, &why) == -1)
		ql = 0;
	cm_scan_hits_free(&ph);
	cm_scan_hits_free(&qh);
	if ((out = malloc(pl + ql + 1)) != NULL) {
		if (pl > 0)
			memcpy(out, p, pl);
		if (ql > 0)
			memcpy(out + pl, q, ql);
		out[pl + ql] = '\0';
		/* Known secrets in decoded views: mask what is still raw. */
		(void)cm_scan_mask_secrets(x->cfg->scan, out, pl + ql,
		    CM_SECRET_MIN_BYTES);
	}
	free(p);
	free(q);
	return (out);
}

static void
eg_dlp_head_decided(void *owner, int approved, const struct eg_refusal *r)
{
	struct eg_xchg	*x = owner;

	if (!approved) {
		eg_conn_refuse(x->c, r);
		return;
	}
	eg_xchg_head_released(x);
}

static void
eg_dlp_body_decided(void *owner, int approved, const struct eg_refusal *r)
{
	struct eg_xchg	*x = owner;

	if (!approved) {
		struct eg_refusal copy = *r;

		copy.close = 1;
		eg_xchg_refuse(x, &copy);
		return;
	}
	x->dlp->held = 0;
	x->dlp->approved = 1;
	eg_xchg_body_released(x);
}

/*
 * One decision for the hits of a scan step (§9.1).  0 forward, -1
 * refused (*r), 1 held; body: the step is a buffered body in buf.
 */
static void
eg_dlp_ws_decided(void *owner, int approved, const struct eg_refusal *r)
{
	eg_wsr_released(owner, approved, r);
}

/* Scan steps: what a hold resumes, and what may be rewritten. */
enum eg_dlp_step { EG_STEP_HEAD, EG_STEP_BODY, EG_STEP_WS };

static int
eg_dlp_decide(struct eg_xchg *x, struct eg_dlp_hits *hs,
    enum eg_dlp_step step, struct eg_refusal *r)
{
	int		 body = step != EG_STEP_HEAD;
	eg_hold_cb	 cb = step == EG_STEP_HEAD ? eg_dlp_head_decided :
			    step == EG_STEP_BODY ? eg_dlp_body_decided :
			    eg_dlp_ws_decided;

	const struct eg_dlp_hit	*fold;
	struct eg_dlp_x		*d;
	char			*path;
	size_t			 i;

	eg_dlp_filter(x, hs);
	if (hs->n == 0)
		return (0);
	if ((fold = eg_dlp_folded(hs)) != NULL) {
		eg_dlp_block(x, fold, "dlp_block", r);
		return (-1);
	}
	switch (cm_route_on_match(x->r.route)) {
	case CM_DLP_BLOCK:
		eg_dlp_block(x, &hs->v[0], "dlp_block", r);
		return (-1);
	case CM_DLP_REDACT:
		for (i = 0; i < hs->n; i++)
			if (!eg_dlp_rewritable(&hs->v[i]) ||
			    (body && hs->v[i].where != EG_AT_BODY &&
			    hs->v[i].where != EG_AT_WS)) {
				eg_dlp_block(x, &hs->v[i], "dlp_unredactable",
				    r);
				return (-1);
			}
		for (i = 0; i < hs->n; i++)
			eg_metrics_dlp_hit(x->c->ew, hs->v[i].h.rule_idx,
			    hs->v[i].h.detector, EG_DA_REDACT);
		return (2);	/* the caller rewrites */
	default:
		if ((d = eg_dlp_state(x)) == NULL)
			return (-1);
		for (i = 0; i < hs->n; i++)
			eg_metrics_dlp_hit(x->c->ew, hs->v[i].h.rule_idx,
			    hs->v[i].h.detector, EG_DA_HOLD);
		path = eg_dlp_proposal_path(x, hs);
		d->hold = eg_hold_start(x->c, x->snap, x->r.host, x->r.port,
		    cm_http_msg_method_name(x->req), path != NULL ? path : "",
		    hs, cb, x, r);
		free(path);
		return (d->hold != NULL ? 1 : -1);
	}
}

int
eg_dlp_head(struct eg_xchg *x, struct eg_refusal *r)
{
	struct eg_dlp_hits	 hs;
	int			 rc, pass;

	if (x->cfg->scan == NULL || (cm_route_outbound(x->r.route) &
	    (CM_DET_TOKEN_PATTERNS | CM_DET_KNOWN_SECRETS | CM_DET_ENTROPY))
	    == 0)
		return (0);
	if (eg_dlp_state(x) == NULL)
		return (-1);
	/* redact rewrites, then the rewritten request is checked again. */
	for (pass = 0; pass < 2; pass++) {
		memset(&hs, 0, sizeof(hs));
		if (eg_dlp_scan_head(x, &hs) == -1) {
			eg_dlp_hits_free(&hs);
			eg_refusal_set(r, 500, "internal_error",
			    "egress: out of memory scanning the request");
			return (-1);
		}
		rc = eg_dlp_decide(x, &hs, EG_STEP_HEAD, r);
		if (rc == 2 && pass == 1) {
			eg_dlp_block(x, &hs.v[0], "dlp_unredactable", r);
			rc = -1;
		} else if (rc == 2) {
			eg_log_event_snap(x->c, x->snap, 1, CM_LOG_INFO,
			    "redact", json_pack("{s:s,s:s,s:s,s:I}", "host",
			    x->r.host, "rule", hs.v[0].h.rule, "surface",
			    hs.v[0].location, "values", (json_int_t)hs.n));
			if (eg_dlp_redact_head(x, &hs) == -1) {
				eg_dlp_block(x, &hs.v[0], "dlp_unredactable", r);
				rc = -1;
			} else if (eg_policy_recheck(x, r) == -1)
				rc = -1;
		}
		eg_dlp_hits_free(&hs);
		if (rc != 2)
			return (rc);
	}
	return (0);
}

/* Extra views for a body by its Content-Type (§8.5). */
static unsigned
eg_dlp_body_views(struct eg_xchg *x)
{
	const char	*ct = cm_http_fields_get(cm_http_msg_fields(x->req),
			    "Content-Type");

	if (ct == NULL)
		return (0);
	if (strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0)
		return (CM_SCAN_VIEW_PERCENT);
	if (strcasestr(ct, "json") != NULL)
		return (CM_SCAN_VIEW_JSON);
	return (0);
}

/* A buffered body scanned whole (§10.1); may rewrite it. */
static long
eg_dlp_body_whole(struct eg_xchg *x, struct evbuffer *body,
    struct eg_refusal *r)
{
	struct eg_dlp_hits	 hs;
	struct evbuffer		*plain = NULL, *copy;
	size_t			 len = evbuffer_get_length(body), rlen = 0;
	const char		*buf, *why;
	char			*s;
	int			 rc;

	buf = len > 0 ? (const char *)evbuffer_pullup(body, -1) : "";
	if (x->req_dec != NULL) {
		/* Scan the decoded bytes; a clean body leaves as it came. */
		if ((plain = evbuffer_new()) == NULL ||
		    (copy = evbuffer_new()) == NULL) {
			if (plain != NULL)
				evbuffer_free(plain);
			eg_refusal_set(r, 500, "internal_error",
			    "egress: out of memory");
			return (-1);
		}
		evbuffer_add(copy, buf, len);
		rc = cm_decode_all(x->req_dec, copy, plain, &why);
		evbuffer_free(copy);
		if (rc == -1) {
			evbuffer_free(plain);
			eg_refusal_set(r, 403, "unscannable_encoding",
			    "egress DLP: the request body cannot be decoded "
			    "(%s)", why);
			cm_strlcpy(r->host, x->r.host, sizeof(r->host));
			return (-1);
		}
		len = evbuffer_get_length(plain);
		buf = len > 0 ? (const char *)evbuffer_pullup(plain, -1) : "";
	}
	memset(&hs, 0, sizeof(hs));
	if (eg_dlp_scan_surface(x, CM_SCAN_SURF_BODY, eg_dlp_body_views(x),
	    buf, len, EG_AT_BODY, 0, 0, "body", &hs) == -1) {
		eg_dlp_hits_free(&hs);
		if (plain != NULL)
			evbuffer_free(plain);
		eg_refusal_set(r, 500, "internal_error",
		    "egress: out of memory scanning the body");
		return (-1);
	}
	rc = eg_dlp_decide(x, &hs, EG_STEP_BODY, r);
	if (rc == 2) {
		/* Values become "********" and the length is recomputed. */
		s = eg_dlp_rewrite_n(buf, len, &hs, EG_AT_BODY, 0, 0, &rlen);
		eg_log_event_snap(x->c, x->snap, 1, CM_LOG_INFO, "redact",
		    json_pack("{s:s,s:s,s:s,s:I}", "host", x->r.host, "rule",
		    hs.v[0].h.rule, "surface", "body", "values",
		    (json_int_t)hs.n));
		eg_dlp_hits_free(&hs);
		if (plain != NULL)
			evbuffer_free(plain);
		if (s == NULL) {
			eg_refusal_set(r, 500, "internal_error",
			    "egress: out of memory redacting the body");
			return (-1);
		}
		/* Rewritten: identity-encoded, length recomputed (§9.2). */
		evbuffer_drain(body, evbuffer_get_length(body));
		evbuffer_add(body, s, rlen);
		free(s);
		(void)cm_http_fields_remove(cm_http_msg_fields(x->req),
		    "Content-Encoding");
		x->up_framing = CM_HTTP_FRAMING_LENGTH;
		x->up_length = evbuffer_get_length(body);
		return ((long)evbuffer_get_length(body));
	}
	eg_dlp_hits_free(&hs);
	if (plain != NULL)
		evbuffer_free(plain);
	if (rc == 1)
		return (-2);
	if (rc == -1)
		return (-1);
	return ((long)evbuffer_get_length(body));
}

/* A streaming body: release only what no later hit can touch (§8.6). */
static long
eg_dlp_body_stream(struct eg_xchg *x, struct evbuffer *body, int final,
    struct eg_refusal *r)
{
	struct eg_dlp_x		*d = x->dlp;
	struct cm_scanner	*sc = eg_worker_of(x->c->ew->w)->scanner;
	struct cm_scan_opts	 o;
	struct eg_dlp_hits	 hs;
	struct eg_dlp_hit	*dh;
	size_t			 len = evbuffer_get_length(body), i, nfeed;
	unsigned char		*buf;
	const char		*why;
	uint64_t		 safe = d->released;
	int			 rc;

	if (d->stream == NULL) {
		o.surface = CM_SCAN_SURF_BODY;
		o.detectors = cm_route_outbound(x->r.route) &
		    (CM_DET_TOKEN_PATTERNS | CM_DET_KNOWN_SECRETS |
		    CM_DET_ENTROPY);
		o.views = eg_dlp_body_views(x) | CM_SCAN_VIEW_FOLD;
		if ((d->stream = cm_scan_stream_new(x->cfg->scan, &o)) == NULL)
			goto oom;
	}
	buf = len > 0 ? evbuffer_pullup(body, -1) : NULL;
	nfeed = (size_t)(d->released + len - d->fed);
	if (!d->approved) {
		cm_scan_hits_clear(&d->pending);
		if (nfeed > 0 && cm_scan_stream_feed(d->stream, sc,
		    buf + (d->fed - d->released), nfeed, &d->pending, &safe,
		    &why) == -1)
			goto oom;
		d->fed += nfeed;
		if (final && cm_scan_stream_finish(d->stream, sc, &d->pending,
		    &safe, &why) == -1)
			goto oom;
		d->safe = safe;
	}
	d->approved = 0;
	if (d->pending.n > 0) {
		memset(&hs, 0, sizeof(hs));
		for (i = 0; i < d->pending.n; i++) {
			uint64_t off = d->pending.hit[i].off;

			if ((dh = eg_dlp_hits_push(&hs)) == NULL)
				break;
			dh->h = d->pending.hit[i];
			dh->where = EG_AT_BODY;
			cm_strlcpy(dh->location, "body", sizeof(dh->location));
			if (off >= d->released && off + dh->h.len <=
			    d->released + len) {
				dh->h.off = off - d->released;
				eg_dlp_key(dh, buf, len);
				(void)cm_scan_excerpt(x->cfg->scan, buf, len, 0,
				    &(struct cm_scan_hits){ &dh->h, 1, 1, 0 }, 0,
				    40, CM_SCAN_REDACT_TAG, dh->context,
				    sizeof(dh->context));
			}
		}
		rc = eg_dlp_decide(x, &hs, EG_STEP_BODY, r);
		if (rc == 2) {
			/* Same-length '*': the head (and its length) left. */
			for (i = 0; i < hs.n; i++)
				if (hs.v[i].h.off + hs.v[i].h.len <= len)
					memset(buf + hs.v[i].h.off, '*',
					    hs.v[i].h.len);
			rc = 0;
		}
		eg_dlp_hits_free(&hs);
		if (rc == 1) {
			/* Decided by the hold: not reported again. */
			cm_scan_hits_clear(&d->pending);
			d->held = 1;
			return (-2);
		}
		if (rc == -1)
			return (-1);
		cm_scan_hits_clear(&d->pending);
	}
	safe = d->safe > d->released + len ? d->released + len : d->safe;
	if (final && d->fed == d->released + len)
		safe = d->released + len;
	len = (size_t)(safe - d->released);
	d->released = safe;
	return ((long)len);
oom:
	eg_refusal_set(r, 500, "internal_error",
	    "egress: out of memory scanning the body");
	return (-1);
}

long
eg_dlp_body(struct eg_xchg *x, struct evbuffer *body, int final,
    struct eg_refusal *r)
{
	long	 n;

	if (x->cfg->scan == NULL || (cm_route_outbound(x->r.route) &
	    (CM_DET_TOKEN_PATTERNS | CM_DET_KNOWN_SECRETS | CM_DET_ENTROPY))
	    == 0)
		return ((long)evbuffer_get_length(body));
	if (eg_dlp_state(x) == NULL)
		return (-1);
	if (x->dlp->held)
		return (-2);
	/* Whole when it all fits before the head leaves (§10.1). */
	if (x->buffering && final && x->dlp->stream == NULL) {
		if (x->dlp->approved) {
			x->dlp->approved = 0;
			return ((long)evbuffer_get_length(body));
		}
		n = eg_dlp_body_whole(x, body, r);
		if (n == -2)
			x->dlp->held = 1;
		return (n);
	}
	return (eg_dlp_body_stream(x, body, final, r));
}

long
eg_dlp_response(struct eg_xchg *x, struct evbuffer *body, int final,
    struct eg_refusal *r)
{
	return ((long)evbuffer_get_length(body));
}

int
eg_dlp_connect(struct eg_conn *c, const struct cm_route *rt,
    struct eg_refusal *r)
{
	struct cm_snap		*snap = cm_worker_snap(c->ew->w);
	const struct eg_cfg	*cfg = eg_cfg_of(snap);
	struct cm_scan_opts	 o;
	struct cm_scan_hits	 hits;
	const char		*why;
	size_t			 i;
	static __thread char	 rule[160];

	if (cfg == NULL || cfg->scan == NULL || (cm_route_outbound(rt) &
	    (CM_DET_TOKEN_PATTERNS | CM_DET_KNOWN_SECRETS)) == 0)
		return (0);
	o.surface = CM_SCAN_SURF_HOST;
	o.detectors = cm_route_outbound(rt) &
	    (CM_DET_TOKEN_PATTERNS | CM_DET_KNOWN_SECRETS);
	o.views = CM_SCAN_VIEW_FOLD;
	cm_scan_hits_init(&hits);
	if (cm_scan_buf(c->ew->scanner, cfg->scan, &o, c->thost,
	    strlen(c->thost), &hits, &why) == -1) {
		cm_scan_hits_free(&hits);
		eg_refusal_set(r, 500, "internal_error", "egress: out of memory");
		return (-1);
	}
	for (i = 0; i < hits.n; i++) {
		char key[72];

		if (hits.hit[i].secret == NULL)
			continue;
		(void)snprintf(key, sizeof(key), "s:%s", hits.hit[i].secret);
		if (eg_safelist_has(c->thost, key))
			continue;
		break;
	}
	if (hits.n == 0 || (i == hits.n && hits.hit[0].secret != NULL)) {
		cm_scan_hits_free(&hits);
		return (0);
	}
	if (i == hits.n)
		i = 0;
	/* supervise: the CONNECT itself is held (§3.1.3). */
	if (cm_route_on_match(rt) == CM_DLP_SUPERVISE) {
		struct eg_dlp_hits	 hs;
		struct eg_dlp_hit	*dh;
		size_t			 k;

		memset(&hs, 0, sizeof(hs));
		for (k = 0; k < hits.n; k++) {
			if ((dh = eg_dlp_hits_push(&hs)) == NULL)
				break;
			dh->h = hits.hit[k];
			dh->where = EG_AT_HOST;
			cm_strlcpy(dh->location, "host", sizeof(dh->location));
			eg_dlp_key(dh, (const unsigned char *)c->thost,
			    strlen(c->thost));
			(void)cm_scan_excerpt(cfg->scan, c->thost,
			    strlen(c->thost), 0, &hits, k, 40,
			    CM_SCAN_REDACT_TAG, dh->context,
			    sizeof(dh->context));
		}
		cm_scan_hits_free(&hits);
		c->hold = eg_hold_start(c, snap, c->thost, c->tport, "CONNECT",
		    hs.n > 0 ? hs.v[0].context : "", &hs,
		    eg_conn_connect_released, c, r);
		eg_dlp_hits_free(&hs);
		return (c->hold != NULL ? 1 : -1);
	}
	/*
	 * A host label cannot be rewritten: redact refuses it, block too.
	 */
	eg_refusal_set(r, 403, cm_route_on_match(rt) == CM_DLP_BLOCK ?
	    "dlp_block" : "dlp_unredactable",
	    "egress DLP: %s in host", hits.hit[i].name);
	(void)snprintf(rule, sizeof(rule), "%s (%s)", hits.hit[i].rule,
	    hits.hit[i].name);
	r->rule = rule;
	eg_log_event(c, 1, CM_LOG_INFO, "block", json_pack("{s:s,s:s,s:s,"
	    "s:s}", "reason", r->reason, "rule", hits.hit[i].rule, "surface",
	    "host", "form", cm_scan_form_name(hits.hit[i].form)));
	cm_scan_hits_free(&hits);
	return (-1);
}

json_t *
eg_dlp_log_string(const struct cm_snap *snap, const char *s, size_t len)
{
	const struct eg_cfg	*cfg = eg_cfg_of(snap);
	struct cm_worker	*w = cm_worker_self();
	struct eg_worker	*ew = w != NULL ? eg_worker_of(w) : NULL;
	struct cm_scan_opts	 o = { CM_SCAN_SURF_QUERY,
				    CM_SCAN_TOKEN_PATTERNS | CM_SCAN_KNOWN_SECRETS,
				    CM_SCAN_VIEW_PERCENT };
	struct cm_scan_hits	 hits;
	unsigned char		*red = NULL;
	const char		*why;
	char			*copy;
	size_t			 rl = 0;
	json_t			*j;

	if (cfg == NULL || cfg->scan == NULL || len == 0)
		return (cm_log_peer(s, len));
	/* Every hit a scan finds becomes ********, as in §16. */
	cm_scan_hits_init(&hits);
	if (ew != NULL && ew->scanner != NULL && cm_scan_buf(ew->scanner,
	    cfg->scan, &o, s, len, &hits, &why) == 0 && hits.n > 0 &&
	    cm_scan_redact(s, len, 0, &hits, CM_SCAN_REDACT_STARS, &red, &rl,
	    &why) == 0) {
		s = (const char *)red;
		len = rl;
	}
	cm_scan_hits_free(&hits);
	if ((copy = malloc(len + 1)) == NULL) {
		free(red);
		return (json_string("[unavailable]"));
	}
	memcpy(copy, s, len);
	/* And any run of a known secret a view-only hit did not cover. */
	(void)cm_scan_mask_secrets(cfg->scan, copy, len, CM_SECRET_MIN_BYTES);
	j = cm_log_peer(copy, len);
	explicit_bzero(copy, len);
	free(copy);
	if (red != NULL) {
		explicit_bzero(red, rl);
		free(red);
	}
	return (j);
}

int
eg_dlp_ws(struct eg_xchg *x, const void *buf, size_t len, char **out,
    size_t *outlen, struct eg_refusal *r)
{
	struct eg_dlp_hits	 hs;
	int			 rc;

	*out = NULL;
	if (x->cfg->scan == NULL || (cm_route_outbound(x->r.route) &
	    (CM_DET_TOKEN_PATTERNS | CM_DET_KNOWN_SECRETS | CM_DET_ENTROPY))
	    == 0)
		return (0);
	if (eg_dlp_state(x) == NULL)
		return (-1);
	memset(&hs, 0, sizeof(hs));
	if (eg_dlp_scan_surface(x, CM_SCAN_SURF_WS, 0, buf, len, EG_AT_WS, 0,
	    0, "ws", &hs) == -1) {
		eg_dlp_hits_free(&hs);
		eg_refusal_set(r, 500, "internal_error", "egress: out of memory");
		return (-1);
	}
	rc = eg_dlp_decide(x, &hs, EG_STEP_WS, r);
	if (rc == 2) {
		/* Buffered messages: each value becomes "********". */
		*out = eg_dlp_rewrite_n(buf, len, &hs, EG_AT_WS, 0, 0, outlen);
		eg_log_event_snap(x->c, x->snap, 1, CM_LOG_INFO, "redact",
		    json_pack("{s:s,s:s,s:s}", "host", x->r.host, "rule",
		    hs.v[0].h.rule, "surface", "ws"));
		if (*out == NULL)
			rc = -1;
	}
	eg_dlp_hits_free(&hs);
	return (rc);
}
