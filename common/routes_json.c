/*
 * The routes model as JSON and back to YAML text.
 *
 * cm_routes_json() is the one wire form of a route: _egress.local
 * /allowlist and list-egress-routes show it (§14), supervise proposals
 * carry it, and the operator's merge (spec/supervise.md §6.3) edits it
 * and renders it back to routes.yaml with cm_routes_json_render().  A
 * route shows exactly the keys the file gave, with values in their
 * effective form (methods upper-cased, matcher types spelled out,
 * detector lists instead of true/false), so rendering and re-reading a
 * document gives the same JSON again: the merge relies on that to prove
 * it wrote what it meant.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "common/routes.h"
#include "common/routes_int.h"
#include "common/yaml.h"

/* One rendering: output so far and the first error, if any. */
struct cm_routes_json_out {
	struct evbuffer		*buf;
	struct cm_cfg_ctx	*cx;
	int			 failed;
};

static json_t	*cm_routes_json_dets(unsigned);
static int	 cm_routes_json_plain(const char *, size_t);
static void	 cm_routes_json_str(struct cm_routes_json_out *, const char *,
		    const char *, size_t);
static int	 cm_routes_json_scalar(const json_t *);
static int	 cm_routes_json_flowable(const json_t *);
static void	 cm_routes_json_fail(struct cm_routes_json_out *, const char *,
		    const char *);
static void	 cm_routes_json_inline(struct cm_routes_json_out *,
		    const json_t *, const char *);
static void	 cm_routes_json_map(struct cm_routes_json_out *,
		    const json_t *, const char *, size_t, int);
static void	 cm_routes_json_seq(struct cm_routes_json_out *,
		    const json_t *, const char *, size_t, int);

/*
 * Every key the format has, in the order they are written.  Path
 * matchers read {type, value}, header matchers {name, type, value}.
 */
static const char *const cm_routes_json_order[] = {
	"log", "routes", "host", "ports", "matches", "paths", "methods",
	"headers", "name", "type", "value", "auth_scheme", "token_env", "git",
	"fetch", "dlp", "outbound_detectors", "inbound_detectors",
	"outbound_on_match", "max_body_bytes", "on_oversize", "allow_private",
	NULL
};

static const char *const cm_routes_json_actions[] = {
	[CM_DLP_SUPERVISE] = "supervise",
	[CM_DLP_REDACT] = "redact",
	[CM_DLP_BLOCK] = "block",
};

static json_t *
cm_routes_json_dets(unsigned bits)
{
	const struct cm_rt_det	*d;
	json_t			*a;

	if ((a = json_array()) == NULL)
		return (NULL);
	for (d = cm_routes_dets; d->name != NULL; d++)
		if (bits & d->bit)
			json_array_append_new(a, json_string(d->name));
	return (a);
}

json_t *
cm_routes_json_route(const struct cm_route *rt)
{
	json_t	*o, *a, *g, *d;
	size_t	 i;

	if ((o = json_object()) == NULL)
		return (NULL);
	json_object_set_new(o, "host", json_string(rt->raw_host));
	if (rt->has_ports) {
		a = json_array();
		for (i = 0; i < rt->nports; i++)
			json_array_append_new(a, json_integer(rt->ports[i]));
		json_object_set_new(o, "ports", a);
	}
	if (rt->has_matches)
		json_object_set_new(o, "matches", cm_routes_match_json(rt));
	if (rt->auth != CM_AUTH_NONE) {
		json_object_set_new(o, "auth_scheme", json_string(
		    rt->auth == CM_AUTH_BEARER ? "Bearer" : "token"));
		/* The variable's name only: the value never leaves secrets. */
		json_object_set_new(o, "token_env", json_string(rt->token_env));
	}
	if (rt->has_git) {
		g = json_object();
		if (rt->has_fetch)
			json_object_set_new(g, "fetch",
			    json_boolean(rt->git_fetch));
		json_object_set_new(o, "git", g);
	}
	if (rt->has_dlp) {
		d = json_object();
		if (rt->dlp_given & CM_RT_DLP_OUT)
			json_object_set_new(d, "outbound_detectors",
			    cm_routes_json_dets(rt->outbound));
		if (rt->dlp_given & CM_RT_DLP_IN)
			json_object_set_new(d, "inbound_detectors",
			    cm_routes_json_dets(rt->inbound));
		if (rt->dlp_given & CM_RT_DLP_ACTION)
			json_object_set_new(d, "outbound_on_match", json_string(
			    cm_routes_json_actions[rt->on_match]));
		json_object_set_new(o, "dlp", d);
	}
	if (rt->max_body > 0)
		json_object_set_new(o, "max_body_bytes",
		    json_integer((json_int_t)rt->max_body));
	if (rt->has_on_oversize)
		json_object_set_new(o, "on_oversize", json_string(
		    rt->oversize_noscan ? "noscan" : "block"));
	if (rt->has_allow_private)
		json_object_set_new(o, "allow_private",
		    json_boolean(rt->allow_private));
	return (o);
}

json_t *
cm_routes_json(const struct cm_routes *r)
{
	json_t	*o, *a;
	size_t	 i;

	if ((o = json_object()) == NULL || (a = json_array()) == NULL) {
		json_decref(o);
		return (NULL);
	}
	json_object_set_new(o, "log", json_integer(r->log));
	for (i = 0; i < r->n; i++) {
		if (json_array_append_new(a, cm_routes_json_route(r->v[i])) ==
		    -1) {
			json_decref(a);
			json_decref(o);
			return (NULL);
		}
	}
	if (json_object_set_new(o, "routes", a) == -1) {
		json_decref(o);
		return (NULL);
	}
	return (o);
}

json_t *
cm_routes_json_parse_route(struct cm_cfg_ctx *cx, const struct cm_ynode *node)
{
	struct cm_route	*rt;
	json_t		*o = NULL;
	size_t		 before = cx->nerrors;

	if ((rt = cm_routes_route_parse(cx, node, NULL)) == NULL)
		return (NULL);
	/* As cm_routes_parse(): the loader's errors count too. */
	if (cx->nerrors == before && cx->nerrors == 0 &&
	    (o = cm_routes_json_route(rt)) == NULL)
		cm_cfg_error(cx, node, NULL, "out of memory");
	cm_routes_route_free(rt);
	return (o);
}

/*
 * A string the strict loader reads back as this same string, plain: no
 * indicator, no typing (int, bool, null, a YAML 1.1 boolean), no space.
 */
static int
cm_routes_json_plain(const char *s, size_t len)
{
	static const char *const words[] = {
		"y", "n", "yes", "no", "on", "off", "true", "false", "null",
		NULL
	};
	size_t	 i;

	if (len == 0 || !((s[0] >= 'A' && s[0] <= 'Z') ||
	    (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_' || s[0] == '/'))
		return (0);
	for (i = 1; i < len; i++) {
		if ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' &&
		    s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_' || s[i] == '.' || s[i] == '/' || s[i] == '-')
			continue;
		return (0);
	}
	for (i = 0; words[i] != NULL; i++)
		if (strcasecmp(s, words[i]) == 0)
			return (0);
	return (1);
}

/*
 * Double-quoted YAML for anything else.  Code points libyaml refuses
 * raw or folds as line breaks (C0, DEL, C1, U+2028/9, U+FEFF,
 * U+FFFE/F) are escaped; the rest of the UTF-8 passes as is.
 */
static void
cm_routes_json_str(struct cm_routes_json_out *o, const char *kp,
    const char *s, size_t len)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 i, n;
	unsigned		 cp;

	if (memchr(s, '\0', len) != NULL) {
		cm_routes_json_fail(o, kp, "a string holds a NUL byte");
		return;
	}
	if (cm_routes_json_plain(s, len)) {
		evbuffer_add(o->buf, s, len);
		return;
	}
	evbuffer_add(o->buf, "\"", 1);
	for (i = 0; i < len; i += n) {
		n = 1;
		cp = u[i];
		if (u[i] >= 0xf0 && i + 3 < len) {
			n = 4;
			cp = 0x10000;	/* never escaped */
		} else if (u[i] >= 0xe0 && i + 2 < len) {
			n = 3;
			cp = ((u[i] & 0x0fu) << 12) |
			    ((u[i + 1] & 0x3fu) << 6) | (u[i + 2] & 0x3fu);
		} else if (u[i] >= 0xc0 && i + 1 < len) {
			n = 2;
			cp = ((u[i] & 0x1fu) << 6) | (u[i + 1] & 0x3fu);
		}
		if (cp == '"' || cp == '\\') {
			evbuffer_add_printf(o->buf, "\\%c", (char)cp);
		} else if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||
		    cp == 0x2028 || cp == 0x2029 || cp == 0xfeff ||
		    cp == 0xfffe || cp == 0xffff) {
			evbuffer_add_printf(o->buf, "\\u%04X", cp);
		} else
			evbuffer_add(o->buf, s + i, n);
	}
	evbuffer_add(o->buf, "\"", 1);
}

static int
cm_routes_json_scalar(const json_t *v)
{
	return (json_is_string(v) || json_is_integer(v) || json_is_boolean(v));
}

/* Written on one line: a scalar, or a list or mapping of scalars. */
static int
cm_routes_json_flowable(const json_t *v)
{
	const char	*k;
	json_t		*e;
	size_t		 i;

	if (cm_routes_json_scalar(v))
		return (1);
	if (json_is_array(v)) {
		json_array_foreach(v, i, e)
			if (!cm_routes_json_scalar(e))
				return (0);
		return (1);
	}
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, e)
			if (!cm_routes_json_scalar(e))
				return (0);
		return (1);
	}
	return (0);
}

static void
cm_routes_json_fail(struct cm_routes_json_out *o, const char *kp,
    const char *why)
{
	if (o->failed++ == 0)
		cm_cfg_error(o->cx, NULL, kp, "cannot render: %s", why);
}

static void
cm_routes_json_inline(struct cm_routes_json_out *o, const json_t *v,
    const char *kp)
{
	char		 p[CM_Y_PATH_BYTES];
	json_t		*e;
	size_t		 i, n = 0;

	if (json_is_string(v))
		cm_routes_json_str(o, kp, json_string_value(v),
		    json_string_length(v));
	else if (json_is_integer(v))
		evbuffer_add_printf(o->buf, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
	else if (json_is_boolean(v))
		evbuffer_add_printf(o->buf, "%s", json_is_true(v) ? "true" :
		    "false");
	else if (json_is_array(v)) {
		evbuffer_add(o->buf, "[", 1);
		json_array_foreach(v, i, e) {
			if (i > 0)
				evbuffer_add(o->buf, ", ", 2);
			cm_y_path_idx(p, sizeof(p), kp, i);
			cm_routes_json_inline(o, e, p);
		}
		evbuffer_add(o->buf, "]", 1);
	} else if (json_is_object(v)) {
		evbuffer_add(o->buf, "{", 1);
		for (i = 0; cm_routes_json_order[i] != NULL; i++) {
			if ((e = json_object_get(v, cm_routes_json_order[i])) ==
			    NULL)
				continue;
			evbuffer_add_printf(o->buf, "%s%s: ", n++ > 0 ? ", " :
			    "", cm_routes_json_order[i]);
			cm_y_path_key(p, sizeof(p), kp,
			    cm_routes_json_order[i]);
			cm_routes_json_inline(o, e, p);
		}
		if (n != json_object_size(v))
			cm_routes_json_fail(o, kp, "unknown key");
		evbuffer_add(o->buf, "}", 1);
	} else
		cm_routes_json_fail(o, kp, "not a string, integer, boolean, "
		    "list or mapping");
}

/* A block mapping; in a list item, the first key follows "- ". */
static void
cm_routes_json_map(struct cm_routes_json_out *o, const json_t *obj,
    const char *kp, size_t indent, int item)
{
	const char	*key;
	char		 p[CM_Y_PATH_BYTES];
	json_t		*v;
	size_t		 i, n = 0;

	for (i = 0; cm_routes_json_order[i] != NULL; i++) {
		key = cm_routes_json_order[i];
		if ((v = json_object_get(obj, key)) == NULL)
			continue;
		cm_y_path_key(p, sizeof(p), kp, key);
		if (n++ > 0 || !item)
			evbuffer_add_printf(o->buf, "%*s", (int)indent, "");
		evbuffer_add_printf(o->buf, "%s:", key);
		if (cm_routes_json_flowable(v) ||
		    (json_is_array(v) && json_array_size(v) == 0)) {
			evbuffer_add(o->buf, " ", 1);
			cm_routes_json_inline(o, v, p);
			evbuffer_add(o->buf, "\n", 1);
		} else if (json_is_array(v)) {
			evbuffer_add(o->buf, "\n", 1);
			cm_routes_json_seq(o, v, p, indent + 2,
			    strcmp(key, "routes") == 0 ||
			    strcmp(key, "matches") == 0);
		} else if (json_is_object(v)) {
			evbuffer_add(o->buf, "\n", 1);
			cm_routes_json_map(o, v, p, indent + 2, 0);
		} else
			cm_routes_json_inline(o, v, p);	/* refuses it */
	}
	if (n != json_object_size(obj))
		cm_routes_json_fail(o, kp, "unknown key");
	if (n == 0 && item)
		evbuffer_add(o->buf, "{}\n", 3);
}

/* Routes and matches entries are block mappings even when short. */
static void
cm_routes_json_seq(struct cm_routes_json_out *o, const json_t *arr,
    const char *kp, size_t indent, int block)
{
	char	 p[CM_Y_PATH_BYTES];
	json_t	*e;
	size_t	 i;

	json_array_foreach(arr, i, e) {
		cm_y_path_idx(p, sizeof(p), kp, i);
		evbuffer_add_printf(o->buf, "%*s- ", (int)indent, "");
		if (json_is_object(e) && (block || !cm_routes_json_flowable(e)))
			cm_routes_json_map(o, e, p, indent + 2, 1);
		else if (json_is_array(e) && !cm_routes_json_flowable(e))
			cm_routes_json_fail(o, p, "a list in a list");
		else {
			cm_routes_json_inline(o, e, p);
			evbuffer_add(o->buf, "\n", 1);
		}
	}
}

int
cm_routes_json_render(const json_t *doc, struct evbuffer *out,
    struct cm_cfg_ctx *cx)
{
	struct cm_routes_json_out	 o;
	struct cm_cfg_ctx		 rx;
	struct cm_ynode			*root = NULL;
	struct cm_routes		*r = NULL;
	json_t				*back = NULL, *log;
	const char			*text;
	size_t				 len;
	int				 rc = -1;

	memset(&o, 0, sizeof(o));
	o.cx = cx;
	if (!json_is_object(doc) || !json_is_array(json_object_get(doc,
	    "routes"))) {
		cm_cfg_error(cx, NULL, NULL, "cannot render: not a routes "
		    "document");
		return (-1);
	}
	if ((o.buf = evbuffer_new()) == NULL) {
		cm_cfg_error(cx, NULL, NULL, "out of memory");
		return (-1);
	}
	/* log first and always: the file then says what it means. */
	if ((log = json_object_get(doc, "log")) == NULL)
		evbuffer_add_printf(o.buf, "log: 0\n");
	cm_routes_json_map(&o, doc, NULL, 0, 0);
	if (o.failed)
		goto done;
	/* Prove it: the text must read back as the very same document. */
	len = evbuffer_get_length(o.buf);
	if ((text = (const char *)evbuffer_pullup(o.buf, -1)) == NULL &&
	    len > 0) {
		cm_cfg_error(cx, NULL, NULL, "out of memory");
		goto done;
	}
	memset(&rx, 0, sizeof(rx));
	rx.path = "rendered routes.yaml";
	if ((root = cm_yaml_parse(&rx, text, len)) == NULL ||
	    (r = cm_routes_parse(&rx, root)) == NULL) {
		cm_cfg_error(cx, NULL, NULL, "the rendered file is invalid: %s",
		    rx.nerrors > 0 ? rx.errors[0] : "?");
		goto done;
	}
	if ((back = cm_routes_json(r)) == NULL) {
		cm_cfg_error(cx, NULL, NULL, "out of memory");
		goto done;
	}
	if (!json_equal(json_object_get(back, "routes"),
	    json_object_get(doc, "routes")) || (log != NULL &&
	    !json_equal(json_object_get(back, "log"), log))) {
		cm_cfg_error(cx, NULL, NULL, "the rendered file does not read "
		    "back as the document (a value is not in cm_routes_json "
		    "form)");
		goto done;
	}
	if (evbuffer_add_buffer(out, o.buf) == -1) {
		cm_cfg_error(cx, NULL, NULL, "out of memory");
		goto done;
	}
	rc = 0;
 done:
	json_decref(back);
	cm_routes_free(r);
	cm_yaml_free(root);
	evbuffer_free(o.buf);
	return (rc);
}
