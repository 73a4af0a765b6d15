#!/usr/bin/env bash
# supervise §10 tests 7, 13, 16, 17, 20, 23: the queue through the real
# binary: timeout to pending and check-proposal, the rate limit, a
# malformed response, crash and restart, operator errors, SIGTERM while
# a call waits.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/supervise.inc"

plan 43

restart() {	# restart WAIT_S: stop, then start with that wait
	bb_stop
	SUPERVISE_WAIT_SECONDS=$1 sv_start ||
	    { echo "Bail out! sidecar did not start"; exit 1; }
}

SUPERVISE_WAIT_SECONDS=2 sv_start || { echo "Bail out! sidecar did not start"; exit 1; }
S=$(sv_init)

# ---- 7: timeout, then check-proposal ------------------------------------------
A7='{"host":"api.new.test","path_allowlist":["/v1/"],"justification":"fetch API schema"}'
t0=$(sv_ms)
sv_tool "$S" egress-block "$A7"
dt=$(($(sv_ms) - t0))
ok $([ $dt -ge 1700 ] && [ $dt -le 2300 ] && echo 0 || echo 1) "7: answered after 2 s ± 0.3 s ($dt ms)"
is "$(sv_header Content-Type)" application/json "7: as JSON (Accept: application/json)"
is "$(printf '%s' "$SV_RESULT" | jq -r .isError)" false "7: isError false"
is "$(printf '%s' "$SV_RESULT" | jq -r .structuredContent.status)" pending "7: status pending"
like "$(printf '%s' "$SV_RESULT" | jq -r .structuredContent.message)" 'check-proposal' \
    "7: the message names check-proposal"
ID7=$(printf '%s' "$SV_RESULT" | jq -r .structuredContent.id)
n=$(find "$STATE/supervise" -type f | wc -l)
sv_tool "$S" egress-block "$A7"
is "$(printf '%s' "$SV_RESULT" | jq -r .structuredContent.id)" "$ID7" "7: the identical call returns the same id"
is "$(find "$STATE/supervise" -type f | wc -l)" "$n" "7: ... and writes no file"
sv_tool "$S" check-proposal "{\"id\":\"$ID7\"}"
is "$(printf '%s' "$SV_RESULT" | jq -r .structuredContent.status)" pending "7: check-proposal gives pending"
sv_op reject "$ID7" --notes "use the mirror" >/dev/null
sv_tool "$S" check-proposal "{\"id\":\"$ID7\"}"
is "$(printf '%s' "$SV_RESULT" | jq -c '.structuredContent | [.status, .notes]')" \
    '["rejected","use the mirror"]' "7: after reject: rejected with the notes"

# ---- 16: a malformed response is not a decision ---------------------------------
SV_ACCEPT='Accept: application/json' sv_tool "$S" egress-block \
    '{"host":"mal.test","justification":"malformed test"}' &
p16=$!
SV_WAIT_S=2 sv_wait test -n "$(sv_pending)"
ID16=$(sv_pending | head -1)
printf '{"id":"%s","status":"approve"}\n' "$ID16" >"$STATE/supervise/responses/.t"
mv "$STATE/supervise/responses/.t" "$STATE/supervise/responses/$ID16.json"
wait "$p16"
sv_tool "$S" check-proposal "{\"id\":\"$ID16\"}"
is "$(printf '%s' "$SV_RESULT" | jq -r .structuredContent.status)" pending \
    "16: the call still ends pending"
sleep 3
is "$(grep -c "\"queue_malformed\",\"file\":\"responses/$ID16.json\"" "$BB_STDERR")" 1 \
    "16: exactly one queue_malformed line in 5 s"
printf '{"id":"%s","status":"approved","notes":"now"}\n' "$ID16" >"$STATE/supervise/responses/.t"
mv "$STATE/supervise/responses/.t" "$STATE/supervise/responses/$ID16.json"
SV_WAIT_S=3 sv_wait test -f "$STATE/supervise/archive/$ID16.response.json"
sv_tool "$S" check-proposal "{\"id\":\"$ID16\"}"
is "$(printf '%s' "$SV_RESULT" | jq -r .structuredContent.status)" approved \
    "16: a valid file written later is applied"

# ---- 20: operator errors -------------------------------------------------------
sv_op approve 20261201T120000Z-5c1e0a9b7d42 2>"$BB_T/e20"
is $? 3 "20: approve of an unknown id exits 3"
sv_op approve "$ID16" 2>"$BB_T/e20"
is $? 4 "20: a second approve exits 4"
like "$(cat "$BB_T/e20")" 'already decided: approved by ' "20: ... already decided: approved by"
BAD=20261201T120000Z-0000000000aa
printf '{"version":1,"id":"%s","kind":"egress-block"}\n' "$BAD" >"$STATE/supervise/pending/$BAD.json"
sv_op approve "$BAD" 2>"$BB_T/e20"
is $? 5 "20: approve of a malformed pending file exits 5"
like "$(cat "$BB_T/e20")" "pending/$BAD.json" "20: ... naming the file"
sv_op reject "$BAD" --notes "broken" >/dev/null
is $? 0 "20: reject of the same file exits 0"
sv_op approve 'bad/../id' 2>/dev/null
is $? 2 "20: approve bad/../id exits 2"
sv_op list >/dev/null
is $? 0 "20: list exits 0"
"$BB_SIDECAR" supervise --state-dir "$BB_T/nowhere" list 2>"$BB_T/e20"
is $? 1 "20: a state dir without a queue exits 1"
like "$(cat "$BB_T/e20")" 'no approval queue in .*is the bottle' "20: ... and says so"

# ---- 13: the rate limit ---------------------------------------------------------
restart 1
S=$(sv_init)
p13=()
for i in 1 2 3 4 5 6 7 8 9 10; do
	SV_ID=$i sv_tool "$S" egress-block "{\"host\":\"h$i.test\",\"justification\":\"host $i\"}" \
	    >/dev/null &
	p13+=($!)
done
wait "${p13[@]}"
pend=$(( $(sv_op list --json | jq '[.[] | select(.kind=="egress-block" or .kind=="capability-block")] | length') ))
ok $([ "$pend" -ge 10 ] && echo 0 || echo 1) "13: ten distinct calls go pending ($pend pending)"
sv_tool "$S" egress-block '{"host":"h11.test","justification":"one too many"}'
is "$(printf '%s' "$SV_RESULT" | jq -r .isError)" true "13: the eleventh gets isError"
like "$SV_TEXT" '10 are waiting' "13: ... saying 10 are waiting"
like "$(bb_log)" '"outcome":"limited"' "13: logged as limited"
first=$(sv_op list --json | jq -r '[.[] | select(.kind=="egress-block")][0].id')
sv_op reject "$first" --notes "no" >/dev/null
SV_WAIT_S=3 sv_wait test -f "$STATE/supervise/archive/$first.response.json"
sv_tool "$S" egress-block '{"host":"h11.test","justification":"one too many"}'
is "$(printf '%s' "$SV_RESULT" | jq -r .structuredContent.status)" pending \
    "13: after one rejection the next call is accepted"

# ---- 17: crash and restart ---------------------------------------------------------
bb_stop
rm -rf "$STATE/supervise" "$STATE/audit.jsonl"
SUPERVISE_WAIT_SECONDS=1 sv_start
S=$(sv_init)
sv_tool "$S" egress-block '{"host":"one.test","justification":"first"}'
P1=$(printf '%s' "$SV_RESULT" | jq -r .structuredContent.id)
sv_tool "$S" egress-block '{"host":"two.test","justification":"second"}'
P2=$(printf '%s' "$SV_RESULT" | jq -r .structuredContent.id)
H=20261201T120000Z-00000000cafe
now=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
exp=$(date -u -d '+5 min' +%Y-%m-%dT%H:%M:%S.000Z)
printf '{"version":1,"id":"%s","kind":"egress-token-allow","bottle":"local","source":"egress","created_at":"%s","expires_at":"%s","payload":{"host":"api.new.test","method":"POST","path":"/x","rule":"github-pat","surface":"body","context":"[REDACTED rule=github-pat len=40]","hits":[]}}\n' \
    "$H" "$now" "$exp" >"$STATE/supervise/pending/.h"
mv "$STATE/supervise/pending/.h" "$STATE/supervise/pending/$H.json"
kill -KILL "$BB_SIDECAR_PID"
wait "$BB_SIDECAR_PID" 2>/dev/null
BB_SIDECAR_PID=
OLD_MP=$MP
touch -d '2 hours ago' "$STATE/supervise/pending/.x.json.tmp.crash"
SV_PORT=$OLD_MP SUPERVISE_WAIT_SECONDS=1 sv_start
is "$(sv_op list --json | jq -c '[.[] | [.id, .state]] | sort')" \
    "$(printf '[["%s","pending"],["%s","pending"]]' "$P1" "$P2" | jq -c 'sort')" \
    "17: supervise list shows the two as pending"
is "$(jq -r .status "$STATE/supervise/archive/$H.response.json" 2>/dev/null)" expired \
    "17: the hold is archived expired"
like "$(jq -r .notes "$STATE/supervise/archive/$H.response.json" 2>/dev/null)" 'sidecar restarted' \
    "17: ... sidecar restarted"
sv_rpc "$S" '{"jsonrpc":"2.0","id":1,"method":"ping"}'
is "$SV_CODE" 404 "17: the old session id gets 404"
S=$(sv_init)
sv_tool "$S" check-proposal "{\"id\":\"$P1\"}"
is "$(printf '%s' "$SV_RESULT" | jq -r .structuredContent.status)" pending "17: check-proposal: first pending"
sv_tool "$S" check-proposal "{\"id\":\"$P2\"}"
is "$(printf '%s' "$SV_RESULT" | jq -r .structuredContent.status)" pending "17: check-proposal: second pending"
sv_tool "$S" check-proposal "{\"id\":\"$H\"}"
like "$SV_TEXT" 'no proposal' "17: the hold is not visible to check-proposal"
sv_op approve "$P1" --notes ok >/dev/null
sv_tool "$S" check-proposal "{\"id\":\"$P1\"}"
is "$(printf '%s' "$SV_RESULT" | jq -r .structuredContent.status)" approved \
    "17: after approve, check-proposal gives approved"
ok $([ ! -e "$STATE/supervise/pending/.x.json.tmp.crash" ] && echo 0 || echo 1) \
    "17: the 2 h old temp file is gone"

# ---- 23: SIGTERM while waiting ----------------------------------------------------
restart 60
S=$(sv_init)
SV_MAX_TIME=30 sv_tool "$S" egress-block '{"host":"term.test","justification":"sigterm"}' &
p23=$!
SV_WAIT_S=3 sv_wait test -n "$(sv_op list --json | jq -r '.[] | select(.summary | startswith("term.test")) | .id')"
ID23=$(sv_op list --json | jq -r '.[] | select(.summary | startswith("term.test")) | .id')
t0=$(sv_ms)
kill -TERM "$BB_SIDECAR_PID"
wait "$p23"
res=$(cat "$BB_T/resp")
st23=$(printf '%s' "$res" | jq -r .result.structuredContent.status)
is "$st23" pending "23: the waiting call receives pending"
# Seen once in CI (status null): keep what the client got for the next look.
[ "$st23" = pending ] ||
    diag "23: the answer was: $(cat "$BB_T/hdr" "$BB_T/resp" | head -c 600 | tr '\r\n' '  ')"
wait "$BB_SIDECAR_PID"
rc=$?
dt=$(($(sv_ms) - t0))
BB_SIDECAR_PID=
is "$rc" 0 "23: the daemon exits 0"
ok $([ $dt -lt 8000 ] && echo 0 || echo 1) "23: ... within 8 s ($dt ms)"
ok $([ -f "$STATE/supervise/pending/$ID23.json" ] && echo 0 || echo 1) "23: the pending file remains"

ok "$(sv_canary_free; echo $?)" "no response carried the canary secret"
bb_secret_free "$SV_CANARY"
ok $? "the canary is in no log line and no state file"
bb_no_sanitizer_reports
ok $? "no sanitizer reports"
done_testing
