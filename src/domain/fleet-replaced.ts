// When does a deploy apply the secrets it carries? When it puts every machine on fresh config. A
// question about a plan and a fleet, asked by the secrets, the ledger and the API alike.

/**
 * Did a deploy put every machine on fresh config (so each got the secrets it carried)? Its first
 * plan updated or created at least as many machines as the fleet ended with.
 */
export function deployReplacedFleet(plan: unknown, machinesTotal: number): boolean {
  const waves = (plan as { waves?: { steps?: { kind?: string; machineId?: string }[] }[] } | null)?.waves;
  if (!Array.isArray(waves)) return false;
  const updated = new Set<string>();
  let created = 0;
  for (const wave of waves) {
    for (const step of wave.steps ?? []) {
      if (step.kind === 'update' && step.machineId) updated.add(step.machineId);
      else if (step.kind === 'create') created++;
    }
  }
  return updated.size + created > 0 && updated.size + created >= machinesTotal;
}
