/*
 * Streaming content decoding for the scanners (spec/egress.md §8.5,
 * §10.2): gzip and x-gzip, deflate (zlib-wrapped, or raw deflate as
 * browsers accept it), br when built with brotli, and identity.  Up to
 * CM_MAX_DECODE_CODINGS codings may be stacked; they are undone in the
 * reverse of the order Content-Encoding lists them.
 *
 * Pure computation on evbuffers: no sockets, no event loop.  Memory is
 * bounded (zlib's window, brotli's capped allocator, one stage buffer
 * between stacked codings) and output is bounded per call, in total, and
 * against the input by a compression ratio, so a decompression bomb is
 * refused with a reason instead of filling memory or pinning a worker.
 *
 * Decisions: gzip members may follow one another (RFC 1952 §2.2, as
 * gunzip and browsers read them); any other bytes after the end of a
 * stream are refused as corrupt.  An empty encoded body decodes to an
 * empty body.  A deflate body whose first two bytes are a valid zlib
 * header is read as zlib, anything else as raw deflate.
 */
#ifndef CM_DECODE_H
#define CM_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "common/bounds.h"

struct evbuffer;
struct cm_decode;		/* opaque: common/decode.c */

enum cm_decode_coding {
	CM_DECODE_IDENTITY,	/* never returned by cm_decode_parse() */
	CM_DECODE_GZIP,		/* "gzip", "x-gzip" */
	CM_DECODE_DEFLATE,	/* "deflate": zlib or raw */
	CM_DECODE_BR,		/* "br", only with HAVE_BROTLI */
};

/* Why a decoder failed; the caller answers unscannable_encoding but NOMEM. */
enum cm_decode_err {
	CM_DECODE_OK,
	CM_DECODE_UNSUPPORTED,	/* unknown coding, or too many */
	CM_DECODE_CORRUPT,	/* bad data, checksum, bytes after the end */
	CM_DECODE_TRUNCATED,	/* the body ended inside a stream */
	CM_DECODE_TOO_BIG,	/* decoded output past max_output_bytes */
	CM_DECODE_RATIO,	/* decoded output past max_ratio x input */
	CM_DECODE_NOMEM,
};

struct cm_decode_limits {
	uint64_t	 max_output_bytes;	/* 0: the CM_DEF_ value */
	unsigned	 max_ratio;		/* 0: CM_DEF_DECODE_RATIO */
};

/*
 * Parses a Content-Encoding value (several fields joined with ", ", or
 * NULL for none) into codings[] in the order they were applied.  Tokens
 * compare case-insensitively, "identity" and empty list elements are
 * skipped.  Returns 0 with *n set (0: nothing to undo), or -1 and *why
 * for an unknown coding, a parameter, or more than CM_MAX_DECODE_CODINGS
 * codings: the body is unscannable.
 */
int			 cm_decode_parse(const char *value,
			    enum cm_decode_coding
			    codings[CM_MAX_DECODE_CODINGS],
			    size_t *n, const char **why);
/*
 * A decoder undoing codings[0..n) (as cm_decode_parse() returns them; n
 * may be 0 for identity).  lim is copied; NULL means the defaults.  NULL
 * when out of memory or n is too large.
 */
struct cm_decode	*cm_decode_new(const enum cm_decode_coding *codings,
			    size_t n, const struct cm_decode_limits *lim);
void			 cm_decode_free(struct cm_decode *d);
/*
 * Decodes from in (drained as it is consumed) and appends at most max
 * (> 0) decoded bytes to out.  eof says that in holds the last bytes of the
 * body.  Returns 1 when every coding has ended and all output is out (a
 * gzip body ends only at eof, since another member may follow), 0 when
 * in is spent or max was reached (call again with more bytes or more
 * room), -1 with *why when refused; cm_decode_error() then says why, and
 * the decoder stays refused.  After 1, more bytes are refused as corrupt.
 * Bytes decoded before a refusal may already be in out.
 */
int			 cm_decode_read(struct cm_decode *d,
			    struct evbuffer *in, int eof, struct evbuffer *out,
			    size_t max, const char **why);
/* All of in, which is the whole body, into out: 0 or -1 and *why. */
int			 cm_decode_all(struct cm_decode *d,
			    struct evbuffer *in, struct evbuffer *out,
			    const char **why);
enum cm_decode_err	 cm_decode_error(const struct cm_decode *d);
/* Encoded bytes consumed and decoded bytes produced so far. */
uint64_t		 cm_decode_in_bytes(const struct cm_decode *d);
uint64_t		 cm_decode_out_bytes(const struct cm_decode *d);
/* "gzip", "deflate", "br", "identity". */
const char		*cm_decode_coding_name(enum cm_decode_coding c);
/* 1 when this build decodes br. */
int			 cm_decode_have_brotli(void);

#endif /* CM_DECODE_H */
