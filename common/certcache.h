/*
 * The TLS bump's leaf cache (spec/egress.md §15): minted leaves by host,
 * LRU, bounded, shared by every worker.
 *
 * A lookup hands out a reference on the X509 itself (OpenSSL counts it
 * atomically), so a worker keeps a valid certificate however soon
 * another worker evicts its entry.
 */
#ifndef CM_CERTCACHE_H
#define CM_CERTCACHE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct cm_ca;
struct cm_certcache;			/* opaque; fields in certcache.c */

/* For /metrics: read without the lock, so only roughly consistent. */
struct cm_certcache_stats {
	uint64_t	 hits;
	uint64_t	 misses;	/* also stale or other-CA entries */
	uint64_t	 evictions;	/* pushed out by capacity only */
	size_t		 entries;
	size_t		 capacity;
};

/*
 * A cache of at most capacity leaves (limits.cert_cache_entries); 0
 * caches nothing, so every lookup mints.  NULL if out of memory.
 */
struct cm_certcache *cm_certcache_new(size_t capacity);
/* Drops the cache's references; leaves held by callers stay valid. */
void		 cm_certcache_free(struct cm_certcache *cc);

/*
 * The leaf for host under ca: a cached one when it was signed by this CA
 * (same certificate) and has a day or more left, else a new one from
 * cm_ca_mint_leaf(), which then replaces any entry for host and may evict
 * the least recently used.  The lock is held only for lookup and insert,
 * never while minting: two workers missing together both mint and the
 * last insert wins.  host should be normalised (spec/egress.md §4.1);
 * it is the key byte for byte.  On success *out holds a reference the
 * caller must X509_free().  Thread-safe; does not block beyond the lock.
 */
int		 cm_certcache_get(struct cm_certcache *cc,
		    const struct cm_ca *ca, EVP_PKEY *leaf_key,
		    const char *host, int validity_days, X509 **out,
		    char *err, size_t errlen);
/* Empties the cache (a changed CA).  Thread-safe. */
void		 cm_certcache_flush(struct cm_certcache *cc);
/* Counters for bb_egress_cert_cache_*.  Thread-safe, takes no lock. */
void		 cm_certcache_stats(const struct cm_certcache *cc,
		    struct cm_certcache_stats *st);

#endif /* CM_CERTCACHE_H */
