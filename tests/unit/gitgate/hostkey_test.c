/* Pinned host keys (spec/gitgate.md §3.2.6, §5.2). */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gitgate/conf.h"

/* An ed25519 key blob, as ssh-keygen writes it. */
#define ED	"AAAAC3NzaC1lZDI1NTE5AAAAIAh6UzEtr6cQ37AKeuNtivOEvdhKHEwEhgL9gkkgzGvN"

static void
test_forms(void **state)
{
	struct gg_hostkey	 k;
	const char		*warn;
	char			 why[256], fp[80];

	(void)state;
	assert_int_equal(gg_hostkey_parse("ssh-ed25519 " ED " comment",
	    "forge.example", 22, &k, why, sizeof(why), &warn), 0);
	assert_string_equal(k.type, "ssh-ed25519");
	assert_int_equal(k.len, 51);
	assert_null(warn);
	gg_hostkey_fingerprint(k.blob, k.len, fp, sizeof(fp));
	assert_int_equal(strncmp(fp, "SHA256:", 7), 0);
	free(k.blob);
	assert_int_equal(gg_hostkey_parse("[forge.example]:2222,other "
	    "ssh-ed25519 " ED, "forge.example", 2222, &k, why, sizeof(why),
	    &warn), 0);
	free(k.blob);
	/* The host must match the url's, with the port when not 22. */
	assert_int_equal(gg_hostkey_parse("forge.example ssh-ed25519 " ED,
	    "forge.example", 2222, &k, why, sizeof(why), &warn), -1);
	assert_int_equal(gg_hostkey_parse("*.example ssh-ed25519 " ED,
	    "forge.example", 22, &k, why, sizeof(why), &warn), -1);
	assert_int_equal(gg_hostkey_parse("@cert-authority * ssh-ed25519 " ED,
	    "forge.example", 22, &k, why, sizeof(why), &warn), -1);
	assert_int_equal(gg_hostkey_parse("ssh-dss AAAAB3NzaC1kc3M=",
	    "forge.example", 22, &k, why, sizeof(why), &warn), -1);
	/* The type must be the blob's own. */
	assert_int_equal(gg_hostkey_parse("ecdsa-sha2-nistp256 " ED,
	    "forge.example", 22, &k, why, sizeof(why), &warn), -1);
	assert_int_equal(gg_hostkey_parse("ssh-ed25519 !!!", "h", 22, &k, why,
	    sizeof(why), &warn), -1);
}

static void
test_hashed_host(void **state)
{
	struct gg_hostkey	 k;
	const char		*warn;
	char			 why[256];

	(void)state;
	/* ssh-keygen -H of "forge.example" with this salt. */
	assert_int_equal(gg_hostkey_parse("|1|ZmFrZXNhbHRmYWtlc2FsdGZha2U=|"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAA= ssh-ed25519 " ED, "forge.example", 22,
	    &k, why, sizeof(why), &warn), -1);
	assert_string_equal(why, "no host name matches the url's "
	    "forge.example");
}

static void
test_b64(void **state)
{
	unsigned char	 out[16];

	(void)state;
	assert_int_equal(gg_hostkey_b64("aGVsbG8=", 8, out, sizeof(out)), 5);
	assert_memory_equal(out, "hello", 5);
	assert_int_equal(gg_hostkey_b64("aGVsbG8", 7, out, sizeof(out)), 5);
	assert_int_equal(gg_hostkey_b64("a=b", 3, out, sizeof(out)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_hashed_host),
		cmocka_unit_test(test_b64),
	};
	return (cmocka_run_group_tests_name("hostkey", tests, NULL, NULL));
}
