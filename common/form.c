/*
 * urlencoded forms in pieces (common/form.h).  One byte at a time through
 * a small state machine, so a %XX split across reads decodes the same as
 * a whole one.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/bounds.h"
#include "common/form.h"

struct cm_form {
	cm_form_piece_fn	 fn;
	void			*arg;
	unsigned char		 buf[CM_FORM_PIECE_BYTES];
	size_t			 len;
	int			 in_value;	/* past this pair's '=' */
	int			 started;	/* this pair has a byte */
	int			 first;		/* no piece of this part yet */
	int			 pct;		/* '%' seen (1), + digit (2) */
	unsigned char		 hex;		/* the digit after '%' */
	int			 stopped;
};

/* Collects whole pairs for cm_form_pairs(). */
struct cm_form_whole {
	cm_form_pair_fn		 fn;
	void			*arg;
	char			*out;		/* decoded body; owned */
	size_t			 olen;
	size_t			 name_off;	/* this pair's name */
	size_t			 nlen;
	size_t			 value_off;
};

static int	 cm_form_flush(struct cm_form *f, int last);
static int	 cm_form_put(struct cm_form *f, unsigned char c);
static int	 cm_form_sep(struct cm_form *f, unsigned char c);
static int	 cm_form_end_pair(struct cm_form *f);

static int
cm_form_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

struct cm_form *
cm_form_new(cm_form_piece_fn fn, void *arg)
{
	struct cm_form	*f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return (NULL);
	f->fn = fn;
	f->arg = arg;
	f->first = 1;
	return (f);
}

void
cm_form_free(struct cm_form *f)
{
	free(f);
}

/* Delivers the decoded bytes held for the current name or value. */
static int
cm_form_flush(struct cm_form *f, int last)
{
	unsigned	 flags = 0;

	if (f->len == 0 && !last)
		return (0);
	if (!f->in_value)
		flags |= CM_FORM_NAME;
	if (f->first)
		flags |= CM_FORM_FIRST;
	if (last)
		flags |= CM_FORM_LAST;
	f->first = last;
	if (f->fn != NULL && f->fn(f->arg, flags, f->buf, f->len) != 0) {
		f->stopped = 1;
		return (-1);
	}
	f->len = 0;
	return (0);
}

static int
cm_form_put(struct cm_form *f, unsigned char c)
{
	if (f->len == sizeof(f->buf) && cm_form_flush(f, 0) == -1)
		return (-1);
	f->buf[f->len++] = c;
	return (0);
}

/* '&' or the end: the pair is over (nothing at all: nothing to say). */
static int
cm_form_end_pair(struct cm_form *f)
{
	if (f->pct >= 1 && cm_form_put(f, '%') == -1)
		return (-1);
	if (f->pct == 2 && cm_form_put(f, f->hex) == -1)
		return (-1);
	f->pct = 0;
	if (f->started) {
		if (cm_form_flush(f, 1) == -1)
			return (-1);
		if (!f->in_value) {
			f->in_value = 1;	/* "flag" has the value "" */
			if (cm_form_flush(f, 1) == -1)
				return (-1);
		}
	}
	f->in_value = f->started = 0;
	f->first = 1;
	return (0);
}

/* One byte that is not part of a complete %XX. */
static int
cm_form_sep(struct cm_form *f, unsigned char c)
{
	if (c == '&')
		return (cm_form_end_pair(f));
	f->started = 1;
	if (c == '=' && !f->in_value) {
		if (cm_form_flush(f, 1) == -1)
			return (-1);
		f->in_value = 1;
		return (0);
	}
	if (c == '%') {
		f->pct = 1;
		return (0);
	}
	return (cm_form_put(f, c == '+' ? ' ' : c));
}

int
cm_form_feed(struct cm_form *f, const void *buf, size_t len,
    const char **why)
{
	const unsigned char	*p = buf;
	size_t			 i;
	int			 v;

	for (i = 0; i < len && !f->stopped; i++) {
		if (f->pct == 1 && (v = cm_form_hexval(p[i])) != -1) {
			f->hex = p[i];
			f->pct = 2;
			continue;
		}
		if (f->pct == 2 && (v = cm_form_hexval(p[i])) != -1) {
			f->pct = 0;
			if (cm_form_put(f, (unsigned char)((cm_form_hexval(
			    f->hex) << 4) | v)) == -1)
				break;
			continue;
		}
		/* Not a triplet after all: '%' (and a digit) are literal. */
		if (f->pct >= 1 && cm_form_put(f, '%') == -1)
			break;
		if (f->pct == 2 && cm_form_put(f, f->hex) == -1)
			break;
		f->pct = 0;
		if (cm_form_sep(f, p[i]) == -1)
			break;
	}
	if (f->stopped) {
		*why = "stopped by the caller";
		return (-1);
	}
	return (0);
}

int
cm_form_finish(struct cm_form *f, const char **why)
{
	if (f->stopped || cm_form_end_pair(f) == -1) {
		*why = "stopped by the caller";
		return (-1);
	}
	return (0);
}

/* Pieces into one decoded copy; each pair goes out at its value's end. */
static int
cm_form_whole_piece(void *arg, unsigned flags, const void *buf, size_t len)
{
	struct cm_form_whole	*w = arg;

	if (flags & CM_FORM_FIRST) {
		if (flags & CM_FORM_NAME)
			w->name_off = w->olen;
		else
			w->value_off = w->olen;
	}
	memcpy(w->out + w->olen, buf, len);
	w->olen += len;
	if (!(flags & CM_FORM_LAST))
		return (0);
	if (flags & CM_FORM_NAME) {
		w->nlen = w->olen - w->name_off;
		return (0);
	}
	return (w->fn(w->arg, w->out + w->name_off, w->nlen,
	    w->out + w->value_off, w->olen - w->value_off));
}

int
cm_form_pairs(const void *buf, size_t len, cm_form_pair_fn fn, void *arg,
    const char **why)
{
	struct cm_form_whole	 w;
	struct cm_form		*f;
	int			 rc;

	memset(&w, 0, sizeof(w));
	w.fn = fn;
	w.arg = arg;
	/* Decoding never lengthens: len (+1 for an empty body) suffices. */
	if ((w.out = malloc(len + 1)) == NULL ||
	    (f = cm_form_new(cm_form_whole_piece, &w)) == NULL) {
		free(w.out);
		*why = "out of memory";
		return (-1);
	}
	rc = cm_form_feed(f, buf, len, why);
	if (rc == 0)
		rc = cm_form_finish(f, why);
	cm_form_free(f);
	free(w.out);
	return (rc);
}
