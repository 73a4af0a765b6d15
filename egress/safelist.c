/*
 * A small hash set under one mutex: it is consulted only when a scan
 * found something, never on the clean path.  eg_safelist_lock guards
 * eg_safelist_slots and eg_safelist_n.
 */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/bounds.h"
#include "egress/safelist.h"

/* Approvals are rare and human-paced: this many is plenty. */
#define EG_SAFELIST_SLOTS	4096

static pthread_mutex_t	 eg_safelist_lock = PTHREAD_MUTEX_INITIALIZER;
static char		*eg_safelist_slots[EG_SAFELIST_SLOTS];
static size_t		 eg_safelist_n;

static uint64_t
eg_safelist_hash(const char *s)
{
	uint64_t	 h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return (h);
}

/* "host\nkey", malloc'd. */
static char *
eg_safelist_entry(const char *host, const char *key)
{
	size_t	 hl = strlen(host), kl = strlen(key);
	char	*e;

	if ((e = malloc(hl + kl + 2)) == NULL)
		return (NULL);
	memcpy(e, host, hl);
	e[hl] = '\n';
	memcpy(e + hl + 1, key, kl + 1);
	return (e);
}

/* The slot holding e, or the empty one where it would go.  Lock held. */
static size_t
eg_safelist_find(const char *e)
{
	size_t	 i = eg_safelist_hash(e) % EG_SAFELIST_SLOTS, n;

	for (n = 0; n < EG_SAFELIST_SLOTS; n++) {
		if (eg_safelist_slots[i] == NULL ||
		    strcmp(eg_safelist_slots[i], e) == 0)
			return (i);
		i = (i + 1) % EG_SAFELIST_SLOTS;
	}
	return (EG_SAFELIST_SLOTS);
}

int
eg_safelist_has(const char *host, const char *key)
{
	char	*e = eg_safelist_entry(host, key);
	size_t	 i;
	int	 found;

	if (e == NULL)
		return (0);	/* not allowed: fail closed */
	pthread_mutex_lock(&eg_safelist_lock);
	i = eg_safelist_find(e);
	found = i < EG_SAFELIST_SLOTS && eg_safelist_slots[i] != NULL;
	pthread_mutex_unlock(&eg_safelist_lock);
	free(e);
	return (found);
}

int
eg_safelist_add(const char *host, const char *key)
{
	char	*e = eg_safelist_entry(host, key);
	size_t	 i;
	int	 rc = 0;

	if (e == NULL)
		return (-1);
	pthread_mutex_lock(&eg_safelist_lock);
	/* Keep a quarter free so probes stay short. */
	i = eg_safelist_find(e);
	if (i < EG_SAFELIST_SLOTS && eg_safelist_slots[i] != NULL) {
		free(e);
	} else if (i == EG_SAFELIST_SLOTS ||
	    eg_safelist_n >= EG_SAFELIST_SLOTS / 4 * 3) {
		free(e);
		rc = -1;
	} else {
		eg_safelist_slots[i] = e;
		eg_safelist_n++;
	}
	pthread_mutex_unlock(&eg_safelist_lock);
	return (rc);
}

size_t
eg_safelist_count(void)
{
	size_t	 n;

	pthread_mutex_lock(&eg_safelist_lock);
	n = eg_safelist_n;
	pthread_mutex_unlock(&eg_safelist_lock);
	return (n);
}
