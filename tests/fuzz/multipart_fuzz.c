/*
 * libFuzzer target for multipart and urlencoded bodies
 * (common/multipart.c, common/form.c).
 *
 * Input: a control byte (what to parse, piece size), then for multipart
 * a Content-Type line ending in LF and the body.  Every callback is
 * written to a log; the log of the body fed whole must equal that of the
 * body fed in the control byte's pieces, and decoded form text is never
 * longer than its input.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bounds.h"
#include "common/form.h"
#include "common/multipart.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_log {
	unsigned char	*p;
	size_t		 n;
	size_t		 cap;
	int		 in_data;	/* pieces of one part coalesce */
};

static void
fuzz_log_add(struct fuzz_log *l, const void *p, size_t n)
{
	unsigned char	*np;

	if (n == 0)
		return;
	if (l->n + n > l->cap) {
		l->cap = (l->n + n) * 2 + 64;
		if ((np = realloc(l->p, l->cap)) == NULL)
			abort();
		l->p = np;
	}
	memcpy(l->p + l->n, p, n);
	l->n += n;
}

static void
fuzz_log_str(struct fuzz_log *l, const char *s)
{
	fuzz_log_add(l, s, strlen(s) + 1);	/* the NUL separates */
}

static int
fuzz_part(void *arg, const struct cm_multipart_part *p)
{
	struct fuzz_log	*l = arg;
	char		 b[64];

	if (p->fields == NULL || p->depth >= CM_MULTIPART_MAX_DEPTH)
		__builtin_trap();
	snprintf(b, sizeof(b), "P%u.%zu.%d", p->depth, p->index, p->nested);
	fuzz_log_str(l, b);
	fuzz_log_str(l, p->name != NULL ? p->name : "(null)");
	fuzz_log_str(l, p->filename != NULL ? p->filename : "(null)");
	fuzz_log_str(l, p->content_type != NULL ? p->content_type : "(null)");
	return (0);
}

static int
fuzz_data(void *arg, const struct cm_multipart_part *p, const void *buf,
    size_t len)
{
	struct fuzz_log	*l = arg;

	if (p->nested || len == 0)
		__builtin_trap();
	fuzz_log_add(l, buf, len);
	return (0);
}

static int
fuzz_end(void *arg, const struct cm_multipart_part *p)
{
	fuzz_log_str(arg, "E");
	return (0);
}

static const struct cm_multipart_cb fuzz_cb = {
	fuzz_part, fuzz_data, fuzz_end
};

/* Returns the rc; the log in l. */
static int
fuzz_multipart(const char *ct, const uint8_t *body, size_t len, size_t step,
    struct fuzz_log *l)
{
	struct cm_multipart	*mp;
	const char		*why = NULL;
	size_t			 off, n;
	int			 rc = 0;

	if ((mp = cm_multipart_new(ct, &fuzz_cb, l, &why)) == NULL) {
		if (why == NULL)
			__builtin_trap();
		return (-2);
	}
	for (off = 0; off < len && rc == 0; off += n) {
		n = len - off < step ? len - off : step;
		rc = cm_multipart_feed(mp, body + off, n, &why);
	}
	if (rc == 0)
		rc = cm_multipart_finish(mp, &why);
	if (rc == -1 && why == NULL)
		__builtin_trap();
	fuzz_log_str(l, rc == 0 ? "ok" : why);
	cm_multipart_free(mp);
	return (rc);
}

static int
fuzz_piece(void *arg, unsigned flags, const void *buf, size_t len)
{
	struct fuzz_log	*l = arg;
	char		 tag = (flags & CM_FORM_NAME) ? '<' : '|';

	if (len > CM_FORM_PIECE_BYTES)
		__builtin_trap();
	if (flags & CM_FORM_FIRST)
		fuzz_log_add(l, &tag, 1);
	fuzz_log_add(l, buf, len);
	if ((flags & CM_FORM_LAST) && !(flags & CM_FORM_NAME))
		fuzz_log_add(l, ">", 1);
	return (0);
}

static int
fuzz_pair(void *arg, const char *name, size_t nlen, const char *value,
    size_t vlen)
{
	struct fuzz_log	*l = arg;

	fuzz_log_add(l, "<", 1);
	fuzz_log_add(l, name, nlen);
	fuzz_log_add(l, "|", 1);
	fuzz_log_add(l, value, vlen);
	fuzz_log_add(l, ">", 1);
	return (0);
}

static void
fuzz_form(const uint8_t *body, size_t len, size_t step)
{
	struct fuzz_log	 a = { 0 }, b = { 0 };
	struct cm_form	*f;
	const char	*why = NULL;
	size_t		 off, n;

	if (cm_form_pairs(body, len, fuzz_pair, &a, &why) != 0)
		__builtin_trap();
	if ((f = cm_form_new(fuzz_piece, &b)) == NULL)
		abort();
	for (off = 0; off < len; off += n) {
		n = len - off < step ? len - off : step;
		if (cm_form_feed(f, body + off, n, &why) != 0)
			__builtin_trap();
	}
	if (cm_form_finish(f, &why) != 0)
		__builtin_trap();
	cm_form_free(f);
	if (a.n != b.n || (a.n > 0 && memcmp(a.p, b.p, a.n) != 0))
		__builtin_trap();
	free(a.p);
	free(b.p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t	 steps[] = { 1, 2, 3, 5, 16, 100, 1000, 65536 };
	struct fuzz_log		 a = { 0 }, b = { 0 };
	const uint8_t		*nl;
	char			*ct;
	size_t			 step, ctlen;
	int			 ra, rb;

	if (size < 1)
		return (0);
	step = steps[(data[0] >> 1) & 7];
	if (data[0] & 1) {
		fuzz_form(data + 1, size - 1, step);
		return (0);
	}
	if ((nl = memchr(data + 1, '\n', size - 1)) == NULL)
		return (0);
	ctlen = (size_t)(nl - (data + 1));
	if ((ct = malloc(ctlen + 1)) == NULL)
		return (0);
	memcpy(ct, data + 1, ctlen);
	ct[ctlen] = '\0';
	ra = fuzz_multipart(ct, nl + 1, size - (size_t)(nl + 1 - data),
	    size, &a);
	rb = fuzz_multipart(ct, nl + 1, size - (size_t)(nl + 1 - data), step,
	    &b);
	if (ra != rb || a.n != b.n || (a.n > 0 && memcmp(a.p, b.p, a.n) != 0))
		__builtin_trap();
	free(a.p);
	free(b.p);
	free(ct);
	return (0);
}
