import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatKey, keyLines, lineOf } from '../../src/config/key-lines.js';

const DOC = `# comment with [not.a.table] and key = 1
title = "a # not a comment"
[app]
name = "x"   # trailing
vars = { A = "1", B = { C = 2 } }
deploy.max_surge = "10%"

[[app.checks]]
name = "one"
[[app.checks]]
name = "two"
text = """
multi
line = not a key
"""
port = 80

[[services]]
  [[services.http_checks]]
  path = "/a"
[[services]]
  [services.concurrency]
  hard_limit = 3
  [[services.http_checks]]
  path = "/b"
  [[services.http_checks]]
  path = "/c"

["quoted.key"]
list = [
  { a = 1 },
  { a = 2 },
]
`;

describe('keyLines', () => {
  const lines = keyLines(DOC);
  const at = (key: string) => lines.get(key);

  it('maps keys, dotted keys and inline tables to their lines', () => {
    assert.equal(at('title'), 2);
    assert.equal(at('app'), 3);
    assert.equal(at('app.name'), 4);
    assert.equal(at('app.vars.A'), 5);
    assert.equal(at('app.vars.B.C'), 5);
    assert.equal(at('app.deploy.max_surge'), 6);
  });

  it('numbers arrays of tables, nested ones per parent element', () => {
    assert.equal(at('app.checks.0.name'), 9);
    assert.equal(at('app.checks.1'), 10);
    assert.equal(at('app.checks.1.port'), 16);
    assert.equal(at('app.checks.1.line'), undefined, 'text inside a multi-line string is not a key');
    assert.equal(at('services.0.http_checks.0.path'), 20);
    assert.equal(at('services.1.concurrency.hard_limit'), 23);
    assert.equal(at('services.1.http_checks.0.path'), 25);
    assert.equal(at('services.1.http_checks.1.path'), 27);
  });

  it('handles quoted keys and arrays of inline tables', () => {
    assert.equal(at('quoted.key.list'), 30);
    assert.equal(at('quoted.key.list.1.a'), 32);
  });

  it('falls back to the nearest written ancestor', () => {
    assert.equal(lineOf(lines, ['app', 'checks', 1, 'interval']), 10);
    assert.equal(lineOf(lines, ['nowhere', 'x']), undefined);
  });
});

describe('formatKey', () => {
  it('dots names, brackets indices and quotes odd names', () => {
    assert.equal(formatKey(['app', 'checks', 0, 'port']), 'app.checks[0].port');
    assert.equal(formatKey(['environments', 'pro duction']), 'environments."pro duction"');
  });
});
