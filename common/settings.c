/*
 * sidecar.yaml against the key table.  The walk is generic: a mapping
 * key is accepted when it is a table key, a special key below, or a
 * section some key lives under; everything else is "unknown key".
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "common/settings.h"
#include "common/util.h"
#include "common/yaml.h"

enum cm_set_type { CM_T_INT, CM_T_BOOL, CM_T_FLOAT };

struct cm_setting_def {
	const char	*key;
	enum cm_set_type type;
	long long	 def, min, max;
	int		 restart;
	const char	*help;
};

static const struct cm_setting_def cm_settings_defs[CM_S_COUNT] = {
#define CM_X(id, k, t, d, lo, hi, r, h) \
	[CM_S_##id] = { k, CM_T_##t, d, lo, hi, r, h },
	CM_SETTINGS_INT(CM_X)
#undef CM_X
};

static const char *const cm_listen_keys[CM_L_COUNT] = {
	[CM_L_CONTROL] = "control.listen",
	[CM_L_EGRESS] = "egress.listen",
	[CM_L_SUPERVISE] = "supervise.listen",
	[CM_L_GITGATE_GIT] = "gitgate.listen_git",
	[CM_L_GITGATE_HTTP] = "gitgate.listen_http",
};

static const int cm_listen_ports[CM_L_COUNT] = {
	[CM_L_CONTROL] = 9101,
	[CM_L_EGRESS] = 9099,
	[CM_L_SUPERVISE] = 9100,
	[CM_L_GITGATE_GIT] = 9418,
	[CM_L_GITGATE_HTTP] = 9420,
};

/* Keys that are not scalars of the table. */
static const char *const cm_settings_special[] = {
	"log_level", "egress.upstream_ca_file", "egress.resolve",
	"egress.resolver.nameservers", "supervise.bottle",
	"supervise.allowed_origins", NULL
};

static const char *const cm_log_level_names[] = {
	"debug", "info", "warn", "error", NULL
};

const char *
cm_listen_key(enum cm_listen_id id)
{
	return (cm_listen_keys[id]);
}

static void
cm_settings_default_listen(struct cm_settings *s)
{
	int	 i;

	for (i = 0; i < CM_L_COUNT; i++) {
		struct cm_listen *l = &s->listen[i];

		memset(l, 0, sizeof(*l));
		if (i == CM_L_CONTROL) {
			(void)cm_strlcpy(l->a[0].host, "127.0.0.1",
			    sizeof(l->a[0].host));
			l->a[0].port = cm_listen_ports[i];
			l->n = 1;
			continue;
		}
		(void)cm_strlcpy(l->a[0].host, "0.0.0.0", sizeof(l->a[0].host));
		(void)cm_strlcpy(l->a[1].host, "::", sizeof(l->a[1].host));
		l->a[0].port = l->a[1].port = cm_listen_ports[i];
		l->n = 2;
	}
}

struct cm_settings *
cm_settings_new(void)
{
	struct cm_settings	*s;
	int			 i;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return (NULL);
	for (i = 0; i < CM_S_COUNT; i++)
		s->v[i] = cm_settings_defs[i].def;
	s->log_level = CM_LOG_INFO;
	cm_settings_default_listen(s);
	return (s);
}

static void
cm_settings_free_strv(char **v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
cm_settings_free(struct cm_settings *s)
{
	size_t	 i;

	if (s == NULL)
		return;
	free(s->upstream_ca_file);
	for (i = 0; i < s->nresolve; i++) {
		free(s->resolve[i].host);
		free(s->resolve[i].addrs);
	}
	free(s->resolve);
	cm_settings_free_strv(s->nameservers, s->nnameservers);
	free(s->bottle);
	cm_settings_free_strv(s->allowed_origins, s->nallowed_origins);
	free(s);
}

int
cm_addr_parse(const char *str, struct cm_addr *out, const char **why)
{
	const char	*colon, *hs, *he;
	char		*end;
	unsigned char	 bin[16];
	long		 port;
	size_t		 hl;

	memset(out, 0, sizeof(*out));
	if (str[0] == '[') {
		hs = str + 1;
		if ((he = strchr(hs, ']')) == NULL || he[1] != ':') {
			*why = "expected [v6]:port";
			return (-1);
		}
		colon = he + 1;
	} else {
		hs = str;
		if ((colon = strrchr(str, ':')) == NULL) {
			*why = "expected addr:port";
			return (-1);
		}
		he = colon;
		if (memchr(hs, ':', (size_t)(he - hs)) != NULL) {
			*why = "an IPv6 address needs brackets: [addr]:port";
			return (-1);
		}
	}
	hl = (size_t)(he - hs);
	if (hl == 0 || hl >= sizeof(out->host)) {
		*why = "the address is empty or too long";
		return (-1);
	}
	memcpy(out->host, hs, hl);
	out->host[hl] = '\0';
	if (inet_pton(AF_INET, out->host, bin) != 1 &&
	    inet_pton(AF_INET6, out->host, bin) != 1) {
		*why = "the address must be an IP literal";
		return (-1);
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || port < 0 ||
	    port > 65535 || !isdigit((unsigned char)colon[1])) {
		*why = "the port must be 0..65535";
		return (-1);
	}
	out->port = (int)port;
	return (0);
}

const char *
cm_addr_fmt(const struct cm_addr *a, char *buf, size_t size)
{
	if (strchr(a->host, ':') != NULL)
		(void)snprintf(buf, size, "[%s]:%d", a->host, a->port);
	else
		(void)snprintf(buf, size, "%s:%d", a->host, a->port);
	return (buf);
}

int
cm_settings_listen_flag(struct cm_settings *s, enum cm_listen_id id,
    const char *arg, const char **why)
{
	struct cm_listen	 l;
	char			*copy, *tok, *save = NULL;
	int			 rc = 0;

	memset(&l, 0, sizeof(l));
	if ((copy = strdup(arg)) == NULL) {
		*why = "out of memory";
		return (-1);
	}
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (l.n == CM_MAX_LISTEN_ADDRS) {
			*why = "too many addresses";
			rc = -1;
			break;
		}
		if (cm_addr_parse(tok, &l.a[l.n], why) == -1) {
			rc = -1;
			break;
		}
		l.n++;
	}
	free(copy);
	if (rc == 0 && l.n == 0) {
		*why = "no address given";
		rc = -1;
	}
	if (rc == 0)
		s->listen[id] = l;
	return (rc);
}

static int
cm_settings_find(const char *key)
{
	int	 i;

	for (i = 0; i < CM_S_COUNT; i++)
		if (strcmp(cm_settings_defs[i].key, key) == 0)
			return (i);
	return (-1);
}

static int
cm_settings_is_listen(const char *key)
{
	int	 i;

	for (i = 0; i < CM_L_COUNT; i++)
		if (strcmp(cm_listen_keys[i], key) == 0)
			return (i);
	return (-1);
}

static int
cm_settings_is_special(const char *key)
{
	size_t	 i;

	for (i = 0; cm_settings_special[i] != NULL; i++)
		if (strcmp(cm_settings_special[i], key) == 0)
			return (1);
	return (0);
}

/* Some key lives below section (e.g. "egress.limits"). */
static int
cm_settings_is_section(const char *section)
{
	size_t	 n = strlen(section);
	int	 i;
	size_t	 j;

	for (i = 0; i < CM_S_COUNT; i++)
		if (strncmp(cm_settings_defs[i].key, section, n) == 0 &&
		    cm_settings_defs[i].key[n] == '.')
			return (1);
	for (i = 0; i < CM_L_COUNT; i++)
		if (strncmp(cm_listen_keys[i], section, n) == 0 &&
		    cm_listen_keys[i][n] == '.')
			return (1);
	for (j = 0; cm_settings_special[j] != NULL; j++)
		if (strncmp(cm_settings_special[j], section, n) == 0 &&
		    cm_settings_special[j][n] == '.')
			return (1);
	return (0);
}

/* A plain decimal with up to three fractional digits, times 1000. */
static int
cm_settings_parse_milli(const char *s, long long *out)
{
	long long	 ip = 0, fp = 0;
	int		 digits = 0, fd = 0;

	for (; isdigit((unsigned char)*s); s++, digits++) {
		if (ip > 1000000000LL)
			return (-1);
		ip = ip * 10 + (*s - '0');
	}
	if (*s == '.') {
		for (s++; isdigit((unsigned char)*s); s++, fd++) {
			if (fd < 3)
				fp = fp * 10 + (*s - '0');
		}
		if (fd == 0)
			return (-1);
	}
	if (*s != '\0' || digits == 0)
		return (-1);
	for (; fd < 3; fd++)
		fp *= 10;
	*out = ip * 1000 + fp;
	return (0);
}

static void
cm_settings_scalar(struct cm_cfg_ctx *cx, struct cm_settings *s, int id,
    const struct cm_ynode *n, const char *key)
{
	const struct cm_setting_def *d = &cm_settings_defs[id];
	long long	 v;
	int		 b;

	switch (d->type) {
	case CM_T_INT:
		if (cm_y_int(cx, n, key, d->min, d->max, &v) == 0)
			s->v[id] = v;
		break;
	case CM_T_BOOL:
		if (cm_y_bool(cx, n, key, &b) == 0)
			s->v[id] = b;
		break;
	case CM_T_FLOAT:
		if ((n->type != CM_Y_INT && n->type != CM_Y_STR) || n->quoted ||
		    cm_settings_parse_milli(n->str, &v) == -1) {
			cm_cfg_error(cx, n, key, "expected a number like 5.5");
			break;
		}
		if (v < d->min || v > d->max) {
			cm_cfg_error(cx, n, key,
			    "must be between %lld.%03lld and %lld.%03lld",
			    d->min / 1000, d->min % 1000, d->max / 1000,
			    d->max % 1000);
			break;
		}
		s->v[id] = v;
		break;
	}
}

static int
cm_settings_strv(struct cm_cfg_ctx *cx, const struct cm_ynode *n,
    const char *key, char ***out, size_t *nout)
{
	char		 path[256];
	const char	*str;
	size_t		 i;
	char		**v;

	if (cm_y_want(cx, n, key, CM_Y_SEQ) == -1)
		return (-1);
	if ((v = calloc(n->n + 1, sizeof(*v))) == NULL)
		return (-1);
	for (i = 0; i < n->n; i++) {
		cm_y_path_idx(path, sizeof(path), key, i);
		if (cm_y_str(cx, n->items[i], path, &str) == -1 ||
		    (v[i] = strdup(str)) == NULL) {
			cm_settings_free_strv(v, i);
			return (-1);
		}
	}
	cm_settings_free_strv(*out, *nout);
	*out = v;
	*nout = n->n;
	return (0);
}

static void
cm_settings_listen(struct cm_cfg_ctx *cx, struct cm_settings *s, int id,
    const struct cm_ynode *n, const char *key)
{
	struct cm_listen	 l;
	char			 path[256];
	const char		*str, *why;
	size_t			 i;

	memset(&l, 0, sizeof(l));
	if (cm_y_want(cx, n, key, CM_Y_SEQ) == -1)
		return;
	if (n->n == 0 || n->n > CM_MAX_LISTEN_ADDRS) {
		cm_cfg_error(cx, n, key, "needs 1 to %d addresses",
		    CM_MAX_LISTEN_ADDRS);
		return;
	}
	for (i = 0; i < n->n; i++) {
		cm_y_path_idx(path, sizeof(path), key, i);
		if (cm_y_str(cx, n->items[i], path, &str) == -1)
			return;
		if (cm_addr_parse(str, &l.a[i], &why) == -1) {
			cm_cfg_error(cx, n->items[i], path, "%s", why);
			return;
		}
	}
	l.n = n->n;
	s->listen[id] = l;
}

static int
cm_settings_slug_ok(const char *s)
{
	size_t	 n = strlen(s), i;

	if (n == 0 || n > 64)
		return (0);
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("._-", s[i]) == NULL)
			return (0);
	return (1);
}

static void
cm_settings_resolve(struct cm_cfg_ctx *cx, struct cm_settings *s,
    const struct cm_ynode *n, const char *key)
{
	char		 path[256], ipath[300];
	const char	*str, *why;
	size_t		 i, j;

	if (cm_y_want(cx, n, key, CM_Y_MAP) == -1)
		return;
	if ((s->resolve = calloc(n->n + 1, sizeof(*s->resolve))) == NULL)
		return;
	for (i = 0; i < n->n; i++) {
		struct cm_resolve_entry	*e = &s->resolve[s->nresolve];
		const struct cm_ynode	*v = n->pairs[i].val;
		const char		*k = n->pairs[i].key->str;
		const char		*colon = strrchr(k, ':');
		char			*h, *p;

		cm_y_path_key(path, sizeof(path), key, k);
		if ((e->host = strdup(k)) == NULL)
			return;
		if (colon != NULL && strchr(k, ']') == NULL &&
		    strchr(k, ':') == colon) {
			e->host[colon - k] = '\0';
			e->port = atoi(colon + 1);
			if (e->port <= 0 || e->port > 65535) {
				cm_cfg_error(cx, n->pairs[i].key, path,
				    "port must be 1..65535");
				free(e->host);
				continue;
			}
		}
		for (h = e->host; *h != '\0'; h++)
			*h = (char)tolower((unsigned char)*h);
		if ((p = strrchr(e->host, '.')) != NULL && p[1] == '\0')
			*p = '\0';
		if (v->type == CM_Y_STR) {
			e->addrs = calloc(1, sizeof(*e->addrs));
			e->naddrs = 1;
		} else if (cm_y_want(cx, v, path, CM_Y_SEQ) == 0 && v->n > 0) {
			e->addrs = calloc(v->n, sizeof(*e->addrs));
			e->naddrs = v->n;
		} else {
			if (v->type == CM_Y_SEQ)
				cm_cfg_error(cx, v, path, "needs an address");
			free(e->host);
			continue;
		}
		if (e->addrs == NULL) {
			free(e->host);
			return;
		}
		for (j = 0; j < e->naddrs; j++) {
			const struct cm_ynode *a = v->type == CM_Y_STR ? v :
			    v->items[j];
			char	 tmp[80];

			cm_y_path_idx(ipath, sizeof(ipath), path, j);
			if (cm_y_str(cx, a, ipath, &str) == -1)
				break;
			/* A bare address keeps the requested port. */
			if (cm_addr_parse(str, &e->addrs[j], &why) == 0)
				continue;
			(void)snprintf(tmp, sizeof(tmp), "%s%s%s:0",
			    strchr(str, ':') ? "[" : "", str,
			    strchr(str, ':') ? "]" : "");
			if (strlen(str) < 64 &&
			    cm_addr_parse(tmp, &e->addrs[j], &why) == 0)
				continue;
			cm_cfg_error(cx, a, ipath,
			    "expected an IP address or addr:port");
			break;
		}
		if (j < e->naddrs) {
			free(e->host);
			free(e->addrs);
			memset(e, 0, sizeof(*e));
			continue;
		}
		s->nresolve++;
	}
}

static void
cm_settings_special_key(struct cm_cfg_ctx *cx, struct cm_settings *s,
    const char *key, const struct cm_ynode *n)
{
	const char	*str;
	int		 idx;

	if (strcmp(key, "log_level") == 0) {
		if (cm_y_enum(cx, n, key, cm_log_level_names, &idx) == 0) {
			s->log_level = (enum cm_log_level)idx;
			s->log_level_set = 1;
		}
	} else if (strcmp(key, "egress.upstream_ca_file") == 0) {
		if (cm_y_str(cx, n, key, &str) == 0) {
			free(s->upstream_ca_file);
			s->upstream_ca_file = strdup(str);
		}
	} else if (strcmp(key, "egress.resolve") == 0) {
		cm_settings_resolve(cx, s, n, key);
	} else if (strcmp(key, "egress.resolver.nameservers") == 0) {
		(void)cm_settings_strv(cx, n, key, &s->nameservers,
		    &s->nnameservers);
	} else if (strcmp(key, "supervise.bottle") == 0) {
		if (cm_y_str(cx, n, key, &str) == 0) {
			if (!cm_settings_slug_ok(str))
				cm_cfg_error(cx, n, key,
				    "must match [A-Za-z0-9._-]{1,64}");
			else {
				free(s->bottle);
				s->bottle = strdup(str);
			}
		}
	} else if (strcmp(key, "supervise.allowed_origins") == 0) {
		if (cm_settings_strv(cx, n, key, &s->allowed_origins,
		    &s->nallowed_origins) == 0)
			s->allowed_origins_set = 1;
	}
}

static void
cm_settings_walk(struct cm_cfg_ctx *cx, struct cm_settings *s,
    const struct cm_ynode *map, const char *section)
{
	char	 key[256];
	size_t	 i;
	int	 id;

	for (i = 0; i < map->n; i++) {
		const struct cm_ynode *v = map->pairs[i].val;

		if (section[0] != '\0')
			(void)snprintf(key, sizeof(key), "%s.%s", section,
			    map->pairs[i].key->str);
		else
			(void)cm_strlcpy(key, map->pairs[i].key->str, sizeof(key));
		if ((id = cm_settings_find(key)) != -1)
			cm_settings_scalar(cx, s, id, v, key);
		else if ((id = cm_settings_is_listen(key)) != -1)
			cm_settings_listen(cx, s, id, v, key);
		else if (cm_settings_is_special(key))
			cm_settings_special_key(cx, s, key, v);
		else if (cm_settings_is_section(key)) {
			if (v->type == CM_Y_NULL)
				continue;	/* "egress:" alone = defaults */
			if (cm_y_want(cx, v, key, CM_Y_MAP) == 0)
				cm_settings_walk(cx, s, v, key);
		} else
			cm_cfg_error(cx, map->pairs[i].key, key,
			    "unknown key \"%s\"", map->pairs[i].key->str);
	}
}

struct cm_settings *
cm_settings_load(struct cm_cfg_ctx *cx, const char *path)
{
	struct cm_settings	*s;
	struct cm_ynode		*root;
	struct stat		 st;
	size_t			 before = cx->nerrors;

	if ((s = cm_settings_new()) == NULL) {
		cm_cfg_error(cx, NULL, "(file)", "out of memory");
		return (NULL);
	}
	if (path == NULL || (stat(path, &st) == -1 && errno == ENOENT))
		return (s);
	if ((root = cm_yaml_load_file(cx, path)) == NULL) {
		cm_settings_free(s);
		return (NULL);
	}
	if (root->type == CM_Y_MAP)
		cm_settings_walk(cx, s, root, "");
	else if (root->type != CM_Y_NULL)
		(void)cm_y_want(cx, root, "(root)", CM_Y_MAP);
	cm_yaml_free(root);
	if (cx->nerrors > before) {
		cm_settings_free(s);
		return (NULL);
	}
	return (s);
}

static int
cm_listen_equal(const struct cm_listen *a, const struct cm_listen *b)
{
	size_t	 i;

	if (a->n != b->n)
		return (0);
	for (i = 0; i < a->n; i++)
		if (strcmp(a->a[i].host, b->a[i].host) != 0 ||
		    a->a[i].port != b->a[i].port)
			return (0);
	return (1);
}

const char *
cm_settings_restart_diff(const struct cm_settings *a,
    const struct cm_settings *b)
{
	int	 i;

	for (i = 0; i < CM_S_COUNT; i++)
		if (cm_settings_defs[i].restart && a->v[i] != b->v[i])
			return (cm_settings_defs[i].key);
	for (i = 0; i < CM_L_COUNT; i++)
		if (!cm_listen_equal(&a->listen[i], &b->listen[i]))
			return (cm_listen_keys[i]);
	return (NULL);
}

void
cm_settings_help(FILE *fp)
{
	const struct cm_setting_def *d;
	int	 i;

	fprintf(fp, "sidecar.yaml keys (default, range; * = restart):\n");
	fprintf(fp, "  %-42s %s\n", "log_level", "info (debug|info|warn|error)");
	for (i = 0; i < CM_L_COUNT; i++)
		fprintf(fp, "  %-42s list of addr:port, port %d *\n",
		    cm_listen_keys[i], cm_listen_ports[i]);
	for (i = 0; i < CM_S_COUNT; i++) {
		d = &cm_settings_defs[i];
		if (d->type == CM_T_FLOAT)
			fprintf(fp, "  %-42s %lld.%lld (%lld.%lld..%lld.%lld)%s %s\n",
			    d->key, d->def / 1000, d->def % 1000 / 100,
			    d->min / 1000, d->min % 1000 / 100, d->max / 1000,
			    d->max % 1000 / 100, d->restart ? " *" : "", d->help);
		else if (d->type == CM_T_BOOL)
			fprintf(fp, "  %-42s %s%s %s\n", d->key,
			    d->def ? "true" : "false", d->restart ? " *" : "",
			    d->help);
		else
			fprintf(fp, "  %-42s %lld (%lld..%lld)%s %s\n", d->key,
			    d->def, d->min, d->max, d->restart ? " *" : "",
			    d->help);
	}
	fprintf(fp, "  %-42s %s\n", "egress.upstream_ca_file",
	    "path relative to the config dir");
	fprintf(fp, "  %-42s %s\n", "egress.resolve",
	    "map host[:port] -> [addr[:port], ...] (skips the address guard)");
	fprintf(fp, "  %-42s %s\n", "egress.resolver.nameservers",
	    "list of addresses (default: /etc/resolv.conf)");
	fprintf(fp, "  %-42s %s\n", "supervise.bottle", "slug");
	fprintf(fp, "  %-42s %s\n", "supervise.allowed_origins",
	    "list of origins");
}
