/*
 * The SSRF guard (spec/egress.md §11.2): every range of the spec at its
 * first and last address, and the address just outside each end, in
 * IPv4, IPv6 and the IPv6 forms that carry an IPv4 address.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "egress/upstream.h"

static int
blocked(const char *addr)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1)
		sin->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1)
		sin6->sin6_family = AF_INET6;
	else
		fail_msg("bad test address %s", addr);
	return (eg_ssrf_blocked((struct sockaddr *)&ss));
}

#define BLOCKED(a)	do {						\
	if (blocked(a) != 1)						\
		fail_msg("%s should be blocked", (a));			\
} while (0)
#define ALLOWED(a)	do {						\
	if (blocked(a) != 0)						\
		fail_msg("%s should be allowed", (a));			\
} while (0)

/* A range's first and last address are in; the neighbours are out. */
static void
range4(const char *before, const char *first, const char *last,
    const char *after)
{
	if (before != NULL)
		ALLOWED(before);
	BLOCKED(first);
	BLOCKED(last);
	if (after != NULL)
		ALLOWED(after);
}

static void
test_ipv4_ranges(void **state)
{
	(void)state;
	range4(NULL, "0.0.0.0", "0.255.255.255", "1.0.0.0");
	range4("9.255.255.255", "10.0.0.0", "10.255.255.255", "11.0.0.0");
	range4("100.63.255.255", "100.64.0.0", "100.127.255.255",
	    "100.128.0.0");
	range4("126.255.255.255", "127.0.0.0", "127.255.255.255",
	    "128.0.0.0");
	range4("169.253.255.255", "169.254.0.0", "169.254.255.255",
	    "169.255.0.0");
	BLOCKED("169.254.169.254");
	range4("172.15.255.255", "172.16.0.0", "172.31.255.255",
	    "172.32.0.0");
	range4("191.255.255.255", "192.0.0.0", "192.0.0.255", "192.0.1.0");
	range4("192.0.1.255", "192.0.2.0", "192.0.2.255", "192.0.3.0");
	range4("192.88.98.255", "192.88.99.0", "192.88.99.255",
	    "192.88.100.0");
	range4("192.167.255.255", "192.168.0.0", "192.168.255.255",
	    "192.169.0.0");
	range4("198.17.255.255", "198.18.0.0", "198.19.255.255",
	    "198.20.0.0");
	range4("198.51.99.255", "198.51.100.0", "198.51.100.255",
	    "198.51.101.0");
	range4("203.0.112.255", "203.0.113.0", "203.0.113.255",
	    "203.0.114.0");
	range4("223.255.255.255", "224.0.0.0", "239.255.255.255", NULL);
	range4(NULL, "240.0.0.0", "255.255.255.255", NULL);
	range4("168.63.129.15", "168.63.129.16", "168.63.129.16",
	    "168.63.129.17");
	/* Ordinary public addresses. */
	ALLOWED("8.8.8.8");
	ALLOWED("1.1.1.1");
	ALLOWED("93.184.216.34");
	ALLOWED("223.255.255.255");
}

static void
test_ipv6_ranges(void **state)
{
	(void)state;
	BLOCKED("::");
	BLOCKED("::1");
	/* ::/96, the deprecated IPv4-compatible form. */
	BLOCKED("::2");
	BLOCKED("::8.8.8.8");
	BLOCKED("::ffff:ffff");
	ALLOWED("::1:0:0");		/* first after ::/96 */
	/* 100::/64 discard */
	ALLOWED("ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	BLOCKED("100::");
	BLOCKED("100::ffff:ffff:ffff:ffff");
	ALLOWED("100:0:0:1::");
	/* 2001::/32 Teredo, 2001:db8::/32 documentation */
	ALLOWED("2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	BLOCKED("2001::");
	BLOCKED("2001:0:ffff:ffff:ffff:ffff:ffff:ffff");
	ALLOWED("2001:1::");
	ALLOWED("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff");
	BLOCKED("2001:db8::");
	BLOCKED("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
	ALLOWED("2001:db9::");
	/* 64:ff9b:1::/48 local-use NAT64 */
	ALLOWED("64:ff9b:0:ffff:ffff:ffff:ffff:ffff");
	BLOCKED("64:ff9b:1::");
	BLOCKED("64:ff9b:1:ffff:ffff:ffff:ffff:ffff");
	ALLOWED("64:ff9b:2::");
	/* fc00::/7 */
	ALLOWED("fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	BLOCKED("fc00::");
	BLOCKED("fd00:ec2::254");
	BLOCKED("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	ALLOWED("fe00::");
	/* fe80::/10, fec0::/10, ff00::/8 */
	ALLOWED("fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	BLOCKED("fe80::");
	BLOCKED("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	BLOCKED("fec0::");
	BLOCKED("feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	BLOCKED("ff00::");
	BLOCKED("ff02::1");
	BLOCKED("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	/* Public. */
	ALLOWED("2606:4700::1111");
	ALLOWED("2a00:1450:4001::200e");
}

static void
test_embedded_ipv4(void **state)
{
	(void)state;
	/* ::ffff:0:0/96 mapped */
	BLOCKED("::ffff:127.0.0.1");
	BLOCKED("::ffff:10.0.0.1");
	BLOCKED("::ffff:169.254.169.254");
	BLOCKED("::ffff:0.0.0.0");
	BLOCKED("::ffff:255.255.255.255");
	BLOCKED("::ffff:168.63.129.16");
	ALLOWED("::ffff:8.8.8.8");
	ALLOWED("::ffff:11.0.0.0");
	ALLOWED("::ffff:9.255.255.255");
	ALLOWED("::fffe:8.8.8.8");	/* not mapped: just outside */
	ALLOWED("::1:ffff:8.8.8.8");
	/* 64:ff9b::/96 NAT64 */
	BLOCKED("64:ff9b::127.0.0.1");
	BLOCKED("64:ff9b::192.168.1.1");
	BLOCKED("64:ff9b::a9fe:a9fe");	/* 169.254.169.254 */
	ALLOWED("64:ff9b::8.8.8.8");
	ALLOWED("64:ff9b::1:7f00:1");	/* outside /96: not NAT64 */
	ALLOWED("64:ff9a:ffff:ffff:ffff:ffff:7f00:1");
	/* 2002::/16 6to4: IPv4 in bits 16..47 */
	BLOCKED("2002:7f00:1::");
	BLOCKED("2002:a00:1::1");
	BLOCKED("2002:a9fe:a9fe::");
	BLOCKED("2002:c0a8:101:1::1");
	BLOCKED("2002:ffff:ffff::");
	ALLOWED("2002:808:808::");
	ALLOWED("2002:808:808:ffff:ffff:ffff:ffff:ffff");
	ALLOWED("2001:ffff:7f00:1::");	/* 2001:ff.. is not 2002::/16 */
	ALLOWED("2003:7f00:1::");
}

static void
test_other_family(void **state)
{
	struct sockaddr	 sa;

	(void)state;
	memset(&sa, 0, sizeof(sa));
	sa.sa_family = AF_UNIX;
	assert_int_equal(eg_ssrf_blocked(&sa), 1);
}

int
main(void)
{
	const struct CMUnitTest	 tests[] = {
		cmocka_unit_test(test_ipv4_ranges),
		cmocka_unit_test(test_ipv6_ranges),
		cmocka_unit_test(test_embedded_ipv4),
		cmocka_unit_test(test_other_family),
	};

	return (cmocka_run_group_tests_name("ssrf", tests, NULL, NULL));
}
