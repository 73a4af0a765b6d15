/*
 * The bottle CA (spec/bundle.md §3 "ca init", spec/egress.md §15).
 *
 * cm_ca_init() writes a new CA to disk for `bb-sidecar ca init`;
 * cm_ca_load() reads one for `run`, `check-config` and reloads and never
 * creates one; cm_ca_mint_leaf() signs the per-host leaf certificates of
 * the TLS bump.  A loaded struct cm_ca is immutable and refcounted, so
 * config snapshots on different threads share it.  Leaves are cached by
 * common/certcache.h.
 */
#ifndef CM_CA_H
#define CM_CA_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

/* File names inside the `ca init` directory. */
#define CM_CA_FILE		"ca.pem"	/* certificate, key; 0600 */
#define CM_CA_CERT_FILE		"ca-cert.pem"	/* certificate only; 0644 */

/* Length of cm_ca_fingerprint(): 32 bytes as "AB:CD:...", plus NUL. */
#define CM_CA_FINGERPRINT_LEN	(32 * 3)

struct cm_ca;				/* opaque; fields live in ca.c */

/* 1 if slug matches [A-Za-z0-9._-]{1,64}, else 0. */
int		 cm_ca_slug_valid(const char *slug);

/*
 * Creates dir (0700) if missing, then writes dir/ca.pem (0600: the
 * certificate, then the PKCS#8 key) and dir/ca-cert.pem (0644), each to a
 * temporary name in dir, fsync'd and renamed into place.  The key is EC
 * P-256, or RSA-2048 when rsa is non-zero.  If either file exists, fails
 * naming it and touches nothing, unless force.
 *
 * On success returns 0 and sets *info to a new object the caller must
 * json_decref(): {"ca": path, "cert": path, "key": "ec-p256"|"rsa-2048",
 * "sha256": fingerprint as cm_ca_fingerprint(), "not_after":
 * "YYYY-MM-DDTHH:MM:SSZ"}.  On failure returns -1 with the reason in err.
 * Blocks (key generation, fsync): not for a worker thread.
 */
int		 cm_ca_init(const char *dir, const char *slug, int rsa,
		    int force, json_t **info, char *err, size_t errlen);

/*
 * Reads a CA from path: one certificate and one unencrypted private key,
 * in either order (PKCS#8 or the traditional EC/RSA forms; the first of
 * each counts).  Refuses, with the reason in err, a certificate without
 * basicConstraints CA:TRUE or keyUsage keyCertSign, a key that is not
 * RSA >= 2048 or EC P-256/P-384, a key that does not match, and a
 * certificate not valid now.  On success *out holds one reference.
 * Blocks (file read): call it where config is loaded.
 */
int		 cm_ca_load(const char *path, struct cm_ca **out, char *err,
		    size_t errlen);
/* Takes one more reference; returns ca.  Thread-safe. */
struct cm_ca	*cm_ca_ref(struct cm_ca *ca);
/* Drops one reference, freeing at zero.  Accepts NULL.  Thread-safe. */
void		 cm_ca_unref(struct cm_ca *ca);

/* Borrowed, valid while the caller holds a reference; do not modify. */
X509		*cm_ca_cert(const struct cm_ca *ca);
/* SHA-256 of the DER certificate: upper-case hex pairs joined by ':'. */
const char	*cm_ca_fingerprint(const struct cm_ca *ca);
/* The same 32 bytes, raw; equal for two loads of the same certificate. */
const unsigned char *cm_ca_sha256(const struct cm_ca *ca);
time_t		 cm_ca_not_after(const struct cm_ca *ca);
/* 1 if the file was readable by group or others when loaded: warn. */
int		 cm_ca_readable_by_others(const struct cm_ca *ca);

/*
 * The process-wide leaf key: EC P-256, generated once at start, never
 * written anywhere.  Returns NULL with the reason in err.  The caller
 * owns it (EVP_PKEY_free); it is only read afterwards, so all workers
 * may share it.
 */
EVP_PKEY	*cm_ca_leaf_key_new(char *err, size_t errlen);

/*
 * Signs a leaf for host (a DNS name, or an IPv4 or IPv6 literal, the
 * latter with or without brackets) with the CA: SAN DNS:host or IP:addr,
 * CN = host when it fits, random serial, notBefore a day ago, notAfter
 * validity_days from now (<= 0: CM_DEF_LEAF_VALIDITY_DAYS) but never past
 * the CA's, serverAuth only, AKI from the CA, SHA-256.  leaf_key supplies
 * the public key.  On success *out is a new certificate the caller owns
 * (X509_free).  Thread-safe; does not block.
 */
int		 cm_ca_mint_leaf(const struct cm_ca *ca, EVP_PKEY *leaf_key,
		    const char *host, int validity_days, X509 **out,
		    char *err, size_t errlen);

#endif /* CM_CA_H */
