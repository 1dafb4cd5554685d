import { describe, expect, it } from 'vitest';
import { kerasCaffe, kerasMobileNet, preprocess, preprocessingFor, resolvePreprocessing, timmPreprocessing, torchvision, torchvisionV2 } from './preprocessing.js';

// Two pixels: (0, 127.5, 255) and (10, 20, 30).
const pixels = Float32Array.from([0, 127.5, 255, 10, 20, 30]);
const close = (got: Float32Array, want: number[]) => want.forEach((w, i) => expect(got[i]).toBeCloseTo(w, 5));

describe('preprocessing', () => {
  it("keras MobileNet ('tf'): x / 127.5 - 1", () => {
    close(preprocess(kerasMobileNet, pixels), [-1, 0, 1, 10 / 127.5 - 1, 20 / 127.5 - 1, 30 / 127.5 - 1]);
  });

  it("keras caffe: RGB -> BGR, minus the BGR mean, no scaling", () => {
    close(preprocess(kerasCaffe, pixels), [255 - 103.939, 127.5 - 116.779, 0 - 123.68, 30 - 103.939, 20 - 116.779, 10 - 123.68]);
  });

  it('torchvision: x / 255, ImageNet mean/std; V1 256 -> 224, V2 232 -> 224 recorded', () => {
    const m = [0.485, 0.456, 0.406];
    const s = [0.229, 0.224, 0.225];
    close(preprocess(torchvision, pixels), [(0 - m[0]!) / s[0]!, (0.5 - m[1]!) / s[1]!, (1 - m[2]!) / s[2]!, (10 / 255 - m[0]!) / s[0]!, (20 / 255 - m[1]!) / s[1]!, (30 / 255 - m[2]!) / s[2]!]);
    expect([torchvision.resize, torchvision.crop, torchvision.interpolation]).toEqual([256, 224, 'bilinear']);
    expect([torchvisionV2.resize, torchvisionV2.crop]).toEqual([232, 224]);
    expect(preprocess(torchvisionV2, pixels)).toEqual(preprocess(torchvision, pixels));
  });

  it('timm: from a pretrained_cfg', () => {
    const p = timmPreprocessing({ mean: [0.5, 0.5, 0.5], std: [0.5, 0.25, 0.5], input_size: [3, 288, 288], crop_pct: 0.95, interpolation: 'bicubic' });
    expect([p.resize, p.crop, p.interpolation]).toEqual([Math.floor(288 / 0.95), 288, 'bicubic']);
    close(preprocess(p, pixels), [-1, 0, 1, (10 / 255 - 0.5) / 0.5, (20 / 255 - 0.5) / 0.25, (30 / 255 - 0.5) / 0.5]);
    expect(preprocessingFor('timm', { mean: [0, 0, 0], std: [1, 1, 1], input_size: [3, 224, 224] }).resize).toBe(256);
    expect(() => preprocessingFor('timm')).toThrow(/pretrained_cfg/);
  });

  it('preprocessingFor chooses by origin', () => {
    expect(preprocessingFor('torchvision')).toBe(torchvision);
    expect(preprocessingFor('keras-mobilenet')).toBe(kerasMobileNet);
    expect(preprocessingFor('keras-resnet')).toBe(kerasCaffe);
    expect(() => preprocessingFor('onnx' as never)).toThrow(/unknown weights origin 'onnx'/);
  });

  it('resolvePreprocessing: the override wins, warned about when it differs', () => {
    const warnings: string[] = [];
    const warn = (m: string) => warnings.push(m);
    expect(resolvePreprocessing('keras-mobilenet', undefined, { warn })).toBe(kerasMobileNet);
    expect(resolvePreprocessing('keras-mobilenet', { ...kerasMobileNet }, { warn })).toEqual(kerasMobileNet);
    expect(warnings).toEqual([]);
    expect(resolvePreprocessing('keras-mobilenet', torchvision, { warn })).toBe(torchvision);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/'torchvision'.*'keras-mobilenet'/);
  });
});
