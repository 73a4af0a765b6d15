/* Object id sets and maps for walks (negotiation, packing, the scan). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gitgate/oidset.h"

void
gg_oidset_init(struct gg_oidset *s, int map)
{
	memset(s, 0, sizeof(*s));
	s->map = map;
}

void
gg_oidset_free(struct gg_oidset *s)
{
	free(s->slot);
	free(s->val);
	free(s->used);
	memset(s, 0, sizeof(*s));
}

static size_t
gg_oidset_hash(const git_oid *oid)
{
	uint64_t	 h;

	memcpy(&h, oid->id, sizeof(h));
	return ((size_t)h);
}

static size_t
gg_oidset_find(const struct gg_oidset *s, const git_oid *oid, int *found)
{
	size_t	 i = gg_oidset_hash(oid) & (s->cap - 1);

	while (s->used[i]) {
		if (git_oid_equal(&s->slot[i], oid)) {
			*found = 1;
			return (i);
		}
		i = (i + 1) & (s->cap - 1);
	}
	*found = 0;
	return (i);
}

static int
gg_oidset_grow(struct gg_oidset *s)
{
	struct gg_oidset	 n;
	size_t			 i, j;
	int			 f;

	memset(&n, 0, sizeof(n));
	n.map = s->map;
	n.cap = s->cap ? s->cap * 2 : 64;
	n.slot = calloc(n.cap, sizeof(*n.slot));
	n.used = calloc(n.cap, 1);
	if (s->map)
		n.val = calloc(n.cap, sizeof(*n.val));
	if (n.slot == NULL || n.used == NULL || (s->map && n.val == NULL)) {
		gg_oidset_free(&n);
		return (-1);
	}
	for (i = 0; i < s->cap; i++) {
		if (!s->used[i])
			continue;
		j = gg_oidset_find(&n, &s->slot[i], &f);
		n.used[j] = 1;
		git_oid_cpy(&n.slot[j], &s->slot[i]);
		if (s->map)
			n.val[j] = s->val[i];
	}
	n.n = s->n;
	gg_oidset_free(s);
	*s = n;
	return (0);
}

int
gg_oidset_put(struct gg_oidset *s, const git_oid *oid, int val)
{
	size_t	 i;
	int	 f;

	if ((s->n + 1) * 2 > s->cap && gg_oidset_grow(s) == -1)
		return (-1);
	i = gg_oidset_find(s, oid, &f);
	if (s->map)
		s->val[i] = val;
	if (f)
		return (0);
	s->used[i] = 1;
	git_oid_cpy(&s->slot[i], oid);
	s->n++;
	return (1);
}

int
gg_oidset_add(struct gg_oidset *s, const git_oid *oid)
{
	int	 f;

	if (s->cap > 0) {
		(void)gg_oidset_find(s, oid, &f);
		if (f)
			return (0);
	}
	return (gg_oidset_put(s, oid, 0));
}

int
gg_oidset_has(const struct gg_oidset *s, const git_oid *oid)
{
	int	 f;

	if (s->cap == 0)
		return (0);
	(void)gg_oidset_find(s, oid, &f);
	return (f);
}

int
gg_oidset_get(const struct gg_oidset *s, const git_oid *oid, int *val)
{
	size_t	 i;
	int	 f;

	if (s->cap == 0)
		return (0);
	i = gg_oidset_find(s, oid, &f);
	if (f && s->map)
		*val = s->val[i];
	return (f);
}

int
gg_oidvec_push(struct gg_oidvec *a, const git_oid *oid)
{
	git_oid	*nv;

	if (a->n == a->cap) {
		nv = reallocarray(a->v, a->cap ? a->cap * 2 : 16, sizeof(*nv));
		if (nv == NULL)
			return (-1);
		a->v = nv;
		a->cap = a->cap ? a->cap * 2 : 16;
	}
	git_oid_cpy(&a->v[a->n++], oid);
	return (0);
}

void
gg_oidvec_free(struct gg_oidvec *a)
{
	free(a->v);
	memset(a, 0, sizeof(*a));
}

int
gg_strvec_push(struct gg_strvec *a, const char *s, size_t len)
{
	char	**nv;

	if ((nv = reallocarray(a->v, a->n + 1, sizeof(*nv))) == NULL)
		return (-1);
	a->v = nv;
	if ((a->v[a->n] = strndup(s, len)) == NULL)
		return (-1);
	a->n++;
	return (0);
}

void
gg_strvec_free(struct gg_strvec *a)
{
	size_t	 i;

	for (i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	memset(a, 0, sizeof(*a));
}
