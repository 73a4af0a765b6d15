/*
 * `bb-sidecar supervise` (spec/supervise.md §6): options, list, show,
 * and the text helpers every subcommand prints through.  Strings that
 * come from the agent or from held traffic are escaped before they
 * reach a terminal (§6.5); JSON output relies on JSON escaping.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>
#include <event2/buffer.h>

#include "common/bounds.h"
#include "common/queue_file.h"
#include "common/routes.h"
#include "common/util.h"
#include "common/yaml.h"
#include "supervise/op.h"
#include "supervise/service.h"

enum {
	SV_OPT_STATE = 256, SV_OPT_CONFIG, SV_OPT_BY, SV_OPT_JSON,
	SV_OPT_NOTES, SV_OPT_PAYLOAD, SV_OPT_HELP,
};

static void
sv_op_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: bb-sidecar supervise --state-dir DIR [--config-dir DIR] "
	    "[--by NAME] COMMAND\n"
	    "  list [--json]                  pending proposals, oldest first\n"
	    "  show ID [--json]               one proposal, its response and "
	    "state\n"
	    "  approve ID [--notes TEXT]\n"
	    "  modify  ID --payload FILE [--notes TEXT]\n"
	    "  reject  ID --notes TEXT\n"
	    "  watch [--json]                 follow new proposals; answer "
	    "a/r/s on a terminal\n"
	    "\n"
	    "With --config-dir, an approved egress-block is merged into\n"
	    "DIR/routes.yaml.  Exit: 0 ok, 1 I/O, 2 usage, 3 unknown id,\n"
	    "4 already decided or expired, 5 malformed or invalid.\n");
}

/* ---- text ------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at p and its code point, or 0. */
static size_t
sv_op_utf8(const unsigned char *p, unsigned *cp)
{
	size_t	 n, i;

	if (p[0] < 0x80) {
		*cp = p[0];
		return (1);
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		*cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		*cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		*cp = p[0] & 0x07;
	} else
		return (0);
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return (0);
		*cp = (*cp << 6) | (p[i] & 0x3f);
	}
	return (n);
}

char *
sv_op_escape(const char *s, int multiline)
{
	const unsigned char	*p = (const unsigned char *)(s != NULL ? s :
				    "");
	struct evbuffer		*b = evbuffer_new();
	unsigned		 cp;
	size_t			 n, len;
	char			*out;

	if (b == NULL)
		return (NULL);
	while (*p != '\0') {
		if ((n = sv_op_utf8(p, &cp)) == 0) {
			evbuffer_add_printf(b, "\\u{fffd}");
			p++;
			continue;
		}
		/* Terminal escapes, fake prompts, bidi reordering. */
		if ((cp < 0x20 && !(multiline && (cp == '\n' || cp == '\t'))) ||
		    cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) ||
		    (cp >= 0x202a && cp <= 0x202e) ||
		    (cp >= 0x2066 && cp <= 0x2069))
			evbuffer_add_printf(b, "\\u{%04x}", cp);
		else
			evbuffer_add(b, p, n);
		p += n;
	}
	len = evbuffer_get_length(b);
	if ((out = malloc(len + 1)) != NULL) {
		evbuffer_remove(b, out, len);
		out[len] = '\0';
	}
	evbuffer_free(b);
	return (out);
}

static const char *
sv_op_str(const json_t *o, const char *key)
{
	const char	*s = json_string_value(json_object_get(o, key));

	return (s != NULL ? s : "");
}

/* "+[prefix /v1/, exact /x] GET" for the entries not in existing. */
static void
sv_op_matches_text(struct evbuffer *b, const json_t *route,
    const json_t *existing)
{
	const json_t	*m = json_object_get(route, "matches");
	const json_t	*em = json_object_get(existing, "matches");
	const json_t	*e, *x;
	size_t		 i, j, shown = 0;

	if (json_array_size(m) == 0) {
		evbuffer_add_printf(b, " (all paths)");
		return;
	}
	for (i = 0; i < json_array_size(m); i++) {
		e = json_array_get(m, i);
		for (j = 0; j < json_array_size(em); j++)
			if (json_equal(e, json_array_get(em, j)))
				break;
		if (j < json_array_size(em))
			continue;
		evbuffer_add_printf(b, " +[");
		x = json_object_get(e, "paths");
		for (j = 0; j < json_array_size(x); j++)
			evbuffer_add_printf(b, "%s%s %s", j > 0 ? ", " : "",
			    sv_op_str(json_array_get(x, j), "type"),
			    sv_op_str(json_array_get(x, j), "value"));
		x = json_object_get(e, "methods");
		for (j = 0; j < json_array_size(x); j++)
			evbuffer_add_printf(b, "%s%s", j == 0 &&
			    json_array_size(json_object_get(e, "paths")) == 0 ?
			    "" : " ", json_string_value(json_array_get(x, j)));
		x = json_object_get(e, "headers");
		for (j = 0; j < json_array_size(x); j++)
			evbuffer_add_printf(b, " %s:", sv_op_str(
			    json_array_get(x, j), "name"));
		evbuffer_add_printf(b, "]");
		shown++;
	}
	if (shown == 0 && json_is_true(json_object_get(json_object_get(route,
	    "git"), "fetch")))
		evbuffer_add_printf(b, " +git fetch");
}

char *
sv_op_summary(const json_t *p)
{
	const json_t	*pl = json_object_get(p, "payload"), *x;
	struct evbuffer	*b = evbuffer_new();
	enum cm_qkind	 kind;
	const char	*s;
	char		*raw, *out;
	size_t		 len, n;

	if (b == NULL)
		return (NULL);
	if (cm_qfile_kind_parse(sv_op_str(p, "kind"), &kind) == -1)
		kind = CM_QK_COUNT;
	switch (kind) {
	case CM_QK_EGRESS_BLOCK:
		x = json_object_get(pl, "route");
		evbuffer_add_printf(b, "%s", sv_op_str(x, "host"));
		sv_op_matches_text(b, x, json_object_get(pl, "existing_route"));
		break;
	case CM_QK_CAPABILITY_BLOCK:
		if ((s = json_string_value(json_object_get(pl,
		    "description"))) != NULL)
			evbuffer_add(b, s, strcspn(s, "\n"));
		else {
			s = sv_op_str(pl, "dockerfile");
			for (n = 1; *s != '\0'; s++)
				if (*s == '\n' && s[1] != '\0')
					n++;
			evbuffer_add_printf(b, "Dockerfile, %zu lines", n);
		}
		break;
	case CM_QK_EGRESS_TOKEN_ALLOW:
		evbuffer_add_printf(b, "%s %s %s %s", sv_op_str(pl, "method"),
		    sv_op_str(pl, "host"), sv_op_str(pl, "path"),
		    sv_op_str(pl, "rule"));
		if (json_array_size(json_object_get(pl, "hits")) > 1)
			evbuffer_add_printf(b, " (+%zu more)", json_array_size(
			    json_object_get(pl, "hits")) - 1);
		break;
	case CM_QK_GITLEAKS_ALLOW:
		x = json_array_get(json_object_get(pl, "findings"), 0);
		evbuffer_add_printf(b, "%s %s %s:%lld %s",
		    sv_op_str(pl, "repo"), sv_op_str(x, "ref"),
		    sv_op_str(x, "file"),
		    (long long)json_integer_value(json_object_get(x, "line")),
		    sv_op_str(x, "rule"));
		if (json_array_size(json_object_get(pl, "findings")) > 1)
			evbuffer_add_printf(b, " (+%zu more)", json_array_size(
			    json_object_get(pl, "findings")) - 1);
		break;
	default:
		evbuffer_add_printf(b, "?");
		break;
	}
	len = evbuffer_get_length(b);
	if ((raw = malloc(len + 1)) == NULL) {
		evbuffer_free(b);
		return (NULL);
	}
	evbuffer_remove(b, raw, len);
	raw[len] = '\0';
	evbuffer_free(b);
	out = sv_op_escape(raw, 0);
	free(raw);
	return (out);
}

/* ---- reading the queue ------------------------------------------------ */

int
sv_op_decided(struct sv_op *op, const char *id, char *text, size_t size,
    int *archived)
{
	char		 name[64], *buf;
	const char	*why;
	struct stat	 st;
	size_t		 len;
	json_t		*r;
	int		 i;

	for (i = 0; i < 2; i++) {
		int dir = i == 0 ? op->d.archive : op->d.responses;

		(void)snprintf(name, sizeof(name), i == 0 ?
		    "%s.response.json" : "%s.json", id);
		if (cm_qfile_read(dir, name, CM_QUEUE_RESPONSE_MAX_BYTES, &buf,
		    &len, &st, &why) != 0)
			continue;
		r = json_loadb(buf, len, 0, NULL);
		free(buf);
		if (r == NULL)
			continue;
		(void)snprintf(text, size, "%s by %s at %s", sv_op_str(r,
		    "status"), json_string_value(json_object_get(r,
		    "decided_by")) != NULL ? sv_op_str(r, "decided_by") :
		    "unknown", json_string_value(json_object_get(r,
		    "decided_at")) != NULL ? sv_op_str(r, "decided_at") :
		    "an unknown time");
		json_decref(r);
		*archived = i == 0;
		return (1);
	}
	return (0);
}

static int
sv_op_item_cmp(const void *a, const void *b)
{
	const struct sv_op_item	*x = a, *y = b;

	if (x->created_ms != y->created_ms)
		return (x->created_ms < y->created_ms ? -1 : 1);
	return (strcmp(x->id, y->id));
}

/* pending, decided, expired or malformed (§6.1). */
static void
sv_op_state(struct sv_op *op, struct sv_op_item *it)
{
	char		 name[48], *buf;
	const char	*why = NULL, *exp;
	struct stat	 st;
	size_t		 len;
	enum cm_qstatus	 status;
	json_t		*r;
	int64_t		 ms;

	(void)snprintf(name, sizeof(name), "%s.json", it->id);
	if (cm_qfile_read(op->d.responses, name, CM_QUEUE_RESPONSE_MAX_BYTES,
	    &buf, &len, &st, &why) == 0) {
		r = cm_qfile_response_parse(buf, len, it->id, it->kind,
		    (int64_t)st.st_mtime * 1000, 0, &status, &why);
		free(buf);
		if (r != NULL) {
			cm_strlcpy(it->state, "decided", sizeof(it->state));
			json_decref(r);
			return;
		}
	}
	exp = json_string_value(json_object_get(it->proposal, "expires_at"));
	if (exp != NULL && cm_qfile_time_parse(exp, &ms) == 0 &&
	    ms < cm_qfile_now_ms()) {
		cm_strlcpy(it->state, "expired", sizeof(it->state));
		return;
	}
	cm_strlcpy(it->state, "pending", sizeof(it->state));
}

struct sv_op_item *
sv_op_items(struct sv_op *op, size_t *n)
{
	struct sv_op_item	*items = NULL, *it;
	struct dirent		*de;
	struct stat		 st;
	DIR			*dir;
	char			 id[CM_QUEUE_ID_BYTES], *buf;
	const char		*why;
	size_t			 len, cap = 0;
	int			 fd;

	*n = 0;
	if ((fd = dup(op->d.pending)) == -1 || (dir = fdopendir(fd)) == NULL) {
		if (fd != -1)
			(void)close(fd);
		return (NULL);
	}
	rewinddir(dir);
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.' ||
		    !cm_qfile_id_from_name(de->d_name, ".json", id))
			continue;
		if (*n == cap) {
			void *p = realloc(items, (cap + 16) * sizeof(*items));

			if (p == NULL)
				break;
			items = p;
			cap += 16;
		}
		it = &items[*n];
		memset(it, 0, sizeof(*it));
		cm_strlcpy(it->id, id, sizeof(it->id));
		why = "unreadable";
		if (cm_qfile_read(op->d.pending, de->d_name,
		    CM_QUEUE_PROPOSAL_MAX_BYTES, &buf, &len, &st, &why) == 0) {
			it->proposal = cm_qfile_proposal_parse(buf, len, id,
			    &it->kind, &it->created_ms, &why);
			free(buf);
		}
		if (it->proposal == NULL) {
			(void)snprintf(it->state, sizeof(it->state),
			    "malformed: %s", why);
			it->kind = CM_QK_COUNT;
		} else
			sv_op_state(op, it);
		(*n)++;
	}
	(void)closedir(dir);
	if (*n > 0)
		qsort(items, *n, sizeof(*items), sv_op_item_cmp);
	return (items);
}

void
sv_op_items_free(struct sv_op_item *items, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		json_decref(items[i].proposal);
	free(items);
}

static void
sv_op_age(int64_t created_ms, char *buf, size_t size)
{
	int64_t	 s = (cm_qfile_now_ms() - created_ms) / 1000;

	if (s < 0)
		s = 0;
	if (s < 120)
		(void)snprintf(buf, size, "%llds", (long long)s);
	else if (s < 7200)
		(void)snprintf(buf, size, "%lldm", (long long)(s / 60));
	else if (s < 172800)
		(void)snprintf(buf, size, "%lldh", (long long)(s / 3600));
	else
		(void)snprintf(buf, size, "%lldd", (long long)(s / 86400));
}

static json_t *
sv_op_item_json(const struct sv_op_item *it)
{
	char	*sum = it->proposal != NULL ? sv_op_summary(it->proposal) :
		    NULL;
	json_t	*o;

	o = json_pack("{s:s,s:s,s:s?,s:s?,s:s?,s:s,s:s}", "id", it->id,
	    "kind", it->proposal != NULL ? cm_qfile_kind_name(it->kind) :
	    "unknown", "bottle", json_string_value(json_object_get(
	    it->proposal, "bottle")), "created_at", json_string_value(
	    json_object_get(it->proposal, "created_at")), "expires_at",
	    json_string_value(json_object_get(it->proposal, "expires_at")),
	    "state", it->state, "summary", sum != NULL ? sum : "");
	free(sum);
	return (o);
}

static int
sv_op_list(struct sv_op *op)
{
	struct sv_op_item	*items;
	json_t			*arr;
	char			*sum, *line, age[16], row[512];
	size_t			 n, i;

	items = sv_op_items(op, &n);
	if (op->json) {
		arr = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(arr, sv_op_item_json(&items[i]));
		line = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (line != NULL)
			printf("%s\n", line);
		free(line);
		json_decref(arr);
		sv_op_items_free(items, n);
		return (SV_EXIT_OK);
	}
	if (n > 0)
		printf("%-29s %-18s %-8s %4s %-8s %s\n", "ID", "KIND",
		    "BOTTLE", "AGE", "STATE", "SUMMARY");
	for (i = 0; i < n; i++) {
		const struct sv_op_item *it = &items[i];
		char *bottle = sv_op_escape(sv_op_str(it->proposal, "bottle"),
		    0);

		sv_op_age(it->created_ms, age, sizeof(age));
		sum = it->proposal != NULL ? sv_op_summary(it->proposal) :
		    sv_op_escape(it->state, 0);
		(void)snprintf(row, sizeof(row), "%-29s %-18s %-8.8s %4s %-8s "
		    "%s", it->id, it->proposal != NULL ?
		    cm_qfile_kind_name(it->kind) : "?", bottle != NULL ?
		    bottle : "", it->proposal != NULL ? age : "", it->proposal
		    != NULL ? it->state : "malformed", sum != NULL ? sum : "");
		/* One row within 80 columns (the summary gets cut). */
		row[80] = '\0';
		printf("%s\n", row);
		free(sum);
		free(bottle);
	}
	sv_op_items_free(items, n);
	return (SV_EXIT_OK);
}

/* ---- show --------------------------------------------------------------- */

/* One route as routes.yaml lines, indented; escaped. */
static void
sv_op_print_route(FILE *fp, const json_t *route, const char *indent)
{
	struct cm_cfg_ctx	*cx = calloc(1, sizeof(*cx));
	struct evbuffer		*b = evbuffer_new();
	json_t			*doc;
	char			*text, *esc, *line, *save = NULL;
	size_t			 len;

	if (cx == NULL || b == NULL || !json_is_object(route)) {
		fprintf(fp, "%s(none)\n", indent);
		goto out;
	}
	cx->path = "route";
	doc = json_pack("{s:i,s:[O]}", "log", 0, "routes", route);
	if (cm_routes_json_render(doc, b, cx) == -1 ||
	    (len = evbuffer_get_length(b)) == 0) {
		/* Not a valid route: its JSON is shown instead. */
		text = json_dumps(route, JSON_COMPACT);
		esc = sv_op_escape(text, 0);
		fprintf(fp, "%s%s\n", indent, esc != NULL ? esc : "");
		free(esc);
		free(text);
		json_decref(doc);
		goto out;
	}
	json_decref(doc);
	text = malloc(len + 1);
	evbuffer_remove(b, text, len);
	text[len] = '\0';
	esc = sv_op_escape(text, 1);
	free(text);
	for (line = strtok_r(esc, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "log:", 4) == 0 ||
		    strncmp(line, "routes:", 7) == 0)
			continue;
		fprintf(fp, "%s%s\n", indent, line);
	}
	free(esc);
out:
	if (b != NULL)
		evbuffer_free(b);
	free(cx);
}

static void
sv_op_field(FILE *fp, const char *label, const char *value, int agent)
{
	char	*e = sv_op_escape(value, 0);

	fprintf(fp, "%-12s %s%s\n", label, agent ? "agent wrote: " : "",
	    e != NULL ? e : "");
	free(e);
}

static void
sv_op_block(FILE *fp, const char *label, const char *value)
{
	char	*e = sv_op_escape(value, 1), *line, *save = NULL;

	fprintf(fp, "%s (agent wrote):\n", label);
	for (line = strtok_r(e, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		fprintf(fp, "  | %s\n", line);
	free(e);
}

void
sv_op_print_proposal(struct sv_op *op, FILE *fp, const json_t *p,
    const char *state)
{
	const json_t	*pl = json_object_get(p, "payload"), *x;
	enum cm_qkind	 kind;
	char		*sum, *s;
	const char	*k;
	json_t		*v;
	size_t		 i;

	sv_op_field(fp, "id:", sv_op_str(p, "id"), 0);
	sv_op_field(fp, "kind:", sv_op_str(p, "kind"), 0);
	sv_op_field(fp, "bottle:", sv_op_str(p, "bottle"), 0);
	sv_op_field(fp, "source:", sv_op_str(p, "source"), 0);
	sv_op_field(fp, "created_at:", sv_op_str(p, "created_at"), 0);
	if (json_object_get(p, "expires_at") != NULL)
		sv_op_field(fp, "expires_at:", sv_op_str(p, "expires_at"), 0);
	sv_op_field(fp, "state:", state, 0);
	if ((sum = sv_op_summary(p)) != NULL)
		fprintf(fp, "%-12s %s\n", "summary:", sum);
	free(sum);
	if ((x = json_object_get(p, "client")) != NULL) {
		char	 buf[300];

		(void)snprintf(buf, sizeof(buf), "%s %s", sv_op_str(x, "name"),
		    sv_op_str(x, "version"));
		sv_op_field(fp, "client:", buf, 1);
	}
	if (json_is_string(json_object_get(p, "justification")))
		sv_op_block(fp, "justification", sv_op_str(p,
		    "justification"));
	if (cm_qfile_kind_parse(sv_op_str(p, "kind"), &kind) == -1)
		return;
	switch (kind) {
	case CM_QK_EGRESS_BLOCK:
		fprintf(fp, "proposed route (agent wrote):\n");
		sv_op_print_route(fp, json_object_get(pl, "route"), "  ");
		fprintf(fp, "route at proposal time:\n");
		sv_op_print_route(fp, json_object_get(pl, "existing_route"),
		    "  ");
		x = json_object_get(pl, "route");
		fprintf(fp, "advisory (never applied by approve):\n");
		if ((v = json_object_get(pl, "auth_request")) != NULL) {
			s = json_dumps(v, JSON_COMPACT);
			sv_op_field(fp, "  auth:", s, 1);
			free(s);
		}
		json_object_foreach((json_t *)x, k, v) {
			if (strcmp(k, "host") == 0 ||
			    strcmp(k, "matches") == 0 || strcmp(k, "git") == 0)
				continue;
			s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			fprintf(fp, "  %s: ", k);
			sv_op_field(fp, "", s, 1);
			free(s);
		}
		break;
	case CM_QK_CAPABILITY_BLOCK:
		if (json_object_get(pl, "description") != NULL)
			sv_op_block(fp, "description", sv_op_str(pl,
			    "description"));
		if (json_object_get(pl, "dockerfile") != NULL)
			sv_op_block(fp, "dockerfile", sv_op_str(pl,
			    "dockerfile"));
		break;
	default:
		/* Held traffic: every field, escaped. */
		json_object_foreach((json_t *)pl, k, v) {
			if (json_is_array(v)) {
				fprintf(fp, "%s:\n", k);
				for (i = 0; i < json_array_size(v); i++) {
					s = json_dumps(json_array_get(v, i),
					    JSON_COMPACT | JSON_ENCODE_ANY);
					sv_op_field(fp, "  -", s, 0);
					free(s);
				}
				continue;
			}
			s = json_is_string(v) ? strdup(json_string_value(v)) :
			    json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			{
				char	 label[64];

				(void)snprintf(label, sizeof(label), "%s:", k);
				sv_op_field(fp, label, s, 0);
			}
			free(s);
		}
		break;
	}
}

/* Reads a proposal from pending/ (1) or archive/ (2); 0 if neither. */
static int
sv_op_load(struct sv_op *op, const char *id, json_t **p, const char **why)
{
	char		 name[64], *buf;
	struct stat	 st;
	size_t		 len;
	int		 i;

	for (i = 0; i < 2; i++) {
		(void)snprintf(name, sizeof(name), i == 0 ? "%s.json" :
		    "%s.proposal.json", id);
		if (cm_qfile_read(i == 0 ? op->d.pending : op->d.archive, name,
		    CM_QUEUE_PROPOSAL_MAX_BYTES, &buf, &len, &st, why) != 0)
			continue;
		*p = cm_qfile_proposal_parse(buf, len, id, NULL, NULL, why);
		if (*p == NULL)
			*p = json_loadb(buf, len, 0, NULL);
		free(buf);
		return (i + 1);
	}
	return (0);
}

static json_t *
sv_op_response(struct sv_op *op, const char *id)
{
	char	 name[64], *buf;
	const char *why;
	struct stat st;
	size_t	 len;
	json_t	*r = NULL;

	(void)snprintf(name, sizeof(name), "%s.json", id);
	if (cm_qfile_read(op->d.responses, name, CM_QUEUE_RESPONSE_MAX_BYTES,
	    &buf, &len, &st, &why) == 0 ||
	    (snprintf(name, sizeof(name), "%s.response.json", id) > 0 &&
	    cm_qfile_read(op->d.archive, name, CM_QUEUE_RESPONSE_MAX_BYTES,
	    &buf, &len, &st, &why) == 0)) {
		r = json_loadb(buf, len, 0, NULL);
		free(buf);
	}
	return (r);
}

static int
sv_op_show(struct sv_op *op, const char *id)
{
	const char	*why = NULL, *change;
	json_t		*p = NULL, *resp, *out, *before, *after;
	char		 state[200], err[600], *s;
	int		 where, code;

	if (id == NULL || !cm_qfile_id_valid(id)) {
		fprintf(stderr, "bb-sidecar: supervise: bad proposal id\n");
		return (SV_EXIT_USAGE);
	}
	if ((where = sv_op_load(op, id, &p, &why)) == 0) {
		fprintf(stderr, "bb-sidecar: supervise: unknown proposal %s\n",
		    id);
		return (SV_EXIT_UNKNOWN);
	}
	resp = sv_op_response(op, id);
	if (where == 2)
		(void)snprintf(state, sizeof(state), "archived: %s",
		    resp != NULL ? sv_op_str(resp, "status") : "no response");
	else {
		struct sv_op_item it;

		memset(&it, 0, sizeof(it));
		cm_strlcpy(it.id, id, sizeof(it.id));
		it.proposal = p;
		if (cm_qfile_kind_parse(sv_op_str(p, "kind"), &it.kind) == -1 ||
		    why != NULL)
			(void)snprintf(state, sizeof(state), "malformed: %s",
			    why != NULL ? why : "unknown kind");
		else {
			sv_op_state(op, &it);
			cm_strlcpy(state, it.state, sizeof(state));
		}
	}
	if (op->json) {
		out = json_pack("{s:s,s:O?,s:O?}", "state", state, "proposal",
		    p, "response", resp);
		s = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (s != NULL)
			printf("%s\n", s);
		free(s);
		json_decref(out);
		json_decref(p);
		json_decref(resp);
		return (SV_EXIT_OK);
	}
	if (p != NULL)
		sv_op_print_proposal(op, stdout, p, state);
	if (where == 1 && op->config_dir != NULL &&
	    strcmp(sv_op_str(p, "kind"), "egress-block") == 0) {
		const json_t *route = json_object_get(json_object_get(p,
		    "payload"), "route");

		if (sv_op_merge(op->config_dir, route, 0, 1, &change, &before,
		    &after, err, sizeof(err), &code) == 0) {
			printf("approve would write (routes.yaml: %s):\n",
			    change);
			sv_op_print_route(stdout, after, "  ");
			if (json_object_get(after, "matches") == NULL &&
			    (json_is_null(before) || json_object_get(before,
			    "matches") != NULL))
				printf("  WIDENS TO ALL PATHS\n");
			json_decref(before);
			json_decref(after);
		} else
			printf("approve would fail: %s\n", err);
	}
	if (resp != NULL) {
		char *e;

		s = json_dumps(resp, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		e = sv_op_escape(s, 1);
		printf("response:\n%s\n", e != NULL ? e : "");
		free(e);
		free(s);
	} else
		printf("response:    none yet\n");
	json_decref(p);
	json_decref(resp);
	return (SV_EXIT_OK);
}

/* ---- main ---------------------------------------------------------------- */

static void
sv_op_default_by(struct sv_op *op)
{
	struct passwd	*pw;
	const char	*login = getenv("LOGNAME");
	char		 host[128];

	if (login == NULL || login[0] == '\0')
		login = getenv("USER");
	if ((login == NULL || login[0] == '\0') &&
	    (pw = getpwuid(getuid())) != NULL)
		login = pw->pw_name;
	if (gethostname(host, sizeof(host)) == -1)
		cm_strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	(void)snprintf(op->by, sizeof(op->by), "%.100s@%s", login != NULL ?
	    login : "unknown", host);
}

int
sv_operator_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state-dir", required_argument, NULL, SV_OPT_STATE },
		{ "config-dir", required_argument, NULL, SV_OPT_CONFIG },
		{ "by", required_argument, NULL, SV_OPT_BY },
		{ "json", no_argument, NULL, SV_OPT_JSON },
		{ "notes", required_argument, NULL, SV_OPT_NOTES },
		{ "payload", required_argument, NULL, SV_OPT_PAYLOAD },
		{ "help", no_argument, NULL, SV_OPT_HELP },
		{ NULL, 0, NULL, 0 }
	};
	struct sv_op	 op;
	const char	*notes = NULL, *payload = NULL, *cmd, *id;
	char		 path[PATH_MAX], err[PATH_MAX + 64];
	struct stat	 st;
	int		 c, rc;

	memset(&op, 0, sizeof(op));
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case SV_OPT_STATE:
			op.state_dir = optarg;
			break;
		case SV_OPT_CONFIG:
			op.config_dir = optarg;
			break;
		case SV_OPT_BY:
			cm_strlcpy(op.by, optarg, sizeof(op.by));
			break;
		case SV_OPT_JSON:
			op.json = 1;
			break;
		case SV_OPT_NOTES:
			notes = optarg;
			break;
		case SV_OPT_PAYLOAD:
			payload = optarg;
			break;
		case SV_OPT_HELP:
			sv_op_usage(stdout);
			return (SV_EXIT_OK);
		default:
			sv_op_usage(stderr);
			return (SV_EXIT_USAGE);
		}
	}
	if (optind >= argc) {
		sv_op_usage(stderr);
		return (SV_EXIT_USAGE);
	}
	cmd = argv[optind];
	id = optind + 1 < argc ? argv[optind + 1] : NULL;
	if (optind + 2 < argc) {
		fprintf(stderr, "bb-sidecar: supervise: unexpected argument "
		    "\"%s\"\n", argv[optind + 2]);
		return (SV_EXIT_USAGE);
	}
	if (op.state_dir == NULL) {
		fprintf(stderr, "bb-sidecar: supervise: --state-dir is "
		    "required\n");
		return (SV_EXIT_USAGE);
	}
	if (strcmp(cmd, "list") != 0 && strcmp(cmd, "show") != 0 &&
	    strcmp(cmd, "approve") != 0 && strcmp(cmd, "modify") != 0 &&
	    strcmp(cmd, "reject") != 0 && strcmp(cmd, "watch") != 0) {
		fprintf(stderr, "bb-sidecar: supervise: unknown command "
		    "\"%s\"\n", cmd);
		sv_op_usage(stderr);
		return (SV_EXIT_USAGE);
	}
	(void)snprintf(path, sizeof(path), "%s/supervise", op.state_dir);
	if (stat(path, &st) == -1 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "bb-sidecar: supervise: no approval queue "
		    "in %s (is the bottle's state dir mounted?)\n",
		    op.state_dir);
		return (SV_EXIT_IO);
	}
	if (cm_qfile_dirs_open(op.state_dir, 0, &op.d, err, sizeof(err)) ==
	    -1) {
		fprintf(stderr, "bb-sidecar: supervise: %s\n", err);
		return (SV_EXIT_IO);
	}
	if (op.by[0] == '\0')
		sv_op_default_by(&op);
	umask(077);
	if (strcmp(cmd, "list") == 0)
		rc = sv_op_list(&op);
	else if (strcmp(cmd, "show") == 0)
		rc = sv_op_show(&op, id);
	else if (strcmp(cmd, "watch") == 0)
		rc = sv_op_watch(&op);
	else if (id == NULL) {
		fprintf(stderr, "bb-sidecar: supervise: %s needs an ID\n", cmd);
		rc = SV_EXIT_USAGE;
	} else if (strcmp(cmd, "approve") == 0)
		rc = sv_op_decide(&op, SV_OP_APPROVE, id, notes, NULL);
	else if (strcmp(cmd, "modify") == 0) {
		if (payload == NULL) {
			fprintf(stderr, "bb-sidecar: supervise: modify needs "
			    "--payload FILE\n");
			rc = SV_EXIT_USAGE;
		} else
			rc = sv_op_decide(&op, SV_OP_MODIFY, id, notes,
			    payload);
	} else
		rc = sv_op_decide(&op, SV_OP_REJECT, id, notes, NULL);
	cm_qfile_dirs_close(&op.d);
	return (rc);
}
