#!/usr/bin/env bash
# gitgate §16 tests 13-16, 20, 35 (and 13 over HTTP, test 31): pushes
# held on suppressed findings, decided by the operator command or by
# hand-written queue files; the lease after a hold; SIGKILL while held;
# SIGTERM while held and requests caught by the drain (§11).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gitgate_env.sh"

sshd_start || { echo "Bail out! sshd did not start"; exit 1; }
up_init up
gg_config "$(gg_repo up)"
gg_start || { echo "Bail out! sidecar did not start"; exit 1; }
AKIA=AKIA$(head -c 300 /dev/urandom | tr -dc 'A-Z2-7' | head -c 16)
SUP=$STATE/supervise
op() { "$BB_SIDECAR" supervise --state-dir "$STATE" --by tester "$@"; }

up_state() {
	{ git -C "$UP/up.git" for-each-ref
	  git -C "$UP/up.git" rev-list --all --objects | sort; } | md5sum
}
mirror_state() {
	{ git -C "$STATE/git/up.git" for-each-ref
	  ls "$STATE/git/up.git/objects/pack"; } | md5sum
}
incoming_empty() {
	[ -z "$(ls -A "$STATE/git/up.git/bb-incoming" 2>/dev/null)" ]
}
# A pending proposal's id, waiting at most 20 s; "" if none came.
wait_proposal() {
	local i f
	for i in $(seq 1 400); do
		f=$(ls "$SUP/pending" 2>/dev/null | grep -E '^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{12}\.json$' | head -1)
		[ -n "$f" ] && { echo "${f%.json}"; return 0; }
		sleep 0.05
	done
	return 1
}
# held_push DIR URL OUT: commits a suppressed secret, pushes in the
# background (output to OUT); sets HP to the push's pid.
held_push() {
	rm -rf "$1"
	G clone -q "$2" "$1" 2>/dev/null
	printf 'aws_key = "%s"  # gitleaks:allow\n' "$AKIA" \
	    >"$1/held-${1##*/}.txt"
	git -C "$1" add "held-${1##*/}.txt"
	git -C "$1" commit -q -m "held"
	G -C "$1" push --progress origin HEAD:main >"$3" 2>&1 &
	HP=$!
}

for front in git http; do
	url=$([ $front = git ] && GURL up || HURL up)
	# ---- 13: approved ----
	held_push "$BB_T/h13-$front" "$url" "$BB_T/h13-$front.out"
	id=$(wait_proposal)
	ok $? "13: $front: the push became a proposal"
	sleep 0.5
	like "$(cat "$BB_T/h13-$front.out")" "waiting for operator approval of proposal $id" \
	    "13: $front: the client shows the proposal id"
	show=$(op show "$id")
	c=$(git -C "$BB_T/h13-$front" rev-parse HEAD)
	like "$show" '"ref":"refs/heads/main"' "13: $front: the proposal names the ref"
	like "$show" "\"commit\":\"$c\".*\"file\":\"held-h13-$front.txt\",\"line\":1,\"rule\":\"aws-access-key-id\"" \
	    "13: $front: ...commit, file, line and rule"
	like "$show" 'aws_key = \\"\*\*\*\*\*\*\*\*\\"  # gitleaks:allow' "13: $front: ...the redacted line"
	unlike "$show" "$AKIA" "13: $front: ...never the value"
	op approve "$id" --notes "fine for a test" >/dev/null
	wait $HP
	ok $? "13: $front: approval lands the push"
	like "$(cat "$BB_T/h13-$front.out")" 'approved by operator: fine for a test' \
	    "13: $front: the notes are shown"
	is "$(git -C "$UP/up.git" rev-parse main)" "$c" "13: $front: it is upstream"
done

# ---- 14: rejected ----
before_up=$(up_state); before_m=$(mirror_state)
held_push "$BB_T/h14" "$(GURL up)" "$BB_T/h14.out"
id=$(wait_proposal)
op reject "$id" --notes "not this key" >/dev/null
wait $HP
out=$(cat "$BB_T/h14.out")
like "$out" 'HEAD -> main \(operator rejected the suppressed findings\)' "14: ng operator rejected"
like "$out" 'operator notes: not this key' "14: the operator's notes are shown"
is "$(up_state)" "$before_up" "14: upstream unchanged"
sleep 0.5
is "$(mirror_state)" "$before_m" "14: mirror clean"
incoming_empty
ok $? "14: no quarantine left"

# ---- 16: approval unavailable, mixed findings ----
mv "$SUP/pending" "$SUP/pending.away"
: >"$SUP/pending"
held_push "$BB_T/h16" "$(GURL up)" "$BB_T/h16.out"
t0=$(date +%s)
wait $HP
t1=$(date +%s)
like "$(cat "$BB_T/h16.out")" 'operator approval unavailable' "16: an unwritable queue: approval unavailable"
ok $([ $((t1 - t0)) -lt 10 ] && echo 0 || echo 1) "16: ...at once ($((t1 - t0)) s)"
rm -f "$SUP/pending"
mv "$SUP/pending.away" "$SUP/pending"
d=$BB_T/h16c
G clone -q "$(GURL up)" "$d" 2>/dev/null
printf 'a = "%s"  # gitleaks:allow\nb = "AKIAZZZZZZZZZZZZZZZZ"\n' "$AKIA" >"$d/mixed.txt"
git -C "$d" add mixed.txt
git -C "$d" commit -q -m mixed
n0=$(ls "$SUP/pending" "$SUP/archive" 2>/dev/null | wc -l)
out=$(G -C "$d" push origin HEAD:main 2>&1)
like "$out" 'secret detected' "16: one suppressed and one unsuppressed finding reject"
like "$out" '\(suppressed\)' "16: ...listing the suppressed one as such"
is "$(ls "$SUP/pending" "$SUP/archive" 2>/dev/null | wc -l)" "$n0" "16: ...without a proposal"

# ---- 20: lease ----
held_push "$BB_T/h20" "$(GURL up)" "$BB_T/h20.out"
id=$(wait_proposal)
up_commit up lease.txt "out of band during the hold"
oob=$(git -C "$UP/up.git" rev-parse main)
op approve "$id" --notes lease >/dev/null
wait $HP
like "$(cat "$BB_T/h20.out")" 'HEAD -> main \(fetch first: upstream ref changed\)' \
    "20: fetch first: upstream ref changed"
is "$(git -C "$UP/up.git" rev-parse main)" "$oob" "20: the out-of-band commit survives"

# ---- 35: SIGKILL while held ----
before_up=$(up_state)
G ls-remote "$(GURL up)" >/dev/null 2>&1
before_m=$(mirror_state)
held_push "$BB_T/h35" "$(GURL up)" "$BB_T/h35.out"
id=$(wait_proposal)
kill -KILL "$BB_SIDECAR_PID"
wait "$BB_SIDECAR_PID" 2>/dev/null
BB_SIDECAR_PID=
wait $HP
# ---- 15 and 16 with a 3 s bound ----
export GITGATE_ALLOW_TIMEOUT_SECONDS=3
gg_start || { echo "Bail out! sidecar did not restart"; exit 1; }
incoming_empty
ok $? "35: after SIGKILL and restart bb-incoming is empty"
is "$(up_state)" "$before_up" "35: upstream unchanged"
is "$(mirror_state)" "$before_m" "35: mirror unchanged"
d=$BB_T/h35
git -C "$d" reset -q --hard HEAD~1
G -C "$d" pull -q --rebase origin main 2>/dev/null
echo retry >"$d/retry.txt"
git -C "$d" add retry.txt
git -C "$d" commit -q -m retry
G -C "$d" push -q origin HEAD:main 2>/dev/null
ok $? "35: a retried push works"

held_push "$BB_T/h15" "$(GURL up)" "$BB_T/h15.out"
id=$(wait_proposal)
wait $HP
like "$(cat "$BB_T/h15.out")" 'HEAD -> main \(operator approval timed out after 3 s\)' \
    "15: ng operator approval timed out after 3 s"
sleep 0.5
like "$(cat "$SUP/archive/$id.response.json" "$SUP/archive/$id"* 2>/dev/null)" '"expired"' \
    "15: the proposal is archived expired"
op approve "$id" --notes late >/dev/null 2>&1
ok $([ $? -ne 0 ] && echo 0 || echo 1) "15: a late approval is refused"
is "$(git -C "$UP/up.git" log -1 --format=%s main)" retry "15: ...and changes nothing"

m0=$(bb_log | grep -c queue_malformed)
held_push "$BB_T/h16b" "$(GURL up)" "$BB_T/h16b.out"
id=$(wait_proposal)
printf 'this is { not json' >"$SUP/responses/.tmp-$id"
mv "$SUP/responses/.tmp-$id" "$SUP/responses/$id.json"
wait $HP
is "$(( $(bb_log | grep -c queue_malformed) - m0 ))" 1 "16: a garbage response logs one queue_malformed"
like "$(cat "$BB_T/h16b.out")" 'operator approval timed out after 3 s' \
    "16: ...and the push still times out"

bb_stop
is $? 0 "SIGTERM: exit 0"

# ---- §11 drain: a held push and requests caught by SIGTERM ----
# late_send PORT FIRST REST OUT: connects, sends FIRST (printf escapes)
# now and REST once $BB_T/termed exists, then writes what came back
# (until EOF, at most 6 s) to OUT.
late_send() { python3 -c '
import os, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
first, rest = (x.encode().decode("unicode_escape").encode("latin-1")
    for x in sys.argv[2:4])
if first:
    s.sendall(first)
while not os.path.exists(sys.argv[5]):
    time.sleep(0.02)
time.sleep(0.3)
try:
    s.sendall(rest)
except OSError:
    pass
out, end = b"", time.time() + 6
try:
    while time.time() < end:
        s.settimeout(max(0.05, end - time.time()))
        b = s.recv(65536)
        if not b:
            break
        out += b
except Exception:
    pass
open(sys.argv[4], "wb").write(out)
' "$@" "$BB_T/termed"; }
unset GITGATE_ALLOW_TIMEOUT_SECONDS
gg_start || { echo "Bail out! sidecar did not restart"; exit 1; }
held_push "$BB_T/hd" "$(GURL up)" "$BB_T/hd.out"
id=$(wait_proposal)
ok $? "11: drain: a push is held"
req='002bgit-upload-pack /up.git\0host=127.0.0.1\0'
late_send "$GG_GIT" "" "$req" "$BB_T/d-git0.out" & L1=$!
late_send "$GG_GIT" "002" "${req#002}" "$BB_T/d-git1.out" & L2=$!
late_send "$GG_HTTP" 'GET /up.git/info/refs?service=git-upload-pack HTTP/1.1\r\nHost: x\r\n' \
    '\r\n' "$BB_T/d-http.out" & L3=$!
sleep 0.5
t0=$(date +%s%N)
kill -TERM "$BB_SIDECAR_PID"
: >"$BB_T/termed"
wait $HP
t1=$(date +%s%N)
like "$(cat "$BB_T/hd.out")" 'HEAD -> main \(gate shutting down\)' \
    "11: drain: the held push gets ng gate shutting down"
ok $([ $(( (t1 - t0) / 1000000 )) -lt 4000 ] && echo 0 || echo 1) \
    "11: drain: ...at once ($(( (t1 - t0) / 1000000 )) ms), not at the drain deadline"
wait $L1 $L2 $L3
like "$(cat "$BB_T/d-git0.out")" 'ERR bb-sidecar: gate shutting down, retry' \
    "11: drain: a git:// connection without a request line gets ERR, not a silent close"
like "$(cat "$BB_T/d-git1.out")" 'ERR bb-sidecar: gate shutting down, retry' \
    "11: drain: ...likewise one with half a request line"
d_http=$(cat "$BB_T/d-http.out")
like "$d_http" '^HTTP/1.1 503' "11: drain: an HTTP request completed during the drain gets 503"
like "$d_http" 'bb-sidecar: gate shutting down, retry' "11: drain: ...with a bb-sidecar: body"
wait "$BB_SIDECAR_PID"
is $? 0 "11: drain: exit 0"
BB_SIDECAR_PID=
ok $([ ! -e "$SUP/pending/$id.json" ] && echo 0 || echo 1) "11: drain: the proposal is no longer pending"
like "$(cat "$SUP/archive/$id.response.json" 2>/dev/null)" 'sidecar stopping' \
    "11: drain: ...archived as stopped"
incoming_empty
ok $? "11: drain: no quarantine left"
like "$(bb_log | grep '"event":"refused"' | grep -c '"reason":"draining"')" '^[3-9]' \
    "11: drain: the refusals are logged"

ok $(bb_secret_free "$AKIA" && echo 0 || echo 1) "the secret is in no log or state file"
ok $(bb_no_sanitizer_reports && echo 0 || echo 1) "no sanitizer reports"
done_testing
