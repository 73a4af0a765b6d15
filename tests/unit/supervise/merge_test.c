/*
 * supervise/merge.c: an approved egress-block into routes.yaml
 * (spec/supervise.md §6.3, §10 tests 18-19).
 */
#include "config.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "supervise/op.h"

static const char *const mt_base =
    "log: 1\n"
    "routes:\n"
    "  # a comment the merge drops\n"
    "  - host: Example.test\n"
    "    matches: [{paths: [{type: prefix, value: /a/}]}]\n"
    "    auth_scheme: token\n"
    "    token_env: EGRESS_TOKEN_0\n"
    "  - {host: open.test}\n";

static char mt_dir[64];

static int
mt_setup(void **state)
{
	char	 p[128];
	FILE	*fp;

	cm_strlcpy(mt_dir, "/tmp/bb-merge-test.XXXXXX", sizeof(mt_dir));
	assert_non_null(mkdtemp(mt_dir));
	(void)snprintf(p, sizeof(p), "%s/routes.yaml", mt_dir);
	fp = fopen(p, "w");
	fputs(mt_base, fp);
	fclose(fp);
	chmod(p, 0640);
	return (0);
}

static int
mt_teardown(void **state)
{
	char	 cmd[128];

	(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", mt_dir);
	(void)system(cmd);
	return (0);
}

static int
mt_merge(const char *route, int replace, int dry, const char **change,
    json_t **after, int *code)
{
	json_t	*r = json_loads(route, 0, NULL), *before = NULL;
	char	 err[512];
	int	 rc;

	assert_non_null(r);
	rc = sv_op_merge(mt_dir, r, replace, dry, change, &before, after, err,
	    sizeof(err), code);
	json_decref(r);
	json_decref(before);
	return (rc);
}

static char *
mt_file(void)
{
	char	 p[128], *buf = calloc(1, 8192);
	FILE	*fp;

	(void)snprintf(p, sizeof(p), "%s/routes.yaml", mt_dir);
	fp = fopen(p, "r");
	(void)fread(buf, 1, 8191, fp);
	fclose(fp);
	return (buf);
}

static void
test_widen_keeps_auth_and_mode(void **state)
{
	const char	*change;
	json_t		*after;
	struct stat	 st;
	char		 p[128], *text;
	int		 code;

	(void)state;
	assert_int_equal(mt_merge("{\"host\":\"example.test\",\"matches\":"
	    "[{\"paths\":[{\"type\":\"prefix\",\"value\":\"/b/\"}]}],"
	    "\"auth_scheme\":\"Bearer\",\"token_env\":\"FOO\"}", 0, 0, &change,
	    &after, &code), 0);
	assert_string_equal(change, "widened");
	assert_string_equal(json_string_value(json_object_get(after,
	    "token_env")), "EGRESS_TOKEN_0");
	assert_int_equal(json_array_size(json_object_get(after, "matches")), 2);
	json_decref(after);
	text = mt_file();
	assert_non_null(strstr(text, "/b/"));
	assert_non_null(strstr(text, "host: Example.test"));
	assert_null(strstr(text, "FOO"));
	assert_null(strstr(text, "comment"));
	free(text);
	(void)snprintf(p, sizeof(p), "%s/routes.yaml", mt_dir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	/* The same again changes nothing and writes nothing. */
	assert_int_equal(mt_merge("{\"host\":\"example.test\",\"matches\":"
	    "[{\"paths\":[{\"type\":\"prefix\",\"value\":\"/b/\"}]}]}", 0, 0,
	    &change, &after, &code), 0);
	assert_string_equal(change, "unchanged");
	json_decref(after);
}

static void
test_append_drops_advisory_keys(void **state)
{
	const char	*change;
	json_t		*after;
	char		*text;
	int		 code;

	(void)state;
	assert_int_equal(mt_merge("{\"host\":\"api.new.test\",\"matches\":"
	    "[{\"paths\":[{\"type\":\"prefix\",\"value\":\"/v1/\"}]}],"
	    "\"dlp\":{\"outbound_on_match\":\"redact\"},\"ports\":[8443],"
	    "\"allow_private\":true,\"git\":{\"fetch\":true}}", 0, 0, &change,
	    &after, &code), 0);
	assert_string_equal(change, "appended");
	assert_null(json_object_get(after, "dlp"));
	assert_null(json_object_get(after, "ports"));
	assert_null(json_object_get(after, "allow_private"));
	assert_non_null(json_object_get(after, "git"));
	json_decref(after);
	text = mt_file();
	assert_non_null(strstr(text, "api.new.test"));
	assert_null(strstr(text, "8443"));
	free(text);
}

static void
test_widen_to_all_paths_and_replace(void **state)
{
	const char	*change;
	json_t		*after;
	int		 code;

	(void)state;
	assert_int_equal(mt_merge("{\"host\":\"example.test\"}", 0, 1, &change,
	    &after, &code), 0);
	assert_string_equal(change, "widened");
	assert_null(json_object_get(after, "matches"));
	json_decref(after);
	assert_int_equal(mt_merge("{\"host\":\"open.test\",\"matches\":"
	    "[{\"paths\":[{\"type\":\"exact\",\"value\":\"/x\"}]}]}", 0, 1,
	    &change, &after, &code), 0);
	assert_string_equal(change, "unchanged");
	json_decref(after);
	assert_int_equal(mt_merge("{\"host\":\"open.test\",\"dlp\":"
	    "{\"outbound_on_match\":\"block\"}}", 1, 0, &change, &after, &code),
	    0);
	assert_string_equal(change, "replaced");
	assert_non_null(json_object_get(after, "dlp"));
	json_decref(after);
}

static void
test_broken_file_is_never_merged(void **state)
{
	const char	*change;
	json_t		*after;
	char		 p[128];
	FILE		*fp;
	int		 code;

	(void)state;
	(void)snprintf(p, sizeof(p), "%s/routes.yaml", mt_dir);
	fp = fopen(p, "w");
	fputs("log: 1\nroutes:\n  - host: a.test\n    bogus: yes\n", fp);
	fclose(fp);
	assert_int_equal(mt_merge("{\"host\":\"b.test\"}", 0, 0, &change,
	    &after, &code), -1);
	assert_int_equal(code, SV_EXIT_MALFORMED);
	unlink(p);
	assert_int_equal(mt_merge("{\"host\":\"b.test\"}", 0, 0, &change,
	    &after, &code), -1);
	assert_int_equal(code, SV_EXIT_MALFORMED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_widen_keeps_auth_and_mode,
		    mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(test_append_drops_advisory_keys,
		    mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(
		    test_widen_to_all_paths_and_replace, mt_setup, mt_teardown),
		cmocka_unit_test_setup_teardown(
		    test_broken_file_is_never_merged, mt_setup, mt_teardown),
	};
	return (cmocka_run_group_tests_name("merge", tests, NULL, NULL));
}
