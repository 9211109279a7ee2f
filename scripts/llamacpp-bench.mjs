// Time llama.cpp (node-llama-cpp's prebuilt CPU library) on a llama GGUF:
// prefill of P tokens, then greedy decode of N tokens after it, in tokens/s.
//   node scripts/llamacpp-bench.mjs MODEL.gguf [P=128] [N=32] [threads=2]
// Run from a folder whose node_modules holds node-llama-cpp (bench-engine.sh
// copies it next to build/llamacpp). Prints one JSON line.
import {getLlama} from "node-llama-cpp";

const [model, P = "128", N = "32", T = "2"] = process.argv.slice(2);
const llama = await getLlama({gpu: false, build: "never", maxThreads: +T, logLevel: "error"});
const m = await llama.loadModel({modelPath: model, gpuLayers: 0});
const ctx = await m.createContext({contextSize: Math.max(2048, +P + +N + 16), batchSize: 512, threads: +T});
const seq = ctx.getSequence();
// Ordinary tokens, the same pattern `maira bench` prefills.
const prompt = Array.from({length: +P}, (_, i) => 1000 + (i * 7919) % 20000);
let t0 = performance.now();
await seq.evaluateWithoutGeneratingNewTokens(prompt);
const prefill = performance.now() - t0;
let n = 0;
t0 = performance.now();
for await (const tok of seq.evaluate([prompt[0]], {temperature: 0})) { if (++n >= +N) break; }
const decode = performance.now() - t0;
console.log(JSON.stringify({engine: "llama.cpp", prompt_tokens: +P, prefill_tok_s: +P / (prefill / 1000), decode_tok_s: n / (decode / 1000)}));
process.exit(0);
