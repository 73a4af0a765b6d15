/* The pushed pack stream walker (spec/gitgate.md §7.3). */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>
#include <cmocka.h>

#include "gitgate/packscan.h"

/* A pack of one blob "hello\n" (any trailer: the indexer checks it). */
static size_t
packscan_test_pack(unsigned char *out, uint32_t count)
{
	unsigned char	 z[64];
	uLongf		 zl = sizeof(z);
	size_t		 n = 0;

	memcpy(out, "PACK\0\0\0\002", 8);
	out[8] = (unsigned char)(count >> 24);
	out[9] = (unsigned char)(count >> 16);
	out[10] = (unsigned char)(count >> 8);
	out[11] = (unsigned char)count;
	n = 12;
	out[n++] = (3 << 4) | 6;	/* blob, size 6 */
	assert_int_equal(compress(z, &zl, (const Bytef *)"hello\n", 6), Z_OK);
	memcpy(out + n, z, zl);
	n += zl;
	memset(out + n, 0xab, 20);
	return (n + 20);
}

static void
test_whole_and_bytewise(void **state)
{
	struct gg_packscan	 ps;
	unsigned char		 buf[128];
	size_t			 n = packscan_test_pack(buf, 1), i;

	(void)state;
	gg_packscan_init(&ps, 10, 1 << 20);
	assert_int_equal(gg_packscan_feed(&ps, buf, n), (ssize_t)n);
	assert_int_equal(ps.state, GG_PS_DONE);
	gg_packscan_free(&ps);
	/* The same in one-byte pieces, with bytes after the end. */
	buf[n] = 'x';
	gg_packscan_init(&ps, 10, 1 << 20);
	for (i = 0; i < n; i++)
		assert_int_equal(gg_packscan_feed(&ps, buf + i, 1), 1);
	assert_int_equal(ps.state, GG_PS_DONE);
	assert_int_equal(gg_packscan_feed(&ps, buf + n, 1), 0);
	gg_packscan_free(&ps);
}

static void
test_limits_and_garbage(void **state)
{
	struct gg_packscan	 ps;
	unsigned char		 buf[128];
	size_t			 n;

	(void)state;
	/* A forged count is refused at the header. */
	n = packscan_test_pack(buf, 0x7fffffff);
	gg_packscan_init(&ps, 1000, 1 << 20);
	assert_int_equal(gg_packscan_feed(&ps, buf, 12), -1);
	assert_int_equal(ps.limit, 1);
	assert_string_equal(ps.why, "pack exceeds max_pack_objects");
	gg_packscan_free(&ps);
	/* An object larger than max_object_bytes, by its header. */
	n = packscan_test_pack(buf, 1);
	gg_packscan_init(&ps, 10, 5);
	assert_int_equal(gg_packscan_feed(&ps, buf, n), -1);
	assert_string_equal(ps.why, "object exceeds max_object_bytes");
	gg_packscan_free(&ps);
	/* Not a pack; corrupt zlib data. */
	gg_packscan_init(&ps, 10, 1 << 20);
	assert_int_equal(gg_packscan_feed(&ps, (const unsigned char *)
	    "PUSH\0\0\0\002\0\0\0\001", 12), -1);
	gg_packscan_free(&ps);
	n = packscan_test_pack(buf, 1);
	buf[14] ^= 0xff;
	gg_packscan_init(&ps, 10, 1 << 20);
	assert_int_equal(gg_packscan_feed(&ps, buf, n), -1);
	gg_packscan_free(&ps);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_and_bytewise),
		cmocka_unit_test(test_limits_and_garbage),
	};
	return (cmocka_run_group_tests_name("packscan", tests, NULL, NULL));
}
