// Payloads of the two extension webhooks, wire-compatible with the seed's Go `webhooks` package.
// A schema and its type share a name; Kubernetes objects pass through unchanged (looseObject).
import * as v from 'valibot';
import { AccessGrant, AccessRequest, AdmissionRequest, PodExecOptions } from '../functions/schemas.ts';

export { AccessGrant, AccessRequest, AdmissionRequest, PodExecOptions };

/** The `?type=` query parameter of an audit webhook call. */
export const AuditType = v.picklist(['audit-exec', 'audit-created', 'audit-granted']);
export type AuditType = v.InferOutput<typeof AuditType>;

/** `?type=audit-exec`: every exec decision, allowed or denied. */
export const AuditExecData = v.looseObject({
  request: AdmissionRequest,
  isAllowed: v.boolean(),
  execOptions: PodExecOptions,
  /** True when the user passed as an always-allowed identity, without an AccessRequest. */
  isAdmin: v.boolean(),
});
export type AuditExecData = v.InferOutput<typeof AuditExecData>;

/** `?type=audit-created`: an AccessRequest was admitted. */
export const AuditCreatedData = v.looseObject({
  request: AdmissionRequest,
  accessRequest: AccessRequest,
});
export type AuditCreatedData = v.InferOutput<typeof AuditCreatedData>;

/** `?type=audit-granted`: an AccessGrant (status `granted` or `denied`) was admitted. */
export const AuditGrantedData = v.looseObject({
  request: AdmissionRequest,
  accessRequest: AccessRequest,
  accessGrant: AccessGrant,
});
export type AuditGrantedData = v.InferOutput<typeof AuditGrantedData>;

/** The body schema for each audit type. */
export const AuditData = {
  'audit-exec': AuditExecData,
  'audit-created': AuditCreatedData,
  'audit-granted': AuditGrantedData,
} as const;

/** One audit message as a tagged union: the `?type=` and the parsed body. */
export type AuditMessage =
  | { type: 'audit-exec'; data: AuditExecData }
  | { type: 'audit-created'; data: AuditCreatedData }
  | { type: 'audit-granted'; data: AuditGrantedData };

/** Body of a validation webhook call. The capitalised keys are the seed's (Go fields without json tags). */
export const ValidateAccessRequestData = v.looseObject({
  Request: AdmissionRequest,
  AccessRequest: AccessRequest,
});
export type ValidateAccessRequestData = v.InferOutput<typeof ValidateAccessRequestData>;

export const ValidationStatus = v.picklist(['valid', 'invalid']);
export type ValidationStatus = v.InferOutput<typeof ValidationStatus>;

/** What a validation webhook answers. `message` is shown to the requester on `invalid`. */
export const ValidationResult = v.object({
  status: ValidationStatus,
  message: v.optional(v.string()),
});
export type ValidationResult = v.InferOutput<typeof ValidationResult>;
