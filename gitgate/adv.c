/*
 * Ref advertisements (spec/gitgate.md §6.1, §7.1): HEAD first for
 * upload-pack, refs in bytewise order, peeled tags after their tag,
 * capabilities on the first line, the "# service=" preamble on HTTP.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "gitgate/adv.h"
#include "gitgate/gg.h"
#include "gitgate/mirror.h"
#include "gitgate/pktline.h"

static const char gg_adv_zero[] = "0000000000000000000000000000000000000000";

void
gg_adv_caps(enum gg_svc svc, const struct gg_refs *refs, char *buf,
    size_t size)
{
	if (svc == GG_SVC_RECEIVE) {
		(void)snprintf(buf, size, "report-status delete-refs "
		    "side-band-64k quiet ofs-delta object-format=sha1 "
		    "agent=bb-sidecar/%s", gg_agent());
		return;
	}
	if (refs->head_ok)
		(void)snprintf(buf, size, "multi_ack_detailed side-band "
		    "side-band-64k ofs-delta shallow deepen-since deepen-not "
		    "deepen-relative no-progress include-tag symref=HEAD:%s "
		    "object-format=sha1 agent=bb-sidecar/%s", refs->head,
		    gg_agent());
	else
		(void)snprintf(buf, size, "multi_ack_detailed side-band "
		    "side-band-64k ofs-delta shallow deepen-since deepen-not "
		    "deepen-relative no-progress include-tag "
		    "object-format=sha1 agent=bb-sidecar/%s", gg_agent());
}

int
gg_adv_write(struct evbuffer *out, const struct gg_refs *refs,
    enum gg_svc svc, int version, int http)
{
	char		 caps[512], hex[GIT_OID_HEXSZ + 1];
	const char	*svcname = svc == GG_SVC_UPLOAD ? "git-upload-pack" :
			    "git-receive-pack";
	size_t		 i;
	int		 first = 1;

	if (http && (gg_pktline_printf(out, "# service=%s\n", svcname) == -1 ||
	    gg_pktline_flush(out) == -1))
		return (-1);
	if (version == 1 && gg_pktline_printf(out, "version 1\n") == -1)
		return (-1);
	gg_adv_caps(svc, refs, caps, sizeof(caps));
	if (svc == GG_SVC_UPLOAD && refs->head_ok) {
		git_oid_tostr(hex, sizeof(hex), &refs->head_oid);
		if (gg_pktline_printf(out, "%s HEAD%c%s\n", hex, '\0', caps)
		    == -1)
			return (-1);
		first = 0;
	}
	for (i = 0; i < refs->n; i++) {
		const struct gg_ref *r = &refs->v[i];

		git_oid_tostr(hex, sizeof(hex), &r->oid);
		if (first) {
			if (gg_pktline_printf(out, "%s %s%c%s\n", hex, r->name,
			    '\0', caps) == -1)
				return (-1);
			first = 0;
		} else if (gg_pktline_printf(out, "%s %s\n", hex, r->name) ==
		    -1)
			return (-1);
		if (r->has_peeled) {
			git_oid_tostr(hex, sizeof(hex), &r->peeled);
			if (gg_pktline_printf(out, "%s %s^{}\n", hex,
			    r->name) == -1)
				return (-1);
		}
	}
	if (first && gg_pktline_printf(out, "%s capabilities^{}%c%s\n",
	    gg_adv_zero, '\0', caps) == -1)
		return (-1);
	return (gg_pktline_flush(out));
}
