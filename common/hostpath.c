/*
 * Host and path normalisation (spec/egress.md §4).  Every decision egress
 * takes about a request (route lookup, matches, logs, the path sent
 * upstream) is taken on these forms, so each input has exactly one
 * accepted spelling and everything a lenient parser could read two ways
 * is refused: short or octal IPv4, zone ids, U-labels, bad percent
 * triplets, `..` next to an encoded slash.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "common/bounds.h"
#include "common/routes.h"

static int	 cm_hostpath_hex(unsigned char);
static int	 cm_hostpath_ipv4(const char *, size_t, unsigned char[4]);
static int	 cm_hostpath_numeric_tail(const char *, size_t);
static int	 cm_hostpath_ipv6(const char *, size_t, char *, size_t,
		    const char **);
static int	 cm_hostpath_name(const char *, size_t, char *, size_t,
		    const char **);
static int	 cm_hostpath_unreserved(int);
static int	 cm_hostpath_is_sep(const char *, size_t, size_t, size_t *);
static int	 cm_hostpath_ambiguous(const char *, size_t);
static size_t	 cm_hostpath_dots(char *, size_t);

static int
cm_hostpath_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

/*
 * Four decimal octets, no leading zeros: the one IPv4 spelling every
 * resolver and origin reads the same way (127.1, 0x7f.1, 017.0.0.1 and
 * 2130706433 all mean something else to someone).
 */
static int
cm_hostpath_ipv4(const char *s, size_t len, unsigned char out[4])
{
	size_t	 i = 0, digits;
	int	 part, v;

	for (part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= len || s[i] != '.')
				return (-1);
			i++;
		}
		v = 0;
		digits = 0;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			if (digits > 0 && v == 0)
				return (-1);	/* leading zero */
			v = v * 10 + (s[i] - '0');
			if (v > 255)
				return (-1);
			digits++;
			i++;
		}
		if (digits == 0)
			return (-1);
		out[part] = (unsigned char)v;
	}
	return (i == len ? 0 : -1);
}

/*
 * A name whose last label is a number (or 0x...) is an IPv4 attempt to
 * URL parsers and resolvers (WHATWG "ends in a number"); no TLD is
 * numeric, so such a name must be a strict dotted quad or nothing.
 */
static int
cm_hostpath_numeric_tail(const char *s, size_t len)
{
	size_t	 start = len, i;

	while (start > 0 && s[start - 1] != '.')
		start--;
	if (start == len)
		return (0);
	if (len - start >= 2 && s[start] == '0' &&
	    (s[start + 1] == 'x' || s[start + 1] == 'X')) {
		for (i = start + 2; i < len; i++)
			if (cm_hostpath_hex((unsigned char)s[i]) < 0)
				return (0);
		return (1);
	}
	for (i = start; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return (0);
	return (1);
}

/*
 * RFC 5952: lower-case hex without leading zeros, the longest run (the
 * first on a tie) of two or more zero groups as "::", and the IPv4-mapped
 * range ::ffff:0:0/96 in mixed notation.
 */
static int
cm_hostpath_ipv6(const char *s, size_t len, char *out, size_t size,
    const char **why)
{
	unsigned char	 a[16];
	unsigned int	 w[8];
	char		 buf[64], res[64];
	size_t		 o = 0;
	int		 i, best = -1, bestlen = 0, run, n;

	if (memchr(s, '%', len) != NULL) {
		*why = "IPv6 zone ids are not allowed";
		return (-1);
	}
	if (len == 0 || len >= sizeof(buf)) {
		*why = "invalid IPv6 address";
		return (-1);
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET6, buf, a) != 1) {
		*why = "invalid IPv6 address";
		return (-1);
	}
	for (i = 0; i < 8; i++)
		w[i] = ((unsigned int)a[2 * i] << 8) | a[2 * i + 1];
	if (w[0] == 0 && w[1] == 0 && w[2] == 0 && w[3] == 0 && w[4] == 0 &&
	    w[5] == 0xffff) {
		n = snprintf(res, sizeof(res), "::ffff:%u.%u.%u.%u", a[12],
		    a[13], a[14], a[15]);
		o = (size_t)n;
	} else {
		for (i = 0; i < 8; i++) {
			if (w[i] != 0)
				continue;
			for (run = 0; i + run < 8 && w[i + run] == 0; run++)
				;
			if (run > bestlen) {
				best = i;
				bestlen = run;
			}
			i += run;
		}
		if (bestlen < 2)
			best = -1;
		for (i = 0; i < 8; i++) {
			if (i == best) {
				res[o++] = ':';
				res[o++] = ':';
				i += bestlen - 1;
				continue;
			}
			if (o > 0 && res[o - 1] != ':')
				res[o++] = ':';
			n = snprintf(res + o, sizeof(res) - o, "%x", w[i]);
			o += (size_t)n;
		}
		res[o] = '\0';
	}
	if (o + 1 > size) {
		*why = "host buffer too small";
		return (-1);
	}
	memcpy(out, res, o + 1);
	return (0);
}

static int
cm_hostpath_name(const char *s, size_t len, char *out, size_t size,
    const char **why)
{
	size_t		 i, label = 0;
	unsigned char	 c;

	if (len > CM_MAX_HOST_BYTES) {
		*why = "host name longer than 253 bytes";
		return (-1);
	}
	if (len + 1 > size) {
		*why = "host buffer too small";
		return (-1);
	}
	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] >= 0x80) {
			*why = "non-ASCII host name (use the xn-- A-label)";
			return (-1);
		}
	}
	for (i = 0; i <= len; i++) {
		c = i < len ? (unsigned char)s[i] : '.';
		if (c == '.') {
			if (label == 0) {
				*why = "empty label in host name";
				return (-1);
			}
			if (out[i - 1] == '-' || out[i - label] == '-') {
				*why = "host label starts or ends with \"-\"";
				return (-1);
			}
			if (i < len)
				out[i] = '.';
			label = 0;
			continue;
		}
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_')) {
			*why = "invalid character in host name";
			return (-1);
		}
		if (++label > CM_MAX_HOST_LABEL_BYTES) {
			*why = "host label longer than 63 bytes";
			return (-1);
		}
		out[i] = (char)c;
	}
	out[len] = '\0';
	return (0);
}

int
cm_host_normalise(const char *in, size_t len, char *out, size_t size,
    int *is_ip, const char **why)
{
	unsigned char	 a4[4];
	int		 n, dummy;

	if (is_ip == NULL)
		is_ip = &dummy;
	*is_ip = 0;
	if (len == 0) {
		*why = "empty host";
		return (-1);
	}
	if (memchr(in, '\0', len) != NULL) {
		*why = "invalid character in host name";
		return (-1);
	}
	if (in[0] == '[') {
		if (len < 2 || in[len - 1] != ']') {
			*why = "invalid IPv6 address";
			return (-1);
		}
		*is_ip = 1;
		return (cm_hostpath_ipv6(in + 1, len - 2, out, size, why));
	}
	/* Route files may write a bare IPv6 literal; a name has no ':'. */
	if (memchr(in, ':', len) != NULL) {
		*is_ip = 1;
		return (cm_hostpath_ipv6(in, len, out, size, why));
	}
	if (in[len - 1] == '.')
		len--;
	if (len > 0 && cm_hostpath_numeric_tail(in, len)) {
		if (cm_hostpath_ipv4(in, len, a4) == -1) {
			*why = "invalid IPv4 address (four decimal octets "
			    "without leading zeros)";
			return (-1);
		}
		*is_ip = 1;
		n = snprintf(out, size, "%u.%u.%u.%u", a4[0], a4[1], a4[2],
		    a4[3]);
		if (n < 0 || (size_t)n >= size) {
			*why = "host buffer too small";
			return (-1);
		}
		return (0);
	}
	return (cm_hostpath_name(in, len, out, size, why));
}

/* RFC 3986 §2.3. */
static int
cm_hostpath_unreserved(int c)
{
	return ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~');
}

/*
 * A separator at p[i] in a decoded path: '/' (1 byte, *kind 0) or an
 * encoded %2F / %5C (3 bytes, *kind 1; hex is upper-case by now).
 * Returns its length, 0 when there is none.
 */
static int
cm_hostpath_is_sep(const char *p, size_t len, size_t i, size_t *kind)
{
	if (p[i] == '/') {
		*kind = 0;
		return (1);
	}
	if (p[i] == '%' && i + 2 < len &&
	    ((p[i + 1] == '2' && p[i + 2] == 'F') ||
	    (p[i + 1] == '5' && p[i + 2] == 'C'))) {
		*kind = 1;
		return (3);
	}
	return (0);
}

/*
 * §4.3: with encoded separators counted as separators, a ".." segment
 * that touches one is refused: an origin decoding %2F before routing
 * would resolve it, and we would have checked another path.
 */
static int
cm_hostpath_ambiguous(const char *p, size_t len)
{
	size_t	 i = 0, start, kind = 0, prev = 0;
	int	 n;

	while (i < len) {
		n = cm_hostpath_is_sep(p, len, i, &kind);
		if (n > 0) {
			prev = kind;
			i += (size_t)n;
			continue;
		}
		start = i;
		while (i < len && cm_hostpath_is_sep(p, len, i, &kind) == 0)
			i++;
		if (i - start == 2 && p[start] == '.' && p[start + 1] == '.' &&
		    (prev == 1 || (i < len && kind == 1)))
			return (1);
	}
	return (0);
}

/*
 * RFC 3986 §5.2.4 on an absolute path, in place (the output never
 * outgrows the input).  Segments hold no '/', so dropping the last
 * output segment is cutting at the last '/'.
 */
static size_t
cm_hostpath_dots(char *p, size_t len)
{
	size_t	 r = 0, w = 0, start, seg;
	int	 last, dot;

	while (r < len) {
		r++;				/* the '/' */
		start = r;
		while (r < len && p[r] != '/')
			r++;
		seg = r - start;
		last = r == len;
		dot = 0;
		if (seg == 1 && p[start] == '.')
			dot = 1;
		else if (seg == 2 && p[start] == '.' && p[start + 1] == '.')
			dot = 2;
		if (dot == 2) {
			while (w > 0 && p[w - 1] != '/')
				w--;
			if (w > 0)
				w--;
		}
		if (dot != 0) {
			if (last)
				p[w++] = '/';
			continue;
		}
		p[w++] = '/';
		memmove(p + w, p + start, seg);
		w += seg;
	}
	if (w == 0)
		p[w++] = '/';
	return (w);
}

int
cm_path_normalise(const char *in, size_t len, char *out, size_t size,
    const char **why, const char **reason)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const char		*q;
	size_t			 i, o = 0;
	unsigned char		 c;
	int			 hi, lo, v;

	*reason = "bad_request";
	if ((q = memchr(in, '?', len)) != NULL)
		len = (size_t)(q - in);
	if (size < 2 || size <= len) {
		*why = "path buffer too small";
		return (-1);
	}
	if (len == 0) {
		memcpy(out, "/", 2);
		return (0);
	}
	if (len == 1 && in[0] == '*') {
		*why = "asterisk-form request target";
		return (-1);
	}
	if (in[0] != '/') {
		*why = "path does not start with \"/\"";
		return (-1);
	}
	for (i = 0; i < len; i++) {
		c = (unsigned char)in[i];
		if (c <= 0x20 || c == 0x7f || c == '#') {
			*why = "invalid byte in path";
			return (-1);
		}
		if (c != '%') {
			out[o++] = (char)c;
			continue;
		}
		if (i + 2 >= len ||
		    (hi = cm_hostpath_hex((unsigned char)in[i + 1])) < 0 ||
		    (lo = cm_hostpath_hex((unsigned char)in[i + 2])) < 0) {
			*why = "bad percent-encoding in path";
			return (-1);
		}
		v = hi * 16 + lo;
		i += 2;
		/* %2F, %5C and %00 are not unreserved: they stay encoded. */
		if (cm_hostpath_unreserved(v)) {
			out[o++] = (char)v;
			continue;
		}
		out[o++] = '%';
		out[o++] = hex[hi];
		out[o++] = hex[lo];
	}
	if (cm_hostpath_ambiguous(out, o)) {
		*why = "\"..\" next to an encoded separator (%2F or %5C)";
		*reason = "ambiguous_path";
		return (-1);
	}
	o = cm_hostpath_dots(out, o);
	out[o] = '\0';
	return (0);
}
