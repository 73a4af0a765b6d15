#include "config.h"

#include <sys/stat.h>

#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/yaml.h"

static struct cm_cfg_ctx	 cx;

/* Parses s with a fresh context named t.yaml. */
static struct cm_ynode *
parse(const char *s)
{
	memset(&cx, 0, sizeof(cx));
	cx.path = "t.yaml";
	return (cm_yaml_parse(&cx, s, strlen(s)));
}

/*
 * s must be refused with exactly the errors given, in order.  Non-fatal
 * errors still return a tree (yaml.h); either way it must be freeable.
 */
static void
refuse(const char *s, size_t n, ...)
{
	va_list	 ap;
	size_t	 i;

	cm_yaml_free(parse(s));
	assert_int_equal(cx.nerrors, n);
	va_start(ap, n);
	for (i = 0; i < n; i++)
		assert_string_equal(cx.errors[i], va_arg(ap, const char *));
	va_end(ap);
}

static void
test_non_fatal_errors_keep_the_tree_for_the_schema_pass(void **state)
{
	struct cm_ynode	*r;
	long long	 v;

	(void)state;
	r = parse("a: yes\nb: 5\na: 6\n");
	assert_non_null(r);
	assert_int_equal(cx.nerrors, 2);
	/* The refused value fails the helpers without a second message. */
	assert_true(cm_y_get(r, "a")->invalid);
	assert_int_equal(cm_y_int(&cx, cm_y_get(r, "a"), "a", 0, 9, &v), -1);
	assert_int_equal(cx.nerrors, 2);
	/* The duplicate pair is dropped; the rest is walkable. */
	assert_int_equal(r->n, 2);
	assert_int_equal(cm_y_int(&cx, cm_y_get(r, "b"), "b", 0, 9, &v), 0);
	assert_int_equal(v, 5);
	cm_yaml_free(r);
	/* A syntax error is fatal: no tree. */
	assert_null(parse("a: [1, 2\n"));
	assert_true(cx.nerrors > 0);
}

/*
 * Regression (fuzz): keys refused by the loader are not hashed, so the
 * duplicate-key table must still grow with the map, not hang.
 */
static void
test_many_refused_keys_then_valid_ones(void **state)
{
	char	 buf[8192];
	size_t	 o = 0;
	int	 i;

	(void)state;
	for (i = 0; i < 100; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o,
		    "\"k%d\\0\": v\n", i);
	for (i = 0; i < 40; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "ok%d: v\n", i);
	cm_yaml_free(parse(buf));
	assert_int_equal(cx.nerrors, 100);
}

static void
test_good_file_has_every_node_type(void **state)
{
	struct cm_ynode	*r, *n, *route;

	(void)state;
	r = parse("log: 1\n"
	    "routes:\n"
	    "  - host: api.example.com\n"
	    "    ports: [443, -8, +9]\n"
	    "    git: {fetch: true}\n"
	    "    allow_private: False\n"
	    "    token_env: 'EGRESS_TOKEN_0'\n"
	    "    q: \"10\"\n"
	    "    none: ~\n"
	    "    empty:\n"
	    "    f: 1.5\n");
	assert_non_null(r);
	assert_int_equal(cx.nerrors, 0);
	assert_int_equal(r->type, CM_Y_MAP);
	assert_int_equal(r->n, 2);
	assert_string_equal(r->pairs[0].key->str, "log");
	assert_int_equal(r->pairs[0].key->type, CM_Y_STR);
	n = cm_y_get(r, "log");
	assert_int_equal(n->type, CM_Y_INT);
	assert_int_equal(n->ival, 1);
	assert_int_equal(n->line, 1);
	assert_int_equal(n->col, 6);

	n = cm_y_get(r, "routes");
	assert_int_equal(n->type, CM_Y_SEQ);
	assert_int_equal(n->n, 1);
	route = n->items[0];
	assert_int_equal(route->type, CM_Y_MAP);
	assert_int_equal(route->line, 3);
	assert_int_equal(route->col, 5);
	n = cm_y_get(route, "host");
	assert_int_equal(n->type, CM_Y_STR);
	assert_string_equal(n->str, "api.example.com");
	assert_int_equal(n->len, 15);
	assert_false(n->quoted);
	n = cm_y_get(route, "ports");
	assert_int_equal(n->type, CM_Y_SEQ);
	assert_int_equal(n->n, 3);
	assert_int_equal(n->items[0]->ival, 443);
	assert_int_equal(n->items[1]->ival, -8);
	assert_int_equal(n->items[2]->ival, 9);
	assert_int_equal(n->items[2]->line, 4);
	assert_int_equal(n->items[2]->col, 22);
	n = cm_y_get(cm_y_get(route, "git"), "fetch");
	assert_int_equal(n->type, CM_Y_BOOL);
	assert_true(n->bval);
	n = cm_y_get(route, "allow_private");
	assert_int_equal(n->type, CM_Y_BOOL);
	assert_false(n->bval);
	n = cm_y_get(route, "token_env");
	assert_int_equal(n->type, CM_Y_STR);
	assert_true(n->quoted);
	assert_string_equal(n->str, "EGRESS_TOKEN_0");
	n = cm_y_get(route, "q");
	assert_int_equal(n->type, CM_Y_STR);	/* quoted: never an int */
	assert_true(n->quoted);
	assert_int_equal(cm_y_get(route, "none")->type, CM_Y_NULL);
	assert_int_equal(cm_y_get(route, "empty")->type, CM_Y_NULL);
	assert_int_equal(cm_y_get(route, "f")->type, CM_Y_STR);
	assert_null(cm_y_get(route, "missing"));
	assert_null(cm_y_get(n, "q"));		/* not a map */
	assert_null(cm_y_get(NULL, "q"));
	cm_yaml_free(r);
}

static void
test_empty_input_is_a_null_root(void **state)
{
	const char *const	 inputs[] = { "", "# comment only\n", "---\n",
				    "\n\n", NULL };
	struct cm_ynode		*r;
	size_t			 i;

	(void)state;
	for (i = 0; inputs[i] != NULL; i++) {
		r = parse(inputs[i]);
		assert_non_null(r);
		assert_int_equal(r->type, CM_Y_NULL);
		assert_non_null(r->str);
		assert_int_equal(cx.nerrors, 0);
		cm_yaml_free(r);
	}
	/* A NULL buffer of length 0 is an empty file too. */
	memset(&cx, 0, sizeof(cx));
	r = cm_yaml_parse(&cx, NULL, 0);
	assert_non_null(r);
	assert_int_equal(r->type, CM_Y_NULL);
	cm_yaml_free(r);
}

static void
test_plain_scalars_are_typed_by_the_core_schema(void **state)
{
	struct cm_ynode	*r;
	size_t		 i;

	(void)state;
	r = parse("[null, Null, NULL, ~, true, True, TRUE, false, False, "
	    "FALSE, 0, -0, 9223372036854775807, -9223372036854775808, "
	    "1.5, 1e3, .inf, 1:30, 12abc, -, 'yes', \"010\", yes_no]");
	assert_non_null(r);
	assert_int_equal(r->n, 23);
	for (i = 0; i < 4; i++)
		assert_int_equal(r->items[i]->type, CM_Y_NULL);
	for (i = 4; i < 10; i++) {
		assert_int_equal(r->items[i]->type, CM_Y_BOOL);
		assert_int_equal(r->items[i]->bval, i < 7);
	}
	assert_int_equal(r->items[10]->type, CM_Y_INT);
	assert_int_equal(r->items[10]->ival, 0);
	assert_int_equal(r->items[11]->ival, 0);
	assert_true(r->items[12]->ival == LLONG_MAX);
	assert_true(r->items[13]->ival == LLONG_MIN);
	for (i = 14; i < 23; i++)
		assert_int_equal(r->items[i]->type, CM_Y_STR);
	assert_string_equal(r->items[20]->str, "yes");
	cm_yaml_free(r);
}

static void
test_keys_are_never_typed(void **state)
{
	struct cm_ynode	*r;

	(void)state;
	r = parse("yes: 1\n1: 2\nnull: 3\n\"\": 4\n");
	assert_non_null(r);
	assert_int_equal(r->pairs[0].key->type, CM_Y_STR);
	assert_string_equal(r->pairs[0].key->str, "yes");
	assert_int_equal(r->pairs[1].key->type, CM_Y_STR);
	assert_int_equal(r->pairs[2].key->type, CM_Y_STR);
	assert_int_equal(cm_y_get(r, "")->ival, 4);
	cm_yaml_free(r);
}

static void
test_rejects_yaml11_booleans(void **state)
{
	(void)state;
	refuse("a: yes\nb: No\nc: ON\nd: off\ne: y\nf: N\ng: 'on'\n", 6,
	    "t.yaml:1:4: a: YAML 1.1 boolean \"yes\" is ambiguous; "
	    "write true/false or quote it",
	    "t.yaml:2:4: b: YAML 1.1 boolean \"No\" is ambiguous; "
	    "write true/false or quote it",
	    "t.yaml:3:4: c: YAML 1.1 boolean \"ON\" is ambiguous; "
	    "write true/false or quote it",
	    "t.yaml:4:4: d: YAML 1.1 boolean \"off\" is ambiguous; "
	    "write true/false or quote it",
	    "t.yaml:5:4: e: YAML 1.1 boolean \"y\" is ambiguous; "
	    "write true/false or quote it",
	    "t.yaml:6:4: f: YAML 1.1 boolean \"N\" is ambiguous; "
	    "write true/false or quote it");
	refuse("routes:\n  - dlp: {scan: [true, yEs]}\n", 1,
	    "t.yaml:2:24: routes[0].dlp.scan[1]: YAML 1.1 boolean \"yEs\" "
	    "is ambiguous; write true/false or quote it");
}

static void
test_rejects_odd_case_literals(void **state)
{
	(void)state;
	refuse("a: tRUE\nb: fALSE\nc: nuLL\n", 3,
	    "t.yaml:1:4: a: \"tRUE\" must be written in lower case, or quoted "
	    "to be a string",
	    "t.yaml:2:4: b: \"fALSE\" must be written in lower case, or quoted "
	    "to be a string",
	    "t.yaml:3:4: c: \"nuLL\" must be written in lower case, or quoted "
	    "to be a string");
}

static void
test_rejects_non_decimal_integers(void **state)
{
	(void)state;
	refuse("- 010\n- 00\n- -07\n- 0x1F\n- 0o17\n- +0b101\n- 1_000\n"
	    "- 9223372036854775808\n- -9223372036854775809\n", 9,
	    "t.yaml:1:3: [0]: integer \"010\" has a leading zero (octal in "
	    "YAML 1.1); remove it or quote it",
	    "t.yaml:2:3: [1]: integer \"00\" has a leading zero (octal in "
	    "YAML 1.1); remove it or quote it",
	    "t.yaml:3:3: [2]: integer \"-07\" has a leading zero (octal in "
	    "YAML 1.1); remove it or quote it",
	    "t.yaml:4:3: [3]: integer \"0x1F\" is not decimal; write it in "
	    "decimal or quote it",
	    "t.yaml:5:3: [4]: integer \"0o17\" is not decimal; write it in "
	    "decimal or quote it",
	    "t.yaml:6:3: [5]: integer \"+0b101\" is not decimal; write it in "
	    "decimal or quote it",
	    "t.yaml:7:3: [6]: integer \"1_000\" has an underscore (YAML 1.1 "
	    "digit separator); remove it or quote it",
	    "t.yaml:8:3: [7]: integer \"9223372036854775808\" is out of range",
	    "t.yaml:9:3: [8]: integer \"-9223372036854775809\" is out of "
	    "range");
}

static void
test_rejects_anchors_aliases_and_tags(void **state)
{
	(void)state;
	refuse("base: &b {x: 1}\nuse: *b\nlist: &l [1]\n"
	    "s: !!str 1\nt: !local v\nu: ! 2\n", 6,
	    "t.yaml:1:7: base: anchor \"b\" is not allowed",
	    "t.yaml:2:6: use: alias \"b\" is not allowed",
	    "t.yaml:3:7: list: anchor \"l\" is not allowed",
	    "t.yaml:4:4: s: tag \"tag:yaml.org,2002:str\" is not allowed",
	    "t.yaml:5:4: t: tag \"!local\" is not allowed",
	    "t.yaml:6:4: u: tag \"!\" is not allowed");
	/* An alias used as a key is refused without tripping anything. */
	refuse("a: &x k\n*x : v\n", 2,
	    "t.yaml:1:4: a: anchor \"x\" is not allowed",
	    "t.yaml:2:1: (root): alias \"x\" is not allowed");
}

static void
test_rejects_directives(void **state)
{
	(void)state;
	refuse("%YAML 1.1\n---\na: 1\n", 1,
	    "t.yaml:1:1: (root): %YAML and %TAG directives are not allowed");
	refuse("%TAG !e! tag:example.com,2000:\n---\na: 1\n", 1,
	    "t.yaml:1:1: (root): %YAML and %TAG directives are not allowed");
}

static void
test_rejects_duplicate_keys(void **state)
{
	char	*s, *p;
	size_t	 i;

	(void)state;
	refuse("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n", 2,
	    "t.yaml:4:3: b: duplicate key \"c\" (first at 3:3)",
	    "t.yaml:5:1: (root): duplicate key \"a\" (first at 1:1)");
	refuse("{a: 1, 'a': 2, \"a\": 3}", 2,
	    "t.yaml:1:8: (root): duplicate key \"a\" (first at 1:2)",
	    "t.yaml:1:16: (root): duplicate key \"a\" (first at 1:2)");

	/* A large mapping rehashes several times and still finds both. */
	assert_non_null(s = malloc(3000 * 16));
	p = s;
	p += sprintf(p, "{");
	for (i = 0; i < 3000; i++)
		p += sprintf(p, "k%zu: 1, ", i);
	sprintf(p, "k7: 2, k2999: 3}");
	cm_yaml_free(parse(s));
	assert_int_equal(cx.nerrors, 2);
	assert_non_null(strstr(cx.errors[0], "duplicate key \"k7\" (first at "
	    "1:51)"));
	assert_non_null(strstr(cx.errors[1], "duplicate key \"k2999\""));
	free(s);
}

static void
test_rejects_non_scalar_keys(void **state)
{
	(void)state;
	refuse("? [a, b]\n: 1\n? {c: d}\n: 2\n", 2,
	    "t.yaml:1:3: (root): mapping keys must be scalars, not a list",
	    "t.yaml:3:3: (root): mapping keys must be scalars, not a mapping");
}

static void
test_rejects_a_second_document(void **state)
{
	(void)state;
	refuse("a: 1\n---\nb: 2\n", 1,
	    "t.yaml:2:1: (root): only one document is allowed");
	refuse("---\na: 1\n...\n---\n", 1,
	    "t.yaml:4:1: (root): only one document is allowed");
}

static void
test_rejects_block_scalars(void **state)
{
	(void)state;
	refuse("a: |\n  text\nb: >-\n  folded\n", 2,
	    "t.yaml:1:4: a: block scalars (| and >) are not allowed; use a "
	    "quoted string",
	    "t.yaml:3:4: b: block scalars (| and >) are not allowed; use a "
	    "quoted string");
}

static void
test_rejects_nul_bytes_in_scalars(void **state)
{
	(void)state;
	refuse("a: \"x\\0y\"\n\"k\\x00\": 1\n", 2,
	    "t.yaml:1:4: a: NUL byte in value",
	    "t.yaml:2:1: (root): NUL byte in key");
}

static void
test_rejects_nesting_past_the_limit(void **state)
{
	char		 buf[4 * CM_MAX_YAML_DEPTH + 8];
	struct cm_ynode	*r;
	size_t		 i;

	(void)state;
	memset(buf, 0, sizeof(buf));
	for (i = 0; i < CM_MAX_YAML_DEPTH; i++)
		buf[i] = '[';
	for (i = 0; i < CM_MAX_YAML_DEPTH; i++)
		buf[CM_MAX_YAML_DEPTH + i] = ']';
	assert_non_null(r = parse(buf));
	cm_yaml_free(r);

	memset(buf, 0, sizeof(buf));
	for (i = 0; i < CM_MAX_YAML_DEPTH + 1; i++)
		buf[i] = '[';
	assert_null(parse(buf));
	assert_int_equal(cx.nerrors, 1);
	assert_int_equal(cx.first_line, 1);
	assert_int_equal(cx.first_col, CM_MAX_YAML_DEPTH + 1);
	assert_non_null(strstr(cx.errors[0], "]: nested deeper than 32 "
	    "levels"));
	assert_true(strncmp(cx.errors[0], "t.yaml:1:33: [0][0]", 19) == 0);
}

static void
test_rejects_oversized_input(void **state)
{
	char	*big;

	(void)state;
	assert_non_null(big = calloc(1, CM_MAX_CFG_FILE_BYTES + 1));
	memset(&cx, 0, sizeof(cx));
	cx.path = "t.yaml";
	assert_null(cm_yaml_parse(&cx, big, CM_MAX_CFG_FILE_BYTES + 1));
	assert_int_equal(cx.nerrors, 1);
	assert_string_equal(cx.errors[0], "t.yaml: larger than 4194304 bytes");
	assert_int_equal(cx.first_line, 0);
	free(big);
}

static void
test_syntax_error_stops_with_libyaml_text(void **state)
{
	(void)state;
	refuse("a: [1, 2\n", 1,
	    "t.yaml:2:1: a[2]: did not find expected ',' or ']' (while "
	    "parsing a flow sequence at 1:4)");
	refuse("a: 1\n b: 2\n", 1,
	    "t.yaml:2:3: (root): mapping values are not allowed in this "
	    "context");
	/* Semantic errors before it are kept; nothing after it is read. */
	refuse("a: yes\nb: {c: 1\nd: no\n", 2,
	    "t.yaml:1:4: a: YAML 1.1 boolean \"yes\" is ambiguous; write "
	    "true/false or quote it",
	    "t.yaml:3:2: b: did not find expected ',' or '}' (while "
	    "parsing a flow mapping at 2:4)");
}

static void
test_reader_errors_get_a_position(void **state)
{
	(void)state;
	refuse("a: 1\nb: \"x\xff\"\n", 1,
	    "t.yaml:2:6: (root): invalid leading UTF-8 octet (0xff)");
	refuse("a:\n  - \xc3\xa9\x01\n", 1,
	    "t.yaml:2:6: (root): control characters are not allowed (0x1)");
	/* UTF-16 is not sniffed: its BOM is just bad UTF-8. */
	refuse("\xff\xfe" "a\0:\0", 1,
	    "t.yaml:1:1: (root): invalid leading UTF-8 octet (0xff)");
}

static void
test_collects_every_error(void **state)
{
	char	*s, *p;
	size_t	 i;

	(void)state;
	refuse("x: 1\nroutes:\n  - host: &h a\n    on: yes\n  - port: 010\n"
	    "x: 2\n", 4,
	    "t.yaml:3:11: routes[0].host: anchor \"h\" is not allowed",
	    "t.yaml:4:9: routes[0].on: YAML 1.1 boolean \"yes\" is ambiguous; "
	    "write true/false or quote it",
	    "t.yaml:5:11: routes[1].port: integer \"010\" has a leading zero "
	    "(octal in YAML 1.1); remove it or quote it",
	    "t.yaml:6:1: (root): duplicate key \"x\" (first at 1:1)");
	assert_int_equal(cx.first_line, 3);
	assert_int_equal(cx.first_col, 11);

	/* Past CM_MAX_CFG_ERRORS errors are counted but not kept. */
	assert_non_null(s = malloc(CM_MAX_CFG_ERRORS * 2 * 8 + 8));
	p = s;
	for (i = 0; i < CM_MAX_CFG_ERRORS * 2; i++)
		p += sprintf(p, "- yes\n");
	cm_yaml_free(parse(s));
	assert_int_equal(cx.nerrors, CM_MAX_CFG_ERRORS * 2);
	assert_non_null(strstr(cx.errors[CM_MAX_CFG_ERRORS - 1], "t.yaml:64:3: "
	    "[63]: YAML 1.1"));
	free(s);
}

static void
test_never_reads_past_len(void **state)
{
	struct cm_ynode	*r;
	char		*buf;

	(void)state;
	/* Exactly sized, no terminator: ASan catches any overread. */
	assert_non_null(buf = malloc(6));
	memcpy(buf, "a: 123", 6);
	memset(&cx, 0, sizeof(cx));
	r = cm_yaml_parse(&cx, buf, 5);
	assert_non_null(r);
	assert_int_equal(cm_y_get(r, "a")->ival, 12);
	cm_yaml_free(r);
	free(buf);
}

static void
test_load_file(void **state)
{
	char		 dir[] = "/tmp/yaml_test.XXXXXX", path[64], big[64];
	struct cm_ynode	*r;
	int		 fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	(void)snprintf(path, sizeof(path), "%s/routes.yaml", dir);
	assert_true((fd = open(path, O_WRONLY | O_CREAT, 0600)) != -1);
	assert_int_equal(write(fd, "log: 2\n", 7), 7);
	close(fd);
	memset(&cx, 0, sizeof(cx));
	r = cm_yaml_load_file(&cx, path);
	assert_non_null(r);
	assert_int_equal(cm_y_get(r, "log")->ival, 2);
	assert_ptr_equal(cx.path, path);	/* defaults to the file */
	cm_yaml_free(r);

	memset(&cx, 0, sizeof(cx));
	cx.path = "routes.yaml";
	assert_null(cm_yaml_load_file(&cx, "/nonexistent/routes.yaml"));
	assert_string_equal(cx.errors[0],
	    "routes.yaml: cannot open: No such file or directory");
	memset(&cx, 0, sizeof(cx));
	cx.path = "d";
	assert_null(cm_yaml_load_file(&cx, dir));
	assert_string_equal(cx.errors[0], "d: not a regular file");

	(void)snprintf(big, sizeof(big), "%s/big.yaml", dir);
	assert_true((fd = open(big, O_WRONLY | O_CREAT, 0600)) != -1);
	assert_int_equal(ftruncate(fd, CM_MAX_CFG_FILE_BYTES + 1), 0);
	close(fd);
	memset(&cx, 0, sizeof(cx));
	cx.path = "big.yaml";
	assert_null(cm_yaml_load_file(&cx, big));
	assert_int_equal(cx.nerrors, 1);
	assert_string_equal(cx.errors[0], "big.yaml: larger than 4194304 bytes");
	unlink(big);
	unlink(path);
	rmdir(dir);
}

static void
test_error_format(void **state)
{
	struct cm_ynode	 node = { .line = 3, .col = 7 };
	char		 key[600];

	(void)state;
	memset(&cx, 0, sizeof(cx));
	cm_cfg_error(&cx, NULL, NULL, "cannot open: %s", "x");
	cm_cfg_error(&cx, NULL, "routes[1]", "missing");
	cm_cfg_error(&cx, &node, NULL, "bad %d", 1);
	cm_cfg_error(&cx, &node, "", "bad");
	cm_cfg_error_at(&cx, 9, 2, "a.b", "why");
	cm_cfg_error_at(&cx, 0, 0, "", "why");
	assert_int_equal(cx.nerrors, 6);
	assert_string_equal(cx.errors[0], "(input): cannot open: x");
	assert_string_equal(cx.errors[1], "(input): routes[1]: missing");
	assert_string_equal(cx.errors[2], "(input):3:7: (root): bad 1");
	assert_string_equal(cx.errors[3], "(input):3:7: (root): bad");
	assert_string_equal(cx.errors[4], "(input):9:2: a.b: why");
	assert_string_equal(cx.errors[5], "(input): why");
	assert_int_equal(cx.first_line, 0);	/* of the first error */

	/* A cut line never ends inside a UTF-8 sequence. */
	memset(&cx, 0, sizeof(cx));
	cx.path = "t.yaml";
	memset(key, 'k', sizeof(key));
	memcpy(key + 494, "\xe2\x82\xac\xe2\x82\xac", 6);
	key[sizeof(key) - 1] = '\0';
	cm_cfg_error(&cx, &node, "p", "%s", key);
	assert_int_equal(cx.first_line, 3);
	assert_int_equal(cx.first_col, 7);
	/* 15 bytes of prefix, 494 k, then a euro sign cut after 2 bytes. */
	assert_int_equal(strlen(cx.errors[0]), 15 + 494);
	assert_int_equal(cx.errors[0][15 + 493], 'k');
}

static void
test_path_builders(void **state)
{
	char	 buf[CM_Y_PATH_BYTES], small[8];

	(void)state;
	assert_string_equal(cm_y_path_key(buf, sizeof(buf), NULL, "log"),
	    "log");
	assert_string_equal(cm_y_path_key(buf, sizeof(buf), "", "log"), "log");
	assert_string_equal(cm_y_path_key(buf, sizeof(buf), "(root)", "log"),
	    "log");
	assert_string_equal(cm_y_path_idx(buf, sizeof(buf), NULL, 2), "[2]");
	assert_string_equal(cm_y_path_idx(buf, sizeof(buf), "(root)", 0),
	    "[0]");
	assert_string_equal(cm_y_path_idx(buf, sizeof(buf), "routes", 2),
	    "routes[2]");
	assert_string_equal(cm_y_path_key(buf, sizeof(buf), "routes[2]",
	    "dlp"), "routes[2].dlp");
	assert_string_equal(cm_y_path_key(buf, sizeof(buf), "a", "x\ny\x7f"),
	    "a.x?y?");
	assert_string_equal(cm_y_path_key(small, sizeof(small), "abc",
	    "defgh"), "abc.def");
	assert_string_equal(cm_y_path_key(small, sizeof(small), "abcdefgh",
	    "x"), "abcdefg");
	assert_string_equal(cm_y_path_key(small, sizeof(small), "abcde",
	    "\xe2\x82\xac"), "abcde.");
	assert_string_equal(cm_y_path_idx(small, sizeof(small), "abcde", 10),
	    "abcde[1");
}

static void
test_quote_escapes_and_cuts(void **state)
{
	char	 buf[CM_Y_PATH_BYTES], small[12], long_[100];

	(void)state;
	assert_string_equal(cm_y_quote(buf, sizeof(buf), "a\"b\\c\n\x01", 7),
	    "\"a\\\"b\\\\c\\x0a\\x01\"");
	memset(long_, 'x', sizeof(long_));
	memcpy(long_ + 63, "\xc3\xa9", 2);
	assert_string_equal(cm_y_quote(buf, sizeof(buf), long_, 100),
	    "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "\"...");
	assert_string_equal(cm_y_quote(small, sizeof(small), "abcdef", 6),
	    "\"ab\"...");
	assert_string_equal(cm_y_quote(small, sizeof(small), "", 0), "\"\"");
	assert_string_equal(cm_y_quote(small, 4, "abc", 3), "");
}

static void
test_check_keys_reports_each_unknown_key(void **state)
{
	static const char *const allowed[] = { "host", "ports", NULL };
	struct cm_ynode		*r;

	(void)state;
	r = parse("routes:\n  - host: a\n    hots: b\n    pots: [1]\n");
	assert_non_null(r);
	assert_int_equal(cm_y_check_keys(&cx,
	    cm_y_get(r, "routes")->items[0], "routes[0]", allowed), -1);
	assert_int_equal(cx.nerrors, 2);
	assert_string_equal(cx.errors[0],
	    "t.yaml:3:5: routes[0]: unknown key \"hots\"");
	assert_string_equal(cx.errors[1],
	    "t.yaml:4:5: routes[0]: unknown key \"pots\"");
	assert_int_equal(cm_y_check_keys(&cx, cm_y_get(r, "routes"), "routes",
	    allowed), -1);
	assert_string_equal(cx.errors[2],
	    "t.yaml:2:3: routes: expected a mapping, got a list");
	cm_yaml_free(r);

	r = parse("host: a\n");
	assert_int_equal(cm_y_check_keys(&cx, r, NULL, allowed), 0);
	assert_int_equal(cx.nerrors, 0);
	cm_yaml_free(r);
}

static void
test_want_names_both_types(void **state)
{
	struct cm_ynode	*r;

	(void)state;
	r = parse("a: x\nb: \"443\"\nc: 'true'\nd:\ne: [1]\n");
	assert_non_null(r);
	assert_int_equal(cm_y_want(&cx, cm_y_get(r, "a"), "a", CM_Y_INT), -1);
	assert_int_equal(cm_y_want(&cx, cm_y_get(r, "b"), "b", CM_Y_INT), -1);
	assert_int_equal(cm_y_want(&cx, cm_y_get(r, "c"), "c", CM_Y_BOOL), -1);
	assert_int_equal(cm_y_want(&cx, cm_y_get(r, "d"), "d", CM_Y_STR), -1);
	assert_int_equal(cm_y_want(&cx, cm_y_get(r, "e"), "e", CM_Y_MAP), -1);
	assert_int_equal(cm_y_want(&cx, NULL, "f", CM_Y_SEQ), -1);
	assert_int_equal(cm_y_want(&cx, cm_y_get(r, "e"), "e", CM_Y_SEQ), 0);
	assert_int_equal(cx.nerrors, 6);
	assert_string_equal(cx.errors[0],
	    "t.yaml:1:4: a: expected an integer, got a string");
	assert_string_equal(cx.errors[1],
	    "t.yaml:2:4: b: expected an integer, got a string (remove the "
	    "quotes)");
	assert_string_equal(cx.errors[2],
	    "t.yaml:3:4: c: expected a boolean, got a string (remove the "
	    "quotes)");
	assert_string_equal(cx.errors[3],
	    "t.yaml:4:3: d: expected a string, got null");
	assert_string_equal(cx.errors[4],
	    "t.yaml:5:4: e: expected a mapping, got a list");
	assert_string_equal(cx.errors[5],
	    "t.yaml: f: missing value (expected a list)");
	cm_yaml_free(r);
}

static void
test_int_checks_bounds(void **state)
{
	struct cm_ynode	*r;
	long long	 v = -1;

	(void)state;
	r = parse("[443, 70000, 0, -5, x]");
	assert_non_null(r);
	assert_int_equal(cm_y_int(&cx, r->items[0], "p", 1, 65535, &v), 0);
	assert_int_equal(v, 443);
	assert_int_equal(cm_y_int(&cx, r->items[1], "p", 1, 65535, &v), -1);
	assert_int_equal(cm_y_int(&cx, r->items[2], "m", 1, LLONG_MAX, &v),
	    -1);
	assert_int_equal(cm_y_int(&cx, r->items[1], "n", LLONG_MIN, 10, &v),
	    -1);
	assert_int_equal(cm_y_int(&cx, r->items[3], "n", LLONG_MIN, LLONG_MAX,
	    &v), 0);
	assert_int_equal(v, -5);
	assert_int_equal(cm_y_int(&cx, r->items[4], "x", 0, 1, &v), -1);
	assert_int_equal(v, -5);	/* untouched on failure */
	assert_int_equal(cx.nerrors, 4);
	assert_string_equal(cx.errors[0],
	    "t.yaml:1:7: p: must be between 1 and 65535, got 70000");
	assert_string_equal(cx.errors[1],
	    "t.yaml:1:14: m: must be at least 1, got 0");
	assert_string_equal(cx.errors[2],
	    "t.yaml:1:7: n: must be at most 10, got 70000");
	assert_string_equal(cx.errors[3],
	    "t.yaml:1:21: x: expected an integer, got a string");
	cm_yaml_free(r);
}

static void
test_bool_str_and_enum(void **state)
{
	static const char *const modes[] = { "supervise", "redact", "block",
					    NULL };
	struct cm_ynode		*r, *dlp;
	const char		*s = NULL;
	int			 b = -1, e = -1;

	(void)state;
	r = parse("routes:\n  - {host: 'a', x: 1}\n  - dlp:\n"
	    "      outbound_on_match: warn\n      on: block\n"
	    "      f: false\n");
	assert_non_null(r);
	dlp = cm_y_get(cm_y_get(r, "routes")->items[1], "dlp");
	assert_int_equal(cm_y_enum(&cx, cm_y_get(dlp, "outbound_on_match"),
	    "routes[1].dlp.outbound_on_match", modes, &e), -1);
	assert_int_equal(e, -1);
	assert_int_equal(cm_y_enum(&cx, cm_y_get(dlp, "on"), "routes[1].dlp.on",
	    modes, &e), 0);
	assert_int_equal(e, 2);
	assert_int_equal(cm_y_bool(&cx, cm_y_get(dlp, "f"), "f", &b), 0);
	assert_int_equal(b, 0);
	assert_int_equal(cm_y_bool(&cx, cm_y_get(dlp, "on"), "o", &b), -1);
	assert_int_equal(cm_y_str(&cx, cm_y_get(cm_y_get(r, "routes")->items[0],
	    "host"), "h", &s), 0);
	assert_string_equal(s, "a");
	assert_int_equal(cm_y_str(&cx, cm_y_get(cm_y_get(r, "routes")->items[0],
	    "x"), "routes[0].x", &s), -1);
	assert_int_equal(cm_y_enum(&cx, cm_y_get(dlp, "f"), "e", modes, &e),
	    -1);
	assert_int_equal(cx.nerrors, 4);
	assert_string_equal(cx.errors[0],
	    "t.yaml:4:26: routes[1].dlp.outbound_on_match: unknown value "
	    "\"warn\" (expected supervise, redact, block)");
	assert_string_equal(cx.errors[1],
	    "t.yaml:5:11: o: expected a boolean, got a string");
	assert_string_equal(cx.errors[2],
	    "t.yaml:2:20: routes[0].x: expected a string, got an integer");
	assert_string_equal(cx.errors[3],
	    "t.yaml:6:10: e: expected a string, got a boolean");
	cm_yaml_free(r);
}

static void
test_need_reports_missing_key_at_the_map(void **state)
{
	struct cm_ynode	*r;

	(void)state;
	r = parse("routes:\n  - ports: [1]\n");
	assert_non_null(r);
	assert_non_null(cm_y_need(&cx, r, NULL, "routes"));
	assert_null(cm_y_need(&cx, cm_y_get(r, "routes")->items[0], "routes[0]",
	    "host"));
	assert_int_equal(cx.nerrors, 1);
	assert_string_equal(cx.errors[0],
	    "t.yaml:2:5: routes[0]: missing required key \"host\"");
	cm_yaml_free(r);
}

static void
test_type_names(void **state)
{
	(void)state;
	assert_string_equal(cm_y_type_name(CM_Y_NULL), "null");
	assert_string_equal(cm_y_type_name(CM_Y_BOOL), "boolean");
	assert_string_equal(cm_y_type_name(CM_Y_INT), "integer");
	assert_string_equal(cm_y_type_name(CM_Y_STR), "string");
	assert_string_equal(cm_y_type_name(CM_Y_MAP), "mapping");
	assert_string_equal(cm_y_type_name(CM_Y_SEQ), "list");
	assert_string_equal(cm_y_type_name((enum cm_ytype)42), "unknown");
}

static void
test_free_accepts_null(void **state)
{
	(void)state;
	cm_yaml_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_file_has_every_node_type),
		cmocka_unit_test(test_many_refused_keys_then_valid_ones),
		cmocka_unit_test(test_non_fatal_errors_keep_the_tree_for_the_schema_pass),
		cmocka_unit_test(test_empty_input_is_a_null_root),
		cmocka_unit_test(test_plain_scalars_are_typed_by_the_core_schema),
		cmocka_unit_test(test_keys_are_never_typed),
		cmocka_unit_test(test_rejects_yaml11_booleans),
		cmocka_unit_test(test_rejects_odd_case_literals),
		cmocka_unit_test(test_rejects_non_decimal_integers),
		cmocka_unit_test(test_rejects_anchors_aliases_and_tags),
		cmocka_unit_test(test_rejects_directives),
		cmocka_unit_test(test_rejects_duplicate_keys),
		cmocka_unit_test(test_rejects_non_scalar_keys),
		cmocka_unit_test(test_rejects_a_second_document),
		cmocka_unit_test(test_rejects_block_scalars),
		cmocka_unit_test(test_rejects_nul_bytes_in_scalars),
		cmocka_unit_test(test_rejects_nesting_past_the_limit),
		cmocka_unit_test(test_rejects_oversized_input),
		cmocka_unit_test(test_syntax_error_stops_with_libyaml_text),
		cmocka_unit_test(test_reader_errors_get_a_position),
		cmocka_unit_test(test_collects_every_error),
		cmocka_unit_test(test_never_reads_past_len),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_error_format),
		cmocka_unit_test(test_path_builders),
		cmocka_unit_test(test_quote_escapes_and_cuts),
		cmocka_unit_test(test_check_keys_reports_each_unknown_key),
		cmocka_unit_test(test_want_names_both_types),
		cmocka_unit_test(test_int_checks_bounds),
		cmocka_unit_test(test_bool_str_and_enum),
		cmocka_unit_test(test_need_reports_missing_key_at_the_map),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_free_accepts_null),
	};
	return (cmocka_run_group_tests_name("yaml", tests, NULL, NULL));
}
