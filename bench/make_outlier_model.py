#!/usr/bin/python3
# bench/make_outlier_model.py SRC DST FACTOR: a copy of the CLIP folder SRC
# (model.safetensors, F32) in which every layer norm of both towers
# multiplies two fixed channels of its weight by FACTOR, so that the norms'
# outputs carry outlier channels, as trained transformers' do. For
# measuring what such channels do to the int8 and BF16 paths:
#   /usr/bin/python3 bench/make_outlier_model.py MODEL /tmp/out-10 10
#   build-rel/clipsearch bench --model /tmp/out-10 --precision int8 --image IMG
import json, os, shutil, struct, sys

import numpy as np

src, dst, factor = sys.argv[1], sys.argv[2], float(sys.argv[3])
os.makedirs(dst, exist_ok=True)
for f in os.listdir(src):
    if f != "model.safetensors":
        shutil.copy(os.path.join(src, f), dst)
raw = bytearray(open(os.path.join(src, "model.safetensors"), "rb").read())
header_len = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + header_len])
base = 8 + header_len
for name, t in header.items():
    norm = "layer_norm" in name or "layrnorm" in name
    if name == "__metadata__" or not norm or not name.endswith("weight"):
        continue
    if t["dtype"] != "F32":
        sys.exit(f"{name}: {t['dtype']}, only F32 is handled")
    a, b = t["data_offsets"]
    w = np.frombuffer(raw, dtype=np.float32, count=(b - a) // 4, offset=base + a).copy()
    w[[5, 300] if name.startswith("text") else [17, 401]] *= factor
    raw[base + a:base + b] = w.tobytes()
open(os.path.join(dst, "model.safetensors"), "wb").write(raw)
