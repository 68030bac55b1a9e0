// Machine events: what the fleet was seen doing during a deploy, in the order they were recorded.

import type { Insertable } from 'kysely';
import { StoreError, type StoredMachineEvent } from '../contract.js';
import type { MachineEventsTable } from '../schema.js';
import { classifyDbError } from '../db-errors.js';
import { chunks, rowsPerInsert } from '../bulk-insert.js';
import { millis } from './column-values.js';
import type { StoreContext } from './store-context.js';

const MACHINE_EVENT_COLUMNS = 9;

/** Append events in one transaction. Fails with StoreError('not_found') if a deployId is unknown. */
export function appendMachineEvents(s: StoreContext, events: StoredMachineEvent[]): Promise<void> {
  if (events.length === 0) return Promise.resolve();
  return s.transaction(async (trx) => {
    const rows: Insertable<MachineEventsTable>[] = events.map((event) => ({
      deploy_id: event.deployId,
      app: event.app,
      env: event.env,
      machine_id: event.machineId,
      at_ms: event.atMs,
      type: event.type,
      state: event.state,
      release: event.release,
      health: event.health,
    }));
    try {
      for (const chunk of chunks(rows, rowsPerInsert(MACHINE_EVENT_COLUMNS))) {
        await s.bulk.insert(trx, 'machine_events', chunk);
      }
    } catch (error) {
      if (classifyDbError(error) === 'foreign_key') {
        const ids = [...new Set(events.map((e) => e.deployId).filter((id) => id !== null))].join(', ');
        throw new StoreError('not_found', `cannot record machine events: unknown deploy among ${ids}`);
      }
      throw error;
    }
  });
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
