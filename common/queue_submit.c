/*
 * Writing proposals (spec/supervise.md §5.2-§5.3, §5.7): dedupe, the
 * limits, the envelope, the second redaction check against the
 * known-secret set, and the file.  On the queue thread.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bounds.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/queue_int.h"
#include "common/scan.h"
#include "common/secrets.h"
#include "common/util.h"

/* Holds dedupe on the caller's key; agent kinds on the payload. */
char *
cm_queue_agent_key(enum cm_qkind kind, const json_t *payload)
{
	json_t	*copy;
	char	*s, *key = NULL;

	if ((copy = json_deep_copy(payload)) == NULL)
		return (NULL);
	(void)json_object_del(copy, "existing_route");
	s = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(copy);
	if (s != NULL && asprintf(&key, "%s %s", cm_qfile_kind_name(kind), s) ==
	    -1)
		key = NULL;
	free(s);
	return (key);
}

/*
 * The scan engine's known-secret matcher for set, compiled once per set
 * (a reload builds a new set).  Queue thread only.  0, or -1 when it
 * cannot be built; the literal fallback below then runs.
 */
static int
cm_queue_scanset(struct cm_queue *q, struct cm_secrets *set)
{
	struct cm_secret	*arr;
	const char		*why;
	size_t			 i, n;

	if (set == NULL)
		return (-1);
	if (set == q->scan_secrets && q->scanset != NULL)
		return (0);
	cm_scanset_unref(q->scanset);
	q->scanset = NULL;
	cm_secrets_unref(q->scan_secrets);
	q->scan_secrets = NULL;
	if (q->scanner == NULL && (q->scanner = cm_scanner_new()) == NULL)
		return (-1);
	n = cm_secrets_count(set);
	if ((arr = calloc(n + 1, sizeof(*arr))) == NULL)
		return (-1);
	for (i = 0; i < n; i++)
		arr[i] = *cm_secrets_get(set, i);
	q->scanset = cm_scanset_new(NULL, arr, n, &why);
	explicit_bzero(arr, (n + 1) * sizeof(*arr));
	free(arr);
	if (q->scanset == NULL) {
		cm_log(CM_LOG_WARN, "supervise", "queue_scan_unavailable", 0,
		    json_pack("{s:s}", "reason", why));
		return (-1);
	}
	q->scan_secrets = cm_secrets_ref(set);
	return (0);
}

/* Literal matches only: when the scan set could not be built. */
static char *
cm_queue_redact_literal(const char *s, struct cm_secrets *set)
{
	const struct cm_secret	*sec;
	char			*cur = NULL, *out, tag[160];
	const char		*src = s, *hit;
	size_t			 i, n, len, tl, before;

	for (i = 0; set != NULL && i < cm_secrets_count(set); i++) {
		sec = cm_secrets_get(set, i);
		if (sec->len < CM_SECRET_MIN_BYTES)
			continue;
		len = strlen(src);
		hit = memmem(src, len, sec->bytes, sec->len);
		if (hit == NULL)
			continue;
		tl = (size_t)snprintf(tag, sizeof(tag),
		    "[REDACTED rule=known-secret:%s len=%zu]", sec->name,
		    sec->len);
		/* Worst case every secret-sized piece becomes a tag. */
		n = len / sec->len * (tl > sec->len ? tl - sec->len : 0) +
		    len + 1;
		if ((out = malloc(n)) == NULL) {
			free(cur);
			return (NULL);
		}
		out[0] = '\0';
		before = 0;
		while (hit != NULL) {
			strncat(out, src + before,
			    (size_t)(hit - src) - before);
			strcat(out, tag);
			before = (size_t)(hit - src) + sec->len;
			hit = memmem(src + before, len - before, sec->bytes,
			    sec->len);
		}
		strcat(out, src + before);
		free(cur);
		cur = out;
		src = cur;
	}
	return (cur);
}

/*
 * Replaces each known secret in s, in any form the scan engine knows
 * (raw, base64, hex, ...), by [REDACTED rule=known-secret:NAME len=N].
 * A new string, or NULL when nothing matched.
 */
static char *
cm_queue_redact_str(struct cm_queue *q, const char *s, struct cm_secrets *set)
{
	struct cm_scan_opts	 opts = { CM_SCAN_SURF_BODY,
				    CM_SCAN_KNOWN_SECRETS, 0 };
	struct cm_scan_hits	 hits;
	unsigned char		*out = NULL;
	const char		*why;
	size_t			 len = strlen(s), outlen;
	char			*r = NULL;

	if (cm_queue_scanset(q, set) == -1)
		return (cm_queue_redact_literal(s, set));
	cm_scan_hits_init(&hits);
	if (cm_scan_buf(q->scanner, q->scanset, &opts, s, len, &hits,
	    &why) == -1 || hits.n == 0) {
		cm_scan_hits_free(&hits);
		/* A failed scan must not let a secret through. */
		return (cm_queue_redact_literal(s, set));
	}
	if (cm_scan_redact(s, len, 0, &hits, CM_SCAN_REDACT_TAG, &out, &outlen,
	    &why) == 0 && (r = malloc(outlen + 1)) != NULL) {
		memcpy(r, out, outlen);
		r[outlen] = '\0';
	}
	free(out);
	cm_scan_hits_free(&hits);
	if (r == NULL)
		return (cm_queue_redact_literal(s, set));
	/* View hits cannot be rewritten: the literal pass still runs. */
	out = (unsigned char *)cm_queue_redact_literal(r, set);
	if (out != NULL) {
		free(r);
		r = (char *)out;
	}
	return (r);
}

/*
 * The second check of §5.3: a copy of v with every known secret
 * replaced and every "context" cut to CM_QUEUE_CONTEXT_MAX_CHARS.
 */
static json_t *
cm_queue_redact(struct cm_queue *q, const json_t *v, struct cm_secrets *set,
    int depth)
{
	json_t		*out, *c;
	const char	*k;
	char		*r;
	size_t		 i;

	if (depth > CM_MAX_YAML_DEPTH)
		return (json_null());
	if (json_is_string(v)) {
		r = cm_queue_redact_str(q, json_string_value(v), set);
		if (r == NULL)
			return (json_deep_copy(v));
		out = json_string(r);
		free(r);
		return (out);
	}
	if (json_is_array(v)) {
		out = json_array();
		for (i = 0; i < json_array_size(v); i++)
			json_array_append_new(out, cm_queue_redact(q,
			    json_array_get(v, i), set, depth + 1));
		return (out);
	}
	if (json_is_object(v)) {
		out = json_object();
		json_object_foreach((json_t *)v, k, c) {
			json_t *nv = cm_queue_redact(q, c, set, depth + 1);

			if (strcmp(k, "context") == 0 && json_is_string(nv) &&
			    json_string_length(nv) >
			    CM_QUEUE_CONTEXT_MAX_CHARS) {
				const char	*s = json_string_value(nv);
				size_t		 cut = 0, chars = 0;

				while (s[cut] != '\0' &&
				    chars < CM_QUEUE_CONTEXT_MAX_CHARS) {
					cut++;
					while (((unsigned char)s[cut] & 0xc0) ==
					    0x80)
						cut++;
					chars++;
				}
				json_decref(nv);
				nv = json_stringn(s, cut);
			}
			json_object_set_new(out, k, nv);
		}
		return (out);
	}
	return (json_deep_copy(v));
}

static void
cm_queue_submit_result(struct cm_queue *q, struct cm_queue_req *r,
    enum cm_queue_outcome outcome, const char *reason)
{
	r->res.outcome = outcome;
	r->res.kind = r->kind;
	r->res.reason = reason;
	(void)cm_queue_finish(q, r);
}

void
cm_queue_do_submit(struct cm_queue *q, struct cm_queue_req *r)
{
	struct cm_qentry	*e;
	json_t			*doc, *pl;
	char			 id[CM_QUEUE_ID_BYTES], ts[40], name[48];
	char			*key;
	int64_t			 now = cm_qfile_now_ms(), exp = 0;
	int			 hold = cm_qfile_kind_is_hold(r->kind);
	int			 stopping;
	size_t			 n, len;

	pthread_mutex_lock(&q->lock);
	stopping = q->stopping;
	pthread_mutex_unlock(&q->lock);
	if (stopping) {
		cm_queue_submit_result(q, r, CM_QUEUE_UNAVAILABLE,
		    "the sidecar is stopping");
		return;
	}
	if (hold && r->dedupe != NULL) {
		if (asprintf(&key, "%s %s", cm_qfile_kind_name(r->kind),
		    r->dedupe) == -1)
			key = NULL;
	} else if (!hold)
		key = cm_queue_agent_key(r->kind, r->payload);
	else
		key = NULL;
	if (key != NULL) {
		TAILQ_FOREACH(e, &q->entries, link)
			if (e->decision == NULL && e->dedupe != NULL &&
			    strcmp(e->dedupe, key) == 0)
				break;
		if (e != NULL) {
			/* Identical and pending: wait on it, write nothing. */
			free(key);
			cm_strlcpy(r->res.id, e->id, sizeof(r->res.id));
			r->res.deduped = 1;
			r->res.created_ms = e->created_ms;
			cm_queue_submit_result(q, r, CM_QUEUE_SUBMITTED, NULL);
			return;
		}
	}
	if (!hold && (n = cm_qscan_count(q, CM_QK_COUNT, 1)) >=
	    (size_t)atomic_load(&q->max_pending)) {
		free(key);
		r->res.npending = n;
		cm_queue_submit_result(q, r, CM_QUEUE_LIMITED,
		    "too many proposals pending");
		return;
	}
	if (hold && cm_qscan_count(q, r->kind, 0) >=
	    (size_t)atomic_load(&q->max_pending_holds)) {
		free(key);
		cm_queue_submit_result(q, r, CM_QUEUE_UNAVAILABLE,
		    "too many approvals pending");
		return;
	}
	if (cm_qfile_id_new(id) == -1) {
		free(key);
		cm_queue_submit_result(q, r, CM_QUEUE_UNAVAILABLE,
		    "no randomness for a proposal id");
		return;
	}
	cm_qfile_time_fmt(now, ts, sizeof(ts));
	doc = json_pack("{s:i,s:s,s:s,s:s,s:s,s:s}", "version", 1, "id", id,
	    "kind", cm_qfile_kind_name(r->kind), "bottle", q->bottle,
	    "source", r->source, "created_at", ts);
	if (hold) {
		int d = r->deadline_s > 0 ? r->deadline_s :
		    CM_DEF_HOLD_TIMEOUT_S;

		exp = now + (int64_t)d * 1000;
		cm_qfile_time_fmt(exp, ts, sizeof(ts));
		json_object_set_new(doc, "expires_at", json_string(ts));
	} else {
		json_t *just = json_string(r->justification != NULL ?
		    r->justification : "");

		json_object_set_new(doc, "client", json_pack("{s:s,s:s}",
		    "name", r->client_name != NULL ? r->client_name : "",
		    "version", r->client_version != NULL ?
		    r->client_version : ""));
		json_object_set_new(doc, "justification",
		    cm_queue_redact(q, just, r->secrets, 0));
		json_decref(just);
	}
	pl = cm_queue_redact(q, r->payload, r->secrets, 0);
	json_object_set_new(doc, "payload", pl);
	free(cm_qfile_dumps(doc, &len));
	if (len > CM_QUEUE_PROPOSAL_MAX_BYTES) {
		json_decref(doc);
		free(key);
		cm_queue_submit_result(q, r, CM_QUEUE_UNAVAILABLE,
		    "proposal larger than 128 KiB");
		return;
	}
	(void)snprintf(name, sizeof(name), "%s.json", id);
	if (cm_qfile_write(q->dirs.pending_path, name, doc) == -1) {
		cm_metric_add(NULL, q->m_err_io, 1);
		cm_log(CM_LOG_ERROR, "supervise", "queue_io_error", 0,
		    json_pack("{s:s,s:i}", "path", q->dirs.pending_path,
		    "errno", errno));
		json_decref(doc);
		free(key);
		cm_queue_submit_result(q, r, CM_QUEUE_UNAVAILABLE,
		    "the approval queue is not writable");
		return;
	}
	/* The index takes doc and, for a hold, arms the expiry timer. */
	if ((e = cm_qscan_index(q, id, doc, r->kind, now)) != NULL &&
	    e->dedupe == NULL) {
		e->dedupe = key;
		key = NULL;
	}
	free(key);
	cm_metric_add(NULL, q->m_created[r->kind], 1);
	cm_log(CM_LOG_INFO, "supervise", "proposal_created", 0,
	    json_pack("{s:s,s:s,s:s}", "proposal", id, "kind",
	    cm_qfile_kind_name(r->kind), "source", r->source));
	if (q->test_hook != NULL)
		q->test_hook(id, q->test_arg);
	cm_strlcpy(r->res.id, id, sizeof(r->res.id));
	r->res.created_ms = now;
	cm_queue_submit_result(q, r, CM_QUEUE_SUBMITTED, NULL);
	cm_queue_gauges(q);
}

