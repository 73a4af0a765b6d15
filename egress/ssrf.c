/*
 * The SSRF guard (spec/egress.md §11.2): which origin addresses egress
 * refuses to connect to unless the route allows private addresses or the
 * address came from egress.resolve.  The tables are the spec's list, in
 * its order; an IPv6 address that carries an IPv4 one (mapped, NAT64,
 * 6to4) is judged by the IPv4 address inside, so no family hides a
 * private target.
 */
#include "config.h"

#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "egress/upstream.h"

struct eg_ssrf_v4 {
	uint32_t	 net;		/* host order */
	int		 bits;
};

struct eg_ssrf_v6 {
	uint8_t		 net[16];
	int		 bits;
};

static const struct eg_ssrf_v4 eg_ssrf_v4_blocked[] = {
	{ 0x00000000, 8 },	/* 0.0.0.0/8 "this network" */
	{ 0x0a000000, 8 },	/* 10/8 */
	{ 0x64400000, 10 },	/* 100.64/10 carrier-grade NAT */
	{ 0x7f000000, 8 },	/* 127/8 loopback */
	{ 0xa9fe0000, 16 },	/* 169.254/16 link-local, cloud metadata */
	{ 0xac100000, 12 },	/* 172.16/12 */
	{ 0xc0000000, 24 },	/* 192.0.0/24 IETF protocol assignments */
	{ 0xc0000200, 24 },	/* 192.0.2/24 TEST-NET-1 */
	{ 0xc0586300, 24 },	/* 192.88.99/24 6to4 relay anycast */
	{ 0xc0a80000, 16 },	/* 192.168/16 */
	{ 0xc6120000, 15 },	/* 198.18/15 benchmarking */
	{ 0xc6336400, 24 },	/* 198.51.100/24 TEST-NET-2 */
	{ 0xcb007100, 24 },	/* 203.0.113/24 TEST-NET-3 */
	{ 0xe0000000, 4 },	/* 224/4 multicast */
	{ 0xf0000000, 4 },	/* 240/4 reserved, with 255.255.255.255 */
	{ 0xa83f8110, 32 },	/* 168.63.129.16 Azure host services */
};

static const struct eg_ssrf_v6 eg_ssrf_v6_blocked[] = {
	{ { 0 }, 128 },					/* :: */
	{ { [15] = 1 }, 128 },				/* ::1 */
	{ { 0 }, 96 },					/* ::/96 compatible */
	{ { 0x01, 0x00 }, 64 },				/* 100::/64 discard */
	{ { 0x20, 0x01, 0x00, 0x00 }, 32 },		/* 2001::/32 Teredo */
	{ { 0x20, 0x01, 0x0d, 0xb8 }, 32 },		/* 2001:db8::/32 */
	{ { 0x00, 0x64, 0xff, 0x9b, 0x00, 0x01 }, 48 },	/* 64:ff9b:1::/48 */
	{ { 0xfc }, 7 },				/* fc00::/7 ULA */
	{ { 0xfe, 0x80 }, 10 },				/* fe80::/10 */
	{ { 0xfe, 0xc0 }, 10 },				/* fec0::/10 */
	{ { 0xff }, 8 },				/* ff00::/8 multicast */
};

/* Prefixes whose IPv4 payload is checked: (prefix, bits, byte offset). */
static const struct {
	uint8_t		 net[16];
	int		 bits;
	int		 v4_at;
} eg_ssrf_v6_embed[] = {
	/* ::ffff:0:0/96, IPv4-mapped */
	{ { [10] = 0xff, [11] = 0xff }, 96, 12 },
	/* 64:ff9b::/96, NAT64 well-known prefix */
	{ { 0x00, 0x64, 0xff, 0x9b }, 96, 12 },
	/* 2002::/16, 6to4: the IPv4 address is bits 16..47 */
	{ { 0x20, 0x02 }, 16, 2 },
};

static int	 eg_ssrf_v4(uint32_t a);
static int	 eg_ssrf_prefix(const uint8_t *a, const uint8_t *net, int bits);

static int
eg_ssrf_v4(uint32_t a)
{
	size_t	 i;

	for (i = 0; i < sizeof(eg_ssrf_v4_blocked) /
	    sizeof(eg_ssrf_v4_blocked[0]); i++) {
		int		 bits = eg_ssrf_v4_blocked[i].bits;
		uint32_t	 mask = bits == 0 ? 0 :
		    (uint32_t)0xffffffffu << (32 - bits);

		if ((a & mask) == eg_ssrf_v4_blocked[i].net)
			return (1);
	}
	return (0);
}

/* 1 when the first bits of a equal those of net. */
static int
eg_ssrf_prefix(const uint8_t *a, const uint8_t *net, int bits)
{
	int	 full = bits / 8, rest = bits % 8;

	if (memcmp(a, net, (size_t)full) != 0)
		return (0);
	if (rest == 0)
		return (1);
	return (((a[full] ^ net[full]) & (0xff << (8 - rest)) & 0xff) == 0);
}

int
eg_ssrf_blocked(const struct sockaddr *sa)
{
	const uint8_t	*a;
	size_t		 i;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)
		    (const void *)sa;

		return (eg_ssrf_v4(ntohl(sin->sin_addr.s_addr)));
	}
	if (sa->sa_family != AF_INET6)
		return (1);	/* not an address egress dials: refuse */
	a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
	for (i = 0; i < sizeof(eg_ssrf_v6_blocked) /
	    sizeof(eg_ssrf_v6_blocked[0]); i++)
		if (eg_ssrf_prefix(a, eg_ssrf_v6_blocked[i].net,
		    eg_ssrf_v6_blocked[i].bits))
			return (1);
	for (i = 0; i < sizeof(eg_ssrf_v6_embed) /
	    sizeof(eg_ssrf_v6_embed[0]); i++) {
		const uint8_t	*v = a + eg_ssrf_v6_embed[i].v4_at;

		if (eg_ssrf_prefix(a, eg_ssrf_v6_embed[i].net,
		    eg_ssrf_v6_embed[i].bits))
			return (eg_ssrf_v4((uint32_t)v[0] << 24 |
			    (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 |
			    (uint32_t)v[3]));
	}
	return (0);
}
