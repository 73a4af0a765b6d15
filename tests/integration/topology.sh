#!/usr/bin/env bash
# The bottle's network shape, end to end (spec/bundle.md §5.1): three
# network namespaces made here and nowhere else,
#
#   agent ns (uid 65533)  --veth--  sidecar ns (bb-sidecar, uid 65532)
#   10.98.0.2/24                    10.98.0.1/24, 203.0.113.1/24  --veth--
#   default via 10.98.0.1           ip_forward=0, default via .254
#                                           internet ns: 203.0.113.254/24,
#   .10:443 origin.bb.test (TLS)  .11:443 badcert.bb.test (untrusted)
#   .12:80 evil.bb.test (no route)  .22:22 sshd (git.bb.test)  .53 dnsmasq
#   traps 169.254.169.254:80 and 10.99.0.10:80; route 10.98.0.0/24 via .1
#
# so only the sidecar's not forwarding stands between agent and origins.
# The agent's checks are tests/topology/agent-checks.sh (also run by
# check-image); this script sets up, checks the other side of each
# (origin logs, trap counters, the sidecar's environment), reloads and
# stops.  Every address is inside the namespaces; the EXIT trap kills what
# it started by PID and deletes the namespaces, veths and /etc/netns dirs.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || skip_all "not root (network namespaces need root)"
for t in ip setpriv dnsmasq curl jq ssh-keygen timeout; do
	command -v "$t" >/dev/null || skip_all "$t not installed"
done
BBT_ORIGIN=${BBT_ORIGIN:-$BB_BUILDDIR/tests/bbt-origin}
[ -x "$BBT_ORIGIN" ] || skip_all "bbt-origin not built"
AGENT_CHECKS=$BB_SRCDIR/tests/topology/agent-checks.sh

P=$$
NS_A=bbtA$P NS_S=bbtS$P NS_I=bbtI$P
V_A=bta$P V_SA=bts$P V_SI=btu$P V_I=bti$P
ip netns add "$NS_A" 2>/dev/null ||
    skip_all "ip netns add does not work here"
T0_NS=$(date +%s%N)
NETNS_DIRS=()

# Everything in these namespaces was started here: stop it by PID (what
# the trap of lib.sh started first, then whatever is still inside), then
# delete the namespaces.
ns_pids() { local ns; for ns in "$NS_A" "$NS_S" "$NS_I"; do
	ip netns pids "$ns" 2>/dev/null; done; }
topo_cleanup() {
	local ns v p i
	bb_cleanup
	for p in $(ns_pids); do kill "$p" 2>/dev/null; done
	for i in $(seq 1 50); do
		[ -z "$(ns_pids)" ] && break
		sleep 0.1
	done
	for p in $(ns_pids); do kill -KILL "$p" 2>/dev/null; done
	for ns in "$NS_A" "$NS_S" "$NS_I"; do
		ip netns del "$ns" 2>/dev/null
	done
	for v in "$V_A" "$V_SA" "$V_SI" "$V_I"; do
		ip link del "$v" 2>/dev/null
	done
	for d in "${NETNS_DIRS[@]}"; do rm -rf "$d"; done
}
trap topo_cleanup EXIT
trap "exit 1" INT TERM HUP

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
# The agent: uid 65533, an empty environment but what agent-checks reads.
in_agent() {
	ip netns exec "$NS_A" setpriv --reuid 65533 --regid 65533 \
	    --clear-groups env -i PATH=/usr/local/bin:/usr/bin:/bin \
	    HOME="$AGENT/home" SIDECAR_IP=10.98.0.1 AGENT_CA="$AGENT/ca-cert.pem" \
	    OUT_DIR="$AGENT/out" CANARY_VAR=BLUE_OWL_SECRET \
	    BLUE_OWL_SECRET="$CANARY" STATE_PATH="$STATE" \
	    STATE_MARKER="$MARKER" SV_BUILT="$SV" GG_BUILT="$GG" "$@"
}

# ---- which services this binary has -----------------------------------
built() {	# built SERVICE: 0 when bb-sidecar has it
	local v
	v=$("$BB_SIDECAR" version 2>/dev/null | jq -c '.services // empty')
	if [ -n "$v" ]; then
		printf '%s' "$v" | jq -e --arg s "$1" 'index($s) != null' \
		    >/dev/null
		return
	fi
	mkdir -p "$BB_T/empty"
	! "$BB_SIDECAR" check-config --config-dir "$BB_T/empty" \
	    --services "$1" 2>&1 | grep -q 'not built'
}
SV=0 GG=0 SERVICES=egress
built supervise && SV=1 && SERVICES=$SERVICES,supervise
built gitgate && command -v sshd >/dev/null && command -v git-shell \
    >/dev/null && GG=1 && SERVICES=$SERVICES,gitgate
[ $SV = 1 ] || diag "supervise is not built: MCP checks left out"
[ $GG = 1 ] || diag "gitgate is not built (or no sshd/git-shell): check 9 and the gate's part of 10 left out"

# ---- namespaces, links, addresses --------------------------------------
ip netns add "$NS_S" && ip netns add "$NS_I" || {
	echo "Bail out! cannot create namespaces"; exit 1; }
ip link add "$V_A" type veth peer name "$V_SA" &&
    ip link add "$V_SI" type veth peer name "$V_I" &&
    ip link set "$V_A" netns "$NS_A" && ip link set "$V_SA" netns "$NS_S" &&
    ip link set "$V_SI" netns "$NS_S" && ip link set "$V_I" netns "$NS_I" || {
	echo "Bail out! cannot create veth pairs"; exit 1; }
setup_ns() {
	set -e
	in_ns "$NS_A" ip link set lo up
	in_ns "$NS_A" ip addr add 10.98.0.2/24 dev "$V_A"
	in_ns "$NS_A" ip link set "$V_A" up
	in_ns "$NS_A" ip route add default via 10.98.0.1
	in_ns "$NS_S" ip link set lo up
	in_ns "$NS_S" ip addr add 10.98.0.1/24 dev "$V_SA"
	in_ns "$NS_S" ip addr add 203.0.113.1/24 dev "$V_SI"
	in_ns "$NS_S" ip link set "$V_SA" up
	in_ns "$NS_S" ip link set "$V_SI" up
	in_ns "$NS_S" ip route add default via 203.0.113.254
	in_ns "$NS_S" ip route add 169.254.169.254/32 via 203.0.113.254
	in_ns "$NS_S" ip route add 10.99.0.10/32 via 203.0.113.254
	in_ns "$NS_S" sysctl -qw net.ipv4.ip_forward=0
	in_ns "$NS_S" sysctl -qw net.ipv6.conf.all.forwarding=0
	in_ns "$NS_I" ip link set lo up
	in_ns "$NS_I" ip addr add 203.0.113.254/24 dev "$V_I"
	for a in 10 11 12 22 53; do
		in_ns "$NS_I" ip addr add "203.0.113.$a/32" dev "$V_I"
	done
	in_ns "$NS_I" ip addr add 169.254.169.254/32 dev lo
	in_ns "$NS_I" ip addr add 10.99.0.10/32 dev lo
	in_ns "$NS_I" ip link set "$V_I" up
	in_ns "$NS_I" ip route add 10.98.0.0/24 via 203.0.113.1
	in_ns "$NS_I" sysctl -qw net.ipv4.ip_forward=0
	# The sidecar's resolver is dnsmasq in the internet ns: evdns and
	# libgit2's getaddrinfo both read this (ip netns exec mounts it).
	mkdir -p "/etc/netns/$NS_S"
	echo "nameserver 203.0.113.53" >"/etc/netns/$NS_S/resolv.conf"
}
NETNS_DIRS+=("/etc/netns/$NS_S")
(setup_ns) || { echo "Bail out! namespace setup failed"; exit 1; }

# ---- files: CONF and STATE (65532, 0700), the agent's dir (65533) --------
chmod 711 "$BB_T"
T0=$(head -c 200 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 40)
CANARY="owl$(head -c 100 /dev/urandom | tr -dc 'a-z0-9' | head -c 24)"
MARKER="state-marker-$(head -c 60 /dev/urandom | tr -dc 'a-z0-9' | head -c 16)"
"$BB_SIDECAR" ca init "$CONF" --slug topo >/dev/null ||
    { echo "Bail out! ca init failed"; exit 1; }
"$BBT_ORIGIN" --make-ca "$BB_T/origin" >/dev/null ||
    { echo "Bail out! origin CA"; exit 1; }
cp "$BB_T/origin/ca.pem" "$CONF/origin-ca.pem"
write_routes() {	# write_routes [with-origin]
	{
		echo "log: 1"
		echo "routes:"
		[ "${1:-1}" = 1 ] && cat <<'YAML'
  - host: origin.bb.test
    auth_scheme: token
    token_env: EGRESS_TOKEN_0
    dlp: {outbound_on_match: block}
YAML
		cat <<'YAML'
  - {host: badcert.bb.test}
  - {host: meta.bb.test}
  - {host: priv.bb.test}
  - {host: loop.bb.test}
  - {host: 169.254.169.254}
  - {host: 10.99.0.10}
YAML
	} >"$CONF/.routes.yaml.tmp"
	chown 65532:65532 "$CONF/.routes.yaml.tmp"
	mv "$CONF/.routes.yaml.tmp" "$CONF/routes.yaml"
}
write_routes 1
cat >"$CONF/sidecar.yaml" <<'YAML'
control: {listen: ["127.0.0.1:9101"]}
egress:
  upstream_ca_file: origin-ca.pem
  resolve:
    origin.bb.test: ["203.0.113.10"]
    badcert.bb.test: ["203.0.113.11"]
YAML
echo "$MARKER" >"$STATE/marker"
mkdir -p "$BB_T/sidehome"
AGENT=$BB_T/agent
mkdir -p "$AGENT/out" "$AGENT/home"
cp "$CONF/ca-cert.pem" "$AGENT/ca-cert.pem"
cp "$AGENT_CHECKS" "$AGENT/agent-checks.sh"

# ---- the internet: origins, traps, DNS, sshd ----------------------------
ORIGIN_LOG=$BB_T/origin.log
: >"$ORIGIN_LOG"
ip netns exec "$NS_I" "$BBT_ORIGIN" --tls 203.0.113.10:443 --tls 203.0.113.11:443 \
    --plain 203.0.113.12:80 --plain 169.254.169.254:80 --plain 10.99.0.10:80 \
    --plain 127.0.0.1:8080 --cert-dir "$BB_T/origin" --name origin.bb.test \
    --untrusted-name badcert.bb.test --log "$ORIGIN_LOG" \
    --ready-file "$BB_T/origin.ready" 2>"$BB_T/origin.stderr" &
BB_PIDS+=($!)
ip netns exec "$NS_I" dnsmasq --no-daemon --listen-address=203.0.113.53 \
    --bind-interfaces --no-resolv --no-hosts --log-queries \
    --address=/origin.bb.test/203.0.113.10 \
    --address=/badcert.bb.test/203.0.113.11 \
    --address=/evil.bb.test/203.0.113.12 \
    --address=/git.bb.test/203.0.113.22 \
    --address=/meta.bb.test/169.254.169.254 \
    --address=/priv.bb.test/10.99.0.10 \
    --address=/loop.bb.test/127.0.0.1 \
    --pid-file= --log-facility="$BB_T/dns.log" 2>/dev/null &
BB_PIDS+=($!)

# sshd on .22: bare repos behind git-shell, for the gate's upstream (and
# a listener for check 3's .22:22 either way).
SSHD=$BB_T/sshd
mkdir -p "$SSHD" /run/sshd
UPSTREAM=$BB_T/upstream/repo.git
ssh-keygen -q -t ed25519 -N '' -f "$SSHD/host_ed25519" >/dev/null
ssh-keygen -q -t ed25519 -N '' -f "$SSHD/gate_ed25519" >/dev/null
echo "command=\"git-shell -c \\\"\$SSH_ORIGINAL_COMMAND\\\"\",no-pty,no-port-forwarding,no-agent-forwarding,no-X11-forwarding $(cat "$SSHD/gate_ed25519.pub")" \
    >"$SSHD/authorized_keys"
cat >"$SSHD/sshd_config" <<EOF
ListenAddress 203.0.113.22:22
HostKey $SSHD/host_ed25519
AuthorizedKeysFile $SSHD/authorized_keys
PidFile none
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin forced-commands-only
LogLevel VERBOSE
EOF
ip netns exec "$NS_I" /usr/sbin/sshd -D -e -f "$SSHD/sshd_config" \
    2>"$BB_T/sshd.log" &
BB_PIDS+=($!)
if [ $GG = 1 ]; then
	git init -q --bare -b main "$UPSTREAM"
	w=$BB_T/upstream-work
	git init -q -b main "$w"
	echo "topology repo" >"$w/README"
	git -C "$w" add README
	git -C "$w" -c user.name=up -c user.email=up@bb.test commit -qm init
	git -C "$w" push -q "$UPSTREAM" main
	mkdir -p "$CONF/keys"
	cp "$SSHD/gate_ed25519" "$CONF/keys/gate.ed25519"
	cat >"$CONF/gitgate.yaml" <<EOF
repos:
  repo:
    url: ssh://root@git.bb.test$UPSTREAM
    key: keys/gate.ed25519
    host_key: "git.bb.test $(cut -d' ' -f1,2 "$SSHD/host_ed25519.pub")"
EOF
fi
chown -R 65532:65532 "$CONF" "$STATE" "$BB_T/sidehome"
chmod 700 "$CONF" "$STATE"
chown -R 65533:65533 "$AGENT"
chmod 700 "$AGENT"

for _i in $(seq 1 250); do [ -s "$BB_T/origin.ready" ] && break; sleep 0.02; done
[ -s "$BB_T/origin.ready" ] || {
	echo "Bail out! bbt-origin did not start"; cat "$BB_T/origin.stderr"; exit 1; }

# Per-listener connection counts, asked on the origin's own loopback so
# the asking is not counted on the listener in question.
conns() {	# conns ADDR PORT
	in_ns "$NS_I" curl -s --max-time 3 http://127.0.0.1:8080/stats |
	    jq -r --arg a "$1:$2" \
	    '.listeners[] | select(.addr == $a) | .connections'
}

# ---- the sidecar ---------------------------------------------------------
export EGRESS_TOKEN_0=$T0 BLUE_OWL_SECRET=$CANARY
export BOT_BOTTLE_SENSITIVE_PREFIXES=BLUE_OWL_SECRET BOT_BOTTLE_SLUG=topo
# LeakSanitizer cannot stop a non-dumpable process it may not ptrace
# (uid 65532 has no CAP_SYS_PTRACE); leaks are covered elsewhere.
ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 HOME=$BB_T/sidehome \
    ip netns exec "$NS_S" setpriv --reuid 65532 --regid 65532 --clear-groups \
    "$BB_SIDECAR" run --config-dir "$CONF" --state-dir "$STATE" \
    --services "$SERVICES" --workers 2 2>>"$BB_STDERR" &
BB_SIDECAR_PID=$!
unset EGRESS_TOKEN_0 BLUE_OWL_SECRET
ready=1
for _i in $(seq 1 500); do
	if in_ns "$NS_S" curl -s -o /dev/null --max-time 1 -w '%{http_code}' \
	    http://127.0.0.1:9101/readyz 2>/dev/null | grep -q 200; then
		ready=0
		break
	fi
	kill -0 "$BB_SIDECAR_PID" 2>/dev/null || break
	sleep 0.02
done
if [ $ready -ne 0 ]; then
	echo "Bail out! the sidecar did not become ready"
	sed 's/^/#   /' "$BB_STDERR" | tail -30
	exit 1
fi
diag "sidecar (pid $BB_SIDECAR_PID, $SERVICES) ready $(( ($(date +%s%N) - T0_NS) / 1000000 )) ms after the first netns"
is "$(in_ns "$NS_S" sysctl -n net.ipv4.ip_forward)" 0 "the sidecar ns does not forward"
is "$(stat -c '%u %a' "$STATE")" "65532 700" "STATE is 0700, owner 65532"

# ---- the agent's checks ----------------------------------------------------
# Renumbered into this test's plan; a "Bail out!" is passed on.
run_agent() {
	local line
	in_agent bash "$AGENT/agent-checks.sh" "$@" 2>&1 | while IFS= read -r line; do
		case $line in
		"ok "*) echo "ok 0 - agent: ${line#ok * - }" ;;
		"not ok "*) echo "not ok 0 - agent: ${line#not ok * - }" ;;
		1..*) ;;
		*) echo "$line" ;;
		esac
	done >"$BB_T/agent.tap"
	while IFS= read -r line; do
		case $line in
		"ok 0 - "*) ok 0 "${line#ok 0 - }" ;;
		"not ok 0 - "*) ok 1 "${line#not ok 0 - }" ;;
		*) echo "$line" ;;
		esac
	done <"$BB_T/agent.tap"
}
run_agent main

# 2: evil's listener never saw a connection.
is "$(conns 203.0.113.12 80)" 0 "2: evil.bb.test's listener saw 0 connections"
# 3: the same raw connects from the sidecar ns succeed.
for t in 203.0.113.10:443 203.0.113.12:80 203.0.113.22:22 203.0.113.53:53 \
    169.254.169.254:80; do
	in_ns "$NS_S" timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "${t%:*}" \
	    "${t##*:}" 2>/dev/null
	ok $? "3: from the sidecar ns, TCP to $t connects"
done
out=$(in_ns "$NS_S" timeout 2 bash -c 'exec 3<>/dev/udp/203.0.113.53/53
    printf "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x06origin\x02bb\x04test\x00\x00\x01\x00\x01" >&3
    head -c 2 <&3 | od -An -tx1' 2>/dev/null)
like "$out" '12 34' "3: from the sidecar ns, the UDP DNS query is answered"
# 5: both traps counted nothing (check 3 connected to 169.254.169.254
# from the sidecar ns once, on purpose: one connection, no request).
is "$(conns 169.254.169.254 80)" 1 "5: the metadata trap saw only check 3's connect"
is "$(conns 10.99.0.10 80)" 0 "5: the private trap saw 0 connections"
grep -qi 'query\[A\] meta.bb.test' "$BB_T/dns.log"
ok $? "5: meta.bb.test really went to the resolver (the guard refused its answer)"
# 7: the token reached the origin, never the agent or the environ.
grep '"event":"request"' "$ORIGIN_LOG" | grep -F '/text?body=token-route' |
    grep -qF "token $T0"
ok $? "7: the origin's log shows the injected credential"
grep -rqF -- "$T0" "$AGENT/out"
ok $([ $? -ne 0 ] && echo 0 || echo 1) "7: nothing the agent received holds the token"
env_of=$(tr '\0' '\n' <"/proc/$BB_SIDECAR_PID/environ")
unlike "$env_of" "$T0|$CANARY" "7: /proc/<sidecar>/environ holds neither token nor canary"
like "$env_of" 'BOT_BOTTLE_SLUG=topo' "7: (that environ was read: it has the slug)"
# 8: the origin logged nothing for the DLP probe.
grep -qF '/dlp-probe' "$ORIGIN_LOG"
ok $([ $? -ne 0 ] && echo 0 || echo 1) "8: the origin logged nothing for the blocked POST"
unlike "$(cat "$ORIGIN_LOG")" "$CANARY" "8: the canary never reached the origin"

# ---- 9: the gate -------------------------------------------------------------
if [ $GG = 1 ]; then
	for proto in git http; do
		nacc=$(grep -c 'Accepted publickey for root from 203.0.113.1 ' "$BB_T/sshd.log")
		run_agent gate1 "$proto"
		pushed=$(cat "$AGENT/out/pushed-$proto" 2>/dev/null)
		is "$(git -C "$UPSTREAM" rev-parse main)" "$pushed" \
		    "9 ($proto): the clean push moved the upstream ref"
		n=$(grep -c 'Accepted publickey for root from 203.0.113.1 ' "$BB_T/sshd.log")
		ok $([ "$n" -gt "$nacc" ] && echo 0 || echo 1) \
		    "9 ($proto): sshd logged the gate's connection from 203.0.113.1"
		w=$BB_T/upstream-work
		git -C "$w" pull -q "$UPSTREAM" main
		echo "upstream change $proto" >>"$w/UPSTREAM"
		git -C "$w" add UPSTREAM
		git -C "$w" -c user.name=up -c user.email=up@bb.test commit -qm "upstream $proto"
		git -C "$w" push -q "$UPSTREAM" HEAD:main
		up=$(git -C "$UPSTREAM" rev-parse main)
		run_agent gate2 "$proto" "$up"
		is "$(git -C "$UPSTREAM" rev-parse main)" "$up" \
		    "9 ($proto): the rejected push left upstream unmoved"
	done
fi

# ---- 11: reload narrows, SIGTERM drains ------------------------------------
is "$(in_agent bash "$AGENT/agent-checks.sh" probe)" 200 "11: before the reload: 200"
write_routes 0
t0=$(date +%s%N)
kill -HUP "$BB_SIDECAR_PID"
code=
for _i in $(seq 1 50); do
	code=$(in_agent bash "$AGENT/agent-checks.sh" probe)
	[ "$code" = 403 ] && break
	[ $(( ($(date +%s%N) - t0) / 1000000 )) -ge 1000 ] && break
	sleep 0.02
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
is "$code" 403 "11: SIGHUP after narrowing routes.yaml: 403 ($ms ms)"
ok $([ "$ms" -le 1000 ] && echo 0 || echo 1) "11: within 1 s"
ok $(bb_no_sanitizer_reports && echo 0 || echo 1) "no sanitizer reports"
t0=$(date +%s%N)
bb_stop
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
is "$rc" 0 "11: SIGTERM: exit 0"
ok $([ "$ms" -le 8500 ] && echo 0 || echo 1) "11: within 8.5 s ($ms ms)"
grep -rqF -e "$T0" -e "$CANARY" "$BB_STDERR" "$STATE"
ok $([ $? -ne 0 ] && echo 0 || echo 1) "no token or canary in the log or the state dir"
diag "IPv6 (a should of §5.1 check 11) is not covered yet"

# Nothing is left: stop everything, delete the namespaces, then look.
pids=("${BB_PIDS[@]}" $(ns_pids))
topo_cleanup
trap - EXIT
left=$(ip netns list | grep -E "^bbt[ASI]$P( |$)")
is "$left" "" "11: no namespace of this test is left"
for p in "${pids[@]}"; do
	kill -0 "$p" 2>/dev/null && left="$left $p"
done
is "$left" "" "11: no process of this test is left"
[ ! -e "/etc/netns/$NS_S" ]
ok $? "11: /etc/netns/$NS_S is gone"
diag "topology test took $(( ($(date +%s%N) - T0_NS) / 1000000 )) ms"
done_testing
