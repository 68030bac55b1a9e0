// The text form of `runway vars explain`; the data (and its --json form) comes from config/explain.ts.

import type { EnvironmentConfig } from '../config/types.js';
import { explainVarsJson } from '../config/explain.js';
import { fitWidths, tableRows } from './table.js';

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
  const layout = { widths: fitWidths([header, ...rows]), gap: '  ', trimEnd: true };
  const out = [`environment: ${data.environment}`];
  if (rows.length) out.push(...tableRows(layout, [header, ...rows]));
  else out.push('(no variables set in any layer)');
  out.push(`strategy: ${data.strategy} ← ${data.strategySource}`);
  return out.join('\n');
}
