# Shared harness for integration tests: sourced by tests/integration/*.sh.
# Drives the real binary ($BB_SIDECAR) on free loopback ports with a temp
# config and state dir, and speaks TAP.  Everything it starts is stopped
# by the EXIT trap.
set -u

: "${BB_SIDECAR:?BB_SIDECAR must name the binary}"
: "${BB_BUILDDIR:=$(dirname "$BB_SIDECAR")}"
: "${BB_SRCDIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"

# The machine's environment may point clients at other CAs or proxies;
# each test names its own explicitly.
unset GIT_SSL_CAINFO CURL_CA_BUNDLE SSL_CERT_FILE SSL_CERT_DIR \
    NODE_EXTRA_CA_CERTS REQUESTS_CA_BUNDLE HTTP_PROXY HTTPS_PROXY \
    http_proxy https_proxy ALL_PROXY all_proxy NO_PROXY no_proxy \
    EGRESS_ROUTES BOT_BOTTLE_SIDECAR_DAEMONS GIT_CONFIG_GLOBAL
BB_HOME=$(mktemp -d "${TMPDIR:-/tmp}/bbt-home.XXXXXX")
export GIT_CONFIG_NOSYSTEM=1 HOME=$BB_HOME

BB_T=$(mktemp -d "${TMPDIR:-/tmp}/bbt.XXXXXX")
CONF=$BB_T/conf
STATE=$BB_T/state
mkdir -p "$CONF" "$STATE"
chmod 700 "$CONF" "$STATE"
BB_PIDS=()
BB_SIDECAR_PID=
BB_STDERR=$BB_T/sidecar.stderr
_tap_n=0
_tap_failed=0

bb_cleanup() {
	local p
	for p in ${BB_SIDECAR_PID:-} "${BB_PIDS[@]}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null
	done
	for p in ${BB_SIDECAR_PID:-} "${BB_PIDS[@]}"; do
		[ -n "$p" ] && wait "$p" 2>/dev/null
	done
	if [ "${BB_KEEP:-0}" = 1 ]; then
		echo "# kept $BB_T" >&2
	else
		rm -rf "$BB_T" "$BB_HOME"
	fi
}
trap bb_cleanup EXIT

# ---- TAP ------------------------------------------------------------
_tap_planned=0
plan() { echo "1..$1"; _tap_planned=1; }
ok() {	# ok COND-EXIT-STATUS DESCRIPTION
	_tap_n=$((_tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $_tap_n - $2"
	else
		echo "not ok $_tap_n - $2"
		_tap_failed=$((_tap_failed + 1))
	fi
}
is() {	# is GOT WANT DESCRIPTION
	if [ "$1" = "$2" ]; then ok 0 "$3"; else
		ok 1 "$3"; echo "#   got:  '$1'"; echo "#   want: '$2'"
	fi
}
like() {	# like GOT REGEX DESCRIPTION
	if printf '%s' "$1" | grep -Eq -- "$2"; then ok 0 "$3"; else
		ok 1 "$3"; echo "#   got:  '$(printf '%s' "$1" | head -c 2000)'"
		echo "#   want: /$2/"
	fi
}
unlike() {	# unlike GOT REGEX DESCRIPTION
	if printf '%s' "$1" | grep -Eq -- "$2"; then
		ok 1 "$3"; echo "#   matched: /$2/"
	else ok 0 "$3"; fi
}
diag() { echo "# $*"; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
# Ends the test: prints the plan now when none was given up front.
done_testing() {
	[ "$_tap_planned" = 1 ] || echo "1..$_tap_n"
	[ "$_tap_failed" -eq 0 ]
}

# ---- ports and processes --------------------------------------------
# A free TCP port on 127.0.0.1 (the kernel's choice, released at once).
bb_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Waits until a URL answers 200 (at most $2 seconds, default 10).
bb_wait_http() {
	local url=$1 limit=${2:-10} i=0
	while [ $i -lt $((limit * 50)) ]; do
		if curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" 2>/dev/null |
		    grep -q '^200$'; then
			return 0
		fi
		# Stop early when the sidecar died.
		if [ -n "${BB_SIDECAR_PID:-}" ] && ! kill -0 "$BB_SIDECAR_PID" 2>/dev/null; then
			return 1
		fi
		sleep 0.02
		i=$((i + 1))
	done
	return 1
}

# Starts the sidecar in the background with a control port of its own:
#   bb_start [extra run args...]; sets BB_CTL (port) and BB_SIDECAR_PID.
# Returns non-zero (and prints its stderr) if it is not ready in 10 s.
bb_start() {
	BB_CTL=$(bb_free_port)
	"$BB_SIDECAR" run --config-dir "$CONF" --state-dir "$STATE" \
	    --listen-control "127.0.0.1:$BB_CTL" --workers "${BB_WORKERS:-2}" \
	    "$@" 2>>"$BB_STDERR" &
	BB_SIDECAR_PID=$!
	if ! bb_wait_http "http://127.0.0.1:$BB_CTL/readyz" 10; then
		diag "sidecar did not become ready; stderr:"
		sed 's/^/#   /' "$BB_STDERR" | tail -40
		return 1
	fi
}

# Sends SIGTERM and waits (at most 12 s); returns the exit code.
bb_stop() {
	local pid=${BB_SIDECAR_PID:-} rc i=0
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 600 ]; do
		sleep 0.02
		i=$((i + 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid"
	rc=$?
	BB_SIDECAR_PID=
	return $rc
}

# A background helper process whose PID the EXIT trap will stop.
bb_bg() { "$@" & BB_PIDS+=($!); }

# The sidecar's stderr so far (JSON lines).
bb_log() { cat "$BB_STDERR" 2>/dev/null; }

# Sanitizer reports in stderr fail a test (the suite runs under ASan).
bb_no_sanitizer_reports() {
	! grep -Eq 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$BB_STDERR" 2>/dev/null
}

# bb_secret_free VALUE...: no trace of any value in stderr or the state dir.
bb_secret_free() {
	local v
	for v in "$@"; do
		if grep -rqF -- "$v" "$BB_STDERR" "$STATE" 2>/dev/null; then
			return 1
		fi
	done
	return 0
}

# Makes the bottle CA in $CONF.
bb_ca_init() { "$BB_SIDECAR" ca init "$CONF" --slug test >/dev/null; }
