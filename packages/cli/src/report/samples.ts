/**
 * A grid of sample predictions: thumbnails with their true and predicted class and the confidence,
 * mistakes framed in red. The grid is an SVG of embedded PNG thumbnails and text captions (rasterised by
 * sharp); it is a contact sheet, not a chart, so it needs no charting library.
 */
import sharp from 'sharp';
import { ChartInputError, svgToPng, type ChartImage } from './charts.js';

/** Interleaved 8-bit RGB, row-major (HWC): what the data pipeline decodes. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export interface SamplePrediction {
  image: RgbImage;
  trueClass: number;
  predictedClass: number;
  /** The predicted class's softmax probability, in [0, 1]. */
  confidence: number;
}

export interface SampleTile {
  /** The thumbnail, letterboxed to a square tile. */
  png: Buffer;
  trueName: string;
  predictedName: string;
  confidence: number;
  mistake: boolean;
}

export interface SampleGrid extends ChartImage {
  tiles: SampleTile[];
}

export interface SampleGridOptions {
  tileSize?: number;
  columns?: number;
}

type Scored = Pick<SamplePrediction, 'trueClass' | 'predictedClass' | 'confidence'>;

/**
 * Picks `count` samples to show: the most confident mistakes first (at most half the grid, so correct
 * predictions are seen too), then the remaining slots from the rest in their given order.
 */
export function selectSamples<T extends Scored>(candidates: readonly T[], count: number): T[] {
  const mistakes = candidates.filter((c) => c.predictedClass !== c.trueClass).sort((a, b) => b.confidence - a.confidence);
  const picked = mistakes.slice(0, Math.ceil(count / 2));
  const chosen = new Set<T>(picked);
  for (const c of candidates) {
    if (picked.length >= count) break;
    if (!chosen.has(c)) {
      picked.push(c);
      chosen.add(c);
    }
  }
  return picked;
}

export async function renderSampleGrid(
  samples: readonly SamplePrediction[],
  classes: readonly string[],
  options: SampleGridOptions = {},
): Promise<SampleGrid> {
  if (samples.length === 0) throw new ChartInputError('no samples to show');
  const tileSize = options.tileSize ?? 128;
  const columns = Math.min(options.columns ?? 6, samples.length);
  const tiles = await Promise.all(samples.map((s, i) => makeTile(s, i, classes, tileSize)));

  const pad = 8;
  // Captions need room even under small thumbnails. 11px DejaVu Sans averages ~6.5px a character;
  // longer names would run into the next tile ("true: " takes 6).
  const captionWidth = Math.max(tileSize, 120);
  const captionChars = Math.floor(captionWidth / 6.5) - 6;
  const captionHeight = 34;
  const cellWidth = captionWidth + pad;
  const cellHeight = tileSize + captionHeight + pad;
  const rows = Math.ceil(tiles.length / columns);
  const width = columns * cellWidth + pad;
  const height = rows * cellHeight + pad;
  const parts = tiles.map((tile, i) => {
    const x = pad + (i % columns) * cellWidth;
    const y = pad + Math.floor(i / columns) * cellHeight;
    const frame = tile.mistake ? '#d62728' : '#2ca02c';
    const percent = `${(tile.confidence * 100).toFixed(0)}%`;
    return [
      `<g class="sample${tile.mistake ? ' mistake' : ''}">`,
      `<image x="${x}" y="${y}" width="${tileSize}" height="${tileSize}" href="data:image/png;base64,${tile.png.toString('base64')}"/>`,
      `<rect x="${x - 1.5}" y="${y - 1.5}" width="${tileSize + 3}" height="${tileSize + 3}" fill="none" stroke="${frame}" stroke-width="3"/>`,
      `<text x="${x}" y="${y + tileSize + 14}" font-size="11">true: ${escapeXml(clip(tile.trueName, captionChars))}</text>`,
      `<text x="${x}" y="${y + tileSize + 28}" font-size="11" fill="${frame}">${tile.mistake ? '✗' : '✓'} ${escapeXml(clip(tile.predictedName, captionChars - 1))} ${percent}</text>`,
      '</g>',
    ].join('');
  });
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">` +
    `<rect width="${width}" height="${height}" fill="white"/>${parts.join('')}</svg>`;
  return { svg, png: await svgToPng(svg), tiles };
}

async function makeTile(sample: SamplePrediction, index: number, classes: readonly string[], tileSize: number): Promise<SampleTile> {
  const { data, width, height } = sample.image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || data.length !== width * height * 3) {
    throw new ChartInputError(`sample ${index}: expected ${width}x${height}x3 RGB bytes (${width * height * 3}), found ${data.length}`);
  }
  for (const [what, k] of [['true class', sample.trueClass], ['predicted class', sample.predictedClass]] as const) {
    if (!Number.isInteger(k) || k < 0 || k >= classes.length) {
      throw new ChartInputError(`sample ${index}: ${what} is ${k}, expected an index in [0, ${classes.length})`);
    }
  }
  const png = await sharp(Buffer.from(data.buffer, data.byteOffset, data.byteLength), { raw: { width, height, channels: 3 } })
    .resize(tileSize, tileSize, { fit: 'contain', background: { r: 255, g: 255, b: 255 } })
    .png()
    .toBuffer();
  return {
    png,
    trueName: classes[sample.trueClass]!,
    predictedName: classes[sample.predictedClass]!,
    confidence: sample.confidence,
    mistake: sample.trueClass !== sample.predictedClass,
  };
}

function clip(text: string, length: number): string {
  return text.length <= length ? text : `${text.slice(0, Math.max(1, length - 1))}…`;
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
