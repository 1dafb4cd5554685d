import { create, globals } from 'webgpu';
import { readFileSync, writeSync } from 'node:fs';
const log = (...a) => writeSync(2, a.map(String).join(" ") + "\n");
Object.assign(globalThis, globals);
const mode = process.argv[2] ?? '';
const gpu = create([]);
const adapter = await gpu.requestAdapter();
const L = ['maxStorageBufferBindingSize','maxBufferSize','maxStorageBuffersPerShaderStage','maxComputeWorkgroupStorageSize','maxComputeInvocationsPerWorkgroup','maxComputeWorkgroupSizeX','maxComputeWorkgroupSizeY','maxComputeWorkgroupSizeZ','maxComputeWorkgroupsPerDimension']; const rl = {}; if (mode.includes('limits')) for (const n of L) rl[n] = adapter.limits[n]; const feats = mode.includes('feat') ? ['timestamp-query','shader-f16','subgroups'] : []; const device = await adapter.requestDevice({requiredLimits: rl, requiredFeatures: feats});
const module = device.createShaderModule({code: readFileSync('src/ops/matmul.wgsl','utf8')});
const pipes = [0,1].map(t => device.createComputePipeline({layout:'auto', compute:{module, entryPoint:'main', constants:{trans_a:0, trans_b:t}}}));
const S = GPUBufferUsage.STORAGE|GPUBufferUsage.COPY_SRC|GPUBufferUsage.COPY_DST;
const bufs = [0,1,2,3].map(() => device.createBuffer({size: 256, usage: S}));
const u = device.createBuffer({size: 256, usage: GPUBufferUsage.UNIFORM|GPUBufferUsage.COPY_DST});
device.queue.writeBuffer(u, 0, new Uint32Array([1,1,1,0,0,0,0,0]));
for (let i = 0; i < 60; i++) {
  const p = pipes[i%2];
  device.queue.writeBuffer(bufs[0], 0, new Float32Array([2]));
  device.queue.writeBuffer(bufs[1], 0, new Float32Array([3]));
  const bg = device.createBindGroup({layout: p.getBindGroupLayout(0), entries:[{binding:0, resource:{buffer:u, size: 32}}, ...bufs.map((b,i)=>({binding:i+1, resource:{buffer:b, offset: 0, size: 4}}))]});
  const enc = device.createCommandEncoder(); const pass = enc.beginComputePass(); pass.setPipeline(p); pass.setBindGroup(0,bg); pass.dispatchWorkgroups(1,1,1); pass.end();
  const staging = device.createBuffer({size: 4, usage: GPUBufferUsage.MAP_READ|GPUBufferUsage.COPY_DST});
  enc.copyBufferToBuffer(bufs[3], 0, staging, 0, 4);
  device.queue.submit([enc.finish()]);
  if (mode.includes('wd')) await device.queue.onSubmittedWorkDone();
  await staging.mapAsync(GPUMapMode.READ);
  const v = new Float32Array(staging.getMappedRange().slice(0))[0];
  staging.unmap(); staging.destroy();
}
log('finished');
