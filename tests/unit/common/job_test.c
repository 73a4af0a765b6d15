/*
 * The job pool's ownership rule (common/job.h): a job the pool refuses
 * is freed by cm_job_submit, and neither run() nor done() runs.  Under
 * ASan, LeakSanitizer fails this test if the refused job leaks.
 */
#include "config.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "common/job.h"

static int	 ran;

static void
job_run(struct cm_job *job)
{
	(void)job;
	ran++;
}

static void
test_refused_job_is_freed(void **state)
{
	struct cm_job	*job;
	int		 arg = 7;

	(void)state;
	/* No pool thread has been started: the pool refuses. */
	job = cm_job_new(NULL, job_run, job_run, &arg);
	assert_non_null(job);
	assert_int_equal(cm_job_arg(job), &arg);
	assert_int_equal(cm_job_submit(job), -1);
	assert_int_equal(ran, 0);
	assert_int_equal(cm_job_queued(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused_job_is_freed),
	};
	return (cmocka_run_group_tests_name("job", tests, NULL, NULL));
}
