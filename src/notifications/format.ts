// Pure: a notification's words and its two wire formats — a Slack incoming-webhook message and
// runway's generic JSON document (docs/github.md#notifications).

import type { NotificationPayload } from './payload.js';

const TITLES: Record<NotificationPayload['event'], string> = {
  started: 'deploy started',
  succeeded: 'deploy succeeded',
  failed: 'deploy failed',
  rolled_back: 'rolled back',
  aborted: 'deploy aborted',
  emergency: 'EMERGENCY deploy (break-glass)',
  stragglers: 'stragglers left',
};

const ICONS: Record<NotificationPayload['event'], string> = {
  started: ':rocket:',
  succeeded: ':white_check_mark:',
  failed: ':x:',
  rolled_back: ':rewind:',
  aborted: ':octagonal_sign:',
  emergency: ':rotating_light:',
  stragglers: ':hourglass:',
};

/** Who is answerable, as people read it. */
export function responsibleText(n: Pick<NotificationPayload, 'responsible' | 'initiator'>): string {
  return n.responsible === 'automation' ? `automation (${n.initiator})` : n.responsible;
}

/** One line naming app, environment, release, strategy and the responsible party. */
export function summaryLine(n: NotificationPayload): string {
  // A deploy that failed and rolled back leaves the fleet on the previous release: say so.
  const release =
    n.status === 'rolled_back'
      ? `back on ${n.previousRelease ?? 'the previous release'} (${n.release} failed)`
      : n.previousRelease && n.previousRelease !== n.release
        ? `${n.previousRelease} → ${n.release}`
        : n.release;
  return `${TITLES[n.event]}: ${n.app}/${n.env} ${release} (${n.strategy}), responsible: ${responsibleText(n)}`;
}

function detail(n: NotificationPayload): string | null {
  if (n.event === 'emergency') return `reason: ${n.reason ?? '(none given)'}`;
  if (n.event === 'stragglers')
    return `${n.stragglers} machine${n.stragglers === 1 ? '' : 's'} had not converged when the convergence timeout ran out`;
  if ((n.event === 'failed' || n.event === 'rolled_back' || n.event === 'aborted') && n.error) return n.error;
  return null;
}

/** Slack escapes: &, < and > are control characters in mrkdwn and text. */
export function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export interface SlackMessage {
  text: string;
  blocks: unknown[];
}

export function slackMessage(n: NotificationPayload): SlackMessage {
  const line = summaryLine(n);
  const more = detail(n);
  const link = n.url ? ` <${n.url}|deploy ${slackEscape(n.deployId)}>` : ` deploy ${slackEscape(n.deployId)}`;
  const fields = [
    ['App', n.app],
    ['Environment', n.env],
    ['Release', n.release],
    ['Strategy', n.strategy],
    ['Responsible', responsibleText(n)],
    ['Trigger', n.trigger],
  ].map(([k, v]) => ({ type: 'mrkdwn', text: `*${k}*\n${slackEscape(v!)}` }));
  const blocks: unknown[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `${ICONS[n.event]} *${slackEscape(line)}*${link}` } },
    { type: 'section', fields },
  ];
  if (more) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: slackEscape(more) }] });
  return { text: `${line}${more ? ` — ${more}` : ''}${n.url ? ` ${n.url}` : ''}`, blocks };
}

/** The generic webhook's JSON document (schema version 1). */
export function webhookDocument(n: NotificationPayload, deliveryId: string): Record<string, unknown> {
  return {
    version: 1,
    delivery: deliveryId,
    event: n.event,
    text: summaryLine(n),
    at: new Date(n.atMs).toISOString(),
    deploy: {
      id: n.deployId,
      app: n.app,
      env: n.env,
      release: n.release,
      previousRelease: n.previousRelease,
      strategy: n.strategy,
      status: n.status,
      responsible: n.responsible,
      initiator: n.initiator,
      trigger: n.trigger,
      emergency: n.emergency,
      reason: n.reason,
      error: n.error,
      stragglers: n.stragglers,
      url: n.url,
    },
  };
}
