/*
 * libFuzzer target for egress's request path (spec/egress.md §22 test
 * 58): agent bytes through the shared codec, then CONNECT policy or the
 * request stages 3-12 (authority and path normalisation, route lookup,
 * methods, git, matches, field stripping, injection), then the body
 * decoder, pipelined request after request.  The first input byte picks
 * plain HTTP or a tunnel to one of the routes.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/http.h"
#include "common/routes.h"
#include "common/secrets.h"
#include "common/settings.h"
#include "common/snapshot.h"
#include "common/worker.h"
#include "common/yaml.h"
#include "egress/conn.h"
#include "egress/egress.h"
#include "egress/policy.h"
#include "egress/refuse.h"
#include "egress/xchg.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char proxy_fuzz_routes[] =
    "log: 0\n"
    "routes:\n"
    "  - host: origin.test\n"
    "    auth_scheme: token\n"
    "    token_env: FUZZ_TOKEN\n"
    "    matches:\n"
    "      - {paths: [{type: prefix, value: /api/}], methods: [GET, POST]}\n"
    "      - {paths: [{type: regex, value: \"/ws/[a-z]+\"}],"
    " headers: [{name: X-Test, value: \"yes\"}]}\n"
    "  - {host: sup.test, ports: [443, 80]}\n"
    "  - {host: git.test, git: {fetch: true}}\n"
    "  - {host: \"*.wild.test\"}\n"
    "  - {host: 127.0.0.1, ports: [8443]}\n"
    "  - {host: big.test, max_body_bytes: 64}\n";

static const char *const proxy_fuzz_tunnels[] = {
	"origin.test", "sup.test", "git.test", "a.wild.test", "127.0.0.1",
	"_egress.local",
};

static struct cm_snap		*proxy_fuzz_snap;
static struct eg_worker		 proxy_fuzz_ew;
static struct eg_cfg		 proxy_fuzz_cfg;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static struct cm_cfg_ctx cx;
	struct cm_ynode	*root;

	(void)argc;
	(void)argv;
	setenv("FUZZ_TOKEN", "fuzz-token-value-0123456789", 1);
	(void)cm_secrets_capture_name("FUZZ_TOKEN");
	cx.path = "routes.yaml";
	root = cm_yaml_parse(&cx, proxy_fuzz_routes, strlen(proxy_fuzz_routes));
	proxy_fuzz_cfg.routes = cm_routes_parse(&cx, root);
	cm_yaml_free(root);
	if (proxy_fuzz_cfg.routes == NULL)
		abort();
	proxy_fuzz_snap = calloc(1, sizeof(*proxy_fuzz_snap));
	atomic_init(&proxy_fuzz_snap->refs, 1);
	proxy_fuzz_snap->generation = 1;
	proxy_fuzz_snap->settings = cm_settings_new();
	proxy_fuzz_snap->svc[CM_SVC_EGRESS] = &proxy_fuzz_cfg;
	proxy_fuzz_snap->secrets = cm_secrets_build("/nonexistent", &cx);
	if (proxy_fuzz_snap->settings == NULL || proxy_fuzz_snap->secrets == NULL)
		abort();
	proxy_fuzz_ew.w = cm_worker_new(0, proxy_fuzz_snap);
	if (proxy_fuzz_ew.w == NULL)
		abort();
	TAILQ_INIT(&proxy_fuzz_ew.conns);
	cm_worker_set_svc(proxy_fuzz_ew.w, CM_SVC_EGRESS, &proxy_fuzz_ew);
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cm_http_parser	*p;
	struct evbuffer		*in, *body;
	struct eg_conn		 c;
	struct eg_refusal	 r;
	const char		*why;
	size_t			 t, rounds = 0;
	int			 rc;

	if (size < 1)
		return (0);
	memset(&c, 0, sizeof(c));
	c.ew = &proxy_fuzz_ew;
	t = data[0] % (sizeof(proxy_fuzz_tunnels) /
	    sizeof(proxy_fuzz_tunnels[0]) + 1);
	if (t > 0) {
		c.tunnel = 1;
		(void)snprintf(c.thost, sizeof(c.thost), "%s",
		    proxy_fuzz_tunnels[t - 1]);
		c.tport = (data[0] & 0x80) ? 8443 : 443;
		c.tis_ip = strcmp(c.thost, "127.0.0.1") == 0;
		if (data[0] & 0x40)
			(void)snprintf(c.sni, sizeof(c.sni), "sup.test");
	}
	p = cm_http_parser_new(CM_HTTP_REQUEST, NULL);
	in = evbuffer_new();
	body = evbuffer_new();
	evbuffer_add(in, data + 1, size - 1);
	while (rounds++ < 64) {
		rc = cm_http_head_read(p, in, &why);
		if (rc != 1)
			break;
		if (cm_http_msg_is_connect(cm_http_parser_msg(p))) {
			struct eg_conn	 cc = c;

			(void)eg_policy_connect(&cc, cm_http_parser_msg(p), &r);
			eg_tunnels_release(&cc);
		} else {
			struct eg_xchg	 x;

			memset(&x, 0, sizeof(x));
			x.c = &c;
			x.snap = proxy_fuzz_snap;
			x.cfg = &proxy_fuzz_cfg;
			x.req = cm_http_parser_msg(p);
			(void)eg_policy_request(&x, &r);
			free(x.r.path);
		}
		do {
			evbuffer_drain(body, evbuffer_get_length(body));
			rc = cm_http_body_read(p, in, body, 4096, &why);
		} while (rc == 0 && evbuffer_get_length(body) > 0);
		if (rc != 1)
			break;
		cm_http_parser_reset(p);
	}
	evbuffer_free(body);
	evbuffer_free(in);
	cm_http_parser_free(p);
	return (0);
}
