#!/usr/bin/env bash
# gitgate §16 tests 26-28: pack limits, malformed input on both fronts,
# and the idle, stalled-push and write-stall timeouts (shortened).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gitgate_env.sh"

sshd_start || { echo "Bail out! sshd did not start"; exit 1; }
up_init up
# A 16 MiB random blob: a pack larger than every socket buffer.
git init -q --bare "$UP/big.git"
w=$BB_T/seed-big
git init -q -b main "$w"
head -c 16777216 /dev/urandom >"$w/big.bin"
git -C "$w" add big.bin
git -C "$w" commit -q -m big
git -C "$w" push -q "$UP/big.git" main
cat >"$CONF/sidecar.yaml" <<EOF
gitgate:
  max_pack_bytes: 1048576
  max_pack_objects: 1000
  idle_timeout_s: 3
  write_stall_timeout_s: 3
EOF
gg_config "$(gg_repo up)" "$(gg_repo big)"
gg_start || { echo "Bail out! sidecar did not start"; exit 1; }
G clone -q "$(GURL up)" "$BB_T/w" 2>/dev/null
MAIN=$(git -C "$UP/up.git" rev-parse main)
ZERO=0000000000000000000000000000000000000000
mirror_state() {
	{ git -C "$STATE/git/up.git" for-each-ref
	  ls "$STATE/git/up.git/objects/pack"; } | md5sum
}
incoming_empty() {
	[ -z "$(ls -A "$STATE/git/up.git/bb-incoming" 2>/dev/null)" ]
}
healthz() { curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://127.0.0.1:$BB_CTL/healthz"; }
req() { pkt "git-$1-pack /up.git\\0host=127.0.0.1\\0"; }

# ---- 26: limits ----
m0=$(mirror_state)
d=$BB_T/w
head -c 5242880 /dev/urandom >"$d/five.bin"
git -C "$d" add five.bin
git -C "$d" commit -q -m five
out=$(G -C "$d" push origin HEAD:main 2>&1)
like "$out" 'unpack failed: pack exceeds max_pack_bytes \(1 MiB\)|unpack pack exceeds max_pack_bytes \(1 MiB\)' \
    "26: a 5 MiB push: unpack pack exceeds max_pack_bytes (1 MiB)"
like "$out" 'HEAD -> main \(unpacker error\)' "26: ng ... unpacker error"
sleep 0.5
is "$(mirror_state)" "$m0" "26: mirror clean"
incoming_empty
ok $? "26: no quarantine left"
git -C "$d" reset -q --hard HEAD~1
# A forged object count: refused at the header, before any indexing.
out=$( { req receive; pkt "$MAIN $MAIN refs/heads/forged\\0report-status"; printf 0000;
    printf 'PACK\0\0\0\002\177\377\377\377'; } | raw_send "$GG_GIT" 4)
like "$out" 'unpack pack exceeds max_pack_objects' "26: a forged count: pack exceeds max_pack_objects"
like "$out" 'ng refs/heads/forged unpacker error' "26: ...ng unpacker error"
sleep 0.5
incoming_empty
ok $? "26: no quarantine left"

# ---- 27: malformed input ----
p0=$(log_count proto_error)
check27() {	# check27 DESC OUTPUT REGEX
	like "$2" "$3" "27: $1: refused"
	p1=$(log_count proto_error)
	ok $([ "$p1" -gt "$p0" ] && echo 0 || echo 1) "27: $1: proto_error logged"
	p0=$p1
}
check27 "bad hex length" "$(printf 'zzzz' | raw_send "$GG_GIT" 2)" 'ERR bb-sidecar: bad request: bad pkt-line length'
check27 "length 2" "$(printf '0002' | raw_send "$GG_GIT" 2)" 'ERR bb-sidecar: bad request: bad pkt-line length \(1-3\)'
check27 "length 65521" "$(printf 'fff1abcd' | raw_send "$GG_GIT" 2)" 'ERR bb-sidecar: bad request: pkt-line longer than 65520'
check27 "a truncated packet" "$(printf '0040git-upload' | raw_send "$GG_GIT" 2 eof)" 'ERR bb-sidecar: bad request: truncated'
check27 "no NUL" "$(pkt 'git-upload-pack /up.git' | raw_send "$GG_GIT" 2)" 'ERR bb-sidecar: bad request: the request line has no NUL'
check27 "an unknown service" "$(pkt 'git-upload-archive /up.git\0host=x\0' | raw_send "$GG_GIT" 2)" 'ERR bb-sidecar: bad request: unknown service'
check27 "garbage after the flush" "$( { req upload; pkt "want $MAIN ofs-delta\\n"; printf '0000zzzz'; } | raw_send "$GG_GIT" 3)" 'ERR bb-sidecar: protocol error: bad pkt-line length'
check27 "a bad want oid" "$( { req upload; pkt "want xyz$MAIN ofs-delta\\n"; printf 0000; } | raw_send "$GG_GIT" 3)" 'ERR bb-sidecar: protocol error: bad oid in a want line'
check27 "a truncated pack" "$( { req receive; pkt "$ZERO $MAIN refs/heads/trunc\\0report-status"; printf 0000; printf 'PACK\0\0\0\002\0\0\0\003\x95'; } | raw_send "$GG_GIT" 3 eof)" 'unpack the pack is truncated|ERR'
hb() {	# hb ARGS...: the status of a POST to upload-pack
	curl -s -o "$BB_T/hbody" -w '%{http_code}' --max-time 5 -X POST \
	    -H 'Content-Type: application/x-git-upload-pack-request' "$@" \
	    "http://127.0.0.1:$GG_HTTP/up.git/git-upload-pack"
}
is "$(printf 'this is not gzip' | hb -H 'Content-Encoding: gzip' --data-binary @-)" 400 "27: http: bad gzip: 400"
like "$(cat "$BB_T/hbody")" 'bb-sidecar: bad gzip' "27: http: ...bb-sidecar: bad gzip"
is "$( { pkt "want $MAIN ofs-delta\\n"; printf 0000; pkt 'done\n'; printf 'junk'; } | hb --data-binary @-)" 400 \
    "27: http: bytes after the request: 400"
st=$(curl -s -o "$BB_T/hbody" -w '%{http_code}' --max-time 5 "http://127.0.0.1:$GG_HTTP/up.git/info/refs?service=git-upload-pack&x=1")
is "$st" 400 "27: http: a bad query: 400"
st=$(curl -s -o "$BB_T/hbody" -w '%{http_code}' --max-time 5 "http://127.0.0.1:$GG_HTTP/up.git/info/refs")
is "$st" 403 "27: http: dumb HTTP: 403"
like "$(cat "$BB_T/hbody")" 'bb-sidecar: dumb HTTP is not supported' "27: http: ...with its text"
st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X PUT "http://127.0.0.1:$GG_HTTP/up.git/git-upload-pack")
is "$st" 405 "27: http: a wrong method: 405"
st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST -H 'Content-Type: text/plain' --data x "http://127.0.0.1:$GG_HTTP/up.git/git-upload-pack")
is "$st" 415 "27: http: a wrong Content-Type: 415"
is "$(healthz)" 200 "27: /healthz stays OK"
G clone -q "$(HURL up)" "$BB_T/after27" 2>/dev/null
ok $? "27: a following clone works"

# ---- 28: timeouts ----
t0=$(date +%s.%N)
out=$(printf '' | raw_send "$GG_GIT" 8)
t1=$(date +%s.%N)
like "$out" 'ERR bb-sidecar: timed out after 3 s waiting for client data' "28: a silent git:// connection gets ERR"
el=$(echo "$t1 - $t0" | awk '{print $1 - $3}')
ok $(awk -v e="$el" 'BEGIN { exit !(e >= 2.5 && e < 6) }' && echo 0 || echo 1) \
    "28: ...after about idle_timeout_s ($el s)"
m0=$(mirror_state)
out=$( { req receive; pkt "$ZERO $MAIN refs/heads/stall\\0report-status"; printf 0000;
    printf 'PACK\0\0\0\002\0\0\0\001'; } | raw_send "$GG_GIT" 8)
like "$out" 'timed out after 3 s waiting for client data' "28: a push stalled mid-pack is closed"
sleep 0.5
is "$(mirror_state)" "$m0" "28: mirror clean"
incoming_empty
ok $? "28: no quarantine left"
G ls-remote "$(GURL big)" >/dev/null 2>&1	# warm the big mirror
BIGMAIN=$(git -C "$UP/big.git" rev-parse main)
out=$( { pkt "git-upload-pack /big.git\\0host=127.0.0.1\\0"; pkt "want $BIGMAIN ofs-delta side-band-64k\\n"; printf 0000; pkt 'done\n'; } |
    timeout 20 python3 -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.sendall(sys.stdin.buffer.read())
time.sleep(8)
try:
    s.settimeout(5)
    n = 0
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        n += len(b)
    print("eof after", n)
except Exception as e:
    print("error", e)
' "$GG_GIT")
n=$(printf '%s' "$out" | sed -n 's/^eof after //p')
ok $([ -n "$n" ] && [ "$n" -lt 16000000 ] || printf '%s' "$out" | grep -q '^error' && echo 0 || echo 1) \
    "28: a client that stops reading is dropped ($out)"
like "$(bb_log)" '"what":"write_stall"' "28: ...after write_stall_timeout_s (logged)"

ok $(bb_no_sanitizer_reports && echo 0 || echo 1) "no sanitizer reports"
bb_stop
is $? 0 "SIGTERM: exit 0"
done_testing
