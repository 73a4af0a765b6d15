/* v0/v1 request and command lines (spec/gitgate.md §6.2, §7.2). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/bounds.h"
#include "gitgate/negotiate.h"
#include "gitgate/pktline.h"
#include "gitgate/wire.h"

int
gg_wire_command(const char *buf, size_t len, struct gg_wire_cmd *out,
    const char **why)
{
	const char	*nul = memchr(buf, '\0', len);
	size_t		 rl = nul != NULL ? (size_t)(nul - buf) : len;

	memset(out, 0, sizeof(*out));
	if (rl < 83 || buf[40] != ' ' || buf[81] != ' ') {
		*why = "malformed receive-pack command";
		return (-1);
	}
	if (gg_pktline_oid(buf, 40, out->old) == -1 ||
	    gg_pktline_oid(buf + 41, 40, out->new) == -1) {
		*why = "bad oid in a receive-pack command";
		return (-1);
	}
	out->ref = buf + 82;
	out->reflen = rl - 82;
	if (memchr(out->ref, ' ', out->reflen) != NULL) {
		*why = "malformed receive-pack command";
		return (-1);
	}
	if (nul != NULL) {
		out->caps = nul + 1;
		out->capslen = len - rl - 1;
	}
	return (0);
}

static int
gg_wire_oid_line(const char *p, size_t len, unsigned char oid[20],
    int caps_allowed)
{
	if (len < 40 || gg_pktline_oid(p, 40, oid) == -1)
		return (-1);
	if (len > 40 && (!caps_allowed || p[40] != ' '))
		return (-1);
	return (0);
}

int
gg_wire_upload(const char *buf, size_t len, struct gg_wire_line *out,
    const char **why)
{
	char	*end;
	long	 d;

	memset(out, 0, sizeof(*out));
	if (len >= 5 && memcmp(buf, "want ", 5) == 0) {
		out->kind = GG_WIRE_WANT;
		if (gg_wire_oid_line(buf + 5, len - 5, out->oid, 1) == -1) {
			*why = "bad oid in a want line";
			return (-1);
		}
		out->caps = len > 45 ? buf + 46 : "";
		return (0);
	}
	if (len >= 5 && memcmp(buf, "have ", 5) == 0) {
		out->kind = GG_WIRE_HAVE;
		if (gg_wire_oid_line(buf + 5, len - 5, out->oid, 0) == -1) {
			*why = "bad oid in a have line";
			return (-1);
		}
		return (0);
	}
	if (len >= 8 && memcmp(buf, "shallow ", 8) == 0) {
		out->kind = GG_WIRE_SHALLOW;
		if (gg_wire_oid_line(buf + 8, len - 8, out->oid, 0) == -1) {
			*why = "bad oid in a shallow line";
			return (-1);
		}
		return (0);
	}
	if (len > 7 && memcmp(buf, "deepen ", 7) == 0) {
		out->kind = GG_WIRE_DEEPEN;
		errno = 0;
		d = strtol(buf + 7, &end, 10);
		if (end != buf + len || errno != 0 || d < 1 ||
		    d > GG_DEPTH_INFINITE || buf[7] == '+' || buf[7] == ' ') {
			*why = "bad deepen line";
			return (-1);
		}
		out->depth = d;
		return (0);
	}
	if (len > 13 && memcmp(buf, "deepen-since ", 13) == 0) {
		out->kind = GG_WIRE_DEEPEN_SINCE;
		errno = 0;
		out->since = strtoll(buf + 13, &end, 10);
		if (end != buf + len || errno != 0 || out->since <= 0 ||
		    buf[13] == '+' || buf[13] == ' ') {
			*why = "bad deepen-since line";
			return (-1);
		}
		return (0);
	}
	if (len > 11 && memcmp(buf, "deepen-not ", 11) == 0) {
		out->kind = GG_WIRE_DEEPEN_NOT;
		out->arg = buf + 11;
		if (len - 11 > GG_MAX_REF_BYTES ||
		    memchr(out->arg, '\0', len - 11) != NULL) {
			*why = "bad deepen-not line";
			return (-1);
		}
		return (0);
	}
	if (len >= 7 && memcmp(buf, "filter ", 7) == 0) {
		out->kind = GG_WIRE_FILTER;
		return (0);
	}
	if (len == 4 && memcmp(buf, "done", 4) == 0) {
		out->kind = GG_WIRE_DONE;
		return (0);
	}
	*why = "unknown line in an upload-pack request";
	return (-1);
}
