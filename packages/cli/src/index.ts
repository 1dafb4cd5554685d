export { buildProgram, main } from './main.js';
export { GraftModel } from './train/graftModel.js';
export { loadBackbone, modelNames, type LoadedBackbone, type ModelName } from './train/backbones.js';
export { backboneStages, type Stage } from './train/stages.js';
