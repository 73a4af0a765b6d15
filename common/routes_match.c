/*
 * A route's matches (spec/egress.md §5.3): parsing and validation of the
 * key, and the per-request test.  Regexes are compiled once at load with
 * PCRE2 in byte mode, anchored at both ends (a full match, so
 * "/ws/[a-z]+" never accepts "/ws/a/../x"), JIT when available.
 *
 * The match path takes no lock: compiled patterns and the match context
 * (limits) are read-only once built, and each thread keeps its own
 * match data behind a pthread key.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/bounds.h"
#include "common/http.h"
#include "common/log.h"
#include "common/routes.h"
#include "common/routes_int.h"
#include "common/yaml.h"

static void	 cm_routes_match_once(void);
static void	 cm_routes_match_md_free(void *);
static pcre2_match_data *cm_routes_match_md(void);
static int	 cm_routes_match_compile(struct cm_cfg_ctx *,
		    const struct cm_ynode *, const char *, struct cm_rt_cond *);
static int	 cm_routes_match_token(const char *, size_t);
static void	 cm_routes_match_path(struct cm_cfg_ctx *,
		    const struct cm_ynode *, const char *, struct cm_rt_cond *);
static void	 cm_routes_match_header(struct cm_cfg_ctx *,
		    const struct cm_ynode *, const char *, struct cm_rt_cond *);
static void	 cm_routes_match_methods(struct cm_cfg_ctx *,
		    const struct cm_ynode *, const char *,
		    struct cm_rt_entry *);
static void	 cm_routes_match_entry(struct cm_cfg_ctx *,
		    const struct cm_ynode *, const char *,
		    struct cm_rt_entry *);
static void	 cm_routes_match_cond_free(struct cm_rt_cond *, size_t);
static int	 cm_routes_match_re(const struct cm_route *,
		    const struct cm_rt_cond *, const char *, size_t,
		    const char *);
static int	 cm_routes_match_one_path(const struct cm_route *,
		    const struct cm_rt_cond *, const char *, size_t);
static int	 cm_routes_match_accepts(const struct cm_route *,
		    const struct cm_rt_entry *, const char *, const char *,
		    const struct cm_http_fields *);
static json_t	*cm_routes_match_cond_json(const struct cm_rt_cond *, size_t,
		    int);

static const char *const cm_routes_match_keys[] = {
	"paths", "methods", "headers", NULL
};
static const char *const cm_routes_match_path_keys[] = {
	"type", "value", NULL
};
static const char *const cm_routes_match_header_keys[] = {
	"name", "value", "type", NULL
};
/* Indexed by enum cm_rt_type. */
static const char *const cm_routes_match_path_types[] = {
	"exact", "prefix", "regex", NULL
};
static const char *const cm_routes_match_header_types[] = {
	"exact", "regex", NULL
};
/* Methods a route can never allow (§6.1: CONNECT is the tunnel itself). */
static const char *const cm_routes_match_banned[] = {
	"CONNECT", "TRACE", "TRACK", NULL
};

static pthread_once_t		 cm_routes_match_init = PTHREAD_ONCE_INIT;
static pthread_key_t		 cm_routes_match_key;
static int			 cm_routes_match_key_ok;
/* Written once under pthread_once, read-only afterwards. */
static pcre2_match_context	*cm_routes_match_ctx;

static void
cm_routes_match_md_free(void *md)
{
	pcre2_match_data_free(md);
}

static void
cm_routes_match_once(void)
{
	cm_routes_match_key_ok = pthread_key_create(&cm_routes_match_key,
	    cm_routes_match_md_free) == 0;
	if ((cm_routes_match_ctx = pcre2_match_context_create(NULL)) == NULL)
		return;
	(void)pcre2_set_match_limit(cm_routes_match_ctx,
	    CM_ROUTE_RE_MATCH_LIMIT);
	(void)pcre2_set_depth_limit(cm_routes_match_ctx,
	    CM_ROUTE_RE_DEPTH_LIMIT);
	(void)pcre2_set_heap_limit(cm_routes_match_ctx, CM_ROUTE_RE_HEAP_KIB);
}

/*
 * This thread's match data.  One ovector pair is enough: only whether
 * the pattern matched is used (a too-small ovector still reports it).
 */
static pcre2_match_data *
cm_routes_match_md(void)
{
	pcre2_match_data	*md;

	(void)pthread_once(&cm_routes_match_init, cm_routes_match_once);
	if (!cm_routes_match_key_ok || cm_routes_match_ctx == NULL)
		return (NULL);
	if ((md = pthread_getspecific(cm_routes_match_key)) != NULL)
		return (md);
	if ((md = pcre2_match_data_create(1, NULL)) == NULL)
		return (NULL);
	if (pthread_setspecific(cm_routes_match_key, md) != 0) {
		pcre2_match_data_free(md);
		return (NULL);
	}
	return (md);
}

static int
cm_routes_match_compile(struct cm_cfg_ctx *cx, const struct cm_ynode *n,
    const char *kp, struct cm_rt_cond *c)
{
	PCRE2_UCHAR	 msg[256];
	PCRE2_SIZE	 off;
	int		 err;

	/* Byte mode is a promise: (*UTF) and (*UCP) may not undo it. */
	c->re = pcre2_compile((PCRE2_SPTR)c->value, c->len, PCRE2_ANCHORED |
	    PCRE2_ENDANCHORED | PCRE2_NEVER_UTF | PCRE2_NEVER_UCP, &err, &off,
	    NULL);
	if (c->re == NULL) {
		if (pcre2_get_error_message(err, msg, sizeof(msg)) < 0)
			(void)strcpy((char *)msg, "unknown error");
		cm_cfg_error(cx, n, kp, "regex does not compile at offset %zu: "
		    "%s", (size_t)off, (const char *)msg);
		return (-1);
	}
	/* Without JIT (no executable memory) the interpreter still works. */
	(void)pcre2_jit_compile(c->re, PCRE2_JIT_COMPLETE);
	return (0);
}

/* RFC 9110 §5.6.2 token. */
static int
cm_routes_match_token(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0)
		return (0);
	for (i = 0; i < len; i++) {
		if ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9'))
			continue;
		if (s[i] == '\0' || strchr("!#$%&'*+-.^_`|~", s[i]) == NULL)
			return (0);
	}
	return (1);
}

static void
cm_routes_match_path(struct cm_cfg_ctx *cx, const struct cm_ynode *n,
    const char *kp, struct cm_rt_cond *c)
{
	const struct cm_ynode	*t, *v;
	const char		*s, *why, *reason;
	char			 p[CM_Y_PATH_BYTES], q[CM_Y_PATH_BYTES];
	char			 q2[CM_Y_PATH_BYTES], *norm;
	int			 type = CM_RT_PREFIX;

	if (cm_y_check_keys(cx, n, kp, cm_routes_match_path_keys) == -1 &&
	    n->type != CM_Y_MAP)
		return;
	if ((t = cm_y_get(n, "type")) != NULL) {
		cm_y_path_key(p, sizeof(p), kp, "type");
		if (cm_y_enum(cx, t, p, cm_routes_match_path_types,
		    &type) == -1)
			type = -1;
	}
	if ((v = cm_y_need(cx, n, kp, "value")) == NULL)
		return;
	cm_y_path_key(p, sizeof(p), kp, "value");
	if (cm_y_str(cx, v, p, &s) == -1 || type == -1)
		return;
	c->type = (enum cm_rt_type)type;
	if ((c->value = strdup(s)) == NULL) {
		cm_cfg_error(cx, v, p, "out of memory");
		return;
	}
	c->len = v->len;
	if (c->type == CM_RT_REGEX) {
		(void)cm_routes_match_compile(cx, v, p, c);
		return;
	}
	cm_y_quote(q, sizeof(q), s, v->len);
	if (s[0] != '/') {
		cm_cfg_error(cx, v, p, "%s does not start with \"/\"", q);
		return;
	}
	if (memchr(s, '?', v->len) != NULL) {
		cm_cfg_error(cx, v, p, "%s holds \"?\" (paths are matched "
		    "without the query)", q);
		return;
	}
	if ((norm = malloc(v->len + 2)) == NULL) {
		cm_cfg_error(cx, v, p, "out of memory");
		return;
	}
	/* The value must be a path egress can see, or it never matches. */
	if (cm_path_normalise(s, v->len, norm, v->len + 2, &why,
	    &reason) == -1)
		cm_cfg_error(cx, v, p, "invalid path %s: %s", q, why);
	else if (strcmp(norm, s) != 0)
		cm_cfg_error(cx, v, p, "%s is not normalised (write %s)", q,
		    cm_y_quote(q2, sizeof(q2), norm, strlen(norm)));
	free(norm);
}

static void
cm_routes_match_header(struct cm_cfg_ctx *cx, const struct cm_ynode *n,
    const char *kp, struct cm_rt_cond *c)
{
	const struct cm_ynode	*t, *v, *nm;
	const char		*s, *name = NULL;
	char			 p[CM_Y_PATH_BYTES], q[CM_Y_PATH_BYTES];
	int			 type = 0;

	if (cm_y_check_keys(cx, n, kp, cm_routes_match_header_keys) == -1 &&
	    n->type != CM_Y_MAP)
		return;
	if ((nm = cm_y_need(cx, n, kp, "name")) != NULL) {
		cm_y_path_key(p, sizeof(p), kp, "name");
		if (cm_y_str(cx, nm, p, &name) == 0 &&
		    !cm_routes_match_token(name, nm->len)) {
			cm_cfg_error(cx, nm, p, "%s is not a field name token",
			    cm_y_quote(q, sizeof(q), name, nm->len));
			name = NULL;
		}
	}
	if ((t = cm_y_get(n, "type")) != NULL) {
		cm_y_path_key(p, sizeof(p), kp, "type");
		if (cm_y_enum(cx, t, p, cm_routes_match_header_types,
		    &type) == -1)
			type = -1;
	}
	if ((v = cm_y_need(cx, n, kp, "value")) == NULL)
		return;
	cm_y_path_key(p, sizeof(p), kp, "value");
	if (cm_y_str(cx, v, p, &s) == -1 || type == -1 || name == NULL)
		return;
	c->type = type == 1 ? CM_RT_REGEX : CM_RT_EXACT;
	if ((c->name = strdup(name)) == NULL ||
	    (c->value = strdup(s)) == NULL) {
		cm_cfg_error(cx, v, p, "out of memory");
		return;
	}
	c->len = v->len;
	if (c->type == CM_RT_REGEX)
		(void)cm_routes_match_compile(cx, v, p, c);
}

static void
cm_routes_match_methods(struct cm_cfg_ctx *cx, const struct cm_ynode *n,
    const char *kp, struct cm_rt_entry *e)
{
	const struct cm_ynode	*it;
	char			 p[CM_Y_PATH_BYTES], q[CM_Y_PATH_BYTES];
	char			*m;
	size_t			 i, j;

	if (cm_y_want(cx, n, kp, CM_Y_SEQ) == -1)
		return;
	if ((e->methods = calloc(n->n + 1, sizeof(*e->methods))) == NULL) {
		cm_cfg_error(cx, n, kp, "out of memory");
		return;
	}
	e->has_methods = 1;
	for (i = 0; i < n->n; i++) {
		it = n->items[i];
		cm_y_path_idx(p, sizeof(p), kp, i);
		if (cm_y_want(cx, it, p, CM_Y_STR) == -1)
			continue;
		cm_y_quote(q, sizeof(q), it->str, it->len);
		if (!cm_routes_match_token(it->str, it->len)) {
			cm_cfg_error(cx, it, p, "%s is not a method token", q);
			continue;
		}
		if ((m = strdup(it->str)) == NULL) {
			cm_cfg_error(cx, it, p, "out of memory");
			continue;
		}
		for (j = 0; m[j] != '\0'; j++)
			if (m[j] >= 'a' && m[j] <= 'z')
				m[j] = (char)(m[j] - 'a' + 'A');
		for (j = 0; cm_routes_match_banned[j] != NULL; j++)
			if (strcmp(m, cm_routes_match_banned[j]) == 0)
				break;
		if (cm_routes_match_banned[j] != NULL) {
			cm_cfg_error(cx, it, p, "method %s is never allowed",
			    cm_y_quote(q, sizeof(q), m, strlen(m)));
			free(m);
			continue;
		}
		e->methods[e->nmethods++] = m;
	}
}

static void
cm_routes_match_entry(struct cm_cfg_ctx *cx, const struct cm_ynode *n,
    const char *kp, struct cm_rt_entry *e)
{
	const struct cm_ynode	*v;
	char			 p[CM_Y_PATH_BYTES], ip[CM_Y_PATH_BYTES];
	size_t			 i;

	if (cm_y_check_keys(cx, n, kp, cm_routes_match_keys) == -1 &&
	    n->type != CM_Y_MAP)
		return;
	if ((v = cm_y_get(n, "paths")) != NULL) {
		cm_y_path_key(p, sizeof(p), kp, "paths");
		if (cm_y_want(cx, v, p, CM_Y_SEQ) == 0) {
			e->paths = calloc(v->n + 1, sizeof(*e->paths));
			if (e->paths == NULL)
				cm_cfg_error(cx, v, p, "out of memory");
			for (i = 0; e->paths != NULL && i < v->n; i++) {
				cm_y_path_idx(ip, sizeof(ip), p, i);
				cm_routes_match_path(cx, v->items[i], ip,
				    &e->paths[e->npaths++]);
			}
			e->has_paths = 1;
		}
	}
	if ((v = cm_y_get(n, "methods")) != NULL) {
		cm_y_path_key(p, sizeof(p), kp, "methods");
		cm_routes_match_methods(cx, v, p, e);
	}
	if ((v = cm_y_get(n, "headers")) != NULL) {
		cm_y_path_key(p, sizeof(p), kp, "headers");
		if (cm_y_want(cx, v, p, CM_Y_SEQ) == 0) {
			e->headers = calloc(v->n + 1, sizeof(*e->headers));
			if (e->headers == NULL)
				cm_cfg_error(cx, v, p, "out of memory");
			for (i = 0; e->headers != NULL && i < v->n; i++) {
				cm_y_path_idx(ip, sizeof(ip), p, i);
				cm_routes_match_header(cx, v->items[i], ip,
				    &e->headers[e->nheaders++]);
			}
			e->has_headers = 1;
		}
	}
}

void
cm_routes_match_parse(struct cm_cfg_ctx *cx, const struct cm_ynode *n,
    const char *kp, struct cm_route *rt)
{
	char	 p[CM_Y_PATH_BYTES];
	size_t	 i;

	if (cm_y_want(cx, n, kp, CM_Y_SEQ) == -1)
		return;
	if ((rt->matches = calloc(n->n + 1, sizeof(*rt->matches))) == NULL) {
		cm_cfg_error(cx, n, kp, "out of memory");
		return;
	}
	rt->has_matches = 1;
	for (i = 0; i < n->n; i++) {
		cm_y_path_idx(p, sizeof(p), kp, i);
		cm_routes_match_entry(cx, n->items[i], p,
		    &rt->matches[rt->nmatches++]);
	}
}

static void
cm_routes_match_cond_free(struct cm_rt_cond *v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].value);
		pcre2_code_free(v[i].re);
	}
	free(v);
}

void
cm_routes_match_free(struct cm_route *rt)
{
	struct cm_rt_entry	*e;
	size_t			 i, j;

	for (i = 0; i < rt->nmatches; i++) {
		e = &rt->matches[i];
		cm_routes_match_cond_free(e->paths, e->npaths);
		cm_routes_match_cond_free(e->headers, e->nheaders);
		for (j = 0; j < e->nmethods; j++)
			free(e->methods[j]);
		free(e->methods);
	}
	free(rt->matches);
}

/*
 * A full match of s.  A limit, an allocation failure or any PCRE2 error
 * is no match (fail closed) and one log line; the subject is not logged,
 * since it may carry a secret.
 */
static int
cm_routes_match_re(const struct cm_route *rt, const struct cm_rt_cond *c,
    const char *s, size_t len, const char *surface)
{
	pcre2_match_data	*md;
	const char		*reason;
	int			 rc;

	if ((md = cm_routes_match_md()) == NULL)
		rc = PCRE2_ERROR_NOMEMORY;
	else
		rc = pcre2_match(c->re, (PCRE2_SPTR)s, len, 0, 0, md,
		    cm_routes_match_ctx);
	if (rc >= 0)
		return (1);
	if (rc == PCRE2_ERROR_NOMATCH)
		return (0);
	switch (rc) {
	case PCRE2_ERROR_MATCHLIMIT:
		reason = "regex_match_limit";
		break;
	case PCRE2_ERROR_DEPTHLIMIT:
		reason = "regex_depth_limit";
		break;
	case PCRE2_ERROR_HEAPLIMIT:
		reason = "regex_heap_limit";
		break;
	case PCRE2_ERROR_JIT_STACKLIMIT:
		reason = "regex_jit_stack_limit";
		break;
	default:
		reason = "regex_error";
		break;
	}
	cm_log(CM_LOG_WARN, "egress", "regex_limit", 0, json_pack(
	    "{s:s, s:s, s:o, s:s, s:i}", "host", rt->host, "surface", surface,
	    "rule", cm_log_peer(c->value, c->len), "reason", reason,
	    "pcre2_error", rc));
	return (0);
}

static int
cm_routes_match_one_path(const struct cm_route *rt,
    const struct cm_rt_cond *c, const char *path, size_t len)
{
	switch (c->type) {
	case CM_RT_EXACT:
		return (len == c->len && memcmp(path, c->value, len) == 0);
	case CM_RT_PREFIX:
		/* /repos/acme stops at a segment: not /repos/acme-evil. */
		if (len < c->len || memcmp(path, c->value, c->len) != 0)
			return (0);
		return (c->value[c->len - 1] == '/' || len == c->len ||
		    path[c->len] == '/');
	case CM_RT_REGEX:
		return (cm_routes_match_re(rt, c, path, len, "path"));
	}
	return (0);
}

static int
cm_routes_match_accepts(const struct cm_route *rt,
    const struct cm_rt_entry *e, const char *method, const char *path,
    const struct cm_http_fields *fields)
{
	const struct cm_rt_cond	*c;
	size_t			 i, plen = strlen(path);
	char			*v;
	int			 ok;

	if (e->has_methods) {
		for (i = 0; i < e->nmethods; i++)
			if (strcmp(e->methods[i], method) == 0)
				break;
		if (i == e->nmethods)
			return (0);
	}
	if (e->has_paths) {
		for (i = 0; i < e->npaths; i++)
			if (cm_routes_match_one_path(rt, &e->paths[i], path,
			    plen))
				break;
		if (i == e->npaths)
			return (0);
	}
	for (i = 0; e->has_headers && i < e->nheaders; i++) {
		c = &e->headers[i];
		/* Missing (or out of memory): the condition fails. */
		if (fields == NULL ||
		    (v = cm_http_fields_join(fields, c->name)) == NULL)
			return (0);
		if (c->type == CM_RT_EXACT)
			ok = strcmp(v, c->value) == 0;
		else
			ok = cm_routes_match_re(rt, c, v, strlen(v), c->name);
		free(v);
		if (!ok)
			return (0);
	}
	return (1);
}

int
cm_route_matches(const struct cm_route *rt, const char *method,
    const char *path, const struct cm_http_fields *fields)
{
	size_t	 i;

	if (rt->nmatches == 0)
		return (1);
	for (i = 0; i < rt->nmatches; i++)
		if (cm_routes_match_accepts(rt, &rt->matches[i], method, path,
		    fields))
			return (1);
	return (0);
}

/* Keys in the renderer's fixed order (routes_json.c): name, type, value. */
static json_t *
cm_routes_match_cond_json(const struct cm_rt_cond *v, size_t n, int header)
{
	json_t	*a, *o;
	size_t	 i;

	if ((a = json_array()) == NULL)
		return (NULL);
	for (i = 0; i < n; i++) {
		o = json_object();
		if (header)
			json_object_set_new(o, "name", json_string(v[i].name));
		json_object_set_new(o, "type", json_string(
		    v[i].type == CM_RT_EXACT ? "exact" :
		    v[i].type == CM_RT_PREFIX ? "prefix" : "regex"));
		json_object_set_new(o, "value", json_stringn(v[i].value,
		    v[i].len));
		if (json_array_append_new(a, o) == -1) {
			json_decref(a);
			return (NULL);
		}
	}
	return (a);
}

json_t *
cm_routes_match_json(const struct cm_route *rt)
{
	const struct cm_rt_entry	*e;
	json_t				*a, *o, *m;
	size_t				 i, j;

	if ((a = json_array()) == NULL)
		return (NULL);
	for (i = 0; i < rt->nmatches; i++) {
		e = &rt->matches[i];
		o = json_object();
		if (e->has_paths)
			json_object_set_new(o, "paths",
			    cm_routes_match_cond_json(e->paths, e->npaths, 0));
		if (e->has_methods) {
			m = json_array();
			for (j = 0; j < e->nmethods; j++)
				json_array_append_new(m,
				    json_string(e->methods[j]));
			json_object_set_new(o, "methods", m);
		}
		if (e->has_headers)
			json_object_set_new(o, "headers",
			    cm_routes_match_cond_json(e->headers, e->nheaders,
			    1));
		if (json_array_append_new(a, o) == -1) {
			json_decref(a);
			return (NULL);
		}
	}
	return (a);
}
