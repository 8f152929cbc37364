# bench/ort/setup.sh - sourced by the scripts that run ONNX Runtime: makes
# (once, cached in $work) the ONNX export of $model's image tower, sets
# $onnx to it, and installs onnxruntime-node under bench/ort/ from its lock
# file, without the package's optional CUDA download (this machine cannot
# reach github.com). Needs $here, $model and $work.
mkdir -p "$work"
onnx=$work/$(basename "$model")-vision.onnx
if [ ! -s "$onnx" ]; then
    /usr/bin/python3 "$here/export_onnx.py" "$model" "$onnx" 2>/dev/null
fi
if [ ! -d "$here/ort/node_modules/onnxruntime-node" ]; then
    (cd "$here/ort" && npm ci --no-audit --no-fund --onnxruntime-node-install-cuda=skip >/dev/null)
fi
