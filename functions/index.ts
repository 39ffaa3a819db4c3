// Which concern reviews which AdmissionRequest: keyed by group/resource/subResource.
import { attach } from './attach/index.ts';
import { withCopyIn } from './copy/index.ts';
import { debug } from './debug/index.ts';
import { exec } from './exec/index.ts';
import { grant } from './grant/index.ts';
import { portforward } from './portforward/index.ts';
import { request, requestStatus } from './request/index.ts';
import { GROUP, type AdmissionRequest } from './schemas.ts';
import type { Concern } from './types.ts';

export const concerns: Record<string, Concern> = {
  // kubectl cp into a pod is an exec with stdin: exec decides first, functions/copy may then allow.
  '/pods/exec': withCopyIn(exec),
  '/pods/attach': attach,
  '/pods/portforward': portforward,
  '/pods/ephemeralcontainers': debug,
  [`${GROUP}/accessrequests/`]: request,
  [`${GROUP}/accessrequests/status`]: requestStatus,
  [`${GROUP}/accessgrants/`]: grant,
};

export function routeKey(request: Pick<AdmissionRequest, 'resource' | 'subResource'>): string {
  return `${request.resource.group}/${request.resource.resource}/${request.subResource}`;
}

/** The concern for this review, or undefined for anything this webhook does not judge. */
export function concernFor(request: Pick<AdmissionRequest, 'resource' | 'subResource'>): Concern | undefined {
  return Object.hasOwn(concerns, routeKey(request)) ? concerns[routeKey(request)] : undefined;
}

export { attach, debug, exec, grant, portforward, request, requestStatus };
export * from './types.ts';
