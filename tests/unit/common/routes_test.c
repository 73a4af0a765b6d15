#include "config.h"

#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <jansson.h>

#include "common/http.h"
#include "common/routes.h"
#include "common/yaml.h"

#define WHY_IPV4 "invalid IPv4 address (four decimal octets without " \
	"leading zeros)"
/* A file's first route, then keys of it from line 3 on. */
#define R	"routes:\n  - host: a.test\n"

static struct cm_cfg_ctx	 cx;

static struct cm_routes *
load(const char *s)
{
	struct cm_ynode		*root;
	struct cm_routes	*r;

	memset(&cx, 0, sizeof(cx));
	cx.path = "routes.yaml";
	if ((root = cm_yaml_parse(&cx, s, strlen(s))) == NULL)
		return (NULL);
	r = cm_routes_parse(&cx, root);
	cm_yaml_free(root);
	return (r);
}

static struct cm_routes *
load_ok(const char *s)
{
	struct cm_routes	*r;
	size_t			 i;

	if ((r = load(s)) == NULL) {
		for (i = 0; i < cx.nerrors && i < CM_MAX_CFG_ERRORS; i++)
			print_message("error: %s\n", cx.errors[i]);
		fail_msg("refused:\n%s", s);
	}
	assert_int_equal(cx.nerrors, 0);
	return (r);
}

/* s must be refused with exactly the n errors given, in order. */
static void
refuse(const char *s, size_t n, ...)
{
	struct cm_routes	*r;
	va_list			 ap;
	size_t			 i;
	int			 bad = 0;

	r = load(s);
	if (r != NULL) {
		cm_routes_free(r);
		fail_msg("accepted:\n%s", s);
	}
	va_start(ap, n);
	for (i = 0; i < n || i < cx.nerrors; i++) {
		const char *want = i < n ? va_arg(ap, const char *) : "(none)";
		const char *got = i < cx.nerrors ? cx.errors[i] : "(none)";

		if (strcmp(want, got) != 0) {
			print_message("error %zu\n  want: %s\n  got:  %s\n", i,
			    want, got);
			bad = 1;
		}
	}
	va_end(ap);
	if (bad)
		fail_msg("wrong errors for:\n%s", s);
	assert_int_equal(cx.nerrors, n);
}

static void
refuse1(const char *s, const char *err)
{
	refuse(s, 1, err);
}

static void
test_root(void **state)
{
	(void)state;
	refuse1("- a\n", "routes.yaml:1:1: (root): expected a mapping, "
	    "got a list");
	refuse1("", "routes.yaml:1:1: (root): expected a mapping, got null");
	refuse1("log: 1\n", "routes.yaml:1:1: (root): missing required key "
	    "\"routes\"");
	refuse1("logs: 1\nroutes: []\n", "routes.yaml:1:1: (root): unknown "
	    "key \"logs\"");
	refuse1("log: 3\nroutes: []\n", "routes.yaml:1:6: log: must be "
	    "between 0 and 2, got 3");
	refuse1("log: true\nroutes: []\n", "routes.yaml:1:6: log: expected an "
	    "integer, got a boolean");
	refuse1("routes: {}\n", "routes.yaml:1:9: routes: expected a list, "
	    "got a mapping");
	refuse1("routes:\n  - a.test\n", "routes.yaml:2:5: routes[0]: "
	    "expected a mapping, got a string");
	refuse1(R "    hots: b\n", "routes.yaml:3:5: routes[0]: unknown key "
	    "\"hots\"");
	refuse1("routes:\n  - ports: [443]\n", "routes.yaml:2:5: routes[0]: "
	    "missing required key \"host\"");
}

/* The loader's non-fatal errors fail the file, each said once. */
static void
test_loader_errors(void **state)
{
	(void)state;
	refuse1(R "    host: b.test\n", "routes.yaml:3:5: routes[0]: "
	    "duplicate key \"host\" (first at 2:5)");
	/* The loader's wording is its own; one message at the value. */
	assert_null(load(R "    git: {fetch: yes}\n"));
	assert_int_equal(cx.nerrors, 1);
	assert_non_null(strstr(cx.errors[0], "routes.yaml:3:18: "
	    "routes[0].git.fetch: YAML 1.1 boolean \"yes\""));
	assert_null(load(R "    dlp: {outbound_detectors: no}\n"));
	assert_int_equal(cx.nerrors, 1);
	assert_non_null(strstr(cx.errors[0], "routes.yaml:3:31: "
	    "routes[0].dlp.outbound_detectors: YAML 1.1 boolean \"no\""));
}

static void
test_empty_routes(void **state)
{
	struct cm_routes	*r;

	(void)state;
	r = load_ok("routes: []\n");
	assert_int_equal(cm_routes_count(r), 0);
	assert_int_equal(cm_routes_log(r), 0);
	assert_null(cm_routes_lookup(r, "a.test"));
	assert_null(cm_routes_at(r, 0));
	cm_routes_free(r);
	r = load_ok("log: 2\nroutes: []\n");
	assert_int_equal(cm_routes_log(r), 2);
	cm_routes_free(r);
}

static void
test_host_forms(void **state)
{
	static const struct {
		const char	*host;
		const char	*why;
	} bad[] = {
		{ "api.example.com:443", "a route host has no port (list it "
		    "in ports)" },
		{ "[::1]:443", "a route host has no port (list it in ports)" },
		{ "127.0.0.1:80", "a route host has no port (list it in "
		    "ports)" },
		{ "127.1", WHY_IPV4 },
		{ "0x7f.0.0.1", WHY_IPV4 },
		{ "2130706433", WHY_IPV4 },
		{ "b\xc3\xbc" "cher.de", "non-ASCII host name (use the xn-- "
		    "A-label)" },
		{ "a..b", "empty label in host name" },
		{ "-a.test", "host label starts or ends with \"-\"" },
		{ "a b.test", "invalid character in host name" },
		{ "*.127.0.0.1", "a wildcard needs a DNS name after \"*.\"" },
		{ "*.[::1]", "a wildcard needs a DNS name after \"*.\"" },
		{ "a.*.test", "\"*\" is allowed only as a leading \"*.\" "
		    "label" },
		{ "*", "\"*\" is allowed only as a leading \"*.\" label" },
		{ "*.*.test", "\"*\" is allowed only as a leading \"*.\" "
		    "label" },
		{ "*test", "\"*\" is allowed only as a leading \"*.\" label" },
		{ "[fe80::1%25eth0]", "IPv6 zone ids are not allowed" },
		{ "", "empty host" },
		{ "*.", "empty host" },
		{ NULL, NULL }
	};
	char	 doc[512], err[512];
	size_t	 i;

	(void)state;
	for (i = 0; bad[i].host != NULL; i++) {
		(void)snprintf(doc, sizeof(doc), "routes:\n  - host: \"%s\"\n",
		    bad[i].host);
		(void)snprintf(err, sizeof(err), "routes.yaml:2:11: "
		    "routes[0].host: invalid host \"%s\": %s", bad[i].host,
		    bad[i].why);
		refuse1(doc, err);
	}
	refuse1("routes:\n  - host: 12\n", "routes.yaml:2:11: routes[0].host: "
	    "expected a string, got an integer");
	refuse1("routes:\n  - host: _egress.local\n", "routes.yaml:2:11: "
	    "routes[0].host: \"_egress.local\" is reserved for introspection");
	refuse1("routes:\n  - host: _EGRESS.Local.\n", "routes.yaml:2:11: "
	    "routes[0].host: \"_EGRESS.Local.\" is reserved for "
	    "introspection");
	cm_routes_free(load_ok("routes:\n  - host: a_b.test\n"
	    "  - host: \"*.c.test\"\n  - host: 10.0.0.1\n"
	    "  - host: \"::1\"\n  - host: \"[2001:db8::2]\"\n"
	    "  - host: \"*._egress.local\"\n  - host: xn--bcher-kva.de\n"));
}

static void
test_duplicate_hosts(void **state)
{
	(void)state;
	refuse1("routes:\n  - host: API.example.com\n"
	    "  - host: api.example.com.\n", "routes.yaml:3:11: routes[1].host: "
	    "duplicate host \"api.example.com\" (routes[0] at line 2 has it)");
	refuse1("routes:\n  - host: \"*.a.test\"\n  - host: a.test\n"
	    "  - host: \"*.A.test\"\n", "routes.yaml:4:11: routes[2].host: "
	    "duplicate host \"*.a.test\" (routes[0] at line 2 has it)");
	refuse1("routes:\n  - host: \"[::1]\"\n  - host: \"0:0::1\"\n",
	    "routes.yaml:3:11: routes[1].host: duplicate host \"::1\" "
	    "(routes[0] at line 2 has it)");
	refuse1("routes:\n  - {host: a.test}\n  - {host: A.TEST}\n",
	    "routes.yaml:3:12: routes[1].host: duplicate host \"a.test\" "
	    "(routes[0] at line 2 has it)");
	/* A mapped address is another host than its IPv4 form. */
	cm_routes_free(load_ok("routes:\n  - host: 127.0.0.1\n"
	    "  - host: \"::ffff:127.0.0.1\"\n"));
}

static void
test_ports_errors(void **state)
{
	(void)state;
	refuse(R "    ports: [0, 443, 70000]\n", 2,
	    "routes.yaml:3:13: routes[0].ports[0]: must be between 1 and "
	    "65535, got 0",
	    "routes.yaml:3:21: routes[0].ports[2]: must be between 1 and "
	    "65535, got 70000");
	refuse1(R "    ports: 443\n", "routes.yaml:3:12: routes[0].ports: "
	    "expected a list, got an integer");
	refuse1(R "    ports: []\n", "routes.yaml:3:12: routes[0].ports: "
	    "must list at least one port (omit it for 443 and 80)");
	refuse1(R "    ports: [\"443\"]\n", "routes.yaml:3:13: "
	    "routes[0].ports[0]: expected an integer, got a string (remove "
	    "the quotes)");
}

static void
test_auth_errors(void **state)
{
	(void)state;
	refuse1(R "    auth_scheme: bearer\n    token_env: T\n",
	    "routes.yaml:3:18: routes[0].auth_scheme: unknown value "
	    "\"bearer\" (expected Bearer, token)");
	refuse1(R "    auth_scheme: token\n", "routes.yaml:3:18: "
	    "routes[0].auth_scheme: set without token_env (both auth keys or "
	    "neither)");
	refuse1(R "    token_env: EGRESS_TOKEN_0\n", "routes.yaml:3:16: "
	    "routes[0].token_env: set without auth_scheme (both auth keys or "
	    "neither)");
	refuse1(R "    auth_scheme: Bearer\n    token_env: 9TOKEN\n",
	    "routes.yaml:4:16: routes[0].token_env: invalid variable name "
	    "\"9TOKEN\" (expected [A-Za-z_][A-Za-z0-9_]*)");
	refuse1(R "    auth_scheme: Bearer\n    token_env: A-B\n",
	    "routes.yaml:4:16: routes[0].token_env: invalid variable name "
	    "\"A-B\" (expected [A-Za-z_][A-Za-z0-9_]*)");
	refuse1(R "    auth_scheme: Bearer\n    token_env: \"\"\n",
	    "routes.yaml:4:16: routes[0].token_env: invalid variable name "
	    "\"\" (expected [A-Za-z_][A-Za-z0-9_]*)");
	refuse1(R "    auth_scheme: Bearer\n    token_env: 12\n",
	    "routes.yaml:4:16: routes[0].token_env: expected a string, got an "
	    "integer");
}

static void
test_git_dlp_errors(void **state)
{
	(void)state;
	refuse1(R "    git: {fetch: 1}\n", "routes.yaml:3:18: "
	    "routes[0].git.fetch: expected a boolean, got an integer");
	refuse1(R "    git: {pull: true}\n", "routes.yaml:3:11: routes[0].git: "
	    "unknown key \"pull\"");
	refuse1(R "    git: true\n", "routes.yaml:3:10: routes[0].git: "
	    "expected a mapping, got a boolean");
	refuse1(R "    dlp: {outbound_on_match: warn}\n", "routes.yaml:3:30: "
	    "routes[0].dlp.outbound_on_match: unknown value \"warn\" "
	    "(expected supervise, redact, block)");
	refuse1(R "    dlp:\n      outbound_detectors: [entropy, entropy]\n",
	    "routes.yaml:4:37: routes[0].dlp.outbound_detectors[1]: "
	    "duplicate detector \"entropy\"");
	refuse1(R "    dlp:\n      outbound_detectors: "
	    "[naive_injection_detection]\n", "routes.yaml:4:28: "
	    "routes[0].dlp.outbound_detectors[0]: "
	    "\"naive_injection_detection\" is an inbound detector (expected "
	    "token_patterns, known_secrets, entropy)");
	refuse1(R "    dlp:\n      inbound_detectors: [token_patterns]\n",
	    "routes.yaml:4:27: routes[0].dlp.inbound_detectors[0]: "
	    "\"token_patterns\" is an outbound detector (expected "
	    "naive_injection_detection)");
	refuse1(R "    dlp:\n      outbound_detectors: [tokens]\n",
	    "routes.yaml:4:28: routes[0].dlp.outbound_detectors[0]: unknown "
	    "detector \"tokens\" (expected token_patterns, known_secrets, "
	    "entropy)");
	refuse1(R "    dlp:\n      outbound_detectors: all\n",
	    "routes.yaml:4:27: routes[0].dlp.outbound_detectors: expected "
	    "true, false or a list of detectors, got string");
	refuse1(R "    dlp:\n      outbound_detectors: [1]\n",
	    "routes.yaml:4:28: routes[0].dlp.outbound_detectors[0]: expected "
	    "a string, got an integer");
	refuse1(R "    dlp: {mode: x}\n", "routes.yaml:3:11: routes[0].dlp: "
	    "unknown key \"mode\"");
}

/* spec/egress.md §5's example message, at its very position. */
static void
test_spec_example_error(void **state)
{
	(void)state;
	refuse1("log: 1\n"
	    "routes:\n"
	    "  - host: a.test\n"
	    "  - host: b.test\n"
	    "    dlp:\n"
	    "      outbound_on_match: block\n"
	    "  - host: c.test\n"
	    "    matches:\n"
	    "      - paths:\n"
	    "          - {type: prefix, value: /v1/}\n"
	    "    dlp: {\n"
	    "      outbound_detectors: true,\n"
	    "      outbound_on_match:\n"
	    "      warn}\n",
	    "routes.yaml:14:7: routes[2].dlp.outbound_on_match: unknown value "
	    "\"warn\" (expected supervise, redact, block)");
}

static void
test_methods_errors(void **state)
{
	(void)state;
	refuse(R "    matches:\n      - methods: [get, CONNECT, \"TRACE\", "
	    "track, \"G ET\"]\n", 4,
	    "routes.yaml:4:24: routes[0].matches[0].methods[1]: method "
	    "\"CONNECT\" is never allowed",
	    "routes.yaml:4:33: routes[0].matches[0].methods[2]: method "
	    "\"TRACE\" is never allowed",
	    "routes.yaml:4:42: routes[0].matches[0].methods[3]: method "
	    "\"TRACK\" is never allowed",
	    "routes.yaml:4:49: routes[0].matches[0].methods[4]: \"G ET\" is "
	    "not a method token");
	refuse1(R "    matches:\n      - methods: GET\n", "routes.yaml:4:18: "
	    "routes[0].matches[0].methods: expected a list, got a string");
	refuse1(R "    matches: {paths: []}\n", "routes.yaml:3:14: "
	    "routes[0].matches: expected a list, got a mapping");
	refuse1(R "    matches:\n      - {path: [/a]}\n", "routes.yaml:4:10: "
	    "routes[0].matches[0]: unknown key \"path\"");
}

/* One path matcher at line 5, column 13. */
static void
refuse_path(const char *matcher, const char *err)
{
	char	 doc[512];

	(void)snprintf(doc, sizeof(doc), R "    matches:\n      - paths:\n"
	    "          - %s\n", matcher);
	refuse1(doc, err);
}

static void
test_paths_errors(void **state)
{
	const char	*p = "routes[0].matches[0].paths[0]";
	char		 e[512];

	(void)state;
#define PE(m, pos, key, msg) do {					\
	(void)snprintf(e, sizeof(e), "routes.yaml:5:%s: %s%s: %s", pos,	\
	    p, key, msg);						\
	refuse_path(m, e);						\
} while (0)
	PE("{type: exact, value: api}", "34", ".value",
	    "\"api\" does not start with \"/\"");
	PE("{value: \"/a/../b\"}", "21", ".value",
	    "\"/a/../b\" is not normalised (write \"/b\")");
	PE("{value: \"/%7e\"}", "21", ".value",
	    "\"/%7e\" is not normalised (write \"/~\")");
	PE("{value: \"/%2f\"}", "21", ".value",
	    "\"/%2f\" is not normalised (write \"/%2F\")");
	PE("{value: \"/a//./b\"}", "21", ".value",
	    "\"/a//./b\" is not normalised (write \"/a//b\")");
	PE("{value: \"/a?b\"}", "21", ".value",
	    "\"/a?b\" holds \"?\" (paths are matched without the query)");
	PE("{value: \"/%zz\"}", "21", ".value",
	    "invalid path \"/%zz\": bad percent-encoding in path");
	PE("{value: \"/..%2F\"}", "21", ".value",
	    "invalid path \"/..%2F\": \"..\" next to an encoded separator "
	    "(%2F or %5C)");
	PE("{value: \"/a b\"}", "21", ".value",
	    "invalid path \"/a b\": invalid byte in path");
	PE("{value: \"\"}", "21", ".value",
	    "\"\" does not start with \"/\"");
	PE("{type: glob, value: /a}", "20", ".type",
	    "unknown value \"glob\" (expected exact, prefix, regex)");
	PE("{type: regex, value: \"(a\"}", "34", ".value",
	    "regex does not compile at offset 2: missing closing parenthesis");
	PE("{type: regex, value: \"(*UTF)a\"}", "34", ".value",
	    "regex does not compile at offset 6: using UTF is disabled by the "
	    "application");
	PE("{type: prefix}", "13", "",
	    "missing required key \"value\"");
	PE("{value: 7}", "21", ".value", "expected a string, got an integer");
	PE("/a", "13", "", "expected a mapping, got a string");
#undef PE
	refuse1(R "    matches:\n      - paths: /a\n", "routes.yaml:4:16: "
	    "routes[0].matches[0].paths: expected a list, got a string");
	/* Regex values are patterns, not paths: no normalisation rule. */
	cm_routes_free(load_ok(R "    matches:\n      - paths:\n"
	    "          - {type: regex, value: \"api.*/../%2f\"}\n"));
}

static void
test_headers_errors(void **state)
{
	const char	*p = "routes[0].matches[0].headers[0]";
	char		 doc[512], e[512];

	(void)state;
#define HE(m, pos, key, msg) do {					\
	(void)snprintf(doc, sizeof(doc), R "    matches:\n"		\
	    "      - headers:\n          - %s\n", m);			\
	(void)snprintf(e, sizeof(e), "routes.yaml:5:%s: %s%s: %s", pos,	\
	    p, key, msg);						\
	refuse1(doc, e);						\
} while (0)
	HE("{name: \"X Org\", value: a}", "20", ".name",
	    "\"X Org\" is not a field name token");
	HE("{name: \"\", value: a}", "20", ".name",
	    "\"\" is not a field name token");
	HE("{name: X-Org, value: 1}", "34", ".value",
	    "expected a string, got an integer");
	HE("{name: X-Org, value: a, type: prefix}", "43", ".type",
	    "unknown value \"prefix\" (expected exact, regex)");
	HE("{value: a}", "13", "", "missing required key \"name\"");
	HE("{name: X-Org, value: \"[\", type: regex}", "34", ".value",
	    "regex does not compile at offset 1: missing terminating ] for "
	    "character class");
#undef HE
}

static void
test_limits_errors(void **state)
{
	(void)state;
	refuse1(R "    max_body_bytes: 0\n", "routes.yaml:3:21: "
	    "routes[0].max_body_bytes: must be at least 1, got 0");
	refuse1(R "    max_body_bytes: -5\n", "routes.yaml:3:21: "
	    "routes[0].max_body_bytes: must be at least 1, got -5");
	refuse1(R "    on_oversize: noscan\n", "routes.yaml:3:18: "
	    "routes[0].on_oversize: needs max_body_bytes");
	refuse1(R "    max_body_bytes: 10\n    on_oversize: skip\n",
	    "routes.yaml:4:18: routes[0].on_oversize: unknown value \"skip\" "
	    "(expected block, noscan)");
	refuse1(R "    allow_private: \"false\"\n", "routes.yaml:3:20: "
	    "routes[0].allow_private: expected a boolean, got a string "
	    "(remove the quotes)");
}

static void
test_collects_every_error(void **state)
{
	(void)state;
	refuse("log: 5\n"
	    "routes:\n"
	    "  - host: \"a.test:443\"\n"
	    "    ports: [0]\n"
	    "  - host: b.test\n"
	    "    auth_scheme: token\n"
	    "    dlp: {outbound_on_match: warn}\n"
	    "  - host: B.test\n"
	    "    max_body_bytes: 0\n", 7,
	    "routes.yaml:1:6: log: must be between 0 and 2, got 5",
	    "routes.yaml:3:11: routes[0].host: invalid host \"a.test:443\": a "
	    "route host has no port (list it in ports)",
	    "routes.yaml:4:13: routes[0].ports[0]: must be between 1 and "
	    "65535, got 0",
	    "routes.yaml:6:18: routes[1].auth_scheme: set without token_env "
	    "(both auth keys or neither)",
	    "routes.yaml:7:30: routes[1].dlp.outbound_on_match: unknown value "
	    "\"warn\" (expected supervise, redact, block)",
	    "routes.yaml:9:21: routes[2].max_body_bytes: must be at least 1, "
	    "got 0",
	    "routes.yaml:8:11: routes[2].host: duplicate host \"b.test\" "
	    "(routes[1] at line 5 has it)");
}

static void
test_lookup(void **state)
{
	struct cm_routes	*r;
	size_t			 idx;

	(void)state;
	r = load_ok("routes:\n"
	    "  - host: api.example.com\n"
	    "  - host: \"*.example.com\"\n"
	    "  - host: \"*.b.example.com\"\n"
	    "  - host: \"*.wild.test\"\n"
	    "  - host: 127.0.0.1\n"
	    "  - host: \"[::1]\"\n"
	    "  - host: \"::ffff:127.0.0.1\"\n"
	    "  - host: Mixed.Case.Test.\n");
	assert_int_equal(cm_routes_count(r), 8);
#define AT(i)	cm_routes_at(r, (i))
	/* Exact beats wildcard; case and one trailing dot do not matter. */
	assert_ptr_equal(cm_routes_lookup(r, "api.example.com"), AT(0));
	assert_ptr_equal(cm_routes_lookup(r, "API.Example.COM."), AT(0));
	assert_ptr_equal(cm_routes_lookup(r, "mixed.case.test"), AT(7));
	assert_ptr_equal(cm_routes_lookup(r, "MIXED.case.TEST."), AT(7));
	/* The longest wildcard suffix wins; the apex is never matched. */
	assert_ptr_equal(cm_routes_lookup(r, "x.example.com"), AT(1));
	assert_ptr_equal(cm_routes_lookup(r, "b.example.com"), AT(1));
	assert_ptr_equal(cm_routes_lookup(r, "x.b.example.com"), AT(2));
	assert_ptr_equal(cm_routes_lookup(r, "y.x.B.example.com"), AT(2));
	assert_null(cm_routes_lookup(r, "example.com"));
	assert_null(cm_routes_lookup(r, "notexample.com"));
	assert_null(cm_routes_lookup(r, "wild.test"));
	assert_ptr_equal(cm_routes_lookup(r, "a.wild.test"), AT(3));
	assert_ptr_equal(cm_routes_lookup(r, "a.b.wild.test"), AT(3));
	assert_null(cm_routes_lookup(r, "api.example.com.evil"));
	assert_null(cm_routes_lookup(r, "example.com.."));
	/* IP literals only by the same literal. */
	assert_ptr_equal(cm_routes_lookup(r, "127.0.0.1"), AT(4));
	assert_null(cm_routes_lookup(r, "127.1"));
	assert_null(cm_routes_lookup(r, "127.0.0.2"));
	assert_ptr_equal(cm_routes_lookup(r, "[::1]"), AT(5));
	assert_ptr_equal(cm_routes_lookup(r, "0:0::1"), AT(5));
	assert_ptr_equal(cm_routes_lookup(r, "[::ffff:7f00:1]"), AT(6));
	assert_null(cm_routes_lookup(r, "[::2]"));
	assert_null(cm_routes_lookup(r, "evil.test"));
	assert_null(cm_routes_lookup(r, ""));
	assert_null(cm_routes_lookup(r, "*.example.com"));
	/* Accessors. */
	assert_string_equal(cm_route_host(AT(0)), "api.example.com");
	assert_false(cm_route_is_wildcard(AT(0)));
	assert_string_equal(cm_route_host(AT(1)), "*.example.com");
	assert_true(cm_route_is_wildcard(AT(1)));
	assert_string_equal(cm_route_host(AT(5)), "::1");
	assert_string_equal(cm_route_host(AT(7)), "mixed.case.test");
	assert_int_equal(cm_route_line(AT(0)), 2);
	assert_int_equal(cm_route_line(AT(7)), 9);
	/* find: a route by its own host form. */
	assert_int_equal(cm_routes_find(r, "*.EXAMPLE.com", &idx), 0);
	assert_int_equal(idx, 1);
	assert_int_equal(cm_routes_find(r, "Api.Example.Com.", &idx), 0);
	assert_int_equal(idx, 0);
	assert_int_equal(cm_routes_find(r, "[::1]", &idx), 0);
	assert_int_equal(idx, 5);
	assert_int_equal(cm_routes_find(r, "x.example.com", &idx), -1);
	assert_int_equal(cm_routes_find(r, "a.test:443", &idx), -1);
#undef AT
	cm_routes_free(r);
}

static void
test_ports(void **state)
{
	struct cm_routes	*r;
	const struct cm_route	*a, *b;

	(void)state;
	r = load_ok("routes:\n  - host: a.test\n  - host: b.test\n"
	    "    ports: [8443, 443, 8080]\n");
	a = cm_routes_lookup(r, "a.test");
	b = cm_routes_lookup(r, "b.test");
	assert_true(cm_route_port_allowed(a, 443, 1));
	assert_true(cm_route_port_allowed(a, 80, 0));
	assert_false(cm_route_port_allowed(a, 80, 1));
	assert_false(cm_route_port_allowed(a, 443, 0));
	assert_false(cm_route_port_allowed(a, 8443, 1));
	/* ports replaces both defaults. */
	assert_true(cm_route_port_allowed(b, 8443, 1));
	assert_true(cm_route_port_allowed(b, 443, 1));
	assert_true(cm_route_port_allowed(b, 8080, 0));
	assert_true(cm_route_port_allowed(b, 8443, 0));
	assert_false(cm_route_port_allowed(b, 80, 0));
	assert_false(cm_route_port_allowed(b, 9000, 1));
	cm_routes_free(r);
}

static void
test_accessors(void **state)
{
	struct cm_routes	*r;
	const struct cm_route	*a, *b, *c, *d;

	(void)state;
	r = load_ok("log: 2\n"
	    "routes:\n"
	    "  - host: a.test\n"
	    "  - host: b.test\n"
	    "    auth_scheme: Bearer\n"
	    "    token_env: EGRESS_TOKEN_1\n"
	    "    git: {fetch: true}\n"
	    "    dlp:\n"
	    "      outbound_detectors: [entropy, token_patterns]\n"
	    "      inbound_detectors: false\n"
	    "      outbound_on_match: redact\n"
	    "    max_body_bytes: 1024\n"
	    "    on_oversize: noscan\n"
	    "    allow_private: true\n"
	    "  - host: c.test\n"
	    "    auth_scheme: token\n"
	    "    token_env: _T\n"
	    "    dlp: {outbound_detectors: true, inbound_detectors: true}\n"
	    "  - host: d.test\n"
	    "    dlp: {outbound_detectors: false, inbound_detectors: "
	    "[naive_injection_detection], outbound_on_match: block}\n"
	    "    git: {}\n"
	    "    max_body_bytes: 5\n");
	assert_int_equal(cm_routes_log(r), 2);
	a = cm_routes_at(r, 0);
	b = cm_routes_at(r, 1);
	c = cm_routes_at(r, 2);
	d = cm_routes_at(r, 3);
	assert_int_equal(cm_route_auth(a), CM_AUTH_NONE);
	assert_null(cm_route_token_env(a));
	assert_false(cm_route_git_fetch(a));
	assert_int_equal(cm_route_outbound(a), CM_DET_OUTBOUND_DEFAULT);
	assert_int_equal(cm_route_inbound(a), CM_DET_INBOUND_DEFAULT);
	assert_int_equal(cm_route_on_match(a), CM_DLP_SUPERVISE);
	assert_int_equal(cm_route_max_body(a), 0);
	assert_false(cm_route_oversize_noscan(a));
	assert_false(cm_route_allow_private(a));

	assert_int_equal(cm_route_auth(b), CM_AUTH_BEARER);
	assert_string_equal(cm_route_token_env(b), "EGRESS_TOKEN_1");
	assert_true(cm_route_git_fetch(b));
	assert_int_equal(cm_route_outbound(b),
	    CM_DET_ENTROPY | CM_DET_TOKEN_PATTERNS);
	assert_int_equal(cm_route_inbound(b), 0);
	assert_int_equal(cm_route_on_match(b), CM_DLP_REDACT);
	assert_int_equal(cm_route_max_body(b), 1024);
	assert_true(cm_route_oversize_noscan(b));
	assert_true(cm_route_allow_private(b));

	assert_int_equal(cm_route_auth(c), CM_AUTH_TOKEN);
	assert_string_equal(cm_route_token_env(c), "_T");
	assert_int_equal(cm_route_outbound(c), CM_DET_OUTBOUND_DEFAULT);
	assert_int_equal(cm_route_inbound(c), CM_DET_INBOUND_DEFAULT);

	assert_int_equal(cm_route_outbound(d), 0);
	assert_int_equal(cm_route_inbound(d), CM_DET_INJECTION);
	assert_int_equal(cm_route_on_match(d), CM_DLP_BLOCK);
	assert_false(cm_route_git_fetch(d));
	assert_int_equal(cm_route_max_body(d), 5);
	assert_false(cm_route_oversize_noscan(d));
	cm_routes_free(r);
}

static const char *const match_doc =
    "routes:\n"
    "  - host: m.test\n"
    "    matches:\n"
    "      - paths: [{type: prefix, value: /repos/acme}, {type: exact, "
    "value: /echo}, {value: /api/}]\n"
    "        methods: [GET, post]\n"
    "      - paths: [{type: regex, value: \"/ws/[a-z]+\"}]\n"
    "        headers: [{name: X-Test, value: \"yes\"}]\n"
    "      - headers: [{name: X-Multi, value: \"a, b\"}, {name: x-re, "
    "value: \"v[0-9]+\", type: regex}]\n"
    "        methods: [PUT]\n"
    "  - host: open.test\n"
    "  - host: empty.test\n"
    "    matches: []\n"
    "  - host: alt.test\n"
    "    matches:\n"
    "      - paths: [{type: regex, value: \"/a|/b\"}]\n"
    "  - host: none.test\n"
    "    matches:\n"
    "      - {}\n"
    "  - host: nopaths.test\n"
    "    matches:\n"
    "      - {paths: [], methods: [GET]}\n";

/* Fields from "Name: value" strings, NULL-terminated. */
static struct cm_http_fields *
fields(const char *first, ...)
{
	struct cm_http_fields	*f = cm_http_fields_new();
	va_list			 ap;
	const char		*s, *c;
	char			 name[64];

	assert_non_null(f);
	va_start(ap, first);
	for (s = first; s != NULL; s = va_arg(ap, const char *)) {
		c = strchr(s, ':');
		assert_non_null(c);
		memcpy(name, s, (size_t)(c - s));
		name[c - s] = '\0';
		assert_int_equal(cm_http_fields_add(f, name, c + 1), 0);
	}
	va_end(ap);
	return (f);
}

static void
test_matches(void **state)
{
	struct cm_routes	*r;
	const struct cm_route	*m, *rt;
	struct cm_http_fields	*none, *f;

	(void)state;
	r = load_ok(match_doc);
	m = cm_routes_lookup(r, "m.test");
	none = cm_http_fields_new();
	/* prefix stops at a segment boundary. */
	assert_true(cm_route_matches(m, "GET", "/repos/acme", none));
	assert_true(cm_route_matches(m, "GET", "/repos/acme/x", none));
	assert_true(cm_route_matches(m, "GET", "/repos/acme/", none));
	assert_false(cm_route_matches(m, "GET", "/repos/acme-evil", none));
	assert_false(cm_route_matches(m, "GET", "/repos/acmex", none));
	assert_false(cm_route_matches(m, "GET", "/repos/acm", none));
	assert_false(cm_route_matches(m, "GET", "/repos", none));
	/* A value ending in "/" is a plain prefix. */
	assert_true(cm_route_matches(m, "GET", "/api/", none));
	assert_true(cm_route_matches(m, "GET", "/api/x/y", none));
	assert_false(cm_route_matches(m, "GET", "/api", none));
	assert_false(cm_route_matches(m, "GET", "/apix", none));
	/* exact is byte equality. */
	assert_true(cm_route_matches(m, "GET", "/echo", none));
	assert_false(cm_route_matches(m, "GET", "/echo/", none));
	assert_false(cm_route_matches(m, "GET", "/echo/x", none));
	assert_false(cm_route_matches(m, "GET", "/Echo", none));
	/* methods: upper-cased at load, compared exactly. */
	assert_true(cm_route_matches(m, "POST", "/echo", none));
	assert_false(cm_route_matches(m, "DELETE", "/echo", none));
	assert_false(cm_route_matches(m, "post", "/echo", none));

	/* regex is a full match; the header must be there and equal. */
	f = fields("X-Test: yes", NULL);
	assert_true(cm_route_matches(m, "DELETE", "/ws/abc", f));
	assert_false(cm_route_matches(m, "GET", "/ws/abc/x", f));
	assert_false(cm_route_matches(m, "GET", "/x/ws/abc", f));
	assert_false(cm_route_matches(m, "GET", "/ws/", f));
	assert_false(cm_route_matches(m, "GET", "/ws/abc", none));
	assert_false(cm_route_matches(m, "GET", "/ws/abc", NULL));
	cm_http_fields_free(f);
	f = fields("x-test: Yes", NULL);
	assert_false(cm_route_matches(m, "GET", "/ws/abc", f));
	cm_http_fields_free(f);
	f = fields("x-test: yes", NULL);	/* names: any case */
	assert_true(cm_route_matches(m, "GET", "/ws/abc", f));
	cm_http_fields_free(f);

	/* Repeated fields are joined with ", " before the test. */
	f = fields("X-Multi: a", "x-re: v12", "x-multi: b", NULL);
	assert_true(cm_route_matches(m, "PUT", "/anything", f));
	assert_false(cm_route_matches(m, "GET", "/anything", f));
	cm_http_fields_free(f);
	f = fields("X-Multi: a, b", "X-RE: v1", NULL);
	assert_true(cm_route_matches(m, "PUT", "/", f));
	cm_http_fields_free(f);
	f = fields("X-Multi: a", "x-re: v12", NULL);
	assert_false(cm_route_matches(m, "PUT", "/", f));
	cm_http_fields_free(f);
	f = fields("X-Multi: a, b", NULL);	/* x-re missing */
	assert_false(cm_route_matches(m, "PUT", "/", f));
	cm_http_fields_free(f);
	f = fields("X-Multi: a, b", "x-re: v12x", NULL);
	assert_false(cm_route_matches(m, "PUT", "/", f));
	cm_http_fields_free(f);
	f = fields("X-Multi: a, b", "x-re: v1", "x-re: v2", NULL);
	assert_false(cm_route_matches(m, "PUT", "/", f));	/* "v1, v2" */
	cm_http_fields_free(f);

	/* No matches, matches: [] and an empty entry allow everything. */
	rt = cm_routes_lookup(r, "open.test");
	assert_true(cm_route_matches(rt, "DELETE", "/x", NULL));
	rt = cm_routes_lookup(r, "empty.test");
	assert_true(cm_route_matches(rt, "DELETE", "/x", NULL));
	rt = cm_routes_lookup(r, "none.test");
	assert_true(cm_route_matches(rt, "PATCH", "/y", none));
	/* paths: [] states a condition nothing meets. */
	rt = cm_routes_lookup(r, "nopaths.test");
	assert_false(cm_route_matches(rt, "GET", "/", none));
	/* Anchoring covers the whole alternation. */
	rt = cm_routes_lookup(r, "alt.test");
	assert_true(cm_route_matches(rt, "GET", "/a", none));
	assert_true(cm_route_matches(rt, "GET", "/b", none));
	assert_false(cm_route_matches(rt, "GET", "/ab", none));
	assert_false(cm_route_matches(rt, "GET", "/a/b", none));
	assert_false(cm_route_matches(rt, "GET", "/xb", none));
	cm_http_fields_free(none);
	cm_routes_free(r);
}

/* Runs fn with stderr going to a temp file; returns what was written. */
static char *
capture_stderr(void (*fn)(void *), void *arg)
{
	char	 path[] = "/tmp/routes_test.XXXXXX", *buf;
	int	 fd, saved;
	off_t	 len;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	(void)unlink(path);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	fn(arg);
	assert_int_equal(dup2(saved, 2), 2);
	(void)close(saved);
	len = lseek(fd, 0, SEEK_END);
	buf = calloc(1, (size_t)len + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, (size_t)len, 0), len);
	(void)close(fd);
	return (buf);
}

struct limit_arg {
	const struct cm_route	*rt;
	int			 result;
};

static void
run_limit(void *p)
{
	struct limit_arg	*a = p;
	char			 path[64];

	memset(path, 'a', sizeof(path));
	path[0] = '/';
	path[sizeof(path) - 3] = 'b';
	path[sizeof(path) - 2] = 'c';
	path[sizeof(path) - 1] = '\0';
	a->result = cm_route_matches(a->rt, "GET", path, NULL);
}

static void
test_regex_limit(void **state)
{
	struct cm_routes	*r;
	struct limit_arg	 a;
	char			*log;

	(void)state;
	/* Nested quantifiers: exponential backtracking on a near miss. */
	r = load_ok("routes:\n  - host: re.test\n    matches:\n"
	    "      - paths: [{type: regex, value: \"/(a|aa)+b\"}]\n");
	a.rt = cm_routes_at(r, 0);
	assert_true(cm_route_matches(a.rt, "GET", "/aaab", NULL));
	a.result = -1;
	log = capture_stderr(run_limit, &a);
	assert_int_equal(a.result, 0);
	assert_non_null(strstr(log, "\"event\":\"regex_limit\""));
	assert_non_null(strstr(log, "\"reason\":\"regex_match_limit\""));
	assert_non_null(strstr(log, "\"host\":\"re.test\""));
	assert_null(strstr(log, "aaaaaaaabc"));	/* subject not logged */
	free(log);
	cm_routes_free(r);
}

struct thread_arg {
	const struct cm_routes	*r;
	int			 bad;
};

static void *
thread_main(void *p)
{
	struct thread_arg	*a = p;
	const struct cm_route	*m = cm_routes_lookup(a->r, "m.test");
	const struct cm_route	*alt = cm_routes_lookup(a->r, "alt.test");
	struct cm_http_fields	*f = fields("X-Test: yes", NULL);
	int			 i;

	for (i = 0; i < 2000; i++) {
		if (!cm_route_matches(m, "GET", "/ws/abc", f) ||
		    cm_route_matches(m, "GET", "/ws/abc/", f) ||
		    !cm_route_matches(alt, "GET", "/b", NULL) ||
		    cm_route_matches(alt, "GET", "/ab", NULL))
			a->bad++;
	}
	cm_http_fields_free(f);
	return (NULL);
}

static void
test_matches_threads(void **state)
{
	struct cm_routes	*r;
	pthread_t		 t[4];
	struct thread_arg	 a[4];
	size_t			 i;

	(void)state;
	r = load_ok(match_doc);
	for (i = 0; i < 4; i++) {
		a[i].r = r;
		a[i].bad = 0;
		assert_int_equal(pthread_create(&t[i], NULL, thread_main,
		    &a[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(a[i].bad, 0);
	}
	cm_routes_free(r);
}

static const char *const json_doc =
    "log: 1\n"
    "routes:\n"
    "  - host: API.example.com.\n"
    "    ports: [443, 8443]\n"
    "    matches:\n"
    "      - paths: [{value: /api/v1/}, {type: regex, value: "
    "\"/x/[0-9]+\"}]\n"
    "        methods: [get]\n"
    "        headers: [{name: X-Org, value: acme}]\n"
    "      - {}\n"
    "    auth_scheme: token\n"
    "    token_env: EGRESS_TOKEN_0\n"
    "    git: {fetch: true}\n"
    "    dlp: {outbound_detectors: true, inbound_detectors: false, "
    "outbound_on_match: block}\n"
    "    max_body_bytes: 10485760\n"
    "    on_oversize: block\n"
    "    allow_private: false\n"
    "  - dlp: {}\n"
    "    git: {}\n"
    "    host: \"*.wild.test\"\n";

static const char *const json_want =
    "{\"log\":1,\"routes\":[{\"host\":\"API.example.com.\","
    "\"ports\":[443,8443],\"matches\":[{\"paths\":[{\"type\":\"prefix\","
    "\"value\":\"/api/v1/\"},{\"type\":\"regex\",\"value\":\"/x/[0-9]+\"}],"
    "\"methods\":[\"GET\"],\"headers\":[{\"name\":\"X-Org\","
    "\"type\":\"exact\",\"value\":\"acme\"}]},{}],\"auth_scheme\":\"token\","
    "\"token_env\":\"EGRESS_TOKEN_0\",\"git\":{\"fetch\":true},"
    "\"dlp\":{\"outbound_detectors\":[\"token_patterns\","
    "\"known_secrets\"],\"inbound_detectors\":[],"
    "\"outbound_on_match\":\"block\"},\"max_body_bytes\":10485760,"
    "\"on_oversize\":\"block\",\"allow_private\":false},"
    "{\"host\":\"*.wild.test\",\"git\":{},\"dlp\":{}}]}";

static const char *const yaml_want =
    "log: 1\n"
    "routes:\n"
    "  - host: API.example.com.\n"
    "    ports: [443, 8443]\n"
    "    matches:\n"
    "      - paths:\n"
    "          - {type: prefix, value: /api/v1/}\n"
    "          - {type: regex, value: \"/x/[0-9]+\"}\n"
    "        methods: [GET]\n"
    "        headers:\n"
    "          - {name: X-Org, type: exact, value: acme}\n"
    "      - {}\n"
    "    auth_scheme: token\n"
    "    token_env: EGRESS_TOKEN_0\n"
    "    git: {fetch: true}\n"
    "    dlp:\n"
    "      outbound_detectors: [token_patterns, known_secrets]\n"
    "      inbound_detectors: []\n"
    "      outbound_on_match: block\n"
    "    max_body_bytes: 10485760\n"
    "    on_oversize: block\n"
    "    allow_private: false\n"
    "  - host: \"*.wild.test\"\n"
    "    git: {}\n"
    "    dlp: {}\n";

static void
test_json_shape(void **state)
{
	struct cm_routes	*r;
	json_t			*j;
	char			*s;

	(void)state;
	/* The route names a variable; its value must never show. */
	assert_int_equal(setenv("EGRESS_TOKEN_0", "tok-5ecr3t-value", 1), 0);
	r = load_ok(json_doc);
	j = cm_routes_json(r);
	assert_non_null(j);
	s = json_dumps(j, JSON_COMPACT);
	assert_non_null(s);
	if (strcmp(s, json_want) != 0)
		fail_msg("got  %s\nwant %s", s, json_want);
	assert_null(strstr(s, "tok-5ecr3t-value"));
	free(s);
	json_decref(j);
	cm_routes_free(r);
	(void)unsetenv("EGRESS_TOKEN_0");

	r = load_ok("routes: []\n");
	j = cm_routes_json(r);
	s = json_dumps(j, JSON_COMPACT);
	assert_string_equal(s, "{\"log\":0,\"routes\":[]}");
	free(s);
	json_decref(j);
	cm_routes_free(r);
}

/* Renders doc; returns the text (caller frees) or NULL with cx set. */
static char *
render(const json_t *doc)
{
	struct evbuffer	*out = evbuffer_new();
	char		*s = NULL;
	size_t		 len;

	assert_non_null(out);
	memset(&cx, 0, sizeof(cx));
	cx.path = "routes.yaml";
	if (cm_routes_json_render(doc, out, &cx) == 0) {
		len = evbuffer_get_length(out);
		s = calloc(1, len + 1);
		assert_non_null(s);
		assert_int_equal(evbuffer_remove(out, s, len), (int)len);
	} else
		assert_int_equal(evbuffer_get_length(out), 0);
	evbuffer_free(out);
	return (s);
}

static void
test_render(void **state)
{
	struct cm_routes	*r, *r2;
	json_t			*j, *j2;
	char			*s;

	(void)state;
	r = load_ok(json_doc);
	j = cm_routes_json(r);
	s = render(j);
	assert_non_null(s);
	if (strcmp(s, yaml_want) != 0)
		fail_msg("got:\n%s\nwant:\n%s", s, yaml_want);
	/* The text is a routes.yaml that reads back the same. */
	r2 = load_ok(s);
	j2 = cm_routes_json(r2);
	assert_true(json_equal(j, j2));
	json_decref(j2);
	cm_routes_free(r2);
	free(s);
	json_decref(j);
	cm_routes_free(r);

	r = load_ok("routes: []\n");
	j = cm_routes_json(r);
	s = render(j);
	assert_string_equal(s, "log: 0\nroutes: []\n");
	free(s);
	json_decref(j);
	cm_routes_free(r);
}

/* Strings the strict loader would type or misread are quoted. */
static void
test_render_quoting(void **state)
{
	static const char *const values[] = {
		"yes", "No", "ON", "off", "y", "N", "true", "False", "null",
		"Null", "~", "", "123", "-7", "+1", "1.5", "0x10", "010",
		"1_000", "a: b", "a #c", "#x", "- x", "[a]", "{a}", "*a", "&a",
		"!a", "|a", ">a", "%a", "@a", "`a", "'a'", "\"a\"", "a\\b",
		" lead", "trail ", "tab\there", "new\nline", "\x01\x7f",
		"nel\xc2\x85", "c1\xc2\x9f", "ls\xe2\x80\xa8ps\xe2\x80\xa9",
		"bom\xef\xbb\xbf", "\xef\xbf\xbe", "caf\xc3\xa9",
		"\xf0\x9f\x90\x99",
		"a,b", "a, b", "?x", "---", "...", "plain-value_1.2/x", NULL
	};
	json_t		*doc, *routes, *rt, *hd, *hs, *m, *ms;
	json_t		*back;
	char		*s;
	struct cm_routes *r;
	size_t		 i;

	(void)state;
	doc = json_pack("{s:i, s:[]}", "log", 0, "routes");
	routes = json_object_get(doc, "routes");
	rt = json_pack("{s:s}", "host", "q.test");
	ms = json_array();
	hs = json_array();
	for (i = 0; values[i] != NULL; i++) {
		hd = json_pack("{s:s, s:s, s:s}", "name", "X-V", "type",
		    "exact", "value", values[i]);
		assert_non_null(hd);
		json_array_append_new(hs, hd);
	}
	m = json_pack("{s:o}", "headers", hs);
	json_array_append_new(ms, m);
	json_object_set_new(rt, "matches", ms);
	json_array_append_new(routes, rt);
	s = render(doc);
	if (s == NULL)
		fail_msg("render: %s", cx.errors[0]);
	r = load_ok(s);
	back = cm_routes_json(r);
	assert_true(json_equal(back, doc));
	json_decref(back);
	cm_routes_free(r);
	free(s);
	json_decref(doc);
}

/* The supervise merge: current file + one route, rendered and checked. */
static void
test_render_merge(void **state)
{
	struct cm_routes	*r;
	struct cm_ynode		*root;
	json_t			*doc, *route;
	char			*s;
	const char		*p = "{host: New.Test, matches: [{paths: "
				    "[{value: /a/}], methods: [get]}], git: "
				    "{fetch: true}}";

	(void)state;
	r = load_ok("log: 1\nroutes:\n  - host: old.test # a comment\n");
	doc = cm_routes_json(r);
	cm_routes_free(r);
	memset(&cx, 0, sizeof(cx));
	cx.path = "payload.yaml";
	root = cm_yaml_parse(&cx, p, strlen(p));
	assert_non_null(root);
	route = cm_routes_json_parse_route(&cx, root);
	cm_yaml_free(root);
	assert_non_null(route);
	json_array_append_new(json_object_get(doc, "routes"), route);
	s = render(doc);
	assert_non_null(s);
	assert_string_equal(s, "log: 1\n"
	    "routes:\n"
	    "  - host: old.test\n"
	    "  - host: New.Test\n"
	    "    matches:\n"
	    "      - paths:\n"
	    "          - {type: prefix, value: /a/}\n"
	    "        methods: [GET]\n"
	    "    git: {fetch: true}\n");
	free(s);

	/* A clash the merge must not write: the same host twice. */
	route = json_pack("{s:s}", "host", "OLD.test.");
	json_array_append_new(json_object_get(doc, "routes"), route);
	assert_null(render(doc));
	assert_int_equal(cx.nerrors, 1);
	assert_string_equal(cx.errors[0], "routes.yaml: the rendered file is "
	    "invalid: rendered routes.yaml:10:11: routes[2].host: duplicate "
	    "host \"old.test\" (routes[0] at line 3 has it)");
	json_array_remove(json_object_get(doc, "routes"), 2);

	/* A value not in cm_routes_json form does not read back as itself. */
	route = json_pack("{s:s, s:[{s:[s]}]}", "host", "low.test", "matches",
	    "methods", "get");
	json_array_append_new(json_object_get(doc, "routes"), route);
	assert_null(render(doc));
	assert_string_equal(cx.errors[0], "routes.yaml: the rendered file does "
	    "not read back as the document (a value is not in cm_routes_json "
	    "form)");
	json_array_remove(json_object_get(doc, "routes"), 2);

	/* Keys the format does not have, and values it cannot hold. */
	route = json_pack("{s:s, s:s}", "host", "x.test", "colour", "red");
	json_array_append_new(json_object_get(doc, "routes"), route);
	assert_null(render(doc));
	assert_string_equal(cx.errors[0], "routes.yaml: routes[2]: cannot "
	    "render: unknown key");
	json_array_remove(json_object_get(doc, "routes"), 2);
	route = json_pack("{s:s, s:f}", "host", "x.test", "max_body_bytes",
	    1.5);
	json_array_append_new(json_object_get(doc, "routes"), route);
	assert_null(render(doc));
	assert_string_equal(cx.errors[0], "routes.yaml: "
	    "routes[2].max_body_bytes: cannot render: not a string, integer, "
	    "boolean, list or mapping");
	json_array_remove(json_object_get(doc, "routes"), 2);
	route = json_pack("{s:s%}", "host", "a\0b", (size_t)3);
	json_array_append_new(json_object_get(doc, "routes"), route);
	assert_null(render(doc));
	assert_string_equal(cx.errors[0], "routes.yaml: routes[2].host: "
	    "cannot render: a string holds a NUL byte");
	json_array_remove(json_object_get(doc, "routes"), 2);
	assert_null(render(json_object_get(doc, "routes")));
	assert_string_equal(cx.errors[0], "routes.yaml: cannot render: not a "
	    "routes document");
	json_decref(doc);
}

static void
test_parse_route(void **state)
{
	struct cm_ynode	*root;
	json_t		*j;
	char		*s;
	size_t		 i;
	static const struct {
		const char	*in;
		const char	*err;
	} bad[] = {
		{ "{host: new.test, colour: red}", "payload.yaml:1:18: (root): "
		    "unknown key \"colour\"" },
		{ "{matches: []}", "payload.yaml:1:1: (root): missing required "
		    "key \"host\"" },
		{ "{host: x.test, matches: [{paths: [{value: a}]}]}",
		    "payload.yaml:1:43: matches[0].paths[0].value: \"a\" does "
		    "not start with \"/\"" },
		{ "{host: _egress.local}", "payload.yaml:1:8: host: "
		    "\"_egress.local\" is reserved for introspection" },
		{ "[a]", "payload.yaml:1:1: (root): expected a mapping, got a "
		    "list" },
		{ NULL, NULL }
	};

	(void)state;
	memset(&cx, 0, sizeof(cx));
	cx.path = "payload.yaml";
	root = cm_yaml_parse(&cx, "{host: n.test, auth_scheme: Bearer, "
	    "token_env: T, dlp: {outbound_on_match: redact}}", 83);
	assert_non_null(root);
	j = cm_routes_json_parse_route(&cx, root);
	cm_yaml_free(root);
	assert_non_null(j);
	s = json_dumps(j, JSON_COMPACT);
	assert_string_equal(s, "{\"host\":\"n.test\","
	    "\"auth_scheme\":\"Bearer\","
	    "\"token_env\":\"T\",\"dlp\":{\"outbound_on_match\":\"redact\"}}");
	free(s);
	json_decref(j);
	for (i = 0; bad[i].in != NULL; i++) {
		memset(&cx, 0, sizeof(cx));
		cx.path = "payload.yaml";
		root = cm_yaml_parse(&cx, bad[i].in, strlen(bad[i].in));
		assert_non_null(root);
		assert_null(cm_routes_json_parse_route(&cx, root));
		cm_yaml_free(root);
		assert_int_equal(cx.nerrors, 1);
		assert_string_equal(cx.errors[0], bad[i].err);
	}
}

static void
test_load_file(void **state)
{
	char			 path[] = "/tmp/routes_test.XXXXXX";
	struct cm_routes	*r;
	int			 fd;
	const char		*s = "routes:\n  - host: f.test\n";

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	(void)close(fd);
	memset(&cx, 0, sizeof(cx));
	cx.path = "routes.yaml";
	r = cm_routes_load(&cx, path);
	assert_non_null(r);
	assert_non_null(cm_routes_lookup(r, "f.test"));
	cm_routes_free(r);
	(void)unlink(path);
	memset(&cx, 0, sizeof(cx));
	cx.path = "routes.yaml";
	assert_null(cm_routes_load(&cx, path));
	assert_int_equal(cx.nerrors, 1);
	assert_string_equal(cx.errors[0], "routes.yaml: cannot open: No such "
	    "file or directory");
}

int
main(void)
{
	const struct CMUnitTest	 tests[] = {
		cmocka_unit_test(test_root),
		cmocka_unit_test(test_loader_errors),
		cmocka_unit_test(test_empty_routes),
		cmocka_unit_test(test_host_forms),
		cmocka_unit_test(test_duplicate_hosts),
		cmocka_unit_test(test_ports_errors),
		cmocka_unit_test(test_auth_errors),
		cmocka_unit_test(test_git_dlp_errors),
		cmocka_unit_test(test_spec_example_error),
		cmocka_unit_test(test_methods_errors),
		cmocka_unit_test(test_paths_errors),
		cmocka_unit_test(test_headers_errors),
		cmocka_unit_test(test_limits_errors),
		cmocka_unit_test(test_collects_every_error),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_accessors),
		cmocka_unit_test(test_matches),
		cmocka_unit_test(test_regex_limit),
		cmocka_unit_test(test_matches_threads),
		cmocka_unit_test(test_json_shape),
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_render_quoting),
		cmocka_unit_test(test_render_merge),
		cmocka_unit_test(test_parse_route),
		cmocka_unit_test(test_load_file),
	};

	return (cmocka_run_group_tests_name("routes", tests, NULL, NULL));
}
