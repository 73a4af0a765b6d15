/*
 * Walks a pushed pack stream (gitprotocol-pack(5), gitformat-pack(5)) to
 * find where it ends and to enforce the limits before anything is
 * indexed (spec/gitgate.md §7.3): the header is checked at once, each
 * object's declared size against max_object_bytes, and each zlib
 * stream inflated into scratch only to find its end.  git://'s push
 * stream has no length, so this is how the gate knows the pack is
 * complete.  Pure computation; the fuzz targets drive it.
 */
#ifndef GG_PACKSCAN_H
#define GG_PACKSCAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <zlib.h>

enum gg_packscan_state {
	GG_PS_HEADER,
	GG_PS_OBJ,		/* an object's type/size varint */
	GG_PS_OFS,		/* OFS_DELTA base offset varint */
	GG_PS_REF,		/* REF_DELTA base id (20 bytes) */
	GG_PS_DATA,		/* the zlib stream */
	GG_PS_TRAILER,		/* the 20-byte checksum */
	GG_PS_DONE,
	GG_PS_FAILED,
};

struct gg_packscan {
	enum gg_packscan_state	 state;
	unsigned char		 hdr[12];
	size_t			 hdrlen;
	uint32_t		 version;
	uint32_t		 count;		/* declared objects */
	uint32_t		 seen;		/* objects fully read */
	uint64_t		 offset;	/* bytes consumed */
	uint64_t		 max_objects;
	uint64_t		 max_object_bytes;
	int			 type;
	uint64_t		 size;		/* declared, inflated */
	unsigned		 shift;
	size_t			 left;		/* REF id / trailer bytes */
	z_stream		 z;
	int			 zinit;
	uint64_t		 inflated;
	const char		*why;		/* GG_PS_FAILED */
	int			 limit;		/* the failure was a limit */
};

void	 gg_packscan_init(struct gg_packscan *ps, uint64_t max_objects,
	    uint64_t max_object_bytes);
void	 gg_packscan_free(struct gg_packscan *ps);
/*
 * Consumes up to len bytes; returns how many belong to the pack (fewer
 * than len only once GG_PS_DONE is reached), or -1 (GG_PS_FAILED,
 * ps->why).  Never reads past len.
 */
ssize_t	 gg_packscan_feed(struct gg_packscan *ps, const unsigned char *buf,
	    size_t len);

#endif /* GG_PACKSCAN_H */
