/*
 * The one strict YAML loader (spec/egress.md §5): every YAML file the
 * sidecar reads goes through it (routes.yaml, gitgate.yaml, sidecar.yaml,
 * a `supervise modify` payload).
 *
 * Accepted subset: one document; block and flow mappings and sequences;
 * plain, single- and double-quoted scalars; integers; true/false;
 * null/~.  Refused with file:line:col: key.path: reason: YAML 1.1
 * booleans (yes/no/on/off/y/n in any case, unquoted), anchors, aliases,
 * tags, duplicate keys, non-scalar keys, more than one document, nesting
 * past CM_MAX_YAML_DEPTH.  Schema checks (unknown keys, wrong types) are
 * done by the caller with the cm_y_* helpers below, which record errors
 * in the same context so one run reports every mistake.
 *
 * Typing of plain values follows the YAML 1.2 core schema, minus what a
 * YAML 1.1 reader would read differently, which is refused so a file
 * means the same to every tool: null is null/Null/NULL/~/empty; true
 * and false are written in lower, title or upper case (tRUE is refused);
 * integers are decimal with an optional sign, and 010, 0x10, 0o10, 0b1
 * and 1_000 are refused (quote them for a string).  Floats, 1:30 and
 * the like stay strings.  Keys are never typed: `1:` is the key "1".
 * Block scalars (| and >) are refused: the subset has plain, single-
 * and double-quoted scalars only.  Key paths read routes[2].dlp; the
 * root is "(root)" in messages.
 */
#ifndef CM_YAML_H
#define CM_YAML_H

#include <stddef.h>
#include <stdint.h>

#include "common/bounds.h"

/* Key paths ("routes[2].dlp") longer than this are cut. */
#define CM_Y_PATH_BYTES		256

enum cm_ytype {
	CM_Y_NULL,		/* null, ~ or empty plain scalar */
	CM_Y_BOOL,		/* true / false */
	CM_Y_INT,		/* plain decimal integer, optional sign */
	CM_Y_STR,		/* any other scalar, and every quoted one */
	CM_Y_MAP,
	CM_Y_SEQ,
};

struct cm_ynode;

struct cm_ypair {
	struct cm_ynode	*key;		/* always CM_Y_STR */
	struct cm_ynode	*val;
};

struct cm_ynode {
	enum cm_ytype	 type;
	size_t		 line;		/* 1-based, as editors count */
	size_t		 col;		/* 1-based */
	char		*str;		/* scalars: the text, NUL-terminated */
	size_t		 len;		/* scalars: bytes in str */
	int		 quoted;	/* scalar was single- or double-quoted */
	int		 invalid;	/* refused by the loader already */
	long long	 ival;		/* CM_Y_INT */
	int		 bval;		/* CM_Y_BOOL */
	struct cm_ypair	*pairs;		/* CM_Y_MAP, in file order */
	struct cm_ynode	**items;	/* CM_Y_SEQ */
	size_t		 n;		/* number of pairs or items */
};

/*
 * The errors of one file.  Zero it, set path, pass it to every call;
 * nerrors counts every error, the first CM_MAX_CFG_ERRORS are kept as
 * "file:line:col: key.path: reason".  Line and col of the error
 * describe the first error's position (for the reload log line).
 */
struct cm_cfg_ctx {
	const char	*path;		/* borrowed: the name shown */
	char		 errors[CM_MAX_CFG_ERRORS][CM_MAX_CFG_ERROR_BYTES];
	size_t		 nerrors;
	size_t		 first_line;	/* of errors[0], 0 if none */
	size_t		 first_col;
};

/*
 * Parses len bytes of YAML.  Returns the root (a CM_Y_NULL node for an
 * empty document), or NULL after a fatal error (syntax, depth, a second
 * document, out of memory).  After other errors the tree is still
 * returned, the refused nodes marked invalid (the cm_y_* helpers then
 * fail on them without a second message) and unusable pairs dropped:
 * callers MUST fail when cx->nerrors grew.  The caller frees the tree
 * with cm_yaml_free().  Never reads past len.
 */
struct cm_ynode	*cm_yaml_parse(struct cm_cfg_ctx *cx, const char *buf,
		    size_t len);
/* Reads and parses a file (refused past CM_MAX_CFG_FILE_BYTES). */
struct cm_ynode	*cm_yaml_load_file(struct cm_cfg_ctx *cx, const char *path);
void		 cm_yaml_free(struct cm_ynode *root);

/*
 * Records "path:line:col: keypath: reason"; node may be NULL (line 0).
 * A NULL or empty keypath prints as "(root)".  Without a position the
 * line is "path: keypath: reason", or "path: reason" when keypath is
 * NULL or empty too (file-level errors: cannot open, too large).
 */
void		 cm_cfg_error(struct cm_cfg_ctx *cx, const struct cm_ynode *node,
		    const char *keypath, const char *fmt, ...)
		    __attribute__((format(printf, 4, 5)));
/* The same at an explicit 1-based position; line 0 means none. */
void		 cm_cfg_error_at(struct cm_cfg_ctx *cx, size_t line, size_t col,
		    const char *keypath, const char *fmt, ...)
		    __attribute__((format(printf, 5, 6)));
/*
 * Writes s (len bytes) into buf as a double-quoted string for an error
 * message: control bytes escaped, cut with "..." past a few dozen
 * characters, never splitting a UTF-8 sequence.  Returns buf.
 */
const char	*cm_y_quote(char *buf, size_t size, const char *s, size_t len);

/*
 * Builds "parent.key" / "parent[i]" into buf (always terminated).  A
 * NULL, empty or "(root)" parent is the root: "key", "[i]".  Control
 * bytes in key become '?'.
 */
const char	*cm_y_path_key(char *buf, size_t size, const char *parent,
		    const char *key);
const char	*cm_y_path_idx(char *buf, size_t size, const char *parent,
		    size_t idx);

/* The value of key in map, or NULL; map may be NULL or not a map. */
struct cm_ynode	*cm_y_get(const struct cm_ynode *map, const char *key);

/*
 * Schema helpers.  Each returns 0 on success and -1 after recording an
 * error that names keypath and the expected type or bounds.
 */
/* Every key of map must be in the NULL-terminated list allowed. */
int		 cm_y_check_keys(struct cm_cfg_ctx *cx,
		    const struct cm_ynode *map, const char *keypath,
		    const char *const *allowed);
/* The value of key in map, or NULL after "missing required key". */
struct cm_ynode	*cm_y_need(struct cm_cfg_ctx *cx, const struct cm_ynode *map,
		    const char *keypath, const char *key);
int		 cm_y_want(struct cm_cfg_ctx *cx, const struct cm_ynode *node,
		    const char *keypath, enum cm_ytype type);
int		 cm_y_int(struct cm_cfg_ctx *cx, const struct cm_ynode *node,
		    const char *keypath, long long min, long long max,
		    long long *out);
int		 cm_y_bool(struct cm_cfg_ctx *cx, const struct cm_ynode *node,
		    const char *keypath, int *out);
/* A string scalar (quoted or plain, not int/bool/null); borrowed. */
int		 cm_y_str(struct cm_cfg_ctx *cx, const struct cm_ynode *node,
		    const char *keypath, const char **out);
/* One of the NULL-terminated choices; *out is its index. */
int		 cm_y_enum(struct cm_cfg_ctx *cx, const struct cm_ynode *node,
		    const char *keypath, const char *const *choices, int *out);
/* "null", "boolean", "integer", "string", "mapping", "list". */
const char	*cm_y_type_name(enum cm_ytype type);

#endif /* CM_YAML_H */
