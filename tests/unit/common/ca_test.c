#include "config.h"

#include <sys/stat.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/bounds.h"
#include "common/ca.h"

#define DAY	(24 * 60 * 60)

struct fx {
	char	 dir[256];		/* mkdtemp; removed by teardown */
	char	 ca[PATH_MAX];		/* dir/ca/ca.pem */
	char	 cert[PATH_MAX];	/* dir/ca/ca-cert.pem */
	char	 sub[300];		/* dir/ca, made by cm_ca_init */
	char	 err[512];
};

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return (remove(path));
}

static int
setup(void **state)
{
	struct fx	*fx;

	if ((fx = calloc(1, sizeof(*fx))) == NULL)
		return (-1);
	(void)snprintf(fx->dir, sizeof(fx->dir), "%s/ca_test.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(fx->dir) == NULL)
		return (-1);
	(void)snprintf(fx->sub, sizeof(fx->sub), "%s/ca", fx->dir);
	(void)snprintf(fx->ca, sizeof(fx->ca), "%s/ca.pem", fx->sub);
	(void)snprintf(fx->cert, sizeof(fx->cert), "%s/ca-cert.pem",
	    fx->sub);
	*state = fx;
	return (0);
}

static int
teardown(void **state)
{
	struct fx	*fx = *state;

	(void)nftw(fx->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return (0);
}

/* path under the fixture's dir. */
static const char *
fx_path(struct fx *fx, const char *name)
{
	static char	 buf[PATH_MAX];

	(void)snprintf(buf, sizeof(buf), "%s/%s", fx->dir, name);
	return (buf);
}

static void
init_ok(struct fx *fx, const char *slug, int rsa, int force)
{
	json_t	*info = NULL;

	if (cm_ca_init(fx->sub, slug, rsa, force, &info, fx->err,
	    sizeof(fx->err)) != 0)
		fail_msg("cm_ca_init: %s", fx->err);
	json_decref(info);
}

static struct cm_ca *
load_ok(struct fx *fx, const char *path)
{
	struct cm_ca	*ca = NULL;

	if (cm_ca_load(path, &ca, fx->err, sizeof(fx->err)) != 0)
		fail_msg("cm_ca_load: %s", fx->err);
	return (ca);
}

/* cm_ca_load(path) must fail with a reason containing want. */
static void
load_refused(struct fx *fx, const char *path, const char *want)
{
	struct cm_ca	*ca = (struct cm_ca *)&ca;

	fx->err[0] = '\0';
	assert_int_equal(cm_ca_load(path, &ca, fx->err, sizeof(fx->err)), -1);
	assert_null(ca);
	if (strstr(fx->err, want) == NULL)
		fail_msg("reason \"%s\" lacks \"%s\"", fx->err, want);
}

static void
sha256_file(const char *path, unsigned char md[32])
{
	FILE		*f;
	char		 buf[16384];
	size_t		 n;
	unsigned int	 mdlen;

	assert_non_null(f = fopen(path, "rb"));
	n = fread(buf, 1, sizeof(buf), f);
	(void)fclose(f);
	assert_int_equal(EVP_Digest(buf, n, md, &mdlen, EVP_sha256(), NULL),
	    1);
}

static char *
slurp(const char *path)
{
	FILE	*f;
	char	*buf;
	size_t	 n;

	assert_non_null(f = fopen(path, "rb"));
	assert_non_null(buf = calloc(1, 65536));
	n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	(void)fclose(f);
	return (buf);
}

static X509 *
read_cert(const char *path)
{
	FILE	*f;
	X509	*x;

	assert_non_null(f = fopen(path, "r"));
	x = PEM_read_X509(f, NULL, NULL, NULL);
	(void)fclose(f);
	assert_non_null(x);
	return (x);
}

static EVP_PKEY *
read_key(const char *path)
{
	FILE		*f;
	EVP_PKEY	*k;

	assert_non_null(f = fopen(path, "r"));
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	(void)fclose(f);
	assert_non_null(k);
	return (k);
}

/* Writes key (first, if key_first) and cert to path, 0600. */
static void
write_pem(const char *path, X509 *x, EVP_PKEY *k, int key_first,
    int traditional)
{
	BIO	*b;

	assert_non_null(b = BIO_new_file(path, "w"));
	if (!key_first && x != NULL)
		assert_int_equal(PEM_write_bio_X509(b, x), 1);
	if (k != NULL && traditional)
		assert_int_equal(PEM_write_bio_PrivateKey_traditional(b, k,
		    NULL, NULL, 0, NULL, NULL), 1);
	else if (k != NULL)
		assert_int_equal(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0,
		    NULL, NULL), 1);
	if (key_first && x != NULL)
		assert_int_equal(PEM_write_bio_X509(b, x), 1);
	BIO_free(b);
	assert_int_equal(chmod(path, 0600), 0);
}

static void
add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX	 ctx;
	X509_EXTENSION	*ext;

	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	assert_non_null(ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value));
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/*
 * A self-signed certificate for key, valid from now+nb to now+na
 * seconds, with the basicConstraints and keyUsage given (NULL: none).
 */
static X509 *
make_cert(EVP_PKEY *k, long nb, long na, const char *bc, const char *ku)
{
	X509		*x;
	X509_NAME	*n;

	assert_non_null(x = X509_new());
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 7), 1);
	n = X509_get_subject_name(x);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)"test CA", -1, -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(x, n), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), nb));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), na));
	assert_int_equal(X509_set_pubkey(x, k), 1);
	if (bc != NULL)
		add_ext(x, NID_basic_constraints, bc);
	if (ku != NULL)
		add_ext(x, NID_key_usage, ku);
	add_ext(x, NID_subject_key_identifier, "hash");
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	return (x);
}

static EVP_PKEY *
ec_key(void)
{
	EVP_PKEY	*k;

	assert_non_null(k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"));
	return (k);
}

/* Seconds from now to t. */
static long
from_now(const ASN1_TIME *t)
{
	int	 days, secs;

	assert_int_equal(ASN1_TIME_diff(&days, &secs, NULL, t), 1);
	return ((long)days * DAY + secs);
}

static void
test_init_writes_both_files_with_modes(void **state)
{
	struct fx	*fx = *state;
	struct stat	 st;
	json_t		*info = NULL;
	struct cm_ca	*ca;
	char		*s;
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	assert_int_equal(cm_ca_init(fx->sub, "demo", 0, 0, &info, fx->err,
	    sizeof(fx->err)), 0);
	assert_int_equal(stat(fx->sub, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(fx->ca, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(fx->cert, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);

	/* Nothing but the two files: no temporary is left behind. */
	assert_non_null(d = opendir(fx->sub));
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	(void)closedir(d);
	assert_int_equal(n, 2);

	/* ca.pem: certificate, then PKCS#8 key; ca-cert.pem: no key. */
	s = slurp(fx->ca);
	assert_non_null(strstr(s, "-----BEGIN CERTIFICATE-----"));
	assert_non_null(strstr(s, "-----BEGIN PRIVATE KEY-----"));
	assert_true(strstr(s, "CERTIFICATE") < strstr(s, "PRIVATE KEY"));
	free(s);
	s = slurp(fx->cert);
	assert_non_null(strstr(s, "-----BEGIN CERTIFICATE-----"));
	assert_null(strstr(s, "PRIVATE"));
	free(s);

	ca = load_ok(fx, fx->ca);
	assert_string_equal(json_string_value(json_object_get(info, "ca")),
	    fx->ca);
	assert_string_equal(json_string_value(json_object_get(info, "cert")),
	    fx->cert);
	assert_string_equal(json_string_value(json_object_get(info, "key")),
	    "ec-p256");
	assert_string_equal(json_string_value(json_object_get(info,
	    "sha256")), cm_ca_fingerprint(ca));
	assert_int_equal(strlen(cm_ca_fingerprint(ca)), 32 * 3 - 1);
	assert_int_equal(cm_ca_fingerprint(ca)[2], ':');
	s = (char *)json_string_value(json_object_get(info, "not_after"));
	assert_non_null(s);
	assert_int_equal(strlen(s), 20);
	assert_int_equal(s[10], 'T');
	assert_int_equal(s[19], 'Z');
	assert_int_equal(cm_ca_readable_by_others(ca), 0);
	cm_ca_unref(ca);
	json_decref(info);
}

static void
test_init_certificate_has_the_spec_fields(void **state)
{
	struct fx		*fx = *state;
	X509			*x;
	X509_NAME		*n;
	BASIC_CONSTRAINTS	*bc;
	ASN1_BIT_STRING		*ku;
	AUTHORITY_KEYID		*akid;
	BIGNUM			*serial;
	char			 buf[256];
	int			 crit;

	init_ok(fx, "demo", 0, 0);
	x = read_cert(fx->ca);
	assert_int_equal(X509_get_version(x), X509_VERSION_3);
	n = X509_get_subject_name(x);
	assert_int_equal(X509_NAME_cmp(n, X509_get_issuer_name(x)), 0);
	assert_true(X509_NAME_get_text_by_NID(n, NID_commonName, buf,
	    sizeof(buf)) > 0);
	assert_string_equal(buf, "bot-bottle sidecar CA demo");
	assert_true(X509_NAME_get_text_by_NID(n, NID_organizationName, buf,
	    sizeof(buf)) > 0);
	assert_string_equal(buf, "bot-bottle");

	assert_non_null(serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x),
	    NULL));
	assert_int_equal(BN_num_bits(serial), 128);
	assert_false(BN_is_negative(serial));
	BN_free(serial);

	assert_non_null(bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit,
	    NULL));
	assert_int_equal(crit, 1);
	assert_true(bc->ca);
	assert_int_equal(ASN1_INTEGER_get(bc->pathlen), 0);
	BASIC_CONSTRAINTS_free(bc);
	assert_non_null(ku = X509_get_ext_d2i(x, NID_key_usage, &crit, NULL));
	assert_int_equal(crit, 1);
	assert_true(ASN1_BIT_STRING_get_bit(ku, 5));	/* keyCertSign */
	assert_true(ASN1_BIT_STRING_get_bit(ku, 6));	/* cRLSign */
	assert_false(ASN1_BIT_STRING_get_bit(ku, 0));
	ASN1_BIT_STRING_free(ku);
	assert_non_null(X509_get0_subject_key_id(x));
	assert_non_null(akid = X509_get_ext_d2i(x,
	    NID_authority_key_identifier, &crit, NULL));
	assert_int_equal(ASN1_OCTET_STRING_cmp(akid->keyid,
	    X509_get0_subject_key_id(x)), 0);
	AUTHORITY_KEYID_free(akid);

	assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
	assert_true(labs(from_now(X509_get0_notBefore(x)) + DAY) < 60);
	assert_true(labs(from_now(X509_get0_notAfter(x)) - 3650L * DAY) < 60);
	assert_true(EVP_PKEY_is_a(X509_get0_pubkey(x), "EC"));
	assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(x)), 256);
	X509_free(x);
}

static void
test_init_refuses_existing_files_and_touches_nothing(void **state)
{
	struct fx	*fx = *state;
	unsigned char	 ca1[32], cert1[32], ca2[32], cert2[32];
	json_t		*info = NULL;
	struct stat	 st;

	init_ok(fx, "demo", 0, 0);
	sha256_file(fx->ca, ca1);
	sha256_file(fx->cert, cert1);
	assert_int_equal(cm_ca_init(fx->sub, "demo", 0, 0, &info, fx->err,
	    sizeof(fx->err)), -1);
	assert_null(info);
	assert_non_null(strstr(fx->err, fx->ca));
	assert_non_null(strstr(fx->err, "already exists"));
	sha256_file(fx->ca, ca2);
	sha256_file(fx->cert, cert2);
	assert_memory_equal(ca1, ca2, 32);
	assert_memory_equal(cert1, cert2, 32);

	/* Only ca-cert.pem left: named, and ca.pem is not recreated. */
	assert_int_equal(unlink(fx->ca), 0);
	assert_int_equal(cm_ca_init(fx->sub, "demo", 0, 0, &info, fx->err,
	    sizeof(fx->err)), -1);
	assert_non_null(strstr(fx->err, fx->cert));
	assert_int_equal(stat(fx->ca, &st), -1);
	sha256_file(fx->cert, cert2);
	assert_memory_equal(cert1, cert2, 32);
}

static void
test_init_force_overwrites(void **state)
{
	struct fx	*fx = *state;
	unsigned char	 ca1[32], cert1[32], ca2[32], cert2[32];
	struct stat	 st;
	struct cm_ca	*ca;

	init_ok(fx, "demo", 0, 0);
	sha256_file(fx->ca, ca1);
	sha256_file(fx->cert, cert1);
	init_ok(fx, "demo", 0, 1);
	sha256_file(fx->ca, ca2);
	sha256_file(fx->cert, cert2);
	assert_memory_not_equal(ca1, ca2, 32);
	assert_memory_not_equal(cert1, cert2, 32);
	assert_int_equal(stat(fx->ca, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(fx->cert, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	ca = load_ok(fx, fx->ca);
	cm_ca_unref(ca);
}

static void
test_init_rsa_gives_2048_bits(void **state)
{
	struct fx	*fx = *state;
	struct cm_ca	*ca;
	EVP_PKEY	*pub;

	init_ok(fx, "demo", 1, 0);
	ca = load_ok(fx, fx->ca);
	pub = X509_get0_pubkey(cm_ca_cert(ca));
	assert_true(EVP_PKEY_is_a(pub, "RSA"));
	assert_int_equal(EVP_PKEY_get_bits(pub), 2048);
	assert_int_equal(X509_get_signature_nid(cm_ca_cert(ca)),
	    NID_sha256WithRSAEncryption);
	cm_ca_unref(ca);
}

static void
test_slug_is_validated(void **state)
{
	struct fx	*fx = *state;
	json_t		*info = NULL;
	struct cm_ca	*ca;
	char		 slug[66], cn[128];

	assert_true(cm_ca_slug_valid("local"));
	assert_true(cm_ca_slug_valid("My.bottle_2-x"));
	assert_false(cm_ca_slug_valid(""));
	assert_false(cm_ca_slug_valid(NULL));
	assert_false(cm_ca_slug_valid("a b"));
	assert_false(cm_ca_slug_valid("a/b"));
	assert_false(cm_ca_slug_valid("caf\xc3\xa9"));
	memset(slug, 'a', 65);
	slug[65] = '\0';
	assert_false(cm_ca_slug_valid(slug));
	assert_int_equal(cm_ca_init(fx->sub, "a,O=x", 0, 0, &info, fx->err,
	    sizeof(fx->err)), -1);
	assert_non_null(strstr(fx->err, "slug"));

	/* 64 bytes is allowed, though the CN then exceeds X.520's 64. */
	slug[64] = '\0';
	assert_true(cm_ca_slug_valid(slug));
	init_ok(fx, slug, 0, 0);
	ca = load_ok(fx, fx->ca);
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(
	    cm_ca_cert(ca)), NID_commonName, cn, sizeof(cn)) > 0);
	assert_non_null(strstr(cn, slug));
	cm_ca_unref(ca);
}

static void
test_load_accepts_key_first_and_cert_first(void **state)
{
	struct fx	*fx = *state;
	struct cm_ca	*ca;
	X509		*x;
	EVP_PKEY	*k;
	const char	*p;

	init_ok(fx, "demo", 0, 0);
	ca = load_ok(fx, fx->ca);		/* as written: cert first */
	cm_ca_unref(ca);
	x = read_cert(fx->ca);
	k = read_key(fx->ca);
	p = fx_path(fx, "keyfirst.pem");
	write_pem(p, x, k, 1, 0);
	ca = load_ok(fx, p);
	assert_int_equal(X509_cmp(cm_ca_cert(ca), x), 0);
	cm_ca_unref(ca);
	/* Traditional "EC PRIVATE KEY", as older tools wrote it. */
	p = fx_path(fx, "traditional.pem");
	write_pem(p, x, k, 1, 1);
	ca = load_ok(fx, p);
	cm_ca_unref(ca);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void
test_load_refuses_non_ca_cert(void **state)
{
	struct fx	*fx = *state;
	EVP_PKEY	*k = ec_key();
	X509		*x;

	x = make_cert(k, -DAY, DAY, "critical,CA:FALSE",
	    "critical,keyCertSign");
	write_pem(fx_path(fx, "leaf.pem"), x, k, 0, 0);
	load_refused(fx, fx_path(fx, "leaf.pem"), "not a CA");
	X509_free(x);
	x = make_cert(k, -DAY, DAY, NULL, "critical,keyCertSign");
	write_pem(fx_path(fx, "nobc.pem"), x, k, 0, 0);
	load_refused(fx, fx_path(fx, "nobc.pem"), "not a CA");
	X509_free(x);
	x = make_cert(k, -DAY, DAY, "critical,CA:TRUE",
	    "critical,digitalSignature");
	write_pem(fx_path(fx, "noku.pem"), x, k, 0, 0);
	load_refused(fx, fx_path(fx, "noku.pem"), "keyCertSign");
	X509_free(x);
	/* A well-formed one from the same helper loads. */
	x = make_cert(k, -DAY, DAY, "critical,CA:TRUE",
	    "critical,keyCertSign");
	write_pem(fx_path(fx, "good.pem"), x, k, 0, 0);
	cm_ca_unref(load_ok(fx, fx_path(fx, "good.pem")));
	X509_free(x);
	EVP_PKEY_free(k);
}

static void
test_load_refuses_mismatched_key(void **state)
{
	struct fx	*fx = *state;
	EVP_PKEY	*k = ec_key(), *other = ec_key();
	X509		*x;

	x = make_cert(k, -DAY, DAY, "critical,CA:TRUE",
	    "critical,keyCertSign");
	write_pem(fx_path(fx, "mismatch.pem"), x, other, 0, 0);
	load_refused(fx, fx_path(fx, "mismatch.pem"), "does not match");
	X509_free(x);
	EVP_PKEY_free(k);
	EVP_PKEY_free(other);
}

static void
test_load_refuses_expired_and_future_cert(void **state)
{
	struct fx	*fx = *state;
	EVP_PKEY	*k = ec_key();
	X509		*x;

	x = make_cert(k, -20 * DAY, -10 * DAY, "critical,CA:TRUE",
	    "critical,keyCertSign");
	write_pem(fx_path(fx, "expired.pem"), x, k, 0, 0);
	load_refused(fx, fx_path(fx, "expired.pem"), "expired at");
	X509_free(x);
	x = make_cert(k, 10 * DAY, 20 * DAY, "critical,CA:TRUE",
	    "critical,keyCertSign");
	write_pem(fx_path(fx, "future.pem"), x, k, 0, 0);
	load_refused(fx, fx_path(fx, "future.pem"), "not valid before");
	X509_free(x);
	EVP_PKEY_free(k);
}

static void
test_load_refuses_weak_key(void **state)
{
	struct fx	*fx = *state;
	EVP_PKEY	*k;
	X509		*x;

	assert_non_null(k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
	    (size_t)1024));
	x = make_cert(k, -DAY, DAY, "critical,CA:TRUE",
	    "critical,keyCertSign");
	write_pem(fx_path(fx, "weak.pem"), x, k, 0, 0);
	load_refused(fx, fx_path(fx, "weak.pem"), "1024 bits");
	X509_free(x);
	EVP_PKEY_free(k);
	assert_non_null(k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521"));
	x = make_cert(k, -DAY, DAY, "critical,CA:TRUE",
	    "critical,keyCertSign");
	write_pem(fx_path(fx, "p521.pem"), x, k, 0, 0);
	load_refused(fx, fx_path(fx, "p521.pem"), "P-256 or P-384");
	X509_free(x);
	EVP_PKEY_free(k);
}

static void
test_load_refuses_missing_and_garbage(void **state)
{
	struct fx	*fx = *state;
	FILE		*f;
	X509		*x;
	EVP_PKEY	*k;

	load_refused(fx, fx_path(fx, "nope.pem"), "No such file");
	assert_non_null(f = fopen(fx_path(fx, "garbage.pem"), "w"));
	(void)fputs("-----BEGIN CERTIFICATE-----\nnot base64 at all!\n"
	    "-----END CERTIFICATE-----\n\x01\x02 junk\n", f);
	(void)fclose(f);
	load_refused(fx, fx_path(fx, "garbage.pem"), "no PEM certificate");
	assert_non_null(f = fopen(fx_path(fx, "empty.pem"), "w"));
	(void)fclose(f);
	load_refused(fx, fx_path(fx, "empty.pem"), "no PEM certificate");
	load_refused(fx, fx->dir, "not a regular file");

	init_ok(fx, "demo", 0, 0);
	x = read_cert(fx->ca);
	k = read_key(fx->ca);
	write_pem(fx_path(fx, "certonly.pem"), x, NULL, 0, 0);
	load_refused(fx, fx_path(fx, "certonly.pem"), "no unencrypted PEM "
	    "private key");
	/* An encrypted key is refused, never prompted for. */
	assert_non_null(f = fopen(fx_path(fx, "encrypted.pem"), "w"));
	assert_int_equal(PEM_write_X509(f, x), 1);
	assert_int_equal(PEM_write_PKCS8PrivateKey(f, k, EVP_aes_256_cbc(),
	    "secret", 6, NULL, NULL), 1);
	(void)fclose(f);
	load_refused(fx, fx_path(fx, "encrypted.pem"), "private key");
	X509_free(x);
	EVP_PKEY_free(k);
}

static void
test_load_reports_file_readable_by_others(void **state)
{
	struct fx	*fx = *state;
	struct cm_ca	*ca;

	init_ok(fx, "demo", 0, 0);
	assert_int_equal(chmod(fx->ca, 0640), 0);
	ca = load_ok(fx, fx->ca);
	assert_int_equal(cm_ca_readable_by_others(ca), 1);
	/* Shared by two snapshots: the last unref frees it. */
	assert_ptr_equal(cm_ca_ref(ca), ca);
	cm_ca_unref(ca);
	assert_non_null(cm_ca_cert(ca));
	cm_ca_unref(ca);
	assert_int_equal(chmod(fx->ca, 0600), 0);
	ca = load_ok(fx, fx->ca);
	assert_int_equal(cm_ca_readable_by_others(ca), 0);
	assert_true(labs((long)(cm_ca_not_after(ca) - time(NULL)) -
	    3650L * DAY) < 60);
	cm_ca_unref(ca);
}

/* leaf must chain to ca for serverAuth and match host (name or IP). */
static void
verify_leaf(struct cm_ca *ca, X509 *leaf, const char *host, int ip)
{
	X509_STORE	*store;
	X509_STORE_CTX	*ctx;
	X509_VERIFY_PARAM *vp;

	assert_non_null(store = X509_STORE_new());
	assert_int_equal(X509_STORE_add_cert(store, cm_ca_cert(ca)), 1);
	assert_non_null(ctx = X509_STORE_CTX_new());
	assert_int_equal(X509_STORE_CTX_init(ctx, store, leaf, NULL), 1);
	assert_int_equal(X509_STORE_CTX_set_purpose(ctx,
	    X509_PURPOSE_SSL_SERVER), 1);
	vp = X509_STORE_CTX_get0_param(ctx);
	if (ip)
		assert_int_equal(X509_VERIFY_PARAM_set1_ip_asc(vp, host), 1);
	else
		assert_int_equal(X509_VERIFY_PARAM_set1_host(vp, host, 0), 1);
	if (X509_verify_cert(ctx) != 1)
		fail_msg("verify %s: %s", host, X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(ctx)));
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
}

/* The single SAN of x. */
static const GENERAL_NAME *
only_san(X509 *x, GENERAL_NAMES **gensp, int *crit)
{
	GENERAL_NAMES	*gens;

	assert_non_null(gens = X509_get_ext_d2i(x, NID_subject_alt_name, crit,
	    NULL));
	assert_int_equal(sk_GENERAL_NAME_num(gens), 1);
	*gensp = gens;
	return (sk_GENERAL_NAME_value(gens, 0));
}

static X509 *
mint_ok(struct fx *fx, struct cm_ca *ca, EVP_PKEY *lk, const char *host,
    int days)
{
	X509	*x = NULL;

	if (cm_ca_mint_leaf(ca, lk, host, days, &x, fx->err,
	    sizeof(fx->err)) != 0)
		fail_msg("mint %s: %s", host, fx->err);
	return (x);
}

static void
test_minted_leaf_for_name_verifies(void **state)
{
	struct fx		*fx = *state;
	struct cm_ca		*ca;
	EVP_PKEY		*lk;
	X509			*x;
	GENERAL_NAMES		*gens;
	const GENERAL_NAME	*gn;
	BASIC_CONSTRAINTS	*bc;
	ASN1_BIT_STRING		*ku;
	AUTHORITY_KEYID		*akid;
	BIGNUM			*serial;
	char			 cn[256];
	int			 crit;

	init_ok(fx, "demo", 0, 0);
	ca = load_ok(fx, fx->ca);
	assert_non_null(lk = cm_ca_leaf_key_new(fx->err, sizeof(fx->err)));
	x = mint_ok(fx, ca, lk, "api.example.test", 0);
	verify_leaf(ca, x, "api.example.test", 0);

	gn = only_san(x, &gens, &crit);
	assert_int_equal(crit, 0);
	assert_int_equal(gn->type, GEN_DNS);
	assert_string_equal(ASN1_STRING_get0_data(gn->d.dNSName),
	    "api.example.test");
	GENERAL_NAMES_free(gens);
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x),
	    NID_commonName, cn, sizeof(cn)) > 0);
	assert_string_equal(cn, "api.example.test");
	assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(x),
	    X509_get_subject_name(cm_ca_cert(ca))), 0);

	assert_non_null(bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit,
	    NULL));
	assert_int_equal(crit, 1);
	assert_false(bc->ca);
	BASIC_CONSTRAINTS_free(bc);
	assert_non_null(ku = X509_get_ext_d2i(x, NID_key_usage, &crit, NULL));
	assert_int_equal(crit, 1);
	assert_true(ASN1_BIT_STRING_get_bit(ku, 0));
	assert_false(ASN1_BIT_STRING_get_bit(ku, 2));
	assert_false(ASN1_BIT_STRING_get_bit(ku, 5));
	ASN1_BIT_STRING_free(ku);
	assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_SERVER);
	assert_non_null(akid = X509_get_ext_d2i(x,
	    NID_authority_key_identifier, NULL, NULL));
	assert_int_equal(ASN1_OCTET_STRING_cmp(akid->keyid,
	    X509_get0_subject_key_id(cm_ca_cert(ca))), 0);
	AUTHORITY_KEYID_free(akid);

	assert_non_null(serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x),
	    NULL));
	assert_int_equal(BN_num_bits(serial), 128);
	BN_free(serial);
	assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(x), lk), 1);
	assert_true(labs(from_now(X509_get0_notBefore(x)) + DAY) < 60);
	assert_true(labs(from_now(X509_get0_notAfter(x)) -
	    (long)CM_DEF_LEAF_VALIDITY_DAYS * DAY) < 60);
	X509_free(x);

	x = mint_ok(fx, ca, lk, "other.test", 7);
	assert_true(labs(from_now(X509_get0_notAfter(x)) - 7L * DAY) < 60);
	X509_free(x);
	EVP_PKEY_free(lk);
	cm_ca_unref(ca);
}

static void
test_minted_leaf_for_ip_verifies(void **state)
{
	static const struct {
		const char	*host;		/* as the caller passes it */
		const char	*addr;		/* as a verifier asks */
		int		 af;
	} cases[] = {
		{ "192.0.2.7", "192.0.2.7", AF_INET },
		{ "[2001:db8::1]", "2001:db8::1", AF_INET6 },
		{ "::1", "::1", AF_INET6 },
	};
	struct fx		*fx = *state;
	struct cm_ca		*ca;
	EVP_PKEY		*lk;
	X509			*x;
	GENERAL_NAMES		*gens;
	const GENERAL_NAME	*gn;
	unsigned char		 want[16];
	size_t			 i;
	int			 crit;

	init_ok(fx, "demo", 0, 0);
	ca = load_ok(fx, fx->ca);
	assert_non_null(lk = cm_ca_leaf_key_new(fx->err, sizeof(fx->err)));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		x = mint_ok(fx, ca, lk, cases[i].host, 0);
		verify_leaf(ca, x, cases[i].addr, 1);
		gn = only_san(x, &gens, &crit);
		assert_int_equal(gn->type, GEN_IPADD);
		assert_int_equal(inet_pton(cases[i].af, cases[i].addr, want),
		    1);
		assert_int_equal(ASN1_STRING_length(gn->d.iPAddress),
		    cases[i].af == AF_INET ? 4 : 16);
		assert_memory_equal(ASN1_STRING_get0_data(gn->d.iPAddress),
		    want, cases[i].af == AF_INET ? 4 : 16);
		GENERAL_NAMES_free(gens);
		X509_free(x);
	}
	EVP_PKEY_free(lk);
	cm_ca_unref(ca);
}

static void
test_mint_refuses_bad_hosts(void **state)
{
	static const char *const bad[] = {
		"", "a b", "a,IP:10.0.0.1", "fe80::1%eth0", "[192.0.2.1]",
		"a..b", ".a", "a.", "caf\xc3\xa9.test", "x\n.test", "[::1",
		"1:2:3",
	};
	struct fx	*fx = *state;
	struct cm_ca	*ca;
	EVP_PKEY	*lk;
	X509		*x;
	char		 label[80], big[300];
	size_t		 i;

	init_ok(fx, "demo", 0, 0);
	ca = load_ok(fx, fx->ca);
	assert_non_null(lk = cm_ca_leaf_key_new(fx->err, sizeof(fx->err)));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		x = (X509 *)&x;
		assert_int_equal(cm_ca_mint_leaf(ca, lk, bad[i], 0, &x,
		    fx->err, sizeof(fx->err)), -1);
		assert_null(x);
		assert_string_equal(fx->err,
		    "host is not a DNS name or IP literal");
	}
	memset(label, 'a', 64);
	(void)memcpy(label + 64, ".test", 6);
	assert_int_equal(cm_ca_mint_leaf(ca, lk, label, 0, &x, fx->err,
	    sizeof(fx->err)), -1);
	for (i = 0; i + 1 < sizeof(big); i++)
		big[i] = (i % 10 == 9) ? '.' : 'b';
	big[254] = '\0';
	assert_int_equal(cm_ca_mint_leaf(ca, lk, big, 0, &x, fx->err,
	    sizeof(fx->err)), -1);
	EVP_PKEY_free(lk);
	cm_ca_unref(ca);
}

static void
test_minted_leaf_long_name_has_no_cn(void **state)
{
	struct fx		*fx = *state;
	struct cm_ca		*ca;
	EVP_PKEY		*lk;
	X509			*x;
	GENERAL_NAMES		*gens;
	char			 host[128];
	int			 crit;

	init_ok(fx, "demo", 0, 0);
	ca = load_ok(fx, fx->ca);
	assert_non_null(lk = cm_ca_leaf_key_new(fx->err, sizeof(fx->err)));
	(void)snprintf(host, sizeof(host), "%.60s.%.30s.test",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	x = mint_ok(fx, ca, lk, host, 0);
	assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(x)), 0);
	(void)only_san(x, &gens, &crit);
	assert_int_equal(crit, 1);
	GENERAL_NAMES_free(gens);
	verify_leaf(ca, x, host, 0);
	X509_free(x);
	EVP_PKEY_free(lk);
	cm_ca_unref(ca);
}

static void
test_minted_leaf_never_outlives_ca(void **state)
{
	struct fx	*fx = *state;
	struct cm_ca	*ca;
	EVP_PKEY	*k = ec_key(), *lk;
	X509		*x;

	x = make_cert(k, -DAY, 3 * DAY, "critical,CA:TRUE",
	    "critical,keyCertSign");
	write_pem(fx_path(fx, "short.pem"), x, k, 0, 0);
	X509_free(x);
	ca = load_ok(fx, fx_path(fx, "short.pem"));
	assert_non_null(lk = cm_ca_leaf_key_new(fx->err, sizeof(fx->err)));
	x = mint_ok(fx, ca, lk, "short.test", 0);
	assert_int_equal(ASN1_TIME_compare(X509_get0_notAfter(x),
	    X509_get0_notAfter(cm_ca_cert(ca))), 0);
	verify_leaf(ca, x, "short.test", 0);
	X509_free(x);
	EVP_PKEY_free(lk);
	EVP_PKEY_free(k);
	cm_ca_unref(ca);
}

static void
test_minted_leaf_under_rsa_ca_verifies(void **state)
{
	struct fx	*fx = *state;
	struct cm_ca	*ca;
	EVP_PKEY	*lk;
	X509		*x;

	init_ok(fx, "demo", 1, 0);
	ca = load_ok(fx, fx->ca);
	assert_non_null(lk = cm_ca_leaf_key_new(fx->err, sizeof(fx->err)));
	x = mint_ok(fx, ca, lk, "rsa.test", 0);
	assert_int_equal(X509_get_signature_nid(x),
	    NID_sha256WithRSAEncryption);
	verify_leaf(ca, x, "rsa.test", 0);
	X509_free(x);
	EVP_PKEY_free(lk);
	cm_ca_unref(ca);
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_init_writes_both_files_with_modes),
		T(test_init_certificate_has_the_spec_fields),
		T(test_init_refuses_existing_files_and_touches_nothing),
		T(test_init_force_overwrites),
		T(test_init_rsa_gives_2048_bits),
		T(test_slug_is_validated),
		T(test_load_accepts_key_first_and_cert_first),
		T(test_load_refuses_non_ca_cert),
		T(test_load_refuses_mismatched_key),
		T(test_load_refuses_expired_and_future_cert),
		T(test_load_refuses_weak_key),
		T(test_load_refuses_missing_and_garbage),
		T(test_load_reports_file_readable_by_others),
		T(test_minted_leaf_for_name_verifies),
		T(test_minted_leaf_for_ip_verifies),
		T(test_mint_refuses_bad_hosts),
		T(test_minted_leaf_long_name_has_no_cn),
		T(test_minted_leaf_never_outlives_ca),
		T(test_minted_leaf_under_rsa_ca_verifies),
	};
#undef T
	return (cmocka_run_group_tests_name("ca", tests, NULL, NULL));
}
