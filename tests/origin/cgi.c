/*
 * bbt-origin's git smart HTTP: with --git-root DIR, requests whose Host
 * (port stripped) is a --git-host (default git.test and nogit.test, the
 * hosts of spec/egress.md §22 tests 23-24) run `git http-backend` as a
 * CGI with GIT_PROJECT_ROOT=DIR and GIT_HTTP_EXPORT_ALL, so every bare
 * repository under DIR is clonable (receive-pack stays off: no
 * REMOTE_USER).
 *
 * One socketpair is the child's stdin and stdout.  The decoded request
 * body streams into it (CONTENT_LENGTH only when the client sent one;
 * http-backend reads to EOF otherwise, so our side is shut down after
 * the last byte).  The CGI's header block is parsed by the shared codec
 * as a response head behind a synthetic status line, its Status field
 * becomes the status, and the body is relayed chunked (or with the
 * CGI's Content-Length).
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/bufferevent.h>
#include <event2/util.h>

#include "common/util.h"
#include "tests/origin/origin.h"

/* CGI/1.1 variables plus one per request field; more is refused. */
#define BBT_CGI_MAX_ENV		(BBT_HEAD_COUNT + 32)

struct bbt_cgi {
	struct bbt_conn		*c;		/* borrowed: the owner */
	pid_t			 pid;
	struct bufferevent	*io;		/* owned: our socketpair end */
	struct cm_http_parser	*p;		/* owned: the CGI's head */
	struct evbuffer		*raw;		/* owned: its output so far */
	struct evbuffer		*body;		/* owned: decoded body */
	int			 head_done;
	int			 resp_done;	/* the whole response is out */
	int			 in_done;	/* request body all passed on */
	int			 shut;		/* child's stdin got EOF */
	int			 eof;		/* child closed its stdout */
};

static char	*bbt_cgi_var(const char *name, const char *value);
static char	*bbt_cgi_http_var(const char *field, const char *value);
static void	 bbt_cgi_readcb(struct bufferevent *bev, void *arg);
static void	 bbt_cgi_writecb(struct bufferevent *bev, void *arg);
static void	 bbt_cgi_eventcb(struct bufferevent *bev, short what,
		    void *arg);
static void	 bbt_cgi_pump(struct bbt_cgi *g);
static int	 bbt_cgi_head(struct bbt_cgi *g);
static void	 bbt_cgi_fail(struct bbt_cgi *g, const char *why);
static void	 bbt_cgi_finish(struct bbt_cgi *g);
static void	 bbt_cgi_env_free(char **env);

int
bbt_cgi_wants(struct bbt_conn *c)
{
	const char	*host;
	size_t		 i, n;

	if (c->o->git_root == NULL || (host = cm_http_fields_get(
	    cm_http_msg_fields(c->req.msg), "Host")) == NULL)
		return (0);
	n = strcspn(host, ":");
	for (i = 0; i < c->o->ngit_hosts; i++) {
		if (strlen(c->o->git_hosts[i]) == n &&
		    strncasecmp(host, c->o->git_hosts[i], n) == 0)
			return (1);
	}
	return (0);
}

static char *
bbt_cgi_var(const char *name, const char *value)
{
	char	*s;

	if (asprintf(&s, "%s=%s", name, value) == -1)
		return (NULL);
	return (s);
}

/* RFC 3875 §4.1.18: HTTP_ + the name upper-cased, '-' as '_'. */
static char *
bbt_cgi_http_var(const char *field, const char *value)
{
	char	*s, *p;

	if (asprintf(&s, "HTTP_%s=%s", field, value) == -1)
		return (NULL);
	for (p = s + 5; *p != '='; p++) {
		if (*p == '-')
			*p = '_';
		else if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	}
	return (s);
}

static void
bbt_cgi_env_free(char **env)
{
	size_t	 i;

	for (i = 0; env[i] != NULL; i++)
		free(env[i]);
	free(env);
}

int
bbt_cgi_start(struct bbt_conn *c)
{
	struct bbt_cgi		*g;
	struct cm_http_msg	*m = c->req.msg;
	struct cm_http_fields	*f = cm_http_msg_fields(m);
	char			**env, len[32], peer[64], *colon;
	const char		*n, *v, *path;
	uint64_t		 cl;
	size_t			 i, e = 0;
	int			 sv[2], fail = 0;
	char *const		 argv[] = { "git", "http-backend", NULL };

	if ((env = calloc(BBT_CGI_MAX_ENV + 1, sizeof(*env))) == NULL)
		return (-1);
	cm_strlcpy(peer, c->peer, sizeof(peer));
	if ((colon = strrchr(peer, ':')) != NULL)
		*colon = '\0';
	path = c->req.path;
	env[e++] = bbt_cgi_var("GATEWAY_INTERFACE", "CGI/1.1");
	env[e++] = bbt_cgi_var("SERVER_PROTOCOL", "HTTP/1.1");
	env[e++] = bbt_cgi_var("SERVER_SOFTWARE", "bbt-origin");
	env[e++] = bbt_cgi_var("REQUEST_METHOD", cm_http_msg_method_name(m));
	env[e++] = bbt_cgi_var("PATH_INFO", path);
	env[e++] = bbt_cgi_var("QUERY_STRING", c->req.query);
	env[e++] = bbt_cgi_var("REMOTE_ADDR", peer);
	env[e++] = bbt_cgi_var("GIT_PROJECT_ROOT", c->o->git_root);
	env[e++] = bbt_cgi_var("GIT_HTTP_EXPORT_ALL", "1");
	env[e++] = bbt_cgi_var("GIT_CONFIG_NOSYSTEM", "1");
	env[e++] = bbt_cgi_var("PATH", getenv("PATH") != NULL ?
	    getenv("PATH") : "/usr/bin:/bin");
	if ((v = cm_http_fields_get(f, "Content-Type")) != NULL)
		env[e++] = bbt_cgi_var("CONTENT_TYPE", v);
	if (cm_http_msg_framing(m, &cl) == CM_HTTP_FRAMING_LENGTH) {
		(void)snprintf(len, sizeof(len), "%llu",
		    (unsigned long long)cl);
		env[e++] = bbt_cgi_var("CONTENT_LENGTH", len);
	}
	for (i = 0; i < cm_http_fields_len(f) && e < BBT_CGI_MAX_ENV; i++) {
		n = cm_http_fields_name(f, i);
		if (strcasecmp(n, "Content-Type") == 0 ||
		    strcasecmp(n, "Content-Length") == 0)
			continue;
		env[e++] = bbt_cgi_http_var(n, cm_http_fields_value(f, i));
	}
	for (i = 0; i < e; i++) {
		if (env[i] == NULL) {
			/* Compact, so the free below sees every string. */
			memmove(env + i, env + i + 1,
			    (e - i - 1) * sizeof(*env));
			env[--e] = NULL;
			fail = 1;
			i--;
		}
	}
	if (fail) {
		bbt_cgi_env_free(env);
		return (-1);
	}

	if ((g = calloc(1, sizeof(*g))) == NULL ||
	    (g->p = cm_http_parser_new(CM_HTTP_RESPONSE, NULL)) == NULL ||
	    (g->raw = evbuffer_new()) == NULL ||
	    (g->body = evbuffer_new()) == NULL ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		bbt_cgi_env_free(env);
		c->cgi = g;
		return (-1);
	}
	g->c = c;
	c->cgi = g;
	cm_http_parser_set_method(g->p, cm_http_msg_method(m));
	/* The CGI writes a header block only: give the codec a start line. */
	(void)evbuffer_add_printf(g->raw, "HTTP/1.1 200 CGI\r\n");
	if ((g->pid = fork()) == -1) {
		(void)close(sv[0]);
		(void)close(sv[1]);
		bbt_cgi_env_free(env);
		return (-1);
	}
	if (g->pid == 0) {
		if (dup2(sv[1], 0) == -1 || dup2(sv[1], 1) == -1)
			_exit(127);
		(void)signal(SIGPIPE, SIG_DFL);
		execvpe("git", argv, env);
		_exit(127);
	}
	(void)close(sv[1]);
	bbt_cgi_env_free(env);
	c->o->st.cgi_runs++;
	(void)evutil_make_socket_nonblocking(sv[0]);
	if ((g->io = bufferevent_socket_new(c->o->base, sv[0],
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		(void)close(sv[0]);
		return (-1);
	}
	bufferevent_setcb(g->io, bbt_cgi_readcb, bbt_cgi_writecb,
	    bbt_cgi_eventcb, g);
	bufferevent_setwatermark(g->io, EV_READ, 0, BBT_CGI_BUF_BYTES);
	bufferevent_setwatermark(g->io, EV_WRITE, BBT_CGI_BUF_BYTES / 2, 0);
	bufferevent_setwatermark(c->bev, EV_WRITE, BBT_CGI_BUF_BYTES / 2, 0);
	(void)bufferevent_enable(g->io, EV_READ | EV_WRITE);
	return (0);
}

void
bbt_cgi_free(struct bbt_cgi *g)
{
	if (g == NULL)
		return;
	/* Still running: the client is gone, so is the point of it. */
	if (g->pid > 0 && !g->eof)
		(void)kill(g->pid, SIGTERM);
	if (g->io != NULL)
		bufferevent_free(g->io);
	cm_http_parser_free(g->p);
	if (g->raw != NULL)
		evbuffer_free(g->raw);
	if (g->body != NULL)
		evbuffer_free(g->body);
	free(g);
}

void
bbt_cgi_reap(struct bbt_origin *o)
{
	int	 status;

	(void)o;
	while (waitpid(-1, &status, WNOHANG) > 0)
		continue;
}

int
bbt_cgi_body(struct bbt_conn *c, struct evbuffer *data)
{
	struct bbt_cgi	*g = c->cgi;

	if (g == NULL || g->shut || g->resp_done || g->io == NULL) {
		(void)evbuffer_drain(data, evbuffer_get_length(data));
		return (0);
	}
	(void)bufferevent_write_buffer(g->io, data);
	return (evbuffer_get_length(bufferevent_get_output(g->io)) >=
	    BBT_CGI_BUF_BYTES);
}

void
bbt_cgi_body_end(struct bbt_conn *c)
{
	struct bbt_cgi	*g = c->cgi;

	if (g == NULL)
		return;
	g->in_done = 1;
	if (g->resp_done) {
		bbt_conn_end(c);
		return;
	}
	bbt_cgi_writecb(g->io, g);
}

/* Our side's output drained: shut the child's stdin, or take more. */
static void
bbt_cgi_writecb(struct bufferevent *bev, void *arg)
{
	struct bbt_cgi	*g = arg;

	if (bev == NULL)
		return;
	if (g->in_done && !g->shut &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		g->shut = 1;
		(void)shutdown(bufferevent_getfd(bev), SHUT_WR);
		return;
	}
	if (!g->in_done)
		bbt_conn_resume(g->c);
}

void
bbt_cgi_drained(struct bbt_conn *c)
{
	struct bbt_cgi	*g = c->cgi;

	if (g != NULL && g->io != NULL && !g->resp_done) {
		(void)bufferevent_enable(g->io, EV_READ);
		bbt_cgi_pump(g);
	}
}

static void
bbt_cgi_fail(struct bbt_cgi *g, const char *why)
{
	struct bbt_conn	*c = g->c;

	if (g->head_done) {
		/* Mid-body: only a cut connection can say so. */
		bbt_conn_close(c, why);
		return;
	}
	g->resp_done = 1;
	g->head_done = 1;
	c->rep.close = 1;
	bbt_conn_simple(c, 502, "text/plain", "bbt-origin: git http-backend "
	    "failed\n", 37);
}

/* The CGI's head is complete: answer with its status and fields. */
static int
bbt_cgi_head(struct bbt_cgi *g)
{
	struct cm_http_msg	*m = cm_http_parser_msg(g->p);
	struct cm_http_fields	*in = cm_http_msg_fields(m), *out;
	const char		*st, *n;
	enum cm_http_framing	 fr;
	uint64_t		 len = 0;
	size_t			 i;
	int			 status = 200;

	if ((st = cm_http_fields_get(in, "Status")) != NULL) {
		status = atoi(st);
		if (status < 200 || status > 599)
			return (-1);
	}
	if ((out = cm_http_fields_new()) == NULL)
		return (-1);
	for (i = 0; i < cm_http_fields_len(in); i++) {
		n = cm_http_fields_name(in, i);
		if (strcasecmp(n, "Status") == 0 ||
		    strcasecmp(n, "Connection") == 0)
			continue;
		(void)cm_http_fields_add(out, n, cm_http_fields_value(in, i));
	}
	fr = cm_http_msg_framing(m, &len) == CM_HTTP_FRAMING_LENGTH ?
	    CM_HTTP_FRAMING_LENGTH : CM_HTTP_FRAMING_CHUNKED;
	if (status == 204 || status == 304)
		fr = CM_HTTP_FRAMING_NONE;
	g->head_done = 1;
	return (bbt_conn_head(g->c, status, out, fr, len));
}

static void
bbt_cgi_finish(struct bbt_cgi *g)
{
	g->resp_done = 1;
	(void)bufferevent_disable(g->io, EV_READ);
	if (g->c->cgi_body_done)
		bbt_conn_end(g->c);
	/* else bbt_cgi_body_end() ends it once the body is all read */
}

/* Moves what the CGI wrote towards the client, as far as it may go. */
static void
bbt_cgi_pump(struct bbt_cgi *g)
{
	struct bbt_conn	*c = g->c;
	const char	*why;
	size_t		 before;
	int		 rc;

	(void)evbuffer_add_buffer(g->raw, bufferevent_get_input(g->io));
	if (!g->head_done) {
		rc = cm_http_head_read(g->p, g->raw, &why);
		if (rc == 0 && g->eof)
			rc = -1;
		if (rc == 0)
			return;
		if (rc == -1 || bbt_cgi_head(g) == -1) {
			bbt_cgi_fail(g, "bad CGI head");
			return;
		}
	}
	for (;;) {
		if (evbuffer_get_length(bbt_conn_out(c)) >= BBT_CGI_BUF_BYTES) {
			(void)bufferevent_disable(g->io, EV_READ);
			return;
		}
		before = evbuffer_get_length(g->raw);
		rc = cm_http_body_read(g->p, g->raw, g->body,
		    BBT_CGI_BUF_BYTES, &why);
		if (rc == -1) {
			bbt_cgi_fail(g, why);
			return;
		}
		while (evbuffer_get_length(g->body) > 0) {
			size_t	 n = evbuffer_get_length(g->body);

			bbt_conn_data(c, evbuffer_pullup(g->body, -1), n);
			(void)evbuffer_drain(g->body, n);
		}
		if (rc == 1) {
			bbt_cgi_finish(g);
			return;
		}
		if (evbuffer_get_length(g->raw) == 0 ||
		    evbuffer_get_length(g->raw) == before)
			break;
	}
	if (g->eof) {
		if (cm_http_parser_eof(g->p, &why) == 1)
			bbt_cgi_finish(g);
		else
			bbt_cgi_fail(g, "CGI output cut short");
	}
}

static void
bbt_cgi_readcb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	bbt_cgi_pump(arg);
}

static void
bbt_cgi_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct bbt_cgi	*g = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		g->eof = 1;
		if (!g->resp_done)
			bbt_cgi_pump(g);
	}
}
