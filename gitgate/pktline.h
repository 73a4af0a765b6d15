/*
 * pkt-line and sideband framing (spec/gitgate.md §2.5, gitprotocol-
 * common(5)), done once for every front and service.  The reader never
 * buffers more than one packet and refuses anything malformed.
 */
#ifndef GG_PKTLINE_H
#define GG_PKTLINE_H

#include <stdarg.h>
#include <stddef.h>

#include "common/bounds.h"

struct evbuffer;

enum gg_pkt_kind {
	GG_PKT_DATA,
	GG_PKT_FLUSH,		/* 0000 */
	GG_PKT_DELIM,		/* 0001, v2 only */
	GG_PKT_END,		/* 0002, v2 only */
};

struct gg_pkt {
	enum gg_pkt_kind kind;
	size_t		 len;			/* data bytes */
	char		 data[GG_PKT_DATA_MAX + 1];	/* NUL after len */
};

/* Sideband bands. */
#define GG_BAND_DATA		1
#define GG_BAND_PROGRESS	2
#define GG_BAND_ERROR		3

/*
 * Reads one packet from the front of in.  1: *pkt holds it and its
 * bytes are drained; 0: incomplete, nothing drained; -1: malformed
 * (*why), nothing drained.  v2 allows the delim and response-end
 * packets.
 */
int	 gg_pktline_read(struct evbuffer *in, int v2, struct gg_pkt *pkt,
	    const char **why);
/* The same over a flat buffer; *used is set to the packet's size. */
int	 gg_pktline_parse(const char *buf, size_t len, int v2,
	    struct gg_pkt *pkt, size_t *used, const char **why);
/* Drops one trailing LF of a text packet (input lines may lack it). */
void	 gg_pktline_chomp(struct gg_pkt *pkt);

/* Writers; each returns 0 or -1 (out of memory). */
int	 gg_pktline_write(struct evbuffer *out, const void *data, size_t len);
int	 gg_pktline_printf(struct evbuffer *out, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
int	 gg_pktline_vprintf(struct evbuffer *out, const char *fmt, va_list ap)
	    __attribute__((format(printf, 2, 0)));
int	 gg_pktline_flush(struct evbuffer *out);
int	 gg_pktline_delim(struct evbuffer *out);
/* data on band, split into packets of at most max data bytes. */
int	 gg_pktline_band(struct evbuffer *out, int band, const void *data,
	    size_t len, size_t max);
/* All of src on band (src ends empty). */
int	 gg_pktline_band_buf(struct evbuffer *out, int band,
	    struct evbuffer *src, size_t max);
/* The data limit per sideband packet: 65515 (64k) or 995. */
size_t	 gg_pktline_band_max(int sideband64k);

/* 40 lowercase or uppercase hex digits to 20 bytes; 0 or -1. */
int	 gg_pktline_oid(const char *hex, size_t len, unsigned char oid[20]);
/* Up to 32 bytes as hex, for proto_error logs. */
void	 gg_pktline_hex(const void *buf, size_t len, char *out,
	    size_t outlen);

#endif /* GG_PKTLINE_H */
