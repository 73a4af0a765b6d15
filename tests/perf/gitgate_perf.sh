#!/bin/bash
# make perf: spec/gitgate.md §17, side by side with `git daemon`.
#
# One run, one machine, everything on 127.0.0.1.  The upstream is a
# bare repo of 10,000 linear commits over 400 text files in 20 dirs
# (tests/perf/gg_gen.py through `git fast-import`, cached in
# $BB_BUILDDIR/perf/gg-repo-10k), served to the gate by a loopback
# OpenSSH server (tests/integration/gitgate_env.sh) and, as the
# baseline, by `git daemon --export-all --base-path` on the same dir.
# Measured:
#   - `git clone --bare`, median of PERF_GG_RUNS (5), the three
#     interleaved: git daemon, the gate over git://, over HTTP, with a
#     warm mirror and fetch_refresh: true; the fast-path counter;
#   - fetch of 100 new upstream commits (refresh included), and a fetch
#     with no upstream change (the refresh event's ms too);
#   - a push of one commit adding 50 files of 2.4 MB config-like text,
#     and one of 10,000 small commits: scan bytes or commits per CPU
#     second of the scan job (the gate's `scan` log line, thread CPU);
#   - the gate's RSS growth (VmHWM after /proc/PID/clear_refs, and
#     VmRSS sampled every 50 ms) during a fast-path clone and the pushes.
#
# Writes $PERF_OUT/gitgate.md (the table) and gitgate.json (every
# number) and prints the table.  Exit 1 only when a measurement could not
# be made (setup, a clone or push that failed); a missed target is
# reported, not fatal (the machine may be shared).
#
# Environment: BB_SIDECAR, BB_BUILDDIR, BB_SRCDIR (set by make perf);
# PERF_GG_RUNS (clones and no-change fetches per configuration, default
# 5), PERF_GG_INC_ROUNDS (incremental rounds, default 3), PERF_OUT
# (default $BB_BUILDDIR/perf), PERF_GIT_TIMEOUT (seconds for one git
# command, default 300).
set -u
: "${BB_SRCDIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
# shellcheck source=perf_lib.sh
. "$BB_SRCDIR/tests/perf/perf_lib.sh"

RUNS=${PERF_GG_RUNS:-5}
INC=${PERF_GG_INC_ROUNDS:-3}
OUT=${PERF_OUT:-$BB_BUILDDIR/perf}
GTO=${PERF_GIT_TIMEOUT:-300}
GEN=$BB_SRCDIR/tests/perf/gg_gen.py
CACHE=$BB_BUILDDIR/perf/gg-repo-10k
PERF_NAME=gitgate_perf
perf_init
for t in git python3 curl ssh-keygen; do
	command -v $t >/dev/null || die "$t missing"
done
[ -x "$(command -v sshd || echo /usr/sbin/sshd)" ] || die "sshd missing"
[ -x "$(git --exec-path)/git-daemon" ] || die "git-daemon missing"
# shellcheck source=../integration/gitgate_env.sh
. "$BB_SRCDIR/tests/integration/gitgate_env.sh"
put machine "$(get machine | jq --arg g "$(git --version)" \
    '. + {git: $g}')"

GT() { timeout "$GTO" git "$@"; }
# tm VAR CMD...: runs CMD; VAR gets its wall time in seconds.
tm() {
	local _v=$1 _t0 _rc
	shift
	_t0=$EPOCHREALTIME
	"$@"
	_rc=$?
	printf -v "$_v" '%s' "$(awk -v a="$_t0" -v b="$EPOCHREALTIME" \
	    'BEGIN {printf "%.3f", b - a}')"
	return $_rc
}
# jarr VALUES...: a JSON array of numbers.
jarr() { printf '%s\n' "$@" | jq -s -c .; }
# The gate's JSON log lines of event E (repo R), one object a line.
glog() {
	jq -R -c --arg e "$1" --arg r "${2:-}" 'fromjson? // empty |
	    select(.event == $e and ($r == "" or .repo == $r))' "$BB_STDERR"
}
nlog() { glog "$@" | wc -l; }
metric() {
	curl -s --max-time 5 "http://127.0.0.1:$BB_CTL/metrics" |
	    awk -v n="$1" '$1 == n {v = $2} END {print v + 0}'
}
# snap NAME: the gate's idle VmRSS and RssAnon (KiB) now, as idle_NAME.
snap() {
	put idle_$1 "$(jq -n -c --argjson r "$(status_kb "$SIDECAR_PID" VmRSS)" \
	    --argjson a "$(status_kb "$SIDECAR_PID" RssAnon)" \
	    '{rss_kb: $r, anon_kb: $a}')"
}
packs() { find "$1/objects/pack" -name '*.pack' 2>/dev/null | wc -l; }
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

# ---- memory: VmHWM reset before, read after; VmRSS sampled ------------
MEM_CLEAR=0
mem_start() {
	MEM_PID=$1
	MEM_F=$BB_T/mem.$RANDOM
	if echo 5 >"/proc/$1/clear_refs" 2>/dev/null; then
		MEM_CLEAR=1
	fi
	MEM_RSS0=$(status_kb "$1" VmRSS)
	MEM_ANON0=$(status_kb "$1" RssAnon)
	touch "$MEM_F.run"
	: >"$MEM_F.tl"
	(
		mr=0 ma=0
		while [ -e "$MEM_F.run" ]; do
			read -r r a < <(awk '$1 == "VmRSS:" {r = $2}
			    $1 == "RssAnon:" {a = $2} END {print r + 0, a + 0}' \
			    "/proc/$MEM_PID/status" 2>/dev/null)
			[ "${r:-0}" -gt "$mr" ] && mr=$r
			[ "${a:-0}" -gt "$ma" ] && ma=$a
			echo "$mr $ma" >"$MEM_F"
			echo "$EPOCHREALTIME ${r:-0} ${a:-0}" >>"$MEM_F.tl"
			sleep 0.05
		done
	) &
	MEM_SAMPLER=$!
}
# mem_peak_since EPOCH: the highest sampled "VmRSS RssAnon" (KiB) from
# EPOCH on (0 0 when nothing was sampled), and until it when "before".
mem_peak_since() {
	awk -v t="$1" -v b="${2:-}" '(b == "" && $1 >= t) ||
	    (b != "" && $1 < t) {if ($2 > r) r = $2; if ($3 > a) a = $3}
	    END {print r + 0, a + 0}' "$MEM_F.tl"
}
# mem_stop: JSON of the window's memory (KiB).
mem_stop() {
	local hwm mr ma
	hwm=$(status_kb "$MEM_PID" VmHWM)
	rm -f "$MEM_F.run"
	wait "$MEM_SAMPLER" 2>/dev/null
	read -r mr ma <"$MEM_F"
	jq -n -c --argjson r0 "$MEM_RSS0" --argjson a0 "$MEM_ANON0" \
	    --argjson hwm "$hwm" --argjson mr "${mr:-0}" --argjson ma "${ma:-0}" \
	    --argjson clear "$MEM_CLEAR" '{rss_before_kb: $r0,
	    anon_before_kb: $a0, hwm_kb: (if $clear == 1 then $hwm else null end),
	    rss_peak_sampled_kb: $mr, anon_peak_sampled_kb: $ma,
	    growth_kb: ((if $clear == 1 then [$hwm, $mr] else [$mr] end | max)
	        - $r0),
	    anon_growth_kb: ($ma - $a0)}'
}

# ---- the repo (cached) --------------------------------------------------
STAMP="gg_gen.py history 10000 400 20 3 seed 1, $(cksum <"$GEN" | cut -d' ' -f1)"
if [ "$(cat "$CACHE/bb-perf-stamp" 2>/dev/null)" != "$STAMP" ]; then
	note "generating $CACHE (10,000 commits; once per build dir)"
	rm -rf "$CACHE" "$CACHE.tmp"
	mkdir -p "$(dirname "$CACHE")"
	git init -q --bare -b main "$CACHE.tmp" || die "git init"
	tm gen_s bash -c 'python3 "$1" history 10000 400 20 3 |
	    git -C "$2" fast-import --quiet' _ "$GEN" "$CACHE.tmp" ||
	    die "fast-import of the 10,000-commit repo failed"
	echo "$STAMP" >"$CACHE.tmp/bb-perf-stamp"
	mv "$CACHE.tmp" "$CACHE" || die "cannot store $CACHE"
	note "generated in $gen_s s"
fi
cp -r "$CACHE" "$UP/big.git" || die "cannot copy the repo"
put repo "$(jq -n --argjson c "$(git -C "$UP/big.git" rev-list --count main)" \
    --argjson o "$(git -C "$UP/big.git" count-objects -v | awk '$1 == "in-pack:" {print $2}')" \
    --argjson b "$(du -b "$UP"/big.git/objects/pack/*.pack | awk '{s += $1} END {print s}')" \
    --argjson p "$(packs "$UP/big.git")" \
    '{commits: $c, objects: $o, pack_bytes: $b, packs: $p}')"
note "repo: $(get repo | jq -c .)"

# ---- peers: sshd (the gate's upstream), git daemon, the gate ------------
sshd_start || die "sshd did not start"
DPORT=$(bb_free_port)
bb_bg git daemon --export-all --base-path="$UP" --listen=127.0.0.1 \
    --port="$DPORT" --reuseaddr "$UP" 2>>"$BB_T/daemon.log"
DAEMON_PID=${BB_PIDS[${#BB_PIDS[@]}-1]}
for _i in $(seq 1 250); do
	(exec 3<>"/dev/tcp/127.0.0.1/$DPORT") 2>/dev/null && break
	sleep 0.02
done
GT ls-remote "git://127.0.0.1:$DPORT/big.git" >/dev/null 2>&1 ||
    { cat "$BB_T/daemon.log" >&2; die "git daemon does not answer"; }
up_init scan
up_init small
gg_config "$(gg_repo big 'fetch_refresh: true')" \
    "$(gg_repo scan 'fetch_refresh: true')" \
    "$(gg_repo small 'fetch_refresh: true')"
gg_start || die "bb-sidecar did not start"
SIDECAR_PID=$BB_SIDECAR_PID
MIRROR=$STATE/git/big.git
snap start
url_of() {
	case $1 in
	daemon)	echo "git://127.0.0.1:$DPORT/$2.git" ;;
	git)	GURL "$2" ;;
	http)	HURL "$2" ;;
	esac
}
# Waits (at most 120 s) for the mirror to be one pack again (§4.5).
wait_one_pack() {
	local i
	for i in $(seq 1 1200); do
		[ "$(packs "$MIRROR")" -le 1 ] && return 0
		sleep 0.1
	done
	note "the mirror still has $(packs "$MIRROR") packs after 120 s"
	return 1
}

# ---- 1: clone -------------------------------------------------------------
tm cold GT clone -q --bare "$(GURL big)" "$BB_T/clone-cold" ||
    die "the first clone through the gate failed"
put cold_clone_s "$cold"
put cold_refresh "$(glog refresh big | tail -1)"
note "first clone through the gate (mirror created): $cold s"
wait_one_pack
put mirror_packs "$(packs "$MIRROR")"
snap mirror
rm -rf "$BB_T/clone-cold"
# One clone each to warm the page cache and the gate's mirror.
for cfg in daemon git http; do
	GT clone -q --bare "$(url_of $cfg big)" "$BB_T/warm-$cfg" ||
	    die "warm-up clone ($cfg) failed"
	rm -rf "$BB_T/warm-$cfg"
done
declare -A T
fast0=$(metric 'bb_gitgate_fetches_total{repo="big",result="ok",path="fast"}')
nf0=$(nlog fetch big)
nr0=$(nlog refresh big)
for r in $(seq 1 "$RUNS"); do
	for cfg in daemon git http; do
		d=$BB_T/clone-$cfg
		rm -rf "$d"
		tm t GT clone -q --bare "$(url_of $cfg big)" "$d" 2>"$BB_T/err" ||
		    { cat "$BB_T/err" >&2; die "clone $cfg round $r failed"; }
		T[$cfg]="${T[$cfg]:-} $t"
		note "clone $cfg round $r: $t s"
	done
done
fast1=$(metric 'bb_gitgate_fetches_total{repo="big",result="ok",path="fast"}')
for cfg in daemon git http; do
	# shellcheck disable=SC2086
	put clone_$cfg "$(jarr ${T[$cfg]} | jq -c '{runs: ., median: (sort |
	    if length % 2 == 1 then .[length / 2 | floor]
	    else (.[length / 2 - 1] + .[length / 2]) / 2 end)}')"
done
for f in git http; do
	put fetchlog_$f "$(glog fetch big | tail -n +$((nf0 + 1)) | jq -s -c \
	    --arg f $f '[.[] | select(.front == $f)] | {n: length,
	    fast: ([.[] | select(.fast_path == true)] | length),
	    bytes: ([.[] | .bytes] | max), ms: [.[] | .ms]}')"
done
put fast_metric_delta "$((fast1 - fast0))"
put clone_refresh_ms "$(glog refresh big | tail -n +$((nr0 + 1)) |
    jq -s -c '[.[] | .ms]')"
same=1
for cfg in daemon git http; do
	[ "$(git -C "$BB_T/clone-$cfg" rev-parse main)" = \
	    "$(git -C "$UP/big.git" rev-parse main)" ] || same=0
done
put clones_equal_upstream "$same"

# ---- 5a: memory during a fast-path clone, each front ----------------------
for f in git http; do
	rm -rf "$BB_T/clone-mem"
	mem_start "$SIDECAR_PID"
	GT clone -q --bare "$(url_of $f big)" "$BB_T/clone-mem" ||
	    die "memory clone ($f) failed"
	put mem_clone_$f "$(mem_stop)"
	note "clone $f memory: $(get mem_clone_$f | jq -c .)"
done
rm -rf "$BB_T/clone-mem"
put mem_clone_fast "$(glog fetch big | tail -2 | jq -s -c '[.[] | .fast_path]')"

snap clones
# ---- 2: incremental fetch of 100 new upstream commits --------------------
# Each round: 100 commits upstream, then the daemon's clone and one of the
# gate's clones fetch them (git:// then HTTP: 200 commits a round).
REFSPEC='+refs/heads/*:refs/heads/*'
add100() {
	local tip
	tip=$(git -C "$UP/big.git" rev-parse main) &&
	    GIT_DIR=$UP/big.git python3 "$GEN" history 100 400 20 3 \
	    --from "$tip" | git -C "$UP/big.git" fast-import --quiet
}
unset T
declare -A T
for r in $(seq 1 "$INC"); do
	for f in git http; do
		wait_one_pack
		add100 || die "cannot add 100 commits upstream"
		want=$(git -C "$UP/big.git" rev-parse main)
		tm t GT -C "$BB_T/clone-daemon" fetch -q origin "$REFSPEC" ||
		    die "incremental fetch (daemon) failed"
		T[daemon]="${T[daemon]:-} $t"
		nr=$(nlog refresh big)
		tm t GT -C "$BB_T/clone-$f" fetch -q origin "$REFSPEC" ||
		    die "incremental fetch ($f) failed"
		T[$f]="${T[$f]:-} $t"
		[ "$(git -C "$BB_T/clone-$f" rev-parse main)" = "$want" ] ||
		    same=0
		T[ref_$f]="${T[ref_$f]:-} $(glog refresh big |
		    tail -n +$((nr + 1)) | jq -s '[.[] | .ms] | add // 0')"
		note "incremental $f round $r: $t s"
	done
done
for k in daemon git http ref_git ref_http; do
	# shellcheck disable=SC2086
	put inc_$k "$(jarr ${T[$k]} | jq -c '{runs: ., median: (sort |
	    if length % 2 == 1 then .[length / 2 | floor]
	    else (.[length / 2 - 1] + .[length / 2]) / 2 end)}')"
done
put inc_equal_upstream "$same"
put merges "$(glog merge big | jq -s -c '[.[] | {packs, bytes, ms}]')"

# ---- 3: fetch with no upstream change ------------------------------------
wait_one_pack
unset T
declare -A T
for r in $(seq 1 "$RUNS"); do
	for cfg in daemon git http; do
		nr=$(nlog refresh big)
		tm t GT -C "$BB_T/clone-$cfg" fetch -q origin "$REFSPEC" ||
		    die "no-change fetch ($cfg) failed"
		T[$cfg]="${T[$cfg]:-} $t"
		[ $cfg = daemon ] && continue
		T[ref_$cfg]="${T[ref_$cfg]:-} $(glog refresh big |
		    tail -n +$((nr + 1)) | jq -s '[.[] | .ms] | add // 0')"
	done
done
for k in daemon git http ref_git ref_http; do
	# shellcheck disable=SC2086
	put noop_$k "$(jarr ${T[$k]} | jq -c '{runs: ., median: (sort |
	    if length % 2 == 1 then .[length / 2 | floor]
	    else (.[length / 2 - 1] + .[length / 2]) / 2 end)}')"
done

snap fetches
# ---- 4 and 5b: pushes -----------------------------------------------------
# push_run NAME GEN-ARGS...: clones NAME through the gate, adds the
# commits GEN-ARGS make, pushes over git:// and records push_NAME.
push_run() {
	local name=$1 w=$BB_T/w-$1 ns np t0 added mem scan phases te ts0 ts1
	shift
	GT clone -q "$(GURL "$name")" "$w" || die "clone of $name failed"
	python3 "$GEN" "$@" --from "$(git -C "$w" rev-parse main)" |
	    git -C "$w" fast-import --quiet || die "fast-import ($name) failed"
	added=$(git -C "$w" diff-tree -r --no-commit-id origin/main main |
	    awk '{print $4}' | git -C "$w" cat-file --batch-check='%(objectsize)' |
	    awk '{s += $1} END {print s + 0}')
	ns=$(nlog scan "$name")
	np=$(nlog push "$name")
	t0=$(pid_ticks "$SIDECAR_PID" 0)
	mem_start "$SIDECAR_PID"
	ts0=$EPOCHREALTIME
	tm t GT -C "$w" push -q origin main:main 2>"$BB_T/push.err" ||
	    { cat "$BB_T/push.err" >&2; mem_stop >/dev/null;
	    die "push $name failed"; }
	ts1=$EPOCHREALTIME
	mem=$(mem_stop)
	scan=$(glog scan "$name" | tail -n +$((ns + 1)) | tail -1 | jq -c . |
	    grep . || echo null)
	# The peaks before the scan ended (pack intake, indexing, scan) and
	# after (forward upstream, apply), from the sampled timeline.
	phases=null
	if [ "$scan" != null ]; then
		te=$(date -d "$(echo "$scan" | jq -r .ts)" +%s.%N)
		phases=$(jq -n -c --argjson r0 "$MEM_RSS0" --argjson a0 \
		    "$MEM_ANON0" --arg b "$(mem_peak_since "$te" before)" \
		    --arg a "$(mem_peak_since "$te")" --argjson ts0 "$ts0" \
		    --argjson ts1 "$ts1" --argjson te "$te" '($b | split(" ") |
		    map(tonumber)) as $b | ($a | split(" ") | map(tonumber)) as
		    $a | {intake_scan_growth_kb: ($b[0] - $r0),
		    intake_scan_anon_growth_kb: ($b[1] - $a0),
		    forward_growth_kb: ($a[0] - $r0),
		    forward_anon_growth_kb: ($a[1] - $a0),
		    intake_scan_s: ($te - $ts0), forward_s: ($ts1 - $te)}')
	fi
	put push_$name "$(jq -n -c --argjson mem "$mem" \
	    --argjson phases "$phases" \
	    --argjson wall "$t" --argjson added "$added" \
	    --argjson ticks "$(( $(pid_ticks "$SIDECAR_PID" 0) - t0 ))" \
	    --argjson hz "$(getconf CLK_TCK)" \
	    --argjson scan "$scan" \
	    --argjson push "$(glog push "$name" | tail -n +$((np + 1)) |
	        tail -1 | jq -c '{decision, upstream, pack_bytes, pack_objects,
	        commits_scanned, bytes_scanned, findings, files_skipped, ms}' |
	        grep . || echo null)" \
	    --argjson commits "$(git -C "$w" rev-list --count origin/main..main)" \
	    --argjson ok "$([ "$(git -C "$UP/$name.git" rev-parse main)" = \
	        "$(git -C "$w" rev-parse main)" ] && echo 1 || echo 0)" \
	    '{wall_s: $wall, added_bytes: $added, commits: $commits,
	      upstream_has_it: $ok, process_cpu_s: ($ticks / $hz),
	      scan: $scan, push: $push, mem: ($mem + {phases: $phases})}')"
	note "push $name: $(get push_$name | jq -c '{wall_s, scan, push}')"
	rm -rf "$w"
}
push_run scan bigcommit 50 2400000
push_run small small 10000
snap pushes

put load_after "\"$(loadavg)\""
perf_cpu_others "$SIDECAR_PID" "$DAEMON_PID" "$SSHD_PID"
put runs "$RUNS"
put inc_rounds "$INC"

# ---- the table --------------------------------------------------------------
jq -r -f /dev/stdin "$RES" >"$OUT/gitgate.md" <<'JQ'
def f2: if . == null then "—" else ((. * 100 | round) / 100 | tostring) end;
def f0: if . == null then "—" else (. | round | tostring) end;
def mib: if . == null then "—" else ((. / 1024 * 10 | round) / 10 | tostring) end;
def yn(c): if c then "yes" else "**no**" end;
def times(a; b): if a == null or b == null or b == 0 then "—"
    else ((a / b * 100 | round) / 100 | tostring) + "×" end;
. as $r |
($r.clone_daemon.median) as $d |
($r.clone_git.median) as $g | ($r.clone_http.median) as $h |
($r.push_scan) as $ps | ($r.push_small) as $pm |
def scan_cpu(p): if p.scan != null then p.scan.scan_cpu_ms / 1000
    else p.process_cpu_s end;
def mbps(p): if p == null then null else p.added_bytes / scan_cpu(p) / 1e6 end;
def cps(p): if p == null or p.push == null then null
    else p.push.commits_scanned / scan_cpu(p) end;
def pushmem(p): p.mem.growth_kb;
def pushlim(p): 64 * 1024 + (p.push.pack_objects // 0);
"# make perf: gitgate",
"",
"\($r.machine.date); \($r.machine.nproc) CPUs (\($r.machine.cpu)); \($r.machine.kernel); load average \($r.machine.load_before) before, \($r.load_after) after; other processes took \($r.cpu.others_pct)% of all CPU time during the run; CFLAGS `\($r.machine.cflags)`; \($r.machine.git).",
"",
"Upstream: \($r.repo.commits) linear commits over 400 files in 20 dirs, \($r.repo.objects) objects, one \(($r.repo.pack_bytes / 1048576 * 10 | round) / 10) MiB pack (as `git fast-import` wrote it, no bitmap). git daemon serves it directly; the gate (`fetch_refresh: true`, warm mirror of \($r.mirror_packs) pack) reaches it over loopback OpenSSH. Clones: `git clone --bare`, protocol v2, median of \($r.runs), the three configurations interleaved; incremental: \($r.inc_rounds) rounds per front.",
"",
"| measure | git daemon | gate git:// | gate HTTP | target | met |",
"|---|---|---|---|---|---|",
"| clone --bare, s (median) | \($d | f2) | \($g | f2) (\(times($g; $d))) | \($h | f2) (\(times($h; $d))) | ≤ 1.5× daemon | \(yn($g != null and $h != null and $g <= 1.5 * $d and $h <= 1.5 * $d)) |",
"| fast path used (fetch log; `bb_gitgate_fetches_total{path=\"fast\"}` +\($r.fast_metric_delta)) | — | \($r.fetchlog_git.fast)/\($r.fetchlog_git.n) | \($r.fetchlog_http.fast)/\($r.fetchlog_http.n) | every clone | \(yn($r.fetchlog_git.fast == $r.fetchlog_git.n and $r.fetchlog_http.fast == $r.fetchlog_http.n and $r.fast_metric_delta == ($r.fetchlog_git.n + $r.fetchlog_http.n))) |",
"| first clone, cold mirror, s | — | \($r.cold_clone_s | f2) (refresh \($r.cold_refresh.ms / 1000 | f2) s) | — | | |",
"| fetch of 100 new commits, s (median) | \($r.inc_daemon.median | f2) | \($r.inc_git.median | f2) | \($r.inc_http.median | f2) | ≤ 1 s | \(yn($r.inc_git.median != null and $r.inc_git.median <= 1 and $r.inc_http.median <= 1)) |",
"| ...of which refresh, ms (median) | — | \($r.inc_ref_git.median | f0) | \($r.inc_ref_http.median | f0) | | |",
"| fetch, no upstream change, s (median) | \($r.noop_daemon.median | f2) | \($r.noop_git.median | f2) | \($r.noop_http.median | f2) | | |",
"| refresh overhead (refresh event), ms (median) | — | \($r.noop_ref_git.median | f0) | \($r.noop_ref_http.median | f0) | ≤ 300 ms | \(yn($r.noop_ref_git.median != null and $r.noop_ref_git.median <= 300 and $r.noop_ref_http.median <= 300)) |",
"| scan: 1 commit, 50 files of 2.4 MB, MB/s of scan-job CPU | — | \(mbps($ps) | f0) (\($ps.added_bytes / 1e6 | f0) MB in \(scan_cpu($ps) | f2) s) | — | ≥ 50 MB/s | \(yn(mbps($ps) != null and mbps($ps) >= 50)) |",
"| scan: 10,000 small commits, commits/s of scan-job CPU | — | \(cps($pm) | f0) (\($pm.push.commits_scanned) in \(scan_cpu($pm) | f2) s) | — | ≥ 1,000/s | \(yn(cps($pm) != null and cps($pm) >= 1000)) |",
"| push wall time, s: big commit / 10,000 commits (until the scan ended + after: forward, apply) | — | \($ps.wall_s | f2) (\($ps.mem.phases.intake_scan_s | f2) + \($ps.mem.phases.forward_s | f2)) / \($pm.wall_s | f2) (\($pm.mem.phases.intake_scan_s | f2) + \($pm.mem.phases.forward_s | f2)) | — | | |",
"| gate CPU during the push, s: big / small (whole process) | — | \($ps.process_cpu_s | f2) / \($pm.process_cpu_s | f2) | — | | |",
"| RSS growth, fast-path clone, MiB (anon) | — | \($r.mem_clone_git.growth_kb | mib) (\($r.mem_clone_git.anon_growth_kb | mib)) | \($r.mem_clone_http.growth_kb | mib) (\($r.mem_clone_http.anon_growth_kb | mib)) | ≤ 32 MiB | \(yn($r.mem_clone_git.growth_kb != null and $r.mem_clone_git.growth_kb <= 32768 and $r.mem_clone_http.growth_kb <= 32768)) |",
"| RSS growth, big push (\($ps.push.pack_objects) objects, \($ps.push.pack_bytes / 1048576 | f0) MiB pack), MiB (anon); until the scan ended / after | — | \(pushmem($ps) | mib) (\($ps.mem.anon_growth_kb | mib)); \($ps.mem.phases.intake_scan_growth_kb | mib) / \($ps.mem.phases.forward_growth_kb | mib) | — | ≤ \(pushlim($ps) | mib) MiB | \(yn(pushmem($ps) != null and pushmem($ps) <= pushlim($ps))) |",
"| RSS growth, 10,000-commit push (\($pm.push.pack_objects) objects), MiB (anon); until the scan ended / after | — | \(pushmem($pm) | mib) (\($pm.mem.anon_growth_kb | mib)); \($pm.mem.phases.intake_scan_growth_kb | mib) / \($pm.mem.phases.forward_growth_kb | mib) | — | ≤ \(pushlim($pm) | mib) MiB | \(yn(pushmem($pm) != null and pushmem($pm) <= pushlim($pm))) |",
"| gate RSS when idle, MiB (anon): start / mirror made / after clones / after fetches / after pushes | — | \([$r.idle_start, $r.idle_mirror, $r.idle_clones, $r.idle_fetches, $r.idle_pushes] | map("\(.rss_kb | mib) (\(.anon_kb | mib))") | join(" / ")) | — | | |",
"",
"Checks: clones and fetches equal upstream: \(if $r.clones_equal_upstream == 1 and $r.inc_equal_upstream == 1 then "yes" else "**no**" end); pushes: big \($ps.push.decision // "—") (upstream \($ps.push.upstream // "—"), findings \($ps.push.findings // "—"), skipped \($ps.push.files_skipped // "—")), small \($pm.push.decision // "—") (upstream \($pm.push.upstream // "—"), findings \($pm.push.findings // "—")). Scan CPU is \(if $ps.scan != null then "the scan job's thread CPU (`scan` log line, `scan_cpu_ms`)" else "the whole process's CPU during the push (no `scan` log line): an upper bound" end). Pack merges during the run: \($r.merges | map("\(.packs) packs \(.ms) ms") | join(", ") | if . == "" then "none" else . end).",
"RSS growth is max(VmHWM after `clear_refs`, VmRSS sampled every 50 ms) minus VmRSS before; anon is RssAnon (the stored pack's mapped pages are file-backed)."
JQ
[ -s "$OUT/gitgate.md" ] || die "could not write the table"
cp "$RES" "$OUT/gitgate.json"
cat "$OUT/gitgate.md"
echo "gitgate_perf: wrote $OUT/gitgate.md and $OUT/gitgate.json"
exit 0
