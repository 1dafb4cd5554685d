/** Run reports: metrics.jsonl, the classification report, charts and report.html. */
export { appendMetrics, readMetrics, MetricsFileError, type EpochRecord } from './metrics.js';
export {
  classificationReport,
  confusionMatrix,
  formatClassificationReport,
  formatConfusionTable,
  ConfusionMatrixError,
  type ClassificationReport,
  type ClassScores,
  type AverageScores,
} from './classification.js';
export {
  renderTrainingCurves,
  renderConfusionMatrix,
  renderChart,
  trainingCurvesSpec,
  confusionMatrixSpec,
  svgToPng,
  writeChartPng,
  fineTuningLabel,
  ChartInputError,
  type ChartImage,
} from './charts.js';
export { renderSampleGrid, selectSamples, type RgbImage, type SamplePrediction, type SampleTile, type SampleGrid } from './samples.js';
export { writeReport, maxSamples, type ReportInput, type ReportFiles } from './html.js';
export { writeFileAtomic } from './atomicWrite.js';
