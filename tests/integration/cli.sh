#!/usr/bin/env bash
# The command line: version, help, ca init, check-config, service choice.
. "$(dirname "$0")/lib.sh"



v=$("$BB_SIDECAR" version)
ok $? "version exits 0"
is "$(printf '%s' "$v" | jq -r .libgit2_features.ssh)" true "libgit2 has ssh"
like "$(printf '%s' "$v" | jq -r .libraries.llhttp)" '^[0-9]+\.[0-9]+' "llhttp version reported"

"$BB_SIDECAR" --help >/dev/null
ok $? "--help exits 0"
"$BB_SIDECAR" run --help | grep -q 'egress.limits.header_bytes'
ok $? "run --help lists the sidecar.yaml key table"
"$BB_SIDECAR" nosuch >/dev/null 2>&1
is $? 2 "unknown command exits 2"

# ca init (bundle.md §3, §7 test 6)
out=$("$BB_SIDECAR" ca init "$BB_T/ca" --slug bottle-1)
ok $? "ca init exits 0"
is "$(printf '%s' "$out" | jq -r .slug)" bottle-1 "ca init prints JSON with the slug"
is "$(stat -c %a "$BB_T/ca/ca.pem")" 600 "ca.pem is 0600"
is "$(stat -c %a "$BB_T/ca/ca-cert.pem")" 644 "ca-cert.pem is 0644"
text=$(openssl x509 -in "$BB_T/ca/ca-cert.pem" -noout -text)
like "$text" 'CA:TRUE, pathlen:0' "basicConstraints CA:TRUE pathlen:0"
like "$text" 'Certificate Sign, CRL Sign' "keyUsage keyCertSign, cRLSign"
like "$text" 'CN ?= ?bot-bottle sidecar CA bottle-1' "subject names the slug"
days=$(( ( $(date -d "$(openssl x509 -in "$BB_T/ca/ca-cert.pem" -noout -enddate | cut -d= -f2)" +%s) - $(date +%s) ) / 86400 ))
ok $([ "$days" -ge 3649 ] && [ "$days" -le 3650 ] && echo 0 || echo 1) "valid for 3650 days ($days)"
before=$(sha256sum "$BB_T/ca/ca.pem" "$BB_T/ca/ca-cert.pem")
"$BB_SIDECAR" ca init "$BB_T/ca" --slug bottle-1 2>"$BB_T/err"
is $? 1 "a second ca init exits 1"
like "$(cat "$BB_T/err")" 'ca(-cert)?\.pem' "and names the existing file"
is "$(sha256sum "$BB_T/ca/ca.pem" "$BB_T/ca/ca-cert.pem")" "$before" "both files unchanged"
"$BB_SIDECAR" ca init "$BB_T/rsa" --key rsa >/dev/null
like "$(openssl x509 -in "$BB_T/rsa/ca-cert.pem" -noout -text)" 'Public-Key: \(2048 bit\)' "--key rsa gives RSA-2048"
BOT_BOTTLE_SLUG=envslug "$BB_SIDECAR" ca init "$BB_T/env" >/dev/null
like "$(openssl x509 -in "$BB_T/env/ca-cert.pem" -noout -subject)" 'envslug' "BOT_BOTTLE_SLUG names the CA"

# check-config: every error with file:line:col, non-zero exit (issue 2)
cat >"$CONF/sidecar.yaml" <<'YAML'
workers: yes
egress:
  limits:
    header_bytes: 12
  hots: 1
YAML
out=$("$BB_SIDECAR" check-config --config-dir "$CONF" 2>&1)
is $? 1 "check-config on a bad sidecar.yaml exits 1"
like "$out" 'sidecar.yaml:1:10: workers: .*YAML 1.1' "YAML 1.1 boolean reported with file:line:col"
like "$out" 'sidecar.yaml:5:3: egress.hots: unknown key' "unknown key reported in the same run"
done_testing
