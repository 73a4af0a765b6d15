/*
 * bbt-origin's command line, listeners, signals, ready file, request log
 * and /stats.
 *
 *   bbt-origin --make-ca DIR
 *	Writes DIR/ca.pem (the test upstream CA's certificate only: what a
 *	client trusts, e.g. egress.upstream_ca_file or curl --cacert) and
 *	DIR/ca-key.pem (0600), prints one JSON line and exits.  Existing
 *	files are kept ("created": false), so it is idempotent.
 *
 *   bbt-origin [--tls ADDR:PORT]... [--plain ADDR:PORT]...
 *	[--cert-dir DIR] [--name NAME]... [--ip-san IP]...
 *	[--untrusted-name NAME]... [--alpn PROTO|none]...
 *	[--log FILE] [--ready-file FILE] [--idle-ms MS]
 *	[--git-root DIR [--git-host NAME]...] [--file-root DIR]
 *
 * --tls listeners need --cert-dir (a --make-ca directory): at start one
 * EC P-256 leaf is minted in memory with every --name as a DNS SAN and
 * every --ip-san as an IP SAN, signed by DIR's CA; nothing is written.
 * A ClientHello whose SNI is an --untrusted-name gets a leaf for that
 * name from a throwaway CA instead (spec/egress.md §22 test 9).  ALPN
 * selects from --alpn in order (default http/1.1; "none" never answers
 * ALPN).  Port 0 picks a free port; --ready-file receives, once every
 * listener is bound, {"pid", "tls": [ports], "plain": [ports],
 * "listeners": [{"addr", "port", "tls"}]}, written by rename so a reader
 * never sees half of it.  --log appends one JSON line per request (see
 * conn.c) and per WebSocket message.  SIGTERM and SIGINT exit 0.
 * Fixtures and the echo are listed in fixture.c; git in cgi.c.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "common/util.h"
#include "tests/origin/origin.h"

static void	 bbt_main_usage(int rc) __attribute__((noreturn));
static int	 bbt_main_listen(struct bbt_origin *o, const char *spec,
		    int tls, char *err, size_t errlen);
static void	 bbt_main_accept(struct evconnlistener *lev, evutil_socket_t fd,
		    struct sockaddr *sa, int salen, void *arg);
static void	 bbt_main_accept_error(struct evconnlistener *lev, void *arg);
static void	 bbt_main_resume(evutil_socket_t fd, short what, void *arg);
static void	 bbt_main_signal(evutil_socket_t sig, short what, void *arg);
static void	 bbt_main_child(evutil_socket_t sig, short what, void *arg);
static int	 bbt_main_ready(struct bbt_origin *o, const char *path);
static int	 bbt_main_push(const char **v, size_t *n, const char *s);
static int	 bbt_main_make_ca(const char *dir);
static int	 bbt_main_addr(const char *spec, struct sockaddr_storage *ss,
		    int *sslen);

/* The one origin of this process; main() owns it. */
static struct bbt_origin bbt_main_origin;

static const struct option bbt_main_opts[] = {
	{ "tls",		required_argument, NULL, 't' },
	{ "plain",		required_argument, NULL, 'p' },
	{ "cert-dir",		required_argument, NULL, 'c' },
	{ "name",		required_argument, NULL, 'n' },
	{ "ip-san",		required_argument, NULL, 'i' },
	{ "make-ca",		required_argument, NULL, 'm' },
	{ "untrusted-name",	required_argument, NULL, 'u' },
	{ "alpn",		required_argument, NULL, 'a' },
	{ "log",		required_argument, NULL, 'l' },
	{ "ready-file",		required_argument, NULL, 'r' },
	{ "idle-ms",		required_argument, NULL, 'I' },
	{ "git-root",		required_argument, NULL, 'g' },
	{ "git-host",		required_argument, NULL, 'G' },
	{ "file-root",		required_argument, NULL, 'f' },
	{ "help",		no_argument,	   NULL, 'h' },
	{ NULL,			0,		   NULL, 0 },
};

static void
bbt_main_usage(int rc)
{
	fprintf(rc == 0 ? stdout : stderr, "usage: bbt-origin --make-ca DIR\n"
	    "       bbt-origin [--tls ADDR:PORT]... [--plain ADDR:PORT]...\n"
	    "           [--cert-dir DIR] [--name NAME]... [--ip-san IP]...\n"
	    "           [--untrusted-name NAME]... [--alpn PROTO|none]...\n"
	    "           [--log FILE] [--ready-file FILE] [--idle-ms MS]\n"
	    "           [--git-root DIR [--git-host NAME]...]"
	    " [--file-root DIR]\n");
	exit(rc);
}

static int
bbt_main_push(const char **v, size_t *n, const char *s)
{
	if (*n >= BBT_MAX_NAMES)
		return (-1);
	v[(*n)++] = s;
	return (0);
}

void
bbt_main_log(struct bbt_origin *o, json_t *line)
{
	char	*s;
	size_t	 len;

	if (line == NULL)
		return;
	if (o->log_fd == -1) {
		json_decref(line);
		return;
	}
	s = json_dumps(line, JSON_COMPACT);
	json_decref(line);
	if (s == NULL)
		return;
	/* One write(2) per line on an O_APPEND fd: readers see whole lines. */
	len = strlen(s);
	s[len] = '\n';
	(void)cm_write_all(o->log_fd, s, len + 1);
	free(s);
}

json_t *
bbt_main_stats(struct bbt_origin *o)
{
	json_t			*j, *ls;
	struct bbt_listener	*l;
	size_t			 i;

	if ((ls = json_array()) == NULL)
		return (NULL);
	for (i = 0; i < o->nls; i++) {
		l = &o->ls[i];
		(void)json_array_append_new(ls, json_pack("{s:s, s:i, s:b, "
		    "s:I, s:I}", "addr", l->addr, "port", l->port, "tls",
		    l->tls, "connections", (json_int_t)l->connections,
		    "requests", (json_int_t)l->requests));
	}
	j = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:I, s:I, s:I, s:o}",
	    "connections", (json_int_t)o->st.connections,
	    "open", (json_int_t)o->st.open,
	    "served_connections", (json_int_t)o->st.served,
	    "requests", (json_int_t)o->st.requests,
	    "stats_requests", (json_int_t)o->st.stats_requests,
	    "aborted", (json_int_t)o->st.aborted,
	    "refused", (json_int_t)o->st.refused,
	    "tls_ok", (json_int_t)o->st.tls_ok,
	    "tls_failed", (json_int_t)o->st.tls_failed,
	    "body_bytes_max", (json_int_t)o->st.body_bytes_max,
	    "ws_sessions", (json_int_t)o->st.ws_sessions,
	    "ws_messages", (json_int_t)o->st.ws_messages,
	    "cgi_runs", (json_int_t)o->st.cgi_runs,
	    "listeners", ls);
	return (j);
}

static void
bbt_main_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	(void)lev;
	bbt_conn_accept(arg, fd, sa, salen);
}

/*
 * "A.B.C.D:PORT" or "[V6]:PORT"; port 0 asks the kernel for a free one
 * (evutil_parse_sockaddr_port() refuses 0).
 */
/* Out of fds: stop accepting for a moment instead of spinning. */
static void
bbt_main_accept_error(struct evconnlistener *lev, void *arg)
{
	struct bbt_listener	*l = arg;
	struct timeval		 tv = { 0, BBT_ACCEPT_PAUSE_MS * 1000 };

	(void)evconnlistener_disable(lev);
	(void)evtimer_add(l->pause, &tv);
}

static void
bbt_main_resume(evutil_socket_t fd, short what, void *arg)
{
	struct bbt_listener	*l = arg;

	(void)fd;
	(void)what;
	(void)evconnlistener_enable(l->lev);
}

static int
bbt_main_addr(const char *spec, struct sockaddr_storage *ss, int *sslen)
{
	struct sockaddr_in	*s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)ss;
	char			 host[INET6_ADDRSTRLEN + 2];
	const char		*colon = strrchr(spec, ':');
	size_t			 hlen;
	char			*end;
	long			 port;

	if (colon == NULL || (hlen = (size_t)(colon - spec)) == 0 ||
	    hlen >= sizeof(host))
		return (-1);
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || end == colon + 1 || port < 0 ||
	    port > 65535)
		return (-1);
	memcpy(host, spec, hlen);
	host[hlen] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[' && host[hlen - 1] == ']') {
		host[hlen - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
			return (-1);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*sslen = (int)sizeof(*s6);
		return (0);
	}
	if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
		return (-1);
	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	*sslen = (int)sizeof(*s4);
	return (0);
}

static int
bbt_main_listen(struct bbt_origin *o, const char *spec, int tls, char *err,
    size_t errlen)
{
	struct sockaddr_storage	 ss;
	struct bbt_listener	*l;
	socklen_t		 len;
	int			 sslen = (int)sizeof(ss);
	char			 host[INET6_ADDRSTRLEN];
	const void		*ap;

	if (o->nls >= BBT_MAX_LISTENERS) {
		(void)snprintf(err, errlen, "too many listeners");
		return (-1);
	}
	if (bbt_main_addr(spec, &ss, &sslen) == -1) {
		(void)snprintf(err, errlen, "%s: not ADDR:PORT", spec);
		return (-1);
	}
	l = &o->ls[o->nls];
	memset(l, 0, sizeof(*l));
	l->o = o;
	l->tls = tls;
	l->lev = evconnlistener_new_bind(o->base, bbt_main_accept, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    SOMAXCONN, (struct sockaddr *)&ss, sslen);
	if (l->lev == NULL) {
		(void)snprintf(err, errlen, "%s: bind: %s", spec,
		    strerror(errno));
		return (-1);
	}
	if ((l->pause = evtimer_new(o->base, bbt_main_resume, l)) == NULL) {
		(void)snprintf(err, errlen, "%s: out of memory", spec);
		evconnlistener_free(l->lev);
		return (-1);
	}
	evconnlistener_set_error_cb(l->lev, bbt_main_accept_error);
	len = sizeof(ss);
	if (getsockname(evconnlistener_get_fd(l->lev),
	    (struct sockaddr *)&ss, &len) == -1) {
		(void)snprintf(err, errlen, "%s: getsockname: %s", spec,
		    strerror(errno));
		evconnlistener_free(l->lev);
		event_free(l->pause);
		return (-1);
	}
	if (ss.ss_family == AF_INET6) {
		l->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		ap = &((struct sockaddr_in6 *)&ss)->sin6_addr;
	} else {
		l->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		ap = &((struct sockaddr_in *)&ss)->sin_addr;
	}
	if (evutil_inet_ntop(ss.ss_family, ap, host, sizeof(host)) == NULL)
		cm_strlcpy(host, "?", sizeof(host));
	(void)snprintf(l->addr, sizeof(l->addr),
	    ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", host, l->port);
	o->nls++;
	return (0);
}

static int
bbt_main_ready(struct bbt_origin *o, const char *path)
{
	json_t	*j, *tls, *plain, *ls;
	char	*s, dir[PATH_MAX];
	const char *slash, *name;
	size_t	 i;
	int	 rc;

	tls = json_array();
	plain = json_array();
	ls = json_array();
	for (i = 0; i < o->nls; i++) {
		(void)json_array_append_new(o->ls[i].tls ? tls : plain,
		    json_integer(o->ls[i].port));
		(void)json_array_append_new(ls, json_pack("{s:s, s:i, s:b}",
		    "addr", o->ls[i].addr, "port", o->ls[i].port,
		    "tls", o->ls[i].tls));
	}
	j = json_pack("{s:i, s:o, s:o, s:o}", "pid", (int)getpid(), "tls",
	    tls, "plain", plain, "listeners", ls);
	if (j == NULL || (s = json_dumps(j, JSON_COMPACT)) == NULL) {
		json_decref(j);
		return (-1);
	}
	json_decref(j);
	if ((slash = strrchr(path, '/')) == NULL) {
		cm_strlcpy(dir, ".", sizeof(dir));
		name = path;
	} else {
		(void)snprintf(dir, sizeof(dir), "%.*s",
		    (int)(slash == path ? 1 : slash - path), path);
		name = slash + 1;
	}
	rc = cm_write_file_atomic(dir, name, s, strlen(s), 0644);
	free(s);
	return (rc);
}

static void
bbt_main_signal(evutil_socket_t sig, short what, void *arg)
{
	struct bbt_origin	*o = arg;

	(void)sig;
	(void)what;
	(void)event_base_loopexit(o->base, NULL);
}

static void
bbt_main_child(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	bbt_cgi_reap(arg);
}

static int
bbt_main_make_ca(const char *dir)
{
	json_t	*info = NULL;
	char	 err[512];

	if (bbt_tls_make_ca(dir, &info, err, sizeof(err)) == -1) {
		fprintf(stderr, "bbt-origin: %s\n", err);
		return (1);
	}
	(void)json_dumpf(info, stdout, JSON_COMPACT);
	fputc('\n', stdout);
	json_decref(info);
	return (0);
}

int
main(int argc, char **argv)
{
	struct bbt_origin	*o = &bbt_main_origin;
	const char		*tls[BBT_MAX_LISTENERS];
	const char		*plain[BBT_MAX_LISTENERS];
	const char		*names[BBT_MAX_NAMES], *ips[BBT_MAX_NAMES];
	const char		*cert_dir = NULL, *log_path = NULL;
	const char		*ready = NULL;
	size_t			 ntls = 0, nplain = 0, nnames = 0, nips = 0, i;
	struct rlimit		 rl;
	char			 err[512];
	char			*end;
	long			 v;
	int			 ch, rc = 0, alpn_given = 0;

	memset(o, 0, sizeof(*o));
	TAILQ_INIT(&o->conns);
	o->log_fd = -1;
	o->idle_ms = BBT_DEF_IDLE_MS;
	o->alpn[0] = "http/1.1";
	o->nalpn = 1;

	while ((ch = getopt_long(argc, argv, "h", bbt_main_opts, NULL)) != -1) {
		switch (ch) {
		case 't':
			if (ntls >= BBT_MAX_LISTENERS)
				bbt_main_usage(2);
			tls[ntls++] = optarg;
			break;
		case 'p':
			if (nplain >= BBT_MAX_LISTENERS)
				bbt_main_usage(2);
			plain[nplain++] = optarg;
			break;
		case 'c':
			cert_dir = optarg;
			break;
		case 'n':
			if (bbt_main_push(names, &nnames, optarg) == -1)
				bbt_main_usage(2);
			break;
		case 'i':
			if (bbt_main_push(ips, &nips, optarg) == -1)
				bbt_main_usage(2);
			break;
		case 'm':
			return (bbt_main_make_ca(optarg));
		case 'u':
			if (bbt_main_push(o->untrusted, &o->nuntrusted,
			    optarg) == -1)
				bbt_main_usage(2);
			break;
		case 'a':
			if (!alpn_given) {
				o->nalpn = 0;
				alpn_given = 1;
			}
			if (strcmp(optarg, "none") == 0)
				break;
			if (strlen(optarg) == 0 || strlen(optarg) > 255 ||
			    bbt_main_push(o->alpn, &o->nalpn, optarg) == -1)
				bbt_main_usage(2);
			break;
		case 'l':
			log_path = optarg;
			break;
		case 'r':
			ready = optarg;
			break;
		case 'I':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || v < 0 ||
			    v > BBT_MAX_DELAY_MS)
				bbt_main_usage(2);
			o->idle_ms = (int)v;
			break;
		case 'g':
			o->git_root = optarg;
			break;
		case 'G':
			if (bbt_main_push(o->git_hosts, &o->ngit_hosts,
			    optarg) == -1)
				bbt_main_usage(2);
			break;
		case 'f':
			o->file_root = optarg;
			break;
		case 'h':
			bbt_main_usage(0);
		default:
			bbt_main_usage(2);
		}
	}
	if (optind != argc || ntls + nplain == 0)
		bbt_main_usage(2);
	if (o->git_root != NULL && o->ngit_hosts == 0) {
		/* The two git hosts of spec/egress.md §22. */
		o->git_hosts[o->ngit_hosts++] = "git.test";
		o->git_hosts[o->ngit_hosts++] = "nogit.test";
	}

	(void)signal(SIGPIPE, SIG_IGN);
	/* The memory benchmark holds 1,000 tunnels open: lift the fd cap. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((o->base = event_base_new()) == NULL) {
		fprintf(stderr, "bbt-origin: event_base_new failed\n");
		return (1);
	}
	if (log_path != NULL && (o->log_fd = open(log_path,
	    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) == -1) {
		fprintf(stderr, "bbt-origin: %s: %s\n", log_path,
		    strerror(errno));
		return (1);
	}
	if (ntls > 0) {
		if (cert_dir == NULL) {
			fprintf(stderr, "bbt-origin: --tls needs --cert-dir\n");
			return (1);
		}
		if (bbt_tls_setup(o, cert_dir, names, nnames, ips, nips, err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "bbt-origin: %s\n", err);
			return (1);
		}
	}
	for (i = 0; i < ntls + nplain; i++) {
		if (bbt_main_listen(o, i < ntls ? tls[i] : plain[i - ntls],
		    i < ntls, err, sizeof(err)) == -1) {
			fprintf(stderr, "bbt-origin: %s\n", err);
			return (1);
		}
	}
	o->sigterm = evsignal_new(o->base, SIGTERM, bbt_main_signal, o);
	o->sigint = evsignal_new(o->base, SIGINT, bbt_main_signal, o);
	o->sigchld = evsignal_new(o->base, SIGCHLD, bbt_main_child, o);
	if (o->sigterm == NULL || o->sigint == NULL || o->sigchld == NULL ||
	    evsignal_add(o->sigterm, NULL) == -1 ||
	    evsignal_add(o->sigint, NULL) == -1 ||
	    evsignal_add(o->sigchld, NULL) == -1) {
		fprintf(stderr, "bbt-origin: signal events failed\n");
		return (1);
	}
	if (ready != NULL && bbt_main_ready(o, ready) == -1) {
		fprintf(stderr, "bbt-origin: %s: %s\n", ready, strerror(errno));
		return (1);
	}
	if (event_base_dispatch(o->base) == -1)
		rc = 1;

	/* Free everything, so a sanitizer build reports only real leaks. */
	bbt_conn_free_all(o);
	bbt_cgi_reap(o);
	for (i = 0; i < o->nls; i++) {
		evconnlistener_free(o->ls[i].lev);
		event_free(o->ls[i].pause);
	}
	event_free(o->sigterm);
	event_free(o->sigint);
	event_free(o->sigchld);
	bbt_tls_free(o);
	event_base_free(o->base);
	if (o->log_fd != -1)
		(void)close(o->log_fd);
	return (rc);
}
