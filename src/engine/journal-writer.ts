// Buffers journal entries and machine events so a 10,000-machine deploy writes them in a few hundred
// multi-row inserts instead of tens of thousands of single ones. Flushed at every wave boundary.

import type { JournalEntry, Store, StoredMachineEvent } from '../store/contract.js';
import type { StoreGate } from './store-gate.js';

const FLUSH_AT = 500;

export class JournalWriter {
  private entries: JournalEntry[] = [];
  private events: StoredMachineEvent[] = [];
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    /** Told when a write fails (the store is down) and when one succeeds again. */
    private readonly gate?: StoreGate,
  ) {}

  add(entry: JournalEntry): void {
    this.entries.push(entry);
    if (this.entries.length >= FLUSH_AT) void this.flush();
  }

  addEvent(event: StoredMachineEvent): void {
    this.events.push(event);
    if (this.events.length >= FLUSH_AT) void this.flush();
  }

  /**
   * Write everything buffered so far; flushes are serialised so entries keep their order. A write the
   * store refuses is kept for the next flush (nothing is lost) and closes the gate; never throws.
   */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      const entries = this.entries;
      const events = this.events;
      this.entries = [];
      this.events = [];
      try {
        if (entries.length > 0) await this.store.appendJournal(entries);
      } catch (err) {
        this.entries = [...entries, ...this.entries];
        this.events = [...events, ...this.events];
        this.gate?.markDown(err);
        return;
      }
      try {
        if (events.length > 0) await this.store.appendMachineEvents(events);
      } catch (err) {
        this.events = [...events, ...this.events];
        this.gate?.markDown(err);
      }
    });
    return this.flushing;
  }

  /** Entries and events not yet written. */
  get pending(): number {
    return this.entries.length + this.events.length;
  }
}
