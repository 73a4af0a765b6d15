/*
 * gitgate.yaml (spec/gitgate.md §3.1, §3.2).  Every mistake is reported
 * as file:line:col: key.path: reason in one run; a repo without a
 * pinned host key is an error, never trust on first use.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/log.h"
#include "common/snapshot.h"
#include "common/util.h"
#include "common/yaml.h"
#include "gitgate/conf.h"
#include "gitgate/route.h"

static const char *const gg_conf_top_keys[] = { "user", "repos", NULL };
static const char *const gg_conf_user_keys[] = { "name", "email", NULL };
static const char *const gg_conf_repo_keys[] = { "url", "key", "host_key",
	"allow_force_push", "allow_delete", "fetch_refresh", NULL };

static void
gg_conf_repo_free(struct gg_repo *r)
{
	size_t	 i;

	free(r->name);
	free(r->url);
	free(r->user);
	free(r->host);
	free(r->path);
	free(r->shown);
	free(r->key_path);
	free(r->key_rel);
	for (i = 0; i < r->nkeys; i++)
		free(r->keys[i].blob);
}

void
gg_conf_free(struct gg_cfg *cfg)
{
	size_t	 i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->nrepos; i++)
		gg_conf_repo_free(&cfg->repos[i]);
	free(cfg->repos);
	free(cfg->config_dir);
	free(cfg->state_dir);
	free(cfg->git_dir);
	free(cfg->user_name);
	free(cfg->user_email);
	free(cfg);
}

const struct gg_repo *
gg_conf_repo(const struct gg_cfg *cfg, const char *name)
{
	size_t	 i;

	for (i = 0; cfg != NULL && i < cfg->nrepos; i++)
		if (strcmp(cfg->repos[i].name, name) == 0)
			return (&cfg->repos[i]);
	return (NULL);
}

/* §3.2.2: 1-256 bytes without control characters. */
static int
gg_conf_ident(struct cm_cfg_ctx *cx, const struct cm_ynode *n,
    const char *kp, char **out)
{
	const char	*s;
	size_t		 i;

	if (cm_y_str(cx, n, kp, &s) == -1)
		return (-1);
	if (n->len == 0 || n->len > 256) {
		cm_cfg_error(cx, n, kp, "must be 1-256 bytes");
		return (-1);
	}
	for (i = 0; i < n->len; i++)
		if (iscntrl((unsigned char)s[i])) {
			cm_cfg_error(cx, n, kp, "control characters are not "
			    "allowed");
			return (-1);
		}
	*out = strdup(s);
	return (*out == NULL ? -1 : 0);
}

/* §3.2.4: ssh://USER@HOST[:PORT]/PATH and nothing else. */
static int
gg_conf_url(struct cm_cfg_ctx *cx, const struct cm_ynode *n, const char *kp,
    struct gg_repo *r)
{
	const char	*s, *p, *at, *hs, *he, *slash;
	char		 host[CM_HOST_BUF_BYTES + 2];
	size_t		 i, hl;
	long		 port = 22;
	char		*end;

	if (cm_y_str(cx, n, kp, &s) == -1)
		return (-1);
	for (i = 0; i < n->len; i++)
		if (iscntrl((unsigned char)s[i]) ||
		    isspace((unsigned char)s[i])) {
			cm_cfg_error(cx, n, kp, "whitespace or control "
			    "characters are not allowed");
			return (-1);
		}
	if (strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0) {
		cm_cfg_error(cx, n, kp, "HTTPS upstreams are not supported: "
		    "use the forge's ssh:// URL (ssh://git@HOST/PATH)");
		return (-1);
	}
	if (strncmp(s, "git://", 6) == 0 || strncmp(s, "file://", 7) == 0) {
		cm_cfg_error(cx, n, kp, "only ssh:// upstreams are supported "
		    "(ssh://USER@HOST[:PORT]/PATH)");
		return (-1);
	}
	if (strncmp(s, "ssh://", 6) != 0) {
		if (strchr(s, ':') != NULL && strchr(s, '@') != NULL)
			cm_cfg_error(cx, n, kp, "scp-style user@host:path is "
			    "not supported: write ssh://USER@HOST/PATH");
		else
			cm_cfg_error(cx, n, kp, "expected "
			    "ssh://USER@HOST[:PORT]/PATH");
		return (-1);
	}
	p = s + 6;
	if (strpbrk(p, "?#") != NULL) {
		cm_cfg_error(cx, n, kp, "a query or fragment is not allowed");
		return (-1);
	}
	if ((slash = strchr(p, '/')) == NULL || slash[1] == '\0') {
		cm_cfg_error(cx, n, kp, "the path is missing "
		    "(ssh://USER@HOST[:PORT]/PATH)");
		return (-1);
	}
	at = memchr(p, '@', (size_t)(slash - p));
	if (at == NULL || at == p) {
		cm_cfg_error(cx, n, kp, "the user is missing "
		    "(ssh://USER@HOST[:PORT]/PATH)");
		return (-1);
	}
	hs = at + 1;
	if (*hs == '[') {
		he = memchr(hs, ']', (size_t)(slash - hs));
		if (he == NULL) {
			cm_cfg_error(cx, n, kp, "unterminated [IPv6] host");
			return (-1);
		}
		hl = (size_t)(he - hs - 1);
		if (hl == 0 || hl >= sizeof(host)) {
			cm_cfg_error(cx, n, kp, "bad host");
			return (-1);
		}
		memcpy(host, hs + 1, hl);
		host[hl] = '\0';
		for (i = 0; i < hl; i++)
			if (!isxdigit((unsigned char)host[i]) && host[i] != ':'
			    && host[i] != '.') {
				cm_cfg_error(cx, n, kp, "bad IPv6 address");
				return (-1);
			}
		p = he + 1;
	} else {
		he = hs;
		while (he < slash && *he != ':')
			he++;
		hl = (size_t)(he - hs);
		if (hl == 0 || hl > CM_MAX_HOST_BYTES) {
			cm_cfg_error(cx, n, kp, "bad host");
			return (-1);
		}
		memcpy(host, hs, hl);
		host[hl] = '\0';
		for (i = 0; i < hl; i++)
			if (!isalnum((unsigned char)host[i]) && host[i] != '-'
			    && host[i] != '.') {
				cm_cfg_error(cx, n, kp, "bad host name");
				return (-1);
			}
		p = he;
	}
	if (*p == ':') {
		errno = 0;
		port = strtol(p + 1, &end, 10);
		if (end == p + 1 || end != slash || errno != 0 || port < 1 ||
		    port > 65535) {
			cm_cfg_error(cx, n, kp, "the port must be 1-65535");
			return (-1);
		}
	} else if (p != slash) {
		cm_cfg_error(cx, n, kp, "bad host");
		return (-1);
	}
	r->url = strdup(s);
	p = s + 6;
	r->user = strndup(p, (size_t)(at - p));
	r->host = strdup(host);
	r->port = (int)port;
	r->path = strdup(slash);
	if (r->url == NULL || r->user == NULL || r->host == NULL ||
	    r->path == NULL)
		return (-1);
	if (strchr(host, ':') != NULL)
		(void)asprintf(&r->shown, "ssh://%s@[%s]:%d%s", r->user, host,
		    r->port, r->path);
	else
		(void)asprintf(&r->shown, "ssh://%s@%s:%d%s", r->user, host,
		    r->port, r->path);
	return (r->shown == NULL ? -1 : 0);
}

/* The PEM body between the markers of kind, base64-decoded. */
static ssize_t
gg_conf_pem_body(const char *buf, const char *kind, unsigned char *out,
    size_t outlen)
{
	char		 begin[64], endm[64];
	const char	*b, *e;
	char		*flat;
	size_t		 n = 0;
	ssize_t		 r;

	(void)snprintf(begin, sizeof(begin), "-----BEGIN %s-----", kind);
	(void)snprintf(endm, sizeof(endm), "-----END %s-----", kind);
	if ((b = strstr(buf, begin)) == NULL || (e = strstr(b, endm)) == NULL)
		return (-1);
	b += strlen(begin);
	if ((flat = malloc((size_t)(e - b) + 1)) == NULL)
		return (-1);
	for (; b < e; b++)
		if (!isspace((unsigned char)*b))
			flat[n++] = *b;
	r = gg_hostkey_b64(flat, n, out, outlen);
	OPENSSL_cleanse(flat, n);
	free(flat);
	return (r);
}

/* §3.2.5: a regular readable file with an unencrypted private key. */
static int
gg_conf_key_check(const char *path, const char **why)
{
	char		 buf[64 * 1024];
	unsigned char	 bin[48 * 1024];
	struct stat	 sb;
	ssize_t		 n, bl;
	size_t		 cl;
	int		 fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		*why = errno == EACCES ? "the key file is not readable" :
		    "cannot open the key file";
		return (-1);
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		(void)close(fd);
		*why = "the key is not a regular file";
		return (-1);
	}
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0) {
		*why = "the key file is empty or unreadable";
		return (-1);
	}
	buf[n] = '\0';
	if (strstr(buf, "-----BEGIN OPENSSH PRIVATE KEY-----") != NULL) {
		bl = gg_conf_pem_body(buf, "OPENSSH PRIVATE KEY", bin,
		    sizeof(bin));
		if (bl < 19 || memcmp(bin, "openssh-key-v1", 15) != 0) {
			*why = "the OpenSSH private key is malformed";
			goto out;
		}
		cl = ((size_t)bin[15] << 24) | ((size_t)bin[16] << 16) |
		    ((size_t)bin[17] << 8) | bin[18];
		if (cl == 4 && (size_t)bl >= 23 && memcmp(bin + 19, "none", 4)
		    == 0)
			rc = 0;
		else
			*why = "the private key is encrypted (the gate cannot "
			    "prompt for a passphrase); use an unencrypted key";
	} else if (strstr(buf, "-----BEGIN ENCRYPTED PRIVATE KEY-----") !=
	    NULL || ((strstr(buf, "-----BEGIN RSA PRIVATE KEY-----") != NULL ||
	    strstr(buf, "-----BEGIN EC PRIVATE KEY-----") != NULL) &&
	    strstr(buf, "ENCRYPTED") != NULL)) {
		*why = "the private key is encrypted (the gate cannot prompt "
		    "for a passphrase); use an unencrypted key";
	} else if (strstr(buf, "-----BEGIN RSA PRIVATE KEY-----") != NULL ||
	    strstr(buf, "-----BEGIN EC PRIVATE KEY-----") != NULL ||
	    strstr(buf, "-----BEGIN PRIVATE KEY-----") != NULL) {
		rc = 0;
	} else if (strncmp(buf, "ssh-", 4) == 0 ||
	    strncmp(buf, "ecdsa-", 6) == 0 ||
	    strstr(buf, "PUBLIC KEY-----") != NULL) {
		*why = "this is a public key; key must name the private key";
	} else
		*why = "not a private key (OpenSSH or PEM format)";
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	OPENSSL_cleanse(bin, sizeof(bin));
	return (rc);
}

static int
gg_conf_key(struct cm_cfg_ctx *cx, const struct cm_ynode *n, const char *kp,
    const char *config_dir, struct gg_repo *r)
{
	char		 path[PATH_MAX];
	const char	*s, *why = NULL;
	int		 rc;

	if (cm_y_str(cx, n, kp, &s) == -1)
		return (-1);
	if (s[0] == '\0' || s[0] == '/') {
		cm_cfg_error(cx, n, kp, "must be a path relative to the config "
		    "dir");
		return (-1);
	}
	rc = cm_snap_config_path(config_dir, s, path, sizeof(path), &why);
	if (rc == 1) {
		cm_cfg_error(cx, n, kp, "no such file in the config dir");
		return (-1);
	}
	if (rc == -1 || gg_conf_key_check(path, &why) == -1) {
		cm_cfg_error(cx, n, kp, "%s", why);
		return (-1);
	}
	r->key_path = strdup(path);
	r->key_rel = strdup(s);
	return (r->key_path == NULL || r->key_rel == NULL ? -1 : 0);
}

static int
gg_conf_host_keys(struct cm_cfg_ctx *cx, const struct cm_ynode *n,
    const char *kp, struct gg_repo *r)
{
	const struct cm_ynode	*it;
	char			 ip[CM_Y_PATH_BYTES], why[256];
	const char		*s, *warn;
	size_t			 i, cnt;
	int			 bad = 0;

	if (n->type == CM_Y_SEQ) {
		cnt = n->n;
		if (cnt < 1 || cnt > GG_MAX_HOST_KEYS) {
			cm_cfg_error(cx, n, kp, "a list of 1-%d host keys",
			    GG_MAX_HOST_KEYS);
			return (-1);
		}
	} else
		cnt = 1;
	for (i = 0; i < cnt; i++) {
		it = n->type == CM_Y_SEQ ? n->items[i] : n;
		if (n->type == CM_Y_SEQ)
			cm_y_path_idx(ip, sizeof(ip), kp, i);
		else
			cm_strlcpy(ip, kp, sizeof(ip));
		if (cm_y_str(cx, it, ip, &s) == -1) {
			bad = 1;
			continue;
		}
		if (gg_hostkey_parse(s, r->host, r->port, &r->keys[r->nkeys],
		    why, sizeof(why), &warn) == -1) {
			cm_cfg_error(cx, it, ip, "%s", why);
			bad = 1;
			continue;
		}
		r->nkeys++;
		if (warn != NULL)
			cm_log(CM_LOG_WARN, "gitgate", "config_warning", 0,
			    json_pack("{s:s,s:s}", "key", ip, "msg", warn));
	}
	return (bad ? -1 : 0);
}

static int
gg_conf_repo_load(struct cm_cfg_ctx *cx, const struct cm_ypair *pr,
    const char *config_dir, struct gg_repo *r)
{
	const struct cm_ynode	*m = pr->val, *v;
	char			 kp[CM_Y_PATH_BYTES], k2[CM_Y_PATH_BYTES];
	const char		*why;
	int			 bad = 0;

	cm_y_path_key(kp, sizeof(kp), "repos", pr->key->str);
	r->fetch_refresh = 1;
	if (gg_route_name_valid(pr->key->str, pr->key->len, &why) == -1) {
		cm_cfg_error(cx, pr->key, kp, "bad repository name: %s", why);
		bad = 1;
	}
	if ((r->name = strdup(pr->key->str)) == NULL)
		return (-1);
	if (cm_y_want(cx, m, kp, CM_Y_MAP) == -1)
		return (-1);
	if (cm_y_check_keys(cx, m, kp, gg_conf_repo_keys) == -1)
		bad = 1;
	cm_y_path_key(k2, sizeof(k2), kp, "url");
	if ((v = cm_y_need(cx, m, kp, "url")) == NULL ||
	    gg_conf_url(cx, v, k2, r) == -1)
		bad = 1;
	cm_y_path_key(k2, sizeof(k2), kp, "key");
	if ((v = cm_y_need(cx, m, kp, "key")) == NULL ||
	    gg_conf_key(cx, v, k2, config_dir, r) == -1)
		bad = 1;
	cm_y_path_key(k2, sizeof(k2), kp, "host_key");
	if ((v = cm_y_get(m, "host_key")) == NULL) {
		cm_cfg_error(cx, m, kp, "host_key is required: pin the "
		    "upstream's SSH host key (there is no trust on first use)");
		bad = 1;
	} else if (r->host == NULL)
		bad = 1;	/* the url failed; hosts cannot be checked */
	else if (gg_conf_host_keys(cx, v, k2, r) == -1)
		bad = 1;
	cm_y_path_key(k2, sizeof(k2), kp, "allow_force_push");
	if ((v = cm_y_get(m, "allow_force_push")) != NULL &&
	    cm_y_bool(cx, v, k2, &r->allow_force_push) == -1)
		bad = 1;
	cm_y_path_key(k2, sizeof(k2), kp, "allow_delete");
	if ((v = cm_y_get(m, "allow_delete")) != NULL &&
	    cm_y_bool(cx, v, k2, &r->allow_delete) == -1)
		bad = 1;
	cm_y_path_key(k2, sizeof(k2), kp, "fetch_refresh");
	if ((v = cm_y_get(m, "fetch_refresh")) != NULL &&
	    cm_y_bool(cx, v, k2, &r->fetch_refresh) == -1)
		bad = 1;
	return (bad ? -1 : 0);
}

static int
gg_conf_same_keys(const struct gg_repo *a, const struct gg_repo *b)
{
	size_t	 i;

	if (a->nkeys != b->nkeys)
		return (0);
	for (i = 0; i < a->nkeys; i++)
		if (a->keys[i].len != b->keys[i].len ||
		    memcmp(a->keys[i].blob, b->keys[i].blob, a->keys[i].len)
		    != 0)
			return (0);
	return (1);
}

struct gg_cfg *
gg_conf_load(struct cm_cfg_ctx *cx, const char *path, const char *config_dir,
    const char *state_dir)
{
	struct cm_ynode		*root;
	const struct cm_ynode	*u, *repos, *v;
	struct gg_cfg		*cfg;
	size_t			 i, j, before = cx->nerrors;
	char			 kp[CM_Y_PATH_BYTES];

	if ((root = cm_yaml_load_file(cx, path)) == NULL)
		return (NULL);
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL) {
		cm_yaml_free(root);
		return (NULL);
	}
	cfg->config_dir = strdup(config_dir);
	cfg->state_dir = strdup(state_dir);
	(void)asprintf(&cfg->git_dir, "%s/git", state_dir);
	cfg->loaded_at = time(NULL);
	if (root->type == CM_Y_NULL) {
		cm_cfg_error(cx, root, NULL, "the file is empty (declare "
		    "repos:)");
		goto out;
	}
	if (cm_y_want(cx, root, NULL, CM_Y_MAP) == -1)
		goto out;
	(void)cm_y_check_keys(cx, root, NULL, gg_conf_top_keys);
	if ((u = cm_y_get(root, "user")) != NULL && u->type != CM_Y_NULL &&
	    cm_y_want(cx, u, "user", CM_Y_MAP) == 0) {
		(void)cm_y_check_keys(cx, u, "user", gg_conf_user_keys);
		if ((v = cm_y_get(u, "name")) != NULL)
			(void)gg_conf_ident(cx, v, "user.name",
			    &cfg->user_name);
		if ((v = cm_y_get(u, "email")) != NULL)
			(void)gg_conf_ident(cx, v, "user.email",
			    &cfg->user_email);
	}
	if ((repos = cm_y_need(cx, root, NULL, "repos")) == NULL)
		goto out;
	if (repos->type == CM_Y_NULL || (repos->type == CM_Y_MAP &&
	    repos->n == 0)) {
		cm_log(CM_LOG_WARN, "gitgate", "config_warning", 0,
		    json_pack("{s:s}", "msg",
		    "gitgate.yaml declares no repos"));
		goto out;
	}
	if (cm_y_want(cx, repos, "repos", CM_Y_MAP) == -1)
		goto out;
	if ((cfg->repos = calloc(repos->n, sizeof(*cfg->repos))) == NULL)
		goto out;
	for (i = 0; i < repos->n; i++) {
		(void)gg_conf_repo_load(cx, &repos->pairs[i], config_dir,
		    &cfg->repos[i]);
		cfg->nrepos++;
	}
	/* §3.2.3 and §3.2.7 across repos. */
	for (i = 0; i < cfg->nrepos; i++)
		for (j = 0; j < i; j++) {
			struct gg_repo *a = &cfg->repos[i], *b = &cfg->repos[j];

			cm_y_path_key(kp, sizeof(kp), "repos", a->name);
			if (strcasecmp(a->name, b->name) == 0)
				cm_cfg_error(cx, repos->pairs[i].key, kp,
				    "names must be unique ignoring case "
				    "(clashes with %s)", b->name);
			if (a->host != NULL && b->host != NULL &&
			    a->nkeys > 0 && b->nkeys > 0 &&
			    strcmp(a->host, b->host) == 0 &&
			    a->port == b->port && !gg_conf_same_keys(a, b))
				cm_cfg_error(cx, repos->pairs[i].val, kp,
				    "repos on %s:%d must pin the same host "
				    "keys (see repos.%s)", a->host, a->port,
				    b->name);
		}
out:
	cm_yaml_free(root);
	if (cx->nerrors > before || cfg->config_dir == NULL ||
	    cfg->state_dir == NULL || cfg->git_dir == NULL) {
		gg_conf_free(cfg);
		return (NULL);
	}
	return (cfg);
}

/* A YAML double-quoted scalar (JSON's escapes are YAML's). */
static void
gg_conf_report_str(FILE *fp, const char *indent, const char *key,
    const char *v)
{
	json_t	*j = v != NULL ? json_string(v) : NULL;
	char	*q = j != NULL ? json_dumps(j, JSON_ENCODE_ANY) : NULL;

	fprintf(fp, "%s%s: %s\n", indent, key, q != NULL ? q : "null");
	free(q);
	json_decref(j);
}

void
gg_conf_report(const void *arg, FILE *fp)
{
	const struct gg_cfg	*cfg = arg;
	const struct gg_repo	*r;
	char			 fp256[128];
	size_t			 i, k;

	fprintf(fp, "gitgate.yaml:\n");
	if (cfg->user_name == NULL && cfg->user_email == NULL)
		fprintf(fp, "  user: null\n");
	else {
		fprintf(fp, "  user:\n");
		gg_conf_report_str(fp, "    ", "name", cfg->user_name);
		gg_conf_report_str(fp, "    ", "email", cfg->user_email);
	}
	fprintf(fp, "  repos:%s\n", cfg->nrepos == 0 ? " {}" : "");
	for (i = 0; i < cfg->nrepos; i++) {
		r = &cfg->repos[i];
		fprintf(fp, "    %s:\n", r->name);
		gg_conf_report_str(fp, "      ", "url", r->url);
		gg_conf_report_str(fp, "      ", "key", r->key_rel);
		fprintf(fp, "      host_key:\n");
		for (k = 0; k < r->nkeys; k++) {
			gg_hostkey_fingerprint(r->keys[k].blob, r->keys[k].len,
			    fp256, sizeof(fp256));
			fprintf(fp, "        - \"%s %s\"\n", r->keys[k].type,
			    fp256);
		}
		fprintf(fp, "      allow_force_push: %s\n",
		    r->allow_force_push ? "true" : "false");
		fprintf(fp, "      allow_delete: %s\n", r->allow_delete ?
		    "true" : "false");
		fprintf(fp, "      fetch_refresh: %s\n", r->fetch_refresh ?
		    "true" : "false");
	}
}

char *
gg_conf_known_hosts(const struct gg_cfg *cfg)
{
	char		*out = NULL, *b64;
	size_t		 i, k, len = 0, cap = 0, need;
	const struct gg_repo *r;
	int		 n;

	for (i = 0; i < cfg->nrepos; i++) {
		r = &cfg->repos[i];
		for (k = 0; k < r->nkeys; k++) {
			need = 4 * ((r->keys[k].len + 2) / 3) + 1;
			if ((b64 = malloc(need)) == NULL)
				goto fail;
			(void)EVP_EncodeBlock((unsigned char *)b64,
			    r->keys[k].blob, (int)r->keys[k].len);
			need = strlen(b64) + strlen(r->host) + 64;
			if (len + need > cap) {
				char *nb = realloc(out, cap = (len + need) * 2);

				if (nb == NULL) {
					free(b64);
					goto fail;
				}
				out = nb;
			}
			if (r->port == 22)
				n = snprintf(out + len, cap - len, "%s %s %s\n",
				    r->host, r->keys[k].type, b64);
			else
				n = snprintf(out + len, cap - len,
				    "[%s]:%d %s %s\n", r->host, r->port,
				    r->keys[k].type, b64);
			free(b64);
			len += (size_t)n;
		}
	}
	return (out);
fail:
	free(out);
	return (NULL);
}
