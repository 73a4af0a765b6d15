/*
 * Merging an approved egress-block into CONFIG/routes.yaml
 * (spec/supervise.md §6.3).  The file is read with the routes parser
 * (never merged into when broken), edited in its JSON form, rendered
 * canonically by the routes module (which re-parses its own output and
 * insists on getting the same model back), and renamed into place with
 * the old file's mode and owner, so the sidecar never reads half a
 * file.  Agent auth, DLP and other advisory keys are never applied.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <openssl/rand.h>

#include "common/routes.h"
#include "common/util.h"
#include "common/yaml.h"
#include "supervise/op.h"
#include "supervise/sv.h"

/* approve, host present: widen matches and git.fetch only. */
static const char *
sv_op_widen(json_t *cur, const json_t *route)
{
	json_t		*em = json_object_get(cur, "matches");
	const json_t	*pm = json_object_get(route, "matches");
	json_t		*git;
	size_t		 i;
	int		 changed = 0;

	/* Without matches the route already allows every path. */
	if (json_array_size(em) > 0) {
		if (json_array_size(pm) == 0) {
			(void)json_object_del(cur, "matches");
			changed = 1;
		} else {
			for (i = 0; i < json_array_size(pm); i++) {
				if (sv_match_in(json_array_get(pm, i), em))
					continue;
				json_array_append(em, json_array_get(pm, i));
				changed = 1;
			}
		}
	}
	if (json_is_true(json_object_get(json_object_get(route, "git"),
	    "fetch")) && !json_is_true(json_object_get(json_object_get(cur,
	    "git"), "fetch"))) {
		if ((git = json_object_get(cur, "git")) == NULL) {
			/* Keep the file's key order: git before dlp and on. */
			json_t	*copy = json_object(), *v;
			const char *k;
			int	 placed = 0;

			json_object_foreach(cur, k, v) {
				if (!placed && (strcmp(k, "dlp") == 0 ||
				    strcmp(k, "max_body_bytes") == 0 ||
				    strcmp(k, "on_oversize") == 0 ||
				    strcmp(k, "allow_private") == 0)) {
					json_object_set_new(copy, "git",
					    json_pack("{s:b}", "fetch", 1));
					placed = 1;
				}
				json_object_set(copy, k, v);
			}
			if (!placed)
				json_object_set_new(copy, "git",
				    json_pack("{s:b}", "fetch", 1));
			json_object_clear(cur);
			json_object_update(cur, copy);
			json_decref(copy);
		} else
			json_object_set_new(git, "fetch", json_true());
		changed = 1;
	}
	return (changed ? "widened" : "unchanged");
}

/* temp + fsync + rename in dir, with the old file's mode and owner. */
static int
sv_op_write_routes(const char *dir, const char *path, const struct stat *old,
    struct evbuffer *text, char *err, size_t errlen)
{
	unsigned char	 rnd[4];
	char		 tmp[PATH_MAX];
	size_t		 len = evbuffer_get_length(text);
	int		 fd, dfd;

	(void)RAND_bytes(rnd, sizeof(rnd));
	(void)snprintf(tmp, sizeof(tmp), "%s/.routes.yaml.tmp-%ld-%02x%02x%02x"
	    "%02x", dir, (long)getpid(), rnd[0], rnd[1], rnd[2], rnd[3]);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1)
		goto fail;
	if (cm_write_all(fd, evbuffer_pullup(text, -1), len) == -1 ||
	    fchmod(fd, old->st_mode & 07777) == -1 ||
	    ((old->st_uid != geteuid() || old->st_gid != getegid()) &&
	    fchown(fd, old->st_uid, old->st_gid) == -1) || fsync(fd) == -1) {
		int saved = errno;

		(void)close(fd);
		(void)unlink(tmp);
		errno = saved;
		goto fail;
	}
	if (close(fd) == -1 || rename(tmp, path) == -1) {
		int saved = errno;

		(void)unlink(tmp);
		errno = saved;
		goto fail;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)fsync(dfd);
		(void)close(dfd);
	}
	return (0);
fail:
	(void)snprintf(err, errlen, "%s: %s", path, strerror(errno));
	return (-1);
}

int
sv_op_merge(const char *config_dir, const json_t *route, int replace,
    int dry_run, const char **change, json_t **before, json_t **after,
    char *err, size_t errlen, int *code)
{
	struct cm_cfg_ctx	*cx;
	struct cm_routes	*routes = NULL;
	struct evbuffer		*text = NULL;
	struct stat		 st;
	const char		*host = json_string_value(json_object_get(route,
				    "host"));
	char			 path[PATH_MAX];
	json_t			*doc = NULL, *arr, *cur;
	size_t			 idx;
	int			 rc = -1;

	*change = NULL;
	*before = *after = NULL;
	*code = SV_EXIT_MALFORMED;
	if ((cx = calloc(1, sizeof(*cx))) == NULL || host == NULL) {
		(void)snprintf(err, errlen, "no route to merge");
		goto out;
	}
	cx->path = "routes.yaml";
	(void)snprintf(path, sizeof(path), "%s/routes.yaml", config_dir);
	if (stat(path, &st) == -1) {
		(void)snprintf(err, errlen, "%s: %s: the merge needs the "
		    "current routes.yaml", path, strerror(errno));
		goto out;
	}
	/* Never merge into a broken file. */
	if ((routes = cm_routes_load(cx, path)) == NULL) {
		(void)snprintf(err, errlen, "%s", cx->nerrors > 0 ?
		    cx->errors[0] : "routes.yaml: invalid");
		goto out;
	}
	if ((doc = cm_routes_json(routes)) == NULL ||
	    (arr = json_object_get(doc, "routes")) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (cm_routes_find(routes, host, &idx) == 0) {
		*before = json_deep_copy(json_array_get(arr, idx));
		if (replace) {
			cur = json_deep_copy(route);
			*change = "replaced";
		} else {
			cur = json_deep_copy(*before);
			*change = sv_op_widen(cur, route);
		}
		json_array_set_new(arr, idx, cur);
	} else {
		*before = json_null();
		if (replace)
			cur = json_deep_copy(route);
		else {
			/* A new host: no agent auth, DLP or limits. */
			cur = json_pack("{s:s}", "host", host);
			if (json_object_get(route, "matches") != NULL)
				json_object_set(cur, "matches",
				    json_object_get(route, "matches"));
			if (json_object_get(route, "git") != NULL)
				json_object_set(cur, "git",
				    json_object_get(route, "git"));
		}
		json_array_append_new(arr, cur);
		*change = "appended";
	}
	*after = json_deep_copy(cur);
	if (dry_run || strcmp(*change, "unchanged") == 0) {
		*code = 0;
		rc = 0;
		goto out;
	}
	text = evbuffer_new();
	cx->nerrors = 0;
	if (text == NULL || cm_routes_json_render(doc, text, cx) == -1) {
		(void)snprintf(err, errlen, "the merged routes.yaml does not "
		    "validate: %s", cx->nerrors > 0 ? cx->errors[0] :
		    "unknown");
		goto out;
	}
	*code = SV_EXIT_IO;
	if (sv_op_write_routes(config_dir, path, &st, text, err, errlen) == -1)
		goto out;
	fprintf(stderr, "bb-sidecar: supervise: routes.yaml rewritten "
	    "canonically (comments are not kept)\n");
	*code = 0;
	rc = 0;
out:
	if (rc == -1) {
		json_decref(*before);
		json_decref(*after);
		*before = *after = NULL;
	}
	if (text != NULL)
		evbuffer_free(text);
	json_decref(doc);
	cm_routes_free(routes);
	free(cx);
	return (rc);
}
