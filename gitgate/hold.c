/* Inline suppression holds (placeholder while being written). */
#include "config.h"

#include "gitgate/push.h"
#include "gitgate/receive.h"
#include "gitgate/sess.h"

void
gg_hold_start(struct gg_receive *r)
{
	gg_receive_ng_pending(r, "approval_unavailable", "operator approval "
	    "unavailable: not built yet");
	gg_receive_report(r);
}

void
gg_hold_tick(struct gg_receive *r, uint64_t now)
{
}

void
gg_hold_cancel(struct gg_receive *r)
{
}
