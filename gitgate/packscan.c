/*
 * A pack stream's structure: "PACK", version 2 or 3, a count, then each
 * object as a type/size varint, a delta base for OFS/REF deltas, and a
 * zlib stream; then a 20-byte trailer.  Only the structure is checked
 * here (libgit2's indexer verifies content and the checksum).
 */
#include "config.h"

#include <string.h>

#include "gitgate/packscan.h"

/* Inflated bytes are thrown away; only the stream's end matters. */
#define GG_PS_SCRATCH	16384

void
gg_packscan_init(struct gg_packscan *ps, uint64_t max_objects,
    uint64_t max_object_bytes)
{
	memset(ps, 0, sizeof(*ps));
	ps->state = GG_PS_HEADER;
	ps->max_objects = max_objects;
	ps->max_object_bytes = max_object_bytes;
}

void
gg_packscan_free(struct gg_packscan *ps)
{
	if (ps->zinit)
		inflateEnd(&ps->z);
	ps->zinit = 0;
}

static ssize_t
gg_packscan_fail(struct gg_packscan *ps, const char *why, int limit)
{
	ps->state = GG_PS_FAILED;
	ps->why = why;
	ps->limit = limit;
	gg_packscan_free(ps);
	return (-1);
}

static void
gg_packscan_next(struct gg_packscan *ps)
{
	ps->seen++;
	if (ps->seen == ps->count) {
		ps->state = GG_PS_TRAILER;
		ps->left = 20;
	} else
		ps->state = GG_PS_OBJ;
	ps->shift = 0;
	ps->size = 0;
}

ssize_t
gg_packscan_feed(struct gg_packscan *ps, const unsigned char *buf,
    size_t len)
{
	unsigned char	 scratch[GG_PS_SCRATCH];
	size_t		 i = 0, n, used;
	unsigned char	 c;
	int		 zr;

	if (ps->state == GG_PS_FAILED)
		return (-1);
	while (i < len && ps->state != GG_PS_DONE) {
		switch (ps->state) {
		case GG_PS_HEADER:
			n = 12 - ps->hdrlen;
			if (n > len - i)
				n = len - i;
			memcpy(ps->hdr + ps->hdrlen, buf + i, n);
			ps->hdrlen += n;
			i += n;
			if (ps->hdrlen < 12)
				break;
			if (memcmp(ps->hdr, "PACK", 4) != 0)
				return (gg_packscan_fail(ps, "not a pack "
				    "(no PACK signature)", 0));
			ps->version = ((uint32_t)ps->hdr[4] << 24) |
			    ((uint32_t)ps->hdr[5] << 16) |
			    ((uint32_t)ps->hdr[6] << 8) | ps->hdr[7];
			ps->count = ((uint32_t)ps->hdr[8] << 24) |
			    ((uint32_t)ps->hdr[9] << 16) |
			    ((uint32_t)ps->hdr[10] << 8) | ps->hdr[11];
			if (ps->version != 2 && ps->version != 3)
				return (gg_packscan_fail(ps, "unsupported pack "
				    "version", 0));
			if (ps->count > ps->max_objects)
				return (gg_packscan_fail(ps, "pack exceeds "
				    "max_pack_objects", 1));
			if (ps->count == 0) {
				ps->state = GG_PS_TRAILER;
				ps->left = 20;
			} else
				ps->state = GG_PS_OBJ;
			break;
		case GG_PS_OBJ:
			c = buf[i++];
			if (ps->shift == 0) {
				ps->type = (c >> 4) & 7;
				ps->size = c & 15;
				ps->shift = 4;
				if (ps->type == 0 || ps->type == 5)
					return (gg_packscan_fail(ps,
					    "bad object type in the pack", 0));
			} else {
				if (ps->shift > 57)
					return (gg_packscan_fail(ps,
					    "bad object size in the pack", 0));
				ps->size |= (uint64_t)(c & 0x7f) << ps->shift;
				ps->shift += 7;
			}
			if (c & 0x80)
				break;
			if (ps->size > ps->max_object_bytes)
				return (gg_packscan_fail(ps, "object exceeds "
				    "max_object_bytes", 1));
			ps->shift = 0;
			if (ps->type == 6)
				ps->state = GG_PS_OFS;
			else if (ps->type == 7) {
				ps->state = GG_PS_REF;
				ps->left = 20;
			} else
				ps->state = GG_PS_DATA;
			break;
		case GG_PS_OFS:
			c = buf[i++];
			if (++ps->shift > 10)
				return (gg_packscan_fail(ps, "bad delta "
				    "offset in the pack", 0));
			if (!(c & 0x80)) {
				ps->shift = 0;
				ps->state = GG_PS_DATA;
			}
			break;
		case GG_PS_REF:
			n = ps->left < len - i ? ps->left : len - i;
			ps->left -= n;
			i += n;
			if (ps->left == 0)
				ps->state = GG_PS_DATA;
			break;
		case GG_PS_DATA:
			if (!ps->zinit) {
				memset(&ps->z, 0, sizeof(ps->z));
				if (inflateInit(&ps->z) != Z_OK)
					return (gg_packscan_fail(ps, "out of "
					    "memory", 0));
				ps->zinit = 1;
				ps->inflated = 0;
			}
			ps->z.next_in = (unsigned char *)(uintptr_t)(buf + i);
			ps->z.avail_in = (uInt)(len - i > 1048576 ? 1048576 :
			    len - i);
			used = ps->z.avail_in;
			do {
				ps->z.next_out = scratch;
				ps->z.avail_out = sizeof(scratch);
				zr = inflate(&ps->z, Z_NO_FLUSH);
				ps->inflated += sizeof(scratch) -
				    ps->z.avail_out;
				if (ps->inflated > ps->size)
					return (gg_packscan_fail(ps, "object "
					    "larger than its header says", 0));
			} while (zr == Z_OK && ps->z.avail_in > 0);
			i += used - ps->z.avail_in;
			if (zr == Z_STREAM_END) {
				if (ps->inflated != ps->size)
					return (gg_packscan_fail(ps, "object "
					    "size does not match its header",
					    0));
				inflateEnd(&ps->z);
				ps->zinit = 0;
				gg_packscan_next(ps);
			} else if (zr != Z_OK && zr != Z_BUF_ERROR)
				return (gg_packscan_fail(ps, "corrupt object "
				    "data in the pack", 0));
			break;
		case GG_PS_TRAILER:
			n = ps->left < len - i ? ps->left : len - i;
			ps->left -= n;
			i += n;
			if (ps->left == 0)
				ps->state = GG_PS_DONE;
			break;
		default:
			return (gg_packscan_fail(ps, "internal error", 0));
		}
	}
	ps->offset += i;
	return ((ssize_t)i);
}
