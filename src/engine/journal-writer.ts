// Buffers journal entries and machine events so a 10,000-machine deploy writes them in a few hundred
// multi-row inserts instead of tens of thousands of single ones. Flushed at every wave boundary.

import type { JournalEntry, Store, StoredMachineEvent } from '../store/contract.js';

const FLUSH_AT = 500;

export class JournalWriter {
  private entries: JournalEntry[] = [];
  private events: StoredMachineEvent[] = [];
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly store: Store) {}

  add(entry: JournalEntry): void {
    this.entries.push(entry);
    if (this.entries.length >= FLUSH_AT) void this.flush();
  }

  addEvent(event: StoredMachineEvent): void {
    this.events.push(event);
    if (this.events.length >= FLUSH_AT) void this.flush();
  }

  /** Write everything buffered so far; flushes are serialised so entries keep their order. */
  flush(): Promise<void> {
    const entries = this.entries;
    const events = this.events;
    this.entries = [];
    this.events = [];
    this.flushing = this.flushing.then(async () => {
      if (entries.length > 0) await this.store.appendJournal(entries);
      if (events.length > 0) await this.store.appendMachineEvents(events);
    });
    return this.flushing;
  }
}
