/*
 * Tool arguments to proposal payloads (spec/supervise.md §4.3, §4.4).
 * An egress-block becomes the node tree the YAML loader builds for one
 * route and goes through the routes.yaml validator itself, so a route
 * the agent proposes is judged exactly as the file would be.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bounds.h"
#include "common/queue_file.h"
#include "common/routes.h"
#include "common/util.h"
#include "common/yaml.h"
#include "supervise/sv.h"

static const char *const sv_egress_keys[] = {
	"host", "matches", "path_allowlist", "git", "dlp", "auth",
	"auth_scheme", "token_env", "ports", "max_body_bytes", "on_oversize",
	"allow_private", "justification", NULL
};
/* Route keys the agent may give, copied into the route as given. */
static const char *const sv_route_keys[] = {
	"ports", "matches", "auth_scheme", "token_env", "git", "dlp",
	"max_body_bytes", "on_oversize", "allow_private", NULL
};
static const char *const sv_capability_keys[] = {
	"dockerfile", "description", "justification", NULL
};

static struct cm_ynode *
sv_ynode_new(enum cm_ytype type, const char *str, size_t len)
{
	struct cm_ynode	*n;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		return (NULL);
	n->type = type;
	if ((n->str = malloc(len + 1)) == NULL) {
		free(n);
		return (NULL);
	}
	memcpy(n->str, str, len);
	n->str[len] = '\0';
	n->len = len;
	return (n);
}

static struct cm_ynode *
sv_json_to_ynode_at(const json_t *v, int depth)
{
	struct cm_ynode	*n = NULL;
	const char	*k;
	json_t		*c;
	char		 buf[64];
	size_t		 i, len;

	if (depth > CM_MAX_YAML_DEPTH)
		return (NULL);
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if ((n = sv_ynode_new(CM_Y_MAP, "", 0)) == NULL)
			return (NULL);
		len = json_object_size(v);
		if (len > 0 && (n->pairs = calloc(len, sizeof(*n->pairs))) ==
		    NULL)
			goto fail;
		json_object_foreach((json_t *)v, k, c) {
			struct cm_ypair *p = &n->pairs[n->n];

			p->key = sv_ynode_new(CM_Y_STR, k, strlen(k));
			p->val = sv_json_to_ynode_at(c, depth + 1);
			n->n++;
			if (p->key == NULL || p->val == NULL)
				goto fail;
		}
		return (n);
	case JSON_ARRAY:
		if ((n = sv_ynode_new(CM_Y_SEQ, "", 0)) == NULL)
			return (NULL);
		len = json_array_size(v);
		if (len > 0 && (n->items = calloc(len, sizeof(*n->items))) ==
		    NULL)
			goto fail;
		for (i = 0; i < len; i++) {
			n->items[n->n] = sv_json_to_ynode_at(
			    json_array_get(v, i), depth + 1);
			if (n->items[n->n++] == NULL)
				goto fail;
		}
		return (n);
	case JSON_STRING:
		/* Quoted: "true" stays a string, as in a quoted YAML value. */
		if ((n = sv_ynode_new(CM_Y_STR, json_string_value(v),
		    json_string_length(v))) != NULL)
			n->quoted = 1;
		return (n);
	case JSON_INTEGER:
		(void)snprintf(buf, sizeof(buf), "%lld",
		    (long long)json_integer_value(v));
		if ((n = sv_ynode_new(CM_Y_INT, buf, strlen(buf))) != NULL)
			n->ival = json_integer_value(v);
		return (n);
	case JSON_REAL:
		(void)snprintf(buf, sizeof(buf), "%.17g", json_real_value(v));
		return (sv_ynode_new(CM_Y_STR, buf, strlen(buf)));
	case JSON_TRUE:
	case JSON_FALSE:
		if ((n = sv_ynode_new(CM_Y_BOOL, json_is_true(v) ? "true" :
		    "false", json_is_true(v) ? 4 : 5)) != NULL)
			n->bval = json_is_true(v);
		return (n);
	case JSON_NULL:
		return (sv_ynode_new(CM_Y_NULL, "", 0));
	}
	return (NULL);
fail:
	cm_yaml_free(n);
	return (NULL);
}

struct cm_ynode *
sv_json_to_ynode(const json_t *v)
{
	return (sv_json_to_ynode_at(v, 0));
}

json_t *
sv_propose_route(const char *tool, const json_t *v, char *err, size_t errlen)
{
	struct cm_cfg_ctx	*cx;
	struct cm_ynode		*node;
	json_t			*route = NULL;

	if ((cx = calloc(1, sizeof(*cx))) == NULL) {
		(void)snprintf(err, errlen, "%s: out of memory", tool);
		return (NULL);
	}
	cx->path = tool;
	if ((node = sv_json_to_ynode(v)) == NULL)
		(void)snprintf(err, errlen, "%s: the route is nested too "
		    "deeply", tool);
	else if ((route = cm_routes_json_parse_route(cx, node)) == NULL)
		cm_strlcpy(err, cx->nerrors > 0 ? cx->errors[0] :
		    "invalid route", errlen);
	cm_yaml_free(node);
	free(cx);
	return (route);
}

int
sv_match_in(const json_t *e, const json_t *list)
{
	size_t	 i;

	for (i = 0; i < json_array_size(list); i++)
		if (json_equal(e, json_array_get(list, i)))
			return (1);
	return (0);
}

/* Does live (a route in JSON form) allow all that want asks for? */
static int
sv_route_covers(const json_t *live, const json_t *want)
{
	const json_t	*lm = json_object_get(live, "matches");
	const json_t	*wm = json_object_get(want, "matches");
	size_t		 i;

	/* A route without matches allows every request. */
	if (json_array_size(lm) > 0) {
		if (json_array_size(wm) == 0)
			return (0);
		for (i = 0; i < json_array_size(wm); i++)
			if (!sv_match_in(json_array_get(wm, i), lm))
				return (0);
	}
	if (json_is_true(json_object_get(json_object_get(want, "git"),
	    "fetch")) && !json_is_true(json_object_get(json_object_get(live,
	    "git"), "fetch")))
		return (0);
	return (1);
}

/* The live route (JSON form) whose host is host, or NULL; a new ref. */
static json_t *
sv_live_route(const struct cm_routes *routes, const char *host)
{
	json_t	*doc, *r;
	size_t	 idx;

	if (routes == NULL || cm_routes_find(routes, host, &idx) == -1)
		return (NULL);
	if ((doc = cm_routes_json(routes)) == NULL)
		return (NULL);
	r = json_incref(json_array_get(json_object_get(doc, "routes"), idx));
	json_decref(doc);
	return (r);
}

int
sv_propose_applied(const struct cm_routes *routes, const json_t *route)
{
	const char	*host = json_string_value(json_object_get(route,
			    "host"));
	json_t		*live;
	int		 ok;

	if (host == NULL || (live = sv_live_route(routes, host)) == NULL)
		return (0);
	ok = sv_route_covers(live, route);
	json_decref(live);
	return (ok);
}

/* Unknown argument names are errors (additionalProperties: false). */
static int
sv_propose_keys(const char *tool, const json_t *args,
    const char *const *allowed, char *err, size_t errlen)
{
	const char	*k;
	json_t		*v;
	size_t		 i;

	json_object_foreach((json_t *)args, k, v) {
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(k, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL) {
			(void)snprintf(err, errlen,
			    "%s: unknown argument \"%.64s\"", tool, k);
			return (-1);
		}
	}
	return (0);
}

static size_t
sv_utf8_chars(const char *s, size_t len)
{
	size_t	 i, n = 0;

	for (i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	return (n);
}

/* 1..4000 characters after trimming; a new copy, trimmed. */
static char *
sv_propose_justification(const char *tool, const json_t *args, char *err,
    size_t errlen)
{
	const json_t	*j = json_object_get(args, "justification");
	const char	*s, *e;
	char		*out;
	size_t		 n;

	if (j == NULL || json_is_null(j)) {
		(void)snprintf(err, errlen, "%s: justification is required",
		    tool);
		return (NULL);
	}
	if (!json_is_string(j)) {
		(void)snprintf(err, errlen, "%s: justification must be a "
		    "string", tool);
		return (NULL);
	}
	s = json_string_value(j);
	e = s + json_string_length(j);
	while (s < e && isspace((unsigned char)*s))
		s++;
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	n = (size_t)(e - s);
	if (n == 0) {
		(void)snprintf(err, errlen, "%s: justification is required",
		    tool);
		return (NULL);
	}
	if (sv_utf8_chars(s, n) > SV_MAX_JUSTIFICATION_CHARS) {
		(void)snprintf(err, errlen, "%s: justification is longer than "
		    "%d characters", tool, SV_MAX_JUSTIFICATION_CHARS);
		return (NULL);
	}
	if ((out = malloc(n + 1)) == NULL)
		return (NULL);
	memcpy(out, s, n);
	out[n] = '\0';
	return (out);
}

/* §4.3 host rules before the route parser sees it; lower-cased. */
static int
sv_propose_host(const json_t *hv, char *host, size_t size, char *err,
    size_t errlen)
{
	const char	*h;
	unsigned char	 bin[16];
	size_t		 i, n;

	if ((h = json_string_value(hv)) == NULL) {
		(void)snprintf(err, errlen, "egress-block: host is required "
		    "(a string)");
		return (-1);
	}
	n = json_string_length(hv);
	if (n == 0 || n >= size) {
		(void)snprintf(err, errlen, "egress-block: host is empty or "
		    "too long");
		return (-1);
	}
	if (strstr(h, "://") != NULL || strchr(h, '/') != NULL) {
		(void)snprintf(err, errlen, "egress-block: host must be a "
		    "name, without scheme or path");
		return (-1);
	}
	if (strchr(h, '*') != NULL) {
		(void)snprintf(err, errlen, "egress-block: host must not be a "
		    "wildcard");
		return (-1);
	}
	for (i = 0; i < n; i++)
		host[i] = (char)tolower((unsigned char)h[i]);
	host[n] = '\0';
	if (strchr(host, ':') != NULL) {
		char	 inner[64];

		/* IPv6 literals (bracketed or not) hold colons, ports too. */
		cm_strlcpy(inner, host[0] == '[' ? host + 1 : host,
		    sizeof(inner));
		if (host[0] == '[' && inner[0] != '\0' &&
		    inner[strlen(inner) - 1] == ']')
			inner[strlen(inner) - 1] = '\0';
		if (inet_pton(AF_INET6, inner, bin) != 1) {
			(void)snprintf(err, errlen, "egress-block: host must "
			    "not carry a port");
			return (-1);
		}
	}
	if (strcmp(host, "_egress.local") == 0 ||
	    strcmp(host, "_egress.local.") == 0) {
		(void)snprintf(err, errlen, "egress-block: _egress.local is "
		    "reserved");
		return (-1);
	}
	return (0);
}

static int
sv_propose_auth(const json_t *auth, char *err, size_t errlen)
{
	const char	*s, *k;
	json_t		*v;
	size_t		 i;

	if (!json_is_object(auth)) {
		(void)snprintf(err, errlen, "egress-block: auth must be an "
		    "object {scheme, token_ref}");
		return (-1);
	}
	json_object_foreach((json_t *)auth, k, v)
		if (strcmp(k, "scheme") != 0 && strcmp(k, "token_ref") != 0) {
			(void)snprintf(err, errlen, "egress-block: auth: "
			    "unknown key \"%.64s\"", k);
			return (-1);
		}
	if ((v = json_object_get(auth, "scheme")) != NULL &&
	    ((s = json_string_value(v)) == NULL || (strcmp(s, "Bearer") != 0 &&
	    strcmp(s, "token") != 0))) {
		(void)snprintf(err, errlen, "egress-block: auth.scheme must be "
		    "Bearer or token");
		return (-1);
	}
	if ((v = json_object_get(auth, "token_ref")) != NULL) {
		if ((s = json_string_value(v)) == NULL || s[0] == '\0' ||
		    isdigit((unsigned char)s[0]) || strlen(s) > 128) {
			(void)snprintf(err, errlen, "egress-block: "
			    "auth.token_ref must be a variable name");
			return (-1);
		}
		for (i = 0; s[i] != '\0'; i++)
			if (!isalnum((unsigned char)s[i]) && s[i] != '_') {
				(void)snprintf(err, errlen, "egress-block: "
				    "auth.token_ref must be a variable name");
				return (-1);
			}
	}
	return (0);
}

static int
sv_propose_egress(const json_t *args, const struct cm_routes *routes,
    json_t **payload, char *err, size_t errlen)
{
	const json_t	*pa = json_object_get(args, "path_allowlist");
	const json_t	*auth = json_object_get(args, "auth");
	json_t		*in, *route, *live, *v, *paths;
	char		 host[CM_HOST_BUF_BYTES];
	size_t		 i;

	if (sv_propose_host(json_object_get(args, "host"), host, sizeof(host),
	    err, errlen) == -1)
		return (-1);
	if (pa != NULL && json_object_get(args, "matches") != NULL) {
		(void)snprintf(err, errlen, "egress-block: give matches or "
		    "path_allowlist, not both");
		return (-1);
	}
	if (auth != NULL && sv_propose_auth(auth, err, errlen) == -1)
		return (-1);
	in = json_pack("{s:s}", "host", host);
	for (i = 0; sv_route_keys[i] != NULL; i++)
		if ((v = json_object_get(args, sv_route_keys[i])) != NULL)
			json_object_set(in, sv_route_keys[i], v);
	if (pa != NULL) {
		/* The old argument: each entry is one prefix match. */
		if (!json_is_array(pa) || json_array_size(pa) == 0) {
			json_decref(in);
			(void)snprintf(err, errlen, "egress-block: "
			    "path_allowlist must be a non-empty list of paths");
			return (-1);
		}
		paths = json_array();
		for (i = 0; i < json_array_size(pa); i++) {
			const char *p;

			p = json_string_value(json_array_get(pa, i));

			if (p == NULL || p[0] != '/') {
				json_decref(paths);
				json_decref(in);
				(void)snprintf(err, errlen, "egress-block: "
				    "path_allowlist[%zu] must start with /", i);
				return (-1);
			}
			json_array_append_new(paths, json_pack("{s:s,s:s}",
			    "type", "prefix", "value", p));
		}
		json_object_set_new(in, "matches", json_pack("[{s:o}]",
		    "paths", paths));
	}
	if (json_array_size(json_object_get(in, "matches")) > SV_MAX_MATCHES) {
		json_decref(in);
		(void)snprintf(err, errlen, "egress-block: matches holds more "
		    "than %d entries", SV_MAX_MATCHES);
		return (-1);
	}
	route = sv_propose_route("egress-block", in, err, errlen);
	json_decref(in);
	if (route == NULL)
		return (-1);
	live = sv_live_route(routes, host);
	if (live != NULL && sv_route_covers(live, route)) {
		json_decref(live);
		json_decref(route);
		(void)snprintf(err, errlen, "egress-block: already allowed: "
		    "the route for %s permits this; retry the request", host);
		return (-1);
	}
	*payload = json_pack("{s:o,s:o}", "route", route, "existing_route",
	    live != NULL ? live : json_null());
	if (auth != NULL)
		json_object_set(*payload, "auth_request", (json_t *)auth);
	if (pa != NULL)
		json_object_set(*payload, "path_allowlist", (json_t *)pa);
	return (0);
}

static int
sv_propose_capability(const json_t *args, json_t **payload, char *err,
    size_t errlen)
{
	const json_t	*df = json_object_get(args, "dockerfile");
	const json_t	*de = json_object_get(args, "description");

	if ((df != NULL && !json_is_string(df)) ||
	    (de != NULL && !json_is_string(de))) {
		(void)snprintf(err, errlen, "capability-block: dockerfile and "
		    "description must be strings");
		return (-1);
	}
	if ((df == NULL || json_string_length(df) == 0) &&
	    (de == NULL || json_string_length(de) == 0)) {
		(void)snprintf(err, errlen, "capability-block: give a "
		    "dockerfile or a description");
		return (-1);
	}
	if (df != NULL && json_string_length(df) > SV_MAX_DOCKERFILE_BYTES) {
		(void)snprintf(err, errlen, "capability-block: dockerfile is "
		    "larger than %d bytes", SV_MAX_DOCKERFILE_BYTES);
		return (-1);
	}
	if (de != NULL && sv_utf8_chars(json_string_value(de),
	    json_string_length(de)) > SV_MAX_DESCRIPTION_CHARS) {
		(void)snprintf(err, errlen, "capability-block: description is "
		    "longer than %d characters", SV_MAX_DESCRIPTION_CHARS);
		return (-1);
	}
	*payload = json_object();
	if (df != NULL && json_string_length(df) > 0)
		json_object_set(*payload, "dockerfile", (json_t *)df);
	if (de != NULL && json_string_length(de) > 0)
		json_object_set(*payload, "description", (json_t *)de);
	return (0);
}

int
sv_propose(const char *tool, const json_t *args,
    const struct cm_routes *routes, json_t **payload, char **justification,
    char *err, size_t errlen)
{
	int	 egress = strcmp(tool, "egress-block") == 0;
	char	*s;
	size_t	 len;

	*payload = NULL;
	*justification = NULL;
	if (sv_propose_keys(tool, args, egress ? sv_egress_keys :
	    sv_capability_keys, err, errlen) == -1)
		return (-1);
	if ((*justification = sv_propose_justification(tool, args, err,
	    errlen)) == NULL)
		return (-1);
	if ((egress ? sv_propose_egress(args, routes, payload, err, errlen) :
	    sv_propose_capability(args, payload, err, errlen)) == -1) {
		free(*justification);
		*justification = NULL;
		return (-1);
	}
	/* The file must stay under its cap with the envelope around it. */
	s = json_dumps(*payload, JSON_INDENT(2));
	len = s != NULL ? strlen(s) : 0;
	free(s);
	if (len + strlen(*justification) + 4096 > CM_QUEUE_PROPOSAL_MAX_BYTES) {
		(void)snprintf(err, errlen, "%s: the request is larger than "
		    "%d KiB", tool, CM_QUEUE_PROPOSAL_MAX_BYTES / 1024);
		json_decref(*payload);
		free(*justification);
		*payload = NULL;
		*justification = NULL;
		return (-1);
	}
	return (0);
}
