// Release steps of a deploy (release command, sidekiq quiet) run in the configured order, each once
// per deploy: a resumed deploy skips those the journal records as done. A failed step ends the deploy
// before any serving machine changes.

import type { DeployStatus } from '../domain/types.js';
import type { Store } from '../store/contract.js';
import { describeError } from './errors.js';
import type { ProgressListener } from './progress.js';
import { SHOWN_OUTPUT_LINES, type ReleaseStep, type ReleaseStepContext } from './release-steps.js';

export interface ReleaseStepHost {
  steps: ReleaseStep[];
  store: Store;
  context: Omit<ReleaseStepContext, 'log'>;
  emit: ProgressListener;
  note(kind: string, message: string, data?: unknown): void;
  flush(): Promise<void>;
}

/** Returns the failure that ends the deploy, if any. */
export async function runReleaseSteps(
  host: ReleaseStepHost,
): Promise<{ status: DeployStatus; error: string } | undefined> {
  const { steps, context } = host;
  if (steps.length === 0) return undefined;
  const done = new Set(
    (await host.store.listJournal(context.deployId))
      .filter((e) => e.kind === 'release_step_succeeded')
      .map((e) => (e.data as { step?: string } | undefined)?.step),
  );
  for (const step of steps) {
    if (done.has(step.name)) continue;
    host.emit({ type: 'phase', phase: 'release', message: `release step ${step.name}` });
    host.note('release_step_started', step.name, { step: step.name });
    const output: string[] = [];
    let report;
    try {
      report = await step.run({ ...context, log: (line) => output.push(line) });
    } catch (err) {
      if (context.signal.aborted) return { status: 'aborted', error: `aborted during release step ${step.name}` };
      report = { ok: false, summary: `${step.name}: ${describeError(err)}` };
    }
    const lines = [...output, ...(report.output ?? [])];
    host.note(report.ok ? 'release_step_succeeded' : 'release_step_failed', report.summary, {
      step: step.name,
      details: report.details,
      output: lines,
    });
    host.emit({
      type: 'release-step',
      step: step.name,
      ok: report.ok,
      summary: report.summary,
      output: lines.slice(-SHOWN_OUTPUT_LINES),
    });
    if (!report.ok) {
      await host.flush();
      return { status: step.failStatus, error: report.summary };
    }
  }
  return undefined;
}
