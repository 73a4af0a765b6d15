/*
 * Private to the routes model (common/routes*.c): the structs behind the
 * opaque types of common/routes.h.  Nothing else includes this.
 *
 * Every "has_*" member records that the file gave the key, so
 * cm_routes_json() can show a route exactly as written (§14) and the
 * supervise merge can render it back without adding defaults.
 */
#ifndef CM_ROUTES_INT_H
#define CM_ROUTES_INT_H

#include <stddef.h>
#include <stdint.h>

#include <pcre2.h>

#include "common/routes.h"

enum cm_rt_type { CM_RT_EXACT, CM_RT_PREFIX, CM_RT_REGEX };

/* A path or header condition of a matches entry. */
struct cm_rt_cond {
	enum cm_rt_type	 type;
	char		*name;		/* owned; headers only, else NULL */
	char		*value;		/* owned */
	size_t		 len;		/* bytes in value */
	pcre2_code	*re;		/* owned; CM_RT_REGEX only */
};

struct cm_rt_entry {
	struct cm_rt_cond	*paths;		/* owned */
	size_t			 npaths;
	int			 has_paths;
	char			**methods;	/* owned; upper-cased */
	size_t			 nmethods;
	int			 has_methods;
	struct cm_rt_cond	*headers;	/* owned */
	size_t			 nheaders;
	int			 has_headers;
};

/* dlp keys the file gave. */
#define CM_RT_DLP_OUT		0x01
#define CM_RT_DLP_IN		0x02
#define CM_RT_DLP_ACTION	0x04

struct cm_route {
	char			*raw_host;	/* owned: as written */
	char			*host;		/* owned: normalised, "*.x" */
	const char		*suffix;	/* wildcards: host + 2 */
	int			 wildcard;
	int			*ports;		/* owned */
	size_t			 nports;
	int			 has_ports;
	struct cm_rt_entry	*matches;	/* owned */
	size_t			 nmatches;
	int			 has_matches;
	enum cm_auth_scheme	 auth;
	char			*token_env;	/* owned; NULL without auth */
	int			 has_git;
	int			 has_fetch;
	int			 git_fetch;
	int			 has_dlp;
	unsigned		 dlp_given;	/* CM_RT_DLP_* */
	unsigned		 outbound;	/* CM_DET_* */
	unsigned		 inbound;
	enum cm_dlp_action	 on_match;
	uint64_t		 max_body;	/* 0: no key */
	int			 has_on_oversize;
	int			 oversize_noscan;
	int			 has_allow_private;
	int			 allow_private;
	size_t			 line;
};

struct cm_routes {
	int			 log;
	struct cm_route		**v;		/* owned, file order */
	size_t			 n;
	struct cm_route		**exact;	/* borrowed from v, by host */
	size_t			 nexact;
	struct cm_route		**wild;		/* borrowed, by suffix */
	size_t			 nwild;
};

/* Detector names; the list ends with a NULL name. */
struct cm_rt_det {
	const char	*name;
	unsigned	 bit;		/* CM_DET_* */
	int		 inbound;
};

/* routes.c */
extern const struct cm_rt_det cm_routes_dets[];
struct cm_route	*cm_routes_route_parse(struct cm_cfg_ctx *cx,
		    const struct cm_ynode *node, const char *keypath);
void		 cm_routes_route_free(struct cm_route *rt);

/* routes_match.c: the matches key, parsed into rt. */
void		 cm_routes_match_parse(struct cm_cfg_ctx *cx,
		    const struct cm_ynode *node, const char *keypath,
		    struct cm_route *rt);
void		 cm_routes_match_free(struct cm_route *rt);
json_t		*cm_routes_match_json(const struct cm_route *rt);

/* routes_json.c */
json_t		*cm_routes_json_route(const struct cm_route *rt);

#endif /* CM_ROUTES_INT_H */
