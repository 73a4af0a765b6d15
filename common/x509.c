/*
 * X.509 building blocks: serials, key identifiers, the extensions the
 * CA and its leaves carry, times and fingerprints.  OpenSSL 3.0 EVP and
 * X509 APIs only.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/x509.h"

/* spec/egress.md §15, spec/bundle.md §3: "random 128-bit serial". */
#define CM_X509_SERIAL_BITS	128

void
cm_x509_err(char *err, size_t errlen, const char *path, const char *what)
{
	unsigned long	 e;
	char		 buf[256];

	e = ERR_peek_last_error();
	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	else
		(void)snprintf(buf, sizeof(buf), "no OpenSSL reason");
	if (err != NULL && errlen > 0) {
		if (path != NULL)
			(void)snprintf(err, errlen, "%s: %s: %s", path, what,
			    buf);
		else
			(void)snprintf(err, errlen, "%s: %s", what, buf);
	}
	ERR_clear_error();
}

int
cm_x509_serial(X509 *x)
{
	BIGNUM	*bn;
	int	 ok;

	if ((bn = BN_new()) == NULL)
		return (-1);
	ok = BN_rand(bn, CM_X509_SERIAL_BITS, BN_RAND_TOP_ONE,
	    BN_RAND_BOTTOM_ANY) == 1 &&
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return (ok ? 0 : -1);
}

/* RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
ASN1_OCTET_STRING *
cm_x509_keyid(const X509 *x)
{
	const ASN1_BIT_STRING	*bits;
	ASN1_OCTET_STRING	*id;
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 n;

	if ((bits = X509_get0_pubkey_bitstr(x)) == NULL)
		return (NULL);
	if (EVP_Digest(ASN1_STRING_get0_data(bits), ASN1_STRING_length(bits),
	    md, &n, EVP_sha1(), NULL) != 1)
		return (NULL);
	if ((id = ASN1_OCTET_STRING_new()) == NULL)
		return (NULL);
	if (ASN1_OCTET_STRING_set(id, md, (int)n) != 1) {
		ASN1_OCTET_STRING_free(id);
		return (NULL);
	}
	return (id);
}

/* basicConstraints, critical: CA:TRUE pathlen:0, or CA:FALSE. */
int
cm_x509_add_bc(X509 *x, int ca)
{
	BASIC_CONSTRAINTS	*bc;
	int			 ok = 0;

	if ((bc = BASIC_CONSTRAINTS_new()) == NULL)
		return (-1);
	bc->ca = ca ? 0xff : 0;
	if (ca) {
		if ((bc->pathlen = ASN1_INTEGER_new()) == NULL ||
		    ASN1_INTEGER_set(bc->pathlen, 0) != 1)
			goto out;
	}
	ok = X509_add1_ext_i2d(x, NID_basic_constraints, bc, 1,
	    X509V3_ADD_REPLACE) == 1;
 out:
	BASIC_CONSTRAINTS_free(bc);
	return (ok ? 0 : -1);
}

/* keyUsage, critical, with the given bit numbers (RFC 5280 §4.2.1.3). */
int
cm_x509_add_ku(X509 *x, const int *bits, size_t nbits)
{
	ASN1_BIT_STRING	*ku;
	size_t		 i;
	int		 ok = 0;

	if ((ku = ASN1_BIT_STRING_new()) == NULL)
		return (-1);
	for (i = 0; i < nbits; i++)
		if (ASN1_BIT_STRING_set_bit(ku, bits[i], 1) != 1)
			goto out;
	ok = X509_add1_ext_i2d(x, NID_key_usage, ku, 1,
	    X509V3_ADD_REPLACE) == 1;
 out:
	ASN1_BIT_STRING_free(ku);
	return (ok ? 0 : -1);
}

int
cm_x509_add_aki(X509 *x, const ASN1_OCTET_STRING *keyid)
{
	AUTHORITY_KEYID	*akid;
	int		 ok = 0;

	if ((akid = AUTHORITY_KEYID_new()) == NULL)
		return (-1);
	if ((akid->keyid = ASN1_OCTET_STRING_dup(keyid)) != NULL)
		ok = X509_add1_ext_i2d(x, NID_authority_key_identifier, akid,
		    0, X509V3_ADD_REPLACE) == 1;
	AUTHORITY_KEYID_free(akid);
	return (ok ? 0 : -1);
}

int
cm_x509_add_eku(X509 *x)
{
	EXTENDED_KEY_USAGE	*eku;
	int			 ok = 0;

	if ((eku = sk_ASN1_OBJECT_new_null()) == NULL)
		return (-1);
	/* OBJ_nid2obj() objects are static: nothing to free per entry. */
	if (sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_server_auth)) > 0)
		ok = X509_add1_ext_i2d(x, NID_ext_key_usage, eku, 0,
		    X509V3_ADD_REPLACE) == 1;
	sk_ASN1_OBJECT_free(eku);
	return (ok ? 0 : -1);
}

/* One SAN: DNS:name, or IP:ip when iplen is 4 or 16. */
int
cm_x509_add_san(X509 *x, const char *name, const unsigned char *ip,
    size_t iplen, int critical)
{
	GENERAL_NAMES		*gens;
	GENERAL_NAME		*gn;
	ASN1_STRING		*s;
	int			 ok = 0;

	if ((gens = sk_GENERAL_NAME_new_null()) == NULL)
		return (-1);
	if ((gn = GENERAL_NAME_new()) == NULL)
		goto out;
	if (iplen > 0) {
		s = ASN1_OCTET_STRING_new();
		if (s != NULL && ASN1_OCTET_STRING_set(s, ip, (int)iplen) == 1)
			GENERAL_NAME_set0_value(gn, GEN_IPADD, s);
		else {
			ASN1_OCTET_STRING_free(s);
			GENERAL_NAME_free(gn);
			goto out;
		}
	} else {
		s = ASN1_IA5STRING_new();
		if (s != NULL && ASN1_STRING_set(s, name, -1) == 1)
			GENERAL_NAME_set0_value(gn, GEN_DNS, s);
		else {
			ASN1_IA5STRING_free(s);
			GENERAL_NAME_free(gn);
			goto out;
		}
	}
	if (sk_GENERAL_NAME_push(gens, gn) <= 0) {
		GENERAL_NAME_free(gn);
		goto out;
	}
	ok = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, critical,
	    X509V3_ADD_REPLACE) == 1;
 out:
	GENERAL_NAMES_free(gens);
	return (ok ? 0 : -1);
}

/*
 * A UTF8String attribute.  Passing the type, not MBSTRING_ASC, skips
 * OpenSSL's X.520 length table: "bot-bottle sidecar CA " plus a 64-byte
 * slug exceeds ub-common-name, and the spec allows such slugs.
 */
int
cm_x509_name_add(X509_NAME *name, int nid, const char *value)
{
	return (X509_NAME_add_entry_by_NID(name, nid, V_ASN1_UTF8STRING,
	    (const unsigned char *)value, -1, -1, 0) == 1 ? 0 : -1);
}

/* ASN1_TIME to time_t and "YYYY-MM-DDTHH:MM:SSZ". */
int
cm_x509_time(const ASN1_TIME *t, time_t *out, char *iso, size_t isolen)
{
	struct tm	 tm;

	memset(&tm, 0, sizeof(tm));
	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return (-1);
	if (out != NULL)
		*out = timegm(&tm);
	if (iso != NULL &&
	    strftime(iso, isolen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return (-1);
	return (0);
}

/* SHA-256 of the DER certificate, raw and as colon hex. */
int
cm_x509_sha256(X509 *x, unsigned char *md, char *fp)
{
	static const char	 hex[] = "0123456789ABCDEF";
	unsigned int		 n, i;

	if (X509_digest(x, EVP_sha256(), md, &n) != 1 ||
	    n != SHA256_DIGEST_LENGTH)
		return (-1);
	for (i = 0; i < n; i++) {
		fp[i * 3] = hex[md[i] >> 4];
		fp[i * 3 + 1] = hex[md[i] & 0xf];
		fp[i * 3 + 2] = (i + 1 < n) ? ':' : '\0';
	}
	return (0);
}
