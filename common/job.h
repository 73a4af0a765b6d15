/*
 * The job pool: blocking work (libgit2, big scans, key generation) runs
 * here, and the result comes back to the worker that asked.
 */
#ifndef CM_JOB_H
#define CM_JOB_H

#include <stddef.h>

struct cm_worker;
struct cm_job;

typedef void	(*cm_job_fn)(struct cm_job *job);

/* run() on a pool thread; then done() on home's thread (or the pool's
 * if home is NULL).  arg is the caller's, untouched. */
struct cm_job	*cm_job_new(struct cm_worker *home, cm_job_fn run,
		    cm_job_fn done, void *arg);
void		*cm_job_arg(struct cm_job *job);
/*
 * Takes ownership: the job is freed after done() returns, or at once
 * when it is refused (-1: the pool is stopping or has no thread), in
 * which case neither run() nor done() runs and arg is still the caller's.
 */
int		 cm_job_submit(struct cm_job *job);
/* Jobs queued but not started. */
size_t		 cm_job_queued(void);

#endif /* CM_JOB_H */

/* ---- runtime only ---- */
int		 cm_job_pool_start(int nthreads);
/* Finishes queued jobs' run(), joins the threads. */
void		 cm_job_pool_stop(void);
