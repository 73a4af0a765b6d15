#!/usr/bin/env bash
# gitgate §6.5 / §11: what a client sees while the gate builds a pack:
# band-2 progress (at most once a second, none with no-progress), git's
# keepalive 0005\x01 after keepalive_s of silence, and a progress line
# while a request waits for a packbuilder slot.  The packbuilder path is
# forced with a deepening fetch of a repo big enough to take seconds.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gitgate_env.sh"

sshd_start || { echo "Bail out! sshd did not start"; exit 1; }
# big: 6000 commits over 300 files (about 30k objects).
git init -q --bare -b main "$UP/big.git"
python3 - <<'EOF' | git -C "$UP/big.git" fast-import --quiet
import random, sys
random.seed(1)
w = sys.stdout.write
for c in range(6000):
    w("commit refs/heads/main\n")
    w("committer t <t@example.invalid> %d +0000\n" % (1700000000 + c))
    w("data 6\nc%04d\n" % c)
    for f in (range(300) if c == 0 else random.sample(range(300), 3)):
        body = "".join("line %d of file %d rev %d %08x\n" %
            (i, f, c, random.getrandbits(32)) for i in range(40))
        w("M 644 inline f%03d.txt\ndata %d\n%s\n" % (f, len(body), body))
    w("\n")
EOF
cat >"$CONF/sidecar.yaml" <<EOF
gitgate:
  max_concurrent_packbuilds: 1
  keepalive_s: 1
  progress_interval_s: 1
EOF
gg_config "$(gg_repo big)"
gg_start || { echo "Bail out! sidecar did not start"; exit 1; }
G ls-remote "$(GURL big)" >/dev/null 2>&1	# warm the mirror

# A deepening clone always takes the packbuilder path (§6.5).
deep_clone() {	# deep_clone URL DIR PROTOCOL_VERSION [clone options...]
	local url=$1 d=$2 pv=$3
	shift 3
	rm -rf "$d"
	G -c protocol.version="$pv" clone --bare --depth 100000 "$@" "$url" "$d"
}

# ---- progress lines while the pack is built ----
for front in git http; do
	for pv in 2 0; do
		url=$([ $front = git ] && GURL big || HURL big)
		out=$(deep_clone "$url" "$BB_T/p-$front-$pv" $pv --progress 2>&1)
		ok $? "6.5: $front v$pv: a deepening clone of big works"
		is "$(git -C "$BB_T/p-$front-$pv" rev-list --count main)" 6000 \
		    "6.5: $front v$pv: ...with every commit"
		like "$out" 'remote: bb-sidecar: (counting|compressing) objects' \
		    "6.5: $front v$pv: band-2 progress while the pack is built"
		lines=$(printf '%s\n' "$out" | tr '\r' '\n' | grep -c 'remote: bb-sidecar: ')
		ms=$(bb_log | grep '"event":"fetch"' | tail -1 | sed -n 's/.*"ms":\([0-9]*\).*/\1/p')
		ok $([ "$lines" -le $(( ${ms:-0} / 1000 + 2 )) ] && echo 0 || echo 1) \
		    "6.5: $front v$pv: ...at most once a second ($lines lines in $ms ms)"
	done
done

# ---- no-progress: no lines, but keepalives ----
out=$(deep_clone "$(GURL big)" "$BB_T/q" 0 -q 2>&1)
ok $? "6.5: a quiet clone works"
unlike "$out" 'bb-sidecar' "6.5: no-progress: no progress lines"

# A raw v0 client: want + deepen + done with no-progress; the packets
# between the NAK and the pack must hold keepalives (empty band 1).
tip=$(git -C "$UP/big.git" rev-parse main)
res=$(timeout 120 python3 - "$GG_GIT" "$tip" <<'EOF'
import socket, sys
def pkt(b): return b"%04x" % (len(b) + 4) + b
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(pkt(b"git-upload-pack /big.git\0host=127.0.0.1\0"))
buf = b""
def read_pkt():
    global buf
    while len(buf) < 4:
        d = s.recv(65536)
        if not d: raise EOFError
        buf += d
    n = int(buf[:4], 16)
    if n == 0:
        buf = buf[4:]
        return b""
    while len(buf) < n:
        d = s.recv(65536)
        if not d: raise EOFError
        buf += d
    p, buf = buf[4:n], buf[n:]
    return p
while read_pkt() != b"":	# the advertisement
    pass
want = b"want " + sys.argv[2].encode()
s.sendall(pkt(want + b" side-band-64k ofs-delta no-progress shallow\n") +
    pkt(b"deepen 100000\n") + b"0000")
while read_pkt() != b"":	# shallow section
    pass
s.sendall(pkt(b"done\n"))
assert read_pkt().startswith(b"NAK")
keep = progress = 0
while True:
    p = read_pkt()
    if p == b"\x01":
        keep += 1
    elif p[:1] == b"\x02":
        progress += 1
    elif p[:1] == b"\x01":
        print("first data %r keepalives %d progress %d" % (p[1:5], keep, progress))
        break
    else:
        print("unexpected %r" % p[:40])
        break
EOF
)
like "$res" "first data b'PACK' keepalives [1-9]" \
    "6.5: keepalive 0005\\\\x01 packets while the pack is built ($res)"
like "$res" "progress 0\$" "6.5: ...and no band 2 with no-progress"

# ---- a request waiting for the only packbuilder slot ----
deep_clone "$(GURL big)" "$BB_T/slot1" 0 -q 2>/dev/null &
p1=$!
sleep 0.3
out=$(deep_clone "$(HURL big)" "$BB_T/slot2" 2 --progress 2>&1)
ok $? "11: the second clone works after the wait"
wait $p1
ok $? "11: ...and so does the first"
like "$out" 'remote: bb-sidecar: waiting for a pack builder slot \([0-9]+ s, at most 60 s\)' \
    "11: a request waiting for a packbuilder slot says so on band 2"

ok $(bb_no_sanitizer_reports && echo 0 || echo 1) "no sanitizer reports"
bb_stop
is $? 0 "SIGTERM: exit 0"
done_testing
