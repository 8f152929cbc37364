#!/usr/bin/python3
"""The seed's indexing pipeline, as the Python stack runs it, for
bench/compare_index.sh: for each image file, one at a time, Pillow decodes
it, the CLIPImageProcessor rules prepare it (RGB, resize the shortest edge to
224 with BICUBIC, centre crop, rescale, normalise; reproduced here in
numpy), PyTorch runs the vision tower (export_onnx.Vision: the same graph
transformers' CLIPVisionModelWithProjection computes) and the L2-normalised
embedding is kept. Prints one JSON object: images, seconds, images/s.

    /usr/bin/python3 bench/seed_pipeline.py MODEL_DIR IMAGE_DIR [--threads N] [--dump F]"""
import json
import os
import sys
import time

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_onnx import Vision, load_safetensors  # noqa: E402


def preprocess(path, pp):
    with Image.open(path) as im:
        im = im.convert("RGB")
        size = pp["size"]["shortest_edge"] if isinstance(pp["size"], dict) else pp["size"]
        w, h = im.size
        if w <= h:
            nw, nh = size, int(size * h / w)
        else:
            nw, nh = int(size * w / h), size
        im = im.resize((nw, nh), Image.BICUBIC)
        crop = pp["crop_size"]
        cw, ch = (crop["width"], crop["height"]) if isinstance(crop, dict) else (crop, crop)
        left, top = (nw - cw) // 2, (nh - ch) // 2
        im = im.crop((left, top, left + cw, top + ch))
        x = np.asarray(im, dtype=np.float32) * np.float32(pp.get("rescale_factor", 1 / 255))
        x = (x - np.array(pp["image_mean"], np.float32)) / np.array(pp["image_std"], np.float32)
        return torch.from_numpy(x.transpose(2, 0, 1).copy()).unsqueeze(0)


def main():
    model_dir, image_dir = sys.argv[1], sys.argv[2]
    if "--threads" in sys.argv:
        torch.set_num_threads(int(sys.argv[sys.argv.index("--threads") + 1]))
    t_start = time.time()
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    pp = json.load(open(os.path.join(model_dir, "preprocessor_config.json")))
    net = Vision(load_safetensors(os.path.join(model_dir, "model.safetensors")), cfg).eval()
    t_loaded = time.time()
    files = sorted(os.path.join(image_dir, f) for f in os.listdir(image_dir))
    embeddings = []
    with torch.no_grad():
        for f in files:
            e = net(preprocess(f, pp))[0].numpy()
            embeddings.append(e / np.linalg.norm(e))
    t_end = time.time()
    if "--dump" in sys.argv:  # the embeddings, float32 rows, files in sorted order
        np.stack(embeddings).astype(np.float32).tofile(sys.argv[sys.argv.index("--dump") + 1])
    print(json.dumps({"peer": "seed pipeline (Pillow + numpy + PyTorch %s)" % torch.__version__,
                      "threads": torch.get_num_threads(), "images": len(files),
                      "load_seconds": t_loaded - t_start, "index_seconds": t_end - t_loaded,
                      "total_seconds": t_end - t_start,
                      "images_per_second": len(files) / (t_end - t_loaded)}))


if __name__ == "__main__":
    main()
