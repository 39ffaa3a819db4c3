// From what the user typed (POD or TYPE/NAME, maybe -c) to one pod and one container, the way
// kubectl exec picks them. Shared by exec and, later, attach/port-forward/debug/cp.
import { isNotFound } from '../../adapters/errors.ts';
import type { Target } from './args.ts';
import type { Cluster, LabelSelector, PodLike } from './cluster.ts';
import { toDate } from './cluster.ts';
import { CliError, explainError } from './errors.ts';

export const DEFAULT_CONTAINER_ANNOTATION = 'kubectl.kubernetes.io/default-container';

/** A LabelSelector as the `labelSelector` query string (`a=b,tier in (web,api),!legacy`). */
export function labelSelectorString(selector: LabelSelector | undefined): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(selector?.matchLabels ?? {})) parts.push(`${key}=${value}`);
  for (const { key, operator, values = [] } of selector?.matchExpressions ?? []) {
    switch (operator) {
      case 'In':
        parts.push(`${key} in (${values.join(',')})`);
        break;
      case 'NotIn':
        parts.push(`${key} notin (${values.join(',')})`);
        break;
      case 'Exists':
        parts.push(key);
        break;
      case 'DoesNotExist':
        parts.push(`!${key}`);
        break;
      default:
        throw new CliError(`unsupported label selector operator "${operator}" on ${key}`);
    }
  }
  return parts.join(',');
}

function isReady(pod: PodLike): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/**
 * The pod to use among a workload's pods: running and not terminating, ready ones first, then the
 * oldest (the most settled), then by name so the choice is stable. Undefined when none runs.
 */
export function pickRunningPod(pods: readonly PodLike[]): PodLike | undefined {
  const running = pods.filter((pod) => pod.status?.phase === 'Running' && !pod.metadata?.deletionTimestamp);
  running.sort((a, b) => {
    const ready = Number(isReady(b)) - Number(isReady(a));
    if (ready) return ready;
    const age =
      (toDate(a.metadata?.creationTimestamp)?.getTime() ?? 0) - (toDate(b.metadata?.creationTimestamp)?.getTime() ?? 0);
    if (age) return age;
    return (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? '');
  });
  return running[0];
}

export interface ContainerChoice {
  container: string;
  /** Said on stderr when the container was picked for the user, like kubectl's "Defaulted container". */
  note?: string;
}

/** `-c` if given (and present), else the default-container annotation, else the first container. */
export function pickContainer(pod: PodLike, explicit?: string): ContainerChoice {
  const names = (pod.spec?.containers ?? []).map((c) => c.name);
  const podName = pod.metadata?.name ?? '';
  if (explicit) {
    if (names.length > 0 && !names.includes(explicit)) {
      throw new CliError(`container ${explicit} not found in pod ${podName}; choose one of: ${names.join(', ')}`);
    }
    return { container: explicit };
  }
  if (names.length === 0) throw new CliError(`pod ${podName} has no containers`);
  const annotated = pod.metadata?.annotations?.[DEFAULT_CONTAINER_ANNOTATION];
  if (annotated && names.includes(annotated)) return { container: annotated };
  const first = names[0]!;
  return names.length > 1
    ? { container: first, note: `Defaulted container "${first}" out of: ${names.join(', ')}` }
    : { container: first };
}

export interface ResolvedTarget {
  pod: string;
  container: string;
  /** Lines for stderr: which pod a workload resolved to, which container was defaulted. */
  notes: string[];
}

type PodSource = Pick<Cluster, 'readPod' | 'readWorkload' | 'listPods'>;

/** Resolves POD or TYPE/NAME (and an optional -c) to a pod name and a container. */
export async function resolveTarget(
  source: PodSource,
  namespace: string,
  target: Target,
  explicitContainer?: string,
): Promise<ResolvedTarget> {
  const notes: string[] = [];
  let pod: PodLike;
  if (target.kind === 'pod') {
    try {
      pod = await source.readPod(namespace, target.name);
    } catch (error) {
      if (isNotFound(error)) {
        throw new CliError(
          `pod ${target.name} not found in namespace ${namespace}; check the name (kubectl get pods -n ${namespace})`,
        );
      }
      throw explainError(error, { action: `read pod ${target.name}`, namespace });
    }
  } else {
    const label = `${target.kind}/${target.name}`;
    let selector: LabelSelector | undefined;
    try {
      selector = (await source.readWorkload(target.kind, namespace, target.name)).spec?.selector;
    } catch (error) {
      if (isNotFound(error)) throw new CliError(`${label} not found in namespace ${namespace}; check the name and -n`);
      throw explainError(error, { action: `read ${label}`, namespace });
    }
    const query = labelSelectorString(selector);
    if (!query) throw new CliError(`${label} has no pod selector; name the pod instead`);
    let pods: PodLike[];
    try {
      pods = await source.listPods(namespace, query);
    } catch (error) {
      throw explainError(error, { action: `list the pods of ${label}`, namespace });
    }
    const chosen = pickRunningPod(pods);
    if (!chosen) {
      throw new CliError(
        pods.length === 0
          ? `${label} has no pods in namespace ${namespace}; is it scaled to zero?`
          : `${label} has no running pod (${pods.length} found, none running); name a pod instead`,
      );
    }
    pod = chosen;
    notes.push(`${label} resolved to pod ${chosen.metadata?.name ?? ''}`);
  }
  const choice = pickContainer(pod, explicitContainer);
  if (choice.note) notes.push(choice.note);
  return { pod: pod.metadata?.name ?? target.name, container: choice.container, notes };
}
