/*
 * approve, modify and reject (spec/supervise.md §6.2): the steps in
 * order under flock(.operator.lock), the first failure exits.  The
 * response is written temp + rename; the audit line is one O_APPEND
 * write (§6.5), so writers on one host kernel never interleave.
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bounds.h"
#include "common/queue_file.h"
#include "common/routes.h"
#include "common/util.h"
#include "common/yaml.h"
#include "supervise/op.h"
#include "supervise/sv.h"

static const char *const sv_act_status[] = {
	[SV_OP_APPROVE] = "approved",
	[SV_OP_MODIFY] = "modified",
	[SV_OP_REJECT] = "rejected",
};

static int	 sv_op_fail(int, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static int
sv_op_fail(int code, const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "bb-sidecar: supervise: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	return (code);
}

static int
sv_op_blank(const char *s)
{
	if (s == NULL)
		return (1);
	for (; *s != '\0'; s++)
		if (!isspace((unsigned char)*s))
			return (0);
	return (1);
}

int
sv_op_audit(struct sv_op *op, const json_t *line)
{
	char	 path[PATH_MAX + 16], *s;
	size_t	 len;
	int	 fd, rc = 0, saved;

	(void)snprintf(path, sizeof(path), "%s/audit.jsonl", op->state_dir);
	s = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (s == NULL) {
		errno = ENOMEM;
		return (-1);
	}
	len = strlen(s);
	s[len] = '\n';
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	/* One write: appends from several writers never interleave. */
	if (fd == -1 || write(fd, s, len + 1) != (ssize_t)(len + 1) ||
	    fsync(fd) == -1)
		rc = -1;
	saved = errno;
	if (fd != -1)
		(void)close(fd);
	free(s);
	errno = saved;
	return (rc);
}

/* Reads a modify payload (YAML or JSON; "-" = stdin). */
static char *
sv_op_read_payload(const char *path, size_t *len)
{
	FILE	*fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	char	*buf;
	size_t	 n;

	if (fp == NULL)
		return (NULL);
	if ((buf = malloc(CM_MAX_CFG_FILE_BYTES + 1)) == NULL) {
		if (fp != stdin)
			fclose(fp);
		return (NULL);
	}
	n = fread(buf, 1, CM_MAX_CFG_FILE_BYTES + 1, fp);
	if (fp != stdin)
		fclose(fp);
	if (n > CM_MAX_CFG_FILE_BYTES) {
		free(buf);
		errno = EFBIG;
		return (NULL);
	}
	buf[n] = '\0';
	*len = n;
	return (buf);
}

/* §6.2 step 6: the operator's payload for kind; NULL after printing. */
static json_t *
sv_op_payload(const char *path, enum cm_qkind kind)
{
	struct cm_cfg_ctx	*cx;
	struct cm_ynode		*node = NULL;
	json_t			*j = NULL, *out = NULL;
	const char		*p;
	char			*buf;
	size_t			 len, i;

	if ((buf = sv_op_read_payload(path, &len)) == NULL) {
		fprintf(stderr, "bb-sidecar: supervise: %s: %s\n", path,
		    strerror(errno));
		return (NULL);
	}
	if ((cx = calloc(1, sizeof(*cx))) == NULL) {
		free(buf);
		return (NULL);
	}
	cx->path = strcmp(path, "-") == 0 ? "payload" : path;
	for (p = buf; isspace((unsigned char)*p); p++)
		;
	if (*p == '{') {
		json_error_t	 je;

		if ((j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je)) ==
		    NULL)
			cm_cfg_error_at(cx, (size_t)je.line, (size_t)je.column,
			    NULL, "%s", je.text);
		else
			node = sv_json_to_ynode(j);
	} else
		node = cm_yaml_parse(cx, buf, len);
	free(buf);
	if (node != NULL && kind == CM_QK_EGRESS_BLOCK)
		out = cm_routes_json_parse_route(cx, node);
	else if (node != NULL && kind == CM_QK_CAPABILITY_BLOCK) {
		/* {dockerfile?, description?}: strings, nothing else. */
		if (node->type != CM_Y_MAP)
			cm_cfg_error(cx, node, NULL, "expected a mapping with "
			    "dockerfile and/or description");
		else {
			out = json_object();
			for (i = 0; i < node->n; i++) {
				const char *k = node->pairs[i].key->str;
				const char *s;

				if (strcmp(k, "dockerfile") != 0 &&
				    strcmp(k, "description") != 0) {
					cm_cfg_error(cx, node->pairs[i].key, k,
					    "unknown key");
					continue;
				}
				if (cm_y_str(cx, node->pairs[i].val, k,
				    &s) == 0)
					json_object_set_new(out, k,
					    json_string(s));
			}
			if (cx->nerrors > 0 || json_object_size(out) == 0) {
				if (cx->nerrors == 0)
					cm_cfg_error(cx, node, NULL, "needs "
					    "dockerfile or description");
				json_decref(out);
				out = NULL;
			}
		}
	}
	if (out == NULL) {
		if (cx->nerrors > 0)
			fprintf(stderr, "bb-sidecar: supervise: %s\n",
			    cx->errors[0]);
		else
			fprintf(stderr, "bb-sidecar: supervise: %s: invalid "
			    "payload\n", cx->path);
	}
	cm_yaml_free(node);
	json_decref(j);
	free(cx);
	return (out);
}

int
sv_op_decide(struct sv_op *op, enum sv_op_action act, const char *id,
    const char *notes, const char *payload_path)
{
	char		 name[64], file[80], text[512], ts[40], err[1024];
	char		*buf, *sum = NULL, *esc;
	const char	*why = NULL, *change = NULL, *host;
	struct stat	 st;
	enum cm_qkind	 kind = CM_QK_COUNT;
	enum cm_qstatus	 status;
	json_t		*p = NULL, *r, *payload = NULL, *before = NULL;
	json_t		*after = NULL, *resp = NULL, *audit;
	size_t		 len;
	int		 lockfd, rc, code = SV_EXIT_OK, archived, hold = 0;
	int64_t		 exp;

	/* 1 */
	if (!cm_qfile_id_valid(id))
		return (sv_op_fail(SV_EXIT_USAGE, "bad proposal id"));
	lockfd = openat(op->d.root, ".operator.lock", O_RDWR | O_CREAT |
	    O_NOFOLLOW | O_CLOEXEC, 0600);
	if (lockfd == -1 || flock(lockfd, LOCK_EX) == -1) {
		code = sv_op_fail(SV_EXIT_IO, "%s/.operator.lock: %s",
		    op->d.root_path, strerror(errno));
		goto out;
	}
	/* 2 */
	(void)snprintf(name, sizeof(name), "%s.json", id);
	(void)snprintf(file, sizeof(file), "pending/%s", name);
	rc = cm_qfile_read(op->d.pending, name, CM_QUEUE_PROPOSAL_MAX_BYTES,
	    &buf, &len, &st, &why);
	if (rc == 1) {
		if (sv_op_decided(op, id, text, sizeof(text), &archived))
			code = sv_op_fail(SV_EXIT_DECIDED, "already decided: "
			    "%s", text);
		else
			code = sv_op_fail(SV_EXIT_UNKNOWN, "unknown proposal "
			    "%s", id);
		goto out;
	}
	if (rc == -1) {
		code = sv_op_fail(SV_EXIT_IO, "%s: %s", file, strerror(errno));
		goto out;
	}
	/* 3: a rejection is always safe, even of a malformed file. */
	if (rc == 0) {
		p = cm_qfile_proposal_parse(buf, len, id, &kind, NULL, &why);
		free(buf);
	}
	if (p == NULL && act != SV_OP_REJECT) {
		code = sv_op_fail(SV_EXIT_MALFORMED, "%s is malformed: %s",
		    file, why);
		goto out;
	}
	hold = p != NULL && cm_qfile_kind_is_hold(kind);
	/* 4 */
	if (cm_qfile_read(op->d.responses, name, CM_QUEUE_RESPONSE_MAX_BYTES,
	    &buf, &len, &st, &why) == 0) {
		r = cm_qfile_response_parse(buf, len, id, p != NULL ? kind :
		    CM_QK_EGRESS_BLOCK, (int64_t)st.st_mtime * 1000, 0, &status,
		    &why);
		free(buf);
		if (r != NULL) {
			(void)sv_op_decided(op, id, text, sizeof(text),
			    &archived);
			json_decref(r);
			code = sv_op_fail(SV_EXIT_DECIDED, "already decided: "
			    "%s", text);
			goto out;
		}
		fprintf(stderr, "bb-sidecar: supervise: warning: replacing the "
		    "malformed responses/%s (%s)\n", name, why);
	}
	/* 5 */
	if (hold && act == SV_OP_MODIFY) {
		code = sv_op_fail(SV_EXIT_USAGE,
		    "holds can only be approved or rejected");
		goto out;
	}
	if (hold && act == SV_OP_APPROVE && sv_op_blank(notes)) {
		code = sv_op_fail(SV_EXIT_USAGE, "approval of a hold needs "
		    "--notes REASON");
		goto out;
	}
	if (act == SV_OP_REJECT && sv_op_blank(notes)) {
		code = sv_op_fail(SV_EXIT_USAGE, "reject needs --notes "
		    "REASON");
		goto out;
	}
	if (p != NULL && json_string_value(json_object_get(p,
	    "expires_at")) != NULL && cm_qfile_time_parse(json_string_value(
	    json_object_get(p, "expires_at")), &exp) == 0 &&
	    exp < cm_qfile_now_ms()) {
		code = sv_op_fail(SV_EXIT_DECIDED,
		    "expired: the hold's deadline has passed");
		goto out;
	}
	/* 6 */
	if (act == SV_OP_MODIFY && (payload = sv_op_payload(payload_path,
	    kind)) == NULL) {
		code = SV_EXIT_MALFORMED;
		goto out;
	}
	/* 7 */
	if (op->config_dir != NULL && kind == CM_QK_EGRESS_BLOCK &&
	    act != SV_OP_REJECT) {
		const json_t *route = act == SV_OP_MODIFY ? payload :
		    json_object_get(json_object_get(p, "payload"), "route");

		if (sv_op_merge(op->config_dir, route, act == SV_OP_MODIFY, 0,
		    &change, &before, &after, err, sizeof(err), &code) == -1) {
			fprintf(stderr, "bb-sidecar: supervise: %s\n", err);
			goto out;
		}
	}
	/* 8 */
	cm_qfile_time_fmt(cm_qfile_now_ms(), ts, sizeof(ts));
	resp = json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", id, "status",
	    sv_act_status[act], "notes", notes != NULL ? notes : "",
	    "decided_at", ts, "decided_by", op->by);
	if (payload != NULL)
		json_object_set(resp, "payload", payload);
	if (change != NULL)
		json_object_set_new(resp, "applied", json_true());
	if (cm_qfile_write(op->d.responses_path, name, resp) == -1) {
		code = sv_op_fail(SV_EXIT_IO, "responses/%s: %s", name,
		    strerror(errno));
		goto out;
	}
	/* 9 */
	sum = p != NULL ? sv_op_summary(p) : strdup("malformed proposal");
	audit = json_pack("{s:s,s:s,s:s,s:s,s:s?,s:s,s:s,s:s,s:s?,s:s,s:b}",
	    "ts", ts, "event", "decision", "id", id, "kind", p != NULL ?
	    cm_qfile_kind_name(kind) : "unknown", "bottle", json_string_value(
	    json_object_get(p, "bottle")), "status", sv_act_status[act],
	    "notes", notes != NULL ? notes : "", "decided_by", op->by,
	    "created_at", json_string_value(json_object_get(p, "created_at")),
	    "summary", sum != NULL ? sum : "", "applied", change != NULL);
	if (change != NULL) {
		json_object_set_new(audit, "routes_change",
		    json_string(change));
		json_object_set(audit, "route_before", before != NULL ? before :
		    json_null());
		json_object_set(audit, "route_after", after != NULL ? after :
		    json_null());
	}
	if (sv_op_audit(op, audit) == -1) {
		json_decref(audit);
		code = sv_op_fail(SV_EXIT_IO, "decision recorded, audit append "
		    "failed: %s", strerror(errno));
		goto out;
	}
	json_decref(audit);
	/* 10 */
	host = json_string_value(json_object_get(json_object_get(
	    json_object_get(p, "payload"), "route"), "host"));
	esc = sv_op_escape(kind == CM_QK_EGRESS_BLOCK && host != NULL ? host :
	    (sum != NULL ? sum : ""), 0);
	printf("%s %s %s %s", sv_act_status[act], id, p != NULL ?
	    cm_qfile_kind_name(kind) : "malformed", esc != NULL ? esc : "");
	free(esc);
	if (change != NULL)
		printf(" (routes.yaml: %s)", change);
	printf("\n");
out:
	free(sum);
	json_decref(p);
	json_decref(payload);
	json_decref(before);
	json_decref(after);
	json_decref(resp);
	if (lockfd != -1)
		(void)close(lockfd);
	return (code);
}
