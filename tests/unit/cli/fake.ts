// An in-memory Cluster and Runtime for driving commands through runCli in unit tests.
import type { AccessGrant, AccessRequest } from '../../../functions/schemas.ts';
import type { AccessCheck, Cluster, PodLike, WorkloadLike } from '../../../cli/lib/cluster.ts';
import type { Runtime } from '../../../cli/lib/runtime.ts';

/** Shaped like client-node's ApiException: a status code and the raw Status body. */
export class FakeApiError extends Error {
  constructor(
    readonly code: number,
    readonly body: string,
  ) {
    super(`HTTP-Code: ${code}`);
  }
}

export function status(code: number, message: string, details?: Record<string, string>): FakeApiError {
  return new FakeApiError(
    code,
    JSON.stringify({
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      message,
      code,
      ...(details ? { details } : {}),
    }),
  );
}

/** Equality-based label selectors (`a=b,c!=d,e,!f`), enough for tests of -l. */
export function matchesSelector(labels: Record<string, string>, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [key, value] = term.split(/!?==?/) as [string, string | undefined];
    if (term.startsWith('!')) return !(term.slice(1) in labels);
    if (value === undefined) return key in labels;
    return term.includes('!=') ? labels[key] !== value : labels[key] === value;
  });
}

export interface FakeOptions {
  user?: string;
  pods?: PodLike[];
  workloads?: Record<string, WorkloadLike>;
  requests?: AccessRequest[];
  grants?: AccessGrant[];
  /** AccessPolicies as stored (listAccessPolicies answers them). */
  policies?: unknown[];
  /** Answers for SelfSubjectAccessReviews, consumed in order; then `true`. */
  canI?: boolean[];
  /** Thrown by the named method. */
  fail?: Partial<Record<keyof Cluster, unknown>>;
  /** Runs after every sleep: lets a test decide a request "while" the CLI waits. */
  onSleep?: (fake: FakeCluster) => void;
}

export class FakeCluster implements Cluster {
  readonly namespace = 'shop';
  readonly server = 'https://127.0.0.1:6443';
  requests: AccessRequest[];
  grants: AccessGrant[];
  checks: AccessCheck[] = [];
  deleted: string[] = [];
  private counter = 0;

  constructor(private readonly options: FakeOptions = {}) {
    this.requests = [...(options.requests ?? [])];
    this.grants = [...(options.grants ?? [])];
  }

  private maybeFail(method: keyof Cluster): void {
    const failure = this.options.fail?.[method];
    if (failure) throw failure;
  }

  async whoAmI() {
    this.maybeFail('whoAmI');
    return { username: this.options.user ?? 'alice', groups: ['developers'] };
  }
  async readPod(_ns: string, name: string) {
    this.maybeFail('readPod');
    const pod = (this.options.pods ?? []).find((p) => p.metadata?.name === name);
    if (!pod) throw status(404, `pods "${name}" not found`, { name, kind: 'pods' });
    return pod;
  }
  async readWorkload(kind: string, _ns: string, name: string) {
    const workload = this.options.workloads?.[`${kind}/${name}`];
    if (!workload) throw status(404, `${kind}s.apps "${name}" not found`, { name, kind: `${kind}s` });
    return workload;
  }
  async listPods() {
    return this.options.pods ?? [];
  }
  async listAccessPolicies() {
    return this.options.policies ?? [];
  }
  async createAccessRequest(namespace: string, body: unknown) {
    this.maybeFail('createAccessRequest');
    const request = structuredClone(body) as AccessRequest;
    request.metadata.name = `${request.metadata.generateName}abcd${this.counter++}`;
    request.metadata.namespace = namespace;
    request.metadata.uid = `uid-${request.metadata.name}`;
    request.metadata.creationTimestamp = '2026-01-10T11:55:00Z';
    this.requests.push(request);
    return request;
  }
  async getAccessRequest(_ns: string, name: string) {
    this.maybeFail('getAccessRequest');
    const found = this.requests.find((r) => r.metadata.name === name);
    if (!found) {
      throw status(404, `accessrequests.kube-request-access.io "${name}" not found`, {
        name,
        group: 'kube-request-access.io',
        kind: 'accessrequests',
      });
    }
    return found;
  }
  async listAccessRequests(_ns?: string, labelSelector?: string) {
    this.maybeFail('listAccessRequests');
    return this.requests.filter((r) => matchesSelector(r.metadata.labels ?? {}, labelSelector));
  }
  async deleteAccessRequest(_ns: string, name: string) {
    this.deleted.push(name);
    this.requests = this.requests.filter((r) => r.metadata.name !== name);
  }
  async listAccessGrants() {
    return this.grants;
  }
  async createAccessGrant(namespace: string, body: unknown) {
    this.maybeFail('createAccessGrant');
    const grant = structuredClone(body) as AccessGrant;
    if (this.grants.some((g) => g.metadata.name === grant.metadata.name)) {
      throw status(409, `accessgrants.kube-request-access.io "${grant.metadata.name}" already exists`);
    }
    grant.metadata.namespace = namespace;
    grant.metadata.creationTimestamp = '2026-01-10T11:58:00Z';
    this.grants.push(grant);
    return grant;
  }
  async deleteAccessGrant(_ns: string, name: string) {
    this.maybeFail('deleteAccessGrant');
    if (!this.grants.some((g) => g.metadata.name === name)) {
      throw status(404, `accessgrants.kube-request-access.io "${name}" not found`, { name, kind: 'accessgrants' });
    }
    this.deleted.push(name);
    this.grants = this.grants.filter((g) => g.metadata.name !== name);
  }
  async canI(check: AccessCheck) {
    this.checks.push(check);
    return this.options.canI?.shift() ?? true;
  }
  afterSleep(): void {
    this.options.onSleep?.(this);
  }
}

export interface Captured {
  stdout: string[];
  stderr: string[];
  questions: string[];
  /** The argument lists `--run` ran kubectl with. */
  kubectl: string[][];
}

export function fakeRuntime(
  cluster: FakeCluster,
  options: { interactive?: boolean; answer?: string; start?: Date; kubectlExit?: number } = {},
): Runtime & { out: Captured; connections: unknown[] } {
  const out: Captured = { stdout: [], stderr: [], questions: [], kubectl: [] };
  let clock = (options.start ?? new Date('2026-01-10T12:00:00Z')).getTime();
  const connections: unknown[] = [];
  return {
    out,
    connections,
    io: {
      stdout: (text) => out.stdout.push(text),
      stderr: (text) => out.stderr.push(text),
      interactive: options.interactive ?? false,
      async question(prompt) {
        out.questions.push(prompt);
        return options.answer;
      },
    },
    async connect(connection) {
      connections.push(connection);
      return cluster;
    },
    now: () => new Date(clock),
    async sleep(ms) {
      clock += ms;
      cluster.afterSleep();
    },
    async runKubectl(args) {
      out.kubectl.push([...args]);
      return options.kubectlExit ?? 0;
    },
  };
}
