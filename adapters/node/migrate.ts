// `kube-request-access migrate-from-seed`: copies the seed's (spreadshirt/kube-request-access)
// AccessRequests and AccessGrants from spreadgroup.com/v1 into kube-request-access.io/v1, in every
// namespace. Requests keep their names, namespaces and spec; each grant is written again pinned
// (spec.grantForUID) to the uid of the NEW request object, since a grant binds to one object.
// Run it before the ValidatingWebhookConfiguration is registered (docs/migrating.md): the
// objects webhook refuses any grant whose grantedBy is not the user creating it.
import { defineCommand } from 'citty';
import { canonicalUsername, isSameUser } from '../../functions/access.ts';
import { parseDuration } from '../../functions/duration.ts';
import { API_VERSION, GROUP, VERSION } from '../../functions/schemas.ts';
import { UsageError } from './server.ts';
import { isNotFound, KubernetesApiError } from '../errors.ts';

export const SEED_GROUP = 'spreadgroup.com';
export const SEED_VERSION = 'v1';
/** On each migrated object: where it came from (`spreadgroup.com/v1 NAMESPACE/NAME`) and that object's uid. */
export const MIGRATED_FROM_ANNOTATION = `${GROUP}/migrated-from`;
export const MIGRATED_FROM_UID_ANNOTATION = `${GROUP}/migrated-from-uid`;
/** On a migrated time-bound request whose window was shortened: the seed's validFor. */
export const SEED_VALID_FOR_ANNOTATION = `${GROUP}/seed-valid-for`;

/** A Kubernetes object as the API lists it: only what the migration reads. */
export interface SeedObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    creationTimestamp?: string | null;
    labels?: Record<string, string> | null;
    annotations?: Record<string, string> | null;
  };
  spec?: Record<string, unknown> | null;
  status?: unknown;
}

export type Step =
  | {
      kind: 'request';
      action: 'create';
      namespace: string;
      name: string;
      seedUid: string;
      body: SeedObject;
      note?: string;
    }
  | { kind: 'request'; action: 'exists'; namespace: string; name: string; seedUid: string; uid: string }
  | { kind: 'request'; action: 'skip'; namespace: string; name: string; reason: string }
  | { kind: 'grant'; action: 'create'; namespace: string; name: string; grantFor: string; body: SeedObject }
  | { kind: 'grant'; action: 'skip'; namespace: string; name: string; reason: string };

export interface PlanInput {
  seedRequests: readonly SeedObject[];
  seedGrants: readonly SeedObject[];
  /** kube-request-access.io/v1 objects already in the cluster. */
  requests: readonly SeedObject[];
  grants: readonly SeedObject[];
  now: Date;
  usernamePrefix: string;
}

const key = (namespace: string, name: string) => `${namespace}/${name}`;
const ms = (text: string | null | undefined) => (text ? Date.parse(text) : Number.NaN);

/** Metadata worth keeping: labels and annotations, without kubectl's last-applied copy of the old object. */
function carriedMetadata(meta: NonNullable<SeedObject['metadata']>, extra: Record<string, string>) {
  const annotations = { ...(meta.annotations ?? {}) };
  delete annotations['kubectl.kubernetes.io/last-applied-configuration'];
  return {
    name: meta.name!,
    namespace: meta.namespace!,
    ...(meta.labels && Object.keys(meta.labels).length ? { labels: meta.labels } : {}),
    annotations: { ...annotations, ...extra },
  };
}

/**
 * The seed's request spec in the new group: the seed's own fields (userInfo.username, forObject,
 * validFor, execOptions, customKeys), with Go's nulls (a nil map or slice) dropped.
 */
export function migratedSpec(spec: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const userInfo = spec.userInfo as { username?: unknown } | null | undefined;
  out.userInfo = { username: userInfo?.username };
  out.forObject = spec.forObject;
  if (typeof spec.validFor === 'string' && spec.validFor !== '') out.validFor = spec.validFor;
  const exec = spec.execOptions as Record<string, unknown> | null | undefined;
  if (exec) {
    const options: Record<string, unknown> = {};
    for (const [field, value] of Object.entries(exec)) if (value !== null) options[field] = value;
    out.execOptions = options;
  }
  const customKeys = spec.customKeys as Record<string, unknown> | null | undefined;
  if (customKeys && Object.keys(customKeys).length) out.customKeys = customKeys;
  return out;
}

/** A Go duration for `ms` milliseconds, in whole seconds rounded down ("4h37m12s"). */
export function goDuration(ms: number): string {
  let seconds = Math.floor(ms / 1000);
  const h = Math.floor(seconds / 3600);
  seconds -= h * 3600;
  const m = Math.floor(seconds / 60);
  seconds -= m * 60;
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${seconds || (!h && !m) ? `${seconds}s` : ''}`;
}

/**
 * What to do, in order: each seed request (created, or found from an earlier run, or skipped with
 * a reason), then its grants. Pure: the caller lists the objects and carries the steps out. A
 * grant is written only for a request this migration made (now or in an earlier run, known by its
 * migrated-from-uid annotation): a new-group request of the same name made by someone else is
 * another object, and the seed's grant never covers it.
 */
export function planMigration(input: PlanInput): Step[] {
  const existingRequests = new Map(
    input.requests.map((r) => [key(r.metadata?.namespace ?? '', r.metadata?.name ?? ''), r]),
  );
  const existingGrants = new Set(input.grants.map((g) => key(g.metadata?.namespace ?? '', g.metadata?.name ?? '')));
  const grantsByRequest = new Map<string, SeedObject[]>();
  for (const grant of input.seedGrants) {
    const k = key(grant.metadata?.namespace ?? '', String(grant.spec?.grantFor ?? ''));
    grantsByRequest.set(k, [...(grantsByRequest.get(k) ?? []), grant]);
  }
  const byName = (a: SeedObject, b: SeedObject) =>
    key(a.metadata?.namespace ?? '', a.metadata?.name ?? '').localeCompare(
      key(b.metadata?.namespace ?? '', b.metadata?.name ?? ''),
    );
  const steps: Step[] = [];
  const handled = new Set<string>();

  for (const request of [...input.seedRequests].sort(byName)) {
    const meta = request.metadata ?? {};
    const namespace = meta.namespace ?? '';
    const name = meta.name ?? '';
    const k = key(namespace, name);
    handled.add(k);
    const grants = [...(grantsByRequest.get(k) ?? [])].sort(byName);
    const skipGrants = (reason: string) => {
      for (const grant of grants)
        steps.push({ kind: 'grant', action: 'skip', namespace, name: grant.metadata?.name ?? '', reason });
    };
    const spec = request.spec;
    const username = (spec?.userInfo as { username?: unknown } | null | undefined)?.username;
    if (!spec || typeof username !== 'string' || !username || !spec.forObject || !meta.uid) {
      steps.push({
        kind: 'request',
        action: 'skip',
        namespace,
        name,
        reason: 'no spec.userInfo.username, spec.forObject or uid',
      });
      skipGrants(`its request ${name} was not migrated`);
      continue;
    }

    const existing = existingRequests.get(k);
    if (existing) {
      const from = existing.metadata?.annotations?.[MIGRATED_FROM_UID_ANNOTATION];
      if (from === meta.uid && existing.metadata?.uid) {
        steps.push({
          kind: 'request',
          action: 'exists',
          namespace,
          name,
          seedUid: meta.uid,
          uid: existing.metadata.uid,
        });
      } else {
        steps.push({
          kind: 'request',
          action: 'skip',
          namespace,
          name,
          reason: `a ${API_VERSION} AccessRequest ${name} that this migration did not make exists; its grants are not copied onto it`,
        });
        skipGrants(`the ${API_VERSION} AccessRequest ${name} is not the migrated one`);
        continue;
      }
    } else {
      // The seed runs a time-bound request's window from its first granted grant. A new grant
      // starts a new window: carry over only what is left of it, and nothing of an expired one.
      const migrated = migratedSpec(spec);
      let note: string | undefined;
      const extra: Record<string, string> = {
        [MIGRATED_FROM_ANNOTATION]: `${SEED_GROUP}/${SEED_VERSION} ${k}`,
        [MIGRATED_FROM_UID_ANNOTATION]: meta.uid,
      };
      const validFor = typeof spec.validFor === 'string' ? spec.validFor : '';
      const granted = grants.filter((g) => g.status === 'granted' && !isSelfGrant(request, g, input.usernamePrefix));
      if (validFor && granted.length) {
        const window = parseDuration(validFor);
        const start = Math.min(...granted.map((g) => ms(g.metadata?.creationTimestamp)));
        if (window === undefined || Number.isNaN(start)) {
          steps.push({
            kind: 'request',
            action: 'skip',
            namespace,
            name,
            reason: `validFor "${validFor}" or its grant's creationTimestamp cannot be read`,
          });
          skipGrants(`its request ${name} was not migrated`);
          continue;
        }
        const left = start + window - input.now.getTime();
        if (left < 1000) {
          steps.push({
            kind: 'request',
            action: 'skip',
            namespace,
            name,
            reason: `expired at ${new Date(start + window).toISOString()} (validFor ${validFor} from its grant)`,
          });
          skipGrants(`its request ${name} expired`);
          continue;
        }
        migrated.validFor = goDuration(left);
        extra[SEED_VALID_FOR_ANNOTATION] = validFor;
        note = `validFor ${validFor} granted at ${new Date(start).toISOString()}: ${migrated.validFor} left`;
      }
      steps.push({
        kind: 'request',
        action: 'create',
        namespace,
        name,
        seedUid: meta.uid,
        body: {
          apiVersion: API_VERSION,
          kind: 'AccessRequest',
          metadata: carriedMetadata(meta, extra),
          spec: migrated,
        },
        ...(note ? { note } : {}),
      });
    }

    for (const grant of grants) {
      const gmeta = grant.metadata ?? {};
      const gname = gmeta.name ?? '';
      const grantedBy = (grant.spec?.grantedBy as { username?: unknown } | null | undefined)?.username;
      if (existingGrants.has(key(namespace, gname))) {
        steps.push({ kind: 'grant', action: 'skip', namespace, name: gname, reason: 'exists' });
      } else if (grant.status !== 'granted' && grant.status !== 'denied') {
        steps.push({
          kind: 'grant',
          action: 'skip',
          namespace,
          name: gname,
          reason: `status ${JSON.stringify(grant.status ?? null)} is neither granted nor denied`,
        });
      } else if (typeof grantedBy !== 'string' || !grantedBy) {
        steps.push({ kind: 'grant', action: 'skip', namespace, name: gname, reason: 'no spec.grantedBy.username' });
      } else if (isSelfGrant(request, grant, input.usernamePrefix)) {
        steps.push({
          kind: 'grant',
          action: 'skip',
          namespace,
          name: gname,
          reason: `a self-grant by ${grantedBy} (void in kube-request-access: nobody grants their own request)`,
        });
      } else {
        steps.push({
          kind: 'grant',
          action: 'create',
          namespace,
          name: gname,
          grantFor: name,
          body: {
            apiVersion: API_VERSION,
            kind: 'AccessGrant',
            metadata: carriedMetadata(gmeta, {
              [MIGRATED_FROM_ANNOTATION]: `${SEED_GROUP}/${SEED_VERSION} ${key(namespace, gname)}`,
              ...(gmeta.uid ? { [MIGRATED_FROM_UID_ANNOTATION]: gmeta.uid } : {}),
            }),
            // grantForUID is filled in with the new request's uid when it is known.
            spec: { grantFor: name, grantedBy: { username: grantedBy } },
            status: grant.status,
          },
        });
      }
    }
  }

  for (const grant of [...input.seedGrants].sort(byName)) {
    const namespace = grant.metadata?.namespace ?? '';
    if (handled.has(key(namespace, String(grant.spec?.grantFor ?? '')))) continue;
    steps.push({
      kind: 'grant',
      action: 'skip',
      namespace,
      name: grant.metadata?.name ?? '',
      reason: `its request ${String(grant.spec?.grantFor ?? '')} does not exist`,
    });
  }
  return steps;
}

function isSelfGrant(request: SeedObject, grant: SeedObject, prefix: string): boolean {
  const requester = (request.spec?.userInfo as { username?: string } | null | undefined)?.username ?? '';
  const grantedBy = (grant.spec?.grantedBy as { username?: string } | null | undefined)?.username ?? '';
  return isSameUser(requester, canonicalUsername(grantedBy, prefix), prefix);
}

/** The cluster, as the migration uses it. */
export interface MigrationApi {
  list(group: string, version: string, plural: string): Promise<SeedObject[]>;
  create(plural: string, namespace: string, body: SeedObject): Promise<SeedObject>;
}

export interface MigrationResult {
  lines: string[];
  failed: number;
}

/** Lists, plans and (unless `dryRun`) carries out the migration; one line per object and a summary. */
export async function migrateFromSeed(
  api: MigrationApi,
  options: { dryRun: boolean; usernamePrefix: string; now?: () => Date; print?: (line: string) => void },
): Promise<MigrationResult> {
  const lines: string[] = [];
  const print = (line: string) => {
    lines.push(line);
    options.print?.(line);
  };
  const seedList = async (plural: string) => {
    try {
      return await api.list(SEED_GROUP, SEED_VERSION, plural);
    } catch (error) {
      if (isNotFound(error))
        throw new UsageError(
          `no ${SEED_GROUP}/${SEED_VERSION} ${plural} in this cluster: is the seed's CRD installed (and is this the right --context)?`,
        );
      throw error;
    }
  };
  const newList = async (plural: string) => {
    try {
      return await api.list(GROUP, VERSION, plural);
    } catch (error) {
      if (isNotFound(error))
        throw new UsageError(
          `no ${API_VERSION} ${plural} in this cluster: apply manifests/crds first (docs/migrating.md)`,
        );
      throw error;
    }
  };
  const [seedRequests, seedGrants, requests, grants] = await Promise.all([
    seedList('accessrequests'),
    seedList('accessgrants'),
    newList('accessrequests'),
    newList('accessgrants'),
  ]);
  const steps = planMigration({
    seedRequests,
    seedGrants,
    requests,
    grants,
    now: (options.now ?? (() => new Date()))(),
    usernamePrefix: options.usernamePrefix,
  });
  const prefix = options.dryRun ? '[dry run] ' : '';
  const uids = new Map<string, string>();
  const count = {
    requests: { created: 0, existed: 0, skipped: 0, failed: 0 },
    grants: { created: 0, skipped: 0, failed: 0 },
  };
  let failed = 0;
  for (const step of steps) {
    const where = `${step.namespace}/${step.name}`;
    if (step.kind === 'request') {
      if (step.action === 'skip') {
        count.requests.skipped++;
        print(`${prefix}accessrequest ${where}: skipped: ${step.reason}`);
      } else if (step.action === 'exists') {
        count.requests.existed++;
        uids.set(where, step.uid);
        print(`${prefix}accessrequest ${where}: exists (migrated before, uid ${step.uid})`);
      } else if (options.dryRun) {
        count.requests.created++;
        uids.set(where, '<uid of the new AccessRequest>');
        print(`${prefix}accessrequest ${where}: would be created${step.note ? ` (${step.note})` : ''}`);
      } else {
        try {
          const created = await api.create('accessrequests', step.namespace, step.body);
          const uid = created.metadata?.uid;
          if (!uid) throw new Error('the created AccessRequest has no uid');
          uids.set(where, uid);
          count.requests.created++;
          print(`accessrequest ${where}: created (uid ${uid})${step.note ? ` (${step.note})` : ''}`);
        } catch (error) {
          count.requests.failed++;
          failed++;
          print(`accessrequest ${where}: FAILED: ${describe(error)}`);
        }
      }
      continue;
    }
    if (step.action === 'skip') {
      count.grants.skipped++;
      print(`${prefix}accessgrant ${where}: skipped: ${step.reason}`);
      continue;
    }
    const uid = uids.get(`${step.namespace}/${step.grantFor}`);
    if (!uid) {
      count.grants.skipped++;
      print(`${prefix}accessgrant ${where}: skipped: its request ${step.grantFor} was not created`);
      continue;
    }
    const body = { ...step.body, spec: { ...step.body.spec, grantForUID: uid } };
    if (options.dryRun) {
      count.grants.created++;
      print(
        `${prefix}accessgrant ${where}: would be created (${String(step.body.status)} by ${(step.body.spec as { grantedBy: { username: string } }).grantedBy.username}, for ${step.grantFor}, pinned to ${uid})`,
      );
      continue;
    }
    try {
      await api.create('accessgrants', step.namespace, body);
      count.grants.created++;
      print(
        `accessgrant ${where}: created (${String(step.body.status)} by ${(step.body.spec as { grantedBy: { username: string } }).grantedBy.username}, for ${step.grantFor}, grantForUID ${uid})`,
      );
    } catch (error) {
      count.grants.failed++;
      failed++;
      print(`accessgrant ${where}: FAILED: ${describe(error)}`);
    }
  }
  const verb = options.dryRun ? 'would be created' : 'created';
  print(
    `${prefix}summary: accessrequests ${count.requests.created} ${verb}, ${count.requests.existed} existed, ${count.requests.skipped} skipped, ${count.requests.failed} failed; ` +
      `accessgrants ${count.grants.created} ${verb}, ${count.grants.skipped} skipped, ${count.grants.failed} failed`,
  );
  return { lines, failed };
}

function describe(error: unknown): string {
  // The API server's message (the webhook's or RBAC's words), not our request line around it.
  if (error instanceof KubernetesApiError && error.apiMessage) return error.apiMessage;
  const body = (error as { body?: unknown }).body;
  if (body) {
    try {
      const status = typeof body === 'string' ? JSON.parse(body) : body;
      if (status && typeof status === 'object' && 'message' in status)
        return String((status as { message: unknown }).message);
    } catch {
      // not JSON: fall through
    }
  }
  return error instanceof Error ? error.message : String(error);
}

/** The API over the server's Kubernetes client (adapters/kubernetes/client.ts), listing every page in every namespace. */
async function kubernetesApi(flags: { kubeconfig?: string; context?: string }): Promise<MigrationApi> {
  const { loadKubeConfig } = await import('../kubernetes/config.ts');
  const { nodeKubernetesClient } = await import('../kubernetes/client.ts');
  const client = nodeKubernetesClient(
    loadKubeConfig({
      ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}),
      ...(flags.context ? { context: flags.context } : {}),
    }),
  );
  return {
    async list(group, version, plural) {
      const items: SeedObject[] = [];
      let next: string | undefined;
      do {
        const page = (await client.get(`/apis/${group}/${version}/${plural}`, { limit: '500', continue: next })) as {
          items?: SeedObject[];
          metadata?: { continue?: string };
        };
        items.push(...(page.items ?? []));
        next = page.metadata?.continue || undefined;
      } while (next);
      return items;
    },
    async create(plural, namespace, body) {
      return (await client.post(
        `/apis/${GROUP}/${VERSION}/namespaces/${encodeURIComponent(namespace)}/${plural}`,
        body,
      )) as SeedObject;
    },
  };
}

const STRING_FLAGS = new Set(['kubeconfig', 'context', 'username-prefix']);
const KNOWN = new Set([...STRING_FLAGS, 'dry-run', 'help', 'h']);

export default defineCommand({
  meta: {
    name: 'migrate-from-seed',
    description:
      "Copy the seed's spreadgroup.com/v1 AccessRequests and AccessGrants (all namespaces) into kube-request-access.io/v1, grants pinned to the new requests' uids. Run before registering the ValidatingWebhookConfiguration (docs/migrating.md)",
  },
  args: {
    kubeconfig: { type: 'string', description: 'kubeconfig file (default: $KUBECONFIG, else the pod service account)' },
    context: { type: 'string', description: 'kubeconfig context to use' },
    'username-prefix': {
      type: 'string',
      default: '',
      description: "The server's --username-prefix (to recognise self-grants, which are not copied)",
    },
    'dry-run': { type: 'boolean', default: false, description: 'Print what would be created, create nothing' },
  },
  async run({ args, rawArgs }) {
    for (let i = 0; i < rawArgs.length; i++) {
      const arg = rawArgs[i]!;
      const flag = /^--?(?:no-)?([^=]+)(=)?/.exec(arg);
      if (!flag || !KNOWN.has(flag[1]!)) {
        console.error(`migrate-from-seed: unknown argument ${arg} (kube-request-access migrate-from-seed --help)`);
        process.exit(2);
      }
      if (!flag[2] && STRING_FLAGS.has(flag[1]!)) i++;
    }
    try {
      const api = await kubernetesApi({
        ...(args.kubeconfig ? { kubeconfig: args.kubeconfig } : {}),
        ...(args.context ? { context: args.context } : {}),
      });
      const result = await migrateFromSeed(api, {
        dryRun: Boolean(args['dry-run']),
        usernamePrefix: args['username-prefix'] ?? '',
        print: (line) => console.log(line),
      });
      if (result.failed) process.exitCode = 1;
    } catch (error) {
      console.error(`migrate-from-seed: ${describe(error)}`);
      process.exit(error instanceof UsageError ? 2 : 1);
    }
  },
});
