/*
 * multipart bodies in pieces (common/multipart.h).
 *
 * The delimiter is CRLF "--" boundary (RFC 2046 §5.1.1), and the CRLF in
 * front of it belongs to it, not to the part before.  It holds only one
 * CR, at its start, so a partial match that fails can never hide the
 * start of another: the bytes held so far are plain body bytes, and the
 * byte that broke the match is looked at again.  Held bytes never exceed
 * the delimiter's length, whatever the chunking.  The first delimiter
 * may open the body without a CRLF: the parser starts as if one came.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "common/bounds.h"
#include "common/http.h"
#include "common/multipart.h"

enum cm_multipart_state {
	CM_MP_PREAMBLE,		/* before the first delimiter: ignored */
	CM_MP_DELIM,		/* after a delimiter: "--", or padding CRLF */
	CM_MP_HEAD,		/* a part's header lines */
	CM_MP_BODY,		/* a part's body, up to the next delimiter */
	CM_MP_EPILOGUE,		/* after the close delimiter: ignored */
	CM_MP_FAILED,
};

#define CM_MP_DELIM_BYTES	(4 + CM_MULTIPART_BOUNDARY_BYTES)

struct cm_multipart {
	enum cm_multipart_state	 state;
	struct cm_multipart_cb	 cb;
	void			*arg;		/* the caller's */
	unsigned		 depth;
	char			 delim[CM_MP_DELIM_BYTES];
	size_t			 dlen;
	size_t			 held;		/* delim bytes matched so far */
	int			 dstate;	/* in CM_MP_DELIM: bytes seen */
	size_t			 pad;		/* transport padding seen */
	char			*line;		/* owned: the header line */
	size_t			 llen;
	size_t			 htotal;	/* header block bytes */
	int			 cr;		/* the last head byte was CR */
	struct cm_http_fields	*fields;	/* owned: the part's */
	char			*name;		/* owned */
	char			*filename;	/* owned */
	struct cm_multipart_part part;
	int			 open;		/* a part is being reported */
	size_t			 nparts;
	struct cm_multipart	*child;		/* owned: a nested multipart */
	const char		*why;
};

static struct cm_multipart *cm_multipart_make(const char *content_type,
		    const struct cm_multipart_cb *cb, void *arg,
		    unsigned depth, int *nomem, const char **why);
static int	 cm_multipart_fail(struct cm_multipart *mp, const char *why);
static int	 cm_multipart_emit(struct cm_multipart *mp, const char *buf,
		    size_t len);
static int	 cm_multipart_scan(struct cm_multipart *mp, const char **pp,
		    const char *end);
static int	 cm_multipart_after(struct cm_multipart *mp, char c);
static int	 cm_multipart_head(struct cm_multipart *mp, char c);
static int	 cm_multipart_line(struct cm_multipart *mp);
static int	 cm_multipart_begin(struct cm_multipart *mp);
static int	 cm_multipart_end(struct cm_multipart *mp);
static void	 cm_multipart_clear(struct cm_multipart *mp);

/* RFC 9110 §5.6.2 tchar. */
static int
cm_multipart_tchar(unsigned char c)
{
	return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' &&
	    strchr("!#$%&'*+-.^_`|~", c) != NULL));
}

int
cm_multipart_param(const char *value, const char *name, char *out,
    size_t outsz)
{
	const char	*p = value, *pn;
	size_t		 nlen, olen;
	int		 want, found = 0;

	if (outsz == 0)
		return (-1);
	/* The leading type or disposition is a token (with '/'). */
	while (*p != '\0' && *p != ';')
		if (*p++ == '"')
			return (-1);
	/* Every parameter is checked, not only up to the one wanted. */
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			return (found);
		if (*p++ != ';')
			return (-1);
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			return (found);
		for (pn = p; cm_multipart_tchar((unsigned char)*p); p++)
			;
		nlen = (size_t)(p - pn);
		if (nlen == 0 || *p++ != '=')
			return (-1);
		want = !found && strlen(name) == nlen &&
		    strncasecmp(pn, name, nlen) == 0;
		olen = 0;
		if (*p == '"') {
			for (p++; *p != '"'; p++) {
				if (*p == '\\' && p[1] != '\0')
					p++;	/* quoted-pair */
				if (*p == '\0')
					return (-1);
				if (want && olen + 1 >= outsz)
					return (-1);
				if (want)
					out[olen++] = *p;
			}
			p++;
		} else {
			for (pn = p; cm_multipart_tchar((unsigned char)*p); p++)
				;
			if (p == pn)
				return (-1);
			if (want && (size_t)(p - pn) >= outsz)
				return (-1);
			if (want)
				memcpy(out, pn, (olen = (size_t)(p - pn)));
		}
		if (want) {
			out[olen] = '\0';
			found = 1;
		}
	}
}

/* 1 when v is multipart/<subtype>, with or without parameters. */
static int
cm_multipart_is_multipart(const char *v)
{
	while (*v == ' ' || *v == '\t')
		v++;
	return (strncasecmp(v, "multipart/", 10) == 0 &&
	    cm_multipart_tchar((unsigned char)v[10]));
}

static struct cm_multipart *
cm_multipart_make(const char *content_type, const struct cm_multipart_cb *cb,
    void *arg, unsigned depth, int *nomem, const char **why)
{
	struct cm_multipart	*mp;
	char			 b[CM_MULTIPART_BOUNDARY_BYTES + 1];
	size_t			 i, n;

	*nomem = 0;
	if (content_type == NULL || !cm_multipart_is_multipart(content_type)) {
		*why = "not a multipart content type";
		return (NULL);
	}
	if (cm_multipart_param(content_type, "boundary", b, sizeof(b)) != 1 ||
	    (n = strlen(b)) == 0 || b[n - 1] == ' ') {
		*why = "multipart content type without a valid boundary";
		return (NULL);
	}
	for (i = 0; i < n; i++)
		if ((unsigned char)b[i] < 0x20 || (unsigned char)b[i] > 0x7e) {
			*why = "multipart content type without a valid "
			    "boundary";
			return (NULL);
		}
	if ((mp = calloc(1, sizeof(*mp))) == NULL ||
	    (mp->line = malloc(CM_MULTIPART_HEAD_BYTES + 1)) == NULL) {
		free(mp);
		*nomem = 1;
		*why = "out of memory";
		return (NULL);
	}
	memcpy(mp->delim, "\r\n--", 4);
	memcpy(mp->delim + 4, b, n);
	mp->dlen = 4 + n;
	mp->held = 2;		/* a delimiter may open the body */
	mp->state = CM_MP_PREAMBLE;
	if (cb != NULL)
		mp->cb = *cb;
	mp->arg = arg;
	mp->depth = depth;
	return (mp);
}

struct cm_multipart *
cm_multipart_new(const char *content_type, const struct cm_multipart_cb *cb,
    void *arg, const char **why)
{
	int	 nomem;

	return (cm_multipart_make(content_type, cb, arg, 0, &nomem, why));
}

static void
cm_multipart_clear(struct cm_multipart *mp)
{
	cm_http_fields_free(mp->fields);
	mp->fields = NULL;
	free(mp->name);
	free(mp->filename);
	mp->name = mp->filename = NULL;
	cm_multipart_free(mp->child);
	mp->child = NULL;
	memset(&mp->part, 0, sizeof(mp->part));
	mp->open = 0;
}

void
cm_multipart_free(struct cm_multipart *mp)
{
	if (mp == NULL)
		return;
	cm_multipart_clear(mp);
	free(mp->line);
	free(mp);
}

static int
cm_multipart_fail(struct cm_multipart *mp, const char *why)
{
	if (mp->state != CM_MP_FAILED) {
		mp->state = CM_MP_FAILED;
		mp->why = why;
	}
	return (-1);
}

/* Body bytes: the caller's, a nested parser's, or the preamble's. */
static int
cm_multipart_emit(struct cm_multipart *mp, const char *buf, size_t len)
{
	const char	*why;

	if (len == 0 || mp->state != CM_MP_BODY)
		return (0);
	if (mp->child != NULL) {
		if (cm_multipart_feed(mp->child, buf, len, &why) == -1)
			return (cm_multipart_fail(mp, why));
		return (0);
	}
	if (mp->cb.data != NULL && mp->cb.data(mp->arg, &mp->part, buf,
	    len) != 0)
		return (cm_multipart_fail(mp, "stopped by the caller"));
	return (0);
}

/* Preamble or body up to the next delimiter, or to end. */
static int
cm_multipart_scan(struct cm_multipart *mp, const char **pp, const char *end)
{
	const char	*p = *pp, *q;

	while (p < end) {
		if (mp->held > 0) {
			while (mp->held < mp->dlen && p < end &&
			    *p == mp->delim[mp->held]) {
				mp->held++;
				p++;
			}
			if (mp->held == mp->dlen) {
				mp->held = 0;
				*pp = p;
				if (mp->state == CM_MP_BODY &&
				    cm_multipart_end(mp) == -1)
					return (-1);
				mp->state = CM_MP_DELIM;
				mp->dstate = 0;
				mp->pad = 0;
				return (0);
			}
			if (p == end)
				break;
			/* Not a delimiter: what was held is body. */
			if (cm_multipart_emit(mp, mp->delim, mp->held) == -1)
				return (-1);
			mp->held = 0;
			continue;
		}
		if ((q = memchr(p, '\r', (size_t)(end - p))) == NULL)
			q = end;
		if (cm_multipart_emit(mp, p, (size_t)(q - p)) == -1)
			return (-1);
		p = q;
		if (p < end) {
			mp->held = 1;
			p++;
		}
	}
	*pp = p;
	return (0);
}

/* After a delimiter: "--" closes; else optional padding and CRLF. */
static int
cm_multipart_after(struct cm_multipart *mp, char c)
{
	switch (mp->dstate) {
	case 0:
		if (c == '-') {
			mp->dstate = 1;
			return (0);
		}
		/* FALLTHROUGH */
	case 2:
		if (c == ' ' || c == '\t') {
			if (++mp->pad > CM_MULTIPART_PAD_BYTES)
				break;
			mp->dstate = 2;
			return (0);
		}
		if (c == '\r') {
			mp->dstate = 3;
			return (0);
		}
		break;
	case 1:
		if (c == '-') {
			mp->state = CM_MP_EPILOGUE;
			return (0);
		}
		break;
	case 3:
		if (c == '\n') {
			mp->state = CM_MP_HEAD;
			mp->llen = mp->htotal = 0;
			mp->cr = 0;
			if ((mp->fields = cm_http_fields_new()) == NULL)
				return (cm_multipart_fail(mp,
				    "out of memory"));
			return (0);
		}
		break;
	}
	return (cm_multipart_fail(mp, "malformed multipart boundary line"));
}

static int
cm_multipart_head(struct cm_multipart *mp, char c)
{
	if (++mp->htotal > CM_MULTIPART_HEAD_BYTES)
		return (cm_multipart_fail(mp,
		    "multipart part header too large"));
	if (mp->cr) {
		if (c != '\n')
			return (cm_multipart_fail(mp,
			    "bare CR in a multipart part header"));
		mp->cr = 0;
		if (mp->llen == 0)
			return (cm_multipart_begin(mp));
		return (cm_multipart_line(mp));
	}
	if (c == '\r')
		mp->cr = 1;
	else if (c == '\n')
		return (cm_multipart_fail(mp,
		    "bare LF in a multipart part header"));
	else
		mp->line[mp->llen++] = c;
	return (0);
}

/* One "name: value" line, checked as the HTTP codec checks fields. */
static int
cm_multipart_line(struct cm_multipart *mp)
{
	char	*colon, *v, *e;

	mp->line[mp->llen] = '\0';
	if (memchr(mp->line, '\0', mp->llen) != NULL ||
	    (colon = strchr(mp->line, ':')) == NULL || colon == mp->line)
		return (cm_multipart_fail(mp,
		    "malformed multipart part header"));
	*colon = '\0';
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	for (e = mp->line + mp->llen; e > v && (e[-1] == ' ' ||
	    e[-1] == '\t'); e--)
		;
	*e = '\0';
	mp->llen = 0;
	if (cm_http_fields_len(mp->fields) >= CM_MULTIPART_HEAD_COUNT)
		return (cm_multipart_fail(mp,
		    "too many multipart part header fields"));
	if (cm_http_fields_add(mp->fields, mp->line, v) == -1)
		return (cm_multipart_fail(mp,
		    "malformed multipart part header"));
	return (0);
}

/* Copies parameter pname of v, or leaves *out NULL. */
static int
cm_multipart_dup_param(const char *v, const char *pname, char **out)
{
	size_t	 sz = strlen(v) + 1;

	if ((*out = malloc(sz)) == NULL)
		return (-1);
	if (cm_multipart_param(v, pname, *out, sz) != 1) {
		free(*out);
		*out = NULL;
	}
	return (0);
}

/* The header block ended: report the part and open its body. */
static int
cm_multipart_begin(struct cm_multipart *mp)
{
	struct cm_multipart_part	*p = &mp->part;
	const char			*cd, *ct, *why;
	int				 nomem;

	p->fields = mp->fields;
	if ((cd = cm_http_fields_get(mp->fields, "Content-Disposition")) !=
	    NULL && (cm_multipart_dup_param(cd, "name", &mp->name) == -1 ||
	    cm_multipart_dup_param(cd, "filename", &mp->filename) == -1))
		return (cm_multipart_fail(mp, "out of memory"));
	p->name = mp->name;
	p->filename = mp->filename;
	p->content_type = ct = cm_http_fields_get(mp->fields, "Content-Type");
	p->transfer_encoding = cm_http_fields_get(mp->fields,
	    "Content-Transfer-Encoding");
	p->index = mp->nparts++;
	p->depth = mp->depth;
	/* A nested multipart without a usable boundary is a plain body. */
	if (ct != NULL && mp->depth + 1 < CM_MULTIPART_MAX_DEPTH &&
	    cm_multipart_is_multipart(ct)) {
		mp->child = cm_multipart_make(ct, &mp->cb, mp->arg,
		    mp->depth + 1, &nomem, &why);
		if (mp->child == NULL && nomem)
			return (cm_multipart_fail(mp, why));
	}
	p->nested = mp->child != NULL;
	mp->open = 1;
	mp->state = CM_MP_BODY;
	mp->held = 0;
	if (mp->cb.part != NULL && mp->cb.part(mp->arg, p) != 0)
		return (cm_multipart_fail(mp, "stopped by the caller"));
	return (0);
}

/* The current part's body ended (a delimiter, or the end of input). */
static int
cm_multipart_end(struct cm_multipart *mp)
{
	const char	*why;
	int		 rc = 0;

	if (!mp->open)
		return (0);
	if (mp->child != NULL && cm_multipart_finish(mp->child, &why) == -1)
		return (cm_multipart_fail(mp, why));
	if (mp->cb.part_end != NULL && mp->cb.part_end(mp->arg,
	    &mp->part) != 0)
		rc = cm_multipart_fail(mp, "stopped by the caller");
	cm_multipart_clear(mp);
	return (rc);
}

int
cm_multipart_feed(struct cm_multipart *mp, const void *buf, size_t len,
    const char **why)
{
	const char	*p = buf, *end = p + len;

	while (p < end && mp->state != CM_MP_FAILED) {
		switch (mp->state) {
		case CM_MP_PREAMBLE:
		case CM_MP_BODY:
			(void)cm_multipart_scan(mp, &p, end);
			break;
		case CM_MP_DELIM:
			(void)cm_multipart_after(mp, *p++);
			break;
		case CM_MP_HEAD:
			(void)cm_multipart_head(mp, *p++);
			break;
		default:
			p = end;	/* the epilogue */
			break;
		}
	}
	if (mp->state == CM_MP_FAILED) {
		*why = mp->why;
		return (-1);
	}
	return (0);
}

int
cm_multipart_feed_evbuffer(struct cm_multipart *mp, struct evbuffer *in,
    const char **why)
{
	struct evbuffer_ptr	 pos;
	struct evbuffer_iovec	 v;
	size_t			 off = 0, total = evbuffer_get_length(in);

	/* Stop at the last byte: a pointer past it has no chain to peek. */
	while (off < total) {
		if (evbuffer_ptr_set(in, &pos, off, EVBUFFER_PTR_SET) == -1 ||
		    evbuffer_peek(in, -1, &pos, &v, 1) < 1 || v.iov_len == 0) {
			*why = "cannot read the body buffer";
			return (-1);
		}
		if (cm_multipart_feed(mp, v.iov_base, v.iov_len, why) == -1)
			return (-1);
		off += v.iov_len;
	}
	return (0);
}

int
cm_multipart_finish(struct cm_multipart *mp, const char **why)
{
	if (mp->state == CM_MP_EPILOGUE)
		return (0);
	if (mp->state == CM_MP_BODY) {
		/* Held bytes were not a delimiter after all. */
		if (cm_multipart_emit(mp, mp->delim, mp->held) == 0)
			(void)cm_multipart_end(mp);
		mp->held = 0;
	}
	(void)cm_multipart_fail(mp,
	    "multipart body ends before its final boundary");
	*why = mp->why;
	return (-1);
}
