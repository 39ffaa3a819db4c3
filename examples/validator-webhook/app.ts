// The validator webhook as a Hono app: the receiver parses and answers, `validate` decides.
import { Hono } from 'hono';
import { validationReceiver } from 'kube-request-access/webhooks';
import { DEFAULT_RULES, validate, type Rules } from './rules.ts';

export type Log = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export const jsonLog: Log = (level, msg, fields = {}) =>
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);

export function createValidatorApp(options: { rules?: Rules; log?: Log } = {}): Hono {
  const rules = options.rules ?? DEFAULT_RULES;
  const log = options.log ?? jsonLog;
  const app = new Hono();
  app.get('/healthz', (c) => c.text('ok'));
  const receiver = validationReceiver(
    (data) => {
      const result = validate(data, rules);
      log('info', 'validated', {
        user: data.Request.userInfo.username,
        namespace: data.AccessRequest.metadata.namespace || data.Request.namespace,
        name: data.AccessRequest.metadata.name || data.Request.name,
        status: result.status,
        message: result.message,
      });
      return result;
    },
    { onError: (error) => log('error', 'validation failed', { error: String(error) }) },
  );
  // The seed's example listened on /validate; / works as well.
  app.route('/validate', receiver);
  app.route('/', receiver);
  return app;
}
