/**
 * scikit-learn's classification report, computed from a confusion matrix (rows = true class,
 * columns = predicted class), and text tables for the terminal.
 */
import Table from 'cli-table3';

export interface ClassScores {
  name: string;
  precision: number;
  recall: number;
  f1: number;
  /** How many samples truly belong to the class (the row sum). */
  support: number;
}

export interface AverageScores {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface ClassificationReport {
  classes: ClassScores[];
  accuracy: number;
  total: number;
  macro: AverageScores;
  weighted: AverageScores;
  /**
   * Classes whose precision (nothing predicted as it), recall (no true samples) or F1 was 0/0 and so set
   * to 0, as scikit-learn does by default (where it warns UndefinedMetricWarning).
   */
  zeroDivision: { precision: string[]; recall: string[]; f1: string[] };
}

export class ConfusionMatrixError extends Error {
  override name = 'ConfusionMatrixError';
}

/** Counts (true, predicted) pairs into a classCount x classCount matrix. */
export function confusionMatrix(labels: ArrayLike<number>, predictions: ArrayLike<number>, classCount: number): number[][] {
  if (labels.length !== predictions.length) {
    throw new ConfusionMatrixError(`expected as many predictions as labels, found ${predictions.length} and ${labels.length}`);
  }
  const matrix = Array.from({ length: classCount }, () => new Array<number>(classCount).fill(0));
  for (let i = 0; i < labels.length; i++) {
    const t = labels[i]!;
    const p = predictions[i]!;
    for (const [what, value] of [['label', t], ['prediction', p]] as const) {
      if (!Number.isInteger(value) || value < 0 || value >= classCount) {
        throw new ConfusionMatrixError(`${what} ${i} is ${value}, expected a class index in [0, ${classCount})`);
      }
    }
    matrix[t]![p]! += 1;
  }
  return matrix;
}

export function classificationReport(confusion: readonly (readonly number[])[], classes: readonly string[]): ClassificationReport {
  checkConfusion(confusion, classes);
  const n = classes.length;
  const zeroDivision = { precision: [] as string[], recall: [] as string[], f1: [] as string[] };
  let total = 0;
  let correct = 0;
  const scores: ClassScores[] = classes.map((name, k) => {
    const tp = confusion[k]![k]!;
    const support = sum(confusion[k]!);
    const predicted = sum(confusion.map((row) => row[k]!));
    total += support;
    correct += tp;
    const precision = ratio(tp, predicted, () => zeroDivision.precision.push(name));
    const recall = ratio(tp, support, () => zeroDivision.recall.push(name));
    // 2tp / (2tp + fp + fn), as scikit-learn computes it: equals 2PR/(P+R) whenever that is defined.
    const f1 = ratio(2 * tp, 2 * tp + (predicted - tp) + (support - tp), () => zeroDivision.f1.push(name));
    return { name, precision, recall, f1, support };
  });
  const mean = (pick: (s: ClassScores) => number, weight: (s: ClassScores) => number) => {
    const weights = sum(scores.map(weight));
    return weights === 0 ? 0 : sum(scores.map((s) => pick(s) * weight(s))) / weights;
  };
  const average = (weight: (s: ClassScores) => number): AverageScores => ({
    precision: mean((s) => s.precision, weight),
    recall: mean((s) => s.recall, weight),
    f1: mean((s) => s.f1, weight),
    support: total,
  });
  return {
    classes: scores,
    accuracy: total === 0 ? 0 : correct / total,
    total,
    macro: n === 0 ? { precision: 0, recall: 0, f1: 0, support: 0 } : average(() => 1),
    weighted: average((s) => s.support),
    zeroDivision,
  };
}

/**
 * The text of sklearn.metrics.classification_report: same columns, alignment and rows, so the numbers
 * can be compared line by line with a Python run.
 */
export function formatClassificationReport(report: ClassificationReport, digits = 2): string {
  const headers = ['precision', 'recall', 'f1-score', 'support'];
  const lastHeading = 'weighted avg';
  const width = Math.max(lastHeading.length, digits, ...report.classes.map((c) => c.name.length));
  const col = (text: string) => ` ${text.padStart(9)}`;
  const num = (x: number) => col(x.toFixed(digits));
  const row = (name: string, s: AverageScores) =>
    `${name.padStart(width)} ${num(s.precision)}${num(s.recall)}${num(s.f1)}${col(String(s.support))}`;
  const lines = [`${''.padStart(width)} ${headers.map(col).join('')}`, ''];
  for (const c of report.classes) lines.push(row(c.name, c));
  lines.push('');
  lines.push(`${'accuracy'.padStart(width)} ${col('')}${col('')}${num(report.accuracy)}${col(String(report.total))}`);
  lines.push(row('macro avg', report.macro));
  lines.push(row('weighted avg', report.weighted));
  return `${lines.join('\n')}\n`;
}

/** The confusion matrix as a bordered text table: one row per true class, one column per predicted class. */
export function formatConfusionTable(confusion: readonly (readonly number[])[], classes: readonly string[]): string {
  checkConfusion(confusion, classes);
  const table = new Table({
    head: ['true \\ predicted', ...classes],
    style: { head: [], border: [] },
    colAligns: ['left', ...classes.map(() => 'right' as const)],
  });
  confusion.forEach((row, k) => table.push([classes[k]!, ...row.map(String)]));
  return table.toString();
}

function checkConfusion(confusion: readonly (readonly number[])[], classes: readonly string[]): void {
  const n = classes.length;
  if (confusion.length !== n) {
    throw new ConfusionMatrixError(`expected a ${n}x${n} confusion matrix (one row per class), found ${confusion.length} rows`);
  }
  confusion.forEach((row, k) => {
    if (row.length !== n) throw new ConfusionMatrixError(`confusion matrix row ${k} has ${row.length} columns, expected ${n}`);
    row.forEach((count, j) => {
      if (!Number.isInteger(count) || count < 0) {
        throw new ConfusionMatrixError(`confusion matrix cell [${k}][${j}] is ${count}, expected a count >= 0`);
      }
    });
  });
}

function ratio(numerator: number, denominator: number, onZero: () => void): number {
  if (denominator === 0) {
    onZero();
    return 0;
  }
  return numerator / denominator;
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
