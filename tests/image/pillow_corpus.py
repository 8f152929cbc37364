"""tests/image/pillow_corpus.py CLIPSEARCH MODEL_DIR CORPUS_DIR WORK_DIR

Every file of Pillow's own test images (CORPUS_DIR, Tests/images of
python-pillow/Pillow, subfolders included) through `clipsearch pixels`,
the decoded image (--full) and the model's crop, against Debian's Pillow
with the rules of docs/images.md (pillow_ref.py):
  - a file both decode must give identical pixels, full image and crop;
  - a file only one side decodes must be listed below, with the reason;
  - a refusal must exit cleanly and name the file; a sanitizer report or a
    crash fails the test.
clipsearch runs once per folder over all its files (the CLI's batch mode),
so the whole corpus costs two process starts a folder, not two a file."""
import os
import subprocess
import sys
import warnings

import numpy as np
from PIL import Image

from pillow_ref import crop_config, reference

# Files Pillow 9.4 decodes and we refuse, on purpose (docs/images.md).
WE_REFUSE = {
    "hopper_bad_exif.jpg": "corrupt JPEG data (bad Huffman codes): libjpeg only warns, "
                           "Pillow keeps the garbage",
    "issue_2811.gif": "LZW minimum code size 11, above the GIF maximum of 8: giflib refuses",
}
# Files Pillow 9.4 refuses and we decode, on purpose (docs/images.md).
PILLOW_REFUSES = {
    "8bit.s.tif": "signed 8-bit grey: no Pillow mode, libtiff's RGBA reader",
    "separate_planar_extra_samples.tiff": "signed planar grey + extra sample: no Pillow mode, "
                                          "libtiff's RGBA reader",
    "truncated_exif_dpi.jpg": "a truncated EXIF block: Pillow fails reading the DPI from it, "
                              "we ignore a malformed EXIF block",
    "png_decompression_dos.png": "zTXt chunks over Pillow's 1 MB text limit: we do not keep text",
    "apng/chunk_no_fctl.png": "broken APNG frame sequence: we read the default image only",
}
IGNORED = {"SOURCE.txt"}


def is_heif(path):
    """HEIF/AVIF: Pillow 9.4 has no reader for them at all."""
    with open(path, "rb") as f:
        head = f.read(12)
    return head[4:8] == b"ftyp"


def run_ours(clipsearch, model, corpus, folder, names, out_dir, *args):
    """Runs `pixels` over the files of one folder; returns its stderr.
    Exit 0 (all written) or, with several files, 3 (some refused); one file
    exits 1 when refused. Anything else is a crash."""
    os.makedirs(out_dir, exist_ok=True)
    paths = [os.path.join(corpus, folder, n) for n in names]
    out = out_dir if len(paths) > 1 else os.path.join(out_dir, names[0] + ".png")
    cmd = [clipsearch, "pixels", *args, *paths, "-o", out]
    if "--full" not in args:
        cmd[2:2] = ["--model", model]
    p = subprocess.run(cmd, capture_output=True, text=True)
    ok = (0, 3) if len(paths) > 1 else (0, 1)
    if p.returncode not in ok or "Sanitizer" in p.stderr or "runtime error" in p.stderr:
        sys.exit(f"FAIL clipsearch crashed (exit {p.returncode}) on {folder or '.'}:\n{p.stderr}")
    return p.stderr


def load_png(path):
    return np.asarray(Image.open(path).convert("RGB")) if os.path.exists(path) else None


def same(got, want):
    return got is not None and got.shape == want.shape and (got == want).all()


def main():
    clipsearch, model, corpus, work = sys.argv[1:5]
    edge, crop = crop_config(model)
    folders = {}
    for root, dirs, files in os.walk(corpus):
        dirs.sort()
        rel = os.path.relpath(root, corpus)
        rel = "" if rel == "." else rel
        names = sorted(f for f in files if os.path.join(rel, f) not in IGNORED)
        if names:
            folders[rel] = names
    stderr = ""
    for folder, names in folders.items():
        stderr += run_ours(clipsearch, model, corpus, folder, names,
                           os.path.join(work, "full", folder), "--full")
        stderr += run_ours(clipsearch, model, corpus, folder, names,
                           os.path.join(work, "crop", folder))

    warnings.simplefilter("ignore")  # Pillow's warnings about odd files
    counts = dict.fromkeys(["files", "both", "exact", "we_refuse", "pillow_refuses", "neither"], 0)
    failures = []
    for folder, names in folders.items():
        for name in names:
            rel = os.path.join(folder, name)
            path = os.path.join(corpus, rel)
            counts["files"] += 1
            try:
                want_full, want_crop = reference(path, edge, crop)
                pillow_err = None
            except Exception as e:  # any refusal by Pillow
                pillow_err = f"{type(e).__name__}: {e}"
            got_full = load_png(os.path.join(work, "full", rel + ".png"))
            got_crop = load_png(os.path.join(work, "crop", rel + ".png"))
            ours = got_full is not None
            if ours != (got_crop is not None):
                failures.append(f"{rel}: decoded in one pass and refused in the other")
                continue
            if not ours and path not in stderr:
                failures.append(f"{rel}: refused without a message naming the file")
            if pillow_err is None and ours:
                counts["both"] += 1
                if same(got_full, want_full) and same(got_crop, want_crop):
                    counts["exact"] += 1
                    continue
                detail = "crop differs"
                if got_full.shape != want_full.shape:
                    detail = f"shape {got_full.shape} vs Pillow {want_full.shape}"
                elif not same(got_full, want_full):
                    d = np.abs(got_full.astype(int) - want_full)
                    detail = f"{int((d > 0).sum())} values differ, max {int(d.max())}"
                failures.append(f"{rel}: not Pillow's pixels: {detail}")
            elif pillow_err is None:
                counts["we_refuse"] += 1
                if rel not in WE_REFUSE:
                    failures.append(f"{rel}: we refuse a file Pillow decodes")
            elif ours:
                counts["pillow_refuses"] += 1
                if rel not in PILLOW_REFUSES and not is_heif(path):
                    failures.append(f"{rel}: we decode a file Pillow refuses ({pillow_err})")
            else:
                counts["neither"] += 1
    for rel, why in {**WE_REFUSE, **PILLOW_REFUSES}.items():
        got = os.path.exists(os.path.join(work, "full", rel + ".png"))
        if rel in WE_REFUSE and got or rel in PILLOW_REFUSES and not got:
            failures.append(f"{rel}: listed as an exception ({why}) but no longer is one")
    for f in failures:
        print("FAIL", f)
    print(f"{counts['files']} files: {counts['both']} decoded by both, {counts['exact']} of them "
          f"identical to Pillow; refused by us only: {counts['we_refuse']}, by Pillow only: "
          f"{counts['pillow_refuses']}, by both: {counts['neither']}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
