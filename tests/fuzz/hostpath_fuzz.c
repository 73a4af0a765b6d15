/*
 * libFuzzer target for host and path normalisation (spec/egress.md §4).
 * Every accepted input must come out in the one normal form: running the
 * normaliser again changes nothing, and the output has the properties
 * §4 promises (checked directly, not by a second implementation).
 */
#include "config.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/bounds.h"
#include "common/routes.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
hostpath_fuzz_hex(char c)
{
	return ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'));
}

/* The two hex digits at p decode to an unreserved byte. */
static int
hostpath_fuzz_unreserved(const char *p)
{
	int	 v;

	v = ((p[0] <= '9' ? p[0] - '0' : p[0] - 'A' + 10) << 4) |
	    (p[1] <= '9' ? p[1] - '0' : p[1] - 'A' + 10);
	return ((v >= 'A' && v <= 'Z') || (v >= 'a' && v <= 'z') ||
	    (v >= '0' && v <= '9') || v == '-' || v == '.' || v == '_' ||
	    v == '~');
}

static void
hostpath_fuzz_host(const char *in, size_t len)
{
	char		 out[CM_HOST_BUF_BYTES], again[CM_HOST_BUF_BYTES];
	unsigned char	 bin[16];
	const char	*why = NULL;
	size_t		 i, n;
	int		 is_ip, is_ip2;

	if (cm_host_normalise(in, len, out, sizeof(out), &is_ip, &why) != 0) {
		if (why == NULL)
			__builtin_trap();
		return;
	}
	n = strlen(out);
	if (n == 0 || n > CM_MAX_HOST_BYTES)
		__builtin_trap();
	for (i = 0; i < n; i++) {
		if (!((out[i] >= 'a' && out[i] <= 'z') ||
		    (out[i] >= '0' && out[i] <= '9') || out[i] == '-' ||
		    out[i] == '_' || out[i] == '.' || (is_ip && out[i] == ':')))
			__builtin_trap();
	}
	if (is_ip && inet_pton(strchr(out, ':') != NULL ? AF_INET6 : AF_INET,
	    out, bin) != 1)
		__builtin_trap();
	if (cm_host_normalise(out, n, again, sizeof(again), &is_ip2,
	    &why) != 0 || strcmp(out, again) != 0 || is_ip != is_ip2)
		__builtin_trap();
}

static void
hostpath_fuzz_path(const char *in, size_t len)
{
	char		*out, *again;
	const char	*why = NULL, *reason = NULL;
	size_t		 i, n;

	if ((out = malloc(len + 2)) == NULL || (again = malloc(len + 2)) ==
	    NULL) {
		free(out);
		return;
	}
	if (cm_path_normalise(in, len, out, len + 2, &why, &reason) != 0) {
		if (why == NULL || reason == NULL)
			__builtin_trap();
		goto done;
	}
	n = strlen(out);
	if (out[0] != '/' || n > (len > 0 ? len : 1))
		__builtin_trap();
	for (i = 0; i < n; i++) {
		/* Triplets are upper-case and never an unreserved byte. */
		if (out[i] == '%' && (i + 2 >= n || !hostpath_fuzz_hex(out[i +
		    1]) || !hostpath_fuzz_hex(out[i + 2]) ||
		    hostpath_fuzz_unreserved(out + i + 1)))
			__builtin_trap();
		if (out[i] == '?' || out[i] == '#' ||
		    (unsigned char)out[i] <= 0x20)
			__builtin_trap();
	}
	if (strstr(out, "/./") != NULL || strstr(out, "/../") != NULL ||
	    (n >= 2 && strcmp(out + n - 2, "/.") == 0) ||
	    (n >= 3 && strcmp(out + n - 3, "/..") == 0))
		__builtin_trap();
	if (cm_path_normalise(out, n, again, len + 2, &why, &reason) != 0 ||
	    strcmp(out, again) != 0)
		__builtin_trap();
 done:
	free(out);
	free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	hostpath_fuzz_host((const char *)data, size);
	hostpath_fuzz_path((const char *)data, size);
	return (0);
}
