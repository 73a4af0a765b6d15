/*
 * Upstream SSH for libgit2 1.5 (spec/gitgate.md §5): credentials from
 * the configured key only, trust only from the pinned key blobs, and the
 * connect and I/O bounds libgit2 does not have (§5.3).
 *
 * libgit2 calls connect(2) itself and hands the blocking socket to
 * libssh2, whose waits never time out.  So this file defines connect():
 * on a thread marked by gg_up_begin() it connects non-blocking within the
 * connect deadline, arms TCP keepalive and TCP_USER_TIMEOUT and keeps a
 * dup(2) of the socket; elsewhere it is the plain system call.  The
 * watchdog, a timer on the worker that asked, shuts that dup down when
 * the operation stalls, passes a deadline or is cancelled: libssh2's
 * poll then wakes, its read fails and libgit2 returns.  The dup keeps
 * the socket itself alive, so a file descriptor number reused after
 * libgit2 closes its own copy is never touched.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/bounds.h"
#include "common/settings.h"
#include "common/util.h"
#include "common/worker.h"
#include "gitgate/conf.h"
#include "gitgate/upstream.h"

struct gg_up {
	const struct gg_cfg	*cfg;		/* borrowed: the job's snap */
	const struct gg_repo	*repo;
	struct event		*wd;		/* owned: on the home base */
	pthread_mutex_t		 lock;		/* sockfd, why */
	int			 sockfd;	/* dup of the upstream socket */
	char			 why[256];	/* set once by an abort */
	atomic_int		 phase;		/* GG_UP_* */
	atomic_int		 cancelled;
	_Atomic uint64_t	 last_ms;
	uint64_t		 start_ms;
	uint64_t		 connect_deadline_ms;
	uint64_t		 total_deadline_ms;
	int			 connect_s;
	int			 io_s;
	int			 total_s;
	/* Written by the job thread only, read after it finished. */
	int			 ncred;
	int			 auth_failed;
	int			 hostkey_mismatch;
	char			 hk_msg[512];
	int			 connect_errno;
	void			*user;
};

enum {
	GG_UP_IDLE,
	GG_UP_CONNECT,
	GG_UP_TRANSFER,
	GG_UP_DONE,
};

static __thread struct gg_up	*gg_up_tls;

static void
gg_up_abort(struct gg_up *u, const char *why)
{
	pthread_mutex_lock(&u->lock);
	if (u->why[0] == '\0')
		cm_strlcpy(u->why, why, sizeof(u->why));
	atomic_store(&u->cancelled, 1);
	if (u->sockfd != -1)
		(void)shutdown(u->sockfd, SHUT_RDWR);
	pthread_mutex_unlock(&u->lock);
}

static void
gg_up_wd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gg_up	*u = arg;
	uint64_t	 now = cm_now_ms();
	char		 why[128];
	int		 ph = atomic_load(&u->phase);

	if (atomic_load(&u->cancelled) || ph == GG_UP_IDLE || ph == GG_UP_DONE)
		return;
	if (now >= u->total_deadline_ms) {
		(void)snprintf(why, sizeof(why), "timed out after %d s",
		    u->total_s);
		gg_up_abort(u, why);
	} else if (ph == GG_UP_CONNECT && now >= u->connect_deadline_ms) {
		(void)snprintf(why, sizeof(why), "connect timed out after %d s",
		    u->connect_s);
		gg_up_abort(u, why);
	} else if (ph == GG_UP_TRANSFER && now - atomic_load(&u->last_ms) >=
	    (uint64_t)u->io_s * 1000) {
		(void)snprintf(why, sizeof(why), "no progress from upstream "
		    "for %d s", u->io_s);
		gg_up_abort(u, why);
	}
}

struct gg_up *
gg_up_new(struct cm_worker *home, const struct gg_cfg *cfg,
    const struct gg_repo *repo, const struct cm_settings *s, int total_s)
{
	struct gg_up	*u;
	struct timeval	 tv = { 0, GG_WATCHDOG_TICK_MS * 1000 };

	if ((u = calloc(1, sizeof(*u))) == NULL)
		return (NULL);
	u->cfg = cfg;
	u->repo = repo;
	u->sockfd = -1;
	u->connect_s = (int)s->v[CM_S_GG_UPSTREAM_CONNECT_TIMEOUT_S];
	u->io_s = (int)s->v[CM_S_GG_UPSTREAM_IO_TIMEOUT_S];
	u->total_s = total_s;
	pthread_mutex_init(&u->lock, NULL);
	u->wd = event_new(cm_worker_base(home), -1, EV_PERSIST, gg_up_wd_cb,
	    u);
	if (u->wd == NULL || event_add(u->wd, &tv) == -1) {
		gg_up_free(u);
		return (NULL);
	}
	return (u);
}

void
gg_up_free(struct gg_up *u)
{
	if (u == NULL)
		return;
	if (u->wd != NULL)
		event_free(u->wd);
	if (u->sockfd != -1)
		(void)close(u->sockfd);
	pthread_mutex_destroy(&u->lock);
	free(u);
}

void
gg_up_cancel(struct gg_up *u, const char *why)
{
	if (u != NULL)
		gg_up_abort(u, why);
}

void
gg_up_set_user(struct gg_up *u, void *user)
{
	u->user = user;
}

void *
gg_up_user(struct gg_up *u)
{
	return (u->user);
}

void
gg_up_begin(struct gg_up *u)
{
	uint64_t	 now = cm_now_ms();

	u->start_ms = now;
	u->connect_deadline_ms = now + (uint64_t)u->connect_s * 1000;
	u->total_deadline_ms = now + (uint64_t)u->total_s * 1000;
	atomic_store(&u->last_ms, now);
	atomic_store(&u->phase, GG_UP_CONNECT);
	gg_up_tls = u;
}

void
gg_up_connected(struct gg_up *u)
{
	atomic_store(&u->last_ms, cm_now_ms());
	atomic_store(&u->phase, GG_UP_TRANSFER);
}

void
gg_up_end(struct gg_up *u)
{
	atomic_store(&u->phase, GG_UP_DONE);
	gg_up_tls = NULL;
	pthread_mutex_lock(&u->lock);
	if (u->sockfd != -1) {
		(void)close(u->sockfd);
		u->sockfd = -1;
	}
	pthread_mutex_unlock(&u->lock);
}

int
gg_up_cancelled(struct gg_up *u)
{
	return (atomic_load(&u->cancelled));
}

void
gg_up_progress(struct gg_up *u)
{
	atomic_store(&u->last_ms, cm_now_ms());
}

/* The marked thread's connect: bounded, keepalive, recorded. */
static int
gg_up_connect(struct gg_up *u, int fd, const struct sockaddr *sa,
    socklen_t salen)
{
	struct pollfd	 pfd;
	socklen_t	 sl = sizeof(int);
	uint64_t	 now;
	int		 flags, rc, err = 0, ms;
	unsigned int	 uto;

	if ((flags = fcntl(fd, F_GETFL)) == -1)
		return (-1);
	(void)fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	rc = (int)syscall(SYS_connect, fd, sa, salen);
	if (rc == -1 && errno == EINPROGRESS) {
		for (;;) {
			now = cm_now_ms();
			if (atomic_load(&u->cancelled)) {
				err = ECANCELED;
				break;
			}
			if (now >= u->connect_deadline_ms) {
				err = ETIMEDOUT;
				break;
			}
			ms = (int)(u->connect_deadline_ms - now);
			pfd.fd = fd;
			pfd.events = POLLOUT;
			pfd.revents = 0;
			rc = poll(&pfd, 1, ms < 100 ? ms : 100);
			if (rc == -1 && errno != EINTR) {
				err = errno;
				break;
			}
			if (rc > 0) {
				if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
				    &sl) == -1)
					err = errno;
				break;
			}
		}
	} else if (rc == -1)
		err = errno;
	(void)fcntl(fd, F_SETFL, flags);
	if (err != 0) {
		u->connect_errno = err;
		errno = err;
		return (-1);
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &(int){ 1 },
	    sizeof(int));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE,
	    &(int){ GG_TCP_KEEPIDLE_S }, sizeof(int));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL,
	    &(int){ GG_TCP_KEEPINTVL_S }, sizeof(int));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &(int){ GG_TCP_KEEPCNT },
	    sizeof(int));
	uto = (unsigned int)u->io_s * 1000;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto, sizeof(uto));
	pthread_mutex_lock(&u->lock);
	if (u->sockfd != -1)
		(void)close(u->sockfd);
	u->sockfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	/* A cancel that came while connecting still applies. */
	if (atomic_load(&u->cancelled) && u->sockfd != -1)
		(void)shutdown(u->sockfd, SHUT_RDWR);
	pthread_mutex_unlock(&u->lock);
	return (0);
}

/*
 * The process's connect(2): libgit2 (and everything else) resolves to
 * this definition in the binary.  Unmarked threads get the system call.
 */
int
connect(int fd, const struct sockaddr *sa, socklen_t salen)
{
	struct gg_up	*u = gg_up_tls;

	if (u == NULL || (sa->sa_family != AF_INET &&
	    sa->sa_family != AF_INET6))
		return ((int)syscall(SYS_connect, fd, sa, salen));
	return (gg_up_connect(u, fd, sa, salen));
}

static int
gg_up_cred_cb(git_credential **out, const char *url, const char *user,
    unsigned int allowed, void *payload)
{
	struct gg_up	*u = payload;

	/* libgit2 1.5 asks again after a refusal: one try only (§5.1). */
	if (u->ncred++ > 0 || !(allowed & GIT_CREDENTIAL_SSH_KEY)) {
		u->auth_failed = 1;
		git_error_set_str(GIT_ERROR_SSH, "authentication failed");
		return (GIT_EAUTH);
	}
	gg_up_progress(u);
	return (git_credential_ssh_key_new(out, u->repo->user, NULL,
	    u->repo->key_path, NULL));
}

static int
gg_up_cert_cb(git_cert *cert, int valid, const char *host, void *payload)
{
	struct gg_up		*u = payload;
	const git_cert_hostkey	*hk;
	char			 fp[80], type[64];
	size_t			 i, n;

	(void)valid;	/* libgit2's opinion is not trust (§5.2) */
	gg_up_progress(u);
	if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2) {
		u->hostkey_mismatch = 1;
		cm_strlcpy(u->hk_msg, "host key mismatch: not an SSH host key",
		    sizeof(u->hk_msg));
		git_error_set_str(GIT_ERROR_SSH, u->hk_msg);
		return (GIT_ECERTIFICATE);
	}
	hk = (const git_cert_hostkey *)cert;
	if ((hk->type & GIT_CERT_SSH_RAW) && hk->hostkey != NULL)
		for (i = 0; i < u->repo->nkeys; i++)
			if (u->repo->keys[i].len == hk->hostkey_len &&
			    memcmp(u->repo->keys[i].blob, hk->hostkey,
			    hk->hostkey_len) == 0)
				return (0);
	u->hostkey_mismatch = 1;
	if ((hk->type & GIT_CERT_SSH_RAW) && hk->hostkey != NULL) {
		gg_hostkey_blob_type((const unsigned char *)hk->hostkey,
		    hk->hostkey_len, type, sizeof(type));
		gg_hostkey_fingerprint((const unsigned char *)hk->hostkey,
		    hk->hostkey_len, fp, sizeof(fp));
		n = (size_t)snprintf(u->hk_msg, sizeof(u->hk_msg),
		    "host key mismatch: presented %s %s, pinned",
		    type[0] != '\0' ? type : "unknown", fp);
	} else
		n = (size_t)snprintf(u->hk_msg, sizeof(u->hk_msg),
		    "host key mismatch: no raw key presented, pinned");
	for (i = 0; i < u->repo->nkeys && n < sizeof(u->hk_msg); i++) {
		gg_hostkey_fingerprint(u->repo->keys[i].blob,
		    u->repo->keys[i].len, fp, sizeof(fp));
		n += (size_t)snprintf(u->hk_msg + n, sizeof(u->hk_msg) - n,
		    "%s %s", i > 0 ? "," : "", fp);
	}
	git_error_set_str(GIT_ERROR_SSH, u->hk_msg);
	return (GIT_ECERTIFICATE);
}

static int
gg_up_transfer_cb(const git_indexer_progress *stats, void *payload)
{
	struct gg_up	*u = payload;

	gg_up_progress(u);
	return (gg_up_cancelled(u) ? -1 : 0);
}

static int
gg_up_sideband_cb(const char *str, int len, void *payload)
{
	struct gg_up	*u = payload;

	gg_up_progress(u);
	return (gg_up_cancelled(u) ? -1 : 0);
}

static int
gg_up_pack_cb(int stage, uint32_t current, uint32_t total, void *payload)
{
	struct gg_up	*u = payload;

	gg_up_progress(u);
	return (gg_up_cancelled(u) ? -1 : 0);
}

static int
gg_up_push_transfer_cb(unsigned int current, unsigned int total,
    size_t bytes, void *payload)
{
	struct gg_up	*u = payload;

	gg_up_progress(u);
	return (gg_up_cancelled(u) ? -1 : 0);
}

void
gg_up_callbacks(struct gg_up *u, git_remote_callbacks *cb)
{
	(void)git_remote_init_callbacks(cb, GIT_REMOTE_CALLBACKS_VERSION);
	cb->credentials = gg_up_cred_cb;
	cb->certificate_check = gg_up_cert_cb;
	cb->transfer_progress = gg_up_transfer_cb;
	cb->sideband_progress = gg_up_sideband_cb;
	cb->pack_progress = gg_up_pack_cb;
	cb->push_transfer_progress = gg_up_push_transfer_cb;
	cb->payload = u;
}

void
gg_up_sanitize(const struct gg_cfg *cfg, const char *in, size_t len,
    char *out, size_t outlen)
{
	size_t	 o = 0, i, cl = cfg != NULL ? strlen(cfg->config_dir) : 0;

	if (outlen == 0)
		return;
	if (outlen > GG_MSG_BYTES + 1)
		outlen = GG_MSG_BYTES + 1;
	for (i = 0; i < len && o + 1 < outlen; i++) {
		if (cl > 1 && len - i >= cl && memcmp(in + i, cfg->config_dir,
		    cl) == 0) {
			o += (size_t)snprintf(out + o, outlen - o, "<config>");
			if (o >= outlen)
				o = outlen - 1;
			i += cl - 1;
			continue;
		}
		if ((unsigned char)in[i] < 0x20 || in[i] == 0x7f)
			continue;
		out[o++] = in[i];
	}
	out[o] = '\0';
}

const char *
gg_up_error(struct gg_up *u, int rc, char *out, size_t outlen)
{
	const git_error	*e = git_error_last();
	char		 buf[512];

	pthread_mutex_lock(&u->lock);
	cm_strlcpy(buf, u->why, sizeof(buf));
	pthread_mutex_unlock(&u->lock);
	if (buf[0] == '\0') {
		if (u->hostkey_mismatch)
			cm_strlcpy(buf, u->hk_msg, sizeof(buf));
		else if (u->connect_errno == ECONNREFUSED)
			cm_strlcpy(buf, "connection refused", sizeof(buf));
		else if (u->connect_errno == ETIMEDOUT)
			(void)snprintf(buf, sizeof(buf), "connect timed out "
			    "after %d s", u->connect_s);
		else if (u->connect_errno != 0)
			(void)snprintf(buf, sizeof(buf), "cannot connect: %s",
			    strerror(u->connect_errno));
		else if (u->auth_failed)
			(void)snprintf(buf, sizeof(buf), "upstream rejected "
			    "the gate's key for %s@%s", u->repo->user,
			    u->repo->host);
		else if (e != NULL && e->message != NULL)
			cm_strlcpy(buf, e->message, sizeof(buf));
		else
			(void)snprintf(buf, sizeof(buf), "libgit2 error %d",
			    rc);
	}
	gg_up_sanitize(u->cfg, buf, strlen(buf), out, outlen);
	return (out);
}
