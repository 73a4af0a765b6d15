/*
 * libFuzzer target for the HTTP/1.1 codec (spec/egress.md §2.2, §22 test
 * 58).  The input is fed as a request stream and then as a response
 * stream, in split sizes drawn from its first bytes, with small body
 * budgets; every head and body is parsed through to the end, pipelined
 * messages included, and each accepted head is written back out.
 * ASan/UBSan and the leak checker do the judging.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/http.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const enum llhttp_method http_fuzz_methods[] = {
	HTTP_GET, HTTP_HEAD, HTTP_CONNECT, HTTP_POST,
};

/* xorshift32: split sizes and budgets that depend on the input only. */
static uint32_t
http_fuzz_next(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return (*s);
}

/* Exercises the accessors and writers on an accepted head. */
static void
http_fuzz_use(struct cm_http_msg *m, struct evbuffer *scratch)
{
	struct cm_http_fields	*f = cm_http_msg_fields(m);
	const char		*why;
	char			*j;
	uint64_t		 len;
	enum cm_http_framing	 fr;
	size_t			 i;

	fr = cm_http_msg_framing(m, &len);
	(void)cm_http_msg_keep_alive(m);
	(void)cm_http_msg_upgrade(m);
	(void)cm_http_msg_expect(m);
	(void)cm_http_msg_tunnel(m);
	for (i = 0; i < cm_http_fields_len(f); i++)
		if (strlen(cm_http_fields_name(f, i)) == 0)
			__builtin_trap();	/* empty names are refused */
	(void)cm_http_fields_has_token(f, "connection", "close");
	if ((j = cm_http_fields_join(f, "accept")) != NULL)
		free(j);
	if (cm_http_msg_type(m) == CM_HTTP_REQUEST)
		(void)cm_http_write_request(scratch, cm_http_msg_method_name(m),
		    cm_http_msg_target(m), cm_http_fields_get(f, "host"), f, fr,
		    len, &why);
	else
		(void)cm_http_write_response(scratch, cm_http_msg_status(m),
		    cm_http_msg_reason(m), f, fr, len, &why);
	(void)cm_http_fields_remove(f, "connection");
	(void)cm_http_fields_set(f, "Via", "x");
	evbuffer_drain(scratch, evbuffer_get_length(scratch));
}

/* One direction: every message of data, in pieces, to the end. */
static void
http_fuzz_stream(enum cm_http_type type, enum llhttp_method req,
    const uint8_t *data, size_t size, uint32_t seed)
{
	struct cm_http_limits	 lim = { 256, 2048, 16 };
	struct cm_http_parser	*p;
	struct evbuffer		*in, *out, *scratch;
	const char		*why;
	size_t			 off = 0, n, before;
	int			 head = 0, rc, done = 0;

	if ((p = cm_http_parser_new(type, (seed & 1) ? &lim : NULL)) == NULL)
		return;
	cm_http_parser_set_method(p, req);
	in = evbuffer_new();
	out = evbuffer_new();
	scratch = evbuffer_new();
	while (!done) {
		if (off < size) {
			n = size - off;
			if ((seed & 2) == 0)
				n = 1 + http_fuzz_next(&seed) % 64;
			if (n > size - off)
				n = size - off;
			evbuffer_add(in, data + off, n);
			off += n;
		} else {
			rc = cm_http_parser_eof(p, &why);
			done = 1;
			if (rc != 1)
				break;
		}
		for (;;) {
			if (!head) {
				rc = cm_http_head_read(p, in, &why);
				if (rc == -1)
					goto out;
				if (rc == 0)
					break;
				head = 1;
				http_fuzz_use(cm_http_parser_msg(p), scratch);
			}
			before = evbuffer_get_length(in);
			rc = cm_http_body_read(p, in, out,
			    1 + http_fuzz_next(&seed) % 4096, &why);
			if (rc == -1)
				goto out;
			evbuffer_drain(out, evbuffer_get_length(out));
			if (rc == 1) {
				(void)cm_http_parser_trailers(p);
				if (cm_http_msg_tunnel(cm_http_parser_msg(p)))
					goto out;	/* not HTTP */
				cm_http_parser_reset(p);
				head = 0;
				continue;
			}
			if (evbuffer_get_length(in) == before)
				break;
		}
	}
out:
	(void)cm_http_parser_error(p, NULL);
	cm_http_parser_free(p);
	evbuffer_free(in);
	evbuffer_free(out);
	evbuffer_free(scratch);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t	 seed = 0x9e3779b9;

	if (size >= 2) {
		seed ^= (uint32_t)data[0] << 8 | data[1];
		data += 2;
		size -= 2;
	}
	http_fuzz_stream(CM_HTTP_REQUEST, HTTP_GET, data, size, seed);
	http_fuzz_stream(CM_HTTP_RESPONSE,
	    http_fuzz_methods[seed % 4], data, size, seed >> 2);
	return (0);
}
