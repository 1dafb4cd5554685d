/**
 * Where WGSL text comes from. Node reads the .wgsl file beside the launcher; a browser fetches it
 * once in `preloadShaders` (pipeline creation is synchronous, so the text must be at hand by then).
 */
type ShaderReader = (url: URL) => string;

let reader: ShaderReader | undefined;
const preloaded = new Map<string, string>();

export async function installNodeShaderReader(): Promise<void> {
  if (reader) return;
  const { readFileSync } = await import('node:fs');
  reader = (url) => readFileSync(url, 'utf8');
}

/** Browser: fetches the given kernels' WGSL so they can be compiled synchronously later. */
export async function preloadShaders(urls: readonly URL[]): Promise<void> {
  await Promise.all(
    urls.map(async (url) => {
      const response = await fetch(url);
      if (!response.ok) throw new Error(`could not fetch WGSL ${url.href}: HTTP ${response.status}`);
      preloaded.set(url.href, await response.text());
    }),
  );
}

export function readShaderText(url: URL): string {
  const text = preloaded.get(url.href) ?? reader?.(url);
  if (text === undefined) throw new Error(`WGSL ${url.href} is not loaded: call preloadShaders() first in a browser`);
  return text;
}
