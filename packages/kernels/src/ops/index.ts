export * from './matmul.js';
export * from './sumRows.js';
