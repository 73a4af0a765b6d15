/*
 * Protocol v2 for upload-pack (spec/gitgate.md §6.6, gitprotocol-v2(5)):
 * the capability advertisement, ls-refs, and fetch with its
 * acknowledgments, shallow-info and packfile sections.  Every command
 * stands alone (v2 is stateless even on git://), so a fetch is one job
 * over the negotiation code v0 uses.  git:// serves commands until EOF
 * or a lone flush; HTTP one command per POST.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/settings.h"
#include "common/snapshot.h"
#include "common/util.h"
#include "common/worker.h"
#include "gitgate/conf.h"
#include "gitgate/conn.h"
#include "gitgate/gg.h"
#include "gitgate/mirror.h"
#include "gitgate/negotiate.h"
#include "gitgate/pktline.h"
#include "gitgate/sess.h"
#include "gitgate/upload.h"
#include "gitgate/wire.h"

/* ref-prefix lines one ls-refs may send (git sends a handful). */
#define GG_V2_MAX_PREFIXES	64

enum {
	GG_V2_LS_REFS = 1,
	GG_V2_FETCH = 2,
};

static void	gg_v2_run(struct gg_upload *);

static void
gg_v2_caps(struct evbuffer *out)
{
	(void)gg_pktline_printf(out, "version 2\n");
	(void)gg_pktline_printf(out, "agent=bb-sidecar/%s\n", gg_agent());
	(void)gg_pktline_printf(out, "ls-refs\n");
	(void)gg_pktline_printf(out, "fetch=shallow\n");
	(void)gg_pktline_printf(out, "object-format=sha1\n");
	(void)gg_pktline_flush(out);
}

static void
gg_v2_reset(struct gg_upload *u)
{
	size_t	 i;

	for (i = 0; i < u->nprefixes; i++)
		free(u->prefixes[i]);
	free(u->prefixes);
	u->prefixes = NULL;
	u->nprefixes = 0;
	u->ls_peel = u->ls_symrefs = 0;
	u->v2_cmd = 0;
	gg_neg_free(u->neg);
	u->neg = NULL;
	u->sent = 0;
}

void
gg_v2_free(struct gg_upload *u)
{
	size_t	 i;

	for (i = 0; i < u->nprefixes; i++)
		free(u->prefixes[i]);
	free(u->prefixes);
	u->prefixes = NULL;
	u->nprefixes = 0;
}

void
gg_v2_start(struct gg_upload *u)
{
	struct gg_sess	*s = u->s;

	/* §6.6: over HTTP the GET reply is the list, with no refresh. */
	if (s->stateless && !s->rpc) {
		gg_v2_caps(s->out);
		gg_sess_end(s, 1);
		return;
	}
	if (!s->stateless) {
		gg_v2_caps(s->out);
		(void)gg_sess_flush(s);
	}
	u->state = GG_UP_REQ;
	u->v2_state = GG_V2_CMD;
	gg_sess_wait_input(s, 1);
	gg_v2_input(u);
}

/* The next command on git:// (a lone flush or EOF ends it). */
static void
gg_v2_next(struct gg_upload *u)
{
	struct gg_sess	*s = u->s;

	if (s->stateless) {
		gg_sess_end(s, 1);
		return;
	}
	(void)gg_sess_flush(s);	/* the final flush of the last answer */
	gg_v2_reset(u);
	s->band = 0;
	u->state = GG_UP_REQ;
	u->v2_state = GG_V2_CMD;
	gg_sess_wait_input(s, 1);
	gg_conn_pump(s->c);
}

static int
gg_v2_prefix_match(struct gg_upload *u, const char *name)
{
	size_t	 i;

	if (u->nprefixes == 0)
		return (1);
	for (i = 0; i < u->nprefixes; i++)
		if (strncmp(name, u->prefixes[i], strlen(u->prefixes[i])) == 0)
			return (1);
	return (0);
}

static void
gg_v2_lsrefs_cb(void *arg, struct gg_refs *refs, const char *err,
    const char *refresh)
{
	struct gg_upload	*u = arg;
	struct gg_sess		*s = u->s;
	char			 hex[GIT_OID_HEXSZ + 1], pk[GIT_OID_HEXSZ + 1];
	size_t			 i;

	if (gg_conn_release(s->c) || s->ended)
		return;
	s->busy = 0;
	cm_strlcpy(u->refresh, refresh, sizeof(u->refresh));
	if (refs == NULL) {
		gg_upload_log(u, "refresh_failed");
		gg_sess_fail(s, 502, "%s", err);
		return;
	}
	if (refs->head_ok && gg_v2_prefix_match(u, "HEAD")) {
		git_oid_tostr(hex, sizeof(hex), &refs->head_oid);
		if (u->ls_symrefs)
			(void)gg_pktline_printf(s->out, "%s HEAD "
			    "symref-target:%s\n", hex, refs->head);
		else
			(void)gg_pktline_printf(s->out, "%s HEAD\n", hex);
	}
	for (i = 0; i < refs->n; i++) {
		const struct gg_ref *r = &refs->v[i];

		if (!gg_v2_prefix_match(u, r->name))
			continue;
		git_oid_tostr(hex, sizeof(hex), &r->oid);
		if (u->ls_peel && r->has_peeled) {
			git_oid_tostr(pk, sizeof(pk), &r->peeled);
			(void)gg_pktline_printf(s->out, "%s %s peeled:%s\n",
			    hex, r->name, pk);
		} else
			(void)gg_pktline_printf(s->out, "%s %s\n", hex,
			    r->name);
	}
	(void)gg_pktline_flush(s->out);
	(void)gg_sess_flush(s);
	u->v2_listed = 1;
	gg_v2_next(u);
}

static void
gg_v2_fetch_refs_cb(void *arg, struct gg_refs *refs, const char *err,
    const char *refresh)
{
	struct gg_upload	*u = arg;
	struct gg_sess		*s = u->s;

	if (gg_conn_release(s->c) || s->ended)
		return;
	s->busy = 0;
	if (strcmp(refresh, "none") != 0)
		cm_strlcpy(u->refresh, refresh, sizeof(u->refresh));
	if (refs == NULL) {
		gg_upload_log(u, "refresh_failed");
		gg_sess_fail(s, 502, "%s", err);
		return;
	}
	u->neg->refs = gg_refs_ref(refs);
	gg_upload_job(u, GG_UJ_V2_FETCH);
}

/* A command's lines are in: run it. */
static void
gg_v2_run(struct gg_upload *u)
{
	struct gg_sess	*s = u->s;
	int		 refresh;

	u->v2_state = GG_V2_RUN;
	gg_sess_wait_input(s, 0);
	if (s->stateless && evbuffer_get_length(s->in) > 0) {
		gg_sess_proto_error(s, "bytes after the command", NULL, 0);
		return;
	}
	/* §4.3: ls-refs refreshes; so does a fetch with no ls-refs first. */
	refresh = u->v2_cmd == GG_V2_LS_REFS || (!s->stateless &&
	    !u->v2_listed);
	s->busy = 1;
	gg_conn_hold(s->c);
	if (gg_mirror_prepare(s->c->gw->w, s->snap, s->repo, refresh,
	    u->v2_cmd == GG_V2_LS_REFS ? gg_v2_lsrefs_cb : gg_v2_fetch_refs_cb,
	    u) == -1) {
		(void)gg_conn_release(s->c);
		gg_sess_fail(s, 503, "bb-sidecar: gate busy, retry");
	}
}

static int
gg_v2_lsrefs_arg(struct gg_upload *u, struct gg_pkt *pkt)
{
	char	**np;

	if (strcmp(pkt->data, "peel") == 0)
		u->ls_peel = 1;
	else if (strcmp(pkt->data, "symrefs") == 0)
		u->ls_symrefs = 1;
	else if (strcmp(pkt->data, "unborn") == 0)
		;	/* an unborn HEAD is not listed (§6.6) */
	else if (strncmp(pkt->data, "ref-prefix ", 11) == 0 &&
	    pkt->len > 11) {
		if (u->nprefixes >= GG_V2_MAX_PREFIXES)
			return (-1);
		np = reallocarray(u->prefixes, u->nprefixes + 1, sizeof(*np));
		if (np == NULL)
			return (-1);
		u->prefixes = np;
		if ((np[u->nprefixes] = strdup(pkt->data + 11)) == NULL)
			return (-1);
		u->nprefixes++;
	} else
		return (-1);
	return (0);
}

/* One fetch argument; 0, or -1 after failing the session. */
static int
gg_v2_fetch_arg(struct gg_upload *u, struct gg_pkt *pkt)
{
	struct gg_sess		*s = u->s;
	struct gg_neg		*n = u->neg;
	struct gg_wire_line	 wl;
	const char		*why, *d = pkt->data;
	git_oid			 oid;

	if (strcmp(d, "thin-pack") == 0)
		return (0);	/* ignored: packs are never thin */
	if (strcmp(d, "ofs-delta") == 0) {
		n->caps |= GG_CAP_OFS_DELTA;
		return (0);
	}
	if (strcmp(d, "no-progress") == 0) {
		n->caps |= GG_CAP_NO_PROGRESS;
		return (0);
	}
	if (strcmp(d, "include-tag") == 0) {
		n->caps |= GG_CAP_INCLUDE_TAG;
		return (0);
	}
	if (strcmp(d, "deepen-relative") == 0) {
		n->relative = 1;
		return (0);
	}
	if (strncmp(d, "filter ", 7) == 0) {
		gg_sess_fail(s, 400, "bb-sidecar: partial clone (filter) is "
		    "not supported by the gate");
		return (-1);
	}
	if (gg_wire_upload(d, pkt->len, &wl, &why) == -1 ||
	    (wl.kind == GG_WIRE_WANT && wl.caps[0] != '\0')) {
		gg_sess_fail(s, 400, "bb-sidecar: unknown fetch argument");
		return (-1);
	}
	memcpy(oid.id, wl.oid, sizeof(oid.id));
	switch (wl.kind) {
	case GG_WIRE_WANT:
		if (n->wants.n >= GG_MAX_WANTS)
			goto toomany;
		return (gg_oidvec_push(&n->wants, &oid));
	case GG_WIRE_HAVE:
		if (n->haves.n >= GG_MAX_HAVES)
			goto toomany;
		return (gg_oidvec_push(&n->haves, &oid));
	case GG_WIRE_SHALLOW:
		return (gg_oidvec_push(&n->shallows, &oid));
	case GG_WIRE_DEEPEN:
		n->depth = (int)wl.depth;
		return (0);
	case GG_WIRE_DEEPEN_SINCE:
		n->since = wl.since;
		return (0);
	case GG_WIRE_DEEPEN_NOT:
		if (n->nots.n >= GG_MAX_WANTS)
			goto toomany;
		return (gg_strvec_push(&n->nots, wl.arg, pkt->len - 11));
	case GG_WIRE_DONE:
		n->done = 1;
		return (0);
	default:
		gg_sess_fail(s, 400, "bb-sidecar: unknown fetch argument");
		return (-1);
	}
toomany:
	gg_sess_fail(s, 413, "bb-sidecar: too many wants or haves");
	return (-1);
}

static int
gg_v2_command(struct gg_upload *u, struct gg_pkt *pkt)
{
	struct gg_sess	*s = u->s;

	if (strcmp(pkt->data, "command=ls-refs") == 0)
		u->v2_cmd = GG_V2_LS_REFS;
	else if (strcmp(pkt->data, "command=fetch") == 0) {
		u->v2_cmd = GG_V2_FETCH;
		u->neg = gg_neg_new(s->cfg, s->repo, NULL, 1);
		if (u->neg == NULL) {
			gg_conn_close(s->c, "out_of_memory");
			return (-1);
		}
		u->neg->max_objects =
		    s->snap->settings->v[CM_S_GG_MAX_PACKBUILD_OBJECTS];
		u->neg->max_builds =
		    s->snap->settings->v[CM_S_GG_MAX_CONCURRENT_PACKBUILDS];
		u->neg->queue_timeout_s =
		    s->snap->settings->v[CM_S_GG_JOB_QUEUE_TIMEOUT_S];
		/* v2 packs are always multiplexed (§6.6). */
		u->neg->caps |= GG_CAP_SIDE_BAND_64K;
	} else {
		gg_sess_fail(s, 400, "bb-sidecar: unknown command");
		return (-1);
	}
	return (0);
}

void
gg_v2_input(struct gg_upload *u)
{
	struct gg_sess	*s = u->s;
	struct gg_pkt	*pkt = u->pkt;
	const char	*why;
	unsigned char	 peek[32];
	size_t		 np, before;
	int		 rc;

	if (s->rpc && !s->in_eof) {
		gg_sess_wait_input(s, 1);
		return;		/* the whole POST first */
	}
	while (u->v2_state != GG_V2_RUN && u->state == GG_UP_REQ) {
		np = (size_t)evbuffer_copyout(s->in, peek, sizeof(peek));
		before = evbuffer_get_length(s->in);
		rc = gg_pktline_read(s->in, 1, pkt, &why);
		if (rc == 0) {
			if (s->in_eof) {
				if (np == 0 && u->v2_state == GG_V2_CMD)
					gg_sess_end(s, 1);
				else
					gg_sess_proto_error(s, "the command "
					    "ended early", peek, np);
				return;
			}
			gg_sess_need_input(s);
			return;
		}
		if (rc == -1) {
			gg_sess_proto_error(s, why, peek, np);
			return;
		}
		s->in_offset += before - evbuffer_get_length(s->in);
		gg_pktline_chomp(pkt);
		switch (u->v2_state) {
		case GG_V2_CMD:
			if (pkt->kind == GG_PKT_FLUSH) {
				gg_sess_end(s, 1);	/* a lone flush */
				return;
			}
			if (pkt->kind != GG_PKT_DATA) {
				gg_sess_proto_error(s, "expected a command",
				    peek, np);
				return;
			}
			if (gg_v2_command(u, pkt) == -1)
				return;
			u->v2_state = GG_V2_CAPS;
			break;
		case GG_V2_CAPS:
			if (pkt->kind == GG_PKT_DELIM) {
				u->v2_state = GG_V2_ARGS;
				break;
			}
			if (pkt->kind == GG_PKT_FLUSH) {
				gg_v2_run(u);
				return;
			}
			if (pkt->kind != GG_PKT_DATA ||
			    (strncmp(pkt->data, "agent=", 6) != 0 &&
			    strcmp(pkt->data, "object-format=sha1") != 0)) {
				gg_sess_fail(s, 400, "bb-sidecar: unknown "
				    "capability");
				return;
			}
			break;
		case GG_V2_ARGS:
			if (pkt->kind == GG_PKT_FLUSH) {
				gg_v2_run(u);
				return;
			}
			if (pkt->kind != GG_PKT_DATA) {
				gg_sess_proto_error(s, "unexpected delim in "
				    "the arguments", peek, np);
				return;
			}
			if (u->v2_cmd == GG_V2_LS_REFS) {
				if (gg_v2_lsrefs_arg(u, pkt) == -1) {
					gg_sess_fail(s, 400, "bb-sidecar: "
					    "unknown ls-refs argument");
					return;
				}
			} else if (gg_v2_fetch_arg(u, pkt) == -1)
				return;
			break;
		default:
			return;
		}
	}
}

void
gg_v2_job_done(struct gg_upload *u, int rc)
{
	struct gg_sess	*s = u->s;
	struct gg_neg	*n = u->neg;

	(void)evbuffer_add_buffer(s->out, n->out);
	if (rc == -1) {
		gg_upload_log(u, "failed");
		gg_sess_fail(s, 500, "%s", n->err[0] != '\0' ? n->err :
		    "bb-sidecar: upload-pack failed");
		return;
	}
	if (!n->done) {
		/* An acknowledgments round without ready, or no wants. */
		(void)gg_sess_flush(s);
		gg_v2_next(u);
		return;
	}
	s->band = 1;
	s->band_max = gg_pktline_band_max(1);
	u->state = GG_UP_STREAM;
	(void)gg_sess_flush(s);
	bufferevent_setwatermark(s->c->bev, EV_WRITE, GG_STREAM_BUF_BYTES / 2,
	    0);
	gg_upload_stream(u);
}

void
gg_v2_stream_done(struct gg_upload *u)
{
	gg_v2_next(u);
}
