// Cloudflare Workers (workerd) entry. Bindings come from wrangler.toml [vars] and `wrangler secret
// put`; the API server is reached through a TLS proxy with a publicly trusted certificate (see
// README.md here), since workerd's fetch takes no CA bundle.
import { createEdgeWorker, type EdgeContext, type EdgeEnv } from '../../../adapters/edge/index.ts';

const worker = createEdgeWorker();

export default {
  fetch(request: Request, env: EdgeEnv, ctx: EdgeContext): Promise<Response> {
    return worker.fetch(request, env, ctx);
  },
  async scheduled(controller: { scheduledTime: number; cron: string }, env: EdgeEnv, ctx: EdgeContext): Promise<void> {
    await worker.scheduled(controller, env, ctx);
  },
};
