/*
 * The scan engine: one set of rules for every scanner (spec/egress.md
 * §8 outbound DLP, spec/gitgate.md §8 push scan, spec/supervise.md §5.3
 * queue redaction).  Pure computation: no sockets, no event loop.
 *
 * A struct cm_scanset is compiled once per config snapshot from the
 * compiled-in token_patterns table and the known-secret set; it is
 * immutable and shared between threads by reference count.  Each thread
 * owns a struct cm_scanner (PCRE2 match data, JIT stack, scratch), so a
 * scan takes no lock.  Hits name a rule and, for known secrets, the
 * secret's NAME; they never carry secret bytes.
 */
#ifndef CM_SCAN_H
#define CM_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "common/bounds.h"	/* CM_SCAN_EXCERPT_BYTES and friends */

struct cm_secret;		/* common/log.h */
struct cm_scanset;		/* compiled rules; shared, refcounted */
struct cm_scanner;		/* per-thread scratch; one owner */
struct cm_scan_stream;		/* one body being scanned in pieces */

/* Detectors, as selected by dlp.outbound_detectors (a bit mask). */
#define CM_SCAN_TOKEN_PATTERNS	0x01
#define CM_SCAN_KNOWN_SECRETS	0x02
#define CM_SCAN_ENTROPY		0x04
#define CM_SCAN_DEFAULT_DETECTORS \
	(CM_SCAN_TOKEN_PATTERNS | CM_SCAN_KNOWN_SECRETS)

/* Views scanned besides the bytes themselves (§8.5); a bit mask. */
#define CM_SCAN_VIEW_PERCENT	0x01	/* %XX decoded, '+' as space */
#define CM_SCAN_VIEW_JSON	0x02	/* JSON string escapes decoded */
#define CM_SCAN_VIEW_FOLD	0x04	/* fullwidth, confusables folded */

/* Where the bytes come from; decides case and entropy (§8.1, §8.4). */
enum cm_scan_surface {
	CM_SCAN_SURF_HOST,	/* known secrets compare ignoring case */
	CM_SCAN_SURF_PATH,
	CM_SCAN_SURF_QUERY,
	CM_SCAN_SURF_HEADER,
	CM_SCAN_SURF_BODY,
	CM_SCAN_SURF_WS,
	CM_SCAN_SURF_GIT,	/* push scan: diff lines, messages, names */
};

/* Which encoding of a known secret matched (§8.3); NONE otherwise. */
enum cm_scan_form {
	CM_SCAN_FORM_NONE,
	CM_SCAN_FORM_RAW,
	CM_SCAN_FORM_BASE64,
	CM_SCAN_FORM_BASE64URL,
	CM_SCAN_FORM_PERCENT,
	CM_SCAN_FORM_HEX,
	CM_SCAN_FORM_ALNUM,
	CM_SCAN_FORM_PARTIAL,
};

/* The view a hit was found in: RAW, or one only a decoded view has. */
enum cm_scan_view {
	CM_SCAN_IN_RAW,
	CM_SCAN_IN_PERCENT,
	CM_SCAN_IN_JSON,
	CM_SCAN_IN_FOLD,
};

struct cm_scan_config {
	size_t		 partial_min_len;	/* 0: the default */
	size_t		 entropy_window;	/* 0: the default */
	unsigned	 entropy_mbits;		/* x 1000; 0: the default */
	int		 inbound;		/* also compile §12 patterns */
};

struct cm_scan_opts {
	enum cm_scan_surface	 surface;
	unsigned		 detectors;	/* CM_SCAN_TOKEN_PATTERNS ... */
	unsigned		 views;		/* CM_SCAN_VIEW_* */
};

/*
 * One finding.  Strings belong to the set and live as long as it does;
 * off and len are in bytes of the input (of the whole stream, for a
 * stream), and cover the value in the raw bytes even for a view hit.
 */
struct cm_scan_hit {
	uint64_t		 off;
	size_t			 len;
	const char		*rule;		/* id, "known-secret:NAME" */
	const char		*name;		/* "AWS access key ID", ... */
	const char		*secret;	/* known secret: NAME; NULL */
	int			 secret_idx;	/* in this set, or -1; a reload
						   renumbers: key on NAME */
	int			 rule_idx;	/* cm_scan_rule_id(), or -1 */
	unsigned		 detector;	/* one CM_SCAN_* detector bit */
	enum cm_scan_form	 form;
	enum cm_scan_view	 view;
	unsigned		 entropy_mbits;	/* entropy: bits/byte x 1000 */
};

/* A growing list the caller owns; at most CM_MAX_SCAN_HITS are kept. */
struct cm_scan_hits {
	struct cm_scan_hit	*hit;		/* owned */
	size_t			 n;
	size_t			 cap;
	size_t			 lost;		/* past the cap: only counted */
};

/* Redaction styles (§9.2, §9.3, spec/gitgate.md §8.4). */
enum cm_scan_redact {
	CM_SCAN_REDACT_STARS,		/* each value becomes "********" */
	CM_SCAN_REDACT_SAMELEN,		/* each byte of a value becomes '*' */
	CM_SCAN_REDACT_TAG,		/* "[REDACTED rule=RULE len=N]" */
};

/*
 * Compiles the rule table and the known secrets (copied; the caller may
 * wipe its copy after).  Secrets shorter than CM_SECRET_MIN_BYTES are
 * skipped (start-up code warns about them); more than CM_MAX_SECRETS or
 * one longer than CM_MAX_SECRET_BYTES is refused.  Returns a set with one
 * reference, or NULL and *why.
 */
struct cm_scanset	*cm_scanset_new(const struct cm_scan_config *cfg,
			    const struct cm_secret *secrets, size_t nsecrets,
			    const char **why);
void			 cm_scanset_ref(struct cm_scanset *set);
/* Drops one reference; the last frees the set.  Accepts NULL. */
void			 cm_scanset_unref(struct cm_scanset *set);
/* The longest value any rule or secret form can match, in bytes. */
size_t			 cm_scanset_max_match(const struct cm_scanset *set);
size_t			 cm_scanset_nsecrets(const struct cm_scanset *set);

/* Per-thread scratch; never shared.  NULL on allocation failure. */
struct cm_scanner	*cm_scanner_new(void);
void			 cm_scanner_free(struct cm_scanner *sc);

void	 cm_scan_hits_init(struct cm_scan_hits *hits);
void	 cm_scan_hits_clear(struct cm_scan_hits *hits);
void	 cm_scan_hits_free(struct cm_scan_hits *hits);

/*
 * Scans one whole buffer and appends its hits to out in order of offset.
 * Overlapping hits are reported once, under the first rule (known
 * secrets before token_patterns, then table order), covering the union
 * of their bytes.  A decoded view adds only hits on bytes no raw hit
 * covers, marked with their view.  Returns 0, or -1 and *why.
 */
int	 cm_scan_buf(struct cm_scanner *sc, const struct cm_scanset *set,
	    const struct cm_scan_opts *opts, const void *buf, size_t len,
	    struct cm_scan_hits *out, const char **why);

/*
 * Streaming (§8.6).  The stream holds a reference to the set.  Each feed
 * appends the hits that became final and sets *safe to the number of
 * bytes, from the start of the stream, that no hit found later can touch:
 * the caller may release bytes before *safe (after redacting any hit in
 * them) and must hold the rest.  *safe never decreases; after finish it
 * is the stream length.  The hits are those cm_scan_buf() reports on
 * the concatenation, whatever the pieces.  Entropy hits only warn: they
 * hold nothing back and may come after their bytes were released.
 */
struct cm_scan_stream	*cm_scan_stream_new(const struct cm_scanset *set,
			    const struct cm_scan_opts *opts);
void			 cm_scan_stream_free(struct cm_scan_stream *st);
int			 cm_scan_stream_feed(struct cm_scan_stream *st,
			    struct cm_scanner *sc, const void *buf, size_t len,
			    struct cm_scan_hits *out, uint64_t *safe,
			    const char **why);
int			 cm_scan_stream_finish(struct cm_scan_stream *st,
			    struct cm_scanner *sc, struct cm_scan_hits *out,
			    uint64_t *safe, const char **why);
/*
 * The raw bytes the stream still holds: *base is the stream offset of
 * the first.  They include every byte of the hits the last call added,
 * so excerpts can be cut from them.
 */
const unsigned char	*cm_scan_stream_window(const struct cm_scan_stream *st,
			    uint64_t *base, size_t *len);

/*
 * Rewrites buf, which holds stream bytes [base, base + len), replacing
 * every raw hit of hits (view and entropy hits cannot be rewritten and
 * are skipped).  A STARS or TAG hit cut by the start of buf writes
 * nothing there: its text went with the piece holding its first byte.
 * Returns a new buffer in *outp (free(3)) and its length, or -1.
 */
int	 cm_scan_redact(const void *buf, size_t len, uint64_t base,
	    const struct cm_scan_hits *hits, enum cm_scan_redact style,
	    unsigned char **outp, size_t *outlen, const char **why);

/*
 * Writes a printable excerpt around hits->hit[i] into out (at most
 * outsz - 1 characters, NUL-terminated, at most CM_SCAN_EXCERPT_BYTES):
 * ctx bytes each side, every hit inside written in the given style,
 * other non-printable bytes as \xNN, and any run of
 * CM_SCAN_SECRET_RUN_BYTES bytes of a known secret masked.  Returns the
 * length written.
 */
size_t	 cm_scan_excerpt(const struct cm_scanset *set, const void *buf,
	    size_t len, uint64_t base, const struct cm_scan_hits *hits,
	    size_t i, size_t ctx, enum cm_scan_redact style, char *out,
	    size_t outsz);

/*
 * Overwrites with '*' every run of at least min_run bytes that is also
 * in a known secret (exact bytes); returns the number of runs masked.
 */
size_t	 cm_scan_mask_secrets(const struct cm_scanset *set, void *buf,
	    size_t len, size_t min_run);

/* Table access for logs, bodies and tests. */
size_t		 cm_scan_nrules(void);
const char	*cm_scan_rule_id(size_t i);
const char	*cm_scan_rule_name(size_t i);
int		 cm_scan_rule_find(const char *id);
const char	*cm_scan_form_name(enum cm_scan_form form);
const char	*cm_scan_detector_name(unsigned detector);
const char	*cm_scan_view_name(enum cm_scan_view view);

#endif /* CM_SCAN_H */
