/*
 * A push's answer (spec/gitgate.md §7.5, §8.4): band-2 explanations, the
 * report-status lines inside band 1, the push log line and metrics.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/log.h"
#include "common/metrics.h"
#include "common/settings.h"
#include "common/snapshot.h"
#include "common/util.h"
#include "gitgate/conf.h"
#include "gitgate/conn.h"
#include "gitgate/gg.h"
#include "gitgate/intake.h"
#include "gitgate/pktline.h"
#include "gitgate/push.h"
#include "gitgate/receive.h"
#include "gitgate/sess.h"

void
gg_receive_ng_pending(struct gg_receive *r, const char *token,
    const char *reason)
{
	struct gg_push	*p = r->p;
	size_t		 i;

	for (i = 0; i < p->ncmds; i++)
		if (p->cmds[i].state == GG_CMD_PENDING)
			gg_push_ng(&p->cmds[i], token, "%s", reason);
}

void
gg_receive_fail_all(struct gg_receive *r, const char *token,
    const char *reason, const char *unpack)
{
	struct gg_push	*p = r->p;
	size_t		 i;

	for (i = 0; i < p->ncmds; i++) {
		p->cmds[i].state = GG_CMD_PENDING;
		gg_push_ng(&p->cmds[i], token, "%s", reason);
	}
	if (unpack != NULL && unpack[0] != '\0')
		(void)snprintf(r->unpack, sizeof(r->unpack), "%s", unpack);
	gg_receive_report(r);
}

static void
gg_receive_say(struct gg_receive *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* One band-2 line, before the report (or nothing without sideband). */
static void
gg_receive_say(struct gg_receive *r, const char *fmt, ...)
{
	char	 msg[1024];
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	gg_sess_progress(r->s, "%s", msg);
}

void
gg_receive_findings(struct gg_receive *r, int held)
{
	struct gg_push	*p = r->p;
	size_t		 i, shown = 0, max =
			    (size_t)r->s->snap->settings->v[
			    CM_S_GG_MAX_FINDINGS_LISTED];
	size_t		 total = p->nunsuppressed + p->nsuppressed;
	char		 hex[13];

	if (held)
		gg_receive_say(r, "push held: %zu suppressed finding%s in %zu "
		    "commit%s need operator approval", p->nsuppressed,
		    p->nsuppressed == 1 ? "" : "s", p->finding_commits,
		    p->finding_commits == 1 ? "" : "s");
	else
		gg_receive_say(r, "push rejected: %zu secret%s in %zu "
		    "commit%s; nothing was sent upstream", total,
		    total == 1 ? "" : "s", p->finding_commits,
		    p->finding_commits == 1 ? "" : "s");
	for (i = 0; i < p->nfindings && shown < max; i++, shown++) {
		const struct gg_finding *f = &p->findings[i];

		git_oid_tostr(hex, sizeof(hex), &f->commit);
		gg_receive_say(r, "  %s %s %s:%zu %s%s", f->ref, hex, f->file,
		    f->line, f->rule, f->suppressed ? " (suppressed)" :
		    !f->suppressible || f->kind == GG_FIND_KNOWN ?
		    " (not suppressible)" : "");
		if (f->context[0] != '\0')
			gg_receive_say(r, "    %s", f->context);
	}
	if (total > shown)
		gg_receive_say(r, "  ... and %zu more", total - shown);
	if (!held) {
		if (p->nunsuppressed == 0)
			gg_receive_say(r, "more than max_suppressed_findings "
			    "suppressed findings: no proposal was made");
		gg_receive_say(r, "remove the secrets from every listed commit "
		    "(rewrite history) and push again");
	}
}

void
gg_receive_log(struct gg_receive *r, const char *result)
{
	struct gg_sess	*s = r->s;
	struct gg_push	*p = r->p;
	json_t		*refs = json_array();
	char		 o[GIT_OID_HEXSZ + 1], n[GIT_OID_HEXSZ + 1];
	size_t		 i;

	for (i = 0; p != NULL && i < p->ncmds; i++) {
		const struct gg_cmd *c = &p->cmds[i];

		git_oid_tostr(o, sizeof(o), &c->old);
		git_oid_tostr(n, sizeof(n), &c->new);
		json_array_append_new(refs, json_pack("{s:o,s:s,s:s,s:s,s:s?}",
		    "ref", cm_log_peer(c->ref, strlen(c->ref)), "old", o, "new",
		    n, "status", c->state == GG_CMD_OK ? "ok" : "ng", "reason",
		    c->token));
	}
	cm_log(CM_LOG_INFO, "gitgate", "push", s->c->id, json_pack("{s:s,s:s,"
	    "s:i,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s?,s:s,s:s?,s:s,s:I}",
	    "repo", s->repo->name, "front", gg_sess_front(s), "proto", 0,
	    "refs", refs, "pack_bytes", (json_int_t)r->pack_bytes,
	    "pack_objects", (json_int_t)(p != NULL && p->in != NULL ?
	    p->in->stats.total_objects : 0), "commits_scanned",
	    (json_int_t)(p != NULL ? p->commits_scanned : 0), "bytes_scanned",
	    (json_int_t)(p != NULL ? p->bytes_scanned : 0), "files_skipped",
	    (json_int_t)(p != NULL ? p->files_skipped : 0), "findings",
	    (json_int_t)(p != NULL ? p->nunsuppressed + p->nsuppressed : 0),
	    "suppressed", (json_int_t)(p != NULL ? p->nsuppressed : 0),
	    "proposal", r->proposal[0] != '\0' ? r->proposal : NULL,
	    "decision", result, "reason", r->reason, "upstream",
	    p != NULL && p->upstream[0] != '\0' ? p->upstream : "not-contacted",
	    "ms", (json_int_t)(cm_now_ms() - s->started_ms)));
}

void
gg_receive_report(struct gg_receive *r)
{
	struct gg_sess	*s = r->s;
	struct gg_push	*p = r->p;
	struct evbuffer	*rep;
	size_t		 i, nok = 0, nng = 0;

	if (s->ended)
		return;
	/*
	 * Nothing of a refused push may remain once the client has its
	 * answer: the quarantine goes first (a job), then the report.
	 */
	if (p->qpath[0] != '\0' && r->state != GG_RP_DISCARD) {
		r->state = GG_RP_DISCARD;
		if (gg_receive_job(r, GG_RJ_DISCARD, NULL, 0) == 0)
			return;
	}
	r->state = GG_RP_END;
	for (i = 0; i < p->ncmds; i++) {
		if (p->cmds[i].state == GG_CMD_OK)
			nok++;
		else {
			if (p->cmds[i].state == GG_CMD_PENDING)
				gg_push_ng(&p->cmds[i], "unpack_failed",
				    "unpacker error");
			nng++;
			if (r->reason == NULL)
				r->reason = p->cmds[i].token;
		}
	}
	r->decision = nng == 0 ? "accepted" : nok == 0 ? "rejected" :
	    "partial";
	/* Upstream's own words first, then the gate's. */
	if (s->band)
		(void)gg_pktline_band_buf(s->out, GG_BAND_PROGRESS, p->msgs,
		    s->band_max);
	if (p->files_skipped > 0)
		gg_receive_say(r, "not scanned: %zu file%s (binary or over "
		    "%lld MiB), e.g. %s", p->files_skipped,
		    p->files_skipped == 1 ? "" : "s",
		    (long long)(s->snap->settings->v[
		    CM_S_GG_SCAN_MAX_FILE_BYTES] >> 20), p->skip_example);
	if (p->apply_failed && nok > 0)
		gg_receive_say(r, "warning: mirror update failed (%s); the "
		    "next fetch resyncs", p->apply_err);
	if (nok > 0 && !r->quiet)
		gg_receive_say(r, "scanned %zu commit%s (%llu KiB), %s; "
		    "forwarded to upstream", p->commits_scanned,
		    p->commits_scanned == 1 ? "" : "s",
		    (unsigned long long)((p->bytes_scanned + 1023) / 1024),
		    p->nsuppressed > 0 ? "suppressed findings approved" :
		    "no secrets");
	if (r->report_status && (rep = evbuffer_new()) != NULL) {
		if (r->unpack[0] != '\0')
			(void)gg_pktline_printf(rep, "unpack %s\n", r->unpack);
		else
			(void)gg_pktline_printf(rep, "unpack ok\n");
		for (i = 0; i < p->ncmds; i++) {
			const struct gg_cmd *c = &p->cmds[i];

			if (c->state == GG_CMD_OK)
				(void)gg_pktline_printf(rep, "ok %s\n", c->ref);
			else
				(void)gg_pktline_printf(rep, "ng %s %s\n",
				    c->ref, c->reason);
		}
		(void)gg_pktline_flush(rep);
		if (s->band)
			(void)gg_pktline_band_buf(s->out, GG_BAND_DATA, rep,
			    s->band_max);
		else
			(void)evbuffer_add_buffer(s->out, rep);
		evbuffer_free(rep);
	}
	if (s->band)
		(void)gg_pktline_flush(s->out);
	gg_receive_log(r, r->decision);
	cm_metric_add(s->c->gw->w, gg_metric_repo(GG_MF_PUSHES, s->repo->name,
	    "result=\"%s\",reason=\"%s\"", nng == 0 ? "accepted" : nok == 0 ?
	    "rejected" : "partial", r->reason != NULL && r->reason[0] != '\0' ?
	    r->reason : "none"), 1);
	gg_receive_release_push(r);
	gg_sess_end(s, 1);
}
