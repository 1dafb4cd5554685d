export { BasicBlock, Bottleneck, bottleneckForward, ResNet, ResNetTrunk, resnet, resnetConfigs, type BlockClass, type BottleneckLayers, type ResNetName, type ResNetOptions } from './resnet.js';
export {
  encodeSafetensors,
  type EncodableEntry,
  halfToFloat,
  parseSafetensors,
  readSafetensors,
  SafetensorsError,
  writeSafetensors,
  type SafetensorsDtype,
  type SafetensorsEntry,
} from './importers/safetensors.js';
export { chwColumnsToHwc, depthwiseToHwc, flattenedInputOf, hwcColumnsToChw, loadTorchStateDict, markFlattenedInput, oihwToHwio } from './importers/torchLayout.js';
export { InvertedResidual, makeDivisible, MobileNetV2, mobilenetV2, mobileNetV2Table, type InvertedResidualRow, type MobileNetV2Flavour, type MobileNetV2Options } from './mobilenetV2.js';
export {
  kerasMobileNetV2Name,
  loadKerasDenseHead,
  kerasMobileNetV2ToGraft,
  loadKerasMobileNetV2,
  parseTfjsLayersModel,
  readTfjsLayersModel,
  TfjsLayersError,
  type TfjsDtype,
  type TfjsEntry,
  type TfjsLayersModel,
  type TfjsModelJson,
  type TfjsQuantizationDtype,
  type TfjsWeightSpec,
  type TfjsWeightsGroup,
} from './importers/tfjsLayers.js';
export { parseTorchZip, readTorchZip, TorchZipError } from './importers/torchZip.js';
export { KerasH5Error, loadKerasH5MobileNetV2, loadKerasH5ResNet, readKerasH5, type KerasH5Entry, type KerasH5Weights } from './importers/kerasH5.js';
export { hwcToDepthwise, hwioToOihw, torchStateDict } from './importers/torchLayout.js';
export {
  kerasCaffe,
  kerasMobileNet,
  preprocess,
  preprocessingFor,
  hfPreprocessing,
  timmDefaultCfg,
  type HfPreprocessorConfig,
  samePreprocessing,
  resolvePreprocessing,
  timmPreprocessing,
  torchvision,
  torchvisionV2,
  type Interpolation,
  type Preprocessing,
  type TimmPretrainedCfg,
  type WeightsOrigin,
} from './preprocessing.js';
export { configFile, exportFormat, exportSafetensors, exportVersion, loadExported, readExportConfig, weightsFile, type ExportConfig, type ExportOptions } from './export.js';
export { AdaptiveAvgPoolIdentity, GlobalMaxPool, VGG, vgg, vgg16, vgg19, vggConfigs, vggFeatures, vggParameterCount, type VggEntry, type VggName, type VggOptions, type VggPooling } from './vgg.js';
export { graftHead, withHead, WithHead, type HeadOptions } from './head.js';
export { formatSummary, summary, type Summary, type SummaryRow } from './summary.js';
export { KerasBottleneck, KerasResNet, kerasResNet, kerasResNetBnEps, kerasResNetConfigs, kerasResNetName, kerasResNetToGraft, loadKerasResNet, type KerasResNetOptions, type KerasResNetVariant } from './resnetKeras.js';
export { loadOnnxInitializers, OnnxError, parseOnnx, readOnnx, type OnnxLoadResult, type OnnxDtype, type OnnxEntry, type OnnxModel, type OnnxNode } from './importers/onnx.js';
export { detectWeightsFormat, loadPretrained, PretrainedError, timmConfigBeside, unwrapStateDict, type LoadPretrainedOptions, type PretrainedLoad, type WeightsFormat } from './pretrained.js';
export { kerasVggToGraft, loadKerasVgg } from './vggKeras.js';
export { encodeOnnx, exportOnnx, onnxIrVersion, onnxOpset, type OnnxExportOptions } from './exporters/onnx.js';
export { stateDictConvention, toTorchvisionNames, type StateDictConvention } from './importers/stateDictNames.js';
export { writeFileAtomic } from './atomicWrite.js';
