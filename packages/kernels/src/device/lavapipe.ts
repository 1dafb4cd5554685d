/**
 * Node-only: points the Vulkan loader at the project-local Mesa lavapipe driver that
 * scripts/setup-gpu-driver.sh unpacks under <repo>/.graft/driver. The loader reads
 * VK_ICD_FILENAMES when Dawn creates its Vulkan instance, so this must run before the
 * adapter request (a fresh `create()` picks it up even after a failed first attempt).
 */
import { existsSync, mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

const driverSubdir = join('.graft', 'driver');
const libraryInDeb = join('usr', 'lib', 'x86_64-linux-gnu', 'libvulkan_lvp.so');

/** Walks up from `start` looking for .graft/driver/mesa-* holding libvulkan_lvp.so. */
function findDriverFrom(start: string): string | undefined {
  let dir = resolve(start);
  for (;;) {
    const root = join(dir, driverSubdir);
    if (existsSync(root)) {
      const candidates = readdirSync(root)
        .filter((name) => name.startsWith('mesa-'))
        .sort()
        .reverse();
      for (const name of candidates) {
        const library = join(root, name, libraryInDeb);
        if (existsSync(library)) return library;
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Absolute path of the project-local lavapipe library, or undefined when setup has not run. */
export function findLavapipe(): string | undefined {
  const explicit = process.env.GRAFT_LAVAPIPE;
  if (explicit) return existsSync(explicit) ? resolve(explicit) : undefined;
  return findDriverFrom(process.cwd()) ?? findDriverFrom(dirname(fileURLToPath(import.meta.url)));
}

/** A private per-user directory under the temp dir (created 0700; refused if someone else owns it). */
function privateTempDir(purpose: string): string {
  const uid = process.getuid?.() ?? 0;
  const dir = join(tmpdir(), `graft-${purpose}-${uid}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const owner = statSync(dir).uid;
  if (process.getuid && owner !== uid) throw new Error(`${dir} belongs to uid ${owner}, not to this user (${uid}): remove it or set TMPDIR`);
  return dir;
}

/** Writes an ICD manifest for `library` and makes the Vulkan loader use only it. */
export function useLavapipe(library: string): void {
  // Per user and outside the checkout: the checkout may be read-only, and the library may be a system one.
  const manifest = join(privateTempDir('vulkan'), 'lvp_icd.x86_64.json');
  // Rewritten every time: the checkout may have moved since the last run, and the path must be absolute.
  // Temp file + rename: another graft process may be reading the manifest right now.
  const partial = `${manifest}.${process.pid}.tmp`;
  writeFileSync(partial, JSON.stringify({ file_format_version: '1.0.0', ICD: { library_path: library, api_version: '1.3.0' } }));
  renameSync(partial, manifest);
  process.env.VK_ICD_FILENAMES = manifest;
  // Mesa complains on every start when this is unset; a private temp dir keeps it quiet.
  if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = privateTempDir('xdg');
}

/** True when the machine shows a GPU device node, so the system's own drivers are worth a try first. */
export function hardwareGpuVisible(): boolean {
  try {
    if (existsSync('/dev/nvidia0')) return true;
    return existsSync('/dev/dri') && readdirSync('/dev/dri').some((n) => n.startsWith('renderD'));
  } catch {
    return false;
  }
}
