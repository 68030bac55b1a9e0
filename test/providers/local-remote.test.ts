// The shared contract suite through a real supervisor process: what `runway deploy` on a local
// environment talks to (control API, long-poll waits, the event stream).

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after } from 'node:test';
import { runProviderContract } from './contract-suite.js';
import { killTagged, leftovers, remoteHarness } from './local-fixtures.js';

const TAG = randomUUID();

runProviderContract('local (through its supervisor)', remoteHarness(TAG));

after(async () => {
  const left = await leftovers(TAG);
  killTagged(TAG);
  assert.deepEqual(left, [], 'no supervisor or machine process outlives the suite');
});
