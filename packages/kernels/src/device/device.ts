/**
 * One function gives a GPUDevice: in a browser through navigator.gpu, in Node through Dawn
 * (the `webgpu` package), falling back to the project-local lavapipe software driver when the
 * machine has no GPU. GRAFT_ADAPTER=hardware|software|auto (default auto) overrides the choice.
 */
import { NoAdapterError } from '../runtime/errors.js';

export type AdapterPreference = 'auto' | 'hardware' | 'software';

export interface DeviceOptions {
  adapter?: AdapterPreference;
  /** Dawn toggles, e.g. ['disable_robustness']; Node only. */
  dawnToggles?: readonly string[];
  powerPreference?: GPUPowerPreference;
}

export interface AcquiredDevice {
  device: GPUDevice;
  adapter: GPUAdapter;
  /** True when the adapter is a CPU implementation (lavapipe, SwiftShader, WARP). */
  software: boolean;
}

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

/** Limits graft wants as large as the adapter allows; the WebGPU defaults are far below what adapters offer. */
const wantedLimits = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
] as const;

const wantedFeatures: GPUFeatureName[] = ['timestamp-query', 'shader-f16', 'subgroups'] as GPUFeatureName[];

export function isSoftwareAdapter(info: GPUAdapterInfo | undefined): boolean {
  if (!info) return false;
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  return /llvmpipe|lavapipe|swiftshader|\bwarp\b|software|cpu/.test(text) || (info as { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
}

/**
 * Dawn instances handed out so far. They must outlive every device made from them: Dawn's
 * event processing walks the instance, and a collected instance under a live device crashes
 * the process (seen as a futex abort in CallbackTaskManager::Flush).
 */
const liveInstances: GPU[] = [];
/** Which GPU instance made each adapter, so a peer library (benchmarks: TensorFlow.js) can share it. */
const instanceOfAdapter = new WeakMap<GPUAdapter, GPU>();

/**
 * The GPU object (`navigator.gpu` in a browser, the Dawn instance in Node) an adapter from
 * acquireDevice came from. The benchmarks hand it to TensorFlow.js as `navigator.gpu` so both run on
 * the same adapter and driver setup.
 */
export function gpuInstanceOf(adapter: GPUAdapter): GPU | undefined {
  return instanceOfAdapter.get(adapter) ?? (globalThis.navigator as Navigator | undefined)?.gpu;
}

async function nodeGpu(toggles: readonly string[]): Promise<GPU> {
  const { create, globals } = await import('webgpu');
  // Dawn's node bindings expose GPUBufferUsage & co. as globals the way browsers do.
  Object.assign(globalThis, globals);
  const options = toggles.length > 0 ? [`enable-dawn-features=${toggles.join(',')}`] : [];
  const instance = create(options) as GPU;
  liveInstances.push(instance);
  return instance;
}

async function requestAdapterNode(options: DeviceOptions): Promise<GPUAdapter> {
  const { findLavapipe, useLavapipe, hardwareGpuVisible } = await import('./lavapipe.js');
  const preference = options.adapter ?? (process.env.GRAFT_ADAPTER as AdapterPreference | undefined) ?? 'auto';
  const toggles = options.dawnToggles ?? [];
  const request: GPURequestAdapterOptions = { powerPreference: options.powerPreference ?? 'high-performance' };
  const lavapipe = findLavapipe();
  const userChoseDriver = !!process.env.VK_ICD_FILENAMES;

  const trySystem = preference === 'hardware' || userChoseDriver || (preference === 'auto' && (hardwareGpuVisible() || !lavapipe));
  if (trySystem) {
    const instance = await nodeGpu(toggles);
    const adapter = await instance.requestAdapter(request);
    if (adapter) {
      instanceOfAdapter.set(adapter, instance);
      return adapter;
    }
    if (preference === 'hardware') {
      throw new NoAdapterError('GRAFT_ADAPTER=hardware, but no hardware WebGPU adapter was found (Dawn/Vulkan saw none).');
    }
  }
  if (lavapipe) {
    useLavapipe(lavapipe);
    const instance = await nodeGpu(toggles);
    const adapter = await instance.requestAdapter(request);
    if (adapter) {
      instanceOfAdapter.set(adapter, instance);
      return adapter;
    }
    throw new NoAdapterError(
      `the software Vulkan driver at ${lavapipe} gave no WebGPU adapter. Is the Vulkan loader installed ` +
        `(apt-get install libvulkan1)? Run 'bash scripts/setup-gpu-driver.sh' to check the setup.`,
    );
  }
  throw new NoAdapterError(
    'no WebGPU adapter: this machine shows no GPU that Dawn can use, and no software driver is set up. ' +
      "Run 'bash scripts/setup-gpu-driver.sh' from the graft checkout (Debian 12: it fetches Mesa's lavapipe " +
      'into .graft/driver and installs libvulkan1), or install a Vulkan driver (Mesa >= 24 lavapipe, or a GPU driver).',
  );
}

async function requestAdapterBrowser(options: DeviceOptions): Promise<GPUAdapter> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) throw new NoAdapterError('this browser has no WebGPU (navigator.gpu is undefined).');
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  if (!adapter) throw new NoAdapterError('navigator.gpu.requestAdapter() returned null: WebGPU is disabled or unsupported here.');
  return adapter;
}

/** Acquires an adapter and a device with the limits and features graft uses raised to what the adapter allows. */
export async function acquireDevice(options: DeviceOptions = {}): Promise<AcquiredDevice> {
  const adapter = isNode ? await requestAdapterNode(options) : await requestAdapterBrowser(options);
  const requiredLimits: Record<string, number> = {};
  for (const name of wantedLimits) requiredLimits[name] = adapter.limits[name];
  const requiredFeatures = wantedFeatures.filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  return { device, adapter, software: isSoftwareAdapter(adapter.info) };
}
