#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/bounds.h"
#include "common/listen.h"

static socklen_t
cm_listen_sockaddr(const struct cm_addr *a, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, a->host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)a->port);
		return (sizeof(*sin));
	}
	if (inet_pton(AF_INET6, a->host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)a->port);
		return (sizeof(*sin6));
	}
	return (0);
}

static int
cm_listen_bind(const struct cm_addr *a, int reuseport, int do_listen,
    int *port, char *err, size_t errlen)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	char			 buf[96];
	int			 fd, one = 1;

	if ((len = cm_listen_sockaddr(a, &ss)) == 0) {
		(void)snprintf(err, errlen, "%s: not an IP address",
		    cm_addr_fmt(a, buf, sizeof(buf)));
		return (-1);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		if (ss.ss_family == AF_INET6 && (errno == EAFNOSUPPORT ||
		    errno == EPROTONOSUPPORT))
			return (-2);
		(void)snprintf(err, errlen, "socket: %s", strerror(errno));
		return (-1);
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuseport)
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
		    sizeof(one));
	if (ss.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		    sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) == -1) {
		int e = errno;

		(void)close(fd);
		if (ss.ss_family == AF_INET6 && e == EADDRNOTAVAIL)
			return (-2);	/* no IPv6 on any interface */
		(void)snprintf(err, errlen, "%s: %s",
		    cm_addr_fmt(a, buf, sizeof(buf)),
		    e == EADDRINUSE ? "port in use" : strerror(e));
		return (-1);
	}
	if (do_listen && listen(fd, CM_LISTEN_BACKLOG) == -1) {
		(void)snprintf(err, errlen, "%s: listen: %s",
		    cm_addr_fmt(a, buf, sizeof(buf)), strerror(errno));
		(void)close(fd);
		return (-1);
	}
	if (port != NULL) {
		len = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
			*port = ntohs(ss.ss_family == AF_INET ?
			    ((struct sockaddr_in *)&ss)->sin_port :
			    ((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	return (fd);
}

int
cm_listen_probe(struct cm_addr *a, char *err, size_t errlen)
{
	int	 fd, port = a->port;

	/* Listening too: a bound-only socket does not block SO_REUSEPORT. */
	fd = cm_listen_bind(a, 0, 1, &port, err, errlen);
	if (fd == -2)
		return (1);
	if (fd == -1)
		return (-1);
	(void)close(fd);
	a->port = port;
	return (0);
}

int
cm_listen_socket(const struct cm_addr *a, int reuseport, char *err,
    size_t errlen)
{
	int	 fd = cm_listen_bind(a, reuseport, 1, NULL, err, errlen);

	if (fd == -2) {
		(void)snprintf(err, errlen, "%s: address family not supported",
		    a->host);
		return (-1);
	}
	return (fd);
}
