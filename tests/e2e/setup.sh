#!/usr/bin/env bash
# The setup step of `make check-image` (spec/bundle.md §1.4, §5.2), the
# only part of it that reaches the Debian mirror:
#
#   tests/e2e/setup.sh OUTDIR
#
# builds the image archives twice with scripts/build-image (§7 test 4: the
# second run reuses the base and must yield the same image ID; both IDs go
# to OUTDIR/image-ids) and the tools image (tests/e2e/Containerfile.tools)
# as localhost/bot-bottle/sidecar-tools:VERSION.  Prints how long each took.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: tests/e2e/setup.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
driver=$("$top/scripts/storage-driver")
V=$(sed -n 's/^AC_INIT(\[bb-sidecar\], *\[\([^]]*\)\].*/\1/p' "$top/configure.ac")
: >"$out/image-ids"
for run in 1 2; do
	t0=$SECONDS
	"$top/scripts/build-image" --out "$out" --storage-driver "$driver" \
	    >"$out/build-image-$run.out"
	sed -n 's/^id: *//p' "$out/build-image-$run.out" >>"$out/image-ids"
	echo "setup: build-image run $run: $((SECONDS - t0)) s" \
	    "($(sed -n 's/^id: *//p' "$out/build-image-$run.out" | cut -c1-12))"
done
t0=$SECONDS
dangling() { buildah --storage-driver "$driver" images --filter dangling=true \
    --no-trunc --quiet | sort; }
before=$(dangling)
buildah --storage-driver "$driver" build --isolation chroot --pull=never \
    -f "$top/tests/e2e/Containerfile.tools" \
    -t "localhost/bot-bottle/sidecar-tools:$V" "$top" >"$out/tools-build.out" 2>&1 || {
	tail -30 "$out/tools-build.out" >&2
	echo "setup: the tools image did not build" >&2
	exit 1
}
# Its build stage, and a previous tools image, are left untagged.
for i in $(comm -13 <(printf '%s\n' "$before") <(dangling)); do
	buildah --storage-driver "$driver" rmi "$i" >/dev/null 2>&1 || true
done
echo "setup: tools image: $((SECONDS - t0)) s"
echo "$driver" >"$out/storage-driver"
