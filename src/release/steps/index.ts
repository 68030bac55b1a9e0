// Built-in release steps by name: how to read one's runway.toml table and make it.
// (The release command is the engine's own step; src/release/release-command.ts.)

import { SIDEKIQ_QUIET, parseSidekiqQuietConfig, sidekiqQuietStep } from './sidekiq-quiet.js';
import type { ConfiguredStep } from './step.js';

export type {
  ConfiguredStep,
  BuiltinStepContext,
  StepError,
  StepErrorKind,
  BuiltinStepReport,
  StepStatus,
} from './step.js';

export interface StepConfigProblem {
  /** The key in the step's table ('' for the step's name). */
  key: string;
  message: string;
}

export interface BuiltinStep {
  /** One line for --help and docs. */
  description: string;
  /** Reads the step's runway.toml table (snake_case keys) into a configured step, or says what is wrong. */
  create(raw: Record<string, unknown>): ConfiguredStep | { problems: StepConfigProblem[] };
}

export const BUILTIN_STEPS: Record<string, BuiltinStep> = {
  [SIDEKIQ_QUIET]: {
    description:
      'tell every live Sidekiq process to stop taking jobs (TSTP through Redis) and wait until each reports quiet',
    create(raw) {
      const { options, problems } = parseSidekiqQuietConfig(raw);
      return problems.length ? { problems } : sidekiqQuietStep(options);
    },
  },
};

export function createReleaseStep(
  name: string,
  raw: Record<string, unknown> = {},
): ConfiguredStep | { problems: StepConfigProblem[] } {
  const builtin = Object.hasOwn(BUILTIN_STEPS, name) ? BUILTIN_STEPS[name] : undefined;
  if (!builtin)
    return {
      problems: [
        { key: '', message: `unknown release step "${name}"; built in: ${Object.keys(BUILTIN_STEPS).join(', ')}` },
      ],
    };
  return builtin.create(raw);
}
