// Which concern reviews which AdmissionRequest: keyed by group/resource/subResource. The pods
// subresources come from the list of kinds of access (functions/kinds.ts).
import { attach } from './attach/index.ts';
import { debug } from './debug/index.ts';
import { exec } from './exec/index.ts';
import { grant } from './grant/index.ts';
import { REVIEWS } from './kinds.ts';
import { portforward } from './portforward/index.ts';
import { request, requestStatus } from './request/index.ts';
import { GROUP, type AdmissionRequest } from './schemas.ts';
import type { Concern } from './types.ts';

export const concerns: Record<string, Concern> = {
  ...Object.fromEntries(Object.entries(REVIEWS).map(([subResource, review]) => [`/pods/${subResource}`, review])),
  [`${GROUP}/accessrequests/`]: request,
  [`${GROUP}/accessrequests/status`]: requestStatus,
  [`${GROUP}/accessgrants/`]: grant,
};

export function routeKey(request: Pick<AdmissionRequest, 'resource' | 'subResource'>): string {
  return `${request.resource.group}/${request.resource.resource}/${request.subResource}`;
}

/** The concern for this review, or undefined for anything this webhook does not judge. */
export function concernFor(request: Pick<AdmissionRequest, 'resource' | 'subResource'>): Concern | undefined {
  const key = routeKey(request);
  return Object.hasOwn(concerns, key) ? concerns[key] : undefined;
}

export { attach, debug, exec, grant, portforward, request, requestStatus };
export * from './kinds.ts';
export type { AccessKind, KubectlHints } from './kind.ts';
export * from './types.ts';
