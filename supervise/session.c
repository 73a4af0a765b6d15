/*
 * MCP sessions (spec/supervise.md §3.4): one table for every worker,
 * behind one mutex (MCP traffic is light; the proxy path never takes
 * it).  A session keeps its revision, the client's name and version,
 * its times and the request ids in flight, which name the worker and
 * the call to cancel.  Memory only: a restart forgets every session.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <openssl/rand.h>

#include "common/bounds.h"
#include "common/log.h"
#include "common/util.h"
#include "common/worker.h"
#include "supervise/sv.h"

struct sv_inflight {
	char			 idkey[80];
	struct cm_worker	*w;		/* where the call runs */
	uint64_t		 uid;		/* 0: nothing to cancel */
	struct sv_inflight	*next;
};

struct sv_session {
	char			 id[40];
	enum sv_rev		 rev;
	char			 peer[64];
	char			 name[128];
	char			 version[64];
	uint64_t		 created_ms;
	uint64_t		 last_ms;
	struct sv_inflight	*inflight;
	TAILQ_ENTRY(sv_session)	 link;
};

/* Guards everything below. */
static pthread_mutex_t			 sv_sess_lock =
    PTHREAD_MUTEX_INITIALIZER;
static TAILQ_HEAD(, sv_session)		 sv_sessions =
    TAILQ_HEAD_INITIALIZER(sv_sessions);
static size_t				 sv_nsessions;
static uint64_t				 sv_last_sweep_ms;

struct sv_cancel_msg {
	uint64_t	 uid;
};

static void
sv_session_cancel_cb(struct cm_worker *w, void *arg)
{
	struct sv_cancel_msg	*m = arg;

	sv_call_cancel_uid(w, m->uid);
	free(m);
}

/* Called without the lock: posts the cancel to the call's worker. */
static void
sv_session_post_cancel(struct cm_worker *w, uint64_t uid)
{
	struct sv_cancel_msg	*m;

	if (uid == 0 || w == NULL || (m = malloc(sizeof(*m))) == NULL)
		return;
	m->uid = uid;
	if (cm_worker_post(w, sv_session_cancel_cb, m) == -1)
		free(m);
}

static void
sv_session_log_end(const struct sv_session *s, const char *reason)
{
	char	 mc[200];

	(void)snprintf(mc, sizeof(mc), "%s/%s", s->name, s->version);
	cm_log(CM_LOG_INFO, "supervise", "session_end", 0,
	    json_pack("{s:s%,s:s,s:s,s:o,s:s}", "session", s->id, (size_t)8,
	    "revision", sv_rev_name(s->rev), "client", s->peer, "mcp_client",
	    cm_log_peer(mc, strlen(mc)), "reason", reason));
}

/* Unlinks s (lock held); the caller frees it after cancelling. */
static void
sv_session_unlink(struct sv_session *s)
{
	TAILQ_REMOVE(&sv_sessions, s, link);
	sv_nsessions--;
	sv_metric_sessions((int64_t)sv_nsessions);
}

static void
sv_session_free(struct sv_session *s)
{
	struct sv_inflight	*f, *next;

	for (f = s->inflight; f != NULL; f = next) {
		next = f->next;
		sv_session_post_cancel(f->w, f->uid);
		free(f);
	}
	free(s);
}

static struct sv_session *
sv_session_find(const char *id)
{
	struct sv_session	*s;

	TAILQ_FOREACH(s, &sv_sessions, link)
		if (strcmp(s->id, id) == 0)
			return (s);
	return (NULL);
}

int
sv_session_init(void)
{
	return (0);
}

void
sv_session_shutdown(void)
{
	struct sv_session	*s;

	pthread_mutex_lock(&sv_sess_lock);
	while ((s = TAILQ_FIRST(&sv_sessions)) != NULL) {
		sv_session_unlink(s);
		sv_session_log_end(s, "shutdown");
		sv_session_free(s);
	}
	pthread_mutex_unlock(&sv_sess_lock);
}

int
sv_session_new(enum sv_rev rev, const char *peer, const char *name,
    const char *version, int limit, char id[40])
{
	static const char	 hex[] = "0123456789abcdef";
	struct sv_session	*s, *lru = NULL, *victim = NULL;
	unsigned char		 rnd[SV_SESSION_ID_BYTES];
	char			 mc[200];
	size_t			 i;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1 ||
	    (s = calloc(1, sizeof(*s))) == NULL)
		return (-1);
	for (i = 0; i < sizeof(rnd); i++) {
		s->id[2 * i] = hex[rnd[i] >> 4];
		s->id[2 * i + 1] = hex[rnd[i] & 15];
	}
	s->id[2 * sizeof(rnd)] = '\0';
	s->rev = rev;
	cm_strlcpy(s->peer, peer, sizeof(s->peer));
	cm_strlcpy(s->name, name, sizeof(s->name));
	cm_strlcpy(s->version, version, sizeof(s->version));
	s->created_ms = s->last_ms = cm_now_ms();
	pthread_mutex_lock(&sv_sess_lock);
	if (sv_nsessions >= (size_t)limit) {
		/* Evict the least recently used one with nothing in flight. */
		TAILQ_FOREACH(lru, &sv_sessions, link)
			if (lru->inflight == NULL && (victim == NULL ||
			    lru->last_ms < victim->last_ms))
				victim = lru;
		if (victim == NULL) {
			pthread_mutex_unlock(&sv_sess_lock);
			free(s);
			return (-1);
		}
		sv_session_unlink(victim);
		sv_session_log_end(victim, "evicted");
		sv_session_free(victim);
	}
	TAILQ_INSERT_TAIL(&sv_sessions, s, link);
	sv_nsessions++;
	sv_metric_sessions((int64_t)sv_nsessions);
	cm_strlcpy(id, s->id, 40);
	pthread_mutex_unlock(&sv_sess_lock);
	(void)snprintf(mc, sizeof(mc), "%s/%s", name, version);
	cm_log(CM_LOG_INFO, "supervise", "session_start", 0,
	    json_pack("{s:s%,s:s,s:s,s:o}", "session", id, (size_t)8,
	    "revision", sv_rev_name(rev), "client", peer, "mcp_client",
	    cm_log_peer(mc, strlen(mc))));
	return (0);
}

/* Ends sessions idle past idle_s with nothing in flight (lock held). */
static void
sv_session_sweep(int idle_s)
{
	struct sv_session	*s, *next;
	uint64_t		 now = cm_now_ms();

	if (now - sv_last_sweep_ms < SV_SESSION_SWEEP_MS)
		return;
	sv_last_sweep_ms = now;
	for (s = TAILQ_FIRST(&sv_sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, link);
		/* A waiting call counts as use. */
		if (s->inflight == NULL &&
		    now - s->last_ms > (uint64_t)idle_s * 1000) {
			sv_session_unlink(s);
			sv_session_log_end(s, "idle");
			sv_session_free(s);
		}
	}
}

int
sv_session_touch(const char *id, int idle_s, enum sv_rev *rev, char *client,
    size_t clientlen)
{
	struct sv_session	*s;

	pthread_mutex_lock(&sv_sess_lock);
	sv_session_sweep(idle_s);
	if ((s = sv_session_find(id)) == NULL || (s->inflight == NULL &&
	    cm_now_ms() - s->last_ms > (uint64_t)idle_s * 1000)) {
		pthread_mutex_unlock(&sv_sess_lock);
		return (-1);
	}
	s->last_ms = cm_now_ms();
	*rev = s->rev;
	if (client != NULL)
		(void)snprintf(client, clientlen, "%s/%s", s->name, s->version);
	pthread_mutex_unlock(&sv_sess_lock);
	return (0);
}

int
sv_session_client(const char *id, char *name, size_t namelen, char *version,
    size_t verlen)
{
	struct sv_session	*s;

	pthread_mutex_lock(&sv_sess_lock);
	if ((s = sv_session_find(id)) == NULL) {
		pthread_mutex_unlock(&sv_sess_lock);
		return (-1);
	}
	cm_strlcpy(name, s->name, namelen);
	cm_strlcpy(version, s->version, verlen);
	pthread_mutex_unlock(&sv_sess_lock);
	return (0);
}

int
sv_session_delete(const char *id, const char *reason)
{
	struct sv_session	*s;

	pthread_mutex_lock(&sv_sess_lock);
	if ((s = sv_session_find(id)) == NULL) {
		pthread_mutex_unlock(&sv_sess_lock);
		return (-1);
	}
	sv_session_unlink(s);
	pthread_mutex_unlock(&sv_sess_lock);
	sv_session_log_end(s, reason);
	/* Its waiting calls end as if cancelled; proposals stay pending. */
	sv_session_free(s);
	return (0);
}

int
sv_session_begin(const char *id, const char *idkey, struct cm_worker *w,
    uint64_t uid)
{
	struct sv_session	*s;
	struct sv_inflight	*f;

	pthread_mutex_lock(&sv_sess_lock);
	if ((s = sv_session_find(id)) == NULL) {
		pthread_mutex_unlock(&sv_sess_lock);
		return (0);
	}
	for (f = s->inflight; f != NULL; f = f->next)
		if (strcmp(f->idkey, idkey) == 0) {
			pthread_mutex_unlock(&sv_sess_lock);
			return (-1);
		}
	if ((f = calloc(1, sizeof(*f))) != NULL) {
		cm_strlcpy(f->idkey, idkey, sizeof(f->idkey));
		f->w = w;
		f->uid = uid;
		f->next = s->inflight;
		s->inflight = f;
	}
	pthread_mutex_unlock(&sv_sess_lock);
	return (0);
}

void
sv_session_end(const char *id, const char *idkey)
{
	struct sv_session	*s;
	struct sv_inflight	**fp, *f;

	pthread_mutex_lock(&sv_sess_lock);
	if ((s = sv_session_find(id)) != NULL) {
		for (fp = &s->inflight; (f = *fp) != NULL; fp = &f->next)
			if (strcmp(f->idkey, idkey) == 0) {
				*fp = f->next;
				free(f);
				break;
			}
		s->last_ms = cm_now_ms();
	}
	pthread_mutex_unlock(&sv_sess_lock);
}

void
sv_session_cancel(const char *id, const char *idkey)
{
	struct sv_session	*s;
	struct sv_inflight	*f;
	struct cm_worker	*w = NULL;
	uint64_t		 uid = 0;

	pthread_mutex_lock(&sv_sess_lock);
	if ((s = sv_session_find(id)) != NULL)
		for (f = s->inflight; f != NULL; f = f->next)
			if (strcmp(f->idkey, idkey) == 0) {
				w = f->w;
				uid = f->uid;
				break;
			}
	pthread_mutex_unlock(&sv_sess_lock);
	sv_session_post_cancel(w, uid);
}
