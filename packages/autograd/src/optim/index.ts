export { decaysWeight, layerwiseLrGroups, resolveParamGroups, type GroupHyperparameters, type NamedParameters, type ParamGroup, type ParamGroupSpec, type ParamSelector, type ResolveOptions } from './paramGroups.js';
export { Optimizer, type GroupingOptions, type OptimizerStateDict, type Slot } from './optimizer.js';
export { SGD, type SgdHyperparameters, type SgdOptions } from './sgd.js';
export { Adam, AdamW, type AdamHyperparameters, type AdamOptions } from './adam.js';
export { clipGradNorm } from './clip.js';
export { cosineAnnealing, linearWarmup, oneCycle, Scheduler, stepLr, withWarmup, type LrGroup, type OneCycleOptions, type Schedule, type SchedulerState, type WarmupOptions } from './schedules.js';
