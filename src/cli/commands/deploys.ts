// `runway deploys list|show|promote`, `runway abort ID`, `runway releases create|list`.

import { checkFreeText, escapeTerminal, FreeTextError } from '../../domain/free-text.js';
import { formatDuration, formatOffset, RealClock } from '../../domain/clock.js';
import { deployClock } from '../../deploys/simulated-time.js';
import { formatSummary } from './deploy-summary.js';
import type { DeploySummary } from '../../engine/summary.js';
import { appendLedger } from '../../ledger/ledger.js';
import { TERMINAL_STATUSES, type Release } from '../../domain/types.js';
import type { DeployRecord } from '../../store/contract.js';
import { environment, openContext, type GlobalOptions, existingDeploy, whoIsAsking } from '../context.js';
import { CliError, printJson, type Io } from '../io.js';
import { tableRow } from '../table.js';

export interface ListOptions extends GlobalOptions {
  env?: string;
  limit?: string;
  json?: boolean;
}

const DEPLOYS_TABLE = { widths: [17, 12, 12, 10, 12, 14, 25] };
/** The events of `deploys show`: offset from the deploy's start (right-aligned), kind, then the rest. */
const EVENTS_TABLE = { widths: [8, 15], indent: '    ', alignRight: [0] };
const RELEASES_TABLE = { widths: [14, 40] };

export async function deploysListCommand(options: ListOptions, io: Io): Promise<number> {
  const limit = options.limit ? Number(options.limit) : 20;
  if (!Number.isInteger(limit) || limit < 1)
    throw new CliError(`--limit must be a positive whole number, got "${options.limit}"`);
  const ctx = await openContext(options, io);
  try {
    // An environment runway.toml does not name is bad input (exit 2), not an empty list.
    if (options.env) environment(ctx.config, options.env);
    const deploys = await ctx.store.listDeploys({
      app: ctx.config.app.name,
      ...(options.env ? { env: options.env } : {}),
      limit,
    });
    if (options.json) {
      printJson(
        io,
        deploys.map(({ plan: _plan, ...rest }) => rest),
      );
      return 0;
    }
    if (deploys.length === 0) {
      io.stdout.write('no deploys yet\n');
      return 0;
    }
    io.stdout.write(
      tableRow(DEPLOYS_TABLE, ['ID', 'ENV', 'RELEASE', 'STRATEGY', 'STATUS', 'BY', 'STARTED', 'DURATION']) + '\n',
    );
    // What people and events typed is shown escaped: a control character cannot rewrite the terminal.
    for (const d of deploys) io.stdout.write(escapeTerminal(formatRow(d)) + '\n');
    return 0;
  } finally {
    await ctx.close();
  }
}

function formatRow(d: DeployRecord): string {
  const started = d.startedAtMs ? new Date(d.startedAtMs).toISOString().replace('T', ' ').slice(0, 19) : '—';
  const duration = d.startedAtMs && d.finishedAtMs ? formatDuration(d.finishedAtMs - d.startedAtMs) : '—';
  const emergency = d.emergency ? '  EMERGENCY' : '';
  return tableRow(DEPLOYS_TABLE, [
    d.id,
    d.env,
    d.release,
    d.strategy,
    d.status,
    d.responsible,
    started,
    duration + emergency,
  ]);
}

export async function deploysShowCommand(
  id: string,
  options: GlobalOptions & { json?: boolean; journal?: boolean },
  io: Io,
): Promise<number> {
  const ctx = await openContext(options, io);
  try {
    const deploy = await existingDeploy(ctx.store, id);
    const journal = await ctx.store.listJournal(id);
    // Its durations and journal offsets were measured on this clock (simulated: the sim provider).
    const clock = deployClock(deploy, ctx.config.environments[deploy.env]?.provider === 'sim');
    if (options.json) {
      const analysis = journal
        .filter((e) => e.kind === 'analysis_measured')
        .map((e) => ({ atMs: e.atMs, wave: e.wave, ...(e.data as object) }));
      printJson(io, { ...deploy, clock, analysis, journal: options.journal ? journal : undefined });
      return 0;
    }
    const at = (ms: number | null) => (ms === null ? '—' : new Date(ms).toISOString());
    const lines = [
      `deploy ${deploy.id}  ${deploy.app}/${deploy.env}  ${deploy.previousRelease ?? '∅'} → ${deploy.release}  ${deploy.strategy}  ${deploy.status}`,
      `  responsible: ${deploy.responsible}  initiator: ${deploy.initiator}  trigger: ${deploy.trigger}${deploy.reason ? `  reason: ${deploy.reason}` : ''}`,
      ...(deploy.emergency
        ? [`  EMERGENCY: break-glass by ${deploy.responsible}${deploy.reason ? ` — ${deploy.reason}` : ''}`]
        : []),
      `  created: ${at(deploy.createdAtMs)}  started: ${at(deploy.startedAtMs)}  finished: ${at(deploy.finishedAtMs)}`,
    ];
    if (deploy.summary)
      lines.push(
        formatSummary(deploy.summary as DeploySummary)
          .split('\n')
          .slice(1)
          .join('\n'),
      );
    if (deploy.error) lines.push(`  error: ${deploy.error}`);
    if (deploy.abortRequestedAtMs)
      lines.push(
        `  abort requested by ${deploy.abortRequestedBy} at ${new Date(deploy.abortRequestedAtMs).toISOString()}`,
      );
    const shown = options.journal ? journal : journal.filter((e) => !e.kind.startsWith('step_'));
    lines.push(
      `  journal (${journal.length} entries${options.journal ? '' : ', steps hidden: --journal shows all'}; offsets from creation${clock === 'simulated' ? ', in simulated time while it ran' : ''}):`,
    );
    for (const e of shown)
      lines.push(
        tableRow(EVENTS_TABLE, [
          formatOffset(e.atMs, deploy.createdAtMs),
          e.kind,
          `${e.machineId ? e.machineId + ' ' : ''}${e.message ?? ''}`,
        ]),
      );
    io.stdout.write(escapeTerminal(lines.join('\n'), { multiline: true }) + '\n');
    return 0;
  } finally {
    await ctx.close();
  }
}

export async function abortCommand(
  id: string,
  options: GlobalOptions & { json?: boolean; as?: string },
  io: Io,
): Promise<number> {
  const ctx = await openContext(options, io);
  try {
    const deploy = await existingDeploy(ctx.store, id);
    if (TERMINAL_STATUSES.includes(deploy.status))
      throw new CliError(`deploy ${id} already ended (${deploy.status}); nothing to abort`);
    const by = whoIsAsking(options, io);
    const ok = await ctx.store.requestAbort(id, by, Date.now());
    if (!ok) throw new CliError(`deploy ${id} ended before the abort was recorded`);
    await ctx.store.appendJournal([
      { deployId: id, atMs: Date.now(), kind: 'abort_requested', message: `abort requested by ${by}` },
    ]);
    await appendLedger(ctx.store, new RealClock(), {
      kind: 'deploy.abort_requested',
      app: deploy.app,
      env: deploy.env,
      deployId: id,
      responsible: by,
      initiator: `cli:${by}`,
      trigger: 'cli',
    });
    if (options.json) printJson(io, { deployId: id, abortRequested: true, by });
    else io.stdout.write(`abort requested for ${id}; the deploy stops within one in-flight operation per machine\n`);
    return 0;
  } finally {
    await ctx.close();
  }
}

export async function promoteCommand(id: string, options: GlobalOptions & { as?: string }, io: Io): Promise<number> {
  const ctx = await openContext(options, io);
  try {
    const deploy = await existingDeploy(ctx.store, id);
    if (deploy.status !== 'running')
      throw new CliError(
        `deploy ${id} is ${deploy.status}; only a running deploy paused before cutover can be promoted`,
      );
    const by = whoIsAsking(options, io);
    await ctx.store.appendJournal([{ deployId: id, atMs: Date.now(), kind: 'promote', message: `promoted by ${by}` }]);
    io.stdout.write(`promote recorded for ${id}\n`);
    return 0;
  } finally {
    await ctx.close();
  }
}

export async function releasesCreateCommand(
  version: string,
  options: GlobalOptions & { image?: string; notes?: string; json?: boolean },
  io: Io,
): Promise<number> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/.test(version)) {
    throw new CliError(
      `release version "${escapeTerminal(version)}" must be 1-128 characters of letters, digits, . _ + -`,
    );
  }
  try {
    checkFreeText('--image', options.image);
    checkFreeText('--notes', options.notes, { multiline: true });
  } catch (err) {
    if (err instanceof FreeTextError) throw new CliError(err.message);
    throw err;
  }
  const ctx = await openContext(options, io);
  try {
    const app = ctx.config.app.name;
    const release: Release = {
      version,
      image: options.image ?? `${app}:${version}`,
      createdAtMs: Date.now(),
      ...(options.notes ? { notes: options.notes } : {}),
    };
    const existing = await ctx.store.getRelease(app, version);
    if (existing) {
      if (existing.image !== release.image)
        throw new CliError(`release ${version} already exists with image ${existing.image}; releases are immutable`);
      if (options.json) printJson(io, existing);
      else io.stdout.write(`release ${version} already exists (${existing.image})\n`);
      return 0;
    }
    await ctx.store.createRelease(app, release);
    if (options.json) printJson(io, release);
    else io.stdout.write(`created release ${version} (${release.image})\n`);
    return 0;
  } finally {
    await ctx.close();
  }
}

export async function releasesListCommand(options: GlobalOptions & { json?: boolean }, io: Io): Promise<number> {
  const ctx = await openContext(options, io);
  try {
    const releases = await ctx.store.listReleases(ctx.config.app.name);
    if (options.json) printJson(io, releases);
    else if (releases.length === 0) io.stdout.write('no releases yet\n');
    else
      for (const r of releases)
        io.stdout.write(
          escapeTerminal(tableRow(RELEASES_TABLE, [r.version, r.image, new Date(r.createdAtMs).toISOString()])) + '\n',
        );
    return 0;
  } finally {
    await ctx.close();
  }
}
