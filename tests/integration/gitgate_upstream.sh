#!/usr/bin/env bash
# gitgate §16 tests 23-25 and 34: host key mismatch, a multi-key
# upstream, upstream down or silent, reload and validation.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gitgate_env.sh"

ssh-keygen -q -t ecdsa -N '' -f "$SSHD_DIR/host_ecdsa" -C host
# ECDSA listed first: the server would offer it unless steered (§5.2).
sshd_write_config "$SSHD_DIR/host_ecdsa"
sed -i "s|^HostKey $SSHD_DIR/host_ed25519\$||" "$SSHD_DIR/sshd_config"
sed -i "1a HostKey $SSHD_DIR/host_ecdsa\nHostKey $SSHD_DIR/host_ed25519" \
    "$SSHD_DIR/sshd_config"
sshd_start || { echo "Bail out! sshd did not start"; exit 1; }
up_init up
up_init up2
ssh-keygen -q -t ed25519 -N '' -f "$BB_T/other" -C other
OTHER_PUB=$(cut -d' ' -f1,2 "$BB_T/other.pub")
fp() { ssh-keygen -l -f "$1" | cut -d' ' -f2; }
# As regexes: base64 has '+' and '/'.
HOST_FP=$(fp "$SSHD_DIR/host_ed25519.pub" | sed 's/[+]/\\+/g')
OTHER_FP=$(fp "$BB_T/other.pub" | sed 's/[+]/\\+/g')
# Repos on one host:port must pin the same keys (§3.2.7): the
# mismatched repo reaches the same sshd as "localhost".
lh_repo() {	# lh_repo NAME [extra]: through localhost, the right key
	gg_repo "$@" | sed "s|127\.0\.0\.1|localhost|g"
}
bad_repo() {	# bad_repo NAME [extra]: pinned to the wrong key
	lh_repo "$@" | sed "s|$HOSTKEY_PUB|$OTHER_PUB|"
}
mkdir -p "$CONF"
cat >"$CONF/sidecar.yaml" <<EOF
gitgate:
  upstream_connect_timeout_s: 10
EOF
gg_config "$(gg_repo up)" "$(bad_repo bad)"
# bad points at up.git's upstream path too.
sed -i "s|$UP/bad.git|$UP/up.git|" "$CONF/gitgate.yaml"
gg_start || { echo "Bail out! sidecar did not start"; exit 1; }

# ---- 24: multi-key upstream ----
G clone -q "$(GURL up)" "$BB_T/c24" 2>"$BB_T/c24.err"
ok $? "24: clone works although sshd offers ECDSA first"
echo x >"$BB_T/c24/x"
git -C "$BB_T/c24" add x
git -C "$BB_T/c24" commit -q -m x
G -C "$BB_T/c24" push -q origin HEAD:main 2>/dev/null
ok $? "24: push works"
like "$(cat "$STATE/git/.home/.ssh/known_hosts")" "^\[127.0.0.1\]:$SSH_PORT ssh-ed25519 " \
    "24: the preference file lists the pinned key"

# ---- 23: host key mismatch ----
out=$(G clone "$(GURL bad)" "$BB_T/c23" 2>&1)
ok $([ $? -ne 0 ] && echo 0 || echo 1) "23: clone fails"
like "$out" "cannot refresh 'bad' from ssh://$GG_USER@localhost:$SSH_PORT$UP/up.git" \
    "23: the message names the upstream"
like "$out" "host key mismatch: presented ssh-ed25519 $HOST_FP, pinned $OTHER_FP" \
    "23: ...host key mismatch and both fingerprints"
out=$(G -C "$BB_T/c24" push "$(HURL bad)" HEAD:main 2>&1)
like "$out" 'host key mismatch' "23: push over HTTP fails the same way"
# A warm mirror served as is (fetch_refresh: false): the forward fails.
gg_config "$(gg_repo up)" "$(lh_repo bad)"
sed -i "s|$UP/bad.git|$UP/up.git|" "$CONF/gitgate.yaml"
kill -HUP "$BB_SIDECAR_PID"; sleep 2.5
G ls-remote "$(GURL bad)" >/dev/null 2>&1
gg_config "$(gg_repo up)" "$(bad_repo bad 'fetch_refresh: false')"
sed -i "s|$UP/bad.git|$UP/up.git|" "$CONF/gitgate.yaml"
kill -HUP "$BB_SIDECAR_PID"; sleep 2.5
mstate=$(git -C "$STATE/git/bad.git" for-each-ref | md5sum)
d=$BB_T/c23b
G clone -q "$(GURL bad)" "$d" 2>/dev/null
ok $? "23: fetch_refresh: false serves the warm mirror"
echo y >"$d/y"
git -C "$d" add y
git -C "$d" commit -q -m y
out=$(G -C "$d" push origin HEAD:main 2>&1)
like "$out" 'HEAD -> main \(upstream unreachable: host key mismatch' \
    "23: the push fails at the forward with host key mismatch"
is "$(git -C "$STATE/git/bad.git" for-each-ref | md5sum)" "$mstate" "23: the mirror stays clean"
ok $([ -z "$(ls -A "$STATE/git/bad.git/bb-incoming" 2>/dev/null)" ] && echo 0 || echo 1) \
    "23: no quarantine left"

# ---- 25: upstream down ----
gg_config "$(gg_repo up)" "$(gg_repo up2)"
kill -HUP "$BB_SIDECAR_PID"; sleep 2.5
G clone -q "$(GURL up2)" "$BB_T/c25w" 2>/dev/null	# warm up2's mirror
gg_config "$(gg_repo up)" "$(gg_repo up2 'fetch_refresh: false')"
kill -HUP "$BB_SIDECAR_PID"; sleep 2.5
d=$BB_T/c25w
echo z >"$d/z"
git -C "$d" add z
git -C "$d" commit -q -m z
sshd_stop
t0=$(date +%s)
out=$(G clone "$(GURL up)" "$BB_T/c25" 2>&1)
t1=$(date +%s)
like "$out" "cannot refresh 'up' from .*: connection refused; refusing to serve possibly stale data" \
    "25: sshd down: cannot refresh ... connection refused"
ok $([ $((t1 - t0)) -le 12 ] && echo 0 || echo 1) "25: ...within 12 s ($((t1 - t0)) s)"
unlike "$out" 'refs/heads' "25: no refs were served"
ms=$(git -C "$STATE/git/up2.git" for-each-ref | md5sum)
out=$(G -C "$d" push origin HEAD:main 2>&1)
like "$out" 'upstream unreachable: connection refused' "25: a push gets upstream unreachable"
is "$(git -C "$STATE/git/up2.git" for-each-ref | md5sum)" "$ms" "25: the mirror stays clean"
# A listener that accepts and never speaks.
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
' "$SSH_PORT" &
BB_PIDS+=($!)
sleep 0.5
t0=$(date +%s)
out=$(G ls-remote "$(GURL up)" 2>&1)
t1=$(date +%s)
like "$out" 'cannot refresh .*timed out' "25: a silent upstream: timeout"
ok $([ $((t1 - t0)) -le 12 ] && echo 0 || echo 1) "25: ...within 12 s ($((t1 - t0)) s)"
t0=$(date +%s)
out=$(G -C "$d" push origin HEAD:main 2>&1)
t1=$(date +%s)
like "$out" 'upstream unreachable: .*timed out' "25: a push to it: upstream unreachable"
ok $([ $((t1 - t0)) -le 14 ] && echo 0 || echo 1) "25: ...bounded ($((t1 - t0)) s)"
is "$(git -C "$STATE/git/up2.git" for-each-ref | md5sum)" "$ms" "25: the mirror stays clean"
kill "${BB_PIDS[-1]}" 2>/dev/null
wait "${BB_PIDS[-1]}" 2>/dev/null
sshd_start

# ---- 34: reload and validation ----
gg_config "$(gg_repo up)" "$(gg_repo added)"
up_init added
kill -HUP "$BB_SIDECAR_PID"; sleep 2.5
G ls-remote "$(GURL added)" >"$BB_T/ls34" 2>&1
like "$(cat "$BB_T/ls34")" 'refs/heads/main' "34: an added repo is served after SIGHUP"
m=$(curl -s --max-time 5 "http://127.0.0.1:$BB_CTL/metrics")
like "$m" 'bb_gitgate_bytes_total\{repo="added",dir="upstream_out"\} 0' \
    "14: the reload registered the added repo's series"
like "$m" 'bb_gitgate_refresh_total\{repo="added",result="ok"\} [1-9]' \
    "14: ...and its refresh counts under its own label"
good=$(cat "$CONF/gitgate.yaml")
ssh-keygen -q -t ed25519 -N secret -f "$CONF/keys/enc" -C enc
check_bad() {	# check_bad DESC PATTERN: the current file must be refused
	local out rc
	out=$("$BB_SIDECAR" check-config --config-dir "$CONF" --services gitgate 2>&1)
	rc=$?
	ok $([ $rc -ne 0 ] && echo 0 || echo 1) "34: $1: check-config fails"
	like "$out" "$2" "34: $1: check-config names file:line:col"
	kill -HUP "$BB_SIDECAR_PID"; sleep 1.5
	like "$(bb_log | grep '"reload"' | tail -1)" 'gitgate.yaml:[0-9]+:[0-9]+' \
	    "34: $1: the reload log names gitgate.yaml:LINE:COL"
	G ls-remote "$(GURL added)" >/dev/null 2>&1
	ok $? "34: $1: the old config still serves"
}
printf '%s\n' "$good" | sed '/host_key/d' >"$CONF/gitgate.yaml"
check_bad "missing host_key" 'gitgate.yaml:[0-9]+:[0-9]+: repos\.up: host_key is required'
printf '%s\n    allow_delete: yes\n' "$good" >"$CONF/gitgate.yaml"
check_bad "allow_delete: yes" 'gitgate.yaml:[0-9]+:[0-9]+: repos\.added\.allow_delete'
printf '%s\n    colour: blue\n' "$good" >"$CONF/gitgate.yaml"
check_bad "an unknown key" 'gitgate.yaml:[0-9]+:[0-9]+: repos\.added.*colour'
printf '%s\n' "$good" | sed "0,/url: ssh:[^ ]*/s||url: https://forge.example/x.git|" >"$CONF/gitgate.yaml"
check_bad "an https url" 'gitgate.yaml:[0-9]+:[0-9]+: repos\.up\.url: HTTPS upstreams are not supported'
printf '%s\n' "$good" | sed '0,/key: keys\/up.ed25519/s||key: keys/enc|' >"$CONF/gitgate.yaml"
check_bad "an encrypted key" 'gitgate.yaml:[0-9]+:[0-9]+: repos\.up\.key: the private key is encrypted'
printf '%s\n' "$good" >"$CONF/gitgate.yaml"
out=$("$BB_SIDECAR" check-config --config-dir "$CONF" --services gitgate 2>&1)
ok $? "34: the good file passes check-config"
unlike "$out$(bb_log)" 'PRIVATE KEY' "34: key contents are never printed"
# §3.1: check-config prints the parsed file, user included, keys never.
{ printf 'user:\n  name: Bot "B" Agent\n  email: agent@bottle.invalid\n'
  printf '%s\n' "$good"; } >"$CONF/gitgate.yaml"
out=$("$BB_SIDECAR" check-config --config-dir "$CONF" 2>/dev/null)
ok $? "3.1: check-config with a user section passes"
fpr=$(ssh-keygen -lf "$SSHD_DIR/host_ed25519.pub" | cut -d' ' -f2)
want=$(printf 'gitgate.yaml:\n  user:\n    name: "Bot \\"B\\" Agent"\n'
	printf '    email: "agent@bottle.invalid"\n  repos:\n'
	for r in up added; do
		printf '    %s:\n      url: "%s"\n      key: "keys/up.ed25519"\n' \
		    "$r" "$(up_url $r)"
		printf '      host_key:\n        - "ssh-ed25519 %s"\n' "$fpr"
		printf '      allow_force_push: false\n      allow_delete: false\n'
		printf '      fetch_refresh: true\n'
	done)
is "$(printf '%s\n' "$out" | sed -n '/^gitgate.yaml:$/,/: ok$/p' | sed '$d')" "$want" \
    "3.1: check-config prints the parsed file: user, url, key path, host key fingerprint, flags"
ok $(printf '%s\n' "$out" | grep -qF "$(sed -n 2p "$CONF/keys/up.ed25519")" && echo 1 || echo 0) \
    "3.1: ...never the key file's contents"
printf '%s\n    allow_delete: yes\n' "$good" >"$CONF/gitgate.yaml"
out=$("$BB_SIDECAR" check-config --config-dir "$CONF" 2>/dev/null)
unlike "$out" '^gitgate.yaml:$' "3.1: an invalid file is not printed, only its errors"
printf '%s\n' "$good" >"$CONF/gitgate.yaml"

ok $(bb_no_sanitizer_reports && echo 0 || echo 1) "no sanitizer reports"
bb_stop
is $? 0 "SIGTERM: exit 0"
done_testing
