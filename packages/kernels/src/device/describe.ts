/** What `graft info` prints about the adapter: name, software or hardware, features and limits that matter. */
import { isSoftwareAdapter } from './device.js';

export interface AdapterDescription {
  name: string;
  vendor: string;
  architecture: string;
  software: boolean;
  features: Record<'timestamp-query' | 'shader-f16' | 'subgroups', boolean>;
  limits: Record<string, number>;
}

const reportedLimits = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

export function describeAdapter(adapter: GPUAdapter, device?: GPUDevice): AdapterDescription {
  const info = adapter.info;
  const limits: Record<string, number> = {};
  for (const name of reportedLimits) limits[name] = (device ?? adapter).limits[name];
  return {
    name: info.description || info.device || info.architecture || info.vendor || 'unknown adapter',
    vendor: info.vendor,
    architecture: info.architecture,
    software: isSoftwareAdapter(info),
    features: {
      'timestamp-query': adapter.features.has('timestamp-query'),
      'shader-f16': adapter.features.has('shader-f16'),
      subgroups: adapter.features.has('subgroups'),
    },
    limits,
  };
}
