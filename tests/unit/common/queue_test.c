/*
 * The approval queue (spec/supervise.md §5, §10 tests 15-17): real
 * files in a temp state dir, a real worker thread as the owner, the
 * real queue thread.
 */
#include "config.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/thread.h>

#include "common/queue.h"
#include "common/queue_file.h"
#include "common/secrets.h"
#include "common/service.h"
#include "common/util.h"
#include "common/worker.h"
#include "common/yaml.h"

/* One callback's result, copied out on the worker thread. */
struct qt_got {
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
	int			 n;
	enum cm_queue_outcome	 outcome;
	enum cm_qstatus		 status;
	char			 id[CM_QUEUE_ID_BYTES];
	char			 notes[256];
	int			 deduped;
	size_t			 npending;
	struct cm_worker	*thread_owner;	/* cm_worker_self() in cb */
	uint64_t		 at_ms;
};

struct qt {
	char			 dir[64];
	char			 state[96];
	struct cm_worker	*w;
	struct cm_queue		*q;
	struct cm_secrets	*secrets;
};

static const struct cm_service *qt_svcs[CM_SVC_COUNT];

static void
qt_got_init(struct qt_got *g)
{
	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
}

static void
qt_cb(struct cm_worker *owner, const struct cm_queue_result *r, void *arg)
{
	struct qt_got	*g = arg;
	const char	*notes;

	pthread_mutex_lock(&g->lock);
	g->n++;
	g->outcome = r->outcome;
	g->status = r->status;
	g->deduped = r->deduped;
	g->npending = r->npending;
	g->thread_owner = cm_worker_self();
	g->at_ms = cm_now_ms();
	cm_strlcpy(g->id, r->id, sizeof(g->id));
	notes = json_string_value(json_object_get(r->response, "notes"));
	cm_strlcpy(g->notes, notes != NULL ? notes : "", sizeof(g->notes));
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

/* Waits until g has n results or ms pass; returns the count. */
static int
qt_wait(struct qt_got *g, int n, int ms)
{
	struct timespec	 ts;
	int		 got;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&g->lock);
	while (g->n < n && pthread_cond_timedwait(&g->cond, &g->lock, &ts) !=
	    ETIMEDOUT)
		;
	got = g->n;
	pthread_mutex_unlock(&g->lock);
	return (got);
}

/* Runs fn on the worker thread and waits for it. */
struct qt_call {
	void		(*fn)(void *);
	void		*arg;
	struct qt_got	 done;
};

static void
qt_call_cb(struct cm_worker *w, void *arg)
{
	struct qt_call	*c = arg;

	c->fn(c->arg);
	pthread_mutex_lock(&c->done.lock);
	c->done.n++;
	pthread_cond_broadcast(&c->done.cond);
	pthread_mutex_unlock(&c->done.lock);
}

static void
qt_on_worker(struct qt *t, void (*fn)(void *), void *arg)
{
	struct qt_call	 c;

	c.fn = fn;
	c.arg = arg;
	qt_got_init(&c.done);
	assert_int_equal(cm_worker_post(t->w, qt_call_cb, &c), 0);
	assert_int_equal(qt_wait(&c.done, 1, 5000), 1);
}

static struct cm_queue *
qt_queue(struct qt *t, int max_pending)
{
	struct cm_queue_config	 cfg;
	char			 err[256];
	struct cm_queue		*q;

	memset(&cfg, 0, sizeof(cfg));
	cfg.state_dir = t->state;
	cfg.bottle = "bot1";
	cfg.poll_ms = 50;
	cfg.inotify = 0;
	cfg.max_pending = max_pending;
	cfg.max_pending_holds = 2;
	cfg.secrets = t->secrets;
	q = cm_queue_new(&cfg, err, sizeof(err));
	if (q == NULL)
		fail_msg("cm_queue_new: %s", err);
	return (q);
}

static int
qt_setup(void **state)
{
	struct qt		*t = calloc(1, sizeof(*t));
	struct cm_cfg_ctx	*cx = calloc(1, sizeof(*cx));

	cm_strlcpy(t->dir, "/tmp/bb-queue-test.XXXXXX", sizeof(t->dir));
	assert_non_null(mkdtemp(t->dir));
	(void)snprintf(t->state, sizeof(t->state), "%s/state", t->dir);
	assert_int_equal(mkdir(t->state, 0700), 0);
	cx->path = "secrets";
	t->secrets = cm_secrets_build(t->dir, cx);
	free(cx);
	assert_non_null(t->secrets);
	t->w = cm_worker_new(0, NULL);
	assert_non_null(t->w);
	assert_int_equal(cm_worker_start(t->w, qt_svcs), 0);
	t->q = qt_queue(t, 3);
	*state = t;
	return (0);
}

static int
qt_teardown(void **state)
{
	struct qt	*t = *state;
	char		 cmd[128];

	cm_queue_free(t->q);
	(void)cm_worker_drain(t->w, cm_now_ms());
	cm_worker_join(t->w);
	cm_secrets_unref(t->secrets);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
	(void)system(cmd);
	free(t);
	return (0);
}

static void
qt_path(struct qt *t, char *buf, size_t size, const char *dir,
    const char *id, const char *suffix)
{
	(void)snprintf(buf, size, "%s/supervise/%s/%s%s", t->state, dir, id,
	    suffix);
}

static int
qt_exists(struct qt *t, const char *dir, const char *id, const char *suffix)
{
	char	 p[512];

	qt_path(t, p, sizeof(p), dir, id, suffix);
	return (access(p, F_OK) == 0);
}

static void
qt_write(struct qt *t, const char *dir, const char *id, const char *text)
{
	char	 d[512], name[64];

	(void)snprintf(d, sizeof(d), "%s/supervise/%s", t->state, dir);
	(void)snprintf(name, sizeof(name), "%s.json", id);
	assert_int_equal(cm_write_file_atomic(d, name, text, strlen(text),
	    0600), 0);
}

static void
qt_respond(struct qt *t, const char *id, const char *status,
    const char *notes)
{
	char	 buf[512];

	(void)snprintf(buf, sizeof(buf), "{\"id\":\"%s\",\"status\":\"%s\","
	    "\"notes\":\"%s\",\"decided_by\":\"test\"}", id, status, notes);
	qt_write(t, "responses", id, buf);
}

/* A proposal as the sidecar writes it, planted by hand. */
static void
qt_plant(struct qt *t, char id[CM_QUEUE_ID_BYTES], const char *kind,
    const char *bottle, int64_t expires_in_ms)
{
	char	 buf[1024], now[40], exp[40];

	assert_int_equal(cm_qfile_id_new(id), 0);
	cm_qfile_time_fmt(cm_qfile_now_ms(), now, sizeof(now));
	cm_qfile_time_fmt(cm_qfile_now_ms() + expires_in_ms, exp, sizeof(exp));
	(void)snprintf(buf, sizeof(buf), "{\"version\":1,\"id\":\"%s\","
	    "\"kind\":\"%s\",\"bottle\":\"%s\",\"source\":\"mcp\","
	    "\"created_at\":\"%s\",\"expires_at\":\"%s\","
	    "\"justification\":\"j\",\"payload\":{\"route\":{\"host\":"
	    "\"%s.test\"}}}", id, kind, bottle, now, exp, id + 17);
	qt_write(t, "pending", id, buf);
}

/* ---- submit --------------------------------------------------------- */

struct qt_sub {
	struct qt		*t;
	struct qt_got		*g;
	enum cm_qkind		 kind;
	const char		*host;
	const char		*justification;
	const char		*dedupe;
	int			 deadline_s;
	struct cm_queue_req	*req;
};

static void
qt_submit_fn(void *arg)
{
	struct qt_sub			*s = arg;
	struct cm_queue_submission	 sub;
	json_t				*pl;

	pl = json_pack("{s:{s:s},s:n}", "route", "host", s->host,
	    "existing_route");
	memset(&sub, 0, sizeof(sub));
	sub.kind = s->kind;
	sub.source = cm_qfile_kind_is_hold(s->kind) ? "egress" : "mcp";
	sub.justification = s->justification;
	sub.client_name = "test-client";
	sub.client_version = "1.0";
	sub.payload = pl;
	sub.dedupe_key = s->dedupe;
	sub.deadline_s = s->deadline_s;
	s->req = cm_queue_submit(s->t->q, &sub, s->t->w, qt_cb, s->g);
	json_decref(pl);
}

static void
qt_submit(struct qt *t, struct qt_got *g, enum cm_qkind kind,
    const char *host, const char *dedupe, int deadline_s)
{
	struct qt_sub	 s = { t, g, kind, host, "needed for the task", dedupe,
			    deadline_s, NULL };

	qt_on_worker(t, qt_submit_fn, &s);
	assert_int_equal(qt_wait(g, 1, 3000), 1);
}

struct qt_wait_arg {
	struct qt		*t;
	struct qt_got		*g;
	const char		*id;
	int64_t			 ms;
	struct cm_queue_req	*req;
};

static void
qt_wait_fn(void *arg)
{
	struct qt_wait_arg	*a = arg;

	a->req = cm_queue_wait(a->t->q, a->id, a->ms, a->t->w, qt_cb, a->g);
}

static void
qt_status_fn(void *arg)
{
	struct qt_wait_arg	*a = arg;

	a->req = cm_queue_status(a->t->q, a->id, a->t->w, qt_cb, a->g);
}

static void
qt_cancel_fn(void *arg)
{
	struct qt_wait_arg	*a = arg;

	cm_queue_cancel(a->req);
}

static void
test_submit_writes_the_proposal(void **state)
{
	struct qt	*t = *state;
	struct qt_got	 g;
	struct stat	 st;
	char		 p[512], *buf;
	json_t		*doc;
	json_error_t	 je;

	qt_got_init(&g);
	qt_submit(t, &g, CM_QK_EGRESS_BLOCK, "api.new.test", NULL, 0);
	assert_int_equal(g.outcome, CM_QUEUE_SUBMITTED);
	assert_true(cm_qfile_id_valid(g.id));
	assert_ptr_equal(g.thread_owner, t->w);
	qt_path(t, p, sizeof(p), "pending", g.id, ".json");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	doc = json_load_file(p, 0, &je);
	assert_non_null(doc);
	assert_int_equal(json_integer_value(json_object_get(doc, "version")),
	    1);
	assert_string_equal(json_string_value(json_object_get(doc, "kind")),
	    "egress-block");
	assert_string_equal(json_string_value(json_object_get(doc, "bottle")),
	    "bot1");
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(doc, "client"), "name")), "test-client");
	assert_null(json_object_get(doc, "expires_at"));
	json_decref(doc);
	/* Indented by two spaces. */
	buf = NULL;
	{
		FILE *fp = fopen(p, "r");
		char line[256];

		assert_non_null(fp);
		assert_non_null(fgets(line, sizeof(line), fp));
		assert_non_null(fgets(line, sizeof(line), fp));
		assert_memory_equal(line, "  \"", 3);
		fclose(fp);
	}
	free(buf);
}

static void
test_dedupe_and_limit(void **state)
{
	struct qt	*t = *state;
	struct qt_got	 a, b, c, d;
	char		 first[CM_QUEUE_ID_BYTES];

	qt_got_init(&a);
	qt_submit(t, &a, CM_QK_EGRESS_BLOCK, "h1.test", NULL, 0);
	cm_strlcpy(first, a.id, sizeof(first));
	qt_got_init(&b);
	qt_submit(t, &b, CM_QK_EGRESS_BLOCK, "h1.test", NULL, 0);
	assert_int_equal(b.outcome, CM_QUEUE_SUBMITTED);
	assert_true(b.deduped);
	assert_string_equal(b.id, first);
	qt_got_init(&c);
	qt_submit(t, &c, CM_QK_CAPABILITY_BLOCK, "h2.test", NULL, 0);
	qt_got_init(&d);
	qt_submit(t, &d, CM_QK_EGRESS_BLOCK, "h3.test", NULL, 0);
	assert_int_equal(d.outcome, CM_QUEUE_SUBMITTED);
	qt_got_init(&d);
	qt_submit(t, &d, CM_QK_EGRESS_BLOCK, "h4.test", NULL, 0);
	assert_int_equal(d.outcome, CM_QUEUE_LIMITED);
	assert_int_equal(d.npending, 3);
	/* One decision frees a slot. */
	qt_respond(t, first, "rejected", "no");
	usleep(2300 * 1000);
	qt_got_init(&d);
	qt_submit(t, &d, CM_QK_EGRESS_BLOCK, "h4.test", NULL, 0);
	assert_int_equal(d.outcome, CM_QUEUE_SUBMITTED);
}

/* §10 test 15: the response is there before anyone waits. */
static void
test_response_before_waiter(void **state)
{
	struct qt		*t = *state;
	struct qt_got		 g;
	struct qt_wait_arg	 a;
	char			 id[CM_QUEUE_ID_BYTES];
	uint64_t		 t0;

	qt_plant(t, id, "egress-block", "bot1", 0);
	qt_respond(t, id, "approved", "ok");
	qt_got_init(&g);
	a = (struct qt_wait_arg){ t, &g, id, 10000, NULL };
	t0 = cm_now_ms();
	qt_on_worker(t, qt_wait_fn, &a);
	assert_int_equal(qt_wait(&g, 1, 300), 1);
	assert_true(g.at_ms - t0 < 300);
	assert_int_equal(g.outcome, CM_QUEUE_DECIDED);
	assert_int_equal(g.status, CM_QS_APPROVED);
	assert_string_equal(g.notes, "ok");
	assert_false(qt_exists(t, "pending", id, ".json"));
	assert_false(qt_exists(t, "responses", id, ".json"));
	assert_true(qt_exists(t, "archive", id, ".proposal.json"));
	assert_true(qt_exists(t, "archive", id, ".response.json"));
	/* Asking again answers from the archive. */
	qt_got_init(&g);
	a.req = NULL;
	qt_on_worker(t, qt_wait_fn, &a);
	assert_int_equal(qt_wait(&g, 1, 300), 1);
	assert_int_equal(g.outcome, CM_QUEUE_DECIDED);
}

static struct qt *qt_hook_t;

static void
qt_hook(const char *id, void *arg)
{
	qt_respond(qt_hook_t, id, "rejected", "too late");
}

/* §10 test 15, second half: the response lands between write and wait. */
static void
test_response_between_write_and_wait(void **state)
{
	struct qt		*t = *state;
	struct qt_got		 g, w;
	struct qt_wait_arg	 a;

	qt_hook_t = t;
	cm_queue_set_test_hook(t->q, qt_hook, NULL);
	qt_got_init(&g);
	qt_submit(t, &g, CM_QK_EGRESS_BLOCK, "hook.test", NULL, 0);
	cm_queue_set_test_hook(t->q, NULL, NULL);
	assert_int_equal(g.outcome, CM_QUEUE_SUBMITTED);
	qt_got_init(&w);
	a = (struct qt_wait_arg){ t, &w, g.id, 10000, NULL };
	qt_on_worker(t, qt_wait_fn, &a);
	assert_int_equal(qt_wait(&w, 1, 300), 1);
	assert_int_equal(w.outcome, CM_QUEUE_DECIDED);
	assert_int_equal(w.status, CM_QS_REJECTED);
	assert_true(qt_exists(t, "archive", g.id, ".proposal.json"));
	assert_true(qt_exists(t, "archive", g.id, ".response.json"));
}

static void
test_wait_times_out_and_malformed_is_not_a_decision(void **state)
{
	struct qt		*t = *state;
	struct qt_got		 g, w;
	struct qt_wait_arg	 a;
	char			 buf[256];
	uint64_t		 t0;

	qt_got_init(&g);
	qt_submit(t, &g, CM_QK_EGRESS_BLOCK, "slow.test", NULL, 0);
	(void)snprintf(buf, sizeof(buf), "{\"id\":\"%s\",\"status\":"
	    "\"approve\"}", g.id);
	qt_write(t, "responses", g.id, buf);
	qt_got_init(&w);
	a = (struct qt_wait_arg){ t, &w, g.id, 600, NULL };
	t0 = cm_now_ms();
	qt_on_worker(t, qt_wait_fn, &a);
	assert_int_equal(qt_wait(&w, 1, 2000), 1);
	assert_int_equal(w.outcome, CM_QUEUE_TIMEOUT);
	assert_true(cm_now_ms() - t0 >= 550);
	assert_true(qt_exists(t, "pending", g.id, ".json"));
	assert_true(qt_exists(t, "responses", g.id, ".json"));
	/* A valid replacement is applied. */
	qt_got_init(&w);
	a.req = NULL;
	a.ms = 5000;
	qt_on_worker(t, qt_wait_fn, &a);
	qt_respond(t, g.id, "approved", "fine");
	assert_int_equal(qt_wait(&w, 1, 2000), 1);
	assert_int_equal(w.outcome, CM_QUEUE_DECIDED);
	assert_string_equal(w.notes, "fine");
	assert_int_equal(cm_queue_nwaiters(t->q), 0);
}

static void
test_cancel_keeps_the_proposal(void **state)
{
	struct qt		*t = *state;
	struct qt_got		 g, w;
	struct qt_wait_arg	 a;

	qt_got_init(&g);
	qt_submit(t, &g, CM_QK_EGRESS_BLOCK, "cancel.test", NULL, 0);
	qt_got_init(&w);
	a = (struct qt_wait_arg){ t, &w, g.id, 5000, NULL };
	qt_on_worker(t, qt_wait_fn, &a);
	usleep(100 * 1000);
	assert_int_equal(cm_queue_nwaiters(t->q), 1);
	qt_on_worker(t, qt_cancel_fn, &a);
	assert_int_equal(cm_queue_nwaiters(t->q), 0);
	qt_respond(t, g.id, "approved", "late");
	assert_int_equal(qt_wait(&w, 1, 500), 0);
}

/* §10 test 16 (queue side): a hold is released by nothing but approval. */
static void
test_hold_fails_closed(void **state)
{
	struct qt		*t = *state;
	struct qt_got		 g, w;
	struct qt_wait_arg	 a;
	char			 buf[256], p[512];
	json_t			*resp;
	json_error_t		 je;

	qt_got_init(&g);
	qt_submit(t, &g, CM_QK_EGRESS_TOKEN_ALLOW, "hold.test", "k1", 2);
	assert_int_equal(g.outcome, CM_QUEUE_SUBMITTED);
	qt_got_init(&w);
	a = (struct qt_wait_arg){ t, &w, g.id, 0, NULL };
	qt_on_worker(t, qt_wait_fn, &a);
	/* modified, then approved without notes: both malformed. */
	(void)snprintf(buf, sizeof(buf), "{\"id\":\"%s\",\"status\":"
	    "\"modified\",\"payload\":{},\"notes\":\"x\"}", g.id);
	qt_write(t, "responses", g.id, buf);
	usleep(300 * 1000);
	assert_int_equal(w.n, 0);
	qt_respond(t, g.id, "approved", "");
	usleep(300 * 1000);
	assert_int_equal(w.n, 0);
	assert_int_equal(qt_wait(&w, 1, 3000), 1);
	assert_int_equal(w.outcome, CM_QUEUE_EXPIRED);
	qt_path(t, p, sizeof(p), "archive", g.id, ".response.json");
	resp = json_load_file(p, 0, &je);
	assert_non_null(resp);
	assert_string_equal(json_string_value(json_object_get(resp, "status")),
	    "expired");
	assert_string_equal(json_string_value(json_object_get(resp,
	    "decided_by")), "bb-sidecar");
	json_decref(resp);
	/* The response that came too late is archived as such. */
	usleep(2300 * 1000);
	assert_true(qt_exists(t, "archive", g.id, ".late-response.json"));
}

static void
test_hold_dedupe_limit_withdraw(void **state)
{
	struct qt		*t = *state;
	struct qt_got		 a, b, c, w;
	struct qt_wait_arg	 wa;

	qt_got_init(&a);
	qt_submit(t, &a, CM_QK_GITLEAKS_ALLOW, "x", "same", 60);
	qt_got_init(&b);
	qt_submit(t, &b, CM_QK_GITLEAKS_ALLOW, "y", "same", 60);
	assert_true(b.deduped);
	assert_string_equal(a.id, b.id);
	qt_got_init(&b);
	qt_submit(t, &b, CM_QK_GITLEAKS_ALLOW, "y", "other", 60);
	assert_false(b.deduped);
	qt_got_init(&c);
	qt_submit(t, &c, CM_QK_GITLEAKS_ALLOW, "z", "third", 60);
	assert_int_equal(c.outcome, CM_QUEUE_UNAVAILABLE);
	qt_got_init(&w);
	wa = (struct qt_wait_arg){ t, &w, a.id, 0, NULL };
	qt_on_worker(t, qt_wait_fn, &wa);
	usleep(100 * 1000);
	cm_queue_withdraw(t->q, a.id, "client disconnected");
	assert_int_equal(qt_wait(&w, 1, 2000), 1);
	assert_int_equal(w.outcome, CM_QUEUE_WITHDRAWN);
	assert_true(qt_exists(t, "archive", a.id, ".response.json"));
	assert_false(qt_exists(t, "pending", a.id, ".json"));
}

static void
test_vanished_file_withdraws(void **state)
{
	struct qt		*t = *state;
	struct qt_got		 g, w;
	struct qt_wait_arg	 a;
	char			 p[512];

	qt_got_init(&g);
	qt_submit(t, &g, CM_QK_EGRESS_BLOCK, "gone.test", NULL, 0);
	qt_got_init(&w);
	a = (struct qt_wait_arg){ t, &w, g.id, 10000, NULL };
	qt_on_worker(t, qt_wait_fn, &a);
	qt_path(t, p, sizeof(p), "pending", g.id, ".json");
	assert_int_equal(unlink(p), 0);
	assert_int_equal(qt_wait(&w, 1, 3000), 1);
	assert_int_equal(w.outcome, CM_QUEUE_WITHDRAWN);
	assert_string_equal(w.notes, "proposal file removed");
}

static void
test_status_visibility(void **state)
{
	struct qt		*t = *state;
	struct qt_got		 g;
	struct qt_wait_arg	 a;
	char			 hold[CM_QUEUE_ID_BYTES],
	    other[CM_QUEUE_ID_BYTES];
	char			 mine[CM_QUEUE_ID_BYTES];

	qt_plant(t, other, "egress-block", "bot2", 0);
	qt_plant(t, mine, "capability-block", "bot1", 0);
	qt_got_init(&g);
	qt_submit(t, &g, CM_QK_EGRESS_TOKEN_ALLOW, "hold.test", "h", 60);
	cm_strlcpy(hold, g.id, sizeof(hold));
	{
		const char *ids[] = { hold, other, "../../etc/passwd",
		    "20261201T120000Z-000000000000" };
		size_t i;

		for (i = 0; i < 4; i++) {
			qt_got_init(&g);
			a = (struct qt_wait_arg){ t, &g, ids[i], 0, NULL };
			qt_on_worker(t, qt_status_fn, &a);
			assert_int_equal(qt_wait(&g, 1, 1000), 1);
			assert_int_equal(g.outcome, CM_QUEUE_UNKNOWN);
		}
	}
	qt_got_init(&g);
	a = (struct qt_wait_arg){ t, &g, mine, 0, NULL };
	qt_on_worker(t, qt_status_fn, &a);
	assert_int_equal(qt_wait(&g, 1, 1000), 1);
	assert_int_equal(g.outcome, CM_QUEUE_PENDING);
	/* A response in responses/ is processed on the spot. */
	qt_respond(t, mine, "rejected", "use the mirror");
	qt_got_init(&g);
	qt_on_worker(t, qt_status_fn, &a);
	assert_int_equal(qt_wait(&g, 1, 1000), 1);
	assert_int_equal(g.outcome, CM_QUEUE_DECIDED);
	assert_int_equal(g.status, CM_QS_REJECTED);
	assert_string_equal(g.notes, "use the mirror");
	assert_true(qt_exists(t, "archive", mine, ".response.json"));
}

/* §10 test 17 (queue side): holds die with the process, proposals stay. */
static void
test_restart(void **state)
{
	struct qt		*t = *state;
	struct qt_got		 g;
	struct qt_wait_arg	 a;
	struct timespec		 old[2];
	char			 hold[CM_QUEUE_ID_BYTES], p1[CM_QUEUE_ID_BYTES];
	char			 p2[CM_QUEUE_ID_BYTES], done[CM_QUEUE_ID_BYTES];
	char			 tmp[512], fresh[512], buf[512], p[512];
	json_t			*resp;
	json_error_t		 je;
	int			 fd;

	cm_queue_free(t->q);
	t->q = NULL;
	qt_plant(t, p1, "egress-block", "bot1", 0);
	qt_plant(t, p2, "capability-block", "bot1", 0);
	qt_plant(t, hold, "egress-token-allow", "bot1", 300000);
	/* A crash between the two archive renames. */
	qt_plant(t, done, "egress-block", "bot1", 0);
	qt_respond(t, done, "approved", "ok");
	(void)snprintf(buf, sizeof(buf), "%s/supervise/pending/%s.json",
	    t->state, done);
	qt_path(t, p, sizeof(p), "archive", done, ".proposal.json");
	assert_int_equal(rename(buf, p), 0);
	(void)snprintf(tmp, sizeof(tmp), "%s/supervise/pending/.x.json.tmp.old",
	    t->state);
	(void)snprintf(fresh, sizeof(fresh),
	    "%s/supervise/responses/.y.json.tmp.new", t->state);
	assert_true((fd = open(tmp, O_CREAT | O_WRONLY, 0600)) >= 0);
	close(fd);
	assert_true((fd = open(fresh, O_CREAT | O_WRONLY, 0600)) >= 0);
	close(fd);
	old[0].tv_sec = old[1].tv_sec = time(NULL) - 7200;
	old[0].tv_nsec = old[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, tmp, old, 0), 0);

	t->q = qt_queue(t, 10);
	assert_int_equal(access(tmp, F_OK), -1);
	assert_int_equal(access(fresh, F_OK), 0);
	assert_true(qt_exists(t, "pending", p1, ".json"));
	assert_true(qt_exists(t, "pending", p2, ".json"));
	assert_false(qt_exists(t, "pending", hold, ".json"));
	qt_path(t, p, sizeof(p), "archive", hold, ".response.json");
	resp = json_load_file(p, 0, &je);
	assert_non_null(resp);
	assert_string_equal(json_string_value(json_object_get(resp, "status")),
	    "expired");
	assert_non_null(strstr(json_string_value(json_object_get(resp,
	    "notes")), "sidecar restarted"));
	json_decref(resp);
	assert_true(qt_exists(t, "archive", done, ".response.json"));
	assert_false(qt_exists(t, "responses", done, ".json"));
	qt_got_init(&g);
	a = (struct qt_wait_arg){ t, &g, p1, 0, NULL };
	qt_on_worker(t, qt_status_fn, &a);
	assert_int_equal(qt_wait(&g, 1, 1000), 1);
	assert_int_equal(g.outcome, CM_QUEUE_PENDING);
}

static void
test_known_secrets_are_redacted(void **state)
{
	struct qt	*t = *state;
	struct qt_got	 g;
	struct qt_sub	 s;
	char		 p[512], *text;
	size_t		 len;
	struct stat	 st;
	const char	*why;
	int		 dfd;

	qt_got_init(&g);
	s = (struct qt_sub){ t, &g, CM_QK_EGRESS_BLOCK,
	    "leak-sekret-canary-123.test", "token sekret-canary-123 please",
	    NULL, 0, NULL };
	qt_on_worker(t, qt_submit_fn, &s);
	assert_int_equal(qt_wait(&g, 1, 3000), 1);
	assert_int_equal(g.outcome, CM_QUEUE_SUBMITTED);
	(void)snprintf(p, sizeof(p), "%s/supervise/pending", t->state);
	dfd = open(p, O_RDONLY | O_DIRECTORY);
	(void)snprintf(p, sizeof(p), "%s.json", g.id);
	assert_int_equal(cm_qfile_read(dfd, p, 1 << 20, &text, &len, &st,
	    &why), 0);
	close(dfd);
	assert_null(strstr(text, "sekret-canary-123"));
	assert_non_null(strstr(text,
	    "[REDACTED rule=known-secret:EGRESS_TOKEN_0 len=17]"));
	free(text);
}

static void
test_hold_timeout_rule(void **state)
{
	static const struct { const char *v; int want; } cases[] = {
		{ NULL, 300 }, { "", 300 }, { "abc", 300 }, { "0", 300 },
		{ "-5", 300 }, { "12x", 300 }, { "60", 60 }, { "3600", 3600 },
		{ "7200", 3600 }, { "99999999999999999999", 3600 },
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].v == NULL)
			unsetenv("QT_HOLD_S");
		else
			setenv("QT_HOLD_S", cases[i].v, 1);
		assert_int_equal(cm_queue_hold_timeout_s("QT_HOLD_S"),
		    cases[i].want);
	}
}

static void
test_ids_and_files(void **state)
{
	char		 id[CM_QUEUE_ID_BYTES];
	const char	*why = NULL;
	int64_t		 ms;
	json_t		*r;
	enum cm_qstatus	 st;

	(void)state;
	assert_int_equal(cm_qfile_id_new(id), 0);
	assert_true(cm_qfile_id_valid(id));
	assert_true(cm_qfile_id_valid("20261201T120000Z-5c1e0a9b7d42"));
	assert_false(cm_qfile_id_valid("20261201T120000Z-5c1e0a9b7d4"));
	assert_false(cm_qfile_id_valid("20261201T120000Z-5C1E0A9B7D42"));
	assert_false(cm_qfile_id_valid("bad/../id"));
	assert_false(cm_qfile_id_valid("20261201T120000Z-5c1e0a9b7d42x"));
	assert_int_equal(cm_qfile_time_parse("2026-12-01T12:00:00.250Z", &ms),
	    0);
	assert_int_equal(ms % 1000, 250);
	r = cm_qfile_response_parse("{\"id\":\"A\",\"status\":\"approve\"}",
	    29, "A", CM_QK_EGRESS_BLOCK, 0, 0, &st, &why);
	assert_null(r);
	assert_string_equal(why,
	    "status is not approved, modified or rejected");
	r = cm_qfile_response_parse("{\"id\":\"B\",\"status\":\"approved\"}",
	    30, "A", CM_QK_EGRESS_BLOCK, 0, 0, &st, &why);
	assert_null(r);
	r = cm_qfile_response_parse("{\"id\":\"A\",\"status\":\"modified\"}",
	    30, "A", CM_QK_EGRESS_BLOCK, 0, 0, &st, &why);
	assert_null(r);
	assert_string_equal(why, "modified without a payload object");
	r = cm_qfile_response_parse("{\"id\":\"A\",\"status\":\"approved\"}",
	    30, "A", CM_QK_EGRESS_BLOCK, 0, 0, &st, &why);
	assert_non_null(r);
	assert_string_equal(json_string_value(json_object_get(r,
	    "decided_by")), "unknown");
	json_decref(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids_and_files),
		cmocka_unit_test(test_hold_timeout_rule),
		cmocka_unit_test_setup_teardown(test_submit_writes_the_proposal,
		    qt_setup, qt_teardown),
		cmocka_unit_test_setup_teardown(test_dedupe_and_limit,
		    qt_setup, qt_teardown),
		cmocka_unit_test_setup_teardown(test_response_before_waiter,
		    qt_setup, qt_teardown),
		cmocka_unit_test_setup_teardown(
		    test_response_between_write_and_wait, qt_setup,
		    qt_teardown),
		cmocka_unit_test_setup_teardown(
		    test_wait_times_out_and_malformed_is_not_a_decision,
		    qt_setup, qt_teardown),
		cmocka_unit_test_setup_teardown(test_cancel_keeps_the_proposal,
		    qt_setup, qt_teardown),
		cmocka_unit_test_setup_teardown(test_hold_fails_closed,
		    qt_setup, qt_teardown),
		cmocka_unit_test_setup_teardown(test_hold_dedupe_limit_withdraw,
		    qt_setup, qt_teardown),
		cmocka_unit_test_setup_teardown(test_vanished_file_withdraws,
		    qt_setup, qt_teardown),
		cmocka_unit_test_setup_teardown(test_status_visibility,
		    qt_setup, qt_teardown),
		cmocka_unit_test_setup_teardown(test_restart,
		    qt_setup, qt_teardown),
		cmocka_unit_test_setup_teardown(test_known_secrets_are_redacted,
		    qt_setup, qt_teardown),
	};

	/* The known secret of the redaction test, captured like the daemon. */
	setenv("EGRESS_TOKEN_0", "sekret-canary-123", 1);
	(void)cm_secrets_capture_env();
	if (evthread_use_pthreads() == -1)
		return (1);
	return (cmocka_run_group_tests_name("queue", tests, NULL, NULL));
}
