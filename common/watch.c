#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bounds.h"
#include "common/util.h"
#include "common/watch.h"

/* The state of every watched file folded into two numbers. */
struct cm_watch_state {
	uint64_t	 meta;		/* names, size, mtime, inode */
	uint64_t	 content;	/* names and bytes */
};

struct cm_watch {
	char			*dir;		/* owned */
	char			*extra;		/* owned, may be NULL */
	struct cm_watch_state	 loaded;	/* what the snapshot holds */
	struct cm_watch_state	 last;		/* the previous poll */
	int			 have_last;
};

#define CM_FNV_OFFSET	0xcbf29ce484222325ULL
#define CM_FNV_PRIME	0x100000001b3ULL

static uint64_t
cm_watch_fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n-- > 0) {
		h ^= *b++;
		h *= CM_FNV_PRIME;
	}
	return (h);
}

static void
cm_watch_file(struct cm_watch_state *st, const char *path)
{
	struct stat	 sb;
	char		 buf[8192];
	ssize_t		 r;
	size_t		 total = 0;
	int		 fd;

	st->meta = cm_watch_fnv(st->meta, path, strlen(path) + 1);
	st->content = cm_watch_fnv(st->content, path, strlen(path) + 1);
	/* stat follows symlinks: a Kubernetes ..data swap shows up. */
	if (stat(path, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		st->meta = cm_watch_fnv(st->meta, "-", 1);
		return;
	}
	st->meta = cm_watch_fnv(st->meta, &sb.st_size, sizeof(sb.st_size));
	st->meta = cm_watch_fnv(st->meta, &sb.st_mtim, sizeof(sb.st_mtim));
	st->meta = cm_watch_fnv(st->meta, &sb.st_ino, sizeof(sb.st_ino));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	while (total < CM_MAX_CFG_FILE_BYTES &&
	    (r = read(fd, buf, sizeof(buf))) > 0) {
		st->content = cm_watch_fnv(st->content, buf, (size_t)r);
		total += (size_t)r;
	}
	explicit_bzero(buf, sizeof(buf));	/* secrets/ passes here */
	(void)close(fd);
}

static int
cm_watch_cmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

/* Every non-dot entry of dir, in name order so the hash is stable. */
static void
cm_watch_dir(struct cm_watch_state *st, const char *dir, int recurse)
{
	DIR		*d;
	struct dirent	*de;
	char		**names = NULL, path[PATH_MAX];
	size_t		 n = 0, cap = 0, i;
	struct stat	 sb;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char **nn;

		size_t	 nl = strlen(de->d_name);

		/* Writers' temp files (bundle.md §4.4) are not config. */
		if (de->d_name[0] == '.' || (nl > 4 &&
		    strcmp(de->d_name + nl - 4, ".tmp") == 0))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if (cap > 4096 || (nn = realloc(names,
			    cap * sizeof(*names))) == NULL)
				break;
			names = nn;
		}
		if ((names[n] = strdup(de->d_name)) != NULL)
			n++;
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), cm_watch_cmp);
	for (i = 0; i < n; i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (recurse && strcmp(names[i], "secrets") == 0 &&
		    stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
			cm_watch_dir(st, path, 0);
		else
			cm_watch_file(st, path);
		free(names[i]);
	}
	free(names);
}

static void
cm_watch_scan(struct cm_watch *w, struct cm_watch_state *st)
{
	st->meta = CM_FNV_OFFSET;
	st->content = CM_FNV_OFFSET;
	cm_watch_dir(st, w->dir, 1);
	if (w->extra != NULL)
		cm_watch_file(st, w->extra);
}

struct cm_watch *
cm_watch_new(const char *config_dir, const char *extra)
{
	struct cm_watch	*w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return (NULL);
	w->dir = strdup(config_dir);
	w->extra = extra != NULL ? strdup(extra) : NULL;
	if (w->dir == NULL || (extra != NULL && w->extra == NULL)) {
		cm_watch_free(w);
		return (NULL);
	}
	cm_watch_scan(w, &w->loaded);
	w->last = w->loaded;
	w->have_last = 1;
	return (w);
}

void
cm_watch_free(struct cm_watch *w)
{
	if (w == NULL)
		return;
	free(w->dir);
	free(w->extra);
	free(w);
}

int
cm_watch_poll(struct cm_watch *w)
{
	struct cm_watch_state	 now;
	int			 settled;

	cm_watch_scan(w, &now);
	settled = w->have_last && now.meta == w->last.meta &&
	    now.content == w->last.content;
	w->last = now;
	w->have_last = 1;
	if (!settled)
		return (0);
	if (now.content == w->loaded.content) {
		w->loaded = now;	/* touched, not changed */
		return (0);
	}
	return (1);
}

void
cm_watch_loaded(struct cm_watch *w)
{
	w->loaded = w->last;
}

void
cm_watch_resync(struct cm_watch *w)
{
	cm_watch_scan(w, &w->last);
	w->have_last = 1;
}
