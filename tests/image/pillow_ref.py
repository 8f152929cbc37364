"""tests/image/pillow_ref.py - the Python stack's pixels for one image file:
what Pillow (Debian 12's 9.4) and transformers' CLIPImageProcessor feed
CLIP, by the rules docs/images.md lists. Shared by pillow_check.py and
pillow_corpus.py."""
import json
import os

import numpy as np
from PIL import Image, ImageOps


def crop_config(model_dir):
    """(shortest_edge, (crop_width, crop_height)) from a model folder."""
    cfg = json.load(open(os.path.join(model_dir, "preprocessor_config.json")))
    return cfg["size"]["shortest_edge"], (cfg["crop_size"]["width"], cfg["crop_size"]["height"])


def reference(path, edge, crop):
    """(full RGB image, crop) as uint8 arrays; raises what Pillow raises."""
    im = Image.open(path)
    # Pillow 9.4's TIFF loader already applies the orientation tag, and then
    # exif_transpose applies it a second time (a Pillow bug: orientation 6
    # comes out rotated 180 degrees). We apply it once, as Pillow's loader
    # does, so a TIFF's reference is the loaded image.
    if im.format != "TIFF":
        im = ImageOps.exif_transpose(im)
    full = im.convert("RGB")
    w, h = full.size
    short, long = (w, h) if w <= h else (h, w)
    nl = int(edge * long / short)
    size = (edge, nl) if w <= h else (nl, edge)
    r = full.resize(size, Image.BICUBIC)
    left, top = (r.size[0] - crop[0]) // 2, (r.size[1] - crop[1]) // 2
    return np.asarray(full), np.asarray(r)[top:top + crop[1], left:left + crop[0]]
