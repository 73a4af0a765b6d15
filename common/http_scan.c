/*
 * The raw-byte pre-check of the HTTP codec (spec/egress.md §2.2).
 *
 * llhttp 8.1, even built strict, accepts obs-fold, a bare LF after the
 * request line, empty field names, fragments and backslashes in the
 * target, any version digit pair and CTLs in the reason phrase.  This scan
 * runs over every head and trailer byte before llhttp sees it, one byte at
 * a time so it works on bytes as they arrive, and counts them against the
 * limits so no head is buffered beyond its limit.  It only judges; llhttp
 * still does the parsing, so there is one parser of fields, not two.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/http_int.h"

static int	 cm_http_scan_tchar(unsigned char c);
static int	 cm_http_scan_vchar(unsigned char c);
static int	 cm_http_scan_achar(unsigned char c);
static int	 cm_http_scan_refuse(struct cm_http_scan *s, int status,
		    const char *reason, const char *why);
static int	 cm_http_scan_bad(struct cm_http_scan *s, const char *why);
static int	 cm_http_scan_version(struct cm_http_scan *s);
static int	 cm_http_scan_name_done(struct cm_http_scan *s);
static int	 cm_http_scan_end(struct cm_http_scan *s);
static int	 cm_http_scan_start_line(struct cm_http_scan *s,
		    unsigned char c);
static int	 cm_http_scan_field_line(struct cm_http_scan *s,
		    unsigned char c);
static int	 cm_http_scan_connect_target(const char *t, size_t len,
		    const char **why);

/* RFC 9110 §5.6.2 tchar. */
static int
cm_http_scan_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return (1);
	return (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Field-value bytes: VCHAR, SP, HTAB and obs-text; no other CTL. */
static int
cm_http_scan_vchar(unsigned char c)
{
	return (c == '\t' || (c >= 0x20 && c != 0x7f));
}

/* Bytes of an authority: unreserved, sub-delims, ':', '[', ']', '%'. */
static int
cm_http_scan_achar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return (1);
	return (c != '\0' && strchr("-._~!$&'()*+,;=:[]%", c) != NULL);
}

void
cm_http_scan_init(struct cm_http_scan *s, enum cm_http_scan_mode mode,
    const struct cm_http_limits *lim)
{
	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->max_line = lim->request_line_bytes;
	s->max_bytes = lim->header_bytes;
	s->max_count = lim->header_count;
	switch (mode) {
	case CM_HTTP_SCAN_REQUEST:
		s->state = CM_HTTP_SCAN_METHOD;
		break;
	case CM_HTTP_SCAN_RESPONSE:
		s->state = CM_HTTP_SCAN_SL_VERSION;
		break;
	case CM_HTTP_SCAN_TRAILER:
		s->state = CM_HTTP_SCAN_LINE;
		break;
	}
}

static int
cm_http_scan_refuse(struct cm_http_scan *s, int status, const char *reason,
    const char *why)
{
	s->status = status;
	s->reason = reason;
	s->why = why;
	return (-1);
}

static int
cm_http_scan_bad(struct cm_http_scan *s, const char *why)
{
	return (cm_http_scan_refuse(s, 400, "bad_request", why));
}

/* "HTTP/" DIGIT "." DIGIT; well-formed but not 1.0 or 1.1 is a 505. */
static int
cm_http_scan_version(struct cm_http_scan *s)
{
	const char	*v = s->ver;

	if (s->ver_len != 8 || memcmp(v, "HTTP/", 5) != 0 ||
	    v[5] < '0' || v[5] > '9' || v[6] != '.' ||
	    v[7] < '0' || v[7] > '9')
		return (cm_http_scan_bad(s, "malformed HTTP version"));
	if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
		return (cm_http_scan_refuse(s, 505, "http_version",
		    "HTTP version not supported (only 1.0 and 1.1)"));
	return (0);
}

/*
 * The name is complete: note the fields whose number matters.  In
 * trailers they are refused here, before llhttp sees the value: llhttp
 * is fed trailer bytes as they come and would refuse some of them itself.
 */
static int
cm_http_scan_name_done(struct cm_http_scan *s)
{
	if (s->name_len == 14 && memcmp(s->name, "content-length", 14) == 0)
		s->n_cl++;
	else if (s->name_len == 17 &&
	    memcmp(s->name, "transfer-encoding", 17) == 0)
		s->n_te++;
	else if (s->name_len == 4 && memcmp(s->name, "host", 4) == 0)
		s->n_host++;
	else
		return (0);
	if (s->mode == CM_HTTP_SCAN_TRAILER)
		return (cm_http_scan_bad(s,
		    "framing or routing field in chunked trailers"));
	return (0);
}

/*
 * The empty line arrived.  Counting is enough to refuse these before
 * llhttp runs; the values are checked once llhttp has extracted them.
 */
static int
cm_http_scan_end(struct cm_http_scan *s)
{
	if (s->mode == CM_HTTP_SCAN_TRAILER)
		return (1);
	if (s->n_cl > 0 && s->n_te > 0)
		return (cm_http_scan_bad(s,
		    "Content-Length together with Transfer-Encoding"));
	if (s->n_cl > 1)
		return (cm_http_scan_bad(s, "more than one Content-Length"));
	if (s->n_te > 1)
		return (cm_http_scan_bad(s,
		    "Transfer-Encoding other than exactly chunked"));
	if (s->n_host > 1 && s->mode == CM_HTTP_SCAN_REQUEST)
		return (cm_http_scan_bad(s, "more than one Host"));
	return (1);
}

/* One byte of the request or status line. */
static int
cm_http_scan_start_line(struct cm_http_scan *s, unsigned char c)
{
	if (c != '\r' && s->state != CM_HTTP_SCAN_LEAD_CR &&
	    ++s->line > s->max_line) {
		if (s->mode == CM_HTTP_SCAN_REQUEST)
			return (cm_http_scan_refuse(s, 414, "uri_too_long",
			    "request line too long"));
		return (cm_http_scan_bad(s, "status line too long"));
	}
	if (s->state == CM_HTTP_SCAN_LEAD_CR) {
		/* RFC 9112 §2.2: one empty line before a request is fine. */
		if (c != '\n')
			return (cm_http_scan_bad(s, "bare CR line ending"));
		s->lead = 2;
		s->state = CM_HTTP_SCAN_METHOD;
		return (0);
	}
	if (c == '\n')
		return (cm_http_scan_bad(s, "bare LF line ending"));

	switch (s->state) {
	case CM_HTTP_SCAN_METHOD:
		if (c == '\r' && s->part == 0 && s->lead == 0) {
			s->state = CM_HTTP_SCAN_LEAD_CR;
			s->line = 0;
			return (0);
		}
		if (c == ' ' && s->part > 0) {
			s->state = CM_HTTP_SCAN_TARGET;
			s->part = 0;
			return (0);
		}
		if (!cm_http_scan_tchar(c))
			return (cm_http_scan_bad(s, "malformed request line"));
		s->part++;
		return (0);
	case CM_HTTP_SCAN_TARGET:
		if (c == ' ' && s->part > 0) {
			s->state = CM_HTTP_SCAN_RL_VERSION;
			return (0);
		}
		if (c == '#')
			return (cm_http_scan_bad(s,
			    "fragment in the request-target"));
		if (c == '\\')
			return (cm_http_scan_bad(s,
			    "backslash in the request-target"));
		if (c >= 0x80)
			return (cm_http_scan_bad(s,
			    "non-ASCII byte in the request-target"));
		if (c == ' ' || c == '\r')
			return (cm_http_scan_bad(s, "malformed request line"));
		if (c < 0x20 || c == 0x7f)
			return (cm_http_scan_bad(s,
			    "control character in the request-target"));
		s->part++;
		return (0);
	case CM_HTTP_SCAN_RL_VERSION:
		if (c == '\r') {
			if (cm_http_scan_version(s) == -1)
				return (-1);
			s->state = CM_HTTP_SCAN_START_CR;
			return (0);
		}
		if (c == ' ')
			return (cm_http_scan_bad(s, "malformed request line"));
		if (s->ver_len == sizeof(s->ver) - 1 || c < 0x21 || c >= 0x7f)
			return (cm_http_scan_bad(s, "malformed HTTP version"));
		s->ver[s->ver_len++] = (char)c;
		return (0);
	case CM_HTTP_SCAN_SL_VERSION:
		if (c == ' ') {
			if (cm_http_scan_version(s) == -1)
				return (-1);
			s->state = CM_HTTP_SCAN_CODE;
			s->part = 0;
			return (0);
		}
		if (s->ver_len == sizeof(s->ver) - 1 || c < 0x21 || c >= 0x7f)
			return (cm_http_scan_bad(s, "malformed status line"));
		s->ver[s->ver_len++] = (char)c;
		return (0);
	case CM_HTTP_SCAN_CODE:
		if (c >= '0' && c <= '9' && s->part < 3) {
			if (s->part++ == 0 && (c < '1' || c > '5'))
				return (cm_http_scan_bad(s,
				    "status code out of range"));
			return (0);
		}
		if ((c == ' ' || c == '\r') && s->part == 3) {
			s->state = c == ' ' ? CM_HTTP_SCAN_REASON :
			    CM_HTTP_SCAN_START_CR;
			return (0);
		}
		return (cm_http_scan_bad(s, "malformed status line"));
	case CM_HTTP_SCAN_REASON:
		if (c == '\r') {
			s->state = CM_HTTP_SCAN_START_CR;
			return (0);
		}
		if (!cm_http_scan_vchar(c))
			return (cm_http_scan_bad(s,
			    "control character in the reason phrase"));
		return (0);
	default:
		return (cm_http_scan_bad(s, "malformed start line"));
	}
}

/* One byte after the start line: field lines and the empty line. */
static int
cm_http_scan_field_line(struct cm_http_scan *s, unsigned char c)
{
	switch (s->state) {
	case CM_HTTP_SCAN_START_CR:
	case CM_HTTP_SCAN_VALUE_CR:
		if (c != '\n')
			return (cm_http_scan_bad(s, "bare CR line ending"));
		s->state = CM_HTTP_SCAN_LINE;
		return (0);
	case CM_HTTP_SCAN_END_CR:
		if (c != '\n')
			return (cm_http_scan_bad(s, "bare CR line ending"));
		s->state = CM_HTTP_SCAN_DONE;
		return (cm_http_scan_end(s));
	case CM_HTTP_SCAN_LINE:
		if (c == '\r') {
			s->state = CM_HTTP_SCAN_END_CR;
			return (0);
		}
		if (c == '\n')
			return (cm_http_scan_bad(s, "bare LF line ending"));
		if (c == ' ' || c == '\t')
			return (cm_http_scan_bad(s,
			    "obs-fold (field line starting with whitespace)"));
		if (c == ':')
			return (cm_http_scan_bad(s, "empty field name"));
		if (!cm_http_scan_tchar(c))
			return (cm_http_scan_bad(s,
			    "invalid character in a field name"));
		if (++s->count > s->max_count)
			return (cm_http_scan_refuse(s, 431, "headers_too_large",
			    s->mode == CM_HTTP_SCAN_TRAILER ?
			    "too many trailer fields" :
			    "too many header fields"));
		s->state = CM_HTTP_SCAN_NAME;
		s->name_len = 0;
		/* FALLTHROUGH */
	case CM_HTTP_SCAN_NAME:
		if (c == ':') {
			s->state = CM_HTTP_SCAN_VALUE;
			return (cm_http_scan_name_done(s));
		}
		if (c == ' ' || c == '\t')
			return (cm_http_scan_bad(s,
			    "whitespace between field name and colon"));
		if (c == '\r' || c == '\n')
			return (cm_http_scan_bad(s,
			    "field line without a colon"));
		if (!cm_http_scan_tchar(c))
			return (cm_http_scan_bad(s,
			    "invalid character in a field name"));
		if (s->name_len < sizeof(s->name))
			s->name[s->name_len] = (char)(c >= 'A' && c <= 'Z' ?
			    c - 'A' + 'a' : c);
		if (s->name_len <= sizeof(s->name))
			s->name_len++;
		return (0);
	case CM_HTTP_SCAN_VALUE:
		if (c == '\r') {
			s->state = CM_HTTP_SCAN_VALUE_CR;
			return (0);
		}
		if (c == '\n')
			return (cm_http_scan_bad(s, "bare LF line ending"));
		if (c == '\0')
			return (cm_http_scan_bad(s, "NUL in a field value"));
		if (!cm_http_scan_vchar(c))
			return (cm_http_scan_bad(s,
			    "control character in a field value"));
		return (0);
	default:
		return (cm_http_scan_bad(s, "malformed head"));
	}
}

/*
 * Scans len more bytes.  1: the section ended; *used is the bytes of p up
 * to and including its last LF.  0: all of p scanned, more needed.  -1:
 * refused; s->status, s->reason and s->why say why.
 */
int
cm_http_scan_feed(struct cm_http_scan *s, const unsigned char *p, size_t len,
    size_t *used)
{
	size_t	 i;
	int	 r;

	for (i = 0; i < len; i++) {
		if (++s->bytes > s->max_bytes)
			return (cm_http_scan_refuse(s, 431, "headers_too_large",
			    s->mode == CM_HTTP_SCAN_TRAILER ?
			    "trailer section too large" : "head too large"));
		if (s->state < CM_HTTP_SCAN_START_CR)
			r = cm_http_scan_start_line(s, p[i]);
		else
			r = cm_http_scan_field_line(s, p[i]);
		if (r == -1)
			return (-1);
		if (r == 1) {
			*used = i + 1;
			return (1);
		}
	}
	*used = len;
	return (0);
}

int
cm_http_scan_is_token(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0)
		return (0);
	for (i = 0; i < len; i++)
		if (!cm_http_scan_tchar((unsigned char)s[i]))
			return (0);
	return (1);
}

int
cm_http_scan_is_value(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (!cm_http_scan_vchar((unsigned char)s[i]))
			return (0);
	return (1);
}

/* 0: a plausible authority; -1: a byte that has no place there; -2: '@'. */
int
cm_http_scan_authority(const char *s, size_t len)
{
	size_t	 i;

	if (memchr(s, '@', len) != NULL)
		return (-2);
	for (i = 0; i < len; i++)
		if (!cm_http_scan_achar((unsigned char)s[i]))
			return (-1);
	return (0);
}

/* Authority-form, RFC 9112 §3.2.3: host ":" port, IPv6 in brackets. */
static int
cm_http_scan_connect_target(const char *t, size_t len, const char **why)
{
	const char	*colon;
	size_t		 host_len, port_len, i;

	switch (cm_http_scan_authority(t, len)) {
	case -2:
		*why = "userinfo in the request-target";
		return (-1);
	case -1:
		*why = "CONNECT target is not host:port";
		return (-1);
	}
	colon = memrchr(t, ':', len);
	if (colon == NULL)
		goto bad;
	host_len = (size_t)(colon - t);
	port_len = len - host_len - 1;
	if (host_len == 0 || port_len == 0 || port_len > 5)
		goto bad;
	for (i = 0; i < port_len; i++)
		if (colon[1 + i] < '0' || colon[1 + i] > '9')
			goto bad;
	if (t[0] == '[' ? t[host_len - 1] != ']' :
	    memchr(t, ':', host_len) != NULL ||
	    memchr(t, '[', host_len) != NULL)
		goto bad;
	return (0);
bad:
	*why = "CONNECT target is not host:port";
	return (-1);
}

/*
 * The request-target's form must suit the method (RFC 9112 §3.2):
 * authority-form only for CONNECT, asterisk-form only for OPTIONS,
 * otherwise origin-form or an absolute-form without userinfo.  Its bytes
 * were already checked by the scan.
 */
int
cm_http_scan_target(enum llhttp_method method, const char *t,
    const char **why)
{
	const char	*a, *end;
	size_t		 len = strlen(t), i;

	if (method == HTTP_CONNECT)
		return (cm_http_scan_connect_target(t, len, why));
	if (strcmp(t, "*") == 0) {
		if (method == HTTP_OPTIONS)
			return (0);
		*why = "asterisk-form target outside OPTIONS";
		return (-1);
	}
	if (t[0] == '/')
		return (0);
	/* absolute-form: scheme "://" authority [ path ] [ "?" query ] */
	for (i = 0; i < len; i++) {
		if ((t[i] >= 'a' && t[i] <= 'z') ||
		    (t[i] >= 'A' && t[i] <= 'Z'))
			continue;
		if (i > 0 && ((t[i] >= '0' && t[i] <= '9') || t[i] == '+' ||
		    t[i] == '-' || t[i] == '.'))
			continue;
		break;
	}
	if (i == 0 || strncmp(t + i, "://", 3) != 0) {
		*why = "malformed request-target";
		return (-1);
	}
	a = t + i + 3;
	end = a + strcspn(a, "/?");
	if (end == a) {
		*why = "empty authority in the request-target";
		return (-1);
	}
	switch (cm_http_scan_authority(a, (size_t)(end - a))) {
	case -2:
		*why = "userinfo in the request-target";
		return (-1);
	case -1:
		*why = "malformed authority in the request-target";
		return (-1);
	}
	return (0);
}

/* 1*DIGIT into a uint64_t; -1 on anything else or overflow. */
int
cm_http_scan_uint(const char *s, uint64_t *out)
{
	uint64_t	 v = 0;

	if (*s == '\0')
		return (-1);
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return (-1);
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return (-1);
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return (0);
}
