/*
 * Pack maintenance (spec/gitgate.md §4.5).  Full clones are served from
 * the mirror's one pack as stored (upload's fast path), so when a
 * refresh or a push leaves several packs they are merged: each pack's
 * entries are copied in offset order into one new pack with no delta
 * search and no recompression; the first copy of an object wins, an
 * OFS_DELTA whose base was copied from the same pack gets its offset
 * recomputed, one whose base copy was dropped becomes a REF_DELTA.
 * libgit2's indexer verifies the result before it replaces the old
 * packs, which are removed under the exclusive object lock.
 */
#include "config.h"

#include <sys/queue.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <git2.h>
#include <openssl/evp.h>

#include "common/job.h"
#include "common/log.h"
#include "common/snapshot.h"
#include "common/util.h"
#include "common/worker.h"
#include "gitgate/conf.h"
#include "gitgate/gg.h"
#include "gitgate/merge.h"
#include "gitgate/mirror.h"
#include "gitgate/oidset.h"

/* Debounce after the last trigger; retry when another merge runs. */
#define GG_MERGE_DELAY_S	5
#define GG_MERGE_LOCK_S		60
#define GG_MERGE_MAX_PACKS	64

static atomic_int	 gg_merge_running;

struct gg_mpack {
	char		 base[PATH_MAX + 64];	/* .../pack-HASH (no ext) */
	unsigned char	*idx;			/* mmap of the .idx */
	size_t		 idxlen;
	unsigned char	*pack;			/* mmap of the .pack */
	size_t		 packlen;
	uint32_t	 n;
	uint64_t	*order;			/* offset << 32 | index */
};

struct gg_merge {
	TAILQ_ENTRY(gg_merge)	 entry;		/* in gw->merges while timed */
	struct gg_worker	*gw;		/* NULL once a job owns it */
	struct event		*ev;		/* owned: the debounce timer */
	struct cm_snap		*snap;		/* referenced */
	const struct gg_repo	*repo;
	char			 err[256];
};

static void
gg_merge_free(struct gg_merge *m)
{
	if (m->gw != NULL)
		TAILQ_REMOVE(&m->gw->merges, m, entry);
	if (m->ev != NULL)
		event_free(m->ev);
	cm_snap_unref(m->snap);
	free(m);
}

static uint32_t
gg_merge_be32(const unsigned char *p)
{
	return (((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | p[3]);
}

/* The offset of the i-th object of an idx v2. */
static uint64_t
gg_merge_offset(const struct gg_mpack *mp, uint32_t i)
{
	const unsigned char	*offs = mp->idx + 8 + 1024 + (size_t)mp->n *
				    24;
	uint32_t		 o = gg_merge_be32(offs + 4 * (size_t)i);
	const unsigned char	*big;

	if (!(o & 0x80000000u))
		return (o);
	big = offs + 4 * (size_t)mp->n + 8 * (size_t)(o & 0x7fffffffu);
	return (((uint64_t)gg_merge_be32(big) << 32) | gg_merge_be32(big + 4));
}

static int
gg_merge_cmp(const void *a, const void *b)
{
	uint64_t	 x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x < y ? -1 : x > y);
}

static void
gg_merge_unmap(struct gg_mpack *mp)
{
	if (mp->idx != NULL)
		(void)munmap(mp->idx, mp->idxlen);
	if (mp->pack != NULL)
		(void)munmap(mp->pack, mp->packlen);
	free(mp->order);
	memset(mp, 0, sizeof(*mp));
}

static void *
gg_merge_map(const char *path, size_t *len)
{
	struct stat	 sb;
	void		*p;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (NULL);
	if (fstat(fd, &sb) == -1 || sb.st_size < 32) {
		(void)close(fd);
		return (NULL);
	}
	p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	(void)close(fd);
	if (p == MAP_FAILED)
		return (NULL);
	*len = (size_t)sb.st_size;
	return (p);
}

static int
gg_merge_open(struct gg_mpack *mp)
{
	char		 path[PATH_MAX + 128];
	uint32_t	 i;

	(void)snprintf(path, sizeof(path), "%s.idx", mp->base);
	if ((mp->idx = gg_merge_map(path, &mp->idxlen)) == NULL)
		return (-1);
	(void)snprintf(path, sizeof(path), "%s.pack", mp->base);
	if ((mp->pack = gg_merge_map(path, &mp->packlen)) == NULL)
		return (-1);
	if (mp->idxlen < 8 + 1024 + 40 || memcmp(mp->idx, "\377tOc", 4) != 0 ||
	    gg_merge_be32(mp->idx + 4) != 2)
		return (-1);
	mp->n = gg_merge_be32(mp->idx + 8 + 255 * 4);
	if ((size_t)mp->n * 28 + 8 + 1024 + 40 > mp->idxlen ||
	    (mp->order = calloc(mp->n ? mp->n : 1, sizeof(*mp->order))) ==
	    NULL)
		return (-1);
	for (i = 0; i < mp->n; i++) {
		uint64_t o = gg_merge_offset(mp, i);

		if (o < 12 || o >= mp->packlen - 20 || o > 0xffffffffULL)
			return (-1);	/* packs this large are not merged */
		mp->order[i] = (o << 32) | i;
	}
	qsort(mp->order, mp->n, sizeof(*mp->order), gg_merge_cmp);
	return (0);
}

static const git_oid *
gg_merge_oid(const struct gg_mpack *mp, uint32_t i)
{
	return ((const git_oid *)(mp->idx + 8 + 1024 + (size_t)i * 20));
}

/* Index (in mp) of the object at offset off, or -1. */
static int64_t
gg_merge_at(const struct gg_mpack *mp, uint64_t off)
{
	size_t	 lo = 0, hi = mp->n, mid;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if ((mp->order[mid] >> 32) == off)
			return ((int64_t)(mp->order[mid] & 0xffffffffu));
		if ((mp->order[mid] >> 32) < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (-1);
}

struct gg_mout {
	int		 fd;
	EVP_MD_CTX	*sha;
	uint64_t	 off;
};

static int
gg_merge_put(struct gg_mout *o, const void *p, size_t n)
{
	if (EVP_DigestUpdate(o->sha, p, n) != 1)
		return (-1);
	o->off += n;
	return (cm_write_all(o->fd, p, n));
}

/* git's OFS_DELTA base distance encoding. */
static int
gg_merge_ofs(struct gg_mout *o, uint64_t ofs)
{
	unsigned char	 buf[16];
	size_t		 pos = sizeof(buf) - 1;

	buf[pos] = ofs & 127;
	while (ofs >>= 7)
		buf[--pos] = 128 | (--ofs & 127);
	return (gg_merge_put(o, buf + pos, sizeof(buf) - pos));
}

/*
 * Copies every pack's entries, in pack order and offset order, into o;
 * newoff maps each copied object to its offset in the new pack.  A base
 * always precedes its OFS_DELTA in its own pack, so by the time a delta
 * is copied its base is in the new pack already (from this pack or an
 * earlier one): the delta keeps OFS_DELTA with a new distance.
 */
static int
gg_merge_copy(struct gg_mpack *packs, size_t np, struct gg_mout *o,
    struct gg_oidset *newoff)
{
	const unsigned char	*e;
	size_t			 k, j, h, l;
	uint64_t		 start, end, ofs, here;
	int64_t			 bi;
	unsigned char		 c;
	int			 nb;

	for (k = 0; k < np; k++) {
		struct gg_mpack *mp = &packs[k];

		for (j = 0; j < mp->n; j++) {
			uint32_t i = (uint32_t)(mp->order[j] & 0xffffffffu);

			start = mp->order[j] >> 32;
			end = j + 1 < mp->n ? mp->order[j + 1] >> 32 :
			    mp->packlen - 20;
			if (gg_oidset_has(newoff, gg_merge_oid(mp, i)))
				continue;	/* the first copy wins */
			e = mp->pack + start;
			for (h = 0; h < end - start && h < 16; h++)
				if (!(e[h] & 0x80))
					break;
			if (h >= end - start || h >= 16)
				return (-1);
			h++;
			here = o->off;
			if (gg_oidset_put(newoff, gg_merge_oid(mp, i),
			    (int)here) == -1)
				return (-1);
			if (((e[0] >> 4) & 7) != 6) {
				if (gg_merge_put(o, e, end - start) == -1)
					return (-1);
				continue;
			}
			l = h;
			c = e[l++];
			ofs = c & 127;
			while (c & 128) {
				if (l >= end - start || l > h + 10)
					return (-1);
				c = e[l++];
				ofs = ((ofs + 1) << 7) | (c & 127);
			}
			if (ofs == 0 || ofs > start ||
			    (bi = gg_merge_at(mp, start - ofs)) < 0 ||
			    !gg_oidset_get(newoff, gg_merge_oid(mp,
			    (uint32_t)bi), &nb) || (uint64_t)(unsigned)nb >=
			    here)
				return (-1);
			if (gg_merge_put(o, e, h) == -1 ||
			    gg_merge_ofs(o, here - (uint64_t)(unsigned)nb) ==
			    -1 || gg_merge_put(o, e + l, end - start - l) == -1)
				return (-1);
		}
	}
	return (0);
}

/* The mirror's packs (each with its .idx), oldest name order. */
static size_t
gg_merge_list(const char *dir, struct gg_mpack *packs, size_t max)
{
	DIR		*d;
	struct dirent	*de;
	char		 idx[PATH_MAX + 128];
	size_t		 n = 0, l;

	if ((d = opendir(dir)) == NULL)
		return (0);
	while ((de = readdir(d)) != NULL && n < max) {
		l = strlen(de->d_name);
		if (l < 6 || strcmp(de->d_name + l - 5, ".pack") != 0 ||
		    strncmp(de->d_name, "pack-", 5) != 0)
			continue;
		(void)snprintf(packs[n].base, sizeof(packs[n].base), "%s/%.*s",
		    dir, (int)(l - 5), de->d_name);
		(void)snprintf(idx, sizeof(idx), "%s.idx", packs[n].base);
		if (access(idx, R_OK) == 0)
			n++;
	}
	(void)closedir(d);
	return (n);
}

/* Writes the merged pack to fd; 0 or -1. */
static int
gg_merge_write(struct gg_mpack *packs, size_t np, int fd)
{
	struct gg_oidset	 all, newoff;
	struct gg_mout		 o;
	unsigned char		 hdr[12], sum[20];
	size_t			 k;
	uint32_t		 i, count;
	int			 rc = -1;

	gg_oidset_init(&all, 0);
	gg_oidset_init(&newoff, 1);
	for (k = 0; k < np; k++)
		for (i = 0; i < packs[k].n; i++)
			if (gg_oidset_add(&all, gg_merge_oid(&packs[k], i)) ==
			    -1)
				goto out;
	count = (uint32_t)all.n;
	memcpy(hdr, "PACK\0\0\0\002", 8);
	hdr[8] = (unsigned char)(count >> 24);
	hdr[9] = (unsigned char)(count >> 16);
	hdr[10] = (unsigned char)(count >> 8);
	hdr[11] = (unsigned char)count;
	memset(&o, 0, sizeof(o));
	o.fd = fd;
	if ((o.sha = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(o.sha, EVP_sha1(), NULL) != 1)
		goto out;
	if (gg_merge_put(&o, hdr, sizeof(hdr)) == -1 ||
	    gg_merge_copy(packs, np, &o, &newoff) == -1 ||
	    newoff.n != all.n)
		goto out;
	if (EVP_DigestFinal_ex(o.sha, sum, NULL) != 1)
		goto out;
	rc = cm_write_all(fd, sum, sizeof(sum));
out:
	EVP_MD_CTX_free(o.sha);
	gg_oidset_free(&all);
	gg_oidset_free(&newoff);
	return (rc);
}

/* Indexes the merged pack into dir (libgit2 verifies every object). */
static int
gg_merge_index(int fd, const char *dir, char *name, size_t namelen)
{
	git_indexer		*idx = NULL;
	git_indexer_options	 opts;
	git_indexer_progress	 st;
	unsigned char		 buf[65536];
	ssize_t			 r;
	int			 rc = -1;

	(void)git_indexer_options_init(&opts, GIT_INDEXER_OPTIONS_VERSION);
	if (lseek(fd, 0, SEEK_SET) == -1 ||
	    git_indexer_new(&idx, dir, 0600, NULL, &opts) != 0)
		goto out;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		if (git_indexer_append(idx, buf, (size_t)r, &st) != 0)
			goto out;
	if (r < 0 || git_indexer_commit(idx, &st) != 0)
		goto out;
	cm_strlcpy(name, git_indexer_name(idx), namelen);
	rc = 0;
out:
	git_indexer_free(idx);
	return (rc);
}

static void
gg_merge_run(struct cm_job *job)
{
	struct gg_merge		*m = cm_job_arg(job);
	const struct gg_cfg	*cfg = gg_cfg_of(m->snap);
	struct gg_mstate	*st = gg_mirror_state(m->repo->name);
	struct gg_mpack		*packs;
	char			 mirror[PATH_MAX], dir[PATH_MAX + 16];
	char			 tmp[PATH_MAX + 32], name[64];
	char			 p[PATH_MAX + 128];
	uint64_t		 total = 0, t0 = cm_now_ms();
	size_t			 np, k;
	int			 fd = -1, locked;

	if (st == NULL || (packs = calloc(GG_MERGE_MAX_PACKS,
	    sizeof(*packs))) == NULL)
		return;
	gg_mirror_path(cfg, m->repo, mirror, sizeof(mirror));
	(void)snprintf(dir, sizeof(dir), "%s/objects/pack", mirror);
	np = gg_merge_list(dir, packs, GG_MERGE_MAX_PACKS);
	if (np < 2)
		goto out;
	for (k = 0; k < np; k++) {
		if (gg_merge_open(&packs[k]) == -1) {
			cm_strlcpy(m->err, "cannot read a pack",
			    sizeof(m->err));
			goto out;
		}
		total += packs[k].packlen;
	}
	if (total > 0x7fff0000ULL) {
		cm_strlcpy(m->err, "packs too large to merge", sizeof(m->err));
		goto out;
	}
	(void)snprintf(tmp, sizeof(tmp), "%s/.merge-XXXXXX", cfg->git_dir);
	if ((fd = mkstemp(tmp)) == -1)
		goto out;
	(void)unlink(tmp);
	if (gg_merge_write(packs, np, fd) == -1 ||
	    gg_merge_index(fd, dir, name, sizeof(name)) == -1) {
		(void)snprintf(m->err, sizeof(m->err), "merge failed: %s",
		    git_error_last() != NULL ? git_error_last()->message :
		    "write error");
		goto out;
	}
	/* The new pack is in place; the old ones go under the lock. */
	locked = gg_mirror_objects_wrlock_timed(st, GG_MERGE_LOCK_S);
	for (k = 0; locked == 0 && k < np; k++) {
		if (strstr(packs[k].base, name) != NULL)
			continue;	/* the same content came out */
		(void)snprintf(p, sizeof(p), "%s.idx", packs[k].base);
		(void)unlink(p);
		(void)snprintf(p, sizeof(p), "%s.pack", packs[k].base);
		(void)unlink(p);
	}
	if (locked == 0)
		gg_mirror_objects_unlock(st);
	else {
		/* §4.5: not within 60 s: drop the new pack, retry later. */
		(void)snprintf(p, sizeof(p), "%s/pack-%s.idx", dir, name);
		(void)unlink(p);
		(void)snprintf(p, sizeof(p), "%s/pack-%s.pack", dir, name);
		(void)unlink(p);
		cm_strlcpy(m->err, "object lock busy", sizeof(m->err));
		goto out;
	}
	cm_log(CM_LOG_INFO, "gitgate", "merge", 0, json_pack("{s:s,s:I,s:I,"
	    "s:I}", "repo", m->repo->name, "packs", (json_int_t)np, "bytes",
	    (json_int_t)total, "ms", (json_int_t)(cm_now_ms() - t0)));
out:
	if (m->err[0] != '\0')
		cm_log(CM_LOG_WARN, "gitgate", "merge", 0, json_pack("{s:s,"
		    "s:s}", "repo", m->repo->name, "error", m->err));
	if (fd != -1)
		(void)close(fd);
	for (k = 0; k < GG_MERGE_MAX_PACKS; k++)
		gg_merge_unmap(&packs[k]);
	free(packs);
}

static void
gg_merge_done(struct cm_job *job)
{
	struct gg_merge	*m = cm_job_arg(job);

	atomic_store(&gg_merge_running, 0);
	gg_merge_free(m);
}

static void
gg_merge_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gg_merge	*m = arg;
	struct cm_job	*job;
	struct timeval	 tv = { GG_MERGE_DELAY_S, 0 };

	/* At most one merge per process: later triggers wait their turn. */
	if (atomic_exchange(&gg_merge_running, 1) == 1) {
		if (event_add(m->ev, &tv) == -1)
			gg_merge_free(m);
		return;
	}
	/* The job owns it from here; its timer goes now, on this worker. */
	TAILQ_REMOVE(&m->gw->merges, m, entry);
	m->gw = NULL;
	event_free(m->ev);
	m->ev = NULL;
	if ((job = cm_job_new(NULL, gg_merge_run, gg_merge_done, m)) == NULL ||
	    cm_job_submit(job) == -1) {
		atomic_store(&gg_merge_running, 0);
		gg_merge_free(m);
	}
}

void
gg_merge_schedule(struct cm_worker *w, struct cm_snap *snap,
    const struct gg_repo *repo)
{
	struct gg_worker	*gw = gg_worker_of(w);
	struct gg_merge		*m;
	struct timeval		 tv = { GG_MERGE_DELAY_S, 0 };

	if (gw == NULL)
		return;
	/* Debounced: one pending merge per repo and worker is enough. */
	TAILQ_FOREACH(m, &gw->merges, entry)
		if (strcmp(m->repo->name, repo->name) == 0) {
			(void)event_add(m->ev, &tv);
			return;
		}
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return;
	m->snap = cm_snap_ref(snap);
	m->repo = repo;
	m->gw = gw;
	TAILQ_INSERT_TAIL(&gw->merges, m, entry);
	m->ev = evtimer_new(cm_worker_base(w), gg_merge_timer_cb, m);
	if (m->ev == NULL || event_add(m->ev, &tv) == -1)
		gg_merge_free(m);
}

void
gg_merge_worker_free(struct gg_worker *gw)
{
	while (!TAILQ_EMPTY(&gw->merges))
		gg_merge_free(TAILQ_FIRST(&gw->merges));
}
