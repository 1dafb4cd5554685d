/** The data pipeline: datasets (image folders, CIFAR-10), decoding, augmentation and batch loading. */
export { DatasetError, imageExtensions, scanImageFolder, stratifiedSplit } from './sources.js';
export type { Dataset, ImageRef, Sample, ScanOptions } from './sources.js';
export { cifar10ClassNames, readCifar10 } from './cifar10.js';
export type { Cifar10Options } from './cifar10.js';
export { DecodeError, decodeImage, imageSpecFor } from './decode.js';
export type { ImageSpec } from './decode.js';
export { AugmentError, checkAugmentOptions, defaultRandomResizedCrop, drawAugment, identityAugment } from './augment.js';
export type { AugmentOptions, AugmentParams } from './augment.js';
export { createDecodePool, defaultWorkerCount } from './pool.js';
export type { DecodePool } from './pool.js';
export { loadBatches, toModelInput } from './loader.js';
export type { Batch, BatchLoader, LoaderOptions, LoaderStats } from './loader.js';
