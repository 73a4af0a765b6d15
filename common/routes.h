/*
 * routes.yaml (spec/egress.md §4-§5): the launcher's egress policy.
 * Parsed and validated here, in common/, because egress enforces it and
 * supervise validates proposals and merges approved ones with the same
 * parser.  A struct cm_routes is immutable once built and lives in a
 * config snapshot; regexes are compiled (PCRE2 JIT) at load.
 */
#ifndef CM_ROUTES_H
#define CM_ROUTES_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct cm_cfg_ctx;
struct cm_ynode;
struct cm_http_fields;
struct evbuffer;

/* Detector bits. */
#define CM_DET_TOKEN_PATTERNS	0x01
#define CM_DET_KNOWN_SECRETS	0x02
#define CM_DET_ENTROPY		0x04
#define CM_DET_INJECTION	0x10	/* naive_injection_detection */
/* `true` for each list (spec/egress.md §8.1, §12). */
#define CM_DET_OUTBOUND_DEFAULT	(CM_DET_TOKEN_PATTERNS | CM_DET_KNOWN_SECRETS)
#define CM_DET_INBOUND_DEFAULT	CM_DET_INJECTION

enum cm_dlp_action { CM_DLP_SUPERVISE, CM_DLP_REDACT, CM_DLP_BLOCK };
enum cm_auth_scheme { CM_AUTH_NONE, CM_AUTH_BEARER, CM_AUTH_TOKEN };

struct cm_routes;
struct cm_route;	/* opaque: accessors below */

/*
 * Parses a routes document (the root of a YAML tree from cm_yaml_*).
 * Every error goes to cx; NULL if any, the loader's included (cx is the
 * file's context: cm_yaml_parse() returns a pruned tree after non-fatal
 * errors).  Token values are not looked up here (a missing variable is
 * a 503 at request time).
 */
struct cm_routes	*cm_routes_parse(struct cm_cfg_ctx *cx,
			    const struct cm_ynode *root);
/* cm_yaml_load_file() + cm_routes_parse(). */
struct cm_routes	*cm_routes_load(struct cm_cfg_ctx *cx, const char *path);
void			 cm_routes_free(struct cm_routes *r);

int			 cm_routes_log(const struct cm_routes *r);	/* 0..2 */
size_t			 cm_routes_count(const struct cm_routes *r);
/* In file order. */
const struct cm_route	*cm_routes_at(const struct cm_routes *r, size_t i);
/*
 * The route for an already-normalised host (cm_host_normalise): exact
 * beats wildcard, longest wildcard suffix wins; NULL when none.
 */
const struct cm_route	*cm_routes_lookup(const struct cm_routes *r,
			    const char *host);

/*
 * The index of the route whose host is route_host in route form (a name,
 * an IP literal or "*.name"; compared normalised, so case and a
 * trailing dot do not matter): 0 and *idx, or -1.  Unlike lookup, a
 * wildcard route is found only by its own "*.name".  For the supervise
 * merge (spec/supervise.md §6.3): *idx is also the index in the
 * "routes" array of cm_routes_json().
 */
int			 cm_routes_find(const struct cm_routes *r,
			    const char *route_host, size_t *idx);

/* Route accessors. */
/* Normalised: lower case, no trailing dot, IPv6 without brackets, "*.x". */
const char		*cm_route_host(const struct cm_route *rt);
int			 cm_route_is_wildcard(const struct cm_route *rt);
/* tls: 1 for CONNECT, 0 for absolute-form http:// (§5.2 defaults). */
int			 cm_route_port_allowed(const struct cm_route *rt,
			    int port, int tls);
enum cm_auth_scheme	 cm_route_auth(const struct cm_route *rt);
const char		*cm_route_token_env(const struct cm_route *rt);
int			 cm_route_git_fetch(const struct cm_route *rt);
unsigned		 cm_route_outbound(const struct cm_route *rt);
unsigned		 cm_route_inbound(const struct cm_route *rt);
enum cm_dlp_action	 cm_route_on_match(const struct cm_route *rt);
/* 0 = no limit. */
uint64_t		 cm_route_max_body(const struct cm_route *rt);
int			 cm_route_oversize_noscan(const struct cm_route *rt);
int			 cm_route_allow_private(const struct cm_route *rt);
size_t			 cm_route_line(const struct cm_route *rt);
/*
 * §5.3: 1 when matches is absent/empty or one entry accepts the
 * request, else 0.  path is the normalised path without the query;
 * fields are the agent's, before any stripping.  Thread-safe.
 */
int			 cm_route_matches(const struct cm_route *rt,
			    const char *method, const char *path,
			    const struct cm_http_fields *fields);

/*
 * The policy as JSON (for _egress.local/allowlist and the MCP tool
 * list-egress-routes): routes in file order with every key, token_env
 * names, never token values.
 */
json_t			*cm_routes_json(const struct cm_routes *r);
/*
 * In that JSON form, each route shows exactly the keys the file gave, in
 * a fixed order (host, ports, matches, auth_scheme, token_env, git, dlp,
 * max_body_bytes, on_oversize, allow_private), with effective values:
 * host as written, methods upper-cased, every path and header matcher
 * with its type, detector lists as lists of names (true and false
 * become the default list and []).  The document is {"log": N,
 * "routes": [...]}, log always present.  Rendering a document and
 * parsing the text gives the same JSON again.
 */

/*
 * One route mapping (a `supervise modify` payload, an egress-block
 * proposal) through the same validator as routes.yaml; key paths are
 * relative to the route ("matches[0].paths[0].value").  Its JSON form
 * as above, or NULL with the errors in cx.  Duplicate hosts are the
 * caller's business (cm_routes_find).
 */
json_t			*cm_routes_json_parse_route(struct cm_cfg_ctx *cx,
			    const struct cm_ynode *node);
/*
 * spec/supervise.md §6.3 step 3: appends doc (cm_routes_json() form,
 * typically the current file's with one route appended, widened or
 * replaced) to out as canonical routes.yaml text: log first, routes in
 * order, keys in the fixed order, no comments.  The text is parsed
 * again with the routes parser and must give back doc exactly.  0, or
 * -1 with the reason in cx and out untouched.
 */
int			 cm_routes_json_render(const json_t *doc,
			    struct evbuffer *out, struct cm_cfg_ctx *cx);

/*
 * §4.1: host (no port) lower-cased, trailing dot removed, checked;
 * IPv6 literals without brackets in RFC 5952 form.  0, or -1 with *why.
 * *is_ip (may be NULL) tells whether it was an IP literal.  Accepts
 * "[v6]" and, for route files, a bare v6 literal; IPv4 only as four
 * decimal octets without leading zeros; a name whose last label is
 * numeric (or 0x...) is an IPv4 attempt and refused.  size
 * CM_HOST_BUF_BYTES always suffices; in and out may be the same buffer.
 */
int			 cm_host_normalise(const char *in, size_t len,
			    char *out, size_t size, int *is_ip,
			    const char **why);
/*
 * §4.2-§4.3: normalises the path part of a request target (up to '?').
 * 0 with the result in out; -1 with *why and *reason = "bad_request"
 * or "ambiguous_path".  The result is never longer than the input, so
 * size >= len + 1 (and >= 2) suffices; in and out may be the same
 * buffer.  Besides §4.2, CTLs, space, DEL and '#' are refused.
 */
int			 cm_path_normalise(const char *in, size_t len,
			    char *out, size_t size, const char **why,
			    const char **reason);

#endif /* CM_ROUTES_H */
