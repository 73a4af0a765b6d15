/*
 * supervise/tools.c: tools/list by revision (spec/supervise.md §3.3,
 * §4.6) and the tool result shapes of call.c (§4.1).
 */
#include "config.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "supervise/sv.h"

static json_t *
tt_tool(json_t *list, const char *name)
{
	json_t	*t;
	size_t	 i;

	json_array_foreach(json_object_get(list, "tools"), i, t)
		if (strcmp(json_string_value(json_object_get(t, "name")),
		    name) == 0)
			return (t);
	return (NULL);
}

static void
test_fields_by_revision(void **state)
{
	static const struct { enum sv_rev rev; int ann, title; } cases[] = {
		{ SV_REV_2024_11_05, 0, 0 }, { SV_REV_2025_03_26, 1, 0 },
		{ SV_REV_2025_06_18, 1, 1 }, { SV_REV_2025_11_25, 1, 1 },
	};
	json_t	*l, *t;
	size_t	 i, j;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		l = sv_tools_list(cases[i].rev, 30);
		assert_int_equal(json_array_size(json_object_get(l, "tools")),
		    4);
		json_array_foreach(json_object_get(l, "tools"), j, t) {
			assert_int_equal(json_object_get(t, "annotations") !=
			    NULL, cases[i].ann);
			assert_int_equal(json_object_get(t, "title") != NULL,
			    cases[i].title);
			assert_int_equal(json_object_get(t, "outputSchema") !=
			    NULL, cases[i].title);
			assert_string_equal(json_string_value(json_object_get(
			    json_object_get(t, "inputSchema"), "type")),
			    "object");
		}
		json_decref(l);
	}
}

static void
test_descriptions_and_annotations(void **state)
{
	json_t		*l = sv_tools_list(SV_REV_2025_11_25, 45), *t, *a;
	const char	*d;

	(void)state;
	t = tt_tool(l, "egress-block");
	d = json_string_value(json_object_get(t, "description"));
	assert_non_null(strstr(d, "Waits up to 45 seconds, then returns "
	    "status pending with an id: call check-proposal later;"));
	assert_non_null(strstr(d, "Explain precisely why the task needs "
	    "access."));
	assert_string_equal(json_string_value(json_object_get(t, "title")),
	    "Request egress access");
	a = json_object_get(t, "annotations");
	assert_true(json_is_false(json_object_get(a, "readOnlyHint")));
	assert_true(json_is_false(json_object_get(a, "destructiveHint")));
	assert_true(json_is_false(json_object_get(a, "openWorldHint")));
	assert_true(json_is_false(json_object_get(json_object_get(t,
	    "inputSchema"), "additionalProperties")));
	t = tt_tool(l, "check-proposal");
	a = json_object_get(t, "annotations");
	assert_true(json_is_true(json_object_get(a, "readOnlyHint")));
	assert_null(json_object_get(a, "destructiveHint"));
	assert_string_equal(json_string_value(json_object_get(t,
	    "description")), "Return the operator's current decision on your "
	    "egress-block or capability-block proposal: pending, approved, "
	    "modified (with what was granted) or rejected, with notes. Does "
	    "not wait.");
	t = tt_tool(l, "capability-block");
	assert_non_null(strstr(json_string_value(json_object_get(t,
	    "description")), "Waits up to 45 seconds"));
	assert_true(sv_tools_known("list-egress-routes"));
	assert_false(sv_tools_known("allow"));
	json_decref(l);
}

static void
test_results(void **state)
{
	json_t	*r, *e;

	(void)state;
	r = sv_call_result(SV_REV_2025_03_26, json_pack("{s:s}", "id", "x"));
	assert_null(json_object_get(r, "structuredContent"));
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(r, "content"), 0), "text")), "{\"id\":\"x\"}");
	assert_true(json_is_false(json_object_get(r, "isError")));
	json_decref(r);
	r = sv_call_result(SV_REV_2025_06_18, json_pack("{s:s}", "id", "x"));
	assert_non_null(json_object_get(r, "structuredContent"));
	json_decref(r);
	e = sv_call_tool_error("egress-block", "egress-block: %s", "why");
	assert_true(json_is_true(json_object_get(e, "isError")));
	assert_null(json_object_get(e, "structuredContent"));
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(e, "content"), 0), "text")), "egress-block: why");
	json_decref(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields_by_revision),
		cmocka_unit_test(test_descriptions_and_annotations),
		cmocka_unit_test(test_results),
	};
	return (cmocka_run_group_tests_name("tools", tests, NULL, NULL));
}
