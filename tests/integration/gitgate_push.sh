#!/usr/bin/env bash
# gitgate §16 tests 6-12, 17-19, 21, 29, 31, 33: clean and rejected
# pushes on both fronts, the scan's surfaces and skips, known secrets,
# tags, force and delete policy, concurrent pushes, HTTP specifics and
# per-ref results, against a real OpenSSH upstream.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gitgate_env.sh"

KNOWN=$(head -c 300 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 32)
export EGRESS_TOKEN_1=$KNOWN
AKIA=AKIA$(head -c 300 /dev/urandom | tr -dc 'A-Z2-7' | head -c 16)

# The upstream shell records each command, so "no push" can be checked.
cat >"$SSHD_DIR/shell.sh" <<EOF
#!/bin/sh
echo "\$SSH_ORIGINAL_COMMAND" >>"$SSHD_DIR/commands.log"
exec git-shell -c "\$SSH_ORIGINAL_COMMAND"
EOF
chmod +x "$SSHD_DIR/shell.sh"
sshd_write_config
sed -i "s|^ForceCommand .*|ForceCommand $SSHD_DIR/shell.sh|" "$SSHD_DIR/sshd_config"
sshd_start || { echo "Bail out! sshd did not start"; exit 1; }
receive_count() { grep -c 'git-receive-pack' "$SSHD_DIR/commands.log" 2>/dev/null; }

up_init up
up_init upf
gg_config "$(gg_repo up)" \
    "$(gg_repo upf 'allow_force_push: true' 'allow_delete: true')"
gg_start || { echo "Bail out! sidecar did not start"; exit 1; }

# State fingerprints: upstream refs + objects; mirror refs + packs.
up_state() {
	{ git -C "$UP/$1.git" for-each-ref
	  git -C "$UP/$1.git" rev-list --all --objects | sort; } | md5sum
}
mirror_state() {
	{ git -C "$STATE/git/$1.git" for-each-ref
	  ls "$STATE/git/$1.git/objects/pack"; } | md5sum
}
incoming_empty() {
	[ -z "$(ls -A "$STATE/git/$1.git/bb-incoming" 2>/dev/null)" ]
}
# work DIR URL: a fresh clone to commit in.
work() { rm -rf "$1"; G clone -q "$2" "$1" 2>/dev/null; }
commit() {	# commit DIR FILE TEXT [MSG]
	printf '%s\n' "$3" >"$1/$2"
	git -C "$1" add "$2"
	git -C "$1" commit -q -m "${4:-add $2}"
}

for front in git http; do
	url=$([ $front = git ] && GURL up || HURL up)
	# ---- 6: clean push ----
	d=$BB_T/w6-$front
	work "$d" "$url"
	commit "$d" "clean-$front.txt" "nothing secret here"
	# --progress: git sends "quiet" whenever progress is off.
	out=$(G -C "$d" push --progress origin HEAD:main 2>&1)
	ok $? "6: $front: a clean push succeeds"
	is "$(git -C "$UP/up.git" rev-parse main)" "$(git -C "$d" rev-parse HEAD)" \
	    "6: $front: it landed upstream"
	is "$(git -C "$STATE/git/up.git" rev-parse main)" "$(git -C "$d" rev-parse HEAD)" \
	    "6: $front: the mirror ref equals upstream"
	like "$out" 'remote: bb-sidecar: scanned 1 commit .*no secrets; forwarded to upstream' \
	    "6: $front: the summary line"
	like "$(bb_log | grep '"event":"push"' | tail -1)" '"decision":"accepted".*"upstream":"ok"' \
	    "6: $front: log decision=accepted upstream=ok"
	incoming_empty up
	ok $? "6: $front: no quarantine left"

	# ---- 7: secret in a file ----
	d=$BB_T/w7-$front
	work "$d" "$url"
	before_up=$(up_state up)
	before_m=$(mirror_state up)
	commit "$d" config.env "x=1
AWS_ACCESS_KEY_ID=$AKIA"
	out=$(G -C "$d" push origin HEAD:main 2>&1)
	ok $([ $? -ne 0 ] && echo 0 || echo 1) "7: $front: the push fails"
	c=$(git -C "$d" rev-parse --short=12 HEAD)
	like "$out" "remote: bb-sidecar: push rejected: 1 secret in 1 commit; nothing was sent upstream" \
	    "7: $front: rejection headline"
	like "$out" "remote: bb-sidecar:   refs/heads/main $c config.env:2 aws-access-key-id" \
	    "7: $front: commit, file, line and rule"
	like "$out" 'remote: bb-sidecar:     AWS_ACCESS_KEY_ID=\*\*\*\*\*\*\*\*' \
	    "7: $front: the redacted line"
	unlike "$out" "$AKIA" "7: $front: the value is never shown"
	like "$out" '! \[remote rejected\] HEAD -> main \(secret detected\)' \
	    "7: $front: ! [remote rejected] (secret detected)"
	is "$(up_state up)" "$before_up" "7: $front: upstream unchanged"
	is "$(mirror_state up)" "$before_m" "7: $front: mirror clean"
	incoming_empty up
	ok $? "7: $front: bb-incoming is empty"
done
ok $(bb_secret_free "$AKIA" && echo 0 || echo 1) "7: the value is in no log or state file"

# ---- 8: deep in a new branch ----
d=$BB_T/w8
work "$d" "$(GURL up)"
git -C "$d" checkout -q -b deep
commit "$d" deep.txt "token=$AKIA" "first"
first=$(git -C "$d" rev-parse --short=12 HEAD)
commit "$d" other.txt "harmless" "second"
git -C "$d" rm -q deep.txt
git -C "$d" commit -q -m "third: remove it"
out=$(G -C "$d" push origin deep 2>&1)
like "$out" "refs/heads/deep $first deep.txt:1 aws-access-key-id" "8: rejected naming the first commit"
like "$out" 'deep -> deep \(secret detected\)' "8: ng secret detected"

# ---- 9: secret only in a commit message ----
d=$BB_T/w9
work "$d" "$(HURL up)"
commit "$d" msg.txt "clean content" "deploy with key
$AKIA"
out=$(G -C "$d" push origin HEAD:main 2>&1)
like "$out" '\(commit message\):2 aws-access-key-id' "9: rejected with file (commit message)"

# ---- 10: pre-existing upstream secret ----
up_commit up fixture.txt "fixture $AKIA"
d=$BB_T/w10
work "$d" "$(GURL up)"
git -C "$d" checkout -q -b on-fixture
commit "$d" clean10.txt "clean"
G -C "$d" push -q origin on-fixture 2>/dev/null
ok $? "10: a clean commit on top of an upstream secret is accepted"
is "$(git -C "$UP/up.git" rev-parse on-fixture 2>/dev/null)" "$(git -C "$d" rev-parse HEAD)" \
    "10: it landed"

# ---- 11: multi-ref ----
d=$BB_T/w11
work "$d" "$(GURL up)"
git -C "$d" checkout -q -b m1
commit "$d" m1.txt "fine"
git -C "$d" checkout -q -b m2 main
commit "$d" m2.txt "key $AKIA"
out=$(G -C "$d" push origin m1 m2 2>&1)
like "$out" 'm1 -> m1 \(secret detected\)' "11: the clean ref is rejected too"
like "$out" 'm2 -> m2 \(secret detected\)' "11: the ref with the secret is rejected"
ok $(git -C "$UP/up.git" rev-parse -q --verify m1 >/dev/null && echo 1 || echo 0) \
    "11: neither landed"

# ---- 12: attribute bypass and the binary gap ----
d=$BB_T/w12
work "$d" "$(GURL up)"
printf '* binary\n' >"$d/.gitattributes"
commit "$d" attr.txt "AWS_ACCESS_KEY_ID=$AKIA"
out=$(G -C "$d" push origin HEAD:main 2>&1)
like "$out" 'secret detected' "12: .gitattributes binary cannot hide a text secret"
d=$BB_T/w12b
work "$d" "$(GURL up)"
printf 'bin\000ary AWS_ACCESS_KEY_ID=%s\n' "$AKIA" >"$d/blob.bin"
git -C "$d" add blob.bin
git -C "$d" commit -q -m "binary file"
out=$(G -C "$d" push origin HEAD:main 2>&1)
ok $? "12: a file with a NUL in its first bytes is accepted (the §8.3 gap)"
like "$out" 'remote: bb-sidecar: not scanned: 1 file \(binary or over 4 MiB\), e.g. blob.bin' \
    "12: the summary line"
like "$(bb_log)" '"event":"scan_skip".*"path":"blob.bin".*"reason":"binary"' "12: scan_skip logged"

# ---- 17: known secret ----
d=$BB_T/w17
work "$d" "$(GURL up)"
commit "$d" known.txt "token = $KNOWN # gitleaks:allow"
out=$(G -C "$d" push origin HEAD:main 2>&1)
like "$out" 'known-secret:EGRESS_TOKEN_1 \(not suppressible\)' \
    "17: known-secret:EGRESS_TOKEN_1 (not suppressible)"
like "$out" 'secret detected' "17: rejected"
unlike "$out" "$KNOWN" "17: the value is not in the output"
ok $(bb_secret_free "$KNOWN" && echo 0 || echo 1) "17: ...nor in logs or the state dir"

# ---- 18: tags ----
d=$BB_T/w18
work "$d" "$(GURL up)"
git -C "$d" tag -a -m "release with $AKIA" vbad
out=$(G -C "$d" push origin vbad 2>&1)
like "$out" '\(tag message\):1 aws-access-key-id' "18: a secret in a tag message is found"
like "$out" 'vbad -> vbad \(secret detected\)' "18: ...and rejected"
git -C "$d" tag vlight
G -C "$d" push -q origin vlight 2>/dev/null
ok $? "18: a lightweight tag is accepted"
commit "$d" t18.txt "move"
git -C "$d" tag -f vlight >/dev/null
out=$(G -C "$d" push -f origin vlight 2>&1)
like "$out" 'force update not allowed by the gate' "18: moving a tag is refused"

# ---- 19: force push ----
d=$BB_T/w19
work "$d" "$(GURL up)"
before_up=$(up_state up)
n0=$(receive_count)
git -C "$d" reset -q --hard HEAD~1
commit "$d" rewrite.txt "rewritten"
out=$(G -C "$d" push -f origin HEAD:main 2>&1)
like "$out" 'force update not allowed by the gate' "19: push --force is refused"
is "$(up_state up)" "$before_up" "19: upstream unchanged"
is "$(receive_count)" "$n0" "19: upstream saw no receive-pack for it"
d=$BB_T/w19b
work "$d" "$(GURL upf)"
git -C "$d" reset -q --hard HEAD~1
commit "$d" rewrite.txt "rewritten"
G -C "$d" push -q -f origin HEAD:main 2>/dev/null
ok $? "19: with allow_force_push: true it works"
is "$(git -C "$UP/upf.git" rev-parse main)" "$(git -C "$d" rev-parse HEAD)" \
    "19: upstream was rewritten"

# ---- 21: delete ----
out=$(G -C "$d" push --delete "$(GURL up)" on-fixture 2>&1)
like "$out" 'deletion not allowed by the gate' "21: push --delete refused"
ok $(git -C "$UP/up.git" rev-parse -q --verify on-fixture >/dev/null && echo 0 || echo 1) \
    "21: the branch survives upstream"
G -C "$d" push -q origin HEAD:refs/heads/gone 2>/dev/null
G -C "$d" push -q --delete "$(HURL upf)" gone 2>/dev/null
ok $? "21: with allow_delete: true the delete works"
ok $(git -C "$UP/upf.git" rev-parse -q --verify gone >/dev/null && echo 1 || echo 0) \
    "21: gone upstream"
ok $(git -C "$STATE/git/upf.git" rev-parse -q --verify gone >/dev/null && echo 1 || echo 0) \
    "21: gone in the mirror"

# ---- 29: concurrent pushes ----
pids=()
for i in 1 2 3 4 5 6 7 8; do
	d=$BB_T/w29-$i
	work "$d" "$([ $((i % 2)) = 0 ] && GURL up || HURL up)"
	git -C "$d" checkout -q -b "c$i"
	commit "$d" "c$i.txt" "branch $i"
done
for i in 1 2 3 4 5 6 7 8; do
	G -C "$BB_T/w29-$i" push -q origin "c$i" 2>"$BB_T/w29-$i.err" &
	pids+=($!)
done
fails=0
for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
is "$fails" 0 "29: eight concurrent pushes of eight branches all land"
landed=0
for i in 1 2 3 4 5 6 7 8; do
	[ "$(git -C "$UP/up.git" rev-parse "c$i" 2>/dev/null)" = \
	    "$(git -C "$BB_T/w29-$i" rev-parse HEAD)" ] && landed=$((landed + 1))
done
is "$landed" 8 "29: all eight are upstream"
work "$BB_T/w29a" "$(GURL up)"
work "$BB_T/w29b" "$(HURL up)"
commit "$BB_T/w29a" race.txt "a"
commit "$BB_T/w29b" race.txt "b"
G -C "$BB_T/w29a" push origin HEAD:main >"$BB_T/race-a" 2>&1 &
pa=$!
G -C "$BB_T/w29b" push origin HEAD:main >"$BB_T/race-b" 2>&1 &
pb=$!
wait $pa; ra=$?
wait $pb; rb=$?
is "$(( (ra == 0) + (rb == 0) ))" 1 "29: of two pushes of one branch exactly one lands"
like "$(cat "$BB_T/race-a" "$BB_T/race-b")" 'fetch first|stale info' \
    "29: the other gets fetch first or stale info"
is "$(git -C "$STATE/git/up.git" for-each-ref refs/heads)" \
    "$(git -C "$UP/up.git" for-each-ref refs/heads)" "29: upstream and mirror agree"

# ---- 31: HTTP specifics ----
d=$BB_T/w31
work "$d" "$(HURL up)"
head -c 3000000 /dev/urandom >"$d/big.bin"
git -C "$d" add big.bin
git -C "$d" commit -q -m big
out=$(GIT_TRACE_CURL=1 G -C "$d" push origin HEAD:main 2>&1)
ok $? "31: a push above http.postBuffer (1 MiB) lands"
like "$out" 'Transfer-Encoding: chunked' \
    "31: ...through git's large-push path"
d=$BB_T/w31b
work "$d" "$(HURL up)"
for i in $(seq 1 40); do commit "$d" "h$i.txt" "$i"; done
git -C "$d" update-ref refs/remotes/origin/main HEAD
up_commit up fetchme.txt "new upstream commit"
out=$(GIT_TRACE_CURL=1 G -C "$d" fetch origin 2>&1)
ok $? "31: a fetch with many haves works"
like "$out" 'Content-Encoding: gzip' "31: ...and its request body was gzipped"

# ---- 33: per-ref results ----
d=$BB_T/w33
work "$d" "$(GURL up)"
before_up=$(up_state up)
commit "$d" atomic.txt "atomic"
out=$(G -C "$d" push --atomic origin HEAD:main HEAD:refs/heads/atom2 2>&1)
ok $([ $? -ne 0 ] && echo 0 || echo 1) "33: push --atomic fails on the client"
like "$out" 'atomic' "33: git names the missing atomic support"
is "$(up_state up)" "$before_up" "33: upstream unchanged"
# git's update hook refuses one ref (pre-receive would refuse all).
cat >"$UP/up.git/hooks/update" <<'EOF'
#!/bin/sh
case "$1" in refs/heads/blocked) echo "branch blocked by policy"; exit 1;; esac
exit 0
EOF
chmod +x "$UP/up.git/hooks/update"
G -C "$d" fetch -q origin 2>/dev/null
out=$(G -C "$d" push origin HEAD:refs/heads/allowed HEAD:refs/heads/blocked 2>&1)
like "$out" '\[new branch\] +HEAD -> allowed' "33: one ref ok"
like "$out" 'HEAD -> blocked \(upstream: ' "33: the other ng upstream: ..."
is "$(git -C "$STATE/git/up.git" rev-parse -q --verify allowed)" "$(git -C "$d" rev-parse HEAD)" \
    "33: the mirror moved the accepted ref"
ok $(git -C "$STATE/git/up.git" rev-parse -q --verify blocked >/dev/null && echo 1 || echo 0) \
    "33: ...and not the refused one"
like "$(bb_log | grep '"event":"push"' | tail -1)" '"decision":"partial"' "33: decision=partial"
rm -f "$UP/up.git/hooks/update"

# ---- §4.5: the packs pushes left are merged into one ----
for i in $(seq 1 100); do
	[ "$(ls "$STATE/git/up.git/objects/pack" | grep -c '\.pack$')" = 1 ] && break
	sleep 0.1
done
is "$(ls "$STATE/git/up.git/objects/pack" | grep -c '\.pack$')" 1 \
    "4.5: the mirror's packs were merged into one"
like "$(bb_log)" '"event":"merge","repo":"up"' "4.5: the merge is logged"
git -C "$STATE/git/up.git" fsck >/dev/null 2>&1
ok $? "4.5: the merged mirror passes git fsck"
G clone -q --mirror "$(GURL up)" "$BB_T/merged.git" 2>/dev/null
ok $? "4.5: a clone after the merge works"
like "$(bb_log | grep '"event":"fetch"' | tail -1)" '"fast_path":true' \
    "4.5: ...from the stored pack (fast path)"
git -C "$BB_T/merged.git" fsck >/dev/null 2>&1
ok $? "4.5: ...and passes git fsck"

# ---- §14: per-repo metrics ----
m=$(curl -s --max-time 5 "http://127.0.0.1:$BB_CTL/metrics")
# mval SERIES: the value of one series line (0 when absent).
mval() { printf '%s\n' "$m" | grep -F "$1 " | awk '{ print $2 }' | head -1 | grep . || echo 0; }
for s in 'bb_gitgate_fetches_total{repo="up",result="ok",path="fast"}' \
    'bb_gitgate_fetches_total{repo="up",result="ok",path="packbuilder"}' \
    'bb_gitgate_pushes_total{repo="up",result="accepted",reason="none"}' \
    'bb_gitgate_pushes_total{repo="up",result="rejected",reason="secret_detected"}' \
    'bb_gitgate_pushes_total{repo="up",result="partial",reason="upstream_refused"}' \
    'bb_gitgate_refresh_total{repo="up",result="ok"}' \
    'bb_gitgate_bytes_total{repo="up",dir="client_in"}' \
    'bb_gitgate_bytes_total{repo="up",dir="client_out"}' \
    'bb_gitgate_bytes_total{repo="up",dir="upstream_out"}' \
    'bb_gitgate_findings_total{rule="aws-access-key-id",suppressed="0"}'; do
	ok $([ "$(mval "$s")" -gt 0 ] && echo 0 || echo 1) "14: $s = $(mval "$s")"
done
like "$m" 'bb_gitgate_refresh_total\{repo="up",result="failed"\} 0' \
    "14: a declared repo's series exist at zero"
unlike "$m" 'bb_gitgate_(fetches|pushes|refresh|bytes)_total\{(result|dir)=' \
    "14: no repo-labelled family has a series without repo"

ok $(bb_no_sanitizer_reports && echo 0 || echo 1) "no sanitizer reports"
bb_stop
is $? 0 "SIGTERM: exit 0"
done_testing
