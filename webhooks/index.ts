/**
 * `kube-request-access/webhooks`: everything needed to implement an audit or validation webhook
 * for kube-request-access, what the seed's Go `webhooks` package offered, in TypeScript.
 *
 * - valibot schemas and types of every message (`AuditExecData`, `AuditCreatedData`,
 *   `AuditGrantedData`, `ValidateAccessRequestData`, `ValidationResult`, …);
 * - `auditReceiver` and `validationReceiver`: Hono sub-apps that parse, validate and answer.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import { auditReceiver, validationReceiver, valid, invalid } from 'kube-request-access/webhooks';
 *
 * const app = new Hono();
 * app.route('/audit', auditReceiver({
 *   onCreated: ({ accessRequest }) => console.log(`${accessRequest.spec.userInfo.username} asks for access`),
 * }));
 * app.route('/validate', validationReceiver(({ AccessRequest }) =>
 *   AccessRequest.spec.customKeys?.ticket ? valid() : invalid('add -k ticket=OPS-123 to kubectl request exec'),
 * ));
 * ```
 * @module
 */
export * from './schemas.ts';
export {
  DEFAULT_MAX_BODY_BYTES,
  auditReceiver,
  invalid,
  valid,
  validationReceiver,
  type AuditHandlers,
  type Validate,
} from './receiver.ts';
