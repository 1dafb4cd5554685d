/**
 * The dispatch grid for a kernel whose invocations are numbered 0, 1, 2, ... along one line.
 *
 * A dispatch allows at most `maxComputeWorkgroupsPerDimension` (65,535 by default) workgroups along
 * each axis, so a line longer than that is folded into full rows of groups. The WGSL side recovers
 * the linear index as
 *
 *   let index = gid.x + gid.y * num_workgroups.x * WORKGROUP_SIZE;   // gid = global_invocation_id
 *
 * (for a one-invocation-per-item kernel: `workgroup_id.x + workgroup_id.y * num_workgroups.x`, i.e.
 * workgroupSize 1). The last row may run past `invocations`: kernels discard index >= their count.
 */
import { DeviceLimitError } from './errors.js';

/** Invocation indices are u32 in WGSL: a grid with more invocations than this would wrap around. */
const maxLinearInvocations = 2 ** 32;

/**
 * [x, y] workgroups covering `invocations` invocations in workgroups of `workgroupSize` along x:
 * [groups, 1] when the groups fit one dimension, otherwise [maxPerDimension, rows]. Throws
 * DeviceLimitError when even the 2-D grid is too small (or its indices would overflow u32).
 */
export function linearWorkgroups(
  limits: Pick<GPUSupportedLimits, 'maxComputeWorkgroupsPerDimension'>,
  invocations: number,
  workgroupSize: number,
  kernel = 'linearWorkgroups',
): [number, number] {
  const maxPerDimension = limits.maxComputeWorkgroupsPerDimension;
  const groups = Math.ceil(invocations / workgroupSize);
  if (groups <= maxPerDimension) return [groups, 1];
  const rows = Math.ceil(groups / maxPerDimension);
  if (rows > maxPerDimension) {
    throw new DeviceLimitError(kernel, 'workgroups for one linear dispatch', groups, maxPerDimension * maxPerDimension);
  }
  if (rows * maxPerDimension * workgroupSize > maxLinearInvocations) {
    throw new DeviceLimitError(kernel, 'invocations in one linear dispatch (u32 index)', invocations, maxLinearInvocations);
  }
  return [maxPerDimension, rows];
}
