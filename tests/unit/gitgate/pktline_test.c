/* pkt-line framing and sideband (spec/gitgate.md §2.5). */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <event2/buffer.h>

#include "gitgate/pktline.h"

static struct gg_pkt	 pkt;

/* Reads one packet from s; returns gg_pktline_read's result. */
static int
pktline_test_read(const char *s, size_t len, int v2, const char **why,
    size_t *left)
{
	struct evbuffer	*b = evbuffer_new();
	int		 rc;

	assert_non_null(b);
	evbuffer_add(b, s, len);
	rc = gg_pktline_read(b, v2, &pkt, why);
	*left = evbuffer_get_length(b);
	evbuffer_free(b);
	return (rc);
}

static void
test_data_flush_and_v2_specials(void **state)
{
	const char	*why = NULL;
	size_t		 left;

	(void)state;
	assert_int_equal(pktline_test_read("0009done\nrest", 13, 0, &why,
	    &left), 1);
	assert_int_equal(pkt.kind, GG_PKT_DATA);
	assert_int_equal(pkt.len, 5);
	gg_pktline_chomp(&pkt);
	assert_string_equal(pkt.data, "done");
	assert_int_equal(left, 4);
	assert_int_equal(pktline_test_read("0000", 4, 0, &why, &left), 1);
	assert_int_equal(pkt.kind, GG_PKT_FLUSH);
	assert_int_equal(pktline_test_read("0004", 4, 0, &why, &left), 1);
	assert_int_equal(pkt.kind, GG_PKT_DATA);
	assert_int_equal(pkt.len, 0);
	/* 0001 and 0002 exist only in v2. */
	assert_int_equal(pktline_test_read("0001", 4, 1, &why, &left), 1);
	assert_int_equal(pkt.kind, GG_PKT_DELIM);
	assert_int_equal(pktline_test_read("0002", 4, 1, &why, &left), 1);
	assert_int_equal(pkt.kind, GG_PKT_END);
	assert_int_equal(pktline_test_read("0001", 4, 0, &why, &left), -1);
	assert_int_equal(pktline_test_read("0003", 4, 1, &why, &left), -1);
}

static void
test_malformed_and_incomplete(void **state)
{
	const char	*why = NULL;
	size_t		 left;

	(void)state;
	assert_int_equal(pktline_test_read("zz09done", 8, 0, &why, &left),
	    -1);
	assert_string_equal(why, "bad pkt-line length (not hex)");
	assert_int_equal(left, 8);	/* nothing drained on error */
	assert_int_equal(pktline_test_read("fff1", 4, 0, &why, &left), -1);
	assert_string_equal(why, "pkt-line longer than 65520 bytes");
	assert_int_equal(pktline_test_read("000", 3, 0, &why, &left), 0);
	assert_int_equal(pktline_test_read("0010abc", 7, 0, &why, &left), 0);
	assert_int_equal(left, 7);
	assert_int_equal(pktline_test_read("0002", 4, 0, &why, &left), -1);
	assert_string_equal(why, "bad pkt-line length (1-3)");
}

static void
test_largest_packet(void **state)
{
	char		*buf = malloc(GG_PKT_MAX);
	const char	*why;
	size_t		 left;

	(void)state;
	assert_non_null(buf);
	memcpy(buf, "fff0", 4);
	memset(buf + 4, 'x', GG_PKT_MAX - 4);
	assert_int_equal(pktline_test_read(buf, GG_PKT_MAX, 0, &why, &left),
	    1);
	assert_int_equal(pkt.len, GG_PKT_DATA_MAX);
	free(buf);
}

static void
test_writers_and_bands(void **state)
{
	struct evbuffer	*b = evbuffer_new();
	char		 out[64], *big;
	size_t		 n;

	(void)state;
	assert_int_equal(gg_pktline_printf(b, "ACK %s common\n", "x"), 0);
	assert_int_equal(gg_pktline_flush(b), 0);
	n = evbuffer_remove(b, out, sizeof(out) - 1);
	out[n] = '\0';
	assert_string_equal(out, "0011ACK x common\n0000");
	/* side-band: at most 995 data bytes per packet. */
	assert_non_null(big = malloc(2000));
	memset(big, 'p', 2000);
	assert_int_equal(gg_pktline_band(b, GG_BAND_DATA, big, 2000,
	    gg_pktline_band_max(0)), 0);
	assert_int_equal(evbuffer_get_length(b), 2000 + 3 * 5);
	n = evbuffer_remove(b, out, 5);
	assert_int_equal(n, 5);
	assert_memory_equal(out, "03e8\001", 5);
	assert_int_equal(gg_pktline_band_max(1), 65515);
	free(big);
	evbuffer_free(b);
}

static void
test_oid_parse_and_hex(void **state)
{
	unsigned char	 oid[20];
	char		 hex[80];

	(void)state;
	assert_int_equal(gg_pktline_oid(
	    "0123456789abcdefABCDEF0123456789abcdef01", 40, oid), 0);
	assert_int_equal(oid[0], 0x01);
	assert_int_equal(oid[7], 0xef);
	assert_int_equal(gg_pktline_oid(
	    "0123456789abcdefABCDEF0123456789abcdef0g", 40, oid), -1);
	assert_int_equal(gg_pktline_oid("0123", 4, oid), -1);
	gg_pktline_hex("\x00\xff" "A", 3, hex, sizeof(hex));
	assert_string_equal(hex, "00ff41");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_data_flush_and_v2_specials),
		cmocka_unit_test(test_malformed_and_incomplete),
		cmocka_unit_test(test_largest_packet),
		cmocka_unit_test(test_writers_and_bands),
		cmocka_unit_test(test_oid_parse_and_hex),
	};
	return (cmocka_run_group_tests_name("pktline", tests, NULL, NULL));
}
