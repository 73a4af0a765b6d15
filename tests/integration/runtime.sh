#!/usr/bin/env bash
# The runtime (bundle.md §2.2, §3, §7 tests 7-10): readiness, health,
# metrics, service selection, port conflicts, drain, secrets wiped from
# the environment, PID 1.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/egress_env.sh"

# Service selection: unknown or unbuilt names are refused by name.
out=$("$BB_SIDECAR" run --config-dir "$CONF" --state-dir "$STATE" --services egress,bogus 2>&1)
is $? 2 "--services with an unknown name exits 2"
like "$out" 'unknown service "bogus"' "and names it"
out=$(BOT_BOTTLE_SIDECAR_DAEMONS=nosuch "$BB_SIDECAR" run --config-dir "$CONF" --state-dir "$STATE" 2>&1)
like "$out" 'BOT_BOTTLE_SIDECAR_DAEMONS: unknown service "nosuch"' "the env variable is checked the same way"

# health with nothing running: exit 2.
"$BB_SIDECAR" health --control "127.0.0.1:$(bb_free_port)" >/dev/null 2>&1
is $? 2 "health with no sidecar exits 2"

export EGRESS_TOKEN_7=short
egress_start || { echo "Bail out! sidecar did not start"; exit 1; }
like "$(bb_log | grep '"event":"boot"')" 'known secret EGRESS_TOKEN_7 is shorter than 8 bytes' "boot warns about a too-short secret"
like "$(bb_log | grep '"event":"boot"')" 'EGRESS_TOKEN_7 is not used by any route' "and about a token no route uses"
ok $(grep -qa 'EGRESS_TOKEN_7=short' "/proc/$BB_SIDECAR_PID/environ" && echo 1 || echo 0) "the unused token is wiped from the environment too"
h=$("$BB_SIDECAR" health --control "127.0.0.1:$BB_CTL")
is $? 0 "health exits 0 when ready"
is "$(printf '%s' "$h" | jq -r .status)" ready "health prints one JSON line: ready"
is "$(printf '%s' "$h" | jq -r .services.egress)" up "egress is up"
is "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$BB_CTL/healthz")" 200 "/healthz 200"

# /metrics: Prometheus text 0.0.4, every sample under a HELP and TYPE.
metrics=$(curl -s -D "$BB_T/mh" "http://127.0.0.1:$BB_CTL/metrics")
like "$(cat "$BB_T/mh")" 'Content-Type: text/plain; version=0.0.4; charset=utf-8' "/metrics content type 0.0.4"
bad=$(printf '%s\n' "$metrics" | awk '
	/^# HELP / { help[$3] = 1; next }
	/^# TYPE / { if (!($3 in help)) print "TYPE before HELP: " $3; type[$3] = $4; next }
	/^#/ { next }
	/^$/ { next }
	{ name = $1; sub(/\{.*/, "", name); base = name
	  sub(/_(bucket|sum|count)$/, "", base)
	  if (!(name in type) && !((base in type) && type[base] == "histogram"))
		print "no TYPE: " name
	  if ($2 !~ /^-?[0-9.e+-]+$/) print "bad value: " $0 }')
is "$bad" "" "every sample has HELP, TYPE and a numeric value"
for m in bb_sidecar_build_info bb_sidecar_ready bb_sidecar_config_generation \
    bb_sidecar_config_reloads_total bb_sidecar_connections_active \
    bb_sidecar_requests_total bb_sidecar_refusals_total \
    process_resident_memory_bytes process_cpu_seconds_total process_open_fds; do
	like "$metrics" "^# TYPE $m " "metric family $m"
done
is "$(printf '%s\n' "$metrics" | awk '$1 == "bb_sidecar_ready" {print $2}')" 1 "bb_sidecar_ready 1"

# /proc/PID/environ holds no token or canary (§7 test 10).
ok $(grep -qaF "$T0" "/proc/$BB_SIDECAR_PID/environ" && echo 1 || echo 0) "/proc/PID/environ holds no EGRESS_TOKEN_0 value"
ok $(grep -qaF "$CANARY" "/proc/$BB_SIDECAR_PID/environ" && echo 1 || echo 0) "nor the canary"
# Not dumpable: another process of the same uid cannot read its memory
# or environment.  Needs a second uid to show it: run as nobody.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	cp -a "$CONF" "$BB_T/conf2" && mkdir -p "$BB_T/state2"
	chown -R nobody "$BB_T/conf2" "$BB_T/state2"
	chmod 755 "$BB_T"
	ctl2=$(bb_free_port)
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$BB_SIDECAR" run \
	    --config-dir "$BB_T/conf2" --state-dir "$BB_T/state2" --services egress \
	    --listen-egress "127.0.0.1:$(bb_free_port)" --listen-control "127.0.0.1:$ctl2" \
	    2>>"$BB_STDERR" &
	p2=$!
	bb_wait_http "http://127.0.0.1:$ctl2/readyz" 10
	out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups cat "/proc/$p2/environ" 2>&1)
	like "$out" 'Permission denied' "same uid cannot read /proc/PID/environ (PR_SET_DUMPABLE 0)"
	kill -TERM "$p2"; wait "$p2"
	is $? 0 "the nobody sidecar exits 0 on SIGTERM"
	chmod 700 "$BB_T"
else
	ok 0 "# SKIP needs root and setpriv"
	ok 0 "# SKIP needs root and setpriv"
fi

# A taken port: exit 1 naming it, nothing left listening.
out=$("$BB_SIDECAR" run --config-dir "$CONF" --state-dir "$STATE" --services egress \
    --listen-egress "127.0.0.1:$PX" --listen-control "127.0.0.1:$(bb_free_port)" 2>&1)
is $? 1 "a taken port makes run exit 1"
like "$out" "127.0.0.1:$PX: port in use" "and names it"
cport=$(bb_free_port)
"$BB_SIDECAR" run --config-dir "$CONF" --state-dir "$STATE" --services egress \
    --listen-egress "127.0.0.1:$(bb_free_port),127.0.0.1:$PX" --listen-control "127.0.0.1:$cport" >/dev/null 2>&1
ok $(python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1])))' "$cport" 2>/dev/null && echo 0 || echo 1) \
    "a failed start leaves no listener open"

# Drain: an in-flight request shorter than 8 s completes, /readyz is 503
# meanwhile, exit 0.
pcurl -o "$BB_T/slow" -w '%{http_code}' https://sup.test/slow/1500 >"$BB_T/slow.code" &
slow=$!
sleep 0.5
t0=$(date +%s%N)
kill -TERM "$BB_SIDECAR_PID"
sleep 0.2
is "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$BB_CTL/readyz")" 503 "/readyz 503 while draining"
"$BB_SIDECAR" health --control "127.0.0.1:$BB_CTL" >/dev/null 2>&1
is $? 1 "health exits 1 while draining"
wait $slow
is "$(cat "$BB_T/slow.code")" 200 "the in-flight request completed during the drain"
wait "$BB_SIDECAR_PID"
is $? 0 "SIGTERM: exit 0"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ok $([ "$ms" -lt 8000 ] && echo 0 || echo 1) "drained and exited in $ms ms (< 8 s)"
BB_SIDECAR_PID=

# Idle stop is quick.
egress_start || { echo "Bail out! sidecar did not start again"; exit 1; }
t0=$(date +%s%N)
bb_stop
is $? 0 "idle SIGTERM: exit 0"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ok $([ "$ms" -lt 1000 ] && echo 0 || echo 1) "idle stop in $ms ms (< 1 s)"

# As PID 1 of a new PID namespace, SIGTERM still ends it with 0.
if [ "$(id -u)" = 0 ] && unshare --pid --fork --mount-proc true 2>/dev/null; then
	ctl=$(bb_free_port)
	unshare --pid --fork --mount-proc "$BB_SIDECAR" run --config-dir "$CONF" \
	    --state-dir "$STATE" --services egress --listen-egress "127.0.0.1:$(bb_free_port)" \
	    --listen-control "127.0.0.1:$ctl" 2>>"$BB_STDERR" &
	up=$!
	bb_wait_http "http://127.0.0.1:$ctl/readyz" 10
	ok $? "PID 1 in a new PID namespace becomes ready"
	# unshare forwards nothing: signal the child, PID 1 inside.
	child=$(pgrep -P "$up" -f 'bb-sidecar run' | head -1)
	kill -TERM "${child:-$up}"
	wait "$up"
	is $? 0 "PID 1: SIGTERM exits 0"
else
	ok 0 "# SKIP PID namespaces need root"
	ok 0 "# SKIP PID namespaces need root"
fi
ok $(bb_no_sanitizer_reports && echo 0 || echo 1) "no sanitizer reports"
done_testing
