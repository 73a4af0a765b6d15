#!/usr/bin/env bash
# gitgate §16 tests 1-5, 22, 30, 32: clone, protocol fallback, shallow,
# refresh, negotiation (against git daemon and http-backend), unknown
# repos, shared refresh, empty upstream.  Both fronts, protocol default
# (2) and 0, a real OpenSSH upstream.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gitgate_env.sh"

sshd_start || { echo "Bail out! sshd did not start"; exit 1; }
up_init up trunk
# A second branch and a lightweight tag.
git -C "$BB_T/seed-up" checkout -q -b side
echo side >"$BB_T/seed-up/s.txt"
git -C "$BB_T/seed-up" add s.txt
git -C "$BB_T/seed-up" commit -q -m side
git -C "$BB_T/seed-up" tag light
git -C "$BB_T/seed-up" push -q "$UP/up.git" side light
git init -q --bare -b main "$UP/empty.git"
gg_config "$(gg_repo up)" "$(gg_repo empty)"
gg_start || { echo "Bail out! sidecar did not start"; exit 1; }

# ---- 1: clone --------------------------------------------------------
n=0
for front in git http; do
	for pv in 2 0; do
		n=$((n + 1))
		url=$([ $front = git ] && GURL up || HURL up)
		d=$BB_T/clone-$front-$pv
		G -c protocol.version=$pv clone -q "$url" "$d" 2>"$d.err"
		ok $? "1: clone over $front, protocol.version=$pv"
		is "$(git -C "$d" rev-parse HEAD 2>/dev/null)" \
		    "$(git -C "$UP/up.git" rev-parse trunk)" \
		    "1: $front/$pv: checked-out commit equals upstream"
		is "$(git -C "$d" symbolic-ref --short HEAD 2>/dev/null)" trunk \
		    "1: $front/$pv: the non-main default branch is checked out"
		is "$(git -C "$d" for-each-ref --format='%(objectname) %(refname)' refs/tags)" \
		    "$(git -C "$UP/up.git" for-each-ref --format='%(objectname) %(refname)' refs/tags)" \
		    "1: $front/$pv: tags (annotated and light) equal upstream"
		is "$(git -C "$d" rev-parse origin/side 2>/dev/null)" \
		    "$(git -C "$UP/up.git" rev-parse side)" \
		    "1: $front/$pv: other branches arrive"
	done
done
ok $([ -d "$STATE/git/up.git/objects" ] && echo 0 || echo 1) "1: the mirror exists"
is "$(git -C "$STATE/git/up.git" config bbsidecar.upstream)" "$(up_url up)" \
    "1: the mirror records its upstream"
like "$(bb_log)" '"event":"refresh","repo":"up","result":"ok"' "1: refresh logged"
like "$(bb_log)" '"event":"fetch".*"repo":"up".*"result":"ok"' "1: fetch logged"
ok $([ ! -e "$STATE/git/up.git/FETCH_HEAD" ] && echo 0 || echo 1) \
    "1: no FETCH_HEAD in the mirror"

# ---- 2: protocol fallback ----------------------------------------------
printf 'gitgate:\n  protocol_v2: false\n' >"$CONF/.sidecar.yaml.tmp"
mv "$CONF/.sidecar.yaml.tmp" "$CONF/sidecar.yaml"
kill -HUP "$BB_SIDECAR_PID"
sleep 2.5
out=$(GIT_TRACE_PACKET=1 G -c protocol.version=2 ls-remote "$(GURL up)" 2>&1)
like "$out" 'trunk' "2: protocol_v2 false: a protocol.version=2 client lists refs"
unlike "$out" 'git< version 2' "2: ...and the gate answered in v0"
d=$BB_T/clone-v2off
G -c protocol.version=2 clone -q "$(HURL up)" "$d" 2>/dev/null
ok $? "2: protocol_v2 false: a protocol.version=2 client clones over HTTP"
out=$(GIT_TRACE_PACKET=1 G -c protocol.version=1 ls-remote "$(HURL up)" 2>&1)
like "$out" 'git< version 1' "2: protocol.version=1 over HTTP gets 'version 1'"
d=$BB_T/clone-v1
G -c protocol.version=1 clone -q "$(GURL up)" "$d" 2>/dev/null
ok $? "2: protocol.version=1 clone over git://"
rm -f "$CONF/sidecar.yaml"
kill -HUP "$BB_SIDECAR_PID"
sleep 2.5
for front in git http; do
	url=$([ $front = git ] && GURL up || HURL up)
	out=$(GIT_TRACE_PACKET=1 G -c protocol.version=2 ls-remote "$url" 2>&1)
	like "$out" '< version 2' "2: $front: with v2 enabled ls-remote shows version 2"
	like "$out" '> command=ls-refs' "2: $front: ...and ls-refs"
	like "$out" 'refs/heads/trunk' "2: $front: ...listing the refs"
done

# ---- 3: shallow --------------------------------------------------------
w=$BB_T/seed-up
git -C "$w" checkout -q trunk
for i in 1 2 3 4 5 6 7; do
	echo "$i" >"$w/n$i"
	git -C "$w" add "n$i"
	git -C "$w" commit -q -m "n$i"
done
git -C "$w" push -q "$UP/up.git" trunk
total=$(git -C "$UP/up.git" rev-list --count trunk)
for front in git http; do
	url=$([ $front = git ] && GURL up || HURL up)
	d=$BB_T/shallow-$front
	G clone -q --depth 1 "$url" "$d" 2>/dev/null
	is "$(git -C "$d" rev-list --count HEAD 2>/dev/null)" 1 "3: $front: --depth 1 gives one commit"
	is "$(git -C "$d" rev-parse --is-shallow-repository 2>/dev/null)" true \
	    "3: $front: the clone is shallow"
	G -C "$d" fetch -q --depth 5 2>/dev/null
	is "$(git -C "$d" rev-list --count HEAD 2>/dev/null)" 5 "3: $front: fetch --depth 5 gives 5"
	G -C "$d" fetch -q --unshallow 2>/dev/null
	is "$(git -C "$d" rev-list --count HEAD 2>/dev/null)" "$total" \
	    "3: $front: --unshallow gives full history"
	git -C "$d" fsck --no-dangling >/dev/null 2>&1
	ok $? "3: $front: git fsck passes"
	# The shoulds: --deepen, --shallow-since, --shallow-exclude.
	for pv in 2 0; do
		d=$BB_T/deepen-$front-$pv
		G -c protocol.version=$pv clone -q --depth 2 "$url" "$d" 2>/dev/null
		G -C "$d" -c protocol.version=$pv fetch -q --deepen 2 2>/dev/null
		is "$(git -C "$d" rev-list --count HEAD 2>/dev/null)" 4 \
		    "3: $front/$pv: --deepen 2 after --depth 2 gives 4"
		t=$(git -C "$UP/up.git" log -1 --format=%ct trunk~3)
		d=$BB_T/since-$front-$pv
		G -c protocol.version=$pv clone -q --shallow-since="$t" "$url" "$d" 2>/dev/null
		is "$(git -C "$d" rev-list --count HEAD 2>/dev/null)" \
		    "$(git -C "$UP/up.git" rev-list --count --since="$t" trunk)" \
		    "3: $front/$pv: --shallow-since"
		d=$BB_T/excl-$front-$pv
		G -c protocol.version=$pv clone -q --shallow-exclude=v1 "$url" "$d" 2>/dev/null
		is "$(git -C "$d" rev-list --count HEAD 2>/dev/null)" \
		    "$(git -C "$UP/up.git" rev-list --count trunk ^v1)" \
		    "3: $front/$pv: --shallow-exclude"
		git -C "$d" fsck --no-dangling >/dev/null 2>&1
		ok $? "3: $front/$pv: ...and fsck passes"
	done
done

# ---- 4: refresh ----------------------------------------------------------
d=$BB_T/clone-git-2
up_commit up oob.txt "out of band" trunk
G -C "$d" fetch -q 2>/dev/null
is "$(git -C "$d" rev-parse origin/trunk)" "$(git -C "$UP/up.git" rev-parse trunk)" \
    "4: an out-of-band upstream commit shows through the gate"
git -C "$UP/up.git" branch -q -D side
git -C "$UP/up.git" tag -f -a -m moved v1 trunk >/dev/null
G -C "$d" fetch -q --prune --force --tags 2>/dev/null
ok $(git -C "$d" rev-parse -q --verify origin/side >/dev/null && echo 1 || echo 0) \
    "4: an upstream branch deletion is pruned"
is "$(git -C "$d" rev-parse v1)" "$(git -C "$UP/up.git" rev-parse v1)" "4: a moved tag moves"
ok $(git -C "$STATE/git/up.git" rev-parse -q --verify refs/heads/side >/dev/null && echo 1 || echo 0) \
    "4: the mirror dropped the branch too"

# ---- 5: negotiation ----------------------------------------------------
# 510 commits upstream; the client holds the first 500.
git init -q --bare "$UP/neg.git"
python3 - "$BB_T/neg.fi" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(1, 511):
        data = "line %d\n" % i
        msg = "c%d\n" % i
        f.write("commit refs/heads/main\nmark :%d\n" % i)
        f.write("committer t <t@example.invalid> %d +0000\n" % (1700000000 + i))
        f.write("data %d\n%s" % (len(msg), msg))
        if i > 1:
            f.write("from :%d\n" % (i - 1))
        f.write("M 644 inline f%d.txt\ndata %d\n%s\n" % (i % 50, len(data), data))
PY
git -C "$UP/neg.git" fast-import --quiet <"$BB_T/neg.fi"
git -C "$UP/neg.git" symbolic-ref HEAD refs/heads/main
c500=$(git -C "$UP/neg.git" rev-parse main~10)
gg_config "$(gg_repo up)" "$(gg_repo empty)" "$(gg_repo neg)"
kill -HUP "$BB_SIDECAR_PID"
sleep 2.5
mkclient() {	# mkclient DIR: a repo holding commits 1..500 of neg
	git init -q "$1"
	git -C "$1" fetch -q "$UP/neg.git" "$c500:refs/remotes/origin/main"
	git -C "$1" config fetch.unpackLimit 100000
}
# A reference git daemon and http-backend serve a copy of neg.git.
mkdir -p "$BB_T/ref"
git clone -q --bare "$UP/neg.git" "$BB_T/ref/neg.git"
DPORT=$(bb_free_port)
bb_bg git daemon --listen=127.0.0.1 --port="$DPORT" --export-all \
    --base-path="$BB_T/ref" --reuseaddr "$BB_T/ref"
BBT_ORIGIN=${BBT_ORIGIN:-$BB_BUILDDIR/tests/bbt-origin}
OPORT=
if [ -x "$BBT_ORIGIN" ]; then
	bb_bg "$BBT_ORIGIN" --plain 127.0.0.1:0 --git-root "$BB_T/ref" \
	    --git-host 127.0.0.1 \
	    --ready-file "$BB_T/origin.ready"
fi
for _i in $(seq 1 250); do
	(exec 3<>"/dev/tcp/127.0.0.1/$DPORT") 2>/dev/null && break
	sleep 0.02
done
for _i in $(seq 1 250); do [ -s "$BB_T/origin.ready" ] && break; sleep 0.02; done
[ -s "$BB_T/origin.ready" ] && OPORT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["plain"][0])' "$BB_T/origin.ready")
acks() {	# acks DIR URL [proto]: the ACK/NAK lines a fetch received
	GIT_TRACE_PACKET=1 G -C "$1" -c protocol.version=${3:-0} fetch -q "$2" \
	    main:refs/remotes/origin/main 2>&1 |
	    sed -n -E 's/.* (fetch|fetch-pack)< (ACK.*|NAK)$/\2/p'
}
for front in git http; do
	d=$BB_T/neg-$front
	mkclient "$d"
	before=$(git -C "$d" count-objects -v | sed -n 's/^count: //p')
	url=$([ $front = git ] && GURL neg || HURL neg)
	seq_gate=$(acks "$d" "$url")
	after=$(git -C "$d" count-objects -v | sed -n 's/^count: //p')
	is "$(git -C "$d" rev-parse origin/main)" "$(git -C "$UP/neg.git" rev-parse main)" \
	    "5: $front: the 10 new commits arrived"
	is "$((after - before))" 30 "5: $front: the pack held only the new commits' 30 objects"
	d2=$BB_T/neg-ref-$front
	mkclient "$d2"
	if [ $front = git ]; then
		seq_ref=$(acks "$d2" "git://127.0.0.1:$DPORT/neg.git")
		what="git daemon"
	elif [ -n "$OPORT" ]; then
		seq_ref=$(acks "$d2" "http://127.0.0.1:$OPORT/neg.git")
		what="git http-backend"
	else
		seq_ref="(no http-backend)"
		what="git http-backend"
	fi
	if [ $front = http ]; then
		# http-backend advertises no-done, which the gate never does
		# (§6.1): after "ready" git answers at once.  Compare the
		# negotiation up to the ready round.
		seq_gate=$(printf '%s\n' "$seq_gate" | sed '/ ready$/{n;q}')
		seq_ref=$(printf '%s\n' "$seq_ref" | sed '/ ready$/{n;q}')
	fi
	is "$seq_gate" "$seq_ref" "5: $front: the ACK/NAK sequence matches $what"
	[ -n "$seq_gate" ] || diag "empty ACK sequence"
done

# ---- 22: unknown or invalid repos ---------------------------------------
for name in nope ../x a%20b x.git.git; do
	out=$(G ls-remote "git://127.0.0.1:$GG_GIT/$name" 2>&1)
	like "$out" "bb-sidecar: unknown repository" "22: git://$name: unknown repository"
	out=$(G ls-remote "http://127.0.0.1:$GG_HTTP/$name" 2>&1)
	like "$out" "remote: bb-sidecar: unknown repository|not found" \
	    "22: http $name: refused"
	st=$(curl -s -o "$BB_T/body" -w '%{http_code}' --max-time 5 \
	    "http://127.0.0.1:$GG_HTTP/$name/info/refs?service=git-upload-pack")
	is "$st" 404 "22: http $name: 404"
done
like "$(cat "$BB_T/body")" "^bb-sidecar: unknown repository 'x.git' \(declared: up, empty, neg\)" \
    "22: the 404 body names the declared repos"

# ---- 30: shared refresh ----------------------------------------------------
up_commit up shared.txt "for the shared refresh" trunk
r0=$(log_count refresh)
pids=()
for i in $(seq 1 10); do
	G clone -q "$(GURL up)" "$BB_T/many-$i" 2>/dev/null &
	pids+=($!)
done
fails=0
for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
is "$fails" 0 "30: ten concurrent clones succeed"
r1=$(log_count refresh)
waiters=$(bb_log | grep '"event":"refresh"' | tail -n $((r1 - r0)) |
    sed -n 's/.*"waiters":\([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
is "$waiters" 10 "30: the refreshes served all ten clones"
ok $([ $((r1 - r0)) -lt 10 ] && echo 0 || echo 1) "30: they shared refreshes ($((r1 - r0)) for 10)"

# ---- 32: empty upstream --------------------------------------------------
d=$BB_T/empty-clone
out=$(G clone "$(GURL empty)" "$d" 2>&1)
ok $? "32: cloning an empty upstream works"
echo first >"$d/f"
git -C "$d" add f
git -C "$d" commit -q -m first
G -C "$d" push -q origin HEAD:refs/heads/main 2>/dev/null
ok $? "32: the first push works"
is "$(git -C "$UP/empty.git" rev-parse main)" "$(git -C "$d" rev-parse HEAD)" \
    "32: it created main upstream"
G clone -q "$(HURL empty)" "$BB_T/empty-2" 2>/dev/null
is "$(git -C "$BB_T/empty-2" symbolic-ref --short HEAD 2>/dev/null)" main \
    "32: a fresh clone checks out main"

ok $(bb_no_sanitizer_reports && echo 0 || echo 1) "no sanitizer reports"
bb_stop
is $? 0 "SIGTERM: exit 0"
done_testing
