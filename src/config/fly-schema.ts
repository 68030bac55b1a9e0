// `[environments.X.fly]`: settings of the `fly` provider (Fly Machines API).
// Filled in by the fly provider's work; the output type is FlyOptions.

import type { FlyOptions } from '../providers/fly/options.js';
import { table } from './schema-table.js';

export const flySchema = table({}).transform((): Partial<FlyOptions> => ({}));
