/*
 * Unicode folding for the scan engine (spec/egress.md §8.5, §12.2): the
 * compiled-in fold table (fullwidth and halfwidth forms, mathematical
 * and enclosed alphanumerics, super- and subscripts, ligatures, Unicode
 * spaces, Cyrillic and Greek homoglyphs of Latin letters), the invisible
 * characters that are removed, and a strict UTF-8 codec.  NFKC-like,
 * with no Unicode library.
 */
#ifndef CM_SCAN_FOLD_H
#define CM_SCAN_FOLD_H

#include <stddef.h>
#include <stdint.h>

/* The most code points one character folds to ("(20)"). */
#define CM_FOLD_MAX	4

/*
 * Decodes one UTF-8 sequence from p[0..n): returns its length (1-4) and
 * sets *cp; 0 when p holds only the start of a valid sequence; -1 when
 * p[0] starts no valid sequence (overlong, surrogate, too large).
 */
int	cm_utf8_decode(const unsigned char *p, size_t n, uint32_t *cp);
/* Writes cp as UTF-8 (1-4 bytes) and returns the length. */
size_t	cm_utf8_encode(uint32_t cp, unsigned char out[4]);

/* Zero-width and bidi controls, soft hyphen, variation selectors. */
int	cm_fold_invisible(uint32_t cp);
/* Unicode tag characters U+E0000-U+E007F. */
int	cm_fold_is_tag(uint32_t cp);

/*
 * Folds cp: returns the number of code points written to out (1 with
 * out[0] == cp when the table does not change it, 0 when cp is removed:
 * invisible characters and tags).
 */
size_t	cm_fold_cp(uint32_t cp, uint32_t out[CM_FOLD_MAX]);

/* For the unit test: 1 when the table is sorted and has no overlap. */
int	cm_fold_table_ok(void);

#endif /* CM_SCAN_FOLD_H */
