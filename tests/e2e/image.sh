#!/usr/bin/env bash
# `make check-image` (spec/bundle.md §5.2): the image under podman.
#
# Takes the archives and the tools image that the setup step built
# (tests/e2e/setup.sh, run by `scripts/dev test`; run alone, this builds
# them first, which reaches the Debian mirror), checks §7 tests 3-5 on
# them, loads both archives, and runs a bottle on two networks it makes:
#
#   bbt-egr-PID 203.0.113.0/24   the internet: a tools container at .10
#                                (origins, dnsmasq, sshd) and the sidecar
#   bbt-int-PID 10.98.77.0/24    --internal: the sidecar and the agent
#
# The sidecar is started by docs/launcher.md's podman block, read from
# that file (so the two cannot drift); the agent, a tools container on the
# internal network only, runs tests/topology/agent-checks.sh as 65533.
# Checks that need the netns traps are left out here (noted below).
. "$(dirname "$0")/../integration/lib.sh"

[ "$(id -u)" -eq 0 ] || skip_all "not root (rootful podman with runc)"
for t in podman buildah jq tar file ldd timeout curl; do
	command -v "$t" >/dev/null || skip_all "$t not installed"
done
P=$$
V=$(sed -n 's/^AC_INIT(\[bb-sidecar\], *\[\([^]]*\)\].*/\1/p' \
    "$BB_SRCDIR/configure.ac")
ARCH=$(dpkg --print-architecture 2>/dev/null || echo amd64)
OUT=${BB_IMAGE_DIR:-$BB_BUILDDIR/image}
IMG=localhost/bot-bottle/sidecar:$V
TOOLS=localhost/bot-bottle/sidecar-tools:$V
DOCKER=$OUT/bot-bottle-sidecar_${V}_${ARCH}.docker.tar
OCI=$OUT/bot-bottle-sidecar_${V}_${ARCH}.oci.tar
DRIVER=$(cat "$OUT/storage-driver" 2>/dev/null ||
    "$BB_SRCDIR/scripts/storage-driver")

if [ ! -s "$DOCKER" ] || [ ! -s "$OCI" ] || [ ! -s "$OUT/image-ids" ] ||
    ! buildah --storage-driver "$DRIVER" inspect --type image "$TOOLS" \
    >/dev/null 2>&1; then
	diag "no archives or tools image in $OUT: building them (tests/e2e/setup.sh)"
	"$BB_SRCDIR/tests/e2e/setup.sh" "$OUT" 2>&1 | sed 's/^/# /'
	[ "${PIPESTATUS[0]}" -eq 0 ] || {
		echo "Bail out! tests/e2e/setup.sh failed"; exit 1; }
	DRIVER=$(cat "$OUT/storage-driver")
fi

T_START=$(date +%s%N)

# podman with the storage driver the images were built with; runc and
# explicit ulimits where the default runtime cannot start containers
# (no CAP_SYS_RESOURCE here: both limits, at most the hard ones).
PG=(--storage-driver "$DRIVER")
RUNF=()
pm() { podman "${PG[@]}" "$@"; }
pm_run() { podman "${PG[@]}" run "${RUNF[@]}" "$@"; }
if ! pm run --rm --network none "$TOOLS" true >/dev/null 2>&1; then
	nofile=$(ulimit -Hn); nproc=$(ulimit -Hu)
	[ "$nofile" = unlimited ] || [ "$nofile" -gt 20000 ] && nofile=20000
	[ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ] && nproc=32768
	PG+=(--runtime runc)
	RUNF=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc")
	pm_run --rm --network none "$TOOLS" true >/dev/null 2>&1 ||
	    { echo "Bail out! podman cannot start a container, even with runc"; exit 1; }
	diag "podman: runc with ${RUNF[*]}"
fi

SLUG=bbt$P
INT=bbt-int-$P
EGR=bbt-egr-$P
SC=sidecar-$SLUG
AG=agent-$SLUG
INET=bbt-inet-$P
CONTAINERS=("$AG" "$SC" "$INET" "bbt-diff-$P" "bbt-ro-$P" "bbt-probe-$P"
    "bbt-base-$P")
img_cleanup() {
	local c
	for c in "${CONTAINERS[@]}"; do
		pm rm -f -t 0 "$c" >/dev/null 2>&1
	done
	pm network rm -f "$INT" "$EGR" >/dev/null 2>&1
	# The OCI archive's copy was only loaded to be looked at.
	pm rmi "$IMG-oci" >/dev/null 2>&1
	bb_cleanup
}
trap img_cleanup EXIT
trap "exit 1" INT TERM HUP

# ---- §7 tests 3-5 on the archives ------------------------------------------
ids=$(sort -u "$OUT/image-ids")
is "$(wc -l <"$OUT/image-ids") $(printf '%s\n' "$ids" | wc -l)" "2 1" \
    "4: two builds by scripts/build-image, one image ID (${ids:0:12})"
dsize=$(stat -c %s "$DOCKER")
osize=$(stat -c %s "$OCI")
diag "docker archive $dsize bytes, OCI archive $osize bytes"
ok $([ "$dsize" -lt 10000000 ] && echo 0 || echo 1) "5: docker archive $dsize < 10 MB"
ok $([ "$osize" -lt 5000000 ] && echo 0 || echo 1) "5: OCI archive $osize < 5 MB"
x=$BB_T/layer
mkdir -p "$x"
tar -C "$x" -xf "$DOCKER" manifest.json
layers=$(jq -r '.[0].Layers[]' "$x/manifest.json")
is "$(echo "$layers" | wc -w)" 1 "5: one layer"
l=$(echo "$layers" | head -1)
tar -C "$x" -xf "$DOCKER" "$l"
got=$(tar --numeric-owner -tvf "$x/$l" | awk '{ p = $6; sub(/^\.\//, "", p)
    if (p != "" && p != "./") print $1, $2, p }' | sort -k3)
want=$(sort -k3 <<'EOF'
drwxr-xr-x 0/0 etc/
drwxr-xr-x 65532/65532 etc/bot-bottle/
-rw-r--r-- 0/0 etc/group
-rw-r--r-- 0/0 etc/passwd
drwxr-xr-x 0/0 etc/ssl/
drwxr-xr-x 0/0 etc/ssl/certs/
-rw-r--r-- 0/0 etc/ssl/certs/ca-certificates.crt
drwxr-xr-x 0/0 usr/
drwxr-xr-x 0/0 usr/local/
drwxr-xr-x 0/0 usr/local/bin/
-rwxr-xr-x 0/0 usr/local/bin/bb-sidecar
drwxr-xr-x 0/0 var/
drwxr-xr-x 0/0 var/lib/
drwxr-xr-x 65532/65532 var/lib/bot-bottle/
EOF
)
is "$got" "$want" "5: the layer holds exactly §2.1's files, owners and modes"
tar -C "$x" -xf "$x/$l" usr/local/bin/bb-sidecar etc/passwd
like "$(file "$x/usr/local/bin/bb-sidecar")" 'statically linked' \
    "3: the image's bb-sidecar: file says statically linked"
like "$(ldd "$x/usr/local/bin/bb-sidecar" 2>&1)" 'not a dynamic executable' \
    "3: ldd: not a dynamic executable"
VJ=$("$x/usr/local/bin/bb-sidecar" version)
is "$(printf '%s' "$VJ" | jq -r .libgit2_features.ssh)" true "3: version: ssh true"
is "$(cut -d: -f1,3,4 "$x/etc/passwd" | tr '\n' ' ')" "root:0:0 sidecar:65532:65532 " \
    "5: /etc/passwd names root and sidecar (65532)"
SERVICES_BUILT=$(printf '%s' "$VJ" | jq -r '(.services // []) | join(",")')
diag "services in the image: ${SERVICES_BUILT:-unknown}"

# ---- load both archives, inspect ---------------------------------------------
out=$(pm load -i "$OCI" 2>&1)
ok $? "podman load of the OCI archive"
oci_ref=$(printf '%s' "$out" | sed -n 's/^Loaded image: *//p' | tail -1)
[ -n "$oci_ref" ] && pm tag "$oci_ref" "$IMG-oci" >/dev/null 2>&1
like "$(pm image inspect "$IMG-oci" --format '{{.Config.User}}' 2>&1)" \
    '^65532:65532$' "the OCI image loads with user 65532:65532"
out=$(pm load -i "$DOCKER" 2>&1)
ok $? "podman load of the docker archive"
ins=$(pm image inspect "$IMG" | jq '.[0]')
is "$(printf '%s' "$ins" | jq -r .Config.User)" 65532:65532 "5: user 65532:65532"
is "$(printf '%s' "$ins" | jq -c .Config.Entrypoint)" \
    '["/usr/local/bin/bb-sidecar","run"]' "5: entrypoint bb-sidecar run"
is "$(printf '%s' "$ins" | jq -r '.Config.ExposedPorts | keys | join(" ")')" \
    "9099/tcp 9100/tcp 9418/tcp 9420/tcp" "5: the four ports"
is "$(printf '%s' "$ins" | jq -r '.Config.Labels | keys | join(" ")')" \
    "org.opencontainers.image.licenses org.opencontainers.image.revision org.opencontainers.image.source org.opencontainers.image.title org.opencontainers.image.version" \
    "5: exactly the five labels"
is "$(printf '%s' "$ins" | jq -r '.Config.Labels["org.opencontainers.image.version"]')" \
    "$V" "5: version label = AC_INIT version"
lic=$(printf '%s' "$ins" | jq -r '.Config.Labels["org.opencontainers.image.licenses"]')
case $lic in
Apache-2.0) grep -q 'Apache License' "$BB_SRCDIR/LICENSE" &&
    grep -q 'Version 2.0, January 2004' "$BB_SRCDIR/LICENSE" ;;
MIT) grep -q 'Permission is hereby granted, free of charge' "$BB_SRCDIR/LICENSE" ;;
*) false ;;
esac
ok $? "5: the licence label ($lic) matches LICENSE"
is "$(printf '%s' "$ins" | jq -c .Healthcheck.Test)" \
    '["CMD","/usr/local/bin/bb-sidecar","health"]' \
    "5: healthcheck bb-sidecar health (docker archive)"

# ---- which services run --------------------------------------------------
has() { case ",$SERVICES_BUILT," in *",$1,"*) return 0 ;; esac; return 1; }
SV=0 GG=0
has supervise && SV=1
has gitgate && GG=1
[ $SV = 1 ] || diag "supervise is not in the image: MCP checks left out"
[ $GG = 1 ] || diag "gitgate is not in the image: check 9 and the gate's part of 10 left out"

# ---- CONF, STATE, PRIVATE, AGENT_CA ------------------------------------------
CONF=$BB_T/conf STATE=$BB_T/state PRIVATE=$BB_T/private AGENT_CA=$BB_T/agent-ca
mkdir -p "$PRIVATE" "$AGENT_CA" "$BB_T/inet"
chmod 711 "$BB_T"
chmod 700 "$PRIVATE"
T0=$(head -c 200 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 40)
CANARY="owl$(head -c 100 /dev/urandom | tr -dc 'a-z0-9' | head -c 24)"
MARKER="state-marker-$(head -c 60 /dev/urandom | tr -dc 'a-z0-9' | head -c 16)"
"$BB_SIDECAR" ca init "$CONF" --slug "$SLUG" >/dev/null ||
    { echo "Bail out! ca init"; exit 1; }
cp "$CONF/ca-cert.pem" "$AGENT_CA/"
"$BB_BUILDDIR/tests/bbt-origin" --make-ca "$BB_T/inet/origin" >/dev/null 2>&1 ||
    pm_run --rm -v "$BB_T/inet:/inet" "$TOOLS" bbt-origin --make-ca /inet/origin \
    >/dev/null || { echo "Bail out! origin CA"; exit 1; }
cp "$BB_T/inet/origin/ca.pem" "$CONF/origin-ca.pem"
write_routes() {	# write_routes 1|0: with or without the origin route
	{
		echo "log: 1"
		echo "routes:"
		[ "$1" = 1 ] && cat <<'YAML'
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
egress:
  upstream_ca_file: origin-ca.pem
  resolve:
    origin.bb.test: ["203.0.113.10"]
    badcert.bb.test: ["203.0.113.10"]
YAML
echo "$MARKER" >"$STATE/marker"
# sidecar.env: 0600, like a launcher's; the token never on a command line.
umask 077
cat >"$PRIVATE/sidecar.env" <<EOF
EGRESS_TOKEN_0=$T0
BOT_BOTTLE_SENSITIVE_PREFIXES=BLUE_OWL_SECRET
BLUE_OWL_SECRET=$CANARY
EOF
umask 022

# The internet: origins on .10 (badcert by SNI), dnsmasq, sshd.
cat >"$BB_T/inet/start.sh" <<'EOF'
#!/bin/bash
bbt-origin --tls 0.0.0.0:443 --plain 0.0.0.0:80 --plain 127.0.0.1:8080 \
    --cert-dir /inet/origin --name origin.bb.test \
    --untrusted-name badcert.bb.test --log /inet/origin.log \
    --ready-file /inet/origin.ready 2>/inet/origin.stderr &
dnsmasq --no-daemon --listen-address=203.0.113.10 --bind-interfaces \
    --no-resolv --no-hosts --log-queries --user=root \
    --address=/origin.bb.test/203.0.113.10 \
    --address=/badcert.bb.test/203.0.113.10 \
    --address=/evil.bb.test/203.0.113.10 \
    --address=/git.bb.test/203.0.113.10 \
    --address=/meta.bb.test/169.254.169.254 \
    --address=/priv.bb.test/10.99.0.10 \
    --address=/loop.bb.test/127.0.0.1 \
    --pid-file= --log-facility=/inet/dns.log &
[ -f /inet/sshd/sshd_config ] &&
    /usr/sbin/sshd -D -e -f /inet/sshd/sshd_config 2>/inet/sshd.log &
wait
EOF
chmod +x "$BB_T/inet/start.sh"
UPSTREAM=/inet/upstream/repo.git
if [ $GG = 1 ]; then
	mkdir -p "$BB_T/inet/sshd" "$BB_T/inet/upstream" "$CONF/keys"
	ssh-keygen -q -t ed25519 -N '' -f "$BB_T/inet/sshd/host_ed25519"
	ssh-keygen -q -t ed25519 -N '' -f "$BB_T/inet/sshd/gate_ed25519"
	echo "command=\"git-shell -c \\\"\$SSH_ORIGINAL_COMMAND\\\"\",no-pty,no-port-forwarding $(cat "$BB_T/inet/sshd/gate_ed25519.pub")" \
	    >"$BB_T/inet/sshd/authorized_keys"
	cat >"$BB_T/inet/sshd/sshd_config" <<EOF
ListenAddress 0.0.0.0:22
HostKey /inet/sshd/host_ed25519
AuthorizedKeysFile /inet/sshd/authorized_keys
PidFile none
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin forced-commands-only
LogLevel VERBOSE
EOF
	git init -q --bare -b main "$BB_T$UPSTREAM"
	w=$BB_T/upstream-work
	git init -q -b main "$w"
	echo "image repo" >"$w/README"
	git -C "$w" add README
	git -C "$w" -c user.name=up -c user.email=up@bb.test commit -qm init
	git -C "$w" push -q "$BB_T$UPSTREAM" main
	cp "$BB_T/inet/sshd/gate_ed25519" "$CONF/keys/gate.ed25519"
	cat >"$CONF/gitgate.yaml" <<EOF
repos:
  repo:
    url: ssh://root@git.bb.test$UPSTREAM
    key: keys/gate.ed25519
    host_key: "git.bb.test $(cut -d' ' -f1,2 "$BB_T/inet/sshd/host_ed25519.pub")"
EOF
fi
chown -R 65532:65532 "$CONF" "$STATE"
chmod 700 "$CONF" "$STATE"

# ---- docs/launcher.md's podman block -------------------------------------
blk=$(awk '/<!-- podman-block:begin -->/ { on = 1; next }
    /<!-- podman-block:end -->/ { on = 0 } on && !/^```/' \
    "$BB_SRCDIR/docs/launcher.md")
ok $([ -n "$blk" ] && echo 0 || echo 1) "docs/launcher.md has the podman block"
# Each substitution must apply exactly once, so a changed document fails
# here instead of silently running something else.
subst() {	# subst FROM TO
	local c
	c=$(printf '%s\n' "$blk" | grep -cF -- "$1")
	if [ "$c" -ne 1 ]; then
		ok 1 "launcher block: '$1' appears once (found $c)"
		return
	fi
	blk=${blk/"$1"/"$2"}
}
subst 'podman network create --internal bottle-SLUG' \
    "podman network create --internal --subnet 10.98.77.0/24 bottle-SLUG"
subst '|| podman network create egress-net' \
    "|| podman network create --subnet 203.0.113.0/24 egress-net"
subst '--user "$(id -u):$(id -g)"' '--user 65532:65532'
subst 'podman run -d --name sidecar-SLUG' \
    'podman run -d --name sidecar-SLUG --dns 203.0.113.10'
blk=${blk//bottle-SLUG/$INT}
blk=${blk//egress-net/$EGR}
# The placeholders as words (not the SLUG inside BOT_BOTTLE_SLUG).
blk=$(printf '%s\n' "$blk" | sed -E "s/(^|[^A-Za-z0-9_])SLUG([^A-Za-z0-9_]|\$)/\1$SLUG\2/g
    s/(^|[^A-Za-z0-9_])VERSION([^A-Za-z0-9_]|\$)/\1$V\2/g
    s#(^|[^A-Za-z0-9_])AGENT_IMAGE([^A-Za-z0-9_]|\$)#\1$TOOLS\2#g")
# Three parts: networks; the sidecar and SIDECAR_IP; the agent.
part1=$(printf '%s\n' "$blk" | awk '/^podman run -d --name sidecar-/ { exit } { print }')
part2=$(printf '%s\n' "$blk" | awk '/^podman run -d --name sidecar-/ { on = 1 }
    /^podman run -d --name agent-/ { exit } on')
part3=$(printf '%s\n' "$blk" | awk '/^podman run -d --name agent-/ { on = 1 } on')
ok $([ -n "$part1" ] && [ -n "$part2" ] && [ -n "$part3" ] && echo 0 || echo 1) \
    "launcher block: networks, sidecar, agent"
printf '%s\n' "$blk" | sed 's/^/#   /'
# The block runs with this podman: the test's storage driver and runtime.
run_block() {
	local podman_def
	podman_def="podman() { if [ \"\$1\" = run ]; then shift; command podman ${PG[*]} run ${RUNF[*]} \"\$@\"; else command podman ${PG[*]} \"\$@\"; fi; }"
	CONF=$CONF STATE=$STATE PRIVATE=$PRIVATE AGENT_CA=$AGENT_CA \
	    bash -c "set -e; $podman_def; $1; echo \"SIDECAR_IP=\${SIDECAR_IP:-}\"" \
	    2>&1
}
out=$(run_block "$part1")
ok $? "launcher block: the networks are created"
[ $? -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'
out=$(pm_run -d --name "$INET" --network "$EGR" --ip 203.0.113.10 \
    -v "$BB_T/inet:/inet" "$TOOLS" /inet/start.sh 2>&1)
ok $? "the internet container runs at 203.0.113.10"
for _i in $(seq 1 250); do [ -s "$BB_T/inet/origin.ready" ] && break; sleep 0.02; done
[ -s "$BB_T/inet/origin.ready" ] || {
	echo "Bail out! bbt-origin did not start in the tools container"
	cat "$BB_T/inet/origin.stderr" 2>/dev/null | sed 's/^/#   /'; exit 1; }
out=$(run_block "$part2")
rc=$?
ok $rc "launcher block: the sidecar starts"
[ $rc -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'
SIDECAR_IP=$(printf '%s\n' "$out" | sed -n 's/^SIDECAR_IP=//p' | tail -1)
like "$SIDECAR_IP" '^10\.98\.77\.[0-9]+$' "SIDECAR_IP ($SIDECAR_IP) is on the internal network"
# §4.5: at most 10 s until health via exec exits 0.
t0=$(date +%s%N)
hrc=1
for _i in $(seq 1 100); do
	pm exec "$SC" bb-sidecar health >"$BB_T/health.out" 2>&1 && { hrc=0; break; }
	sleep 0.1
done
ok $hrc "the sidecar is healthy within 10 s ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
[ $hrc -eq 0 ] || { pm logs "$SC" 2>&1 | tail -20 | sed 's/^/#   /'
	echo "Bail out! the sidecar did not become healthy"; exit 1; }
like "$(pm logs "$SC" 2>&1)" '"svc":"sidecar","event":"ready"' "the log says ready"
pm healthcheck run "$SC" >/dev/null 2>&1
is $? 0 "podman healthcheck run exits 0"
cat >"$PRIVATE/agent.env" <<EOF
HTTP_PROXY=http://$SIDECAR_IP:9099
HTTPS_PROXY=http://$SIDECAR_IP:9099
http_proxy=http://$SIDECAR_IP:9099
https_proxy=http://$SIDECAR_IP:9099
NO_PROXY=$SIDECAR_IP,localhost,127.0.0.1
no_proxy=$SIDECAR_IP,localhost,127.0.0.1
SSL_CERT_FILE=/etc/bot-bottle-ca/ca-cert.pem
NODE_EXTRA_CA_CERTS=/etc/bot-bottle-ca/ca-cert.pem
REQUESTS_CA_BUNDLE=/etc/bot-bottle-ca/ca-cert.pem
GIT_SSL_CAINFO=/etc/bot-bottle-ca/ca-cert.pem
CURL_CA_BUNDLE=/etc/bot-bottle-ca/ca-cert.pem
BLUE_OWL_SECRET=$CANARY
EOF
out=$(run_block "$part3")
rc=$?
ok $rc "launcher block: the agent starts on the internal network only"
[ $rc -eq 0 ] || printf '%s\n' "$out" | sed 's/^/#   /'
is "$(pm inspect "$AG" | jq -r '.[0].NetworkSettings.Networks | keys | join(" ")')" \
    "$INT" "the agent is on $INT alone"
pm cp "$BB_SRCDIR/tests/topology/agent-checks.sh" "$AG:/tmp/agent-checks.sh"

# ---- the agent's checks (the same script as §5.1) ------------------------
# The netns traps (169.254.169.254 and 10.99.0.10 listeners counting
# connections) exist only in §5.1: here the guard's 403s are asserted, the
# traps' counters are not; check 3's raw targets are the internet
# container's ports.
diag "not here (netns only): trap connection counters of check 5, IPv6"
in_agent() {
	pm exec --user 65533:65533 -e HOME=/tmp -e SIDECAR_IP="$SIDECAR_IP" \
	    -e OUT_DIR=/tmp/out -e CANARY_VAR=BLUE_OWL_SECRET \
	    -e RAW_TARGETS="203.0.113.10:443 203.0.113.10:80 203.0.113.10:22 203.0.113.10:53 169.254.169.254:80" \
	    -e DNS_IP=203.0.113.10 -e STATE_PATH=/var/lib/bot-bottle \
	    -e STATE_MARKER="$MARKER" -e SV_BUILT=$SV -e GG_BUILT=$GG \
	    "$AG" bash /tmp/agent-checks.sh "$@"
}
run_agent() {
	local line
	in_agent "$@" 2>&1 | while IFS= read -r line; do
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
conns() {	# conns LISTENER-ADDR
	pm exec "$INET" curl -s --max-time 3 http://127.0.0.1:8080/stats |
	    jq -r --arg a "$1" '.listeners[] | select(.addr == $a) | .connections'
}
plain0=$(conns 0.0.0.0:80)
run_agent main
is "$(conns 0.0.0.0:80)" "$plain0" "2: no connection reached the internet's port 80 (evil.bb.test)"
# 3: the same connects from the sidecar's network namespace succeed.
for t in 203.0.113.10:443 203.0.113.10:80 203.0.113.10:22 203.0.113.10:53; do
	[ "$t" = 203.0.113.10:22 ] && [ $GG = 0 ] && continue
	pm_run --rm --name "bbt-probe-$P" --network "container:$SC" "$TOOLS" \
	    timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "${t%:*}" "${t##*:}" \
	    >/dev/null 2>&1
	ok $? "3: from the sidecar's network namespace, TCP to $t connects"
done
pm cp "$AG:/tmp/out" "$BB_T/agent-out" 2>/dev/null
# 7: token at the origin, never with the agent or in the environ.
grep '"event":"request"' "$BB_T/inet/origin.log" | grep -F 'token-route' |
    grep -qF "token $T0"
ok $? "7: the origin's log shows the injected credential"
grep -rqF -- "$T0" "$BB_T/agent-out"
ok $([ $? -ne 0 ] && echo 0 || echo 1) "7: nothing the agent received holds the token"
spid=$(pm inspect -f '{{.State.Pid}}' "$SC")
env_of=$(tr '\0' '\n' <"/proc/$spid/environ" 2>/dev/null)
unlike "$env_of" "$T0|$CANARY" "7: /proc/<sidecar>/environ holds neither token nor canary"
like "$env_of" "BOT_BOTTLE_SLUG=$SLUG" "7: (that environ was read: it has the slug)"
grep -qF '/dlp-probe' "$BB_T/inet/origin.log"
ok $([ $? -ne 0 ] && echo 0 || echo 1) "8: the origin logged nothing for the blocked POST"

# ---- 9: the gate -------------------------------------------------------------
if [ $GG = 1 ]; then
	for proto in git http; do
		run_agent gate1 "$proto"
		pushed=$(pm exec "$AG" cat "/tmp/out/pushed-$proto" 2>/dev/null)
		is "$(git -C "$BB_T$UPSTREAM" rev-parse main)" "$pushed" \
		    "9 ($proto): the clean push moved the upstream ref"
		w=$BB_T/upstream-work
		git -C "$w" pull -q "$BB_T$UPSTREAM" main
		echo "upstream $proto" >>"$w/UPSTREAM"
		git -C "$w" add UPSTREAM
		git -C "$w" -c user.name=up -c user.email=up@bb.test commit -qm "upstream $proto"
		git -C "$w" push -q "$BB_T$UPSTREAM" HEAD:main
		up=$(git -C "$BB_T$UPSTREAM" rev-parse main)
		run_agent gate2 "$proto" "$up"
		is "$(git -C "$BB_T$UPSTREAM" rev-parse main)" "$up" \
		    "9 ($proto): the rejected push left upstream unmoved"
	done
fi

# ---- 11 in the image: reload by signal, stop ---------------------------------
is "$(in_agent probe)" 200 "11: before the reload: 200"
write_routes 0
t0=$(date +%s%N)
pm kill --signal HUP "$SC" >/dev/null
code=
for _i in $(seq 1 50); do
	code=$(in_agent probe)
	[ "$code" = 403 ] && break
	[ $(( ($(date +%s%N) - t0) / 1000000 )) -ge 1000 ] && break
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
is "$code" 403 "11: podman kill --signal HUP after narrowing routes.yaml: 403 ($ms ms)"
ok $([ "$ms" -le 1500 ] && echo 0 || echo 1) "11: within 1 s (+ podman exec's own start-up)"
t0=$(date +%s%N)
pm stop -t 10 "$SC" >/dev/null
src=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
is "$src $(pm inspect -f '{{.State.ExitCode}}' "$SC")" "0 0" \
    "podman stop -t 10: the sidecar exits 0"
ok $([ "$ms" -lt 2000 ] && echo 0 || echo 1) "podman stop returns in < 2 s ($ms ms)"
grep -rqF -e "$T0" -e "$CANARY" "$STATE" 2>/dev/null
ok $([ $? -ne 0 ] && echo 0 || echo 1) "no token or canary in the state dir"
unlike "$(pm logs "$SC" 2>&1)" "$T0|$CANARY" "no token or canary in the sidecar's log"

# ---- read-only root, podman diff ----------------------------------------
# Without --read-only, a run writes nothing outside its mounts.
STATE2=$BB_T/state2
mkdir -p "$STATE2" && chown 65532:65532 "$STATE2" && chmod 700 "$STATE2"
write_routes 1
pm_run -d --name "bbt-diff-$P" --network none --user 65532:65532 \
    -v "$CONF":/etc/bot-bottle:ro -v "$STATE2":/var/lib/bot-bottle \
    --env-file "$PRIVATE/sidecar.env" "$IMG" >/dev/null 2>&1
hrc=1
for _i in $(seq 1 100); do
	pm exec "bbt-diff-$P" bb-sidecar health >/dev/null 2>&1 && { hrc=0; break; }
	sleep 0.1
done
ok $hrc "a run without --read-only becomes healthy"
# podman itself adds mount points for /etc/hosts, /etc/hostname and
# /etc/resolv.conf (the image has none), which shows as "C /etc": that is
# the baseline of a run that writes nothing (bb-sidecar version).
pm_run --name "bbt-base-$P" --network none --user 65532:65532 \
    --entrypoint /usr/local/bin/bb-sidecar "$IMG" version >/dev/null 2>&1
base=$(pm diff "bbt-base-$P" 2>&1)
pm rm -f "bbt-base-$P" >/dev/null 2>&1
diag "podman diff of a run that writes nothing: '$(echo $base)'"
is "$(pm diff "bbt-diff-$P" 2>&1)" "$base" \
    "podman diff of that run is empty (beyond podman's own /etc mount points)"
pm stop -t 10 "bbt-diff-$P" >/dev/null 2>&1
# --read-only without a STATE mount: exit 1 naming the state dir.
out=$(timeout 10 podman "${PG[@]}" run "${RUNF[@]}" --name "bbt-ro-$P" \
    --network none --read-only --user 65532:65532 \
    -v "$CONF":/etc/bot-bottle:ro --env-file "$PRIVATE/sidecar.env" "$IMG" 2>&1)
rc=$?
is "$rc" 1 "--read-only without a STATE mount: exit 1"
like "$out" '/var/lib/bot-bottle' "and the error names /var/lib/bot-bottle"

ok $(bb_no_sanitizer_reports && echo 0 || echo 1) "no sanitizer reports (host-side helpers)"
diag "check-image took $(( ($(date +%s%N) - T_START) / 1000000 )) ms (setup excluded)"
done_testing
