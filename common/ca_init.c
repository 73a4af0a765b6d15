/*
 * `bb-sidecar ca init`: a new bottle CA on disk (spec/bundle.md §3).
 *
 * Both files are written to temporary names first, so a failure leaves
 * either the old pair or none; without --force the renames refuse to
 * replace a file that appeared since the check (RENAME_NOREPLACE).
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/ca.h"
#include "common/x509.h"

/*
 * Fixed by spec/bundle.md §3, not tunables.  The backdate absorbs clock
 * skew between the sidecar and the agent's VM.
 */
#define CM_CA_INIT_VALIDITY_DAYS	3650
#define CM_CA_INIT_BACKDATE_S		(24 * 60 * 60)
#define CM_CA_INIT_RSA_BITS		2048

static void	 cm_ca_init_err(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	 cm_ca_init_sys_err(char *, size_t, const char *,
		    const char *);
static int	 cm_ca_init_join(char *, size_t, const char *, const char *);
static int	 cm_ca_init_build(const char *, int, X509 **, EVP_PKEY **,
		    char *, size_t);
static char	*cm_ca_init_pem(X509 *, EVP_PKEY *, size_t *);
static int	 cm_ca_init_write_tmp(const char *, const char *, mode_t,
		    const char *, size_t, char *, size_t, char *, size_t);
static int	 cm_ca_init_install(const char *, const char *, int, char *,
		    size_t);

static void
cm_ca_init_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void
cm_ca_init_sys_err(char *err, size_t errlen, const char *path, const char *what)
{
	char	 buf[128];

	/* GNU strerror_r (_GNU_SOURCE): thread-safe, returns the text. */
	cm_ca_init_err(err, errlen, "%s: %s: %s", path, what,
	    strerror_r(errno, buf, sizeof(buf)));
}

static int
cm_ca_init_join(char *buf, size_t size, const char *dir, const char *base)
{
	size_t	 n = strlen(dir);
	int	 r;

	while (n > 1 && dir[n - 1] == '/')
		n--;
	r = snprintf(buf, size, "%.*s/%s", (int)n, dir, base);
	return ((r < 0 || (size_t)r >= size) ? -1 : 0);
}

/* A new self-signed CA certificate and its key (spec/bundle.md §3). */
static int
cm_ca_init_build(const char *slug, int rsa, X509 **certp, EVP_PKEY **keyp,
    char *err, size_t errlen)
{
	static const int	 ku[] = { CM_X509_KU_KEY_CERT_SIGN,
				    CM_X509_KU_CRL_SIGN };
	X509			*x = NULL;
	EVP_PKEY		*key;
	ASN1_OCTET_STRING	*id = NULL;
	X509_NAME		*name;
	char			 cn[128];
	time_t			 now = time(NULL);

	if (rsa)
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
		    (size_t)CM_CA_INIT_RSA_BITS);
	else
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (key == NULL) {
		cm_x509_err(err, errlen, NULL, "key generation failed");
		return (-1);
	}
	(void)snprintf(cn, sizeof(cn), "bot-bottle sidecar CA %s", slug);
	if ((x = X509_new()) == NULL ||
	    X509_set_version(x, X509_VERSION_3) != 1 ||
	    cm_x509_serial(x) == -1 ||
	    (name = X509_NAME_new()) == NULL)
		goto fail;
	if (cm_x509_name_add(name, NID_commonName, cn) == -1 ||
	    cm_x509_name_add(name, NID_organizationName, "bot-bottle") == -1 ||
	    X509_set_subject_name(x, name) != 1 ||
	    X509_set_issuer_name(x, name) != 1) {
		X509_NAME_free(name);
		goto fail;
	}
	X509_NAME_free(name);
	if (X509_time_adj_ex(X509_getm_notBefore(x), 0, -CM_CA_INIT_BACKDATE_S,
	    &now) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), CM_CA_INIT_VALIDITY_DAYS, 0,
	    &now) == NULL ||
	    X509_set_pubkey(x, key) != 1)
		goto fail;
	if ((id = cm_x509_keyid(x)) == NULL ||
	    cm_x509_add_bc(x, 1) == -1 ||
	    cm_x509_add_ku(x, ku, sizeof(ku) / sizeof(ku[0])) == -1 ||
	    X509_add1_ext_i2d(x, NID_subject_key_identifier, id, 0,
	    X509V3_ADD_REPLACE) != 1 ||
	    cm_x509_add_aki(x, id) == -1)
		goto fail;
	if (X509_sign(x, key, EVP_sha256()) <= 0)
		goto fail;
	ASN1_OCTET_STRING_free(id);
	*certp = x;
	*keyp = key;
	return (0);
 fail:
	cm_x509_err(err, errlen, NULL, "building the CA certificate failed");
	ASN1_OCTET_STRING_free(id);
	X509_free(x);
	EVP_PKEY_free(key);
	return (-1);
}

/* PEM of the certificate, then (if key) its PKCS#8 key; malloc'd. */
static char *
cm_ca_init_pem(X509 *x, EVP_PKEY *key, size_t *lenp)
{
	BIO	*bio;
	char	*data, *copy = NULL;
	long	 n;

	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return (NULL);
	if (PEM_write_bio_X509(bio, x) != 1 || (key != NULL &&
	    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL,
	    NULL) != 1))
		goto out;
	if ((n = BIO_get_mem_data(bio, &data)) <= 0)
		goto out;
	if ((copy = malloc((size_t)n)) != NULL) {
		memcpy(copy, data, (size_t)n);
		*lenp = (size_t)n;
	}
	OPENSSL_cleanse(data, (size_t)n);	/* the key was in there */
 out:
	BIO_free(bio);
	return (copy);
}

/* Writes data to a new dir/.base.XXXXXX with mode, fsync'd; names it. */
static int
cm_ca_init_write_tmp(const char *dir, const char *base, mode_t mode,
    const char *data, size_t len, char *tmp, size_t tmplen, char *err,
    size_t errlen)
{
	char	 tbase[64];
	ssize_t	 w;
	int	 fd;

	(void)snprintf(tbase, sizeof(tbase), ".%s.XXXXXX", base);
	if (cm_ca_init_join(tmp, tmplen, dir, tbase) == -1) {
		cm_ca_init_err(err, errlen, "%s: path too long", dir);
		return (-1);
	}
	if ((fd = mkstemp(tmp)) == -1) {
		cm_ca_init_sys_err(err, errlen, dir,
		    "cannot create a temporary file");
		tmp[0] = '\0';
		return (-1);
	}
	if (fchmod(fd, mode) == -1)
		goto fail;
	while (len > 0) {
		w = write(fd, data, len);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		data += w;
		len -= (size_t)w;
	}
	if (fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	return (0);
 fail:
	cm_ca_init_sys_err(err, errlen, tmp, "cannot write");
	if (fd != -1)
		(void)close(fd);
	(void)unlink(tmp);
	tmp[0] = '\0';
	return (-1);
}

/* Renames tmp to path; without force, never replaces an existing path. */
static int
cm_ca_init_install(const char *tmp, const char *path, int force, char *err,
    size_t errlen)
{
	int	 r;

	if (force)
		r = rename(tmp, path);
	else {
		r = renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE);
		/* No RENAME_NOREPLACE here: absence was checked just before. */
		if (r == -1 && (errno == EINVAL || errno == ENOSYS))
			r = rename(tmp, path);
	}
	if (r == 0)
		return (0);
	if (errno == EEXIST)
		cm_ca_init_err(err, errlen,
		    "%s already exists (--force replaces it)", path);
	else
		cm_ca_init_sys_err(err, errlen, path,
		    "cannot rename into place");
	return (-1);
}

int
cm_ca_init(const char *dir, const char *slug, int rsa, int force,
    json_t **info, char *err, size_t errlen)
{
	char		 ca_path[PATH_MAX], cert_path[PATH_MAX];
	char		 tmp_ca[PATH_MAX] = "", tmp_cert[PATH_MAX] = "";
	char		 fp[CM_CA_FINGERPRINT_LEN], not_after[32];
	unsigned char	 md[SHA256_DIGEST_LENGTH];
	struct stat	 st;
	X509		*x = NULL;
	EVP_PKEY	*key = NULL;
	char		*both = NULL, *cert = NULL;
	size_t		 both_len = 0, cert_len = 0;
	const char	*paths[2] = { ca_path, cert_path };
	int		 dfd, i, installed = 0, rc = -1;

	*info = NULL;
	if (!cm_ca_slug_valid(slug)) {
		cm_ca_init_err(err, errlen,
		    "slug must match [A-Za-z0-9._-]{1,64}");
		return (-1);
	}
	if (dir == NULL || *dir == '\0' ||
	    cm_ca_init_join(ca_path, sizeof(ca_path), dir, CM_CA_FILE) == -1 ||
	    cm_ca_init_join(cert_path, sizeof(cert_path), dir,
	    CM_CA_CERT_FILE) == -1) {
		cm_ca_init_err(err, errlen,
		    "CA directory name is empty or too long");
		return (-1);
	}
	if (mkdir(dir, 0700) == -1) {
		if (errno != EEXIST) {
			cm_ca_init_sys_err(err, errlen, dir, "cannot create");
			return (-1);
		}
		if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
			cm_ca_init_err(err, errlen, "%s: not a directory", dir);
			return (-1);
		}
	}
	/* lstat: a dangling symlink is an existing file too. */
	for (i = 0; i < 2 && !force; i++) {
		if (lstat(paths[i], &st) == 0) {
			cm_ca_init_err(err, errlen, "%s already exists "
			    "(--force replaces it)", paths[i]);
			return (-1);
		}
		if (errno != ENOENT) {
			cm_ca_init_sys_err(err, errlen, paths[i],
			    "cannot stat");
			return (-1);
		}
	}

	if (cm_ca_init_build(slug, rsa, &x, &key, err, errlen) == -1)
		return (-1);
	if ((both = cm_ca_init_pem(x, key, &both_len)) == NULL ||
	    (cert = cm_ca_init_pem(x, NULL, &cert_len)) == NULL ||
	    cm_x509_sha256(x, md, fp) == -1 ||
	    cm_x509_time(X509_get0_notAfter(x), NULL, not_after,
	    sizeof(not_after)) == -1) {
		cm_x509_err(err, errlen, NULL, "encoding the CA failed");
		goto out;
	}
	if (cm_ca_init_write_tmp(dir, CM_CA_FILE, 0600, both, both_len, tmp_ca,
	    sizeof(tmp_ca), err, errlen) == -1 ||
	    cm_ca_init_write_tmp(dir, CM_CA_CERT_FILE, 0644, cert, cert_len,
	    tmp_cert, sizeof(tmp_cert), err, errlen) == -1)
		goto out;
	if (cm_ca_init_install(tmp_ca, ca_path, force, err, errlen) == -1)
		goto out;
	tmp_ca[0] = '\0';
	installed = 1;
	if (cm_ca_init_install(tmp_cert, cert_path, force, err, errlen) == -1)
		goto out;
	tmp_cert[0] = '\0';
	/* The renames are durable only once the directory is. */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)fsync(dfd);
		(void)close(dfd);
	}
	*info = json_pack("{s:s, s:s, s:s, s:s, s:s}", "ca", ca_path,
	    "cert", cert_path, "key", rsa ? "rsa-2048" : "ec-p256",
	    "sha256", fp, "not_after", not_after);
	if (*info == NULL) {
		cm_ca_init_err(err, errlen, "out of memory");
		goto out;
	}
	rc = 0;
 out:
	/* A race created ca-cert.pem after our check: take ca.pem back. */
	if (rc == -1 && installed && !force && tmp_cert[0] != '\0')
		(void)unlink(ca_path);
	if (tmp_ca[0] != '\0')
		(void)unlink(tmp_ca);
	if (tmp_cert[0] != '\0')
		(void)unlink(tmp_cert);
	if (both != NULL) {
		OPENSSL_cleanse(both, both_len);
		free(both);
	}
	free(cert);
	X509_free(x);
	EVP_PKEY_free(key);
	return (rc);
}
