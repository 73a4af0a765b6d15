#!/usr/bin/env bash
# gitgate §16 tests 13-16, 20, 35 (and 13 over HTTP, test 31): pushes
# held on suppressed findings, decided by the operator command or by
# hand-written queue files; the lease after a hold; SIGKILL while held.
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

ok $(bb_secret_free "$AKIA" && echo 0 || echo 1) "the secret is in no log or state file"
ok $(bb_no_sanitizer_reports && echo 0 || echo 1) "no sanitizer reports"
bb_stop
is $? 0 "SIGTERM: exit 0"
done_testing
