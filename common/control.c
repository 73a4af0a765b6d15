/*
 * The control port on the main thread: /healthz, /readyz, /metrics.
 * Requests go through the shared HTTP codec; connections are few, small
 * and short-lived, and bounded by CM_CONTROL_MAX_CONNS.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "common/bounds.h"
#include "common/control.h"
#include "common/http.h"
#include "common/listen.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/proc.h"
#include "common/runtime.h"

struct cm_control_conn {
	struct bufferevent	*bev;		/* owned */
	struct cm_http_parser	*parser;	/* owned */
	int			 closing;	/* close once output drains */
};

static struct evconnlistener	*cm_control_lev[CM_MAX_LISTEN_ADDRS];
static size_t			 cm_control_nlev;
static int			 cm_control_nconns;

static void
cm_control_free(struct cm_control_conn *c)
{
	bufferevent_free(c->bev);
	cm_http_parser_free(c->parser);
	free(c);
	cm_control_nconns--;
}

static void
cm_control_reply(struct cm_control_conn *c, int status, const char *ctype,
    struct evbuffer *body, int keep_alive)
{
	struct cm_http_fields	*f = cm_http_fields_new();
	struct evbuffer		*out = bufferevent_get_output(c->bev);
	const char		*why;

	if (f != NULL) {
		(void)cm_http_fields_add(f, "Content-Type", ctype);
		(void)cm_http_fields_add(f, "Cache-Control", "no-store");
		if (!keep_alive)
			(void)cm_http_fields_add(f, "Connection", "close");
	}
	if (f == NULL || cm_http_write_response(out, status, NULL, f,
	    CM_HTTP_FRAMING_LENGTH, evbuffer_get_length(body), &why) == -1) {
		c->closing = 1;
		cm_http_fields_free(f);
		return;
	}
	cm_http_fields_free(f);
	evbuffer_add_buffer(out, body);
	if (!keep_alive)
		c->closing = 1;
}

static void
cm_control_text(struct cm_control_conn *c, int status, const char *text,
    int keep_alive)
{
	struct evbuffer	*b = evbuffer_new();

	if (b == NULL) {
		c->closing = 1;
		return;
	}
	evbuffer_add_printf(b, "%s\n", text);
	cm_control_reply(c, status, "text/plain; charset=utf-8", b,
	    keep_alive);
	evbuffer_free(b);
}

static void
cm_control_route(struct cm_control_conn *c, struct cm_http_msg *m)
{
	const char	*target = cm_http_msg_target(m);
	int		 ka = cm_http_msg_keep_alive(m);
	struct evbuffer	*b;
	json_t		*st;
	char		*s;

	if (cm_http_msg_method(m) != HTTP_GET &&
	    cm_http_msg_method(m) != HTTP_HEAD) {
		cm_control_text(c, 405, "method not allowed", ka);
		return;
	}
	if ((b = evbuffer_new()) == NULL) {
		c->closing = 1;
		return;
	}
	if (strcmp(target, "/healthz") == 0) {
		int ok = cm_runtime_healthy();

		evbuffer_add_printf(b, "%s\n", ok ? "ok" : "stalled");
		cm_control_reply(c, ok ? 200 : 503, "text/plain; charset=utf-8",
		    b, ka);
	} else if (strcmp(target, "/readyz") == 0) {
		st = cm_runtime_status();
		s = st != NULL ? json_dumps(st, JSON_COMPACT |
		    JSON_PRESERVE_ORDER) : NULL;
		json_decref(st);
		if (s != NULL) {
			evbuffer_add_printf(b, "%s\n", s);
			free(s);
		}
		cm_control_reply(c, cm_runtime_state() == CM_RT_READY ? 200 :
		    503, "application/json", b, ka);
	} else if (strcmp(target, "/metrics") == 0) {
		cm_runtime_metrics_refresh();
		cm_metrics_write(b);
		cm_proc_metrics_write(b);
		cm_control_reply(c, 200,
		    "text/plain; version=0.0.4; charset=utf-8", b, ka);
	} else {
		evbuffer_add_printf(b, "not found: try /healthz, /readyz, "
		    "/metrics\n");
		cm_control_reply(c, 404, "text/plain; charset=utf-8", b, ka);
	}
	evbuffer_free(b);
}

static void
cm_control_read_cb(struct bufferevent *bev, void *arg)
{
	struct cm_control_conn	*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	const char		*why, *reason;
	int			 rc;

	while (!c->closing && evbuffer_get_length(in) > 0) {
		rc = cm_http_head_read(c->parser, in, &why);
		if (rc == 0)
			return;
		if (rc == -1) {
			cm_control_text(c, cm_http_parser_error(c->parser,
			    &reason), why, 0);
			break;
		}
		/* Control requests carry no body; one with a body is refused. */
		if (cm_http_msg_framing(cm_http_parser_msg(c->parser), NULL) !=
		    CM_HTTP_FRAMING_NONE) {
			uint64_t len = 0;

			(void)cm_http_msg_framing(cm_http_parser_msg(c->parser),
			    &len);
			if (len != 0) {
				cm_control_text(c, 400, "no body expected", 0);
				break;
			}
		}
		cm_control_route(c, cm_http_parser_msg(c->parser));
		cm_http_parser_reset(c->parser);
	}
	if (c->closing) {
		bufferevent_disable(bev, EV_READ);
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			cm_control_free(c);
	}
}

static void
cm_control_write_cb(struct bufferevent *bev, void *arg)
{
	struct cm_control_conn	*c = arg;

	if (c->closing)
		cm_control_free(c);
}

static void
cm_control_event_cb(struct bufferevent *bev, short what, void *arg)
{
	cm_control_free(arg);
}

static void
cm_control_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct event_base	*base = evconnlistener_get_base(lev);
	struct cm_control_conn	*c;
	struct timeval		 tv = { CM_CONTROL_IDLE_S, 0 };
	struct cm_http_limits	 lim = { 0, CM_CONTROL_HEAD_BYTES, 32 };

	if (cm_control_nconns >= CM_CONTROL_MAX_CONNS ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		(void)close(fd);
		return;
	}
	c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->parser = cm_http_parser_new(CM_HTTP_REQUEST, &lim);
	if (c->bev == NULL || c->parser == NULL) {
		if (c->bev != NULL)
			bufferevent_free(c->bev);
		else
			(void)close(fd);
		cm_http_parser_free(c->parser);
		free(c);
		return;
	}
	cm_control_nconns++;
	bufferevent_setwatermark(c->bev, EV_READ, 0, CM_CONTROL_HEAD_BYTES);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_setcb(c->bev, cm_control_read_cb, cm_control_write_cb,
	    cm_control_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

int
cm_control_start(struct event_base *base, struct cm_listen *l, char *err,
    size_t errlen)
{
	size_t	 i;
	int	 fd;

	for (i = 0; i < l->n; i++) {
		if (cm_listen_probe(&l->a[i], err, errlen) != 0 ||
		    (fd = cm_listen_socket(&l->a[i], 0, err, errlen)) == -1) {
			cm_control_stop();
			return (-1);
		}
		cm_control_lev[cm_control_nlev] = evconnlistener_new(base,
		    cm_control_accept_cb, NULL, LEV_OPT_CLOSE_ON_FREE, -1, fd);
		if (cm_control_lev[cm_control_nlev] == NULL) {
			(void)close(fd);
			(void)snprintf(err, errlen, "control listener");
			cm_control_stop();
			return (-1);
		}
		cm_control_nlev++;
	}
	return (0);
}

void
cm_control_stop(void)
{
	size_t	 i;

	for (i = 0; i < cm_control_nlev; i++)
		evconnlistener_free(cm_control_lev[i]);
	cm_control_nlev = 0;
}
