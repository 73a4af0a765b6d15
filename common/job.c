/*
 * The job pool.  One queue, a few threads; cm_job_lock guards the queue,
 * the running count and the stopping flag, nothing else.
 *
 * When the pool goes idle (the last running job ends with none queued)
 * the thread that ran it calls malloc_trim: jobs (libgit2's indexer and
 * packbuilder above all) allocate tens of MiB in their threads' malloc
 * arenas, and glibc keeps those pages after free, so without the trim
 * an idle gate holds what its largest jobs once needed.
 */
#include "config.h"

#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/queue.h>

#include "common/bounds.h"
#include "common/job.h"
#include "common/log.h"
#include "common/util.h"
#include "common/worker.h"

struct cm_job {
	cm_job_fn		 run;
	cm_job_fn		 done;
	struct cm_worker	*home;		/* borrowed */
	void			*arg;		/* the caller's */
	TAILQ_ENTRY(cm_job)	 entry;
};

static pthread_mutex_t		 cm_job_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t		 cm_job_cond = PTHREAD_COND_INITIALIZER;
static TAILQ_HEAD(, cm_job)	 cm_job_queue = TAILQ_HEAD_INITIALIZER(cm_job_queue);
static size_t			 cm_job_nqueued;
static size_t			 cm_job_nrunning;
static int			 cm_job_stopping;
static pthread_t		 cm_job_threads[CM_MAX_JOB_THREADS];
static int			 cm_job_nthreads;

struct cm_job *
cm_job_new(struct cm_worker *home, cm_job_fn run, cm_job_fn done, void *arg)
{
	struct cm_job	*job;

	if ((job = calloc(1, sizeof(*job))) == NULL)
		return (NULL);
	job->run = run;
	job->done = done;
	job->home = home;
	job->arg = arg;
	return (job);
}

void *
cm_job_arg(struct cm_job *job)
{
	return (job->arg);
}

int
cm_job_submit(struct cm_job *job)
{
	pthread_mutex_lock(&cm_job_lock);
	if (cm_job_stopping || cm_job_nthreads == 0) {
		pthread_mutex_unlock(&cm_job_lock);
		free(job);	/* ours either way; arg stays the caller's */
		return (-1);
	}
	TAILQ_INSERT_TAIL(&cm_job_queue, job, entry);
	cm_job_nqueued++;
	pthread_cond_signal(&cm_job_cond);
	pthread_mutex_unlock(&cm_job_lock);
	return (0);
}

size_t
cm_job_queued(void)
{
	size_t	 n;

	pthread_mutex_lock(&cm_job_lock);
	n = cm_job_nqueued;
	pthread_mutex_unlock(&cm_job_lock);
	return (n);
}

static void
cm_job_finish(struct cm_worker *w, void *arg)
{
	struct cm_job	*job = arg;

	if (job->done != NULL)
		job->done(job);
	free(job);
}

static void *
cm_job_main(void *arg)
{
	struct cm_job	*job;
	int		 idle;

	for (;;) {
		pthread_mutex_lock(&cm_job_lock);
		while (TAILQ_EMPTY(&cm_job_queue) && !cm_job_stopping)
			pthread_cond_wait(&cm_job_cond, &cm_job_lock);
		if ((job = TAILQ_FIRST(&cm_job_queue)) == NULL) {
			pthread_mutex_unlock(&cm_job_lock);
			return (NULL);
		}
		TAILQ_REMOVE(&cm_job_queue, job, entry);
		cm_job_nqueued--;
		cm_job_nrunning++;
		pthread_mutex_unlock(&cm_job_lock);
		job->run(job);
		pthread_mutex_lock(&cm_job_lock);
		idle = --cm_job_nrunning == 0 && cm_job_nqueued == 0;
		pthread_mutex_unlock(&cm_job_lock);
		if (idle)
			(void)malloc_trim(0);
		/* Home gone (drained): done runs here so nothing leaks. */
		if (job->home == NULL ||
		    cm_worker_post(job->home, cm_job_finish, job) == -1)
			cm_job_finish(NULL, job);
	}
}

int
cm_job_pool_start(int nthreads)
{
	int	 i;

	for (i = 0; i < nthreads && i < CM_MAX_JOB_THREADS; i++) {
		if (pthread_create(&cm_job_threads[i], NULL, cm_job_main,
		    NULL) != 0)
			return (-1);
		cm_thread_name(cm_job_threads[i], "bb-job-%d", i);
		pthread_mutex_lock(&cm_job_lock);
		cm_job_nthreads++;
		pthread_mutex_unlock(&cm_job_lock);
	}
	return (0);
}

void
cm_job_pool_stop(void)
{
	int	 i, n;

	pthread_mutex_lock(&cm_job_lock);
	cm_job_stopping = 1;
	n = cm_job_nthreads;
	pthread_cond_broadcast(&cm_job_cond);
	pthread_mutex_unlock(&cm_job_lock);
	for (i = 0; i < n; i++)
		pthread_join(cm_job_threads[i], NULL);
	pthread_mutex_lock(&cm_job_lock);
	cm_job_nthreads = 0;
	pthread_mutex_unlock(&cm_job_lock);
}
