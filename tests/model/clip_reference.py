#!/usr/bin/python3
"""A float64 CLIP forward pass written from transformers' CLIPModel, used to
check the engine on folders the oracle has no expected values for (the
full-size random ViT-B/32 of ../shared/tools/make_model.py).  Independent of
the C code; checked against the oracle itself by test_fullsize.sh.

usage: clip_reference.py MODEL_DIR CROP_PNG IDS_JSON
prints {"image": [...], "text": [...]} (projected, not normalised)."""
import json, struct, sys, math
import numpy as np, torch
from PIL import Image
d = sys.argv[1]; crop = sys.argv[2]; ids = json.loads(sys.argv[3])
cfg = json.load(open(d + "/config.json")); vc, tc = cfg["vision_config"], cfg["text_config"]
b = open(d + "/model.safetensors", "rb").read(); n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n]); base = 8 + n
dt = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
def W(name):
    e = h[name]; s, t = e["data_offsets"]
    return torch.from_numpy(np.frombuffer(b[base + s:base + t], dtype=dt[e["dtype"]]).astype(np.float64).reshape(e["shape"]))
def ln(x, p, eps): return torch.nn.functional.layer_norm(x, x.shape[-1:], W(p + ".weight"), W(p + ".bias"), eps)
def lin(x, p, bias=True): return x @ W(p + ".weight").T + (W(p + ".bias") if bias else 0)
def act(x, a): return x * torch.sigmoid(1.702 * x) if a == "quick_gelu" else torch.nn.functional.gelu(x)
def encoder(x, pre, L, H, eps, a, causal):
    S, D = x.shape; hd = D // H
    for l in range(L):
        p = f"{pre}.encoder.layers.{l}."
        r = x; y = ln(x, p + "layer_norm1", eps)
        q = lin(y, p + "self_attn.q_proj") * hd ** -0.5; k = lin(y, p + "self_attn.k_proj"); v = lin(y, p + "self_attn.v_proj")
        q, k, v = [t.reshape(S, H, hd).transpose(0, 1) for t in (q, k, v)]
        s = q @ k.transpose(1, 2)
        if causal: s = s + torch.triu(torch.full((S, S), -math.inf, dtype=torch.float64), 1)
        o = (torch.softmax(s, -1) @ v).transpose(0, 1).reshape(S, D)
        x = r + lin(o, p + "self_attn.out_proj")
        r = x; y = ln(x, p + "layer_norm2", eps)
        x = r + lin(act(lin(y, p + "mlp.fc1"), a), p + "mlp.fc2")
    return x
pp = json.load(open(d + "/preprocessor_config.json"))
img = np.asarray(Image.open(crop).convert("RGB"), dtype=np.float64) / 255.0
img = (img - np.array(pp["image_mean"])) / np.array(pp["image_std"])
x = torch.from_numpy(img.transpose(2, 0, 1).copy())
P = vc["patch_size"]; g = x.shape[1] // P
patches = x.reshape(3, g, P, g, P).permute(1, 3, 0, 2, 4).reshape(g * g, 3 * P * P)
e = patches @ W("vision_model.embeddings.patch_embedding.weight").reshape(vc["hidden_size"], -1).T
e = torch.cat([W("vision_model.embeddings.class_embedding")[None], e]) + W("vision_model.embeddings.position_embedding.weight")
eps = vc.get("layer_norm_eps", 1e-5)
e = ln(e, "vision_model.pre_layrnorm", eps)
e = encoder(e, "vision_model", vc["num_hidden_layers"], vc["num_attention_heads"], eps, vc["hidden_act"], False)
img_emb = lin(ln(e[0], "vision_model.post_layernorm", eps), "visual_projection", False)
t = W("text_model.embeddings.token_embedding.weight")[ids] + W("text_model.embeddings.position_embedding.weight")[:len(ids)]
eps = tc.get("layer_norm_eps", 1e-5)
t = encoder(t, "text_model", tc["num_hidden_layers"], tc["num_attention_heads"], eps, tc["hidden_act"], True)
txt_emb = lin(ln(t[int(np.argmax(ids))], "text_model.final_layer_norm", eps), "text_projection", False)
print(json.dumps({"image": img_emb.tolist(), "text": txt_emb.tolist()}))
