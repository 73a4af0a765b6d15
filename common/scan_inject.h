/*
 * Inbound prompt-injection heuristics, naive_injection_detection
 * (spec/egress.md §12): text is normalised (§12.2), eight families of
 * patterns run over it (§12.1), and the matches of a document give a
 * severity (§12.3).  A signal, never a guarantee.
 *
 * The patterns are compiled into the struct cm_scanset when its config
 * sets inbound; a struct cm_inject is one document (a response body, one
 * WebSocket message, or a whole SSE or ndjson stream, whose family count
 * carries across events) fed in pieces on one thread.
 */
#ifndef CM_SCAN_INJECT_H
#define CM_SCAN_INJECT_H

#include <stddef.h>
#include <stdint.h>

struct cm_scanset;
struct cm_scanner;
struct cm_inject;

/* How the bytes are unescaped before matching (§12.2). */
enum cm_inject_format {
	CM_INJECT_TEXT,		/* text/plain, markdown, unknown */
	CM_INJECT_JSON,		/* JSON types, ndjson, SSE data */
	CM_INJECT_HTML,		/* HTML and XML: character references */
};

enum cm_inject_charset {
	CM_INJECT_UTF8,		/* invalid sequences become U+FFFD */
	CM_INJECT_LATIN1,	/* a declared single-byte charset */
};

enum cm_inject_severity {
	CM_INJECT_NONE,
	CM_INJECT_WARN,
	CM_INJECT_BLOCK,
};

/* Families (§12.1), as bits. */
#define CM_INJECT_OVERRIDE	0x01
#define CM_INJECT_ROLE		0x02
#define CM_INJECT_IMPERSONATION	0x04
#define CM_INJECT_BOUNDARY	0x08
#define CM_INJECT_TOOL		0x10
#define CM_INJECT_EXFIL		0x20
#define CM_INJECT_SHELL		0x40
#define CM_INJECT_CONCEAL	0x80
#define CM_INJECT_NFAMILIES	8

struct cm_inject_result {
	enum cm_inject_severity	 severity;
	unsigned		 families;	/* every one seen, quoted too */
	unsigned		 block_families;/* the window that blocked */
	int			 carrier;	/* a hidden carrier blocked */
	size_t			 matches;	/* distinct matches so far */
};

/*
 * A document scanner holding a reference to set, whose config must have
 * set inbound.  NULL on allocation failure or without inbound rules.
 */
struct cm_inject	*cm_inject_new(const struct cm_scanset *set,
			    enum cm_inject_format format,
			    enum cm_inject_charset charset);
void			 cm_inject_free(struct cm_inject *in);
/*
 * Normalises and scans one more piece.  A match is decided once the
 * text after it has arrived (word boundaries, bounded patterns), so one
 * cut by the end of a piece shows up with a later piece: a caller that
 * forwards as it goes learns of it late and aborts (spec §10.2).
 * Returns 0, or -1 and *why.
 */
int			 cm_inject_feed(struct cm_inject *in,
			    struct cm_scanner *sc, const void *buf, size_t len,
			    const char **why);
/* The end of the document: flushes and scans what was held. */
int			 cm_inject_finish(struct cm_inject *in,
			    struct cm_scanner *sc, const char **why);
void			 cm_inject_get(const struct cm_inject *in,
			    struct cm_inject_result *res);

/* One whole document. */
int	cm_inject_scan(const struct cm_scanset *set, struct cm_scanner *sc,
	    enum cm_inject_format format, enum cm_inject_charset charset,
	    const void *buf, size_t len, struct cm_inject_result *res,
	    const char **why);

/* "override", "exfil-request", ...; NULL for an unknown bit. */
const char	*cm_inject_family_name(unsigned bit);
/* Comma-separated names of the bits set, as far as sz allows. */
size_t		 cm_inject_families_str(unsigned families, char *buf,
		    size_t sz);

#endif /* CM_SCAN_INJECT_H */
