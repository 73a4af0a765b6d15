/*
 * Repository names, the git:// request line and smart HTTP routes
 * (spec/gitgate.md §2.1-§2.3).  A path is a name or nothing: no
 * percent-decoding, no "..", no trailing slash, so no path can reach a
 * directory the config did not declare.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "common/bounds.h"
#include "gitgate/conf.h"
#include "gitgate/route.h"

static int
gg_route_name_char(unsigned char c)
{
	return ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-');
}

int
gg_route_name_valid(const char *s, size_t len, const char **why)
{
	size_t	 i;

	if (len == 0 || len > GG_MAX_NAME_BYTES) {
		*why = "must be 1-100 bytes";
		return (-1);
	}
	for (i = 0; i < len; i++)
		if (!gg_route_name_char((unsigned char)s[i])) {
			*why = "only A-Z a-z 0-9 . _ - are allowed";
			return (-1);
		}
	if (s[0] == '.') {
		*why = "must not start with '.'";
		return (-1);
	}
	if (len >= 4 && memcmp(s + len - 4, ".git", 4) == 0) {
		*why = "must not end in .git (the gate adds it)";
		return (-1);
	}
	return (0);
}

int
gg_route_path_name(const char *path, size_t len, char *out, size_t outlen)
{
	size_t	 i;

	if (len < 2 || path[0] != '/')
		return (-1);
	path++;
	len--;
	if (len > 4 && memcmp(path + len - 4, ".git", 4) == 0)
		len -= 4;
	if (len == 0 || len >= outlen)
		return (-1);
	for (i = 0; i < len; i++)
		if (!gg_route_name_char((unsigned char)path[i]))
			return (-1);
	memcpy(out, path, len);
	out[len] = '\0';
	return (0);
}

void
gg_route_unknown_msg(const struct gg_cfg *cfg, const char *path, size_t len,
    char *out, size_t outlen)
{
	char	 x[GG_MAX_NAME_BYTES * 4 + 1];
	size_t	 i, o = 0, shown = 0, n;

	if (len > 0 && path[0] == '/') {
		path++;
		len--;
	}
	if (len > 4 && memcmp(path + len - 4, ".git", 4) == 0)
		len -= 4;
	for (i = 0; i < len && shown < GG_MAX_NAME_BYTES; i++, shown++) {
		unsigned char c = (unsigned char)path[i];

		if (c < 0x20 || c >= 0x7f || c == '\'' || c == '\\')
			o += (size_t)snprintf(x + o, sizeof(x) - o, "\\x%02x",
			    c);
		else
			x[o++] = (char)c;
	}
	x[o] = '\0';
	n = (size_t)snprintf(out, outlen, "bb-sidecar: unknown repository "
	    "'%s' (declared: ", x);
	for (i = 0; cfg != NULL && i < cfg->nrepos && i < 10 && n < outlen;
	    i++)
		n += (size_t)snprintf(out + n, outlen - n, "%s%s",
		    i > 0 ? ", " : "", cfg->repos[i].name);
	if (cfg != NULL && cfg->nrepos > 10 && n < outlen)
		n += (size_t)snprintf(out + n, outlen - n, ", ...");
	if (cfg == NULL || cfg->nrepos == 0)
		n += (size_t)snprintf(out + n, n < outlen ? outlen - n : 0,
		    "none");
	if (n < outlen)
		(void)snprintf(out + n, outlen - n, ")");
}

int
gg_route_version(const char *s, size_t len)
{
	const char	*p = s, *e = s + len, *c;

	/* Git-Protocol may hold several "key=value" separated by ':'. */
	while (p < e) {
		c = memchr(p, ':', (size_t)(e - p));
		if (c == NULL)
			c = e;
		if (c - p == 9 && memcmp(p, "version=", 8) == 0 &&
		    (p[8] == '1' || p[8] == '2'))
			return (p[8] - '0');
		p = c + 1;
	}
	return (0);
}

int
gg_route_git_request(const char *buf, size_t len, struct gg_greq *out,
    const char **why)
{
	const char	*sp, *nul, *p, *e;

	memset(out, 0, sizeof(*out));
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if ((nul = memchr(buf, '\0', len)) == NULL) {
		*why = "the request line has no NUL after the path";
		return (-1);
	}
	if ((sp = memchr(buf, ' ', (size_t)(nul - buf))) == NULL) {
		*why = "expected \"git-upload-pack /NAME.git\"";
		return (-1);
	}
	if (sp - buf == 15 && memcmp(buf, "git-upload-pack", 15) == 0)
		out->svc = GG_SVC_UPLOAD;
	else if (sp - buf == 16 && memcmp(buf, "git-receive-pack", 16) == 0)
		out->svc = GG_SVC_RECEIVE;
	else {
		*why = "unknown service (the gate serves git-upload-pack and "
		    "git-receive-pack)";
		return (-1);
	}
	out->path = sp + 1;
	out->pathlen = (size_t)(nul - sp - 1);
	if (out->pathlen == 0) {
		*why = "the path is empty";
		return (-1);
	}
	/* host=H[:P]\0, then optionally \0 and key=value\0 parameters. */
	p = nul + 1;
	e = buf + len;
	if (p < e && *p != '\0') {
		if ((nul = memchr(p, '\0', (size_t)(e - p))) == NULL) {
			*why = "the host parameter has no NUL";
			return (-1);
		}
		if (nul - p < 5 || memcmp(p, "host=", 5) != 0) {
			*why = "expected host=";
			return (-1);
		}
		p = nul + 1;
	}
	if (p >= e)
		return (0);
	if (*p != '\0') {
		*why = "bytes after the host parameter";
		return (-1);
	}
	for (p++; p < e; p = nul + 1) {
		if ((nul = memchr(p, '\0', (size_t)(e - p))) == NULL) {
			*why = "an extra parameter has no NUL";
			return (-1);
		}
		if (nul - p == 9 && memcmp(p, "version=", 8) == 0 &&
		    (p[8] == '1' || p[8] == '2'))
			out->version = p[8] - '0';
	}
	return (0);
}

void
gg_route_http(const char *method, const char *target, struct gg_hroute *out)
{
	static const struct {
		const char	*suffix;
		int		 info;
		enum gg_svc	 svc;
	} ends[] = {
		{ "/info/refs", 1, GG_SVC_UPLOAD },
		{ "/git-upload-pack", 0, GG_SVC_UPLOAD },
		{ "/git-receive-pack", 0, GG_SVC_RECEIVE },
	};
	const char	*q = strchr(target, '?');
	size_t		 plen = q != NULL ? (size_t)(q - target) :
			    strlen(target);
	size_t		 i, sl;

	memset(out, 0, sizeof(*out));
	out->kind = GG_HR_NOT_FOUND;
	for (i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		sl = strlen(ends[i].suffix);
		if (plen > sl && memcmp(target + plen - sl, ends[i].suffix, sl)
		    == 0)
			break;
	}
	if (i == sizeof(ends) / sizeof(ends[0]))
		return;
	out->path = target;
	out->pathlen = plen - sl;
	out->svc = ends[i].svc;
	if (ends[i].info) {
		if (strcmp(method, "GET") != 0) {
			out->kind = GG_HR_BAD_METHOD;
			out->allow = "GET";
			return;
		}
		if (q == NULL) {
			out->kind = GG_HR_DUMB;
			return;
		}
		if (strcmp(q, "?service=git-upload-pack") == 0)
			out->svc = GG_SVC_UPLOAD;
		else if (strcmp(q, "?service=git-receive-pack") == 0)
			out->svc = GG_SVC_RECEIVE;
		else {
			out->kind = GG_HR_BAD_QUERY;
			return;
		}
		out->kind = GG_HR_INFO_REFS;
		return;
	}
	if (strcmp(method, "POST") != 0) {
		out->kind = GG_HR_BAD_METHOD;
		out->allow = "POST";
		return;
	}
	if (q != NULL) {
		out->kind = GG_HR_BAD_QUERY;
		return;
	}
	out->kind = GG_HR_RPC;
}
