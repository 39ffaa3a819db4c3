// `npm run controlplane` / `npm run dev`: a local kube-apiserver with the webhook in .dev/, up until
// Ctrl-C. With --demo it also creates demo workloads and prints the request → grant → exec walk-through.
//
//   tsx tests/controlplane/run.ts [--demo] [--developers-can-exec] [--no-webhook] [--dir DIR]
import { existsSync } from 'node:fs';
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

const rel = (file: string): string => path.relative(process.cwd(), file) || file;
console.log(`
kube-apiserver ${plane.server} is up${startWebhook ? `, webhook ${plane.webhookUrl}` : ''}.

  export KUBECONFIG=${plane.kubeconfig}
  kubectl config get-contexts        # ${USERS.join(', ')} (current: admin; namespace team-a)
  kubectl --context alice auth can-i --list

Users: admin (system:masters), alice and bob (developers), carol (approvers), dave (no role).
Logs: ${rel(plane.logs.controlplane)}, ${rel(plane.logs.webhook)}
`);
if (values.demo) printWalkthrough(plane);
console.log('Press Ctrl-C to stop.');

const how = await plane.exited;
await shutdown(`kube-apiserver stopped unexpectedly (${how}); see ${plane.logs.controlplane}`, 1);

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
  console.error('[controlplane] demo: Deployment team-a/nginx, pods team-a/nginx-1, team-a/nginx-2, team-b/api-1');
}

function printWalkthrough(cp: ControlPlane): void {
  console.log(`Walk-through (as alice, a developer, and carol, an approver):

  export KUBECONFIG=${cp.kubeconfig}

1. alice may look at pods but not exec into them:
     kubectl --context alice get pods
     kubectl --context alice exec nginx-1 -- ls /
   → Forbidden: User "alice" cannot create resource "pods/exec" (RBAC; nobody but admin holds it)

2. alice asks for one command in one pod:
     kubectl --context alice create -f - <<'EOF'
     apiVersion: kube-request-access.io/v1
     kind: AccessRequest
     metadata:
       name: alice-ls
     spec:
       userInfo:
         username: alice
       forObject:
         resource: {group: "", version: v1, resource: pods}
         subResource: exec
         name: nginx-1
         namespace: team-a
       execOptions:
         container: nginx
         command: [ls, /]
     EOF
   (with the kubectl plugin on PATH: kubectl request exec nginx-1 -- ls /)
   An AccessRequest naming someone else (spec.userInfo.username: bob) is refused by the webhook.

3. carol grants it (alice cannot grant her own request):
     kubectl --context carol get accessrequests
     kubectl --context carol create -f - <<'EOF'
     apiVersion: kube-request-access.io/v1
     kind: AccessGrant
     metadata:
       name: alice-ls
     spec:
       grantFor: alice-ls
       grantedBy:
         username: carol
     status: granted
     EOF
   The webhook binds ClusterRole kube-request-access-granted-exec to alice in team-a:
     kubectl get rolebindings -n team-a

4. alice runs exactly that command:
     KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false kubectl --context alice exec nginx-1 -- ls /
   → "pod nginx-1 does not have a host assigned" (HTTP 400). That is success here: RBAC and the
     webhook let the exec through, and only the missing kubelet (this cluster runs none) stops it.
     A refusal by the webhook is a 403 "admission webhook ... denied the request: ...".
   (The variable keeps kubectl on SPDY. By default kubectl tries WebSocket first and, when that
   upgrade fails as it must without a kubelet, retries over SPDY: a second exec, which a one-shot
   request no longer allows, so you would see the retry's 403.)

5. Again, or any other command, container, pod or namespace, or with -it:
     KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false kubectl --context alice exec nginx-1 -- ls /
     kubectl --context alice exec -it nginx-1 -- sh
   → denied: the request allowed one exec (no spec.validFor) and it is used up.
     With spec.validFor: 30m in the request, repeated execs work until it expires.
`);
}
