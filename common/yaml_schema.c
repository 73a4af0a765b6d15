/*
 * Schema checks over a cm_yaml_parse() tree: key paths, quoting for
 * messages, and the typed getters every config loader uses.  Each
 * refusal is recorded in the file's cm_cfg_ctx so that one run reports
 * every mistake (STYLE.md 3.13).
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "common/yaml.h"

/* A quoted value in a message shows at most this many bytes of it. */
#define CM_Y_QUOTE_BYTES	64

static int	 cm_y_is_root(const char *);
static size_t	 cm_y_utf8_cut(const char *, size_t);
static const char *cm_y_a(enum cm_ytype);

static const char *const cm_y_type_names[] = {
	[CM_Y_NULL] = "null",
	[CM_Y_BOOL] = "boolean",
	[CM_Y_INT] = "integer",
	[CM_Y_STR] = "string",
	[CM_Y_MAP] = "mapping",
	[CM_Y_SEQ] = "list",
};

const char *
cm_y_type_name(enum cm_ytype type)
{
	if ((size_t)type >= sizeof(cm_y_type_names) /
	    sizeof(cm_y_type_names[0]))
		return ("unknown");
	return (cm_y_type_names[type]);
}

/* The type with its article, as in "expected an integer, got null". */
static const char *
cm_y_a(enum cm_ytype type)
{
	switch (type) {
	case CM_Y_NULL:
		return ("null");
	case CM_Y_BOOL:
		return ("a boolean");
	case CM_Y_INT:
		return ("an integer");
	case CM_Y_STR:
		return ("a string");
	case CM_Y_MAP:
		return ("a mapping");
	case CM_Y_SEQ:
		return ("a list");
	}
	return ("an unknown type");
}

/* The longest prefix of s, at most max bytes, ending on a whole char. */
static size_t
cm_y_utf8_cut(const char *s, size_t max)
{
	size_t	 i = max;

	while (i > 0 && ((unsigned char)s[i] & 0xc0) == 0x80)
		i--;
	return (i);
}

const char *
cm_y_quote(char *buf, size_t size, const char *s, size_t len)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i, o = 0, show = len;
	unsigned char		 c;
	int			 cut = 0;

	if (size == 0)
		return (buf);
	if (show > CM_Y_QUOTE_BYTES) {
		show = cm_y_utf8_cut(s, CM_Y_QUOTE_BYTES);
		cut = 1;
	}
	/* Room for the worst escape, the closing quote, "..." and NUL. */
	if (size < 10) {
		buf[0] = '\0';
		return (buf);
	}
	buf[o++] = '"';
	for (i = 0; i < show && o + 9 < size; i++) {
		c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 0xf];
		} else if (c >= 0x80 && (c & 0xc0) != 0x80 &&
		    o + 4 + 9 >= size) {
			break;	/* no room for the whole character */
		} else
			buf[o++] = (char)c;
	}
	if (i < show)
		cut = 1;
	buf[o++] = '"';
	if (cut) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return (buf);
}

static int
cm_y_is_root(const char *path)
{
	return (path == NULL || *path == '\0' || strcmp(path, "(root)") == 0);
}

const char *
cm_y_path_key(char *buf, size_t size, const char *parent, const char *key)
{
	size_t	 o = 0, i, n;

	if (size == 0)
		return (buf);
	if (!cm_y_is_root(parent))
		o = (size_t)snprintf(buf, size, "%s.", parent);
	else
		buf[0] = '\0';
	if (o >= size - 1) {
		buf[cm_y_utf8_cut(buf, size - 1)] = '\0';
		return (buf);
	}
	n = strlen(key);
	if (n > size - 1 - o)
		n = cm_y_utf8_cut(key, size - 1 - o);
	for (i = 0; i < n; i++) {
		/* A key path is one line: a control byte would break it. */
		if ((unsigned char)key[i] < 0x20 || key[i] == 0x7f)
			buf[o++] = '?';
		else
			buf[o++] = key[i];
	}
	buf[o] = '\0';
	return (buf);
}

const char *
cm_y_path_idx(char *buf, size_t size, const char *parent, size_t idx)
{
	size_t	 n;

	if (size == 0)
		return (buf);
	n = (size_t)snprintf(buf, size, "%s[%zu]",
	    cm_y_is_root(parent) ? "" : parent, idx);
	if (n >= size)
		buf[cm_y_utf8_cut(buf, size - 1)] = '\0';
	return (buf);
}

struct cm_ynode *
cm_y_get(const struct cm_ynode *map, const char *key)
{
	size_t	 i, len;

	if (map == NULL || map->type != CM_Y_MAP)
		return (NULL);
	len = strlen(key);
	for (i = 0; i < map->n; i++) {
		if (map->pairs[i].key->len == len &&
		    memcmp(map->pairs[i].key->str, key, len) == 0)
			return (map->pairs[i].val);
	}
	return (NULL);
}

struct cm_ynode *
cm_y_need(struct cm_cfg_ctx *cx, const struct cm_ynode *map,
    const char *keypath, const char *key)
{
	struct cm_ynode	*val;
	char		 q[CM_Y_PATH_BYTES];

	if ((val = cm_y_get(map, key)) == NULL)
		cm_cfg_error(cx, map, keypath, "missing required key %s",
		    cm_y_quote(q, sizeof(q), key, strlen(key)));
	return (val);
}

int
cm_y_check_keys(struct cm_cfg_ctx *cx, const struct cm_ynode *map,
    const char *keypath, const char *const *allowed)
{
	const struct cm_ynode	*key;
	char			 q[CM_Y_PATH_BYTES];
	size_t			 i, j;
	int			 rc = 0;

	if (cm_y_want(cx, map, keypath, CM_Y_MAP) == -1)
		return (-1);
	for (i = 0; i < map->n; i++) {
		key = map->pairs[i].key;
		for (j = 0; allowed[j] != NULL; j++) {
			if (strlen(allowed[j]) == key->len &&
			    memcmp(allowed[j], key->str, key->len) == 0)
				break;
		}
		if (allowed[j] == NULL) {
			cm_cfg_error(cx, key, keypath, "unknown key %s",
			    cm_y_quote(q, sizeof(q), key->str, key->len));
			rc = -1;
		}
	}
	return (rc);
}

int
cm_y_want(struct cm_cfg_ctx *cx, const struct cm_ynode *node,
    const char *keypath, enum cm_ytype type)
{
	const char	*hint = "";
	size_t		 skip;

	/* Refused by the loader already: one message per mistake. */
	if (node != NULL && node->invalid)
		return (-1);

	if (node == NULL) {
		cm_cfg_error(cx, NULL, keypath, "missing value (expected %s)",
		    cm_y_a(type));
		return (-1);
	}
	if (node->type == type)
		return (0);
	/* "443" or "true" in quotes: say what would make it right. */
	if (node->type == CM_Y_STR && node->quoted) {
		skip = (node->str[0] == '-' || node->str[0] == '+');
		if ((type == CM_Y_INT && node->len > skip &&
		    strspn(node->str + skip, "0123456789") == node->len - skip) ||
		    (type == CM_Y_BOOL && (strcmp(node->str, "true") == 0 ||
		    strcmp(node->str, "false") == 0)))
			hint = " (remove the quotes)";
	}
	cm_cfg_error(cx, node, keypath, "expected %s, got %s%s", cm_y_a(type),
	    cm_y_a(node->type), hint);
	return (-1);
}

int
cm_y_int(struct cm_cfg_ctx *cx, const struct cm_ynode *node,
    const char *keypath, long long min, long long max, long long *out)
{
	if (cm_y_want(cx, node, keypath, CM_Y_INT) == -1)
		return (-1);
	if (node->ival >= min && node->ival <= max) {
		*out = node->ival;
		return (0);
	}
	if (max == LLONG_MAX)
		cm_cfg_error(cx, node, keypath, "must be at least %lld, got %lld",
		    min, node->ival);
	else if (min == LLONG_MIN)
		cm_cfg_error(cx, node, keypath, "must be at most %lld, got %lld",
		    max, node->ival);
	else
		cm_cfg_error(cx, node, keypath,
		    "must be between %lld and %lld, got %lld", min, max,
		    node->ival);
	return (-1);
}

int
cm_y_bool(struct cm_cfg_ctx *cx, const struct cm_ynode *node,
    const char *keypath, int *out)
{
	if (cm_y_want(cx, node, keypath, CM_Y_BOOL) == -1)
		return (-1);
	*out = node->bval;
	return (0);
}

int
cm_y_str(struct cm_cfg_ctx *cx, const struct cm_ynode *node,
    const char *keypath, const char **out)
{
	if (cm_y_want(cx, node, keypath, CM_Y_STR) == -1)
		return (-1);
	*out = node->str;
	return (0);
}

int
cm_y_enum(struct cm_cfg_ctx *cx, const struct cm_ynode *node,
    const char *keypath, const char *const *choices, int *out)
{
	char	 list[CM_MAX_CFG_ERROR_BYTES / 2], q[CM_Y_PATH_BYTES];
	size_t	 o = 0;
	int	 i, n;

	if (cm_y_want(cx, node, keypath, CM_Y_STR) == -1)
		return (-1);
	for (i = 0; choices[i] != NULL; i++) {
		if (strlen(choices[i]) == node->len &&
		    memcmp(choices[i], node->str, node->len) == 0) {
			*out = i;
			return (0);
		}
	}
	list[0] = '\0';
	for (i = 0; choices[i] != NULL && o < sizeof(list); i++) {
		n = snprintf(list + o, sizeof(list) - o, "%s%s",
		    i > 0 ? ", " : "", choices[i]);
		if (n < 0)
			break;
		o += (size_t)n;
	}
	cm_cfg_error(cx, node, keypath, "unknown value %s (expected %s)",
	    cm_y_quote(q, sizeof(q), node->str, node->len), list);
	return (-1);
}
