// The notifier as an audit webhook (the seed's protocol, kube-request-access/webhooks): it answers
// 200 as soon as a message is queued for chat, so a slow or failing chat never denies a decision.
import { Hono } from 'hono';
import { auditReceiver } from 'kube-request-access/webhooks';
import type { Deliverer } from './deliver.ts';
import { notificationFor, payloadFor, type Format } from './message.ts';

export function createNotifierApp(options: { deliverer: Deliverer; format: Format }): Hono {
  const app = new Hono();
  app.get('/healthz', (c) => c.text('ok'));
  const receiver = auditReceiver({
    onMessage(message) {
      const notification = notificationFor(message);
      if (!notification) return;
      options.deliverer.send(payloadFor(options.format, notification), {
        event: notification.event,
        request: `${notification.namespace}/${notification.name}`,
      });
    },
  });
  app.route('/audit', receiver);
  app.route('/', receiver);
  return app;
}
