/*
 * receive-pack on the worker (spec/gitgate.md §7-§10): advertisement,
 * commands, the pack fed to the indexer in short jobs, the check and
 * scan job, the decision (reject, hold for the operator, forward), and
 * the report.  The push itself (struct gg_push) outlives the session
 * when it must: a discard job owns it at the end, so a quarantine is
 * always deleted, even after the client left.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

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
#include "gitgate/intake.h"
#include "gitgate/merge.h"
#include "gitgate/mirror.h"
#include "gitgate/pktline.h"
#include "gitgate/push.h"
#include "gitgate/receive.h"
#include "gitgate/sess.h"
#include "gitgate/upstream.h"
#include "gitgate/wire.h"

static void	gg_receive_parse(struct gg_receive *);
static void	gg_receive_pump(struct gg_receive *);
static void	gg_receive_after_check(struct gg_receive *);

struct gg_rjob2 {
	struct gg_receive	*r;		/* NULL: discard, owns p */
	struct gg_push		*p;
	enum gg_rp_job		 kind;
	struct evbuffer		*buf;		/* intake bytes */
	int			 eof;
	int			 extra;		/* bytes after the pack */
	int			 rc;
};

struct gg_receive *
gg_receive_new(struct gg_sess *s)
{
	struct gg_receive	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return (NULL);
	r->s = s;
	if ((r->pkt = malloc(sizeof(*r->pkt))) == NULL) {
		free(r);
		return (NULL);
	}
	return (r);
}

static void
gg_push_free(struct gg_push *p)
{
	size_t	 i;

	if (p == NULL)
		return;
	for (i = 0; i < p->ncmds; i++)
		free(p->cmds[i].ref);
	free(p->cmds);
	free(p->findings);
	gg_intake_free(p->in);
	if (p->msgs != NULL)
		evbuffer_free(p->msgs);
	free(p);
}

static void
gg_rjob_run(struct cm_job *job)
{
	struct gg_rjob2		*j = cm_job_arg(job);
	struct gg_push		*p = j->p;
	size_t			 n, used;
	const unsigned char	*b;
	char			 err[256];

	switch (j->kind) {
	case GG_RJ_PRECHECK:
		j->rc = gg_push_precheck(p);
		if (j->rc == 0 && p->need_pack) {
			p->in = gg_intake_new(p->qpath,
			    (uint64_t)p->settings->v[CM_S_GG_MAX_PACK_BYTES],
			    (uint64_t)p->settings->v[CM_S_GG_MAX_PACK_OBJECTS],
			    (uint64_t)p->settings->v[CM_S_GG_MAX_OBJECT_BYTES],
			    err, sizeof(err));
			if (p->in == NULL) {
				(void)snprintf(p->job_err, sizeof(p->job_err),
				    "bb-sidecar: %s", err);
				j->rc = -1;
			} else
				p->in->cancel = &p->cancel;
		}
		break;
	case GG_RJ_INTAKE:
		while ((n = evbuffer_get_length(j->buf)) > 0) {
			if (n > 65536)
				n = 65536;
			b = evbuffer_pullup(j->buf, (ssize_t)n);
			used = gg_intake_feed(p->in, b, n, &j->extra);
			(void)evbuffer_drain(j->buf, used);
			if (j->extra || used == 0)
				break;
		}
		if (j->eof && !p->in->complete && p->in->ps.state != GG_PS_DONE)
			gg_intake_truncated(p->in);
		j->rc = 0;
		break;
	case GG_RJ_CHECK:
		j->rc = gg_push_check(p);
		break;
	case GG_RJ_FORWARD:
		gg_push_forward(p);
		j->rc = 0;
		break;
	case GG_RJ_DISCARD:
		gg_push_discard(p);
		j->rc = 0;
		break;
	}
}

static void
gg_rjob_done(struct cm_job *job)
{
	struct gg_rjob2		*j = cm_job_arg(job);
	struct gg_receive	*r = j->r;

	if (j->buf != NULL)
		evbuffer_free(j->buf);
	if (r == NULL) {
		/* A discard owns the push: the end of its life. */
		if (j->kind == GG_RJ_DISCARD)
			gg_push_free(j->p);
		free(j);
		return;
	}
	if (cm_worker_self() == NULL) {
		free(j);
		return;		/* shutdown: left to the exit */
	}
	r->job = 0;
	r->last_rc = j->rc;
	r->last_extra = j->extra;
	free(j);
	if (gg_conn_release(r->s->c) || r->s->ended) {
		gg_receive_orphan(r);
		return;
	}
	r->s->busy = 0;
	gg_receive_job_done(r);
}

int
gg_receive_job(struct gg_receive *r, enum gg_rp_job kind, struct evbuffer *buf,
    int eof)
{
	struct gg_rjob2	*j;
	struct cm_job	*job = NULL;

	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (job = cm_job_new(r != NULL ? r->s->c->gw->w : NULL, gg_rjob_run,
	    gg_rjob_done, j)) == NULL) {
		free(j);
		return (-1);
	}
	j->r = r;
	j->p = r != NULL ? r->p : NULL;
	j->kind = kind;
	j->buf = buf;
	j->eof = eof;
	if (r != NULL) {
		r->job = 1;
		r->s->busy = 1;
		gg_conn_hold(r->s->c);
	}
	if (cm_job_submit(job) == -1) {
		j->buf = NULL;
		free(j);
		if (r != NULL) {
			r->job = 0;
			(void)gg_conn_release(r->s->c);
		}
		return (-1);
	}
	return (0);
}

/* Hands the push to a discard job that deletes its quarantine. */
void
gg_receive_release_push(struct gg_receive *r)
{
	struct gg_rjob2	*j;
	struct cm_job	*job;
	struct gg_push	*p = r->p;

	if (p == NULL)
		return;
	r->p = NULL;
	if (r->slot) {
		gg_push_slot_put();
		r->slot = 0;
	}
	atomic_store(&p->cancel, 1);
	if (p->qpath[0] == '\0') {
		gg_push_free(p);
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (job = cm_job_new(NULL, gg_rjob_run, gg_rjob_done, j)) == NULL) {
		free(j);
		gg_push_free(p);	/* swept at the next start */
		return;
	}
	j->p = p;
	j->kind = GG_RJ_DISCARD;
	if (cm_job_submit(job) == -1) {
		free(j);
		gg_push_free(p);
	}
}

void
gg_receive_free(struct gg_receive *r)
{
	if (r == NULL)
		return;
	gg_hold_cancel(r);
	gg_receive_release_push(r);
	gg_refs_unref(r->refs);
	free(r->pkt);
	free(r);
}

void
gg_receive_abort(struct gg_receive *r)
{
	gg_hold_cancel(r);
	if (r->p != NULL && r->state != GG_RP_FORWARD)
		atomic_store(&r->p->cancel, 1);
	if (r->p != NULL && r->p->up != NULL && r->state != GG_RP_FORWARD)
		gg_up_cancel(r->p->up, "the client disconnected");
}

/* The conn died while a job ran: finish the bookkeeping without it. */
void
gg_receive_orphan(struct gg_receive *r)
{
	if (r->state == GG_RP_FORWARD && r->p != NULL) {
		gg_receive_log(r, "client_gone");
		gg_up_free(r->p->up);
		r->p->up = NULL;
	}
	gg_receive_release_push(r);
}

static void
gg_receive_refs_cb(void *arg, struct gg_refs *refs, const char *err,
    const char *refresh)
{
	struct gg_receive	*r = arg;
	struct gg_sess		*s = r->s;

	if (gg_conn_release(s->c))
		return;
	if (refs == NULL) {
		gg_sess_fail(s, 502, "%s", err);
		return;
	}
	r->refs = gg_refs_ref(refs);
	if (s->rpc) {
		r->state = GG_RP_CMDS;
		gg_receive_parse(r);
		return;
	}
	if (!gg_sess_advertise(s, refs, GG_SVC_RECEIVE))
		return;
	r->state = GG_RP_CMDS;
	gg_receive_parse(r);
}

void
gg_receive_start(struct gg_receive *r)
{
	struct gg_sess	*s = r->s;

	r->state = GG_RP_ADV;
	gg_conn_hold(s->c);
	/* §7.1: the advertisement shows current values (refresh first). */
	if (gg_mirror_prepare(s->c->gw->w, s->snap, s->repo, !s->rpc,
	    gg_receive_refs_cb, r) == -1) {
		(void)gg_conn_release(s->c);
		gg_sess_fail(s, 503, "bb-sidecar: gate busy, retry");
	}
}

static void
gg_receive_caps(struct gg_receive *r, const char *p)
{
	const char	*e;
	size_t		 l;

	while (*p != '\0') {
		while (*p == ' ')
			p++;
		if ((e = strchr(p, ' ')) == NULL)
			e = p + strlen(p);
		l = (size_t)(e - p);
		if (l == 13 && memcmp(p, "report-status", 13) == 0)
			r->report_status = 1;
		else if (l == 13 && memcmp(p, "side-band-64k", 13) == 0)
			r->sideband = 1;
		else if (l == 5 && memcmp(p, "quiet", 5) == 0)
			r->quiet = 1;
		p = e;
	}
}

/* "<old> <new> <ref>[\0caps]"; 0, or -1 after failing the session. */
static int
gg_receive_cmd_line(struct gg_receive *r, struct gg_pkt *pkt)
{
	struct gg_sess		*s = r->s;
	struct gg_push		*p = r->p;
	struct gg_cmd		*c, *nc;
	struct gg_wire_cmd	 wc;
	const char		*why;
	size_t			 i;
	git_oid			 zero;

	if (pkt->len == 48 && memcmp(pkt->data, "shallow ", 8) == 0 &&
	    p->ncmds == 0)
		return (0);	/* the client is shallow; §7.4 checks parents */
	if (gg_wire_command(pkt->data, pkt->len, &wc, &why) == -1) {
		gg_sess_proto_error(s, why, pkt->data, pkt->len);
		return (-1);
	}
	if (p->ncmds >=
	    (size_t)s->snap->settings->v[CM_S_GG_MAX_PUSH_COMMANDS]) {
		gg_sess_proto_error(s, "more than max_push_commands ref "
		    "updates", pkt->data, pkt->len);
		return (-1);
	}
	nc = reallocarray(p->cmds, p->ncmds + 1, sizeof(*nc));
	if (nc == NULL) {
		gg_conn_close(s->c, "out_of_memory");
		return (-1);
	}
	p->cmds = nc;
	c = &p->cmds[p->ncmds];
	memset(c, 0, sizeof(*c));
	memcpy(c->old.id, wc.old, sizeof(c->old.id));
	memcpy(c->new.id, wc.new, sizeof(c->new.id));
	if ((c->ref = strndup(wc.ref, wc.reflen)) == NULL) {
		gg_conn_close(s->c, "out_of_memory");
		return (-1);
	}
	p->ncmds++;
	memset(&zero, 0, sizeof(zero));
	c->create = git_oid_equal(&c->old, &zero);
	c->del = git_oid_equal(&c->new, &zero);
	if (c->create && c->del) {
		gg_sess_proto_error(s, "a command from zero to zero",
		    pkt->data, pkt->len);
		return (-1);
	}
	for (i = 0; i + 1 < p->ncmds; i++)
		if (strcmp(p->cmds[i].ref, c->ref) == 0) {
			gg_sess_proto_error(s, "a ref is updated twice",
			    pkt->data, pkt->len);
			return (-1);
		}
	if (p->ncmds == 1 && wc.caps != NULL)
		gg_receive_caps(r, wc.caps);
	if (!c->del)
		p->need_pack = 1;
	return (0);
}

static int
gg_receive_push_new(struct gg_receive *r)
{
	struct gg_sess	*s = r->s;
	struct gg_push	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->msgs = evbuffer_new()) == NULL) {
		free(p);
		return (-1);
	}
	p->cfg = s->cfg;
	p->repo = s->repo;
	p->settings = s->snap->settings;
	p->scanset = s->cfg->scanset;
	r->p = p;
	return (0);
}

/* The commands are in: take a slot, check them, then the pack. */
static void
gg_receive_commands_done(struct gg_receive *r)
{
	struct gg_sess	*s = r->s;

	if (gg_push_slot_take(
	    s->snap->settings->v[CM_S_GG_MAX_CONCURRENT_PUSHES]) == -1) {
		gg_receive_log(r, "busy");
		gg_sess_fail(s, 503, "bb-sidecar: gate busy, retry");
		return;
	}
	r->slot = 1;
	gg_sess_wait_input(s, 0);
	r->state = GG_RP_PRECHECK;
	if (gg_receive_job(r, GG_RJ_PRECHECK, NULL, 0) == -1)
		gg_sess_fail(s, 503, "bb-sidecar: gate busy, retry");
}

static void
gg_receive_parse(struct gg_receive *r)
{
	struct gg_sess	*s = r->s;
	struct gg_pkt	*pkt = r->pkt;
	const char	*why;
	unsigned char	 peek[32];
	size_t		 np, before;
	int		 rc;

	if (r->p == NULL && gg_receive_push_new(r) == -1) {
		gg_conn_close(s->c, "out_of_memory");
		return;
	}
	while (r->state == GG_RP_CMDS) {
		np = (size_t)evbuffer_copyout(s->in, peek, sizeof(peek));
		before = evbuffer_get_length(s->in);
		rc = gg_pktline_read(s->in, 0, pkt, &why);
		if (rc == 0) {
			if (s->in_eof) {
				if (np == 0 && r->p->ncmds == 0)
					gg_sess_end(s, 0);	/* hung up */
				else
					gg_sess_proto_error(s,
					    "truncated command section", peek,
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
		r->cmd_bytes += before - evbuffer_get_length(s->in);
		s->in_offset += before - evbuffer_get_length(s->in);
		if (r->cmd_bytes >
		    (uint64_t)s->snap->settings->v[CM_S_GG_MAX_REQUEST_BYTES]) {
			gg_sess_proto_error(s, "command section over "
			    "max_request_bytes", peek, np);
			return;
		}
		if (pkt->kind == GG_PKT_FLUSH) {
			if (r->p->ncmds == 0) {
				/* A lone flush: nothing to do (HTTP probe). */
				gg_sess_end(s, 1);
				return;
			}
			gg_receive_commands_done(r);
			return;
		}
		gg_pktline_chomp(pkt);
		if (gg_receive_cmd_line(r, pkt) == -1)
			return;
	}
}

void
gg_receive_input(struct gg_receive *r)
{
	if (r->state == GG_RP_CMDS)
		gg_receive_parse(r);
	else if (r->state == GG_RP_PACK)
		gg_receive_pump(r);
}

/* Feeds what arrived to the indexer, one short job at a time. */
static void
gg_receive_pump(struct gg_receive *r)
{
	struct gg_sess	*s = r->s;
	struct evbuffer	*buf;
	size_t		 n;

	if (r->job || r->state != GG_RP_PACK)
		return;
	n = evbuffer_get_length(s->in);
	if (n == 0 && !s->in_eof) {
		gg_sess_need_input(s);
		return;
	}
	gg_sess_wait_input(s, 0);
	if ((buf = evbuffer_new()) == NULL) {
		gg_conn_close(s->c, "out_of_memory");
		return;
	}
	if (n > GG_INTAKE_CHUNK_BYTES)
		n = GG_INTAKE_CHUNK_BYTES;
	(void)evbuffer_remove_buffer(s->in, buf, n);
	r->pack_bytes += n;
	cm_metric_add(s->c->gw->w, s->m_bytes[0], (int64_t)n);
	if (gg_receive_job(r, GG_RJ_INTAKE, buf, s->in_eof &&
	    evbuffer_get_length(s->in) == 0) == -1) {
		evbuffer_free(buf);
		gg_sess_fail(s, 503, "bb-sidecar: gate busy, retry");
	}
	/* More may come while the job runs; reading resumes afterwards. */
}

/* The sideband runs from here on (the client reads our answer now). */
static void
gg_receive_band(struct gg_receive *r)
{
	if (r->sideband && !r->s->band) {
		r->s->band = 2;
		r->s->band_max = gg_pktline_band_max(1);
	}
}

void
gg_receive_job_done(struct gg_receive *r)
{
	struct gg_sess	*s = r->s;
	struct gg_push	*p = r->p;
	struct gg_intake *in = p->in;

	switch (r->state) {
	case GG_RP_PRECHECK:
		if (r->last_rc == -1) {
			gg_receive_band(r);
			gg_receive_fail_all(r, "unpack_failed",
			    "unpacker error", p->job_err);
			return;
		}
		if (p->need_pack) {
			r->state = GG_RP_PACK;
			gg_receive_pump(r);
			return;
		}
		r->state = GG_RP_CHECK;
		gg_receive_band(r);
		if (gg_receive_job(r, GG_RJ_CHECK, NULL, 0) == -1)
			gg_sess_fail(s, 503, "bb-sidecar: gate busy, retry");
		return;
	case GG_RP_PACK:
		if (r->last_extra && in->complete) {
			gg_sess_proto_error(s, "bytes after the pack", NULL, 0);
			return;
		}
		if (in->failed && (in->ps.state == GG_PS_DONE ||
		    in->ps.state == GG_PS_FAILED || s->in_eof)) {
			/* §7.3: the client sent its pack; now the answer. */
			if (!in->limit)
				cm_log(CM_LOG_INFO, "gitgate", "proto_error",
				    s->c->id, json_pack("{s:s,s:s,s:s,s:I}",
				    "repo", s->repo->name, "front",
				    gg_sess_front(s), "why", in->err, "offset",
				    (json_int_t)(s->in_offset + in->bytes)));
			gg_receive_band(r);
			gg_receive_fail_all(r, "unpack_failed",
			    "unpacker error", in->err);
			return;
		}
		if (in->complete) {
			r->state = GG_RP_CHECK;
			gg_receive_band(r);
			if (gg_receive_job(r, GG_RJ_CHECK, NULL, 0) == -1)
				gg_sess_fail(s, 503, "bb-sidecar: gate busy, "
				    "retry");
			return;
		}
		gg_receive_pump(r);
		if (!s->stateless)
			gg_conn_pump(s->c);
		return;
	case GG_RP_CHECK:
		gg_receive_after_check(r);
		return;
	case GG_RP_DISCARD:
		gg_receive_report(r);
		return;
	case GG_RP_FORWARD:
		gg_up_free(p->up);
		p->up = NULL;
		/* The pack moved into the mirror: merge it in (§4.5). */
		if (p->in != NULL && p->in->complete && !p->apply_failed &&
		    (strcmp(p->upstream, "ok") == 0 ||
		    strcmp(p->upstream, "partial") == 0))
			gg_merge_schedule(s->c->gw->w, s->snap, s->repo);
		gg_receive_report(r);
		return;
	default:
		return;
	}
}

static void
gg_receive_after_check(struct gg_receive *r)
{
	struct gg_sess	*s = r->s;
	struct gg_push	*p = r->p;

	if (r->last_rc == -1) {
		/* The gate could not read something: fail closed (§7.4). */
		gg_receive_fail_all(r, "scan_failed", "push rejected: the gate "
		    "could not scan it", p->job_err);
		return;
	}
	if (p->nunsuppressed > 0 || p->nsuppressed >
	    (size_t)s->snap->settings->v[CM_S_GG_MAX_SUPPRESSED_FINDINGS]) {
		gg_receive_findings(r, 0);
		gg_receive_ng_pending(r, "secret_detected", "secret detected");
		gg_receive_report(r);
		return;
	}
	if (p->nsuppressed > 0 && gg_push_pending(p) > 0) {
		gg_hold_start(r);
		return;
	}
	gg_receive_forward(r);
}

void
gg_receive_forward(struct gg_receive *r)
{
	struct gg_sess	*s = r->s;
	struct gg_push	*p = r->p;

	if (gg_push_pending(p) == 0) {
		gg_receive_report(r);
		return;
	}
	p->up = gg_up_new(s->c->gw->w, s->cfg, s->repo, s->snap->settings,
	    (int)s->snap->settings->v[CM_S_GG_FORWARD_TIMEOUT_S]);
	if (p->up == NULL) {
		gg_receive_ng_pending(r, "upstream_unreachable", "upstream "
		    "unreachable: out of memory");
		gg_receive_report(r);
		return;
	}
	gg_up_set_user(p->up, p);
	r->state = GG_RP_FORWARD;
	if (gg_receive_job(r, GG_RJ_FORWARD, NULL, 0) == -1) {
		gg_up_free(p->up);
		p->up = NULL;
		gg_receive_ng_pending(r, "busy", "gate busy, retry");
		gg_receive_report(r);
	}
}

void
gg_receive_tick(struct gg_receive *r, uint64_t now)
{
	gg_hold_tick(r, now);
}
