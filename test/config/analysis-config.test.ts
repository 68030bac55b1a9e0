import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { BASE, configError } from './helpers.js';

const LOCAL = `${BASE}
[environments.staging]
provider = "local"
`;

function analysisError(tables: string, base = LOCAL) {
  return configError(() => parseConfig(`${base}${tables}`, 'runway.toml'));
}

describe('[[app.analysis]] in runway.toml', () => {
  it('builds each environment an analysis spec with defaults', () => {
    const config = parseConfig(
      `${LOCAL}
[prometheus]
url = "http://127.0.0.1:9090"

[[app.analysis]]
name = "errors"
metric = "error_rate"
max = 0.02
max_ratio = 2

[[app.analysis]]
name = "slow"
metric = "latency"
quantile = 0.99
max_ratio = 1.5
group = "web"
interval = "5s"
window = "20s"
count = 4
failure_limit = 2

[[app.analysis]]
name = "checkout"
metric = "query"
query = 'sum(rate(errors_total{release="{{release}}"}[{{window}}]))'
max = 1
`,
      'runway.toml',
    );
    const spec = config.environments['staging']!.analysis;
    assert.deepEqual(spec.entries[0], {
      name: 'errors',
      metric: { kind: 'error_rate' },
      source: 'proxy',
      windowMs: 10_000,
      intervalMs: 10_000,
      count: 3,
      failureLimit: 1,
      minRequests: 10,
      max: 0.02,
      maxRatio: 2,
    });
    assert.deepEqual(spec.entries[1], {
      name: 'slow',
      metric: { kind: 'latency', quantile: 0.99 },
      source: 'proxy',
      group: 'web',
      windowMs: 20_000,
      intervalMs: 5_000,
      count: 4,
      failureLimit: 2,
      minRequests: 10,
      maxRatio: 1.5,
    });
    assert.equal(spec.entries[2]!.source, 'prometheus');
    assert.deepEqual(spec.prometheus, { url: 'http://127.0.0.1:9090' });
  });

  it("an environment's list replaces the app's, and an empty one turns analysis off there", () => {
    const config = parseConfig(
      `${LOCAL}analysis = []

[environments.review]
provider = "local"
[[environments.review.analysis]]
name = "strict"
metric = "error_rate"
max = 0

[[app.analysis]]
name = "errors"
metric = "error_rate"
max = 0.05
`,
      'runway.toml',
    );
    assert.deepEqual(config.environments['staging']!.analysis.entries, []);
    assert.deepEqual(
      config.environments['review']!.analysis.entries.map((e) => e.name),
      ['strict'],
    );
  });

  const bad: [string, string, string, number][] = [
    ['no limit', '[[app.analysis]]\nname = "e"\nmetric = "error_rate"\n', 'app.analysis[0].metric: set a limit', 12],
    [
      'an error rate above 1',
      '[[app.analysis]]\nname = "e"\nmetric = "error_rate"\nmax = 5\n',
      'app.analysis[0].max: an error rate is a share between 0 and 1',
      13,
    ],
    [
      'latency without quantile',
      '[[app.analysis]]\nname = "l"\nmetric = "latency"\nmax = 100\n',
      'app.analysis[0].metric: latency needs quantile',
      12,
    ],
    [
      'a quantile of 99',
      '[[app.analysis]]\nname = "l"\nmetric = "latency"\nquantile = 99\nmax = 100\n',
      'app.analysis[0].quantile: a quantile is between 0 and 1',
      13,
    ],
    [
      'an unknown key',
      '[[app.analysis]]\nname = "e"\nmetric = "error_rate"\nmax = 0.1\nthreshold = 3\n',
      'app.analysis[0].threshold: unknown key',
      14,
    ],
    [
      'failure_limit above count',
      '[[app.analysis]]\nname = "e"\nmetric = "error_rate"\nmax = 0.1\ncount = 2\nfailure_limit = 3\n',
      'app.analysis[0].failure_limit: 3 failed measurements can never happen in 2',
      15,
    ],
    [
      'a query without [prometheus]',
      '[[app.analysis]]\nname = "q"\nmetric = "query"\nquery = "up"\nmax = 1\n',
      'app.analysis[0].metric: a query needs [prometheus]',
      12,
    ],
    [
      'a query sent to the proxy',
      '[[app.analysis]]\nname = "q"\nmetric = "query"\nquery = "up"\nsource = "proxy"\nmax = 1\n',
      'app.analysis[0].source: the proxy measures error_rate and latency',
      14,
    ],
    [
      'an unknown group',
      '[[app.analysis]]\nname = "e"\nmetric = "error_rate"\nmax = 0.1\ngroup = "api"\n',
      'app.analysis[0].group: no process group "api"',
      14,
    ],
    [
      'a name twice',
      '[[app.analysis]]\nname = "e"\nmetric = "error_rate"\nmax = 0.1\n[[app.analysis]]\nname = "e"\nmetric = "error_rate"\nmax = 0.2\n',
      'app.analysis[1].name: names analysis "e" twice',
      15,
    ],
    [
      'a negative window',
      '[[app.analysis]]\nname = "e"\nmetric = "error_rate"\nmax = 0.1\nwindow = "-3s"\n',
      'app.analysis[0].window',
      14,
    ],
  ];
  for (const [what, tables, message, line] of bad) {
    it(`refuses ${what}, naming file, key and line`, () => {
      const err = analysisError(tables);
      assert.match(err.message, new RegExp(`runway\\.toml:${line}: ${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    });
  }

  it('refuses the proxy source where the provider has no proxy of its own', () => {
    const err = analysisError(
      '[[app.analysis]]\nname = "e"\nmetric = "error_rate"\nmax = 0.1\n',
      `${BASE}\n[environments.production]\nprovider = "fly"\n`,
    );
    assert.match(
      err.message,
      /runway\.toml:\d+: app\.analysis\[0\]\.metric: the proxy source counts requests in the local provider's proxy; the fly provider has none here.*\(in environment production\)/,
    );
  });

  it('refuses [prometheus] with a URL that is not http(s)', () => {
    const err = analysisError('[prometheus]\nurl = "prom:9090"\n');
    assert.match(err.message, /runway\.toml:\d+: prometheus\.url: expected an http:\/\/ or https:\/\/ URL/);
  });
});
