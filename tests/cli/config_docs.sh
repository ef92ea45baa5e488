#!/usr/bin/env bash
# docs/config.md holds the current generated reference of every key (`wan22 config docs`).
set -u
WAN22="$1"; SRC="$2"
T="$(mktemp -d)"; trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
doc="$SRC/docs/config.md"
[ -f "$doc" ] || fail "missing $doc"
"$WAN22" config docs > "$T/gen.md" || fail "config docs failed"
sed -n '/<!-- BEGIN GENERATED REFERENCE/,/<!-- END GENERATED REFERENCE/p' "$doc" | sed '1d;$d' > "$T/doc.md"
[ -s "$T/doc.md" ] || fail "no generated block in $doc"
diff -u "$T/doc.md" "$T/gen.md" > "$T/diff" \
  || { head -40 "$T/diff"; fail "docs/config.md is stale: replace its generated block with 'wan22 config docs' output"; }
echo PASS
