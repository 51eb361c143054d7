#!/usr/bin/env bash
# The photo pipeline beside ImageMagick and libvips on the same 12 MP JPEG (4000×3000,
# EXIF orientation 6), on this machine: decode, orient, resize to 2048, 320 px thumbnail,
# encode both.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/apt-install.sh identify imagemagick vipsthumbnail libvips-tools hyperfine hyperfine
WORK="$(mktemp -d /tmp/fivestar-photo.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
IN="$WORK/in.jpg"
convert -size 4000x3000 plasma:fractal -seed 7 -quality 92 "$WORK/plain.jpg"
# Insert an EXIF block with Orientation = 6 (as a phone held upright writes it).
python3 - "$WORK/plain.jpg" "$IN" <<'PY'
import struct, sys
src = open(sys.argv[1], "rb").read()
tiff = b"II*\0" + struct.pack("<I", 8) + struct.pack("<H", 1) + struct.pack("<HHIHH", 0x0112, 3, 1, 6, 0) + struct.pack("<I", 0)
app1 = b"\xff\xe1" + struct.pack(">H", 2 + 6 + len(tiff)) + b"Exif\0\0" + tiff
open(sys.argv[2], "wb").write(src[:2] + app1 + src[2:])
PY
echo "input: $(identify -format '%wx%h orientation=%[orientation] %b' "$IN")"
hyperfine -w 1 -r 5 -N --export-json "$WORK/h.json" \
  -n imagemagick "bash -c 'convert $IN -auto-orient -resize 2048x2048 -strip -quality 85 $WORK/im.jpg && convert $WORK/im.jpg -resize 320x320 -strip -quality 85 $WORK/im_t.jpg'" \
  -n vips "bash -c 'vipsthumbnail $IN --size 2048 -o $WORK/v.jpg[Q=85,strip] && vipsthumbnail $WORK/v.jpg --size 320 -o $WORK/v_t.jpg[Q=85,strip]'" \
  | grep -E "Time|^Benchmark" || true
python3 - "$WORK/h.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"{r['command']}: mean {r['mean']:.3f} s")
PY
PHOTO="$IN" RUNS=10 cargo bench -q --bench photo 2>/dev/null | grep fivestar
