/*
 * application/x-www-form-urlencoded bodies (WHATWG URL §5.1) decoded into
 * name/value pairs for the body scanners (spec/egress.md §8.5), so that a
 * secret split by %XX or '+' is seen as the bytes the origin will read.
 *
 * Pairs are split at '&', a name from its value at the first '='; '+' is
 * a space; %XX with two hex digits is that byte, and any other '%' stays
 * as it is.  Empty pairs ("&&") are skipped; a pair without '=' has an
 * empty value.  Bytes are bytes: no charset is applied.
 *
 * Pure computation.  The streaming decoder holds at most
 * CM_FORM_PIECE_BYTES decoded bytes: a longer name or value is delivered
 * in pieces.
 */
#ifndef CM_FORM_H
#define CM_FORM_H

#include <stddef.h>

struct cm_form;			/* opaque: common/form.c */

/* Flags of one piece. */
#define CM_FORM_NAME	0x01	/* a piece of a name, else of a value */
#define CM_FORM_FIRST	0x02	/* the first piece of that name or value */
#define CM_FORM_LAST	0x04	/* the last piece of it */

/*
 * Called with every piece in order: each pair gives its name (one or more
 * pieces, the last flagged CM_FORM_LAST), then its value likewise (a lone
 * empty piece when the pair has none).  Non-zero stops the decoder.
 */
typedef int	(*cm_form_piece_fn)(void *arg, unsigned flags,
		    const void *buf, size_t len);
/* Whole pairs, for cm_form_pairs(). */
typedef int	(*cm_form_pair_fn)(void *arg, const char *name, size_t nlen,
		    const char *value, size_t vlen);

/* NULL when out of memory. */
struct cm_form	*cm_form_new(cm_form_piece_fn fn, void *arg);
void		 cm_form_free(struct cm_form *f);
/* 0, or -1 and *why when the callback stopped the decoder. */
int		 cm_form_feed(struct cm_form *f, const void *buf, size_t len,
		    const char **why);
/* The body ended: flushes the last pair.  0 or -1 as cm_form_feed(). */
int		 cm_form_finish(struct cm_form *f, const char **why);
/*
 * A whole body: fn gets each decoded pair whole, however long (the
 * decoded body is never longer than len).  0, or -1 and *why.
 */
int		 cm_form_pairs(const void *buf, size_t len, cm_form_pair_fn fn,
		    void *arg, const char **why);

#endif /* CM_FORM_H */
