// Applies one plan step to the fleet through the provider. Each step is a short sequence of provider
// operations; between operations it checks the abort signal, so an abort stops a machine within one
// in-flight operation. Waits are pinned to the version the step put on the machine.

import type { CreateStep, CutoverStep, DestroyStep, MachineRef, Step } from '../domain/plan.js';
import { ProviderError } from '../providers/contract.js';
import { op, StepFailure, waitReady, withImage, type StepContext } from './step-context.js';
import { runUpdate } from './update-run.js';

export { StepFailure, type StepContext, type StepHooks } from './step-context.js';
export { startUpdate, type UpdateEnd } from './update-run.js';

/** Beyond the drain timeout, how long a machine may take to stop before it is killed. */
const STOP_GRACE_MS = 30_000;

export async function runStep(ctx: StepContext, step: Step, signal: AbortSignal): Promise<string | null> {
  switch (step.kind) {
    case 'update':
      return runUpdate(ctx, step, signal);
    case 'create':
      return runCreate(ctx, step, signal);
    case 'cutover':
      await runCutover(ctx, step, signal);
      return null;
    case 'destroy':
      return runDestroy(ctx, step, signal);
    case 'pause':
      await ctx.awaitPromote(signal);
      return null;
  }
}

async function runCreate(ctx: StepContext, step: CreateStep, signal: AbortSignal): Promise<string> {
  const { provider, scope } = ctx;
  const known = ctx.idByLaunch.get(step.launchId);
  const machine = await op(ctx, signal, (call) =>
    provider.create(
      scope,
      withImage(ctx, {
        group: step.group,
        release: step.release,
        role: step.role,
        cordoned: step.cordoned,
        launchId: step.launchId,
        deployId: ctx.deployId,
        ...(step.standsFor !== undefined ? { standsFor: step.standsFor } : {}),
        ...(step.forkVolumes ? { forkVolumes: true } : {}),
      }),
      call,
    ),
  );
  ctx.idByLaunch.set(step.launchId, machine.id);
  ctx.hooks.created(machine, known === undefined);
  ctx.hooks.accepted();
  if (step.gate === 'checks') await waitReady(ctx, machine, signal, ctx.settings.waitTimeoutMs);
  else ctx.hooks.dispatched(machine);
  if (step.promote) await op(ctx, signal, (call) => provider.uncordon(scope, machine.id, 'serving', call));
  return machine.id;
}

function resolveRef(ctx: StepContext, ref: MachineRef): string {
  if ('machineId' in ref) return ref.machineId;
  const id = ctx.idByLaunch.get(ref.launchId);
  if (!id) throw new StepFailure(`no machine was created for launch ${ref.launchId}`, null);
  return id;
}

async function runCutover(ctx: StepContext, step: CutoverStep, signal: AbortSignal): Promise<void> {
  const { provider, scope } = ctx;
  const promote = step.promote.map((ref) => resolveRef(ctx, ref));
  // Traffic moves to the checked machines before the old ones leave, so capacity never dips.
  await Promise.all(promote.map((id) => op(ctx, signal, (call) => provider.uncordon(scope, id, 'serving', call))));
  ctx.hooks.accepted();
  await Promise.all(step.cordon.map((id) => op(ctx, signal, (call) => provider.cordon(scope, id, call))));
  for (const id of step.cordon) ctx.outOfTraffic.add(id);
}

async function runDestroy(ctx: StepContext, step: DestroyStep, signal: AbortSignal): Promise<string> {
  const { provider, scope } = ctx;
  const id = resolveRef(ctx, step.machine);
  try {
    if (step.drain) {
      if (!ctx.outOfTraffic.has(id)) await op(ctx, signal, (call) => provider.cordon(scope, id, call));
      if (provider.drain) await provider.drain(scope, id, ctx.settings.drainTimeoutMs);
      await op(ctx, signal, (call) => provider.stop(scope, id, { ...call, timeoutMs: ctx.settings.drainTimeoutMs }));
      // A graceful stop lets the process finish its requests; destroying it mid-stop would kill them.
      await provider
        .waitFor(scope, id, { state: 'stopped' }, ctx.settings.drainTimeoutMs + STOP_GRACE_MS, signal)
        .catch((err: unknown) => {
          // Not stopped in time (or it crashed while stopping): the destroy below kills it.
          if (signal.aborted || !(err instanceof ProviderError) || err.kind === 'not_found') throw err;
        });
    }
    await op(ctx, signal, (call) => provider.destroy(scope, id, call));
    // Gone means gone: counts of extra machines and the fleet after the deploy must be exact.
    await provider.waitFor(scope, id, { state: 'destroyed' }, ctx.settings.waitTimeoutMs, signal);
  } catch (err) {
    // Already gone is what we wanted.
    if (!(err instanceof ProviderError && err.kind === 'not_found')) throw err;
  }
  ctx.hooks.destroyed(id);
  ctx.hooks.accepted();
  return id;
}
