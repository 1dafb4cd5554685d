export { BasicBlock, Bottleneck, ResNet, resnet, resnetConfigs, type BlockClass, type ResNetName, type ResNetOptions } from './resnet.js';
export {
  encodeSafetensors,
  halfToFloat,
  parseSafetensors,
  readSafetensors,
  SafetensorsError,
  writeSafetensors,
  type SafetensorsDtype,
  type SafetensorsEntry,
} from './importers/safetensors.js';
export { depthwiseToHwc, loadTorchStateDict, oihwToHwio } from './importers/torchLayout.js';
export { InvertedResidual, makeDivisible, MobileNetV2, mobilenetV2, mobileNetV2Table, type InvertedResidualRow, type MobileNetV2Flavour, type MobileNetV2Options } from './mobilenetV2.js';
export {
  kerasMobileNetV2Name,
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
export { KerasH5Error, loadKerasH5MobileNetV2, readKerasH5, type KerasH5Entry, type KerasH5Weights } from './importers/kerasH5.js';
