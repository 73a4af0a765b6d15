#include "config.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "common/log.h"

static void
test_peer_string_is_capped_and_clean(void **state)
{
	json_t	*j;

	(void)state;
	j = cm_log_peer("a\x01\xff" "b", 4);
	assert_string_equal(json_string_value(j), "a\xef\xbf\xbd\xef\xbf\xbd" "b");
	json_decref(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_peer_string_is_capped_and_clean),
	};
	return (cmocka_run_group_tests_name("log", tests, NULL, NULL));
}
