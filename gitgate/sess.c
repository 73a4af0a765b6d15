/*
 * Sessions: the front-independent half of an exchange.  Output is staged
 * in s->out and handed to the front in one piece (a chunk on HTTP), and
 * every error leaves through gg_sess_fail() in the channel spec/gitgate.md
 * §2.5 allows for the state the exchange is in.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/log.h"
#include "common/settings.h"
#include "common/snapshot.h"
#include "common/util.h"
#include "gitgate/adv.h"
#include "gitgate/conf.h"
#include "gitgate/conn.h"
#include "gitgate/gg.h"
#include "gitgate/pktline.h"
#include "gitgate/sess.h"

struct gg_sess *
gg_sess_new(struct gg_conn *c, struct cm_snap *snap,
    const struct gg_repo *repo, enum gg_svc svc, int version, int stateless,
    int rpc)
{
	struct gg_sess	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return (NULL);
	s->c = c;
	s->snap = cm_snap_ref(snap);
	s->cfg = gg_cfg_of(snap);
	s->repo = repo;
	s->svc = svc;
	s->version = version;
	s->stateless = stateless;
	s->rpc = rpc;
	s->in = gg_conn_input(c);
	s->started_ms = s->last_sent_ms = cm_now_ms();
	s->m_bytes[0] = gg_metric_repo(GG_MF_BYTES, repo->name, "dir=\"%s\"",
	    gg_mdir_names[GG_MD_CLIENT_IN]);
	s->m_bytes[1] = gg_metric_repo(GG_MF_BYTES, repo->name, "dir=\"%s\"",
	    gg_mdir_names[GG_MD_CLIENT_OUT]);
	if ((s->out = evbuffer_new()) == NULL)
		goto fail;
	if (svc == GG_SVC_UPLOAD)
		s->up = gg_upload_new(s);
	else
		s->rp = gg_receive_new(s);
	if (s->up == NULL && s->rp == NULL)
		goto fail;
	return (s);
fail:
	gg_sess_free(s);
	return (NULL);
}

void
gg_sess_free(struct gg_sess *s)
{
	if (s == NULL)
		return;
	gg_upload_free(s->up);
	gg_receive_free(s->rp);
	if (s->out != NULL)
		evbuffer_free(s->out);
	cm_snap_unref(s->snap);
	free(s);
}

const char *
gg_sess_front(const struct gg_sess *s)
{
	return (s->c->front == GG_FRONT_GIT ? "git" : "http");
}

void
gg_sess_start(struct gg_sess *s)
{
	if (s->up != NULL)
		gg_upload_start(s->up);
	else
		gg_receive_start(s->rp);
}

void
gg_sess_input(struct gg_sess *s)
{
	if (s->ended || s->c->dead)
		return;
	if (s->up != NULL)
		gg_upload_input(s->up);
	else
		gg_receive_input(s->rp);
}

void
gg_sess_drained(struct gg_sess *s)
{
	if (s->ended || s->c->dead)
		return;
	if (s->up != NULL)
		gg_upload_drained(s->up);
}

void
gg_sess_abort(struct gg_sess *s)
{
	if (s->up != NULL)
		gg_upload_abort(s->up);
	else
		gg_receive_abort(s->rp);
}

int
gg_sess_flush(struct gg_sess *s)
{
	struct gg_conn	*c = s->c;
	size_t		 n = evbuffer_get_length(s->out);

	if (c->dead)
		return (-1);
	if (n == 0)
		return (0);
	s->last_sent_ms = cm_now_ms();
	if (c->front == GG_FRONT_HTTP) {
		if (gg_http_send(c, s->out) == -1) {
			gg_conn_close(c, "out_of_memory");
			return (-1);
		}
		return (0);
	}
	gg_conn_sent(c, n);
	if (evbuffer_add_buffer(gg_conn_output(c), s->out) == -1) {
		gg_conn_close(c, "out_of_memory");
		return (-1);
	}
	return (0);
}

void
gg_sess_end(struct gg_sess *s, int keep)
{
	if (s->ended)
		return;
	(void)gg_sess_flush(s);
	s->ended = 1;
	s->waiting = 0;
	gg_conn_over(s->c, keep);
}

void
gg_sess_wait_input(struct gg_sess *s, int on)
{
	if (on && !s->waiting)
		s->wait_ms = cm_now_ms();
	s->waiting = on;
}

void
gg_sess_need_input(struct gg_sess *s)
{
	gg_sess_wait_input(s, 1);
	if (!s->stateless)
		gg_conn_reading(s->c, 1);
}

int
gg_sess_advertise(struct gg_sess *s, const struct gg_refs *refs,
    enum gg_svc svc)
{
	if (gg_adv_write(s->out, refs, svc, s->version, s->stateless) == -1) {
		gg_conn_close(s->c, "out_of_memory");
		return (0);
	}
	if (s->stateless) {
		gg_sess_end(s, 1);
		return (0);
	}
	(void)gg_sess_flush(s);
	gg_sess_wait_input(s, 1);
	return (1);
}

static const char *
gg_sess_status_reason(int status)
{
	switch (status) {
	case 400:
		return ("bad_request");
	case 404:
		return ("not_found");
	case 408:
		return ("timeout");
	case 413:
		return ("too_large");
	case 502:
		return ("upstream_error");
	case 503:
		return ("busy");
	default:
		return ("error");
	}
}

void
gg_sess_fail(struct gg_sess *s, int status, const char *fmt, ...)
{
	char	 msg[1024];
	va_list	 ap;
	size_t	 n;

	if (s->ended || s->c->dead)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s->band) {
		n = strlen(msg);
		if (n < sizeof(msg) - 1) {
			msg[n++] = '\n';
			msg[n] = '\0';
		}
		(void)gg_pktline_band(s->out, GG_BAND_ERROR, msg, n,
		    s->band_max);
	} else if (s->c->front == GG_FRONT_HTTP && !gg_http_started(s->c) &&
	    evbuffer_get_length(s->out) == 0) {
		gg_http_refuse(s->c, status, gg_sess_status_reason(status),
		    msg);
		gg_sess_end(s, 0);
		return;
	} else
		(void)gg_pktline_printf(s->out, "ERR %s\n", msg);
	cm_log(CM_LOG_INFO, "gitgate", "error", s->c->id, json_pack("{s:s,"
	    "s:s,s:s,s:s}", "repo", s->repo->name, "front", gg_sess_front(s),
	    "client", s->c->client, "msg", msg));
	gg_sess_end(s, 0);
}

void
gg_sess_proto_error(struct gg_sess *s, const char *why, const void *bytes,
    size_t n)
{
	char	 hex[80];

	gg_pktline_hex(bytes, n, hex, sizeof(hex));
	cm_log(CM_LOG_INFO, "gitgate", "proto_error", s->c->id, json_pack(
	    "{s:s,s:s,s:s,s:s,s:I,s:s}", "repo", s->repo->name, "front",
	    gg_sess_front(s), "client", s->c->client, "why", why, "offset",
	    (json_int_t)s->in_offset, "bytes", hex));
	gg_sess_fail(s, 400, "bb-sidecar: protocol error: %s", why);
}

void
gg_sess_progress(struct gg_sess *s, const char *fmt, ...)
{
	char	 msg[1024];
	va_list	 ap;
	size_t	 n;

	if (!s->band || s->ended)
		return;
	memcpy(msg, "bb-sidecar: ", 12);
	va_start(ap, fmt);
	(void)vsnprintf(msg + 12, sizeof(msg) - 13, fmt, ap);
	va_end(ap);
	n = strlen(msg);
	msg[n++] = '\n';
	(void)gg_pktline_band(s->out, GG_BAND_PROGRESS, msg, n, s->band_max);
}

void
gg_sess_keepalive(struct gg_sess *s, uint64_t now)
{
	/* git's own keepalive: an empty band-1 packet. */
	if (s->band && s->busy && !s->ended && now - s->last_sent_ms >=
	    (uint64_t)s->snap->settings->v[CM_S_GG_KEEPALIVE_S] * 1000) {
		(void)evbuffer_add(s->out, "0005\001", 5);
		(void)gg_sess_flush(s);
	}
}

void
gg_sess_tick(struct gg_sess *s, uint64_t now)
{
	const struct cm_settings *st = s->snap->settings;
	uint64_t		 idle = (uint64_t)st->v[CM_S_GG_IDLE_TIMEOUT_S];
	uint64_t		 since;

	if (s->ended)
		return;
	if (s->waiting) {
		since = s->wait_ms > s->c->last_in_ms ? s->wait_ms :
		    s->c->last_in_ms;
		if (now - since >= idle * 1000) {
			cm_log(CM_LOG_INFO, "gitgate", "timeout", s->c->id,
			    json_pack("{s:s,s:s,s:s}", "repo", s->repo->name,
			    "front", gg_sess_front(s), "what", "client_data"));
			gg_sess_fail(s, 408, "bb-sidecar: timed out after %llu "
			    "s waiting for client data",
			    (unsigned long long)idle);
			return;
		}
	}
	gg_sess_keepalive(s, now);
	if (s->up != NULL)
		gg_upload_tick(s->up, now);
	else
		gg_receive_tick(s->rp, now);
}
