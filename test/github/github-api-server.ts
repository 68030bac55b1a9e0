// A GitHub REST API for tests, on 127.0.0.1 over real HTTP: the Deployments endpoints runway uses
// and GitHub App installation tokens, answering with GitHub's documented shapes. Every request is
// checked against GitHub's OpenAPI description (openapi.ts): path, path parameters and body; an
// invalid one gets GitHub's 422 and is kept in `invalid` for the test to assert on. Every response
// is checked against the description too (`responseProblems`).
//   POST /repos/{owner}/{repo}/deployments
//   POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses
//   GET  /repos/{owner}/{repo}/deployments/{deployment_id}/statuses
//   POST /app/installations/{installation_id}/access_tokens   (JWT signed with the App's key, RS256)

import { createPublicKey, createVerify, randomBytes, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GitHubOpenApi } from './openapi.js';

export interface RecordedRequest {
  method: string;
  path: string;
  body: unknown;
  auth: string | null;
  problems: string[];
}

export interface FakeDeployment {
  id: number;
  ref: string;
  task: string;
  environment: string;
  description: string | null;
  payload: unknown;
  production_environment: boolean;
  transient_environment: boolean;
  created_at: string;
  statuses: FakeStatus[];
}

export interface FakeStatus {
  id: number;
  state: string;
  description: string;
  environment: string;
  log_url: string;
  environment_url: string;
  created_at: string;
}

export interface GitHubServerOptions {
  owner?: string;
  repo?: string;
  /** Personal/installation tokens accepted as `token X` or `Bearer X`. */
  tokens?: string[];
  /** A GitHub App whose JWTs are accepted at /app/installations/{id}/access_tokens. */
  app?: { appId: string; installationId: number; publicKeyPem: string };
}

let openApi: GitHubOpenApi | undefined;

function user(login: string, id: number) {
  const url = `https://api.github.com/users/${encodeURIComponent(login)}`;
  return {
    login,
    id,
    node_id: `U_${id}`,
    avatar_url: `https://avatars.githubusercontent.com/u/${id}`,
    gravatar_id: '',
    url,
    html_url: `https://github.com/apps/${encodeURIComponent(login.replace(/\[bot\]$/, ''))}`,
    followers_url: `${url}/followers`,
    following_url: `${url}/following{/other_user}`,
    gists_url: `${url}/gists{/gist_id}`,
    starred_url: `${url}/starred{/owner}{/repo}`,
    subscriptions_url: `${url}/subscriptions`,
    organizations_url: `${url}/orgs`,
    repos_url: `${url}/repos`,
    events_url: `${url}/events{/privacy}`,
    received_events_url: `${url}/received_events`,
    type: 'Bot',
    site_admin: false,
  };
}

export class GitHubApiServer {
  readonly requests: RecordedRequest[] = [];
  readonly deployments: FakeDeployment[] = [];
  /** Answer 503 to everything (GitHub having an outage). */
  down = false;
  readonly responseProblems: string[] = [];
  private server: Server | undefined;
  private nextId = 1000;
  private readonly tokens: Set<string>;
  private readonly appKey: KeyObject | undefined;
  readonly issuedTokens: string[] = [];
  url = '';

  constructor(private readonly options: GitHubServerOptions = {}) {
    this.tokens = new Set(options.tokens ?? []);
    this.appKey = options.app ? createPublicKey(options.app.publicKeyPem) : undefined;
    openApi ??= new GitHubOpenApi();
  }

  get owner() {
    return this.options.owner ?? 'acme';
  }
  get repo() {
    return this.options.repo ?? 'mechanic';
  }

  /** Requests the description refused. */
  get invalid(): RecordedRequest[] {
    return this.requests.filter((r) => r.problems.length > 0);
  }

  async listen(port = 0): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', () => resolve());
    });
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }

  /** `[state, ...]` of each status of the deployment, oldest first. */
  states(deploymentId: number): string[] {
    return this.deployments.find((d) => d.id === deploymentId)?.statuses.map((s) => s.state) ?? [];
  }

  private send(res: ServerResponse, method: string, path: string, status: number, body: unknown): void {
    if (status < 300)
      this.responseProblems.push(
        ...openApi!.validateResponse(method, path, status, body).map((p) => `${method} ${path}: ${p}`),
      );
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      return this.send(res, method, path, 400, { message: 'Problems parsing JSON' });
    }
    const problems = openApi!.validateRequest(method, path, body);
    const record: RecordedRequest = { method, path, body, auth: req.headers.authorization ?? null, problems };
    this.requests.push(record);
    if (this.down) return this.send(res, method, path, 503, { message: 'Service Unavailable' });
    if (problems.length) return this.send(res, method, path, 422, { message: 'Validation Failed', errors: problems });
    const auth = req.headers.authorization ?? '';

    const install = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(path);
    if (install && method === 'POST') return this.issueToken(res, method, path, Number(install[1]), auth);

    const credential = /^(?:token|bearer) (.+)$/i.exec(auth)?.[1];
    if (!credential || !this.tokens.has(credential))
      return this.send(res, method, path, 401, {
        message: 'Bad credentials',
        documentation_url: 'https://docs.github.com/rest',
      });
    const base = `/repos/${this.owner}/${this.repo}`;
    if (!path.startsWith(`${base}/`)) return this.send(res, method, path, 404, { message: 'Not Found' });
    if (path === `${base}/deployments` && method === 'POST')
      return this.createDeployment(res, method, path, body as Record<string, unknown>);
    const statuses = new RegExp(`^${base}/deployments/(\\d+)/statuses$`).exec(path);
    if (statuses) {
      const deployment = this.deployments.find((d) => d.id === Number(statuses[1]));
      if (!deployment) return this.send(res, method, path, 404, { message: 'Not Found' });
      if (method === 'GET')
        return this.send(
          res,
          method,
          path,
          200,
          deployment.statuses.map((s) => this.statusJson(deployment, s)),
        );
      if (method === 'POST') return this.createStatus(res, method, path, deployment, body as Record<string, unknown>);
    }
    return this.send(res, method, path, 404, { message: 'Not Found' });
  }

  private issueToken(res: ServerResponse, method: string, path: string, installationId: number, auth: string): void {
    const app = this.options.app;
    const jwt = /^bearer (.+)$/i.exec(auth)?.[1];
    if (!app || !this.appKey || !jwt || installationId !== app.installationId)
      return this.send(res, method, path, 401, { message: 'A JSON web token could not be decoded' });
    const [header, payload, sig] = jwt.split('.');
    const verify = createVerify('RSA-SHA256').update(`${header}.${payload}`);
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as {
      iss?: unknown;
      exp?: number;
    };
    const now = Math.floor(Date.now() / 1000);
    if (
      !verify.verify(this.appKey, Buffer.from(sig ?? '', 'base64url')) ||
      String(claims.iss) !== app.appId ||
      !claims.exp ||
      claims.exp < now
    ) {
      return this.send(res, method, path, 401, { message: "'Issuer' claim ('iss') must be an Integer" });
    }
    const token = `ghs_${randomBytes(18).toString('hex')}`;
    this.tokens.add(token);
    this.issuedTokens.push(token);
    this.send(res, method, path, 201, {
      token,
      expires_at: new Date(Date.now() + 3600_000).toISOString(),
      permissions: { deployments: 'write' },
      repository_selection: 'selected',
    });
  }

  private deploymentJson(d: FakeDeployment) {
    const url = `https://api.github.com/repos/${this.owner}/${this.repo}/deployments/${d.id}`;
    return {
      url,
      id: d.id,
      node_id: `DE_${d.id}`,
      sha: 'a'.repeat(40),
      ref: d.ref,
      task: d.task,
      payload: d.payload,
      original_environment: d.environment,
      environment: d.environment,
      description: d.description,
      creator: user('runway[bot]', 1),
      created_at: d.created_at,
      updated_at: d.created_at,
      statuses_url: `${url}/statuses`,
      repository_url: `https://api.github.com/repos/${this.owner}/${this.repo}`,
      transient_environment: d.transient_environment,
      production_environment: d.production_environment,
      performed_via_github_app: null,
    };
  }

  private statusJson(d: FakeDeployment, s: FakeStatus) {
    const deploymentUrl = `https://api.github.com/repos/${this.owner}/${this.repo}/deployments/${d.id}`;
    return {
      url: `${deploymentUrl}/statuses/${s.id}`,
      id: s.id,
      node_id: `DES_${s.id}`,
      state: s.state,
      creator: user('runway[bot]', 1),
      description: s.description,
      environment: s.environment,
      target_url: s.log_url,
      created_at: s.created_at,
      updated_at: s.created_at,
      deployment_url: deploymentUrl,
      repository_url: `https://api.github.com/repos/${this.owner}/${this.repo}`,
      environment_url: s.environment_url,
      log_url: s.log_url,
      performed_via_github_app: null,
    };
  }

  private createDeployment(res: ServerResponse, method: string, path: string, body: Record<string, unknown>): void {
    const environment = (body.environment as string | undefined) ?? 'production';
    const d: FakeDeployment = {
      id: this.nextId++,
      ref: body.ref as string,
      task: (body.task as string | undefined) ?? 'deploy',
      environment,
      description: (body.description as string | undefined) ?? '',
      payload: body.payload ?? {},
      production_environment: (body.production_environment as boolean | undefined) ?? environment === 'production',
      transient_environment: (body.transient_environment as boolean | undefined) ?? false,
      created_at: new Date().toISOString(),
      statuses: [],
    };
    this.deployments.push(d);
    this.send(res, method, path, 201, this.deploymentJson(d));
  }

  private createStatus(
    res: ServerResponse,
    method: string,
    path: string,
    d: FakeDeployment,
    body: Record<string, unknown>,
  ): void {
    const description = (body.description as string | undefined) ?? '';
    // Documented in prose rather than in the schema: descriptions are at most 140 characters.
    if (description.length > 140)
      return this.send(res, method, path, 422, {
        message: 'Validation Failed',
        errors: [
          { field: 'description', code: 'custom', message: 'description is too long (maximum is 140 characters)' },
        ],
      });
    const s: FakeStatus = {
      id: this.nextId++,
      state: body.state as string,
      description,
      environment: (body.environment as string | undefined) ?? d.environment,
      log_url: (body.log_url as string | undefined) ?? '',
      environment_url: (body.environment_url as string | undefined) ?? '',
      created_at: new Date().toISOString(),
    };
    d.statuses.push(s);
    this.send(res, method, path, 201, this.statusJson(d, s));
  }
}
