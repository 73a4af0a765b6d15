/*
 * Sets of object ids and oid-to-int maps (open addressing; object ids
 * are uniform, so their first bytes are the hash).  One owner, no lock.
 */
#ifndef GG_OIDSET_H
#define GG_OIDSET_H

#include <stddef.h>

#include <git2.h>

struct gg_oidset {
	git_oid		*slot;
	int		*val;		/* maps only */
	unsigned char	*used;
	size_t		 cap;		/* a power of two, or 0 */
	size_t		 n;
	int		 map;
};

void	 gg_oidset_init(struct gg_oidset *s, int map);
void	 gg_oidset_free(struct gg_oidset *s);
/* 1 added, 0 already there, -1 out of memory. */
int	 gg_oidset_add(struct gg_oidset *s, const git_oid *oid);
int	 gg_oidset_has(const struct gg_oidset *s, const git_oid *oid);
/* Maps: sets or reads the value; get returns 0 when absent. */
int	 gg_oidset_put(struct gg_oidset *s, const git_oid *oid, int val);
int	 gg_oidset_get(const struct gg_oidset *s, const git_oid *oid,
	    int *val);

/* A growing array of oids. */
struct gg_oidvec {
	git_oid		*v;
	size_t		 n;
	size_t		 cap;
};

int	 gg_oidvec_push(struct gg_oidvec *a, const git_oid *oid);
void	 gg_oidvec_free(struct gg_oidvec *a);

/* A growing array of strings (copied). */
struct gg_strvec {
	char		**v;
	size_t		 n;
};

int	 gg_strvec_push(struct gg_strvec *a, const char *s, size_t len);
void	 gg_strvec_free(struct gg_strvec *a);

#endif /* GG_OIDSET_H */
