/*
 * Queue files: IDs, dirs, reading, writing and judging proposals and
 * responses.  Shared by the sidecar and the operator command so both
 * read a file the same way (one parser per format).
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "common/bounds.h"
#include "common/queue_file.h"
#include "common/util.h"

static const char *const cm_qfile_kinds[CM_QK_COUNT] = {
	[CM_QK_EGRESS_BLOCK] = "egress-block",
	[CM_QK_CAPABILITY_BLOCK] = "capability-block",
	[CM_QK_EGRESS_TOKEN_ALLOW] = "egress-token-allow",
	[CM_QK_GITLEAKS_ALLOW] = "gitleaks-allow",
};

static const char *const cm_qfile_statuses[CM_QS_COUNT] = {
	[CM_QS_APPROVED] = "approved",
	[CM_QS_MODIFIED] = "modified",
	[CM_QS_REJECTED] = "rejected",
	[CM_QS_EXPIRED] = "expired",
	[CM_QS_WITHDRAWN] = "withdrawn",
};

static int	 cm_qfile_opendir(int at, const char *name, int create,
		    char *path, size_t pathlen, const char *parent,
		    char *err, size_t errlen);
static int	 cm_qfile_copy(int fromdir, const char *from, int todir,
		    const char *to);

const char *
cm_qfile_kind_name(enum cm_qkind k)
{
	return (k < CM_QK_COUNT ? cm_qfile_kinds[k] : "unknown");
}

int
cm_qfile_kind_parse(const char *s, enum cm_qkind *k)
{
	int	 i;

	for (i = 0; i < CM_QK_COUNT; i++)
		if (strcmp(s, cm_qfile_kinds[i]) == 0) {
			*k = (enum cm_qkind)i;
			return (0);
		}
	return (-1);
}

int
cm_qfile_kind_is_hold(enum cm_qkind k)
{
	return (k == CM_QK_EGRESS_TOKEN_ALLOW || k == CM_QK_GITLEAKS_ALLOW);
}

const char *
cm_qfile_status_name(enum cm_qstatus s)
{
	return (s < CM_QS_COUNT ? cm_qfile_statuses[s] : "unknown");
}

int
cm_qfile_status_parse(const char *s, enum cm_qstatus *st)
{
	int	 i;

	for (i = 0; i < CM_QS_COUNT; i++)
		if (strcmp(s, cm_qfile_statuses[i]) == 0) {
			*st = (enum cm_qstatus)i;
			return (0);
		}
	return (-1);
}

int
cm_qfile_slug_valid(const char *s)
{
	size_t	 n = strlen(s), i;

	if (n == 0 || n > 64)
		return (0);
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) &&
		    strchr("._-", s[i]) == NULL)
			return (0);
	return (1);
}

int
cm_qfile_id_valid(const char *s)
{
	size_t	 i;

	/* ^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{12}$, checked before any path. */
	for (i = 0; i < 29; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\0')
			return (0);
		if (i == 8 && c != 'T')
			return (0);
		if (i == 15 && c != 'Z')
			return (0);
		if (i == 16 && c != '-')
			return (0);
		if ((i < 8 || (i > 8 && i < 15)) && !(c >= '0' && c <= '9'))
			return (0);
		if (i > 16 && !((c >= '0' && c <= '9') ||
		    (c >= 'a' && c <= 'f')))
			return (0);
	}
	return (s[29] == '\0');
}

int
cm_qfile_id_from_name(const char *name, const char *suffix,
    char id[CM_QUEUE_ID_BYTES])
{
	size_t	 n = strlen(name), sl = strlen(suffix);

	if (n != 29 + sl || strcmp(name + 29, suffix) != 0)
		return (0);
	memcpy(id, name, 29);
	id[29] = '\0';
	return (cm_qfile_id_valid(id));
}

int
cm_qfile_id_new(char id[CM_QUEUE_ID_BYTES])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char	 rnd[6];
	struct tm	 tm;
	time_t		 now = time(NULL);
	size_t		 i;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1 || gmtime_r(&now, &tm) == NULL)
		return (-1);
	if (strftime(id, CM_QUEUE_ID_BYTES, "%Y%m%dT%H%M%SZ-", &tm) != 17)
		return (-1);
	for (i = 0; i < sizeof(rnd); i++) {
		id[17 + 2 * i] = hex[rnd[i] >> 4];
		id[18 + 2 * i] = hex[rnd[i] & 15];
	}
	id[29] = '\0';
	return (0);
}

int64_t
cm_qfile_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

void
cm_qfile_time_fmt(int64_t ms, char *buf, size_t size)
{
	struct tm	 tm;
	time_t		 t = (time_t)(ms / 1000);
	size_t		 n;

	if (gmtime_r(&t, &tm) == NULL ||
	    (n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm)) == 0) {
		cm_strlcpy(buf, "1970-01-01T00:00:00.000Z", size);
		return;
	}
	(void)snprintf(buf + n, size - n, ".%03dZ", (int)(ms % 1000));
}

int
cm_qfile_time_parse(const char *s, int64_t *ms)
{
	struct tm	 tm;
	const char	*p;
	int64_t		 frac = 0, off = 0;
	int		 digits = 0, sign;
	time_t		 t;

	memset(&tm, 0, sizeof(tm));
	if ((p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return (-1);
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++, digits++)
			if (digits < 3)
				frac = frac * 10 + (*p - '0');
		if (digits == 0)
			return (-1);
		for (; digits < 3; digits++)
			frac *= 10;
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		if (!isdigit((unsigned char)p[1]) ||
		    !isdigit((unsigned char)p[2]) || p[3] != ':' ||
		    !isdigit((unsigned char)p[4]) ||
		    !isdigit((unsigned char)p[5]))
			return (-1);
		off = sign * (((p[1] - '0') * 10 + (p[2] - '0')) * 3600 +
		    ((p[4] - '0') * 10 + (p[5] - '0')) * 60);
		p += 6;
	} else
		return (-1);
	if (*p != '\0' || (t = timegm(&tm)) == (time_t)-1)
		return (-1);
	*ms = ((int64_t)t - off) * 1000 + frac;
	return (0);
}

static int
cm_qfile_opendir(int at, const char *name, int create, char *path,
    size_t pathlen, const char *parent, char *err, size_t errlen)
{
	int	 fd, saved;

	(void)snprintf(path, pathlen, "%s/%s", parent, name);
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT && create) {
		if (mkdirat(at, name, 0700) == -1 && errno != EEXIST)
			goto fail;
		fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
	}
	if (fd != -1)
		return (fd);
fail:
	saved = errno;
	(void)snprintf(err, errlen, "%s: %s", path, strerror(saved));
	errno = saved;
	return (-1);
}

int
cm_qfile_dirs_open(const char *state_dir, int create, struct cm_qdirs *d,
    char *err, size_t errlen)
{
	int	 top;

	memset(d, 0, sizeof(*d));
	d->root = d->pending = d->responses = d->archive = -1;
	if ((top = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		(void)snprintf(err, errlen, "%s: %s", state_dir,
		    strerror(errno));
		return (-1);
	}
	d->root = cm_qfile_opendir(top, "supervise", create, d->root_path,
	    sizeof(d->root_path), state_dir, err, errlen);
	(void)close(top);
	if (d->root == -1)
		return (-1);
	if ((d->pending = cm_qfile_opendir(d->root, "pending", create,
	    d->pending_path, sizeof(d->pending_path), d->root_path, err,
	    errlen)) == -1 ||
	    (d->responses = cm_qfile_opendir(d->root, "responses", create,
	    d->responses_path, sizeof(d->responses_path), d->root_path, err,
	    errlen)) == -1 ||
	    (d->archive = cm_qfile_opendir(d->root, "archive", create,
	    d->archive_path, sizeof(d->archive_path), d->root_path, err,
	    errlen)) == -1) {
		int saved = errno;

		cm_qfile_dirs_close(d);
		errno = saved;
		return (-1);
	}
	return (0);
}

void
cm_qfile_dirs_close(struct cm_qdirs *d)
{
	if (d->archive != -1)
		(void)close(d->archive);
	if (d->responses != -1)
		(void)close(d->responses);
	if (d->pending != -1)
		(void)close(d->pending);
	if (d->root != -1)
		(void)close(d->root);
	d->root = d->pending = d->responses = d->archive = -1;
}

int
cm_qfile_read(int dirfd, const char *name, size_t max, char **buf,
    size_t *len, struct stat *st, const char **why)
{
	char	*b;
	size_t	 got = 0;
	ssize_t	 r;
	int	 fd, saved;

	*buf = NULL;
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOENT)
			return (1);
		if (errno == ELOOP) {
			*why = "not a regular file (symlink)";
			return (-2);
		}
		return (-1);
	}
	if (fstat(fd, st) == -1) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return (-1);
	}
	if (!S_ISREG(st->st_mode)) {
		(void)close(fd);
		*why = "not a regular file";
		return (-2);
	}
	if ((size_t)st->st_size > max) {
		(void)close(fd);
		*why = "file too large";
		return (-2);
	}
	/* One byte more than max tells a file that grew meanwhile. */
	if ((b = malloc(max + 2)) == NULL) {
		(void)close(fd);
		errno = ENOMEM;
		return (-1);
	}
	while (got <= max) {
		r = read(fd, b + got, max + 1 - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			saved = errno;
			free(b);
			(void)close(fd);
			errno = saved;
			return (-1);
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	(void)close(fd);
	if (got > max) {
		free(b);
		*why = "file too large";
		return (-2);
	}
	b[got] = '\0';
	*buf = b;
	*len = got;
	return (0);
}

char *
cm_qfile_dumps(const json_t *doc, size_t *len)
{
	char	*s, *out;
	size_t	 n;

	if ((s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) ==
	    NULL)
		return (NULL);
	n = strlen(s);
	if ((out = realloc(s, n + 2)) == NULL) {
		free(s);
		return (NULL);
	}
	out[n] = '\n';
	out[n + 1] = '\0';
	*len = n + 1;
	return (out);
}

int
cm_qfile_write(const char *dir, const char *name, const json_t *doc)
{
	char	*s;
	size_t	 len;
	int	 rc, saved;

	if ((s = cm_qfile_dumps(doc, &len)) == NULL) {
		errno = ENOMEM;
		return (-1);
	}
	rc = cm_write_file_atomic(dir, name, s, len, 0600);
	saved = errno;
	free(s);
	errno = saved;
	return (rc);
}

static int
cm_qfile_copy(int fromdir, const char *from, int todir, const char *to)
{
	char	 buf[16384], tmp[NAME_MAX + 1];
	ssize_t	 r;
	int	 in, out, saved;

	if ((in = openat(fromdir, from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) ==
	    -1)
		return (errno == ENOENT ? 1 : -1);
	(void)snprintf(tmp, sizeof(tmp), ".%s.tmp-%ld", to, (long)getpid());
	out = openat(todir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (out == -1) {
		saved = errno;
		(void)close(in);
		errno = saved;
		return (-1);
	}
	while ((r = read(in, buf, sizeof(buf))) != 0) {
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 || cm_write_all(out, buf, (size_t)r) == -1)
			goto fail;
	}
	if (fsync(out) == -1 || close(out) == -1) {
		out = -1;
		goto fail;
	}
	out = -1;
	if (renameat(todir, tmp, todir, to) == -1)
		goto fail;
	(void)close(in);
	(void)fsync(todir);
	return (unlinkat(fromdir, from, 0) == -1 && errno != ENOENT ? -1 : 0);
fail:
	saved = errno;
	if (out != -1)
		(void)close(out);
	(void)unlinkat(todir, tmp, 0);
	(void)close(in);
	errno = saved;
	return (-1);
}

int
cm_qfile_move(int fromdir, const char *from, int todir, const char *to)
{
	if (renameat(fromdir, from, todir, to) == 0) {
		(void)fsync(todir);
		return (0);
	}
	if (errno == ENOENT)
		return (1);
	/* A dir of its own mount (some shares): copy, fsync, unlink. */
	if (errno == EXDEV)
		return (cm_qfile_copy(fromdir, from, todir, to));
	return (-1);
}

static size_t
cm_qfile_sweep_dir(int dirfd, int64_t max_age_s)
{
	DIR		*dir;
	struct dirent	*de;
	struct stat	 st;
	time_t		 now = time(NULL);
	size_t		 n = 0;
	int		 fd;

	if ((fd = dup(dirfd)) == -1)
		return (0);
	if ((dir = fdopendir(fd)) == NULL) {
		(void)close(fd);
		return (0);
	}
	rewinddir(dir);
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] != '.' || strstr(de->d_name, ".tmp") == NULL)
			continue;
		if (fstatat(dirfd, de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (now - st.st_mtime > max_age_s &&
		    unlinkat(dirfd, de->d_name, 0) == 0)
			n++;
	}
	(void)closedir(dir);
	return (n);
}

size_t
cm_qfile_sweep_temps(const struct cm_qdirs *d, int64_t max_age_s)
{
	return (cm_qfile_sweep_dir(d->pending, max_age_s) +
	    cm_qfile_sweep_dir(d->responses, max_age_s) +
	    cm_qfile_sweep_dir(d->archive, max_age_s));
}

/* A string member, or NULL when absent or not a string. */
static const char *
cm_qfile_str(const json_t *o, const char *key)
{
	return (json_string_value(json_object_get(o, key)));
}

json_t *
cm_qfile_proposal_parse(const char *buf, size_t len, const char *id,
    enum cm_qkind *kind, int64_t *created_ms, const char **why)
{
	json_error_t	 jerr;
	json_t		*p, *v;
	const char	*s;
	enum cm_qkind	 k;
	int64_t		 ms;

	if ((p = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL) {
		*why = "not JSON";
		return (NULL);
	}
	if (!json_is_object(p)) {
		*why = "not a JSON object";
		goto bad;
	}
	v = json_object_get(p, "version");
	if (!json_is_integer(v) || json_integer_value(v) != 1) {
		*why = "version is not 1";
		goto bad;
	}
	if ((s = cm_qfile_str(p, "id")) == NULL || strcmp(s, id) != 0) {
		*why = "id differs from the file name";
		goto bad;
	}
	if ((s = cm_qfile_str(p, "kind")) == NULL ||
	    cm_qfile_kind_parse(s, &k) == -1) {
		*why = "unknown kind";
		goto bad;
	}
	if ((s = cm_qfile_str(p, "bottle")) == NULL ||
	    !cm_qfile_slug_valid(s)) {
		*why = "bottle is not a slug";
		goto bad;
	}
	if ((s = cm_qfile_str(p, "source")) == NULL ||
	    (strcmp(s, "mcp") != 0 && strcmp(s, "egress") != 0 &&
	    strcmp(s, "gitgate") != 0)) {
		*why = "source is not mcp, egress or gitgate";
		goto bad;
	}
	if ((s = cm_qfile_str(p, "created_at")) == NULL ||
	    cm_qfile_time_parse(s, &ms) == -1) {
		*why = "created_at is not an RFC 3339 time";
		goto bad;
	}
	if (cm_qfile_kind_is_hold(k)) {
		int64_t exp;

		if ((s = cm_qfile_str(p, "expires_at")) == NULL ||
		    cm_qfile_time_parse(s, &exp) == -1) {
			*why = "a hold needs expires_at as an RFC 3339 time";
			goto bad;
		}
	} else if (!json_is_string(json_object_get(p, "justification"))) {
		*why = "justification is not a string";
		goto bad;
	}
	if (!json_is_object(json_object_get(p, "payload"))) {
		*why = "payload is not an object";
		goto bad;
	}
	if (kind != NULL)
		*kind = k;
	if (created_ms != NULL)
		*created_ms = ms;
	return (p);
bad:
	json_decref(p);
	return (NULL);
}

json_t *
cm_qfile_response_parse(const char *buf, size_t len, const char *id,
    enum cm_qkind kind, int64_t mtime_ms, int archived,
    enum cm_qstatus *status, const char **why)
{
	json_error_t	 jerr;
	json_t		*r, *v;
	const char	*s;
	char		 ts[40];
	enum cm_qstatus	 st;
	int64_t		 ms;

	if (len > CM_QUEUE_RESPONSE_MAX_BYTES) {
		*why = "larger than 256 KiB";
		return (NULL);
	}
	if ((r = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL) {
		*why = "not JSON";
		return (NULL);
	}
	if (!json_is_object(r)) {
		*why = "not a JSON object";
		goto bad;
	}
	if ((s = cm_qfile_str(r, "id")) == NULL || strcmp(s, id) != 0) {
		*why = "id differs from the file name";
		goto bad;
	}
	if ((s = cm_qfile_str(r, "status")) == NULL ||
	    cm_qfile_status_parse(s, &st) == -1) {
		*why = "status is not approved, modified or rejected";
		goto bad;
	}
	if ((st == CM_QS_EXPIRED || st == CM_QS_WITHDRAWN) && !archived) {
		*why = "expired and withdrawn are written by the sidecar only";
		goto bad;
	}
	if (st == CM_QS_MODIFIED && cm_qfile_kind_is_hold(kind)) {
		*why = "a hold can only be approved or rejected";
		goto bad;
	}
	if (st == CM_QS_MODIFIED &&
	    !json_is_object(json_object_get(r, "payload"))) {
		*why = "modified without a payload object";
		goto bad;
	}
	v = json_object_get(r, "notes");
	if (v != NULL && !json_is_string(v) && !json_is_null(v)) {
		*why = "notes is not a string";
		goto bad;
	}
	if (!json_is_string(v))
		json_object_set_new(r, "notes", json_string(""));
	if (st == CM_QS_APPROVED && cm_qfile_kind_is_hold(kind) &&
	    cm_qfile_str(r, "notes")[0] == '\0') {
		*why = "a hold approval needs notes";
		goto bad;
	}
	v = json_object_get(r, "applied");
	if (v != NULL && !json_is_boolean(v)) {
		*why = "applied is not a boolean";
		goto bad;
	}
	if ((s = cm_qfile_str(r, "decided_at")) == NULL ||
	    cm_qfile_time_parse(s, &ms) == -1) {
		cm_qfile_time_fmt(mtime_ms, ts, sizeof(ts));
		json_object_set_new(r, "decided_at", json_string(ts));
	}
	if (cm_qfile_str(r, "decided_by") == NULL)
		json_object_set_new(r, "decided_by", json_string("unknown"));
	*status = st;
	return (r);
bad:
	json_decref(r);
	return (NULL);
}
