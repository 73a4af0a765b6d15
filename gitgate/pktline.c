/*
 * pkt-line framing (gitprotocol-common(5)): four hex digits counting
 * themselves, 0000 flush, 0001/0002 in v2, data up to 65520 in all.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "gitgate/pktline.h"

static int
gg_pktline_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

static int
gg_pktline_len(const char hdr[4], size_t *len)
{
	size_t	 i, n = 0;
	int	 v;

	for (i = 0; i < 4; i++) {
		if ((v = gg_pktline_hexval((unsigned char)hdr[i])) == -1)
			return (-1);
		n = (n << 4) | (size_t)v;
	}
	*len = n;
	return (0);
}

int
gg_pktline_parse(const char *buf, size_t avail, int v2, struct gg_pkt *pkt,
    size_t *used, const char **why)
{
	size_t	 len;

	if (avail < 4)
		return (0);
	if (gg_pktline_len(buf, &len) == -1) {
		*why = "bad pkt-line length (not hex)";
		return (-1);
	}
	if (len == 0 || (v2 && (len == 1 || len == 2))) {
		pkt->kind = len == 0 ? GG_PKT_FLUSH : len == 1 ? GG_PKT_DELIM :
		    GG_PKT_END;
		pkt->len = 0;
		pkt->data[0] = '\0';
		*used = 4;
		return (1);
	}
	if (len < 4) {
		*why = "bad pkt-line length (1-3)";
		return (-1);
	}
	if (len > GG_PKT_MAX) {
		*why = "pkt-line longer than 65520 bytes";
		return (-1);
	}
	if (avail < len)
		return (0);
	pkt->kind = GG_PKT_DATA;
	pkt->len = len - 4;
	memcpy(pkt->data, buf + 4, pkt->len);
	pkt->data[pkt->len] = '\0';
	*used = len;
	return (1);
}

int
gg_pktline_read(struct evbuffer *in, int v2, struct gg_pkt *pkt,
    const char **why)
{
	char	 hdr[4];
	size_t	 len, used;
	int	 rc;

	if (evbuffer_copyout(in, hdr, 4) != 4)
		return (0);
	if (gg_pktline_len(hdr, &len) == -1) {
		*why = "bad pkt-line length (not hex)";
		return (-1);
	}
	if (len >= 4 && len <= GG_PKT_MAX && evbuffer_get_length(in) < len)
		return (0);
	if (len < 4)
		rc = gg_pktline_parse(hdr, 4, v2, pkt, &used, why);
	else if (len > GG_PKT_MAX) {
		*why = "pkt-line longer than 65520 bytes";
		return (-1);
	} else {
		/* Contiguous only up to one packet: bounded by GG_PKT_MAX. */
		rc = gg_pktline_parse((const char *)evbuffer_pullup(in,
		    (ssize_t)len), len, v2, pkt, &used, why);
	}
	if (rc == 1)
		(void)evbuffer_drain(in, used);
	return (rc);
}

void
gg_pktline_chomp(struct gg_pkt *pkt)
{
	if (pkt->kind == GG_PKT_DATA && pkt->len > 0 &&
	    pkt->data[pkt->len - 1] == '\n')
		pkt->data[--pkt->len] = '\0';
}

int
gg_pktline_write(struct evbuffer *out, const void *data, size_t len)
{
	char	 hdr[5];

	if (len > GG_PKT_DATA_MAX)
		return (-1);
	(void)snprintf(hdr, sizeof(hdr), "%04zx", len + 4);
	if (evbuffer_add(out, hdr, 4) == -1 ||
	    evbuffer_add(out, data, len) == -1)
		return (-1);
	return (0);
}

int
gg_pktline_vprintf(struct evbuffer *out, const char *fmt, va_list ap)
{
	char	 buf[GG_PKT_DATA_MAX + 1];
	int	 n;

	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	if (n < 0)
		return (-1);
	if ((size_t)n > GG_PKT_DATA_MAX)
		n = GG_PKT_DATA_MAX;
	return (gg_pktline_write(out, buf, (size_t)n));
}

int
gg_pktline_printf(struct evbuffer *out, const char *fmt, ...)
{
	va_list	 ap;
	int	 rc;

	va_start(ap, fmt);
	rc = gg_pktline_vprintf(out, fmt, ap);
	va_end(ap);
	return (rc);
}

int
gg_pktline_flush(struct evbuffer *out)
{
	return (evbuffer_add(out, "0000", 4));
}

int
gg_pktline_delim(struct evbuffer *out)
{
	return (evbuffer_add(out, "0001", 4));
}

size_t
gg_pktline_band_max(int sideband64k)
{
	return (sideband64k ? GG_PKT_MAX - 5 : GG_PKT_SMALL_MAX - 5);
}

int
gg_pktline_band(struct evbuffer *out, int band, const void *data, size_t len,
    size_t max)
{
	const unsigned char	*p = data;
	char			 hdr[6];
	size_t			 n;

	if (max == 0 || max > GG_PKT_MAX - 5)
		max = GG_PKT_MAX - 5;
	do {
		n = len < max ? len : max;
		(void)snprintf(hdr, sizeof(hdr), "%04zx", n + 5);
		hdr[4] = (char)band;
		if (evbuffer_add(out, hdr, 5) == -1 ||
		    evbuffer_add(out, p, n) == -1)
			return (-1);
		p += n;
		len -= n;
	} while (len > 0);
	return (0);
}

int
gg_pktline_band_buf(struct evbuffer *out, int band, struct evbuffer *src,
    size_t max)
{
	char	 hdr[6];
	size_t	 n;

	if (max == 0 || max > GG_PKT_MAX - 5)
		max = GG_PKT_MAX - 5;
	while ((n = evbuffer_get_length(src)) > 0) {
		if (n > max)
			n = max;
		(void)snprintf(hdr, sizeof(hdr), "%04zx", n + 5);
		hdr[4] = (char)band;
		if (evbuffer_add(out, hdr, 5) == -1 ||
		    evbuffer_remove_buffer(src, out, n) != (int)n)
			return (-1);
	}
	return (0);
}

int
gg_pktline_oid(const char *hex, size_t len, unsigned char oid[20])
{
	size_t	 i;
	int	 hi, lo;

	if (len < 40)
		return (-1);
	for (i = 0; i < 20; i++) {
		hi = gg_pktline_hexval((unsigned char)hex[2 * i]);
		lo = gg_pktline_hexval((unsigned char)hex[2 * i + 1]);
		if (hi == -1 || lo == -1)
			return (-1);
		oid[i] = (unsigned char)((hi << 4) | lo);
	}
	return (0);
}

void
gg_pktline_hex(const void *buf, size_t len, char *out, size_t outlen)
{
	const unsigned char	*p = buf;
	size_t			 i, o = 0;

	if (outlen == 0)
		return;
	out[0] = '\0';
	for (i = 0; i < len && i < 32 && o + 3 <= outlen; i++)
		o += (size_t)snprintf(out + o, outlen - o, "%02x", p[i]);
}
