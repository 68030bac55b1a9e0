// `runway audit [--env E] [--limit N] [--verify] [--json]`: the ledger — who was responsible for
// each deploy, secrets change, emergency and refusal — and, with --verify, a walk of its hash chain
// that names every edited, removed or reordered entry (exit 1 when any is found).

import { escapeTerminal } from '../../domain/free-text.js';
import { verifyLedger } from '../../ledger/ledger.js';
import type { LedgerRecord } from '../../store/contract.js';
import { openContext, type GlobalOptions } from '../context.js';
import { CliError, printJson, type Io } from '../io.js';
import { tableRow } from '../table.js';

export interface AuditOptions extends GlobalOptions {
  env?: string;
  limit?: string;
  verify?: boolean;
  json?: boolean;
}

function summary(e: LedgerRecord): string {
  const d = (e.data ?? {}) as Record<string, unknown>;
  const parts: string[] = [];
  if (typeof d.release === 'string') parts.push(`release ${d.release}`);
  if (typeof d.status === 'string') parts.push(String(d.status));
  if (typeof d.why === 'string') parts.push(`why: ${d.why}`);
  if (Array.isArray(d.set) && d.set.length)
    parts.push(`set ${(d.set as { name: string }[]).map((s) => s.name).join(',')}`);
  if (Array.isArray(d.unset) && d.unset.length) parts.push(`unset ${(d.unset as string[]).join(',')}`);
  if (typeof d.version === 'number') parts.push(`secrets v${d.version}`);
  if (typeof d.previousHolder === 'string') parts.push(`from ${d.previousHolder}`);
  return parts.join('  ');
}

// The time column is always 19 characters wide, so it needs no padding (width 0).
const AUDIT_TABLE = { widths: [6, 0, 22, 12, 26, 20], trimEnd: true };

export function formatEntry(e: LedgerRecord): string {
  const time = new Date(e.atMs).toISOString().replace('T', ' ').slice(0, 19);
  return tableRow(AUDIT_TABLE, [
    `#${e.seq}`,
    time,
    e.kind,
    e.env ?? '—',
    `responsible: ${e.responsible}`,
    `trigger: ${e.trigger}`,
    e.emergency ? 'EMERGENCY ' : '',
    e.deployId ? `${e.deployId} ` : '',
    e.reason ? `reason: ${e.reason}  ` : '',
    summary(e),
  ]);
}

export async function auditCommand(options: AuditOptions, io: Io): Promise<number> {
  const limit = options.limit ? Number(options.limit) : undefined;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1))
    throw new CliError(`--limit must be a positive whole number, got "${options.limit}"`);
  const ctx = await openContext(options, io);
  try {
    if (options.env && !Object.hasOwn(ctx.config.environments, options.env)) {
      throw new CliError(
        `unknown environment "${options.env}" (known: ${Object.keys(ctx.config.environments).join(', ')})`,
      );
    }
    let entries = await ctx.store.listLedger({
      app: ctx.config.app.name,
      ...(options.env ? { env: options.env } : {}),
    });
    if (limit !== undefined) entries = entries.slice(-limit);
    const verification = options.verify ? await verifyLedger(ctx.store) : undefined;
    if (options.json) {
      printJson(io, { entries, ...(verification ? { verification } : {}) });
    } else {
      if (entries.length === 0) io.stdout.write('the ledger is empty\n');
      // Reasons, names and notes are shown escaped: a control character cannot rewrite the terminal.
      for (const e of entries) io.stdout.write(escapeTerminal(formatEntry(e)) + '\n');
      if (verification) {
        if (verification.ok)
          io.stdout.write(
            `ledger verified: ${verification.entries} entries chain from genesis to head #${verification.head.seq} ${verification.head.hash.slice(0, 16)}…\n`,
          );
        else {
          io.stdout.write(
            `LEDGER TAMPERED: ${verification.problems.length} problem${verification.problems.length === 1 ? '' : 's'}\n`,
          );
          for (const p of verification.problems) io.stdout.write(`  #${p.seq}: ${p.problem}\n`);
        }
      }
    }
    return verification && !verification.ok ? 1 : 0;
  } finally {
    await ctx.close();
  }
}
