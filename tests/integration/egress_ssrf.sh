#!/usr/bin/env bash
# egress §22 tests 25-26 and 55: the SSRF guard on every resolved address
# (names from a real DNS server, dnsmasq, on a loopback port), strict
# IPv4 literals, IP-literal routes, and upstream timeouts.
. "$(dirname "$0")/lib.sh"
command -v dnsmasq >/dev/null || skip_all "dnsmasq not installed (dnsmasq-base)"
PD=$(bb_free_port)
EGRESS_EXTRA_SIDECAR="  resolver:
    nameservers: [\"127.0.0.1:$PD\"]
    timeout_ms: 500
  timeouts:
    upstream_headers_s: 2
    upstream_connect_s: 1"
BBT_ORIGIN_EXTRA="--name never.test --name www.dns.test"
. "$(dirname "$0")/egress_env.sh"
EGRESS_EXTRA_ROUTES="  - {host: never.test}
  - {host: www.dns.test, allow_private: true, ports: [$PT]}"
egress_routes
# never.test's answer never comes: a fixture that reads and never answers.
sed -i "s|^    origin.test:80:|    never.test:443: [\"127.0.0.1:$PT\"]\n    origin.test:80:|" "$CONF/sidecar.yaml"

bb_bg dnsmasq --no-daemon --port="$PD" --listen-address=127.0.0.1 \
    --bind-interfaces --no-resolv --no-hosts --log-queries \
    --address=/priv.dns.test/10.0.0.1 \
    --address=/meta.dns.test/169.254.169.254 \
    --address=/mapped.dns.test/::ffff:127.0.0.1 \
    --address=/www.dns.test/127.0.0.1 \
    --pid-file= --log-facility="$BB_T/dns.log" 2>/dev/null
sleep 0.3
egress_start || { echo "Bail out! sidecar did not start"; exit 1; }

code() { pcurl -o "$BB_T/body" -w '%{http_code}' "$@" 2>/dev/null; }

for h in priv.dns.test meta.dns.test mapped.dns.test; do
	out=$(pcurl "https://$h/" 2>&1)
	like "$out" 'private_address' "25: $h resolves to a guarded address: 403 private_address"
done
like "$(pcurl https://10.0.0.1/ 2>&1)" 'private_address' "25: the literal 10.0.0.1: 403 private_address"
grep -qi 'query\[A\] priv.dns.test' "$BB_T/dns.log"
ok $? "25: the names really went to the DNS server"
is "$(code "https://www.dns.test:$PT/echo")" 200 "25: allow_private route, DNS answer 127.0.0.1: 200"
is "$(code "https://127.0.0.1:$PT/echo")" 200 "25: R9 (IP SAN on the origin certificate): 200"
# curl rewrites these hosts itself: send the CONNECTs raw.
connect_raw() {
	python3 - "$PX" "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (sys.argv[2], sys.argv[2])).encode())
print(s.recv(4096).decode("latin-1").split("\r\n")[0])
PY
}
like "$(connect_raw 2130706433:443)" '^HTTP/1.1 400' "26: CONNECT 2130706433:443: 400"
like "$(connect_raw 127.1:443)" '^HTTP/1.1 400' "26: CONNECT 127.1:443: 400"
like "$(pcurl -v "https://[::ffff:127.0.0.1]:$PT/" 2>&1)" 'response 403' \
    "26: [::ffff:127.0.0.1] does not match the 127.0.0.1 route: 403"
like "$(pcurl -v https://nosuch.dns.test/ 2>&1)" 'X-Bb-Sidecar-Reason: host_not_allowed' "a name without a route is refused"
! grep -qi 'nosuch.dns.test' "$BB_T/dns.log"
ok $? "and the DNS server saw no query for it"

# 55: a never-answering origin with upstream_headers_s: 2 -> 504.
t0=$(date +%s%N)
is "$(code https://never.test/never)" 504 "55: no response head in 2 s: 504"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ok $([ "$ms" -ge 1800 ] && [ "$ms" -lt 6000 ] && echo 0 || echo 1) "55: after about 2 s ($ms ms)"
like "$(cat "$BB_T/body")" 'upstream_timeout' "55: reason upstream_timeout"

ok $(bb_no_sanitizer_reports && echo 0 || echo 1) "no sanitizer reports"
bb_stop
is $? 0 "SIGTERM: exit 0"
done_testing
