/* receive-pack (placeholder while being written). */
#include "config.h"

#include <stdlib.h>

#include "gitgate/sess.h"

struct gg_receive {
	struct gg_sess	*s;
};

struct gg_receive *
gg_receive_new(struct gg_sess *s)
{
	struct gg_receive	*r = calloc(1, sizeof(*r));

	if (r != NULL)
		r->s = s;
	return (r);
}

void
gg_receive_free(struct gg_receive *r)
{
	free(r);
}

void
gg_receive_start(struct gg_receive *r)
{
	gg_sess_fail(r->s, 503, "bb-sidecar: push is not available yet");
}

void
gg_receive_input(struct gg_receive *r)
{
}

void
gg_receive_tick(struct gg_receive *r, uint64_t now)
{
}

void
gg_receive_abort(struct gg_receive *r)
{
}
