# The egress harness of spec/egress.md §22, sourced after lib.sh:
# a bottle CA, a test upstream CA, bbt-origin on TLS and plain ports,
# the R1-R16 routes, egress.resolve for the test names, and `pcurl`
# (curl through the proxy trusting the bottle CA).
BBT_ORIGIN=${BBT_ORIGIN:-$BB_BUILDDIR/tests/bbt-origin}
[ -x "$BBT_ORIGIN" ] || skip_all "bbt-origin not built"

T0=$(head -c 200 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 40)
CANARY="owl$(head -c 100 /dev/urandom | tr -dc 'a-z0-9' | head -c 24)"
export EGRESS_TOKEN_0=$T0 BLUE_OWL_SECRET=$CANARY
export BOT_BOTTLE_SENSITIVE_PREFIXES=BLUE_OWL_SECRET

bb_ca_init
"$BBT_ORIGIN" --make-ca "$BB_T/origin" >/dev/null || skip_all "origin CA"
cp "$BB_T/origin/ca.pem" "$CONF/origin-ca.pem"

ORIGIN_LOG=$BB_T/origin.log
NAMES="origin.test sup.test red.test git.test nogit.test inj.test
a.wild.test a.b.wild.test wild.test a.redwild.test new.test big.test
notoken.test"
origin_args=()
for n in $NAMES; do origin_args+=(--name "$n"); done
bb_bg "$BBT_ORIGIN" --tls 127.0.0.1:0 --plain 127.0.0.1:0 \
    --cert-dir "$BB_T/origin" "${origin_args[@]}" --ip-san 127.0.0.1 \
    --untrusted-name bad.test --log "$ORIGIN_LOG" \
    --ready-file "$BB_T/origin.ready" ${BBT_ORIGIN_EXTRA:-}
for _i in $(seq 1 250); do [ -s "$BB_T/origin.ready" ] && break; sleep 0.02; done
[ -s "$BB_T/origin.ready" ] || skip_all "bbt-origin did not start"
PT=$(jq -r '.tls[0]' "$BB_T/origin.ready")
PP=$(jq -r '.plain[0]' "$BB_T/origin.ready")

PX=$(bb_free_port)

# Writes routes.yaml (R1..R16 of §22) atomically: temp file + rename.
egress_routes() {
	cat >"$CONF/.routes.yaml.tmp" <<YAML
log: ${EGRESS_LOG_LEVEL:-2}
routes:
  - host: origin.test
    auth_scheme: token
    token_env: EGRESS_TOKEN_0
    matches:
      - {paths: [{type: prefix, value: /api/}, {type: exact, value: /echo}], methods: [GET, POST, PUT]}
      - {paths: [{type: regex, value: "/ws/[a-z]+"}], headers: [{name: X-Test, value: "yes"}]}
    dlp: {outbound_on_match: block}
  - {host: sup.test, ports: [443, 80]}
  - {host: red.test, dlp: {outbound_on_match: redact, outbound_detectors: [token_patterns, known_secrets, entropy]}}
  - {host: git.test, git: {fetch: true}}
  - {host: nogit.test}
  - {host: "*.wild.test", dlp: {outbound_on_match: block}}
  - {host: "*.redwild.test", dlp: {outbound_on_match: redact}}
  - {host: inj.test}
  - {host: 127.0.0.1, ports: [$PT], allow_private: true}
  - {host: 10.0.0.1}
  - {host: priv.dns.test}
  - {host: meta.dns.test}
  - {host: mapped.dns.test}
  - {host: notoken.test, auth_scheme: Bearer, token_env: EGRESS_TOKEN_9}
  - {host: bad.test}
  - {host: big.test, max_body_bytes: 1024, on_oversize: block}
${EGRESS_EXTRA_ROUTES:-}
YAML
	mv "$CONF/.routes.yaml.tmp" "$CONF/routes.yaml"
}

egress_sidecar_yaml() {
	local r="" n
	for n in $NAMES bad.test; do
		r="$r    $n:443: [\"127.0.0.1:$PT\"]
"
	done
	cat >"$CONF/sidecar.yaml" <<YAML
egress:
  upstream_ca_file: origin-ca.pem
  resolve:
$r    origin.test:80: ["127.0.0.1:$PP"]
    sup.test:80: ["127.0.0.1:$PP"]
${EGRESS_EXTRA_SIDECAR:-}
YAML
}

egress_routes
egress_sidecar_yaml

# Starts the sidecar with egress (and supervise when built).
egress_start() {
	bb_start --services "${EGRESS_SERVICES:-egress}" \
	    --listen-egress "127.0.0.1:$PX" "$@"
}

pcurl() {
	curl -sS --max-time "${PCURL_TIMEOUT:-10}" --proxy "http://127.0.0.1:$PX" \
	    --cacert "$CONF/ca-cert.pem" "$@"
}

# Requests the origin has logged so far (JSON lines).
origin_requests() { grep -c '"event":"request"' "$ORIGIN_LOG" 2>/dev/null || echo 0; }
origin_last() { grep '"event":"request"' "$ORIGIN_LOG" | tail -1; }
