import { graftVitestConfig } from '../../vitest.shared.js';

export default graftVitestConfig('cli');
