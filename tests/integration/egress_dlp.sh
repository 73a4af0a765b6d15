#!/usr/bin/env bash
# egress §22 tests 27-41 (outbound DLP and its actions): block, redact,
# supervise holds answered through the queue files, the safelist,
# entropy, CRLF, oversize, streaming holdback.  Test secrets are built
# here, never stored in the repository.
. "$(dirname "$0")/lib.sh"
export EGRESS_TOKEN_ALLOW_TIMEOUT_SECONDS=${HOLD_S:-8}
EGRESS_LOG_LEVEL=1
. "$(dirname "$0")/egress_env.sh"
EGRESS_EXTRA_ROUTES='  - {host: "*.supwild.test"}'
egress_routes
egress_start || { echo "Bail out! sidecar did not start"; exit 1; }

rnd() { head -c 400 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c "$1"; }
GHP="ghp_$(rnd 36)"
GHP2="ghp_$(rnd 36)"
AWS=AKIAIOSFODNN7EXAMPLE
code() { pcurl -o "$BB_T/body" -w '%{http_code}' "$@" 2>/dev/null; }
n_origin() { origin_requests; }

# 27: an AWS key in a body to R1 (block): 403, the origin saw nothing.
n0=$(n_origin)
is "$(code https://origin.test/api/x -d "k=$AWS")" 403 "27: AWS key in a body: 403"
like "$(cat "$BB_T/body")" 'egress DLP: AWS access key ID in body' "27: body names the rule and surface"
like "$(cat "$BB_T/body")" 'reason: dlp_block' "27: reason dlp_block"
is "$(n_origin)" "$n0" "27: the origin saw no request"
is "$(code https://origin.test/api/x -d 'k=AKIA-not-a-key')" 200 "28: a near miss passes"

# 29: a GitHub token in the query, path, a field value and a field name.
like "$(pcurl -s "https://origin.test/api/x?t=$GHP")" 'GitHub classic token in query' "29: query"
like "$(pcurl -s "https://origin.test/api/$GHP")" 'GitHub classic token in path' "29: path"
like "$(pcurl -s https://origin.test/api/x -H "X-Note: $GHP")" 'in header:x-note' "29: field value"
like "$(pcurl -s https://origin.test/api/x -H "X-$GHP: 1")" 'GitHub classic token in header:' "29: field name"

# 30: T0 in its encoded forms, the canary in JSON.
b64=$(printf '%s' "$T0" | base64 -w0)
b64u=$(printf '%s' "$T0" | base64 -w0 | tr '+/' '-_' | tr -d '=')
hex=$(printf '%s' "$T0" | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
basic=$(printf 'user:%s' "$T0" | base64 -w0)
pct=$(printf '%s' "$T0" | od -An -tx1 | tr -d '\n' | sed 's/ /%/g')
dash=$(printf '%s' "$T0" | sed 's/./&-/g')
for form in "base64:$b64" "base64url:$b64u" "hex:$hex" "dash:$dash" "part:${T0:5:20}"; do
	name=${form%%:*} val=${form#*:}
	like "$(pcurl -s https://origin.test/api/x -d "v=$val")" 'known-secret:EGRESS_TOKEN_0' "30: T0 as $name in a body: 403"
done
like "$(pcurl -s https://origin.test/api/x -H "X-Auth: Basic $basic")" 'known-secret:EGRESS_TOKEN_0' "30: inside Basic base64(user:T0)"
like "$(pcurl -s "https://origin.test/api/x?q=$pct")" 'known-secret:EGRESS_TOKEN_0' "30: fully percent-encoded in the query"
like "$(pcurl -s https://origin.test/api/x -H 'Content-Type: application/json' -d "{\"c\":\"$CANARY\"}")" \
    'known-secret:BLUE_OWL_SECRET' "30: the canary in JSON"

# 31: a gzip body with T0: decoded for the scan.
printf 'v=%s' "$T0" | gzip -c >"$BB_T/t0.gz"
is "$(code https://origin.test/api/x -H 'Content-Encoding: gzip' --data-binary @"$BB_T/t0.gz")" 403 "31: gzip body holding T0: 403"
like "$(cat "$BB_T/body")" 'known-secret:EGRESS_TOKEN_0' "31: named as the known secret"
printf 'nothing to see here' | gzip -c >"$BB_T/clean.gz"
out=$(pcurl -s https://origin.test/api/x -H 'Content-Encoding: gzip' --data-binary @"$BB_T/clean.gz")
is "$(printf '%s' "$out" | jq -r .body_sha256)" "$(sha256sum "$BB_T/clean.gz" | cut -d' ' -f1)" \
    "31: a clean gzip body leaves as it came"
printf 'not gzip at all' >"$BB_T/fake.gz"
is "$(code https://origin.test/api/x -H 'Content-Encoding: gzip' --data-binary @"$BB_T/fake.gz")" 403 \
    "31: a corrupt gzip body: 403 unscannable_encoding"
# unscannable coding; fullwidth evasion (also on the redact route).
is "$(code https://origin.test/api/x -H 'Content-Encoding: zstd' --data-binary x)" 403 "31: zstd body: 403"
like "$(cat "$BB_T/body")" 'unscannable_encoding' "31: reason unscannable_encoding"
fw=$(python3 -c 'import sys; print("".join(chr(ord(c)+0xFEE0) if "!"<=c<="~" else c for c in sys.argv[1]))' "$GHP")
like "$(pcurl -s https://origin.test/api/x -d "t=$fw")" 'dlp_block' "31: a fullwidth token: 403"
like "$(pcurl -s https://red.test/echo -d "t=$fw")" 'dlp_block' "31: on the redact route too"

# 32: a 5 MiB chunked body with a token at 4 MiB: 403, cut before it.
python3 - "$GHP" >"$BB_T/big" <<'PY'
import sys
sys.stdout.write("a" * (4 << 20) + " " + sys.argv[1] + " " + "b" * (1 << 20))
PY
is "$(code https://origin.test/api/x -H 'Transfer-Encoding: chunked' --data-binary @"$BB_T/big")" 403 "32: a token at 4 MiB of a 5 MiB chunked body: 403"
sleep 0.3
pre=$(grep '"event":"request"' "$ORIGIN_LOG" | tail -1 | jq -r '.body_len')
ok $([ "${pre:-0}" -lt $((4 << 20)) ] && echo 0 || echo 1) "32: the origin got $pre bytes, none at or past the token"

# 33: a piece of T0 in a host label (block route): refused on the CONNECT.
like "$(pcurl -v "https://${T0:0:20}.wild.test/" 2>&1)" 'X-Bb-Sidecar-Reason: dlp_block' "33: T0 in a host label: CONNECT 403"
like "$(bb_log | grep '"surface":"host"' | tail -1)" 'known-secret:EGRESS_TOKEN_0' "33: logged with surface host"

# 33 under supervise: the CONNECT itself is held, then released.
rm -f "$STATE/supervise/pending/"*.json 2>/dev/null
curl -sS --max-time 20 --proxy "http://127.0.0.1:$PX" --cacert "$CONF/ca-cert.pem" \
    -o /dev/null -w '%{http_connect}' "https://${T0:0:20}.supwild.test/" >"$BB_T/c33" 2>/dev/null &
p33=$!
id=
for _i in $(seq 1 60); do
	id=$(ls "$STATE/supervise/pending" 2>/dev/null | sed -n 's/\.json$//p' | head -1)
	[ -n "$id" ] && break
	sleep 0.05
done
is "$(jq -r .payload.method "$STATE/supervise/pending/$id.json" 2>/dev/null)" CONNECT "33: a host-label hit on a supervise route holds the CONNECT"
ok $(grep -qF "${T0:0:20}" "$STATE/supervise/pending/$id.json" && echo 1 || echo 0) "33: the proposal holds no secret bytes"
printf '{"id":"%s","status":"approved","notes":"ok"}' "$id" >"$STATE/supervise/responses/$id.json"
wait $p33
is "$(cat "$BB_T/c33")" 200 "33: approved: the tunnel opens"

# 34: URL-encoded CRLF, on every route.
is "$(code --path-as-is 'https://sup.test/a%0d%0aSet-Cookie:x=1')" 403 "34: %0d%0a in the path: 403"
like "$(cat "$BB_T/body")" 'crlf_injection' "34: reason crlf_injection"
is "$(code --path-as-is 'https://red.test/a%0D%0Ab')" 403 "34: on the redact route too"
is "$(code https://sup.test/echo -H 'X-A: b%0D%0Ac')" 403 "34: in a field value"
is "$(code https://sup.test/echo -d 'x=%0d%0a')" 200 "34: in a body: 200"

# 35: redact in query, field and body; Content-Length recomputed.
out=$(pcurl -s "https://red.test/echo?t=$GHP" -H "X-T: $GHP" -d "$GHP")
is "$(printf '%s' "$out" | jq -r .target)" '/echo?t=********' "35: query redacted"
is "$(printf '%s' "$out" | jq -r '.headers[] | select(.[0]=="X-T") | .[1]')" '********' "35: field redacted"
is "$(printf '%s' "$out" | jq -r .body_prefix)" '********' "35: body redacted"
is "$(printf '%s' "$out" | jq -r '.headers[] | select(.[0]=="Content-Length") | .[1]')" 8 "35: Content-Length recomputed"
like "$(bb_log | grep '"event":"redact"' | tail -1)" 'github-pat-classic' "35: redact logged"

# 36: a 3 MiB body with a token at 2 MiB on R3: same-length stars.
python3 - "$GHP" >"$BB_T/b3" <<'PY'
import sys
sys.stdout.write("a" * (2 << 20) + " " + sys.argv[1] + " " + "b" * ((1 << 20) - len(sys.argv[1])))
PY
out=$(pcurl -s https://red.test/echo --data-binary @"$BB_T/b3")
exp=$(python3 -c 'import hashlib,sys; print(hashlib.sha256(b"a"*(2<<20)+b" "+b"*"*40+b" "+b"b"*((1<<20)-40)).hexdigest())')
is "$(printf '%s' "$out" | jq -r .body_sha256)" "$exp" "36: streamed body: same-length stars, declared length kept"
like "$(pcurl -v "https://${T0:0:20}.redwild.test/" 2>&1)" 'dlp_unredactable' "36: a host label cannot be redacted"

# 37: supervise hold on R2; approve through the queue files.
respond() {	# respond STATUS [notes]
	local id
	for _i in $(seq 1 100); do
		id=$(ls "$STATE/supervise/pending" 2>/dev/null | grep -v '^\.' | sed -n 's/\.json$//p' | tail -1)
		[ -n "$id" ] && break
		sleep 0.05
	done
	[ -n "$id" ] || return 1
	printf '{"id":"%s","status":"%s","notes":"%s"}' "$id" "$1" "${2:-ok}" \
	    >"$STATE/supervise/responses/.$id.tmp"
	mv "$STATE/supervise/responses/.$id.tmp" "$STATE/supervise/responses/$id.json"
	echo "$id"
}
n0=$(n_origin)
pcurl -s -o "$BB_T/h37" -w '%{http_code}' https://sup.test/echo -d "$GHP" >"$BB_T/h37.code" &
held=$!
sleep 1
pend=$(ls "$STATE/supervise/pending"/*.json 2>/dev/null | head -1)
ok $([ -n "$pend" ] && echo 0 || echo 1) "37: within 1 s an egress-token-allow proposal is pending"
is "$(jq -r .kind "$pend" 2>/dev/null)" egress-token-allow "37: kind egress-token-allow"
is "$(jq -r .payload.rule "$pend" 2>/dev/null)" github-pat-classic "37: rule github-pat-classic"
like "$(jq -r .payload.context "$pend" 2>/dev/null)" '\[REDACTED rule=github-pat-classic len=40\]' "37: context redacted"
ok $(grep -qF "$GHP" "$pend" && echo 1 || echo 0) "37: no token bytes in the proposal"
is "$(n_origin)" "$n0" "37: the origin has seen nothing"
is "$(curl -s "http://127.0.0.1:$BB_CTL/metrics" | awk '$1 == "bb_egress_holds_pending" {print $2}')" 1 \
    "57: bb_egress_holds_pending 1 during the hold"
respond approved "tested" >/dev/null
wait $held
is "$(cat "$BB_T/h37.code")" 200 "37: approved: 200"
is "$(code https://sup.test/echo -d "$GHP")" 200 "37: the same request again: 200 at once"
ok $([ "$(ls "$STATE/supervise/pending" | grep -c json)" = 0 ] && echo 0 || echo 1) "37: no new proposal"
is "$(pcurl -s https://red.test/echo -d "$GHP" | jq -r .body_prefix)" '********' "37: still redacted on red.test"
is "$(code https://origin.test/api/x -d "$GHP")" 403 "37: still blocked on R1"

# 38: rejected; timed out; queue unwritable.
pcurl -s -o "$BB_T/h38" https://sup.test/echo -d "$GHP2" &
held=$!
sleep 0.5
respond rejected "no" >/dev/null
wait $held
like "$(cat "$BB_T/h38")" 'dlp_rejected' "38: rejected: 403 dlp_rejected"
ok $(ls "$STATE/supervise/archive" | grep -q 'proposal' && echo 0 || echo 1) "38: files archived"
G3="ghp_$(rnd 36)"
t0=$(date +%s)
PCURL_TIMEOUT=30 pcurl -s -o "$BB_T/h38b" https://sup.test/echo -d "$G3"
dt=$(( $(date +%s) - t0 ))
like "$(cat "$BB_T/h38b")" 'dlp_hold_timeout' "38: no decision: 403 dlp_hold_timeout"
ok $([ "$dt" -ge $((EGRESS_TOKEN_ALLOW_TIMEOUT_SECONDS - 1)) ] && echo 0 || echo 1) "38: after the deadline (${dt} s)"

# 39: one proposal per scan step with every new value; the safelisted
# one is not held again; a client that leaves is noticed.
clear_pending() { rm -f "$STATE/supervise/pending/"*.json; }
G4="ghp_$(rnd 36)" G5="ghp_$(rnd 36)"
pending_count() { ls "$STATE/supervise/pending" 2>/dev/null | grep -c '\.json$'; }
before=$(pending_count)
curl -sS --max-time 20 --proxy "http://127.0.0.1:$PX" --cacert "$CONF/ca-cert.pem" \
    -o /dev/null https://sup.test/echo -d "$GHP $G4" &
p1=$!
sleep 0.8
newest=$(ls -t "$STATE/supervise/pending"/*.json 2>/dev/null | head -1)
is "$(jq '.payload.hits | length' "$newest" 2>/dev/null)" 1 "39: the safelisted token is not held again: one hit"
kill $p1 2>/dev/null; wait $p1 2>/dev/null
sleep 0.5
like "$(bb_log | grep '"event":"hold_result"' | tail -1)" '"result":"client_gone"' "39: the agent left: hold_result client_gone"
ok $([ -f "$newest" ] && echo 0 || echo 1) "39: and the proposal stays pending"
n1=$(pending_count)
pcurl -s -o /dev/null https://sup.test/echo -d "$G4 $G5" &
p1=$!
sleep 0.8
pcurl -s -o /dev/null https://sup.test/echo -d "$G4 $G5" &
p2=$!
sleep 0.8
n2=$(pending_count)
is "$n2" "$((n1 + 1))" "39: two new tokens, twice: one proposal"
newest=$(ls -t "$STATE/supervise/pending"/*.json | head -1)
is "$(jq '.payload.hits | length' "$newest")" 2 "39: with both in hits[]"
kill $p1 $p2 2>/dev/null; wait $p1 $p2 2>/dev/null

# 40: entropy warns, never blocks (R3 lists entropy).
head -c 3072 /dev/urandom | base64 -w0 >"$BB_T/rand"
is "$(code https://red.test/echo --data-binary @"$BB_T/rand")" 200 "40: random base64 on R3: 200"
like "$(bb_log | grep '"rule":"entropy"' | tail -1)" '"event":"warn"' "40: a warn event rule entropy"

# 41: max_body_bytes on R16.
head -c 2048 /dev/zero | tr '\0' a >"$BB_T/2k"
is "$(code https://big.test/echo --data-binary @"$BB_T/2k")" 413 "41: 2 KiB to a 1 KiB route: 413"

for v in T0 CANARY GHP GHP2; do bb_secret_free "${!v}" || { diag "$v found:"; grep -rlF -- "${!v}" "$BB_STDERR" "$STATE" | sed "s|^|#   |"; grep -hoF -- "${!v}" "$BB_STDERR" | head -2; grep -F -- "${!v}" "$BB_STDERR" | head -2 | cut -c1-400 | sed "s|^|#   |"; }; done
metrics=$(curl -s "http://127.0.0.1:$BB_CTL/metrics")
like "$metrics" 'bb_egress_dlp_hits_total\{detector="token_patterns",rule="github-pat-classic",direction="up",action="block"\} [1-9]' \
    "57: DLP hits by rule and action"
like "$metrics" 'bb_egress_holds_total\{outcome="approved"\} [1-9]' "57: holds by outcome"
like "$metrics" 'bb_egress_safelist_entries [1-9]' "safelist entries counted"
unlike "$metrics" "$GHP|$T0" "no secret in /metrics"
ok $(bb_secret_free "$T0" "$CANARY" "$GHP" "$GHP2" && echo 0 || echo 1) "no test secret in stderr or the state dir"
ok $(bb_no_sanitizer_reports && echo 0 || echo 1) "no sanitizer reports"
bb_stop
is $? 0 "SIGTERM: exit 0"
done_testing
