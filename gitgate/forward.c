/*
 * Forwarding a clean push upstream and applying it to the mirror
 * (spec/gitgate.md §10).  libgit2 pushes from the quarantine, where
 * temporary refs name the new tips; the lease compares upstream's
 * current values with the client's old ones before anything is sent;
 * each ref is "ok" only when upstream said so, and only those move in
 * the mirror, after upstream answered.  Job threads only.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"
#include "gitgate/conf.h"
#include "gitgate/gg.h"
#include "gitgate/mirror.h"
#include "gitgate/push.h"
#include "gitgate/upstream.h"

static struct gg_cmd *
gg_fwd_cmd(struct gg_push *p, const char *ref)
{
	size_t	 i;

	for (i = 0; i < p->ncmds; i++)
		if (p->cmds[i].state == GG_CMD_PENDING &&
		    !p->cmds[i].leased_out && strcmp(p->cmds[i].ref, ref) == 0)
			return (&p->cmds[i]);
	return (NULL);
}

/* §10.2: upstream's value must still be the client's old one. */
static int
gg_fwd_negotiation_cb(const git_push_update **updates, size_t len,
    void *payload)
{
	struct gg_up	*u = payload;
	struct gg_push	*p = gg_up_user(u);
	struct gg_cmd	*c;
	size_t		 i;
	int		 bad = 0;

	gg_up_progress(u);
	for (i = 0; i < len; i++) {
		if ((c = gg_fwd_cmd(p, updates[i]->dst_refname)) == NULL)
			continue;
		if (!git_oid_equal(&updates[i]->src, &c->old)) {
			c->leased_out = 1;
			bad = 1;
		}
	}
	if (bad) {
		git_error_set_str(GIT_ERROR_NET, "lease: upstream ref changed");
		return (-1);
	}
	return (0);
}

/* libgit2's pack upload: progress for the watchdog, bytes for §14. */
static int
gg_fwd_transfer_cb(unsigned int current, unsigned int total, size_t bytes,
    void *payload)
{
	struct gg_up	*u = payload;

	gg_up_progress(u);
	((struct gg_push *)gg_up_user(u))->up_bytes = bytes;
	return (0);
}

static int
gg_fwd_update_cb(const char *refname, const char *status, void *payload)
{
	struct gg_up	*u = payload;
	struct gg_push	*p = gg_up_user(u);
	struct gg_cmd	*c = gg_fwd_cmd(p, refname);
	char		 msg[GG_MSG_BYTES + 1];

	gg_up_progress(u);
	if (c == NULL)
		return (0);
	if (status == NULL) {
		c->state = GG_CMD_OK;
		return (0);
	}
	gg_up_sanitize(p->cfg, status, strlen(status), msg, sizeof(msg));
	gg_push_ng(c, "upstream_refused", "upstream: %s", msg);
	return (0);
}

/* Upstream's text, line by line, as "bb-sidecar: upstream: ..." */
static void
gg_fwd_line(struct gg_push *p, const char *s, size_t n)
{
	char	 msg[GG_MSG_BYTES + 1];

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 0 || p->upstream_lines >= GG_UPSTREAM_LINES)
		return;
	p->upstream_lines++;
	gg_up_sanitize(p->cfg, s, n, msg, sizeof(msg));
	(void)evbuffer_add_printf(p->msgs, "bb-sidecar: upstream: %s\n", msg);
}

static int
gg_fwd_sideband_cb(const char *str, int len, void *payload)
{
	struct gg_up	*u = payload;
	struct gg_push	*p = gg_up_user(u);
	int		 i;

	gg_up_progress(u);
	for (i = 0; i < len; i++) {
		if (str[i] == '\n' || str[i] == '\r') {
			/* \r lines are progress meters: only whole lines. */
			if (str[i] == '\n')
				gg_fwd_line(p, p->sideband_part,
				    p->sideband_len);
			p->sideband_len = 0;
			continue;
		}
		if (p->sideband_len < sizeof(p->sideband_part))
			p->sideband_part[p->sideband_len++] = str[i];
	}
	return (gg_up_cancelled(u) ? -1 : 0);
}

/* One upstream push of the commands still going; 0 or the libgit2 rc. */
static int
gg_fwd_once(struct gg_push *p, git_repository *q)
{
	git_remote		*remote = NULL;
	git_remote_connect_options co;
	git_push_options	 po;
	git_strarray		 specs = { NULL, 0 };
	git_reference		*tmp;
	char			 name[64], err[GG_MSG_BYTES + 1];
	size_t			 i, n = 0;
	int			 rc;

	if ((specs.strings = calloc(p->ncmds, sizeof(char *))) == NULL)
		return (-1);
	for (i = 0; i < p->ncmds; i++) {
		struct gg_cmd *c = &p->cmds[i];

		if (c->state != GG_CMD_PENDING || c->leased_out)
			continue;
		if (c->del) {
			(void)asprintf(&specs.strings[n++], ":%s", c->ref);
			continue;
		}
		(void)snprintf(name, sizeof(name), "refs/bb-sidecar/push/%zu",
		    i);
		if (git_reference_create(&tmp, q, name, &c->new, 1, NULL) !=
		    0) {
			rc = -1;
			goto out;
		}
		git_reference_free(tmp);
		(void)asprintf(&specs.strings[n++], "%s%s:%s", c->force ? "+" :
		    "", name, c->ref);
	}
	specs.count = n;
	rc = 0;
	if (n == 0)
		goto out;
	(void)git_remote_connect_options_init(&co,
	    GIT_REMOTE_CONNECT_OPTIONS_VERSION);
	(void)git_push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
	gg_up_callbacks(p->up, &co.callbacks);
	co.callbacks.push_negotiation = gg_fwd_negotiation_cb;
	co.callbacks.push_update_reference = gg_fwd_update_cb;
	co.callbacks.sideband_progress = gg_fwd_sideband_cb;
	co.callbacks.push_transfer_progress = gg_fwd_transfer_cb;
	po.callbacks = co.callbacks;
	po.pb_parallelism = 1;
	gg_up_begin(p->up);
	if ((rc = git_remote_create_anonymous(&remote, q, p->repo->url)) == 0 &&
	    (rc = git_remote_connect_ext(remote, GIT_DIRECTION_PUSH, &co)) ==
	    0) {
		gg_up_connected(p->up);
		rc = git_remote_upload(remote, &specs, &po);
	}
	if (rc != 0)
		(void)gg_up_error(p->up, rc, err, sizeof(err));
	if (remote != NULL) {
		(void)git_remote_disconnect(remote);
		git_remote_free(remote);
	}
	gg_up_end(p->up);
	cm_metric_add(NULL, gg_metric_repo(GG_MF_BYTES, p->repo->name,
	    "dir=\"%s\"", gg_mdir_names[GG_MD_UPSTREAM_OUT]),
	    (int64_t)p->up_bytes);
	p->up_bytes = 0;
	if (p->sideband_len > 0) {
		gg_fwd_line(p, p->sideband_part, p->sideband_len);
		p->sideband_len = 0;
	}
	if (rc != 0)
		cm_strlcpy(p->up_err, err, sizeof(p->up_err));
out:
	for (i = 0; i < n; i++)
		free(specs.strings[i]);
	free(specs.strings);
	return (rc);
}

static int
gg_fwd_move_pack(struct gg_push *p, const char *mirror)
{
	static const char *const ext[] = { ".pack", ".idx" };
	char		 from[PATH_MAX * 2], to[PATH_MAX * 2];
	char		 dir[PATH_MAX + 16];
	DIR		*d;
	struct dirent	*de;
	size_t		 l, e;
	int		 rc = 0;

	(void)snprintf(dir, sizeof(dir), "%s/objects/pack", p->qpath);
	/* .pack before .idx: a pack is used only once its index exists. */
	for (e = 0; e < 2; e++) {
		if ((d = opendir(dir)) == NULL)
			return (-1);
		while ((de = readdir(d)) != NULL) {
			l = strlen(de->d_name);
			if (l <= strlen(ext[e]) || strcmp(de->d_name + l -
			    strlen(ext[e]), ext[e]) != 0)
				continue;
			(void)snprintf(from, sizeof(from), "%s/%s", dir,
			    de->d_name);
			(void)snprintf(to, sizeof(to), "%s/objects/pack/%s",
			    mirror, de->d_name);
			if (rename(from, to) == -1) {
				(void)snprintf(p->apply_err,
				    sizeof(p->apply_err), "%s",
				    strerror(errno));
				rc = -1;
			}
		}
		(void)closedir(d);
	}
	return (rc);
}

/* §10.5 (2): compare-and-swap each accepted ref. */
static void
gg_fwd_apply_refs(struct gg_push *p, git_repository *m)
{
	git_reference	*ref;
	size_t		 i;
	int		 rc;

	for (i = 0; i < p->ncmds; i++) {
		struct gg_cmd *c = &p->cmds[i];

		if (c->state != GG_CMD_OK)
			continue;
		if (c->del) {
			rc = git_reference_lookup(&ref, m, c->ref);
			if (rc == 0) {
				rc = git_oid_equal(git_reference_target(ref),
				    &c->old) ? git_reference_delete(ref) : -1;
				git_reference_free(ref);
			}
		} else if (c->create)
			rc = git_reference_create(&ref, m, c->ref, &c->new, 0,
			    NULL);
		else
			rc = git_reference_create_matching(&ref, m, c->ref,
			    &c->new, 1, &c->old, NULL);
		if (rc == 0 && !c->del)
			git_reference_free(ref);
		if (rc != 0) {
			p->apply_failed = 1;
			(void)snprintf(p->apply_err, sizeof(p->apply_err),
			    "%s: %s", c->ref, git_error_last() != NULL ?
			    git_error_last()->message : "changed meanwhile");
		}
	}
}

void
gg_push_forward(struct gg_push *p)
{
	struct gg_mstate	*st = gg_mirror_state(p->repo->name);
	git_repository		*q = NULL, *m = NULL;
	char			 mirror[PATH_MAX];
	size_t			 i, nok = 0, nng = 0, nleased;
	int			 rc;

	if (st == NULL)
		return;
	gg_mirror_upstream_lock(st);
	if (git_repository_open_bare(&q, p->qpath) != 0) {
		(void)snprintf(p->job_err, sizeof(p->job_err), "bb-sidecar: "
		    "cannot open the quarantine");
		goto out;
	}
	rc = gg_fwd_once(p, q);
	for (i = 0, nleased = 0; i < p->ncmds; i++)
		if (p->cmds[i].leased_out &&
		    p->cmds[i].state == GG_CMD_PENDING) {
			gg_push_ng(&p->cmds[i], "upstream_changed",
			    "fetch first: upstream ref changed");
			nleased++;
		}
	/* §10.2: once more, on a new connection, without those refs. */
	if (rc != 0 && nleased > 0 && gg_push_pending(p) > 0 &&
	    !gg_up_cancelled(p->up))
		rc = gg_fwd_once(p, q);
	for (i = 0; i < p->ncmds; i++) {
		struct gg_cmd *c = &p->cmds[i];

		if (c->state == GG_CMD_PENDING) {
			/* Never "ok" for a ref upstream did not confirm. */
			if (rc != 0)
				gg_push_ng(c, "upstream_unreachable",
				    "upstream unreachable: %s", p->up_err);
			else
				gg_push_ng(c, "upstream_unreachable",
				    "upstream unreachable: no status for the "
				    "ref");
		}
		if (c->state == GG_CMD_OK)
			nok++;
		else if (c->token != NULL && (strcmp(c->token,
		    "upstream_refused") == 0 || strcmp(c->token,
		    "upstream_changed") == 0))
			nng++;
	}
	(void)snprintf(p->upstream, sizeof(p->upstream), "%s", nok > 0 &&
	    nng == 0 ? "ok" : nok > 0 ? "partial" : rc != 0 &&
	    nng == 0 ? "error" : "rejected");
	if (nok == 0)
		goto out;
	/* §10.5: into the mirror, under the object lock. */
	gg_mirror_path(p->cfg, p->repo, mirror, sizeof(mirror));
	gg_mirror_objects_wrlock(st);
	if (gg_fwd_move_pack(p, mirror) == -1)
		p->apply_failed = 1;
	else if (git_repository_open_bare(&m, mirror) != 0) {
		p->apply_failed = 1;
		(void)snprintf(p->apply_err, sizeof(p->apply_err),
		    "cannot open the mirror");
	} else
		gg_fwd_apply_refs(p, m);
	gg_mirror_objects_unlock(st);
	if (p->apply_failed)
		cm_log(CM_LOG_ERROR, "gitgate", "apply_failed", 0, json_pack(
		    "{s:s,s:s}", "repo", p->repo->name, "error", p->apply_err));
out:
	git_repository_free(m);
	git_repository_free(q);
	gg_mirror_upstream_unlock(st);
	gg_push_discard(p);
}

void
gg_push_discard(struct gg_push *p)
{
	if (p->qpath[0] != '\0') {
		(void)gg_mirror_rmtree(p->qpath);
		p->qpath[0] = '\0';
	}
}
