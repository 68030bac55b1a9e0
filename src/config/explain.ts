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

/**
 * A table such as
 * ```
 * NAME             VALUE      LAYER        OVERRIDES
 * DEPLOY_STRATEGY  immediate  environment  app="rolling", org="bluegreen"
 * strategy: immediate ← DEPLOY_STRATEGY = "immediate" (environment layer)
 * ```
 */
export function explainVars(env: EnvironmentConfig): string {
  const data = explainVarsJson(env);
  const rows = data.vars.map((v) => [
    v.name,
    v.value,
    v.origin ? `${v.layer} (${v.origin})` : v.layer,
    v.overrides.length ? `overrides ${v.overrides.map((o) => `${o.layer}=${JSON.stringify(o.value)}`).join(', ')}` : '',
  ]);
  const header = ['NAME', 'VALUE', 'LAYER', 'OVERRIDES'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const out = [`environment: ${data.environment}`];
  if (rows.length) out.push(line(header), ...rows.map(line));
  else out.push('(no variables set in any layer)');
  out.push(`strategy: ${data.strategy} ← ${data.strategySource}`);
  return out.join('\n');
}
