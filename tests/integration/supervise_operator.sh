#!/usr/bin/env bash
# supervise §10 tests 2, 16 (holds), 18, 19, 21 with egress running:
# list-egress-routes, the merge of approvals into routes.yaml and egress
# allowing the new route, modify, DLP holds through the queue, and the
# operator's watch under a pty.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/supervise.inc"

BBT_ORIGIN=${BBT_ORIGIN:-$BB_BUILDDIR/tests/bbt-origin}
[ -x "$BBT_ORIGIN" ] || skip_all "bbt-origin not built"
plan 54

bb_ca_init
"$BBT_ORIGIN" --make-ca "$BB_T/origin" >/dev/null || skip_all "origin CA"
cp "$BB_T/origin/ca.pem" "$CONF/origin-ca.pem"
ORIGIN_LOG=$BB_T/origin.log
names=(example.test api.new.test third.test hold.test)
for i in 1 2 3 4 5 6 7 8 9 10; do names+=("h$i.test"); done
oargs=()
for n in "${names[@]}"; do oargs+=(--name "$n"); done
bb_bg "$BBT_ORIGIN" --tls 127.0.0.1:0 --cert-dir "$BB_T/origin" "${oargs[@]}" \
    --log "$ORIGIN_LOG" --ready-file "$BB_T/origin.ready"
SV_WAIT_S=5 sv_wait test -s "$BB_T/origin.ready" || skip_all "bbt-origin did not start"
PT=$(jq -r '.tls[0]' "$BB_T/origin.ready")
{
	echo "egress:"
	echo "  upstream_ca_file: origin-ca.pem"
	echo "  resolve:"
	for n in "${names[@]}"; do echo "    $n:443: [\"127.0.0.1:$PT\"]"; done
} >"$CONF/sidecar.yaml"
cat >"$CONF/routes.yaml" <<'YAML'
log: 1
routes:
  - host: example.test
    matches: [{paths: [{type: prefix, value: /a/}]}]
    auth_scheme: token
    token_env: EGRESS_TOKEN_0
  - {host: hold.test, dlp: {outbound_on_match: supervise}}
YAML
chmod 640 "$CONF/routes.yaml"
PX=$(bb_free_port)
export SUPERVISE_WAIT_SECONDS=60 EGRESS_TOKEN_ALLOW_TIMEOUT_SECONDS=4
SV_SERVICES=egress,supervise sv_start --listen-egress "127.0.0.1:$PX" ||
    { echo "Bail out! sidecar did not start"; exit 1; }
pcurl() { curl -s --max-time 20 --proxy "http://127.0.0.1:$PX" \
    --cacert "$CONF/ca-cert.pem" "$@"; }
S=$(sv_init)

# ---- 2: list-egress-routes ------------------------------------------------------
if sv_have_sdk; then
	r2=$(sv_sdk call "$MCP" list-egress-routes '{}' | jq -c 'select(.event=="result") | .result')
else
	sv_tool "$S" list-egress-routes '{}'
	r2=$SV_RESULT
fi
is "$(printf '%s' "$r2" | jq -c '.structuredContent.routes[0]')" \
    '{"host":"example.test","matches":[{"paths":[{"type":"prefix","value":"/a/"}]}],"auth_scheme":"token","token_env":"EGRESS_TOKEN_0"}' \
    "2: routes[0] is the route as routes.yaml gives it"
unlike "$r2" "$SV_CANARY" "2: no token value"

# ---- 18: merge, then egress allows ---------------------------------------------------
is "$(pcurl -o /dev/null -w '%{http_code}' https://example.test/b/x)" 403 "18.1: /b/x gets 403"
is "$(pcurl -o /dev/null -w '%{http_connect}' https://api.new.test/)" 403 \
    "18.1: api.new.test gets 403 (on the CONNECT)"
(SV_ID=18 sv_tool "$S" egress-block '{"host":"EXAMPLE.test","matches":[{"paths":[{"type":"prefix","value":"/b/"}]}],"auth":{"scheme":"Bearer","token_ref":"FOO"},"justification":"fetch /b/"}'
    printf '%s' "$SV_RESULT" >"$BB_T/r18") &
p18=$!
SV_WAIT_S=3 sv_wait test -n "$(sv_pending)"
ID=$(sv_pending | head -1)
owner0=$(stat -c '%a %u %g' "$CONF/routes.yaml")
out=$(sv_op --config-dir "$CONF" approve "$ID" 2>"$BB_T/e18")
is $? 0 "18.3: approve --config-dir exits 0"
like "$out" "^approved $ID egress-block example.test \(routes.yaml: widened\)$" "18.3: reports widened"
like "$(cat "$BB_T/e18")" 'comments are not kept' "18.3: says comments are not kept"
is "$(stat -c '%a %u %g' "$CONF/routes.yaml")" "$owner0" "18.3: routes.yaml keeps mode and owner"
rt=$(grep -A12 'host: example.test' "$CONF/routes.yaml")
like "$rt" 'value: /a/' "18.3: the route keeps /a/"
like "$rt" 'value: /b/' "18.3: ... and has /b/"
like "$rt" 'auth_scheme: token' "18.3: keeps auth_scheme: token"
like "$rt" 'token_env: EGRESS_TOKEN_0' "18.3: keeps token_env: EGRESS_TOKEN_0"
unlike "$(cat "$CONF/routes.yaml")" 'FOO' "18.3: no FOO"
"$BB_SIDECAR" check-config --config-dir "$CONF" --services egress,supervise >/dev/null
is $? 0 "18.3: check-config passes"
t0=$(sv_ms)
wait "$p18"
is "$(jq -r .structuredContent.applied "$BB_T/r18")" true "18.4: the agent's result has applied: true"
code=000
while [ "$(($(sv_ms) - t0))" -lt 1500 ]; do
	code=$(pcurl -o /dev/null -w '%{http_code}' https://example.test/b/x)
	[ "$code" = 200 ] && break
	sleep 0.05
done
is "$code" 200 "18.4: within 1.5 s /b/x is forwarded ($(($(sv_ms) - t0)) ms)"
like "$(grep '"target":"/b/x"' "$ORIGIN_LOG" | tail -1)" "\"token $SV_CANARY\"" \
    "18.4: ... with the injected token"
(SV_ID=185 sv_tool "$S" egress-block '{"host":"api.new.test","justification":"all of it"}'
    printf '%s' "$SV_RESULT" >"$BB_T/r185") &
p185=$!
SV_WAIT_S=3 sv_wait test -n "$(sv_pending)"
ID=$(sv_pending | head -1)
like "$(sv_op --config-dir "$CONF" approve "$ID" 2>/dev/null)" '\(routes.yaml: appended\)$' \
    "18.5: a new host is appended"
wait "$p185"
is "$(jq -r .structuredContent.applied "$BB_T/r185")" true "18.5: applied: true"
is "$(pcurl -o /dev/null -w '%{http_code}' https://api.new.test/)" 200 "18.5: ... then allowed"
(SV_ID=186 sv_tool "$S" egress-block '{"host":"third.test","justification":"third"}'
    printf '%s' "$SV_RESULT" >"$BB_T/r186") &
p186=$!
SV_WAIT_S=3 sv_wait test -n "$(sv_pending)"
ID=$(sv_pending | head -1)
sha0=$(sha256sum <"$CONF/routes.yaml")
sv_op approve "$ID" >/dev/null
wait "$p186"
is "$(sha256sum <"$CONF/routes.yaml")" "$sha0" "18.6: approve without --config-dir leaves routes.yaml byte-identical"
is "$(jq -r 'has("applied")' "$STATE/supervise/archive/$ID.response.json")" false \
    "18.6: the response has no applied"
is "$(jq -r .structuredContent.applied "$BB_T/r186")" false "18.6: the agent's result has applied: false"
like "$(jq -r .structuredContent.message "$BB_T/r186")" 'the operator will put the change in place' \
    "18.6: ... and says the operator will put it in place"

# The route got there another way while the proposal waited (the operator
# edited routes.yaml): approve reports "unchanged" and still exits 0.
(SV_ID=187 sv_tool "$S" egress-block '{"host":"fourth.test","justification":"fourth"}'
    printf '%s' "$SV_RESULT" >"$BB_T/r187") &
p187=$!
SV_WAIT_S=3 sv_wait test -n "$(sv_pending)"
ID=$(sv_pending | head -1)
printf '  - host: fourth.test\n' >>"$CONF/routes.yaml"
out=$(sv_op --config-dir "$CONF" approve "$ID" 2>/dev/null)
is $? 0 "18.7: approve of a route already in routes.yaml exits 0"
like "$out" '\(routes.yaml: unchanged\)$' "18.7: ... and reports unchanged"
wait "$p187"

# ---- 19: modify --------------------------------------------------------------------------
(SV_ID=19 sv_tool "$S" egress-block '{"host":"example.test","matches":[{"paths":[{"type":"exact","value":"/c"}]}],"justification":"c"}'
    printf '%s' "$SV_RESULT" >"$BB_T/r19") &
p19=$!
SV_WAIT_S=3 sv_wait test -n "$(sv_pending)"
ID=$(sv_pending | head -1)
cat >"$BB_T/r.yaml" <<'YAML'
host: example.test
matches:
  - paths: [{type: prefix, value: /c/}]
auth_scheme: token
token_env: EGRESS_TOKEN_0
YAML
like "$(sv_op modify "$ID" --payload "$BB_T/r.yaml" --config-dir "$CONF" 2>/dev/null)" \
    '\(routes.yaml: replaced\)$' "19: modify --payload --config-dir replaces the route"
wait "$p19"
is "$(jq -r .structuredContent.status "$BB_T/r19")" modified "19: the agent gets modified"
is "$(jq -c .structuredContent.payload "$BB_T/r19")" \
    '{"host":"example.test","matches":[{"paths":[{"type":"prefix","value":"/c/"}]}],"auth_scheme":"token","token_env":"EGRESS_TOKEN_0"}' \
    "19: payload equals the route"
unlike "$(grep -A8 'host: example.test' "$CONF/routes.yaml")" 'value: /a/' "19: the route in routes.yaml is replaced"
sv_op modify "$ID" --payload "$BB_T/r.yaml" 2>/dev/null
is $? 4 "19: a second decision exits 4"

# ---- 16 and 19: DLP holds -----------------------------------------------------------
GHP="ghp_$(head -c 300 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 36)"
held() {	# held NAME: POSTs the token in a body; the code goes to $BB_T/NAME
	pcurl -o /dev/null -w '%{http_code}' https://hold.test/post -d "token=$GHP" \
	    >"$BB_T/$1"
}
hold_id() { sv_op list --json | jq -r '.[] | select(.kind=="egress-token-allow") | .id' | head -1; }
held h16 &
ph=$!
SV_WAIT_S=3 sv_wait test -n "$(hold_id)"
H=$(hold_id)
ok $([ -n "$H" ] && echo 0 || echo 1) "16: the secret in a body is held as egress-token-allow"
unlike "$(cat "$STATE/supervise/pending/$H.json")" "$GHP" "16: the proposal holds no raw value"
for r in '"status":"approve"' '"status":"modified","payload":{}' '"status":"approved"'; do
	printf '{"id":"%s",%s}\n' "$H" "$r" >"$STATE/supervise/responses/.t"
	mv "$STATE/supervise/responses/.t" "$STATE/supervise/responses/$H.json"
	sleep 0.4
done
wait "$ph"
is "$(cat "$BB_T/h16")" 403 "16: malformed, modified and note-less approvals leave it held: 403 at the deadline"
like "$(bb_log)" 'dlp_hold_timeout' "16: ... dlp_hold_timeout"
rm -f "$STATE/supervise/responses/$H.json"
held h19 &
ph=$!
SV_WAIT_S=3 sv_wait test -n "$(hold_id)"
H=$(hold_id)
sv_op modify "$H" --payload "$BB_T/r.yaml" 2>/dev/null
is $? 2 "19: modify of a hold exits 2"
sv_op approve "$H" 2>/dev/null
is $? 2 "19: approve of a hold without --notes exits 2"
sv_op approve "$H" --notes "test fixture" >/dev/null
is $? 0 "19: approve with notes exits 0"
wait "$ph"
is "$(cat "$BB_T/h19")" 200 "19: the held request is forwarded"
n=$(sv_count archive)
held h19b
is "$(cat "$BB_T/h19b"):$(sv_count archive):$(sv_count pending)" "200:$n:0" \
    "19: a later request with the same value passes without a proposal"

# ---- 21: watch -------------------------------------------------------------------------------
pend21() { sv_op list --json | jq -r '.[] | select(.kind=="capability-block") | .id'; }
(SV_ID=21 sv_tool "$S" capability-block '{"description":"jq","justification":"first"}' >/dev/null) &
pw1=$!
SV_WAIT_S=3 sv_wait test -n "$(pend21)"
python3 - "$BB_SIDECAR" "$STATE" "$MP" "$S" >"$BB_T/w21" 2>&1 <<'PY'
import os, pty, select, subprocess, sys, time, json, urllib.request
bb, state, port, sid = sys.argv[1:5]
pid, fd = pty.fork()
if pid == 0:
    os.execv(bb, [bb, "supervise", "--state-dir", state, "watch"])
buf = b""
def expect(pat, limit):
    global buf
    end = time.time() + limit
    while time.time() < end:
        if pat.encode() in buf:
            return True
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                buf += os.read(fd, 65536)
            except OSError:
                break
    return pat.encode() in buf
def send(s):
    os.write(fd, s.encode())
def call(args, rid):
    body = json.dumps({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
        "params": {"name": "capability-block", "arguments": args}}).encode()
    req = urllib.request.Request("http://127.0.0.1:%s/mcp" % port, body,
        {"Content-Type": "application/json", "Accept": "application/json",
         "Mcp-Session-Id": sid})
    subprocess.Popen(["python3", "-c",
        "import urllib.request,sys; urllib.request.urlopen(urllib.request.Request(%r, %r, %r), timeout=70)"
        % (req.full_url, body, dict(req.header_items()))])
print("prompt1", expect("[a]pprove [r]eject [s]kip [q]uit", 2))
send("a\n")
print("notes", expect("notes:", 2))
send("\n")
print("approved", expect("approved ", 2))
buf = b""
t0 = time.time()
call({"description": "evil \x1b[2J text \u202e here", "justification": "j \x1b[2J"}, 98)
got = expect("[a]pprove", 3)
print("second", got, round(time.time() - t0, 2))
print("escaped", b"\\u{001b}[2J" in buf and b"\\u{202e}" in buf)
print("raw", b"\x1b[2J" in buf or "\u202e".encode() in buf)
send("s\n")
buf = b""
call({"description": "third", "justification": "j"}, 99)
print("third", expect("[a]pprove", 3))
send("q\n")
_, status = os.waitpid(pid, 0)
print("exit", os.WEXITSTATUS(status))
PY
w=$(cat "$BB_T/w21")
like "$w" 'prompt1 True' "21: watch shows the pending proposal with the prompt"
like "$w" 'notes True' "21: a asks notes:"
like "$w" 'approved True' "21: an empty line approves"
like "$w" 'second True' "21: a new proposal shows ($(printf '%s' "$w" | sed -n 's/^second True //p') s)"
ok $(awk '/^second True/ { exit !($3 <= 1.0) }' "$BB_T/w21"; echo $?) "21: ... within 1 s"
like "$w" 'escaped True' "21: ESC and U+202E are shown as escapes"
like "$w" 'raw False' "21: ... never raw"
like "$w" 'exit 0' "21: q exits 0"
wait "$pw1"
timeout 2 "$BB_SIDECAR" supervise --state-dir "$STATE" watch </dev/null | cat >"$BB_T/w21p"
like "$(cat "$BB_T/w21p")" 'kind: +capability-block' "21: with stdout piped, watch prints"
unlike "$(cat "$BB_T/w21p")" '\[a\]pprove' "21: ... and never prompts"

ok "$(sv_canary_free; echo $?)" "no MCP response carried the canary secret"
unlike "$(cat "$STATE"/supervise/*/* "$STATE/audit.jsonl" 2>/dev/null)" "$SV_CANARY" \
    "no queue file or audit line holds the canary"
bb_no_sanitizer_reports
ok $? "no sanitizer reports"
bb_stop
is $? 0 "SIGTERM: exit 0"
done_testing
