/** Outputs appear whole or not at all: one implementation for every package (see @graft/models' atomicWrite.ts). */
export { writeFileAtomic } from '@graft/models';
