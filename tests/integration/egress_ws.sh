#!/usr/bin/env bash
# egress §22 tests 49-50: WebSocket messages through the scanners: a
# secret in fragments closes 1008 on a block route and is held on a
# supervise route; server text with an injection closes 1008; a reload
# that removes the host closes 1008.
. "$(dirname "$0")/lib.sh"
export EGRESS_TOKEN_ALLOW_TIMEOUT_SECONDS=10
EGRESS_LOG_LEVEL=1
. "$(dirname "$0")/egress_env.sh"
export BB_MCP_DIR=$BB_SRCDIR/tests/mcp
[ -d "$BB_MCP_DIR/node_modules/ws" ] || skip_all "npm ci in tests/mcp first (ws)"
egress_start || { echo "Bail out! sidecar did not start"; exit 1; }
probe() { timeout 30 node "$BB_SRCDIR/tests/clients/ws_probe.mjs" "$PX" "$@" 2>&1; }

out=$(probe origin.test /ws/echo "$CONF/ca-cert.pem" --header 'X-Test: yes' --frag "key=$T0")
is "$(printf '%s' "$out" | jq -r .close.code)" 1008 "49: T0 in three fragments on R1: close 1008"
like "$(printf '%s' "$out" | jq -r .close.reason)" 'known-secret:EGRESS_TOKEN_0' "49: the reason names the rule"
ok $(grep '"event":"ws"' "$ORIGIN_LOG" | grep -qF "${T0:0:10}" && echo 1 || echo 0) "49: no part of it reached the origin"

# On R2 (supervise) the message is held and delivered on approval.
probe sup.test /ws/echo "$CONF/ca-cert.pem" --frag "key=$T0" --wait 4000 >"$BB_T/held" &
p=$!
id=
for _i in $(seq 1 60); do
	id=$(ls "$STATE/supervise/pending" 2>/dev/null | sed -n 's/\.json$//p' | head -1)
	[ -n "$id" ] && break
	sleep 0.05
done
ok $([ -n "$id" ] && echo 0 || echo 1) "49: a held message opens a proposal"
[ -n "$id" ] && printf '{"id":"%s","status":"approved","notes":"ok"}' "$id" >"$STATE/supervise/responses/$id.json"
wait $p
is "$(jq -r '.received[0]' "$BB_T/held")" "key=$T0" "49: approved: delivered and echoed"

out=$(probe sup.test /ws/send/combo "$CONF/ca-cert.pem")
is "$(printf '%s' "$out" | jq -r .close.code)" 1008 "50: the server sends the combo: close 1008"
out=$(probe sup.test /ws/send/single "$CONF/ca-cert.pem" --wait 500)
is "$(printf '%s' "$out" | jq -r '.received | length')" 1 "50: a single phrase is delivered"
like "$(bb_log | grep '"surface":"ws"' | tail -1)" '"event":"warn"' "50: with a warn"

# A reload that removes the host closes its WebSockets with 1008.
probe sup.test /ws/echo "$CONF/ca-cert.pem" --wait 6000 >"$BB_T/reload" &
p=$!
sleep 1
sed -i '/host: sup.test/d' "$CONF/routes.yaml"
kill -HUP "$BB_SIDECAR_PID"
wait $p
is "$(jq -r .close.code "$BB_T/reload")" 1008 "50: a reload removing the host: close 1008"
ok $(bb_secret_free "$T0" "$CANARY" && echo 0 || echo 1) "no trace of T0 or the canary"
ok $(bb_no_sanitizer_reports && echo 0 || echo 1) "no sanitizer reports"
bb_stop
is $? 0 "SIGTERM: exit 0"
done_testing
