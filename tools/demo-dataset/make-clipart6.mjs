// Builds packages/cli/demo-data/clipart6: a small, deduplicated six-class image dataset for `graft demo`,
// cut from Debian's openclipart-png (public-domain clip art).
//
//   apt-get install openclipart-png
//   cd packages/cli && node ../../tools/demo-dataset/make-clipart6.mjs
//
// The output is byte-for-byte reproducible: inputs are sorted, the per-class cap uses a fixed seed, and
// the PNG encoder options are fixed (same sharp/libvips version assumed).

import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = join(REPO, 'packages/cli');
// sharp is a dependency of packages/cli, not of the repo root, so resolve it from there.
const sharp = createRequire(join(CLI, 'package.json'))('sharp');

const SOURCE_ROOT = '/usr/share/openclipart/png';
const OUT_DIR = join(CLI, 'demo-data/clipart6');

// Class name -> source folders (searched recursively, symlinks followed).
const CLASSES = {
  beverages: ['food/beverages'],
  desserts: ['food/desserts'],
  fruit: ['food/fruit'],
  mammals: ['animals/mammals'],
  // plants/flowers alone has too few distinct drawings (26), so the class is all plants: flowers, trees, leaves.
  plants: ['plants'],
  vehicles: ['transportation/vehicles'],
};

// Files the package files under a class folder that do not show the class (found by looking at every image).
const OFF_CLASS = new Map([
  ['food/fruit/juice_glass_andremarcel._01.png', 'a glass of juice'],
  ['food/fruit/kallisti-grenade_1_nurbl_01.png', 'a hand grenade'],
  ['food/fruit/slate-apple_benji_park_01.png', 'a school slate'],
  ['food/fruit/straw_tote_linda_kim_01.png', 'a bag'],
  ['food/fruit/turkey_platter_01_with_fruit_and_vegitables_01.png', 'a roast turkey'],
  ['animals/mammals/housecats/cat_scrathing_post_benji_01.png', 'a scratching post, no cat'],
  ['plants/human_humain_umano_sed_r.png', 'a person'],
  ['plants/trees/bowsaw_benji_park_01.png', 'a saw'],
  ['plants/trees/bypasspruner_benji_park_01.png', 'pruning shears'],
  ['plants/trees/christmas_balls_mo_01.png', 'baubles'],
  ['plants/acorn_jonathan_dietrich_01.png', 'a nut: food, too close to fruit'],
  ['plants/cayennepepperrevisited_d_01.png', 'a chili pepper: food, too close to fruit'],
  ['plants/potato_nicu_buculei_01.png', 'a potato: food, too close to fruit'],
  ['plants/mushroom.png', 'a mushroom: not a plant, and food'],
  ['plants/mushroom_benji_park_.png', 'a mushroom: not a plant, and food'],
  ['plants/toadstool_daniel_steele_r.png', 'a mushroom: not a plant'],
  ['transportation/vehicles/crossroads.png', 'a road sign'],
  ['transportation/vehicles/curve_ahead.png', 'a road sign'],
  ['transportation/vehicles/cycle_lane.png', 'a road sign'],
  ['transportation/vehicles/cycle_route.png', 'a road sign'],
  ['transportation/vehicles/parking_romus_01.png', 'a road sign'],
  ['transportation/vehicles/quay_sign_01.png', 'a road sign'],
  ['transportation/vehicles/lighthouse_01.png', 'a lighthouse'],
  ['transportation/vehicles/wing_mitchell_johnson_si_.png', 'a lone wing'],
]);

const MAX_SIDE = 160; // stored size of the longer side; the trainer resizes/crops anyway
const MAX_PER_CLASS = 120; // keeps classes within ~4x of each other
const SEED = 20240601;
const INK_LEVEL = 240; // a pixel with any channel below this (after flattening on white) is drawing, not paper
const MIN_INK_FRACTION = 0.02; // of the cropped image; below this it is a faint speck or stray line
const MIN_INK_SIDE = 32; // px of the source; smaller drawings are icons too tiny to learn from
const MAX_ASPECT = 4; // longer/shorter side of the drawing; beyond this it is a rule, border or banner
const MARGIN = 0.04; // white border kept around the cropped drawing, as a fraction of its longer side
const DHASH_SIZE = 16; // 16x16 difference hash = 256 bits
// Hamming distance (of 256) at or below which two drawings count as the same. Chosen by looking at every pair
// under 70 bits: up to 51 all are one drawing recoloured, re-exported or black-and-white vs colour; the
// first pairs of different drawings are at 53-55, and the closest pair across classes at 61.
const NEAR_DUP_BITS = 52; // Hamming distance (of 256) at or below which two drawings count as the same

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});

async function main() {
  if (!existsSync(SOURCE_ROOT)) {
    throw new Error(`${SOURCE_ROOT} not found: install the clip art with \`apt-get install openclipart-png\`.`);
  }
  const images = [];
  for (const [cls, folders] of Object.entries(CLASSES)) {
    for (const folder of folders) {
      for (const path of listPngs(join(SOURCE_ROOT, folder))) {
        const offClass = OFF_CLASS.has(relative(SOURCE_ROOT, path));
        images.push(offClass ? { cls, path, reject: 'off-class' } : await loadImage(cls, path));
      }
    }
  }
  const usable = images.filter((img) => img.reject === null);
  const rejected = countBy(images.filter((img) => img.reject !== null), (img) => img.reject);

  const exact = dedup(usable, (a, b) => a.pixelHash === b.pixelHash);
  const near = dedup(exact.kept, (a, b) => hamming(a.dhash, b.dhash) <= NEAR_DUP_BITS);
  const chosen = capPerClass(near.kept);

  const manifest = await writeDataset(chosen);
  const stats = { found: images.length, rejected, exact, near, manifest, closest: closestAcrossClasses(exact.kept) };
  writeFileSync(join(OUT_DIR, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  writeFileSync(join(OUT_DIR, 'README.md'), readme(stats));
  printSummary(stats);
}

/** Every .png below `dir`, sorted, following symlinks (the package links files between categories). */
function listPngs(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listPngs(path));
    else if (name.toLowerCase().endsWith('.png')) out.push(path);
  }
  return out;
}

/**
 * Decodes one file, flattens it on white, crops it to the drawing plus a margin and shrinks it.
 * `reject` names why the image is unusable, or is null.
 */
async function loadImage(cls, path) {
  const source = relative(SOURCE_ROOT, path);
  const { data, info } = await sharp(path)
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  const { width, height, channels } = info;
  // Hash the decoded pixels, not the file: re-encoded copies of one drawing compress differently.
  const pixelHash = createHash('sha256').update(`${width}x${height}x${channels}:`).update(data).digest('hex');
  const image = { cls, path, source, pixelHash, dhash: null, chroma: 0, png: null, reject: null };

  const box = inkBox(data, width, height, channels);
  if (box === null) return { ...image, reject: 'blank' };
  const long = Math.max(box.w, box.h);
  const short = Math.min(box.w, box.h);
  if (long < MIN_INK_SIDE) return { ...image, reject: 'tiny' };
  if (long / short > MAX_ASPECT) return { ...image, reject: 'thin' };
  if (box.ink / (box.w * box.h) < MIN_INK_FRACTION) return { ...image, reject: 'faint' };

  const pad = Math.round(MARGIN * long);
  const cropped = sharp(data, { raw: { width, height, channels } })
    .extract({ left: box.x, top: box.y, width: box.w, height: box.h })
    .extend({ top: pad, bottom: pad, left: pad, right: pad, background: '#ffffff' });
  // Materialise the crop before resizing: sharp applies resize before extend within one pipeline.
  const { data: cropData, info: cropInfo } = await cropped.raw().toBuffer({ resolveWithObject: true });
  const raw = { raw: { width: cropInfo.width, height: cropInfo.height, channels } };
  const png = await sharp(cropData, raw)
    .resize(MAX_SIDE, MAX_SIDE, { fit: 'inside', withoutEnlargement: true })
    // Fixed encoder settings so reruns give identical bytes; lossless, since clip art is flat colour.
    .png({ compressionLevel: 9, adaptiveFiltering: false, palette: false })
    .toBuffer();
  return { ...image, dhash: await differenceHash(cropData, raw), chroma: meanChroma(cropData, channels), png };
}

/** Bounding box of the pixels darker than paper, and how many there are; null if there are none. */
function inkBox(data, width, height, channels) {
  let x0 = width, y0 = height, x1 = -1, y1 = -1, ink = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * channels;
      if (data[i] >= INK_LEVEL && data[i + 1] >= INK_LEVEL && data[i + 2] >= INK_LEVEL) continue;
      ink++;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  return ink === 0 ? null : { x: x0, y: y0, w: x1 - x0 + 1, h: y1 - y0 + 1, ink };
}

/** Mean of (max - min channel) per pixel: 0 for black-and-white art, larger the more colourful. */
function meanChroma(data, channels) {
  let sum = 0;
  for (let i = 0; i < data.length; i += channels) {
    sum += Math.max(data[i], data[i + 1], data[i + 2]) - Math.min(data[i], data[i + 1], data[i + 2]);
  }
  return sum / (data.length / channels);
}

/**
 * 16x16 difference hash of the cropped drawing: for each row of a 17x16 grayscale thumbnail, one bit
 * per horizontal neighbour pair (is the left one brighter?). Cropping first makes it ignore page size.
 */
async function differenceHash(data, raw) {
  const w = DHASH_SIZE + 1;
  const px = await sharp(data, raw).grayscale().resize(w, DHASH_SIZE, { fit: 'fill' }).raw().toBuffer();
  const bits = new Uint8Array(DHASH_SIZE * DHASH_SIZE);
  for (let y = 0; y < DHASH_SIZE; y++) {
    for (let x = 0; x < DHASH_SIZE; x++) bits[y * DHASH_SIZE + x] = px[y * w + x] > px[y * w + x + 1] ? 1 : 0;
  }
  return bits;
}

function hamming(a, b) {
  let d = 0;
  for (let i = 0; i < a.length; i++) d += a[i] ^ b[i];
  return d;
}

/**
 * Groups images that `same` links (transitively) and resolves each group: one spanning several classes
 * is ambiguous, so all its members go; one inside a class keeps its most colourful member (colour carries
 * more of what an ImageNet backbone knows than `foo_bw.png` does; ties go to the first path).
 * Also returns the linked pairs and the cross-class groups, for review.
 */
function dedup(images, same) {
  const parent = images.map((_, i) => i);
  const root = (i) => (parent[i] === i ? i : (parent[i] = root(parent[i])));
  const pairs = [];
  for (let i = 0; i < images.length; i++) {
    for (let j = i + 1; j < images.length; j++) {
      if (!same(images[i], images[j])) continue;
      pairs.push([images[i], images[j]]);
      parent[root(j)] = root(i);
    }
  }
  const groups = new Map();
  images.forEach((img, i) => groups.set(root(i), [...(groups.get(root(i)) ?? []), img]));
  const keep = new Set();
  const crossGroups = [];
  let withinClass = 0;
  for (const group of groups.values()) {
    if (new Set(group.map((img) => img.cls)).size > 1) crossGroups.push(group.map((img) => img.source));
    else {
      keep.add(group.reduce((best, img) => (img.chroma > best.chroma ? img : best)));
      withinClass += group.length - 1;
    }
  }
  const crossClass = crossGroups.reduce((n, g) => n + g.length, 0);
  return { kept: images.filter((img) => keep.has(img)), crossClass, withinClass, pairs, crossGroups };
}

/** The smallest hash distance between images of different classes: the threshold must stay well below it. */
function closestAcrossClasses(images) {
  let best = { bits: Infinity, a: null, b: null };
  for (let i = 0; i < images.length; i++) {
    for (let j = i + 1; j < images.length; j++) {
      if (images[i].cls === images[j].cls) continue;
      const bits = hamming(images[i].dhash, images[j].dhash);
      if (bits < best.bits) best = { bits, a: images[i].source, b: images[j].source };
    }
  }
  return best;
}

/** At most MAX_PER_CLASS per class, chosen by a seeded shuffle so reruns pick the same ones. */
function capPerClass(images) {
  const random = mulberry32(SEED);
  const out = [];
  for (const cls of Object.keys(CLASSES)) {
    const members = images.filter((img) => img.cls === cls);
    for (let i = members.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [members[i], members[j]] = [members[j], members[i]];
    }
    out.push(...members.slice(0, MAX_PER_CLASS).sort((a, b) => a.source.localeCompare(b.source)));
  }
  return out;
}

/** Small seeded PRNG (Mulberry32); Math.random cannot be seeded. */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Replaces OUT_DIR with one folder per class; returns the manifest (class -> files). */
async function writeDataset(images) {
  rmSync(OUT_DIR, { recursive: true, force: true });
  const manifest = {};
  for (const cls of Object.keys(CLASSES)) {
    mkdirSync(join(OUT_DIR, cls), { recursive: true });
    manifest[cls] = [];
    const used = new Set();
    for (const img of images.filter((i) => i.cls === cls)) {
      const file = uniqueName(fileStem(img.path), used);
      writeFileSync(join(OUT_DIR, cls, file), img.png);
      const sha256 = createHash('sha256').update(img.png).digest('hex');
      manifest[cls].push({ file: `${cls}/${file}`, source: img.source, sha256 });
    }
  }
  return manifest;
}

/** Lower-case, filesystem- and URL-safe stem of a source file name. */
function fileStem(path) {
  return basename(path, '.png').toLowerCase().replace(/[^a-z0-9_-]+/g, '_').replace(/^_+|_+$/g, '') || 'image';
}

/** Subfolders can hold files of the same name; suffix later ones with -2, -3, ... */
function uniqueName(stem, used) {
  let name = `${stem}.png`;
  for (let k = 2; used.has(name); k++) name = `${stem}-${k}.png`;
  used.add(name);
  return name;
}

function countBy(items, key) {
  const counts = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

function packageVersion() {
  try {
    return execFileSync('dpkg-query', ['-W', '-f=${Version}', 'openclipart-png'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown (dpkg-query failed)';
  }
}

function totalBytes(manifest) {
  let bytes = 0;
  for (const files of Object.values(manifest)) for (const f of files) bytes += statSync(join(OUT_DIR, f.file)).size;
  return bytes;
}

function printSummary({ found, rejected, exact, near, manifest, closest }) {
  console.log(`closest pair across classes after exact dedup: ${closest.bits} bits (${closest.a} ~ ${closest.b})`);
  console.log(`found ${found} files; rejected ${JSON.stringify(rejected)}`);
  console.log(`exact duplicates: ${exact.crossClass} dropped across classes, ${exact.withinClass} within a class`);
  console.log(`near duplicates (<= ${NEAR_DUP_BITS} bits): ${near.crossClass} across, ${near.withinClass} within`);
  for (const group of [...exact.crossGroups, ...near.crossGroups]) console.log(`  in two classes: ${group.join(', ')}`);
  for (const [a, b] of near.pairs) console.log(`  near (${hamming(a.dhash, b.dhash)} bits): ${a.source} ~ ${b.source}`);
  for (const [cls, files] of Object.entries(manifest)) console.log(`${cls}: ${files.length}`);
  console.log(`total ${totalBytes(manifest)} bytes in ${relative(REPO, OUT_DIR)}`);
}

function readme({ found, rejected, exact, near, manifest, closest }) {
  const total = Object.values(manifest).reduce((n, files) => n + files.length, 0);
  const rows = Object.entries(manifest).map(
    ([cls, files]) => `| ${cls} | ${CLASSES[cls].map((f) => `\`${f}\``).join(', ')} | ${files.length} |`,
  );
  return `# clipart6: the demo dataset

Six classes of clip art (${total} images, ${(totalBytes(manifest) / 1e6).toFixed(1)} MB) for \`graft demo\`: a
"only about a hundred pictures per class" transfer-learning task.

Generated by \`tools/demo-dataset/make-clipart6.mjs\`; do not edit by hand. To regenerate (byte-identical output):

    apt-get install openclipart-png
    cd packages/cli && node ../../tools/demo-dataset/make-clipart6.mjs

## Origin and licence

The images come from the Open Clip Art Library as packaged by Debian: \`openclipart-png\` version
\`${packageVersion()}\`, installed under \`${SOURCE_ROOT}\`. The library's works are dedicated to the public
domain (Creative Commons Public Domain Dedication; see \`/usr/share/doc/openclipart-png/copyright\`), so they
may be copied, modified and redistributed for any purpose. \`manifest.json\` names each image's source file.

## Classes

| class | source folders (recursive) | images |
|---|---|---:|
${rows.join('\n')}

## How it was made

1. All ${found} PNGs below the source folders (symlinks followed) were decoded and flattened onto white.
2. ${rejected['off-class'] ?? 0} files that do not show their class (road signs under vehicles, tools under plants,
   ...) were left out by name: the \`OFF_CLASS\` list in the script, each with the reason.
   Unusable ones would be skipped (this run: ${JSON.stringify(rejected)}): *blank* (no pixel darker than ${INK_LEVEL}),
   *faint* (under ${MIN_INK_FRACTION * 100}% of the drawing's box is ink), *tiny* (drawing under ${MIN_INK_SIDE} px),
   *thin* (drawing longer than ${MAX_ASPECT}x its width: borders, rules, banners).
3. Each image was cropped to its drawing plus a ${MARGIN * 100}% white margin (many sources are whole blank pages
   with a small drawing) and shrunk to at most ${MAX_SIDE} px on the longer side, keeping the aspect ratio.
4. Exact duplicates (same SHA-256 of the decoded, flattened pixels: the package symlinks, hardlinks and copies
   files between categories) were removed: ${exact.crossClass} images in groups spanning two classes were dropped
   from every class (an image in two classes is ambiguous), and ${exact.withinClass} extra copies within a class.
5. Near duplicates (16x16 grayscale difference hash of the cropped drawing, Hamming distance <= ${NEAR_DUP_BITS}
   of 256 bits: recoloured, re-exported or black-and-white copies) were removed the same way: ${near.crossClass}
   across classes, ${near.withinClass} within a class, keeping the most colourful copy. The threshold was chosen
   by looking at every pair under 70 bits; the closest pair across classes is ${closest.bits} bits apart.
   Known misses: a few black-and-white/colour or silhouette/colour pairs whose grey levels differ too much
   (e.g. the hummers in \`transportation/vehicles\` and \`transportation/vehicles/hummers\`) remain, within one class.
6. Classes with more than ${MAX_PER_CLASS} images were cut to ${MAX_PER_CLASS} by a seeded shuffle (seed ${SEED}).
7. Stored as 8-bit RGB PNG (zlib level 9, no adaptive filtering), one folder per class.

\`manifest.json\` maps each class to its files: \`{ file, source, sha256 }\`, where \`source\` is the path below
\`${SOURCE_ROOT}\` and \`sha256\` is the hash of the stored PNG.
`;
}
