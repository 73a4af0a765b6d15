/*
 * The files of the approval queue (spec/supervise.md §5.1-§5.4): IDs,
 * the three dirs under STATE_DIR/supervise, proposal and response
 * documents and their checks.  One implementation serves both sides:
 * the sidecar's queue thread (common/queue.c) and the operator command
 * (supervise/operator*.c), so a response the operator writes is judged
 * by the very code the sidecar runs.  Nothing here keeps state or
 * takes a lock; every call may block on the file system.
 */
#ifndef CM_QUEUE_FILE_H
#define CM_QUEUE_FILE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <jansson.h>

/* "20261201T120000Z-5c1e0a9b7d42" plus NUL, rounded up. */
#define CM_QUEUE_ID_BYTES	32

enum cm_qkind {
	CM_QK_EGRESS_BLOCK,
	CM_QK_CAPABILITY_BLOCK,
	CM_QK_EGRESS_TOKEN_ALLOW,
	CM_QK_GITLEAKS_ALLOW,
	CM_QK_COUNT
};

/* Response statuses; the last two are written by the sidecar only. */
enum cm_qstatus {
	CM_QS_APPROVED,
	CM_QS_MODIFIED,
	CM_QS_REJECTED,
	CM_QS_EXPIRED,
	CM_QS_WITHDRAWN,
	CM_QS_COUNT
};

/* Open dirs of one queue; fds are O_DIRECTORY|O_NOFOLLOW. */
struct cm_qdirs {
	int	 root;			/* STATE_DIR/supervise */
	int	 pending;
	int	 responses;
	int	 archive;
	char	 root_path[PATH_MAX];
	char	 pending_path[PATH_MAX];
	char	 responses_path[PATH_MAX];
	char	 archive_path[PATH_MAX];
};

/*
 * Opens STATE_DIR/supervise and its dirs; with create, makes the
 * missing ones (0700).  0, or -1 with "PATH: strerror" in err and errno
 * kept.  A symlink in place of a dir is refused (ELOOP).
 */
int		 cm_qfile_dirs_open(const char *state_dir, int create,
		    struct cm_qdirs *d, char *err, size_t errlen);
void		 cm_qfile_dirs_close(struct cm_qdirs *d);

/* 1 if s matches ^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{12}$. */
int		 cm_qfile_id_valid(const char *s);
/* 1 if name is "ID" + suffix with a valid ID; the ID goes to id. */
int		 cm_qfile_id_from_name(const char *name, const char *suffix,
		    char id[CM_QUEUE_ID_BYTES]);
/* A new ID for now (UTC seconds + 12 hex from the OpenSSL RNG). 0/-1. */
int		 cm_qfile_id_new(char id[CM_QUEUE_ID_BYTES]);

const char	*cm_qfile_kind_name(enum cm_qkind k);
int		 cm_qfile_kind_parse(const char *s, enum cm_qkind *k);
/* egress-token-allow and gitleaks-allow. */
int		 cm_qfile_kind_is_hold(enum cm_qkind k);
const char	*cm_qfile_status_name(enum cm_qstatus s);
int		 cm_qfile_status_parse(const char *s, enum cm_qstatus *st);

/* Wall clock in ms since the epoch. */
int64_t		 cm_qfile_now_ms(void);
/* RFC 3339 UTC with milliseconds: 2026-12-01T12:00:00.000Z. */
void		 cm_qfile_time_fmt(int64_t ms, char *buf, size_t size);
/* Accepts RFC 3339 with Z or an offset, fraction optional. 0/-1. */
int		 cm_qfile_time_parse(const char *s, int64_t *ms);

/*
 * Reads dirfd/name without following a symlink.  0 with a NUL-ended
 * malloc'd *buf (caller frees) and *st; 1 when absent; -1 with errno on
 * I/O errors; -2 when it is not a regular file (*why) or is larger than
 * max bytes (*why).
 */
int		 cm_qfile_read(int dirfd, const char *name, size_t max,
		    char **buf, size_t *len, struct stat *st, const char **why);
/*
 * Writes doc (2-space indent, a final newline) to dir/name through a
 * dot-named temp file, fsync and rename (cm_write_file_atomic), 0600.
 * 0, or -1 with errno.
 */
int		 cm_qfile_write(const char *dir, const char *name,
		    const json_t *doc);
/* The text cm_qfile_write() writes; malloc'd, caller frees. */
char		*cm_qfile_dumps(const json_t *doc, size_t *len);
/*
 * Renames fromdir/from to todir/to; on EXDEV copies, fsyncs and
 * unlinks.  ENOENT of the source is returned as 1.  0, 1 or -1 (errno).
 */
int		 cm_qfile_move(int fromdir, const char *from, int todir,
		    const char *to);
/* Deletes dot-named temp files older than max_age_s in the three dirs. */
size_t		 cm_qfile_sweep_temps(const struct cm_qdirs *d,
		    int64_t max_age_s);

/*
 * Parses a proposal (§5.3).  A new reference, or NULL with *why: not
 * JSON, version not 1, id not the file's, unknown kind, bad bottle,
 * source, created_at or expires_at, payload not an object.  *kind and
 * *created_ms (may be NULL) are filled on success.
 */
json_t		*cm_qfile_proposal_parse(const char *buf, size_t len,
		    const char *id, enum cm_qkind *kind, int64_t *created_ms,
		    const char **why);
/*
 * Parses a response to a proposal of kind (§5.4).  A malformed one
 * gives NULL with *why.  On success the result has status, notes (""
 * when absent), decided_at (the file's mtime when absent or bad) and
 * decided_by ("unknown" when absent) filled in; *status is set.  The
 * sidecar-only statuses are accepted only with archived set.
 */
json_t		*cm_qfile_response_parse(const char *buf, size_t len,
		    const char *id, enum cm_qkind kind, int64_t mtime_ms,
		    int archived, enum cm_qstatus *status, const char **why);
/* 1 if s is a bottle slug: [A-Za-z0-9._-]{1,64}. */
int		 cm_qfile_slug_valid(const char *s);

#endif /* CM_QUEUE_FILE_H */
