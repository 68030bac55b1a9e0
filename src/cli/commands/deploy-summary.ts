// The human form of a deploy's summary.

import { pc } from '../colors.js';
import { formatDuration, SIMULATED } from '../../domain/clock.js';
import type { DeploySummary } from '../../engine/summary.js';

const STATUS_COLOR: Record<string, (s: string) => string> = {
  succeeded: pc.green,
  rolled_back: pc.yellow,
  halted: pc.yellow,
  aborted: pc.yellow,
  failed: pc.red,
};

export function formatSummary(s: DeploySummary): string {
  const color = STATUS_COLOR[s.status] ?? ((x: string) => x);
  const lines = [
    `${color(pc.bold(s.status))}  ${s.deployId}  ${s.app}/${s.env}  ${s.release} (${s.strategy})`,
    `  machines: ${s.machines.onTarget}/${s.machines.total} on ${s.release}` +
      (s.machines.failed ? `, ${s.machines.failed} failed` : '') +
      (s.machines.stragglers ? `, ${s.machines.stragglers} stragglers` : ''),
    `  dispatched: ${s.dispatchedAtMs === null ? '—' : formatDuration(s.dispatchedAtMs)}  converged: ${s.convergedAtMs === null ? '—' : formatDuration(s.convergedAtMs)}  total: ${formatDuration(s.finishedAtMs)}${s.clock === 'simulated' ? ` ${SIMULATED}` : ''}`,
    `  extra machines at peak: ${s.extraMachinesPeak}  API calls: ${s.apiCalls}${s.rateLimited ? ` (${s.rateLimited} rate-limited)` : ''}`,
  ];
  if (s.failedMachineIds.length)
    lines.push(
      `  failed machines: ${s.failedMachineIds.slice(0, 10).join(', ')}${s.failedMachineIds.length > 10 ? ' …' : ''}`,
    );
  if (s.stragglerIds.length)
    lines.push(`  stragglers: ${s.stragglerIds.slice(0, 10).join(', ')}${s.stragglerIds.length > 10 ? ' …' : ''}`);
  if (s.error) lines.push(`  ${pc.red('error:')} ${s.error}`);
  return lines.join('\n');
}
