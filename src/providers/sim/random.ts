// The seeded random source lives in src/domain/random.ts (the resilient provider's jitter uses it
// too, and a provider must not reach into the sim for it). This name stays for sim/serve, whose
// files are being split (issue 18); import from domain/ in new code.
export * from '../../domain/random.js';
