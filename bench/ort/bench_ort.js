// bench/ort/bench_ort.js - ONNX Runtime (onnxruntime-node, CPU) on the ONNX
// export of a CLIP vision tower (bench/export_onnx.py).
//
//   node bench_ort.js MODEL.onnx --threads N --batch N [--seconds S]
//   node bench_ort.js MODEL.onnx --embed PIXELS.f32    (embeddings as JSON)
//
// Prints one JSON object: images per second after a warm-up run.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : def;
}

async function main() {
  const model = process.argv[2];
  const threads = parseInt(arg('--threads', '2'), 10);
  const batch = parseInt(arg('--batch', '8'), 10);
  const seconds = parseFloat(arg('--seconds', '5'));
  const size = parseInt(arg('--size', '224'), 10);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const embed = arg('--embed', null);
  if (embed) {
    const buf = fs.readFileSync(embed);
    const px = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
    const n = px.length / (3 * size * size);
    const out = await session.run({pixel_values: new ort.Tensor('float32', px, [n, 3, size, size])});
    const e = out.image_embeds, d = e.dims[1], rows = [];
    for (let i = 0; i < n; i++) rows.push(Array.from(e.data.slice(i * d, (i + 1) * d)));
    console.log(JSON.stringify(rows));
    return;
  }
  const px = new Float32Array(batch * 3 * size * size);
  let s = 1;
  for (let i = 0; i < px.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    px[i] = (s >>> 8) / 16777216 * 4 - 2;
  }
  const feeds = {pixel_values: new ort.Tensor('float32', px, [batch, 3, size, size])};
  await session.run(feeds); // warm-up: allocations, weight prepacking
  let calls = 0;
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let t = 0;
  while (t < seconds || calls < 2) {
    await session.run(feeds);
    calls++;
    t = Number(process.hrtime.bigint() - t0) * 1e-9;
  }
  const cpu = process.cpuUsage(c0); // microseconds, all threads
  const cpuSeconds = (cpu.user + cpu.system) * 1e-6;
  console.log(JSON.stringify({
    peer: 'onnxruntime-node ' + require('onnxruntime-node/package.json').version,
    threads, batch, images_per_second: calls * batch / t, ms_per_batch: t / calls * 1e3,
    cpu_ms_per_image: cpuSeconds / (calls * batch) * 1e3,
  }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
