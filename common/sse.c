/*
 * SSE events and ndjson records (common/sse.h).
 *
 * The unit being assembled stays at the front of the caller's evbuffer;
 * the splitter remembers how far it has looked and the line state there,
 * so each byte is examined once however slowly the unit arrives.
 *
 * A blank line ending in CR whose LF is already there takes the LF too;
 * when the LF has not arrived the event ends at the CR (no waiting: live
 * streams must not stall on a byte) and the LF, when it comes, opens the
 * next unit without counting as a line end.
 */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/sse.h"

struct cm_sse {
	enum cm_sse_mode	 mode;
	size_t			 max;		/* bytes per unit or piece */
	size_t			 seen;		/* front bytes looked at */
	int			 line_empty;	/* no byte on this line yet */
	int			 after_cr;	/* a CR ended the last line */
	int			 started;	/* a piece of this unit went */
};

struct cm_sse *
cm_sse_new(enum cm_sse_mode mode, size_t max_bytes)
{
	struct cm_sse	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return (NULL);
	s->mode = mode;
	s->max = max_bytes == 0 ? 1 : max_bytes;
	if (s->max > INT_MAX)
		s->max = INT_MAX;	/* evbuffer_remove_buffer() takes int */
	s->line_empty = 1;
	return (s);
}

void
cm_sse_free(struct cm_sse *s)
{
	free(s);
}

/* Moves n front bytes of in to out as one unit or piece. */
static int
cm_sse_move(struct cm_sse *s, struct evbuffer *in, struct evbuffer *out,
    size_t n, int end, unsigned *flags, const char **why)
{
	if (evbuffer_remove_buffer(in, out, n) != (int)n) {
		*why = "out of memory";
		return (-1);
	}
	*flags = (s->started ? 0 : CM_SSE_START) | (end ? CM_SSE_END : 0);
	s->started = !end;
	s->seen = 0;
	return (1);
}

/*
 * Looks at the next byte c: 1 when the unit ends with it.
 * *cr_end is set when a CR ends the unit, so an LF after it may join.
 */
static int
cm_sse_byte(struct cm_sse *s, unsigned char c, int *cr_end)
{
	int	 was_cr = s->after_cr;

	*cr_end = 0;
	s->after_cr = 0;
	if (s->mode == CM_SSE_NDJSON)
		return (c == '\n');
	if (c == '\n' && was_cr)
		return (0);		/* the LF of a CRLF */
	if (c != '\r' && c != '\n') {
		s->line_empty = 0;
		return (0);
	}
	s->after_cr = c == '\r';
	if (!s->line_empty) {
		s->line_empty = 1;
		return (0);
	}
	*cr_end = c == '\r';
	return (1);			/* a blank line */
}

/* The byte at off in in, or -1. */
static int
cm_sse_at(struct evbuffer *in, size_t off)
{
	struct evbuffer_ptr	 pos;
	unsigned char		 c;

	if (evbuffer_ptr_set(in, &pos, off, EVBUFFER_PTR_SET) == -1 ||
	    evbuffer_copyout_from(in, &pos, &c, 1) != 1)
		return (-1);
	return (c);
}

int
cm_sse_next(struct cm_sse *s, struct evbuffer *in, struct evbuffer *out,
    unsigned *flags, const char **why)
{
	struct evbuffer_ptr	 pos;
	struct evbuffer_iovec	 v;
	const unsigned char	*p;
	size_t			 len = evbuffer_get_length(in), lim, i, k;
	int			 cr_end;

	if (s->seen > len)
		s->seen = len;		/* the caller drained: start over */
	lim = len < s->max ? len : s->max;
	i = s->seen;
	while (i < lim) {
		if (evbuffer_ptr_set(in, &pos, i, EVBUFFER_PTR_SET) == -1 ||
		    evbuffer_peek(in, -1, &pos, &v, 1) < 1 || v.iov_len == 0) {
			*why = "cannot read the stream buffer";
			return (-1);
		}
		p = v.iov_base;
		for (k = 0; k < v.iov_len && i < lim; k++, i++) {
			if (!cm_sse_byte(s, p[k], &cr_end))
				continue;
			if (cr_end && i + 1 < lim && cm_sse_at(in, i + 1) ==
			    '\n') {
				s->after_cr = 0;
				i++;
			}
			return (cm_sse_move(s, in, out, i + 1, 1, flags,
			    why));
		}
	}
	s->seen = i;
	if (i == s->max)
		return (cm_sse_move(s, in, out, i, 0, flags, why));
	return (0);
}

int
cm_sse_finish(struct cm_sse *s, struct evbuffer *in, struct evbuffer *out,
    unsigned *flags, const char **why)
{
	size_t	 len;
	int	 rc;

	if ((rc = cm_sse_next(s, in, out, flags, why)) != 0)
		return (rc);
	if ((len = evbuffer_get_length(in)) == 0) {
		if (!s->started)
			return (0);
		*flags = CM_SSE_END;	/* a piece went out: close it */
		s->started = 0;
		return (1);
	}
	s->line_empty = 1;
	s->after_cr = 0;
	return (cm_sse_move(s, in, out, len, 1, flags, why));
}

int
cm_sse_data(const void *event, size_t len, struct evbuffer *out)
{
	const char	*p = event, *end = p + len, *eol, *colon, *v;
	size_t		 ll;
	int		 any = 0;

	while (p < end) {
		for (eol = p; eol < end && *eol != '\r' && *eol != '\n'; eol++)
			;
		ll = (size_t)(eol - p);
		colon = memchr(p, ':', ll);
		if (ll > 0 && colon != p && (size_t)((colon != NULL ? colon :
		    eol) - p) == 4 && memcmp(p, "data", 4) == 0) {
			v = colon != NULL ? colon + 1 : eol;
			if (v < eol && *v == ' ')
				v++;
			if ((any && evbuffer_add(out, "\n", 1) == -1) ||
			    evbuffer_add(out, v, (size_t)(eol - v)) == -1)
				return (-1);
			any = 1;
		}
		if (eol < end && *eol == '\r' && eol + 1 < end &&
		    eol[1] == '\n')
			eol++;
		p = eol + 1;
	}
	return (0);
}
