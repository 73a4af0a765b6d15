#!/usr/bin/env bash
# egress §22 tests 18-19: smuggling framings and malformed heads inside a
# bumped tunnel each get 400 and a close; nothing reaches the origin.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/egress_env.sh"

egress_start || { echo "Bail out! sidecar did not start"; exit 1; }

# tunnel BYTES: raw request bytes (printf escapes) into a tunnel to sup.test.
tunnel() {
	(printf "$1"; sleep 1) | timeout 5 openssl s_client -quiet \
	    -proxy "127.0.0.1:$PX" -connect sup.test:443 -servername sup.test \
	    -CAfile "$CONF/ca-cert.pem" 2>/dev/null
}

check() {	# check DESCRIPTION BYTES
	local n0 out
	n0=$(origin_requests)
	out=$(tunnel "$2")
	like "$out" '^HTTP/1.1 400' "$1: 400"
	like "$out" 'Connection: close' "$1: and close"
	is "$(origin_requests)" "$n0" "$1: nothing reached the origin"
}

H='POST /echo HTTP/1.1\r\nHost: sup.test\r\n'
check "18: Content-Length with Transfer-Encoding" \
    "${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
check "18: two Content-Length fields" \
    "${H}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello"
check "18: Transfer-Encoding: chunked, identity" \
    "${H}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"
check "18: Transfer-Encoding: xchunked" \
    "${H}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"
check "18: chunk size 0x5" \
    "${H}Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n"
check "19: obs-fold" \
    'GET /echo HTTP/1.1\r\nHost: sup.test\r\nX-A: a\r\n  folded\r\n\r\n'
check "19: bare LF line ending" \
    'GET /echo HTTP/1.1\nHost: sup.test\r\n\r\n'
check "19: space before the colon" \
    'GET /echo HTTP/1.1\r\nHost : sup.test\r\n\r\n'
check "19: NUL in a value" \
    'GET /echo HTTP/1.1\r\nHost: sup.test\r\nX-A: a\0b\r\n\r\n'
check "19: two Host fields" \
    'GET /echo HTTP/1.1\r\nHost: sup.test\r\nHost: sup.test\r\n\r\n'

# A correct request on a fresh tunnel still works afterwards.
like "$(tunnel 'GET /echo HTTP/1.1\r\nHost: sup.test\r\nConnection: close\r\n\r\n')" \
    '^HTTP/1.1 200' "a well-formed request still gets 200"
ok $(bb_no_sanitizer_reports && echo 0 || echo 1) "no sanitizer reports"
bb_stop
is $? 0 "SIGTERM: exit 0"
done_testing
