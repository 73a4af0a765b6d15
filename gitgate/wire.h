/*
 * The lines of the v0/v1 exchanges (gitprotocol-pack(5)), parsed from
 * one pkt-line's data: receive-pack commands and upload-pack request
 * lines.  Pure functions over untrusted bytes; the fuzz targets call
 * them directly.
 */
#ifndef GG_WIRE_H
#define GG_WIRE_H

#include <stddef.h>

/* "<old> <new> <ref>[\0caps]" (a trailing LF already removed). */
struct gg_wire_cmd {
	unsigned char	 old[20];
	unsigned char	 new[20];
	const char	*ref;		/* into the line; not NUL-terminated */
	size_t		 reflen;
	const char	*caps;		/* after the NUL, or NULL */
	size_t		 capslen;
};

int	 gg_wire_command(const char *buf, size_t len, struct gg_wire_cmd *out,
	    const char **why);

enum gg_wire_kind {
	GG_WIRE_WANT,		/* oid, caps (the first want's) */
	GG_WIRE_SHALLOW,	/* oid */
	GG_WIRE_DEEPEN,		/* depth */
	GG_WIRE_DEEPEN_SINCE,
	GG_WIRE_DEEPEN_NOT,
	GG_WIRE_FILTER,
	GG_WIRE_HAVE,		/* oid */
	GG_WIRE_DONE,
};

struct gg_wire_line {
	enum gg_wire_kind kind;
	unsigned char	 oid[20];
	long		 depth;
	long long	 since;		/* deepen-since: seconds */
	const char	*arg;		/* deepen-not: the ref (to the end) */
	const char	*caps;		/* want: after the oid, or "" */
};

/*
 * One upload-pack request line (NUL-terminated data of len bytes, LF
 * removed).  0, or -1 with *why for anything git would refuse.
 */
int	 gg_wire_upload(const char *buf, size_t len, struct gg_wire_line *out,
	    const char **why);

#endif /* GG_WIRE_H */
