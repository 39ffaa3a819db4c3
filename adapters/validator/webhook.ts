// Extended-validation webhook client for Node: the seed protocol (protocol.ts) over node:https
// with the peer certificate pinned to the configured CA bundle.
import type { Validator } from '../ports.ts';
import { checkCaBundle, httpsTransport } from '../audit/https.ts';
import { requireHttpsUrl } from '../audit/transport.ts';
import type { WebhookOptions } from '../audit/webhook.ts';
import { validatorOver } from './protocol.ts';

export type { WebhookOptions };
export { parseValidationResponse, validationRequest, validatorOver } from './protocol.ts';

export function validatorWebhook(options: WebhookOptions): Validator {
  requireHttpsUrl(options.url, 'extended-validation webhook');
  checkCaBundle(options.caBundle, 'extended-validation webhook');
  return validatorOver(
    options.url,
    httpsTransport({ caBundle: options.caBundle, ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}) }),
  );
}
