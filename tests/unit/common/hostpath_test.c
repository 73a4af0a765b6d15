#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/bounds.h"
#include "common/routes.h"

#define WHY_IPV4 "invalid IPv4 address (four decimal octets without " \
	"leading zeros)"

/* in must normalise to want; is_ip as given. */
static void
host_ok(const char *in, const char *want, int want_ip)
{
	char		 out[CM_HOST_BUF_BYTES];
	const char	*why = NULL;
	int		 is_ip = -1;

	if (cm_host_normalise(in, strlen(in), out, sizeof(out), &is_ip,
	    &why) != 0)
		fail_msg("%s: refused: %s", in, why);
	assert_string_equal(out, want);
	assert_int_equal(is_ip, want_ip);
	/* Idempotent: a normalised host is its own normal form. */
	assert_int_equal(cm_host_normalise(out, strlen(out), out, sizeof(out),
	    NULL, &why), 0);
	assert_string_equal(out, want);
}

static void
host_bad(const char *in, const char *want_why)
{
	char		 out[CM_HOST_BUF_BYTES];
	const char	*why = NULL;

	if (cm_host_normalise(in, strlen(in), out, sizeof(out), NULL,
	    &why) != -1)
		fail_msg("%s: accepted as %s", in, out);
	assert_string_equal(why, want_why);
}

static void
path_ok(const char *in, const char *want)
{
	char		 out[1024];
	const char	*why = NULL, *reason = NULL;

	if (cm_path_normalise(in, strlen(in), out, sizeof(out), &why,
	    &reason) != 0)
		fail_msg("%s: refused: %s (%s)", in, why, reason);
	assert_string_equal(out, want);
	/* Idempotent, or egress and a route value could disagree. */
	assert_int_equal(cm_path_normalise(out, strlen(out), out, sizeof(out),
	    &why, &reason), 0);
	assert_string_equal(out, want);
}

static void
path_bad(const char *in, const char *want_reason, const char *want_why)
{
	char		 out[1024];
	const char	*why = NULL, *reason = NULL;

	if (cm_path_normalise(in, strlen(in), out, sizeof(out), &why,
	    &reason) != -1)
		fail_msg("%s: accepted as %s", in, out);
	assert_string_equal(reason, want_reason);
	assert_string_equal(why, want_why);
}

static void
test_host_names(void **state)
{
	(void)state;
	host_ok("Example.COM", "example.com", 0);
	host_ok("example.com.", "example.com", 0);
	host_ok("API.Example.Com.", "api.example.com", 0);
	host_ok("a-b_c.d9", "a-b_c.d9", 0);
	host_ok("_egress.local", "_egress.local", 0);
	host_ok("localhost", "localhost", 0);
	host_ok("xn--bcher-kva.de", "xn--bcher-kva.de", 0);
	host_ok("123.example.com", "123.example.com", 0);
	host_ok("0x7f.example", "0x7f.example", 0);
	host_bad("", "empty host");
	host_bad(".", "empty label in host name");
	host_bad("example.com..", "empty label in host name");
	host_bad(".example.com", "empty label in host name");
	host_bad("a..b", "empty label in host name");
	host_bad("-a.com", "host label starts or ends with \"-\"");
	host_bad("a-.com", "host label starts or ends with \"-\"");
	host_bad("a.-b", "host label starts or ends with \"-\"");
	host_bad("a b.com", "invalid character in host name");
	host_bad("a*.com", "invalid character in host name");
	host_bad("a/b", "invalid character in host name");
	host_bad("b\xc3\xbc" "cher.de",
	    "non-ASCII host name (use the xn-- A-label)");
	host_bad("\xe4\xbe\x8b.test",
	    "non-ASCII host name (use the xn-- A-label)");
}

static void
test_host_nul_byte(void **state)
{
	char		 out[CM_HOST_BUF_BYTES];
	const char	*why = NULL;

	(void)state;
	assert_int_equal(cm_host_normalise("a\0b.com", 7, out, sizeof(out),
	    NULL, &why), -1);
	assert_string_equal(why, "invalid character in host name");
}

static void
test_host_lengths(void **state)
{
	char	 a63[64], b61[64], b62[64], name[300], want[300];

	(void)state;
	memset(a63, 'a', 63);
	a63[63] = '\0';
	memset(b61, 'b', 61);
	b61[61] = '\0';
	memset(b62, 'b', 62);
	b62[62] = '\0';
	(void)snprintf(name, sizeof(name), "%s.test", a63);
	host_ok(name, name, 0);
	(void)snprintf(name, sizeof(name), "a%s.test", a63);
	host_bad(name, "host label longer than 63 bytes");

	/* 3 * 63 + 61 + 3 dots = 253 bytes: the longest name. */
	(void)snprintf(name, sizeof(name), "%s.%s.%s.%s", a63, a63, a63, b61);
	assert_int_equal(strlen(name), 253);
	host_ok(name, name, 0);
	/* The trailing dot does not count. */
	(void)snprintf(name, sizeof(name), "%s.%s.%s.%s.", a63, a63, a63, b61);
	memcpy(want, name, 253);
	want[253] = '\0';
	host_ok(name, want, 0);
	(void)snprintf(name, sizeof(name), "%s.%s.%s.%s", a63, a63, a63, b62);
	assert_int_equal(strlen(name), 254);
	host_bad(name, "host name longer than 253 bytes");
}

static void
test_host_ipv4(void **state)
{
	(void)state;
	host_ok("127.0.0.1", "127.0.0.1", 1);
	host_ok("0.0.0.0", "0.0.0.0", 1);
	host_ok("255.255.255.255", "255.255.255.255", 1);
	host_ok("10.0.0.1.", "10.0.0.1", 1);
	/* §4.1's list, then near misses. */
	host_bad("127.1", WHY_IPV4);
	host_bad("0x7f.0.0.1", WHY_IPV4);
	host_bad("2130706433", WHY_IPV4);
	host_bad("017.0.0.1", WHY_IPV4);
	host_bad("127.0.0.01", WHY_IPV4);
	host_bad("127.0.0.0x1", WHY_IPV4);
	host_bad("0x7f000001", WHY_IPV4);
	host_bad("1.2.3.256", WHY_IPV4);
	host_bad("1.2.3.4.5", WHY_IPV4);
	host_bad("1.2.3", WHY_IPV4);
	host_bad("1..2.3", WHY_IPV4);
	host_bad("00.0.0.0", WHY_IPV4);
	host_bad("example.123", WHY_IPV4);
	host_bad("example.0x10", WHY_IPV4);
	host_bad("1.2.3.4..", "empty label in host name");
}

static void
test_host_ipv6(void **state)
{
	(void)state;
	host_ok("[::1]", "::1", 1);
	host_ok("::1", "::1", 1);
	host_ok("[::]", "::", 1);
	host_ok("[0:0:0:0:0:0:0:0]", "::", 1);
	host_ok("[2001:DB8::1]", "2001:db8::1", 1);
	host_ok("[2001:0db8:0000:0000:0000:0000:0000:0001]", "2001:db8::1", 1);
	/* RFC 5952 §4.2.2: one zero group is not compressed. */
	host_ok("[2001:db8:0:1:1:1:1:1]", "2001:db8:0:1:1:1:1:1", 1);
	/* §4.2.3: the longest run, the first of equal runs. */
	host_ok("[2001:0:0:1:0:0:0:1]", "2001:0:0:1::1", 1);
	host_ok("[2001:db8:0:0:1:0:0:1]", "2001:db8::1:0:0:1", 1);
	host_ok("[1:0:0:0:0:0:0:0]", "1::", 1);
	host_ok("[0:0:0:0:0:0:0:1]", "::1", 1);
	host_ok("[FE80::ABCD:EF01]", "fe80::abcd:ef01", 1);
	/* IPv4-mapped addresses in mixed notation, however written. */
	host_ok("[::ffff:127.0.0.1]", "::ffff:127.0.0.1", 1);
	host_ok("[::FFFF:7f00:1]", "::ffff:127.0.0.1", 1);
	host_ok("[0:0:0:0:0:ffff:a00:1]", "::ffff:10.0.0.1", 1);
	/* Other embedded forms are plain hex. */
	host_ok("[::1.2.3.4]", "::102:304", 1);
	host_ok("[64:ff9b::1.2.3.4]", "64:ff9b::102:304", 1);
	host_bad("[fe80::1%25eth0]", "IPv6 zone ids are not allowed");
	host_bad("[fe80::1%eth0]", "IPv6 zone ids are not allowed");
	host_bad("fe80::1%eth0", "IPv6 zone ids are not allowed");
	host_bad("[::1", "invalid IPv6 address");
	host_bad("[]", "invalid IPv6 address");
	host_bad("[1.2.3.4]", "invalid IPv6 address");
	host_bad("[::ffff:01.2.3.4]", "invalid IPv6 address");
	host_bad("[1::2::3]", "invalid IPv6 address");
	host_bad("[12345::1]", "invalid IPv6 address");
	host_bad("[1:2:3:4:5:6:7:8:9]", "invalid IPv6 address");
	host_bad("[::1]:443", "invalid IPv6 address");
	host_bad("example.com:443", "invalid IPv6 address");
}

static void
test_host_small_buffer(void **state)
{
	char		 out[4];
	const char	*why = NULL;

	(void)state;
	assert_int_equal(cm_host_normalise("abcd", 4, out, sizeof(out), NULL,
	    &why), -1);
	assert_string_equal(why, "host buffer too small");
	assert_int_equal(cm_host_normalise("[::1]", 5, out, sizeof(out), NULL,
	    &why), 0);
	assert_string_equal(out, "::1");
	assert_int_equal(cm_host_normalise("1.2.3.4", 7, out, sizeof(out),
	    NULL, &why), -1);
	assert_string_equal(why, "host buffer too small");
}

static void
test_path_empty_and_forms(void **state)
{
	(void)state;
	path_ok("", "/");
	path_ok("?a=b", "/");
	path_ok("/", "/");
	path_bad("*", "bad_request", "asterisk-form request target");
	path_bad("a/b", "bad_request", "path does not start with \"/\"");
	path_bad("http://x/", "bad_request", "path does not start with \"/\"");
	path_bad("/a b", "bad_request", "invalid byte in path");
	path_bad("/a\tb", "bad_request", "invalid byte in path");
	path_bad("/a\x7f", "bad_request", "invalid byte in path");
	path_bad("/a#f", "bad_request", "invalid byte in path");
	/* The query is not the path's business, whatever it holds. */
	path_ok("/a/../b?x=/../%zz y", "/b");
}

static void
test_path_percent(void **state)
{
	(void)state;
	path_ok("/%2f", "/%2F");
	path_ok("/%2F", "/%2F");
	path_ok("/%5c", "/%5C");
	path_ok("/%00", "/%00");
	path_ok("/%61pi/x", "/api/x");
	path_ok("/%41%5A%61%7A%30%39", "/AZaz09");
	path_ok("/%2d%2e%5f%7e", "/-._~");
	path_ok("/%20", "/%20");
	path_ok("/%e2%82%ac", "/%E2%82%AC");
	path_ok("/%3f%23%25", "/%3F%23%25");
	path_ok("/a%2fb%2Fc", "/a%2Fb%2Fc");
	path_ok("/%7E%7e", "/~~");
	path_bad("/%", "bad_request", "bad percent-encoding in path");
	path_bad("/%2", "bad_request", "bad percent-encoding in path");
	path_bad("/a%", "bad_request", "bad percent-encoding in path");
	path_bad("/%zz", "bad_request", "bad percent-encoding in path");
	path_bad("/%2g", "bad_request", "bad percent-encoding in path");
	path_bad("/%g2", "bad_request", "bad percent-encoding in path");
	path_bad("/%%32%66", "bad_request", "bad percent-encoding in path");
	path_bad("/%2?x", "bad_request", "bad percent-encoding in path");
}

static void
test_path_dot_segments(void **state)
{
	(void)state;
	path_ok("/api/./x", "/api/x");
	path_ok("/api/../admin", "/admin");
	path_ok("/a/b/../c", "/a/c");
	path_ok("/a/b/..", "/a/");
	path_ok("/a/b/.", "/a/b/");
	path_ok("/a/.", "/a/");
	path_ok("/.", "/");
	path_ok("/..", "/");
	path_ok("/../..", "/");
	path_ok("/../a", "/a");
	path_ok("/./a/./b/./", "/a/b/");
	path_ok("/a/%2E%2E/b", "/b");
	path_ok("/a/%2e%2E/b", "/b");
	path_ok("/a/.%2e/b", "/b");
	path_ok("/a/%2e/b", "/a/b");
	path_ok("/a/...", "/a/...");
	path_ok("/a/.b/..c/b..", "/a/.b/..c/b..");
	/* Repeated slashes stay; a ".." eats the empty segment. */
	path_ok("/a//b", "/a//b");
	path_ok("//", "//");
	path_ok("/a//../b", "/a/b");
	path_ok("/a/b//..", "/a/b/");
	/* An encoded slash is part of a segment, not a separator. */
	path_ok("/a%2Fb/../c", "/c");
	path_ok("/a/.%2Fb", "/a/.%2Fb");
}

static void
test_path_ambiguous(void **state)
{
	static const char *const bad[] = {
		"/a/..%2Fb", "/a/..%2fb", "/a/..%2F", "/..%2F", "/..%2Fetc",
		"/a/%2F../b", "/a/%2f..", "/a/..%5Cb", "/a/..%5cb",
		"/a/%5C..", "/a/%5c../b", "/a/%2E%2E%2Fb", "/a/.%2E%2fb",
		"/a%2F..%2Fb", "/x/%2F..", "/a/..%2F..%2F..%2Fetc/passwd",
		NULL
	};
	size_t	 i;

	(void)state;
	for (i = 0; bad[i] != NULL; i++)
		path_bad(bad[i], "ambiguous_path",
		    "\"..\" next to an encoded separator (%2F or %5C)");
	/* ".." inside a longer segment, or not beside an encoded one. */
	path_ok("/a..%2Fb", "/a..%2Fb");
	path_ok("/a/...%2Fb", "/a/...%2Fb");
	path_ok("/a/%2F.../b", "/a/%2F.../b");
	path_ok("/a/%2F..b", "/a/%2F..b");
	path_ok("/a/%2Fx/../b", "/a/b");
	path_ok("/a/..%2E%2Fb", "/a/...%2Fb");
	path_ok("/a/%252F../b", "/a/%252F../b");
}

static void
test_path_small_buffer(void **state)
{
	char		 out[5];
	const char	*why = NULL, *reason = NULL;

	(void)state;
	assert_int_equal(cm_path_normalise("/abcd", 5, out, sizeof(out), &why,
	    &reason), -1);
	assert_string_equal(why, "path buffer too small");
	assert_int_equal(cm_path_normalise("/abc", 4, out, 5, &why,
	    &reason), 0);
	assert_string_equal(out, "/abc");
	assert_int_equal(cm_path_normalise("/abc?x", 6, out, 5, &why,
	    &reason), 0);
	assert_string_equal(out, "/abc");
}

int
main(void)
{
	const struct CMUnitTest	 tests[] = {
		cmocka_unit_test(test_host_names),
		cmocka_unit_test(test_host_nul_byte),
		cmocka_unit_test(test_host_lengths),
		cmocka_unit_test(test_host_ipv4),
		cmocka_unit_test(test_host_ipv6),
		cmocka_unit_test(test_host_small_buffer),
		cmocka_unit_test(test_path_empty_and_forms),
		cmocka_unit_test(test_path_percent),
		cmocka_unit_test(test_path_dot_segments),
		cmocka_unit_test(test_path_ambiguous),
		cmocka_unit_test(test_path_small_buffer),
	};

	return (cmocka_run_group_tests_name("hostpath", tests, NULL, NULL));
}
