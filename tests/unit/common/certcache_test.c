#include "config.h"

#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/ca.h"
#include "common/certcache.h"

#define DAY	(24 * 60 * 60)

struct fx {
	char		 dir[256];	/* mkdtemp; removed by teardown */
	struct cm_ca	*ca;		/* from cm_ca_init in dir/a */
	struct cm_ca	*ca2;		/* a second CA, dir/b */
	EVP_PKEY	*lk;		/* the shared leaf key */
	char		 err[512];
};

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return (remove(path));
}

static struct cm_ca *
new_ca(struct fx *fx, const char *name)
{
	char		 sub[300], path[320];
	json_t		*info = NULL;
	struct cm_ca	*ca = NULL;

	(void)snprintf(sub, sizeof(sub), "%s/%s", fx->dir, name);
	(void)snprintf(path, sizeof(path), "%s/ca.pem", sub);
	if (cm_ca_init(sub, name, 0, 0, &info, fx->err, sizeof(fx->err)) ||
	    cm_ca_load(path, &ca, fx->err, sizeof(fx->err)))
		fail_msg("%s", fx->err);
	json_decref(info);
	return (ca);
}

static int
setup(void **state)
{
	struct fx	*fx;

	if ((fx = calloc(1, sizeof(*fx))) == NULL)
		return (-1);
	(void)snprintf(fx->dir, sizeof(fx->dir), "%s/certcache_test.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(fx->dir) == NULL)
		return (-1);
	fx->ca = new_ca(fx, "a");
	fx->ca2 = new_ca(fx, "b");
	if ((fx->lk = cm_ca_leaf_key_new(fx->err, sizeof(fx->err))) == NULL)
		return (-1);
	*state = fx;
	return (0);
}

static int
teardown(void **state)
{
	struct fx	*fx = *state;

	cm_ca_unref(fx->ca);
	cm_ca_unref(fx->ca2);
	EVP_PKEY_free(fx->lk);
	(void)nftw(fx->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return (0);
}

static X509 *
get_ok(struct fx *fx, struct cm_certcache *cc, struct cm_ca *ca,
    const char *host)
{
	X509	*x = NULL;

	if (cm_certcache_get(cc, ca, fx->lk, host, 0, &x, fx->err,
	    sizeof(fx->err)) != 0)
		fail_msg("get %s: %s", host, fx->err);
	assert_non_null(x);
	return (x);
}

/* Gets host and drops the reference; returns whether it was a hit. */
static int
probe(struct fx *fx, struct cm_certcache *cc, const char *host)
{
	struct cm_certcache_stats	 before, after;

	cm_certcache_stats(cc, &before);
	X509_free(get_ok(fx, cc, fx->ca, host));
	cm_certcache_stats(cc, &after);
	assert_int_equal(after.hits + after.misses,
	    before.hits + before.misses + 1);
	return (after.hits == before.hits + 1);
}

static void
stats_are(struct cm_certcache *cc, uint64_t hits, uint64_t misses,
    uint64_t evictions, size_t entries)
{
	struct cm_certcache_stats	 st;

	cm_certcache_stats(cc, &st);
	assert_int_equal(st.hits, hits);
	assert_int_equal(st.misses, misses);
	assert_int_equal(st.evictions, evictions);
	assert_int_equal(st.entries, entries);
}

static void
test_second_get_is_a_hit_with_the_same_leaf(void **state)
{
	struct fx		*fx = *state;
	struct cm_certcache	*cc;
	X509			*a, *b;

	assert_non_null(cc = cm_certcache_new(8));
	a = get_ok(fx, cc, fx->ca, "a.test");
	stats_are(cc, 0, 1, 0, 1);
	b = get_ok(fx, cc, fx->ca, "a.test");
	stats_are(cc, 1, 1, 0, 1);
	assert_ptr_equal(a, b);
	assert_true(X509_check_host(a, "a.test", 0, 0, NULL) == 1);
	X509_free(a);
	X509_free(b);
	b = get_ok(fx, cc, fx->ca, "b.test");
	assert_true(X509_check_host(b, "b.test", 0, 0, NULL) == 1);
	stats_are(cc, 1, 2, 0, 2);
	X509_free(b);
	cm_certcache_free(cc);
}

static void
test_least_recently_used_is_evicted(void **state)
{
	struct fx		*fx = *state;
	struct cm_certcache	*cc;
	struct cm_certcache_stats st;

	/* spec/egress.md: capacity 2, three hosts, the first again: miss. */
	assert_non_null(cc = cm_certcache_new(2));
	assert_false(probe(fx, cc, "a.test"));
	assert_false(probe(fx, cc, "b.test"));
	assert_false(probe(fx, cc, "c.test"));
	stats_are(cc, 0, 3, 1, 2);
	assert_false(probe(fx, cc, "a.test"));	/* evicted b */
	assert_true(probe(fx, cc, "c.test"));
	/* A hit refreshes: after hitting a, c is oldest and d evicts it. */
	assert_true(probe(fx, cc, "a.test"));
	assert_false(probe(fx, cc, "d.test"));
	assert_true(probe(fx, cc, "a.test"));
	assert_false(probe(fx, cc, "c.test"));
	cm_certcache_stats(cc, &st);
	assert_int_equal(st.entries, 2);
	assert_int_equal(st.capacity, 2);
	assert_int_equal(st.evictions, 4);
	cm_certcache_free(cc);
}

static void
test_held_leaf_outlives_eviction_and_free(void **state)
{
	struct fx		*fx = *state;
	struct cm_certcache	*cc;
	X509			*held;

	assert_non_null(cc = cm_certcache_new(1));
	held = get_ok(fx, cc, fx->ca, "held.test");
	X509_free(get_ok(fx, cc, fx->ca, "other.test"));	/* evicts */
	stats_are(cc, 0, 2, 1, 1);
	cm_certcache_flush(cc);
	cm_certcache_free(cc);
	/* Still ours: ASan would flag a use after free here. */
	assert_true(X509_check_host(held, "held.test", 0, 0, NULL) == 1);
	assert_int_equal(X509_verify(held, X509_get0_pubkey(
	    cm_ca_cert(fx->ca))), 1);
	X509_free(held);
}

static void
test_other_ca_misses_and_replaces(void **state)
{
	struct fx		*fx = *state;
	struct cm_certcache	*cc;
	X509			*a, *b;

	assert_non_null(cc = cm_certcache_new(4));
	a = get_ok(fx, cc, fx->ca, "a.test");
	b = get_ok(fx, cc, fx->ca2, "a.test");
	stats_are(cc, 0, 2, 0, 1);
	assert_ptr_not_equal(a, b);
	assert_int_equal(X509_verify(b, X509_get0_pubkey(
	    cm_ca_cert(fx->ca2))), 1);
	X509_free(b);
	b = get_ok(fx, cc, fx->ca2, "a.test");
	stats_are(cc, 1, 2, 0, 1);
	X509_free(b);
	X509_free(a);
	cm_certcache_free(cc);
}

static void
test_flush_empties_the_cache(void **state)
{
	struct fx		*fx = *state;
	struct cm_certcache	*cc;

	assert_non_null(cc = cm_certcache_new(4));
	assert_false(probe(fx, cc, "a.test"));
	assert_false(probe(fx, cc, "b.test"));
	cm_certcache_flush(cc);
	stats_are(cc, 0, 2, 0, 0);
	assert_false(probe(fx, cc, "a.test"));
	stats_are(cc, 0, 3, 0, 1);
	cm_certcache_free(cc);
}

static void
test_capacity_zero_caches_nothing(void **state)
{
	struct fx		*fx = *state;
	struct cm_certcache	*cc;

	assert_non_null(cc = cm_certcache_new(0));
	assert_false(probe(fx, cc, "a.test"));
	assert_false(probe(fx, cc, "a.test"));
	stats_are(cc, 0, 2, 0, 0);
	cm_certcache_free(cc);
}

static void
test_leaf_near_expiry_is_minted_again(void **state)
{
	struct fx		*fx = *state;
	struct cm_certcache	*cc;
	struct cm_ca		*ca;
	EVP_PKEY		*k;
	X509			*x;
	X509V3_CTX		 v3;
	X509_EXTENSION		*ext;
	BIO			*b;
	char			 path[320];

	/* A CA with 12 h left: every leaf is clamped under the day. */
	assert_non_null(k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"));
	assert_non_null(x = X509_new());
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(X509_get_subject_name(x),
	    "CN", MBSTRING_ASC, (const unsigned char *)"old", -1, -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(x)),
	    1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -DAY));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), DAY / 2));
	assert_int_equal(X509_set_pubkey(x, k), 1);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	assert_non_null(ext = X509V3_EXT_conf_nid(NULL, &v3,
	    NID_basic_constraints, "critical,CA:TRUE"));
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
	assert_non_null(ext = X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage,
	    "critical,keyCertSign"));
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	(void)snprintf(path, sizeof(path), "%s/old.pem", fx->dir);
	assert_non_null(b = BIO_new_file(path, "w"));
	assert_int_equal(PEM_write_bio_X509(b, x), 1);
	assert_int_equal(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL,
	    NULL), 1);
	BIO_free(b);
	X509_free(x);
	EVP_PKEY_free(k);
	if (cm_ca_load(path, &ca, fx->err, sizeof(fx->err)) != 0)
		fail_msg("%s", fx->err);

	assert_non_null(cc = cm_certcache_new(4));
	X509_free(get_ok(fx, cc, ca, "a.test"));
	X509_free(get_ok(fx, cc, ca, "a.test"));
	stats_are(cc, 0, 2, 0, 1);
	cm_certcache_free(cc);
	cm_ca_unref(ca);
}

static void
test_bad_host_is_refused_and_not_cached(void **state)
{
	struct fx		*fx = *state;
	struct cm_certcache	*cc;
	X509			*x = NULL;

	assert_non_null(cc = cm_certcache_new(4));
	assert_int_equal(cm_certcache_get(cc, fx->ca, fx->lk, "a b", 0, &x,
	    fx->err, sizeof(fx->err)), -1);
	assert_null(x);
	assert_string_equal(fx->err, "host is not a DNS name or IP literal");
	stats_are(cc, 0, 1, 0, 0);
	cm_certcache_free(cc);
}

#define RACE_THREADS	4
#define RACE_GETS	300

struct race {
	struct fx		*fx;
	struct cm_certcache	*cc;
	int			 seed;
	int			 failed;
};

static void *
race_run(void *arg)
{
	struct race	*r = arg;
	char		 host[32], err[256];
	X509		*x;
	int		 i;

	for (i = 0; i < RACE_GETS; i++) {
		(void)snprintf(host, sizeof(host), "h%d.test",
		    (i * 7 + r->seed) % 9);
		if (cm_certcache_get(r->cc, r->fx->ca, r->fx->lk, host, 0, &x,
		    err, sizeof(err)) != 0 ||
		    X509_check_host(x, host, 0, 0, NULL) != 1)
			r->failed++;
		X509_free(x);
	}
	return (NULL);
}

static void
test_concurrent_gets_stay_consistent(void **state)
{
	struct fx			*fx = *state;
	struct cm_certcache		*cc;
	struct cm_certcache_stats	 st;
	struct race			 r[RACE_THREADS];
	pthread_t			 t[RACE_THREADS];
	int				 i;

	assert_non_null(cc = cm_certcache_new(4));
	for (i = 0; i < RACE_THREADS; i++) {
		r[i] = (struct race){ .fx = fx, .cc = cc, .seed = i };
		assert_int_equal(pthread_create(&t[i], NULL, race_run, &r[i]),
		    0);
	}
	for (i = 0; i < RACE_THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(r[i].failed, 0);
	}
	cm_certcache_stats(cc, &st);
	assert_int_equal(st.hits + st.misses, RACE_THREADS * RACE_GETS);
	assert_true(st.entries <= 4);
	cm_certcache_free(cc);
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_second_get_is_a_hit_with_the_same_leaf),
		T(test_least_recently_used_is_evicted),
		T(test_held_leaf_outlives_eviction_and_free),
		T(test_other_ca_misses_and_replaces),
		T(test_flush_empties_the_cache),
		T(test_capacity_zero_caches_nothing),
		T(test_leaf_near_expiry_is_minted_again),
		T(test_bad_host_is_refused_and_not_cached),
		T(test_concurrent_gets_stay_consistent),
	};
#undef T
	return (cmocka_run_group_tests_name("certcache", tests, NULL, NULL));
}
