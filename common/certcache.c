/*
 * Leaf cache: a hash table of minted leaves plus an LRU list, under one
 * mutex.
 *
 * The lock guards the bucket chains, the LRU list and each linked
 * entry's links; nothing else.  It is held for a hash lookup and a few
 * pointer moves, never while signing or freeing, so one lock serves all
 * workers (spec/egress.md §15 allows shards; the lookups are too short
 * to need them yet, and one lock keeps the LRU exact).  Entries are
 * immutable once linked apart from those links; a hit takes its own
 * X509 reference before unlocking, so eviction never pulls a
 * certificate from under a worker.  Counters are atomics so /metrics
 * reads them without the lock.
 */
#include "config.h"

#include <sys/queue.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "common/ca.h"
#include "common/certcache.h"
#include "common/x509.h"

/*
 * spec/egress.md §15: a leaf with less than this left is minted again,
 * so a tunnel opened now never sees its certificate expire.
 */
#define CM_CERTCACHE_REMINT_S		(24 * 60 * 60)
/* Fewest buckets; the table is sized to the capacity otherwise. */
#define CM_CERTCACHE_MIN_BUCKETS	16

struct cm_certcache_entry {
	TAILQ_ENTRY(cm_certcache_entry) lru;	/* guarded by cc->lock */
	struct cm_certcache_entry *next;	/* bucket chain; guarded */
	uint64_t		 hash;
	X509			*cert;		/* the cache's reference */
	time_t			 not_after;
	unsigned char		 ca[SHA256_DIGEST_LENGTH]; /* signer's cert */
	char			 host[];
};
TAILQ_HEAD(cm_certcache_list, cm_certcache_entry);

struct cm_certcache {
	pthread_mutex_t		 lock;		/* see the top of the file */
	struct cm_certcache_entry **buckets;	/* guarded by lock */
	struct cm_certcache_list lru;		/* guarded; head is newest */
	size_t			 nbuckets;	/* a power of two; fixed */
	size_t			 capacity;	/* fixed */
	uint64_t		 seed;		/* fixed; hash flooding */
	atomic_size_t		 entries;	/* written under lock */
	atomic_uint_fast64_t	 hits;
	atomic_uint_fast64_t	 misses;
	atomic_uint_fast64_t	 evictions;
};

static uint64_t	 cm_certcache_hash(const struct cm_certcache *,
		    const char *);
static struct cm_certcache_entry **cm_certcache_find(struct cm_certcache *,
		    uint64_t, const char *);
static void	 cm_certcache_unlink(struct cm_certcache *,
		    struct cm_certcache_entry **, struct cm_certcache_list *);
static void	 cm_certcache_release(struct cm_certcache_list *);

struct cm_certcache *
cm_certcache_new(size_t capacity)
{
	struct cm_certcache	*cc;
	size_t			 n = CM_CERTCACHE_MIN_BUCKETS;

	if ((cc = calloc(1, sizeof(*cc))) == NULL)
		return (NULL);
	/* Load factor at most one; stop doubling before it could wrap. */
	while (n < capacity && n <= SIZE_MAX / 4 / sizeof(*cc->buckets))
		n *= 2;
	if ((cc->buckets = calloc(n, sizeof(*cc->buckets))) == NULL ||
	    pthread_mutex_init(&cc->lock, NULL) != 0) {
		free(cc->buckets);
		free(cc);
		return (NULL);
	}
	cc->nbuckets = n;
	cc->capacity = capacity;
	/* A fixed hash would let chosen host names pile into one chain. */
	if (RAND_bytes((unsigned char *)&cc->seed, sizeof(cc->seed)) != 1)
		cc->seed = (uint64_t)time(NULL);
	TAILQ_INIT(&cc->lru);
	atomic_init(&cc->entries, 0);
	atomic_init(&cc->hits, 0);
	atomic_init(&cc->misses, 0);
	atomic_init(&cc->evictions, 0);
	return (cc);
}

void
cm_certcache_free(struct cm_certcache *cc)
{
	if (cc == NULL)
		return;
	cm_certcache_flush(cc);
	pthread_mutex_destroy(&cc->lock);
	free(cc->buckets);
	free(cc);
}

/* FNV-1a over the seed, then the host. */
static uint64_t
cm_certcache_hash(const struct cm_certcache *cc, const char *host)
{
	uint64_t	 h = 14695981039346656037ULL;
	size_t		 i;

	for (i = 0; i < sizeof(cc->seed); i++) {
		h ^= (cc->seed >> (i * 8)) & 0xff;
		h *= 1099511628211ULL;
	}
	for (; *host != '\0'; host++) {
		h ^= (unsigned char)*host;
		h *= 1099511628211ULL;
	}
	return (h);
}

/* The link pointing at host's entry, or at the chain's NULL end. */
static struct cm_certcache_entry **
cm_certcache_find(struct cm_certcache *cc, uint64_t hash, const char *host)
{
	struct cm_certcache_entry	**pp;

	pp = &cc->buckets[hash & (cc->nbuckets - 1)];
	for (; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->hash == hash && strcmp((*pp)->host, host) == 0)
			break;
	return (pp);
}

/* Unlinks *pp from chain and LRU onto dead; call with the lock held. */
static void
cm_certcache_unlink(struct cm_certcache *cc, struct cm_certcache_entry **pp,
    struct cm_certcache_list *dead)
{
	struct cm_certcache_entry	*e = *pp;

	*pp = e->next;
	TAILQ_REMOVE(&cc->lru, e, lru);
	TAILQ_INSERT_TAIL(dead, e, lru);
	atomic_store_explicit(&cc->entries,
	    atomic_load_explicit(&cc->entries, memory_order_relaxed) - 1,
	    memory_order_relaxed);
}

/* Frees unlinked entries; call without the lock. */
static void
cm_certcache_release(struct cm_certcache_list *dead)
{
	struct cm_certcache_entry	*e;

	while ((e = TAILQ_FIRST(dead)) != NULL) {
		TAILQ_REMOVE(dead, e, lru);
		X509_free(e->cert);
		free(e);
	}
}

int
cm_certcache_get(struct cm_certcache *cc, const struct cm_ca *ca,
    EVP_PKEY *leaf_key, const char *host, int validity_days, X509 **out,
    char *err, size_t errlen)
{
	struct cm_certcache_list	 dead = TAILQ_HEAD_INITIALIZER(dead);
	struct cm_certcache_entry	**pp, *e;
	X509				*x;
	uint64_t			 hash;
	size_t				 len;
	time_t				 now = time(NULL);

	*out = NULL;
	hash = cm_certcache_hash(cc, host);
	pthread_mutex_lock(&cc->lock);
	e = *cm_certcache_find(cc, hash, host);
	if (e != NULL && now + CM_CERTCACHE_REMINT_S <= e->not_after &&
	    memcmp(e->ca, cm_ca_sha256(ca), sizeof(e->ca)) == 0) {
		TAILQ_REMOVE(&cc->lru, e, lru);
		TAILQ_INSERT_HEAD(&cc->lru, e, lru);
		X509_up_ref(e->cert);
		*out = e->cert;
		pthread_mutex_unlock(&cc->lock);
		atomic_fetch_add_explicit(&cc->hits, 1, memory_order_relaxed);
		return (0);
	}
	pthread_mutex_unlock(&cc->lock);
	atomic_fetch_add_explicit(&cc->misses, 1, memory_order_relaxed);

	if (cm_ca_mint_leaf(ca, leaf_key, host, validity_days, &x, err,
	    errlen) == -1)
		return (-1);
	len = strlen(host);
	if (cc->capacity == 0 ||
	    (e = calloc(1, sizeof(*e) + len + 1)) == NULL) {
		*out = x;		/* uncached, but still a good leaf */
		return (0);
	}
	memcpy(e->host, host, len + 1);
	e->hash = hash;
	e->cert = x;
	memcpy(e->ca, cm_ca_sha256(ca), sizeof(e->ca));
	if (cm_x509_time(X509_get0_notAfter(x), &e->not_after, NULL,
	    0) == -1)
		e->not_after = 0;	/* unreadable: stale at once */
	X509_up_ref(x);			/* one for the caller */
	*out = x;

	pthread_mutex_lock(&cc->lock);
	pp = cm_certcache_find(cc, hash, host);
	if (*pp != NULL)
		cm_certcache_unlink(cc, pp, &dead);	/* last insert wins */
	pp = &cc->buckets[hash & (cc->nbuckets - 1)];
	e->next = *pp;
	*pp = e;
	TAILQ_INSERT_HEAD(&cc->lru, e, lru);
	atomic_store_explicit(&cc->entries,
	    atomic_load_explicit(&cc->entries, memory_order_relaxed) + 1,
	    memory_order_relaxed);
	while (atomic_load_explicit(&cc->entries, memory_order_relaxed) >
	    cc->capacity) {
		e = TAILQ_LAST(&cc->lru, cm_certcache_list);
		cm_certcache_unlink(cc, cm_certcache_find(cc, e->hash,
		    e->host), &dead);
		atomic_fetch_add_explicit(&cc->evictions, 1,
		    memory_order_relaxed);
	}
	pthread_mutex_unlock(&cc->lock);
	cm_certcache_release(&dead);
	return (0);
}

void
cm_certcache_flush(struct cm_certcache *cc)
{
	struct cm_certcache_list	 dead = TAILQ_HEAD_INITIALIZER(dead);
	struct cm_certcache_entry	*e;

	pthread_mutex_lock(&cc->lock);
	while ((e = TAILQ_FIRST(&cc->lru)) != NULL)
		cm_certcache_unlink(cc, cm_certcache_find(cc, e->hash,
		    e->host), &dead);
	pthread_mutex_unlock(&cc->lock);
	cm_certcache_release(&dead);
}

void
cm_certcache_stats(const struct cm_certcache *cc,
    struct cm_certcache_stats *st)
{
	st->hits = atomic_load_explicit(&cc->hits, memory_order_relaxed);
	st->misses = atomic_load_explicit(&cc->misses, memory_order_relaxed);
	st->evictions = atomic_load_explicit(&cc->evictions,
	    memory_order_relaxed);
	st->entries = atomic_load_explicit(&cc->entries,
	    memory_order_relaxed);
	st->capacity = cc->capacity;
}
