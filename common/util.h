/* Small string and time helpers that glibc 2.36 lacks or gets wrong. */
#ifndef CM_UTIL_H
#define CM_UTIL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* BSD strlcpy: always terminates; returns strlen(src). */
size_t		 cm_strlcpy(char *dst, const char *src, size_t size);
/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid. */
size_t		 cm_utf8_seq(const unsigned char *p, size_t left);
/* Milliseconds on the monotonic clock. */
uint64_t	 cm_now_ms(void);
/* Writes all of buf to fd (retrying EINTR); 0 or -1. */
int		 cm_write_all(int fd, const void *buf, size_t len);
/*
 * Writes data to dir/name through a temp file in dir, fsync and rename,
 * with the given mode.  0 or -1 with errno set.
 */
int		 cm_write_file_atomic(const char *dir, const char *name,
		    const void *data, size_t len, int mode);
/*
 * Names a thread (printf format, cut to the kernel's 15 bytes) so that
 * top -H, perf and /proc/PID/task/TID/comm tell workers, job threads and
 * the queue thread apart.  Best effort: a failure changes nothing else.
 */
void		 cm_thread_name(pthread_t t, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));

#endif /* CM_UTIL_H */
