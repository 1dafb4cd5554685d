// Skeleton: filled by the autograd and models issues.
export {};
