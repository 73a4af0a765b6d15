/*
 * routes.yaml (spec/egress.md §5): the schema walk, the route-level rules
 * of §5.1, host lookup (§5.2) and the accessors.  matches live in
 * routes_match.c, the JSON and YAML forms in routes_json.c.
 *
 * Every check records its error and the walk goes on, so one run shows
 * every mistake in the file; any error and no table is built.
 */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/bounds.h"
#include "common/routes.h"
#include "common/routes_int.h"
#include "common/yaml.h"

static int	 cm_routes_host_key(const char *, size_t, char *, size_t,
		    int *, const char **);
static void	 cm_routes_host(struct cm_cfg_ctx *, const struct cm_ynode *,
		    const char *, struct cm_route *);
static void	 cm_routes_ports(struct cm_cfg_ctx *, const struct cm_ynode *,
		    const char *, struct cm_route *);
static void	 cm_routes_auth(struct cm_cfg_ctx *, const struct cm_ynode *,
		    const char *, struct cm_route *);
static void	 cm_routes_git(struct cm_cfg_ctx *, const struct cm_ynode *,
		    const char *, struct cm_route *);
static int	 cm_routes_detectors(struct cm_cfg_ctx *,
		    const struct cm_ynode *, const char *, int, unsigned *);
static void	 cm_routes_dlp(struct cm_cfg_ctx *, const struct cm_ynode *,
		    const char *, struct cm_route *);
static void	 cm_routes_limits(struct cm_cfg_ctx *, const struct cm_ynode *,
		    const char *, struct cm_route *);
static int	 cm_routes_cmp(const void *, const void *);
static int	 cm_routes_cmp_suffix(const void *, const void *);
static const struct cm_route *cm_routes_search(struct cm_route **, size_t,
		    const char *, int);
static int	 cm_routes_index(struct cm_routes *);

static const char *const cm_routes_root_keys[] = { "log", "routes", NULL };
static const char *const cm_routes_keys[] = {
	"host", "ports", "matches", "auth_scheme", "token_env", "git", "dlp",
	"max_body_bytes", "on_oversize", "allow_private", NULL
};
static const char *const cm_routes_git_keys[] = { "fetch", NULL };
static const char *const cm_routes_dlp_keys[] = {
	"outbound_detectors", "inbound_detectors", "outbound_on_match", NULL
};
static const char *const cm_routes_auth_names[] = { "Bearer", "token", NULL };
static const char *const cm_routes_action_names[] = {
	"supervise", "redact", "block", NULL
};
static const char *const cm_routes_oversize_names[] = {
	"block", "noscan", NULL
};

const struct cm_rt_det cm_routes_dets[] = {
	{ "token_patterns", CM_DET_TOKEN_PATTERNS, 0 },
	{ "known_secrets", CM_DET_KNOWN_SECRETS, 0 },
	{ "entropy", CM_DET_ENTROPY, 0 },
	{ "naive_injection_detection", CM_DET_INJECTION, 1 },
	{ NULL, 0, 0 }
};

/*
 * A route's host as its identity: the normalised name or literal, with
 * "*." kept for wildcards.  Hosts of two routes clash when these are
 * equal.
 */
static int
cm_routes_host_key(const char *s, size_t len, char *out, size_t size,
    int *wildcard, const char **why)
{
	const char	*colon;
	int		 is_ip;

	*wildcard = 0;
	if (len >= 2 && s[0] == '*' && s[1] == '.') {
		*wildcard = 1;
		s += 2;
		len -= 2;
	}
	if (memchr(s, '*', len) != NULL) {
		*why = "\"*\" is allowed only as a leading \"*.\" label";
		return (-1);
	}
	/* name:port or [v6]:port; a bare IPv6 literal has two colons. */
	if (len > 0 && s[0] == '[') {
		if (s[len - 1] != ']' && memmem(s, len, "]:", 2) != NULL)
			goto port;
	} else if ((colon = memchr(s, ':', len)) != NULL &&
	    memchr(colon + 1, ':', len - (size_t)(colon - s) - 1) == NULL)
		goto port;
	if (size < 3) {
		*why = "host buffer too small";
		return (-1);
	}
	if (*wildcard)
		memcpy(out, "*.", 2);
	if (cm_host_normalise(s, len, out + (*wildcard ? 2 : 0),
	    size - (*wildcard ? 2 : 0), &is_ip, why) == -1)
		return (-1);
	if (*wildcard && is_ip) {
		*why = "a wildcard needs a DNS name after \"*.\"";
		return (-1);
	}
	return (0);
 port:
	*why = "a route host has no port (list it in ports)";
	return (-1);
}

static void
cm_routes_host(struct cm_cfg_ctx *cx, const struct cm_ynode *map,
    const char *kp, struct cm_route *rt)
{
	const struct cm_ynode	*n;
	const char		*s, *why;
	char			 p[CM_Y_PATH_BYTES], q[CM_Y_PATH_BYTES];
	char			 buf[CM_HOST_BUF_BYTES + 2];
	int			 wild;

	if ((n = cm_y_need(cx, map, kp, "host")) == NULL)
		return;
	cm_y_path_key(p, sizeof(p), kp, "host");
	if (cm_y_str(cx, n, p, &s) == -1)
		return;
	cm_y_quote(q, sizeof(q), n->str, n->len);
	if (cm_routes_host_key(n->str, n->len, buf, sizeof(buf), &wild,
	    &why) == -1) {
		cm_cfg_error(cx, n, p, "invalid host %s: %s", q, why);
		return;
	}
	if (strcmp(buf, "_egress.local") == 0) {
		cm_cfg_error(cx, n, p, "%s is reserved for introspection", q);
		return;
	}
	if ((rt->raw_host = strdup(s)) == NULL ||
	    (rt->host = strdup(buf)) == NULL) {
		cm_cfg_error(cx, n, p, "out of memory");
		return;
	}
	rt->wildcard = wild;
	rt->suffix = wild ? rt->host + 2 : rt->host;
}

static void
cm_routes_ports(struct cm_cfg_ctx *cx, const struct cm_ynode *n,
    const char *kp, struct cm_route *rt)
{
	char		 p[CM_Y_PATH_BYTES];
	long long	 v;
	size_t		 i;

	if (cm_y_want(cx, n, kp, CM_Y_SEQ) == -1)
		return;
	/* [] would allow no port at all: surely a mistake, not a policy. */
	if (n->n == 0) {
		cm_cfg_error(cx, n, kp,
		    "must list at least one port (omit it for 443 and 80)");
		return;
	}
	if ((rt->ports = calloc(n->n, sizeof(*rt->ports))) == NULL) {
		cm_cfg_error(cx, n, kp, "out of memory");
		return;
	}
	rt->has_ports = 1;
	for (i = 0; i < n->n; i++) {
		cm_y_path_idx(p, sizeof(p), kp, i);
		if (cm_y_int(cx, n->items[i], p, 1, 65535, &v) == 0)
			rt->ports[rt->nports++] = (int)v;
	}
}

static void
cm_routes_auth(struct cm_cfg_ctx *cx, const struct cm_ynode *map,
    const char *kp, struct cm_route *rt)
{
	const struct cm_ynode	*sch, *env;
	const char		*s;
	char			 p[CM_Y_PATH_BYTES], q[CM_Y_PATH_BYTES];
	size_t			 i;
	int			 v;

	sch = cm_y_get(map, "auth_scheme");
	env = cm_y_get(map, "token_env");
	if (sch != NULL) {
		cm_y_path_key(p, sizeof(p), kp, "auth_scheme");
		if (cm_y_enum(cx, sch, p, cm_routes_auth_names, &v) == 0)
			rt->auth = v == 0 ? CM_AUTH_BEARER : CM_AUTH_TOKEN;
		if (env == NULL)
			cm_cfg_error(cx, sch, p, "set without token_env "
			    "(both auth keys or neither)");
	}
	if (env == NULL)
		return;
	cm_y_path_key(p, sizeof(p), kp, "token_env");
	if (sch == NULL)
		cm_cfg_error(cx, env, p, "set without auth_scheme "
		    "(both auth keys or neither)");
	if (cm_y_str(cx, env, p, &s) == -1)
		return;
	for (i = 0; i < env->len; i++) {
		if (s[i] == '_' || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z') ||
		    (i > 0 && s[i] >= '0' && s[i] <= '9'))
			continue;
		break;
	}
	if (env->len == 0 || i < env->len) {
		cm_cfg_error(cx, env, p, "invalid variable name %s "
		    "(expected [A-Za-z_][A-Za-z0-9_]*)",
		    cm_y_quote(q, sizeof(q), s, env->len));
		return;
	}
	if ((rt->token_env = strdup(s)) == NULL)
		cm_cfg_error(cx, env, p, "out of memory");
}

static void
cm_routes_git(struct cm_cfg_ctx *cx, const struct cm_ynode *n,
    const char *kp, struct cm_route *rt)
{
	const struct cm_ynode	*f;
	char			 p[CM_Y_PATH_BYTES];

	if (cm_y_check_keys(cx, n, kp, cm_routes_git_keys) == -1 &&
	    n->type != CM_Y_MAP)
		return;
	rt->has_git = 1;
	if ((f = cm_y_get(n, "fetch")) == NULL)
		return;
	cm_y_path_key(p, sizeof(p), kp, "fetch");
	if (cm_y_bool(cx, f, p, &rt->git_fetch) == 0)
		rt->has_fetch = 1;
}

/* true, false or a list of distinct names of one direction. */
static int
cm_routes_detectors(struct cm_cfg_ctx *cx, const struct cm_ynode *n,
    const char *kp, int inbound, unsigned *out)
{
	const struct cm_ynode	*it;
	const struct cm_rt_det	*d;
	const char		*expect;
	char			 p[CM_Y_PATH_BYTES], q[CM_Y_PATH_BYTES];
	size_t			 i;
	int			 rc = 0;

	expect = inbound ? "naive_injection_detection" :
	    "token_patterns, known_secrets, entropy";
	if (n->invalid)
		return (-1);	/* the loader said why */
	if (n->type == CM_Y_BOOL) {
		*out = !n->bval ? 0 : inbound ? CM_DET_INBOUND_DEFAULT :
		    CM_DET_OUTBOUND_DEFAULT;
		return (0);
	}
	if (n->type != CM_Y_SEQ) {
		cm_cfg_error(cx, n, kp, "expected true, false or a list of "
		    "detectors, got %s", cm_y_type_name(n->type));
		return (-1);
	}
	*out = 0;
	for (i = 0; i < n->n; i++) {
		it = n->items[i];
		cm_y_path_idx(p, sizeof(p), kp, i);
		if (cm_y_want(cx, it, p, CM_Y_STR) == -1) {
			rc = -1;
			continue;
		}
		cm_y_quote(q, sizeof(q), it->str, it->len);
		for (d = cm_routes_dets; d->name != NULL; d++)
			if (strcmp(d->name, it->str) == 0)
				break;
		if (d->name == NULL)
			cm_cfg_error(cx, it, p, "unknown detector %s "
			    "(expected %s)", q, expect);
		else if (d->inbound != inbound)
			cm_cfg_error(cx, it, p, "%s is an %s detector "
			    "(expected %s)", q, d->inbound ? "inbound" :
			    "outbound", expect);
		else if (*out & d->bit)
			cm_cfg_error(cx, it, p, "duplicate detector %s", q);
		else {
			*out |= d->bit;
			continue;
		}
		rc = -1;
	}
	return (rc);
}

static void
cm_routes_dlp(struct cm_cfg_ctx *cx, const struct cm_ynode *n,
    const char *kp, struct cm_route *rt)
{
	const struct cm_ynode	*v;
	char			 p[CM_Y_PATH_BYTES];
	int			 a;

	if (cm_y_check_keys(cx, n, kp, cm_routes_dlp_keys) == -1 &&
	    n->type != CM_Y_MAP)
		return;
	rt->has_dlp = 1;
	if ((v = cm_y_get(n, "outbound_detectors")) != NULL) {
		cm_y_path_key(p, sizeof(p), kp, "outbound_detectors");
		if (cm_routes_detectors(cx, v, p, 0, &rt->outbound) == 0)
			rt->dlp_given |= CM_RT_DLP_OUT;
	}
	if ((v = cm_y_get(n, "inbound_detectors")) != NULL) {
		cm_y_path_key(p, sizeof(p), kp, "inbound_detectors");
		if (cm_routes_detectors(cx, v, p, 1, &rt->inbound) == 0)
			rt->dlp_given |= CM_RT_DLP_IN;
	}
	if ((v = cm_y_get(n, "outbound_on_match")) != NULL) {
		cm_y_path_key(p, sizeof(p), kp, "outbound_on_match");
		if (cm_y_enum(cx, v, p, cm_routes_action_names, &a) == 0) {
			rt->on_match = (enum cm_dlp_action)a;
			rt->dlp_given |= CM_RT_DLP_ACTION;
		}
	}
}

static void
cm_routes_limits(struct cm_cfg_ctx *cx, const struct cm_ynode *map,
    const char *kp, struct cm_route *rt)
{
	const struct cm_ynode	*n, *mb;
	char			 p[CM_Y_PATH_BYTES];
	long long		 v;
	int			 e;

	if ((mb = cm_y_get(map, "max_body_bytes")) != NULL) {
		cm_y_path_key(p, sizeof(p), kp, "max_body_bytes");
		if (cm_y_int(cx, mb, p, 1, LLONG_MAX, &v) == 0)
			rt->max_body = (uint64_t)v;
	}
	if ((n = cm_y_get(map, "on_oversize")) != NULL) {
		cm_y_path_key(p, sizeof(p), kp, "on_oversize");
		if (cm_y_enum(cx, n, p, cm_routes_oversize_names, &e) == 0) {
			rt->has_on_oversize = 1;
			rt->oversize_noscan = e == 1;
		}
		if (mb == NULL)
			cm_cfg_error(cx, n, p, "needs max_body_bytes");
	}
	if ((n = cm_y_get(map, "allow_private")) != NULL) {
		cm_y_path_key(p, sizeof(p), kp, "allow_private");
		if (cm_y_bool(cx, n, p, &rt->allow_private) == 0)
			rt->has_allow_private = 1;
	}
}

struct cm_route *
cm_routes_route_parse(struct cm_cfg_ctx *cx, const struct cm_ynode *node,
    const char *kp)
{
	struct cm_route		*rt;
	const struct cm_ynode	*n;
	char			 p[CM_Y_PATH_BYTES];

	if ((rt = calloc(1, sizeof(*rt))) == NULL) {
		cm_cfg_error(cx, node, kp, "out of memory");
		return (NULL);
	}
	rt->outbound = CM_DET_OUTBOUND_DEFAULT;
	rt->inbound = CM_DET_INBOUND_DEFAULT;
	rt->on_match = CM_DLP_SUPERVISE;
	rt->line = node->line;
	if (cm_y_check_keys(cx, node, kp, cm_routes_keys) == -1 &&
	    node->type != CM_Y_MAP)
		return (rt);
	cm_routes_host(cx, node, kp, rt);
	if ((n = cm_y_get(node, "ports")) != NULL) {
		cm_y_path_key(p, sizeof(p), kp, "ports");
		cm_routes_ports(cx, n, p, rt);
	}
	if ((n = cm_y_get(node, "matches")) != NULL) {
		cm_y_path_key(p, sizeof(p), kp, "matches");
		cm_routes_match_parse(cx, n, p, rt);
	}
	cm_routes_auth(cx, node, kp, rt);
	if ((n = cm_y_get(node, "git")) != NULL) {
		cm_y_path_key(p, sizeof(p), kp, "git");
		cm_routes_git(cx, n, p, rt);
	}
	if ((n = cm_y_get(node, "dlp")) != NULL) {
		cm_y_path_key(p, sizeof(p), kp, "dlp");
		cm_routes_dlp(cx, n, p, rt);
	}
	cm_routes_limits(cx, node, kp, rt);
	return (rt);
}

void
cm_routes_route_free(struct cm_route *rt)
{
	if (rt == NULL)
		return;
	cm_routes_match_free(rt);
	free(rt->raw_host);
	free(rt->host);
	free(rt->ports);
	free(rt->token_env);
	free(rt);
}

static int
cm_routes_cmp(const void *a, const void *b)
{
	const struct cm_route	*x = *(struct cm_route *const *)a;
	const struct cm_route	*y = *(struct cm_route *const *)b;

	return (strcmp(x->host, y->host));
}

static int
cm_routes_cmp_suffix(const void *a, const void *b)
{
	const struct cm_route	*x = *(struct cm_route *const *)a;
	const struct cm_route	*y = *(struct cm_route *const *)b;

	return (strcmp(x->suffix, y->suffix));
}

static const struct cm_route *
cm_routes_search(struct cm_route **v, size_t n, const char *key, int wild)
{
	size_t	 lo = 0, hi = n, mid;
	int	 c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(key, wild ? v[mid]->suffix : v[mid]->host);
		if (c == 0)
			return (v[mid]);
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return (NULL);
}

/* Sorted views for lookup; hosts are unique, so no ties. */
static int
cm_routes_index(struct cm_routes *r)
{
	size_t	 i;

	if ((r->exact = calloc(r->n + 1, sizeof(*r->exact))) == NULL ||
	    (r->wild = calloc(r->n + 1, sizeof(*r->wild))) == NULL)
		return (-1);
	for (i = 0; i < r->n; i++) {
		if (r->v[i]->wildcard)
			r->wild[r->nwild++] = r->v[i];
		else
			r->exact[r->nexact++] = r->v[i];
	}
	qsort(r->exact, r->nexact, sizeof(*r->exact), cm_routes_cmp);
	qsort(r->wild, r->nwild, sizeof(*r->wild), cm_routes_cmp_suffix);
	return (0);
}

struct cm_routes *
cm_routes_parse(struct cm_cfg_ctx *cx, const struct cm_ynode *root)
{
	struct cm_routes	*r;
	const struct cm_ynode	*n, *list;
	struct cm_route		*rt;
	char			 p[CM_Y_PATH_BYTES], q[CM_Y_PATH_BYTES];
	char			 hp[CM_Y_PATH_BYTES];
	long long		 v;
	size_t			 before = cx->nerrors, i, j;

	if (cm_y_check_keys(cx, root, NULL, cm_routes_root_keys) == -1 &&
	    (root == NULL || root->type != CM_Y_MAP))
		return (NULL);
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		cm_cfg_error(cx, root, NULL, "out of memory");
		return (NULL);
	}
	if ((n = cm_y_get(root, "log")) != NULL &&
	    cm_y_int(cx, n, "log", 0, 2, &v) == 0)
		r->log = (int)v;
	if ((list = cm_y_need(cx, root, NULL, "routes")) == NULL ||
	    cm_y_want(cx, list, "routes", CM_Y_SEQ) == -1)
		goto fail;
	if ((r->v = calloc(list->n + 1, sizeof(*r->v))) == NULL) {
		cm_cfg_error(cx, list, "routes", "out of memory");
		goto fail;
	}
	for (i = 0; i < list->n; i++) {
		cm_y_path_idx(p, sizeof(p), "routes", i);
		if ((rt = cm_routes_route_parse(cx, list->items[i], p)) == NULL)
			continue;
		r->v[r->n++] = rt;
		if (rt->host == NULL)
			continue;
		/* One route per host: two would make the policy order-bound. */
		for (j = 0; j + 1 < r->n; j++) {
			if (r->v[j]->host == NULL ||
			    strcmp(r->v[j]->host, rt->host) != 0)
				continue;
			cm_y_path_key(hp, sizeof(hp), p, "host");
			cm_cfg_error(cx, cm_y_get(list->items[i], "host"), hp,
			    "duplicate host %s (routes[%zu] at line %zu has "
			    "it)",
			    cm_y_quote(q, sizeof(q), rt->host,
			    strlen(rt->host)), j, r->v[j]->line);
			break;
		}
	}
	/*
	 * Any error in this file's context fails it, the loader's too: it
	 * returns a pruned tree after non-fatal errors (common/yaml.h).
	 */
	if (cx->nerrors != before || cx->nerrors != 0)
		goto fail;
	if (cm_routes_index(r) == -1) {
		cm_cfg_error(cx, root, NULL, "out of memory");
		goto fail;
	}
	return (r);
 fail:
	cm_routes_free(r);
	return (NULL);
}

struct cm_routes *
cm_routes_load(struct cm_cfg_ctx *cx, const char *path)
{
	struct cm_ynode		*root;
	struct cm_routes	*r;
	size_t			 before = cx->nerrors;

	if ((root = cm_yaml_load_file(cx, path)) == NULL)
		return (NULL);
	r = cm_routes_parse(cx, root);
	cm_yaml_free(root);
	/* The loader's own errors count too (yaml.h). */
	if (r != NULL && cx->nerrors != before) {
		cm_routes_free(r);
		return (NULL);
	}
	return (r);
}

void
cm_routes_free(struct cm_routes *r)
{
	size_t	 i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n; i++)
		cm_routes_route_free(r->v[i]);
	free(r->v);
	free(r->exact);
	free(r->wild);
	free(r);
}

int
cm_routes_log(const struct cm_routes *r)
{
	return (r->log);
}

size_t
cm_routes_count(const struct cm_routes *r)
{
	return (r->n);
}

const struct cm_route *
cm_routes_at(const struct cm_routes *r, size_t i)
{
	return (i < r->n ? r->v[i] : NULL);
}

const struct cm_route *
cm_routes_lookup(const struct cm_routes *r, const char *host)
{
	const struct cm_route	*rt;
	const char		*why, *dot;
	char			 buf[CM_HOST_BUF_BYTES];
	int			 is_ip;

	/* Normalising again is cheap and makes a raw Host safe here too. */
	if (cm_host_normalise(host, strlen(host), buf, sizeof(buf), &is_ip,
	    &why) == -1)
		return (NULL);
	if ((rt = cm_routes_search(r->exact, r->nexact, buf, 0)) != NULL)
		return (rt);
	if (is_ip)
		return (NULL);
	/* Leftmost dot first: the longest suffix wins. */
	for (dot = strchr(buf, '.'); dot != NULL; dot = strchr(dot + 1, '.')) {
		if ((rt = cm_routes_search(r->wild, r->nwild, dot + 1, 1)) !=
		    NULL)
			return (rt);
	}
	return (NULL);
}

int
cm_routes_find(const struct cm_routes *r, const char *route_host,
    size_t *idx)
{
	const char	*why;
	char		 buf[CM_HOST_BUF_BYTES + 2];
	size_t		 i;
	int		 wild;

	if (cm_routes_host_key(route_host, strlen(route_host), buf,
	    sizeof(buf), &wild, &why) == -1)
		return (-1);
	for (i = 0; i < r->n; i++) {
		if (strcmp(r->v[i]->host, buf) == 0) {
			*idx = i;
			return (0);
		}
	}
	return (-1);
}

const char *
cm_route_host(const struct cm_route *rt)
{
	return (rt->host);
}

int
cm_route_is_wildcard(const struct cm_route *rt)
{
	return (rt->wildcard);
}

int
cm_route_port_allowed(const struct cm_route *rt, int port, int tls)
{
	size_t	 i;

	if (!rt->has_ports)
		return (port == (tls ? 443 : 80));
	for (i = 0; i < rt->nports; i++)
		if (rt->ports[i] == port)
			return (1);
	return (0);
}

enum cm_auth_scheme
cm_route_auth(const struct cm_route *rt)
{
	return (rt->auth);
}

const char *
cm_route_token_env(const struct cm_route *rt)
{
	return (rt->token_env);
}

int
cm_route_git_fetch(const struct cm_route *rt)
{
	return (rt->git_fetch);
}

unsigned
cm_route_outbound(const struct cm_route *rt)
{
	return (rt->outbound);
}

unsigned
cm_route_inbound(const struct cm_route *rt)
{
	return (rt->inbound);
}

enum cm_dlp_action
cm_route_on_match(const struct cm_route *rt)
{
	return (rt->on_match);
}

uint64_t
cm_route_max_body(const struct cm_route *rt)
{
	return (rt->max_body);
}

int
cm_route_oversize_noscan(const struct cm_route *rt)
{
	return (rt->oversize_noscan);
}

int
cm_route_allow_private(const struct cm_route *rt)
{
	return (rt->allow_private);
}

size_t
cm_route_line(const struct cm_route *rt)
{
	return (rt->line);
}
