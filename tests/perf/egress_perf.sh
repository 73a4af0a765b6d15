#!/bin/bash
# make perf: spec/egress.md §23 and the runtime rows of spec/bundle.md §8.
#
# One run, one machine, side by side: straight to bbt-origin (1 KiB
# responses, /bytes/1024, keep-alive, EC P-256), through bb-sidecar
# (default workers, 100 routes, egress.resolve + upstream_ca_file) and
# through mitmproxy (Debian's mitmdump, regular mode, an addon that only
# returns, a throwaway confdir).  tests/perf/loadgen drives all three.
# Every configuration runs a few seconds; everything is on 127.0.0.1.
#
# Writes $PERF_OUT/egress.md (the table) and egress.json (every number),
# and prints the table.  Exit 1 when a run could not be made or when a
# stored baseline ($PERF_BASELINE, default tests/perf/baseline.json in
# the source tree, absent by default) shows a regression over 10%; a
# missed target is reported, not fatal (the machine may be shared).
#
# Environment: BB_SIDECAR, BB_BUILDDIR, BB_SRCDIR (set by make perf);
# PERF_SECONDS (measured seconds per configuration, default 3),
# PERF_WARMUP (default 1), PERF_ROUNDS (keep-alive rounds, best kept,
# default 2), PERF_IDLE_TUNNELS (default 1000), PERF_OUT (default
# $BB_BUILDDIR/perf), PERF_BASELINE, PERF_SAVE_BASELINE=1 (store this
# run's numbers as the baseline instead of comparing).
: "${BB_SRCDIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
# shellcheck source=perf_lib.sh
. "$BB_SRCDIR/tests/perf/perf_lib.sh"

SECS=${PERF_SECONDS:-3}
WARM=${PERF_WARMUP:-1}
ROUNDS=${PERF_ROUNDS:-2}
NIDLE=${PERF_IDLE_TUNNELS:-1000}
OUT=${PERF_OUT:-$BB_BUILDDIR/perf}
BASELINE=${PERF_BASELINE:-$BB_SRCDIR/tests/perf/baseline.json}
LOADGEN=$BB_BUILDDIR/tests/perf/loadgen
ORIGIN=$BB_BUILDDIR/tests/bbt-origin
LGERR=$BB_T/loadgen.err
PERF_NAME=egress_perf
perf_init
for t in "$LOADGEN" "$ORIGIN"; do [ -x "$t" ] || die "$t not built"; done
for t in jq curl; do command -v $t >/dev/null || die "$t missing"; done
MITM=$(command -v mitmdump || true)
[ -n "$MITM" ] || note "mitmdump missing: the mitmproxy column stays empty"

# ---- the machine: perf_init's record, and mitmproxy's version ------------
put machine "$(get machine | jq --arg m \
    "$([ -n "$MITM" ] && "$MITM" --version 2>/dev/null | head -1)" \
    '. + {mitmproxy: $m}')"

# ---- the origin -----------------------------------------------------------
"$ORIGIN" --make-ca "$BB_T/origin" >/dev/null || die "origin CA"
bb_bg "$ORIGIN" --tls 127.0.0.1:0 --cert-dir "$BB_T/origin" \
    --name origin.test --ready-file "$BB_T/origin.ready"
for _i in $(seq 1 250); do [ -s "$BB_T/origin.ready" ] && break; sleep 0.02; done
[ -s "$BB_T/origin.ready" ] || die "bbt-origin did not start"
PT=$(jq -r '.tls[0]' "$BB_T/origin.ready")
ORIGIN_PID=$(jq -r '.pid' "$BB_T/origin.ready")

# ---- bb-sidecar: 100 routes, the default rule set ----------------------
bb_ca_init
cp "$BB_T/origin/ca.pem" "$CONF/origin-ca.pem"
{
	echo "routes:"
	echo "  - host: origin.test"
	for i in $(seq 1 8); do
		echo "  - {host: tok$i.perf.test, auth_scheme: token," \
		    "token_env: PERF_TOKEN_$i}"
	done
	for i in $(seq 1 30); do echo "  - {host: h$i.perf.test}"; done
	for i in $(seq 1 20); do
		echo "  - host: m$i.perf.test"
		echo "    matches:"
		echo "      - {paths: [{type: prefix, value: /api/v$i/}," \
		    "{type: regex, value: \"/items/[0-9]+\"}]," \
		    "methods: [GET, POST]}"
	done
	for i in $(seq 1 20); do
		echo "  - {host: \"*.w$i.perf.test\"," \
		    "dlp: {outbound_on_match: block}}"
	done
	for i in $(seq 1 21); do
		echo "  - {host: r$i.perf.test, dlp: {outbound_on_match:" \
		    "redact, outbound_detectors: [token_patterns," \
		    "known_secrets, entropy]}}"
	done
} >"$CONF/routes.yaml"
# Eight known secrets (spec/egress.md §23's DLP row), as route tokens.
for i in $(seq 1 8); do
	export PERF_TOKEN_$i="$(head -c 64 /dev/urandom | tr -dc 'A-Za-z0-9' |
	    head -c 32)x$i"
done
# One client address holds the 1,000 idle tunnels: lift its tunnel cap.
cat >"$CONF/sidecar.yaml" <<YAML
egress:
  upstream_ca_file: origin-ca.pem
  resolve:
    origin.test:443: ["127.0.0.1:$PT"]
  limits:
    tunnels_per_client: $((NIDLE * 2))
YAML
ROUTES_N=$(grep -c '^  - ' "$CONF/routes.yaml")
"$BB_SIDECAR" check-config --config-dir "$CONF" >"$BB_T/check.out" 2>&1 ||
    { cat "$BB_T/check.out" >&2; die "check-config failed"; }
PX=$(bb_free_port)
BB_WORKERS=0 bb_start --services egress --listen-egress "127.0.0.1:$PX" ||
    die "bb-sidecar did not start"
SIDECAR_PID=$BB_SIDECAR_PID
# A second one whose only change is a pool that holds every tunnel's
# origin connection: with more requests in flight per worker than
# limits.pool_idle_per_origin (8), the default one closes and redials
# origin connections (see the up_new counts).
CONF2=$BB_T/conf-pool
mkdir -p "$CONF2" "$BB_T/state-pool"
chmod 700 "$CONF2" "$BB_T/state-pool"
cp -p "$CONF"/* "$CONF2"/
echo "    pool_idle_per_origin: 64" >>"$CONF2/sidecar.yaml"
PX2=$(bb_free_port)
CTL2=$(bb_free_port)
bb_bg "$BB_SIDECAR" run --config-dir "$CONF2" --state-dir "$BB_T/state-pool" \
    --listen-control "127.0.0.1:$CTL2" --services egress --workers 0 \
    --listen-egress "127.0.0.1:$PX2" 2>>"$BB_T/sidecar-pool.stderr"
POOL_PID=${BB_PIDS[${#BB_PIDS[@]}-1]}
bb_wait_http "http://127.0.0.1:$CTL2/readyz" 10 ||
    die "the second bb-sidecar did not start"

# ---- mitmproxy ------------------------------------------------------------
MX=
if [ -n "$MITM" ]; then
	mkdir -p "$BB_T/mitm"
	cat >"$BB_T/mitm/noop.py" <<'PY'
# The addon of spec/egress.md §23: it only returns.
class Noop:
    def request(self, flow):
        return


addons = [Noop()]
PY
	MX=$(bb_free_port)
	bb_bg "$MITM" --listen-host 127.0.0.1 --listen-port "$MX" -q \
	    --set confdir="$BB_T/mitm/conf" -s "$BB_T/mitm/noop.py" \
	    --set ssl_verify_upstream_trusted_ca="$BB_T/origin/ca.pem" \
	    --set flow_detail=0 >"$BB_T/mitm.log" 2>&1
	MITM_PID=${BB_PIDS[${#BB_PIDS[@]}-1]}
	for _i in $(seq 1 500); do
		[ -s "$BB_T/mitm/conf/mitmproxy-ca-cert.pem" ] &&
		    (exec 3<>"/dev/tcp/127.0.0.1/$MX") 2>/dev/null && break
		sleep 0.02
	done
	curl -s -o /dev/null --max-time 5 --proxy "http://127.0.0.1:$MX" \
	    --cacert "$BB_T/mitm/conf/mitmproxy-ca-cert.pem" \
	    --connect-to "origin.test:443:127.0.0.1:$PT" \
	    https://origin.test/bytes/1024 ||
	    { cat "$BB_T/mitm.log" >&2; die "mitmdump does not answer"; }
fi

# ---- the load ---------------------------------------------------------------
# lgargs CONFIG: the loadgen arguments for direct|sidecar|pool|mitm, in A.
lgargs() {
	case $1 in
	direct)	A=(--connect "127.0.0.1:$PT" --sni origin.test
		    --cafile "$BB_T/origin/ca.pem") ;;
	sidecar) A=(--connect "127.0.0.1:$PX" --tunnel origin.test:443
		    --sni origin.test --cafile "$CONF/ca-cert.pem") ;;
	pool)	A=(--connect "127.0.0.1:$PX2" --tunnel origin.test:443
		    --sni origin.test --cafile "$CONF/ca-cert.pem") ;;
	mitm)	# mitmproxy has no resolve map: CONNECT the address, SNI the name.
		A=(--connect "127.0.0.1:$MX" --tunnel "127.0.0.1:$PT"
		    --sni origin.test
		    --cafile "$BB_T/mitm/conf/mitmproxy-ca-cert.pem") ;;
	esac
	A+=(--label "$1" --path /bytes/1024)
}
# The sidecar's origin connections so far: "NEW REUSED".
upconns() {
	curl -s --max-time 5 "http://127.0.0.1:$1/metrics" | awk '
	    /^bb_egress_upstream_connects_total\{result="new"\}/ {n = $2}
	    /^bb_egress_upstream_connects_total\{result="reused"\}/ {r = $2}
	    END {print n + 0, r + 0}'
}
# lg CONFIG [loadgen args]: one run; its JSON, with the sidecar's new and
# reused origin connections during the run added.
lg() {
	local cfg=$1 ctl='' b a j pid t0
	shift
	lgargs "$cfg"
	case $cfg in
	direct)	pid=$ORIGIN_PID ;;
	sidecar) pid=$SIDECAR_PID ctl=$BB_CTL ;;
	pool)	pid=$POOL_PID ctl=$CTL2 ;;
	mitm)	pid=$MITM_PID ;;
	esac
	[ -n "$ctl" ] && b=$(upconns "$ctl")
	t0=$(pid_ticks "$pid" 0)
	j=$("$LOADGEN" "${A[@]}" "$@" 2>>"$LGERR") || return 1
	# CPU per request of the proxy (of the origin, direct): less
	# sensitive than a rate to what else the machine runs.
	j=$(echo "$j" | jq --argjson t "$(( $(pid_ticks "$pid" 0) - t0 ))" \
	    --argjson hz "$(getconf CLK_TCK)" '. + {cpu_us_per_req:
	    (if .requests_total > 0 then $t / $hz * 1e6 / .requests_total
	    else null end)}')
	if [ -n "$ctl" ]; then
		a=$(upconns "$ctl")
		j=$(echo "$j" | jq --arg b "$b" --arg a "$a" '($b | split(" ") |
		    map(tonumber)) as $b | ($a | split(" ") | map(tonumber)) as $a |
		    . + {up_new: ($a[0] - $b[0]), up_reused: ($a[1] - $b[1])}')
	fi
	echo "$j"
}
CFGS="direct sidecar pool"
[ -n "$MX" ] && CFGS="$CFGS mitm"

# Keep-alive, 8 and 64 tunnels: rounds interleave the three, best kept.
for r in $(seq 1 "$ROUNDS"); do
	for n in 8 64; do
		for cfg in $CFGS; do
			j=$(lg $cfg --mode keepalive --conns $n --duration "$SECS" \
			    --warmup "$WARM") || die "keepalive $cfg $n failed"
			note "keepalive $n round $r: $(echo "$j" | jq -c \
			    '{c: .label, rps, p99_ms, errors, up_new}')"
			k=ka${n}_$cfg
			if [ -z "$(get $k)" ] || [ "$(jq -n --argjson a "$j" \
			    --argjson b "$(get $k)" '$a.rps > $b.rps')" = true ]
			then
				put $k "$j"
			fi
		done
	done
done

# A new tunnel (CONNECT + TLS) per request, 8 at once.
for cfg in $CFGS; do
	[ $cfg = pool ] && continue
	j=$(lg $cfg --mode new --conns 8 --duration "$SECS" --warmup "$WARM") ||
	    die "new-tunnel $cfg failed"
	note "new tunnel: $(echo "$j" | jq -c '{c: .label, rps, errors}')"
	put new_$cfg "$j"
done

# Added latency at 25% of the direct maximum, 64 tunnels.
DMAX=$(jq -n --argjson a "$(get ka8_direct)" --argjson b "$(get ka64_direct)" \
    '[$a.rps, $b.rps] | max')
RATE=$(jq -n --argjson m "$DMAX" '$m / 4 | floor')
put rate "$RATE"
for cfg in $CFGS; do
	j=$(lg $cfg --mode rate --rate "$RATE" --conns 64 --duration "$SECS" \
	    --warmup "$WARM") || die "rate $cfg failed"
	note "rate $RATE: $(echo "$j" | jq -c \
	    '{c: .label, rps, p50_ms, p99_ms, late, up_new}')"
	put rate_$cfg "$j"
done

# RSS with $NIDLE idle bumped tunnels, each after one request.
idle_rss() {	# idle_rss CONFIG PID
	local cfg=$1 pid=$2 before after lp i ready=$BB_T/idle.$1.ready
	before=$(rss_kb "$pid")
	lgargs "$cfg"
	"$LOADGEN" "${A[@]}" --mode idle --conns "$NIDLE" --hold 120 \
	    --ready-file "$ready" >"$BB_T/idle.$cfg.json" 2>>"$LGERR" &
	lp=$!
	for i in $(seq 1 1200); do
		[ -s "$ready" ] && break
		kill -0 $lp 2>/dev/null || break
		sleep 0.1
	done
	# Let deferred frees and the pool's bookkeeping settle.
	sleep 1
	after=$(rss_kb "$pid")
	kill -TERM $lp 2>/dev/null
	wait $lp
	[ -s "$ready" ] && [ -s "$BB_T/idle.$cfg.json" ] ||
	    die "idle $cfg: the tunnels never were all held"
	put idle_$cfg "$(jq --argjson b "${before:-0}" --argjson a "${after:-0}" \
	    '. + {rss_before_kb: $b, rss_kb: $a}' "$BB_T/idle.$cfg.json")"
	note "idle $NIDLE: $cfg $(get idle_$cfg | jq -c \
	    '{held, failed, dropped, rss_before_kb, rss_kb}')"
}
idle_rss sidecar "$SIDECAR_PID"
[ -n "$MX" ] && idle_rss mitm "$MITM_PID"

# ---- the runtime rows: exec to /readyz 200, idle RSS, SIGTERM to exit ------
# A sidecar of its own on fresh ports; same config dir (100 routes).
start_runs() {	# start_runs KEY RUNS RSS_AFTER_S WORKERS
	local ctl eg st=$BB_T/state.$1
	ctl=$(bb_free_port)
	eg=$(bb_free_port)
	mkdir -p "$st"
	chmod 700 "$st"
	"$LOADGEN" --mode start --label "$1" --control "127.0.0.1:$ctl" \
	    --runs "$2" --rss-after "$3" -- "$BB_SIDECAR" run \
	    --config-dir "$CONF" --state-dir "$st" --workers "$4" \
	    --listen-control "127.0.0.1:$ctl" --listen-egress "127.0.0.1:$eg" \
	    2>>"$BB_T/start.err"
}
j=$(start_runs start 5 0 0) || { tail -20 "$BB_T/start.err" >&2;
    die "start-to-ready runs failed"; }
put start "$j"
note "start: $(echo "$j" | jq -c '{ready_ms_median, stop_ms_median}')"
for w in 1 4; do
	j=$(start_runs idle_w$w 1 5 $w) || { tail -20 "$BB_T/start.err" >&2;
	    die "idle RSS run ($w workers) failed"; }
	put idle_w$w "$j"
	note "idle, $w workers: $(echo "$j" | jq -c '{rss_kb_median, stop_ms_median}')"
done
put services "$(jq -n --arg s "$(grep -o '"services":\[[^]]*\]' \
    "$BB_T/start.err" | tail -1 | sed 's/"services"://')" '$s')"
put load_after "\"$(loadavg)\""
perf_cpu_others $ORIGIN_PID $SIDECAR_PID $POOL_PID ${MITM_PID:-}
put routes "$ROUTES_N"
put rounds "$ROUNDS"
put seconds "$SECS"
put warmup "$WARM"

# ---- the table --------------------------------------------------------------
jq -r -f /dev/stdin "$RES" >"$OUT/egress.md" <<'JQ'
def r0: if . == null then "—" else (. | round | tostring) end;
def f1: if . == null then "—" else ((. * 10 | round) / 10 | tostring) end;
def f2: if . == null then "—" else ((. * 100 | round) / 100 | tostring) end;
def mb: if . == null then "—" else ((. / 1024 * 10 | round) / 10 | tostring) end;
def yn(c): if c then "yes" else "**no**" end;
def pct(a; b): if a == null or b == null or b == 0 then "—"
    else ((a / b * 100) | round | tostring) + "%" end;
def times(a; b): if a == null or b == null or b == 0 then "—"
    else ((a / b * 10 | round) / 10 | tostring) + "×" end;
# "rps (x% of direct, y× mitmproxy)"
def rel(x; d; m): "\(x | r0) (\(pct(x; d)) of direct, \(times(x; m)) mitmproxy)";
def ka_ok(x; d; m): x != null and d != null and x >= 0.5 * d and
    (m == null or x >= 20 * m);
def lat(j): "\(j.p50_ms | f2) / \(j.p99_ms | f2)\(if j != null and j.rps < 0.95 * j.rate_target
    then " (saturated: \(j.rps | r0) req/s)" else "" end)";
def per1k(j): if j == null or (j.requests_total // 0) == 0 then "—"
    else ((j.up_new // 0) / j.requests_total * 1000 | round | tostring) end;
. as $r |
def cpu(c): "\($r["ka8_" + c].cpu_us_per_req | r0) / \($r["ka64_" + c].cpu_us_per_req | r0)";
($r.ka64_direct.rps) as $d64 | ($r.ka64_mitm.rps) as $m64 |
($r.ka8_direct.rps) as $d8 | ($r.ka8_mitm.rps) as $m8 |
($r.rate_direct.p99_ms) as $dp99 |
($r.idle_w4.rss_kb_median) as $w4 | ($r.idle_w1.rss_kb_median) as $w1 |
"# make perf: egress and runtime",
"",
"\($r.machine.date); \($r.machine.nproc) CPUs (\($r.machine.cpu)); \($r.machine.kernel); load average \($r.machine.load_before) before, \($r.load_after) after; other processes took \($r.cpu.others_pct)% of all CPU time during the run; CFLAGS `\($r.machine.cflags)`; \($r.machine.mitmproxy).",
"",
"Keep-alive rows: best of \($r.rounds) interleaved rounds, \($r.seconds) s each after \($r.warmup) s warm-up; other rows one run each. 1 KiB responses from bbt-origin (`/bytes/1024`). \"pool 64\" is bb-sidecar with `egress.limits.pool_idle_per_origin: 64`, everything else default; targets are judged on the default column.",
"",
"| measure | direct | bb-sidecar | bb-sidecar, pool 64 | mitmproxy | target | met |",
"|---|---|---|---|---|---|---|",
"| keep-alive req/s, 8 tunnels | \($d8 | r0) | \(rel($r.ka8_sidecar.rps; $d8; $m8)) | \(rel($r.ka8_pool.rps; $d8; $m8)) | \($m8 | r0) | | |",
"| keep-alive req/s, 64 tunnels | \($d64 | r0) | \(rel($r.ka64_sidecar.rps; $d64; $m64)) | \(rel($r.ka64_pool.rps; $d64; $m64)) | \($m64 | r0) | ≥ 50% of direct and ≥ 20× mitmproxy | \(yn(ka_ok($r.ka64_sidecar.rps; $d64; $m64))) (pool 64: \(yn(ka_ok($r.ka64_pool.rps; $d64; $m64)))) |",
"| CPU µs per request, 8 / 64 tunnels (direct: the origin's) | \(cpu("direct")) | \(cpu("sidecar")) | \(cpu("pool")) | \(cpu("mitm")) | | |",
"| origin connections opened per 1,000 requests, 64 tunnels | — | \(per1k($r.ka64_sidecar)) | \(per1k($r.ka64_pool)) | — | | |",
"| new tunnel per request, req/s (8 at once) | \($r.new_direct.rps | r0) | \($r.new_sidecar.rps | r0) (\(pct($r.new_sidecar.rps; $r.new_direct.rps)) of direct, \(times($r.new_sidecar.rps; $r.new_mitm.rps)) mitmproxy) | — | \($r.new_mitm.rps | r0) | | |",
"| p50 / p99 ms at \($r.rate) req/s (25% of direct max), 64 tunnels | \(lat($r.rate_direct)) | \(lat($r.rate_sidecar)) | \(lat($r.rate_pool)) | \(lat($r.rate_mitm)) | | |",
"| added p99 latency, ms | — | \(($r.rate_sidecar.p99_ms - $dp99) | f2) | \(($r.rate_pool.p99_ms - $dp99) | f2) | \(if $r.rate_mitm != null then (($r.rate_mitm.p99_ms - $dp99) | f2) else "—" end) | < 2 ms | \(yn($r.rate_sidecar != null and $r.rate_sidecar.p99_ms - $dp99 < 2)) (pool 64: \(yn($r.rate_pool != null and $r.rate_pool.p99_ms - $dp99 < 2))) |",
"| RSS with \($r.idle_sidecar.held) idle tunnels, MB (before → with) | — | \($r.idle_sidecar.rss_before_kb | mb) → \($r.idle_sidecar.rss_kb | mb) | — | \($r.idle_mitm.rss_before_kb | mb) → \($r.idle_mitm.rss_kb | mb) | < 50 MB | \(yn($r.idle_sidecar.rss_kb != null and $r.idle_sidecar.rss_kb < 50 * 1024 and $r.idle_sidecar.failed == 0 and $r.idle_sidecar.dropped == 0)) |",
"| start to ready, ms (exec to /readyz 200, 1 ms polls, median of 5, \($r.routes) routes) | — | \($r.start.ready_ms_median | f1) | — | — | < 100 ms | \(yn($r.start.ready_ms_median != null and $r.start.ready_ms_median >= 0 and $r.start.ready_ms_median < 100)) |",
"| idle RSS 5 s after ready, 4 workers, MB | — | \($w4 | mb) | — | — | < 15 MB | \(yn($w4 != null and $w4 > 0 and $w4 < 15 * 1024)) |",
"| each extra worker, KB ((4 workers − 1 worker) / 3) | — | \(if $w4 != null and $w1 != null then (($w4 - $w1) / 3 | r0) else "—" end) | — | — | < 512 KB | \(yn($w4 != null and $w1 != null and ($w4 - $w1) / 3 < 512)) |",
"| SIGTERM to exit when idle, ms (median of 5) | — | \($r.start.stop_ms_median | f1) | — | — | < 1 s | \(yn($r.start.stop_ms_median != null and $r.start.stop_ms_median >= 0 and $r.start.stop_ms_median < 1000)) |",
"",
"Errors (in the measured window / whole run): " + ([ $r | to_entries[] | select(.value | type == "object" and has("errors_total")) | select(.value.errors_total > 0) | "\(.key) \(.value.errors)/\(.value.errors_total) (\(.value.first_error // ""))" ] | if length == 0 then "none" else join("; ") end) + ".",
"Idle tunnels: bb-sidecar held \($r.idle_sidecar.held), failed \($r.idle_sidecar.failed), dropped \($r.idle_sidecar.dropped); mitmproxy held \($r.idle_mitm.held // "—"), failed \($r.idle_mitm.failed // "—"), dropped \($r.idle_mitm.dropped // "—"). One client address holds them all, so `egress.limits.tunnels_per_client` is raised for this run.",
"Runtime rows run `bb-sidecar run` with its default services (\($r.services)) on the same config dir; start-to-ready with the default workers, idle RSS with `--workers 1` and `--workers 4`."
JQ
[ -s "$OUT/egress.md" ] || die "could not write the table"
cp "$RES" "$OUT/egress.json"
cat "$OUT/egress.md"
echo "egress_perf: wrote $OUT/egress.md and $OUT/egress.json"

# ---- the baseline (spec/egress.md §23: > 10% worse fails) -----------------
# Ratios, not raw rates, so that a baseline travels between machines.
metrics() {
	jq '{ka64_vs_direct: (.ka64_sidecar.rps / .ka64_direct.rps),
	     ka8_vs_direct: (.ka8_sidecar.rps / .ka8_direct.rps),
	     new_vs_direct: (.new_sidecar.rps / .new_direct.rps),
	     start_ms: .start.ready_ms_median,
	     idle_rss_kb: .idle_sidecar.rss_kb,
	     idle_w4_kb: .idle_w4.rss_kb_median}' "$1"
}
if [ "${PERF_SAVE_BASELINE:-0}" = 1 ]; then
	metrics "$RES" >"$BASELINE" && echo "egress_perf: baseline saved to $BASELINE"
elif [ -s "$BASELINE" ]; then
	bad=$(jq -n -r --argjson b "$(cat "$BASELINE")" \
	    --argjson n "$(metrics "$RES")" '
	    [ ("ka64_vs_direct", "ka8_vs_direct", "new_vs_direct") as $k |
	      select($b[$k] != null and $n[$k] < 0.9 * $b[$k]) |
	      "\($k) \($n[$k]) < 90% of \($b[$k])" ] +
	    [ ("start_ms", "idle_rss_kb", "idle_w4_kb") as $k |
	      select($b[$k] != null and $n[$k] > 1.1 * $b[$k]) |
	      "\($k) \($n[$k]) > 110% of \($b[$k])" ] | join("; ")')
	if [ -n "$bad" ]; then
		echo "egress_perf: regression against $BASELINE: $bad"
		exit 1
	fi
	echo "egress_perf: within 10% of $BASELINE"
else
	echo "egress_perf: no baseline ($BASELINE); PERF_SAVE_BASELINE=1 stores one"
fi
exit 0
