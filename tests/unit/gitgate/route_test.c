/* Repo names, the git:// request line, smart HTTP routes (§2.1-§2.3). */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "gitgate/conf.h"
#include "gitgate/route.h"

static void
test_names(void **state)
{
	const char	*why;
	char		 out[128];

	(void)state;
	assert_int_equal(gg_route_name_valid("bot-bottle", 10, &why), 0);
	assert_int_equal(gg_route_name_valid(".hidden", 7, &why), -1);
	assert_int_equal(gg_route_name_valid("x.git", 5, &why), -1);
	assert_int_equal(gg_route_name_valid("a b", 3, &why), -1);
	assert_int_equal(gg_route_path_name("/up.git", 7, out, sizeof(out)),
	    0);
	assert_string_equal(out, "up");
	assert_int_equal(gg_route_path_name("/up", 3, out, sizeof(out)), 0);
	assert_string_equal(out, "up");
	/* One .git only; nothing is decoded or normalised. */
	assert_int_equal(gg_route_path_name("/x.git.git", 10, out,
	    sizeof(out)), 0);
	assert_string_equal(out, "x.git");
	assert_int_equal(gg_route_path_name("/../x", 5, out, sizeof(out)), -1);
	assert_int_equal(gg_route_path_name("/a%20b", 6, out, sizeof(out)),
	    -1);
	assert_int_equal(gg_route_path_name("/up/", 4, out, sizeof(out)), -1);
	assert_int_equal(gg_route_path_name("up", 2, out, sizeof(out)), -1);
	assert_int_equal(gg_route_path_name("//up", 4, out, sizeof(out)), -1);
}

static void
test_unknown_message(void **state)
{
	struct gg_repo	 repos[2];
	struct gg_cfg	 cfg;
	char		 msg[256];

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	memset(repos, 0, sizeof(repos));
	repos[0].name = "a";
	repos[1].name = "b";
	cfg.repos = repos;
	cfg.nrepos = 2;
	gg_route_unknown_msg(&cfg, "/n\x01pe.git", 9, msg, sizeof(msg));
	assert_string_equal(msg, "bb-sidecar: unknown repository 'n\\x01pe' "
	    "(declared: a, b)");
}

static void
test_git_request(void **state)
{
	static const char ok[] = "git-upload-pack /up.git\0host=h:9418\0";
	static const char v2[] = "git-receive-pack /up.git\0host=h\0\0"
	    "version=2\0";
	struct gg_greq	 rq;
	const char	*why;

	(void)state;
	assert_int_equal(gg_route_git_request(ok, sizeof(ok) - 1, &rq, &why),
	    0);
	assert_int_equal(rq.svc, GG_SVC_UPLOAD);
	assert_int_equal(rq.pathlen, 7);
	assert_memory_equal(rq.path, "/up.git", 7);
	assert_int_equal(rq.version, 0);
	assert_int_equal(gg_route_git_request(v2, sizeof(v2) - 1, &rq, &why),
	    0);
	assert_int_equal(rq.svc, GG_SVC_RECEIVE);
	assert_int_equal(rq.version, 2);
	assert_int_equal(gg_route_git_request("git-upload-pack /up.git", 23,
	    &rq, &why), -1);
	assert_int_equal(gg_route_git_request("git-upload-archive /x\0", 22,
	    &rq, &why), -1);
	assert_int_equal(gg_route_git_request("git-upload-pack /x\0nohost\0",
	    26, &rq, &why), -1);
	assert_int_equal(gg_route_version("version=1", 9), 1);
	assert_int_equal(gg_route_version("a=b:version=2", 13), 2);
	assert_int_equal(gg_route_version("version=3", 9), 0);
}

static void
test_http_routes(void **state)
{
	struct gg_hroute	 rt;

	(void)state;
	gg_route_http("GET", "/up.git/info/refs?service=git-upload-pack", &rt);
	assert_int_equal(rt.kind, GG_HR_INFO_REFS);
	assert_int_equal(rt.svc, GG_SVC_UPLOAD);
	assert_int_equal(rt.pathlen, 7);
	gg_route_http("GET", "/up/info/refs?service=git-receive-pack", &rt);
	assert_int_equal(rt.kind, GG_HR_INFO_REFS);
	assert_int_equal(rt.svc, GG_SVC_RECEIVE);
	gg_route_http("GET", "/up.git/info/refs", &rt);
	assert_int_equal(rt.kind, GG_HR_DUMB);
	gg_route_http("GET", "/up.git/info/refs?service=git-upload-pack&x", &rt);
	assert_int_equal(rt.kind, GG_HR_BAD_QUERY);
	gg_route_http("POST", "/up.git/info/refs?service=git-upload-pack", &rt);
	assert_int_equal(rt.kind, GG_HR_BAD_METHOD);
	assert_string_equal(rt.allow, "GET");
	gg_route_http("POST", "/up.git/git-receive-pack", &rt);
	assert_int_equal(rt.kind, GG_HR_RPC);
	assert_int_equal(rt.svc, GG_SVC_RECEIVE);
	gg_route_http("GET", "/up.git/git-upload-pack", &rt);
	assert_int_equal(rt.kind, GG_HR_BAD_METHOD);
	assert_string_equal(rt.allow, "POST");
	gg_route_http("GET", "/up.git/HEAD", &rt);
	assert_int_equal(rt.kind, GG_HR_NOT_FOUND);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_unknown_message),
		cmocka_unit_test(test_git_request),
		cmocka_unit_test(test_http_routes),
	};
	return (cmocka_run_group_tests_name("route", tests, NULL, NULL));
}
