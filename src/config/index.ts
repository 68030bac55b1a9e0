// The configuration layer's public API.

export type * from './types.js';
export { ConfigError, type ConfigProblem } from './errors.js';
export { loadConfig, parseConfig, DEFAULT_STORE_URL, type ParseOptions } from './load.js';
export { getEnvironment } from './environment.js';
export { resolveStrategySettings, connectionBudgetCap, DEPLOY_DEFAULTS } from './settings.js';
export { explainVarsJson, type VarsExplanation, type VarExplanation } from './explain.js';
export { importFlyToml, renderRunwayToml, type FlyImport } from './fly-toml.js';
export { mergeSimOptions, type SimOverrides } from './sim-options.js';
export { STRATEGY_VAR, STRATEGY_ALIAS, DEFAULT_STRATEGY, type LayeredVar } from './layers.js';
export { parseDurationMs, parseBudget } from './values.js';
