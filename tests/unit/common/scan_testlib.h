/*
 * Helpers for the scan engine's tests.  Test values are built at run
 * time from templates, so no source file holds a string shaped like a
 * real credential (scanners, our own push scan included, stay quiet):
 *
 *   "ghp_{A36}"  "ghp_" then 36 characters of alphabet A
 *   "{}"         nothing: breaks a literal such as a PEM header
 *   "\x01 \x02"  mark the bytes the expected hit covers (not output)
 *
 * Generated characters step through the alphabet by a stride coprime
 * with its size, so they look synthetic and never repeat for a while.
 */
#ifndef SCAN_TESTLIB_H
#define SCAN_TESTLIB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TL_MAX	(64 * 1024)

struct tl_buf {
	char	 s[TL_MAX];
	size_t	 n;
	size_t	 mark_start;	/* from \x01, or (size_t)-1 */
	size_t	 mark_end;	/* from \x02 */
};

#define TL_AN	"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" \
		"abcdefghijklmnopqrstuvwxyz"

static const char *
tl_alpha(char c)
{
	switch (c) {
	case 'A': return TL_AN;
	case 'W': return TL_AN "_";
	case 'S': return TL_AN "_-";
	case 'G': return TL_AN "_.-";
	case 'Z': return TL_AN "_~.-";
	case 'B': return TL_AN "+/";
	case 'K': return "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	case 'M': return "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	case 'H': return "0123456789abcdef";
	case 'X': return "0123456789abcdefABCDEF";
	case 'D': return "0123456789";
	case 'L': return "abcdefghijklmnopqrstuvwxyz";
	default: return NULL;
	}
}

static size_t
tl_gcd(size_t a, size_t b)
{
	while (b != 0) {
		size_t t = a % b;

		a = b;
		b = t;
	}
	return (a);
}

/* Appends n characters of alphabet a, starting at phase seed. */
static void
tl_gen(struct tl_buf *b, const char *a, size_t n, size_t seed)
{
	size_t	 len = strlen(a), stride = 7, i;

	while (tl_gcd(stride, len) != 1)
		stride++;
	for (i = 0; i < n && b->n < TL_MAX - 1; i++)
		b->s[b->n++] = a[(seed + i * stride) % len];
	b->s[b->n] = '\0';
}

static void
tl_put(struct tl_buf *b, const char *s, size_t n)
{
	if (b->n + n >= TL_MAX)
		n = TL_MAX - 1 - b->n;
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = '\0';
}

/* Expands a template (see above) into b. */
static void
tl_expand(struct tl_buf *b, const char *t, size_t seed)
{
	const char	*a;
	char		*end;
	size_t		 n;

	b->n = 0;
	b->s[0] = '\0';
	b->mark_start = b->mark_end = (size_t)-1;
	while (*t != '\0') {
		if (*t == '\x01') {
			b->mark_start = b->n;
			t++;
		} else if (*t == '\x02') {
			b->mark_end = b->n;
			t++;
		} else if (t[0] == '{' && t[1] == '}') {
			t += 2;
		} else if (t[0] == '{' && (a = tl_alpha(t[1])) != NULL &&
		    t[2] >= '0' && t[2] <= '9' &&
		    (n = strtoul(t + 2, &end, 10), *end == '}')) {
			tl_gen(b, a, n, seed++);
			t = end + 1;	/* past '}' */
		} else
			tl_put(b, t++, 1);
	}
}

#endif /* SCAN_TESTLIB_H */
