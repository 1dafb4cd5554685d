import { create, globals } from 'webgpu';
import { readFileSync, writeSync } from 'node:fs';
const log = (...a) => writeSync(2, a.map(String).join(" ") + "\n");
Object.assign(globalThis, globals);
const gpu = create([]);
const adapter = await gpu.requestAdapter();
const device = await adapter.requestDevice();
const code = readFileSync('src/ops/matmul.wgsl','utf8');
const module = device.createShaderModule({code});
for (const c of [{trans_a:0,trans_b:0},{trans_a:0,trans_b:1},{trans_a:1,trans_b:1}]) {
  log(JSON.stringify(c));
  const p = device.createComputePipeline({layout:'auto', compute:{module, entryPoint:'main', constants:c}});
  log('ok');
}
const mk = (arr) => { const b = device.createBuffer({size: Math.max(16, arr.length*4), usage: GPUBufferUsage.STORAGE|GPUBufferUsage.COPY_SRC, mappedAtCreation:true}); new Float32Array(b.getMappedRange()).set(arr); b.unmap(); return b; };
const u = device.createBuffer({size: 32, usage: GPUBufferUsage.UNIFORM, mappedAtCreation: true}); new Uint32Array(u.getMappedRange()).set([1,1,1,0,0]); u.unmap();
for (const c of [{trans_a:0,trans_b:0},{trans_a:0,trans_b:1}]) {
  const p = device.createComputePipeline({layout:'auto', compute:{module, entryPoint:'main', constants:c}});
  const bg = device.createBindGroup({layout: p.getBindGroupLayout(0), entries:[{binding:0, resource:{buffer:u}}, ...[mk([2]),mk([3]),mk([0]),mk([0])].map((b,i)=>({binding:i+1, resource:{buffer:b}}))]});
  const enc = device.createCommandEncoder(); const pass = enc.beginComputePass(); pass.setPipeline(p); pass.setBindGroup(0,bg); pass.dispatchWorkgroups(1,1,1); pass.end();
  device.queue.submit([enc.finish()]);
  await device.queue.onSubmittedWorkDone();
  log('ran', JSON.stringify(c));
}
