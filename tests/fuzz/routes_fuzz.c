/*
 * libFuzzer target for routes.yaml (spec/egress.md §5): YAML bytes
 * through the strict loader and cm_routes_parse().  An accepted table is
 * exercised (lookup, ports, matches, find) and its JSON is rendered back
 * to YAML, which must succeed: cm_routes_json_render() re-parses the text
 * and insists on the same document, so a quoting or ordering bug in the
 * renderer traps here.  Each route mapping also goes through
 * cm_routes_json_parse_route() and must agree with the table.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "common/http.h"
#include "common/routes.h"
#include "common/yaml.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *const routes_fuzz_paths[] = {
	"/", "/api/", "/api/v1/x", "/repos/acme", "/repos/acme-evil", "/echo",
	"/ws/abc", "/a/b/c", NULL
};

static struct cm_http_fields *routes_fuzz_fields;

static void
routes_fuzz_route(const struct cm_routes *r, const struct cm_route *rt,
    size_t i)
{
	const char	*host = cm_route_host(rt);
	char		 probe[300];
	size_t		 idx, k;

	if (cm_route_is_wildcard(rt)) {
		/* One more label than the suffix finds this or a closer one. */
		if (strlen(host) < sizeof(probe) - 2) {
			probe[0] = 'x';
			memcpy(probe + 1, host + 1, strlen(host));
			if (strlen(probe) <= 253 &&
			    cm_routes_lookup(r, probe) == NULL)
				__builtin_trap();
		}
		if (cm_routes_lookup(r, host + 2) == rt)
			__builtin_trap();	/* the apex is never a match */
	} else if (cm_routes_lookup(r, host) != rt)
		__builtin_trap();
	if (cm_routes_find(r, host, &idx) != 0 || idx != i)
		__builtin_trap();
	(void)cm_route_port_allowed(rt, 443, 1);
	(void)cm_route_port_allowed(rt, 80, 0);
	(void)cm_route_auth(rt);
	(void)cm_route_token_env(rt);
	(void)cm_route_outbound(rt);
	(void)cm_route_inbound(rt);
	(void)cm_route_max_body(rt);
	for (k = 0; routes_fuzz_paths[k] != NULL; k++) {
		(void)cm_route_matches(rt, "GET", routes_fuzz_paths[k],
		    routes_fuzz_fields);
		(void)cm_route_matches(rt, "PUT", routes_fuzz_paths[k], NULL);
	}
}

static void
routes_fuzz_table(struct cm_routes *r, const struct cm_ynode *root)
{
	struct cm_cfg_ctx	 cx;
	struct evbuffer		*out;
	const struct cm_ynode	*list;
	json_t			*doc, *one;
	size_t			 i;

	for (i = 0; i < cm_routes_count(r); i++)
		routes_fuzz_route(r, cm_routes_at(r, i), i);
	if ((doc = cm_routes_json(r)) == NULL)
		return;
	list = cm_y_get(root, "routes");
	for (i = 0; list != NULL && i < list->n; i++) {
		memset(&cx, 0, sizeof(cx));
		cx.path = "route.yaml";
		if ((one = cm_routes_json_parse_route(&cx,
		    list->items[i])) == NULL)
			__builtin_trap();
		if (!json_equal(one, json_array_get(json_object_get(doc,
		    "routes"), i)))
			__builtin_trap();
		json_decref(one);
	}
	if ((out = evbuffer_new()) != NULL) {
		memset(&cx, 0, sizeof(cx));
		cx.path = "fuzz.yaml";
		if (cm_routes_json_render(doc, out, &cx) != 0 &&
		    strstr(cx.errors[0], "out of memory") == NULL)
			__builtin_trap();
		evbuffer_free(out);
	}
	json_decref(doc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cm_cfg_ctx	 cx;
	struct cm_ynode			*root;
	struct cm_routes		*r;

	if (routes_fuzz_fields == NULL) {
		routes_fuzz_fields = cm_http_fields_new();
		(void)cm_http_fields_add(routes_fuzz_fields, "X-Test", "yes");
		(void)cm_http_fields_add(routes_fuzz_fields, "X-Org", "acme");
		(void)cm_http_fields_add(routes_fuzz_fields, "x-test", "no");
	}
	memset(&cx, 0, sizeof(cx));
	cx.path = "fuzz.yaml";
	if ((root = cm_yaml_parse(&cx, (const char *)data, size)) == NULL)
		return (0);
	if ((r = cm_routes_parse(&cx, root)) != NULL) {
		if (cx.nerrors != 0)
			__builtin_trap();
		routes_fuzz_table(r, root);
		cm_routes_free(r);
	} else if (cx.nerrors == 0)
		__builtin_trap();	/* refused without saying why */
	cm_yaml_free(root);
	return (0);
}
