// `npm run controlplane` / `npm run dev`: a local kube-apiserver with the webhook in .dev/, up until
// Ctrl-C. With --demo it also creates demo workloads and prints the request → grant → exec walk-through.
//
//   tsx tests/controlplane/run.ts [--demo] [--developers-can-exec] [--no-webhook] [--dir DIR]
import { existsSync } from 'node:fs';
import { mkdir, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, USERS, startControlPlane, type ControlPlane } from './cluster.ts';

const { values } = parseArgs({
  options: {
    demo: { type: 'boolean', default: false },
    'developers-can-exec': { type: 'boolean', default: false },
    'no-webhook': { type: 'boolean', default: false },
    dir: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  console.log(`usage: npm run controlplane [-- options]   |   npm run dev [-- options]

  --demo                  create demo pods and print the request → grant → exec walk-through (npm run dev)
  --developers-can-exec   give developers standing exec RBAC (the webhook alone gates)
  --no-webhook            do not start the webhook server (exec then fails closed)
  --dir DIR               state directory (default .dev/)`);
  process.exit(0);
}

const webhookEntry = path.join(ROOT, 'adapters/node/main.ts');
const webhookAvailable = existsSync(webhookEntry);
const startWebhook = !values['no-webhook'] && webhookAvailable;

let plane: ControlPlane | undefined;
let stopping: Promise<void> | undefined;

// Idempotent: Ctrl-C reaches us both from the terminal and relayed by tsx; every caller waits for
// the one orderly stop instead of exiting underneath it.
async function shutdown(reason: string, code: number): Promise<never> {
  stopping ??= (async () => {
    console.error(`\n[controlplane] ${reason}: stopping…`);
    await plane?.stop().catch((error: unknown) => console.error('[controlplane] stop failed:', error));
    console.error('[controlplane] stopped');
  })();
  await stopping;
  process.exit(code);
}

process.on('SIGINT', () => void shutdown('interrupted', 0));
process.on('SIGTERM', () => void shutdown('terminated', 0));

try {
  plane = await startControlPlane({
    ...(values.dir ? { dir: values.dir } : {}),
    developersCanExec: values['developers-can-exec'],
    webhook: startWebhook,
  });
} catch (error) {
  console.error(`[controlplane] failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}

if (!webhookAvailable && !values['no-webhook']) {
  console.error('[controlplane] warning: adapters/node/main.ts does not exist yet, so no webhook server runs: exec and AccessRequests fail closed');
}
if (values.demo) await createDemo(plane);
const pluginDir = await linkPlugin(plane);

const rel = (file: string): string => path.relative(process.cwd(), file) || file;
console.log(`
kube-apiserver ${plane.server} is up${startWebhook ? `, webhook ${plane.webhookUrl}` : ''}.

  export KUBECONFIG=${plane.kubeconfig}${pluginDir ? `
  export PATH=${pluginDir}:$PATH     # the kubectl request plugin from this checkout` : ''}
  kubectl config get-contexts        # ${USERS.join(', ')} (current: admin; namespace team-a)
  kubectl --context alice auth can-i --list

Users: admin (system:masters), alice and bob (developers), carol (approvers), dave (no role).
Logs: ${rel(plane.logs.controlplane)}, ${rel(plane.logs.webhook)}${startWebhook ? `
The webhook reviews only requests with the kube-apiserver's client certificate (--client-ca-file ${rel(plane.webhookClientCaFile)});
anything else gets 401: curl -sk -X POST ${plane.webhookUrl}` : ''}
`);
if (values.demo) printWalkthrough(plane, pluginDir);
console.log('Press Ctrl-C to stop.');

const how = await plane.exited;
await shutdown(`kube-apiserver stopped unexpectedly (${how}); see ${plane.logs.controlplane}`, 1);

/** <dir>/plugins/kubectl-request → bin/kubectl-request.mjs, so `kubectl request` works from this checkout. */
async function linkPlugin(cp: ControlPlane): Promise<string | undefined> {
  const target = path.join(ROOT, 'bin/kubectl-request.mjs');
  if (!existsSync(target)) return undefined;
  const dir = path.join(cp.dir, 'plugins');
  await mkdir(dir, { recursive: true });
  const link = path.join(dir, 'kubectl-request');
  await rm(link, { force: true });
  await symlink(target, link);
  return dir;
}

async function createDemo(cp: ControlPlane): Promise<void> {
  const pod = (name: string, namespace: string, app: string, image: string) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    // No kubelet runs here: pods stay Pending without a node, which is all the webhook needs.
    metadata: { name, namespace, labels: { app } },
    spec: { containers: [{ name: app, image }] },
  });
  await cp.apply([
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'nginx', namespace: 'team-a', labels: { app: 'nginx' } },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'nginx' } },
        template: { metadata: { labels: { app: 'nginx' } }, spec: { containers: [{ name: 'nginx', image: 'nginx:1.27' }] } },
      },
    },
    // No controller-manager either: the Deployment's pods are created by hand.
    pod('nginx-1', 'team-a', 'nginx', 'nginx:1.27'),
    pod('nginx-2', 'team-a', 'nginx', 'nginx:1.27'),
    pod('api-1', 'team-b', 'api', 'busybox:1.36'),
  ]);
  // What a kubelet would report, so `kubectl request exec deployment/nginx` finds running pods. The
  // pods still have no node: an allowed exec ends at the apiserver ("does not have a host assigned").
  const running = JSON.stringify({ status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } });
  for (const [namespace, name] of [['team-a', 'nginx-1'], ['team-a', 'nginx-2'], ['team-b', 'api-1']] as const) {
    const result = await cp.kubectl('admin', ['patch', 'pod', name, '-n', namespace, '--subresource=status', '--type=merge', '-p', running]);
    if (result.code !== 0) throw new Error(`marking ${namespace}/${name} running failed: ${result.stderr.trim()}`);
  }
  console.error('[controlplane] demo: Deployment team-a/nginx, pods team-a/nginx-1, team-a/nginx-2, team-b/api-1');
}

function printWalkthrough(cp: ControlPlane, pluginDir: string | undefined): void {
  const plugin = pluginDir
    ? `2. alice asks for ten minutes of one command (plugin flags go after the subcommand):
     kubectl request exec --context alice deployment/nginx --valid-for 10m -- ls /

3. carol reviews and grants it (alice may not grant her own request: try it):
     kubectl request list --context carol
     kubectl request grant --context carol NAME
   The webhook binds ClusterRole kube-request-access-granted-exec to alice in team-a:
     kubectl get rolebindings

4. alice runs the kubectl exec line the plugin printed, e.g.
     kubectl --context alice exec -n team-a nginx-1 -c nginx -- ls /
   → Error from server (BadRequest): pod nginx-1 does not have a host assigned
     That is success here: RBAC and the webhook let the exec through; only the missing kubelet
     (this cluster runs none) stops it. A refusal is a 403, from RBAC or from the webhook
     ("admission webhook ... denied the request: ..."):
     kubectl --context alice exec nginx-1 -- ls /etc          # another command
     kubectl --context alice exec -it nginx-1 -- ls /         # a tty
     kubectl --context bob exec nginx-1 -- ls /               # someone else

`
    : '';
  const first = pluginDir ? 5 : 2;
  console.log(`Walk-through: alice (developer) asks, carol (approver) decides.

  export KUBECONFIG=${cp.kubeconfig}${pluginDir ? `\n  export PATH=${pluginDir}:$PATH` : ''}

1. alice can see pods but not exec into them:
     kubectl --context alice get pods
     kubectl --context alice exec nginx-1 -- ls /
   → Forbidden: User "alice" cannot create resource "pods/exec" (RBAC: only admin holds it)

${plugin}${first}. A one-shot request, in plain YAML (what the plugin creates for you):
     kubectl --context alice create -f - <<'EOF'
     apiVersion: kube-request-access.io/v1
     kind: AccessRequest
     metadata:
       name: alice-hostname
     spec:
       userInfo:
         username: alice           # anyone else's name is refused by the webhook
       forObject:
         resource: {group: "", version: v1, resource: pods}
         subResource: exec
         name: nginx-2
         namespace: team-a
       execOptions:
         container: nginx
         command: [cat, /etc/hostname]
     EOF

${first + 1}. carol grants it, pinned to the one request object she looked at:
     kubectl --context carol create -f - <<EOF
     apiVersion: kube-request-access.io/v1
     kind: AccessGrant
     metadata:
       name: alice-hostname
     spec:
       grantFor: alice-hostname
       grantForUID: $(kubectl --context carol get accessrequest alice-hostname -o jsonpath='{.metadata.uid}')
       grantedBy:
         username: carol           # must be the user who creates the grant
     status: granted
     EOF
   (kubectl request grant fills grantForUID in; a grant without it is refused.)

${first + 2}. alice gets exactly one exec:
     export KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false
     kubectl --context alice exec nginx-2 -- cat /etc/hostname    # 400 "no host assigned": allowed
     kubectl --context alice exec nginx-2 -- cat /etc/hostname    # 403: the request is used up
   Why the variable: kubectl first tries WebSocket and, when the upgrade fails (as it must without a
   kubelet), retries over SPDY. That retry is a second exec, which a one-shot request no longer
   allows, so without the variable you would see the retry's 403 instead of the 400.

dave is authenticated but has no role at all: kubectl --context dave get pods is forbidden.
`);
}
