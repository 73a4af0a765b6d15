/*
 * The queue thread's file work (spec/supervise.md §5.5): the index of
 * pending proposals, the tick (lookups by name, listings), applying
 * decisions, archiving, hold expiry and withdrawal, start-up recovery.
 * Everything here runs on the queue thread (or in cm_queue_new before
 * it starts); the lock is taken only around the shared lists.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/bounds.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/queue_int.h"
#include "common/util.h"

static void	 cm_qscan_expiry_cb(evutil_socket_t, short, void *);
static int	 cm_qscan_noted(struct cm_queue *, const char *,
		    const struct stat *);
static void	 cm_qscan_malformed(struct cm_queue *, const char *,
		    const char *, const struct stat *);
static void	 cm_qscan_io_error(struct cm_queue *, const char *,
		    const char *, int);
static void	 cm_qscan_apply(struct cm_queue *, struct cm_qentry *,
		    json_t *, enum cm_qstatus);
static int	 cm_qscan_archive(struct cm_queue *, struct cm_qentry *);
static void	 cm_qscan_finish(struct cm_queue *, struct cm_qentry *,
		    enum cm_qstatus, const char *, enum cm_queue_outcome,
		    const char *);
static void	 cm_qscan_list_responses(struct cm_queue *);
static void	 cm_qscan_list_pending(struct cm_queue *);
static void	 cm_qscan_orphan(struct cm_queue *, const char *, const char *);
static struct cm_qentry *cm_qscan_load(struct cm_queue *, const char *);

struct cm_qentry *
cm_qscan_find(struct cm_queue *q, const char *id)
{
	struct cm_qentry	*e;

	TAILQ_FOREACH(e, &q->entries, link)
		if (strcmp(e->id, id) == 0)
			return (e);
	return (NULL);
}

size_t
cm_qscan_count(struct cm_queue *q, enum cm_qkind kind, int visible_only)
{
	struct cm_qentry	*e;
	size_t			 n = 0;

	TAILQ_FOREACH(e, &q->entries, link) {
		if (e->decision != NULL || (visible_only && !e->visible))
			continue;
		if (kind == CM_QK_COUNT || e->kind == kind)
			n++;
	}
	return (n);
}

static void
cm_qscan_expiry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cm_qentry	*e = arg;
	struct cm_queue		*q = e->expiry_q;

	cm_qscan_expire(q, e, "hold deadline passed");
	cm_queue_gauges(q);
}

struct cm_qentry *
cm_qscan_index(struct cm_queue *q, const char *id, json_t *proposal,
    enum cm_qkind kind, int64_t created_ms)
{
	struct cm_qentry	*e;
	struct timeval		 tv;
	const char		*b, *s;
	int64_t			 left;

	if ((e = calloc(1, sizeof(*e))) == NULL) {
		json_decref(proposal);
		return (NULL);
	}
	cm_strlcpy(e->id, id, sizeof(e->id));
	e->kind = kind;
	e->created_ms = created_ms;
	e->proposal = proposal;
	e->expiry_q = q;
	TAILQ_INIT(&e->waiters);
	b = json_string_value(json_object_get(proposal, "bottle"));
	if (cm_qfile_kind_is_hold(kind)) {
		s = json_string_value(json_object_get(proposal, "expires_at"));
		if (s == NULL || cm_qfile_time_parse(s, &e->expires_ms) == -1)
			e->expires_ms = created_ms;
		left = e->expires_ms - cm_qfile_now_ms();
		if (left < 0)
			left = 0;
		tv.tv_sec = (time_t)(left / 1000);
		tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
		/* Only the queue expires a hold, by this timer. */
		if ((e->expiry = evtimer_new(q->base, cm_qscan_expiry_cb, e)) !=
		    NULL)
			evtimer_add(e->expiry, &tv);
	} else {
		e->visible = b != NULL && strcmp(b, q->bottle) == 0;
		e->dedupe = cm_queue_agent_key(kind,
		    json_object_get(proposal, "payload"));
	}
	pthread_mutex_lock(&q->lock);
	TAILQ_INSERT_TAIL(&q->entries, e, link);
	pthread_mutex_unlock(&q->lock);
	return (e);
}

void
cm_qscan_free_entry(struct cm_queue *q, struct cm_qentry *e)
{
	struct cm_queue_req	*r;

	pthread_mutex_lock(&q->lock);
	TAILQ_REMOVE(&q->entries, e, link);
	/* Normally empty: the caller notified the waiters already. */
	while ((r = TAILQ_FIRST(&e->waiters)) != NULL) {
		TAILQ_REMOVE(&e->waiters, r, link);
		r->entry = NULL;
		q->nwaiters--;
		r->done = 1;
		r->res.outcome = CM_QUEUE_STOPPING;
		pthread_mutex_unlock(&q->lock);
		cm_queue_deliver(q, r);
		pthread_mutex_lock(&q->lock);
	}
	cm_metric_set(q->m_waiters, (int64_t)q->nwaiters);
	pthread_mutex_unlock(&q->lock);
	if (e->expiry != NULL)
		event_free(e->expiry);
	json_decref(e->proposal);
	json_decref(e->decision);
	free(e->dedupe);
	free(e);
}

void
cm_qscan_notify(struct cm_queue *q, struct cm_qentry *e,
    enum cm_queue_outcome outcome, enum cm_qstatus status,
    const json_t *response)
{
	struct cm_queue_reqs	 todo;
	struct cm_queue_req	*r;

	TAILQ_INIT(&todo);
	pthread_mutex_lock(&q->lock);
	while ((r = TAILQ_FIRST(&e->waiters)) != NULL) {
		TAILQ_REMOVE(&e->waiters, r, link);
		r->entry = NULL;
		r->done = 1;
		q->nwaiters--;
		TAILQ_INSERT_TAIL(&todo, r, link);
	}
	cm_metric_set(q->m_waiters, (int64_t)q->nwaiters);
	pthread_mutex_unlock(&q->lock);
	while ((r = TAILQ_FIRST(&todo)) != NULL) {
		TAILQ_REMOVE(&todo, r, link);
		r->res.outcome = outcome;
		cm_strlcpy(r->res.id, e->id, sizeof(r->res.id));
		r->res.kind = e->kind;
		r->res.status = status;
		r->res.created_ms = e->created_ms;
		/* Each waiter gets its own copies: owners are other threads. */
		r->res.proposal = json_deep_copy(e->proposal);
		r->res.response = response != NULL ?
		    json_deep_copy(response) : NULL;
		cm_queue_deliver(q, r);
	}
}

/* 1 if this version of the file was logged already; records it if not. */
static int
cm_qscan_noted(struct cm_queue *q, const char *name, const struct stat *st)
{
	struct cm_qnoted	*n;
	int64_t			 mt = (int64_t)st->st_mtim.tv_sec * 1000000000 +
				    st->st_mtim.tv_nsec;
	size_t			 i;

	for (i = 0; i < q->nnoted; i++) {
		n = &q->noted[i];
		if (strcmp(n->name, name) == 0 && n->ino == st->st_ino &&
		    n->size == st->st_size && n->mtime_ns == mt)
			return (1);
	}
	n = &q->noted[q->noted_next];
	cm_strlcpy(n->name, name, sizeof(n->name));
	n->ino = st->st_ino;
	n->size = st->st_size;
	n->mtime_ns = mt;
	q->noted_next = (q->noted_next + 1) % CM_QUEUE_MAX_NOTED_FILES;
	if (q->nnoted < CM_QUEUE_MAX_NOTED_FILES)
		q->nnoted++;
	return (0);
}

static void
cm_qscan_malformed(struct cm_queue *q, const char *file, const char *why,
    const struct stat *st)
{
	if (st != NULL && cm_qscan_noted(q, file, st))
		return;
	cm_metric_add(NULL, q->m_err_malformed, 1);
	cm_log(CM_LOG_WARN, "supervise", "queue_malformed", 0,
	    json_pack("{s:s,s:s}", "file", file, "reason", why));
}

/* dir/name (name may be NULL) could not be read or written. */
static void
cm_qscan_io_error(struct cm_queue *q, const char *dir, const char *name,
    int err)
{
	char	 path[PATH_MAX + NAME_MAX + 2];

	if (snprintf(path, sizeof(path), "%s%s%s", dir, name != NULL ? "/" :
	    "", name != NULL ? name : "") >= (int)sizeof(path))
		path[sizeof(path) - 1] = '\0';
	cm_metric_add(NULL, q->m_err_io, 1);
	cm_log(CM_LOG_ERROR, "supervise", "queue_io_error", 0,
	    json_pack("{s:s,s:i,s:s}", "path", path, "errno", err, "reason",
	    strerror(err)));
}

/* Both files of a decided entry into archive/; 0, or -1 to retry. */
static int
cm_qscan_archive(struct cm_queue *q, struct cm_qentry *e)
{
	char	 from[48], to[64];
	int	 rc;

	(void)snprintf(from, sizeof(from), "%s.json", e->id);
	(void)snprintf(to, sizeof(to), "%s.proposal.json", e->id);
	if ((rc = cm_qfile_move(q->dirs.pending, from, q->dirs.archive,
	    to)) == -1) {
		cm_qscan_io_error(q, q->dirs.pending_path, from, errno);
		return (-1);
	}
	(void)snprintf(to, sizeof(to), "%s.response.json", e->id);
	if ((rc = cm_qfile_move(q->dirs.responses, from, q->dirs.archive,
	    to)) == -1) {
		cm_qscan_io_error(q, q->dirs.responses_path, from, errno);
		return (-1);
	}
	return (0);
}

/* A valid response for e: archive, tell every waiter, count, log. */
static void
cm_qscan_apply(struct cm_queue *q, struct cm_qentry *e, json_t *resp,
    enum cm_qstatus status)
{
	int64_t		 latency = cm_qfile_now_ms() - e->created_ms;
	const char	*by = json_string_value(json_object_get(resp,
			    "decided_by"));
	int		 arch;

	if (latency < 0)
		latency = 0;
	arch = cm_qscan_archive(q, e);
	/* The waiters are told even when archiving must be retried. */
	cm_qscan_notify(q, e, CM_QUEUE_DECIDED, status, resp);
	cm_metric_add(NULL, q->m_decided[e->kind][status], 1);
	cm_metric_observe_ms(NULL, q->m_decision_s, latency);
	cm_log(CM_LOG_INFO, "supervise", "decision_applied", 0,
	    json_pack("{s:s,s:s,s:s,s:o,s:I}", "proposal", e->id, "kind",
	    cm_qfile_kind_name(e->kind), "status",
	    cm_qfile_status_name(status), "decided_by",
	    cm_log_peer(by, by != NULL ? strlen(by) : 0), "latency_ms",
	    (json_int_t)latency));
	if (arch == -1) {
		e->decision = resp;
		e->dstatus = status;
		if (e->expiry != NULL)
			event_del(e->expiry);
		return;
	}
	json_decref(resp);
	cm_qscan_free_entry(q, e);
}

int
cm_qscan_check(struct cm_queue *q, struct cm_qentry *e)
{
	struct stat	 st;
	char		 name[48], file[64], *buf;
	const char	*why = NULL;
	enum cm_qstatus	 status;
	json_t		*resp;
	size_t		 len;
	int		 rc;

	if (e->decision != NULL)
		return (0);
	(void)snprintf(name, sizeof(name), "%s.json", e->id);
	(void)snprintf(file, sizeof(file), "responses/%s", name);
	rc = cm_qfile_read(q->dirs.responses, name,
	    CM_QUEUE_RESPONSE_MAX_BYTES, &buf, &len, &st, &why);
	if (rc == 1)
		return (0);
	if (rc == -1) {
		cm_qscan_io_error(q, q->dirs.responses_path, name, errno);
		return (0);
	}
	if (rc == -2) {
		cm_qscan_malformed(q, file, why, &st);
		return (0);
	}
	resp = cm_qfile_response_parse(buf, len, e->id, e->kind,
	    (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000,
	    0, &status, &why);
	free(buf);
	if (resp == NULL) {
		/* Not a decision: keep waiting for a valid replacement. */
		cm_qscan_malformed(q, file, why, &st);
		return (0);
	}
	cm_qscan_apply(q, e, resp, status);
	return (1);
}

/*
 * Archives e with a sidecar-written response (expired, withdrawn) and
 * tells the waiters; no audit line: neither is a decision.
 */
static void
cm_qscan_finish(struct cm_queue *q, struct cm_qentry *e,
    enum cm_qstatus status, const char *notes, enum cm_queue_outcome outcome,
    const char *event)
{
	char	 from[48], to[64], ts[40];
	json_t	*resp;

	cm_qfile_time_fmt(cm_qfile_now_ms(), ts, sizeof(ts));
	resp = json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", e->id, "status",
	    cm_qfile_status_name(status), "notes", notes, "decided_by",
	    "bb-sidecar", "decided_at", ts);
	(void)snprintf(from, sizeof(from), "%s.json", e->id);
	(void)snprintf(to, sizeof(to), "%s.proposal.json", e->id);
	if (cm_qfile_move(q->dirs.pending, from, q->dirs.archive, to) == -1)
		cm_qscan_io_error(q, q->dirs.pending_path, NULL, errno);
	(void)snprintf(to, sizeof(to), "%s.response.json", e->id);
	if (resp == NULL || cm_qfile_write(q->dirs.archive_path, to, resp) ==
	    -1)
		cm_qscan_io_error(q, q->dirs.archive_path, NULL, errno);
	cm_qscan_notify(q, e, outcome, status, resp);
	cm_metric_add(NULL, q->m_decided[e->kind][status], 1);
	cm_log(CM_LOG_INFO, "supervise", event, 0, json_pack("{s:s,s:s,s:s}",
	    "proposal", e->id, "kind", cm_qfile_kind_name(e->kind), "reason",
	    notes));
	json_decref(resp);
	cm_qscan_free_entry(q, e);
}

void
cm_qscan_expire(struct cm_queue *q, struct cm_qentry *e, const char *notes)
{
	/* One last look: a decision written just in time still counts. */
	if (cm_qscan_check(q, e))
		return;
	if (e->decision != NULL)
		return;
	cm_qscan_finish(q, e, CM_QS_EXPIRED, notes, CM_QUEUE_EXPIRED,
	    "proposal_expired");
}

void
cm_qscan_withdraw(struct cm_queue *q, struct cm_qentry *e, const char *notes)
{
	cm_qscan_finish(q, e, CM_QS_WITHDRAWN, notes, CM_QUEUE_WITHDRAWN,
	    "proposal_withdrawn");
}

/* pending/ID.json not in the index: read, check, index.  NULL if none. */
static struct cm_qentry *
cm_qscan_load(struct cm_queue *q, const char *id)
{
	struct stat	 st;
	char		 name[48], file[64], *buf;
	const char	*why = NULL;
	enum cm_qkind	 kind;
	int64_t		 created;
	json_t		*p;
	size_t		 len;
	int		 rc;

	(void)snprintf(name, sizeof(name), "%s.json", id);
	(void)snprintf(file, sizeof(file), "pending/%s", name);
	rc = cm_qfile_read(q->dirs.pending, name, CM_QUEUE_PROPOSAL_MAX_BYTES,
	    &buf, &len, &st, &why);
	if (rc == 1)
		return (NULL);
	if (rc == -1) {
		cm_qscan_io_error(q, q->dirs.pending_path, NULL, errno);
		return (NULL);
	}
	if (rc == -2) {
		cm_qscan_malformed(q, file, why, &st);
		return (NULL);
	}
	p = cm_qfile_proposal_parse(buf, len, id, &kind, &created, &why);
	free(buf);
	if (p == NULL) {
		cm_qscan_malformed(q, file, why, &st);
		return (NULL);
	}
	return (cm_qscan_index(q, id, p, kind, created));
}

void
cm_qscan_lookup(struct cm_queue *q, struct cm_queue_req *r)
{
	struct stat	 st;
	char		 name[64], *buf;
	const char	*why = NULL;
	enum cm_qkind	 kind;
	enum cm_qstatus	 status;
	int64_t		 created;
	json_t		*p, *resp;
	size_t		 len;

	r->res.outcome = CM_QUEUE_UNKNOWN;
	(void)snprintf(name, sizeof(name), "%s.proposal.json", r->id);
	if (cm_qfile_read(q->dirs.archive, name, CM_QUEUE_PROPOSAL_MAX_BYTES,
	    &buf, &len, &st, &why) != 0) {
		(void)cm_qscan_load(q, r->id);
		return;
	}
	p = cm_qfile_proposal_parse(buf, len, r->id, &kind, &created, &why);
	free(buf);
	if (p == NULL)
		return;
	(void)snprintf(name, sizeof(name), "%s.response.json", r->id);
	if (cm_qfile_read(q->dirs.archive, name, CM_QUEUE_RESPONSE_MAX_BYTES,
	    &buf, &len, &st, &why) != 0) {
		json_decref(p);
		return;
	}
	resp = cm_qfile_response_parse(buf, len, r->id, kind,
	    (int64_t)st.st_mtim.tv_sec * 1000, 1, &status, &why);
	free(buf);
	if (resp == NULL) {
		json_decref(p);
		return;
	}
	r->res.kind = kind;
	r->res.status = status;
	r->res.created_ms = created;
	r->res.proposal = p;
	r->res.response = resp;
	r->res.outcome = status == CM_QS_EXPIRED ? CM_QUEUE_EXPIRED :
	    status == CM_QS_WITHDRAWN ? CM_QUEUE_WITHDRAWN : CM_QUEUE_DECIDED;
}

/* A response with no pending proposal in the index (§5.5 step 5). */
static void
cm_qscan_orphan(struct cm_queue *q, const char *id, const char *name)
{
	struct stat	 st;
	char		 prop[64], resp[64], file[300], *buf;
	const char	*why = NULL;
	enum cm_qstatus	 status;
	json_t		*r;
	size_t		 len;

	(void)snprintf(prop, sizeof(prop), "%s.proposal.json", id);
	(void)snprintf(resp, sizeof(resp), "%s.response.json", id);
	(void)snprintf(file, sizeof(file), "responses/%s", name);
	if (fstatat(q->dirs.responses, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return;
	if (fstatat(q->dirs.archive, prop, &(struct stat){ 0 },
	    AT_SYMLINK_NOFOLLOW) == 0) {
		if (fstatat(q->dirs.archive, resp, &(struct stat){ 0 },
		    AT_SYMLINK_NOFOLLOW) == 0) {
			/* Decided or expired already: too late to count. */
			(void)snprintf(resp, sizeof(resp),
			    "%s.late-response.json", id);
			if (cm_qfile_move(q->dirs.responses, name,
			    q->dirs.archive, resp) == -1)
				cm_qscan_io_error(q, q->dirs.archive_path,
				    NULL, errno);
			cm_log(CM_LOG_WARN, "supervise", "late_response", 0,
			    json_pack("{s:s,s:s}", "proposal", id, "file",
			    file));
			return;
		}
		/* A crash between the two renames: finish the archive. */
		if (cm_qfile_move(q->dirs.responses, name, q->dirs.archive,
		    resp) == -1)
			cm_qscan_io_error(q, q->dirs.archive_path, NULL, errno);
		return;
	}
	if (fstatat(q->dirs.pending, name, &(struct stat){ 0 },
	    AT_SYMLINK_NOFOLLOW) == 0) {
		/*
		 * A malformed proposal the operator rejected: rejection is
		 * always safe, so the pair goes to the archive.
		 */
		if (cm_qfile_read(q->dirs.responses, name,
		    CM_QUEUE_RESPONSE_MAX_BYTES, &buf, &len, &st, &why) != 0)
			return;
		r = cm_qfile_response_parse(buf, len, id, CM_QK_EGRESS_BLOCK,
		    0, 0, &status, &why);
		free(buf);
		if (r != NULL && status == CM_QS_REJECTED) {
			if (cm_qfile_move(q->dirs.pending, name,
			    q->dirs.archive, prop) == -1 ||
			    cm_qfile_move(q->dirs.responses, name,
			    q->dirs.archive, resp) == -1)
				cm_qscan_io_error(q, q->dirs.archive_path,
				    NULL, errno);
			else
				cm_log(CM_LOG_INFO, "supervise",
				    "decision_applied", 0, json_pack(
				    "{s:s,s:s,s:s}", "proposal", id, "kind",
				    "malformed", "status", "rejected"));
		}
		json_decref(r);
		return;
	}
	cm_qscan_malformed(q, file, "no proposal with this id", &st);
}

static void
cm_qscan_list_responses(struct cm_queue *q)
{
	DIR			*dir;
	struct dirent		*de;
	struct cm_qentry	*e;
	struct stat		 st;
	char			 id[CM_QUEUE_ID_BYTES], file[300];
	size_t			 n = 0;
	int			 fd;

	if ((fd = dup(q->dirs.responses)) == -1 ||
	    (dir = fdopendir(fd)) == NULL) {
		if (fd != -1)
			(void)close(fd);
		cm_qscan_io_error(q, q->dirs.responses_path, NULL, errno);
		return;
	}
	rewinddir(dir);
	while ((de = readdir(dir)) != NULL && n++ < CM_QUEUE_MAX_LIST) {
		if (de->d_name[0] == '.')
			continue;
		if (!cm_qfile_id_from_name(de->d_name, ".json", id))
			continue;
		if (fstatat(q->dirs.responses, de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode)) {
			(void)snprintf(file, sizeof(file), "responses/%s",
			    de->d_name);
			cm_qscan_malformed(q, file, "not a regular file", &st);
			continue;
		}
		if ((e = cm_qscan_find(q, id)) == NULL)
			e = cm_qscan_load(q, id);
		if (e == NULL)
			cm_qscan_orphan(q, id, de->d_name);
		else if (e->decision == NULL)
			(void)cm_qscan_check(q, e);
	}
	(void)closedir(dir);
}

static void
cm_qscan_list_pending(struct cm_queue *q)
{
	DIR			*dir;
	struct dirent		*de;
	struct cm_qentry	*e, *next;
	struct stat		 st;
	char			 id[CM_QUEUE_ID_BYTES], name[48];
	size_t			 n = 0;
	int			 fd;

	if ((fd = dup(q->dirs.pending)) == -1 ||
	    (dir = fdopendir(fd)) == NULL) {
		if (fd != -1)
			(void)close(fd);
		cm_qscan_io_error(q, q->dirs.pending_path, NULL, errno);
		return;
	}
	rewinddir(dir);
	while ((de = readdir(dir)) != NULL && n++ < CM_QUEUE_MAX_LIST) {
		if (de->d_name[0] == '.' ||
		    !cm_qfile_id_from_name(de->d_name, ".json", id))
			continue;
		if (cm_qscan_find(q, id) == NULL)
			(void)cm_qscan_load(q, id);
	}
	(void)closedir(dir);
	/*
	 * A listing may lag on a share; a vanished file is confirmed by
	 * name before its waiters are told.
	 */
	TAILQ_FOREACH_SAFE(e, &q->entries, link, next) {
		if (e->decision != NULL)
			continue;
		(void)snprintf(name, sizeof(name), "%s.json", e->id);
		if (fstatat(q->dirs.pending, name, &st, AT_SYMLINK_NOFOLLOW) ==
		    -1 && errno == ENOENT) {
			json_t *resp = json_pack("{s:s,s:s,s:s,s:s}", "id",
			    e->id, "status", "withdrawn", "notes",
			    "proposal file removed", "decided_by",
			    "bb-sidecar");

			cm_qscan_notify(q, e, CM_QUEUE_WITHDRAWN,
			    CM_QS_WITHDRAWN, resp);
			json_decref(resp);
			cm_metric_add(NULL,
			    q->m_decided[e->kind][CM_QS_WITHDRAWN], 1);
			cm_log(CM_LOG_WARN, "supervise", "proposal_withdrawn",
			    0, json_pack("{s:s,s:s,s:s}", "proposal", e->id,
			    "kind", cm_qfile_kind_name(e->kind), "reason",
			    "proposal file removed"));
			cm_qscan_free_entry(q, e);
		}
	}
}

void
cm_qscan_tick(struct cm_queue *q, int full)
{
	struct cm_qentry	*e, *next;
	int			 busy;

	TAILQ_FOREACH_SAFE(e, &q->entries, link, next) {
		if (e->decision != NULL) {
			/* A failed archive step, retried every tick. */
			if (cm_qscan_archive(q, e) == 0)
				cm_qscan_free_entry(q, e);
			continue;
		}
		pthread_mutex_lock(&q->lock);
		busy = !TAILQ_EMPTY(&e->waiters);
		pthread_mutex_unlock(&q->lock);
		/* By name, not by listing: share caches make listings lag. */
		if (busy)
			(void)cm_qscan_check(q, e);
	}
	if (full) {
		q->last_list_ms = (int64_t)cm_now_ms();
		cm_qscan_list_responses(q);
		cm_qscan_list_pending(q);
	}
	cm_queue_gauges(q);
}

/* Creates and deletes a dot-named file: can the sidecar write here? */
static int
cm_qscan_probe(int dirfd, const char *path, char *err, size_t errlen)
{
	char	 name[64];
	int	 fd;

	(void)snprintf(name, sizeof(name), ".probe-%ld", (long)getpid());
	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd == -1) {
		(void)snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return (-1);
	}
	(void)close(fd);
	(void)unlinkat(dirfd, name, 0);
	return (0);
}

int
cm_qscan_startup(struct cm_queue *q, char *err, size_t errlen)
{
	struct cm_qentry	*e, *next;
	size_t			 swept;

	if (cm_qscan_probe(q->dirs.pending, q->dirs.pending_path, err,
	    errlen) == -1 || cm_qscan_probe(q->dirs.archive,
	    q->dirs.archive_path, err, errlen) == -1)
		return (-1);
	if ((swept = cm_qfile_sweep_temps(&q->dirs,
	    CM_QUEUE_TEMP_MAX_AGE_S)) > 0)
		cm_log(CM_LOG_INFO, "supervise", "queue_temp_swept", 0,
		    json_pack("{s:I}", "files", (json_int_t)swept));
	cm_qscan_list_pending(q);
	/* The held requests died with the last process: refuse them. */
	TAILQ_FOREACH_SAFE(e, &q->entries, link, next)
		if (cm_qfile_kind_is_hold(e->kind))
			cm_qscan_finish(q, e, CM_QS_EXPIRED,
			    "sidecar restarted; the held request is gone",
			    CM_QUEUE_EXPIRED, "proposal_expired");
	cm_qscan_list_responses(q);
	q->last_list_ms = (int64_t)cm_now_ms();
	return (0);
}
