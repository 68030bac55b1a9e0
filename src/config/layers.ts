// Layered variables, as GitHub Actions does them: organisation < app < environment. The strategy
// of an environment is the variable DEPLOY_STRATEGY (FLY_DEPLOY_STRATEGY accepted as an alias).
//
// Alias rule: layer order first, name second. The highest layer that sets either name decides;
// only within one layer does DEPLOY_STRATEGY beat FLY_DEPLOY_STRATEGY. So an environment's
// FLY_DEPLOY_STRATEGY overrides the org's DEPLOY_STRATEGY. The other reading (the canonical name
// always wins) would let an org-wide default silently defeat an environment's explicit choice, which
// breaks the one rule people rely on: the more specific layer wins.

import { STRATEGIES, type StrategyName } from '../domain/types.js';
import type { EffectiveVar, VarLayer } from './types.js';
import { ConfigError } from './errors.js';

export const STRATEGY_VAR = 'DEPLOY_STRATEGY';
export const STRATEGY_ALIAS = 'FLY_DEPLOY_STRATEGY';
export const DEFAULT_STRATEGY: StrategyName = 'rolling';

/** One variable as written (or imported) in one layer, with where it came from. */
export interface VarEntry {
  name: string;
  value: string;
  file: string;
  /** Dotted key where it is set, e.g. `environments.staging.vars.DEPLOY_STRATEGY`. */
  key: string;
  line?: number;
  /** Set when the value was not written in runway.toml, e.g. `imported from fly.toml [deploy] strategy`. */
  origin?: string;
}

export interface VarLayerInput {
  layer: VarLayer;
  entries: VarEntry[];
}

/** An EffectiveVar that also says when the winning value was imported rather than written. */
export interface LayeredVar extends EffectiveVar {
  origin?: string;
}

/** Effective variables; `layers` lowest first (org, app, environment). */
export function layerVars(layers: readonly VarLayerInput[]): Record<string, LayeredVar> {
  // A Map, because variable names like `constructor` must not meet Object.prototype.
  const out = new Map<string, LayeredVar>();
  for (const { layer, entries } of layers) {
    for (const e of entries) {
      const lower = out.get(e.name);
      const overridden = lower ? [...lower.overridden, { layer: lower.layer, value: lower.value }] : [];
      out.set(e.name, { name: e.name, value: e.value, layer, overridden, ...(e.origin ? { origin: e.origin } : {}) });
    }
  }
  return Object.fromEntries(out);
}

export function isStrategyVar(name: string): boolean {
  return name === STRATEGY_VAR || name === STRATEGY_ALIAS;
}

/** The strategy a DEPLOY_STRATEGY value names; ConfigError at the entry's key when it names none. */
export function parseStrategy(entry: VarEntry, layer: VarLayer): StrategyName {
  const value = entry.value.trim().toLowerCase();
  if ((STRATEGIES as readonly string[]).includes(value)) return value as StrategyName;
  throw new ConfigError({
    file: entry.file,
    key: entry.key,
    line: entry.line,
    problem: `unknown strategy ${JSON.stringify(entry.value)} in ${entry.name} (${layer} layer${entry.origin ? `, ${entry.origin}` : ''}); valid strategies: ${STRATEGIES.join(', ')}`,
  });
}

/** Every invalid strategy value in any layer, so a typo in the org layer is caught before it is used. */
export function checkStrategyVars(layers: readonly VarLayerInput[]): ConfigError[] {
  const errors: ConfigError[] = [];
  for (const { layer, entries } of layers) {
    for (const e of entries) {
      if (!isStrategyVar(e.name)) continue;
      try {
        parseStrategy(e, layer);
      } catch (err) {
        errors.push(err as ConfigError);
      }
    }
  }
  return errors;
}

/** The strategy and a sentence saying where it came from; `layers` lowest first. */
export function resolveStrategy(layers: readonly VarLayerInput[]): { strategy: StrategyName; source: string } {
  for (const { layer, entries } of [...layers].reverse()) {
    const canonical = entries.find((e) => e.name === STRATEGY_VAR);
    const alias = entries.find((e) => e.name === STRATEGY_ALIAS);
    const chosen = canonical ?? alias;
    if (!chosen) continue;
    const notes = [`${layer} layer`];
    if (chosen.origin) notes.push(chosen.origin);
    if (chosen === alias) notes.push(`alias of ${STRATEGY_VAR}`);
    if (canonical && alias) notes.push(`${STRATEGY_ALIAS} = ${JSON.stringify(alias.value)} in the same layer ignored`);
    return {
      strategy: parseStrategy(chosen, layer),
      source: `${chosen.name} = ${JSON.stringify(chosen.value)} (${notes.join('; ')})`,
    };
  }
  return { strategy: DEFAULT_STRATEGY, source: `default (${STRATEGY_VAR} not set in any layer)` };
}
