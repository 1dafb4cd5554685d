import { describe, expect, it } from 'vitest';
import { classificationReport, confusionMatrix, ConfusionMatrixError, formatClassificationReport, formatConfusionTable } from './classification.js';

describe('classificationReport', () => {
  // Rows are true classes, columns predicted. Hand-computed below from tp, column sums and row sums.
  const confusion = [
    [5, 1, 0],
    [2, 6, 1],
    [0, 0, 4],
  ];
  const classes = ['cat', 'dog', 'bird'];

  it('matches hand-computed per-class scores, accuracy and averages', () => {
    const r = classificationReport(confusion, classes);
    const expected = [
      // precision = tp / column sum, recall = tp / row sum, f1 = 2tp / (2tp + fp + fn)
      { name: 'cat', precision: 5 / 7, recall: 5 / 6, f1: 10 / 13, support: 6 },
      { name: 'dog', precision: 6 / 7, recall: 6 / 9, f1: 12 / 16, support: 9 },
      { name: 'bird', precision: 4 / 5, recall: 4 / 4, f1: 8 / 9, support: 4 },
    ];
    r.classes.forEach((c, k) => {
      const e = expected[k]!;
      expect(c.name).toBe(e.name);
      expect(c.support).toBe(e.support);
      expect(c.precision).toBeCloseTo(e.precision, 12);
      expect(c.recall).toBeCloseTo(e.recall, 12);
      expect(c.f1).toBeCloseTo(e.f1, 12);
    });
    expect(r.accuracy).toBeCloseTo(15 / 19, 12);
    expect(r.total).toBe(19);
    expect(r.macro.precision).toBeCloseTo((5 / 7 + 6 / 7 + 4 / 5) / 3, 12);
    expect(r.macro.recall).toBeCloseTo((5 / 6 + 6 / 9 + 1) / 3, 12);
    expect(r.macro.f1).toBeCloseTo((10 / 13 + 12 / 16 + 8 / 9) / 3, 12);
    expect(r.weighted.precision).toBeCloseTo(((5 / 7) * 6 + (6 / 7) * 9 + (4 / 5) * 4) / 19, 12);
    // Weighted recall is always the accuracy.
    expect(r.weighted.recall).toBeCloseTo(15 / 19, 12);
    expect(r.weighted.f1).toBeCloseTo(((10 / 13) * 6 + (12 / 16) * 9 + (8 / 9) * 4) / 19, 12);
    expect(r.zeroDivision).toEqual({ precision: [], recall: [], f1: [] });
  });

  it('sets 0/0 scores to 0 and flags them, as scikit-learn does by default', () => {
    // b is never predicted (precision 0/0); c has no samples and is never predicted (all three 0/0).
    const r = classificationReport(
      [
        [2, 0, 0],
        [1, 0, 0],
        [0, 0, 0],
      ],
      ['a', 'b', 'c'],
    );
    expect(r.classes.map((c) => [c.precision, c.recall, c.f1])).toEqual([
      [2 / 3, 1, 0.8],
      [0, 0, 0],
      [0, 0, 0],
    ]);
    expect(r.zeroDivision).toEqual({ precision: ['b', 'c'], recall: ['c'], f1: ['c'] });
    expect(r.macro.recall).toBeCloseTo(1 / 3, 12);
    expect(r.weighted.recall).toBeCloseTo(2 / 3, 12);
  });

  it('formats like sklearn.metrics.classification_report', () => {
    // y_true = [0, 0, 1, 1, 1], y_pred = [0, 1, 1, 1, 0]; the text is sklearn's layout for that input.
    const text = formatClassificationReport(classificationReport(confusionMatrix([0, 0, 1, 1, 1], [0, 1, 1, 1, 0], 2), ['cat', 'dog']));
    expect(text).toBe(
      [
        '              precision    recall  f1-score   support',
        '',
        '         cat       0.50      0.50      0.50         2',
        '         dog       0.67      0.67      0.67         3',
        '',
        '    accuracy                           0.60         5',
        '   macro avg       0.58      0.58      0.58         5',
        'weighted avg       0.60      0.60      0.60         5',
        '',
      ].join('\n'),
    );
  });

  it('widens the name column for long class names', () => {
    const text = formatClassificationReport(classificationReport([[1]], ['a very long class name']));
    expect(text.split('\n')[2]).toBe('a very long class name       1.00      1.00      1.00         1');
  });

  it('rejects a matrix that does not fit the classes', () => {
    expect(() => classificationReport([[1, 2]], ['a'])).toThrow(ConfusionMatrixError);
    expect(() => classificationReport([[1, 0], [0]], ['a', 'b'])).toThrow(/row 1 has 1 columns, expected 2/);
    expect(() => classificationReport([[1, -1], [0, 2]], ['a', 'b'])).toThrow(/cell \[0\]\[1\] is -1/);
  });
});

describe('confusionMatrix', () => {
  it('counts (true, predicted) pairs', () => {
    expect(confusionMatrix([0, 1, 2, 2, 1], [0, 2, 2, 2, 1], 3)).toEqual([
      [1, 0, 0],
      [0, 1, 1],
      [0, 0, 2],
    ]);
  });

  it('names an out-of-range class index', () => {
    expect(() => confusionMatrix([0, 3], [0, 0], 3)).toThrow(/label 1 is 3, expected a class index in \[0, 3\)/);
    expect(() => confusionMatrix([0], [0, 1], 3)).toThrow(ConfusionMatrixError);
  });
});

describe('formatConfusionTable', () => {
  it('lays out one row per true class with the counts', () => {
    const text = formatConfusionTable([[3, 1], [0, 4]], ['cat', 'dog']);
    const rows = text.split('\n').filter((line) => /cat|dog/.test(line));
    expect(rows[0]).toMatch(/true \\ predicted.*cat.*dog/);
    expect(rows[1]).toMatch(/│ cat +│ +3 │ +1 │/);
    expect(rows[2]).toMatch(/│ dog +│ +0 │ +4 │/);
  });
});
