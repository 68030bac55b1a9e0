// Start the control plane: the deploy service (ownership, takeover, resume) and the HTTP server.

import { serve, type ServerType } from '@hono/node-server';
import type { RunwayConfig } from '../config/types.js';
import type { Store } from '../store/contract.js';
import { createApp } from './app.js';
import { DeployService, type DeployServiceOptions } from './deploy-service.js';

export interface RunningServer {
  url: string;
  deploys: DeployService;
  close(): Promise<void>;
}

export interface ServeOptions extends Partial<DeployServiceOptions> {
  config: RunwayConfig;
  store: Store;
  port: number;
  host?: string;
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const deploys = new DeployService(options);
  const app = createApp({ config: options.config, store: options.store, deploys });
  const host = options.host ?? '127.0.0.1';
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: options.port, hostname: host }, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  deploys.start();
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    deploys,
    async close() {
      await deploys.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
