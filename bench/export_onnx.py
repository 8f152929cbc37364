#!/usr/bin/python3
"""Export the vision tower of a Hugging Face CLIP folder (safetensors) to ONNX.

    /usr/bin/python3 bench/export_onnx.py MODEL_DIR OUT.onnx

The graph is built here from plain torch ops (conv2d, layer_norm, linear,
matmul, softmax) and the safetensors weights, so no `transformers` is needed;
input `pixel_values` [batch, 3, size, size], output `image_embeds` [batch,
projection_dim] (before L2 normalisation), batch dynamic. It is what ONNX
Runtime gets in bench/compare_ort.sh. With --check PIXELS.f32 it also prints
the embeddings of those pixels (raw float32, batch x 3 x size x size) as
JSON, for comparing the graph with our engine."""
import json
import math
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": None}


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__" or t["dtype"] not in DTYPES:
            continue
        a, b = t["data_offsets"]
        if t["dtype"] == "BF16":
            raw = np.frombuffer(data[a:b], dtype=np.uint16).astype(np.uint32) << 16
            arr = raw.view(np.float32)
        else:
            arr = np.frombuffer(data[a:b], dtype=DTYPES[t["dtype"]]).astype(np.float32)
        out[name] = torch.from_numpy(arr.reshape(t["shape"]).copy())
    return out


class Vision(torch.nn.Module):
    def __init__(self, w, cfg):
        super().__init__()
        vc = cfg["vision_config"]
        self.p = vc.get("patch_size", 32)
        self.heads = vc.get("num_attention_heads", 12)
        self.layers = vc.get("num_hidden_layers", 12)
        self.eps = vc.get("layer_norm_eps", 1e-5)
        self.d = vc.get("hidden_size", 768)
        self.quick = vc.get("hidden_act", "quick_gelu") == "quick_gelu"
        pre = "vision_model."
        self.w = {}
        for name, t in w.items():
            if name.startswith(pre) or name == "visual_projection.weight":
                key = name.replace(".", "_")
                self.register_buffer(key, t)
                self.w[name] = key

    def t(self, name):
        return getattr(self, self.w[name])

    def d_of(self, name):
        return self.t(name + ".weight").shape[0]  # a Python int: fixed in the graph

    def ln(self, x, name):
        return F.layer_norm(x, (self.d_of(name),), self.t(name + ".weight"), self.t(name + ".bias"), self.eps)

    def lin(self, x, name):
        return F.linear(x, self.t(name + ".weight"), self.t(name + ".bias"))

    def forward(self, pixel_values):
        e = "vision_model.embeddings."
        x = F.conv2d(pixel_values, self.t(e + "patch_embedding.weight"), stride=self.p)
        b, d = x.shape[0], self.d
        x = x.flatten(2).transpose(1, 2)  # [b, patches, d]
        cls = self.t(e + "class_embedding").reshape(1, 1, d).expand(b, 1, d)
        x = torch.cat([cls, x], dim=1) + self.t(e + "position_embedding.weight").unsqueeze(0)
        x = self.ln(x, "vision_model.pre_layrnorm")
        hd = d // self.heads
        for i in range(self.layers):
            L = f"vision_model.encoder.layers.{i}."
            h = self.ln(x, L + "layer_norm1")
            s = h.shape[1]
            q = self.lin(h, L + "self_attn.q_proj") * (1.0 / math.sqrt(hd))
            k = self.lin(h, L + "self_attn.k_proj")
            v = self.lin(h, L + "self_attn.v_proj")
            q, k, v = (t.reshape(b, s, self.heads, hd).transpose(1, 2) for t in (q, k, v))
            a = torch.softmax(q @ k.transpose(-1, -2), dim=-1) @ v
            a = a.transpose(1, 2).reshape(b, s, d)
            x = x + self.lin(a, L + "self_attn.out_proj")
            h = self.lin(self.ln(x, L + "layer_norm2"), L + "mlp.fc1")
            h = h * torch.sigmoid(1.702 * h) if self.quick else F.gelu(h)
            x = x + self.lin(h, L + "mlp.fc2")
        pooled = self.ln(x[:, 0, :], "vision_model.post_layernorm")
        return F.linear(pooled, self.t("visual_projection.weight"))


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    model_dir, out = args[0], args[1]
    cfg = json.load(open(f"{model_dir}/config.json"))
    net = Vision(load_safetensors(f"{model_dir}/model.safetensors"), cfg).eval()
    size = cfg["vision_config"].get("image_size", 224)
    if "--check" in sys.argv:
        px = np.fromfile(args[2], dtype=np.float32).reshape(-1, 3, size, size)
        with torch.no_grad():
            print(json.dumps(net(torch.from_numpy(px)).tolist()))
        return
    dummy = torch.zeros(2, 3, size, size)
    with torch.no_grad():
        torch.onnx.export(net, (dummy,), out, input_names=["pixel_values"],
                          output_names=["image_embeds"],
                          dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}},
                          opset_version=14, do_constant_folding=True)
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
