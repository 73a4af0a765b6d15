/*
 * upload-pack v0/v1 on the worker (spec/gitgate.md §6): the ref
 * advertisement, the request lines, the negotiation rounds and the pack
 * stream.  Every libgit2 step is a job (negotiate.c, pack.c); this file
 * only frames lines and moves bytes.  git:// is stateful (one round per
 * flush); HTTP repeats the request in each POST and gets one job.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/job.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/settings.h"
#include "common/snapshot.h"
#include "common/util.h"
#include "common/worker.h"
#include "gitgate/adv.h"
#include "gitgate/conf.h"
#include "gitgate/conn.h"
#include "gitgate/gg.h"
#include "gitgate/mirror.h"
#include "gitgate/negotiate.h"
#include "gitgate/pktline.h"
#include "gitgate/sess.h"
#include "gitgate/upload.h"
#include "gitgate/wire.h"

static void	gg_upload_parse(struct gg_upload *);
static void	gg_upload_poll_cb(evutil_socket_t, short, void *);

/* How often a pack-building job is looked at (§6.5 progress). */
#define GG_UPLOAD_POLL_MS	200

struct gg_upload *
gg_upload_new(struct gg_sess *s)
{
	struct gg_upload	*u;

	if ((u = calloc(1, sizeof(*u))) == NULL)
		return (NULL);
	u->s = s;
	if ((u->pkt = malloc(sizeof(*u->pkt))) == NULL ||
	    asprintf(&u->tmpdir, "%s", s->cfg->git_dir) == -1) {
		free(u->pkt);
		free(u);
		return (NULL);
	}
	cm_strlcpy(u->refresh, "none", sizeof(u->refresh));
	return (u);
}

void
gg_upload_free(struct gg_upload *u)
{
	if (u == NULL)
		return;
	gg_v2_free(u);
	if (u->poll != NULL)
		event_free(u->poll);
	gg_refs_unref(u->refs);
	gg_neg_free(u->neg);
	free(u->pkt);
	free(u->tmpdir);
	free(u);
}

void
gg_upload_abort(struct gg_upload *u)
{
	if (u->neg != NULL)
		atomic_store(&u->neg->cancel, 1);
}

void
gg_upload_log(struct gg_upload *u, const char *result)
{
	struct gg_sess	*s = u->s;
	struct gg_neg	*n = u->neg;
	json_t		*refs = json_array();
	size_t		 i, k;

	/* §13: the names whose tips were wanted, at most 20. */
	for (i = 0; n != NULL && n->refs != NULL && i < n->refs->n &&
	    json_array_size(refs) < 20; i++)
		for (k = 0; k < n->wants.n; k++)
			if (git_oid_equal(&n->wants.v[k], &n->refs->v[i].oid)) {
				json_array_append_new(refs, json_string(
				    n->refs->v[i].name));
				break;
			}
	cm_log(CM_LOG_INFO, "gitgate", "fetch", s->c->id, json_pack("{s:s,"
	    "s:s,s:i,s:o,s:I,s:I,s:i,s:b,s:I,s:I,s:s,s:s,s:I}", "repo",
	    s->repo->name, "front", gg_sess_front(s), "proto", u->v2 ? 2 :
	    s->version == 1 ? 1 : 0, "refs", refs, "wants",
	    (json_int_t)(n != NULL ? n->wants.n : 0), "haves",
	    (json_int_t)(n != NULL ? n->common.n : 0), "depth", n != NULL ?
	    n->depth : 0, "fast_path", n != NULL && n->fast, "objects",
	    (json_int_t)(n != NULL ? n->pack_objects : 0), "bytes",
	    (json_int_t)u->sent, "refresh", u->refresh, "result", result, "ms",
	    (json_int_t)(cm_now_ms() - s->started_ms)));
	/* §14: result ok or failed (the log has the detail). */
	cm_metric_add(s->c->gw->w, gg_metric_repo(GG_MF_FETCHES,
	    s->repo->name, "result=\"%s\",path=\"%s\"",
	    strcmp(result, "ok") == 0 ? "ok" : "failed", n != NULL && n->fast ?
	    "fast" : "packbuilder"), 1);
}

static void
gg_upload_refs_cb(void *arg, struct gg_refs *refs, const char *err,
    const char *refresh)
{
	struct gg_upload	*u = arg;
	struct gg_sess		*s = u->s;

	if (gg_conn_release(s->c))
		return;
	cm_strlcpy(u->refresh, refresh, sizeof(u->refresh));
	if (refs == NULL) {
		gg_upload_log(u, "refresh_failed");
		gg_sess_fail(s, 502, "%s", err);
		return;
	}
	u->refs = gg_refs_ref(refs);
	if (s->rpc) {
		u->refs_ready = 1;
		if (u->req_done)
			gg_upload_parse(u);
		else
			gg_upload_input(u);
		return;
	}
	if (!gg_sess_advertise(s, refs, GG_SVC_UPLOAD))
		return;
	u->state = GG_UP_REQ;
	gg_upload_input(u);
}

void
gg_upload_start(struct gg_upload *u)
{
	struct gg_sess	*s = u->s;

	if (s->version == 2 && s->snap->settings->v[CM_S_GG_PROTOCOL_V2]) {
		u->v2 = 1;
		gg_v2_start(u);
		return;
	}
	u->state = GG_UP_ADV;
	gg_conn_hold(s->c);
	/* §4.3: POSTs continue an exchange that began with a refresh. */
	if (gg_mirror_prepare(s->c->gw->w, s->snap, s->repo, !s->rpc,
	    gg_upload_refs_cb, u) == -1) {
		(void)gg_conn_release(s->c);
		gg_sess_fail(s, 503, "bb-sidecar: gate busy, retry");
		return;
	}
	if (s->rpc) {
		u->state = GG_UP_REQ;
		gg_sess_wait_input(s, 1);
	}
}

static void
gg_upload_job_run(struct cm_job *job)
{
	struct gg_ujob		*j = cm_job_arg(job);
	struct gg_upload	*u = j->u;
	struct gg_neg		*n = u->neg;
	struct gg_mstate	*st = gg_mirror_state(u->s->repo->name);
	git_repository		*repo = NULL;
	char			 path[PATH_MAX];
	size_t			 i;

	j->rc = -1;
	if (atomic_load(&n->cancel) || st == NULL)
		return;
	gg_mirror_objects_rdlock(st);
	/* prepare made it; recreation would need the exclusive lock. */
	gg_mirror_path(n->cfg, n->repo, path, sizeof(path));
	if (git_repository_open_bare(&repo, path) != 0) {
		(void)snprintf(n->err, sizeof(n->err), "bb-sidecar: cannot "
		    "open the mirror");
		goto out;
	}
	if (j->kind == GG_UJ_V2_FETCH) {
		j->rc = gg_neg_v2_fetch(n, repo, u->tmpdir);
		goto out;
	}
	if (j->kind == GG_UJ_WANTS || j->kind == GG_UJ_ALL) {
		if (gg_neg_check_wants(n, repo) == -1)
			goto out;
		if (gg_neg_deepening(n)) {
			if (gg_neg_deepen(n, repo) == -1)
				goto out;
			(void)gg_pktline_flush(n->out);
		} else
			for (i = 0; i < n->shallows.n; i++)
				(void)gg_oidset_add(&n->registered,
				    &n->shallows.v[i]);
		if (j->kind == GG_UJ_WANTS) {
			j->rc = 0;
			goto out;
		}
	}
	if (gg_neg_haves(n, repo) == -1)
		goto out;
	if (n->done && gg_pack_build(n, repo, u->tmpdir) == -1)
		goto out;
	j->rc = 0;
out:
	git_repository_free(repo);
	gg_mirror_objects_unlock(st);
}

static void
gg_upload_job_done(struct cm_job *job)
{
	struct gg_ujob		*j = cm_job_arg(job);
	struct gg_upload	*u = j->u;
	struct gg_sess		*s;
	struct gg_neg		*n;
	int			 rc = j->rc;
	enum gg_upload_job	 kind = j->kind;

	free(j);
	if (cm_worker_self() == NULL)
		return;		/* shutdown: the conn is left to the exit */
	s = u->s;
	if (gg_conn_release(s->c) || s->ended)
		return;
	n = u->neg;
	s->busy = 0;
	if (u->poll != NULL)
		event_del(u->poll);
	if (kind == GG_UJ_V2_FETCH) {
		gg_v2_job_done(u, rc);
		return;
	}
	if (rc == -1) {
		(void)evbuffer_add_buffer(s->out, n->out);
		gg_upload_log(u, "failed");
		gg_sess_fail(s, 500, "%s", n->err[0] != '\0' ? n->err :
		    "bb-sidecar: upload-pack failed");
		return;
	}
	(void)evbuffer_add_buffer(s->out, n->out);
	if (n->done) {
		/* §6.5: the pack, multiplexed when the client asked. */
		if (n->caps & (GG_CAP_SIDE_BAND | GG_CAP_SIDE_BAND_64K)) {
			s->band = 1;
			s->band_max = gg_pktline_band_max(n->caps &
			    GG_CAP_SIDE_BAND_64K);
		}
		u->state = GG_UP_STREAM;
		(void)gg_sess_flush(s);
		bufferevent_setwatermark(s->c->bev, EV_WRITE,
		    GG_STREAM_BUF_BYTES / 2, 0);
		gg_upload_stream(u);
		return;
	}
	(void)gg_sess_flush(s);
	if (kind == GG_UJ_ALL || (kind == GG_UJ_WANTS && s->stateless)) {
		/* A stateless round ends with its ACKs. */
		gg_upload_log(u, "ok");
		gg_sess_end(s, 1);
		return;
	}
	u->state = GG_UP_HAVES;
	gg_sess_wait_input(s, 1);
	gg_conn_pump(s->c);
}

void
gg_upload_job(struct gg_upload *u, enum gg_upload_job kind)
{
	struct gg_sess	*s = u->s;
	struct gg_ujob	*j;
	struct cm_job	*job = NULL;

	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (job = cm_job_new(s->c->gw->w, gg_upload_job_run,
	    gg_upload_job_done, j)) == NULL) {
		free(j);
		gg_sess_fail(s, 503, "bb-sidecar: gate busy, retry");
		return;
	}
	j->u = u;
	j->kind = kind;
	/* Before the job runs: no other thread looks at these yet. */
	atomic_store(&u->neg->out_ready, 0);
	atomic_store(&u->neg->stage, GG_PS_NONE);
	u->early = 0;
	u->prog_stage = GG_PS_NONE;
	u->state = GG_UP_JOB;
	gg_sess_wait_input(s, 0);
	s->busy = 1;
	/* A job that may build a pack is watched more often than 1 Hz. */
	if (kind != GG_UJ_WANTS && kind != GG_UJ_ROUND) {
		if (u->poll == NULL)
			u->poll = event_new(cm_worker_base(s->c->gw->w), -1,
			    EV_PERSIST, gg_upload_poll_cb, u);
		if (u->poll != NULL)
			(void)event_add(u->poll, &(struct timeval){ 0,
			    GG_UPLOAD_POLL_MS * 1000 });
	}
	gg_conn_hold(s->c);
	if (cm_job_submit(job) == -1) {
		free(j);
		(void)gg_conn_release(s->c);
		gg_sess_fail(s, 503, "bb-sidecar: gate busy, retry");
	}
}

/* Capabilities of the first want line (after its oid). */
static void
gg_upload_caps(struct gg_neg *n, const char *p)
{
	static const struct {
		const char	*name;
		unsigned	 bit;
	} caps[] = {
		{ "multi_ack_detailed", GG_CAP_MULTI_ACK_DETAILED },
		{ "multi_ack", GG_CAP_MULTI_ACK },
		{ "side-band-64k", GG_CAP_SIDE_BAND_64K },
		{ "side-band", GG_CAP_SIDE_BAND },
		{ "ofs-delta", GG_CAP_OFS_DELTA },
		{ "no-progress", GG_CAP_NO_PROGRESS },
		{ "include-tag", GG_CAP_INCLUDE_TAG },
		{ "thin-pack", GG_CAP_THIN_PACK },
		{ "shallow", GG_CAP_SHALLOW },
		{ "deepen-relative", GG_CAP_DEEPEN_RELATIVE },
		{ "filter", GG_CAP_FILTER },
	};
	const char	*e;
	size_t		 i, l;

	while (*p != '\0') {
		while (*p == ' ')
			p++;
		if ((e = strchr(p, ' ')) == NULL)
			e = p + strlen(p);
		l = (size_t)(e - p);
		for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
			if (strlen(caps[i].name) == l &&
			    memcmp(caps[i].name, p, l) == 0)
				n->caps |= caps[i].bit;
		p = e;
	}
	n->relative = (n->caps & GG_CAP_DEEPEN_RELATIVE) != 0;
	/* side-band-64k wins when both are asked for (as git does). */
	if (n->caps & GG_CAP_SIDE_BAND_64K)
		n->caps &= ~GG_CAP_SIDE_BAND;
}

/* One line of the want section; 0, or -1 after failing the session. */
static int
gg_upload_want_line(struct gg_upload *u, struct gg_pkt *pkt)
{
	struct gg_sess		*s = u->s;
	struct gg_neg		*n = u->neg;
	struct gg_wire_line	 wl;
	const char		*why;
	git_oid			 oid;

	if (gg_wire_upload(pkt->data, pkt->len, &wl, &why) == -1) {
		gg_sess_proto_error(s, why, pkt->data, pkt->len);
		return (-1);
	}
	memcpy(oid.id, wl.oid, sizeof(oid.id));
	switch (wl.kind) {
	case GG_WIRE_WANT:
		if (n->wants.n == 0)
			gg_upload_caps(n, wl.caps);
		if (n->wants.n >= GG_MAX_WANTS ||
		    gg_oidvec_push(&n->wants, &oid) == -1) {
			gg_sess_fail(s, 413, "bb-sidecar: too many wants");
			return (-1);
		}
		return (0);
	case GG_WIRE_SHALLOW:
		if (gg_oidvec_push(&n->shallows, &oid) == -1) {
			gg_conn_close(s->c, "out_of_memory");
			return (-1);
		}
		return (0);
	case GG_WIRE_DEEPEN:
		n->depth = (int)wl.depth;
		return (0);
	case GG_WIRE_DEEPEN_SINCE:
		n->since = wl.since;
		return (0);
	case GG_WIRE_DEEPEN_NOT:
		if (n->nots.n >= GG_MAX_WANTS ||
		    gg_strvec_push(&n->nots, wl.arg, pkt->len - 11) == -1) {
			gg_sess_fail(s, 413, "bb-sidecar: too many deepen-not");
			return (-1);
		}
		return (0);
	case GG_WIRE_FILTER:
		gg_sess_fail(s, 400, "bb-sidecar: partial clone (filter) is "
		    "not supported by the gate");
		return (-1);
	default:
		gg_sess_proto_error(s, "expected want, shallow, deepen or a "
		    "flush", pkt->data, pkt->len);
		return (-1);
	}
}

/* The want section ended with its flush. */
static int
gg_upload_wants_end(struct gg_upload *u)
{
	struct gg_sess	*s = u->s;
	struct gg_neg	*n = u->neg;

	u->wants_done = 1;
	if (n->wants.n == 0) {
		/* ls-remote, or an up-to-date fetch: end silently. */
		gg_upload_log(u, "ok");
		gg_sess_end(s, 1);
		return (-1);
	}
	if (!(n->caps & GG_CAP_OFS_DELTA)) {
		gg_sess_fail(s, 400, "bb-sidecar: the client must support "
		    "ofs-delta");
		return (-1);
	}
	if (n->caps & GG_CAP_FILTER) {
		gg_sess_fail(s, 400, "bb-sidecar: partial clone (filter) is "
		    "not supported by the gate");
		return (-1);
	}
	return (0);
}

static void
gg_upload_parse(struct gg_upload *u)
{
	struct gg_sess		*s = u->s;
	struct gg_pkt		*pkt = u->pkt;
	struct gg_wire_line	 wl;
	git_oid			 oid;
	const char		*why;
	unsigned char	 peek[32];
	size_t		 np, before;
	int		 rc;

	if (u->neg == NULL) {
		u->neg = gg_neg_new(s->cfg, s->repo, u->refs, s->stateless);
		if (u->neg == NULL) {
			gg_conn_close(s->c, "out_of_memory");
			return;
		}
		u->neg->max_objects =
		    s->snap->settings->v[CM_S_GG_MAX_PACKBUILD_OBJECTS];
		u->neg->max_builds =
		    s->snap->settings->v[CM_S_GG_MAX_CONCURRENT_PACKBUILDS];
		u->neg->queue_timeout_s =
		    s->snap->settings->v[CM_S_GG_JOB_QUEUE_TIMEOUT_S];
	}
	for (;;) {
		if (u->state != GG_UP_REQ && u->state != GG_UP_HAVES)
			return;
		np = (size_t)evbuffer_copyout(s->in, peek, sizeof(peek));
		before = evbuffer_get_length(s->in);
		rc = gg_pktline_read(s->in, 0, pkt, &why);
		if (rc == 0) {
			/*
			 * A stateless client may stop after the want section
			 * to read the shallow list first (as git allows).
			 */
			if (s->in_eof && s->stateless && np == 0 &&
			    u->state == GG_UP_HAVES && u->neg->haves.n == 0) {
				gg_upload_job(u, GG_UJ_WANTS);
				return;
			}
			if (s->in_eof) {
				if (np == 0 && !u->wants_done &&
				    u->neg->wants.n == 0)
					gg_sess_end(s, 0);	/* hung up */
				else
					gg_sess_proto_error(s, np > 0 ?
					    "truncated pkt-line" :
					    "the request ended early", peek,
					    np);
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
		if (u->state == GG_UP_REQ) {
			if (pkt->kind == GG_PKT_FLUSH) {
				if (gg_upload_wants_end(u) == -1)
					return;
				u->state = GG_UP_HAVES;
				if (!s->stateless) {
					gg_upload_job(u, GG_UJ_WANTS);
					return;
				}
				continue;
			}
			if (gg_upload_want_line(u, pkt) == -1)
				return;
			continue;
		}
		/* GG_UP_HAVES */
		if (pkt->kind == GG_PKT_DATA &&
		    gg_wire_upload(pkt->data, pkt->len, &wl, &why) == -1) {
			gg_sess_proto_error(s, why, pkt->data, pkt->len);
			return;
		}
		if (pkt->kind == GG_PKT_FLUSH || wl.kind == GG_WIRE_DONE) {
			u->neg->done = pkt->kind != GG_PKT_FLUSH;
			if (s->stateless && evbuffer_get_length(s->in) > 0) {
				gg_sess_proto_error(s, "bytes after the end of "
				    "the request", peek, np);
				return;
			}
			gg_upload_job(u, s->stateless ? GG_UJ_ALL :
			    u->neg->done ? GG_UJ_FINAL : GG_UJ_ROUND);
			return;
		}
		if (wl.kind == GG_WIRE_HAVE) {
			if (u->neg->haves.n + u->neg->common.n >=
			    GG_MAX_HAVES) {
				gg_sess_fail(s, 413,
				    "bb-sidecar: too many haves");
				return;
			}
			memcpy(oid.id, wl.oid, sizeof(oid.id));
			(void)gg_oidvec_push(&u->neg->haves, &oid);
			continue;
		}
		gg_sess_proto_error(s, "expected have, done or a flush",
		    pkt->data, pkt->len);
		return;
	}
}

void
gg_upload_input(struct gg_upload *u)
{
	struct gg_sess	*s = u->s;

	if (u->v2) {
		gg_v2_input(u);
		return;
	}
	if (u->state != GG_UP_REQ && u->state != GG_UP_HAVES)
		return;
	if (s->rpc) {
		/* The whole POST first (bounded by max_request_bytes). */
		if (!s->in_eof) {
			gg_sess_wait_input(s, 1);
			return;
		}
		u->req_done = 1;
		if (!u->refs_ready)
			return;
	}
	gg_upload_parse(u);
}

/* Moves pack bytes from the file into the output while it has room. */
void
gg_upload_stream(struct gg_upload *u)
{
	struct gg_sess	*s = u->s;
	struct gg_neg	*n = u->neg;
	unsigned char	 buf[64 * 1024];
	ssize_t		 r;
	size_t		 want;

	while (u->sent < n->pack_size && gg_conn_pending(s->c) <
	    GG_STREAM_BUF_BYTES) {
		want = s->band ? s->band_max : sizeof(buf);
		if (want > sizeof(buf))
			want = sizeof(buf);
		if (want > n->pack_size - u->sent)
			want = (size_t)(n->pack_size - u->sent);
		r = pread(n->pack_fd, buf, want, (off_t)u->sent);
		if (r <= 0) {
			gg_upload_log(u, "failed");
			gg_sess_fail(s, 500,
			    "bb-sidecar: cannot read the pack");
			return;
		}
		if (s->band)
			(void)gg_pktline_band(s->out, GG_BAND_DATA, buf,
			    (size_t)r, s->band_max);
		else
			(void)evbuffer_add(s->out, buf, (size_t)r);
		u->sent += (uint64_t)r;
		if (gg_sess_flush(s) == -1)
			return;
	}
	if (u->sent < n->pack_size)
		return;		/* gg_upload_drained() goes on */
	if (s->band)
		(void)gg_pktline_flush(s->out);
	u->state = GG_UP_END;
	gg_upload_log(u, "ok");
	if (u->v2) {
		gg_v2_stream_done(u);
		return;
	}
	gg_sess_end(s, 1);
}

void
gg_upload_drained(struct gg_upload *u)
{
	if (u->state == GG_UP_STREAM)
		gg_upload_stream(u);
}

/*
 * The job finished negotiating and now builds the pack: what it wrote
 * so far goes out and the sideband starts, so keepalives and progress
 * can reach the client while it waits (§6.5, §11).
 */
static void
gg_upload_early(struct gg_upload *u, uint64_t now)
{
	struct gg_sess	*s = u->s;
	struct gg_neg	*n = u->neg;

	if (!u->v2 && !(n->caps & (GG_CAP_SIDE_BAND | GG_CAP_SIDE_BAND_64K)))
		return;		/* a raw pack: nothing may precede it */
	u->early = 1;
	(void)evbuffer_add_buffer(s->out, n->out);
	s->band = 1;
	s->band_max = gg_pktline_band_max(u->v2 ||
	    (n->caps & GG_CAP_SIDE_BAND_64K));
	u->prog_ms = 0;
	(void)gg_sess_flush(s);
}

/* One band-2 line when the build moved on, at most once a second. */
static void
gg_upload_progress(struct gg_upload *u, uint64_t now)
{
	struct gg_sess	*s = u->s;
	struct gg_neg	*n = u->neg;
	const struct cm_settings *st = s->snap->settings;
	int		 stage = atomic_load(&n->stage);
	size_t		 done = atomic_load(&n->done_n);
	size_t		 total = atomic_load(&n->total_n);
	uint64_t	 iv;

	if (n->caps & GG_CAP_NO_PROGRESS)
		return;
	if (stage == GG_PS_SLOT) {
		/* A wait, not a meter: at the start, then every interval. */
		iv = (uint64_t)st->v[CM_S_GG_PROGRESS_INTERVAL_S] * 1000;
		if (u->prog_stage != GG_PS_SLOT) {
			u->slot_ms = now;
			u->prog_ms = 0;
		}
		if (u->prog_ms != 0 && now - u->prog_ms < iv)
			return;
		u->prog_stage = stage;
		u->prog_ms = now;
		gg_sess_progress(s, "waiting for a pack builder slot (%llu s, "
		    "at most %lld s)", (unsigned long long)(now - u->slot_ms) /
		    1000, (long long)st->v[CM_S_GG_JOB_QUEUE_TIMEOUT_S]);
		(void)gg_sess_flush(s);
		return;
	}
	if (stage == GG_PS_NONE || (stage == u->prog_stage &&
	    done == u->prog_n) || now - u->prog_ms < 1000)
		return;
	u->prog_stage = stage;
	u->prog_n = done;
	u->prog_ms = now;
	switch (stage) {
	case GG_PS_COUNT:
		gg_sess_progress(s, "counting objects: %zu", done);
		break;
	case GG_PS_DELTA:
		gg_sess_progress(s, "compressing objects: %zu%% (%zu/%zu)",
		    total > 0 ? done * 100 / total : 100, done, total);
		break;
	default:
		gg_sess_progress(s, "writing the pack: %zu KiB", done / 1024);
		break;
	}
	(void)gg_sess_flush(s);
}

static void
gg_upload_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gg_upload	*u = arg;

	uint64_t		 now = cm_now_ms();

	if (u->s->c->dead)
		return;
	gg_upload_tick(u, now);
	if (u->early)
		gg_sess_keepalive(u->s, now);
}

void
gg_upload_tick(struct gg_upload *u, uint64_t now)
{
	if (u->state != GG_UP_JOB || u->neg == NULL ||
	    !atomic_load(&u->neg->out_ready) || u->s->ended)
		return;
	if (!u->early)
		gg_upload_early(u, now);
	if (u->early)
		gg_upload_progress(u, now);
}
