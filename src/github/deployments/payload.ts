// What the outbox queues for GitHub: one deployment status per row of the `github` channel. Defined
// here, beside its delivery, so that the outbox (which makes the rows) depends on GitHub's delivery and
// never the reverse.

/** The outbox channel of GitHub deployment statuses. */
export const GITHUB_CHANNEL = 'github';

export type GitHubState = 'queued' | 'in_progress' | 'success' | 'failure' | 'error';

/** A GitHub delivery row's payload: one deployment status (creating the deployment first if needed). */
export interface GitHubStatusPayload {
  state: GitHubState;
  deployId: string;
  release: string;
  environment: string;
  /** The ref GitHub deploys: the release's tag. */
  ref: string;
  productionEnvironment: boolean;
  /** Deployment description (who and how). */
  deploymentDescription: string;
  /** Status description, at most 140 characters (GitHub's limit). */
  description: string;
  logUrl?: string;
  environmentUrl?: string;
  /** runway's own facts, kept in the deployment's payload. */
  runway: { deployId: string; app: string; release: string; strategy: string; responsible: string; trigger: string };
}
