# The gitgate harness of spec/gitgate.md §16, sourced after lib.sh: an
# OpenSSH upstream on a loopback port (its own host key, the test's
# client key, git-shell serving bare repos under $UP), and helpers to
# write gitgate.yaml and start the gate on free ports.
command -v git >/dev/null || skip_all "git not installed"
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
[ -x "$SSHD" ] || skip_all "openssh-server not installed"
command -v ssh-keygen >/dev/null || skip_all "ssh-keygen not installed"

# libgit2 1.5.1 leaks a little per remote (see the file).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
export LSAN_OPTIONS="suppressions=$BB_SRCDIR/tests/integration/gitgate_lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

UP=$BB_T/up
SSHD_DIR=$BB_T/sshd
mkdir -p "$UP" "$SSHD_DIR" "$CONF/keys" /run/sshd 2>/dev/null
ssh-keygen -q -t ed25519 -N '' -f "$SSHD_DIR/host_ed25519" -C host
ssh-keygen -q -t ed25519 -N '' -f "$CONF/keys/up.ed25519" -C gate
cp "$CONF/keys/up.ed25519.pub" "$SSHD_DIR/authorized_keys"
rm -f "$CONF/keys/up.ed25519.pub"
HOSTKEY_PUB=$(cut -d' ' -f1,2 "$SSHD_DIR/host_ed25519.pub")
GG_USER=$(id -un)
SSH_PORT=$(bb_free_port)
GG_GIT=$(bb_free_port)
GG_HTTP=$(bb_free_port)
SSHD_PID=
# Commits get fixed identities and dates so runs compare.
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.invalid \
    GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.invalid

# sshd_write_config [extra HostKey files...]
sshd_write_config() {
	{
		echo "Port $SSH_PORT"
		echo "ListenAddress 127.0.0.1"
		echo "HostKey $SSHD_DIR/host_ed25519"
		for k in "$@"; do echo "HostKey $k"; done
		echo "AuthorizedKeysFile $SSHD_DIR/authorized_keys"
		echo "PasswordAuthentication no"
		echo "KbdInteractiveAuthentication no"
		echo "UsePAM no"
		echo "StrictModes no"
		echo "PermitRootLogin prohibit-password"
		echo "PidFile $SSHD_DIR/sshd.pid"
		echo "LogLevel VERBOSE"
		echo 'ForceCommand git-shell -c "$SSH_ORIGINAL_COMMAND"'
	} >"$SSHD_DIR/sshd_config"
}

# Starts sshd and waits (at most 5 s) until it accepts connections.
sshd_start() {
	[ -f "$SSHD_DIR/sshd_config" ] || sshd_write_config
	"$SSHD" -D -e -f "$SSHD_DIR/sshd_config" 2>>"$SSHD_DIR/sshd.log" &
	SSHD_PID=$!
	BB_PIDS+=("$SSHD_PID")
	local i
	for i in $(seq 1 250); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$SSH_PORT") 2>/dev/null; then
			return 0
		fi
		kill -0 "$SSHD_PID" 2>/dev/null || break
		sleep 0.02
	done
	diag "sshd did not start:"
	sed 's/^/#   /' "$SSHD_DIR/sshd.log" | tail -20
	return 1
}

sshd_stop() {
	[ -n "$SSHD_PID" ] || return 0
	kill "$SSHD_PID" 2>/dev/null
	wait "$SSHD_PID" 2>/dev/null
	SSHD_PID=
}

# Logins sshd accepted so far (for "no login happened" checks).
sshd_logins() { grep -c 'Accepted publickey' "$SSHD_DIR/sshd.log" 2>/dev/null; }

# up_url NAME: the upstream URL of $UP/NAME.git.
up_url() { echo "ssh://$GG_USER@127.0.0.1:$SSH_PORT$UP/$1.git"; }

# up_init NAME [BRANCH]: a bare upstream with two commits, a tag, HEAD.
up_init() {
	local name=$1 br=${2:-main} w=$BB_T/seed-$1
	git init -q --bare "$UP/$name.git"
	git init -q -b "$br" "$w"
	echo one >"$w/a.txt"
	git -C "$w" add a.txt
	git -C "$w" commit -q -m one
	echo two >>"$w/a.txt"
	git -C "$w" commit -q -am two
	git -C "$w" tag -a -m "tag v1" v1
	git -C "$w" push -q "$UP/$name.git" "$br" v1
	git -C "$UP/$name.git" symbolic-ref HEAD "refs/heads/$br"
}

# up_commit NAME FILE TEXT [BRANCH]: one commit on upstream, out of band.
up_commit() {
	local w=$BB_T/oob-$1 br=${4:-main}
	rm -rf "$w"
	git clone -q "$UP/$1.git" "$w" -b "$br"
	echo "$3" >>"$w/$2"
	git -C "$w" add "$2"
	git -C "$w" commit -q -m "oob $2"
	git -C "$w" push -q origin "$br"
}

# gg_repo NAME [extra yaml lines...]: one repo entry (for gg_config).
gg_repo() {
	local name=$1
	shift
	echo "  $name:"
	echo "    url: $(up_url "$name")"
	echo "    key: keys/up.ed25519"
	echo "    host_key: \"[127.0.0.1]:$SSH_PORT $HOSTKEY_PUB\""
	for l in "$@"; do echo "    $l"; done
}

# gg_config ENTRIES: writes gitgate.yaml atomically.
gg_config() {
	{ echo "repos:"; printf '%s\n' "$@"; } >"$CONF/.gitgate.yaml.tmp"
	mv "$CONF/.gitgate.yaml.tmp" "$CONF/gitgate.yaml"
}

# Starts the gate; a port taken meanwhile by someone else gets new ports.
gg_start() {
	local try
	for try in 1 2 3; do
		if bb_start --services "${GG_SERVICES:-gitgate}" \
		    --listen-gitgate-git "127.0.0.1:$GG_GIT" \
		    --listen-gitgate-http "127.0.0.1:$GG_HTTP" "$@"; then
			return 0
		fi
		grep -q 'port in use' "$BB_STDERR" || return 1
		wait "$BB_SIDECAR_PID" 2>/dev/null
		BB_SIDECAR_PID=
		GG_GIT=$(bb_free_port)
		GG_HTTP=$(bb_free_port)
		: >"$BB_STDERR"
	done
	return 1
}

GURL() { echo "git://127.0.0.1:$GG_GIT/$1.git"; }
HURL() { echo "http://127.0.0.1:$GG_HTTP/$1.git"; }

# Every wait is bounded: a git command gets at most 60 s.
G() { timeout 60 git "$@"; }

# Lines of the sidecar log with event E (JSON), counted.
log_count() { bb_log | grep -c "\"event\":\"$1\""; }

# A raw TCP exchange: sends stdin to PORT, prints what came back within
# SECS (default 5); with "eof" as the third argument the write side is
# shut down after sending.
raw_send() { timeout $((${2:-5} + 5)) python3 -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(sys.stdin.buffer.read())
if sys.argv[3] == "eof":
    s.shutdown(socket.SHUT_WR)
end = time.time() + float(sys.argv[2])
out = b""
try:
    while time.time() < end:
        s.settimeout(max(0.05, end - time.time()))
        b = s.recv(65536)
        if not b:
            break
        out += b
except Exception:
    pass
sys.stdout.buffer.write(out)
' "$1" "${2:-5}" "${3:-}"; }

# pkt TEXT: TEXT as one pkt-line (printf escapes allowed, e.g. \0).
pkt() { local b; b=$(printf "$1" | wc -c); printf '%04x' $((b + 4)); printf "$1"; }
