/*
 * libFuzzer target for what names a repository (spec/gitgate.md §2.1-
 * §2.3): the git:// request line, the smart HTTP route parser and the
 * path-to-name mapping.  A name that comes out must be one gitgate.yaml
 * could declare (no '/', no "..", no leading '.'), whatever went in.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/bounds.h"
#include "gitgate/route.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
gitreq_fuzz_name(const char *path, size_t len)
{
	char		 name[GG_MAX_NAME_BYTES + 1];
	const char	*why;
	size_t		 i, n;

	if (gg_route_path_name(path, len, name, sizeof(name)) == -1)
		return;
	n = strlen(name);
	if (n == 0 || n > GG_MAX_NAME_BYTES)
		abort();
	for (i = 0; i < n; i++)
		if (name[i] == '/' || name[i] == '%' || name[i] == '\0')
			abort();
	/* Invalid names may map (x.git.git), but never into a dir walk. */
	if (strstr(name, "..") != NULL &&
	    gg_route_name_valid(name, n, &why) == 0 && name[0] == '.')
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gg_greq		 rq;
	struct gg_hroute	 rt;
	const char		*why;
	char			*buf, *method, *target;
	size_t			 split;

	if ((buf = malloc(size + 1)) == NULL)
		abort();
	memcpy(buf, data, size);
	buf[size] = '\0';
	if (gg_route_git_request(buf, size, &rq, &why) == 0) {
		if (rq.path < buf || rq.path + rq.pathlen > buf + size ||
		    rq.version < 0 || rq.version > 2)
			abort();
		gitreq_fuzz_name(rq.path, rq.pathlen);
	} else if (why == NULL)
		abort();
	/* The first byte picks the method; the rest is the target. */
	split = size > 0 ? 1 : 0;
	method = (size > 0 && (data[0] & 1)) ? "POST" : "GET";
	target = buf + split;
	if (strlen(target) == size - split) {
		gg_route_http(method, target, &rt);
		if (rt.kind == GG_HR_INFO_REFS || rt.kind == GG_HR_RPC) {
			if (rt.path != target || rt.pathlen > strlen(target))
				abort();
			gitreq_fuzz_name(rt.path, rt.pathlen);
		}
	}
	(void)gg_route_version(buf, size);
	free(buf);
	return (0);
}
