// The overview names serving machines left out of traffic (cordoned or stopped) when no deploy is
// running there: what settling could not put back after a deploy gave up, for a person to see.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHarness, type Harness } from '../server/harness.js';
import { DASHBOARD_CONFIG } from './fixtures.js';

let h: Harness;

/** The first `overview` event of the overview stream (the environment cards as HTML). */
async function overviewEvent(token: string): Promise<{ cards: Record<string, string> }[]> {
  const controller = new AbortController();
  const res = await fetch(h.url + '/api/overview/events', {
    headers: { authorization: `Bearer ${token}` },
    signal: controller.signal,
  });
  assert.equal(res.status, 200);
  let text = '';
  const decoder = new TextDecoder();
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk, { stream: true });
      const m = /event: overview\ndata: (.*)\n\n/.exec(text);
      if (m) return [JSON.parse(m[1]!)];
    }
  } finally {
    controller.abort();
  }
  throw new Error(`no overview event: ${text.slice(0, 300)}`);
}

before(async () => {
  h = await startHarness({ config: DASHBOARD_CONFIG(40) });
});
after(async () => {
  await h?.close();
});

describe('the overview and machines out of traffic', () => {
  it('counts and names serving machines cordoned or stopped, in the environment card', async () => {
    const scope = { app: 'shop', env: 'qa' };
    const session = await h.server.deploys.openSession('qa');
    let cordoned: string;
    let stopped: string;
    try {
      const fleet = await session.provider.list(scope);
      assert.ok(fleet.length >= 2, 'a seeded fleet');
      cordoned = fleet[0]!.id;
      stopped = fleet[1]!.id;
      await session.provider.cordon(scope, cordoned);
      await session.provider.stop(scope, stopped);
      await session.provider.waitFor(scope, stopped, { state: 'stopped' }, 600_000);
      await session.save();
    } finally {
      await session.close();
    }
    const viewer = await h.token('vera', 'viewer');
    const [overview] = await overviewEvent(viewer);
    const body = overview!.cards.qa!;
    const m = /id="out-of-traffic-qa" title="([^"]*)">(\d+) out of traffic \(cordoned or stopped\)/.exec(body);
    assert.ok(m, `the qa card says machines are out of traffic: ${body.slice(0, 400)}`);
    assert.equal(m[2], '2');
    assert.deepEqual(m[1]!.split(', ').sort(), [cordoned, stopped].sort());
    assert.doesNotMatch(overview!.cards.production!, /out-of-traffic-production/, 'production serves whole');
  });
});
