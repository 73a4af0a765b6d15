/*
 * The strict YAML loader (spec/egress.md §5), built on libyaml's event
 * parser so that every node keeps its own mark and every refusal can
 * name its line, column and key path.
 *
 * Errors come in two kinds.  A libyaml syntax error ends the parse: the
 * event stream cannot be trusted past it.  Everything else (an anchor,
 * a tag, a duplicate key, a YAML 1.1 boolean, ...) is recorded and the
 * parse goes on, so one run shows every mistake; the tree is returned
 * with those nodes marked invalid, and callers fail on cx->nerrors.
 * Nesting too deep and a second document also end the parse: nothing
 * useful can follow them, and NULL is returned.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <yaml.h>

#include "common/bounds.h"
#include "common/yaml.h"

/* Duplicate keys are found through a per-mapping hash of key indexes. */
#define CM_YAML_SLOTS_MIN	16

/* One open collection while events arrive. */
struct cm_yaml_frame {
	struct cm_ynode	*node;		/* borrowed: already in the tree */
	int		 want_value;	/* mapping: a key came, its value next */
	size_t		*slots;		/* owned: pair index + 1, 0 empty */
	size_t		 nslots;	/* a power of two, or 0 */
	char		 path[CM_Y_PATH_BYTES];
};

struct cm_yaml_parse {
	struct cm_cfg_ctx	*cx;		/* borrowed */
	struct cm_ynode		*root;		/* owned until returned */
	struct cm_yaml_frame	 stack[CM_MAX_YAML_DEPTH];
	size_t			 depth;
	int			 docs;		/* documents started */
	int			 done;		/* 1 fatal stop, 2 stream end */
};

static void	 cm_cfg_verror(struct cm_cfg_ctx *, size_t, size_t,
		    const char *, const char *, va_list)
		    __attribute__((format(printf, 5, 0)));
static void	 cm_yaml_trim_utf8(char *);
static void	 cm_yaml_child_path(struct cm_yaml_parse *, char *, size_t);
static struct cm_ynode *cm_yaml_node_new(struct cm_yaml_parse *,
		    enum cm_ytype, const yaml_mark_t *);
static int	 cm_yaml_attach(struct cm_yaml_parse *, struct cm_ynode *,
		    const char *);
static size_t	 cm_yaml_hash(const struct cm_ynode *);
static int	 cm_yaml_dup_key(struct cm_yaml_parse *, struct cm_yaml_frame *,
		    struct cm_ynode *, const char *);
static void	 cm_yaml_props(struct cm_yaml_parse *, const yaml_char_t *,
		    const yaml_char_t *, const yaml_mark_t *, const char *);
static void	 cm_yaml_type_plain(struct cm_yaml_parse *, struct cm_ynode *,
		    const char *);
static void	 cm_yaml_scalar(struct cm_yaml_parse *, yaml_event_t *);
static void	 cm_yaml_open(struct cm_yaml_parse *, yaml_event_t *,
		    enum cm_ytype);
static void	 cm_yaml_close(struct cm_yaml_parse *);
static void	 cm_yaml_event(struct cm_yaml_parse *, yaml_event_t *);
static void	 cm_yaml_syntax(struct cm_yaml_parse *, yaml_parser_t *,
		    const char *, size_t);

void
cm_cfg_error(struct cm_cfg_ctx *cx, const struct cm_ynode *node,
    const char *keypath, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	if (node == NULL)
		cm_cfg_verror(cx, 0, 0, keypath, fmt, ap);
	else
		cm_cfg_verror(cx, node->line, node->col, keypath, fmt, ap);
	va_end(ap);
}

void
cm_cfg_error_at(struct cm_cfg_ctx *cx, size_t line, size_t col,
    const char *keypath, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	cm_cfg_verror(cx, line, col, keypath, fmt, ap);
	va_end(ap);
}

static void
cm_cfg_verror(struct cm_cfg_ctx *cx, size_t line, size_t col,
    const char *keypath, const char *fmt, va_list ap)
{
	char		*out;
	const char	*file = cx->path != NULL ? cx->path : "(input)";
	size_t		 size = CM_MAX_CFG_ERROR_BYTES;
	int		 n, haskp = keypath != NULL && *keypath != '\0';

	if (cx->nerrors == 0) {
		cx->first_line = line;
		cx->first_col = col;
	}
	if (cx->nerrors++ >= CM_MAX_CFG_ERRORS)
		return;		/* counted, not kept */
	out = cx->errors[cx->nerrors - 1];
	if (line > 0)
		n = snprintf(out, size, "%s:%zu:%zu: %s: ", file, line, col,
		    haskp ? keypath : "(root)");
	else if (haskp)
		n = snprintf(out, size, "%s: %s: ", file, keypath);
	else
		n = snprintf(out, size, "%s: ", file);
	if (n >= 0 && (size_t)n < size)
		(void)vsnprintf(out + n, size - (size_t)n, fmt, ap);
	cm_yaml_trim_utf8(out);
}

/*
 * snprintf() cuts by bytes; a line cut inside a UTF-8 sequence would
 * make jansson refuse the whole log line.
 */
static void
cm_yaml_trim_utf8(char *s)
{
	size_t	 len = strlen(s), i, need;

	i = len;
	while (i > 0 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
		i--;
	if (i == 0)
		return;
	need = len - i + 1;	/* bytes the last sequence has */
	switch ((unsigned char)s[i - 1] & 0xf0) {
	case 0xc0:
	case 0xd0:
		if (need < 2)
			s[i - 1] = '\0';
		break;
	case 0xe0:
		if (need < 3)
			s[i - 1] = '\0';
		break;
	case 0xf0:
		if (need < 4)
			s[i - 1] = '\0';
		break;
	}
}

void
cm_yaml_free(struct cm_ynode *node)
{
	size_t	 i;

	if (node == NULL)
		return;
	/* Depth is bounded by CM_MAX_YAML_DEPTH, so recursion is safe. */
	for (i = 0; i < node->n; i++) {
		if (node->type == CM_Y_MAP) {
			cm_yaml_free(node->pairs[i].key);
			cm_yaml_free(node->pairs[i].val);
		} else
			cm_yaml_free(node->items[i]);
	}
	free(node->pairs);
	free(node->items);
	free(node->str);
	free(node);
}

/* The key path of the node that comes next in the top collection. */
static void
cm_yaml_child_path(struct cm_yaml_parse *ps, char *buf, size_t size)
{
	struct cm_yaml_frame	*f;
	struct cm_ynode		*key;

	if (ps->depth == 0) {
		(void)snprintf(buf, size, "%s", "");
		return;
	}
	f = &ps->stack[ps->depth - 1];
	if (f->node->type == CM_Y_SEQ)
		(void)cm_y_path_idx(buf, size, f->path, f->node->n);
	else if (f->want_value &&
	    (key = f->node->pairs[f->node->n - 1].key)->str != NULL)
		(void)cm_y_path_key(buf, size, f->path, key->str);
	else
		(void)snprintf(buf, size, "%s", f->path);
}

static struct cm_ynode *
cm_yaml_node_new(struct cm_yaml_parse *ps, enum cm_ytype type,
    const yaml_mark_t *mark)
{
	struct cm_ynode	*node;

	if ((node = calloc(1, sizeof(*node))) == NULL) {
		cm_cfg_error_at(ps->cx, mark->line + 1, mark->column + 1, NULL,
		    "out of memory");
		ps->done = 1;
		return (NULL);
	}
	node->type = type;
	/* libyaml counts lines and columns from 0, editors from 1. */
	node->line = mark->line + 1;
	node->col = mark->column + 1;
	return (node);
}

/*
 * Hangs node under the top collection (or makes it the root) at once,
 * so that cm_yaml_free(root) releases everything on any later failure.
 * Takes ownership of node even when it fails.
 */
static int
cm_yaml_attach(struct cm_yaml_parse *ps, struct cm_ynode *node,
    const char *path)
{
	struct cm_yaml_frame	*f;
	struct cm_ynode		*parent;
	void			*p;
	size_t			 cap;

	if (ps->depth == 0) {
		ps->root = node;
		return (0);
	}
	f = &ps->stack[ps->depth - 1];
	parent = f->node;
	if (parent->type == CM_Y_MAP && f->want_value) {
		parent->pairs[parent->n - 1].val = node;
		f->want_value = 0;
		return (0);
	}
	/* Capacity is 4, then doubles each time n reaches a power of two. */
	if (parent->n == 0)
		cap = 4;
	else if (parent->n >= 4 && (parent->n & (parent->n - 1)) == 0)
		cap = parent->n * 2;
	else
		cap = 0;	/* room left */
	if (cap > 0) {
		if (parent->type == CM_Y_MAP)
			p = reallocarray(parent->pairs, cap,
			    sizeof(*parent->pairs));
		else
			p = reallocarray(parent->items, cap,
			    sizeof(*parent->items));
		if (p == NULL) {
			cm_yaml_free(node);
			cm_cfg_error_at(ps->cx, parent->line, parent->col,
			    path, "out of memory");
			ps->done = 1;
			return (-1);
		}
		if (parent->type == CM_Y_MAP)
			parent->pairs = p;
		else
			parent->items = p;
	}
	if (parent->type == CM_Y_SEQ) {
		parent->items[parent->n++] = node;
		return (0);
	}
	parent->pairs[parent->n].key = node;
	parent->pairs[parent->n].val = NULL;
	parent->n++;
	f->want_value = 1;
	if (node->type == CM_Y_MAP || node->type == CM_Y_SEQ) {
		cm_cfg_error(ps->cx, node, path,
		    "mapping keys must be scalars, not a %s",
		    cm_y_type_name(node->type));
		return (0);
	}
	if (node->str == NULL || node->invalid)
		return (0);	/* an alias stand-in, already refused */
	return (cm_yaml_dup_key(ps, f, node, path));
}

/* FNV-1a over the key's bytes. */
static size_t
cm_yaml_hash(const struct cm_ynode *key)
{
	uint64_t	 h = 14695981039346656037ULL;
	size_t		 i;

	for (i = 0; i < key->len; i++)
		h = (h ^ (unsigned char)key->str[i]) * 1099511628211ULL;
	return ((size_t)h);
}

/* Records a key seen before in this mapping; grows the hash as needed. */
static int
cm_yaml_dup_key(struct cm_yaml_parse *ps, struct cm_yaml_frame *f,
    struct cm_ynode *key, const char *path)
{
	struct cm_ynode	*map = f->node, *old;
	size_t		*slots, nslots, i, j, h;
	char		 q[CM_Y_PATH_BYTES];

	if (map->n * 2 > f->nslots) {
		nslots = f->nslots == 0 ? CM_YAML_SLOTS_MIN : f->nslots * 2;
		/* Refused keys are never hashed, so n may have run ahead. */
		while (nslots < map->n * 2)
			nslots *= 2;
		if ((slots = calloc(nslots, sizeof(*slots))) == NULL) {
			cm_cfg_error(ps->cx, key, path, "out of memory");
			ps->done = 1;
			return (-1);
		}
		/* Rehash every earlier key except the new one (the last). */
		for (i = 0; i + 1 < map->n; i++) {
			old = map->pairs[i].key;
			if (old->str == NULL || old->invalid)
				continue;
			h = cm_yaml_hash(old);
			for (j = h & (nslots - 1); slots[j] != 0;
			    j = (j + 1) & (nslots - 1))
				;
			slots[j] = i + 1;
		}
		free(f->slots);
		f->slots = slots;
		f->nslots = nslots;
	}
	h = cm_yaml_hash(key);
	for (j = h & (f->nslots - 1); f->slots[j] != 0;
	    j = (j + 1) & (f->nslots - 1)) {
		old = map->pairs[f->slots[j] - 1].key;
		if (old->len == key->len &&
		    memcmp(old->str, key->str, key->len) == 0) {
			cm_cfg_error(ps->cx, key, path,
			    "duplicate key %s (first at %zu:%zu)",
			    cm_y_quote(q, sizeof(q), key->str, key->len),
			    old->line, old->col);
			key->invalid = 1;	/* pruned: the first one counts */
			return (0);	/* the first one stays in the hash */
		}
	}
	f->slots[j] = map->n;
	return (0);
}

/* Anchors and tags: refused wherever they appear. */
static void
cm_yaml_props(struct cm_yaml_parse *ps, const yaml_char_t *anchor,
    const yaml_char_t *tag, const yaml_mark_t *mark, const char *path)
{
	char	 q[CM_Y_PATH_BYTES];

	if (anchor != NULL)
		cm_cfg_error_at(ps->cx, mark->line + 1, mark->column + 1, path,
		    "anchor %s is not allowed", cm_y_quote(q, sizeof(q),
		    (const char *)anchor, strlen((const char *)anchor)));
	if (tag != NULL)
		cm_cfg_error_at(ps->cx, mark->line + 1, mark->column + 1, path,
		    "tag %s is not allowed", cm_y_quote(q, sizeof(q),
		    (const char *)tag, strlen((const char *)tag)));
}

/*
 * Types a plain (unquoted) value the way the YAML 1.2 core schema
 * would, and refuses every spelling that a YAML 1.1 reader (PyYAML, old
 * tools) would read differently: yes/no/on/off/y/n, octal by leading
 * zero, 0x/0o/0b forms and 1_000.  Floats stay strings: no setting is
 * fractional, and the schema helpers then say "expected an integer".
 */
static void
cm_yaml_type_plain(struct cm_yaml_parse *ps, struct cm_ynode *node,
    const char *path)
{
	static const char *const yaml11[] = {
		"yes", "no", "on", "off", "y", "n", NULL
	};
	const char	*s = node->str, *d;
	char		 q[CM_Y_PATH_BYTES];
	size_t		 i, digits = 0, unders = 0, other = 0;
	long long	 v = 0, dv;
	int		 neg = 0;

	(void)cm_y_quote(q, sizeof(q), node->str, node->len);
	if (node->len == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	    strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0) {
		node->type = CM_Y_NULL;
		return;
	}
	if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 ||
	    strcmp(s, "TRUE") == 0 || strcmp(s, "false") == 0 ||
	    strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0) {
		node->type = CM_Y_BOOL;
		node->bval = (s[0] == 't' || s[0] == 'T');
		return;
	}
	for (i = 0; yaml11[i] != NULL; i++) {
		if (strcasecmp(s, yaml11[i]) == 0) {
			cm_cfg_error(ps->cx, node, path, "YAML 1.1 boolean %s "
			    "is ambiguous; write true/false or quote it", q);
			return;
		}
	}
	if (strcasecmp(s, "true") == 0 || strcasecmp(s, "false") == 0 ||
	    strcasecmp(s, "null") == 0) {
		cm_cfg_error(ps->cx, node, path, "%s must be written in lower "
		    "case, or quoted to be a string", q);
		return;
	}

	d = s;
	if (*d == '-' || *d == '+')
		neg = (*d++ == '-');
	if (d[0] == '0' && (d[1] == 'x' || d[1] == 'X' || d[1] == 'o' ||
	    d[1] == 'O' || d[1] == 'b' || d[1] == 'B') && d[2] != '\0' &&
	    strspn(d + 2, "0123456789abcdefABCDEF_") == strlen(d + 2)) {
		cm_cfg_error(ps->cx, node, path, "integer %s is not decimal; "
		    "write it in decimal or quote it", q);
		return;
	}
	for (i = 0; d[i] != '\0'; i++) {
		if (d[i] >= '0' && d[i] <= '9')
			digits++;
		else if (d[i] == '_')
			unders++;
		else
			other++;
	}
	if (digits == 0 || other > 0 || d[0] == '_')
		return;		/* a string */
	if (unders > 0) {
		cm_cfg_error(ps->cx, node, path, "integer %s has an underscore "
		    "(YAML 1.1 digit separator); remove it or quote it", q);
		return;
	}
	if (d[0] == '0' && d[1] != '\0') {
		cm_cfg_error(ps->cx, node, path, "integer %s has a leading zero "
		    "(octal in YAML 1.1); remove it or quote it", q);
		return;
	}
	/* Accumulate negatively so that LLONG_MIN fits. */
	for (i = 0; d[i] != '\0'; i++) {
		dv = d[i] - '0';
		if (v < (LLONG_MIN + dv) / 10) {
			cm_cfg_error(ps->cx, node, path,
			    "integer %s is out of range", q);
			return;
		}
		v = v * 10 - dv;
	}
	if (!neg && v == LLONG_MIN) {
		cm_cfg_error(ps->cx, node, path, "integer %s is out of range",
		    q);
		return;
	}
	node->type = CM_Y_INT;
	node->ival = neg ? v : -v;
}

static void
cm_yaml_scalar(struct cm_yaml_parse *ps, yaml_event_t *ev)
{
	struct cm_yaml_frame	*f;
	struct cm_ynode		*node;
	char			 path[CM_Y_PATH_BYTES];
	size_t			 len = ev->data.scalar.length, before;
	int			 iskey;

	cm_yaml_child_path(ps, path, sizeof(path));
	f = ps->depth > 0 ? &ps->stack[ps->depth - 1] : NULL;
	iskey = f != NULL && f->node->type == CM_Y_MAP && !f->want_value;
	before = ps->cx->nerrors;
	cm_yaml_props(ps, ev->data.scalar.anchor, ev->data.scalar.tag,
	    &ev->start_mark, path);
	if ((node = cm_yaml_node_new(ps, CM_Y_STR, &ev->start_mark)) == NULL)
		return;
	if ((node->str = malloc(len + 1)) == NULL) {
		free(node);
		cm_cfg_error_at(ps->cx, ev->start_mark.line + 1,
		    ev->start_mark.column + 1, path, "out of memory");
		ps->done = 1;
		return;
	}
	memcpy(node->str, ev->data.scalar.value, len);
	node->str[len] = '\0';
	node->len = len;
	node->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;

	if (memchr(node->str, '\0', len) != NULL)
		cm_cfg_error(ps->cx, node, path, "NUL byte in %s",
		    iskey ? "key" : "value");
	else if (ev->data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
	    ev->data.scalar.style == YAML_FOLDED_SCALAR_STYLE)
		cm_cfg_error(ps->cx, node, path, "block scalars (| and >) are "
		    "not allowed; use a quoted string");
	else if (!node->quoted && !iskey)
		cm_yaml_type_plain(ps, node, path);
	/* Refused here: the schema pass must not report it again. */
	node->invalid = ps->cx->nerrors != before;
	(void)cm_yaml_attach(ps, node, path);
}

static void
cm_yaml_open(struct cm_yaml_parse *ps, yaml_event_t *ev, enum cm_ytype type)
{
	struct cm_yaml_frame	*f;
	struct cm_ynode		*node;
	char			 path[CM_Y_PATH_BYTES];
	size_t			 before = ps->cx->nerrors;

	cm_yaml_child_path(ps, path, sizeof(path));
	if (ps->depth == CM_MAX_YAML_DEPTH) {
		cm_cfg_error_at(ps->cx, ev->start_mark.line + 1,
		    ev->start_mark.column + 1, path,
		    "nested deeper than %d levels", CM_MAX_YAML_DEPTH);
		ps->done = 1;
		return;
	}
	if (type == CM_Y_MAP)
		cm_yaml_props(ps, ev->data.mapping_start.anchor,
		    ev->data.mapping_start.tag, &ev->start_mark, path);
	else
		cm_yaml_props(ps, ev->data.sequence_start.anchor,
		    ev->data.sequence_start.tag, &ev->start_mark, path);
	if ((node = cm_yaml_node_new(ps, type, &ev->start_mark)) == NULL)
		return;
	node->invalid = ps->cx->nerrors != before;
	if (cm_yaml_attach(ps, node, path) == -1)
		return;
	f = &ps->stack[ps->depth++];
	memset(f, 0, sizeof(*f));
	f->node = node;
	(void)snprintf(f->path, sizeof(f->path), "%s", path);
}

static void
cm_yaml_close(struct cm_yaml_parse *ps)
{
	struct cm_yaml_frame	*f = &ps->stack[--ps->depth];

	free(f->slots);
	f->slots = NULL;
	f->nslots = 0;
}

static void
cm_yaml_event(struct cm_yaml_parse *ps, yaml_event_t *ev)
{
	struct cm_ynode	*node;
	char		 path[CM_Y_PATH_BYTES], q[CM_Y_PATH_BYTES];

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (ps->docs++ > 0) {
			cm_cfg_error_at(ps->cx, ev->start_mark.line + 1,
			    ev->start_mark.column + 1, NULL,
			    "only one document is allowed");
			ps->done = 1;
		} else if (ev->data.document_start.version_directive != NULL ||
		    ev->data.document_start.tag_directives.start !=
		    ev->data.document_start.tag_directives.end)
			cm_cfg_error_at(ps->cx, ev->start_mark.line + 1,
			    ev->start_mark.column + 1, NULL,
			    "%%YAML and %%TAG directives are not allowed");
		break;
	case YAML_ALIAS_EVENT:
		cm_yaml_child_path(ps, path, sizeof(path));
		cm_cfg_error_at(ps->cx, ev->start_mark.line + 1,
		    ev->start_mark.column + 1, path, "alias %s is not allowed",
		    cm_y_quote(q, sizeof(q), (const char *)ev->data.alias.anchor,
		    strlen((const char *)ev->data.alias.anchor)));
		/* A null stand-in keeps the mapping's key/value rhythm. */
		if ((node = cm_yaml_node_new(ps, CM_Y_NULL,
		    &ev->start_mark)) != NULL) {
			/* Every node has text, so walkers never meet NULL. */
			node->str = strdup("");
			node->invalid = 1;
			(void)cm_yaml_attach(ps, node, path);
		}
		break;
	case YAML_SCALAR_EVENT:
		cm_yaml_scalar(ps, ev);
		break;
	case YAML_SEQUENCE_START_EVENT:
		cm_yaml_open(ps, ev, CM_Y_SEQ);
		break;
	case YAML_MAPPING_START_EVENT:
		cm_yaml_open(ps, ev, CM_Y_MAP);
		break;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		cm_yaml_close(ps);
		break;
	case YAML_STREAM_END_EVENT:
		ps->done = 2;	/* the normal end, not a fatal one */
		break;
	default:
		break;
	}
}

/*
 * libyaml's own words, at its mark.  Reader errors (bad UTF-8, control
 * bytes) carry only a byte offset, turned here into line and column.
 */
static void
cm_yaml_syntax(struct cm_yaml_parse *ps, yaml_parser_t *p, const char *buf,
    size_t len)
{
	char		 path[CM_Y_PATH_BYTES];
	const char	*problem = p->problem != NULL ? p->problem :
			    "invalid YAML";
	size_t		 i, line = 1, col = 1;

	cm_yaml_child_path(ps, path, sizeof(path));
	if (p->error == YAML_MEMORY_ERROR) {
		cm_cfg_error_at(ps->cx, 0, 0, NULL, "out of memory");
		return;
	}
	if (p->error == YAML_READER_ERROR) {
		for (i = 0; i < p->problem_offset && i < len; i++) {
			if (buf[i] == '\n') {
				line++;
				col = 1;
			} else if (((unsigned char)buf[i] & 0xc0) != 0x80)
				col++;
		}
		if (p->problem_value != -1)
			cm_cfg_error_at(ps->cx, line, col, path, "%s (0x%x)",
			    problem, (unsigned int)p->problem_value);
		else
			cm_cfg_error_at(ps->cx, line, col, path, "%s", problem);
		return;
	}
	if (p->context != NULL)
		cm_cfg_error_at(ps->cx, p->problem_mark.line + 1,
		    p->problem_mark.column + 1, path, "%s (%s at %zu:%zu)",
		    problem, p->context, p->context_mark.line + 1,
		    p->context_mark.column + 1);
	else
		cm_cfg_error_at(ps->cx, p->problem_mark.line + 1,
		    p->problem_mark.column + 1, path, "%s", problem);
}

/* Drops map pairs whose key was refused or whose value is missing. */
static void
cm_yaml_prune(struct cm_ynode *n)
{
	size_t	 i, o;

	if (n == NULL)
		return;
	if (n->type == CM_Y_SEQ) {
		for (i = 0; i < n->n; i++)
			cm_yaml_prune(n->items[i]);
		return;
	}
	if (n->type != CM_Y_MAP)
		return;
	for (i = o = 0; i < n->n; i++) {
		struct cm_ypair *p = &n->pairs[i];

		if (p->key == NULL || p->val == NULL || p->key->invalid ||
		    p->key->type != CM_Y_STR || p->key->str == NULL) {
			cm_yaml_free(p->key);
			cm_yaml_free(p->val);
			continue;
		}
		cm_yaml_prune(p->val);
		n->pairs[o++] = *p;
	}
	n->n = o;
}

struct cm_ynode *
cm_yaml_parse(struct cm_cfg_ctx *cx, const char *buf, size_t len)
{
	struct cm_yaml_parse	*ps;
	struct cm_ynode		*root;
	yaml_parser_t		 parser;
	yaml_event_t		 ev;
	size_t			 before = cx->nerrors;
	int			 fatal;

	if (len > CM_MAX_CFG_FILE_BYTES) {
		cm_cfg_error(cx, NULL, NULL, "larger than %d bytes",
		    CM_MAX_CFG_FILE_BYTES);
		return (NULL);
	}
	if ((ps = calloc(1, sizeof(*ps))) == NULL ||
	    !yaml_parser_initialize(&parser)) {
		free(ps);
		cm_cfg_error(cx, NULL, NULL, "out of memory");
		return (NULL);
	}
	ps->cx = cx;
	/* UTF-8 only: libyaml would otherwise sniff a UTF-16 BOM. */
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
	yaml_parser_set_input_string(&parser,
	    (const unsigned char *)(buf != NULL ? buf : ""), len);
	while (!ps->done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			cm_yaml_syntax(ps, &parser, buf, len);
			ps->done = 1;
			break;
		}
		cm_yaml_event(ps, &ev);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	while (ps->depth > 0)
		cm_yaml_close(ps);
	root = ps->root;
	fatal = ps->done == 1;
	free(ps);
	/*
	 * After a fatal error the tree cannot be trusted.  After other
	 * errors it is returned with the refused nodes marked invalid and
	 * the pairs that cannot be walked dropped, so the schema pass still
	 * reports every other mistake; the caller fails on cx->nerrors.
	 */
	if (cx->nerrors != before && (fatal || root == NULL)) {
		cm_yaml_free(root);
		return (NULL);
	}
	if (cx->nerrors != before)
		cm_yaml_prune(root);
	if (root == NULL) {
		/* No document at all: an empty file means "all defaults". */
		if ((root = calloc(1, sizeof(*root))) == NULL ||
		    (root->str = strdup("")) == NULL) {
			free(root);
			cm_cfg_error(cx, NULL, NULL, "out of memory");
			return (NULL);
		}
		root->type = CM_Y_NULL;
		root->line = 1;
		root->col = 1;
	}
	return (root);
}

struct cm_ynode *
cm_yaml_load_file(struct cm_cfg_ctx *cx, const char *path)
{
	struct cm_ynode	*root;
	struct stat	 st;
	char		*buf = NULL, *p, eb[128];
	size_t		 len = 0, cap;
	ssize_t		 r;
	int		 fd;

	if (cx->path == NULL)
		cx->path = path;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		cm_cfg_error(cx, NULL, NULL, "cannot open: %s",
		    strerror_r(errno, eb, sizeof(eb)));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		cm_cfg_error(cx, NULL, NULL, "not a regular file");
		goto fail;
	}
	if (st.st_size > CM_MAX_CFG_FILE_BYTES)
		goto big;
	/* The size is a hint: the file may change while it is read. */
	cap = (size_t)st.st_size + 1;
	if ((buf = malloc(cap)) == NULL)
		goto oom;
	for (;;) {
		if (len == cap) {
			if (cap > CM_MAX_CFG_FILE_BYTES)
				goto big;
			cap = cap * 2 > CM_MAX_CFG_FILE_BYTES + 1 ?
			    CM_MAX_CFG_FILE_BYTES + 1 : cap * 2;
			if ((p = realloc(buf, cap)) == NULL)
				goto oom;
			buf = p;
		}
		r = read(fd, buf + len, cap - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			cm_cfg_error(cx, NULL, NULL, "cannot read: %s",
			    strerror_r(errno, eb, sizeof(eb)));
			goto fail;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > CM_MAX_CFG_FILE_BYTES)
		goto big;
	(void)close(fd);
	root = cm_yaml_parse(cx, buf, len);
	free(buf);
	return (root);
 big:
	cm_cfg_error(cx, NULL, NULL, "larger than %d bytes",
	    CM_MAX_CFG_FILE_BYTES);
	goto fail;
 oom:
	cm_cfg_error(cx, NULL, NULL, "out of memory");
 fail:
	if (fd != -1)
		(void)close(fd);
	free(buf);
	return (NULL);
}
