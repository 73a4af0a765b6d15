/*
 * supervise/session.c: the MCP session table (spec/supervise.md §3.4):
 * ids, revision, limit and eviction, in-flight ids, idle expiry.
 */
#include "config.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <unistd.h>

#include "supervise/sv.h"

static void
test_new_touch_delete(void **state)
{
	char		 id[40], client[160];
	enum sv_rev	 rev;
	size_t		 i;

	(void)state;
	assert_int_equal(sv_session_new(SV_REV_2025_03_26, "127.0.0.1", "c",
	    "1", 4, id), 0);
	assert_int_equal(strlen(id), 32);
	for (i = 0; i < 32; i++)
		assert_non_null(strchr("0123456789abcdef", id[i]));
	assert_int_equal(sv_session_touch(id, 3600, &rev, client,
	    sizeof(client)), 0);
	assert_int_equal(rev, SV_REV_2025_03_26);
	assert_string_equal(client, "c/1");
	assert_int_equal(sv_session_delete(id, "delete"), 0);
	assert_int_equal(sv_session_touch(id, 3600, &rev, NULL, 0), -1);
	assert_int_equal(sv_session_delete(id, "delete"), -1);
	sv_session_shutdown();
}

static void
test_limit_evicts_idle_lru_only(void **state)
{
	char		 a[40], b[40], c[40], d[40];
	enum sv_rev	 rev;

	(void)state;
	assert_int_equal(sv_session_new(SV_REV_2025_11_25, "p", "n", "v", 2, a),
	    0);
	usleep(2000);
	assert_int_equal(sv_session_new(SV_REV_2025_11_25, "p", "n", "v", 2, b),
	    0);
	/* a has a call in flight: b is the one evicted. */
	assert_int_equal(sv_session_begin(a, "1", NULL, 0), 0);
	assert_int_equal(sv_session_begin(a, "1", NULL, 0), -1);
	assert_int_equal(sv_session_new(SV_REV_2025_11_25, "p", "n", "v", 2, c),
	    0);
	assert_int_equal(sv_session_touch(b, 3600, &rev, NULL, 0), -1);
	assert_int_equal(sv_session_touch(a, 3600, &rev, NULL, 0), 0);
	/* Everything busy: no eviction, the new session is refused. */
	assert_int_equal(sv_session_begin(c, "\"x\"", NULL, 0), 0);
	assert_int_equal(sv_session_new(SV_REV_2025_11_25, "p", "n", "v", 2, d),
	    -1);
	sv_session_end(a, "1");
	sv_session_end(c, "\"x\"");
	assert_int_equal(sv_session_begin(a, "1", NULL, 0), 0);
	sv_session_end(a, "1");
	sv_session_shutdown();
}

static void
test_idle_expiry(void **state)
{
	char		 a[40];
	enum sv_rev	 rev;

	(void)state;
	assert_int_equal(sv_session_new(SV_REV_2025_11_25, "p", "n", "v", 8, a),
	    0);
	sleep(2);
	assert_int_equal(sv_session_touch(a, 1, &rev, NULL, 0), -1);
	sv_session_shutdown();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_touch_delete),
		cmocka_unit_test(test_limit_evicts_idle_lru_only),
		cmocka_unit_test(test_idle_expiry),
	};
	return (cmocka_run_group_tests_name("session", tests, NULL, NULL));
}
