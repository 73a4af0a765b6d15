/*
 * libFuzzer target for the MCP request path (spec/supervise.md §3):
 * the input is the byte stream of one client connection, fed through a
 * socketpair into the real connection code on a worker's event base,
 * so the shared HTTP codec, checks 1-14, JSON-RPC, sessions, tools and
 * the queue (in a temp state dir) all run.  "@@SID@@" in the input is
 * replaced by the id of a live session, so the requests behind the
 * session checks are reached too.  ASan/UBSan do the judging.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <ftw.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <event2/util.h>

#include "common/log.h"
#include "common/settings.h"
#include "common/snapshot.h"
#include "common/worker.h"
#include "supervise/service.h"
#include "supervise/sv.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct cm_worker	*mcp_fuzz_w;
static char		 mcp_fuzz_sid[40];
static uint8_t		 mcp_fuzz_buf[2 * 65536];

/* The input with each "@@SID@@" replaced by the live session's id. */
static size_t
mcp_fuzz_expand(const uint8_t *data, size_t size)
{
	static const char	 tag[] = "@@SID@@";
	enum sv_rev		 rev;
	size_t			 i = 0, o = 0, sl;

	if (sv_session_touch(mcp_fuzz_sid, 3600, &rev, NULL, 0) == -1)
		(void)sv_session_new(SV_REV_2025_03_26, "fuzz", "f", "1", 64,
		    mcp_fuzz_sid);
	sl = strlen(mcp_fuzz_sid);
	while (i < size && o + sl < sizeof(mcp_fuzz_buf)) {
		if (size - i >= sizeof(tag) - 1 &&
		    memcmp(data + i, tag, sizeof(tag) - 1) == 0) {
			memcpy(mcp_fuzz_buf + o, mcp_fuzz_sid, sl);
			o += sl;
			i += sizeof(tag) - 1;
		} else
			mcp_fuzz_buf[o++] = data[i++];
	}
	return (o);
}

static char		 mcp_fuzz_dir[] = "/tmp/bb-mcp-fuzz.XXXXXX";

static int
mcp_fuzz_rm(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)remove(path);
	return (0);
}

/* The temp state dir goes when the fuzzer exits. */
static void
mcp_fuzz_cleanup(void)
{
	(void)nftw(mcp_fuzz_dir, mcp_fuzz_rm, 16, FTW_DEPTH | FTW_PHYS);
}

static int
mcp_fuzz_init(void)
{
	char			*dir = mcp_fuzz_dir;
	struct cm_load_env	 env;
	struct cm_snap		*snap;
	char			 err[256];

	if (evthread_use_pthreads() == -1 || mkdtemp(dir) == NULL ||
	    (snap = calloc(1, sizeof(*snap))) == NULL)
		return (-1);
	(void)atexit(mcp_fuzz_cleanup);
	/* Log lines cost more than the code under test. */
	cm_log_set_level(CM_LOG_ERROR);
	atomic_init(&snap->refs, 1);
	snap->generation = 1;
	if ((snap->settings = cm_settings_new()) == NULL)
		return (-1);
	/* Short waits: a call that waits ends with its connection. */
	snap->settings->v[CM_S_SV_WAIT_S] = 1;
	memset(&env, 0, sizeof(env));
	env.config_dir = dir;
	env.state_dir = dir;
	env.settings = snap->settings;
	if ((snap->svc[CM_SVC_SUPERVISE] = sv_service.load(&env)) == NULL ||
	    sv_service.start(snap, err, sizeof(err)) == -1 ||
	    (mcp_fuzz_w = cm_worker_new(0, snap)) == NULL ||
	    sv_service.worker_start(mcp_fuzz_w) == -1)
		return (-1);
	cm_snap_unref(snap);
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int		 ready;
	struct sockaddr_in	 sin;
	struct event_base	*base;
	struct sv_worker	*sw;
	char			 buf[65536];
	size_t			 off = 0;
	ssize_t			 n;
	int			 sv[2], i;

	if (!ready) {
		if (mcp_fuzz_init() == -1)
			abort();
		ready = 1;
	}
	if (size > 65536)
		return (0);
	size = mcp_fuzz_expand(data, size);
	data = mcp_fuzz_buf;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return (0);
	(void)evutil_make_socket_nonblocking(sv[0]);
	(void)evutil_make_socket_nonblocking(sv[1]);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	base = cm_worker_base(mcp_fuzz_w);
	sw = sv_worker_of(mcp_fuzz_w);
	sv_conn_accept(mcp_fuzz_w, sv[0], (struct sockaddr *)&sin,
	    sizeof(sin), CM_L_SUPERVISE);
	for (i = 0; i < 400; i++) {
		if (off < size) {
			n = write(sv[1], data + off, size - off);
			if (n > 0)
				off += (size_t)n;
			if (off == size)
				(void)shutdown(sv[1], SHUT_WR);
		} else if (size == 0 && i == 0)
			(void)shutdown(sv[1], SHUT_WR);
		(void)event_base_loop(base, EVLOOP_NONBLOCK);
		while (read(sv[1], buf, sizeof(buf)) > 0)
			;
		if (sw->nconns == 0 && off == size)
			break;
		if (i > 100)
			usleep(1000);	/* the queue thread answers a call */
	}
	(void)close(sv[1]);
	sv_service.worker_kill(mcp_fuzz_w);
	(void)event_base_loop(base, EVLOOP_NONBLOCK);
	return (0);
}
