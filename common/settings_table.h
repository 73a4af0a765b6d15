/*
 * Every scalar key of sidecar.yaml, once (STYLE.md 3.8).  check-config,
 * reload and --help all read this table through settings.c.
 *
 * X(id, key, type, default, min, max, restart, help)
 *   type: INT (sizes in bytes, times in the unit the key ends in), BOOL,
 *         FLOAT (the value times 1000 is stored; bounds likewise)
 *   restart: 1 if a running sidecar applies it only after a restart
 */
#define CM_KiB	1024LL
#define CM_MiB	(1024LL * 1024)

#define CM_SETTINGS_INT(X)						\
	X(WORKERS, "workers", INT, CM_DEF_WORKERS, 0, CM_MAX_WORKERS, 1,	\
	    "worker threads; 0 = one per online CPU")			\
	X(JOB_THREADS, "job_threads", INT, CM_DEF_JOB_THREADS, 1,		\
	    CM_MAX_JOB_THREADS, 1, "threads for blocking jobs")		\
	X(EG_REQUEST_LINE_BYTES, "egress.limits.request_line_bytes", INT,	\
	    CM_DEF_REQUEST_LINE_BYTES, 256, CM_MAX_REQUEST_LINE_BYTES, 0,	\
	    "request line cap (414)")					\
	X(EG_HEADER_BYTES, "egress.limits.header_bytes", INT,		\
	    CM_DEF_HEADER_BYTES, 1024, CM_MAX_HEADER_BYTES, 0,		\
	    "whole request head cap (431)")				\
	X(EG_HEADER_COUNT, "egress.limits.header_count", INT,		\
	    CM_DEF_HEADER_COUNT, 1, CM_MAX_HEADER_COUNT, 0,		\
	    "header fields per request (431)")				\
	X(EG_CONNECTIONS_PER_WORKER, "egress.limits.connections_per_worker",	\
	    INT, 4096, 1, 1000000, 0, "agent connections per worker (503 busy)") \
	X(EG_TUNNELS_PER_CLIENT, "egress.limits.tunnels_per_client", INT,	\
	    256, 1, 100000, 0, "concurrent tunnels per agent IP (429)")	\
	X(EG_OUTBOUND_BUFFER_BYTES, "egress.limits.outbound_buffer_bytes",	\
	    INT, CM_MiB, 4 * CM_KiB, 256 * CM_MiB, 0,			\
	    "request body buffered for scanning before streaming")	\
	X(EG_INBOUND_BUFFER_BYTES, "egress.limits.inbound_buffer_bytes",	\
	    INT, CM_MiB, 4 * CM_KiB, 256 * CM_MiB, 0,			\
	    "response body buffered for scanning before streaming")	\
	X(EG_SSE_EVENT_BYTES, "egress.limits.sse_event_bytes", INT, CM_MiB,	\
	    1 * CM_KiB, 64 * CM_MiB, 0, "SSE event scanned whole up to this")	\
	X(EG_WS_MESSAGE_BUFFER_BYTES, "egress.limits.ws_message_buffer_bytes", \
	    INT, CM_MiB, 1 * CM_KiB, 64 * CM_MiB, 0,			\
	    "WebSocket message scanned whole up to this")		\
	X(EG_IO_BUFFER_BYTES, "egress.limits.io_buffer_bytes", INT,		\
	    256 * CM_KiB, 4 * CM_KiB, 16 * CM_MiB, 0,			\
	    "per-direction relay buffer before back-pressure")		\
	X(EG_POOL_IDLE_PER_ORIGIN, "egress.limits.pool_idle_per_origin", INT,	\
	    8, 0, 1024, 0, "idle pooled origin connections per origin")	\
	X(EG_POOL_IDLE_PER_WORKER, "egress.limits.pool_idle_per_worker", INT,	\
	    256, 0, 65536, 0, "idle pooled origin connections per worker") \
	X(EG_CERT_CACHE_ENTRIES, "egress.limits.cert_cache_entries", INT,	\
	    4096, 16, 1000000, 0, "minted leaf certificates kept (LRU)")	\
	X(EG_CLIENT_IDLE_S, "egress.timeouts.client_idle_s", INT,		\
	    CM_DEF_CLIENT_IDLE_S, 1, 86400, 0, "keep-alive with no request") \
	X(EG_REQUEST_HEAD_S, "egress.timeouts.request_head_s", INT,		\
	    CM_DEF_REQUEST_HEAD_S, 1, 3600, 0, "first byte to end of head (408)") \
	X(EG_TLS_HANDSHAKE_S, "egress.timeouts.tls_handshake_s", INT, 10, 1,	\
	    600, 0, "agent-side TLS handshake")				\
	X(EG_UPSTREAM_CONNECT_S, "egress.timeouts.upstream_connect_s", INT,	\
	    10, 1, 600, 0, "TCP + TLS to the origin (504)")		\
	X(EG_UPSTREAM_HEADERS_S, "egress.timeouts.upstream_headers_s", INT,	\
	    60, 1, 86400, 0, "response head after the request (504)")	\
	X(EG_IO_IDLE_S, "egress.timeouts.io_idle_s", INT, 300, 1, 86400, 0,	\
	    "no body progress either way")				\
	X(EG_INBOUND_STALL_MS, "egress.timeouts.inbound_stall_ms", INT, 1000,	\
	    0, 600000, 0, "buffered response stalls: switch to streaming") \
	X(EG_WS_IDLE_S, "egress.timeouts.ws_idle_s", INT, 600, 1, 86400, 0,	\
	    "idle WebSocket (close 1001)")				\
	X(EG_POOL_IDLE_S, "egress.timeouts.pool_idle_s", INT, 30, 1, 3600, 0,	\
	    "idle pooled origin connection")				\
	X(EG_RESOLVER_TIMEOUT_MS, "egress.resolver.timeout_ms", INT, 3000,	\
	    100, 60000, 0, "one DNS attempt")				\
	X(EG_DLP_PARTIAL_MIN_LEN, "egress.dlp.partial_min_len", INT, 16, 8,	\
	    4096, 0, "consecutive secret bytes that count as a partial hit") \
	X(EG_DLP_ENTROPY_WINDOW, "egress.dlp.entropy_window", INT, 128, 16,	\
	    4096, 0, "entropy window bytes")				\
	X(EG_DLP_ENTROPY_THRESHOLD, "egress.dlp.entropy_threshold", FLOAT,	\
	    5500, 1000, 8000, 0, "entropy warn threshold, bits per byte")	\
	X(EG_LEAF_VALIDITY_DAYS, "egress.leaf_validity_days", INT, 30, 1, 825, \
	    0, "minted leaf certificate lifetime")			\
	X(EG_LOG_BODIES_BYTES, "egress.log_bodies_bytes", INT, 0, 0,		\
	    64 * CM_KiB, 0, "body bytes logged at log level 2 (redacted)") \
	X(GG_REQUEST_LINE_BYTES, "gitgate.request_line_bytes", INT,		\
	    CM_DEF_REQUEST_LINE_BYTES, 256, CM_MAX_REQUEST_LINE_BYTES, 0,	\
	    "smart HTTP request line cap (414)")			\
	X(GG_HEADER_BYTES, "gitgate.header_bytes", INT, CM_DEF_HEADER_BYTES,	\
	    1024, CM_MAX_HEADER_BYTES, 0, "smart HTTP head cap (431)")	\
	X(GG_HEADER_COUNT, "gitgate.header_count", INT, CM_DEF_HEADER_COUNT,	\
	    1, CM_MAX_HEADER_COUNT, 0, "smart HTTP fields (431)")		\
	X(GG_REQUEST_HEAD_S, "gitgate.request_head_s", INT,			\
	    CM_DEF_REQUEST_HEAD_S, 1, 3600, 0, "smart HTTP head time (408)") \
	X(GG_CLIENT_IDLE_S, "gitgate.client_idle_s", INT, CM_DEF_CLIENT_IDLE_S, \
	    1, 86400, 0, "smart HTTP keep-alive with no request")	\
	X(GG_IDLE_TIMEOUT_S, "gitgate.idle_timeout_s", INT, 15, 1, 3600, 0,	\
	    "waiting for client bytes")					\
	X(GG_WRITE_STALL_TIMEOUT_S, "gitgate.write_stall_timeout_s", INT, 60, \
	    1, 3600, 0, "client does not read the gate's output")	\
	X(GG_UPSTREAM_CONNECT_TIMEOUT_S, "gitgate.upstream_connect_timeout_s", \
	    INT, 10, 1, 600, 0, "TCP + SSH handshake + auth")		\
	X(GG_UPSTREAM_IO_TIMEOUT_S, "gitgate.upstream_io_timeout_s", INT, 60,	\
	    1, 3600, 0, "no upstream progress during a transfer")	\
	X(GG_REFRESH_TIMEOUT_S, "gitgate.refresh_timeout_s", INT, 600, 1,	\
	    86400, 0, "one mirror refresh in total")			\
	X(GG_FORWARD_TIMEOUT_S, "gitgate.forward_timeout_s", INT, 600, 1,	\
	    86400, 0, "one forward upstream in total")			\
	X(GG_KEEPALIVE_S, "gitgate.keepalive_s", INT, 5, 1, 600, 0,		\
	    "silence before a keepalive")				\
	X(GG_PROGRESS_INTERVAL_S, "gitgate.progress_interval_s", INT, 10, 1,	\
	    600, 0, "interval of progress lines")			\
	X(GG_MAX_PACK_BYTES, "gitgate.max_pack_bytes", INT, 512 * CM_MiB,	\
	    CM_MiB, 16384 * CM_MiB, 0, "one pushed pack")		\
	X(GG_MAX_PACK_OBJECTS, "gitgate.max_pack_objects", INT, 500000, 1,	\
	    100000000, 0, "objects in one pushed pack")			\
	X(GG_MAX_OBJECT_BYTES, "gitgate.max_object_bytes", INT, 512 * CM_MiB,	\
	    CM_MiB, 16384 * CM_MiB, 0, "one object in any indexed pack")	\
	X(GG_MAX_PUSH_COMMANDS, "gitgate.max_push_commands", INT, 1000, 1,	\
	    100000, 0, "ref updates in one push")			\
	X(GG_MAX_REQUEST_BYTES, "gitgate.max_request_bytes", INT,		\
	    32 * CM_MiB, 64 * CM_KiB, 1024 * CM_MiB, 0,			\
	    "one upload-pack request or receive-pack command section")	\
	X(GG_SCAN_MAX_FILE_BYTES, "gitgate.scan_max_file_bytes", INT,		\
	    4 * CM_MiB, 1 * CM_KiB, 1024 * CM_MiB, 0, "larger blobs are not scanned") \
	X(GG_MAX_FINDINGS_LISTED, "gitgate.max_findings_listed", INT, 50, 1,	\
	    10000, 0, "finding lines shown")				\
	X(GG_MAX_SUPPRESSED_FINDINGS, "gitgate.max_suppressed_findings", INT,	\
	    200, 1, 100000, 0, "findings one proposal may hold")	\
	X(GG_MAX_CONCURRENT_PACKBUILDS, "gitgate.max_concurrent_packbuilds",	\
	    INT, 2, 1, 64, 0, "packbuilder jobs at once")		\
	X(GG_MAX_PACKBUILD_OBJECTS, "gitgate.max_packbuild_objects", INT,	\
	    1000000, 1, 100000000, 0, "objects per built pack")		\
	X(GG_MAX_CONCURRENT_PUSHES, "gitgate.max_concurrent_pushes", INT, 8,	\
	    1, 1024, 0, "pushes in progress process-wide")		\
	X(GG_JOB_QUEUE_TIMEOUT_S, "gitgate.job_queue_timeout_s", INT, 60, 1,	\
	    3600, 0, "wait for a job slot before gate busy")		\
	X(GG_PROTOCOL_V2, "gitgate.protocol_v2", BOOL, 1, 0, 1, 0,		\
	    "serve protocol v2 when asked")				\
	X(SV_WAIT_S, "supervise.wait_s", INT, 30, 1, 600, 0,			\
	    "a tool call waits this long before answering pending")	\
	X(SV_PROGRESS_S, "supervise.progress_s", INT, 10, 1, 60, 0,		\
	    "SSE progress / keep-alive interval")			\
	X(SV_MAX_PENDING, "supervise.max_pending", INT, 10, 1, 1000, 0,	\
	    "pending agent proposals per bottle")			\
	X(SV_MAX_PENDING_HOLDS, "supervise.max_pending_holds", INT, 32, 1,	\
	    10000, 0, "pending holds per hold kind")			\
	X(SV_MAX_BODY_BYTES, "supervise.max_body_bytes", INT, CM_MiB, 1024,	\
	    64 * CM_MiB, 0, "MCP POST body")				\
	X(SV_SESSION_LIMIT, "supervise.session_limit", INT, 64, 1, 100000, 0,	\
	    "open MCP sessions")					\
	X(SV_SESSION_IDLE_S, "supervise.session_idle_s", INT, 3600, 1,	\
	    604800, 0, "MCP session idle expiry")			\
	X(SV_REQUEST_LINE_BYTES, "supervise.request_line_bytes", INT,		\
	    CM_DEF_REQUEST_LINE_BYTES, 256, CM_MAX_REQUEST_LINE_BYTES, 0,	\
	    "MCP request line cap (414)")				\
	X(SV_HEADER_BYTES, "supervise.header_bytes", INT, CM_DEF_HEADER_BYTES, \
	    1024, CM_MAX_HEADER_BYTES, 0, "MCP head cap (431)")		\
	X(SV_HEADER_COUNT, "supervise.header_count", INT, CM_DEF_HEADER_COUNT, \
	    1, CM_MAX_HEADER_COUNT, 0, "MCP header fields (431)")	\
	X(SV_REQUEST_HEAD_S, "supervise.request_head_s", INT,		\
	    CM_DEF_REQUEST_HEAD_S, 1, 3600, 0, "MCP head time (408)")	\
	X(SV_CLIENT_IDLE_S, "supervise.client_idle_s", INT,			\
	    CM_DEF_CLIENT_IDLE_S, 1, 86400, 0, "MCP keep-alive with no request") \
	X(SV_POLL_MS, "supervise.poll_ms", INT, 250, 50, 2000, 0,		\
	    "queue poll while any waiter exists")			\
	X(SV_INOTIFY, "supervise.inotify", BOOL, 1, 0, 1, 0,			\
	    "inotify as an accelerator of the queue poll")
