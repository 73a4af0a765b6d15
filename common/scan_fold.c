/*
 * The fold table of spec/egress.md §12.2, shared by the DLP fold view
 * (§8.5) and the injection normaliser: ranges of code points, each with
 * a rule, searched by bisection.  Only what an evasion needs: anything
 * that renders as an ASCII letter, digit or space becomes one.  Accented
 * letters and other scripts are left alone.
 */
#include "config.h"

#include <stddef.h>

#include "common/scan_fold.h"

enum cm_fold_kind {
	CM_FOLD_OFF,		/* lo..hi to arg..arg + (hi - lo) */
	CM_FOLD_ONE,		/* every code point to arg */
	CM_FOLD_MATH,		/* 52-letter styles: A-Z a-z repeating */
	CM_FOLD_DIGIT,		/* 10-digit styles: 0-9 repeating */
	CM_FOLD_NUM,		/* circled numbers: arg + (cp - lo) */
	CM_FOLD_PNUM,		/* "(n)" */
	CM_FOLD_DNUM,		/* "n." */
	CM_FOLD_CNUM,		/* "n," */
	CM_FOLD_PLET,		/* "(x)" from arg + (cp - lo) */
	CM_FOLD_STR,		/* the string arg indexes */
	CM_FOLD_DROP,		/* removed */
};

struct cm_fold_range {
	uint32_t	 lo;
	uint32_t	 hi;
	uint8_t		 kind;
	uint32_t	 arg;
};

static const char *const cm_fold_strs[] = {
	"ff", "fi", "fl", "ffi", "ffl", "st", "IJ", "ij",
};

/* Sorted by lo, no overlaps (checked by the unit test). */
static const struct cm_fold_range cm_fold_table[] = {
	{ 0x00A0, 0x00A0, CM_FOLD_ONE, ' ' },
	{ 0x00AA, 0x00AA, CM_FOLD_ONE, 'a' },
	{ 0x00AD, 0x00AD, CM_FOLD_DROP, 0 },
	{ 0x00B2, 0x00B3, CM_FOLD_OFF, '2' },
	{ 0x00B9, 0x00B9, CM_FOLD_ONE, '1' },
	{ 0x00BA, 0x00BA, CM_FOLD_ONE, 'o' },
	{ 0x0131, 0x0131, CM_FOLD_ONE, 'i' },
	{ 0x0132, 0x0132, CM_FOLD_STR, 6 },
	{ 0x0133, 0x0133, CM_FOLD_STR, 7 },
	{ 0x0237, 0x0237, CM_FOLD_ONE, 'j' },
	{ 0x0251, 0x0251, CM_FOLD_ONE, 'a' },
	{ 0x0261, 0x0261, CM_FOLD_ONE, 'g' },
	{ 0x0391, 0x0392, CM_FOLD_OFF, 'A' },	/* Greek capitals */
	{ 0x0395, 0x0395, CM_FOLD_ONE, 'E' },
	{ 0x0396, 0x0396, CM_FOLD_ONE, 'Z' },
	{ 0x0397, 0x0397, CM_FOLD_ONE, 'H' },
	{ 0x0399, 0x0399, CM_FOLD_ONE, 'I' },
	{ 0x039A, 0x039A, CM_FOLD_ONE, 'K' },
	{ 0x039C, 0x039D, CM_FOLD_OFF, 'M' },
	{ 0x039F, 0x039F, CM_FOLD_ONE, 'O' },
	{ 0x03A1, 0x03A1, CM_FOLD_ONE, 'P' },
	{ 0x03A4, 0x03A4, CM_FOLD_ONE, 'T' },
	{ 0x03A5, 0x03A5, CM_FOLD_ONE, 'Y' },
	{ 0x03A7, 0x03A7, CM_FOLD_ONE, 'X' },
	{ 0x03B1, 0x03B1, CM_FOLD_ONE, 'a' },	/* Greek small */
	{ 0x03B9, 0x03B9, CM_FOLD_ONE, 'i' },
	{ 0x03BA, 0x03BA, CM_FOLD_ONE, 'k' },
	{ 0x03BD, 0x03BD, CM_FOLD_ONE, 'v' },
	{ 0x03BF, 0x03BF, CM_FOLD_ONE, 'o' },
	{ 0x03C1, 0x03C1, CM_FOLD_ONE, 'p' },
	{ 0x03C5, 0x03C5, CM_FOLD_ONE, 'u' },
	{ 0x03C7, 0x03C7, CM_FOLD_ONE, 'x' },
	{ 0x03F2, 0x03F2, CM_FOLD_ONE, 'c' },
	{ 0x03F3, 0x03F3, CM_FOLD_ONE, 'j' },
	{ 0x0405, 0x0405, CM_FOLD_ONE, 'S' },	/* Cyrillic capitals */
	{ 0x0406, 0x0406, CM_FOLD_ONE, 'I' },
	{ 0x0408, 0x0408, CM_FOLD_ONE, 'J' },
	{ 0x0410, 0x0410, CM_FOLD_ONE, 'A' },
	{ 0x0412, 0x0412, CM_FOLD_ONE, 'B' },
	{ 0x0415, 0x0415, CM_FOLD_ONE, 'E' },
	{ 0x041A, 0x041A, CM_FOLD_ONE, 'K' },
	{ 0x041C, 0x041C, CM_FOLD_ONE, 'M' },
	{ 0x041D, 0x041D, CM_FOLD_ONE, 'H' },
	{ 0x041E, 0x041E, CM_FOLD_ONE, 'O' },
	{ 0x0420, 0x0420, CM_FOLD_ONE, 'P' },
	{ 0x0421, 0x0421, CM_FOLD_ONE, 'C' },
	{ 0x0422, 0x0422, CM_FOLD_ONE, 'T' },
	{ 0x0425, 0x0425, CM_FOLD_ONE, 'X' },
	{ 0x0430, 0x0430, CM_FOLD_ONE, 'a' },	/* Cyrillic small */
	{ 0x0435, 0x0435, CM_FOLD_ONE, 'e' },
	{ 0x043E, 0x043E, CM_FOLD_ONE, 'o' },
	{ 0x0440, 0x0440, CM_FOLD_ONE, 'p' },
	{ 0x0441, 0x0441, CM_FOLD_ONE, 'c' },
	{ 0x0443, 0x0443, CM_FOLD_ONE, 'y' },
	{ 0x0445, 0x0445, CM_FOLD_ONE, 'x' },
	{ 0x0455, 0x0455, CM_FOLD_ONE, 's' },
	{ 0x0456, 0x0456, CM_FOLD_ONE, 'i' },
	{ 0x0458, 0x0458, CM_FOLD_ONE, 'j' },
	{ 0x04AE, 0x04AE, CM_FOLD_ONE, 'Y' },
	{ 0x04AF, 0x04AF, CM_FOLD_ONE, 'y' },
	{ 0x04BA, 0x04BA, CM_FOLD_ONE, 'H' },
	{ 0x04BB, 0x04BB, CM_FOLD_ONE, 'h' },
	{ 0x04C0, 0x04C0, CM_FOLD_ONE, 'I' },
	{ 0x04CF, 0x04CF, CM_FOLD_ONE, 'l' },
	{ 0x0501, 0x0501, CM_FOLD_ONE, 'd' },
	{ 0x051A, 0x051A, CM_FOLD_ONE, 'Q' },
	{ 0x051B, 0x051B, CM_FOLD_ONE, 'q' },
	{ 0x051C, 0x051C, CM_FOLD_ONE, 'W' },
	{ 0x051D, 0x051D, CM_FOLD_ONE, 'w' },
	{ 0x1680, 0x1680, CM_FOLD_ONE, ' ' },
	{ 0x180E, 0x180E, CM_FOLD_DROP, 0 },
	{ 0x2000, 0x200A, CM_FOLD_ONE, ' ' },	/* Unicode spaces */
	{ 0x200B, 0x200F, CM_FOLD_DROP, 0 },	/* zero-width, marks */
	{ 0x2010, 0x2011, CM_FOLD_ONE, '-' },
	{ 0x2028, 0x2029, CM_FOLD_ONE, '\n' },
	{ 0x202A, 0x202E, CM_FOLD_DROP, 0 },	/* bidi embeddings */
	{ 0x202F, 0x202F, CM_FOLD_ONE, ' ' },
	{ 0x205F, 0x205F, CM_FOLD_ONE, ' ' },
	{ 0x2060, 0x2064, CM_FOLD_DROP, 0 },	/* joiners, invisible ops */
	{ 0x2066, 0x2069, CM_FOLD_DROP, 0 },	/* bidi isolates */
	{ 0x2070, 0x2070, CM_FOLD_ONE, '0' },	/* super- and subscripts */
	{ 0x2071, 0x2071, CM_FOLD_ONE, 'i' },
	{ 0x2074, 0x2079, CM_FOLD_OFF, '4' },
	{ 0x207F, 0x207F, CM_FOLD_ONE, 'n' },
	{ 0x2080, 0x2089, CM_FOLD_OFF, '0' },
	{ 0x2090, 0x2090, CM_FOLD_ONE, 'a' },
	{ 0x2091, 0x2091, CM_FOLD_ONE, 'e' },
	{ 0x2092, 0x2092, CM_FOLD_ONE, 'o' },
	{ 0x2093, 0x2093, CM_FOLD_ONE, 'x' },
	{ 0x2095, 0x2095, CM_FOLD_ONE, 'h' },
	{ 0x2096, 0x2099, CM_FOLD_OFF, 'k' },	/* k l m n */
	{ 0x209A, 0x209A, CM_FOLD_ONE, 'p' },
	{ 0x209B, 0x209C, CM_FOLD_OFF, 's' },	/* s t */
	{ 0x2102, 0x2102, CM_FOLD_ONE, 'C' },	/* letterlike symbols */
	{ 0x210A, 0x210A, CM_FOLD_ONE, 'g' },
	{ 0x210B, 0x210D, CM_FOLD_ONE, 'H' },
	{ 0x210E, 0x210F, CM_FOLD_ONE, 'h' },
	{ 0x2110, 0x2111, CM_FOLD_ONE, 'I' },
	{ 0x2112, 0x2112, CM_FOLD_ONE, 'L' },
	{ 0x2113, 0x2113, CM_FOLD_ONE, 'l' },
	{ 0x2115, 0x2115, CM_FOLD_ONE, 'N' },
	{ 0x2119, 0x2119, CM_FOLD_ONE, 'P' },
	{ 0x211A, 0x211A, CM_FOLD_ONE, 'Q' },
	{ 0x211B, 0x211D, CM_FOLD_ONE, 'R' },
	{ 0x2124, 0x2124, CM_FOLD_ONE, 'Z' },
	{ 0x2128, 0x2128, CM_FOLD_ONE, 'Z' },
	{ 0x212A, 0x212A, CM_FOLD_ONE, 'K' },
	{ 0x212C, 0x212C, CM_FOLD_ONE, 'B' },
	{ 0x212D, 0x212D, CM_FOLD_ONE, 'C' },
	{ 0x212F, 0x212F, CM_FOLD_ONE, 'e' },
	{ 0x2130, 0x2131, CM_FOLD_OFF, 'E' },	/* E F */
	{ 0x2133, 0x2133, CM_FOLD_ONE, 'M' },
	{ 0x2134, 0x2134, CM_FOLD_ONE, 'o' },
	{ 0x2139, 0x2139, CM_FOLD_ONE, 'i' },
	{ 0x2145, 0x2145, CM_FOLD_ONE, 'D' },
	{ 0x2146, 0x2147, CM_FOLD_OFF, 'd' },	/* d e */
	{ 0x2148, 0x2149, CM_FOLD_OFF, 'i' },	/* i j */
	{ 0x2160, 0x2160, CM_FOLD_ONE, 'I' },	/* Roman numerals */
	{ 0x2164, 0x2164, CM_FOLD_ONE, 'V' },
	{ 0x2169, 0x2169, CM_FOLD_ONE, 'X' },
	{ 0x216C, 0x216C, CM_FOLD_ONE, 'L' },
	{ 0x216D, 0x216D, CM_FOLD_ONE, 'C' },
	{ 0x216E, 0x216E, CM_FOLD_ONE, 'D' },
	{ 0x216F, 0x216F, CM_FOLD_ONE, 'M' },
	{ 0x2170, 0x2170, CM_FOLD_ONE, 'i' },
	{ 0x2174, 0x2174, CM_FOLD_ONE, 'v' },
	{ 0x2179, 0x2179, CM_FOLD_ONE, 'x' },
	{ 0x217C, 0x217C, CM_FOLD_ONE, 'l' },
	{ 0x217D, 0x217D, CM_FOLD_ONE, 'c' },
	{ 0x217E, 0x217E, CM_FOLD_ONE, 'd' },
	{ 0x217F, 0x217F, CM_FOLD_ONE, 'm' },
	{ 0x2212, 0x2212, CM_FOLD_ONE, '-' },
	{ 0x2460, 0x2473, CM_FOLD_NUM, 1 },	/* circled 1-20 */
	{ 0x2474, 0x2487, CM_FOLD_PNUM, 1 },	/* (1)-(20) */
	{ 0x2488, 0x249B, CM_FOLD_DNUM, 1 },	/* 1.-20. */
	{ 0x249C, 0x24B5, CM_FOLD_PLET, 'a' },	/* (a)-(z) */
	{ 0x24B6, 0x24CF, CM_FOLD_OFF, 'A' },	/* circled letters */
	{ 0x24D0, 0x24E9, CM_FOLD_OFF, 'a' },
	{ 0x24EA, 0x24EA, CM_FOLD_ONE, '0' },
	{ 0x24EB, 0x24F4, CM_FOLD_NUM, 11 },
	{ 0x24F5, 0x24FE, CM_FOLD_NUM, 1 },
	{ 0x24FF, 0x24FF, CM_FOLD_ONE, '0' },
	{ 0x2776, 0x277F, CM_FOLD_NUM, 1 },	/* dingbat circled digits */
	{ 0x2780, 0x2789, CM_FOLD_NUM, 1 },
	{ 0x278A, 0x2793, CM_FOLD_NUM, 1 },
	{ 0x3000, 0x3000, CM_FOLD_ONE, ' ' },
	{ 0xFB00, 0xFB04, CM_FOLD_STR, 0 },	/* ff fi fl ffi ffl */
	{ 0xFB05, 0xFB05, CM_FOLD_STR, 5 },	/* st */
	{ 0xFB06, 0xFB06, CM_FOLD_STR, 5 },
	{ 0xFE00, 0xFE0F, CM_FOLD_DROP, 0 },	/* variation selectors */
	{ 0xFE63, 0xFE63, CM_FOLD_ONE, '-' },
	{ 0xFEFF, 0xFEFF, CM_FOLD_DROP, 0 },
	{ 0xFF01, 0xFF5E, CM_FOLD_OFF, '!' },	/* fullwidth ASCII */
	{ 0x1D400, 0x1D6A3, CM_FOLD_MATH, 0 },	/* math letters */
	{ 0x1D6A4, 0x1D6A4, CM_FOLD_ONE, 'i' },
	{ 0x1D6A5, 0x1D6A5, CM_FOLD_ONE, 'j' },
	{ 0x1D7CE, 0x1D7FF, CM_FOLD_DIGIT, 0 },	/* math digits */
	{ 0x1F100, 0x1F100, CM_FOLD_DNUM, 0 },
	{ 0x1F101, 0x1F10A, CM_FOLD_CNUM, 0 },
	{ 0x1F110, 0x1F129, CM_FOLD_PLET, 'A' },
	{ 0x1F130, 0x1F149, CM_FOLD_OFF, 'A' },	/* squared */
	{ 0x1F150, 0x1F169, CM_FOLD_OFF, 'A' },	/* negative circled */
	{ 0x1F170, 0x1F189, CM_FOLD_OFF, 'A' },	/* negative squared */
	{ 0x1F1E6, 0x1F1FF, CM_FOLD_OFF, 'A' },	/* regional indicators */
	{ 0xE0000, 0xE007F, CM_FOLD_DROP, 0 },	/* tags */
	{ 0xE0100, 0xE01EF, CM_FOLD_DROP, 0 },	/* variation selectors */
};

#define CM_FOLD_N	(sizeof(cm_fold_table) / sizeof(cm_fold_table[0]))

int
cm_utf8_decode(const unsigned char *p, size_t n, uint32_t *cp)
{
	uint32_t	 c, min;
	size_t		 len, i;

	if (n == 0)
		return (0);
	c = p[0];
	if (c < 0x80) {
		*cp = c;
		return (1);
	}
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		c &= 0x1F;
		min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		c &= 0x0F;
		min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		c &= 0x07;
		min = 0x10000;
	} else
		return (-1);
	for (i = 1; i < len; i++) {
		if (i >= n)
			return (0);
		if ((p[i] & 0xC0) != 0x80)
			return (-1);
		c = (c << 6) | (p[i] & 0x3F);
		/* Reject overlongs and surrogates as soon as they show. */
		if (i == 1 && len == 3 && ((p[0] == 0xE0 && p[1] < 0xA0) ||
		    (p[0] == 0xED && p[1] >= 0xA0)))
			return (-1);
		if (i == 1 && len == 4 && ((p[0] == 0xF0 && p[1] < 0x90) ||
		    (p[0] == 0xF4 && p[1] >= 0x90)))
			return (-1);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return (-1);
	*cp = c;
	return ((int)len);
}

size_t
cm_utf8_encode(uint32_t cp, unsigned char out[4])
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return (1);
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xC0 | (cp >> 6));
		out[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return (2);
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xE0 | (cp >> 12));
		out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return (3);
	}
	out[0] = (unsigned char)(0xF0 | (cp >> 18));
	out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return (4);
}

int
cm_fold_is_tag(uint32_t cp)
{
	return (cp >= 0xE0000 && cp <= 0xE007F);
}

int
cm_fold_invisible(uint32_t cp)
{
	return (cp == 0x00AD || cp == 0x180E || (cp >= 0x200B &&
	    cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) ||
	    (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x2066 &&
	    cp <= 0x2069) || cp == 0xFEFF || (cp >= 0xFE00 &&
	    cp <= 0xFE0F) || (cp >= 0xE0100 && cp <= 0xE01EF));
}

/* Writes v in decimal (v < 100) after pre and before post. */
static size_t
cm_fold_dec(uint32_t v, char pre, char post, uint32_t out[CM_FOLD_MAX])
{
	size_t	 n = 0;

	if (pre != '\0')
		out[n++] = (uint32_t)pre;
	if (v >= 10)
		out[n++] = '0' + v / 10;
	out[n++] = '0' + v % 10;
	if (post != '\0')
		out[n++] = (uint32_t)post;
	return (n);
}

size_t
cm_fold_cp(uint32_t cp, uint32_t out[CM_FOLD_MAX])
{
	const struct cm_fold_range	*r;
	const char			*s;
	size_t				 lo = 0, hi = CM_FOLD_N, mid, n;
	uint32_t			 d;

	if (cp < 0xA0) {
		out[0] = cp;
		return (1);
	}
	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (cm_fold_table[mid].hi < cp)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == CM_FOLD_N || cm_fold_table[lo].lo > cp) {
		out[0] = cp;
		return (1);
	}
	r = &cm_fold_table[lo];
	d = cp - r->lo;
	switch (r->kind) {
	case CM_FOLD_OFF:
		out[0] = r->arg + d;
		return (1);
	case CM_FOLD_ONE:
		out[0] = r->arg;
		return (1);
	case CM_FOLD_MATH:
		d %= 52;
		out[0] = d < 26 ? 'A' + d : 'a' + d - 26;
		return (1);
	case CM_FOLD_DIGIT:
		out[0] = '0' + d % 10;
		return (1);
	case CM_FOLD_NUM:
		return (cm_fold_dec(r->arg + d, '\0', '\0', out));
	case CM_FOLD_PNUM:
		return (cm_fold_dec(r->arg + d, '(', ')', out));
	case CM_FOLD_DNUM:
		return (cm_fold_dec(r->arg + d, '\0', '.', out));
	case CM_FOLD_CNUM:
		return (cm_fold_dec(r->arg + d, '\0', ',', out));
	case CM_FOLD_PLET:
		out[0] = '(';
		out[1] = r->arg + d;
		out[2] = ')';
		return (3);
	case CM_FOLD_STR:
		s = cm_fold_strs[r->arg + d];
		for (n = 0; s[n] != '\0' && n < CM_FOLD_MAX; n++)
			out[n] = (unsigned char)s[n];
		return (n);
	default:
		return (0);
	}
}

int
cm_fold_table_ok(void)
{
	size_t	 i;

	for (i = 0; i < CM_FOLD_N; i++) {
		if (cm_fold_table[i].lo > cm_fold_table[i].hi)
			return (0);
		if (i > 0 && cm_fold_table[i].lo <= cm_fold_table[i - 1].hi)
			return (0);
	}
	return (1);
}
