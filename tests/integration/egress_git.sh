#!/usr/bin/env bash
# egress §22 tests 23-24: git over HTTPS through the proxy: fetch only
# where the route says git.fetch, push never (with the gate hint).
. "$(dirname "$0")/lib.sh"
command -v git >/dev/null || skip_all "git not installed"
GIT_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/bbt-git.XXXXXX")
BBT_ORIGIN_EXTRA="--git-root $GIT_ROOT"
. "$(dirname "$0")/egress_env.sh"
trap 'bb_cleanup; rm -rf "$GIT_ROOT"' EXIT

# A bare repository with one commit.
git init -q --bare "$GIT_ROOT/repo.git"
git init -q "$BB_T/src"
git -C "$BB_T/src" -c user.email=t@t -c user.name=t commit -q --allow-empty -m one
git -C "$BB_T/src" push -q "$GIT_ROOT/repo.git" HEAD:refs/heads/main
git -C "$GIT_ROOT/repo.git" symbolic-ref HEAD refs/heads/main

egress_start || { echo "Bail out! sidecar did not start"; exit 1; }
G=(git -c http.proxy="http://127.0.0.1:$PX" -c http.sslCAInfo="$CONF/ca-cert.pem"
   -c protocol.version=2)

"${G[@]}" clone -q https://git.test/repo.git "$BB_T/clone" 2>"$BB_T/clone.err"
ok $? "23: clone from git.test (git.fetch: true) works"
is "$(git -C "$BB_T/clone" log --format=%s -1 2>/dev/null)" one "23: the commit arrived"
out=$("${G[@]}" clone -q https://nogit.test/repo.git "$BB_T/clone2" 2>&1)
like "$out" 'returned error: 403' "23: clone from nogit.test: 403"
like "$(bb_log)" 'git_fetch_not_enabled' "23: log names git_fetch_not_enabled"

git -C "$BB_T/clone" -c user.email=t@t -c user.name=t commit -q --allow-empty -m two
out=$("${G[@]}" -C "$BB_T/clone" push https://git.test/repo.git HEAD:main 2>&1)
like "$out" '403' "24: git push over HTTPS: 403"
like "$(bb_log)" 'git_push_blocked' "24: log names git_push_blocked"
out=$(pcurl -s -X POST --data-binary x -H 'Content-Type: application/x-git-receive-pack-request' \
    https://git.test/repo.git/git-receive-pack)
like "$out" 'reason: git_push_blocked' "24: raw POST git-receive-pack: 403"
like "$out" 'hint: push through the git gate' "24: with the gate hint"
like "$(pcurl -s 'https://git.test/repo.git/info/refs?service=git-receive-pack')" \
    'git_push_blocked' "24: info/refs?service=git-receive-pack: 403"
ok $(bb_no_sanitizer_reports && echo 0 || echo 1) "no sanitizer reports"
bb_stop
is $? 0 "SIGTERM: exit 0"
done_testing
