/*
 * What a client asks for (spec/gitgate.md §2.1-§2.3): repository names,
 * the git:// request line and the smart HTTP routes.  Pure string work
 * on untrusted bytes; the fuzz targets call these directly.
 */
#ifndef GG_ROUTE_H
#define GG_ROUTE_H

#include <stddef.h>

struct gg_cfg;

enum gg_svc {
	GG_SVC_UPLOAD,		/* git-upload-pack: fetch, clone */
	GG_SVC_RECEIVE,		/* git-receive-pack: push */
};

/* A repo name as gitgate.yaml may declare it (§3.2.3); 0 or -1, *why. */
int		 gg_route_name_valid(const char *s, size_t len,
		    const char **why);
/*
 * "/NAME.git" or "/NAME" to NAME (NUL-terminated in out); -1 when the
 * path is not a name at all (§2.1: nothing is decoded or normalised).
 */
int		 gg_route_path_name(const char *path, size_t len, char *out,
		    size_t outlen);
/*
 * "bb-sidecar: unknown repository 'X' (declared: a, b)" for the path a
 * client sent: X escaped as \xNN and cut to 100 bytes, at most 10
 * names listed.
 */
void		 gg_route_unknown_msg(const struct gg_cfg *cfg,
		    const char *path, size_t len, char *out, size_t outlen);

/* The first pkt-line on git:// (§2.2), pointing into the caller's buf. */
struct gg_greq {
	enum gg_svc	 svc;
	const char	*path;		/* not NUL-terminated */
	size_t		 pathlen;
	int		 version;	/* 0, 1 or 2 (version=N) */
};

/*
 * Parses "git-upload-pack /NAME.git\0host=H\0[\0key=value\0...]" (len
 * bytes, a trailing LF allowed after the last NUL).  0, or -1 with *why.
 */
int		 gg_route_git_request(const char *buf, size_t len,
		    struct gg_greq *out, const char **why);
/* "version=2" (a Git-Protocol field or an extra parameter) to 0/1/2. */
int		 gg_route_version(const char *s, size_t len);

enum gg_hroute_kind {
	GG_HR_INFO_REFS,	/* GET .../info/refs?service=git-SVC */
	GG_HR_RPC,		/* POST .../git-SVC */
	GG_HR_DUMB,		/* info/refs without ?service: 403 */
	GG_HR_NOT_FOUND,	/* any other path: 404 */
	GG_HR_BAD_METHOD,	/* 405 with allow */
	GG_HR_BAD_QUERY,	/* 400 */
};

struct gg_hroute {
	enum gg_hroute_kind	 kind;
	enum gg_svc		 svc;
	const char		*path;		/* the repo part, in target */
	size_t			 pathlen;
	const char		*allow;		/* GG_HR_BAD_METHOD */
};

/* Maps a request's method and target to a route (§2.3); never fails. */
void		 gg_route_http(const char *method, const char *target,
		    struct gg_hroute *out);

#endif /* GG_ROUTE_H */
