/*
 * Incremental multipart parsing (RFC 2046 §5.1, RFC 7578) for the body
 * scanners (spec/egress.md §8.5): multipart/form-data, multipart/mixed
 * and any other multipart/ type, split by the boundary of the
 * Content-Type field into parts, each reported as its header fields
 * (name, filename and content type picked out) and then its body bytes,
 * streamed in pieces as they arrive, so the scanner sees values instead
 * of wire syntax.  A part that is itself multipart is parsed in turn, up
 * to CM_MULTIPART_MAX_DEPTH levels; deeper ones are plain bodies.
 *
 * Pure computation: no sockets, no event loop.  Memory is one part
 * header block (CM_MULTIPART_HEAD_BYTES) per level; bodies are never
 * buffered.  Strict where it costs nothing: CRLF line ends, a boundary
 * of 1 to 70 characters, header lines that would pass the HTTP codec.
 * Content-Transfer-Encoding is reported, not undone.
 */
#ifndef CM_MULTIPART_H
#define CM_MULTIPART_H

#include <stddef.h>

struct evbuffer;
struct cm_http_fields;
struct cm_multipart;		/* opaque: common/multipart.c */

/* One part, valid from its part callback to its part_end callback. */
struct cm_multipart_part {
	const struct cm_http_fields *fields;	/* its header fields */
	const char	*name;		/* Content-Disposition name=, or NULL */
	const char	*filename;	/* filename=, or NULL */
	const char	*content_type;	/* Content-Type, or NULL (text/plain) */
	const char	*transfer_encoding; /* Content-Transfer-Encoding|NULL */
	size_t		 index;		/* 0, 1, ... within its multipart */
	unsigned	 depth;		/* 0 at the top, +1 per nesting */
	int		 nested;	/* 1: its body comes as parts */
};

/*
 * Callbacks, each may be NULL; a non-zero return stops the parser (the
 * feed returns -1, "stopped by the caller").  data gets the body bytes
 * of a part in order, never those of a nested multipart part: those
 * arrive as its own parts, one depth deeper.
 */
struct cm_multipart_cb {
	int	(*part)(void *arg, const struct cm_multipart_part *p);
	int	(*data)(void *arg, const struct cm_multipart_part *p,
		    const void *buf, size_t len);
	int	(*part_end)(void *arg, const struct cm_multipart_part *p);
};

/*
 * The parameter name of a field value of the form
 * token *( OWS ";" OWS name "=" ( token / quoted-string ) ), as in
 * Content-Type and Content-Disposition: 1 with the unquoted value in out
 * (NUL-terminated), 0 when absent, -1 when any of the value is
 * malformed or the parameter is longer than outsz - 1.  Names compare
 * case-insensitively; the first of several wins.
 */
int			 cm_multipart_param(const char *value,
			    const char *name, char *out, size_t outsz);
/*
 * A parser for a body whose Content-Type is content_type, which must be
 * multipart/ with a valid boundary; cb is copied.  NULL and *why when it
 * is not, or when out of memory.
 */
struct cm_multipart	*cm_multipart_new(const char *content_type,
			    const struct cm_multipart_cb *cb, void *arg,
			    const char **why);
void			 cm_multipart_free(struct cm_multipart *mp);
/*
 * Parses the next len bytes of the body, calling back as parts start,
 * carry bytes and end.  0, or -1 and *why (the parser stays refused).
 * Bytes after the close delimiter (the epilogue) are ignored.
 */
int			 cm_multipart_feed(struct cm_multipart *mp,
			    const void *buf, size_t len, const char **why);
/* The same over every byte of in, which is left as it was. */
int			 cm_multipart_feed_evbuffer(struct cm_multipart *mp,
			    struct evbuffer *in, const char **why);
/*
 * The body ended: 0 when the close delimiter was seen, else -1 and *why
 * (a part that was open first gets its held bytes and its part_end).
 */
int			 cm_multipart_finish(struct cm_multipart *mp,
			    const char **why);

#endif /* CM_MULTIPART_H */
