#!/usr/bin/env bash
# egress §22 tests 47-48: Python urllib, Node undici and the `ws` package
# work through the proxy with only the standard proxy/CA settings.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/egress_env.sh"
export BB_MCP_DIR=$BB_SRCDIR/tests/mcp
CLIENTS=$BB_SRCDIR/tests/clients
egress_start || { echo "Bail out! sidecar did not start"; exit 1; }

out=$(HTTPS_PROXY="http://127.0.0.1:$PX" SSL_CERT_FILE="$CONF/ca-cert.pem" python3 -c '
import json, urllib.request
r = urllib.request.urlopen("https://sup.test/echo", timeout=10)
print(r.status, json.loads(r.read())["target"])' 2>&1)
is "$out" "200 /echo" "47: Python urllib.request through HTTPS_PROXY"

if [ -d "$BB_MCP_DIR/node_modules/undici" ]; then
	out=$(HTTPS_PROXY="http://127.0.0.1:$PX" NODE_EXTRA_CA_CERTS="$CONF/ca-cert.pem" \
	    timeout 20 node "$CLIENTS/fetch_undici.mjs" https://sup.test/echo 2>&1)
	is "$(printf '%s' "$out" | jq -r .status 2>/dev/null)" 200 "47: Node undici EnvHttpProxyAgent"
	is "$(printf '%s' "$out" | jq -r .body | jq -r .target 2>/dev/null)" /echo "47: the origin answered"

	out=$(timeout 20 node "$CLIENTS/ws_client.mjs" "$PX" sup.test /ws/echo "$CONF/ca-cert.pem" --deflate 2>&1)
	is "$(printf '%s' "$out" | jq -r .open)" true "48: wss:// through the proxy opens"
	is "$(printf '%s' "$out" | jq -r '.texts[0]')" "hello through the proxy" "48: text round trip"
	is "$(printf '%s' "$out" | jq -r .binary_ok)" true "48: binary round trip"
	is "$(printf '%s' "$out" | jq -r .close.code)" 1000 "48: clean close"
	ext=$(grep '"target":"/ws/echo"' "$ORIGIN_LOG" | tail -1 | jq -r '[.headers[][0] | ascii_downcase] | index("sec-websocket-extensions")')
	is "$ext" null "48: the client offered permessage-deflate; the origin saw no Sec-WebSocket-Extensions"
	out=$(timeout 20 node "$CLIENTS/ws_client.mjs" "$PX" sup.test /ws/deflate "$CONF/ca-cert.pem" 2>&1)
	is "$(printf '%s' "$out" | jq -r .status)" 502 "50: a 101 naming an extension: 502"
	out=$(timeout 20 node "$CLIENTS/ws_client.mjs" "$PX" sup.test /ws/bad-accept "$CONF/ca-cert.pem" 2>&1)
	is "$(printf '%s' "$out" | jq -r .status)" 502 "a 101 with a wrong Sec-WebSocket-Accept: 502"
	out=$(timeout 20 node "$CLIENTS/ws_client.mjs" "$PX" sup.test /ws/reject "$CONF/ca-cert.pem" 2>&1)
	is "$(printf '%s' "$out" | jq -r .status)" 403 "a non-101 answer is relayed as a response"
else
	diag "tests/mcp/node_modules missing (npm ci in tests/mcp): Node clients not run"
	ok 1 "Node clients available (run npm ci in tests/mcp)"
fi
ok $(bb_no_sanitizer_reports && echo 0 || echo 1) "no sanitizer reports"
bb_stop
is $? 0 "SIGTERM: exit 0"
done_testing
