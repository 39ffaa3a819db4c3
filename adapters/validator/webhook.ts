// Extended-validation webhook client for Node: the seed protocol (protocol.ts) over node:https
// with the peer certificate pinned to the configured CA bundle.
import type { Validator } from '../../functions/types.ts';
import { httpsEndpoint } from '../audit/https.ts';
import type { WebhookOptions } from '../audit/webhook.ts';
import { validatorOver } from './protocol.ts';

export type { WebhookOptions };
export { parseValidationResponse, validationRequest, validatorOver } from './protocol.ts';

export function validatorWebhook(options: WebhookOptions): Validator {
  const { url, transport } = httpsEndpoint(options, 'extended-validation webhook');
  return validatorOver(url, transport);
}
