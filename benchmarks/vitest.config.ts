import { graftVitestConfig } from '../vitest.shared.js';

// Only the harness's GPU-free parts are unit-tested here; timing belongs to `bench`, not to tests.
export default graftVitestConfig('benchmarks');
