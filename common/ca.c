/*
 * The bottle CA in use: loading and checking ca.pem, sharing it between
 * config snapshots, and minting the TLS bump's leaves with it
 * (spec/egress.md §15).  Writing a new CA is common/ca_init.c.
 *
 * A struct cm_ca never changes after cm_ca_load() returns; only its
 * reference count does.  OpenSSL 3.0 may sign with one EVP_PKEY on many
 * threads at once, so minting needs no lock.
 */
#include "config.h"

#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/bounds.h"
#include "common/ca.h"
#include "common/x509.h"

/* spec/egress.md §15; the backdate absorbs the agent VM's clock skew. */
#define CM_CA_LEAF_BACKDATE_S	(24 * 60 * 60)
/* The weakest CA key §15 accepts (EC: P-256 or P-384). */
#define CM_CA_RSA_MIN_BITS	2048
#define CM_CA_SLUG_MAX		64
/* X.520 ub-common-name; a longer host gets no CN, only the SAN. */
#define CM_CA_CN_MAX		64
/* RFC 1035 name and label limits. */
#define CM_CA_DNS_MAX		253
#define CM_CA_LABEL_MAX		63

struct cm_ca {
	atomic_uint		 refs;
	X509			*cert;		/* owned */
	EVP_PKEY		*key;		/* owned; read-only */
	EVP_MD			*md;		/* owned; SHA-256 */
	ASN1_OCTET_STRING	*keyid;		/* owned; leaves' AKI */
	time_t			 not_after;
	int			 exposed;	/* group/other could read it */
	unsigned char		 sha256[SHA256_DIGEST_LENGTH];
	char			 fp[CM_CA_FINGERPRINT_LEN];
};

static void	 cm_ca_err(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	 cm_ca_sys_err(char *, size_t, const char *, const char *);
static int	 cm_ca_read(const char *, char **, size_t *, int *, char *,
		    size_t);
static int	 cm_ca_no_passphrase(char *, int, int, void *);
static int	 cm_ca_check(const char *, X509 *, EVP_PKEY *, char *, size_t);
static int	 cm_ca_host_parse(const char *, char *, size_t,
		    unsigned char *, size_t *);

static void
cm_ca_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void
cm_ca_sys_err(char *err, size_t errlen, const char *path, const char *what)
{
	char	 buf[128];

	/* GNU strerror_r (_GNU_SOURCE): thread-safe, returns the text. */
	cm_ca_err(err, errlen, "%s: %s: %s", path, what,
	    strerror_r(errno, buf, sizeof(buf)));
}

int
cm_ca_slug_valid(const char *slug)
{
	size_t	 i;

	if (slug == NULL)
		return (0);
	for (i = 0; slug[i] != '\0'; i++) {
		if (i >= CM_CA_SLUG_MAX)
			return (0);
		if (!((slug[i] >= 'A' && slug[i] <= 'Z') ||
		    (slug[i] >= 'a' && slug[i] <= 'z') ||
		    (slug[i] >= '0' && slug[i] <= '9') ||
		    slug[i] == '.' || slug[i] == '_' || slug[i] == '-'))
			return (0);
	}
	return (i > 0);
}

/* The whole file, capped; *exposed says whether group/others may read. */
static int
cm_ca_read(const char *path, char **bufp, size_t *lenp, int *exposed,
    char *err, size_t errlen)
{
	struct stat	 st;
	char		*buf;
	size_t		 len = 0;
	ssize_t		 r;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		cm_ca_sys_err(err, errlen, path, "cannot open");
		return (-1);
	}
	if (fstat(fd, &st) == -1) {
		cm_ca_sys_err(err, errlen, path, "cannot stat");
		(void)close(fd);
		return (-1);
	}
	if (!S_ISREG(st.st_mode) || st.st_size > CM_MAX_CFG_FILE_BYTES) {
		if (!S_ISREG(st.st_mode))
			cm_ca_err(err, errlen, "%s: not a regular file", path);
		else
			cm_ca_err(err, errlen, "%s: larger than %d bytes", path,
			    CM_MAX_CFG_FILE_BYTES);
		(void)close(fd);
		return (-1);
	}
	*exposed = (st.st_mode & (S_IRGRP | S_IROTH)) != 0;
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		cm_ca_err(err, errlen, "%s: out of memory", path);
		(void)close(fd);
		return (-1);
	}
	while (len < (size_t)st.st_size) {
		r = read(fd, buf + len, (size_t)st.st_size - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			cm_ca_sys_err(err, errlen, path, "cannot read");
			OPENSSL_cleanse(buf, len);
			free(buf);
			(void)close(fd);
			return (-1);
		}
		if (r == 0)
			break;		/* it shrank: parse what is there */
		len += (size_t)r;
	}
	(void)close(fd);
	*bufp = buf;
	*lenp = len;
	return (0);
}

/* Never prompt on a terminal: an encrypted key is refused. */
static int
cm_ca_no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	return (-1);
}

/* spec/egress.md §15: CA:TRUE, keyCertSign, key kind, match, validity. */
static int
cm_ca_check(const char *path, X509 *x, EVP_PKEY *key, char *err,
    size_t errlen)
{
	uint32_t	 flags;
	char		 group[64], when[32];
	time_t		 now = time(NULL);
	int		 c;

	flags = X509_get_extension_flags(x);
	if (flags & EXFLAG_INVALID) {
		cm_ca_err(err, errlen, "%s: certificate has malformed "
		    "extensions", path);
		return (-1);
	}
	if (!(flags & EXFLAG_BCONS) || !(flags & EXFLAG_CA)) {
		cm_ca_err(err, errlen, "%s: certificate is not a CA "
		    "(basicConstraints CA:TRUE missing)", path);
		return (-1);
	}
	if (!(flags & EXFLAG_KUSAGE) ||
	    !(X509_get_key_usage(x) & KU_KEY_CERT_SIGN)) {
		cm_ca_err(err, errlen, "%s: certificate lacks keyUsage "
		    "keyCertSign", path);
		return (-1);
	}
	if (EVP_PKEY_is_a(key, "RSA")) {
		if (EVP_PKEY_get_bits(key) < CM_CA_RSA_MIN_BITS) {
			cm_ca_err(err, errlen, "%s: RSA key of %d bits; at "
			    "least %d needed", path, EVP_PKEY_get_bits(key),
			    CM_CA_RSA_MIN_BITS);
			return (-1);
		}
	} else if (EVP_PKEY_is_a(key, "EC")) {
		if (EVP_PKEY_get_group_name(key, group, sizeof(group),
		    NULL) != 1)
			group[0] = '\0';
		if (strcmp(group, "prime256v1") != 0 &&
		    strcmp(group, "secp384r1") != 0) {
			cm_ca_err(err, errlen, "%s: EC key on curve \"%s\"; "
			    "P-256 or P-384 needed", path, group);
			ERR_clear_error();
			return (-1);
		}
	} else {
		cm_ca_err(err, errlen, "%s: %s key; RSA or EC needed", path,
		    EVP_PKEY_get0_type_name(key) != NULL ?
		    EVP_PKEY_get0_type_name(key) : "unknown");
		return (-1);
	}
	if (EVP_PKEY_eq(X509_get0_pubkey(x), key) != 1) {
		cm_ca_err(err, errlen, "%s: private key does not match the "
		    "certificate", path);
		ERR_clear_error();
		return (-1);
	}
	c = X509_cmp_time(X509_get0_notBefore(x), &now);
	if (c != -1) {
		if (c == 0 || cm_x509_time(X509_get0_notBefore(x), NULL,
		    when, sizeof(when)) == -1)
			(void)snprintf(when, sizeof(when), "(unreadable)");
		cm_ca_err(err, errlen, "%s: certificate not valid before %s",
		    path, when);
		ERR_clear_error();
		return (-1);
	}
	c = X509_cmp_time(X509_get0_notAfter(x), &now);
	if (c != 1) {
		if (c == 0 || cm_x509_time(X509_get0_notAfter(x), NULL,
		    when, sizeof(when)) == -1)
			(void)snprintf(when, sizeof(when), "(unreadable)");
		cm_ca_err(err, errlen, "%s: certificate expired at %s", path,
		    when);
		ERR_clear_error();
		return (-1);
	}
	return (0);
}

int
cm_ca_load(const char *path, struct cm_ca **out, char *err, size_t errlen)
{
	struct cm_ca	*ca = NULL;
	X509		*x = NULL;
	EVP_PKEY	*key = NULL;
	BIO		*bio = NULL;
	char		*buf = NULL;
	size_t		 len = 0;
	int		 exposed = 0;

	*out = NULL;
	if (cm_ca_read(path, &buf, &len, &exposed, err, errlen) == -1)
		return (-1);
	/* Each reader skips PEM blocks of other kinds: either order works. */
	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL)
		goto nomem;
	x = PEM_read_bio_X509(bio, NULL, cm_ca_no_passphrase, NULL);
	BIO_free(bio);
	if (x == NULL) {
		cm_x509_err(err, errlen, path, "no PEM certificate");
		goto fail;
	}
	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL)
		goto nomem;
	key = PEM_read_bio_PrivateKey(bio, NULL, cm_ca_no_passphrase, NULL);
	BIO_free(bio);
	if (key == NULL) {
		cm_x509_err(err, errlen, path,
		    "no unencrypted PEM private key");
		goto fail;
	}
	OPENSSL_cleanse(buf, len);
	free(buf);
	buf = NULL;
	if (cm_ca_check(path, x, key, err, errlen) == -1)
		goto fail;

	if ((ca = calloc(1, sizeof(*ca))) == NULL)
		goto nomem;
	atomic_init(&ca->refs, 1);
	ca->cert = x;
	ca->key = key;
	ca->exposed = exposed;
	x = NULL;
	key = NULL;
	/* The CA's own SKI when it has one, so leaves chain by key id. */
	if (X509_get0_subject_key_id(ca->cert) != NULL)
		ca->keyid = ASN1_OCTET_STRING_dup(
		    X509_get0_subject_key_id(ca->cert));
	else
		ca->keyid = cm_x509_keyid(ca->cert);
	if (ca->keyid == NULL ||
	    (ca->md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL ||
	    cm_x509_sha256(ca->cert, ca->sha256, ca->fp) == -1 ||
	    cm_x509_time(X509_get0_notAfter(ca->cert), &ca->not_after,
	    NULL, 0) == -1) {
		cm_x509_err(err, errlen, path, "preparing the CA failed");
		goto fail;
	}
	*out = ca;
	return (0);
 nomem:
	cm_ca_err(err, errlen, "%s: out of memory", path);
 fail:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
	X509_free(x);
	EVP_PKEY_free(key);
	cm_ca_unref(ca);
	ERR_clear_error();
	return (-1);
}

struct cm_ca *
cm_ca_ref(struct cm_ca *ca)
{
	atomic_fetch_add_explicit(&ca->refs, 1, memory_order_relaxed);
	return (ca);
}

void
cm_ca_unref(struct cm_ca *ca)
{
	if (ca == NULL ||
	    atomic_fetch_sub_explicit(&ca->refs, 1, memory_order_acq_rel) != 1)
		return;
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	EVP_MD_free(ca->md);
	ASN1_OCTET_STRING_free(ca->keyid);
	free(ca);
}

X509 *
cm_ca_cert(const struct cm_ca *ca)
{
	return (ca->cert);
}

const char *
cm_ca_fingerprint(const struct cm_ca *ca)
{
	return (ca->fp);
}

const unsigned char *
cm_ca_sha256(const struct cm_ca *ca)
{
	return (ca->sha256);
}

time_t
cm_ca_not_after(const struct cm_ca *ca)
{
	return (ca->not_after);
}

int
cm_ca_readable_by_others(const struct cm_ca *ca)
{
	return (ca->exposed);
}

EVP_PKEY *
cm_ca_leaf_key_new(char *err, size_t errlen)
{
	EVP_PKEY	*key;

	if ((key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL)
		cm_x509_err(err, errlen, NULL, "leaf key generation failed");
	return (key);
}

/*
 * Classifies host: returns 0 for a DNS name (copied into name), 4 or 16
 * for an IP literal (bytes in ip, text without brackets in name), -1 for
 * anything else.  The caller normalised the host (spec/egress.md §4.1);
 * this is the last check before it is signed into a certificate.
 */
static int
cm_ca_host_parse(const char *host, char *name, size_t namelen,
    unsigned char *ip, size_t *iplen)
{
	size_t	 len = strlen(host), i, label = 0;
	char	 c;

	*iplen = 0;
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		if (len - 2 >= namelen)
			return (-1);
		memcpy(name, host + 1, len - 2);
		name[len - 2] = '\0';
		if (inet_pton(AF_INET6, name, ip) != 1)
			return (-1);
		return ((int)(*iplen = 16));
	}
	if (len == 0 || len > CM_CA_DNS_MAX || len >= namelen)
		return (-1);
	memcpy(name, host, len + 1);
	if (inet_pton(AF_INET, name, ip) == 1)
		return ((int)(*iplen = 4));
	if (strchr(name, ':') != NULL)
		return (inet_pton(AF_INET6, name, ip) == 1 ?
		    (int)(*iplen = 16) : -1);
	for (i = 0; i <= len; i++) {
		c = name[i];
		if (c == '.' || c == '\0') {
			if (label == 0 || label > CM_CA_LABEL_MAX)
				return (-1);
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return (-1);
		label++;
	}
	return (0);
}

int
cm_ca_mint_leaf(const struct cm_ca *ca, EVP_PKEY *leaf_key,
    const char *host, int validity_days, X509 **out, char *err,
    size_t errlen)
{
	static const int	 ku[] = { CM_X509_KU_DIGITAL_SIGNATURE,
				    CM_X509_KU_KEY_ENCIPHERMENT };
	X509			*x;
	X509_NAME		*subj;
	unsigned char		 ip[16];
	size_t			 iplen;
	char			 name[CM_CA_DNS_MAX + 1];
	time_t			 now = time(NULL), end;
	int			 rsa;

	*out = NULL;
	if (host == NULL ||
	    cm_ca_host_parse(host, name, sizeof(name), ip, &iplen) == -1) {
		cm_ca_err(err, errlen, "host is not a DNS name or IP literal");
		return (-1);
	}
	if (now >= ca->not_after) {
		cm_ca_err(err, errlen, "the CA certificate has expired");
		return (-1);
	}
	if (validity_days <= 0)
		validity_days = CM_DEF_LEAF_VALIDITY_DAYS;
	end = now + (time_t)validity_days * 24 * 60 * 60;
	if (end > ca->not_after)
		end = ca->not_after;
	rsa = EVP_PKEY_is_a(leaf_key, "RSA");

	if ((x = X509_new()) == NULL ||
	    X509_set_version(x, X509_VERSION_3) != 1 ||
	    cm_x509_serial(x) == -1 ||
	    X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) != 1)
		goto fail;
	subj = X509_get_subject_name(x);
	if (strlen(name) <= CM_CA_CN_MAX &&
	    X509_NAME_add_entry_by_NID(subj, NID_commonName, MBSTRING_ASC,
	    (const unsigned char *)name, -1, -1, 0) != 1)
		goto fail;
	if (ASN1_TIME_set(X509_getm_notBefore(x),
	    now - CM_CA_LEAF_BACKDATE_S) == NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(x), end) == NULL ||
	    X509_set_pubkey(x, leaf_key) != 1)
		goto fail;
	/*
	 * An RSA leaf may also do TLS 1.2 RSA key exchange; an EC one only
	 * signs.  RFC 5280 §4.2.1.6: with no subject the SAN is critical.
	 */
	if (cm_x509_add_bc(x, 0) == -1 ||
	    cm_x509_add_ku(x, ku, rsa ? 2 : 1) == -1 ||
	    cm_x509_add_eku(x) == -1 ||
	    cm_x509_add_san(x, name, ip, iplen,
	    X509_NAME_entry_count(subj) == 0) == -1 ||
	    cm_x509_add_aki(x, ca->keyid) == -1)
		goto fail;
	if (X509_sign(x, ca->key, ca->md) <= 0)
		goto fail;
	*out = x;
	return (0);
 fail:
	cm_x509_err(err, errlen, NULL, "minting the leaf failed");
	X509_free(x);
	return (-1);
}
