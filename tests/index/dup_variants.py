"""Writes near-copies of distinct photos with Pillow, for the duplicates
tests and the threshold measurement (docs/duplicates.md).

usage: /usr/bin/python3 dup_variants.py ORACLE_IMAGES OUT_DIR
       /usr/bin/python3 dup_variants.py --margin DB    (after indexing OUT_DIR)

For each original NAME it writes NAME/orig.png and the same picture as
NAME/copy.jpg (quality 95), NAME/copy.webp, NAME/q60.jpg (recompressed at
quality 60), NAME/half.png (half the size) and NAME/crop95.png (the
central 95% of each side). --margin reads the catalogue's embeddings and
prints the weakest score between a picture and its own variants, the
strongest between different pictures, and the margin between them, as JSON.
"""
import json
import os
import sqlite3
import sys

# Different pictures (the oracle also holds variants of some of these, such
# as coffee_gray.jpg or chelsea.webp: those are left out).
ORIGINALS = ["astronaut.png", "camera.png", "chelsea.png", "coffee.png", "coins.png", "china.jpg",
             "flower.jpg", "hubble_deep_field.jpg", "motorcycle_left.png", "retina.jpg", "rocket.jpg"]


def variants(src_dir, out_dir):
    from PIL import Image
    for name in ORIGINALS:
        im = Image.open(os.path.join(src_dir, name)).convert("RGB")
        d = os.path.join(out_dir, os.path.splitext(name)[0])
        os.makedirs(d, exist_ok=True)
        im.save(os.path.join(d, "orig.png"))
        im.save(os.path.join(d, "copy.jpg"), quality=95)
        im.save(os.path.join(d, "copy.webp"), quality=90)
        im.save(os.path.join(d, "q60.jpg"), quality=60)
        im.resize((im.width // 2, im.height // 2), Image.BICUBIC).save(os.path.join(d, "half.png"))
        dx, dy = round(im.width * 0.025), round(im.height * 0.025)
        im.crop((dx, dy, im.width - dx, im.height - dy)).save(os.path.join(d, "crop95.png"))


def margin(db):
    import numpy as np
    rows = sqlite3.connect(db).execute("SELECT path, embedding FROM images").fetchall()
    paths = [r[0] for r in rows]
    x = np.stack([np.frombuffer(r[1], np.float32) for r in rows]).astype(np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    s = x @ x.T
    pic = [os.path.basename(os.path.dirname(p)) for p in paths]
    true_min, false_max = 2.0, -2.0
    worst_true = best_false = None
    for i in range(len(paths)):
        for j in range(i + 1, len(paths)):
            if pic[i] == pic[j] and s[i, j] < true_min:
                true_min, worst_true = s[i, j], (paths[i], paths[j])
            if pic[i] != pic[j] and s[i, j] > false_max:
                false_max, best_false = s[i, j], (paths[i], paths[j])
    print(json.dumps({"weakest_true": round(float(true_min), 5), "weakest_true_pair": worst_true,
                      "strongest_false": round(float(false_max), 5), "strongest_false_pair": best_false,
                      "margin": round(float(true_min - false_max), 5), "images": len(paths)}))


if __name__ == "__main__":
    if sys.argv[1] == "--margin":
        margin(sys.argv[2])
    else:
        variants(sys.argv[1], sys.argv[2])
