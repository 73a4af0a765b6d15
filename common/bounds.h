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

/* Minted leaves (egress.leaf_validity_days): a leaked one soon expires. */
#define CM_DEF_LEAF_VALIDITY_DAYS	30

/*
 * Scan engine (spec/egress.md §8, §12; common/scan*.c).  Known secrets
 * shorter than CM_SECRET_MIN_BYTES are ignored by the engine.
 */
/* §8.3: secrets longer than this are matched raw, projected, partial. */
#define CM_SCAN_ENCODE_MAX_BYTES	1024
/* dlp.partial_min_len: a partial hit is this many bytes of a secret. */
#define CM_DEF_SCAN_PARTIAL_BYTES	16
#define CM_MIN_SCAN_PARTIAL_BYTES	12
#define CM_MAX_SCAN_PARTIAL_BYTES	256
/* A 16-byte partial window needs this many distinct bytes (§8.3). */
#define CM_SCAN_PARTIAL_DISTINCT	8
/* base64 alignment cores and alnum projections shorter are dropped. */
#define CM_SCAN_B64_CORE_MIN_BYTES	16
#define CM_SCAN_ALNUM_MIN_BYTES		16
/* A run of more separators than this ends an alnum-projected match. */
#define CM_SCAN_ALNUM_GAP_BYTES		16
/* private-key: the value runs to its END line, at most this far. */
#define CM_SCAN_PEM_MAX_BYTES		(16 * 1024)
/* §8.4 entropy: dlp.entropy_window, fixed step, dlp.entropy_threshold. */
#define CM_DEF_SCAN_ENTROPY_WINDOW	128
#define CM_MIN_SCAN_ENTROPY_WINDOW	32
#define CM_MAX_SCAN_ENTROPY_WINDOW	4096
#define CM_SCAN_ENTROPY_STEP		32
#define CM_DEF_SCAN_ENTROPY_MBITS	5500
/* One scan stores at most this many hits; the rest are only counted. */
#define CM_MAX_SCAN_HITS		4096
/* §9.3 excerpts: context each side of a hit, whole excerpt. */
#define CM_SCAN_CONTEXT_BYTES		40
#define CM_SCAN_EXCERPT_BYTES		200
/* gitgate §8.4: no excerpt holds this many bytes in a row of a secret. */
#define CM_SCAN_SECRET_RUN_BYTES	8
/* A stream keeps this much before its release point for lookbehind. */
#define CM_SCAN_RETAIN_BYTES		64
/* PCRE2 per candidate: backtracking steps, JIT stack. */
#define CM_SCAN_MATCH_LIMIT		1000000
#define CM_SCAN_JIT_STACK_BYTES		(512 * 1024)
/* §12.3: families count over this much normalised text. */
#define CM_INJECT_WINDOW_BYTES		2048
/* The longest injection match looked for (patterns are bounded). */
#define CM_INJECT_SPAN_BYTES		512
/* A match is quoted when it starts this close after an open quote. */
#define CM_INJECT_QUOTE_LEAD		3
/* §12.1: this many Unicode tag characters in a row are a carrier. */
#define CM_INJECT_TAG_RUN		4
/* A markup tag longer than this is text, not a tag. */
#define CM_INJECT_TAG_BYTES		1024

/* Hosts (RFC 1035): a name and one label at most; buffers add the NUL. */
#define CM_MAX_HOST_BYTES		253
#define CM_MAX_HOST_LABEL_BYTES		63
#define CM_HOST_BUF_BYTES		(CM_MAX_HOST_BYTES + 1)
/*
 * Route regexes (spec/egress.md §5.3) run on agent bytes: a pattern that
 * backtracks past these counts as no match instead of pinning a worker.
 * Sane path patterns need a few thousand steps on a 64 KiB target.
 */
#define CM_ROUTE_RE_MATCH_LIMIT		1000000
#define CM_ROUTE_RE_DEPTH_LIMIT		10000
#define CM_ROUTE_RE_HEAP_KIB		8192

/*
 * Origin connections (spec/egress.md §11; egress/dns.c, upstream.c,
 * pool.c).  DNS answers live for their TTL clamped to these, failures
 * for the negative time; a lookup is sent this many times in all.
 */
#define EG_DNS_TTL_MIN_S		5
#define EG_DNS_TTL_MAX_S		300
#define EG_DNS_NEG_TTL_S		5
#define EG_DNS_ATTEMPTS			2
/* Hosts cached per worker; the oldest entry goes first past it. */
#define EG_MAX_DNS_CACHE_ENTRIES	4096
#define EG_DNS_CACHE_BUCKETS		1024
/* Addresses kept per family from one answer (more add nothing useful). */
#define EG_MAX_DNS_ADDRS		8
/* §11.3: the next candidate starts after this unless one failed first. */
#define EG_DIAL_STAGGER_MS		2000
/* Hash buckets of a worker's idle pool (keys are scanned within one). */
#define EG_POOL_BUCKETS			256

/*
 * The approval queue (spec/supervise.md §5).  Files past these are
 * refused (a proposal is never written, a response is malformed).
 */
#define CM_QUEUE_PROPOSAL_MAX_BYTES	(128 * 1024)
#define CM_QUEUE_RESPONSE_MAX_BYTES	(256 * 1024)
/* §5.3: one context excerpt in a proposal, in characters. */
#define CM_QUEUE_CONTEXT_MAX_CHARS	200
/* With no waiter the queue lists its dirs only this often. */
#define CM_QUEUE_IDLE_TICK_MS		2000
/* Temp files left by a crash are swept at startup past this age. */
#define CM_QUEUE_TEMP_MAX_AGE_S		3600
/* Malformed or orphan file versions remembered (each is logged once). */
#define CM_QUEUE_MAX_NOTED_FILES	1024
/* Dir entries read per listing; the rest wait for the next listing. */
#define CM_QUEUE_MAX_LIST		4096
/* bb_supervise_decision_seconds: a person answers in seconds to hours. */
#define CM_QUEUE_DECISION_BUCKETS_MS	1000, 5000, 15000, 30000, 60000, \
	300000, 900000, 1800000, 3600000

/*
 * supervise (spec/supervise.md §3-§4).  Argument caps are the tool
 * contract the agent sees in the schemas.
 */
#define SV_MAX_JUSTIFICATION_CHARS	4000
#define SV_MAX_DESCRIPTION_CHARS	4000
#define SV_MAX_DOCKERFILE_BYTES		(64 * 1024)
#define SV_MAX_MATCHES			32
/* §3.2: a JSON-RPC batch larger than this is refused whole. */
#define SV_MAX_BATCH			32
/* Mcp-Session-Id: this many random bytes, as lowercase hex. */
#define SV_SESSION_ID_BYTES		16
/* Idle MCP sessions are looked for at most this often. */
#define SV_SESSION_SWEEP_MS		1000
/* A connection's read buffer beyond one request while a call waits. */
#define SV_MAX_PIPELINE_BYTES		(64 * 1024)
/* The operator's watch polls the queue this often without inotify. */
#define SV_WATCH_POLL_MS		250
/* Lines read from a terminal prompt (notes, reasons). */
#define SV_MAX_PROMPT_BYTES		4096

/*
 * Body parsers (common/decode.c, multipart.c, sse.c; egress/ws.c).
 * spec/egress.md §8.5: at most two stacked content codings.
 */
#define CM_MAX_DECODE_CODINGS		2
/* Decoded bytes produced per inner step, and buffered between codings. */
#define CM_DECODE_CHUNK_BYTES		(16 * 1024)
#define CM_DECODE_STAGE_BYTES		(64 * 1024)
/*
 * Bomb guards: decoded output past ratio x encoded input (after a free
 * first CM_DECODE_RATIO_SLACK_BYTES, so small bodies never trip it) or
 * past the total cap is refused.  Text rarely compresses past 20:1;
 * deflate cannot pass 1032:1, so the ratio bites on brotli and stacks.
 */
#define CM_DEF_DECODE_RATIO		256
#define CM_DECODE_RATIO_SLACK_BYTES	(1024 * 1024)
#define CM_DEF_DECODE_OUTPUT_BYTES	((uint64_t)1 << 30)
/* brotli's 16 MiB window plus tables: a stream needing more is refused. */
#define CM_DECODE_BROTLI_MEM_BYTES	(20 * 1024 * 1024)
/* RFC 2046 §5.1.1: a boundary is 1 to 70 characters. */
#define CM_MULTIPART_BOUNDARY_BYTES	70
/* One part's header block, and its field lines. */
#define CM_MULTIPART_HEAD_BYTES		(16 * 1024)
#define CM_MULTIPART_HEAD_COUNT		32
/* Transport padding after a boundary (RFC 2046 LWSP): clients send none. */
#define CM_MULTIPART_PAD_BYTES		256
/* multipart inside multipart, levels parsed; deeper parts stay opaque. */
#define CM_MULTIPART_MAX_DEPTH		4
/* A urlencoded name or value longer than this is delivered in pieces. */
#define CM_FORM_PIECE_BYTES		(16 * 1024)
/*
 * WebSocket (spec/egress.md §13).  Frames stream, so this only refuses
 * absurd lengths; messages are reassembled up to ws_message_buffer_bytes.
 */
#define EG_WS_MAX_FRAME_BYTES		((uint64_t)1 << 32)
/* RFC 6455 §5.5: control payloads; a close reason after its code. */
#define EG_WS_CONTROL_BYTES		125
#define EG_WS_CLOSE_REASON_BYTES	123
/* Unmasked payload delivered per callback. */
#define EG_WS_CHUNK_BYTES		(16 * 1024)


/*
 * gitgate (spec/gitgate.md).  Repo names and host keys (§3.2), pkt-line
 * sizes (§2.5), ref names (§7.2), buffers (§6.5, §7.3), text cut from
 * upstream (§5.1, §10.1), the scan (§8.3, §8.4), upstream sockets (§5.3).
 */
#define GG_MAX_HOST_KEYS		8
#define GG_MAX_NAME_BYTES		100
#define GG_PKT_MAX			65520
#define GG_PKT_DATA_MAX			(GG_PKT_MAX - 4)
#define GG_PKT_SMALL_MAX		1000
#define GG_MAX_REF_BYTES		1024
/* Pack bytes queued towards one client before reading more from disk. */
#define GG_STREAM_BUF_BYTES		(4 * 1024 * 1024)
/* Pushed pack bytes waiting for the indexer before the socket pauses. */
#define GG_INTAKE_PENDING_BYTES		(8 * 1024 * 1024)
/* One indexer job takes at most this much of what is waiting. */
#define GG_INTAKE_CHUNK_BYTES		(1024 * 1024)
/*
 * The forward's packbuilder (spec/gitgate.md §17 memory): its delta
 * window holds at most this many bytes of blobs and delta indexes, and
 * objects larger than GG_FWD_BIG_FILE_BYTES are sent without deltas.
 */
#define GG_FWD_WINDOW_BYTES		(16 * 1024 * 1024)
/* libgit2's parsed-object cache, all repositories together. */
#define GG_OBJECT_CACHE_BYTES		(16 * 1024 * 1024)
#define GG_FWD_BIG_FILE_BYTES		(16 * 1024 * 1024)
#define GG_MSG_BYTES			300
#define GG_UPSTREAM_LINES		100
#define GG_SCAN_BINARY_PROBE_BYTES	8000
#define GG_CONTEXT_BYTES		160
/* Findings kept per push (listing and proposals use fewer). */
#define GG_MAX_FINDINGS_KEPT		1000
/* Band-2 progress at most this often. */
#define GG_PROGRESS_MIN_MS		1000
/* Upstream watchdogs look at their jobs this often. */
#define GG_WATCHDOG_TICK_MS		250
#define GG_TCP_KEEPIDLE_S		10
#define GG_TCP_KEEPINTVL_S		5
#define GG_TCP_KEEPCNT			3
/* Connections per worker on the two fronts together. */
#define GG_MAX_CONNS_PER_WORKER		1024
/* have lines one fetch may send (git sends at most a few thousand). */
#define GG_MAX_HAVES			100000
/* want lines of one request. */
#define GG_MAX_WANTS			100000

/*
 * A coded request body buffered whole is decoded whole for the scan: a
 * body that inflates past this is refused as unscannable, not held.
 */
#define EG_MAX_DECODED_BODY_BYTES	((uint64_t)64 * 1024 * 1024)

/* A finished response this small is joined into one TLS record. */
#define EG_COALESCE_BYTES		16384

#endif /* CM_BOUNDS_H */
