#!/usr/bin/env bash
# The agent's side of the bottle's topology checks (spec/bundle.md §5.1),
# run inside the agent's network (a netns in tests/integration/topology.sh,
# a container on the internal podman network in check-image, §5.2) as an
# unprivileged uid with nothing but the environment below.  Prints TAP.
#
#   agent-checks.sh main            checks 1-8 and 10 (the agent's part;
#                                   the runner checks origin logs, counters
#                                   and the sidecar side)
#   agent-checks.sh gate1 PROTO     9: clone and a clean push (PROTO git|http)
#   agent-checks.sh gate2 PROTO SHA 9: fetch shows upstream commit SHA, a
#                                   push with an AWS key is refused
#   agent-checks.sh probe           check 1 alone: prints the status only
#
# Environment:
#   SIDECAR_IP      the sidecar's address on the bottle network (required)
#   AGENT_CA        the bottle CA (default /etc/bot-bottle-ca/ca-cert.pem)
#   OUT_DIR         where every answer received is kept for the runner
#   CANARY_VAR      name of the canary variable (its value is in the env)
#   ORIGIN_HOST BADCERT_HOST EVIL_HOST   (origin/badcert/evil.bb.test)
#   RAW_TARGETS     ADDR:PORT list that must not connect directly
#   DNS_IP          resolver that must not answer the agent directly
#   GUARD_URLS      URLs the SSRF guard must refuse (403 private_address)
#   STATE_PATH      the sidecar's state dir (must be unreadable, if present)
#   STATE_MARKER    a string planted in the state dir: never in an answer
#   SV_BUILT GG_BUILT   1 when supervise / gitgate run in the sidecar
#   GATE_REPO       the declared gate repo (default repo)
set -u
unset HTTP_PROXY HTTPS_PROXY http_proxy https_proxy ALL_PROXY all_proxy \
    NO_PROXY no_proxy SSL_CERT_FILE CURL_CA_BUNDLE

: "${SIDECAR_IP:?SIDECAR_IP must be set}"
AGENT_CA=${AGENT_CA:-/etc/bot-bottle-ca/ca-cert.pem}
OUT_DIR=${OUT_DIR:-$(mktemp -d)}
ORIGIN_HOST=${ORIGIN_HOST:-origin.bb.test}
BADCERT_HOST=${BADCERT_HOST:-badcert.bb.test}
EVIL_HOST=${EVIL_HOST:-evil.bb.test}
RAW_TARGETS=${RAW_TARGETS:-203.0.113.10:443 203.0.113.12:80 203.0.113.22:22 203.0.113.53:53 169.254.169.254:80}
DNS_IP=${DNS_IP:-203.0.113.53}
GUARD_URLS=${GUARD_URLS:-http://meta.bb.test/ http://priv.bb.test/ http://loop.bb.test/ http://169.254.169.254/ http://10.99.0.10/}
STATE_PATH=${STATE_PATH:-/var/lib/bot-bottle}
STATE_MARKER=${STATE_MARKER:-}
SV_BUILT=${SV_BUILT:-0}
GG_BUILT=${GG_BUILT:-0}
GATE_REPO=${GATE_REPO:-repo}
PX=http://$SIDECAR_IP:9099
mkdir -p "$OUT_DIR"

n=0
failed=0
ok() {	# ok STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}
is() {
	if [ "$1" = "$2" ]; then ok 0 "$3"; else
		ok 1 "$3"; echo "#   got:  '$1'"; echo "#   want: '$2'"
	fi
}
like() {
	if printf '%s' "$1" | grep -Eq -- "$2"; then ok 0 "$3"; else
		ok 1 "$3"; echo "#   got:  '$(printf '%s' "$1" | head -c 600)'"
		echo "#   want: /$2/"
	fi
}
unlike() {
	if printf '%s' "$1" | grep -Eq -- "$2"; then
		ok 1 "$3"; echo "#   matched: /$2/"
	else ok 0 "$3"; fi
}
diag() { echo "# $*"; }
finish() { echo "1..$n"; [ "$failed" -eq 0 ]; }

# One request through the proxy, trusting only the bottle CA.  Sets CODE
# (the response's status, or the CONNECT's when the tunnel was refused)
# and B (the body's file).  Every answer stays in OUT_DIR (h*, b*, e*) so
# the runner can check it for secrets.  Never call these in $(...): the
# counter must advance in this shell.
k=0
req() {
	local w
	k=$((k + 1))
	B=$OUT_DIR/b$k
	w=$(curl -sS --max-time 10 --proxy "$PX" --cacert "$AGENT_CA" \
	    -D "$OUT_DIR/h$k" -o "$B" -w '%{http_code} %{http_connect}' "$@" \
	    2>"$OUT_DIR/e$k")
	CODE=${w%% *}
	[ "$CODE" = 000 ] && CODE=${w##* }
}
# A raw request to the proxy (curl would normalise the target); the
# answer, CRs removed, in B.
raw() {	# raw METHOD TARGET HOST
	k=$((k + 1))
	B=$OUT_DIR/b$k
	timeout 4 bash -c 'exec 3<>"/dev/tcp/$0/9099" || exit 1
	    printf "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" \
	    "$1" "$2" "$3" >&3
	    cat <&3' "$SIDECAR_IP" "$1" "$2" "$3" 2>/dev/null | tr -d '\r' >"$B"
}
# TCP connect with a 2 s bound: exit 0 connected, else not.
tcp() { timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "${1%:*}" "${1##*:}" \
    2>/dev/null; }
# One UDP DNS query (A origin.bb.test): exit 0 if any answer came back.
udp_dns() {
	timeout 2 bash -c 'exec 3<>"/dev/udp/$0/53" || exit 1
	    printf "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x06origin\x02bb\x04test\x00\x00\x01\x00\x01" >&3
	    head -c 2 <&3 | grep -q .' "$1" 2>/dev/null
}

check_main() {
	local t reason
	# 1: the proxy works, TLS ends at the sidecar (only the bottle CA
	# is trusted here), the body is the origin's.
	req -v "https://$ORIGIN_HOST/text?body=hello-from-origin"
	is "$CODE" 200 "1: https://$ORIGIN_HOST/ via the proxy: 200"
	is "$(cat "$B")" hello-from-origin "1: the origin's body"
	like "$(cat "$OUT_DIR/e$k")" 'issuer: .*bot-bottle sidecar CA' \
	    "1: the certificate comes from the bottle CA"

	# 2: a host without a route.
	req "http://$EVIL_HOST/"
	is "$CODE" 403 "2: http://$EVIL_HOST/ via the proxy: 403"
	like "$(head -1 "$B")" "^bb-sidecar:" "2: the body starts bb-sidecar:"
	like "$(cat "$B")" "$EVIL_HOST" "2: the body names the host"
	like "$(cat "$B")" 'reason: host_not_allowed' \
	    "2: reason: host_not_allowed"

	# 3: no way around the proxy by raw IP.
	for t in $RAW_TARGETS; do
		tcp "$t"
		ok $([ $? -ne 0 ] && echo 0 || echo 1) \
		    "3: direct TCP to $t fails within 2 s"
	done
	udp_dns "$DNS_IP"
	ok $([ $? -ne 0 ] && echo 0 || echo 1) \
	    "3: a direct UDP DNS query to $DNS_IP gets no answer within 2 s"

	# 4: the control port is out of reach, directly and via the proxy.
	timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/9101"' "$SIDECAR_IP" 2>/dev/null
	is $? 1 "4: $SIDECAR_IP:9101 is refused"
	for t in 2130706433:9101 0x7f.1:9101; do
		raw GET "http://$t/" "$t"
		like "$(head -1 "$B")" '^HTTP/1.1 400' \
		    "4: GET http://$t/ (non-canonical IPv4): 400"
		like "$(cat "$B")" 'reason: bad_request' \
		    "4: $t: reason: bad_request"
	done
	for t in 127.0.0.1:9101 localhost:9101 '[::1]:9101' 0.0.0.0:9101; do
		raw GET "http://$t/metrics" "$t"
		like "$(head -1 "$B")" '^HTTP/1.1 403' \
		    "4: GET http://$t/metrics: 403"
		like "$(cat "$B")" 'reason: host_not_allowed' \
		    "4: $t: reason: host_not_allowed"
	done
	raw CONNECT 127.0.0.1:9101 127.0.0.1:9101
	like "$(head -1 "$B")" '^HTTP/1.1 403' "4: CONNECT 127.0.0.1:9101: 403"
	like "$(cat "$B")" 'reason: host_not_allowed' \
	    "4: CONNECT: reason: host_not_allowed"

	# 5: names and literals that lead to private addresses.
	for t in $GUARD_URLS; do
		req "$t"
		reason=$(sed -n 's/^reason: //p' "$B" | head -1)
		is "$CODE $reason" "403 private_address" \
		    "5: $t: 403 reason: private_address"
	done

	# 6: an origin whose certificate does not verify.
	req "https://$BADCERT_HOST/"
	is "$CODE" 502 "6: https://$BADCERT_HOST/: 502"
	like "$(cat "$B")" 'certificate verif' \
	    "6: the body names upstream certificate verification"

	# 7: the token route (the runner checks the origin saw the token
	# and that nothing kept in OUT_DIR holds it).
	req "https://$ORIGIN_HOST/text?body=token-route"
	is "$CODE" 200 "7: the token route answers 200"

	# 8: the canary in a request body is blocked before the origin.
	if [ -n "${CANARY_VAR:-}" ] && [ -n "${!CANARY_VAR:-}" ]; then
		req -X POST --data-binary "note=${!CANARY_VAR}" \
		    "https://$ORIGIN_HOST/dlp-probe"
		reason=$(sed -n 's/^reason: //p' "$B" | head -1)
		is "$CODE $reason" "403 dlp_block" \
		    "8: POST with the canary: 403 reason: dlp_block"
	else
		ok 1 "8: CANARY_VAR names no canary in the environment"
	fi

	# 10: the state dir is out of reach.
	if [ -e "$STATE_PATH" ]; then
		ls "$STATE_PATH" >/dev/null 2>&1
		ok $([ $? -ne 0 ] && echo 0 || echo 1) \
		    "10: $STATE_PATH cannot be listed by uid $(id -u)"
		cat "$STATE_PATH/marker" >/dev/null 2>&1
		ok $([ $? -ne 0 ] && echo 0 || echo 1) \
		    "10: $STATE_PATH/marker cannot be read"
	else
		ok 0 "10: $STATE_PATH is not even visible here"
	fi
	[ "$SV_BUILT" = 1 ] && check_mcp
	[ "$GG_BUILT" = 1 ] && check_gate_paths
	if [ -n "$STATE_MARKER" ]; then
		grep -rqF -- "$STATE_MARKER" "$OUT_DIR"
		ok $([ $? -ne 0 ] && echo 0 || echo 1) \
		    "10: no answer carried a byte of the state dir (marker)"
	fi
}

# MCP through the sidecar's bottle address (supervise): answer in B.
mcp() {	# mcp SESSION BODY
	k=$((k + 1))
	B=$OUT_DIR/b$k
	curl -sS --max-time 10 -D "$OUT_DIR/h$k" -o "$B" -X POST \
	    -H 'Content-Type: application/json' \
	    -H 'Accept: application/json, text/event-stream' \
	    ${1:+-H "Mcp-Session-Id: $1"} --data-binary "$2" \
	    "http://$SIDECAR_IP:9100/" 2>"$OUT_DIR/e$k"
}
check_mcp() {
	local sid id
	mcp "" '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"agent-checks","version":"1"}}}'
	sid=$(tr -d '\r' <"$OUT_DIR/h$k" |
	    awk 'tolower($1) == "mcp-session-id:" { print $2 }')
	like "$(cat "$B")" '"serverInfo"' "MCP: initialize via $SIDECAR_IP:9100 answers"
	ok $([ -n "$sid" ] && echo 0 || echo 1) "MCP: a session id"
	mcp "$sid" '{"jsonrpc":"2.0","method":"notifications/initialized"}'
	mcp "$sid" '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'
	like "$(cat "$B")" '"list-egress-routes"' "MCP: tools/list names list-egress-routes"
	mcp "$sid" '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list-egress-routes","arguments":{}}}'
	like "$(cat "$B")" "$ORIGIN_HOST" "MCP: list-egress-routes shows the origin route"
	for id in ../../marker /var/lib/bot-bottle/marker ..%2fmarker \
	    ../supervise/pending; do
		mcp "$sid" "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"check-proposal\",\"arguments\":{\"id\":\"$id\"}}}"
		like "$(cat "$B")" '"isError": *true' \
		    "10: MCP check-proposal id $id: a tool error"
	done
}

# git:// and smart HTTP paths that are not declared repos (gitgate).
check_gate_paths() {
	local p out code
	for p in ../supervise %2e%2e/supervise /var/lib/bot-bottle/git/$GATE_REPO \
	    nosuch; do
		out=$(GIT_TERMINAL_PROMPT=0 timeout 10 git ls-remote \
		    "git://$SIDECAR_IP/$p.git" 2>&1)
		k=$((k + 1)); printf '%s' "$out" >"$OUT_DIR/b$k"
		like "$out" 'unknown repository' "10: git:// /$p: unknown repository"
		code=$(curl -sS --max-time 10 --path-as-is -o "$OUT_DIR/b$((k + 1))" \
		    -w '%{http_code}' \
		    "http://$SIDECAR_IP:9420/$p.git/info/refs?service=git-upload-pack")
		k=$((k + 1))
		is "$code" 404 "10: http /$p: 404"
	done
}

# 9: the gate, over git:// (PROTO git) or smart HTTP (PROTO http).
gate_url() {
	case $1 in
	git) echo "git://$SIDECAR_IP/$GATE_REPO.git" ;;
	*) echo "http://$SIDECAR_IP:9420/$GATE_REPO.git" ;;
	esac
}
G() { GIT_TERMINAL_PROMPT=0 timeout 30 git -c user.name=agent \
    -c user.email=agent@bottle.invalid -c protocol.version=0 "$@"; }
check_gate1() {
	local proto=$1 d=$OUT_DIR/clone-$1 out
	rm -rf "$d"
	out=$(G clone -q "$(gate_url "$proto")" "$d" 2>&1)
	ok $? "9 ($proto): clone through the gate"
	[ -n "$out" ] && diag "$out"
	echo "clean change via $proto" >>"$d/README" &&
	    G -C "$d" commit -qam "clean via $proto" &&
	    out=$(G -C "$d" push origin HEAD 2>&1)
	ok $? "9 ($proto): a clean push succeeds"
	[ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/# /'
	G -C "$d" rev-parse HEAD >"$OUT_DIR/pushed-$proto"
}
check_gate2() {
	local proto=$1 want=$2 d=$OUT_DIR/clone-$1 out sha
	G -C "$d" fetch -q origin 2>&1
	sha=$(G -C "$d" rev-parse FETCH_HEAD 2>/dev/null)
	is "$sha" "$want" "9 ($proto): an upstream commit shows on the next fetch"
	G -C "$d" reset -q --hard FETCH_HEAD
	# An AKIA-shaped key (the scanner's aws-access-key-id rule).
	printf 'AWS_ACCESS_KEY_ID=AKIA%s\n' QZ3RT7WXKP4MNB2D >"$d/deploy.env"
	G -C "$d" add deploy.env && G -C "$d" commit -qm "add deploy env"
	out=$(G -C "$d" push origin HEAD 2>&1)
	ok $([ $? -ne 0 ] && echo 0 || echo 1) "9 ($proto): a push with an AWS key is rejected"
	like "$out" 'remote: .*aws-access-key' "9 ($proto): remote: names the rule"
	like "$out" 'remote: .*deploy\.env' "9 ($proto): remote: names the file"
	like "$out" "remote: .*$(G -C "$d" rev-parse --short=12 HEAD)" \
	    "9 ($proto): remote: names the commit"
}

case ${1:-main} in
main) check_main; finish ;;
gate1) check_gate1 "$2"; finish ;;
gate2) check_gate2 "$2" "$3"; finish ;;
probe) req "https://$ORIGIN_HOST/text?body=probe"; echo "$CODE" ;;
*) echo "usage: agent-checks.sh main|gate1 PROTO|gate2 PROTO SHA|probe" >&2
   exit 2 ;;
esac
