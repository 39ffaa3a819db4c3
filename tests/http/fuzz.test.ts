// Property-based fuzz of the review endpoint (issue 13): generated clusters and exec reviews go
// through the real Hono app (app.request, MemoryCluster as lookup and effects), and every answer
// is judged by an oracle written here from DESIGN.md's invariants 1, 3, 5, 6, 8 and 9 and
// docs/friends.md (kubectl cp in), not by calling functions/. Fixed seed, bounded runs: a failure
// prints the shrunk counterexample and replays with the same seed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createApp, type AdmissionResponseReview } from '../../adapters/http/app.ts';
import { MemoryCluster } from '../../adapters/memory/lookup.ts';
import type { AuditSink } from '../../adapters/ports.ts';
import { DEFAULT_CONFIG, type AuditEvent, type Config } from '../../functions/types.ts';
import { shellPorts } from '../support/builders.ts';

const SEED = 42;
const RUNS = 600;
const MALFORMED_RUNS = 600;
const ONE_SHOT_RUNS = 250;
const NOW = Date.parse('2026-11-28T10:00:00Z');
const MAX_BODY = 64 * 1024;
const ADMINS = 'kube-request-access:admins';
const BREAKGLASS = 'breakglass';

// ---------------------------------------------------------------------------------------------
// The model: what the generators produce, and what the oracle reads.

interface ExecReview {
  uid: string;
  user: string;
  /** undefined: the field is left out (the apiserver always sends it; the schema defaults it). */
  groups?: string[];
  namespace: string;
  pod: string;
  container?: string;
  command?: string[];
  stdin?: boolean;
  tty?: boolean;
  dryRun?: boolean;
  /** Leave out the optional fields the apiserver sends but nothing needs. */
  sparse: boolean;
}

interface ModelGrant {
  name: string;
  namespace: string;
  grantFor: string;
  grantForUID?: string;
  grantedBy: string;
  status: 'granted' | 'denied';
  createdMs: number;
}

interface ModelRequest {
  name: string;
  namespace: string;
  uid: string;
  user: string;
  forNamespace: string;
  pod: string;
  subResource: string;
  resource: string;
  group: string;
  /** false: no spec.execOptions at all (the default container, any command). */
  hasExecOptions: boolean;
  container?: string;
  command?: string[];
  stdin: boolean;
  tty: boolean;
  copy?: { direction: string; path: string };
  validFor: string;
  deleted: boolean;
  createdMs: number;
}

interface Scenario {
  prefix: string;
  review: ExecReview;
  requests: ModelRequest[];
  grants: ModelGrant[];
}

// ---------------------------------------------------------------------------------------------
// The oracle. Each rule cites where it comes from; none of it imports functions/.

/** Go durations the generator uses, in ms (Go's time.ParseDuration; no unit = invalid, except "0"). */
const DURATIONS: Record<string, number | 'invalid'> = {
  '1h': 3_600_000,
  '30m': 1_800_000,
  '90s': 90_000,
  '1h30m': 5_400_000,
  '1.5h': 5_400_000,
  '2h': 7_200_000,
  '0': 0,
  '10': 'invalid',
  soon: 'invalid',
  '-1h': 'invalid',
};
const VALID_FOR = ['', '', '', '', '', ...Object.keys(DURATIONS)];

/** Config.usernamePrefix: "a name without it is read as prefix + name". */
const canonical = (name: string, prefix: string) => (prefix && !name.startsWith(prefix) ? prefix + name : name);

const argvEqual = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** kubectl cp in: `tar -xmf - -C DIR`, also with --no-same-permissions --no-same-owner (docs/friends.md). */
function tarDirectory(argv: readonly string[]): string | undefined {
  for (const head of [
    ['tar', '-xmf', '-'],
    ['tar', '--no-same-permissions', '--no-same-owner', '-xmf', '-'],
  ]) {
    if (
      argv.length === head.length + 2 &&
      argvEqual(argv.slice(0, head.length), head) &&
      argv[head.length] === '-C' &&
      argv[head.length + 1]
    ) {
      return argv[head.length + 1];
    }
  }
  return undefined;
}

/** POSIX lexical clean of a path, absolute. */
function clean(path: string): string {
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '..') out.pop();
    else if (part && part !== '.') out.push(part);
  }
  return '/' + out.join('/');
}
const parent = (path: string) => (path.lastIndexOf('/') <= 0 ? '/' : path.slice(0, path.lastIndexOf('/')));

/** A configured name matches as written, or with the username prefix in front (the seed strips it). */
function isAlwaysAllowed(review: ExecReview, config: Config): boolean {
  const prefix = config.usernamePrefix;
  const named = (name: string) =>
    name !== '' &&
    (review.user === name || (prefix !== '' && !name.startsWith(prefix) && review.user === prefix + name));
  return (
    config.alwaysAllowedUsers.some(named) || (review.groups ?? []).some((g) => config.alwaysAllowedGroups.includes(g))
  );
}

/** Invariant 1: a live request of this very user for this namespace and pod, subresource exec. */
function targets(request: ModelRequest, review: ExecReview, prefix: string): boolean {
  return (
    request.namespace === review.namespace &&
    request.forNamespace === review.namespace &&
    request.pod === review.pod &&
    request.subResource === 'exec' &&
    request.resource === 'pods' &&
    request.group === '' &&
    !request.deleted &&
    canonical(request.user, prefix) === review.user
  );
}

/**
 * Invariants 3 and 9: only grants bound to this object's uid count, from someone other than the
 * requester; a denial among them wins; a time-bound request runs for validFor from the earliest
 * such grant (kubectl request --valid-for), a one-shot one until it is used.
 */
function grantedNow(request: ModelRequest, grants: readonly ModelGrant[], prefix: string): boolean {
  const bound = grants.filter(
    (g) =>
      g.namespace === request.namespace &&
      g.grantFor === request.name &&
      g.grantForUID !== undefined &&
      g.grantForUID !== '' &&
      g.grantForUID === request.uid &&
      canonical(g.grantedBy, prefix) !== canonical(request.user, prefix),
  );
  if (bound.some((g) => g.status === 'denied')) return false;
  const granted = bound.filter((g) => g.status === 'granted');
  if (granted.length === 0) return false;
  if (request.validFor === '') return true;
  const window = DURATIONS[request.validFor];
  if (window === undefined || window === 'invalid') return false;
  const start = Math.min(...granted.map((g) => g.createdMs));
  return NOW < start + window;
}

interface Verdict {
  permits: boolean;
  /** How: 'admin' | 'exec' | 'copy' | 'probe'. */
  via?: 'admin' | 'exec' | 'copy' | 'probe';
  /** The requests that would let it through (for the consumption checks). */
  by: ModelRequest[];
}

function oracle(scenario: Scenario, config: Config): Verdict {
  const { review, prefix } = scenario;
  if (isAlwaysAllowed(review, config)) return { permits: true, via: 'admin', by: [] };
  const container = review.container ?? '';
  const argv = review.command ?? [];
  const live = scenario.requests.filter((r) => targets(r, review, prefix) && grantedNow(r, scenario.grants, prefix));
  const sameContainer = (r: ModelRequest) => (r.hasExecOptions ? (r.container ?? '') : '') === container;
  // A plain exec: no stdin or tty on either side, no copyOptions, the same argv or none requested.
  if (!review.stdin && !review.tty) {
    const exec = live.filter(
      (r) =>
        !r.copy &&
        sameContainer(r) &&
        !(r.hasExecOptions && (r.stdin || r.tty)) &&
        (!r.hasExecOptions || !r.command?.length || argvEqual(r.command, argv)),
    );
    if (exec.length) return { permits: true, via: 'exec', by: exec };
  }
  const copyIn = (r: ModelRequest) => r.copy?.direction === 'in' && sameContainer(r);
  // kubectl cp in: stdin, no tty, exactly kubectl's tar into the requested directory.
  const directory = tarDirectory(argv);
  if (directory !== undefined && review.stdin && !review.tty) {
    const copy = live.filter((r) => copyIn(r) && r.copy!.path === directory);
    if (copy.length) return { permits: true, via: 'copy', by: copy };
  }
  // kubectl cp's `test -d DEST` for DEST the directory or directly inside it; uses nothing up.
  if (argv.length === 3 && argv[0] === 'test' && argv[1] === '-d' && argv[2] && !review.stdin && !review.tty) {
    const probed = clean(argv[2]);
    const probe = live.filter((r) => copyIn(r) && (r.copy!.path === probed || r.copy!.path === parent(probed)));
    if (probe.length) return { permits: true, via: 'probe', by: probe };
  }
  return { permits: false, by: [] };
}

// ---------------------------------------------------------------------------------------------
// Generators.

const USERS = [
  'alice',
  'oidc:alice',
  'bob',
  'oidc:bob',
  'carol',
  'oidc:carol',
  BREAKGLASS,
  `oidc:${BREAKGLASS}`,
  `oidc:oidc:${BREAKGLASS}`,
  'oidc:oidc:alice',
];
const GROUPS = ['developers', 'system:authenticated', ADMINS, 'kube-request-access:admins ', 'approvers'];
const NAMESPACES = ['team-a', 'team-b'];
const PODS = ['web-0', 'web-1'];
const CONTAINERS = ['app', 'sidecar', ''];
const COMMANDS: string[][] = [
  ['cat', '/app/config'],
  ['cat', '/app/config', '/etc/shadow'],
  ['cat'],
  ['ls', '-l'],
  ['id'],
  ['sh', '-c', 'id'],
  ['cat', '/app/config '],
  ['tar', '-xmf', '-', '-C', '/tmp/upload'],
  ['tar', '--no-same-permissions', '--no-same-owner', '-xmf', '-', '-C', '/tmp/upload'],
  ['tar', '-xmf', '-', '-C', '/tmp'],
  ['tar', '-xmf', '-', '-C', '/tmp/upload/'],
  ['tar', '-xmf', '-', '-C', '/tmp/upload', '--overwrite'],
  ['tar', 'cf', '-', '/tmp/upload'],
  ['test', '-d', '/tmp/upload'],
  ['test', '-d', '/tmp/upload/sub'],
  ['test', '-d', '/tmp/upload/a/b'],
  ['test', '-d', '/tmp/upload/../../etc'],
  ['test', '-d', 'tmp/upload/./x'],
];
const COPY_PATHS = ['/tmp/upload', '/tmp', '/', '/tmp/upload/'];

const SAME = 'same' as const;
/** Mostly what the review asks for, so that matches and near misses are common. */
const sameOr = <T>(arb: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 8, arbitrary: fc.constant(SAME) }, { weight: 1, arbitrary: arb });
/** True in p percent of runs (unbiased: fast-check's integers favour their bounds). */
const mostly = (p: number) => fc.noBias(fc.integer({ min: 1, max: 100 })).map((n) => n <= p);
const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 4 });

const commandArb: fc.Arbitrary<string[]> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...COMMANDS) },
  { weight: 1, arbitrary: fc.constant<string[]>([]) },
  { weight: 1, arbitrary: fc.array(fc.string({ maxLength: 12 }), { maxLength: 4 }) },
);

/** What a generated review is after: most runs aim at one way in, so that each is reached often. */
type Aim = 'exec' | 'copy' | 'probe';
const EXTRACTS = COMMANDS.filter((argv) => tarDirectory(argv) !== undefined);
const PROBES = COMMANDS.filter((argv) => argv[0] === 'test');

const reviewArb = (aim: Aim): fc.Arbitrary<ExecReview> =>
  fc.record({
    uid: fc.uuid(),
    user: fc.oneof(
      { weight: 9, arbitrary: fc.constantFrom(...USERS) },
      { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 10 }) },
    ),
    // Always-allowed identities in about one run of six: they pass whatever the cluster holds.
    groups: optional(
      fc
        .tuple(fc.subarray(GROUPS.filter((g) => g !== ADMINS)), mostly(8))
        .map(([groups, admin]) => (admin ? [...groups, ADMINS] : groups)),
    ),
    namespace: fc.constantFrom(...NAMESPACES),
    pod: fc.constantFrom(...PODS),
    container: optional(fc.constantFrom(...CONTAINERS)),
    command:
      aim === 'exec'
        ? optional(commandArb)
        : fc.oneof(
            { weight: 4, arbitrary: fc.constantFrom(...(aim === 'copy' ? EXTRACTS : PROBES)) },
            { weight: 1, arbitrary: commandArb },
          ),
    // kubectl cp in sends its tar with stdin; everything else mostly without.
    stdin: optional(mostly(aim === 'copy' ? 85 : 10)),
    tty: optional(mostly(8)),
    dryRun: optional(mostly(20)),
    sparse: fc.boolean(),
  });

/** The directory a review's kubectl cp (tar or probe) names, for requests that mostly ask for it. */
function copyPathOf(review: ExecReview, parentOfIt: boolean): string {
  const argv = review.command ?? [];
  const directory = tarDirectory(argv) ?? (argv[0] === 'test' && argv[2] ? clean(argv[2]) : '/tmp/upload');
  return parentOfIt ? parent(directory) : directory;
}

/** Offsets of creation times from NOW, with the window edges of DURATIONS among them. */
const offsetArb = fc.oneof(
  fc.noBias(fc.integer({ min: -90 * 60_000, max: 60_000 })),
  fc.constantFrom(-3_600_000, -1_800_000, -90_000, -5_400_000, -7_200_000, -3_599_999, -1_799_999, 0, 1),
);

interface GrantTemplate {
  uid: 'own' | 'other' | 'none' | 'empty';
  grantedBy: string;
  status: 'granted' | 'denied';
  offset: number;
  elsewhere: boolean;
  forOther: boolean;
}
const grantTemplateArb: fc.Arbitrary<GrantTemplate> = fc.record({
  uid: fc.oneof(
    { weight: 12, arbitrary: fc.constant('own' as const) },
    { weight: 1, arbitrary: fc.constantFrom('other' as const, 'none' as const, 'empty' as const) },
  ),
  // Mostly an approver; sometimes anyone, the requester included (a self-grant is void).
  grantedBy: fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom('carol', 'oidc:carol') },
    { weight: 1, arbitrary: fc.constantFrom(...USERS) },
  ),
  status: fc.oneof(
    { weight: 6, arbitrary: fc.constant('granted' as const) },
    { weight: 1, arbitrary: fc.constant('denied' as const) },
  ),
  offset: offsetArb,
  elsewhere: mostly(8),
  forOther: mostly(8),
});

const requestTemplateArb = (aim: Aim) =>
  fc.record({
    user: sameOr(fc.constantFrom(...USERS)),
    strip: fc.boolean(),
    namespace: sameOr(fc.constantFrom(...NAMESPACES)),
    forNamespace: sameOr(fc.constantFrom(...NAMESPACES)),
    pod: sameOr(fc.constantFrom(...PODS)),
    subResource: fc.oneof(
      { weight: 16, arbitrary: fc.constant('exec') },
      { weight: 1, arbitrary: fc.constantFrom('attach', 'portforward', 'Exec') },
    ),
    resource: fc.oneof(
      { weight: 24, arbitrary: fc.constant('pods') },
      { weight: 1, arbitrary: fc.constant('services') },
    ),
    group: fc.oneof({ weight: 24, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constant('apps') }),
    hasExecOptions: mostly(90),
    container: sameOr(optional(fc.constantFrom(...CONTAINERS))),
    command: fc.oneof(
      { weight: 4, arbitrary: fc.constant(SAME) },
      { weight: 1, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: commandArb },
    ),
    stdin: mostly(10),
    tty: mostly(10),
    copy: fc.oneof(
      { weight: aim === 'exec' ? 4 : 1, arbitrary: fc.constant(undefined) },
      {
        weight: aim === 'exec' ? 1 : 3,
        arbitrary: fc.record({
          direction: fc.constantFrom('in', 'in', 'in', 'out', ''),
          path: sameOr(fc.constantFrom(...COPY_PATHS)),
          parent: mostly(aim === 'probe' ? 50 : 10),
        }),
      },
    ),
    validFor: fc.constantFrom(...VALID_FOR),
    deleted: mostly(5),
    offset: offsetArb,
    grants: fc.oneof(
      { weight: 1, arbitrary: fc.constant<GrantTemplate[]>([]) },
      { weight: 6, arbitrary: fc.array(grantTemplateArb, { minLength: 1, maxLength: 3 }) },
    ),
  });

const scenarioArb: fc.Arbitrary<Scenario> = fc
  .constantFrom<Aim>('exec', 'exec', 'copy', 'probe')
  .chain((aim) =>
    fc.tuple(
      fc.constantFrom('', '', 'oidc:'),
      reviewArb(aim),
      fc.oneof(
        { weight: 1, arbitrary: fc.constant([]) },
        { weight: 6, arbitrary: fc.array(requestTemplateArb(aim), { minLength: 1, maxLength: 4 }) },
      ),
      mostly(80),
    ),
  )
  .map(([prefix, prefixed, templates, addPrefix]) => {
    // Behind a prefix (OIDC) the apiserver sends most user names with it.
    const review =
      prefix && addPrefix && !prefixed.user.startsWith(prefix)
        ? { ...prefixed, user: prefix + prefixed.user }
        : prefixed;
    const requests: ModelRequest[] = [];
    const grants: ModelGrant[] = [];
    templates.forEach((t, i) => {
      const namespace = t.namespace === SAME ? review.namespace : t.namespace;
      // The review's user as a request may spell it: with the prefix, or without it.
      const user =
        t.user !== SAME
          ? t.user
          : prefix && t.strip && review.user.startsWith(prefix) && review.user.length > prefix.length
            ? review.user.slice(prefix.length)
            : review.user;
      const request: ModelRequest = {
        name: `req-${i}`,
        namespace,
        uid: `uid-${i}-${namespace}`,
        user,
        forNamespace: t.forNamespace === SAME ? namespace : t.forNamespace,
        pod: t.pod === SAME ? review.pod : t.pod,
        subResource: t.subResource,
        resource: t.resource,
        group: t.group,
        hasExecOptions: t.hasExecOptions,
        container: t.container === SAME ? review.container : t.container,
        command: t.command === SAME ? review.command : t.command,
        stdin: t.stdin,
        tty: t.tty,
        ...(t.copy
          ? {
              copy: {
                direction: t.copy.direction,
                path: t.copy.path === SAME ? copyPathOf(review, t.copy.parent) : t.copy.path,
              },
            }
          : {}),
        validFor: t.validFor,
        deleted: t.deleted,
        createdMs: NOW + t.offset,
      };
      requests.push(request);
      t.grants.forEach((g, j) => {
        const uid = { own: request.uid, other: `${request.uid}-before-re-create`, none: undefined, empty: '' }[g.uid];
        grants.push({
          name: `${request.name}-grant-${j}`,
          namespace: g.elsewhere ? NAMESPACES.find((n) => n !== namespace)! : namespace,
          grantFor: g.forOther ? `req-${i + 1}` : request.name,
          ...(uid !== undefined ? { grantForUID: uid } : {}),
          grantedBy: g.grantedBy,
          status: g.status,
          createdMs: NOW + g.offset,
        });
      });
    });
    return { prefix, review, requests, grants };
  });

// ---------------------------------------------------------------------------------------------
// From the model to the wire.

const iso = (ms: number) => new Date(ms).toISOString();

function accessRequestObject(r: ModelRequest): Record<string, unknown> {
  const execOptions: Record<string, unknown> = { stdout: true, stderr: !r.tty };
  if (r.container !== undefined) execOptions.container = r.container;
  if (r.command !== undefined) execOptions.command = r.command;
  if (r.stdin) execOptions.stdin = true;
  if (r.tty) execOptions.tty = true;
  return {
    apiVersion: 'kube-request-access.io/v1',
    kind: 'AccessRequest',
    metadata: {
      name: r.name,
      namespace: r.namespace,
      uid: r.uid,
      resourceVersion: '7',
      creationTimestamp: iso(r.createdMs),
      ...(r.deleted ? { deletionTimestamp: iso(NOW - 1000) } : {}),
    },
    spec: {
      userInfo: { username: r.user },
      forObject: {
        resource: { group: r.group, version: 'v1', resource: r.resource },
        subResource: r.subResource,
        name: r.pod,
        namespace: r.forNamespace,
      },
      validFor: r.validFor,
      ...(r.hasExecOptions ? { execOptions } : {}),
      ...(r.copy ? { copyOptions: r.copy } : {}),
    },
  };
}

function accessGrantObject(g: ModelGrant): Record<string, unknown> {
  return {
    apiVersion: 'kube-request-access.io/v1',
    kind: 'AccessGrant',
    metadata: {
      name: g.name,
      namespace: g.namespace,
      uid: `uid-${g.name}`,
      resourceVersion: '9',
      creationTimestamp: iso(g.createdMs),
    },
    spec: {
      grantFor: g.grantFor,
      grantedBy: { username: g.grantedBy },
      ...(g.grantForUID !== undefined ? { grantForUID: g.grantForUID } : {}),
    },
    status: g.status,
  };
}

function reviewBody(r: ExecReview): Record<string, any> {
  const object: Record<string, unknown> = r.sparse
    ? {}
    : { kind: 'PodExecOptions', apiVersion: 'v1', stdout: true, stderr: !r.tty };
  if (r.container !== undefined) object.container = r.container;
  if (r.command !== undefined) object.command = r.command;
  if (r.stdin !== undefined) object.stdin = r.stdin;
  if (r.tty !== undefined) object.tty = r.tty;
  const kind = { group: '', version: 'v1', kind: 'PodExecOptions' };
  const resource = { group: '', version: 'v1', resource: 'pods' };
  const request: Record<string, unknown> = {
    uid: r.uid,
    kind,
    resource,
    subResource: 'exec',
    ...(r.sparse
      ? {}
      : { requestKind: kind, requestResource: resource, requestSubResource: 'exec', oldObject: null, options: null }),
    name: r.pod,
    namespace: r.namespace,
    operation: 'CONNECT',
    userInfo: { username: r.user, ...(r.groups ? { groups: r.groups } : {}), ...(r.sparse ? {} : { uid: 'u-1' }) },
    object,
    ...(r.dryRun !== undefined ? { dryRun: r.dryRun } : {}),
  };
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request };
}

const configFor = (prefix: string): Config => ({
  ...DEFAULT_CONFIG,
  alwaysAllowedGroups: [ADMINS],
  alwaysAllowedUsers: [BREAKGLASS],
  usernamePrefix: prefix,
});

function setup(scenario: Scenario) {
  const cluster = new MemoryCluster([
    ...scenario.requests.map(accessRequestObject),
    ...scenario.grants.map(accessGrantObject),
  ]);
  const sent: AuditEvent[] = [];
  const logged: AuditEvent[] = [];
  // Both serialise like real sinks do, so an event JSON cannot carry fails here too.
  const webhook: AuditSink = {
    name: 'audit webhook',
    record: async (event) => void sent.push(JSON.parse(JSON.stringify(event))),
  };
  const log: AuditSink = {
    name: 'audit log',
    record: async (event) => void logged.push(JSON.parse(JSON.stringify(event))),
  };
  const config = configFor(scenario.prefix);
  const app = createApp({
    ...shellPorts(cluster),
    audit: [webhook],
    auditLog: log,
    config,
    clock: () => new Date(NOW),
    maxBodyBytes: MAX_BODY,
  });
  const post = (body: string, contentType = 'application/json') =>
    app.request('/', { method: 'POST', headers: { 'Content-Type': contentType }, body });
  /** The generated requests not used up: still there, and not marked used (status.usedAt). */
  const remaining = async () => {
    const left = new Set<string>();
    for (const r of scenario.requests) {
      const stored = (await cluster.accessRequest(r.namespace, r.name)) as { status?: { usedAt?: string } } | undefined;
      if (stored && !stored.status?.usedAt) left.add(key(r));
    }
    return left;
  };
  return { config, post, remaining, sent, logged };
}

const key = (r: ModelRequest) => `${r.namespace}/${r.name}`;

async function answerOf(res: Response): Promise<AdmissionResponseReview> {
  assert.equal(res.status, 200, `HTTP ${res.status}`);
  const body = (await res.json()) as AdmissionResponseReview;
  assert.equal(body.apiVersion, 'admission.k8s.io/v1');
  assert.equal(body.kind, 'AdmissionReview');
  return body;
}

/** The full check of one well-formed review: verdict, uid, audit, and what it used up. */
async function checkWellFormed(scenario: Scenario, body: string): Promise<void> {
  const { config, post, remaining, sent, logged } = setup(scenario);
  const before = await remaining();
  const verdict = oracle(scenario, config);
  const answer = await answerOf(await post(body));
  const allowed = answer.response.allowed;
  assert.equal(answer.response.uid, scenario.review.uid, 'the uid is echoed');
  if (allowed) assert.ok(verdict.permits, `wrongly allowed: ${answer.response.status?.message}`);
  else
    assert.ok(
      !verdict.permits,
      `wrongly denied (oracle: ${verdict.via} by ${verdict.by.map(key).join(', ')}): ${answer.response.status?.message}`,
    );
  // Every decision is audited once, with the verdict given; a dry run never reaches the webhook.
  const execEvents = logged.filter((e) => e.type === 'audit-exec');
  assert.equal(execEvents.length, 1, 'one audit-exec event in the audit log');
  assert.equal(
    execEvents[0]!.type === 'audit-exec' && execEvents[0]!.data.isAllowed,
    allowed,
    'the audit log says what was answered',
  );
  const dryRun = scenario.review.dryRun === true;
  assert.equal(
    sent.length,
    dryRun ? 0 : 1,
    dryRun ? 'a dry run reaches no audit webhook' : 'the audit webhook hears of it',
  );
  // What was used up: nothing on a dry run, a denial, an admin, a time-bound grant or a cp probe;
  // else exactly one of the one-shot requests that allowed it (invariants 5 and 6).
  const after = await remaining();
  const gone = [...before].filter((k) => !after.has(k));
  if (dryRun || !allowed) {
    assert.deepEqual(gone, [], 'nothing is used up');
    return;
  }
  const oneShots = verdict.by.filter((r) => r.validFor === '').map(key);
  const timeBound = verdict.by.some((r) => r.validFor !== '');
  assert.ok(gone.length <= 1, `at most one request used up, got ${gone.join(', ')}`);
  for (const k of gone)
    assert.ok(
      oneShots.includes(k),
      `${k} used up, but only one-shot requests that allowed this may be: ${oneShots.join(', ')}`,
    );
  if (gone.length === 0) {
    assert.ok(
      verdict.via === 'admin' || verdict.via === 'probe' || timeBound,
      'an exec allowed only by one-shot requests uses one up',
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Malformed input: mutations of a well-formed review that must never be allowed (invariant 8),
// and noise that leaves it well-formed (then the oracle still decides, unless refused with a 400).

type Mutation = { name: string; broken: boolean; apply: (body: Record<string, any>) => string };

const json = (body: unknown) => JSON.stringify(body);
const nested = (depth: number, leaf: unknown): unknown => {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { n: value };
  return value;
};

const brokenArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.constantFrom<Mutation>(
    { name: 'no uid', broken: true, apply: (b) => (delete b.request.uid, json(b)) },
    { name: 'empty uid', broken: true, apply: (b) => ((b.request.uid = ''), json(b)) },
    { name: 'no userInfo', broken: true, apply: (b) => (delete b.request.userInfo, json(b)) },
    { name: 'empty username', broken: true, apply: (b) => ((b.request.userInfo.username = ''), json(b)) },
    { name: 'no username', broken: true, apply: (b) => (delete b.request.userInfo.username, json(b)) },
    { name: 'username is a number', broken: true, apply: (b) => ((b.request.userInfo.username = 7), json(b)) },
    { name: 'groups is a string', broken: true, apply: (b) => ((b.request.userInfo.groups = ADMINS), json(b)) },
    { name: 'groups holds a number', broken: true, apply: (b) => ((b.request.userInfo.groups = [ADMINS, 1]), json(b)) },
    {
      name: 'identity only in __proto__',
      broken: true,
      apply: (b) => (
        (b.request.userInfo = {}),
        json(b).replace('"userInfo":{}', `"userInfo":{"__proto__":{"username":"${BREAKGLASS}","groups":["${ADMINS}"]}}`)
      ),
    },
    { name: 'no operation', broken: true, apply: (b) => (delete b.request.operation, json(b)) },
    { name: 'operation lower case', broken: true, apply: (b) => ((b.request.operation = 'connect'), json(b)) },
    { name: 'operation CREATE', broken: true, apply: (b) => ((b.request.operation = 'CREATE'), json(b)) },
    { name: 'operation GET', broken: true, apply: (b) => ((b.request.operation = 'GET'), json(b)) },
    { name: 'no resource', broken: true, apply: (b) => (delete b.request.resource, json(b)) },
    {
      name: 'resource in group apps',
      broken: true,
      apply: (b) => ((b.request.resource = { group: 'apps', version: 'v1', resource: 'pods' }), json(b)),
    },
    { name: 'subResource Exec', broken: true, apply: (b) => ((b.request.subResource = 'Exec'), json(b)) },
    { name: 'no subResource', broken: true, apply: (b) => (delete b.request.subResource, json(b)) },
    { name: 'subResource is a number', broken: true, apply: (b) => ((b.request.subResource = 1), json(b)) },
    { name: 'object is a string', broken: true, apply: (b) => ((b.request.object = 'cat /app/config'), json(b)) },
    { name: 'object is null', broken: true, apply: (b) => ((b.request.object = null), json(b)) },
    { name: 'no object', broken: true, apply: (b) => (delete b.request.object, json(b)) },
    {
      name: 'command is a string',
      broken: true,
      apply: (b) => ((b.request.object.command = 'cat /app/config'), json(b)),
    },
    { name: 'command holds a number', broken: true, apply: (b) => ((b.request.object.command = ['cat', 5]), json(b)) },
    { name: 'container is a number', broken: true, apply: (b) => ((b.request.object.container = 0), json(b)) },
    { name: 'stdin is a string', broken: true, apply: (b) => ((b.request.object.stdin = 'false'), json(b)) },
    { name: 'tty is null', broken: true, apply: (b) => ((b.request.object.tty = null), json(b)) },
    { name: 'dryRun is a string', broken: true, apply: (b) => ((b.request.dryRun = 'false'), json(b)) },
    {
      name: 'namespace is an object',
      broken: true,
      apply: (b) => ((b.request.namespace = { name: 'team-a' }), json(b)),
    },
    { name: 'name is a number', broken: true, apply: (b) => ((b.request.name = 0), json(b)) },
    { name: 'no request', broken: true, apply: (b) => (delete b.request, json(b)) },
    { name: 'request is null', broken: true, apply: (b) => ((b.request = null), json(b)) },
    { name: 'request is an array', broken: true, apply: (b) => ((b.request = [b.request]), json(b)) },
    { name: 'apiVersion v1beta1', broken: true, apply: (b) => ((b.apiVersion = 'admission.k8s.io/v1beta1'), json(b)) },
    { name: 'no apiVersion', broken: true, apply: (b) => (delete b.apiVersion, json(b)) },
    { name: 'apiVersion is an array', broken: true, apply: (b) => ((b.apiVersion = ['admission.k8s.io/v1']), json(b)) },
    { name: 'kind AdmissionReviewList', broken: true, apply: (b) => ((b.kind = 'AdmissionReviewList'), json(b)) },
    { name: 'no kind', broken: true, apply: (b) => (delete b.kind, json(b)) },
    { name: 'body null', broken: true, apply: () => 'null' },
    { name: 'body an array', broken: true, apply: (b) => json([b]) },
    { name: 'body a string', broken: true, apply: (b) => json(json(b)) },
    { name: 'body empty', broken: true, apply: () => '' },
    { name: 'body not JSON', broken: true, apply: (b) => `{${json(b)}` },
  ),
  fc.integer({ min: 1, max: 400 }).map((cut): Mutation => ({
    name: `truncated by ${cut}`,
    broken: true,
    apply: (b) => {
      const text = json(b);
      return text.slice(0, Math.max(0, text.length - cut));
    },
  })),
  // A number where a string or object belongs, anywhere in the request.
  fc.constantFrom('uid', 'kind', 'userInfo', 'operation', 'object').chain((field) =>
    (field === 'uid'
      ? fc.oneof(fc.integer(), fc.boolean())
      : fc.oneof(fc.integer(), fc.boolean(), fc.string({ maxLength: 3 }))
    ).map((value): Mutation => ({
      name: `request.${field} = ${json(value)}`,
      broken: true,
      apply: (b) => ((b.request[field] = value), json(b)),
    })),
  ),
);

const noiseArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.integer({ min: 1, max: 120 }).chain((depth) =>
    fc.constantFrom('top', 'request', 'object', 'options').map((where): Mutation => ({
      name: `${depth} levels of nesting in ${where}`,
      broken: false,
      apply: (b) => {
        const value = nested(depth, 'x');
        if (where === 'top') b.extra = value;
        else if (where === 'request') b.request.extra = value;
        else if (where === 'object') b.request.object.extra = value;
        else b.request.options = value;
        return json(b);
      },
    })),
  ),
  fc.integer({ min: 1_000, max: MAX_BODY + 4_000 }).chain((size) =>
    fc.constantFrom('object.padding', 'userInfo.extra', 'command').map((where): Mutation => ({
      name: `a ${size}-character string in ${where}`,
      broken: false,
      apply: (b) => {
        const big = 'é'.repeat(size / 2) + '"\\'.repeat(size / 4);
        if (where === 'object.padding') b.request.object.padding = big;
        else if (where === 'userInfo.extra') b.request.userInfo.extra = { note: [big] };
        else b.request.object.command = [...(b.request.object.command ?? []), big];
        return json(b);
      },
    })),
  ),
  fc.constantFrom<Mutation>(
    {
      name: 'unknown fields everywhere',
      broken: false,
      apply: (b) =>
        json({
          ...b,
          x: 1,
          request: {
            ...b.request,
            x: { y: [1] },
            object: { ...b.request.object, x: null },
            userInfo: { ...b.request.userInfo, x: [] },
          },
        }),
    },
    {
      name: 'groups in __proto__ of userInfo',
      broken: false,
      apply: (b) =>
        json(b).replace('"userInfo":{', `"userInfo":{"__proto__":{"groups":["${ADMINS}"],"username":"${BREAKGLASS}"},`),
    },
    {
      name: 'stdin in __proto__ of object',
      broken: false,
      apply: (b) => json(b).replace('"object":{', '"object":{"__proto__":{"stdin":false,"tty":false,"command":[]},'),
    },
    {
      name: 'dryRun in __proto__ of request',
      broken: false,
      apply: (b) => json(b).replace('"request":{', '"request":{"__proto__":{"dryRun":true},'),
    },
    { name: 'whitespace around', broken: false, apply: (b) => `\n  ${JSON.stringify(b, null, 2)}\n` },
  ),
);

// The review a noisy body still carries: fields added by the noise change the oracle's input.
function reviewAfterNoise(review: ExecReview, mutation: Mutation, size: number): ExecReview {
  if (!mutation.name.endsWith('in command')) return review;
  return { ...review, command: [...(review.command ?? []), 'é'.repeat(size / 2) + '"\\'.repeat(size / 4)] };
}

/** Any mutated review: HTTP 400/413/415, or an AdmissionReview that echoes the uid and, when broken, denies. */
const malformedProperty = (mutations: fc.Arbitrary<Mutation>) =>
  fc.asyncProperty(
    scenarioArb,
    mutations,
    fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain'),
    async (scenario, mutation, contentType) => {
      const body = mutation.apply(reviewBody(scenario.review));
      const bytes = Buffer.byteLength(body);
      const { post, remaining, config } = setup(scenario);
      const before = await remaining();
      const res = await post(body, contentType);
      const text = await res.text();
      if (contentType === 'text/plain') {
        // Whether the size or the type is checked first differs between runtimes; neither is read.
        assert.ok(res.status === 415 || (bytes > MAX_BODY && res.status === 413), `HTTP ${res.status} for text/plain`);
      } else if (bytes > MAX_BODY) {
        assert.equal(res.status, 413, `a ${bytes}-byte body is over the limit`);
      } else if (res.status !== 200) {
        assert.equal(res.status, 400, `HTTP ${res.status}: ${text}`);
      } else {
        const answer = JSON.parse(text) as AdmissionResponseReview;
        assert.equal(answer.apiVersion, 'admission.k8s.io/v1');
        assert.equal(answer.kind, 'AdmissionReview');
        const sentUid = (JSON.parse(body) as { request?: { uid?: unknown } } | null)?.request?.uid;
        assert.equal(answer.response.uid, sentUid, 'the uid sent is echoed');
        if (mutation.broken) {
          assert.equal(
            answer.response.allowed,
            false,
            `${mutation.name} was allowed: ${answer.response.status?.message}`,
          );
        } else {
          const size = Number(/a (\d+)-character/.exec(mutation.name)?.[1] ?? 0);
          const verdict = oracle({ ...scenario, review: reviewAfterNoise(scenario.review, mutation, size) }, config);
          assert.equal(
            answer.response.allowed,
            verdict.permits,
            `${mutation.name}: ${answer.response.status?.message}`,
          );
        }
      }
      if (res.status !== 200 || mutation.broken)
        assert.deepEqual(await remaining(), before, 'malformed input uses nothing up');
    },
  );

// ---------------------------------------------------------------------------------------------

describe(`review endpoint fuzz (fast-check, seed ${SEED})`, () => {
  it(`never wrongly allows nor wrongly denies a well-formed exec review (${RUNS} runs)`, async () => {
    let permitted = 0;
    const via: Record<string, number> = {};
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        const verdict = oracle(scenario, configFor(scenario.prefix));
        if (verdict.permits) {
          permitted++;
          via[verdict.via!] = (via[verdict.via!] ?? 0) + 1;
        }
        await checkWellFormed(scenario, json(reviewBody(scenario.review)));
      }),
      { seed: SEED, numRuns: RUNS },
    );
    // The generators must keep reaching every way in, or the property proves little.
    assert.ok(permitted >= RUNS / 5, `only ${permitted} of ${RUNS} generated reviews were permitted`);
    for (const way of ['admin', 'exec', 'copy', 'probe'])
      assert.ok((via[way] ?? 0) >= 5, `only ${via[way] ?? 0} runs permitted via ${way}`);
  });

  it(`never allows malformed input: HTTP 400 or a denial echoing the uid (${MALFORMED_RUNS} runs)`, async () => {
    await fc.assert(
      malformedProperty(fc.oneof({ weight: 3, arbitrary: brokenArb }, { weight: 2, arbitrary: noiseArb })),
      { seed: SEED, numRuns: MALFORMED_RUNS },
    );
  });

  // Found by this fuzz: valibot's (loose)object accepts an array (typeof [] === 'object'), so
  // `request.object: [...]` parsed as PodExecOptions with every field defaulted (no stdin, no tty,
  // the default container, no command) and a request for any command allowed it: a malformed
  // review allowed (invariant 8). functions/schemas.ts now refuses arrays where objects belong.
  it('denies a review whose object is an array instead of PodExecOptions', async () => {
    const scenario: Scenario = {
      prefix: '',
      review: {
        uid: 'array-object',
        user: 'alice',
        namespace: 'team-a',
        pod: 'web-0',
        command: ['cat', '/app/config'],
        sparse: false,
      },
      requests: [
        {
          name: 'req-0',
          namespace: 'team-a',
          uid: 'uid-0',
          user: 'alice',
          forNamespace: 'team-a',
          pod: 'web-0',
          subResource: 'exec',
          resource: 'pods',
          group: '',
          hasExecOptions: false,
          stdin: false,
          tty: false,
          validFor: '1h',
          deleted: false,
          createdMs: NOW,
        },
      ],
      grants: [
        {
          name: 'g',
          namespace: 'team-a',
          grantFor: 'req-0',
          grantForUID: 'uid-0',
          grantedBy: 'carol',
          status: 'granted',
          createdMs: NOW - 60_000,
        },
      ],
    };
    const body = reviewBody(scenario.review);
    body.request.object = [body.request.object];
    const answer = await answerOf(await setup(scenario).post(json(body)));
    assert.equal(answer.response.allowed, false, answer.response.status?.message);
  });

  it(`a one-shot request allows exactly one of two identical reviews, a dry run uses nothing up (${ONE_SHOT_RUNS} runs)`, async () => {
    // Only scenarios the oracle lets through by requests, without admins: the interesting ones.
    const granted = scenarioArb.filter((s) => {
      const verdict = oracle(s, configFor(s.prefix));
      return verdict.permits && verdict.via !== 'admin';
    });
    await fc.assert(
      fc.asyncProperty(granted, fc.boolean(), async (scenario, concurrent) => {
        const real = { ...scenario, review: { ...scenario.review, dryRun: false } };
        const dry = reviewBody({ ...scenario.review, dryRun: true });
        const { post, remaining, config } = setup(real);
        const verdict = oracle(real, config);
        const before = await remaining();
        // Dry runs first: each is answered as the real one would be, and leaves the cluster as it was.
        for (let i = 0; i < 2; i++)
          assert.equal(
            (await answerOf(await post(json(dry)))).response.allowed,
            true,
            'a dry run is answered like the real review',
          );
        assert.deepEqual(await remaining(), before, 'a dry run uses nothing up');
        const body = json(reviewBody(real.review));
        const answers = concurrent
          ? await Promise.all([post(body), post(body)].map(async (res) => answerOf(await res)))
          : [await answerOf(await post(body)), await answerOf(await post(body))];
        const allowed = answers.filter((a) => a.response.allowed).length;
        const oneShots = verdict.by.filter((r) => r.validFor === '').length;
        if (verdict.via === 'probe' || verdict.by.some((r) => r.validFor !== '')) {
          assert.equal(allowed, 2, "a time-bound grant (or kubectl cp's probe) allows both");
        } else if (oneShots === 1) {
          assert.equal(allowed, 1, 'one one-shot request allows exactly one of two identical reviews');
        } else {
          // Two one-shot requests: both execs may pass in turn; two at once may race for the same one.
          assert.ok(
            concurrent ? allowed >= 1 : allowed === 2,
            `${allowed} of 2 allowed with ${oneShots} one-shot requests`,
          );
        }
        const gone = before.size - (await remaining()).size;
        assert.equal(
          gone,
          verdict.by.some((r) => r.validFor !== '') || verdict.via === 'probe' ? 0 : allowed,
          'each exec allowed by a one-shot request used one up',
        );
      }),
      { seed: SEED, numRuns: ONE_SHOT_RUNS },
    );
  });
});
