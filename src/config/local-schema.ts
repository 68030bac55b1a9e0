// `[environments.X.local]`: settings of the `local` provider (real processes behind runway's proxy).
// Filled in by the local provider's work; the output type is LocalOptions.

import type { LocalOptions } from '../providers/local/options.js';
import { table } from './schema-table.js';

export const localSchema = table({}).transform((): Partial<LocalOptions> => ({}));
