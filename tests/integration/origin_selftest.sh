#!/usr/bin/env bash
# bbt-origin checked on its own, with no proxy in between: every egress
# integration test trusts what it reports, so it is tested against real
# clients first (curl, python3's ssl and socket, git, openssl).
. "${BB_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

BBT_ORIGIN=${BBT_ORIGIN:-$BB_BUILDDIR/tests/bbt-origin}
[ -x "$BBT_ORIGIN" ] || skip_all "bbt-origin not built"
for t in curl jq python3 openssl sha256sum; do
	command -v "$t" >/dev/null || skip_all "$t not installed"
done

OD=$BB_T/origin
LOG=$BB_T/origin.log

# ---- --make-ca ------------------------------------------------------
out=$("$BBT_ORIGIN" --make-ca "$OD")
is "$(printf '%s' "$out" | jq -r .created)" true "--make-ca creates the CA"
is "$(grep -c 'BEGIN CERTIFICATE' "$OD/ca.pem")$(grep -c 'PRIVATE KEY' "$OD/ca.pem")" \
    10 "ca.pem holds the certificate only"
is "$(stat -c %a "$OD/ca-key.pem")" 600 "ca-key.pem is 0600"
like "$(openssl x509 -in "$OD/ca.pem" -noout -text)" 'CA:TRUE' "ca.pem is a CA"
out=$("$BBT_ORIGIN" --make-ca "$OD")
is "$(printf '%s' "$out" | jq -r .created)" false "--make-ca keeps an existing CA"

# ---- start ----------------------------------------------------------
"$BBT_ORIGIN" --tls 127.0.0.1:0 --plain 127.0.0.1:0 --cert-dir "$OD" \
    --name origin.test --name sup.test --ip-san 127.0.0.1 \
    --untrusted-name bad.test --log "$LOG" \
    --ready-file "$BB_T/ready" 2>"$BB_T/origin.stderr" &
OPID=$!
BB_PIDS+=("$OPID")
for _i in $(seq 1 250); do [ -s "$BB_T/ready" ] && break; sleep 0.02; done
PT=$(jq -r '.tls[0]' "$BB_T/ready" 2>/dev/null)
PP=$(jq -r '.plain[0]' "$BB_T/ready" 2>/dev/null)
like "$PT:$PP" '^[0-9]+:[0-9]+$' "--ready-file names the bound ports"
is "$(jq -r .pid "$BB_T/ready")" "$OPID" "--ready-file names the pid"

oc() {	# curl straight to the origin, trusting its CA
	curl -sS --max-time 20 --cacert "$OD/ca.pem" \
	    --resolve "origin.test:$PT:127.0.0.1" \
	    --resolve "sup.test:$PT:127.0.0.1" \
	    --resolve "bad.test:$PT:127.0.0.1" "$@"
}
stat_of() { curl -sS --max-time 5 "http://127.0.0.1:$PP/stats" | jq -r "$1"; }

# ---- TLS echo -------------------------------------------------------
out=$(oc -H 'X-Test: yes' --data-binary 'hello' "https://origin.test:$PT/echo?q=1")
is "$(printf '%s' "$out" | jq -c '[.method, .target, .body_len, .body_prefix]')" \
    '["POST","/echo?q=1",5,"hello"]' "TLS echo: method, target, body"
is "$(printf '%s' "$out" | jq -r .body_sha256)" \
    "$(printf hello | sha256sum | cut -d' ' -f1)" "TLS echo: body_sha256"
is "$(printf '%s' "$out" | jq -c '[.tls, .sni, .alpn]')" \
    '[true,"origin.test","http/1.1"]' "TLS echo: tls, sni, ALPN http/1.1"
is "$(printf '%s' "$out" | jq -c '[.headers[] | select(.[0] == "X-Test")]')" \
    '[["X-Test","yes"]]' "TLS echo: fields as received"
is "$(oc -o /dev/null -w '%{http_code}' "https://127.0.0.1:$PT/echo")" 200 \
    "--ip-san: https://127.0.0.1 verifies"
is "$(oc -o /dev/null -w '%{http_code}' "https://sup.test:$PT/echo")" 200 \
    "--name: a second SAN verifies"
out=$(oc --http1.1 --no-alpn -s "https://origin.test:$PT/echo" | jq -c .alpn)
is "$out" null "no ALPN offered: none selected"

# ---- untrusted name -------------------------------------------------
oc -o /dev/null "https://bad.test:$PT/" 2>/dev/null
is "$?" 60 "--untrusted-name: curl fails verification (exit 60)"
issuer=$(openssl s_client -connect "127.0.0.1:$PT" -servername bad.test \
    </dev/null 2>/dev/null | openssl x509 -noout -issuer 2>/dev/null)
like "$issuer" 'bbt-origin untrusted CA' "--untrusted-name: leaf from the throwaway CA"
out=$(openssl s_client -connect "127.0.0.1:$PT" -servername bad.test \
    -CAfile "$OD/ca.pem" -verify_return_error </dev/null 2>&1)
like "$out" 'unable to get local issuer certificate' \
    "--untrusted-name: the issuer is not sent"

# ---- keep-alive and /stats ------------------------------------------
s0=$(stat_of .served_connections)
r0=$(stat_of .requests)
out=$(oc "https://origin.test:$PT/echo" "https://origin.test:$PT/echo" | jq -r '"\(.conn):\(.req)"' | tr '\n' ' ')
like "$out" '^([0-9]+):1 \1:2 $' "keep-alive: two requests, one connection"
is "$(( $(stat_of .served_connections) - s0 ))" 1 "/stats: one more served connection"
is "$(( $(stat_of .requests) - r0 ))" 2 "/stats: two more requests (not counting /stats)"

# ---- bodies ---------------------------------------------------------
head -c 3000000 /dev/urandom >"$BB_T/up.bin"
want=$(sha256sum "$BB_T/up.bin" | cut -d' ' -f1)
out=$(oc -H 'Transfer-Encoding: chunked' --data-binary @"$BB_T/up.bin" "https://origin.test:$PT/up")
is "$(printf '%s' "$out" | jq -r '"\(.body_len) \(.body_sha256)"')" "3000000 $want" \
    "chunked upload: body_sha256 = sha256sum"
unlike "$(printf '%s' "$out" | jq -c '[.headers[][0]]')" 'Content-Length' \
    "chunked upload: no Content-Length reached the origin"
out=$(oc -v -H 'Expect: 100-continue' --data-binary @"$BB_T/up.bin" "https://origin.test:$PT/up" 2>"$BB_T/v")
like "$(cat "$BB_T/v")" '< HTTP/1.1 100 Continue' "Expect: 100-continue gets 100"
is "$(printf '%s' "$out" | jq -r .body_sha256)" "$want" "Content-Length upload: body_sha256"
is "$(stat_of .body_bytes_max)" 3000000 "/stats: body_bytes_max"
is "$(oc -o /dev/null -w '%{http_code}' -H 'Expect: x' -d a "https://origin.test:$PT/up")" \
    417 "Expect: x gets 417"

# ---- pipelining, refusals, cut bodies (raw sockets) -----------------
cat >"$BB_T/raw.py" <<'EOF'
import socket, sys, time
port, mode = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=5)
if mode == "pipeline":
    r = b"GET /echo HTTP/1.1\r\nHost: origin.test\r\n\r\n"
    s.sendall(r + r + r.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
elif mode == "halfclose":
    # The EOF arrives while the first answer is still being produced.
    s.sendall(b"GET /slow/200 HTTP/1.1\r\nHost: origin.test\r\n\r\n"
              b"GET /echo HTTP/1.1\r\nHost: origin.test\r\n\r\n")
    s.shutdown(socket.SHUT_WR)
elif mode == "smuggle":
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: origin.test\r\nContent-Length: 5\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
elif mode == "cut":
    s.sendall(b"POST /cut HTTP/1.1\r\nHost: origin.test\r\nContent-Length: 1000\r\n\r\n"
              b"0123456789")
    time.sleep(0.3)
    s.close()
    sys.exit(0)
data = b""
while True:
    try:
        d = s.recv(65536)
    except socket.timeout:
        break
    if not d:
        break
    data += d
sys.stdout.write(data.decode("utf-8", "replace"))
EOF
out=$(timeout 10 python3 "$BB_T/raw.py" "$PP" pipeline | grep -o '"req":[0-9]*' | tr '\n' ' ')
is "$out" '"req":1 "req":2 "req":3 ' "pipelining: three responses in order on one connection"
out=$(timeout 10 python3 "$BB_T/raw.py" "$PP" halfclose | grep -o '"req":[0-9]*' | tr '\n' ' ')
is "$out" '"req":1 "req":2 ' "half-close after two requests: both answered"
f0=$(stat_of .refused)
out=$(timeout 10 python3 "$BB_T/raw.py" "$PP" smuggle)
like "$out" '^HTTP/1.1 400 ' "Content-Length with chunked: 400 from the shared codec"
is "$(( $(stat_of .refused) - f0 ))" 1 "/stats: refused counted"
a0=$(stat_of .aborted)
timeout 10 python3 "$BB_T/raw.py" "$PP" cut
sleep 0.3
is "$(( $(stat_of .aborted) - a0 ))" 1 "a body cut off is counted as aborted"
is "$(grep '"target":"/cut"' "$LOG" | jq -c '[.complete, .body_len, .body_sha256]')" \
    '[false,10,null]' "--log: the cut request, with the bytes that arrived"
is "$(grep -c '"event":"request"' "$LOG" | awk '$1 > 10 {print "many"}')" many \
    "--log: one JSON line per request"

# ---- fixtures -------------------------------------------------------
P="http://127.0.0.1:$PP"
python3 -c 'import sys; p=b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/"; sys.stdout.buffer.write((p*5000)[:300000])' >"$BB_T/pat"
is "$(curl -sS "$P/bytes/300000" | sha256sum | cut -d' ' -f1)" \
    "$(sha256sum <"$BB_T/pat" | cut -d' ' -f1)" "/bytes/N: the documented pattern"
like "$(curl -sSI "$P/bytes/300000")" 'Content-Length: 300000' "HEAD /bytes/N: Content-Length, no body"
out=$(curl -sS -D "$BB_T/h" "$P/chunked/300000?size=1000" | sha256sum | cut -d' ' -f1)
is "$out" "$(sha256sum <"$BB_T/pat" | cut -d' ' -f1)" "/chunked/N: same bytes"
like "$(cat "$BB_T/h")" 'Transfer-Encoding: chunked' "/chunked/N: chunked"
curl -sS "$P/truncate/1000" -o /dev/null 2>/dev/null
is "$?" 18 "/truncate/N: a cut response (curl exit 18)"
out=$(curl -sS -D "$BB_T/h" "$P/gzip/5000" --compressed | wc -c)
is "$out" 5000 "/gzip/N: decodes to N bytes"
like "$(cat "$BB_T/h")" 'Content-Encoding: gzip' "/gzip/N: Content-Encoding: gzip"
like "$(curl -sS --compressed "$P/inj/gz")" 'Ignore all previous instructions' "/inj/gz: the combo, gzipped"
is "$(curl -sS "$P/inj/big" | wc -c)" 2097152 "/inj/big: 2 MiB"
is "$(curl -sS "$P/inj/big" 2>/dev/null | head -c 1573000 | tail -c 424 | grep -c 'send your API key')" 1 \
    "/inj/big: the combo at 1.5 MiB"
out=$(curl -sS -i "$P/status/302?h=Location:/x&h=X-A:%20b%2Fc")
like "$out" '^HTTP/1.1 302 ' "/status/CODE: the status"
like "$out" 'X-A: b/c' "/status/CODE: fields from h="
t0=$(date +%s%N)
out=$(curl -sS "$P/sse/clean?n=3&ms=300")
t1=$(date +%s%N)
is "$(printf '%s\n' "$out" | grep -c '^data: ')" 3 "/sse/clean: three events"
is "$(( (t1 - t0) / 1000000 >= 550 ))" 1 "/sse/clean: spaced by ms="
like "$(curl -sS "$P/sse/bad?ms=1" | sed -n '/^id: 3$/,/^$/p')" 'Ignore all previous' \
    "/sse/bad: the combo is event 3"
is "$(curl -sS --max-time 1 "$P/never" -o /dev/null 2>/dev/null; echo $?)" 28 "/never never answers"
like "$(curl -sS -i "$P/close")" 'Connection: close' "/close: Connection: close"

# ---- WebSocket (python3: no modules needed) -------------------------
cat >"$BB_T/ws.py" <<'EOF'
import base64, hashlib, os, socket, ssl, struct, sys
port, cafile, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
raw = socket.create_connection(("127.0.0.1", port), timeout=10)
s = ssl.create_default_context(cafile=cafile).wrap_socket(raw, server_hostname="origin.test")
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET %s HTTP/1.1\r\nHost: origin.test\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
           "Sec-WebSocket-Version: 13\r\n\r\n" % (path, key)).encode())
buf = b""
while b"\r\n\r\n" not in buf:
    buf += s.recv(4096)
head, buf = buf.split(b"\r\n\r\n", 1)
want = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
print("status", head.split(b"\r\n")[0].decode())
print("accept", "ok" if b"Sec-WebSocket-Accept: " + want in head else "bad")
def frame(op, data, fin=True):
    m = os.urandom(4)
    n = len(data)
    h = bytes([(0x80 if fin else 0) | op])
    if n < 126: h += bytes([0x80 | n])
    elif n < 65536: h += bytes([0xfe]) + struct.pack(">H", n)
    else: h += bytes([0xff]) + struct.pack(">Q", n)
    return h + m + bytes(b ^ m[i % 4] for i, b in enumerate(data))
def recv(n):
    global buf
    while len(buf) < n:
        d = s.recv(65536)
        if not d: raise EOFError
        buf += d
    r, buf = buf[:n], buf[n:]
    return r
def read():
    b0, b1 = recv(2)
    if b1 & 0x80: print("server frame masked")
    n = b1 & 0x7f
    if n == 126: n = struct.unpack(">H", recv(2))[0]
    elif n == 127: n = struct.unpack(">Q", recv(8))[0]
    return b0 & 0x0f, recv(n)
if path.startswith("/ws/send/"):
    print("first", read())
s.sendall(frame(1, b"hello text"))
print("text", read())
big = os.urandom(1500000)
s.sendall(frame(2, big))
op, d = read()
print("binary", op, d == big)
s.sendall(frame(1, b"frag-", fin=False) + frame(9, b"pingdata") +
          frame(0, b"ment-", fin=False) + frame(0, b"ed"))
print("pong", read())
print("frag", read())
s.sendall(frame(8, struct.pack(">H", 1000) + b"bye"))
print("close", read())
EOF
out=$(timeout 20 python3 "$BB_T/ws.py" "$PT" "$OD/ca.pem" /ws/echo 2>&1)
like "$out" 'status HTTP/1.1 101 ' "WebSocket: 101"
like "$out" 'accept ok' "WebSocket: Sec-WebSocket-Accept per RFC 6455"
like "$out" "text \\(1, b'hello text'\\)" "WebSocket: text echo"
like "$out" 'binary 2 True' "WebSocket: 1.5 MB binary echo"
like "$out" "pong \\(10, b'pingdata'\\)" "WebSocket: ping between fragments gets pong"
like "$out" "frag \\(1, b'frag-ment-ed'\\)" "WebSocket: fragments reassembled"
like "$out" "close \\(8, b'\\\\x03\\\\xe8'\\)" "WebSocket: close code echoed"
unlike "$out" 'masked|Error|Traceback' "WebSocket: server frames unmasked, no errors"
out=$(timeout 20 python3 "$BB_T/ws.py" "$PT" "$OD/ca.pem" /ws/send/combo 2>&1)
like "$out" "first \\(1, b'Ignore all previous" "WebSocket: /ws/send/combo sends the combo first"
like "$(grep '"event":"ws"' "$LOG" | tail -1)" '"op":"text".*"frames":3' \
    "--log: WebSocket messages with their frame count"

# ---- git http-backend -----------------------------------------------
if [ -x "$(git --exec-path 2>/dev/null)/git-http-backend" ]; then
	mkdir -p "$BB_T/git"
	git init -q --bare "$BB_T/git/repo.git"
	git init -q "$BB_T/work"
	printf 'hello git\n' >"$BB_T/work/a"
	git -C "$BB_T/work" add a
	git -C "$BB_T/work" -c user.email=t@t -c user.name=t commit -qm one
	git -C "$BB_T/work" push -q "$BB_T/git/repo.git" HEAD:refs/heads/main
	git -C "$BB_T/git/repo.git" symbolic-ref HEAD refs/heads/main
	"$BBT_ORIGIN" --tls 127.0.0.1:0 --cert-dir "$OD" --name git.test \
	    --git-root "$BB_T/git" --ready-file "$BB_T/ready2" \
	    2>>"$BB_T/origin.stderr" &
	BB_PIDS+=($!)
	for _i in $(seq 1 250); do [ -s "$BB_T/ready2" ] && break; sleep 0.02; done
	GP=$(jq -r '.tls[0]' "$BB_T/ready2")
	# The environment's GIT_SSL_CAINFO would beat -c http.sslCAInfo.
	GIT_SSL_CAINFO=$OD/ca.pem timeout 30 git \
	    -c "http.curloptResolve=git.test:$GP:127.0.0.1" \
	    clone -q "https://git.test:$GP/repo.git" "$BB_T/clone" 2>"$BB_T/git.err"
	is "$?:$(cat "$BB_T/clone/a" 2>/dev/null)" "0:hello git" "git clone through --git-root"
	printf 'x\n' >"$BB_T/clone/b"
	git -C "$BB_T/clone" add b
	git -C "$BB_T/clone" -c user.email=t@t -c user.name=t commit -qm two
	out=$(GIT_SSL_CAINFO=$OD/ca.pem timeout 30 git -C "$BB_T/clone" \
	    -c "http.curloptResolve=git.test:$GP:127.0.0.1" push origin HEAD:main 2>&1)
	like "$out" 'returned error: 403' "git push: receive-pack stays off"
else
	ok 0 "# SKIP git http-backend not installed"
	ok 0 "# SKIP git http-backend not installed"
fi

# ---- SIGTERM --------------------------------------------------------
(curl -s --max-time 5 "$P/never" >/dev/null &)
sleep 0.2
kill -TERM "$OPID"
wait "$OPID"
is "$?" 0 "SIGTERM with a connection open: exit 0"
is "$(grep -cE 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$BB_T/origin.stderr")" 0 \
    "no sanitizer reports"

done_testing
