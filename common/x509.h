/*
 * X.509 building blocks shared by common/ca.c (leaves) and
 * common/ca_init.c (the CA itself).
 *
 * Extensions are built from their ASN.1 structures, never from OpenSSL
 * config strings, so no input can smuggle in a second value ("a,IP:...").
 * Functions returning int give 0 or -1; on -1 the reason is on the
 * thread's OpenSSL error queue, for cm_x509_err() to read.
 */
#ifndef CM_X509_H
#define CM_X509_H

#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

/* RFC 5280 §4.2.1.3 keyUsage bit numbers. */
#define CM_X509_KU_DIGITAL_SIGNATURE	0
#define CM_X509_KU_KEY_ENCIPHERMENT	2
#define CM_X509_KU_KEY_CERT_SIGN	5
#define CM_X509_KU_CRL_SIGN		6

/*
 * Writes "path: what: <OpenSSL's last reason>" (no "path: " when path is
 * NULL) into err and empties this thread's error queue.
 */
void		 cm_x509_err(char *err, size_t errlen, const char *path,
		    const char *what);
/* A random positive serial of exactly 128 bits. */
int		 cm_x509_serial(X509 *x);
/* SHA-1 of x's subjectPublicKey (RFC 5280 §4.2.1.2); caller frees. */
ASN1_OCTET_STRING *cm_x509_keyid(const X509 *x);
/* basicConstraints, critical: CA:TRUE pathlen:0 if ca, else CA:FALSE. */
int		 cm_x509_add_bc(X509 *x, int ca);
/* keyUsage, critical, with the CM_X509_KU_* bits given. */
int		 cm_x509_add_ku(X509 *x, const int *bits, size_t nbits);
/* authorityKeyIdentifier holding keyid only. */
int		 cm_x509_add_aki(X509 *x, const ASN1_OCTET_STRING *keyid);
/* extendedKeyUsage serverAuth. */
int		 cm_x509_add_eku(X509 *x);
/* One SAN: IP:ip when iplen is 4 or 16, else DNS:name. */
int		 cm_x509_add_san(X509 *x, const char *name,
		    const unsigned char *ip, size_t iplen, int critical);
/* Appends a UTF8String attribute, without X.520's length table. */
int		 cm_x509_name_add(X509_NAME *name, int nid, const char *value);
/* t as time_t (out may be NULL) and "YYYY-MM-DDTHH:MM:SSZ" (iso may be). */
int		 cm_x509_time(const ASN1_TIME *t, time_t *out, char *iso,
		    size_t isolen);
/* SHA-256 of the DER certificate: 32 bytes in md, colon hex in fp[96]. */
int		 cm_x509_sha256(X509 *x, unsigned char *md, char *fp);

#endif /* CM_X509_H */
