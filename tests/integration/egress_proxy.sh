#!/usr/bin/env bash
# egress §22 tests 1-17, 20-22: tunnels, hosts, certificates, paths,
# matches, methods, fields, pipelining and credentials, with real curl.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/egress_env.sh"



# Raw bytes to the proxy (escapes as in printf); prints the answer.
raw() { python3 - "$PX" "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(sys.argv[2].encode().decode('unicode_escape').encode('latin-1'))
out = b""
try:
    while True:
        d = s.recv(65536)
        if not d: break
        out += d
except socket.timeout:
    pass
sys.stdout.write(out.decode('latin-1'))
PY
}
egress_start || { echo "Bail out! sidecar did not start"; exit 1; }

# 1: credential injected, Host normalised, log shows the stand-in.
out=$(pcurl https://origin.test/echo)
is "$(printf '%s' "$out" | jq -r '.headers[] | select(.[0]=="Authorization") | .[1]')" \
    "token $T0" "1: origin sees Authorization: token T0"
is "$(printf '%s' "$out" | jq -r '.headers[] | select(.[0]=="Host") | .[1]')" \
    "origin.test" "1: origin sees Host: origin.test"
like "$(bb_log)" '<injected token_env=EGRESS_TOKEN_0>' "1: request line shows the injected stand-in"

# 2: unknown host and port refused on the CONNECT, before TLS.
n0=$(origin_requests)
out=$(pcurl -v https://evil.test/ 2>&1)
like "$out" 'CONNECT tunnel failed, response 403' "2: unknown host: CONNECT 403"
like "$(raw 'CONNECT evil.test:443 HTTP/1.1\r\nHost: evil.test:443\r\n\r\n')" 'reason: host_not_allowed' "2: body names host_not_allowed"
like "$(pcurl -v https://origin.test:8443/ 2>&1)" 'response 403' "2: port 8443 not allowed"
is "$(origin_requests)" "$n0" "2: the origin saw nothing"

# 3: plain HTTP inside a tunnel.
out=$(pcurl -p http://origin.test:443/echo 2>&1)
like "$out" 'tunnel_not_tls' "3: plaintext in a tunnel: 403 tunnel_not_tls"

# 4: domain fronting.
code=$(pcurl -o "$BB_T/b4" -w '%{http_code}' https://origin.test/echo -H 'Host: sup.test')
is "$code" 421 "4: Host differs from the CONNECT host: 421"
like "$(cat "$BB_T/b4")" 'reason: host_mismatch' "4: reason host_mismatch"
out=$( (printf 'GET /echo HTTP/1.1\r\nHost: origin.test\r\nConnection: close\r\n\r\n'; sleep 1) |
    timeout 5 openssl s_client -quiet -proxy "127.0.0.1:$PX" -connect origin.test:443 \
    -servername sup.test -CAfile "$CONF/ca-cert.pem" 2>/dev/null)
like "$out" 'sni_mismatch' "4: SNI differs from the CONNECT host: 421 sni_mismatch"

# 5: absolute-form plain HTTP.
like "$(raw 'GET http://origin.test/echo HTTP/1.1\r\nHost: sup.test\r\nConnection: close\r\n\r\n')" \
    '^HTTP/1.1 421' "5: absolute-form with another Host: 421"
like "$(raw 'GET http://origin.test/echo HTTP/1.1\r\nHost: origin.test\r\nConnection: close\r\n\r\n')" \
    'plaintext_auth' "5: credential route over plain HTTP: 403 plaintext_auth"
is "$(pcurl -o /dev/null -w '%{http_code}' http://sup.test/echo)" 200 "5: http://sup.test/echo: 200 over plain TCP"
is "$(pcurl -o /dev/null -w '%{http_code}' http://sup.test:8080/)" 403 "5: http://sup.test:8080: 403"

# 6: wildcards.
is "$(pcurl -o /dev/null -w '%{http_code}' https://a.wild.test/echo)" 200 "6: a.wild.test: 200"
is "$(pcurl -o /dev/null -w '%{http_code}' https://a.b.wild.test/echo)" 200 "6: a.b.wild.test: 200"
like "$(pcurl -v https://wild.test/ 2>&1)" 'response 403' "6: the apex wild.test: 403"

# 7: HTTP/1.1 only.
is "$(pcurl --http2 -o /dev/null -w '%{http_version}' https://sup.test/echo)" 1.1 "7: --http2 falls back to HTTP/1.1"

# 8: the minted leaf.
cert=$( (sleep 1) | timeout 5 openssl s_client -proxy "127.0.0.1:$PX" -connect origin.test:443 \
    -servername origin.test -showcerts 2>/dev/null | openssl x509 -noout -text 2>/dev/null)
like "$cert" 'Issuer: .*bot-bottle sidecar CA test' "8: issuer is the bottle CA"
like "$cert" 'DNS:origin.test' "8: SAN DNS:origin.test"
like "$cert" 'prime256v1|P-256' "8: EC P-256 key"

# 9: untrusted origin certificate.
code=$(pcurl -o "$BB_T/b9" -w '%{http_code}' https://bad.test/)
is "$code" 502 "9: untrusted origin: 502"
like "$(cat "$BB_T/b9")" 'upstream_tls_failed' "9: reason upstream_tls_failed"

# 10: introspection.
out=$(pcurl http://_egress.local/allowlist)
is "$(printf '%s' "$out" | jq -r '.routes[0].host')" origin.test "10: /allowlist lists routes in file order"
is "$(printf '%s' "$out" | jq -r '.routes[0].token_env')" EGRESS_TOKEN_0 "10: token_env named"
unlike "$out" "$T0" "10: no token value"
is "$(pcurl -o /dev/null -w '%{http_code}' http://_egress.local/other)" 404 "10: other path: 404"
is "$(pcurl -o /dev/null -w '%{http_code}' https://_egress.local/allowlist)" 200 "10: over CONNECT: 200"

# 11-14: paths and matches.
is "$(pcurl -o /dev/null -w '%{http_code}' https://origin.test/api/x)" 200 "11: /api/x: 200"
is "$(pcurl -o /dev/null -w '%{http_code}' https://origin.test/apix)" 403 "11: /apix: 403"
is "$(pcurl -o /dev/null -w '%{http_code}' -X DELETE https://origin.test/api/x)" 403 "11: DELETE: 403"
is "$(pcurl --path-as-is -o /dev/null -w '%{http_code}' https://origin.test/api/../admin)" 403 "12: /api/../admin: 403"
out=$(pcurl --path-as-is 'https://origin.test/%61pi/./x')
is "$(printf '%s' "$out" | jq -r .target)" /api/x "12: /%61pi/./x reaches the origin as /api/x"
is "$(pcurl --path-as-is -o /dev/null -w '%{http_code}' 'https://origin.test/api/..%2Fadmin')" 400 "13: ..%2F: 400 ambiguous_path"
is "$(pcurl -s 'https://origin.test/api/a%2fb' | jq -r .target)" /api/a%2Fb "13: %2f forwarded as %2F"
is "$(pcurl -o /dev/null -w '%{http_code}' -H 'X-Test: yes' https://origin.test/ws/abc)" 200 "14: regex path with header: 200"
is "$(pcurl -o /dev/null -w '%{http_code}' https://origin.test/ws/abc)" 403 "14: without the header: 403"

# 15-17: methods, hop-by-hop fields, Expect.
is "$(pcurl -o /dev/null -w '%{http_code}' -X TRACE https://sup.test/)" 405 "15: TRACE: 405"
is "$(pcurl -o /dev/null -w '%{http_code}' -X TRACK https://sup.test/)" 405 "15: TRACK: 405"
out=$(pcurl http://sup.test/echo -H 'Upgrade: h2c' -H 'HTTP2-Settings: AAMAAABkAAQAAP__' \
    -H 'Connection: Upgrade, HTTP2-Settings, X-Hop' -H 'X-Hop: 1' -H 'Keep-Alive: 5')
unlike "$(printf '%s' "$out" | jq -c '[.headers[][0]]')" 'Upgrade|HTTP2-Settings|X-Hop|Keep-Alive' \
    "16: hop-by-hop fields never reach the origin"
head -c 1048576 /dev/urandom | base64 -w0 | head -c 1048576 >"$BB_T/1mb.txt"
out=$(pcurl -H 'Expect: 100-continue' --data-binary @"$BB_T/1mb.txt" https://sup.test/echo)
is "$(printf '%s' "$out" | jq -r .body_sha256)" "$(sha256sum "$BB_T/1mb.txt" | cut -d' ' -f1)" \
    "17: 1 MiB body with Expect arrives intact"
unlike "$(printf '%s' "$out" | jq -c '[.headers[][0]]')" 'Expect' "17: origin sees no Expect"
is "$(pcurl -o /dev/null -w '%{http_code}' -H 'Expect: x' https://sup.test/echo)" 417 "17: Expect: x: 417"

# 20: three pipelined GETs over one origin connection, answered in order.
out=$( (printf 'GET /echo HTTP/1.1\r\nHost: sup.test\r\n\r\nGET /echo HTTP/1.1\r\nHost: sup.test\r\n\r\nGET /echo HTTP/1.1\r\nHost: sup.test\r\nConnection: close\r\n\r\n'; sleep 2) |
    timeout 6 openssl s_client -quiet -proxy "127.0.0.1:$PX" -connect sup.test:443 \
    -servername sup.test -CAfile "$CONF/ca-cert.pem" 2>/dev/null | grep '^{' |
    jq -s -r '[length, (map(.conn) | unique | length), (.[0].req + 1 == .[1].req and .[1].req + 1 == .[2].req)] | @tsv')
is "$out" "$(printf '3\t1\ttrue')" "20: three responses, one origin connection, request numbers in order"

# 21: agent credentials stripped.
out=$(pcurl https://origin.test/echo -H 'Authorization: Bearer agent' -H 'Proxy-Authorization: Basic eA==')
is "$(printf '%s' "$out" | jq -c '[.headers[] | select(.[0]|test("Authorization";"i"))]')" \
    "[[\"Authorization\",\"token $T0\"]]" "21: only the injected credential reaches the origin"
out=$(pcurl https://sup.test/echo -H 'Authorization: token x')
is "$(printf '%s' "$out" | jq -c '[.headers[] | select(.[0]|test("Authorization";"i"))]')" "[]" \
    "21: no Authorization on a route without credentials"

# 22: missing token, then a secrets/ file renamed into place.
code=$(pcurl -o "$BB_T/b22" -w '%{http_code}' https://notoken.test/echo)
is "$code" 503 "22: missing token: 503"
like "$(cat "$BB_T/b22")" 'EGRESS_TOKEN_9' "22: names the variable"
mkdir -p "$CONF/secrets"
printf 'tok9value\n' >"$CONF/secrets/.EGRESS_TOKEN_9.tmp"
mv "$CONF/secrets/.EGRESS_TOKEN_9.tmp" "$CONF/secrets/EGRESS_TOKEN_9"
got=
for _i in $(seq 1 40); do
	got=$(pcurl https://notoken.test/echo 2>/dev/null | jq -r '.headers[]? | select(.[0]=="Authorization") | .[1]' 2>/dev/null)
	[ -n "$got" ] && break
	sleep 0.1
done
is "$got" "Bearer tok9value" "22: within 4 s the file's token is injected"

ok $(bb_secret_free "$T0" "$CANARY" && echo 0 || echo 1) "no trace of T0 or the canary in stderr or the state dir"
bb_stop
is $? 0 "SIGTERM: exit 0"
ok $(bb_no_sanitizer_reports && echo 0 || echo 1) "no sanitizer reports"
done_testing
