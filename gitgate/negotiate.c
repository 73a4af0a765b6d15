/*
 * The have/ACK exchange and shallow computation of upload-pack v0/v1,
 * ported from git 2.39's upload-pack.c and shallow.c so that the
 * ACK/NAK sequence a client sees is the one git daemon would send
 * (spec/gitgate.md §6.3, §6.4, test 5).  Job threads only.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "gitgate/mirror.h"
#include "gitgate/negotiate.h"
#include "gitgate/pktline.h"

struct gg_neg *
gg_neg_new(const struct gg_cfg *cfg, const struct gg_repo *repo,
    struct gg_refs *refs, int stateless)
{
	struct gg_neg	*n;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		return (NULL);
	if ((n->out = evbuffer_new()) == NULL) {
		free(n);
		return (NULL);
	}
	n->cfg = cfg;
	n->repo = repo;
	n->refs = gg_refs_ref(refs);
	n->stateless = stateless;
	n->pack_fd = -1;
	n->max_objects = 1000000;
	n->max_builds = 2;
	n->queue_timeout_s = 60;
	gg_oidset_init(&n->they_have, 0);
	gg_oidset_init(&n->registered, 0);
	gg_oidset_init(&n->edges_extra, 0);
	return (n);
}

void
gg_neg_free(struct gg_neg *n)
{
	if (n == NULL)
		return;
	gg_oidvec_free(&n->wants);
	gg_oidvec_free(&n->shallows);
	gg_oidvec_free(&n->haves);
	gg_oidvec_free(&n->common);
	gg_oidvec_free(&n->extra_wants);
	gg_strvec_free(&n->nots);
	gg_oidset_free(&n->they_have);
	gg_oidset_free(&n->registered);
	gg_oidset_free(&n->edges_extra);
	gg_refs_unref(n->refs);
	evbuffer_free(n->out);
	if (n->pack_fd != -1)
		(void)close(n->pack_fd);
	free(n);
}

git_commit *
gg_neg_commit_of(git_repository *repo, const git_oid *oid)
{
	git_object	*o = NULL, *p = NULL;
	git_commit	*c = NULL;

	if (git_object_lookup(&o, repo, oid, GIT_OBJECT_ANY) != 0)
		return (NULL);
	if (git_object_type(o) == GIT_OBJECT_COMMIT)
		return ((git_commit *)o);
	if (git_object_type(o) == GIT_OBJECT_TAG &&
	    git_object_peel(&p, o, GIT_OBJECT_COMMIT) == 0)
		c = (git_commit *)p;
	git_object_free(o);
	return (c);
}

int
gg_neg_check_wants(struct gg_neg *n, git_repository *repo)
{
	char		 hex[GIT_OID_HEXSZ + 1];
	git_commit	*c;
	size_t		 i, r;
	int		 ok;

	for (i = 0; i < n->wants.n; i++) {
		const git_oid *w = &n->wants.v[i];

		if (gg_refs_has_oid(n->refs, w))
			continue;
		ok = 0;
		/* §6.2: stateless requests may want anything reachable. */
		if (n->stateless && (c = gg_neg_commit_of(repo, w)) != NULL) {
			for (r = 0; r < n->refs->n && !ok; r++) {
				const struct gg_ref *ref = &n->refs->v[r];
				const git_oid *tip = ref->has_peeled ?
				    &ref->peeled : &ref->oid;

				if (git_oid_equal(tip, git_commit_id(c)) ||
				    git_graph_descendant_of(repo, tip,
				    git_commit_id(c)) == 1)
					ok = 1;
			}
			git_commit_free(c);
		}
		if (!ok) {
			git_oid_tostr(hex, sizeof(hex), w);
			(void)snprintf(n->err, sizeof(n->err),
			    "upload-pack: not our ref %s", hex);
			return (-1);
		}
	}
	return (0);
}

/*
 * git's get_shallow_commits(): a depth-first walk from the wants that
 * gives each commit its smallest depth; commits at depth N are the new
 * shallow boundary (result), the ones above it are "not shallow".
 */
static int
gg_neg_shallow_walk(struct gg_neg *n, git_repository *repo,
    const struct gg_oidvec *heads, int depth, struct gg_oidvec *result,
    struct gg_oidset *not_shallow)
{
	struct gg_oidset	 depths;
	struct gg_oidvec	 stack = { 0 };
	git_commit		*commit = NULL;
	git_oid			 cur;
	size_t			 i = 0;
	unsigned		 k, np;
	int			 cur_depth = 0, d, rc = -1, have = 0;

	gg_oidset_init(&depths, 1);
	for (;;) {
		if (!have) {
			if (i < heads->n) {
				if ((commit = gg_neg_commit_of(repo,
				    &heads->v[i++])) == NULL)
					continue;
				git_oid_cpy(&cur, git_commit_id(commit));
				git_commit_free(commit);
				commit = NULL;
				if (gg_oidset_put(&depths, &cur, 0) == -1)
					goto out;
				cur_depth = 0;
			} else if (stack.n > 0) {
				git_oid_cpy(&cur, &stack.v[--stack.n]);
				(void)gg_oidset_get(&depths, &cur, &cur_depth);
			} else
				break;
			have = 1;
		}
		if (atomic_load(&n->cancel))
			goto out;
		if (git_commit_lookup(&commit, repo, &cur) != 0)
			goto out;
		cur_depth++;
		if (depth != GG_DEPTH_INFINITE && cur_depth >= depth) {
			git_commit_free(commit);
			commit = NULL;
			if (gg_oidvec_push(result, &cur) == -1)
				goto out;
			have = 0;
			continue;
		}
		if (gg_oidset_add(not_shallow, &cur) == -1)
			goto out;
		have = 0;
		np = git_commit_parentcount(commit);
		for (k = 0; k < np; k++) {
			const git_oid *po = git_commit_parent_id(commit, k);

			if (gg_oidset_get(&depths, po, &d)) {
				if (cur_depth >= d)
					continue;
			}
			if (gg_oidset_put(&depths, po, cur_depth) == -1)
				goto out;
			if (k + 1 < np) {
				if (gg_oidvec_push(&stack, po) == -1)
					goto out;
			} else {
				git_oid_cpy(&cur, po);
				have = 1;
			}
		}
		git_commit_free(commit);
		commit = NULL;
		if (have)
			(void)gg_oidset_get(&depths, &cur, &cur_depth);
	}
	rc = 0;
out:
	git_commit_free(commit);
	gg_oidvec_free(&stack);
	gg_oidset_free(&depths);
	return (rc);
}

/* A deepen-not argument as git resolves it: full, heads/, tags/. */
static const struct gg_ref *
gg_neg_dwim(const struct gg_refs *refs, const char *name)
{
	static const char *const pre[] = { "", "refs/", "refs/heads/",
	    "refs/tags/" };
	const struct gg_ref	*r;
	char			 full[GG_MAX_REF_BYTES + 16];
	size_t			 i;

	for (i = 0; i < sizeof(pre) / sizeof(pre[0]); i++) {
		(void)snprintf(full, sizeof(full), "%s%s", pre[i], name);
		if ((r = gg_refs_find(refs, full)) != NULL)
			return (r);
	}
	return (NULL);
}

/*
 * git's get_shallow_commits_by_rev_list() for deepen-since and
 * deepen-not: the commits reachable from the wants that are newer than
 * the cut and not reachable from the excluded refs; those with a parent
 * outside the set are the new boundary.
 */
static int
gg_neg_shallow_revlist(struct gg_neg *n, git_repository *repo,
    struct gg_oidvec *result, struct gg_oidset *not_shallow)
{
	struct gg_oidset	 excl, inset;
	struct gg_oidvec	 stack = { 0 }, order = { 0 };
	git_revwalk		*rw = NULL;
	const struct gg_ref	*r;
	git_commit		*c;
	git_oid			 oid;
	size_t			 i;
	unsigned		 k;
	int			 rc = -1, pushed = 0;

	gg_oidset_init(&excl, 0);
	gg_oidset_init(&inset, 0);
	if (git_revwalk_new(&rw, repo) != 0)
		goto out;
	for (i = 0; i < n->nots.n; i++) {
		if ((r = gg_neg_dwim(n->refs, n->nots.v[i])) == NULL) {
			(void)snprintf(n->err, sizeof(n->err), "upload-pack: "
			    "ambiguous deepen-not: %s", n->nots.v[i]);
			goto out;
		}
		if ((c = gg_neg_commit_of(repo, r->has_peeled ? &r->peeled :
		    &r->oid)) != NULL) {
			if (git_revwalk_push(rw, git_commit_id(c)) == 0)
				pushed = 1;
			git_commit_free(c);
		}
	}
	while (pushed && git_revwalk_next(&oid, rw) == 0)
		if (gg_oidset_add(&excl, &oid) == -1)
			goto out;
	for (i = 0; i < n->wants.n; i++)
		if ((c = gg_neg_commit_of(repo, &n->wants.v[i])) != NULL) {
			(void)gg_oidvec_push(&stack, git_commit_id(c));
			git_commit_free(c);
		}
	while (stack.n > 0) {
		git_oid_cpy(&oid, &stack.v[--stack.n]);
		if (gg_oidset_has(&inset, &oid) || gg_oidset_has(&excl, &oid))
			continue;
		if (atomic_load(&n->cancel) ||
		    git_commit_lookup(&c, repo, &oid) != 0)
			goto out;
		if (n->since > 0 && git_commit_time(c) < n->since) {
			git_commit_free(c);
			continue;
		}
		(void)gg_oidset_add(&inset, &oid);
		(void)gg_oidvec_push(&order, &oid);
		for (k = 0; k < git_commit_parentcount(c); k++)
			(void)gg_oidvec_push(&stack,
			    git_commit_parent_id(c, k));
		git_commit_free(c);
	}
	if (order.n == 0) {
		(void)snprintf(n->err, sizeof(n->err), "upload-pack: no "
		    "commits selected for shallow requests");
		goto out;
	}
	for (i = 0; i < order.n; i++) {
		if (git_commit_lookup(&c, repo, &order.v[i]) != 0)
			goto out;
		for (k = 0; k < git_commit_parentcount(c); k++)
			if (!gg_oidset_has(&inset, git_commit_parent_id(c, k)))
				break;
		if (k < git_commit_parentcount(c))
			(void)gg_oidvec_push(result, &order.v[i]);
		else
			(void)gg_oidset_add(not_shallow, &order.v[i]);
		git_commit_free(c);
	}
	rc = 0;
out:
	git_revwalk_free(rw);
	gg_oidvec_free(&stack);
	gg_oidvec_free(&order);
	gg_oidset_free(&excl);
	gg_oidset_free(&inset);
	return (rc);
}

/* deepen-relative: the client's shallow commits our refs reach. */
static int
gg_neg_reachable_shallows(struct gg_neg *n, git_repository *repo,
    struct gg_oidvec *heads)
{
	size_t	 i, r;

	for (i = 0; i < n->shallows.n; i++)
		for (r = 0; r < n->refs->n; r++) {
			const struct gg_ref *ref = &n->refs->v[r];
			const git_oid *tip = ref->has_peeled ? &ref->peeled :
			    &ref->oid;

			if (git_oid_equal(tip, &n->shallows.v[i]) ||
			    git_graph_descendant_of(repo, tip,
			    &n->shallows.v[i]) == 1) {
				if (gg_oidvec_push(heads, &n->shallows.v[i]) ==
				    -1)
					return (-1);
				break;
			}
		}
	return (0);
}

int
gg_neg_deepen(struct gg_neg *n, git_repository *repo)
{
	struct gg_oidvec	 result = { 0 };
	struct gg_oidset	 not_shallow, client;
	git_commit		*c;
	char			 hex[GIT_OID_HEXSZ + 1];
	size_t			 i, j;
	int			 rc = -1;

	gg_oidset_init(&not_shallow, 0);
	gg_oidset_init(&client, 0);
	for (i = 0; i < n->shallows.n; i++)
		(void)gg_oidset_add(&client, &n->shallows.v[i]);
	if (n->depth > 0 && (n->since > 0 || n->nots.n > 0)) {
		(void)snprintf(n->err, sizeof(n->err), "upload-pack: deepen "
		    "and deepen-since (or deepen-not) cannot be used together");
		goto out;
	}
	if (n->since > 0 || n->nots.n > 0) {
		if (gg_neg_shallow_revlist(n, repo, &result, &not_shallow) ==
		    -1)
			goto out;
	} else if (n->depth == GG_DEPTH_INFINITE && !n->relative) {
		/* The mirror is never shallow: everything unshallows. */
		for (i = 0; i < n->shallows.n; i++)
			(void)gg_oidset_add(&not_shallow, &n->shallows.v[i]);
	} else if (n->relative) {
		struct gg_oidvec heads = { 0 };

		rc = gg_neg_reachable_shallows(n, repo, &heads);
		if (rc == 0)
			rc = gg_neg_shallow_walk(n, repo, &heads,
			    n->depth == GG_DEPTH_INFINITE ? n->depth :
			    n->depth + 1, &result, &not_shallow);
		gg_oidvec_free(&heads);
		if (rc == -1) {
			(void)snprintf(n->err, sizeof(n->err), "bb-sidecar: "
			    "cannot compute the shallow boundary");
			goto out;
		}
		rc = -1;
	} else if (gg_neg_shallow_walk(n, repo, &n->wants, n->depth, &result,
	    &not_shallow) == -1) {
		(void)snprintf(n->err, sizeof(n->err), "bb-sidecar: cannot "
		    "compute the shallow boundary");
		goto out;
	}
	/* git prepends to its result list: the newest comes out first. */
	for (j = result.n; j > 0; j--) {
		const git_oid *o = &result.v[j - 1];

		if (gg_oidset_has(&client, o) || gg_oidset_has(&not_shallow, o))
			continue;
		git_oid_tostr(hex, sizeof(hex), o);
		(void)gg_pktline_printf(n->out, "shallow %s\n", hex);
		(void)gg_oidset_add(&n->registered, o);
	}
	for (i = 0; i < n->shallows.n; i++) {
		const git_oid *o = &n->shallows.v[i];

		if (gg_oidset_has(&not_shallow, o)) {
			git_oid_tostr(hex, sizeof(hex), o);
			(void)gg_pktline_printf(n->out, "unshallow %s\n", hex);
			if (git_commit_lookup(&c, repo, o) == 0) {
				for (j = 0; j < git_commit_parentcount(c); j++)
					(void)gg_oidvec_push(&n->extra_wants,
					    git_commit_parent_id(c, j));
				git_commit_free(c);
			}
			(void)gg_oidset_add(&n->edges_extra, o);
		}
		(void)gg_oidset_add(&n->registered, o);
	}
	n->deepened = 1;
	rc = 0;
out:
	gg_oidvec_free(&result);
	gg_oidset_free(&not_shallow);
	gg_oidset_free(&client);
	return (rc);
}

/*
 * git's ok_to_give_up(): every want reaches a commit the client has,
 * walking parents no older than the oldest have.
 */
static int
gg_neg_reaches(struct gg_neg *n, git_repository *repo, const git_oid *start)
{
	struct gg_oidset	 seen;
	struct gg_oidvec	 stack = { 0 };
	git_commit		*c;
	git_oid			 cur;
	unsigned		 k;
	int			 found = 0;

	gg_oidset_init(&seen, 0);
	if (gg_oidvec_push(&stack, start) == -1)
		goto out;
	(void)gg_oidset_add(&seen, start);
	while (stack.n > 0 && !found) {
		git_oid_cpy(&cur, &stack.v[--stack.n]);
		if (gg_oidset_has(&n->they_have, &cur)) {
			found = 1;
			break;
		}
		if (atomic_load(&n->cancel) ||
		    git_commit_lookup(&c, repo, &cur) != 0)
			break;
		for (k = 0; k < git_commit_parentcount(c); k++) {
			const git_oid *po = git_commit_parent_id(c, k);
			git_commit *pc;

			if (gg_oidset_has(&n->they_have, po)) {
				found = 1;
				break;
			}
			if (gg_oidset_add(&seen, po) != 1)
				continue;
			if (git_commit_lookup(&pc, repo, po) != 0)
				continue;
			if (git_commit_time(pc) >= n->oldest_have)
				(void)gg_oidvec_push(&stack, po);
			git_commit_free(pc);
		}
		git_commit_free(c);
	}
out:
	gg_oidvec_free(&stack);
	gg_oidset_free(&seen);
	return (found);
}

static int
gg_neg_ok_to_give_up(struct gg_neg *n, git_repository *repo)
{
	git_commit	*c;
	size_t		 i, nw = n->wants.n + n->extra_wants.n;
	int		 all = 1;

	if (n->common.n == 0)
		return (0);
	if (n->ready)
		return (1);
	if (n->ready_checked == n->they_have.n + 1)
		return (0);	/* nothing new since the last "no" */
	for (i = 0; i < nw && all; i++) {
		const git_oid *w = i < n->wants.n ? &n->wants.v[i] :
		    &n->extra_wants.v[i - n->wants.n];

		if ((c = gg_neg_commit_of(repo, w)) == NULL)
			continue;	/* not a commit: cannot tell, skip */
		if (!gg_neg_reaches(n, repo, git_commit_id(c)))
			all = 0;
		git_commit_free(c);
	}
	if (all)
		n->ready = 1;
	else
		n->ready_checked = n->they_have.n + 1;
	return (all);
}

/* git's got_oid(): -1 unknown, 0 known already, 1 newly common. */
static int
gg_neg_got(struct gg_neg *n, git_repository *repo, git_odb *odb,
    const git_oid *oid)
{
	git_object_t	 type;
	size_t		 len;
	git_commit	*c;
	unsigned	 k;
	int		 knew = 0;

	if (git_odb_read_header(&len, &type, odb, oid) != 0)
		return (-1);
	if (type == GIT_OBJECT_COMMIT) {
		if (git_commit_lookup(&c, repo, oid) != 0)
			return (-1);
		if (gg_oidset_add(&n->they_have, oid) == 0)
			knew = 1;
		if (n->oldest_have == 0 || git_commit_time(c) < n->oldest_have)
			n->oldest_have = git_commit_time(c);
		for (k = 0; k < git_commit_parentcount(c); k++)
			(void)gg_oidset_add(&n->they_have,
			    git_commit_parent_id(c, k));
		git_commit_free(c);
	}
	if (!knew) {
		(void)gg_oidvec_push(&n->common, oid);
		return (1);
	}
	return (0);
}

int
gg_neg_haves(struct gg_neg *n, git_repository *repo)
{
	git_odb		*odb = NULL;
	char		 hex[GIT_OID_HEXSZ + 1], last[GIT_OID_HEXSZ + 1];
	int		 mad = (n->caps & GG_CAP_MULTI_ACK_DETAILED) != 0;
	int		 ma = mad || (n->caps & GG_CAP_MULTI_ACK);
	size_t		 i;

	if (git_repository_odb(&odb, repo) != 0) {
		(void)snprintf(n->err, sizeof(n->err), "bb-sidecar: cannot "
		    "open the mirror's objects");
		return (-1);
	}
	for (i = 0; i < n->haves.n; i++) {
		const git_oid *h = &n->haves.v[i];

		git_oid_tostr(hex, sizeof(hex), h);
		if (gg_neg_got(n, repo, odb, h) == -1) {
			/* They have what we do not. */
			n->got_other = 1;
			if (ma && gg_neg_ok_to_give_up(n, repo))
				(void)gg_pktline_printf(n->out, "ACK %s %s\n",
				    hex, mad ? "ready" : "continue");
			continue;
		}
		n->got_common = 1;
		git_oid_cpy(&n->last, h);
		if (mad)
			(void)gg_pktline_printf(n->out, "ACK %s common\n", hex);
		else if (ma)
			(void)gg_pktline_printf(n->out, "ACK %s continue\n",
			    hex);
		else if (n->common.n == 1)
			(void)gg_pktline_printf(n->out, "ACK %s\n", hex);
	}
	git_odb_free(odb);
	n->haves.n = 0;
	git_oid_tostr(last, sizeof(last), &n->last);
	if (n->done) {
		if (n->common.n > 0) {
			if (ma)
				(void)gg_pktline_printf(n->out, "ACK %s\n",
				    last);
		} else
			(void)gg_pktline_printf(n->out, "NAK\n");
		return (0);
	}
	if (mad && n->got_common && !n->got_other &&
	    gg_neg_ok_to_give_up(n, repo))
		(void)gg_pktline_printf(n->out, "ACK %s ready\n", last);
	if (n->common.n == 0 || ma)
		(void)gg_pktline_printf(n->out, "NAK\n");
	n->got_common = n->got_other = 0;
	return (0);
}

int
gg_neg_v2_fetch(struct gg_neg *n, git_repository *repo, const char *tmpdir)
{
	struct evbuffer	*acks;
	git_odb		*odb = NULL;
	char		 hex[GIT_OID_HEXSZ + 1];
	size_t		 i, nack = 0;
	int		 pack = 1;

	if (n->wants.n == 0)
		return (0);	/* nothing wanted: nothing to say */
	if (gg_neg_check_wants(n, repo) == -1)
		return (-1);
	/* git's process_haves_and_send_acks() */
	if (n->haves.n > 0) {
		if ((acks = evbuffer_new()) == NULL ||
		    git_repository_odb(&odb, repo) != 0) {
			if (acks != NULL)
				evbuffer_free(acks);
			(void)snprintf(n->err, sizeof(n->err), "bb-sidecar: "
			    "cannot open the mirror's objects");
			return (-1);
		}
		for (i = 0; i < n->haves.n; i++) {
			if (gg_neg_got(n, repo, odb, &n->haves.v[i]) == -1)
				continue;
			git_oid_tostr(hex, sizeof(hex), &n->haves.v[i]);
			(void)gg_pktline_printf(acks, "ACK %s\n", hex);
			nack++;
		}
		git_odb_free(odb);
		n->haves.n = 0;
		if (!n->done) {
			(void)gg_pktline_printf(n->out, "acknowledgments\n");
			if (nack == 0)
				(void)gg_pktline_printf(n->out, "NAK\n");
			(void)evbuffer_add_buffer(n->out, acks);
			if (gg_neg_ok_to_give_up(n, repo)) {
				(void)gg_pktline_printf(n->out, "ready\n");
				(void)gg_pktline_delim(n->out);
			} else {
				(void)gg_pktline_flush(n->out);
				pack = 0;
			}
		}
		evbuffer_free(acks);
	}
	if (!pack)
		return (0);
	n->done = 1;
	if (gg_neg_deepening(n) || n->shallows.n > 0) {
		(void)gg_pktline_printf(n->out, "shallow-info\n");
		if (gg_neg_deepening(n)) {
			if (gg_neg_deepen(n, repo) == -1)
				return (-1);
		} else
			for (i = 0; i < n->shallows.n; i++)
				(void)gg_oidset_add(&n->registered,
				    &n->shallows.v[i]);
		(void)gg_pktline_delim(n->out);
	}
	(void)gg_pktline_printf(n->out, "packfile\n");
	return (gg_pack_build(n, repo, tmpdir));
}
