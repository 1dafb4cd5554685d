export * from './compare.js';
export * from './gradcheck.js';
export * from './random.js';
export * from './testGpu.js';
export * from './fixtures.js';
export * from './workgroupLimit.js';
