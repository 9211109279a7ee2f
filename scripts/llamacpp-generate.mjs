// Greedy generation in llama.cpp (through node-llama-cpp's prebuilt CPU
// library) from exact prompt token ids, for maira's interoperability check:
//   node scripts/llamacpp-generate.mjs MODEL.gguf N id1 id2 ...
// prints {"tokens": [...]}. Run from a folder whose
// node_modules holds node-llama-cpp (NODE_PATH is not honoured by ES
// modules, so the test copies this file there).
import {getLlama} from "node-llama-cpp";

const [model, n, ...ids] = process.argv.slice(2);
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const m = await llama.loadModel({modelPath: model, gpuLayers: 0});
const ctx = await m.createContext({contextSize: 512});
const seq = ctx.getSequence();
const out = [];
for await (const t of seq.evaluate(ids.map(Number), {temperature: 0})) {
  out.push(t);
  if (out.length >= Number(n)) break;
}
console.log(JSON.stringify({tokens: out}));
process.exit(0);
