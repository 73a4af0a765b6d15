#!/usr/bin/env bash
# egress §22 tests 42-46: naive_injection_detection on responses from
# inj.test (bbt-origin's /inj and /sse fixtures): warn, block, the
# quoted-text stance, hidden carriers, gzip, streaming abort, SSE.
. "$(dirname "$0")/lib.sh"
EGRESS_LOG_LEVEL=1
. "$(dirname "$0")/egress_env.sh"
egress_start || { echo "Bail out! sidecar did not start"; exit 1; }
code() { pcurl -o "$BB_T/body" -w '%{http_code}' "$@" 2>/dev/null; }

is "$(code https://inj.test/inj/single)" 200 "42: one override phrase: 200"
like "$(bb_log | grep '"rule":"naive_injection_detection"' | tail -1)" '"families":"override"' "42: a warn naming the family"
direct=$(curl -s --cacert "$BB_T/origin/ca.pem" --resolve "inj.test:$PT:127.0.0.1" "https://inj.test:$PT/inj/single" | sha256sum)
is "$(sha256sum <"$BB_T/body")" "$direct" "42: forwarded unchanged"
is "$(code https://inj.test/inj/combo)" 403 "43: the combo: 403"
like "$(cat "$BB_T/body")" 'reason: injection_blocked' "43: reason injection_blocked"
is "$(code https://inj.test/inj/article)" 200 "43: the same phrases quoted and fenced: 200"
for f in hidden zw tags json gz; do
	is "$(code https://inj.test/inj/$f)" 403 "44: /inj/$f: 403"
done
is "$(code https://inj.test/inj/bin)" 200 "45: application/octet-stream is not scanned"
PCURL_TIMEOUT=20 pcurl -s -o "$BB_T/big" https://inj.test/inj/big 2>/dev/null
rc=$?
ok $([ "$rc" = 18 ] || [ "$rc" = 56 ] && echo 0 || echo 1) "45: 2 MiB with the combo at 1.5 MiB: curl exits 18 or 56 ($rc)"
sz=$(stat -c %s "$BB_T/big")
ok $([ "$sz" -lt $((1536 * 1024)) ] && echo 0 || echo 1) "45: under 1.5 MiB received ($sz)"
like "$(bb_log | grep '"action":"aborted"' | tail -1)" 'injection_blocked' "45: block logged"
out=$(PCURL_TIMEOUT=20 pcurl -sN https://inj.test/sse/clean)
is "$(printf '%s\n' "$out" | grep -c '^data:')" "$(curl -sN --cacert "$BB_T/origin/ca.pem" --resolve "inj.test:$PT:127.0.0.1" "https://inj.test:$PT/sse/clean" | grep -c '^data:')" \
    "46: /sse/clean: every event arrives"
out=$(PCURL_TIMEOUT=20 pcurl -sN https://inj.test/sse/bad 2>/dev/null)
is "$(printf '%s\n' "$out" | grep -c '^data:')" 3 "46: /sse/bad: the three events before the combo arrive"
like "$out" ': bb-sidecar: egress: stream blocked by naive_injection_detection' "46: then the bb-sidecar comment"
t0=$(date +%s%N)
first=$(PCURL_TIMEOUT=20 pcurl -sN https://inj.test/inj/trickle 2>/dev/null |
    { head -c 1 >/dev/null; echo $(( ($(date +%s%N) - t0) / 1000000 )); cat >/dev/null; })
ok $([ "$first" -lt 2800 ] && echo 0 || echo 1) "46: /inj/trickle: first bytes during the 3 s pause ($first ms)"
ok $(bb_no_sanitizer_reports && echo 0 || echo 1) "no sanitizer reports"
bb_stop
is $? 0 "SIGTERM: exit 0"
done_testing
