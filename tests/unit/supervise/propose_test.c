/*
 * supervise/propose.c: tool arguments through the routes validator
 * (spec/supervise.md §4.3, §4.4, §10 test 10).
 */
#include "config.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/routes.h"
#include "common/yaml.h"
#include "supervise/sv.h"

static struct cm_routes *
pt_routes(const char *text)
{
	struct cm_cfg_ctx	*cx = calloc(1, sizeof(*cx));
	struct cm_ynode		*root;
	struct cm_routes	*r;

	cx->path = "routes.yaml";
	root = cm_yaml_parse(cx, text, strlen(text));
	assert_non_null(root);
	r = cm_routes_parse(cx, root);
	if (r == NULL)
		fail_msg("%s", cx->errors[0]);
	cm_yaml_free(root);
	free(cx);
	return (r);
}

/* sv_propose on JSON text; returns 0/-1, err filled. */
static int
pt_run(const char *tool, const char *args, const struct cm_routes *r,
    json_t **payload, char *err, size_t errlen)
{
	json_t	*a = json_loads(args, 0, NULL);
	char	*just = NULL;
	int	 rc;

	assert_non_null(a);
	rc = sv_propose(tool, a, r, payload, &just, err, errlen);
	free(just);
	json_decref(a);
	return (rc);
}

static void
test_path_allowlist_becomes_prefix_matches(void **state)
{
	json_t	*p = NULL;
	char	 err[512];

	(void)state;
	assert_int_equal(pt_run("egress-block", "{\"host\":\"API.New.test\","
	    "\"path_allowlist\":[\"/v1/\",\"/v2/\"],\"justification\":"
	    "\"  fetch  \"}", NULL, &p, err, sizeof(err)), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    p, "route"), "host")), "api.new.test");
	assert_int_equal(json_array_size(json_object_get(json_object_get(p,
	    "route"), "matches")), 1);
	assert_true(json_is_null(json_object_get(p, "existing_route")));
	assert_non_null(json_object_get(p, "path_allowlist"));
	json_decref(p);
}

static void
test_refusals_name_their_cause(void **state)
{
	static const struct { const char *args, *want; } cases[] = {
		{ "{\"host\":\"a.test\"}",
		    "egress-block: justification is required" },
		{ "{\"host\":\"a.test\",\"justification\":\"   \"}",
		    "egress-block: justification is required" },
		{ "{\"host\":\"a.test\",\"justification\":\"j\",\"foo\":1}",
		    "egress-block: unknown argument \"foo\"" },
		{ "{\"host\":\"a.test\",\"justification\":\"j\",\"matches\":[],"
		    "\"path_allowlist\":[\"/a\"]}", "not both" },
		{ "{\"host\":\"a.test\",\"justification\":\"j\",\"matches\":"
		    "[{\"paths\":[{\"type\":\"glob\",\"value\":\"/x\"}]}]}",
		    "egress-block: matches[0].paths[0].type" },
		{ "{\"host\":\"http://a.test\",\"justification\":\"j\"}",
		    "without scheme or path" },
		{ "{\"host\":\"a.test:443\",\"justification\":\"j\"}", "port" },
		{ "{\"host\":\"*.a.test\",\"justification\":\"j\"}",
		    "wildcard" },
		{ "{\"host\":\"_egress.local\",\"justification\":\"j\"}",
		    "reserved" },
		{ "{\"host\":\"a.test\",\"justification\":\"j\",\"auth\":"
		    "{\"scheme\":\"Basic\"}}", "auth.scheme" },
		{ "{\"host\":\"a.test\",\"justification\":\"j\","
		    "\"path_allowlist\":[\"nope\"]}", "must start with /" },
	};
	json_t	*p;
	char	 err[512];
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		p = NULL;
		assert_int_equal(pt_run("egress-block", cases[i].args, NULL, &p,
		    err, sizeof(err)), -1);
		if (strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, err,
			    cases[i].want);
		assert_null(p);
	}
}

static void
test_already_allowed_and_applied(void **state)
{
	struct cm_routes *r = pt_routes("log: 1\nroutes:\n"
	    "  - host: example.test\n"
	    "    matches: [{paths: [{type: prefix, value: /a/}]}]\n"
	    "  - {host: open.test}\n");
	json_t	*p = NULL, *route;
	char	 err[512];

	(void)state;
	assert_int_equal(pt_run("egress-block", "{\"host\":\"EXAMPLE.test\","
	    "\"matches\":[{\"paths\":[{\"value\":\"/a/\"}]}],\"justification\":"
	    "\"j\"}", r, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "already allowed"));
	assert_int_equal(pt_run("egress-block", "{\"host\":\"open.test\","
	    "\"justification\":\"j\"}", r, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "already allowed"));
	assert_int_equal(pt_run("egress-block", "{\"host\":\"example.test\","
	    "\"matches\":[{\"paths\":[{\"type\":\"prefix\","
	    "\"value\":\"/b/\"}]}],"
	    "\"justification\":\"j\"}", r, &p, err, sizeof(err)), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    p, "existing_route"), "host")), "example.test");
	route = json_object_get(p, "route");
	assert_false(sv_propose_applied(r, route));
	json_decref(p);
	/* git: fetch widens a route whose matches already cover it. */
	assert_int_equal(pt_run("egress-block", "{\"host\":\"open.test\","
	    "\"git\":{\"fetch\":true},\"justification\":\"j\"}", r, &p, err,
	    sizeof(err)), 0);
	json_decref(p);
	cm_routes_free(r);
}

static void
test_capability_block(void **state)
{
	json_t	*p = NULL;
	char	 err[512];

	(void)state;
	assert_int_equal(pt_run("capability-block", "{\"justification\":"
	    "\"j\"}", NULL, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "dockerfile or a description"));
	assert_int_equal(pt_run("capability-block", "{\"description\":"
	    "\"jq\",\"justification\":\"j\",\"host\":\"x\"}", NULL, &p, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown argument \"host\""));
	assert_int_equal(pt_run("capability-block", "{\"dockerfile\":"
	    "\"RUN apk add jq\\n\",\"justification\":\"j\"}", NULL, &p, err,
	    sizeof(err)), 0);
	assert_string_equal(json_string_value(json_object_get(p,
	    "dockerfile")), "RUN apk add jq\n");
	assert_null(json_object_get(p, "description"));
	json_decref(p);
}

static void
test_json_to_ynode_types(void **state)
{
	json_t		*j = json_loads("{\"a\":[1,true,null,\"true\",1.5]}", 0,
			    NULL);
	struct cm_ynode	*n = sv_json_to_ynode(j), *seq;

	(void)state;
	assert_non_null(n);
	assert_int_equal(n->type, CM_Y_MAP);
	seq = n->pairs[0].val;
	assert_int_equal(seq->type, CM_Y_SEQ);
	assert_int_equal(seq->items[0]->type, CM_Y_INT);
	assert_int_equal(seq->items[0]->ival, 1);
	assert_int_equal(seq->items[1]->type, CM_Y_BOOL);
	assert_int_equal(seq->items[2]->type, CM_Y_NULL);
	assert_int_equal(seq->items[3]->type, CM_Y_STR);
	assert_true(seq->items[3]->quoted);
	assert_int_equal(seq->items[4]->type, CM_Y_STR);
	cm_yaml_free(n);
	json_decref(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_allowlist_becomes_prefix_matches),
		cmocka_unit_test(test_refusals_name_their_cause),
		cmocka_unit_test(test_already_allowed_and_applied),
		cmocka_unit_test(test_capability_block),
		cmocka_unit_test(test_json_to_ynode_types),
	};
	return (cmocka_run_group_tests_name("propose", tests, NULL, NULL));
}
