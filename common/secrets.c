/*
 * Known secrets.  Values live in pages marked MADV_DONTDUMP so a core
 * dump cannot carry them; the environment copies are wiped in place,
 * which also clears them from /proc/PID/environ.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bounds.h"
#include "common/secrets.h"
#include "common/yaml.h"

extern char **environ;

/* A value and its name, in dump-excluded memory. */
struct cm_secret_cell {
	struct cm_secret	 pub;
	char			*name;		/* owned (malloc) */
	unsigned char		*bytes;		/* owned (mmap) */
	size_t			 maplen;
};

struct cm_secrets {
	atomic_int		 refs;
	size_t			 n;
	struct cm_secret	*items;		/* views of env cells + own */
	struct cm_secret_cell	*own;		/* files, owned */
	size_t			 nown;
};

/* Env captures live for the process; guarded by cm_secrets_lock. */
static pthread_mutex_t		 cm_secrets_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cm_secret_cell	 cm_secrets_env[CM_MAX_SECRETS];
static size_t			 cm_secrets_nenv;

static unsigned char *
cm_secrets_alloc(size_t len, size_t *maplen)
{
	long		 page = sysconf(_SC_PAGESIZE);
	size_t		 n;
	void		*p;

	if (page <= 0)
		page = 4096;
	n = (len + 1 + (size_t)page - 1) / (size_t)page * (size_t)page;
	p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	    -1, 0);
	if (p == MAP_FAILED)
		return (NULL);
	(void)madvise(p, n, MADV_DONTDUMP);
	(void)mlock(p, n);	/* best effort: never swapped when allowed */
	*maplen = n;
	return (p);
}

static void
cm_secrets_cell_free(struct cm_secret_cell *c)
{
	if (c->bytes != NULL) {
		explicit_bzero(c->bytes, c->maplen);
		(void)munmap(c->bytes, c->maplen);
	}
	free(c->name);
	memset(c, 0, sizeof(*c));
}

static int
cm_secrets_cell_set(struct cm_secret_cell *c, const char *name,
    const void *val, size_t len)
{
	memset(c, 0, sizeof(*c));
	if ((c->name = strdup(name)) == NULL ||
	    (c->bytes = cm_secrets_alloc(len, &c->maplen)) == NULL) {
		free(c->name);
		c->name = NULL;
		return (-1);
	}
	memcpy(c->bytes, val, len);
	c->pub.name = c->name;
	c->pub.bytes = c->bytes;
	c->pub.len = len;
	return (0);
}

static int
cm_secrets_have(const char *name)
{
	size_t	 i;

	for (i = 0; i < cm_secrets_nenv; i++)
		if (strcmp(cm_secrets_env[i].name, name) == 0)
			return (1);
	return (0);
}

/* Copies NAME=value at environ[i], wipes it, unsets it.  Lock held. */
static int
cm_secrets_take(char *entry)
{
	char	*eq = strchr(entry, '=');
	char	 name[256];
	size_t	 nl, vl;

	if (eq == NULL || (nl = (size_t)(eq - entry)) >= sizeof(name) ||
	    cm_secrets_nenv == CM_MAX_SECRETS)
		return (0);
	memcpy(name, entry, nl);
	name[nl] = '\0';
	if (cm_secrets_have(name))
		return (0);
	vl = strlen(eq + 1);
	if (vl > CM_MAX_SECRET_BYTES)
		vl = CM_MAX_SECRET_BYTES;
	if (cm_secrets_cell_set(&cm_secrets_env[cm_secrets_nenv], name,
	    eq + 1, vl) == -1)
		return (0);
	cm_secrets_nenv++;
	/* The original block is what /proc/PID/environ shows: wipe it. */
	explicit_bzero(eq + 1, strlen(eq + 1));
	(void)unsetenv(name);
	return (1);
}

static int
cm_secrets_prefixed(const char *entry, const char *prefixes)
{
	const char	*p = prefixes, *e;
	size_t		 n;

	while (*p != '\0') {
		while (*p == ',' || *p == ' ')
			p++;
		e = p;
		while (*e != '\0' && *e != ',' && *e != ' ')
			e++;
		n = (size_t)(e - p);
		if (n > 0 && strncmp(entry, p, n) == 0 &&
		    strchr(entry, '=') > entry + n - 1)
			return (1);
		p = e;
	}
	return (0);
}

size_t
cm_secrets_capture_env(void)
{
	char	*prefixes = NULL, *pv;
	size_t	 n = 0, i;
	int	 again;

	if ((pv = getenv("BOT_BOTTLE_SENSITIVE_PREFIXES")) != NULL)
		prefixes = strdup(pv);
	pthread_mutex_lock(&cm_secrets_lock);
	/* unsetenv reshuffles environ: rescan after each take. */
	do {
		again = 0;
		for (i = 0; environ != NULL && environ[i] != NULL; i++) {
			char *e = environ[i];

			if (strncmp(e, "EGRESS_TOKEN_", 13) != 0 &&
			    (prefixes == NULL ||
			    !cm_secrets_prefixed(e, prefixes)))
				continue;
			if (strncmp(e, "EGRESS_TOKEN_ALLOW_TIMEOUT_SECONDS=",
			    35) == 0)
				continue;	/* a setting, not a secret */
			if (cm_secrets_take(e)) {
				n++;
				again = 1;
				break;
			}
		}
	} while (again);
	pthread_mutex_unlock(&cm_secrets_lock);
	free(prefixes);
	return (n);
}

int
cm_secrets_capture_name(const char *name)
{
	size_t	 i, nl = strlen(name);
	int	 rc = 0;

	pthread_mutex_lock(&cm_secrets_lock);
	if (cm_secrets_have(name)) {
		pthread_mutex_unlock(&cm_secrets_lock);
		return (1);
	}
	for (i = 0; environ != NULL && environ[i] != NULL; i++)
		if (strncmp(environ[i], name, nl) == 0 &&
		    environ[i][nl] == '=') {
			rc = cm_secrets_take(environ[i]);
			break;
		}
	pthread_mutex_unlock(&cm_secrets_lock);
	return (rc);
}

void
cm_secrets_harden(void)
{
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

static int
cm_secrets_name_ok(const char *s)
{
	if (s[0] == '.' || s[0] == '\0')
		return (0);
	for (; *s != '\0'; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' ||
		    *s == '.'))
			return (0);
	return (1);
}

static int
cm_secrets_read_file(struct cm_secrets *s, const char *dir, const char *name,
    struct cm_cfg_ctx *cx)
{
	char		 path[PATH_MAX + NAME_MAX + 2];
	unsigned char	 buf[CM_MAX_SECRET_BYTES + 1];
	ssize_t		 r;
	size_t		 len = 0;
	int		 fd;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		cm_cfg_error(cx, NULL, name, "cannot read: %s", strerror(errno));
		return (-1);
	}
	while ((r = read(fd, buf + len, sizeof(buf) - len)) > 0)
		len += (size_t)r;
	(void)close(fd);
	if (r < 0 || len > CM_MAX_SECRET_BYTES) {
		explicit_bzero(buf, sizeof(buf));
		cm_cfg_error(cx, NULL, name, r < 0 ? "read failed" :
		    "larger than %d bytes", CM_MAX_SECRET_BYTES);
		return (-1);
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	if (cm_secrets_cell_set(&s->own[s->nown], name, buf, len) == -1) {
		explicit_bzero(buf, sizeof(buf));
		return (-1);
	}
	explicit_bzero(buf, sizeof(buf));
	s->nown++;
	return (0);
}

struct cm_secrets *
cm_secrets_build(const char *config_dir, struct cm_cfg_ctx *cx)
{
	struct cm_secrets	*s;
	char			 dir[PATH_MAX];
	DIR			*d;
	struct dirent		*de;
	size_t			 i, before = cx->nerrors;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return (NULL);
	atomic_init(&s->refs, 1);
	s->own = calloc(CM_MAX_SECRETS, sizeof(*s->own));
	s->items = calloc(CM_MAX_SECRETS * 2, sizeof(*s->items));
	if (s->own == NULL || s->items == NULL) {
		cm_secrets_unref(s);
		return (NULL);
	}
	(void)snprintf(dir, sizeof(dir), "%s/secrets", config_dir);
	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			struct stat st;
			char	 p[PATH_MAX + NAME_MAX + 2];

			if (!cm_secrets_name_ok(de->d_name))
				continue;	/* dotfiles: k8s ..data links */
			(void)snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
			if (stat(p, &st) == -1 || !S_ISREG(st.st_mode))
				continue;
			if (s->nown == CM_MAX_SECRETS) {
				cm_cfg_error(cx, NULL, "secrets",
				    "more than %d files", CM_MAX_SECRETS);
				break;
			}
			(void)cm_secrets_read_file(s, dir, de->d_name, cx);
		}
		closedir(d);
	}
	if (cx->nerrors > before) {
		cm_secrets_unref(s);
		return (NULL);
	}
	pthread_mutex_lock(&cm_secrets_lock);
	for (i = 0; i < cm_secrets_nenv; i++)
		s->items[s->n++] = cm_secrets_env[i].pub;
	pthread_mutex_unlock(&cm_secrets_lock);
	for (i = 0; i < s->nown; i++)
		s->items[s->n++] = s->own[i].pub;
	return (s);
}

struct cm_secrets *
cm_secrets_ref(struct cm_secrets *s)
{
	if (s != NULL)
		atomic_fetch_add(&s->refs, 1);
	return (s);
}

void
cm_secrets_unref(struct cm_secrets *s)
{
	size_t	 i;

	if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	for (i = 0; s->own != NULL && i < s->nown; i++)
		cm_secrets_cell_free(&s->own[i]);
	free(s->own);
	free(s->items);
	free(s);
}

size_t
cm_secrets_count(const struct cm_secrets *s)
{
	return (s == NULL ? 0 : s->n);
}

const struct cm_secret *
cm_secrets_get(const struct cm_secrets *s, size_t i)
{
	return (i < s->n ? &s->items[i] : NULL);
}

const struct cm_secret *
cm_secrets_find(const struct cm_secrets *s, const char *name)
{
	size_t	 i;

	if (s == NULL)
		return (NULL);
	/* Files win over the environment: the launcher's newer choice. */
	for (i = s->n; i > 0; i--)
		if (strcmp(s->items[i - 1].name, name) == 0)
			return (&s->items[i - 1]);
	return (NULL);
}
