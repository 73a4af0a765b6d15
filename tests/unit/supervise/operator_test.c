/*
 * supervise/operator.c: terminal escaping and summaries
 * (spec/supervise.md §6.1, §6.5, §10 test 21).
 */
#include "config.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "supervise/op.h"

static void
test_escape(void **state)
{
	char	*s;

	(void)state;
	s = sv_op_escape("a\x1b[2Jb\xe2\x80\xae" "c\x7f\xc2\x85", 0);
	assert_string_equal(s, "a\\u{001b}[2Jb\\u{202e}c\\u{007f}\\u{0085}");
	free(s);
	s = sv_op_escape("one\ntwo\tthree", 1);
	assert_string_equal(s, "one\ntwo\tthree");
	free(s);
	s = sv_op_escape("one\ntwo\tthree", 0);
	assert_string_equal(s, "one\\u{000a}two\\u{0009}three");
	free(s);
	s = sv_op_escape("bad \xff byte, \xe2\x81\xa6isolate", 0);
	assert_string_equal(s, "bad \\u{fffd} byte, \\u{2066}isolate");
	free(s);
	s = sv_op_escape("caf\xc3\xa9", 0);
	assert_string_equal(s, "caf\xc3\xa9");
	free(s);
}

static void
test_summaries(void **state)
{
	static const struct { const char *p, *want; } cases[] = {
		{ "{\"kind\":\"egress-block\",\"payload\":{\"route\":{"
		    "\"host\":\"api.test\",\"matches\":[{\"paths\":[{"
		    "\"type\":\"prefix\",\"value\":\"/a/\"}]},{\"paths\":[{"
		    "\"type\":\"prefix\",\"value\":\"/b/\"}],\"methods\":"
		    "[\"GET\"]}]},\"existing_route\":{\"host\":\"api.test\","
		    "\"matches\":[{\"paths\":[{\"type\":\"prefix\","
		    "\"value\":\"/a/\"}]}]}}}",
		    "api.test +[prefix /b/ GET]" },
		{ "{\"kind\":\"egress-block\",\"payload\":{\"route\":{\"host\":"
		    "\"all.test\"}}}", "all.test (all paths)" },
		{ "{\"kind\":\"capability-block\",\"payload\":{\"description\":"
		    "\"jq 1.7\\nfor parsing\"}}", "jq 1.7" },
		{ "{\"kind\":\"capability-block\",\"payload\":{\"dockerfile\":"
		    "\"FROM x\\nRUN y\\n\"}}", "Dockerfile, 2 lines" },
		{ "{\"kind\":\"egress-token-allow\",\"payload\":{"
		    "\"method\":\"POST\",\"host\":\"h.test\",\"path\":\"/x\","
		    "\"rule\":\"github-pat\",\"hits\":[{},{},{}]}}",
		    "POST h.test /x github-pat (+2 more)" },
		{ "{\"kind\":\"gitleaks-allow\",\"payload\":{\"repo\":\"r\","
		    "\"findings\":[{\"ref\":\"refs/heads/main\","
		    "\"file\":\"a.py\",\"line\":3,\"rule\":\"aws\"}]}}",
		    "r refs/heads/main a.py:3 aws" },
		{ "{\"kind\":\"egress-block\",\"payload\":{\"route\":{\"host\":"
		    "\"x\\u001b.test\"}}}", "x\\u{001b}.test (all paths)" },
	};
	json_t	*p;
	char	*s;
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		p = json_loads(cases[i].p, 0, NULL);
		assert_non_null(p);
		s = sv_op_summary(p);
		if (strcmp(s, cases[i].want) != 0)
			fail_msg("case %zu: got \"%s\"", i, s);
		free(s);
		json_decref(p);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_summaries),
	};
	return (cmocka_run_group_tests_name("operator", tests, NULL, NULL));
}
