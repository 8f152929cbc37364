"""tests/image/pillow_check.py CLIPSEARCH MODEL_DIR WORK_DIR

Makes images of every format and layout we read (with Pillow, or by hand
where Pillow cannot write them), asks `clipsearch pixels` for the decoded
image (--full) and for the model's crop, and compares both, pixel for pixel,
with what Pillow + transformers' steps give:
    exif_transpose(Image.open(f)).convert("RGB"), BICUBIC resize of the
    shortest edge, centre crop.
Prints one line per case and exits 1 if any differs."""
import io
import os
import struct
import subprocess
import sys
import zlib

import numpy as np
from PIL import Image

from pillow_ref import crop_config, reference as pillow_reference

clipsearch, model, work = sys.argv[1:4]
EDGE, CROP = crop_config(model)


def reference(path):
    return pillow_reference(path, EDGE, CROP)


def ours(path, *args):
    out = os.path.join(work, "out.png")
    p = subprocess.run([clipsearch, "pixels", "--model", model, path, "-o", out, *args],
                       capture_output=True, text=True)
    if p.returncode != 0:
        return None, p.stderr.strip()
    return np.asarray(Image.open(out).convert("RGB")), ""


# ---- the cases ---------------------------------------------------------------
rng = np.random.default_rng(7)
grad = np.zeros((61, 83, 3), np.uint8)
yy, xx = np.mgrid[0:61, 0:83]
grad[..., 0] = (xx * 3) % 256
grad[..., 1] = (yy * 4) % 256
grad[..., 2] = ((xx + yy) * 5) % 256
grad[20:30, 10:40] = rng.integers(0, 256, (10, 30, 3))
RGB = Image.fromarray(grad)
cases = []


def add(name, data):
    path = os.path.join(work, name)
    with open(path, "wb") as f:
        f.write(data)
    cases.append(path)


def pil(name, im, fmt, **kw):
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    add(name, b.getvalue())


def exif(o):
    e = Image.Exif()
    e[0x0112] = o
    return e.tobytes()


def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))


def png(w, h, depth, ctype, raw_rows, extra=b"", interlace=0):
    raw = b"".join(b"\0" + r for r in raw_rows)
    return (b"\x89PNG\r\n\x1a\n" +
            chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, interlace)) +
            extra + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


# JPEG
pil("rgb.jpg", RGB, "JPEG", quality=90)
pil("rgb444.jpg", RGB, "JPEG", quality=90, subsampling=0)
pil("rgb422.jpg", RGB, "JPEG", quality=90, subsampling=1)
pil("prog.jpg", RGB, "JPEG", progressive=True, quality=75)
pil("grey.jpg", RGB.convert("L"), "JPEG")
pil("cmyk.jpg", RGB.convert("CMYK"), "JPEG", quality=90)
for o in range(1, 9):
    pil(f"exif{o}.jpg", RGB, "JPEG", quality=90, exif=exif(o))
# PNG
pil("rgb.png", RGB, "PNG")
pil("line.png", RGB.resize((400, 1)), "PNG")  # resized to 89600x224, cropped
pil("column.png", RGB.resize((1, 300)), "PNG")
pil("rgba.png", RGB.convert("RGBA"), "PNG")
pil("la.png", RGB.convert("LA"), "PNG")
pil("grey.png", RGB.convert("L"), "PNG")
pil("bw.png", RGB.convert("1"), "PNG")
pil("pal.png", RGB.convert("P"), "PNG")
pil("pal_trns.png", RGB.convert("P"), "PNG", transparency=5)
pil("pal_bits4.png", RGB.convert("P", palette=Image.ADAPTIVE, colors=16), "PNG", bits=4)
pil("inter.png", RGB, "PNG", interlace=1)
pil("exif6.png", RGB, "PNG", exif=exif(6))
g16 = (np.arange(83 * 61).reshape(61, 83) * 13 % 65536).astype(">u2")
add("grey16.png", png(83, 61, 16, 0, [r.tobytes() for r in g16]))
add("grey16_inter.png", png(83, 61, 16, 0, [r.tobytes() for r in g16], interlace=1))
rgb16 = (grad.astype(">u2") * 257 + rng.integers(0, 256, grad.shape)).astype(">u2")
add("rgb16.png", png(83, 61, 16, 2, [r.tobytes() for r in rgb16]))
rgba16 = np.concatenate([rgb16, rgb16[..., :1]], axis=2).astype(">u2")
add("rgba16.png", png(83, 61, 16, 6, [r.tobytes() for r in rgba16]))
add("la16.png", png(83, 61, 16, 4, [r.tobytes() for r in rgba16[..., :2].copy()]))
for bits in (1, 2, 4):
    vals = (np.arange(83 * 61).reshape(61, 83) * 7) % (1 << bits)
    rows = [np.packbits(np.unpackbits(r.astype(np.uint8)[:, None], axis=1)[:, 8 - bits:].ravel())
            .tobytes() for r in vals]
    add(f"grey{bits}.png", png(83, 61, bits, 0, rows))
    plte = bytes(rng.integers(0, 256, 3 * (1 << bits) - 3).astype(np.uint8))  # one short
    add(f"pal{bits}.png", png(83, 61, bits, 3, rows, chunk(b"PLTE", plte)))
idx = (np.arange(83 * 61).reshape(61, 83) % 256).astype(np.uint8)
add("pal_oob.png", png(83, 61, 8, 3, [r.tobytes() for r in idx],
                       chunk(b"PLTE", bytes(range(30)))))
add("grey_trns.png", png(83, 61, 8, 0, [r.tobytes() for r in idx], chunk(b"tRNS", b"\0\x07")))
xmp = b'XML:com.adobe.xmp\0\0\0\0\0<x:xmpmeta><rdf:Description tiff:Orientation="8"/></x:xmpmeta>'
add("xmp8.png", png(83, 61, 8, 2, [r.tobytes() for r in grad], chunk(b"iTXt", xmp)))
hexexif = exif(3).hex()
raw = ("\nexif\n%8d\n" % (len(hexexif) // 2) + hexexif + "\n").encode()
add("rawexif3.png", png(83, 61, 8, 2, [r.tobytes() for r in grad],
                        chunk(b"zTXt", b"Raw profile type exif\0\0" + zlib.compress(raw))))
add("exif_after_idat.png", png(83, 61, 8, 2, [r.tobytes() for r in grad])[:-12] +
    chunk(b"eXIf", exif(8)[6:] if exif(8).startswith(b"Exif") else exif(8)) + chunk(b"IEND", b""))
# GIF
pil("a.gif", RGB.convert("P"), "GIF")
pil("grey.gif", RGB.convert("L"), "GIF")
pil("inter.gif", RGB.convert("P"), "GIF", interlace=True)
pil("trns.gif", RGB.convert("P"), "GIF", transparency=7)
pil("anim.gif", RGB.convert("P"), "GIF", save_all=True,
    append_images=[RGB.rotate(90).convert("P")], duration=50)
g = io.BytesIO()
RGB.crop((0, 0, 40, 30)).convert("P").save(g, "GIF", transparency=2)
gd = bytearray(g.getvalue())
gd[6:10] = struct.pack("<HH", 70, 50)  # a bigger logical screen
pos = gd.index(b",", 13 + 3 * 256 if gd[10] & 0x80 else 13)
gd[pos + 1:pos + 5] = struct.pack("<HH", 20, 11)  # frame offset
add("offset.gif", bytes(gd))
gd2 = bytearray(gd)
gd2[pos + 1:pos + 5] = struct.pack("<HH", 50, 30)  # frame sticks out of the screen
add("outside.gif", bytes(gd2))
# WebP
pil("lossy.webp", RGB, "WEBP", quality=70)
pil("lossy_alpha.webp", RGB.convert("RGBA"), "WEBP", quality=70)
rgba = RGB.convert("RGBA")
rgba.putalpha(Image.fromarray((grad[..., 0] // 2).astype(np.uint8)))
pil("lossy_alpha2.webp", rgba, "WEBP", quality=70)
pil("lossless.webp", RGB, "WEBP", lossless=True)
pil("lossless_alpha.webp", rgba, "WEBP", lossless=True)
pil("anim.webp", RGB, "WEBP", save_all=True, append_images=[RGB.rotate(90)], quality=80)
pil("exif6.webp", RGB, "WEBP", quality=80, exif=exif(6))
# BMP
pil("rgb.bmp", RGB, "BMP")
pil("pal.bmp", RGB.convert("P"), "BMP")
pil("grey.bmp", RGB.convert("L"), "BMP")
pil("bw.bmp", RGB.convert("1"), "BMP")
pil("rgba.bmp", rgba, "BMP")


def bmp(w, h, bits, pixels, palette=b"", compression=0, masks=b"", top_down=False,
        header=40):
    if header == 12:
        info = struct.pack("<IHHHH", 12, w, h, 1, bits)
    else:
        info = struct.pack("<IiiHHIIiiII", 40, w, -h if top_down else h, 1, bits, compression,
                           len(pixels), 2835, 2835, len(palette) // 4, 0)
    off = 14 + len(info) + len(masks) + len(palette)
    return b"BM" + struct.pack("<IHHI", off + len(pixels), 0, 0, off) + info + masks + palette + pixels


def rows(arr, bpp_bytes, top_down=False):
    out = b""
    order = arr if top_down else arr[::-1]
    for r in order:
        b = r.tobytes()
        out += b + b"\0" * ((-len(b)) % 4)
    return out


p555 = ((grad[..., 0].astype(np.uint16) >> 3) << 10 | (grad[..., 1].astype(np.uint16) >> 3) << 5 |
        (grad[..., 2].astype(np.uint16) >> 3)).astype("<u2")
add("bgr555.bmp", bmp(83, 61, 16, rows(p555, 2)))
p565 = ((grad[..., 0].astype(np.uint16) >> 3) << 11 | (grad[..., 1].astype(np.uint16) >> 2) << 5 |
        (grad[..., 2].astype(np.uint16) >> 3)).astype("<u2")
add("bgr565.bmp", bmp(83, 61, 16, rows(p565, 2), compression=3,
                      masks=struct.pack("<III", 0xF800, 0x7E0, 0x1F)))
bgr = grad[..., ::-1].copy()
add("topdown.bmp", bmp(83, 61, 24, rows(bgr, 3, True), top_down=True))
add("os2.bmp", bmp(83, 61, 24, rows(bgr, 3), header=12))
xrgb = np.concatenate([grad[..., ::-1], np.full((61, 83, 1), 9, np.uint8)], axis=2)
add("bgrx.bmp", bmp(83, 61, 32, rows(xrgb, 4)))
pal = bytes(rng.integers(0, 256, 4 * 200).astype(np.uint8))
add("rle8.bmp", bmp(83, 61, 8, b"".join(bytes([5, i % 200, 0, 4, 4, 1, 2, 3, 4, 9, 0, 0])
                                         for i in range(61)) + b"\0\1", pal, compression=1))
add("rle4.bmp", bmp(83, 61, 4, b"".join(bytes([7, 0x12 + i % 3, 0, 5, 0x34, 0x56, 0x70, 0, 0, 0])
                                         for i in range(61)) + b"\0\1", pal[:64], compression=2))
# TIFF
pil("rgb.tif", RGB, "TIFF")
pil("lzw.tif", RGB, "TIFF", compression="tiff_lzw")
pil("deflate.tif", RGB, "TIFF", compression="tiff_adobe_deflate")
pil("jpeg.tif", RGB, "TIFF", compression="jpeg")
pil("packbits.tif", RGB.convert("L"), "TIFF", compression="packbits")
pil("bw.tif", RGB.convert("1"), "TIFF")
pil("g4.tif", RGB.convert("1"), "TIFF", compression="group4")
pil("pal.tif", RGB.convert("P"), "TIFF")
pil("cmyk.tif", RGB.convert("CMYK"), "TIFF")
pil("rgba.tif", rgba, "TIFF")
pil("la.tif", RGB.convert("LA"), "TIFF")
pil("i16.tif", Image.fromarray(g16.astype("<u2")), "TIFF")
pil("orient6.tif", RGB, "TIFF", tiffinfo={274: 6})
pil("orient3_lzw.tif", RGB, "TIFF", compression="tiff_lzw", tiffinfo={274: 3})
pil("float.tif", Image.fromarray((grad[..., 0].astype(np.float32) - 40) * 1.7), "TIFF")
pil("i32.tif", Image.fromarray(grad[..., 1].astype(np.int32) * 9 - 300), "TIFF")
pil("lab.tif", RGB.convert("LAB"), "TIFF")
pil("lab_deflate.tif", RGB.convert("LAB"), "TIFF", compression="tiff_adobe_deflate")
pil("rgba_lzw.tif", rgba, "TIFF", compression="tiff_lzw")
pil("cmyk_deflate.tif", RGB.convert("CMYK"), "TIFF", compression="tiff_adobe_deflate")
pil("i16_deflate.tif", Image.fromarray(g16.astype("<u2")), "TIFF", compression="tiff_adobe_deflate")
# BMP whose last row lacks its padding: Pillow's raw decoder never reads it
add("short_pad.bmp", bmp(83, 61, 24, rows(bgr, 3))[:-3])

# ---- damaged files: every one must be refused (docs/images.md, Refusals) ----
damaged = []


def bad(name, data):
    add(name, data)
    damaged.append(cases.pop())


def saved(im, fmt, **kw):
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    return bytearray(b.getvalue())


t = saved(RGB, "TIFF", compression="tiff_adobe_deflate")
off = Image.open(io.BytesIO(bytes(t))).tag_v2[273][0]
t[off + 40:off + 60] = b"\x55" * 20  # zlib data no longer inflates
bad("zip_error.tif", bytes(t))
t = saved(RGB, "TIFF")
bad("short_strip.tif", bytes(t[:len(t) // 2]))  # uncompressed, cut in its strip
t = saved(RGB, "TIFF", compression="jpeg")
off = Image.open(io.BytesIO(bytes(t))).tag_v2[273][0]
t[off + 700:off + 702] = b"\xff\xd9"  # an end marker inside the coded data
bad("jpeg_cut.tif", bytes(t))
j = saved(RGB, "JPEG", quality=90)
sos = j.index(b"\xff\xda")
j[sos + 900:sos + 902] = b"\xff\xd9"
bad("early_eoi.jpg", bytes(j))
bad("cut_chunk.png", bytes(saved(RGB, "PNG")[:-12]) + struct.pack(">I", 500) + b"tEXt" + b"x" * 40)
p = saved(RGB, "PNG")
bad("bad_crc.png", bytes(p[:33]) + chunk(b"tEXt", b"a\0b")[:-1] + b"\0" + bytes(p[33:]))

failed = compared = 0
for path in cases:
    name = os.path.basename(path)
    try:
        want_full, want_crop = reference(path)
    except Exception as e:  # Pillow cannot read it: then neither need we agree
        print(f"skip {name}: Pillow: {e}")
        continue
    compared += 1
    got_full, err = ours(path, "--full")
    got_crop, err2 = ours(path)
    ok_full = got_full is not None and got_full.shape == want_full.shape and \
        (got_full == want_full).all()
    ok_crop = got_crop is not None and got_crop.shape == want_crop.shape and \
        (got_crop == want_crop).all()
    if ok_full and ok_crop:
        print(f"ok   {name}")
        continue
    failed += 1
    detail = err or err2
    if got_full is not None and got_full.shape == want_full.shape:
        d = np.abs(got_full.astype(int) - want_full)
        detail += f" full: {int((d > 0).sum())} values differ, max {int(d.max())}"
    elif got_full is not None:
        detail += f" full: shape {got_full.shape} vs Pillow {want_full.shape}"
    print(f"FAIL {name}: {detail} (crop {'ok' if ok_crop else 'differs'})")
for path in damaged:
    got, err = ours(path, "--full")
    if got is not None or path not in err:
        failed += 1
        why = "decoded" if got is not None else err
        print(f"FAIL {os.path.basename(path)}: damaged but {why}")
    else:
        print(f"ok   {os.path.basename(path)} refused: {err}")
total = compared + len(damaged)
print(f"{total - failed}/{total} cases identical to Pillow or refused as damaged "
      f"({len(cases) - compared} that Pillow cannot read skipped)")
sys.exit(1 if failed else 0)
