// Which concern reviews which AdmissionRequest: keyed by group/resource/subResource.
import { exec } from './exec/index.ts';
import { grant } from './grant/index.ts';
import { request } from './request/index.ts';
import { GROUP, type AdmissionRequest } from './schemas.ts';
import type { Concern } from './types.ts';

export const concerns: Record<string, Concern> = {
  '/pods/exec': exec,
  [`${GROUP}/accessrequests/`]: request,
  [`${GROUP}/accessgrants/`]: grant,
};

export function routeKey(request: Pick<AdmissionRequest, 'resource' | 'subResource'>): string {
  return `${request.resource.group}/${request.resource.resource}/${request.subResource}`;
}

/** The concern for this review, or undefined for anything this webhook does not judge. */
export function concernFor(request: Pick<AdmissionRequest, 'resource' | 'subResource'>): Concern | undefined {
  return Object.hasOwn(concerns, routeKey(request)) ? concerns[routeKey(request)] : undefined;
}

export { exec, grant, request };
export * from './types.ts';
