// The errors the in-process providers (sim, local) answer a call on a machine with, worded alike.

import type { FleetScope } from '../domain/types.js';
import { ProviderError } from './contract.js';

/** The calls that change a machine in place. */
export type MachineChangeOp = 'update' | 'start' | 'stop' | 'cordon' | 'uncordon';

/** 404: no such machine in the scope. */
export function machineNotFound(scope: FleetScope, id: string): ProviderError {
  return new ProviderError('not_found', `machine ${id} not found in ${scope.app}/${scope.env}`, {
    status: 404,
    machineId: id,
  });
}

/** 409: the machine is on its way out and can no longer be changed. */
export function machineBeingDestroyed(id: string, op: MachineChangeOp): ProviderError {
  return new ProviderError('conflict', `machine ${id} is being destroyed`, { status: 409, machineId: id, op });
}
