// Machine events: what the fleet was seen doing during a deploy, in the order they were recorded.

import type { Insertable } from 'kysely';
import { StoreError, type StoredMachineEvent } from '../contract.js';
import type { MachineEventsTable } from '../schema.js';
import { classifyDbError } from '../db-errors.js';
import { millis } from './column-values.js';
import type { StoreContext } from './store-context.js';

/** The columns an event is stored in, in the order `eventValues` writes them. */
const MACHINE_EVENT_COLUMNS = [
  'deploy_id',
  'app',
  'env',
  'machine_id',
  'at_ms',
  'type',
  'state',
  'release',
  'health',
] as const satisfies readonly (keyof Insertable<MachineEventsTable>)[];

/** Append events in one transaction. Fails with StoreError('not_found') if a deployId is unknown. */
export function appendMachineEvents(s: StoreContext, events: StoredMachineEvent[]): Promise<void> {
  if (events.length === 0) return Promise.resolve();
  return s.transaction(async (trx) => {
    try {
      // The values straight from the events (a deploy of 10,000 machines stores ~50,000): no row objects.
      await s.bulk.insertColumns(trx, 'machine_events', MACHINE_EVENT_COLUMNS, events.length, (from, count) =>
        eventValues(events, from, count),
      );
    } catch (error) {
      if (classifyDbError(error) === 'foreign_key') {
        const ids = [...new Set(events.map((e) => e.deployId).filter((id) => id !== null))].join(', ');
        throw new StoreError('not_found', `cannot record machine events: unknown deploy among ${ids}`);
      }
      throw error;
    }
  });
}

/** The values of `count` events from `from`, row by row, in the order of MACHINE_EVENT_COLUMNS. */
function eventValues(events: readonly StoredMachineEvent[], from: number, count: number): unknown[] {
  const values: unknown[] = new Array(count * MACHINE_EVENT_COLUMNS.length);
  let i = 0;
  for (let r = from; r < from + count; r++) {
    const event = events[r]!;
    values[i++] = event.deployId;
    values[i++] = event.app;
    values[i++] = event.env;
    values[i++] = event.machineId;
    values[i++] = event.atMs;
    values[i++] = event.type;
    values[i++] = event.state;
    values[i++] = event.release;
    values[i++] = event.health;
  }
  return values;
}

/** In the order they were appended. */
export function listMachineEvents(s: StoreContext, deployId: string): Promise<StoredMachineEvent[]> {
  return s.run(async () => {
    const rows = await s.db
      .selectFrom('machine_events')
      .selectAll()
      .where('deploy_id', '=', deployId)
      .orderBy('id', 'asc')
      .execute();
    return rows.map((row) => ({
      deployId: row.deploy_id,
      app: row.app,
      env: row.env,
      machineId: row.machine_id,
      atMs: millis(row.at_ms),
      type: row.type,
      state: row.state,
      release: row.release,
      health: row.health,
    }));
  });
}
