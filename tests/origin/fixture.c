/*
 * bbt-origin's answers: the echo and the fixtures the acceptance tests of
 * spec/egress.md §22, spec/supervise.md §10 and spec/bundle.md §5 need.
 * Every request body is read (and hashed) before any fixture answers,
 * whatever the method.  Paths, on any Host (git hosts: cgi.c):
 *
 *   /stats			counters (main.c): connections, open,
 *				served_connections (carried a counted
 *				request), requests (all but /stats),
 *				body_bytes_max, aborted, tls_ok, ..., and
 *				per listener
 *   /bytes/N[?type=T]		N bytes with Content-Length; byte i is
 *				BBT_FIXTURE_PATTERN[i % 64]; default type
 *				application/octet-stream
 *   /chunked/N[?size=K&type=T]	the same bytes chunked, K per chunk
 *   /until-close/N[?type=T]	the same bytes, no framing, then close
 *   /truncate/N		Content-Length N, N/2 bytes sent, then close
 *   /slow/MS			the echo after MS milliseconds
 *   /drip/COUNT/MS		chunked text/plain, a line "drip I\n" every MS
 *   /never			reads the request and never answers
 *   /drop			closes without answering
 *   /rst			resets the connection (SO_LINGER 0)
 *   /close			the echo with Connection: close, then closes
 *   /status/CODE[?h=Name:Value&...&body=TEXT]
 *				status 200-599 with those fields (repeat h;
 *				percent-decoded) and body (default
 *				"status CODE\n"); Connection: close in h
 *				closes after
 *   /interim/CODE		a 1xx (100, 102, 103), then the echo
 *   /big-head/N		a 200 whose head is padded past N bytes
 *   /gzip/N			N bytes of clean prose, gzip-encoded
 *   /encoded/CODING		text/plain claiming Content-Encoding: CODING
 *				(bytes not encoded: for unscannable tests)
 *   /text?body=TEXT[&type=T]	TEXT (percent-decoded) as the body
 *   /file/NAME[?type=T]	--file-root/NAME (a secret a test put there
 *				without sending it through the proxy)
 *   /inj/NAME			inbound-detection bodies (text.c): clean,
 *				single, combo, article, hidden, zw, tags,
 *				json, gz, big, bin, trickle
 *   /sse/clean, /sse/bad	text/event-stream, ?n=EVENTS&ms=GAP; bad:
 *				three clean events, the combo, two more
 *   /ndjson/clean, /ndjson/bad	the same as application/x-ndjson records
 *   /ws/...			with Upgrade: websocket, ws.c; else the echo
 *   anything else		the echo
 *
 * The echo is application/json with Content-Length: {"method", "target",
 * "version", "headers": [[name, value], ...] in received order,
 * "trailers" (chunked only), "body_len", "body_sha256", "body_prefix"
 * (first BBT_BODY_PREFIX_BYTES, invalid UTF-8 as U+FFFD), "conn" (id),
 * "req" (number on that connection, from 1), "tls", "sni", "alpn"}.
 * Every response carries X-Bbt-Conn and X-Bbt-Req.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/bufferevent.h>

#include "tests/origin/origin.h"

/* 64 printable bytes: /bytes/N output is checkable by any shell tool. */
#define BBT_FIXTURE_PATTERN \
	"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/"
/* /file/NAME reads the whole file; tests put small secrets there. */
#define BBT_FIXTURE_FILE_BYTES	(16 * 1024 * 1024)

enum bbt_fixture_kind {
	BBT_FIXTURE_BYTES,
	BBT_FIXTURE_TRUNCATE,
	BBT_FIXTURE_DRIP,
	BBT_FIXTURE_SSE_CLEAN,
	BBT_FIXTURE_SSE_BAD,
	BBT_FIXTURE_NDJSON_CLEAN,
	BBT_FIXTURE_NDJSON_BAD,
};

static int	 bbt_fixture_num(const char *s, uint64_t max, uint64_t *out);
static const char *bbt_fixture_arg(const char *path, const char *prefix);
static void	 bbt_fixture_echo(struct bbt_conn *c, int close);
static void	 bbt_fixture_echo_tick(struct bbt_conn *c);
static void	 bbt_fixture_pattern(char *buf, size_t len, uint64_t off);
static void	 bbt_fixture_bytes(struct bbt_conn *c, uint64_t n,
		    enum cm_http_framing framing, int kind);
static void	 bbt_fixture_bytes_pump(struct bbt_conn *c);
static void	 bbt_fixture_steps(struct bbt_conn *c, int kind,
		    unsigned int steps, int gap_ms, const char *type);
static void	 bbt_fixture_steps_tick(struct bbt_conn *c);
static void	 bbt_fixture_status(struct bbt_conn *c, const char *arg);
static void	 bbt_fixture_big_head(struct bbt_conn *c, uint64_t n);
static void	 bbt_fixture_file(struct bbt_conn *c, const char *name);
static void	 bbt_fixture_drop(struct bbt_conn *c, int rst);
static int	 bbt_fixture_decode(const char *s, size_t len, char *buf,
		    size_t size);
static const char *bbt_fixture_query_nth(const char *query,
		    const char *key, unsigned int nth, char *buf, size_t size);
static void	 bbt_fixture_error(struct bbt_conn *c, int status,
		    const char *why);
static const char *bbt_fixture_type(struct bbt_conn *c, const char *def,
		    char *buf, size_t size);

/* A decimal in [0, max]; -1 for anything else, trailing bytes included. */
static int
bbt_fixture_num(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t	 v = 0;

	if (*s == '\0')
		return (-1);
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' ||
		    v > (max - (uint64_t)(*s - '0')) / 10)
			return (-1);
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return (0);
}

/* The rest of path after prefix, or NULL when path does not start so. */
static const char *
bbt_fixture_arg(const char *path, const char *prefix)
{
	size_t	 n = strlen(prefix);

	return (strncmp(path, prefix, n) == 0 ? path + n : NULL);
}

/* %XX and '+' decoding; -1 when it does not fit or %XX is malformed. */
static int
bbt_fixture_decode(const char *s, size_t len, char *buf, size_t size)
{
	size_t		 i, o = 0;
	unsigned int	 x;
	char		 hex[3];

	for (i = 0; i < len; i++) {
		if (o + 1 >= size)
			return (-1);
		if (s[i] == '+')
			buf[o++] = ' ';
		else if (s[i] == '%') {
			if (i + 2 >= len)
				return (-1);
			hex[0] = s[i + 1];
			hex[1] = s[i + 2];
			hex[2] = '\0';
			if (sscanf(hex, "%2x", &x) != 1 ||
			    strspn(hex, "0123456789abcdefABCDEF") != 2)
				return (-1);
			buf[o++] = (char)x;
			i += 2;
		} else
			buf[o++] = s[i];
	}
	buf[o] = '\0';
	return ((int)o);
}

static const char *
bbt_fixture_query_nth(const char *query, const char *key, unsigned int nth,
    char *buf, size_t size)
{
	const char	*p = query, *amp, *eq;
	size_t		 klen = strlen(key), len;

	while (*p != '\0') {
		amp = strchr(p, '&');
		len = amp != NULL ? (size_t)(amp - p) : strlen(p);
		eq = memchr(p, '=', len);
		if (eq != NULL && (size_t)(eq - p) == klen &&
		    memcmp(p, key, klen) == 0) {
			if (nth == 0) {
				if (bbt_fixture_decode(eq + 1,
				    len - klen - 1, buf, size) == -1)
					return (NULL);
				return (buf);
			}
			nth--;
		}
		if (amp == NULL)
			break;
		p = amp + 1;
	}
	return (NULL);
}

/* The first value of key in query, decoded into buf; NULL if absent. */
const char *
bbt_fixture_query(const char *query, const char *key, char *buf, size_t size)
{
	return (bbt_fixture_query_nth(query, key, 0, buf, size));
}

static const char *
bbt_fixture_type(struct bbt_conn *c, const char *def, char *buf, size_t size)
{
	const char	*t = bbt_fixture_query(c->req.query, "type", buf, size);

	return (t != NULL && *t != '\0' ? t : def);
}

static void
bbt_fixture_error(struct bbt_conn *c, int status, const char *why)
{
	char	 body[256];
	int	 n;

	n = snprintf(body, sizeof(body), "bbt-origin: %s\n", why);
	bbt_conn_simple(c, status, "text/plain", body,
	    n > 0 && (size_t)n < sizeof(body) ? (size_t)n : 0);
}

json_t *
bbt_fixture_echo_json(struct bbt_conn *c)
{
	struct bbt_req			*r = &c->req;
	const struct cm_http_fields	*tr;
	const char			*sni = NULL, *t;
	json_t				*j;

	if (r->msg == NULL)
		return (NULL);
	if (c->ssl != NULL)
		sni = SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name);
	t = cm_http_msg_target(r->msg);
	j = json_pack("{s:s, s:o, s:s, s:o, s:I, s:o, s:o, s:I, s:I, s:b, "
	    "s:o, s:o}",
	    "method", cm_http_msg_method_name(r->msg),
	    "target", bbt_conn_text(t, strlen(t)),
	    "version", cm_http_msg_version(r->msg) == 10 ? "HTTP/1.0" :
	    "HTTP/1.1",
	    "headers", bbt_conn_fields_json(cm_http_msg_fields(r->msg)),
	    "body_len", (json_int_t)r->body_len,
	    "body_sha256", r->sha_hex[0] != '\0' ? json_string(r->sha_hex) :
	    json_null(),
	    "body_prefix", bbt_conn_text(r->prefix, r->prefix_len),
	    "conn", (json_int_t)c->id,
	    "req", (json_int_t)r->n,
	    "tls", c->ssl != NULL,
	    "sni", sni != NULL ? json_string(sni) : json_null(),
	    "alpn", bbt_tls_alpn(c->ssl));
	if (j != NULL && (tr = cm_http_parser_trailers(c->p)) != NULL)
		(void)json_object_set_new(j, "trailers",
		    bbt_conn_fields_json(tr));
	return (j);
}

static void
bbt_fixture_echo(struct bbt_conn *c, int close)
{
	struct cm_http_fields	*f = NULL;
	json_t			*j;
	char			*s = NULL;
	size_t			 len;

	if ((j = bbt_fixture_echo_json(c)) == NULL ||
	    (s = json_dumps(j, JSON_COMPACT)) == NULL ||
	    (f = cm_http_fields_new()) == NULL) {
		json_decref(j);
		free(s);
		bbt_conn_close(c, "out of memory");
		return;
	}
	json_decref(j);
	if (close)
		c->rep.close = 1;
	len = strlen(s);
	(void)cm_http_fields_add(f, "Content-Type", "application/json");
	/* One JSON document per line, so `curl ... | jq` and logs agree. */
	if (bbt_conn_head(c, 200, f, CM_HTTP_FRAMING_LENGTH, len + 1) == -1) {
		free(s);
		bbt_conn_close(c, "cannot write head");
		return;
	}
	bbt_conn_data(c, s, len);
	bbt_conn_data(c, "\n", 1);
	free(s);
	bbt_conn_end(c);
}

static void
bbt_fixture_echo_tick(struct bbt_conn *c)
{
	bbt_fixture_echo(c, 0);
}

static void
bbt_fixture_pattern(char *buf, size_t len, uint64_t off)
{
	static const char	 pat[] = BBT_FIXTURE_PATTERN;
	size_t			 i;

	for (i = 0; i < len; i++)
		buf[i] = pat[(off + i) % (sizeof(pat) - 1)];
}

static void
bbt_fixture_bytes_pump(struct bbt_conn *c)
{
	char		 buf[BBT_OUT_PIECE_BYTES];
	struct evbuffer	*out = bbt_conn_out(c);
	size_t		 n;

	while (c->rep.left > 0 &&
	    evbuffer_get_length(out) < BBT_OUT_LOW_BYTES) {
		n = c->rep.piece;
		if (n > sizeof(buf))
			n = sizeof(buf);
		if (n > c->rep.left)
			n = (size_t)c->rep.left;
		bbt_fixture_pattern(buf, n, c->rep.off);
		bbt_conn_data(c, buf, n);
		c->rep.left -= n;
		c->rep.off += n;
	}
	if (c->rep.left > 0)
		return;
	if (c->rep.kind == BBT_FIXTURE_TRUNCATE) {
		/* Short of the declared length: the peer sees a cut body. */
		c->rep.close = 1;
		bbt_conn_done(c);
		return;
	}
	bbt_conn_end(c);
}

static void
bbt_fixture_bytes(struct bbt_conn *c, uint64_t n,
    enum cm_http_framing framing, int kind)
{
	struct cm_http_fields	*f;
	char			 tb[128], sz[32];
	uint64_t		 piece = BBT_OUT_PIECE_BYTES;

	if (bbt_fixture_query(c->req.query, "size", sz, sizeof(sz)) != NULL &&
	    (bbt_fixture_num(sz, BBT_OUT_PIECE_BYTES, &piece) == -1 ||
	    piece == 0)) {
		bbt_fixture_error(c, 400, "size must be 1..16384");
		return;
	}
	if ((f = cm_http_fields_new()) == NULL ||
	    cm_http_fields_add(f, "Content-Type", bbt_fixture_type(c,
	    "application/octet-stream", tb, sizeof(tb))) == -1) {
		cm_http_fields_free(f);
		bbt_fixture_error(c, 400, "bad type");
		return;
	}
	if (bbt_conn_head(c, 200, f, framing, n) == -1) {
		bbt_conn_close(c, "cannot write head");
		return;
	}
	c->rep.kind = kind;
	c->rep.piece = (size_t)piece;
	c->rep.left = c->req.head ? 0 : n;
	if (kind == BBT_FIXTURE_TRUNCATE && !c->req.head)
		c->rep.left = n / 2;
	c->rep.pump = bbt_fixture_bytes_pump;
	bufferevent_setwatermark(c->bev, EV_WRITE, BBT_OUT_LOW_BYTES, 0);
	bbt_fixture_bytes_pump(c);
}

/* Step i of a timed stream; the combo is step 3 of the bad ones. */
static void
bbt_fixture_steps_tick(struct bbt_conn *c)
{
	char		 buf[512];
	const char	*combo = bbt_text_get("combo");
	int		 n = 0, bad;
	unsigned int	 i = c->rep.step;

	bad = (c->rep.kind == BBT_FIXTURE_SSE_BAD ||
	    c->rep.kind == BBT_FIXTURE_NDJSON_BAD) && i == 3;
	switch (c->rep.kind) {
	case BBT_FIXTURE_DRIP:
		n = snprintf(buf, sizeof(buf), "drip %u\n", i);
		break;
	case BBT_FIXTURE_SSE_CLEAN:
	case BBT_FIXTURE_SSE_BAD:
		if (bad)
			n = snprintf(buf, sizeof(buf), "event: message\n"
			    "id: %u\ndata: %s\n\n", i, combo);
		else
			n = snprintf(buf, sizeof(buf), "event: message\n"
			    "id: %u\ndata: clean event %u: the weather is mild"
			    " and the garden is green\n\n", i, i);
		break;
	default:
		if (bad)
			n = snprintf(buf, sizeof(buf), "{\"n\":%u,\"text\":"
			    "\"%s\"}\n", i, combo);
		else
			n = snprintf(buf, sizeof(buf), "{\"n\":%u,\"text\":"
			    "\"clean record %u\"}\n", i, i);
		break;
	}
	if (n > 0 && (size_t)n < sizeof(buf))
		bbt_conn_data(c, buf, (size_t)n);
	if (++c->rep.step >= c->rep.steps) {
		bbt_conn_end(c);
		return;
	}
	bbt_conn_timer(c, c->rep.gap_ms);
}

static void
bbt_fixture_steps(struct bbt_conn *c, int kind, unsigned int steps,
    int gap_ms, const char *type)
{
	struct cm_http_fields	*f;

	if ((f = cm_http_fields_new()) == NULL) {
		bbt_conn_close(c, "out of memory");
		return;
	}
	(void)cm_http_fields_add(f, "Content-Type", type);
	(void)cm_http_fields_add(f, "Cache-Control", "no-cache");
	if (bbt_conn_head(c, 200, f, CM_HTTP_FRAMING_CHUNKED, 0) == -1) {
		bbt_conn_close(c, "cannot write head");
		return;
	}
	if (c->req.head || steps == 0) {
		bbt_conn_end(c);
		return;
	}
	c->rep.kind = kind;
	c->rep.steps = steps;
	c->rep.gap_ms = gap_ms;
	c->rep.tick = bbt_fixture_steps_tick;
	bbt_fixture_steps_tick(c);
}

static void
bbt_fixture_status(struct bbt_conn *c, const char *arg)
{
	struct cm_http_fields	*f;
	uint64_t		 code;
	char			 h[1024], body[4096], dflt[32], *colon, *v;
	const char		*b;
	unsigned int		 i;

	if (bbt_fixture_num(arg, 599, &code) == -1 || code < 200) {
		bbt_fixture_error(c, 400, "status must be 200..599");
		return;
	}
	if ((f = cm_http_fields_new()) == NULL) {
		bbt_conn_close(c, "out of memory");
		return;
	}
	for (i = 0; bbt_fixture_query_nth(c->req.query, "h", i, h,
	    sizeof(h)) != NULL; i++) {
		if ((colon = strchr(h, ':')) == NULL)
			goto bad;
		*colon = '\0';
		for (v = colon + 1; *v == ' '; v++)
			continue;
		if (cm_http_fields_add(f, h, v) == -1)
			goto bad;
	}
	if (cm_http_fields_has_token(f, "Connection", "close"))
		c->rep.close = 1;
	if ((b = bbt_fixture_query(c->req.query, "body", body,
	    sizeof(body))) == NULL) {
		(void)snprintf(dflt, sizeof(dflt), "status %u\n",
		    (unsigned int)code);
		b = dflt;
	}
	if (cm_http_fields_get(f, "Content-Type") == NULL && code != 204 &&
	    code != 304)
		(void)cm_http_fields_add(f, "Content-Type", "text/plain");
	if (code == 204 || code == 304) {
		if (bbt_conn_head(c, (int)code, f, CM_HTTP_FRAMING_NONE,
		    0) == -1) {
			bbt_conn_close(c, "cannot write head");
			return;
		}
	} else {
		if (bbt_conn_head(c, (int)code, f, CM_HTTP_FRAMING_LENGTH,
		    strlen(b)) == -1) {
			bbt_conn_close(c, "cannot write head");
			return;
		}
		bbt_conn_data(c, b, strlen(b));
	}
	bbt_conn_end(c);
	return;
 bad:
	cm_http_fields_free(f);
	bbt_fixture_error(c, 400, "h must be Name:Value with a token name");
}

static void
bbt_fixture_big_head(struct bbt_conn *c, uint64_t n)
{
	struct cm_http_fields	*f;
	char			 name[32], pad[1001];
	uint64_t		 have = 0;
	unsigned int		 i;

	if ((f = cm_http_fields_new()) == NULL) {
		bbt_conn_close(c, "out of memory");
		return;
	}
	memset(pad, 'p', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	for (i = 0; have < n; i++) {
		(void)snprintf(name, sizeof(name), "X-Pad-%u", i);
		(void)cm_http_fields_add(f, name, pad);
		have += strlen(name) + 2 + sizeof(pad) - 1 + 2;
	}
	(void)cm_http_fields_add(f, "Content-Type", "text/plain");
	if (bbt_conn_head(c, 200, f, CM_HTTP_FRAMING_LENGTH, 3) == -1) {
		bbt_conn_close(c, "cannot write head");
		return;
	}
	bbt_conn_data(c, "ok\n", 3);
	bbt_conn_end(c);
}

static void
bbt_fixture_file(struct bbt_conn *c, const char *name)
{
	char		 path[PATH_MAX], tb[128], *buf;
	struct stat	 sb;
	ssize_t		 r;
	size_t		 off = 0;
	int		 fd;

	if (c->o->file_root == NULL || *name == '\0' || *name == '.' ||
	    strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._-") != strlen(name)) {
		bbt_fixture_error(c, 404, "no such file");
		return;
	}
	(void)snprintf(path, sizeof(path), "%s/%s", c->o->file_root, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    sb.st_size > BBT_FIXTURE_FILE_BYTES ||
	    (buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		if (fd != -1)
			(void)close(fd);
		bbt_fixture_error(c, 404, "no such file");
		return;
	}
	/* Blocking, but the file is local and small: a test fixture. */
	while (off < (size_t)sb.st_size &&
	    (r = read(fd, buf + off, (size_t)sb.st_size - off)) > 0)
		off += (size_t)r;
	(void)close(fd);
	bbt_conn_simple(c, 200, bbt_fixture_type(c, "text/plain", tb,
	    sizeof(tb)), buf, off);
	free(buf);
}

static void
bbt_fixture_drop(struct bbt_conn *c, int rst)
{
	struct linger	 lg;

	if (rst) {
		lg.l_onoff = 1;
		lg.l_linger = 0;
		(void)setsockopt(bufferevent_getfd(c->bev), SOL_SOCKET,
		    SO_LINGER, &lg, sizeof(lg));
	}
	bbt_conn_close(c, rst ? "fixture: rst" : "fixture: drop");
}

void
bbt_fixture_dispatch(struct bbt_conn *c)
{
	const char	*path = c->req.path, *a, *slash, *why;
	char		 buf[4096], tb[128], num[32];
	uint64_t	 n, ms, steps = BBT_SSE_EVENTS, gap = BBT_SSE_GAP_MS;
	json_t		*j;
	char		*s;
	int		 r;

	if (strcmp(path, "/stats") == 0) {
		if ((j = bbt_main_stats(c->o)) == NULL ||
		    (s = json_dumps(j, JSON_COMPACT)) == NULL) {
			json_decref(j);
			bbt_conn_close(c, "out of memory");
			return;
		}
		json_decref(j);
		bbt_conn_simple(c, 200, "application/json", s, strlen(s));
		free(s);
		return;
	}
	if ((a = bbt_fixture_arg(path, "/bytes/")) != NULL ||
	    (a = bbt_fixture_arg(path, "/chunked/")) != NULL ||
	    (a = bbt_fixture_arg(path, "/until-close/")) != NULL ||
	    (a = bbt_fixture_arg(path, "/truncate/")) != NULL) {
		if (bbt_fixture_num(a, UINT64_MAX / 2, &n) == -1) {
			bbt_fixture_error(c, 400, "N must be a byte count");
			return;
		}
		if (path[1] == 'b')
			bbt_fixture_bytes(c, n, CM_HTTP_FRAMING_LENGTH,
			    BBT_FIXTURE_BYTES);
		else if (path[1] == 'c')
			bbt_fixture_bytes(c, n, CM_HTTP_FRAMING_CHUNKED,
			    BBT_FIXTURE_BYTES);
		else if (path[1] == 'u')
			bbt_fixture_bytes(c, n, CM_HTTP_FRAMING_CLOSE,
			    BBT_FIXTURE_BYTES);
		else
			bbt_fixture_bytes(c, n, CM_HTTP_FRAMING_LENGTH,
			    BBT_FIXTURE_TRUNCATE);
		return;
	}
	if ((a = bbt_fixture_arg(path, "/slow/")) != NULL) {
		if (bbt_fixture_num(a, BBT_MAX_DELAY_MS, &ms) == -1) {
			bbt_fixture_error(c, 400, "MS must be milliseconds");
			return;
		}
		c->rep.tick = bbt_fixture_echo_tick;
		bbt_conn_timer(c, (int)ms);
		return;
	}
	if ((a = bbt_fixture_arg(path, "/drip/")) != NULL) {
		if ((slash = strchr(a, '/')) == NULL ||
		    (size_t)(slash - a) >= sizeof(num)) {
			bbt_fixture_error(c, 400, "use /drip/COUNT/MS");
			return;
		}
		memcpy(num, a, (size_t)(slash - a));
		num[slash - a] = '\0';
		if (bbt_fixture_num(num, 100000, &steps) == -1 ||
		    bbt_fixture_num(slash + 1, BBT_MAX_DELAY_MS, &ms) == -1) {
			bbt_fixture_error(c, 400, "use /drip/COUNT/MS");
			return;
		}
		bbt_fixture_steps(c, BBT_FIXTURE_DRIP, (unsigned int)steps,
		    (int)ms, "text/plain");
		return;
	}
	if ((a = bbt_fixture_arg(path, "/sse/")) != NULL ||
	    (a = bbt_fixture_arg(path, "/ndjson/")) != NULL) {
		if ((bbt_fixture_query(c->req.query, "n", num,
		    sizeof(num)) != NULL &&
		    bbt_fixture_num(num, 100000, &steps) == -1) ||
		    (bbt_fixture_query(c->req.query, "ms", num,
		    sizeof(num)) != NULL &&
		    bbt_fixture_num(num, BBT_MAX_DELAY_MS, &gap) == -1) ||
		    (strcmp(a, "clean") != 0 && strcmp(a, "bad") != 0)) {
			bbt_fixture_error(c, 404, "use clean or bad, ?n=&ms=");
			return;
		}
		if (strcmp(a, "bad") == 0 && steps < 6)
			steps = 6;	/* three, the combo, two more */
		if (path[1] == 's')
			bbt_fixture_steps(c, strcmp(a, "bad") == 0 ?
			    BBT_FIXTURE_SSE_BAD : BBT_FIXTURE_SSE_CLEAN,
			    (unsigned int)steps, (int)gap, "text/event-stream");
		else
			bbt_fixture_steps(c, strcmp(a, "bad") == 0 ?
			    BBT_FIXTURE_NDJSON_BAD : BBT_FIXTURE_NDJSON_CLEAN,
			    (unsigned int)steps, (int)gap,
			    "application/x-ndjson");
		return;
	}
	if (strcmp(path, "/never") == 0)
		return;		/* until the peer gives up */
	if (strcmp(path, "/drop") == 0 || strcmp(path, "/rst") == 0) {
		bbt_fixture_drop(c, path[1] == 'r');
		return;
	}
	if (strcmp(path, "/close") == 0) {
		bbt_fixture_echo(c, 1);
		return;
	}
	if ((a = bbt_fixture_arg(path, "/status/")) != NULL) {
		bbt_fixture_status(c, a);
		return;
	}
	if ((a = bbt_fixture_arg(path, "/interim/")) != NULL) {
		if (bbt_fixture_num(a, 199, &n) == -1 || n < 100 || n == 101) {
			bbt_fixture_error(c, 400, "CODE must be 100, 102, 103");
			return;
		}
		(void)cm_http_write_response(bbt_conn_out(c), (int)n, NULL,
		    NULL, CM_HTTP_FRAMING_NONE, 0, &why);
		bbt_fixture_echo(c, 0);
		return;
	}
	if ((a = bbt_fixture_arg(path, "/big-head/")) != NULL) {
		if (bbt_fixture_num(a, BBT_MAX_PAD_HEAD_BYTES, &n) == -1) {
			bbt_fixture_error(c, 400, "N must be a byte count");
			return;
		}
		bbt_fixture_big_head(c, n);
		return;
	}
	if ((a = bbt_fixture_arg(path, "/gzip/")) != NULL) {
		if (bbt_fixture_num(a, BBT_GZIP_MAX_BYTES, &n) == -1) {
			bbt_fixture_error(c, 400, "N must be a byte count");
			return;
		}
		bbt_text_gzip_reply(c, (size_t)n);
		return;
	}
	if ((a = bbt_fixture_arg(path, "/encoded/")) != NULL) {
		struct cm_http_fields	*f = cm_http_fields_new();
		static const char	 body[] = "plain bytes under a label\n";

		if (f == NULL || cm_http_fields_add(f, "Content-Encoding",
		    a) == -1) {
			cm_http_fields_free(f);
			bbt_fixture_error(c, 400, "CODING must be a token");
			return;
		}
		(void)cm_http_fields_add(f, "Content-Type", "text/plain");
		if (bbt_conn_head(c, 200, f, CM_HTTP_FRAMING_LENGTH,
		    sizeof(body) - 1) == -1) {
			bbt_conn_close(c, "cannot write head");
			return;
		}
		bbt_conn_data(c, body, sizeof(body) - 1);
		bbt_conn_end(c);
		return;
	}
	if (strcmp(path, "/text") == 0) {
		if (bbt_fixture_query(c->req.query, "body", buf,
		    sizeof(buf)) == NULL)
			buf[0] = '\0';
		bbt_conn_simple(c, 200, bbt_fixture_type(c, "text/plain", tb,
		    sizeof(tb)), buf, strlen(buf));
		return;
	}
	if ((a = bbt_fixture_arg(path, "/file/")) != NULL) {
		bbt_fixture_file(c, a);
		return;
	}
	if ((a = bbt_fixture_arg(path, "/inj/")) != NULL) {
		if ((r = bbt_text_inj(c, a)) == -1)
			bbt_fixture_error(c, 404, "no such /inj/ fixture");
		return;
	}
	bbt_fixture_echo(c, 0);
}
