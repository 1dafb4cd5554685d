import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { matmul } from '../ops/matmul.js';
import { testGpu } from '../testing/testGpu.js';
import { DeviceLimitError, GpuValidationError, ShaderCompileError } from './errors.js';
import type { Gpu } from './gpu.js';
import { defineKernelFromSource } from './kernel.js';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});

const copyKernel = defineKernelFromSource(
  'copy_test',
  `struct Params { count: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x < params.count) { dst[gid.x] = src[gid.x] * 2.0; }
}`,
);

describe('Gpu context', () => {
  it('round-trips f32, u32 and i32 data', async () => {
    const f = gpu.upload(new Float32Array([1.5, -2, 3]), [3]);
    const u = gpu.upload(new Uint32Array([0, 4294967295, 7]), [3]);
    const i = gpu.upload(new Int32Array([-1, 2, -3]), [3]);
    expect(Array.from(await gpu.read(f))).toEqual([1.5, -2, 3]);
    expect(Array.from(await gpu.readUint32(u))).toEqual([0, 4294967295, 7]);
    expect(Array.from(await gpu.readInt32(i))).toEqual([-1, 2, -3]);
    await expect(gpu.read(u)).rejects.toThrow(/read: argument 'tensor' expected dtype f32/);
    gpu.release(f, u, i);
  });

  it('runs a kernel given as source, with uniforms packed by name', async () => {
    const src = gpu.upload(new Float32Array([1, 2, 3, 4, 5]), [5]);
    const dst = gpu.upload(new Float32Array(5).fill(-1), [5]);
    gpu.dispatch(copyKernel, { bindings: [src, dst], uniforms: { count: 4 }, workgroups: [1] });
    expect(Array.from(await gpu.read(dst))).toEqual([2, 4, 6, 8, -1]);
    gpu.release(src, dst);
  });

  it('turns a WGSL compile error into ShaderCompileError naming the kernel and the line', async () => {
    const broken = defineKernelFromSource(
      'broken_test',
      `@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@compute @workgroup_size(1)
fn main() {
  let y: f32 = 1.0;
  x[0] = y + undefined_name;
}`,
    );
    const x = gpu.allocate([1]);
    gpu.dispatch(broken, { bindings: [x], workgroups: [1] });
    const error = await gpu.sync().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ShaderCompileError);
    expect((error as Error).message).toMatch(/broken_test/);
    expect((error as Error).message).toMatch(/broken_test\.wgsl:5:\d+/);
    expect((error as Error).message).toMatch(/undefined_name/);
    gpu.release(x);
    await gpu.sync(); // the error was reported once and is gone
  });

  it('reports work the device rejects as GpuValidationError naming the kernel', async () => {
    const vec4Kernel = defineKernelFromSource(
      'vec4_test',
      `@group(0) @binding(1) var<storage, read_write> x: array<vec4<f32>>;
@compute @workgroup_size(1)
fn main() { x[0] = vec4<f32>(1.0); }`,
    );
    const tooSmall = gpu.allocate([1]); // 4 bytes bound where the shader needs at least 16
    gpu.dispatch(vec4Kernel, { bindings: [tooSmall], workgroups: [1] });
    await expect(gpu.sync()).rejects.toThrow(GpuValidationError);
    gpu.release(tooSmall);
    await gpu.sync();
  });

  it('refuses dispatches past the device limits before encoding them', () => {
    const x = gpu.allocate([4]);
    const groups = gpu.limits.maxComputeWorkgroupsPerDimension + 1;
    expect(() => gpu.dispatch(copyKernel, { bindings: [x, x], uniforms: { count: 4 }, workgroups: [groups] })).toThrow(DeviceLimitError);
    expect(() => gpu.allocate([0, 3])).toThrow(/allocate: argument 'shape' expected positive integer dims, found \[0, 3\]/);
    gpu.release(x);
  });

  it('keeps memory flat when the same work repeats', async () => {
    const step = () => {
      const a = gpu.upload(new Float32Array(64 * 48).fill(0.5), [64, 48]);
      const b = gpu.upload(new Float32Array(48 * 32).fill(0.25), [48, 32]);
      const c = matmul(gpu, a, b);
      gpu.release(a, b, c);
    };
    step();
    await gpu.sync();
    const after1 = gpu.memory();
    for (let i = 0; i < 50; i++) step();
    await gpu.sync();
    const after51 = gpu.memory();
    expect(after51.bytesInUse).toBe(after1.bytesInUse);
    expect(after51.buffersCreated).toBe(after1.buffersCreated);
  });
});

describe('device acquisition', () => {
  it('explains what to install when no adapter can be had', () => {
    const script = join(mkdtempSync(join(tmpdir(), 'graft-noadapter-')), 'probe.mjs');
    const deviceModule = fileURLToPath(new URL('../device/device.ts', import.meta.url));
    const code = `import { acquireDevice } from ${JSON.stringify(deviceModule)};
try { await acquireDevice(); console.log('got an adapter'); } catch (e) { console.log(e.name + ': ' + e.message); }`;
    execFileSync('node', ['-e', `require('node:fs').writeFileSync(${JSON.stringify(script)}, ${JSON.stringify(code)})`]);
    const output = execFileSync('node', ['--import', 'tsx', script], {
      env: { ...process.env, GRAFT_ADAPTER: 'software', GRAFT_LAVAPIPE: '/nonexistent/libvulkan_lvp.so', VK_ICD_FILENAMES: '' },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    expect(output).toMatch(/NoAdapterError: no WebGPU adapter/);
    expect(output).toMatch(/setup-gpu-driver\.sh/);
    expect(output).toMatch(/libvulkan1|lavapipe/);
  });
});

describe('buffer ownership', () => {
  it('refuses to release the same storage twice or a view into storage owned elsewhere', async () => {
    const { createArena } = await import('../ops/optimizerStep.js');
    const x = gpu.allocate([8]);
    const flat = x.reshape([2, 4]);
    gpu.release(x);
    expect(() => gpu.release(flat)).toThrow(/not in use \(released twice/);
    expect(() => gpu.release(gpu.placeholder())).toThrow(/release: argument 'tensor' expected a tensor that owns its buffer/);
    const arena = createArena(gpu, [[3], [5]]);
    expect(() => gpu.release(arena.views[0])).toThrow(/view \[3\] at byte 0/);
    gpu.release(arena.whole);
  });
});
