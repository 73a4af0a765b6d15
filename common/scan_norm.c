/*
 * Text normalisation for the injection patterns (spec/egress.md §12.2),
 * streaming, in the spec's order: charset (UTF-8, invalid sequences to
 * U+FFFD, or latin-1); JSON string escapes (surrogate pairs included);
 * the markup tracker, which marks text inside HTML comments and hidden
 * elements before any character reference is decoded; HTML character
 * references; removal of invisible characters and decoding of Unicode
 * tag characters; the fold table; whitespace collapsing.  The result is
 * kept twice, as is and ASCII lower-cased (same offsets), with flags per
 * byte for the carrier rule (§12.1).
 *
 * An annotator then marks code: fenced blocks, inline backticks, <pre>
 * and <code>, which the severity rule (§12.3) treats as quoted.  It marks
 * a fence or a backtick run only once it ends, so flags are final up to
 * nm->final.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/scan_fold.h"
#include "common/scan_inject.h"
#include "common/scan_int.h"

static void	cm_norm_json(struct cm_norm *nm, uint32_t cp);
static void	cm_norm_markup(struct cm_norm *nm, uint32_t cp, uint8_t syn);
static void	cm_norm_tag_done(struct cm_norm *nm);
static void	cm_norm_ref(struct cm_norm *nm, uint32_t cp, uint8_t fl);
static void	cm_norm_ref_flush(struct cm_norm *nm);
static void	cm_norm_inv(struct cm_norm *nm, uint32_t cp, uint8_t fl);
static void	cm_norm_out(struct cm_norm *nm, uint32_t cp, uint8_t fl);
static void	cm_norm_emit(struct cm_norm *nm, unsigned char b, uint8_t fl);
static void	cm_norm_annotate(struct cm_norm *nm, size_t i);
static void	cm_norm_mark(struct cm_norm *nm, uint64_t from, uint64_t to);
static void	cm_norm_end_run(struct cm_norm *nm);
static int	cm_norm_plain(const struct cm_norm *nm, unsigned char c);

static const struct {
	const char	*name;
	uint32_t	 cp;
} cm_norm_refs[] = {
	{ "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' },
	{ "apos", '\'' }, { "nbsp", 0xA0 }, { "shy", 0xAD },
	{ "zwj", 0x200D }, { "zwnj", 0x200C }, { "lrm", 0x200E },
	{ "rlm", 0x200F }, { "ensp", 0x2002 }, { "emsp", 0x2003 },
	{ "thinsp", 0x2009 }, { "lsquo", 0x2018 }, { "rsquo", 0x2019 },
	{ "ldquo", 0x201C }, { "rdquo", 0x201D }, { "laquo", 0xAB },
	{ "raquo", 0xBB }, { "hellip", 0x2026 }, { "ndash", 0x2013 },
	{ "mdash", 0x2014 }, { "colon", ':' }, { "sol", '/' },
	{ "lpar", '(' }, { "rpar", ')' }, { "num", '#' },
};

/* ASCII lower case, other bytes as they are. */
static const unsigned char cm_norm_low[256] = {
#define L4(i)	(i), (i) + 1, (i) + 2, (i) + 3
#define L16(i)	L4(i), L4((i) + 4), L4((i) + 8), L4((i) + 12)
	L16(0x00), L16(0x10), L16(0x20), L16(0x30),
	0x40, L4(0x61), L4(0x65), L4(0x69), L4(0x6d), L4(0x71), L4(0x75),
	0x79, 0x7a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f,
	L16(0x60), L16(0x70), L16(0x80), L16(0x90), L16(0xa0), L16(0xb0),
	L16(0xc0), L16(0xd0), L16(0xe0), L16(0xf0),
#undef L16
#undef L4
};

static const char *const cm_norm_void[] = {
	"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
	"meta", "source", "track", "wbr",
};

void
cm_norm_init(struct cm_norm *nm, int format, int latin1)
{
	int	 c;

	memset(nm, 0, sizeof(*nm));
	nm->format = format;
	nm->latin1 = latin1;
	nm->last = '\n';	/* leading blank lines collapse away */
	for (c = 0; c < 256; c++)
		nm->plain[c] = (uint8_t)cm_norm_plain(nm, (unsigned char)c);
	/* 2: a blank to collapse; 3: a JSON quote, copied as syntax. */
	nm->plain[' '] = nm->plain['\t'] = 2;
	if (format == CM_INJECT_JSON)
		nm->plain['"'] = 3;
}

void
cm_norm_free(struct cm_norm *nm)
{
	free(nm->orig);
	free(nm->low);
	free(nm->fl);
	nm->orig = nm->low = NULL;
	nm->fl = NULL;
}

void
cm_norm_trim(struct cm_norm *nm, uint64_t keep)
{
	size_t	 k;

	if (keep > nm->final)
		keep = nm->final;
	if (keep <= nm->base)
		return;
	k = (size_t)(keep - nm->base);
	memmove(nm->orig, nm->orig + k, nm->len - k);
	memmove(nm->low, nm->low + k, nm->len - k);
	memmove(nm->fl, nm->fl + k, nm->len - k);
	nm->len -= k;
	nm->base += k;
}

static void
cm_norm_mark(struct cm_norm *nm, uint64_t from, uint64_t to)
{
	uint64_t	 i;

	if (from < nm->base)
		from = nm->base;
	for (i = from; i < to; i++)
		nm->fl[i - nm->base] |= CM_NORM_CODE;
}

/* A backtick run outside a fence ended: it opens, closes or is inside. */
static void
cm_norm_end_run(struct cm_norm *nm)
{
	if (nm->btrun == 0)
		return;
	if (nm->inl == 0)
		nm->inl = nm->btrun;
	else if (nm->btrun == nm->inl)
		nm->inl = 0;
	cm_norm_mark(nm, nm->btstart, nm->btstart + (uint64_t)nm->btrun);
	nm->btrun = 0;
}

/* Code state of byte i (just written), marking fences and runs. */
static void
cm_norm_annotate(struct cm_norm *nm, size_t i)
{
	unsigned char	 c = nm->orig[i], lc = nm->low[i];
	uint64_t	 at = nm->base + i;
	int		 code;

	if (c == '\n') {
		cm_norm_end_run(nm);
		if (nm->fence || nm->fline)
			nm->fl[i] |= CM_NORM_CODE;
		if (nm->fline && nm->fclose)
			nm->fence = 0;
		nm->fline = nm->fclose = 0;
		nm->inl = 0;
		nm->lpos = 0;
		nm->lspace = 0;
		nm->frun = 0;
		nm->lstart = at + 1;
		return;
	}
	/* Up to one (collapsed) space, then ``` or ~~~ opens a fence line. */
	if (!nm->fline) {
		if (nm->lpos == 0 && c == ' ')
			nm->lspace = 1;
		else if ((c == '`' || c == '~') && nm->lpos ==
		    (size_t)(nm->lspace + nm->frun) && (nm->frun == 0 ||
		    c == nm->fch)) {
			nm->fch = c;
			if (++nm->frun == 3) {
				nm->fline = 1;
				nm->btrun = 0;
				if (!nm->fence) {
					nm->fence = 1;
					nm->fencech = c;
				} else if (c == nm->fencech)
					nm->fclose = 1;
				cm_norm_mark(nm, nm->lstart, at);
			}
		} else
			nm->frun = 0;
	}
	nm->lpos++;
	code = nm->fence || nm->fline;
	if (!code) {
		if (c == '`') {
			if (nm->btrun++ == 0)
				nm->btstart = at;
		} else
			cm_norm_end_run(nm);
		if (nm->inl)
			code = 1;
	}
	/* <pre> and <code>, opened and closed by name. */
	if (nm->tn) {
		if (lc == '/' && nm->ntname == 0 && !nm->tclose)
			nm->tclose = 1;
		else if (lc >= 'a' && lc <= 'z' &&
		    nm->ntname < sizeof(nm->tname))
			nm->tname[nm->ntname++] = (char)lc;
		else {
			if ((lc == '>' || lc == ' ') && ((nm->ntname == 3 &&
			    memcmp(nm->tname, "pre", 3) == 0) ||
			    (nm->ntname == 4 &&
			    memcmp(nm->tname, "code", 4) == 0))) {
				if (nm->tclose && nm->codedepth > 0)
					nm->codedepth--;
				else if (!nm->tclose)
					nm->codedepth++;
			}
			nm->tn = 0;
		}
	}
	if (c == '<') {
		nm->tn = 1;
		nm->ntname = 0;
		nm->tclose = 0;
	}
	if (nm->codedepth > 0)
		code = 1;
	if (code)
		nm->fl[i] |= CM_NORM_CODE;
}

static void
cm_norm_emit(struct cm_norm *nm, unsigned char b, uint8_t fl)
{
	size_t	 ncap;
	void	*p;

	if (nm->len == nm->cap) {
		ncap = nm->cap ? nm->cap * 2 : 8192;
		if ((p = realloc(nm->orig, ncap)) == NULL) {
			nm->err = 1;
			return;
		}
		nm->orig = p;
		if ((p = realloc(nm->low, ncap)) == NULL) {
			nm->err = 1;
			return;
		}
		nm->low = p;
		if ((p = realloc(nm->fl, ncap)) == NULL) {
			nm->err = 1;
			return;
		}
		nm->fl = p;
		nm->cap = ncap;
	}
	nm->orig[nm->len] = b;
	nm->low[nm->len] = (b >= 'A' && b <= 'Z') ? (unsigned char)(b + 32) : b;
	nm->fl[nm->len] = fl;
	cm_norm_annotate(nm, nm->len);
	nm->len++;
	nm->last = b;
}

/* Whitespace: runs of blanks to one space, of blank lines to one LF. */
static void
cm_norm_out(struct cm_norm *nm, uint32_t cp, uint8_t fl)
{
	unsigned char	 u[4];
	size_t		 n, i;

	if (cp == '\r')
		cp = '\n';
	if (cp == ' ' || cp == '\t') {
		if (!nm->sp) {
			nm->sp = 1;
			nm->spfl = fl;
		}
		return;
	}
	if (cp == '\n') {
		nm->sp = 0;
		if (nm->last != '\n')
			cm_norm_emit(nm, '\n', fl);
		return;
	}
	if (nm->sp) {
		nm->sp = 0;
		cm_norm_emit(nm, ' ', nm->spfl);
	}
	n = cm_utf8_encode(cp, u);
	for (i = 0; i < n; i++)
		cm_norm_emit(nm, u[i], fl);
}

/* Invisible characters go; tags become ASCII; the rest is folded. */
static void
cm_norm_inv(struct cm_norm *nm, uint32_t cp, uint8_t fl)
{
	uint32_t	 f[CM_FOLD_MAX];
	size_t		 n, i;

	if (cm_fold_is_tag(cp)) {
		if (cp >= 0xE0020 && cp <= 0xE007E)
			cm_norm_out(nm, cp - 0xE0000, fl | CM_NORM_TAG);
		return;
	}
	if (cm_fold_invisible(cp)) {
		nm->zw = 1;
		return;
	}
	if (nm->zw) {
		fl |= CM_NORM_ZW;
		nm->zw = 0;
	}
	n = cm_fold_cp(cp, f);
	for (i = 0; i < n; i++)
		cm_norm_out(nm, f[i], i == 0 ? fl :
		    (uint8_t)(fl & ~CM_NORM_ZW));
}

static void
cm_norm_ref_flush(struct cm_norm *nm)
{
	size_t	 i, n = nm->nref;

	nm->nref = 0;
	for (i = 0; i < n; i++)
		cm_norm_inv(nm, nm->ref[i], nm->reffl);
}

/* HTML character references, for HTML and XML only. */
static void
cm_norm_ref(struct cm_norm *nm, uint32_t cp, uint8_t fl)
{
	char		 name[16];
	uint32_t	 v = 0;
	size_t		 i;
	int		 ok = 0, hex;

	if (nm->format != CM_INJECT_HTML) {
		cm_norm_inv(nm, cp, fl);
		return;
	}
	if (nm->nref == 0) {
		if (cp == '&') {
			nm->ref[nm->nref++] = cp;
			nm->reffl = fl;
		} else
			cm_norm_inv(nm, cp, fl);
		return;
	}
	if (cp == ';' && nm->nref > 1) {
		if (nm->ref[1] == '#') {
			hex = nm->nref > 2 && (nm->ref[2] | 32) == 'x';
			i = hex ? 3 : 2;
			for (ok = i < nm->nref; i < nm->nref; i++) {
				uint32_t d = nm->ref[i];

				if (d >= '0' && d <= '9')
					d -= '0';
				else if (hex && (d | 32) >= 'a' &&
				    (d | 32) <= 'f')
					d = (d | 32) - 'a' + 10;
				else
					ok = 0;
				v = v * (hex ? 16 : 10) + d;
				if (v > 0x10FFFF)
					ok = 0;
			}
			if (v == 0 || (v >= 0xD800 && v <= 0xDFFF))
				v = 0xFFFD;
		} else {
			for (i = 1; i < nm->nref; i++)
				name[i - 1] = (char)nm->ref[i];
			name[nm->nref - 1] = '\0';
			for (i = 0; i < sizeof(cm_norm_refs) /
			    sizeof(cm_norm_refs[0]); i++) {
				if (strcmp(cm_norm_refs[i].name, name) == 0) {
					v = cm_norm_refs[i].cp;
					ok = 1;
					break;
				}
			}
		}
		if (ok) {
			nm->nref = 0;
			cm_norm_inv(nm, v, nm->reffl);
			return;
		}
	}
	if (cp != ';' && nm->nref < sizeof(nm->ref) / sizeof(nm->ref[0]) &&
	    ((cp < 128 && ((cp | 32) >= 'a' && (cp | 32) <= 'z')) ||
	    (cp >= '0' && cp <= '9') || (nm->nref == 1 && cp == '#'))) {
		nm->ref[nm->nref++] = cp;
		return;
	}
	cm_norm_ref_flush(nm);
	cm_norm_ref(nm, cp, fl);
}

static void
cm_norm_tag_done(struct cm_norm *nm)
{
	static const char *const hide[] = {
		"display:none", "visibility:hidden", "font-size:0", "opacity:0",
	};
	char		 sq[CM_INJECT_TAG_BYTES + 1];
	char		 txt[CM_INJECT_TAG_BYTES + 1];
	char		 name[16];
	const char	*t = txt, *hit;
	size_t		 i, n = 0, nl = 0, k;
	int		 close = 0, selfclose;

	if (nm->ntag == 0)
		return;
	memcpy(txt, nm->tag, nm->ntag);
	txt[nm->ntag] = '\0';
	if (t[0] == '/') {
		close = 1;
		t++;
	}
	while (nl + 1 < sizeof(name) && ((t[nl] >= 'a' && t[nl] <= 'z') ||
	    (t[nl] >= '0' && t[nl] <= '9')))
		nl++;
	memcpy(name, t, nl);
	name[nl] = '\0';
	if (nl == 0)
		return;
	selfclose = nm->ntag > 0 && nm->tag[nm->ntag - 1] == '/';
	if (nm->hdepth > 0) {
		if (strcmp(name, nm->hname) == 0) {
			if (close)
				nm->hdepth--;
			else if (!selfclose)
				nm->hdepth++;
		}
		return;
	}
	if (close || selfclose)
		return;
	for (k = 0; k < sizeof(cm_norm_void) / sizeof(cm_norm_void[0]); k++)
		if (strcmp(name, cm_norm_void[k]) == 0)
			return;
	for (i = 0; i < nm->ntag; i++) {
		if (nm->tag[i] != ' ' && nm->tag[i] != '\t' &&
		    nm->tag[i] != '\n' && nm->tag[i] != '\r')
			sq[n++] = (char)nm->tag[i];
	}
	sq[n] = '\0';
	for (k = 0; k < sizeof(hide) / sizeof(hide[0]); k++) {
		if ((hit = strstr(sq, hide[k])) == NULL)
			continue;
		hit += strlen(hide[k]);
		if (k >= 2 && (*hit == '.' || (*hit >= '0' && *hit <= '9')))
			continue;	/* 0.5em, 0.3: not zero */
		nm->hdepth = 1;
		memcpy(nm->hname, name, nl + 1);
		return;
	}
}

/* Comments and hidden elements, seen on the markup as it arrives. */
static void
cm_norm_markup(struct cm_norm *nm, uint32_t cp, uint8_t syn)
{
	uint8_t		 fl = (nm->comment || nm->hdepth) ? CM_NORM_HIDDEN : 0;
	unsigned char	 c = cp < 128 ? (unsigned char)cp : '?';

	fl |= syn;

	if (nm->comment) {
		if (cp == '-')
			nm->cend++;
		else if (cp == '>' && nm->cend >= 2)
			nm->comment = 0;
		else
			nm->cend = 0;
		cm_norm_ref(nm, cp, CM_NORM_HIDDEN);
		return;
	}
	if (nm->mk) {
		/* Quotes of attributes are no quotation marks. */
		if (nm->format == CM_INJECT_HTML)
			fl |= CM_NORM_SYNTAX;
		if (c == '<')
			nm->ntag = 0;
		else if (nm->ntag == 0 && c != '/' && c != '!' &&
		    !((c | 32) >= 'a' && (c | 32) <= 'z'))
			nm->mk = 0;	/* "a < b": no tag */
		else if (c == '>') {
			nm->mk = 0;
			cm_norm_tag_done(nm);
		} else if (nm->ntag < sizeof(nm->tag)) {
			nm->tag[nm->ntag++] = (c >= 'A' && c <= 'Z') ?
			    (unsigned char)(c + 32) : c;
			if (nm->ntag == 3 && memcmp(nm->tag, "!--", 3) == 0) {
				nm->mk = 0;
				nm->comment = 1;
				nm->cend = 0;
			}
		} else
			nm->mk = 0;	/* too long for a tag: text */
	} else if (c == '<') {
		nm->mk = 1;
		nm->ntag = 0;
	}
	cm_norm_ref(nm, cp, fl);
}

/* JSON string escapes, for JSON types and SSE data. */
static void
cm_norm_json(struct cm_norm *nm, uint32_t cp)
{
	int	 h;

	if (nm->format != CM_INJECT_JSON) {
		cm_norm_markup(nm, cp, 0);
		return;
	}
	h = cp < 128 && ((cp >= '0' && cp <= '9') || ((cp | 32) >= 'a' &&
	    (cp | 32) <= 'f')) ? (int)(cp <= '9' ? cp - '0' :
	    (cp | 32) - 'a' + 10) : -1;
	switch (nm->js) {
	case 0:
		if (cp == '\\')
			nm->js = 1;
		else	/* an unescaped quote delimits a string */
			cm_norm_markup(nm, cp, cp == '"' ? CM_NORM_SYNTAX : 0);
		return;
	case 1:
		nm->js = 0;
		switch (cp) {
		case 'b': cm_norm_markup(nm, '\b', 0); return;
		case 'f': cm_norm_markup(nm, '\f', 0); return;
		case 'n': cm_norm_markup(nm, '\n', 0); return;
		case 'r': cm_norm_markup(nm, '\r', 0); return;
		case 't': cm_norm_markup(nm, '\t', 0); return;
		case 'u':
			nm->js = 2;
			nm->jv = 0;
			nm->jn = 0;
			return;
		case '"': case '\\': case '/':
			cm_norm_markup(nm, cp, 0);
			return;
		default:
			cm_norm_markup(nm, '\\', 0);
			cm_norm_json(nm, cp);
			return;
		}
	case 2:
	case 5:
		if (h < 0) {
			nm->js = 0;
			cm_norm_markup(nm, 0xFFFD, 0);
			cm_norm_json(nm, cp);
			return;
		}
		nm->jv = nm->jv << 4 | (uint32_t)h;
		if (++nm->jn < 4)
			return;
		if (nm->js == 5) {
			nm->js = 0;
			if (nm->jv >= 0xDC00 && nm->jv <= 0xDFFF) {
				cm_norm_markup(nm, 0x10000 + ((nm->jhigh -
				    0xD800) << 10) + (nm->jv - 0xDC00), 0);
				return;
			}
			cm_norm_markup(nm, 0xFFFD, 0);
		}
		if (nm->jv >= 0xD800 && nm->jv <= 0xDBFF) {
			nm->jhigh = nm->jv;
			nm->js = 3;
			return;
		}
		nm->js = 0;
		cm_norm_markup(nm, (nm->jv >= 0xDC00 && nm->jv <= 0xDFFF) ?
		    0xFFFD : nm->jv, 0);
		return;
	case 3:
		if (cp == '\\') {
			nm->js = 4;
			return;
		}
		nm->js = 0;
		cm_norm_markup(nm, 0xFFFD, 0);
		cm_norm_json(nm, cp);
		return;
	default:		/* 4: "\" after a high surrogate */
		if (cp == 'u') {
			nm->js = 5;
			nm->jv = 0;
			nm->jn = 0;
			return;
		}
		cm_norm_markup(nm, 0xFFFD, 0);
		nm->js = 1;
		cm_norm_json(nm, cp);
		return;
	}
}

/* Bytes that no stage rewrites and the annotator only counts. */
static int
cm_norm_plain(const struct cm_norm *nm, unsigned char c)
{
	if (c < 0x21 || c > 0x7E)
		return (0);
	switch (c) {
	case '<': case '>': case '`': case '~':
		return (0);
	case '&':
		return (nm->format != CM_INJECT_HTML);
	case '\\': case '"':
		return (nm->format != CM_INJECT_JSON);
	default:
		return (1);
	}
}

/*
 * The fast path: a run of plain bytes and blanks while no stage holds
 * state is written directly, blanks collapsed, with the flags every
 * byte of it gets; what the slow path would do, one call per run.
 */
static size_t
cm_norm_run(struct cm_norm *nm, const unsigned char *p, size_t n)
{
	const uint8_t	*plain;
	unsigned char	*orig, *low, c;
	uint8_t		*fp, fl, spfl, cf;
	size_t		 i, o, ncap, lpos;
	void		*q;
	int		 sp;

	if (nm->js || nm->mk || nm->comment || nm->nref || nm->zw || nm->tn ||
	    nm->nu8 || nm->btrun || nm->frun)
		return (0);
	if (nm->len + n + 1 > nm->cap) {
		for (ncap = nm->cap ? nm->cap : 8192; ncap < nm->len + n + 1;
		    ncap *= 2)
			;
		if ((q = realloc(nm->orig, ncap)) == NULL)
			goto nomem;
		nm->orig = q;
		if ((q = realloc(nm->low, ncap)) == NULL)
			goto nomem;
		nm->low = q;
		if ((q = realloc(nm->fl, ncap)) == NULL)
			goto nomem;
		nm->fl = q;
		nm->cap = ncap;
	}
	fl = nm->hdepth ? CM_NORM_HIDDEN : 0;
	if (nm->fence || nm->fline || nm->inl || nm->codedepth)
		fl |= CM_NORM_CODE;
	/* Locals: stores through unsigned char pointers alias nm. */
	orig = nm->orig;
	low = nm->low;
	fp = nm->fl;
	plain = nm->plain;
	o = nm->len;
	sp = nm->sp;
	spfl = nm->spfl;
	lpos = nm->lpos;
	if (lpos > 0 && (!sp || spfl == (fl & ~CM_NORM_CODE))) {
		/*
		 * Mid-line, no line-start rule to apply: branch-free.  Each
		 * byte writes two slots (a pending space, then itself) and
		 * keeps as many as it produced; a blank keeps none.
		 */
		for (i = 0; i < n; i++) {
			unsigned char	 cls;
			size_t		 adv;

			c = p[i];
			cls = plain[c];
			if (cls == 0)
				break;
			cf = cls == 3 ? fl | CM_NORM_SYNTAX : fl;
			adv = (size_t)(cls != 2) * (1 + (size_t)sp);
			orig[o] = sp ? ' ' : c;
			low[o] = sp ? ' ' : cm_norm_low[c];
			fp[o] = sp ? fl : cf;
			orig[o + 1] = c;
			low[o + 1] = cm_norm_low[c];
			fp[o + 1] = cf;
			o += adv;
			lpos += adv;
			sp = cls == 2;
		}
		if (sp)		/* what a blank of this run set pending */
			spfl = fl & ~CM_NORM_CODE;
		goto done;
	}
	for (i = 0; i < n; i++) {
		c = p[i];
		if (c == ' ' || c == '\t') {
			if (!sp) {
				sp = 1;
				spfl = fl & ~CM_NORM_CODE;
			}
			continue;
		}
		if (!plain[c])
			break;
		if (sp) {
			sp = 0;
			if (lpos == 0)
				nm->lspace = 1;
			orig[o] = low[o] = ' ';
			fp[o++] = spfl | (fl & CM_NORM_CODE);
			lpos++;
		}
		orig[o] = c;
		low[o] = cm_norm_low[c];
		fp[o++] = plain[c] == 3 ? fl | CM_NORM_SYNTAX : fl;
		lpos++;
	}
 done:
	if (o > nm->len)
		nm->last = orig[o - 1];
	nm->len = o;
	nm->sp = sp;
	nm->spfl = spfl;
	nm->lpos = lpos;
	return (i);
 nomem:
	nm->err = 1;
	return (0);
}

int
cm_norm_feed(struct cm_norm *nm, const unsigned char *p, size_t n, int eof)
{
	uint32_t	 cp;
	size_t		 i, k;
	int		 r;

	for (i = 0; i < n; i++) {
		if (((p[i] > 0x20 && p[i] < 0x7F) || p[i] == ' ') &&
		    (k = cm_norm_run(nm, p + i, n - i)) > 0) {
			i += k - 1;
			continue;
		}
		if (nm->latin1 || (nm->nu8 == 0 && p[i] < 0x80)) {
			cm_norm_json(nm, p[i]);
			continue;
		}
		nm->u8[nm->nu8++] = p[i];
		while (nm->nu8 > 0) {
			r = cm_utf8_decode(nm->u8, nm->nu8, &cp);
			if (r == 0)
				break;
			if (r < 0) {
				cp = 0xFFFD;
				r = 1;
			}
			cm_norm_json(nm, cp);
			memmove(nm->u8, nm->u8 + r, nm->nu8 - (size_t)r);
			nm->nu8 -= (size_t)r;
		}
	}
	if (eof) {
		if (nm->nu8 > 0) {
			nm->nu8 = 0;
			cm_norm_json(nm, 0xFFFD);
		}
		if (nm->js == 1)
			cm_norm_markup(nm, '\\', 0);
		else if (nm->js != 0)
			cm_norm_markup(nm, 0xFFFD, 0);
		nm->js = 0;
		cm_norm_ref_flush(nm);
		cm_norm_end_run(nm);
		nm->final = nm->base + nm->len;
	} else {
		nm->final = nm->base + nm->len;
		if (nm->btrun > 0 && nm->btstart < nm->final)
			nm->final = nm->btstart;
		if (!nm->fline && nm->frun > 0 && nm->lstart < nm->final)
			nm->final = nm->lstart;
	}
	return (nm->err ? -1 : 0);
}
