// runway.toml's integration tables: `[github]` (webhook secret, Deployments), `[server]` (the
// dashboard's public address, for links) and `[notifications.targets.NAME]`. Keys are documented in
// schema.ts's reference comment and docs/github.md.

import { z } from 'zod';
import { table } from './schema-table.js';

export const NOTIFICATION_EVENTS = [
  'started',
  'succeeded',
  'failed',
  'rolled_back',
  'aborted',
  'emergency',
  'stragglers',
] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

const httpUrl = () =>
  z
    .string()
    .refine((v) => /^https?:\/\/[^\s/]+/i.test(v) && URL.canParse(v), { error: 'expected an http:// or https:// URL' });
const envName = () => z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'expected an environment variable name' });

export const githubSchema = table({
  webhook_secret_file: z.string().min(1).optional(),
  repository: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, { error: 'expected owner/name' })
    .optional(),
  api_url: httpUrl().optional(),
  deployments: z.boolean().optional(),
  production_environments: z.array(z.string().min(1)).optional(),
  app_id: z
    .union([z.number().int().positive(), z.string().regex(/^\d+$/)])
    .transform(String)
    .optional(),
  installation_id: z.number().int().positive().optional(),
  private_key_file: z.string().min(1).optional(),
});

export const serverSchema = table({
  public_url: httpUrl().optional(),
});

const targetSchema = table({
  type: z.enum(['slack', 'webhook']),
  url: httpUrl().optional(),
  url_env: envName().optional(),
  secret_file: z.string().min(1).optional(),
  secret_env: envName().optional(),
  events: z.array(z.enum(NOTIFICATION_EVENTS)).optional(),
  environments: z.array(z.string().min(1)).optional(),
});
export type NotificationTargetTable = z.output<typeof targetSchema>;

export const notificationsSchema = table({
  targets: z
    .record(
      z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, { error: 'use letters, digits, "-" and "_"' }),
      targetSchema,
    )
    .optional(),
});
