#!/usr/bin/env bash
# egress §22 tests 51-54, 56-57: config errors, reload (poll and SIGHUP),
# log verbosity, head limits and timeouts, connection limits, metrics.
. "$(dirname "$0")/lib.sh"
EGRESS_LOG_LEVEL=1
EGRESS_EXTRA_SIDECAR="  limits:
    tunnels_per_client: 4
    connections_per_worker: 8
  timeouts:
    client_idle_s: 2
    request_head_s: 2"
. "$(dirname "$0")/egress_env.sh"
BB_WORKERS=1

# 51: check-config reports every error with file:line:col and the key path.
mkdir -p "$BB_T/bad"
cp "$CONF/ca.pem" "$BB_T/bad/"
cat >"$BB_T/bad/routes.yaml" <<'YAML'
log: "1"
routes:
  - host: a.test
    hots: 1
  - host: b.test
    git: {fetch: yes}
  - host: c.test
    matches:
      - paths: [{type: regex, value: "(unclosed"}]
  - host: d.test
    auth_scheme: Bearer
  - host: a.test
  - host: e.test
    matches:
      - paths: [{type: prefix, value: /a/./b}]
YAML
out=$("$BB_SIDECAR" check-config --config-dir "$BB_T/bad" --services egress 2>&1)
is $? 1 "51: check-config exits 1"
like "$out" 'routes.yaml:1:6: log: ' "51: log: \"1\" at 1:6"
like "$out" 'routes.yaml:4:5: routes\[0\]: unknown key "hots"' "51: unknown key with its path"
like "$out" 'routes.yaml:6:[0-9]+: routes\[1\].git.fetch: YAML 1.1 boolean' "51: fetch: yes"
like "$out" 'routes.yaml:9:[0-9]+: routes\[2\].matches\[0\].paths\[0\].value: ' "51: bad regex"
like "$out" 'routes.yaml:11:[0-9]+: routes\[3\].auth_scheme: .*token_env' "51: auth_scheme without token_env"
like "$out" 'routes.yaml:[0-9]+:[0-9]+: routes\[4\].host: .*a.test' "51: duplicate host"
like "$out" 'routes.yaml:15:[0-9]+: routes\[5\].matches\[0\].paths\[0\].value: ' "51: a value normalisation would change"
out2=$("$BB_SIDECAR" run --config-dir "$BB_T/bad" --state-dir "$STATE" --services egress \
    --listen-egress "127.0.0.1:$(bb_free_port)" --listen-control "127.0.0.1:$(bb_free_port)" 2>&1)
is $? 1 "run with the same files exits 1"
like "$out2" 'routes.yaml:4:5: routes\[0\]: unknown key "hots"' "and prints the same messages"

egress_start || { echo "Bail out! sidecar did not start"; exit 1; }

# 53 (log: 1): a refused CONNECT writes exactly one block line.
before=$(bb_log | grep -c '"event":"block"')
pcurl https://evil.test/ >/dev/null 2>&1
sleep 0.2
is $(( $(bb_log | grep -c '"event":"block"') - before )) 1 "53: log: 1 writes one block line for an unknown host"
is "$(bb_log | grep -c '"event":"request"')" 0 "53: log: 1 writes no request lines"

# 52: a new route renamed into place is allowed within 3 s.
like "$(pcurl -v https://new.test/echo 2>&1)" 'response 403' "52: new.test refused before the reload"
EGRESS_EXTRA_ROUTES="  - {host: new.test}" EGRESS_LOG_LEVEL=2 egress_routes
got=
for _i in $(seq 1 40); do
	got=$(pcurl -o /dev/null -w '%{http_code}' https://new.test/echo 2>/dev/null)
	[ "$got" = 200 ] && break
	sleep 0.1
done
is "$got" 200 "52: new.test allowed within 4 s of the rename"
like "$(bb_log | grep '"event":"reload"' | tail -1)" '"result":"ok"' "52: reload ok logged"
gen=$(curl -s "http://127.0.0.1:$BB_CTL/readyz" | jq .config_generation)
# Invalid YAML: the old policy keeps serving; the error names line and col.
printf 'log: 2\nroutes:\n  - host: [broken\n' >"$CONF/.r.tmp" && mv "$CONF/.r.tmp" "$CONF/routes.yaml"
sleep 3
like "$(bb_log | grep '"event":"reload"' | tail -1)" '"result":"error".*"line":[0-9]+,"col":[0-9]+' \
    "52: an invalid file logs reload error with line and col"
is "$(pcurl -o /dev/null -w '%{http_code}' https://new.test/echo)" 200 "52: the old routes still serve"
h=$("$BB_SIDECAR" health --control "127.0.0.1:$BB_CTL")
is $? 0 "health exits 0 while the old policy serves"
like "$(printf '%s' "$h" | jq -r .last_reload)" 'routes.yaml:[0-9]+:[0-9]+' "health shows the error's file:line:col"
# Fixed, then SIGHUP: applied at once.
EGRESS_LOG_LEVEL=2 egress_routes
kill -HUP "$BB_SIDECAR_PID"
sleep 0.3
is "$(curl -s "http://127.0.0.1:$BB_CTL/readyz" | jq -r .last_reload)" ok "52: fixed + SIGHUP: reload ok"
ok $([ "$(curl -s "http://127.0.0.1:$BB_CTL/readyz" | jq .config_generation)" -gt "$gen" ] && echo 0 || echo 1) \
    "52: the generation went up"
is "$(pcurl -o /dev/null -w '%{http_connect}' https://new.test/echo 2>/dev/null)" 403 "52: new.test gone with the new policy"

# 53 (log: 2): request and response lines, Cookie redacted.
pcurl https://sup.test/echo -H 'Cookie: session=abcdef123' >/dev/null
sleep 0.2
like "$(bb_log | grep '"event":"request"' | tail -1)" '<redacted 17 bytes>' "53: log: 2 request line, Cookie redacted"
unlike "$(bb_log)" 'abcdef123' "53: the cookie value is not logged"
like "$(bb_log | grep '"event":"response"' | tail -1)" '"bytes_down":[0-9]+' "53: response line with byte counts"

# 54: head limits and timeouts.
raw() { python3 - "$PX" "$@" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=8)
mode = sys.argv[2]
if mode == "fields":
    s.sendall(b"GET http://sup.test/echo HTTP/1.1\r\nHost: sup.test\r\n" + b"".join(b"X-F%d: %s\r\n" % (i, b"v" * int(sys.argv[4])) for i in range(int(sys.argv[3]))) + b"\r\n")
elif mode == "url":
    s.sendall(b"GET http://sup.test/" + b"a" * int(sys.argv[3]) + b" HTTP/1.1\r\nHost: sup.test\r\n\r\n")
elif mode == "trickle":
    try:
        for c in b"GET http://sup.test/echo HTTP/1.1\r\nHost: sup":
            s.sendall(bytes([c])); time.sleep(0.1)
    except OSError:
        pass	# refused mid-head: the answer is waiting
elif mode == "idle":
    pass
t0 = time.time(); out = b""
try:
    while True:
        d = s.recv(65536)
        if not d: break
        out += d
except Exception:
    pass
print("%s %.1f" % (out.decode("latin-1").split("\r\n")[0] or "closed", time.time() - t0))
PY
}
like "$(raw fields 1 71000)" '^HTTP/1.1 431' "54: 70 KiB of fields: 431"
like "$(raw fields 150 4)" '^HTTP/1.1 431' "54: 150 fields: 431"
like "$(raw url 9300)" '^HTTP/1.1 414' "54: a 9 KiB URL: 414"
out=$(raw idle)
like "$out" '^closed (1\.[5-9]|2\.[0-9]|3\.[0-5])' "54: an idle connection closes after about 2 s ($out)"
like "$(raw trickle)" '^HTTP/1.1 408' "54: a head trickled past request_head_s: 408"

# 56: tunnels per client, connections per worker (one worker).
python3 - "$PX" >"$BB_T/t56" <<'PY'
import socket, sys
socks = []
for i in range(5):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
    s.sendall(b"CONNECT sup.test:443 HTTP/1.1\r\nHost: sup.test:443\r\n\r\n")
    print(s.recv(4096).decode("latin-1").split("\r\n")[0])
    socks.append(s)
PY
is "$(sed -n 5p "$BB_T/t56")" "HTTP/1.1 429 Too Many Requests" "56: the fifth concurrent CONNECT: 429"
is "$(sed -n 4p "$BB_T/t56")" "HTTP/1.1 200 Connection established" "56: the fourth still 200"
python3 - "$PX" >"$BB_T/t56b" <<'PY'
import socket, sys, time
socks = []
for i in range(9):
    socks.append(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5))
    time.sleep(0.05)
s = socks[8]
print(s.recv(4096).decode("latin-1").split("\r\n")[0])
PY
is "$(cat "$BB_T/t56b")" "HTTP/1.1 503 Service Unavailable" "56: the ninth connection on one worker: 503 busy"
sleep 0.3

# 57: two requests in one curl run share one origin connection.
m() { curl -s "http://127.0.0.1:$BB_CTL/metrics" | awk -v k="$1" '$1 == k {print $2}'; }
r0=$(m 'bb_egress_upstream_connects_total{result="reused"}')
pcurl https://sup.test/echo https://sup.test/echo >/dev/null
r1=$(m 'bb_egress_upstream_connects_total{result="reused"}')
ok $([ "${r1:-0}" -ge $(( ${r0:-0} + 1 )) ] && echo 0 || echo 1) "57: upstream_connects_total{reused} went up ($r0 -> $r1)"
metrics=$(curl -s "http://127.0.0.1:$BB_CTL/metrics")
like "$metrics" 'bb_egress_requests_total\{decision="forwarded",reason="none"\} [1-9]' "57: requests by decision"
like "$metrics" 'bb_egress_requests_total\{decision="blocked",reason="host_not_allowed"\} [1-9]' "57: refusals by reason"
like "$metrics" 'bb_egress_bytes_total\{direction="down"\} [1-9]' "57: bytes"
like "$metrics" 'bb_egress_connections_active\{side="agent"\}' "57: active connections"
like "$metrics" 'bb_sidecar_build_info\{version=' "build_info"
like "$metrics" 'bb_egress_cert_cache_total\{result="hit"\} [1-9]' "8/57: cert cache hits counted"
like "$metrics" 'bb_egress_request_duration_seconds_count [1-9]' "57: request duration histogram"
like "$metrics" 'bb_egress_request_duration_seconds_bucket\{le="\+Inf"\} [1-9]' "57: with a +Inf bucket"

ok $(bb_secret_free "$T0" "$CANARY" && echo 0 || echo 1) "no trace of T0 or the canary"
ok $(bb_no_sanitizer_reports && echo 0 || echo 1) "no sanitizer reports"
bb_stop
is $? 0 "SIGTERM: exit 0"
done_testing
