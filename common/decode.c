/*
 * Content decoding as a pipeline of stages (common/decode.h).
 *
 * Stage 0 reads the caller's evbuffer; stage i > 0 reads mid[i], which
 * stage i - 1 fills up to CM_DECODE_STAGE_BYTES; the last stage writes the
 * caller's out under the call's budget.  Each pass drives the stages from
 * the last to the first, so downstream room frees up before upstream
 * fills it, and passes repeat while anything moved.  Output lands in
 * space reserved in the destination evbuffer: nothing is copied twice.
 */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <zlib.h>
#ifdef HAVE_BROTLI
#include <brotli/decode.h>
#endif

#include "common/bounds.h"
#include "common/decode.h"

enum cm_decode_state {
	CM_DECODE_START,	/* nothing seen; no library state yet */
	CM_DECODE_RUN,		/* inside a stream */
	CM_DECODE_MEMBER,	/* gzip: a member ended, another may follow */
	CM_DECODE_DONE,		/* ended: any further byte is corrupt */
};

struct cm_decode_stage {
	enum cm_decode_coding	 coding;
	enum cm_decode_state	 state;
	z_stream		 z;
	int			 zinit;		/* z needs inflateEnd() */
#ifdef HAVE_BROTLI
	BrotliDecoderState	*br;		/* owned */
#endif
	size_t			 mem;		/* brotli bytes allocated */
	int			 mem_refused;	/* our allocator said no */
	int			 full;		/* last step filled its room */
	uint64_t		 out_bytes;	/* produced by this stage */
};

struct cm_decode {
	struct cm_decode_stage	 st[CM_MAX_DECODE_CODINGS];
	/* mid[i] feeds stage i; owned; mid[0] unused (the caller's in). */
	struct evbuffer		*mid[CM_MAX_DECODE_CODINGS];
	size_t			 n;		/* stages, at least one */
	uint64_t		 max_output;
	unsigned		 ratio;
	uint64_t		 in_bytes;	/* consumed by stage 0 */
	uint64_t		 out_bytes;	/* appended to the caller's */
	enum cm_decode_err	 err;		/* sticky */
	const char		*why;
	int			 done;
};

static int	 cm_decode_fail(struct cm_decode *d, enum cm_decode_err err,
		    const char *why);
static int	 cm_decode_init(struct cm_decode *d, struct cm_decode_stage *st,
		    struct evbuffer *src, int src_eof);
static int	 cm_decode_lib(struct cm_decode *d, struct cm_decode_stage *st,
		    struct evbuffer *src, struct evbuffer *dst, size_t room,
		    size_t *took, size_t *made);
static int	 cm_decode_step(struct cm_decode *d, size_t i,
		    struct evbuffer *src, int src_eof, struct evbuffer *dst,
		    size_t room, int *moved);
static int	 cm_decode_check(struct cm_decode *d);

static const char *
cm_decode_corrupt_why(enum cm_decode_coding c)
{
	switch (c) {
	case CM_DECODE_GZIP:
		return ("corrupt gzip stream");
	case CM_DECODE_DEFLATE:
		return ("corrupt deflate stream");
	case CM_DECODE_BR:
		return ("corrupt brotli stream");
	default:
		return ("corrupt stream");
	}
}

const char *
cm_decode_coding_name(enum cm_decode_coding c)
{
	switch (c) {
	case CM_DECODE_GZIP:
		return ("gzip");
	case CM_DECODE_DEFLATE:
		return ("deflate");
	case CM_DECODE_BR:
		return ("br");
	default:
		return ("identity");
	}
}

int
cm_decode_have_brotli(void)
{
#ifdef HAVE_BROTLI
	return (1);
#else
	return (0);
#endif
}

/* RFC 9110 §5.6.2 tchar. */
static int
cm_decode_tchar(unsigned char c)
{
	return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' &&
	    strchr("!#$%&'*+-.^_`|~", c) != NULL));
}

int
cm_decode_parse(const char *value,
    enum cm_decode_coding codings[CM_MAX_DECODE_CODINGS], size_t *n,
    const char **why)
{
	const char		*p = value, *tok;
	size_t			 len;
	enum cm_decode_coding	 c;

	*n = 0;
	if (value == NULL)
		return (0);
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t')
			p++;
		tok = p;
		while (cm_decode_tchar((unsigned char)*p))
			p++;
		len = (size_t)(p - tok);
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != ',' && *p != '\0') {
			*why = "malformed Content-Encoding (codings take no "
			    "parameters)";
			return (-1);
		}
		if (*p == ',')
			p++;
		if (len == 0)
			continue;	/* RFC 9110 §5.6.1: empty elements */
		if ((len == 4 && strncasecmp(tok, "gzip", 4) == 0) ||
		    (len == 6 && strncasecmp(tok, "x-gzip", 6) == 0))
			c = CM_DECODE_GZIP;
		else if (len == 7 && strncasecmp(tok, "deflate", 7) == 0)
			c = CM_DECODE_DEFLATE;
		else if (len == 8 && strncasecmp(tok, "identity", 8) == 0)
			continue;
		else if (len == 2 && strncasecmp(tok, "br", 2) == 0 &&
		    cm_decode_have_brotli())
			c = CM_DECODE_BR;
		else {
			*why = "unsupported content coding";
			return (-1);
		}
		if (*n == CM_MAX_DECODE_CODINGS) {
			*why = "more than two stacked content codings";
			return (-1);
		}
		codings[(*n)++] = c;
	}
	return (0);
}

struct cm_decode *
cm_decode_new(const enum cm_decode_coding *codings, size_t n,
    const struct cm_decode_limits *lim)
{
	struct cm_decode	*d;
	size_t			 i;

	if (n > CM_MAX_DECODE_CODINGS)
		return (NULL);
	for (i = 0; i < n; i++)
		if (codings[i] == CM_DECODE_BR && !cm_decode_have_brotli())
			return (NULL);
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return (NULL);
	d->n = n == 0 ? 1 : n;
	/* Content-Encoding lists codings as applied: undo the last first. */
	for (i = 0; i < n; i++)
		d->st[i].coding = codings[n - 1 - i];
	if (n == 0)
		d->st[0].coding = CM_DECODE_IDENTITY;
	for (i = 1; i < d->n; i++)
		if ((d->mid[i] = evbuffer_new()) == NULL) {
			cm_decode_free(d);
			return (NULL);
		}
	d->max_output = CM_DEF_DECODE_OUTPUT_BYTES;
	d->ratio = CM_DEF_DECODE_RATIO;
	if (lim != NULL && lim->max_output_bytes != 0)
		d->max_output = lim->max_output_bytes;
	if (lim != NULL && lim->max_ratio != 0)
		d->ratio = lim->max_ratio;
	return (d);
}

void
cm_decode_free(struct cm_decode *d)
{
	size_t	 i;

	if (d == NULL)
		return;
	for (i = 0; i < d->n; i++) {
		if (d->st[i].zinit)
			(void)inflateEnd(&d->st[i].z);
#ifdef HAVE_BROTLI
		if (d->st[i].br != NULL)
			BrotliDecoderDestroyInstance(d->st[i].br);
#endif
		if (d->mid[i] != NULL)
			evbuffer_free(d->mid[i]);
	}
	free(d);
}

enum cm_decode_err
cm_decode_error(const struct cm_decode *d)
{
	return (d->err);
}

uint64_t
cm_decode_in_bytes(const struct cm_decode *d)
{
	return (d->in_bytes);
}

uint64_t
cm_decode_out_bytes(const struct cm_decode *d)
{
	return (d->out_bytes);
}

static int
cm_decode_fail(struct cm_decode *d, enum cm_decode_err err, const char *why)
{
	if (d->err == CM_DECODE_OK) {
		d->err = err;
		d->why = why;
	}
	return (-1);
}

#ifdef HAVE_BROTLI
/*
 * brotli sizes its ring buffer from the stream's window (up to 16 MiB):
 * count what it takes so a peer cannot make one body cost more than
 * CM_DECODE_BROTLI_MEM_BYTES.  A size header makes free() exact.
 */
static void *
cm_decode_br_alloc(void *opaque, size_t size)
{
	struct cm_decode_stage	*st = opaque;
	max_align_t		*p;

	if (size > CM_DECODE_BROTLI_MEM_BYTES - st->mem) {
		st->mem_refused = 1;
		return (NULL);
	}
	if ((p = malloc(sizeof(*p) + size)) == NULL)
		return (NULL);
	memcpy(p, &size, sizeof(size));
	st->mem += size;
	return (p + 1);
}

static void
cm_decode_br_free(void *opaque, void *addr)
{
	struct cm_decode_stage	*st = opaque;
	max_align_t		*p;
	size_t			 size;

	if (addr == NULL)
		return;
	p = (max_align_t *)addr - 1;
	memcpy(&size, p, sizeof(size));
	st->mem -= size;
	free(p);
}
#endif

/* RFC 1950 §2.2: deflate, a window up to 32 KiB, FCHECK. */
static int
cm_decode_zlib_header(const unsigned char b[2])
{
	return ((b[0] & 0x0f) == 8 && (b[0] >> 4) <= 7 &&
	    ((b[0] << 8) | b[1]) % 31 == 0);
}

/* The first byte of a stream is there: set up the library. */
static int
cm_decode_init(struct cm_decode *d, struct cm_decode_stage *st,
    struct evbuffer *src, int src_eof)
{
	unsigned char	 b[2];
	int		 wbits;

	switch (st->coding) {
	case CM_DECODE_GZIP:
		wbits = 16 + MAX_WBITS;		/* gzip wrapper only */
		break;
	case CM_DECODE_DEFLATE:
		/* RFC 9110 says zlib; raw deflate is what some servers send. */
		if (evbuffer_get_length(src) < 2 && !src_eof)
			return (0);
		if (evbuffer_copyout(src, b, 2) == 2 &&
		    cm_decode_zlib_header(b))
			wbits = MAX_WBITS;
		else
			wbits = -MAX_WBITS;
		break;
	case CM_DECODE_BR:
#ifdef HAVE_BROTLI
		st->br = BrotliDecoderCreateInstance(cm_decode_br_alloc,
		    cm_decode_br_free, st);
		if (st->br == NULL)
			return (cm_decode_fail(d, CM_DECODE_NOMEM,
			    "out of memory"));
		st->state = CM_DECODE_RUN;
		return (0);
#else
		return (cm_decode_fail(d, CM_DECODE_UNSUPPORTED,
		    "unsupported content coding"));
#endif
	default:
		st->state = CM_DECODE_RUN;
		return (0);
	}
	memset(&st->z, 0, sizeof(st->z));
	if (inflateInit2(&st->z, wbits) != Z_OK)
		return (cm_decode_fail(d, CM_DECODE_NOMEM, "out of memory"));
	st->zinit = 1;
	st->state = CM_DECODE_RUN;
	return (0);
}

/* The first non-empty extent of src (evbuffer_peek() may show empty ones). */
static void
cm_decode_first(struct evbuffer *src, struct evbuffer_iovec *v)
{
	struct evbuffer_iovec	 vec[4];
	int			 i, nv;

	v->iov_base = NULL;
	v->iov_len = 0;
	if (evbuffer_get_length(src) == 0)
		return;
	nv = evbuffer_peek(src, -1, NULL, vec, 4);
	for (i = 0; i < nv && i < 4; i++)
		if (vec[i].iov_len > 0) {
			*v = vec[i];
			return;
		}
	if ((v->iov_base = evbuffer_pullup(src, 1)) != NULL)
		v->iov_len = 1;
}

/*
 * One library call over the first chain of src into at most room bytes
 * reserved in dst.  *took and *made say what it consumed and produced.
 */
static int
cm_decode_lib(struct cm_decode *d, struct cm_decode_stage *st,
    struct evbuffer *src, struct evbuffer *dst, size_t room, size_t *took,
    size_t *made)
{
	static unsigned char	 none;
	struct evbuffer_iovec	 in, out;
	size_t			 inlen;
	int			 rc;

	*took = *made = 0;
	cm_decode_first(src, &in);
	if (in.iov_len == 0) {
		in.iov_base = &none;
		in.iov_len = 0;
	}
	if (in.iov_len == 0 && !st->full)
		return (0);
	inlen = in.iov_len > UINT_MAX ? UINT_MAX : in.iov_len;
	if (room > CM_DECODE_CHUNK_BYTES)
		room = CM_DECODE_CHUNK_BYTES;
	if (evbuffer_reserve_space(dst, (ev_ssize_t)room, &out, 1) < 1)
		return (cm_decode_fail(d, CM_DECODE_NOMEM, "out of memory"));
	if (out.iov_len > room)
		out.iov_len = room;
#ifdef HAVE_BROTLI
	if (st->coding == CM_DECODE_BR) {
		const uint8_t		*nin = in.iov_base;
		uint8_t			*nout = out.iov_base;
		size_t			 ain = inlen, aout = out.iov_len;
		BrotliDecoderResult	 r;

		r = BrotliDecoderDecompressStream(st->br, &ain, &nin, &aout,
		    &nout, NULL);
		*took = inlen - ain;
		*made = out.iov_len - aout;
		st->full = r == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT;
		if (r == BROTLI_DECODER_RESULT_SUCCESS)
			st->state = CM_DECODE_DONE;
		rc = r == BROTLI_DECODER_RESULT_ERROR ? -1 : 0;
	} else
#endif
	{
		st->z.next_in = in.iov_base;
		st->z.avail_in = (uInt)inlen;
		st->z.next_out = out.iov_base;
		st->z.avail_out = (uInt)out.iov_len;
		rc = inflate(&st->z, Z_NO_FLUSH);
		*took = inlen - st->z.avail_in;
		*made = out.iov_len - st->z.avail_out;
		st->full = rc == Z_OK && st->z.avail_out == 0;
		if (rc == Z_STREAM_END)
			st->state = st->coding == CM_DECODE_GZIP ?
			    CM_DECODE_MEMBER : CM_DECODE_DONE;
		if (rc == Z_NEED_DICT)
			rc = -2;
		else if (rc == Z_MEM_ERROR)
			rc = -3;
		else if (rc == Z_DATA_ERROR || rc == Z_STREAM_ERROR)
			rc = -1;
		else
			rc = 0;		/* Z_OK, Z_STREAM_END, Z_BUF_ERROR */
	}
	out.iov_len = *made;
	if (*made > 0 && evbuffer_commit_space(dst, &out, 1) == -1)
		return (cm_decode_fail(d, CM_DECODE_NOMEM, "out of memory"));
	if (*took > 0)
		(void)evbuffer_drain(src, *took);
	if (rc == -2)
		return (cm_decode_fail(d, CM_DECODE_CORRUPT,
		    "deflate stream needs a preset dictionary"));
	if (rc == -3 || (rc == -1 && st->mem_refused))
		return (cm_decode_fail(d, CM_DECODE_NOMEM, st->mem_refused ?
		    "brotli stream needs more memory than allowed" :
		    "out of memory"));
	if (rc == -1)
		return (cm_decode_fail(d, CM_DECODE_CORRUPT,
		    cm_decode_corrupt_why(st->coding)));
	return (0);
}

/* Advances stage i once; *moved is set when bytes or states changed. */
static int
cm_decode_step(struct cm_decode *d, size_t i, struct evbuffer *src,
    int src_eof, struct evbuffer *dst, size_t room, int *moved)
{
	struct cm_decode_stage	*st = &d->st[i];
	enum cm_decode_state	 was = st->state;
	unsigned char		 b[2];
	size_t			 len = evbuffer_get_length(src), took, made;
	int			 rc = 0;

	switch (st->state) {
	case CM_DECODE_START:
		if (len == 0) {
			if (src_eof)
				st->state = CM_DECODE_DONE;	/* empty body */
		} else if (cm_decode_init(d, st, src, src_eof) == -1)
			return (-1);
		break;
	case CM_DECODE_MEMBER:
		if (len == 0) {
			if (src_eof)
				st->state = CM_DECODE_DONE;
			break;
		}
		(void)evbuffer_copyout(src, b, len < 2 ? 1 : 2);
		if (b[0] != 0x1f || (len >= 2 && b[1] != 0x8b))
			return (cm_decode_fail(d, CM_DECODE_CORRUPT,
			    "bytes after the end of the gzip stream"));
		if (len < 2) {
			if (src_eof)
				return (cm_decode_fail(d, CM_DECODE_TRUNCATED,
				    "the body ends inside the gzip stream"));
			break;
		}
		if (inflateReset(&st->z) != Z_OK)
			return (cm_decode_fail(d, CM_DECODE_CORRUPT,
			    cm_decode_corrupt_why(st->coding)));
		st->state = CM_DECODE_RUN;
		break;
	case CM_DECODE_DONE:
		if (len > 0)
			return (cm_decode_fail(d, CM_DECODE_CORRUPT,
			    st->coding == CM_DECODE_GZIP ?
			    "bytes after the end of the gzip stream" :
			    st->coding == CM_DECODE_DEFLATE ?
			    "bytes after the end of the deflate stream" :
			    st->coding == CM_DECODE_BR ?
			    "bytes after the end of the brotli stream" :
			    "bytes after the end of the encoded body"));
		break;
	case CM_DECODE_RUN:
		if (st->coding == CM_DECODE_IDENTITY) {
			took = len < room ? len : room;
			if (took > INT_MAX)
				took = INT_MAX;
			if (took > 0 && evbuffer_remove_buffer(src, dst,
			    took) != (int)took)
				return (cm_decode_fail(d, CM_DECODE_NOMEM,
				    "out of memory"));
			made = took;
			if (len == took && src_eof)
				st->state = CM_DECODE_DONE;
		} else
			rc = cm_decode_lib(d, st, src, dst, room, &took, &made);
		/* Counted even when refused: the bytes did move. */
		if (i == 0)
			d->in_bytes += took;
		if (i == d->n - 1)
			d->out_bytes += made;
		st->out_bytes += made;
		if (rc == -1)
			return (-1);
		if (took > 0 || made > 0)
			*moved = 1;
		else if (st->state == CM_DECODE_RUN && src_eof && !st->full &&
		    evbuffer_get_length(src) == 0)
			return (cm_decode_fail(d, CM_DECODE_TRUNCATED,
			    st->coding == CM_DECODE_GZIP ?
			    "the body ends inside the gzip stream" :
			    st->coding == CM_DECODE_DEFLATE ?
			    "the body ends inside the deflate stream" :
			    "the body ends inside the brotli stream"));
		break;
	}
	if (st->state != was)
		*moved = 1;
	return (0);
}

/* The bomb guards, after every step. */
static int
cm_decode_check(struct cm_decode *d)
{
	uint64_t	 budget;
	size_t		 i;

	if (d->in_bytes > (UINT64_MAX - CM_DECODE_RATIO_SLACK_BYTES) /
	    d->ratio)
		budget = UINT64_MAX;
	else
		budget = d->in_bytes * d->ratio + CM_DECODE_RATIO_SLACK_BYTES;
	for (i = 0; i < d->n; i++)
		if (d->st[i].out_bytes > budget)
			return (cm_decode_fail(d, CM_DECODE_RATIO,
			    "decoded body exceeds the compression ratio "
			    "limit"));
	if (d->out_bytes > d->max_output)
		return (cm_decode_fail(d, CM_DECODE_TOO_BIG,
		    "decoded body exceeds the size limit"));
	return (0);
}

int
cm_decode_read(struct cm_decode *d, struct evbuffer *in, int eof,
    struct evbuffer *out, size_t max, const char **why)
{
	struct evbuffer	*src, *dst;
	uint64_t	 before, left;
	size_t		 k, room, spent = 0, l;
	int		 moved, src_eof;

	if (d->err != CM_DECODE_OK)
		goto fail;
	if (d->done && evbuffer_get_length(in) == 0)
		return (1);
	/*
	 * Bytes after the end fall to stage 0's check, so the reason is
	 * the same whatever the pieces.
	 */
	do {
		moved = 0;
		for (k = d->n; k-- > 0;) {
			src = k == 0 ? in : d->mid[k];
			src_eof = k == 0 ? eof :
			    d->st[k - 1].state == CM_DECODE_DONE;
			if (k == d->n - 1) {
				dst = out;
				room = max - spent;
				/* One byte past the cap, to see it crossed. */
				left = d->max_output - d->out_bytes;
				if (left < room)
					room = (size_t)left + 1;
			} else {
				dst = d->mid[k + 1];
				l = evbuffer_get_length(dst);
				room = l < CM_DECODE_STAGE_BYTES ?
				    CM_DECODE_STAGE_BYTES - l : 0;
			}
			if (room == 0 && d->st[k].state == CM_DECODE_RUN)
				continue;
			before = d->out_bytes;
			if (cm_decode_step(d, k, src, src_eof, dst, room,
			    &moved) == -1 || cm_decode_check(d) == -1)
				goto fail;
			spent += (size_t)(d->out_bytes - before);
		}
	} while (moved);
	for (k = 0; k < d->n; k++)
		if (d->st[k].state != CM_DECODE_DONE)
			return (0);
	d->done = 1;
	return (1);
 fail:
	*why = d->why;
	return (-1);
}

int
cm_decode_all(struct cm_decode *d, struct evbuffer *in, struct evbuffer *out,
    const char **why)
{
	uint64_t	 before;
	int		 rc;

	for (;;) {
		before = d->out_bytes;
		rc = cm_decode_read(d, in, 1, out, CM_DECODE_STAGE_BYTES, why);
		if (rc != 0)
			return (rc == 1 ? 0 : -1);
		/* At eof only a spent budget returns 0: there is progress. */
		if (d->out_bytes == before) {
			(void)cm_decode_fail(d, CM_DECODE_TRUNCATED,
			    "the body ends inside the encoded stream");
			*why = d->why;
			return (-1);
		}
	}
}
