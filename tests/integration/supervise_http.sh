#!/usr/bin/env bash
# supervise §10 tests 3, 4, 5, 9, 10, 11, 12 with raw HTTP (curl, python):
# versions, headers, sessions, malformed JSON-RPC, bad tool arguments,
# body limits, Origin and media types.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/supervise.inc"

plan 73

sv_start || { echo "Bail out! sidecar did not start"; exit 1; }

# ---- 3: version negotiation ------------------------------------------
for rev in 2024-11-05 2025-03-26 2025-06-18 2025-11-25; do
	sv_init "$rev" >/dev/null
	is "$(printf '%s' "$SV_BODY" | jq -r .result.protocolVersion)" "$rev" \
	    "3: initialize echoes $rev"
done
for rev in 2099-01-01 1.0; do
	sv_init "$rev" >/dev/null
	is "$(printf '%s' "$SV_BODY" | jq -r .result.protocolVersion)" \
	    2025-11-25 "3: $rev is answered with 2025-11-25"
done
sv_post '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"clientInfo":{"name":"x","version":"1"}}}'
is "$(printf '%s' "$SV_BODY" | jq -r .error.code)" -32602 \
    "3: missing protocolVersion gets -32602"
is "$(sv_header Mcp-Session-Id)" "" "3: ... and no Mcp-Session-Id"
S24=$(sv_init 2024-11-05)
sv_rpc "$S24" '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
is "$(printf '%s' "$SV_BODY" | jq '[.result.tools[] | select(has("title") or has("outputSchema") or has("annotations"))] | length')" \
    0 "3: tools/list on 2024-11-05 has no title, outputSchema, annotations"
is "$(printf '%s' "$SV_BODY" | jq '.result.tools | length')" 4 \
    "3: ... and four tools"
S25=$(sv_init 2025-03-26)
sv_rpc "$S25" '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
is "$(printf '%s' "$SV_BODY" | jq -c '[.result.tools[] | [has("annotations"), has("title")]] | unique')" \
    '[[true,false]]' "3: 2025-03-26 has annotations, no title"
S=$(sv_init 2025-11-25)
like "$S" '^[0-9a-f]{32}$' "3: session id is 32 lowercase hex"
sv_rpc "$S" '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
is "$(printf '%s' "$SV_BODY" | jq -r '.result.tools[] | select(.name=="egress-block") | .annotations | [.readOnlyHint, .destructiveHint, .openWorldHint] | map(tostring) | join(",")')" \
    false,false,false "3: egress-block annotations"
like "$(printf '%s' "$SV_BODY" | jq -r '.result.tools[] | select(.name=="egress-block") | .description')" \
    'Waits up to 30 seconds, then returns status pending' \
    "3: the description names wait_s"

# ---- 4: MCP-Protocol-Version --------------------------------------------
for v in 2000-01-01 2099-01-01 invalid; do
	sv_rpc "$S" '{"jsonrpc":"2.0","id":3,"method":"tools/list"}' \
	    -H "MCP-Protocol-Version: $v"
	is "$SV_CODE" 400 "4: MCP-Protocol-Version $v gets 400"
	sv_post '{"jsonrpc":"2.0","id":3,"method":"tools/list"}' \
	    -H "MCP-Protocol-Version: $v"
	is "$SV_CODE" 400 "4: ... also without a session"
done
sv_rpc "$S" '{"jsonrpc":"2.0","id":3,"method":"tools/list"}'
is "$SV_CODE" 200 "4: no header gets 200"
sv_rpc "$S" '{"jsonrpc":"2.0","id":3,"method":"tools/list"}' \
    -H 'MCP-Protocol-Version: 2025-03-26'
is "$SV_CODE" 200 "4: a supported other revision gets 200"

# ---- 5: sessions ------------------------------------------------------------
sv_post '{"jsonrpc":"2.0","id":4,"method":"ping"}'
is "$SV_CODE:$(printf '%s' "$SV_BODY" | jq -r .error.code)" 400:-32000 \
    "5: no Mcp-Session-Id gets 400 -32000"
sv_rpc 0123456789abcdef0123456789abcdef '{"jsonrpc":"2.0","id":4,"method":"ping"}'
is "$SV_CODE:$(printf '%s' "$SV_BODY" | jq -r .error.code)" 404:-32001 \
    "5: a random id gets 404 -32001"
SD=$(sv_init)
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "Mcp-Session-Id: $SD" "$MCP")
is "$code" 204 "5: DELETE with a valid id gets 204"
sv_rpc "$SD" '{"jsonrpc":"2.0","id":4,"method":"ping"}'
is "$SV_CODE" 404 "5: the deleted id then gets 404"
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$MCP")
is "$code" 400 "5: DELETE without the header gets 400"
code=$(curl -s -D "$BB_T/h5" -o /dev/null -w '%{http_code}' -H 'Accept: text/event-stream' "$MCP")
is "$code" 405 "5: GET with Accept: text/event-stream gets 405"
like "$(tr -d '\r' <"$BB_T/h5")" '^Allow: POST, DELETE$' "5: ... with Allow: POST, DELETE"

# ---- 9: malformed JSON-RPC ------------------------------------------------
sv_rpc "$S" '{'
is "$SV_CODE:$(printf '%s' "$SV_BODY" | jq -r .error.code)" 400:-32700 "9: { gets 400 -32700"
sv_rpc "$S" '{"jsonrpc":"1.0","id":1,"method":"ping"}'
is "$SV_CODE:$(printf '%s' "$SV_BODY" | jq -r .error.code)" 400:-32600 "9: jsonrpc 1.0 gets 400 -32600"
sv_rpc "$S" '[]'
is "$SV_CODE:$(printf '%s' "$SV_BODY" | jq -r .error.code)" 400:-32600 "9: [] gets 400 -32600"
sv_rpc "$S" '7'
is "$SV_CODE:$(printf '%s' "$SV_BODY" | jq -r .error.code)" 400:-32600 "9: 7 gets 400 -32600"
B2='[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"ping"}]'
sv_rpc "$S" "$B2"
is "$SV_CODE:$(printf '%s' "$SV_BODY" | jq -r '.error.code')" 400:-32600 \
    "9: a batch on 2025-11-25 gets one error, -32600"
like "$(printf '%s' "$SV_BODY" | jq -r .error.message)" 'batches are not allowed in 2025-11-25' \
    "9: ... naming the revision"
sv_rpc "$S25" "$B2"
is "$SV_CODE:$(printf '%s' "$SV_BODY" | jq -c .)" \
    '200:[{"jsonrpc":"2.0","id":1,"result":{}},{"jsonrpc":"2.0","id":2,"result":{}}]' \
    "9: the batch on 2025-03-26 gets two {}"
sv_rpc "$S" '{"jsonrpc":"2.0","id":5,"method":"resources/list"}'
is "$SV_CODE:$(printf '%s' "$SV_BODY" | jq -r .error.code)" 200:-32601 "9: resources/list gets 200 -32601"
sv_rpc "$S" '{"jsonrpc":"2.0","id":6,"method":"ping"}'
is "$SV_CODE:$(printf '%s' "$SV_BODY" | jq -c .result)" '200:{}' "9: ping gets {}"
sv_rpc "$S" '{"jsonrpc":"2.0","id":6,"method":"ping","params":[1]}'
is "$(printf '%s' "$SV_BODY" | jq -r .error.code)" -32602 "9: params [1] gets -32602"
sv_rpc "$S" '{"jsonrpc":"2.0","id":null,"method":"ping"}'
is "$(printf '%s' "$SV_BODY" | jq -r .error.code)" -32600 "9: id null gets -32600"
sv_rpc "$S" '{"jsonrpc":"2.0","method":"notifications/initialized"}'
is "$SV_CODE:$SV_BODY" 202: "9: notifications/initialized gets 202, empty"

# ---- 10: unknown tool and bad arguments ----------------------------------
sv_rpc "$S" '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"allow","arguments":{}}}'
is "$(printf '%s' "$SV_BODY" | jq -c '[.error.code, .error.message]')" \
    '[-32602,"unknown tool: allow"]' "10: unknown tool allow gets -32602"
sv_tool "$S" egress-block '{"host":"api.new.test"}'
is "$(printf '%s' "$SV_RESULT" | jq -r .isError)" true "10: missing justification: isError"
like "$SV_TEXT" '^egress-block: justification is required' "10: ... names justification"
sv_tool "$S" egress-block '{"host":"api.new.test","justification":"j","matches":[{"paths":[{"type":"glob","value":"/x"}]}]}'
like "$SV_TEXT" '^egress-block: matches\[0\]\.paths\[0\]\.type' "10: type glob names matches[0].paths[0].type"
sv_tool "$S" egress-block '{"host":"api.new.test","justification":"j","matches":[],"path_allowlist":["/a/"]}'
like "$SV_TEXT" 'matches or path_allowlist, not both' "10: matches with path_allowlist refused"
sv_tool "$S" egress-block '{"host":"api.new.test","justification":"j","foo":1}'
like "$SV_TEXT" 'unknown argument "foo"' "10: unknown argument foo refused"
sv_tool "$S" egress-block '{"host":"https://api.new.test/x","justification":"j"}'
is "$(printf '%s' "$SV_RESULT" | jq -r .isError)" true "10: a URL as host is refused"
sv_tool "$S" check-proposal '{"id":"../../etc/passwd"}'
is "$(printf '%s' "$SV_RESULT" | jq -r .isError)" true "10: check-proposal ../../etc/passwd: isError"
like "$SV_TEXT" '^check-proposal: no proposal ' "10: ... no proposal"
is "$(sv_count pending)" 0 "10: nothing was written"

# ---- 11: body limits --------------------------------------------------------
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$BB_T/big"
out=$(curl -sv -X POST -H 'Content-Type: application/json' -H "Mcp-Session-Id: $S" \
    --data-binary @"$BB_T/big" "$MCP" 2>&1)
like "$out" '< HTTP/1.1 413' "11: 2 MiB with Content-Length gets 413"
unlike "$out" 'HTTP/1.1 100' "11: ... and no 100 Continue"
like "$out" 'body exceeds 1048576 bytes' "11: ... naming the cap"
out=$(python3 - "$MP" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Transfer-Encoding: chunked\r\n\r\n")
data, closed = b"", False
try:
    chunk = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
    for i in range(32):
        s.sendall(chunk)
except OSError:
    pass
try:
    while True:
        d = s.recv(65536)
        if not d:
            closed = True
            break
        data += d
except OSError:
    closed = True
print(data.split(b"\r\n")[0].decode(), "closed" if closed else "open")
PY
)
like "$out" '^HTTP/1.1 413 .* closed$' "11: 2 MiB chunked gets 413 and the connection closes"
sv_rpc "$S" '{"jsonrpc":"2.0","id":9,"method":"ping"}'
is "$SV_CODE" 200 "11: the next connection is served"

# ---- 12: Origin and media types ---------------------------------------------
evil='Origin: http://evil.example'
code=$(curl -s -o "$BB_T/b12" -w '%{http_code}' -X POST -H "$evil" -H 'Content-Type: application/json' \
    -H "Mcp-Session-Id: $S" --data '{"jsonrpc":"2.0","id":1,"method":"ping"}' "$MCP")
is "$code:$(jq -r .error.message <"$BB_T/b12")" '403:origin not allowed' "12: evil Origin on POST gets 403"
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "$evil" -H "Mcp-Session-Id: $S" "$MCP")
is "$code" 403 "12: ... on DELETE too"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "$evil" "$MCP")
is "$code" 403 "12: ... ahead of the method check (GET)"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "$evil" -H 'Content-Type: text/plain' --data x "$MCP")
is "$code" 403 "12: ... ahead of the media-type and session checks"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "$evil" -H 'Content-Type: application/json' \
    --data-binary @"$BB_T/big" "$MCP")
is "$code" 403 "12: ... ahead of the body check"
sv_rpc "$S" '{"jsonrpc":"2.0","id":1,"method":"ping"}' -H "Origin: http://127.0.0.1:$MP"
is "$SV_CODE" 200 "12: Origin http://127.0.0.1:PORT gets 200"
sv_rpc "$S" '{"jsonrpc":"2.0","id":1,"method":"ping"}' -H "Origin: null"
is "$SV_CODE" 403 "12: Origin null never matches"
cat >"$CONF/sidecar.yaml" <<'YAML'
supervise:
  allowed_origins: ["http://localhost", "http://127.0.0.1", "http://[::1]", "https://ide.example:8443"]
YAML
kill -HUP "$BB_SIDECAR_PID"
sv_wait grep -q '"event":"reload","result":"ok"' "$BB_STDERR"
sv_rpc "$S" '{"jsonrpc":"2.0","id":1,"method":"ping"}' -H "Origin: https://IDE.example:8443"
is "$SV_CODE" 200 "12: an origin added to allowed_origins gets 200"
sv_rpc "$S" '{"jsonrpc":"2.0","id":1,"method":"ping"}' -H "Origin: https://ide.example:9443"
is "$SV_CODE" 403 "12: ... but not on another port"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: text/plain' -H "Mcp-Session-Id: $S" \
    --data '{"jsonrpc":"2.0","id":1,"method":"ping"}' "$MCP")
is "$code" 415 "12: Content-Type text/plain gets 415"
sv_post '{"jsonrpc":"2.0","id":1,"method":"ping"}' -H "Mcp-Session-Id: $S" -H 'Accept: text/html'
is "$SV_CODE" 406 "12: Accept text/html gets 406"
sv_post '{"jsonrpc":"2.0","id":1,"method":"ping"}' -H "Mcp-Session-Id: $S" -H 'Accept: text/event-stream'
like "$(sv_header Content-Type)" '^text/event-stream' "12: Accept text/event-stream only gets SSE"
like "$SV_BODY" 'event: message' "12: ... with event: message"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data '{}' "http://127.0.0.1:$MP/other")
is "$code" 404 "1: another path gets 404"

ok "$(sv_canary_free; echo $?)" "no response carried the canary secret"
bb_no_sanitizer_reports
ok $? "no sanitizer reports"
bb_stop
is $? 0 "SIGTERM: exit 0"
done_testing
