export { formatLoadProblems, Module, copyInto, type HostEntry, type Layer, type LoadResult } from './module.js';
export { BatchNorm2d, Conv2d, Dropout, Flatten, GlobalAvgPool, Linear, MaxPool2d, ReLU, ReLU6, Sequential, type BatchNorm2dOptions, type Conv2dOptions } from './layers.js';
export { freeze, freezeAllButLast, freezeByName, globToRegExp, unfreeze, type FreezeOptions } from './freeze.js';
export { manualSeed, seededRandom } from './init.js';
export { convBatchNorm, fusion } from './fusion.js';
