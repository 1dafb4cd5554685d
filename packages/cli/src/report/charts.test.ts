import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ChartInputError, fineTuningLabel, pngScale, renderConfusionMatrix, renderTrainingCurves, type ChartImage } from './charts.js';
import { syntheticClasses, syntheticConfusion, syntheticRecords } from './testing.js';

/** The PNG is the SVG rasterised at pngScale, and it is not a blank page. */
async function expectRenderedChart(chart: ChartImage): Promise<void> {
  expect(chart.svg.startsWith('<svg')).toBe(true);
  expect(chart.svg.trimEnd().endsWith('</svg>')).toBe(true);
  // librsvg parses the SVG: a malformed document fails here.
  const svgMeta = await sharp(Buffer.from(chart.svg)).metadata();
  expect(svgMeta.format).toBe('svg');
  const png = await sharp(chart.png).metadata();
  expect(png.format).toBe('png');
  expect(png.width).toBe(svgMeta.width! * pngScale);
  expect(png.height).toBe(svgMeta.height! * pngScale);
  const stats = await sharp(chart.png).stats();
  for (const channel of stats.channels.slice(0, 3)) expect(channel.stdev).toBeGreaterThan(10);
}

describe('training curves', () => {
  it('draws accuracy and loss, train and validation, with the fine-tuning rule', async () => {
    const chart = await renderTrainingCurves(syntheticRecords(4, 3));
    await expectRenderedChart(chart);
    expect(chart.svg).toContain('Training and validation accuracy');
    expect(chart.svg).toContain('Training and validation loss');
    expect(chart.svg.match(/class="mark-line role-mark/g)).toHaveLength(4);
    expect(chart.svg.match(new RegExp(`>${fineTuningLabel}</text>`, 'g'))).toHaveLength(2);
    expect(chart.svg.match(/class="mark-rule role-mark/g)).toHaveLength(2);
  });

  it('has no fine-tuning rule for a run that never unfroze', async () => {
    const chart = await renderTrainingCurves(syntheticRecords(3, 0));
    await expectRenderedChart(chart);
    expect(chart.svg.includes(fineTuningLabel)).toBe(false);
    expect(/class="mark-rule role-mark/.test(chart.svg)).toBe(false);
  });

  it('draws train curves alone when there was no validation', async () => {
    const records = syntheticRecords(2, 2).map((r) => ({ ...r, valLoss: undefined, valAccuracy: undefined }));
    const chart = await renderTrainingCurves(records);
    await expectRenderedChart(chart);
    expect(chart.svg.match(/class="mark-line role-mark/g)).toHaveLength(2);
    expect(chart.svg.includes('>train</text>')).toBe(true);
    expect(chart.svg.includes('>validation</text>')).toBe(false);
  });

  it('says there is nothing to chart for an empty log', async () => {
    await expect(renderTrainingCurves([])).rejects.toThrow(ChartInputError);
  });
});

describe('confusion matrix heatmap', () => {
  it('shows the counts in cells and the class names on both axes', async () => {
    const chart = await renderConfusionMatrix(syntheticConfusion, syntheticClasses);
    await expectRenderedChart(chart);
    // One rect per cell in the heatmap mark group.
    const heatmap = chart.svg.match(/class="mark-rect role-mark[^"]*"[^>]*>(.*?)<\/g>/)![1]!;
    expect(heatmap.match(/<path/g)).toHaveLength(9);
    const cellText = chart.svg.match(/class="mark-text role-mark[^"]*"[^>]*>(.*?)<\/g>/)![1]!;
    const counts = [...cellText.matchAll(/>(\d+)<\/text>/g)].map((m) => Number(m[1]));
    expect(counts).toEqual(syntheticConfusion.flat());
    // Each class name appears on both axes, escaped.
    expect(chart.svg.match(/>bird &lt;&amp;&gt;<\/text>/g)).toHaveLength(2);
  });

  it('rejects a matrix of the wrong size', async () => {
    await expect(renderConfusionMatrix([[1, 2]], ['a', 'b'])).rejects.toThrow(/expected a 2x2 confusion matrix/);
  });
});
