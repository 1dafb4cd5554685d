import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { pngScale } from './charts.js';
import { renderSampleGrid, selectSamples } from './samples.js';
import { syntheticClasses, syntheticSamples } from './testing.js';

describe('selectSamples', () => {
  const candidates = [
    { id: 0, trueClass: 0, predictedClass: 0, confidence: 0.9 },
    { id: 1, trueClass: 0, predictedClass: 1, confidence: 0.6 },
    { id: 2, trueClass: 1, predictedClass: 1, confidence: 0.8 },
    { id: 3, trueClass: 1, predictedClass: 0, confidence: 0.95 },
    { id: 4, trueClass: 2, predictedClass: 0, confidence: 0.7 },
    { id: 5, trueClass: 2, predictedClass: 2, confidence: 0.99 },
  ];

  it('puts the most confident mistakes first, at most half the grid', () => {
    expect(selectSamples(candidates, 4).map((c) => c.id)).toEqual([3, 4, 0, 1]);
  });

  it('shows every candidate when there is room', () => {
    expect(selectSamples(candidates, 10).map((c) => c.id)).toEqual([3, 4, 1, 0, 2, 5]);
  });
});

describe('renderSampleGrid', () => {
  it('lays out thumbnails with captions and marks the mistakes', async () => {
    const samples = syntheticSamples(7);
    const grid = await renderSampleGrid(samples, syntheticClasses, { tileSize: 64, columns: 4 });
    expect(grid.tiles).toHaveLength(7);
    expect(grid.tiles.filter((t) => t.mistake)).toHaveLength(2);
    expect(grid.svg.match(/class="sample mistake"/g)).toHaveLength(2);
    expect(grid.svg.match(/<image /g)).toHaveLength(7);
    expect(grid.svg.includes('true: bird &lt;&amp;&gt;')).toBe(true);

    const tile = await sharp(grid.tiles[0]!.png).metadata();
    expect([tile.width, tile.height]).toEqual([64, 64]);
    const png = await sharp(grid.png).metadata();
    const width = Number(grid.svg.match(/width="(\d+)"/)![1]);
    expect(png.width).toBe(width * pngScale);
    // Four columns of captions at least 120 wide (wider than the 64-pixel thumbnails).
    expect(width).toBeGreaterThan(4 * 120);
    expect(width).toBeLessThan(5 * 120);
    // The thumbnails made it into the raster: the first tile's centre is the image's colour, not white.
    const { data, info } = await sharp(grid.png).raw().toBuffer({ resolveWithObject: true });
    const at = (x: number, y: number) => Array.from(data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3));
    const centre = at((8 + 32) * pngScale, (8 + 32) * pngScale);
    expect(centre).not.toEqual([255, 255, 255]);
  });

  it('names a sample whose pixel buffer does not match its size', async () => {
    const [sample] = syntheticSamples(1);
    const bad = { ...sample!, image: { ...sample!.image, width: 10 } };
    await expect(renderSampleGrid([bad], syntheticClasses)).rejects.toThrow(/sample 0: expected 10x16x3 RGB bytes \(480\), found 1152/);
    await expect(renderSampleGrid([{ ...sample!, predictedClass: 7 }], syntheticClasses)).rejects.toThrow(/predicted class is 7/);
  });
});
