/* Ref advertisements of both services (spec/gitgate.md §6.1, §7.1). */
#ifndef GG_ADV_H
#define GG_ADV_H

#include <stddef.h>

#include "gitgate/route.h"

struct evbuffer;
struct gg_refs;

/* The capability list of the first line. */
void	 gg_adv_caps(enum gg_svc svc, const struct gg_refs *refs, char *buf,
	    size_t size);
/*
 * The whole v0/v1 advertisement, ending with a flush; http adds the
 * "# service=git-SVC" preamble.  0 or -1 (out of memory).
 */
int	 gg_adv_write(struct evbuffer *out, const struct gg_refs *refs,
	    enum gg_svc svc, int version, int http);

#endif /* GG_ADV_H */
