// CONNECT pods/portforward: a port-forward to a pod a granted request names.
//
// What the apiserver tells us: PodPortForwardOptions carries `ports` only when the client puts
// `?ports=` in the URL. kubectl never does: over SPDY (and SPDY tunnelled through WebSocket, the
// default since 1.31) every forwarded connection opens streams that name their port in a header,
// after admission, and the kubelet does not check those headers against the query. So:
//   - ports named in the review must all be in the request's `portForwardOptions.ports`;
//   - a review without ports (kubectl) matches only a request for any port (no `ports`): a
//     port-restricted grant that cannot be checked is not used (fail closed);
//   - approvers should read any port-forward grant as reaching every port the pod listens on: a
//     client that names 8080 in the query can still open streams to other ports.
import { shellQuote } from '../access.ts';
import { podConcern, podOf, parseObject, type AccessKind, type RequestSpec } from '../kind.ts';
import { evaluateCandidates, targetsPod, verdictFor } from '../match.ts';
import { PodPortForwardOptions, type AccessRequest, type AdmissionRequest, type PodExecOptions } from '../schemas.ts';
import { deny } from '../types.ts';

export const portforward = podConcern<PodPortForwardOptions>({
  resource: 'pods/portforward',
  operation: 'CONNECT',
  parse: parseObject(PodPortForwardOptions, 'PodPortForwardOptions', {}),
  auditOptions: portForwardAsExecOptions,
  async judge(request, options, lookup, context) {
    const ports = options.ports;
    const bad = ports.find((port) => !isPort(port));
    if (bad !== undefined) {
      return deny(`malformed PodPortForwardOptions: ports: ${bad} is not a port number (1-65535)`, 400);
    }
    const prefix = context.config.usernamePrefix;
    const search = {
      review: request,
      lookup,
      context,
      what: `port-forward to ${ports.length ? `port${ports.length > 1 ? 's' : ''} ${ports.join(', ')}` : 'unnamed ports'} of pod ${request.namespace}/${request.name}`,
      again: requestPortForwardCommand(request, ports),
      usedBy: 'port-forward',
    };
    const evaluated = await evaluateCandidates({
      ...search,
      matches: (candidate) => matchesPortForward(candidate, request, ports, prefix),
    });
    const history = !evaluated[0] || evaluated[0].state.state === 'used' || evaluated[0].state.state === 'expired';
    if (history && ports.length === 0) {
      // Say why a port-restricted request of this user for this pod does not count: more useful
      // than naming a request that is already used up or over.
      const restricted = (
        await evaluateCandidates({
          ...search,
          matches: (candidate) =>
            targetsPod(candidate, request, 'portforward', prefix) && wantedPorts(candidate).length > 0,
        })
      )[0];
      if (restricted) {
        return deny(
          `AccessRequest ${restricted.candidate.metadata.name} allows only port${wantedPorts(restricted.candidate).length > 1 ? 's' : ''} ${wantedPorts(restricted.candidate).join(', ')}, ` +
            'but kubectl port-forward does not tell the apiserver which ports it will forward, so that cannot be checked; ' +
            `request a port-forward to any port of the pod: ${requestPortForwardCommand(request, [])}`,
        );
      }
    }
    return verdictFor(evaluated[0], search);
  },
});

function isPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}

function wantedPorts(candidate: AccessRequest): readonly number[] {
  return candidate.spec.portForwardOptions?.ports ?? [];
}

/** Every port of the review is requested; a review without ports needs a request for any port. */
export function matchesPortForward(
  candidate: AccessRequest,
  review: AdmissionRequest,
  ports: readonly number[],
  prefix: string,
): boolean {
  const wanted = wantedPorts(candidate);
  return (
    targetsPod(candidate, review, 'portforward', prefix) &&
    (wanted.length === 0 || (ports.length > 0 && ports.every((port) => wanted.includes(port))))
  );
}

/** Audit events keep the seed's `execOptions` field: no command, no streams, plus the ports. */
export function portForwardAsExecOptions(options: PodPortForwardOptions): PodExecOptions {
  return {
    stdin: false,
    stdout: false,
    stderr: false,
    tty: false,
    container: '',
    command: [],
    ...options,
    ports: options.ports,
  };
}

export function requestPortForwardCommand(
  request: Pick<AdmissionRequest, 'namespace' | 'name'>,
  ports: readonly number[],
): string {
  const parts = ['kubectl request port-forward', `-n ${shellQuote([request.namespace])}`, shellQuote([request.name])];
  parts.push('--valid-for 1h');
  if (ports.length) parts.push(ports.join(' '));
  return parts.join(' ');
}

/** Request-time rule: what a port-forward request may ask. */
export function portForwardRule(spec: RequestSpec): string | undefined {
  const ports = spec.portForwardOptions?.ports ?? [];
  const bad = ports.find((port) => !isPort(port));
  if (bad !== undefined) return `spec.portForwardOptions.ports: ${bad} is not a port number (1-65535)`;
  if (new Set(ports).size !== ports.length) return 'spec.portForwardOptions.ports: a port is listed twice';
  return undefined;
}

export const portForwardKind: AccessKind = {
  name: 'port-forward',
  subResource: 'portforward',
  operation: 'CONNECT',
  optionFields: ['portForwardOptions'],
  review: portforward,
  requestRule: portForwardRule,
  asks: (spec) => `port-forward to ${podOf(spec)}`,
  describe: (spec) => {
    const ports = spec.portForwardOptions?.ports ?? [];
    return [
      [
        'ports',
        ports.length
          ? `${ports.join(', ')} (only for clients that name their ports; kubectl cannot use it)`
          : 'ANY port of the pod',
      ],
    ];
  },
  brief: (spec) => {
    const ports = spec.portForwardOptions?.ports ?? [];
    return `port-forward to ${ports.length ? `port${ports.length > 1 ? 's' : ''} ${ports.join(', ')}` : 'any port'}`;
  },
  oneUse: 'port-forward',
  kubectl: (spec, hints = {}) => {
    const recorded = (spec.portForwardOptions?.ports ?? []).map(String);
    const ports = hints.ports?.length ? hints.ports : recorded.length ? recorded : ['LOCAL_PORT:REMOTE_PORT'];
    return ['port-forward', '-n', spec.forObject.namespace, `pod/${spec.forObject.name}`, ...ports];
  },
};
