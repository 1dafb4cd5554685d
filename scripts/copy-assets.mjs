// Copies the files a package loads at run time but tsc does not emit (WGSL shaders) from src/ to dist/.
import { cpSync, statSync } from 'node:fs';

const [from, to] = process.argv.slice(2);
cpSync(from, to, { recursive: true, filter: (path) => statSync(path).isDirectory() || path.endsWith('.wgsl') });
