/*
 * JSON-lines logging.  Each event is one object written with a single
 * write(2) so lines from different threads never interleave.
 */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/bounds.h"
#include "common/log.h"
#include "common/util.h"

static atomic_int cm_log_threshold = CM_LOG_INFO;

static const char *const cm_log_names[] = {
	[CM_LOG_DEBUG] = "debug",
	[CM_LOG_INFO] = "info",
	[CM_LOG_WARN] = "warn",
	[CM_LOG_ERROR] = "error",
};

void
cm_log_set_level(enum cm_log_level level)
{
	atomic_store(&cm_log_threshold, (int)level);
}

int
cm_log_parse_level(const char *s, enum cm_log_level *out)
{
	size_t	 i;

	for (i = 0; i < sizeof(cm_log_names) / sizeof(cm_log_names[0]); i++) {
		if (strcasecmp(s, cm_log_names[i]) == 0) {
			*out = (enum cm_log_level)i;
			return (0);
		}
	}
	return (-1);
}

int
cm_log_enabled(enum cm_log_level level)
{
	return ((int)level >= atomic_load(&cm_log_threshold));
}

static void
cm_log_timestamp(char *buf, size_t size)
{
	struct timespec	 ts;
	struct tm	 tm;
	size_t		 n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	(void)snprintf(buf + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static void
cm_log_write_all(const char *p, size_t len)
{
	ssize_t	 w;

	while (len > 0) {
		w = write(STDERR_FILENO, p, len);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return;	/* stderr gone: nothing better to do */
		p += w;
		len -= (size_t)w;
	}
}

void
cm_log(enum cm_log_level level, const char *svc, const char *event,
    uint64_t conn, json_t *fields)
{
	int	 saved = errno;
	char	 ts[40];
	json_t	*o;
	char	*line;
	size_t	 len;

	if (!cm_log_enabled(level)) {
		json_decref(fields);
		errno = saved;
		return;
	}
	cm_log_timestamp(ts, sizeof(ts));
	o = json_object();
	if (o == NULL) {
		json_decref(fields);
		errno = saved;
		return;
	}
	json_object_set_new(o, "ts", json_string(ts));
	json_object_set_new(o, "level", json_string(cm_log_names[level]));
	json_object_set_new(o, "svc", json_string(svc));
	json_object_set_new(o, "event", json_string(event));
	if (conn != 0)
		json_object_set_new(o, "conn", json_integer((json_int_t)conn));
	if (fields != NULL && json_is_object(fields)) {
		const char	*k;
		json_t		*v;

		json_object_foreach(fields, k, v) {
			/* The envelope keys are ours; a field cannot forge them. */
			if (strcmp(k, "ts") == 0 || strcmp(k, "level") == 0 ||
			    strcmp(k, "svc") == 0 || strcmp(k, "event") == 0)
				continue;
			json_object_set(o, k, v);
		}
	}
	json_decref(fields);
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (line == NULL) {
		errno = saved;
		return;
	}
	len = strlen(line);
	if (len > CM_LOG_LINE_BYTES - 1) {
		/* Cut at a safe point: the line is no longer JSON, say so. */
		static const char cut[] = "{\"event\":\"log_line_too_long\"}";

		cm_log_write_all(cut, sizeof(cut) - 1);
		cm_log_write_all("\n", 1);
	} else {
		line[len] = '\n';
		cm_log_write_all(line, len + 1);
	}
	free(line);
	errno = saved;
}


json_t *
cm_log_peer(const char *s, size_t len)
{
	char			 out[CM_LOG_PEER_BYTES * 3 + 8];
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, o = 0, n;

	if (s == NULL)
		return (json_null());
	while (i < len && i < CM_LOG_PEER_BYTES) {
		n = cm_utf8_seq(p + i, len - i);
		if (n == 0 || (n == 1 && (p[i] < 0x20 || p[i] == 0x7f))) {
			/* Control or invalid byte: U+FFFD, never raw. */
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		if (i + n > CM_LOG_PEER_BYTES)
			break;
		memcpy(out + o, p + i, n);
		o += n;
		i += n;
	}
	if (i < len) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	return (json_stringn(out, o));
}

json_t *
cm_log_secret(const struct cm_secret *secret)
{
	(void)secret;
	return (json_string("[redacted]"));
}
