/*
 * The checks of a push and its secret scan (spec/gitgate.md §7.2, §7.4,
 * §8): ref names and old values against the mirror, object types, force
 * updates, missing parents; then every new commit's added lines,
 * message, paths and identities, and new tags' messages, through the
 * shared scan engine.  Raw secret values never leave the engine: a
 * finding keeps a redacted line only.  Job threads only.
 */
#include "config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/metrics.h"
#include "common/scan.h"
#include "common/settings.h"
#include "gitgate/conf.h"
#include "gitgate/gg.h"
#include "gitgate/intake.h"
#include "gitgate/mirror.h"
#include "gitgate/oidset.h"
#include "gitgate/push.h"

struct gg_scanctx {
	struct gg_push		*p;
	git_repository		*repo;		/* the quarantine */
	struct cm_scanner	*sc;
	struct cm_scan_opts	 opts;
	struct cm_scan_hits	 hits;
	const char		*ref;
	git_oid			 commit;
	int			 commit_hit;	/* this commit had a finding */
	char			*run;		/* added lines being joined */
	size_t			 runlen, runcap;
	size_t			*runlines;	/* line number of each line */
	size_t			 nrunlines, caprunlines;
};

void
gg_push_ng(struct gg_cmd *c, const char *token, const char *fmt, ...)
{
	va_list	 ap;

	if (c->state == GG_CMD_NG)
		return;
	c->state = GG_CMD_NG;
	c->token = token;
	va_start(ap, fmt);
	(void)vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
	va_end(ap);
}

size_t
gg_push_pending(const struct gg_push *p)
{
	size_t	 i, n = 0;

	for (i = 0; i < p->ncmds; i++)
		if (p->cmds[i].state == GG_CMD_PENDING)
			n++;
	return (n);
}

int
gg_push_precheck(struct gg_push *p)
{
	git_repository	*m = NULL;
	git_reference	*ref;
	char		 err[480];
	size_t		 i;
	int		 valid;

	if (gg_mirror_open(p->cfg, p->repo, &m, err, sizeof(err)) == -1) {
		(void)snprintf(p->job_err, sizeof(p->job_err), "bb-sidecar: %s",
		    err);
		return (-1);
	}
	for (i = 0; i < p->ncmds; i++) {
		struct gg_cmd *c = &p->cmds[i];

		if (strncmp(c->ref, "refs/heads/", 11) != 0 &&
		    strncmp(c->ref, "refs/tags/", 10) != 0) {
			gg_push_ng(c, "ref_not_allowed", "only refs/heads/* "
			    "and refs/tags/* can be pushed through the gate");
			continue;
		}
		valid = 0;
		if (strlen(c->ref) > GG_MAX_REF_BYTES ||
		    git_reference_name_is_valid(&valid, c->ref) != 0 ||
		    !valid) {
			gg_push_ng(c, "invalid_ref", "invalid ref name");
			continue;
		}
		if (c->del && !p->repo->allow_delete) {
			gg_push_ng(c, "delete_not_allowed", "deletion not "
			    "allowed by the gate");
			continue;
		}
		/* §7.2: the client's old value is the mirror's. */
		if (git_reference_lookup(&ref, m, c->ref) == 0) {
			if (c->create || git_reference_type(ref) !=
			    GIT_REFERENCE_DIRECT ||
			    !git_oid_equal(git_reference_target(ref), &c->old))
				gg_push_ng(c, "stale", "stale info: fetch and "
				    "retry");
			git_reference_free(ref);
		} else if (!c->create)
			gg_push_ng(c, "stale", "stale info: fetch and retry");
	}
	git_repository_free(m);
	/* Deletions go upstream from the quarantine too (§10.1). */
	if (gg_intake_quarantine(p->cfg, p->repo, p->qpath, sizeof(p->qpath),
	    err, sizeof(err)) == -1) {
		p->qpath[0] = '\0';
		(void)snprintf(p->job_err, sizeof(p->job_err), "bb-sidecar: %s",
		    err);
		return (-1);
	}
	return (0);
}

/* Mirror tips, peeled, hidden from the walk (§8.1: already upstream). */
static int
gg_push_hide_mirror(struct gg_push *p, git_revwalk *rw, git_repository *q,
    struct gg_oidset *tips)
{
	git_repository	*m = NULL;
	struct gg_refs	*refs;
	char		 err[256], path[PATH_MAX];
	git_object	*o, *c;
	size_t		 i;

	gg_mirror_path(p->cfg, p->repo, path, sizeof(path));
	if (git_repository_open_bare(&m, path) != 0)
		return (-1);
	refs = gg_mirror_refs(m, err, sizeof(err));
	git_repository_free(m);
	if (refs == NULL)
		return (-1);
	for (i = 0; i < refs->n; i++) {
		(void)gg_oidset_add(tips, &refs->v[i].oid);
		if (git_object_lookup(&o, q, &refs->v[i].oid, GIT_OBJECT_ANY)
		    != 0)
			continue;
		if (git_object_peel(&c, o, GIT_OBJECT_COMMIT) == 0) {
			(void)git_revwalk_hide(rw, git_object_id(c));
			git_object_free(c);
		}
		git_object_free(o);
	}
	gg_refs_unref(refs);
	return (0);
}

static void
gg_scan_add(struct gg_scanctx *x, const char *file, size_t line,
    const struct cm_scan_hit *h, int suppressible, int suppressed,
    const char *context)
{
	struct gg_push		*p = x->p;
	struct gg_finding	*f;
	char			 hex[GIT_OID_HEXSZ + 1];

	if (!suppressible)
		suppressed = 0;
	if (suppressed)
		p->nsuppressed++;
	else
		p->nunsuppressed++;
	if (!x->commit_hit) {
		x->commit_hit = 1;
		p->finding_commits++;
	}
	cm_metric_add(NULL, gg_metric_finding(h->rule, suppressed), 1);
	git_oid_tostr(hex, sizeof(hex), &x->commit);
	cm_log(CM_LOG_INFO, "gitgate", "finding", 0, json_pack("{s:s,s:s,s:s,"
	    "s:s,s:I,s:s,s:s,s:b,s:s,s:s?}", "repo", p->repo->name, "ref",
	    x->ref, "commit", hex, "file", file, "line", (json_int_t)line,
	    "rule", h->rule, "kind", h->secret != NULL ? "known" : "pattern",
	    "suppressed", suppressed, "context", context, "source",
	    h->secret));
	if (p->nfindings >= GG_MAX_FINDINGS_KEPT) {
		p->nlost++;
		return;
	}
	f = &p->findings[p->nfindings++];
	memset(f, 0, sizeof(*f));
	f->ref = x->ref;
	git_oid_cpy(&f->commit, &x->commit);
	(void)snprintf(f->file, sizeof(f->file), "%s", file);
	f->line = line;
	(void)snprintf(f->rule, sizeof(f->rule), "%s", h->rule);
	f->kind = h->secret != NULL ? GG_FIND_KNOWN : GG_FIND_PATTERN;
	f->suppressible = suppressible;
	f->suppressed = suppressed;
	(void)snprintf(f->context, sizeof(f->context), "%s", context);
	if (h->secret != NULL)
		(void)snprintf(f->source, sizeof(f->source), "%s", h->secret);
}

/*
 * Scans text (lines joined by LF); lines[k] is the number of line k, or
 * NULL to count from first.  Markers suppress only where allowed.
 */
static int
gg_scan_text(struct gg_scanctx *x, const char *text, size_t len,
    const char *file, size_t first, const size_t *lines, int suppressible)
{
	const char	*why;
	size_t		 i, k, ls, le, nl;
	char		 ctx[GG_CONTEXT_BYTES * 2 + 64];
	int		 sup;

	if (len == 0)
		return (0);
	x->p->bytes_scanned += len;
	cm_metric_add(NULL, gg_m.scan_bytes, (int64_t)len);
	cm_scan_hits_clear(&x->hits);
	if (cm_scan_buf(x->sc, x->p->scanset, &x->opts, text, len, &x->hits,
	    &why) == -1)
		return (-1);
	for (i = 0; i < x->hits.n; i++) {
		const struct cm_scan_hit *h = &x->hits.hit[i];

		/* The line the match starts on, and its bounds. */
		for (k = 0, nl = 0, ls = 0; k < h->off && k < len; k++)
			if (text[k] == '\n') {
				nl++;
				ls = k + 1;
			}
		for (le = ls; le < len && text[le] != '\n'; le++)
			;
		sup = memmem(text + ls, le - ls, "gitleaks:allow", 14) !=
		    NULL || memmem(text + ls, le - ls, "bb-sidecar:allow", 16)
		    != NULL;
		(void)cm_scan_excerpt(x->p->scanset, text + ls, le - ls, ls,
		    &x->hits, i, GG_CONTEXT_BYTES / 2, CM_SCAN_REDACT_STARS,
		    ctx, sizeof(ctx));
		gg_scan_add(x, file, lines != NULL ? lines[nl] : first + nl, h,
		    suppressible && h->secret == NULL, sup, ctx);
	}
	return (0);
}

static int
gg_scan_run_add(struct gg_scanctx *x, const char *s, size_t n, size_t lineno)
{
	if (n > 0 && s[n - 1] == '\n')
		n--;
	if (x->runlen + n + 1 > x->runcap) {
		size_t nc = (x->runlen + n + 1) * 2;
		char *nr = realloc(x->run, nc);

		if (nr == NULL)
			return (-1);
		x->run = nr;
		x->runcap = nc;
	}
	if (x->nrunlines == x->caprunlines) {
		size_t nc = x->caprunlines ? x->caprunlines * 2 : 64;
		size_t *nl = reallocarray(x->runlines, nc, sizeof(*nl));

		if (nl == NULL)
			return (-1);
		x->runlines = nl;
		x->caprunlines = nc;
	}
	if (x->nrunlines > 0)
		x->run[x->runlen++] = '\n';
	memcpy(x->run + x->runlen, s, n);
	x->runlen += n;
	x->runlines[x->nrunlines++] = lineno;
	return (0);
}

static int
gg_scan_run_flush(struct gg_scanctx *x, const char *file)
{
	int	 rc;

	if (x->nrunlines == 0)
		return (0);
	rc = gg_scan_text(x, x->run, x->runlen, file, 0, x->runlines, 1);
	x->runlen = x->nrunlines = 0;
	return (rc);
}

static void
gg_scan_skip(struct gg_scanctx *x, const char *path, size_t size,
    const char *reason)
{
	char	 hex[GIT_OID_HEXSZ + 1];

	x->p->files_skipped++;
	if (x->p->skip_example[0] == '\0')
		(void)snprintf(x->p->skip_example, sizeof(x->p->skip_example),
		    "%s", path);
	cm_metric_add(NULL, strcmp(reason, "size") == 0 ? gg_m.scan_skip_size :
	    gg_m.scan_skip_binary, 1);
	git_oid_tostr(hex, sizeof(hex), &x->commit);
	cm_log(CM_LOG_INFO, "gitgate", "scan_skip", 0, json_pack("{s:s,s:s,"
	    "s:s,s:I,s:s}", "repo", x->p->repo->name, "commit", hex, "path",
	    path, "size", (json_int_t)size, "reason", reason));
}

/* §8.2: each added run of lines of one file. */
static int
gg_scan_delta(struct gg_scanctx *x, git_diff *diff, size_t idx)
{
	const git_diff_delta	*d = git_diff_get_delta(diff, idx);
	const git_diff_line	*line;
	git_patch		*patch = NULL;
	git_blob		*blob = NULL;
	const char		*path = d->new_file.path;
	const unsigned char	*raw;
	size_t			 h, l, nh, nl, size;
	int			 rc = 0;

	if (d->status != GIT_DELTA_ADDED && d->status != GIT_DELTA_MODIFIED &&
	    d->status != GIT_DELTA_RENAMED && d->status != GIT_DELTA_COPIED &&
	    d->status != GIT_DELTA_TYPECHANGE)
		return (0);
	if (d->new_file.mode == GIT_FILEMODE_COMMIT)
		return (0);	/* gitlinks */
	if (d->status == GIT_DELTA_ADDED || d->status == GIT_DELTA_RENAMED ||
	    d->status == GIT_DELTA_COPIED)
		if (gg_scan_text(x, path, strlen(path), "(path)", 1, NULL, 0) ==
		    -1)
			return (-1);
	if ((d->status == GIT_DELTA_RENAMED || d->status == GIT_DELTA_COPIED) &&
	    git_oid_equal(&d->old_file.id, &d->new_file.id))
		return (0);	/* moved content adds no lines */
	if (git_blob_lookup(&blob, x->repo, &d->new_file.id) != 0)
		return (-1);	/* fail closed */
	size = (size_t)git_blob_rawsize(blob);
	raw = git_blob_rawcontent(blob);
	if (size > (size_t)x->p->settings->v[CM_S_GG_SCAN_MAX_FILE_BYTES]) {
		gg_scan_skip(x, path, size, "size");
		goto out;
	}
	if (memchr(raw, '\0', size < GG_SCAN_BINARY_PROBE_BYTES ? size :
	    GG_SCAN_BINARY_PROBE_BYTES) != NULL) {
		gg_scan_skip(x, path, size, "binary");
		goto out;
	}
	if (git_patch_from_diff(&patch, diff, idx) != 0 || patch == NULL) {
		rc = patch == NULL && git_error_last() == NULL ? 0 : -1;
		goto out;
	}
	nh = git_patch_num_hunks(patch);
	for (h = 0; h < nh && rc == 0; h++) {
		nl = (size_t)git_patch_num_lines_in_hunk(patch, h);
		for (l = 0; l < nl && rc == 0; l++) {
			if (git_patch_get_line_in_hunk(&line, patch, h, l) !=
			    0) {
				rc = -1;
				break;
			}
			if (line->origin == GIT_DIFF_LINE_ADDITION)
				rc = gg_scan_run_add(x, line->content,
				    line->content_len,
				    (size_t)line->new_lineno);
			else if (line->origin != GIT_DIFF_LINE_ADD_EOFNL &&
			    line->origin != GIT_DIFF_LINE_DEL_EOFNL &&
			    line->origin != GIT_DIFF_LINE_CONTEXT_EOFNL)
				rc = gg_scan_run_flush(x, path);
		}
		if (rc == 0)
			rc = gg_scan_run_flush(x, path);
	}
out:
	x->runlen = x->nrunlines = 0;
	git_patch_free(patch);
	git_blob_free(blob);
	return (rc);
}

static int
gg_scan_identity(struct gg_scanctx *x, const git_signature *sig)
{
	char	 buf[1024];
	int	 n;

	if (sig == NULL)
		return (0);
	n = snprintf(buf, sizeof(buf), "%s <%s>", sig->name, sig->email);
	if (n < 0)
		return (0);
	return (gg_scan_text(x, buf, (size_t)n < sizeof(buf) ? (size_t)n :
	    sizeof(buf) - 1, "(identity)", 1, NULL, 0));
}

static int
gg_scan_commit(struct gg_scanctx *x, git_commit *c)
{
	git_commit		*parent = NULL;
	git_tree		*tree = NULL, *ptree = NULL;
	git_diff		*diff = NULL;
	git_diff_options	 dopts;
	git_diff_find_options	 fopts;
	const char		*msg;
	size_t			 i, nd;
	int			 rc = -1;

	git_oid_cpy(&x->commit, git_commit_id(c));
	x->commit_hit = 0;
	x->p->commits_scanned++;
	if (gg_scan_identity(x, git_commit_author(c)) == -1 ||
	    gg_scan_identity(x, git_commit_committer(c)) == -1)
		return (-1);
	if ((msg = git_commit_message_raw(c)) != NULL &&
	    gg_scan_text(x, msg, strlen(msg), "(commit message)", 1, NULL, 1)
	    == -1)
		return (-1);
	if (git_commit_tree(&tree, c) != 0)
		return (-1);
	/* Merges against the first parent only; a root against nothing. */
	if (git_commit_parentcount(c) > 0) {
		if (git_commit_parent(&parent, c, 0) != 0 ||
		    git_commit_tree(&ptree, parent) != 0)
			goto out;
	}
	(void)git_diff_options_init(&dopts, GIT_DIFF_OPTIONS_VERSION);
	dopts.context_lines = 0;
	dopts.interhunk_lines = 0;
	dopts.flags = GIT_DIFF_FORCE_TEXT;
	if (git_diff_tree_to_tree(&diff, x->repo, ptree, tree, &dopts) != 0)
		goto out;
	(void)git_diff_find_options_init(&fopts, GIT_DIFF_FIND_OPTIONS_VERSION);
	fopts.flags = GIT_DIFF_FIND_RENAMES | GIT_DIFF_FIND_COPIES |
	    GIT_DIFF_FIND_EXACT_MATCH_ONLY;
	if (git_diff_find_similar(diff, &fopts) != 0)
		goto out;
	nd = git_diff_num_deltas(diff);
	for (i = 0; i < nd; i++) {
		if (atomic_load(&x->p->cancel))
			goto out;
		if (gg_scan_delta(x, diff, i) == -1)
			goto out;
	}
	rc = 0;
out:
	git_diff_free(diff);
	git_tree_free(tree);
	git_tree_free(ptree);
	git_commit_free(parent);
	return (rc);
}

/* §7.4 for one command; 0, or -1 when an object cannot be read. */
static int
gg_push_check_cmd(struct gg_push *p, git_repository *q, struct gg_cmd *c)
{
	git_object	*o = NULL;
	int		 is_tag = strncmp(c->ref, "refs/tags/", 10) == 0, rc;

	if (c->del)
		return (0);
	if (git_object_lookup(&o, q, &c->new, GIT_OBJECT_ANY) != 0) {
		gg_push_ng(c, "unpack_failed", "unpacker error");
		return (0);
	}
	if (git_object_type(o) != GIT_OBJECT_COMMIT &&
	    !(is_tag && git_object_type(o) == GIT_OBJECT_TAG)) {
		git_object_free(o);
		gg_push_ng(c, "not_a_commit", "not a commit");
		return (0);
	}
	git_object_free(o);
	if (c->create)
		return (0);
	if (is_tag)
		rc = 0;		/* moving a tag is always a force update */
	else if (git_oid_equal(&c->old, &c->new))
		rc = 1;
	else
		rc = git_graph_descendant_of(q, &c->new, &c->old);
	if (rc < 0)
		return (-1);
	if (rc == 0) {
		if (!p->repo->allow_force_push)
			gg_push_ng(c, "force_not_allowed", "force update not "
			    "allowed by the gate");
		else
			c->force = 1;
	}
	return (0);
}

/* New annotated tags' messages (§8.2). */
static int
gg_scan_tags(struct gg_scanctx *x, git_repository *q, struct gg_cmd *c,
    const struct gg_oidset *tips)
{
	git_object	*o = NULL, *t;
	const char	*msg;

	if (git_object_lookup(&o, q, &c->new, GIT_OBJECT_ANY) != 0)
		return (0);
	while (o != NULL && git_object_type(o) == GIT_OBJECT_TAG &&
	    !gg_oidset_has(tips, git_object_id(o))) {
		git_oid_cpy(&x->commit, git_object_id(o));
		x->commit_hit = 0;
		msg = git_tag_message((git_tag *)o);
		if (msg != NULL && gg_scan_text(x, msg, strlen(msg),
		    "(tag message)", 1, NULL, 1) == -1) {
			git_object_free(o);
			return (-1);
		}
		t = NULL;
		(void)git_tag_target(&t, (git_tag *)o);
		git_object_free(o);
		o = t;
	}
	git_object_free(o);
	return (0);
}

/* CPU time of the calling (job) thread, ms. */
static double
gg_thread_cpu_ms(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		return (0);
	return ((double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6);
}

int
gg_push_check(struct gg_push *p)
{
	struct gg_scanctx	 x;
	struct gg_oidset	 seen, tips;
	git_repository		*q = NULL;
	git_revwalk		*rw = NULL;
	git_commit		*c;
	git_object		*o, *pc;
	git_oid			 oid;
	size_t			 i;
	unsigned		 k;
	int			 rc = -1, wrc;
	double			 cpu0 = gg_thread_cpu_ms();

	memset(&x, 0, sizeof(x));
	gg_oidset_init(&seen, 0);
	gg_oidset_init(&tips, 0);
	cm_scan_hits_init(&x.hits);
	x.p = p;
	x.opts.surface = CM_SCAN_SURF_GIT;
	x.opts.detectors = CM_SCAN_TOKEN_PATTERNS | CM_SCAN_KNOWN_SECRETS;
	if ((p->findings = calloc(GG_MAX_FINDINGS_KEPT,
	    sizeof(*p->findings))) == NULL ||
	    (x.sc = cm_scanner_new()) == NULL ||
	    git_repository_open_bare(&q, p->qpath) != 0) {
		(void)snprintf(p->job_err, sizeof(p->job_err), "bb-sidecar: "
		    "cannot open the quarantine");
		goto out;
	}
	x.repo = q;
	for (i = 0; i < p->ncmds; i++)
		if (p->cmds[i].state == GG_CMD_PENDING &&
		    gg_push_check_cmd(p, q, &p->cmds[i]) == -1) {
			gg_push_ng(&p->cmds[i], "unpack_failed",
			    "unpacker error");
		}
	for (i = 0; i < p->ncmds; i++) {
		struct gg_cmd *cmd = &p->cmds[i];

		if (cmd->state != GG_CMD_PENDING)
			continue;
		x.ref = cmd->ref;
		/* Ref names are scanned too, unsuppressibly. */
		git_oid_cpy(&x.commit, &cmd->new);
		x.commit_hit = 0;
		if (gg_scan_text(&x, cmd->ref, strlen(cmd->ref), "(ref name)",
		    1, NULL, 0) == -1)
			goto scanfail;
		if (cmd->del)
			continue;
		if (git_revwalk_new(&rw, q) != 0)
			goto scanfail;
		git_revwalk_sorting(rw, GIT_SORT_TOPOLOGICAL |
		    GIT_SORT_REVERSE);
		if (gg_push_hide_mirror(p, rw, q, &tips) == -1)
			goto scanfail;
		if (gg_scan_tags(&x, q, cmd, &tips) == -1)
			goto scanfail;
		if (git_object_lookup(&o, q, &cmd->new, GIT_OBJECT_ANY) != 0)
			goto scanfail;
		if (git_object_peel(&pc, o, GIT_OBJECT_COMMIT) != 0) {
			git_object_free(o);
			git_revwalk_free(rw);
			rw = NULL;
			continue;	/* a tag of a tree or blob */
		}
		wrc = git_revwalk_push(rw, git_object_id(pc));
		git_object_free(pc);
		git_object_free(o);
		if (wrc != 0)
			goto scanfail;
		while ((wrc = git_revwalk_next(&oid, rw)) == 0) {
			if (atomic_load(&p->cancel))
				goto out;
			if (gg_oidset_add(&seen, &oid) != 1)
				continue;	/* scanned once (§8.1) */
			if (git_commit_lookup(&c, q, &oid) != 0)
				goto scanfail;
			/* §7.4: every parent must be there. */
			for (k = 0; k < git_commit_parentcount(c); k++) {
				git_odb *odb;
				int ex = 0;

				if (git_repository_odb(&odb, q) == 0) {
					ex = git_odb_exists(odb,
					    git_commit_parent_id(c, k));
					git_odb_free(odb);
				}
				if (!ex)
					gg_push_ng(cmd, "shallow_update",
					    "shallow update not allowed");
			}
			if (cmd->state == GG_CMD_PENDING &&
			    gg_scan_commit(&x, c) == -1) {
				git_commit_free(c);
				goto scanfail;
			}
			git_commit_free(c);
		}
		git_revwalk_free(rw);
		rw = NULL;
		if (wrc != GIT_ITEROVER && cmd->state == GG_CMD_PENDING)
			gg_push_ng(cmd, "shallow_update", "shallow update not "
			    "allowed");
	}
	rc = 0;
	goto out;
scanfail:
	/* Anything the gate cannot read rejects the push (§7.4). */
	(void)snprintf(p->job_err, sizeof(p->job_err), "bb-sidecar: cannot "
	    "scan the push: %s", git_error_last() != NULL ?
	    git_error_last()->message : "scan error");
out:
	/* The scan job's own CPU time (spec/gitgate.md §17's measure). */
	cm_log(CM_LOG_INFO, "gitgate", "scan", 0, json_pack("{s:s,s:I,s:I,"
	    "s:f}", "repo", p->repo->name, "commits_scanned",
	    (json_int_t)p->commits_scanned, "bytes_scanned",
	    (json_int_t)p->bytes_scanned, "scan_cpu_ms",
	    gg_thread_cpu_ms() - cpu0));
	git_revwalk_free(rw);
	git_repository_free(q);
	cm_scanner_free(x.sc);
	cm_scan_hits_free(&x.hits);
	free(x.run);
	free(x.runlines);
	gg_oidset_free(&seen);
	gg_oidset_free(&tips);
	return (rc);
}
