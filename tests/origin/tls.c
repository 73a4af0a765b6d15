/*
 * bbt-origin's certificates and TLS context: the test upstream CA
 * (--make-ca), the leaf minted from it at start, the throwaway CA behind
 * --untrusted-name, SNI-based leaf choice and ALPN selection.
 *
 * The untrusted leaf is sent without its issuer, so a verifying client
 * fails with "unable to get local issuer certificate", the reason
 * spec/egress.md §11.3 quotes.
 */
#include "config.h"

#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/util.h"
#include "common/x509.h"
#include "tests/origin/origin.h"

/* Clock skew between test processes is nil, but keep a margin anyway. */
#define BBT_TLS_BACKDATE_S	(24 * 60 * 60)

static int	 bbt_tls_ca(const char *cn, X509 **certp, EVP_PKEY **keyp);
static int	 bbt_tls_leaf(X509 *ca, EVP_PKEY *cakey, EVP_PKEY *key,
		    const char **names, size_t nnames, const char **ips,
		    size_t nips, X509 **out);
static int	 bbt_tls_sans(X509 *x, const char **names, size_t nnames,
		    const char **ips, size_t nips);
static int	 bbt_tls_write_pem(const char *dir, const char *name,
		    X509 *x, EVP_PKEY *key, int mode);
static int	 bbt_tls_sni(SSL *ssl, int *alert, void *arg);
static int	 bbt_tls_alpn_select(SSL *ssl, const unsigned char **out,
		    unsigned char *outlen, const unsigned char *in,
		    unsigned int inlen, void *arg);
static int	 bbt_tls_validity(X509 *x, int days);

static int
bbt_tls_validity(X509 *x, int days)
{
	time_t	 now = time(NULL);

	if (X509_time_adj_ex(X509_getm_notBefore(x), 0, -BBT_TLS_BACKDATE_S,
	    &now) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), days, 0, &now) == NULL)
		return (-1);
	return (0);
}

/* A self-signed EC P-256 CA, pathlen 0, as a real private CA would be. */
static int
bbt_tls_ca(const char *cn, X509 **certp, EVP_PKEY **keyp)
{
	static const int	 ku[] = { CM_X509_KU_KEY_CERT_SIGN,
				    CM_X509_KU_CRL_SIGN };
	X509			*x = NULL;
	EVP_PKEY		*key;
	ASN1_OCTET_STRING	*id = NULL;
	X509_NAME		*name = NULL;

	if ((key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL)
		return (-1);
	if ((x = X509_new()) == NULL ||
	    X509_set_version(x, X509_VERSION_3) != 1 ||
	    cm_x509_serial(x) == -1 ||
	    (name = X509_NAME_new()) == NULL ||
	    cm_x509_name_add(name, NID_commonName, cn) == -1 ||
	    cm_x509_name_add(name, NID_organizationName, "bbt-origin") == -1 ||
	    X509_set_subject_name(x, name) != 1 ||
	    X509_set_issuer_name(x, name) != 1 ||
	    bbt_tls_validity(x, BBT_CA_DAYS) == -1 ||
	    X509_set_pubkey(x, key) != 1 ||
	    (id = cm_x509_keyid(x)) == NULL ||
	    cm_x509_add_bc(x, 1) == -1 ||
	    cm_x509_add_ku(x, ku, sizeof(ku) / sizeof(ku[0])) == -1 ||
	    X509_add1_ext_i2d(x, NID_subject_key_identifier, id, 0,
	    X509V3_ADD_REPLACE) != 1 ||
	    cm_x509_add_aki(x, id) == -1 ||
	    X509_sign(x, key, EVP_sha256()) <= 0) {
		X509_NAME_free(name);
		ASN1_OCTET_STRING_free(id);
		X509_free(x);
		EVP_PKEY_free(key);
		return (-1);
	}
	X509_NAME_free(name);
	ASN1_OCTET_STRING_free(id);
	*certp = x;
	*keyp = key;
	return (0);
}

/* One subjectAltName holding every name: a second extension is invalid. */
static int
bbt_tls_sans(X509 *x, const char **names, size_t nnames, const char **ips,
    size_t nips)
{
	GENERAL_NAMES		*gens;
	GENERAL_NAME		*gen;
	ASN1_IA5STRING		*ia5;
	ASN1_OCTET_STRING	*oct;
	unsigned char		 ip[16];
	size_t			 i;
	int			 iplen, ok = 0;

	if ((gens = sk_GENERAL_NAME_new_null()) == NULL)
		return (-1);
	for (i = 0; i < nnames + nips; i++) {
		if ((gen = GENERAL_NAME_new()) == NULL)
			goto out;
		if (i < nnames) {
			if ((ia5 = ASN1_IA5STRING_new()) == NULL ||
			    ASN1_STRING_set(ia5, names[i], -1) != 1) {
				ASN1_IA5STRING_free(ia5);
				GENERAL_NAME_free(gen);
				goto out;
			}
			GENERAL_NAME_set0_value(gen, GEN_DNS, ia5);
		} else {
			if (inet_pton(AF_INET, ips[i - nnames], ip) == 1)
				iplen = 4;
			else if (inet_pton(AF_INET6, ips[i - nnames], ip) == 1)
				iplen = 16;
			else {
				GENERAL_NAME_free(gen);
				goto out;
			}
			if ((oct = ASN1_OCTET_STRING_new()) == NULL ||
			    ASN1_OCTET_STRING_set(oct, ip, iplen) != 1) {
				ASN1_OCTET_STRING_free(oct);
				GENERAL_NAME_free(gen);
				goto out;
			}
			GENERAL_NAME_set0_value(gen, GEN_IPADD, oct);
		}
		if (sk_GENERAL_NAME_push(gens, gen) == 0) {
			GENERAL_NAME_free(gen);
			goto out;
		}
	}
	ok = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0,
	    X509V3_ADD_REPLACE) == 1;
 out:
	GENERAL_NAMES_free(gens);
	return (ok ? 0 : -1);
}

/* A serverAuth leaf for every name and IP given, signed by ca. */
static int
bbt_tls_leaf(X509 *ca, EVP_PKEY *cakey, EVP_PKEY *key, const char **names,
    size_t nnames, const char **ips, size_t nips, X509 **out)
{
	static const int	 ku[] = { CM_X509_KU_DIGITAL_SIGNATURE };
	X509			*x;
	X509_NAME		*name = NULL;
	ASN1_OCTET_STRING	*id = NULL, *caid = NULL;
	const char		*cn = nnames > 0 ? names[0] :
				    (nips > 0 ? ips[0] : "bbt-origin");

	if ((x = X509_new()) == NULL ||
	    X509_set_version(x, X509_VERSION_3) != 1 ||
	    cm_x509_serial(x) == -1 ||
	    (name = X509_NAME_new()) == NULL ||
	    cm_x509_name_add(name, NID_commonName, cn) == -1 ||
	    X509_set_subject_name(x, name) != 1 ||
	    X509_set_issuer_name(x, X509_get_subject_name(ca)) != 1 ||
	    bbt_tls_validity(x, BBT_LEAF_DAYS) == -1 ||
	    X509_set_pubkey(x, key) != 1 ||
	    (id = cm_x509_keyid(x)) == NULL ||
	    (caid = cm_x509_keyid(ca)) == NULL ||
	    cm_x509_add_bc(x, 0) == -1 ||
	    cm_x509_add_ku(x, ku, sizeof(ku) / sizeof(ku[0])) == -1 ||
	    cm_x509_add_eku(x) == -1 ||
	    X509_add1_ext_i2d(x, NID_subject_key_identifier, id, 0,
	    X509V3_ADD_REPLACE) != 1 ||
	    cm_x509_add_aki(x, caid) == -1 ||
	    (nnames + nips > 0 &&
	    bbt_tls_sans(x, names, nnames, ips, nips) == -1) ||
	    X509_sign(x, cakey, EVP_sha256()) <= 0) {
		X509_NAME_free(name);
		ASN1_OCTET_STRING_free(id);
		ASN1_OCTET_STRING_free(caid);
		X509_free(x);
		return (-1);
	}
	X509_NAME_free(name);
	ASN1_OCTET_STRING_free(id);
	ASN1_OCTET_STRING_free(caid);
	*out = x;
	return (0);
}

/* The certificate or the key (exactly one given) as PEM in dir/name. */
static int
bbt_tls_write_pem(const char *dir, const char *name, X509 *x, EVP_PKEY *key,
    int mode)
{
	BIO	*b;
	char	*p;
	long	 n;
	int	 rc = -1;

	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return (-1);
	if ((x != NULL && PEM_write_bio_X509(b, x) == 1) ||
	    (key != NULL && PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0,
	    NULL, NULL) == 1)) {
		n = BIO_get_mem_data(b, &p);
		rc = cm_write_file_atomic(dir, name, p, (size_t)n, mode);
	}
	BIO_free(b);
	return (rc);
}

int
bbt_tls_make_ca(const char *dir, json_t **info, char *err, size_t errlen)
{
	char		 cert[PATH_MAX], key[PATH_MAX];
	X509		*x = NULL;
	EVP_PKEY	*k = NULL;
	int		 created = 0;

	(void)snprintf(cert, sizeof(cert), "%s/ca.pem", dir);
	(void)snprintf(key, sizeof(key), "%s/ca-key.pem", dir);
	if (access(cert, R_OK) != 0 || access(key, R_OK) != 0) {
		if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
			(void)snprintf(err, errlen, "%s: %s", dir,
			    strerror(errno));
			return (-1);
		}
		if (bbt_tls_ca("bbt-origin test upstream CA", &x, &k) == -1) {
			cm_x509_err(err, errlen, dir, "CA generation failed");
			return (-1);
		}
		/* The key first: a reader that sees ca.pem finds both. */
		if (bbt_tls_write_pem(dir, "ca-key.pem", NULL, k, 0600) == -1 ||
		    bbt_tls_write_pem(dir, "ca.pem", x, NULL, 0644) == -1) {
			(void)snprintf(err, errlen, "%s: write: %s", dir,
			    strerror(errno));
			X509_free(x);
			EVP_PKEY_free(k);
			return (-1);
		}
		X509_free(x);
		EVP_PKEY_free(k);
		created = 1;
	}
	*info = json_pack("{s:s, s:s, s:b}", "ca", cert, "key", key,
	    "created", created);
	return (*info == NULL ? -1 : 0);
}

/* Picks the leaf by SNI; never refuses, so clients see the cert choice. */
static int
bbt_tls_sni(SSL *ssl, int *alert, void *arg)
{
	struct bbt_origin	*o = arg;
	const char		*sni;
	size_t			 i;

	(void)alert;
	if ((sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) == NULL)
		return (SSL_TLSEXT_ERR_OK);
	for (i = 0; i < o->nuntrusted; i++) {
		if (strcasecmp(sni, o->untrusted[i]) != 0)
			continue;
		if (SSL_use_certificate(ssl, o->bad_leaf) != 1 ||
		    SSL_use_PrivateKey(ssl, o->key) != 1)
			return (SSL_TLSEXT_ERR_ALERT_FATAL);
		break;
	}
	return (SSL_TLSEXT_ERR_OK);
}

/* Server preference: the first --alpn the client also offers. */
static int
bbt_tls_alpn_select(SSL *ssl, const unsigned char **out,
    unsigned char *outlen, const unsigned char *in, unsigned int inlen,
    void *arg)
{
	struct bbt_origin	*o = arg;
	size_t			 i, len;
	unsigned int		 j;

	(void)ssl;
	for (i = 0; i < o->nalpn; i++) {
		len = strlen(o->alpn[i]);
		for (j = 0; j < inlen; j += 1 + in[j]) {
			if (j + 1 + in[j] > inlen)
				break;
			if (in[j] == len &&
			    memcmp(in + j + 1, o->alpn[i], len) == 0) {
				*out = in + j + 1;
				*outlen = in[j];
				return (SSL_TLSEXT_ERR_OK);
			}
		}
	}
	return (SSL_TLSEXT_ERR_NOACK);
}

json_t *
bbt_tls_alpn(SSL *ssl)
{
	const unsigned char	*p;
	unsigned int		 len;

	if (ssl == NULL)
		return (json_null());
	SSL_get0_alpn_selected(ssl, &p, &len);
	if (p == NULL || len == 0)
		return (json_null());
	return (bbt_conn_text(p, len));
}

int
bbt_tls_setup(struct bbt_origin *o, const char *dir, const char **names,
    size_t nnames, const char **ips, size_t nips, char *err, size_t errlen)
{
	char		 path[PATH_MAX];
	FILE		*f;
	X509		*ca = NULL;
	EVP_PKEY	*cakey = NULL, *bad_key = NULL;
	int		 rc = -1;

	(void)snprintf(path, sizeof(path), "%s/ca.pem", dir);
	if ((f = fopen(path, "r")) == NULL) {
		(void)snprintf(err, errlen, "%s: %s (run --make-ca %s first)",
		    path, strerror(errno), dir);
		return (-1);
	}
	ca = PEM_read_X509(f, NULL, NULL, NULL);
	(void)fclose(f);
	(void)snprintf(path, sizeof(path), "%s/ca-key.pem", dir);
	if (ca != NULL && (f = fopen(path, "r")) != NULL) {
		cakey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		(void)fclose(f);
	}
	if (ca == NULL || cakey == NULL) {
		cm_x509_err(err, errlen, dir, "cannot read ca.pem/ca-key.pem");
		goto out;
	}
	if ((o->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL ||
	    bbt_tls_leaf(ca, cakey, o->key, names, nnames, ips, nips,
	    &o->leaf) == -1) {
		cm_x509_err(err, errlen, dir, "leaf minting failed");
		goto out;
	}
	if (o->nuntrusted > 0 &&
	    (bbt_tls_ca("bbt-origin untrusted CA", &o->bad_ca,
	    &bad_key) == -1 ||
	    bbt_tls_leaf(o->bad_ca, bad_key, o->key, o->untrusted,
	    o->nuntrusted, NULL, 0, &o->bad_leaf) == -1)) {
		cm_x509_err(err, errlen, dir, "untrusted leaf failed");
		goto out;
	}
	if ((o->ssl = SSL_CTX_new(TLS_server_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(o->ssl, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_use_certificate(o->ssl, o->leaf) != 1 ||
	    SSL_CTX_use_PrivateKey(o->ssl, o->key) != 1) {
		cm_x509_err(err, errlen, dir, "TLS context failed");
		goto out;
	}
	/* 1,000 idle tunnels in the memory benchmark: drop idle buffers. */
	SSL_CTX_set_mode(o->ssl, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_tlsext_servername_callback(o->ssl, bbt_tls_sni);
	SSL_CTX_set_tlsext_servername_arg(o->ssl, o);
	if (o->nalpn > 0)
		SSL_CTX_set_alpn_select_cb(o->ssl, bbt_tls_alpn_select, o);
	rc = 0;
 out:
	X509_free(ca);
	EVP_PKEY_free(cakey);
	EVP_PKEY_free(bad_key);
	return (rc);
}

void
bbt_tls_free(struct bbt_origin *o)
{
	SSL_CTX_free(o->ssl);
	X509_free(o->leaf);
	X509_free(o->bad_leaf);
	X509_free(o->bad_ca);
	EVP_PKEY_free(o->key);
}
