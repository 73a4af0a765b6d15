/*
 * The health probe: a short-lived blocking client, so no event loop.
 * Exit 0 ready and every listener accepting; 1 not ready, draining or
 * a listener not accepting; 2 control port unreachable.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "common/health.h"
#include "common/http.h"
#include "common/settings.h"
#include "common/util.h"
#include "common/yaml.h"

#define CM_HEALTH_MAX_REPLY	(256 * 1024)

/* Connects within timeout_ms; the fd (blocking again) or -1. */
static int
cm_health_connect(const struct cm_addr *a, int timeout_ms)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	struct pollfd		 pfd;
	socklen_t		 len;
	char			 host[64];
	int			 fd, err = 0;

	memset(&ss, 0, sizeof(ss));
	cm_strlcpy(host, a->host, sizeof(host));
	/* A wildcard listener is probed on loopback. */
	if (strcmp(host, "0.0.0.0") == 0)
		cm_strlcpy(host, "127.0.0.1", sizeof(host));
	else if (strcmp(host, "::") == 0)
		cm_strlcpy(host, "::1", sizeof(host));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)a->port);
		len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)a->port);
		len = sizeof(*sin6);
	} else
		return (-1);
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		return (-1);
	if (connect(fd, (struct sockaddr *)&ss, len) == -1) {
		if (errno != EINPROGRESS)
			goto fail;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, timeout_ms) != 1)
			goto fail;
		len = sizeof(err);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
		    err != 0)
			goto fail;
	}
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return (fd);
fail:
	(void)close(fd);
	return (-1);
}

/* GET /readyz; the status (or -1 unreachable) and the body as JSON. */
static int
cm_health_readyz(const struct cm_addr *a, int timeout_ms, json_t **body)
{
	static const char req[] = "GET /readyz HTTP/1.1\r\nHost: control\r\n"
	    "Connection: close\r\n\r\n";
	struct cm_http_parser	*p = NULL;
	struct evbuffer		*in = NULL, *out = NULL;
	struct timeval		 tv = { timeout_ms / 1000,
				    (timeout_ms % 1000) * 1000 };
	const char		*why;
	char			 buf[4096];
	ssize_t			 r;
	int			 fd, status = -1, rc = 0;

	*body = NULL;
	if ((fd = cm_health_connect(a, timeout_ms)) == -1)
		return (-1);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	p = cm_http_parser_new(CM_HTTP_RESPONSE, NULL);
	in = evbuffer_new();
	out = evbuffer_new();
	if (p == NULL || in == NULL || out == NULL ||
	    cm_write_all(fd, req, sizeof(req) - 1) == -1)
		goto done;
	for (;;) {
		r = read(fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (evbuffer_get_length(in) + (size_t)r > CM_HEALTH_MAX_REPLY)
			goto done;
		evbuffer_add(in, buf, (size_t)r);
		if (rc == 0 && (rc = cm_http_head_read(p, in, &why)) == -1)
			goto done;
		if (rc == 1 && cm_http_body_read(p, in, out,
		    CM_HEALTH_MAX_REPLY, &why) != 0)
			break;
	}
	if (rc == 0 && cm_http_head_read(p, in, &why) != 1)
		goto done;
	(void)cm_http_body_read(p, in, out, CM_HEALTH_MAX_REPLY, &why);
	status = cm_http_msg_status(cm_http_parser_msg(p));
	evbuffer_add(out, "", 1);
	*body = json_loads((const char *)evbuffer_pullup(out, -1), 0, NULL);
done:
	(void)close(fd);
	cm_http_parser_free(p);
	if (in != NULL)
		evbuffer_free(in);
	if (out != NULL)
		evbuffer_free(out);
	return (status == -1 ? 0 : status);
}

static void
cm_health_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: bb-sidecar health [--control ADDR:PORT] [--timeout S]\n"
	    "           [--config-dir DIR]\n"
	    "\n"
	    "Reads /readyz on the control port (default: the first\n"
	    "control.listen of DIR/sidecar.yaml, else 127.0.0.1:9101), connects\n"
	    "to every listener it reports and prints one JSON line.\n"
	    "Exit 0 ready, 1 not ready or a listener down, 2 unreachable.\n");
}

int
cm_health_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "control", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "config-dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct cm_addr		 ctl;
	const char		*control = NULL, *dir = "/etc/bot-bottle", *why;
	json_t			*st = NULL, *lis, *svcs, *l;
	char			*line, path[4096];
	double			 timeout = 2;
	int			 c, status, rc = 0, ms;
	size_t			 i;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			control = optarg;
			break;
		case 't':
			timeout = atof(optarg);
			if (timeout <= 0 || timeout > 60) {
				fprintf(stderr, "bb-sidecar: --timeout must be "
				    "0..60 seconds\n");
				return (2);
			}
			break;
		case 'd':
			dir = optarg;
			break;
		case 'h':
			cm_health_usage(stdout);
			return (0);
		default:
			cm_health_usage(stderr);
			return (2);
		}
	}
	ms = (int)(timeout * 1000);
	if (control != NULL) {
		if (cm_addr_parse(control, &ctl, &why) == -1) {
			fprintf(stderr, "bb-sidecar: --control: %s\n", why);
			return (2);
		}
	} else {
		struct cm_cfg_ctx	*cx = calloc(1, sizeof(*cx));
		struct cm_settings	*s = NULL;

		(void)snprintf(path, sizeof(path), "%s/sidecar.yaml", dir);
		if (cx != NULL) {
			cx->path = "sidecar.yaml";
			s = cm_settings_load(cx, path);
		}
		if (s == NULL)
			s = cm_settings_new();
		if (s == NULL) {
			free(cx);
			return (2);
		}
		ctl = s->listen[CM_L_CONTROL].a[0];
		cm_settings_free(s);
		free(cx);
	}
	status = cm_health_readyz(&ctl, ms, &st);
	if (status == -1 || status == 0 || st == NULL) {
		printf("{\"status\":\"unreachable\"}\n");
		json_decref(st);
		return (2);
	}
	if (status != 200)
		rc = 1;
	lis = json_object_get(st, "listeners");
	svcs = json_object_get(st, "services");
	json_array_foreach(lis, i, l) {
		struct cm_addr	 a;
		const char	*as = json_string_value(json_object_get(l, "addr"));
		const char	*sv = json_string_value(json_object_get(l,
				    "service"));
		int		 fd;

		if (as == NULL || sv == NULL || cm_addr_parse(as, &a, &why) == -1)
			continue;
		if ((fd = cm_health_connect(&a, ms)) == -1) {
			json_object_set_new(svcs, sv, json_string("down"));
			rc = 1;
		} else
			(void)close(fd);
	}
	json_object_del(st, "listeners");
	if ((line = json_dumps(st, JSON_COMPACT | JSON_PRESERVE_ORDER)) != NULL)
		printf("%s\n", line);
	free(line);
	json_decref(st);
	return (rc);
}
