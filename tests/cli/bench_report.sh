#!/usr/bin/env bash
# The HTML report of wan22 bench renders in headless Chromium: a screenshot is taken and must be a
# real picture (a PNG of the window's size, many colours, not one flat colour). Skips only when no
# Chromium can be found at all (scripts/install-deps.sh installs Debian's chromium).
# usage: bench_report.sh <wan22> <source-dir>
set -uo pipefail
W=$1
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d) || fail "mktemp"
trap 'rm -rf "$tmp"' EXIT
export WAN22_DEMO_MODEL=$tmp/demo
DB=$tmp/bench.sqlite

browser=""
for c in "${CHROMIUM:-}" chromium chromium-browser google-chrome google-chrome-stable chrome headless_shell \
         /usr/lib/chromium/chromium /snap/bin/chromium; do
  [ -n "$c" ] || continue
  if command -v "$c" > /dev/null 2>&1; then browser=$(command -v "$c"); break; fi
done
if [ -z "$browser" ]; then
  for c in "$HOME"/.cache/ms-playwright/chromium*/chrome-linux/chrome; do
    [ -x "$c" ] && { browser=$c; break; }
  done
fi

# Two small runs (so the history charts have two points) and a comparison.
small=(--suite quick --device cpu --repeats 2 --warmup 0 --steps 1 --size 64x32 --db "$DB")
"$W" bench "${small[@]}" --save-baseline base --quiet > /dev/null || fail "first run exited $?"
# The second also sets a target through the config (a video target no run can meet: it must fail).
"$W" bench "${small[@]}" --compare base --report "$tmp/report.html" --report "$tmp/report.md" --quiet \
  --set performance_targets.video_2s_s=0.0001 --json "$tmp/report.json" > "$tmp/out.txt" ||
  fail "second run exited $?"
python3 - "$tmp/report.json" <<'PY' || fail "configured target"
import json, sys
j = json.load(open(sys.argv[1]))
t = {x["key"]: x for x in j["targets"]}
assert t["video_2s_s"]["target"] == 0.0001 and t["video_2s_s"]["status"] == "fail", t["video_2s_s"]
assert t["single_image_s"]["status"] == "pass", t["single_image_s"]
assert any(r["topic"] == "target" and "misses its target" in r["text"] for r in j["recommendations"]), j["recommendations"]
assert len(j["comparison"]["changes"]) >= 10
PY
grep -q "video_2s_s .* fail" "$tmp/out.txt" || fail "the text output does not show the failed target"
html=$tmp/report.html
[ -s "$html" ] || fail "no HTML report"
[ "$(grep -c "<svg" "$html")" -ge 3 ] || fail "the report has fewer than 3 charts"
grep -q "Time per stage" "$html" || fail "no stage chart"
grep -q 'id="comparison"' "$html" || fail "no comparison table"
grep -q 'id="targets"' "$html" || fail "no targets table"
if grep -qE "<script|<link|src=|href=" "$html"; then fail "the report is not self-contained"; fi

if [ -z "$browser" ]; then
  echo "SKIP: no Chromium found (chromium, chromium-browser, google-chrome, \$CHROMIUM); the report itself was checked"
  exit 0
fi
echo "browser: $browser ($("$browser" --version 2>/dev/null | head -1))"
shot=$tmp/shot.png
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars \
  --no-first-run --no-default-browser-check --user-data-dir="$tmp/profile" \
  --screenshot="$shot" --window-size=1200,1600 "file://$html" > "$tmp/chromium.log" 2>&1 ||
  { tail -20 "$tmp/chromium.log"; fail "chromium exited $?"; }
[ -s "$shot" ] || { tail -20 "$tmp/chromium.log"; fail "no screenshot"; }
python3 - "$shot" <<'PY' || fail "screenshot check"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, w = 8, b"", 0
while pos < len(data):
    n, typ = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if typ == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
    elif typ == b"IDAT":
        idat += body
    pos += 12 + n
assert (w, h) == (1200, 1600), (w, h)
assert depth == 8 and ctype in (2, 6), (depth, ctype)
bpp = 3 if ctype == 2 else 4
raw = zlib.decompress(idat)
stride = w * bpp
rows, prev = [], bytearray(stride)
for y in range(h):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(bytes(line))
    prev = line
colours = set()
non_white = 0
for y in range(0, h, 4):
    r = rows[y]
    for x in range(0, w, 4):
        px = r[x * bpp:x * bpp + 3]
        colours.add(px)
        if px != b"\xff\xff\xff":
            non_white += 1
samples = (h // 4) * (w // 4)
print("screenshot %dx%d, %d bytes, %d colours sampled, %.1f%% not white" % (w, h, len(data), len(colours), 100.0 * non_white / samples))
assert len(data) > 20000, "suspiciously small screenshot"
assert len(colours) >= 16, "too few colours: the page did not render"
assert 0.02 < non_white / samples < 0.9, "blank or flat page"
PY
echo OK
