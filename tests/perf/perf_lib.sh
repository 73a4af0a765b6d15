# Shared parts of the `make perf` scripts, sourced first (it sources the
# integration harness, tests/integration/lib.sh, for the temp dirs,
# bb_start/bb_stop and free ports): messages, the results file ($RES,
# one JSON object that put/get fill and read), the machine's description
# and how much CPU the rest of the machine took during the run.
#
# The sourcing script sets BB_SRCDIR (if make did not), then PERF_NAME
# (its name in messages) and OUT (the output dir), then calls perf_init.
set -u
: "${BB_SIDECAR:?BB_SIDECAR must name the binary}"
: "${BB_BUILDDIR:=$(dirname "$BB_SIDECAR")}"
export BB_SIDECAR BB_BUILDDIR BB_SRCDIR
# shellcheck source=../integration/lib.sh
. "$BB_SRCDIR/tests/integration/lib.sh"

die() { echo "$PERF_NAME: $*" >&2; exit 1; }
note() { echo "$PERF_NAME: $*" >&2; }

# put KEY JSON: records one number (or object) in the results.
put() {
	jq --arg k "$1" --argjson v "$2" '. + {($k): $v}' "$RES" >"$RES.tmp" &&
	    mv "$RES.tmp" "$RES"
}
get() { jq -r --arg k "$1" '.[$k] // empty' "$RES"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
# "BUSY TOTAL" clock ticks of every CPU so far.
cpu_ticks() { awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
# Ticks used by PID (and, for this shell, by the children it reaped).
pid_ticks() {
	sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null |
	    awk -v c="$2" '{print $12 + $13 + (c ? $14 + $15 : 0)}'
}

# perf_init [EXTRA_JQ_ARGS...]: the results file, the machine record
# (put machine) and the CPU counters perf_cpu_others compares against.
perf_init() {
	RES=$BB_T/results.json
	mkdir -p "$OUT"
	echo '{}' >"$RES"
	command -v jq >/dev/null || die "jq missing"
	ulimit -n "$(ulimit -Hn)" 2>/dev/null
	CPU0=$(cpu_ticks)
	put machine "$(jq -n --arg nproc "$(nproc)" \
	    --arg cpu "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)" \
	    --arg kernel "$(uname -sr)" --arg date "$(date -u '+%Y-%m-%d %H:%M UTC')" \
	    --arg load "$(loadavg)" \
	    --arg cflags "$(sed -n "s/^CFLAGS='\(.*\)'$/\1/p" "$BB_BUILDDIR/config.log" 2>/dev/null | head -1)" \
	    '{nproc: $nproc, cpu: $cpu, kernel: $kernel, date: $date,
	      load_before: $load, cflags: $cflags}')"
	if nm "$BB_SIDECAR" 2>/dev/null | grep -q __asan_init; then
		note "WARNING: $BB_SIDECAR is a sanitizer build; numbers mean little"
		put sanitizer true
	fi
}

# perf_cpu_others PID...: put cpu, with what the rest of the machine took
# meanwhile: every CPU's busy time less ours (this script's reaped
# children, and the PIDs given, which are still running).
perf_cpu_others() {
	local CPU1 ours p v
	CPU1=$(cpu_ticks)
	ours=$(pid_ticks $$ 1)
	for p in "$@"; do
		v=$(pid_ticks "$p" 0)
		ours=$((ours + ${v:-0}))
	done
	put cpu "$(jq -n --arg a "$CPU0" --arg b "$CPU1" --argjson ours "$ours" '
	    ($a | split(" ") | map(tonumber)) as $a |
	    ($b | split(" ") | map(tonumber)) as $b |
	    {total: ($b[1] - $a[1]), busy: ($b[0] - $a[0]), ours: $ours,
	     others_pct: ((($b[0] - $a[0]) - $ours) / ($b[1] - $a[1]) * 100 |
	     if . < 0 then 0 else . end | round)}')"
}
