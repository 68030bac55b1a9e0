import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { explainVarsJson } from '../../src/config/explain.js';
import { explainVars } from '../../src/cli/explain-vars.js';
import { layerVars, resolveStrategy, type VarLayerInput } from '../../src/config/layers.js';
import { parseConfig } from '../../src/config/load.js';
import { BASE, configError } from './helpers.js';

const LAYERED = `
[org]
vars = { LOG_LEVEL = "debug", REGION = "ord", DEPLOY_STRATEGY = "bluegreen" }

[app]
name = "mechanic"
vars = { LOG_LEVEL = "info", FEATURE_X = true, WORKERS = 4 }

[environments.production]
provider = "sim"
vars = { LOG_LEVEL = "warn", DEPLOY_STRATEGY = "immediate" }

[environments.staging]
provider = "sim"
`;

function layers(spec: Partial<Record<'org' | 'app' | 'environment', Record<string, string>>>): VarLayerInput[] {
  return (['org', 'app', 'environment'] as const).map((layer) => ({
    layer,
    entries: Object.entries(spec[layer] ?? {}).map(([name, value]) => ({
      name,
      value,
      file: 'runway.toml',
      key: `${layer}.vars.${name}`,
    })),
  }));
}

describe('layered variables', () => {
  it('lets environment beat app beat org, recording what was overridden', () => {
    const c = parseConfig(LAYERED, 'runway.toml');
    const prod = c.environments.production!.vars;
    assert.deepEqual(prod.LOG_LEVEL, {
      name: 'LOG_LEVEL',
      value: 'warn',
      layer: 'environment',
      overridden: [
        { layer: 'org', value: 'debug' },
        { layer: 'app', value: 'info' },
      ],
    });
    assert.deepEqual(prod.REGION, { name: 'REGION', value: 'ord', layer: 'org', overridden: [] });
    assert.equal(prod.FEATURE_X!.value, 'true', 'booleans are kept as their text');
    assert.equal(prod.WORKERS!.value, '4');

    const staging = c.environments.staging!.vars;
    assert.equal(staging.LOG_LEVEL!.value, 'info');
    assert.equal(staging.LOG_LEVEL!.layer, 'app');
    assert.deepEqual(staging.LOG_LEVEL!.overridden, [{ layer: 'org', value: 'debug' }]);
  });

  it('picks the strategy from the highest layer and says where it came from', () => {
    const c = parseConfig(LAYERED, 'runway.toml');
    assert.equal(c.environments.production!.strategy, 'immediate');
    assert.equal(c.environments.production!.strategySource, 'DEPLOY_STRATEGY = "immediate" (environment layer)');
    assert.equal(c.environments.staging!.strategy, 'bluegreen');
    assert.equal(c.environments.staging!.strategySource, 'DEPLOY_STRATEGY = "bluegreen" (org layer)');
  });

  it('normalises the case of strategy values but keeps the variable as written', () => {
    const c = parseConfig(
      `${BASE}[environments.p]\nprovider = "sim"\nvars = { DEPLOY_STRATEGY = " Waves " }\n`,
      'runway.toml',
    );
    assert.equal(c.environments.p!.strategy, 'waves');
    assert.equal(c.environments.p!.vars.DEPLOY_STRATEGY!.value, ' Waves ');
  });
});

describe('FLY_DEPLOY_STRATEGY alias', () => {
  it('is used when DEPLOY_STRATEGY is not set anywhere', () => {
    const r = resolveStrategy(layers({ app: { FLY_DEPLOY_STRATEGY: 'canary' } }));
    assert.equal(r.strategy, 'canary');
    assert.equal(r.source, 'FLY_DEPLOY_STRATEGY = "canary" (app layer; alias of DEPLOY_STRATEGY)');
  });

  it('loses to DEPLOY_STRATEGY in the same layer, and the source says so', () => {
    const r = resolveStrategy(layers({ environment: { DEPLOY_STRATEGY: 'waves', FLY_DEPLOY_STRATEGY: 'canary' } }));
    assert.equal(r.strategy, 'waves');
    assert.match(
      r.source,
      /^DEPLOY_STRATEGY = "waves" \(environment layer; FLY_DEPLOY_STRATEGY = "canary" in the same layer ignored\)$/,
    );
  });

  it('in a higher layer beats DEPLOY_STRATEGY in a lower one (layer order first)', () => {
    const r = resolveStrategy(
      layers({ org: { DEPLOY_STRATEGY: 'bluegreen' }, environment: { FLY_DEPLOY_STRATEGY: 'immediate' } }),
    );
    assert.equal(r.strategy, 'immediate');
    const lower = resolveStrategy(
      layers({ org: { FLY_DEPLOY_STRATEGY: 'bluegreen' }, app: { DEPLOY_STRATEGY: 'canary' } }),
    );
    assert.equal(lower.strategy, 'canary');
  });

  it('works end to end from runway.toml', () => {
    const c = parseConfig(
      `[org]\nvars = { DEPLOY_STRATEGY = "bluegreen" }\n${BASE}[environments.p]\nprovider = "sim"\nvars = { FLY_DEPLOY_STRATEGY = "canary" }\n`,
      'runway.toml',
    );
    assert.equal(c.environments.p!.strategy, 'canary');
  });

  it('is validated like the canonical name', () => {
    const err = configError(() => resolveStrategy(layers({ org: { FLY_DEPLOY_STRATEGY: 'slow' } })));
    assert.equal(err.key, 'org.vars.FLY_DEPLOY_STRATEGY');
    assert.match(err.problem, /unknown strategy "slow" in FLY_DEPLOY_STRATEGY \(org layer\)/);
  });
});

describe('layerVars', () => {
  it('treats names that are Object.prototype members as ordinary variables', () => {
    const vars = layerVars(layers({ org: { constructor: 'o' }, app: { constructor: 'a', toString: 't' } }));
    assert.deepEqual(vars.constructor, {
      name: 'constructor',
      value: 'a',
      layer: 'app',
      overridden: [{ layer: 'org', value: 'o' }],
    });
    assert.equal(new Map(Object.entries(vars)).get('toString')?.value, 't');
  });

  it('lists overridden values lowest first', () => {
    const vars = layerVars(layers({ org: { A: '1' }, app: { A: '2' }, environment: { A: '3' } }));
    assert.deepEqual(
      vars.A!.overridden.map((o) => o.value),
      ['1', '2'],
    );
    assert.equal(vars.A!.layer, 'environment');
  });
});

describe('explainVars', () => {
  it('renders a table with value, layer and what each value overrides, plus the strategy line', () => {
    const c = parseConfig(LAYERED, 'runway.toml');
    const text = explainVars(c.environments.production!);
    const lines = text.split('\n');
    assert.equal(lines[0], 'environment: production');
    assert.match(lines[1]!, /^NAME\s+VALUE\s+LAYER\s+OVERRIDES$/);
    const row = lines.find((l) => l.startsWith('LOG_LEVEL'));
    assert.match(row!, /^LOG_LEVEL\s+warn\s+environment\s+overrides app="info", org="debug"$/);
    const region = lines.find((l) => l.startsWith('REGION'));
    assert.match(region!, /^REGION\s+ord\s+org$/);
    assert.equal(lines.at(-1), 'strategy: immediate ← DEPLOY_STRATEGY = "immediate" (environment layer)');
    // Columns line up: every value starts at the same offset.
    const valueCol = lines[1]!.indexOf('VALUE');
    assert.equal(row!.indexOf('warn'), valueCol);
    assert.equal(region!.indexOf('ord'), valueCol);
  });

  it('offers the same facts as JSON, sorted by name, overrides highest first', () => {
    const c = parseConfig(LAYERED, 'runway.toml');
    const data = explainVarsJson(c.environments.production!);
    assert.equal(data.environment, 'production');
    assert.equal(data.strategy, 'immediate');
    assert.deepEqual(
      data.vars.map((v) => v.name),
      ['DEPLOY_STRATEGY', 'FEATURE_X', 'LOG_LEVEL', 'REGION', 'WORKERS'],
    );
    const log = data.vars.find((v) => v.name === 'LOG_LEVEL')!;
    assert.deepEqual(log.overrides, [
      { layer: 'app', value: 'info' },
      { layer: 'org', value: 'debug' },
    ]);
    assert.deepEqual(JSON.parse(JSON.stringify(data)), data);
  });

  it('says so when no variable is set', () => {
    const c = parseConfig(`${BASE}[environments.p]\nprovider = "sim"\n`, 'runway.toml');
    const text = explainVars(c.environments.p!);
    assert.match(text, /no variables set in any layer/);
    assert.match(text, /strategy: rolling ← default/);
  });
});
