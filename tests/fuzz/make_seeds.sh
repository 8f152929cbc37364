#!/usr/bin/env bash
# tests/fuzz/make_seeds.sh DIR - a small seed corpus for fuzz_decode: tiny
# images of every format and layout we read (made with Pillow and heif-enc at
# run time, so no binaries live in the repository).
set -euo pipefail
out=${1:?usage: make_seeds.sh DIR}
mkdir -p "$out"
/usr/bin/python3 - "$out" <<'PY'
import io, sys, struct
from PIL import Image
out = sys.argv[1]
base = Image.radial_gradient("L").resize((24, 16)).convert("RGB")
px = base.load()
for y in range(16):
    for x in range(24):
        r, g, b = px[x, y]
        px[x, y] = (r, (x * 10) % 256, (y * 15) % 256)
def save(name, im, fmt, **kw):
    im.save(f"{out}/{name}", fmt, **kw)
exif = Image.Exif(); exif[0x0112] = 6
save("rgb.jpg", base, "JPEG", quality=80, exif=exif.tobytes())
save("prog.jpg", base, "JPEG", progressive=True)
save("grey.jpg", base.convert("L"), "JPEG")
save("cmyk.jpg", base.convert("CMYK"), "JPEG")
# big enough for the DCT-scaled half (jpeg_min_side 16 -> 2/8): the fast
# JPEG decoder's layouts (src/image/jpeg_fast.c)
big = base.resize((128, 96))
save("fast420.jpg", big, "JPEG", quality=85)
save("fast444.jpg", big, "JPEG", quality=95, subsampling=0)
save("fast422.jpg", big, "JPEG", quality=75, subsampling=1, optimize=True)
save("fastgrey.jpg", big.convert("L"), "JPEG", quality=60)
# 4/8 of a wide strip: chroma rows long enough for the vector upsampling
save("fast422wide.jpg", base.resize((200, 40)), "JPEG", quality=80, subsampling=1)
save("fast48_420.jpg", base.resize((200, 40)), "JPEG", quality=85)  # 4:2:0 at 4/8: the 8x8
# 3/8 (56x48) and 6/8 (32x24): the 3x3 and 6x6 IDCTs
mid = base.resize((56, 48))
save("fast38_420.jpg", mid, "JPEG", quality=90)
save("fast38_422.jpg", mid, "JPEG", quality=70, subsampling=1)
save("fast38_grey.jpg", mid.convert("L"), "JPEG", quality=95)
small = base.resize((32, 24))
save("fast68_444.jpg", small, "JPEG", quality=90, subsampling=0)
save("fast68_422.jpg", small, "JPEG", quality=80, subsampling=1)
save("fast68_420.jpg", small, "JPEG", quality=85)  # the 12x12 for chroma
# 5/8 (40x32, when the harness asks for 20 pixels): the 5x5, and the
# 10x10 for 4:2:0's chroma
five = base.resize((40, 32))
save("fast58_420.jpg", five, "JPEG", quality=90)
save("fast58_444.jpg", five, "JPEG", quality=80, subsampling=0)
save("rgb.png", base, "PNG")
save("rgba.png", base.convert("RGBA"), "PNG")
save("inter.png", base, "PNG", interlace=1)
save("pal.png", base.convert("P"), "PNG", transparency=3)
save("grey.png", base.convert("L"), "PNG")
save("bw.png", base.convert("1"), "PNG")
save("i16.png", base.convert("I"), "PNG")
save("la.png", base.convert("LA"), "PNG")
save("exif.png", base, "PNG", exif=exif.tobytes())
save("a.gif", base.convert("P"), "GIF")
save("anim.gif", base.convert("P"), "GIF", save_all=True,
     append_images=[base.rotate(90).convert("P")], duration=50)
save("lossy.webp", base, "WEBP", quality=50)
save("lossless.webp", base.convert("RGBA"), "WEBP", lossless=True, exif=exif.tobytes())
save("anim.webp", base, "WEBP", save_all=True, append_images=[base.rotate(90)])
save("rgb.bmp", base, "BMP")
save("pal.bmp", base.convert("P"), "BMP")
save("bw.bmp", base.convert("1"), "BMP")
save("rgb.tif", base, "TIFF")
save("lzw.tif", base, "TIFF", compression="tiff_lzw")
save("jpeg.tif", base, "TIFF", compression="jpeg")
save("pal.tif", base.convert("P"), "TIFF")
save("cmyk.tif", base.convert("CMYK"), "TIFF")
save("grey.tif", base.convert("L"), "TIFF", compression="packbits")
PY
if command -v heif-enc >/dev/null; then
    heif-enc -q 50 -o "$out/a.heic" "$out/rgb.png" >/dev/null 2>&1 || true
    heif-enc -A -q 50 -o "$out/a.avif" "$out/rgb.png" >/dev/null 2>&1 || true
fi
ls "$out" | wc -l
