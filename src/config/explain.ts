// `runway vars explain`: every effective variable of an environment, the layer it came from and what
// it overrides, plus how the strategy was chosen.

import type { StrategyName } from '../domain/types.js';
import type { EnvironmentConfig, VarLayer } from './types.js';
import type { LayeredVar } from './layers.js';

export interface VarExplanation {
  name: string;
  value: string;
  layer: VarLayer;
  /** Set when the value was imported (e.g. from fly.toml) rather than written in runway.toml. */
  origin?: string;
  /** Lower layers' values this one hides, highest first. */
  overrides: { layer: VarLayer; value: string }[];
}

export interface VarsExplanation {
  environment: string;
  strategy: StrategyName;
  strategySource: string;
  vars: VarExplanation[];
}

/** The JSON form (`--json`): variables sorted by name. */
export function explainVarsJson(env: EnvironmentConfig): VarsExplanation {
  const vars = Object.values(env.vars)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((v): VarExplanation => {
      const origin = (v as LayeredVar).origin;
      return {
        name: v.name,
        value: v.value,
        layer: v.layer,
        ...(origin ? { origin } : {}),
        overrides: [...v.overridden].reverse(),
      };
    });
  return { environment: env.name, strategy: env.strategy, strategySource: env.strategySource, vars };
}
