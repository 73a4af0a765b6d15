/*
 * Every size, count and time of bb-sidecar in one place.
 *
 * CM_DEF_* are defaults that sidecar.yaml may change (the table in
 * settings.c names the key and its bounds); *_MAX_* are ceilings that
 * configuration cannot raise.  Units are in the names.
 */
#ifndef CM_BOUNDS_H
#define CM_BOUNDS_H

/* HTTP codec (spec/egress.md §17, shared by every HTTP front). */
#define CM_DEF_REQUEST_LINE_BYTES	(8 * 1024)
#define CM_MAX_REQUEST_LINE_BYTES	(64 * 1024)
#define CM_DEF_HEADER_BYTES		(64 * 1024)
#define CM_MAX_HEADER_BYTES		(1024 * 1024)
#define CM_DEF_HEADER_COUNT		100
#define CM_MAX_HEADER_COUNT		1000
#define CM_DEF_REQUEST_HEAD_S		30
#define CM_DEF_CLIENT_IDLE_S		60

/* Workers: 0 means one per online CPU. */
#define CM_DEF_WORKERS			0
#define CM_MAX_WORKERS			256
/* Blocking jobs (libgit2, big scans, key generation). */
#define CM_DEF_JOB_THREADS		2
#define CM_MAX_JOB_THREADS		32

/* Listeners: a service has at most this many addresses. */
#define CM_MAX_LISTEN_ADDRS		16
#define CM_LISTEN_BACKLOG		1024

/* Config loading. One run reports at most this many errors per file. */
#define CM_MAX_CFG_ERRORS		64
#define CM_MAX_CFG_ERROR_BYTES		512
/* A config file larger than this is refused before parsing. */
#define CM_MAX_CFG_FILE_BYTES		(4 * 1024 * 1024)
/* Nesting deeper than this is refused: no config needs it. */
#define CM_MAX_YAML_DEPTH		32
/* The config dir is polled this often for changed files. */
#define CM_CFG_POLL_MS			1000

/* Shutdown: in-flight work gets this long after SIGTERM. */
#define CM_DRAIN_MS			8000
/* /healthz fails when a worker loop has not ticked for this long. */
#define CM_HEALTH_STALE_MS		5000
/* Workers tick their heartbeat this often. */
#define CM_HEARTBEAT_MS			1000

/* Logs: a peer-supplied string is cut to this many bytes. */
#define CM_LOG_PEER_BYTES		256
/* One log line never exceeds this. */
#define CM_LOG_LINE_BYTES		(16 * 1024)

/* Control port: requests are tiny; anything bigger is refused. */
#define CM_CONTROL_HEAD_BYTES		4096
#define CM_CONTROL_IDLE_S		5
#define CM_CONTROL_MAX_CONNS		64

/* Known secrets: values shorter than this are not matched (too common). */
#define CM_SECRET_MIN_BYTES		8
#define CM_MAX_SECRETS			256
#define CM_MAX_SECRET_BYTES		8192

/* Holds (DESIGN.md "Holds"): unset, bad or <= 0 means the default. */
#define CM_DEF_HOLD_TIMEOUT_S		300
#define CM_MAX_HOLD_TIMEOUT_S		3600

#endif /* CM_BOUNDS_H */
