#!/usr/bin/env bash
# supervise §10 tests 1, 6, 8, 22 with the official TypeScript SDK client
# (tests/mcp, installed by the setup step of scripts/dev test): the
# handshake, a held call approved while it waits, rejection, cancel and
# disconnect.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/supervise.inc"

sv_have_sdk || skip_all "the MCP SDK is not installed (npm ci in tests/mcp)"
plan 41

export SUPERVISE_WAIT_SECONDS=60
sv_start || { echo "Bail out! sidecar did not start"; exit 1; }

# ---- 1: handshake on /mcp and on / -------------------------------------
for path in /mcp /; do
	out=$(sv_sdk handshake "http://127.0.0.1:$MP$path")
	h=$(printf '%s\n' "$out" | jq -c 'select(.event=="handshake")')
	is "$(printf '%s' "$h" | jq -r .name)" bot-bottle-supervise "1 ($path): server name"
	is "$(printf '%s' "$h" | jq -r .protocolVersion)" 2025-11-25 "1 ($path): negotiated 2025-11-25"
	like "$(printf '%s' "$h" | jq -r .sessionId)" '^[0-9a-f]{32}$' "1 ($path): session id"
	is "$(printf '%s' "$h" | jq -c '[.tools[].name] | sort')" \
	    '["capability-block","check-proposal","egress-block","list-egress-routes"]' \
	    "1 ($path): exactly the four tools"
	is "$(printf '%s' "$h" | jq -c '[.tools[] | .description and .inputSchema == "object" and .outputSchema] | unique')" \
	    '[true]' "1 ($path): each with description, object inputSchema, outputSchema"
	like "$(printf '%s\n' "$out" | jq -r 'select(.event=="closed") | .event')" closed \
	    "1 ($path): terminateSession and close succeed"
done
like "$(bb_log)" '"event":"session_end".*"reason":"delete"' "1: the session ended by DELETE"

# ---- 6: a held call approved while it waits -----------------------------
audit0=$(cat "$STATE/audit.jsonl" 2>/dev/null | wc -l)
sv_sdk call "$MCP" egress-block \
    '{"host":"api.new.test","path_allowlist":["/v1/"],"justification":"fetch API schema"}' \
    --progress >"$BB_T/out6" 2>&1 &
p6=$!
BB_PIDS+=($p6)
SV_WAIT_S=3 sv_wait grep -q '"event":"progress"' "$BB_T/out6"
ok $? "6: a progress notification arrives"
prog=$(grep -m1 '"event":"progress"' "$BB_T/out6")
conn=$(grep -m1 '"event":"connected"' "$BB_T/out6" | jq -r .t)
pt=$(printf '%s' "$prog" | jq -r .t)
ok $([ $((pt - conn)) -le 1000 ] && echo 0 || echo 1) "6: ... within 1 s ($((pt - conn)) ms)"
ID=$(printf '%s' "$prog" | jq -r .message | sed -n 's/^waiting for the operator on proposal //p')
like "$ID" '^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{12}$' "6: the progress message names the id"
is "$(sv_op list --json | jq -r --arg id "$ID" '.[] | select(.id==$id) | .state')" pending \
    "6: supervise list --json shows it pending"
sv_op approve "$ID" --notes ok >"$BB_T/approve6"
is $? 0 "6: supervise approve exits 0"
t1=$(sv_ms)
SV_WAIT_S=3 sv_wait grep -q '"event":"result"' "$BB_T/out6"
t2=$(sv_ms)
ok $([ $((t2 - t1)) -le 500 ] && echo 0 || echo 1) "6: the call resolves within 500 ms ($((t2 - t1)) ms)"
res=$(grep '"event":"result"' "$BB_T/out6" | jq -c .result.structuredContent)
is "$(printf '%s' "$res" | jq -c '[.status, .notes, .id]')" "[\"approved\",\"ok\",\"$ID\"]" \
    "6: {status: approved, notes: ok, id}"
is "$(grep '"event":"result"' "$BB_T/out6" | jq -r .result.isError)" false "6: isError false"
wait "$p6"
is "$(sv_count pending):$(sv_count responses)" 0:0 "6: pending/ and responses/ are empty"
ok $([ -f "$STATE/supervise/archive/$ID.proposal.json" ] &&
    [ -f "$STATE/supervise/archive/$ID.response.json" ] && echo 0 || echo 1) \
    "6: archive/ holds both files"
is "$(($(wc -l <"$STATE/audit.jsonl") - audit0))" 1 "6: audit.jsonl has one new line"
is "$(tail -1 "$STATE/audit.jsonl" | jq -c '[.id == "'"$ID"'", .status, (.decided_by | length > 0)]')" \
    '[true,"approved",true]' "6: ... with id, status, decided_by"

# ---- 8: reject -------------------------------------------------------------
sv_sdk call "$MCP" capability-block \
    '{"description":"jq 1.7","justification":"parse JSON in the build"}' >"$BB_T/out8" 2>&1 &
p8=$!
BB_PIDS+=($p8)
SV_WAIT_S=3 sv_wait test -n "$(sv_pending)"
ID8=$(sv_pending | head -1)
before=$(ls -R "$STATE/supervise" | sha256sum)
sv_op reject "$ID8" 2>"$BB_T/err8"
is $? 2 "8: reject without --notes exits 2"
is "$(ls -R "$STATE/supervise" | sha256sum)" "$before" "8: ... and writes nothing"
sv_op reject "$ID8" --notes "use the base image" >/dev/null
is $? 0 "8: reject with notes exits 0"
SV_WAIT_S=3 sv_wait grep -q '"event":"result"' "$BB_T/out8"
r8=$(grep '"event":"result"' "$BB_T/out8")
is "$(printf '%s' "$r8" | jq -c '[.result.isError, .result.structuredContent.status, .result.structuredContent.notes]')" \
    '[false,"rejected","use the base image"]' "8: the waiting call gets rejected, isError false"
like "$(printf '%s' "$r8" | jq -r .result.structuredContent.message)" '^Rejected by the operator' \
    "8: ... with the rejection message"
wait "$p8"

# ---- 22: cancel and disconnect ------------------------------------------------
sv_sdk call "$MCP" egress-block \
    '{"host":"cancel.test","justification":"cancel me"}' --progress --abort-ms 1000 \
    >"$BB_T/out22" 2>&1
like "$(cat "$BB_T/out22")" '"event":"aborting"' "22: the SDK aborted the call"
unlike "$(cat "$BB_T/out22")" '"event":"result"' "22: the stream ended without a result"
SV_WAIT_S=3 sv_wait grep -q '"tool":"egress-block".*"outcome":"cancelled"' "$BB_STDERR"
ok $? "22: the log has outcome cancelled"
ID22=$(sv_pending | head -1)
ok $([ -n "$ID22" ] && echo 0 || echo 1) "22: the proposal stays pending"
S=$(sv_init)
curl -s -N -X POST -H 'Content-Type: application/json' -H "Mcp-Session-Id: $S" \
    --data '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"egress-block","arguments":{"host":"curl.test","justification":"kill me"}}}' \
    "$MCP" >"$BB_T/out22c" &
pc=$!
BB_PIDS+=($pc)
waiters() { curl -s "http://127.0.0.1:$BB_CTL/metrics" | awk '$1 == "bb_supervise_waiters" { print $2 }'; }
SV_WAIT_S=3 sv_wait test "$(waiters)" = 1
is "$(waiters)" 1 "22: a waiting curl is one waiter"
kill "$pc"
wait "$pc" 2>/dev/null
SV_WAIT_S=3 sv_wait test "$(waiters)" = 0
is "$(waiters)" 0 "22: killing it brings bb_supervise_waiters back to 0"
like "$(bb_log)" '"tool":"egress-block".*"outcome":"disconnected"' "22: the log has outcome disconnected"
is "$(sv_count pending)" 2 "22: both proposals stay pending"

ok "$(sv_canary_free; echo $?)" "no response carried the canary secret"
bb_no_sanitizer_reports
ok $? "no sanitizer reports"
bb_stop
is $? 0 "SIGTERM: exit 0"
done_testing
