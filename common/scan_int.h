/*
 * Internals shared by the scan engine's files (common/scan*.c) and
 * nothing else: other modules use common/scan.h and common/scan_inject.h.
 */
#ifndef CM_SCAN_INT_H
#define CM_SCAN_INT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "common/bounds.h"
#include "common/scan.h"

struct cm_inject_rules;

/* ---- scan_lit.c: the literal prefilter -------------------------------- */

/*
 * A literal: keyword of a token rule, or a short form of a known secret.
 * It is found through one 4-byte window of it (the anchor, picked to be
 * rare in text) or, under 4 bytes, through its first two bytes.
 */
struct cm_lit {
	unsigned char	*s;		/* owned; lower-case when nocase */
	size_t		 len;
	size_t		 anchor;	/* offset of the anchor in s */
	int		 nocase;
	uint32_t	 owner;		/* CM_LIT_RULE/CM_LIT_FORM | index */
};
#define CM_LIT_RULE	0x01000000u
#define CM_LIT_FORM	0x02000000u
#define CM_LIT_INJ	0x03000000u
#define CM_LIT_KIND(o)	((o) & 0xff000000u)
#define CM_LIT_INDEX(o)	((o) & 0x00ffffffu)

struct cm_litset {
	uint64_t	 bloom4[1024];	/* 2^16 bits: hashed 4-byte anchors */
	uint64_t	 bloom2[1024];	/* 2^16 bits: 2-byte anchors */
	struct cm_lit	*lit;
	size_t		 nlit;
	size_t		 litcap;
	uint64_t	*tkey;		/* open addressing: anchor key */
	uint32_t	*tfirst;	/* first index into tlist */
	uint32_t	*tcount;
	size_t		 tmask;
	uint32_t	*tlist;		/* literal indices grouped by key */
	int		 has2;
	size_t		 maxlen;
};

/* Called per literal occurrence; start is its first byte. 0 or -1. */
typedef int	(*cm_lit_fn)(void *arg, const struct cm_lit *lit,
		    size_t start);

void	cm_litset_init(struct cm_litset *ls);
void	cm_litset_clear(struct cm_litset *ls);
int	cm_litset_add(struct cm_litset *ls, const void *s, size_t len,
	    int nocase, uint32_t owner);
/* "prefix" or "prefix[class]": one literal per class member. */
int	cm_litset_add_spec(struct cm_litset *ls, const char *spec,
	    int nocase, uint32_t owner);
int	cm_litset_build(struct cm_litset *ls);
/* Every occurrence starting at or after from and ending by n. */
int	cm_litset_scan(const struct cm_litset *ls, const unsigned char *p,
	    size_t n, size_t from, cm_lit_fn fn, void *arg);

/* ---- scan_rules.c: token_patterns ------------------------------------- */

/* Extends a match [s, *e) or rejects it: 1 ok, 0 no hit, -1 need bytes. */
typedef int	(*cm_scan_extent_fn)(const unsigned char *p, size_t n,
		    size_t s, size_t *e, int eof);

struct cm_scan_rule {
	const char		*id;
	const char		*name;
	const char		*regex;		/* PCRE2, byte mode */
	const char		*kw[12];	/* literals; NULL ends */
	int			 kw_nocase;
	size_t			 lead_max;	/* start before a keyword */
	size_t			 maxlen;	/* longest match of regex */
	cm_scan_extent_fn	 extent;	/* validator, or NULL */
};

#define CM_SCAN_NRULES	30

extern const struct cm_scan_rule cm_scan_rules[CM_SCAN_NRULES];

struct cm_scan_pattern {
	pcre2_code	*code;
	int		 jit;
};

/* ---- scan_secrets.c: known_secrets ------------------------------------ */

struct cm_ksecret {
	char		*name;		/* owned: variable or file name */
	char		*rule;		/* owned: "known-secret:NAME" */
	unsigned char	*s;		/* owned copy, wiped on free */
	size_t		 len;
	unsigned char	*proj;		/* owned: alphanumeric projection */
	size_t		 plen;
	uint32_t	*good;		/* prefix counts of good windows */
	uint32_t	*pgood;		/* the same for proj */
};

struct cm_kform {
	unsigned char	*s;		/* owned */
	size_t		 len;
	uint32_t	 secret;
	enum cm_scan_form form;
};

/* One sampled 8-byte gram: a secret at offset off, or a form. */
struct cm_qent {
	uint32_t	 ref;
	uint32_t	 off;
	int		 run;		/* 1: ref is a secret, 0: a form */
};

struct cm_qtab {
	uint64_t	*bloom;		/* 2^bbits bits */
	unsigned	 bbits;
	uint64_t	*keys;
	uint32_t	*first;
	uint32_t	*count;
	size_t		 mask;
	struct cm_qent	*ent;
	size_t		 nent;
	int		 nocase;
};

struct cm_scan_secrets {
	struct cm_ksecret *sec;
	size_t		 n;
	struct cm_kform	*form;
	size_t		 nform;
	struct cm_qtab	 raw[2];	/* [1]: keys folded to lower case */
	struct cm_qtab	 proj[2];
	size_t		 step;		/* sample every step bytes of text */
	size_t		 pstep;		/* ... of projected text */
	size_t		 partial;	/* dlp.partial_min_len */
	size_t		 maxlen;	/* longest hit a secret can give */
	size_t		 maxproj;	/* longest projection searched */
};

/* ---- the compiled set ------------------------------------------------- */

struct cm_scanset {
	atomic_int		 refs;
	size_t			 entropy_window;
	unsigned		 entropy_mbits;
	struct cm_scan_pattern	 pat[CM_SCAN_NRULES];
	struct cm_litset	 lits;		/* keywords and short forms */
	size_t			 kw_hold;	/* undecided at a window end */
	size_t			 max_match;
	struct cm_scan_secrets	 ks;
	double			*ent_tab;	/* c * log2(c), c <= window */
	struct cm_inject_rules	*inj;		/* NULL unless cfg->inbound */
};

/* Bytes of one lane (raw, or a decoded view) and where each came from. */
struct cm_vbuf {
	unsigned char	*b;
	uint64_t	*src;		/* views: raw offset of each byte */
	uint8_t		*slen;		/* and its length */
	size_t		 len;
	size_t		 cap;
	uint64_t	 base;		/* lane index of b[0] */
	uint64_t	 changed;	/* past the last rewritten byte */
};

/* A view decoder; it reads the raw lane, so it needs no buffer. */
struct cm_vdec {
	unsigned	 view;		/* one CM_SCAN_VIEW_* bit */
	uint64_t	 pos;		/* raw offset of the next byte */
};

/* A hit while scanning one window: indices into the window. */
struct cm_rhit {
	size_t		 start;
	size_t		 end;
	uint32_t	 prio;		/* lower wins an overlap */
	uint32_t	 ref;		/* rule or secret index */
	int		 secret;	/* 1: ref is a secret */
	enum cm_scan_form form;
};

struct cm_scanner {
	const char		*why;		/* reason of the last -1 */
	pcre2_match_data	*md;
	pcre2_match_context	*mctx;
	pcre2_jit_stack		*jit;
	struct cm_rhit		*rh;
	size_t			 nrh;
	size_t			 caprh;
	unsigned char		*proj;		/* projected window */
	uint32_t		*pmap;		/* index of every 16th byte */
	int			 pmapok;	/* pmap is for this window */
	size_t			 projcap;
	struct cm_vbuf		 sv;		/* cm_scan_buf() views */
	pcre2_match_data	*imd;		/* injection patterns */
	pcre2_match_context	*imctx;		/* with an offset limit */
	void			*iscratch;	/* scan_inject.c candidates */
	size_t			 iscap;
};

/* A window of one lane: bytes p[0..n), hits must start at or after lo. */
struct cm_scan_win {
	const unsigned char	*p;
	size_t			 n;
	size_t			 lo;
	int			 sof;		/* p[0] starts the input */
	int			 eof;		/* p[n - 1] ends it */
};

/* scan.c */
int	cm_scanner_push(struct cm_scanner *sc, size_t start, size_t end,
	    uint32_t prio, uint32_t ref, int secret, enum cm_scan_form form);
int	cm_scan_core(struct cm_scanner *sc, const struct cm_scanset *set,
	    unsigned detectors, int nocase, const struct cm_scan_win *w,
	    size_t *front);
/* Merges overlaps; keeps final clusters, lowers *front past the rest. */
void	cm_scan_resolve(struct cm_scanner *sc, size_t *front);
int	cm_scan_hits_add(struct cm_scan_hits *out,
	    const struct cm_scan_hit *h);
void	cm_scan_hit_fill(const struct cm_scanset *set,
	    const struct cm_rhit *r, struct cm_scan_hit *h);
void	cm_scan_hits_sort(struct cm_scan_hit *v, size_t n);

/* scan_rules.c */
int	cm_scan_rules_compile(struct cm_scanset *set, const char **why);
void	cm_scan_rules_free(struct cm_scanset *set);
int	cm_scan_rule_try(struct cm_scanner *sc, const struct cm_scanset *set,
	    const struct cm_scan_win *w, size_t rule, size_t kwstart,
	    size_t *front);

/* scan_secrets.c */
int	cm_scan_secrets_build(struct cm_scanset *set, const struct cm_secret *v,
	    size_t n, size_t partial, const char **why);
void	cm_scan_secrets_free(struct cm_scan_secrets *ks);
int	cm_scan_secrets_form_hit(struct cm_scanner *sc,
	    const struct cm_scan_secrets *ks,
	    const struct cm_scan_win *w, uint32_t form, size_t start,
	    int nocase, size_t *front);
int	cm_scan_secrets_scan(struct cm_scanner *sc,
	    const struct cm_scan_secrets *ks,
	    const struct cm_scan_win *w, int nocase, size_t *front);
uint32_t cm_scan_secrets_prio(const struct cm_scan_secrets *ks, uint32_t secret,
	    enum cm_scan_form form);

/* scan_entropy.c */
int	cm_entropy_table(struct cm_scanset *set, size_t window);
/* First window at or after *next with entropy over the threshold. */
int	cm_entropy_find(const struct cm_scanset *set, const unsigned char *p,
	    size_t n, size_t *next, size_t *at, unsigned *mbits);

/* scan_view.c */
int	cm_vbuf_reserve(struct cm_vbuf *vb, size_t more, int map);
void	cm_vbuf_free(struct cm_vbuf *vb);
/* Drops bytes before view index keep. */
void	cm_vbuf_trim(struct cm_vbuf *vb, uint64_t keep);
void	cm_vdec_init(struct cm_vdec *d, unsigned view);
/* Decodes raw bytes p[0..n) (raw offset base) from d->pos on. */
int	cm_vdec_run(struct cm_vdec *d, const unsigned char *p, size_t n,
	    uint64_t base, int eof, struct cm_vbuf *out);
enum cm_scan_view cm_vdec_view(unsigned view);
/* Whether the view of p[0..n) can differ from p at all. */
int	cm_vdec_needed(unsigned view, const unsigned char *p, size_t n);

/* scan_norm.c: §12.2 normalisation into two views with flags per byte */
#define CM_NORM_HIDDEN	0x01		/* in a comment, hidden element */
#define CM_NORM_ZW	0x02		/* an invisible went before it */
#define CM_NORM_TAG	0x04		/* decoded from a tag character */
#define CM_NORM_CODE	0x08		/* fence, backticks, <pre>, <code> */
#define CM_NORM_SYNTAX	0x10		/* JSON quote, in a tag: no quote */

struct cm_norm {
	int		 format;	/* enum cm_inject_format */
	int		 latin1;
	int		 err;		/* allocation failed */
	unsigned char	 u8[4];		/* a UTF-8 sequence cut by the piece */
	size_t		 nu8;
	int		 js;		/* JSON escape state */
	uint32_t	 jv;
	int		 jn;
	uint32_t	 jhigh;
	uint8_t		 jfl;
	int		 mk;		/* markup tracker state */
	unsigned char	 tag[CM_INJECT_TAG_BYTES];
	size_t		 ntag;
	int		 comment;	/* inside <!-- --> */
	int		 cend;		/* dashes seen towards "-->" */
	size_t		 hdepth;	/* nesting inside a hidden element */
	char		 hname[16];
	uint32_t	 ref[16];	/* a character reference being read */
	size_t		 nref;
	uint8_t		 reffl;
	int		 zw;		/* an invisible was just removed */
	int		 sp;		/* a collapsed space is pending */
	uint8_t		 spfl;
	unsigned char	 last;		/* last byte written */
	unsigned char	*orig;		/* the normalised text */
	unsigned char	*low;		/* the same, ASCII lower-cased */
	uint8_t		*fl;		/* CM_NORM_* per byte */
	size_t		 len;
	size_t		 cap;
	uint64_t	 base;		/* text index of orig[0] */
	uint64_t	 final;		/* flags before this index are final */
	uint64_t	 lstart;	/* annotator: where the line began */
	size_t		 lpos;
	int		 lspace;
	int		 frun;
	int		 fch;
	int		 fline;		/* this line is a fence */
	int		 fclose;
	int		 fence;		/* inside a fenced block */
	int		 fencech;
	int		 btrun;
	uint64_t	 btstart;
	int		 inl;		/* open inline code run length */
	int		 tn;		/* reading a tag name after '<' */
	char		 tname[8];
	size_t		 ntname;
	int		 tclose;
	int		 codedepth;
	uint8_t		 plain[256];	/* bytes the fast path may copy */
};

void	cm_norm_init(struct cm_norm *nm, int format, int latin1);
void	cm_norm_free(struct cm_norm *nm);
int	cm_norm_feed(struct cm_norm *nm, const unsigned char *p, size_t n,
	    int eof);
void	cm_norm_trim(struct cm_norm *nm, uint64_t keep);

/* scan_inject.c */
int	cm_inject_rules_new(struct cm_scanset *set, const char **why);
void	cm_inject_rules_free(struct cm_inject_rules *r);
void	cm_inject_scratch_free(struct cm_scanner *sc);

#endif /* CM_SCAN_INT_H */
