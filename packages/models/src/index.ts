export { BasicBlock, Bottleneck, MaxPool2d, ResNet, resnet, resnetConfigs, type BlockClass, type ResNetName, type ResNetOptions } from './resnet.js';
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
