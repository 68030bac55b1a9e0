// Simulated fleets' state (opaque JSON), kept so that `sim` fleets survive between CLI runs.

import type { StoreContext } from './store-context.js';

export function loadSimFleet(s: StoreContext, app: string, env: string): Promise<unknown | undefined> {
  return s.run(async () => {
    const row = await s.db
      .selectFrom('sim_fleets')
      .select('state')
      .where('app', '=', app)
      .where('env', '=', env)
      .executeTakeFirst();
    return row === undefined ? undefined : (JSON.parse(row.state) as unknown);
  });
}

/** Saving `undefined` forgets the fleet (load then returns undefined). */
export function saveSimFleet(s: StoreContext, app: string, env: string, state: unknown): Promise<void> {
  return s.run(async () => {
    const text = state === undefined ? undefined : JSON.stringify(state);
    if (text === undefined) {
      await s.db.deleteFrom('sim_fleets').where('app', '=', app).where('env', '=', env).execute();
      return;
    }
    await s.db
      .insertInto('sim_fleets')
      .values({ app, env, state: text })
      .onConflict((oc) => oc.columns(['app', 'env']).doUpdateSet((eb) => ({ state: eb.ref('excluded.state') })))
      .execute();
  });
}
