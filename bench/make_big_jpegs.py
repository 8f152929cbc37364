#!/usr/bin/python3
"""Writes N ~12-megapixel JPEGs (4000 x 3000, quality 90) made from the
reference photographs, for the indexing comparison (bench/compare_index.sh).
They are generated at bench time and never committed.

    /usr/bin/python3 bench/make_big_jpegs.py ORACLE_IMAGES_DIR OUT_DIR [N]"""
import os
import sys

import numpy as np
from PIL import Image, ImageOps


def main():
    src, out = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 24
    names = sorted(f for f in os.listdir(src) if f.endswith((".jpg", ".png")) and "strip" not in f
                   and "single" not in f and "tiny" not in f)
    os.makedirs(out, exist_ok=True)
    for i in range(n):
        with Image.open(os.path.join(src, names[i % len(names)])) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")
            # a different crop per copy, so no two files are the same picture
            w, h = im.size
            d = (i // len(names)) * 7 % max(1, min(w, h) // 8)
            im = im.crop((d, d // 2, w - d // 2, h - d))
            big = np.asarray(im.resize((4000, 3000), Image.BICUBIC), dtype=np.int16)
            # sensor-like grain: an upscaled photo alone compresses to ~1 MB,
            # a real 12 MP photo to 3-6 MB, and decoding cost follows the size
            grain = np.random.default_rng(i).normal(0, 6, big.shape).astype(np.int16)
            big = Image.fromarray(np.clip(big + grain, 0, 255).astype(np.uint8))
            big.save(os.path.join(out, f"big_{i:03d}.jpg"), quality=90)
    print(f"wrote {n} files of 4000x3000 to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
