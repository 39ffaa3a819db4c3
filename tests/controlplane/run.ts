// `npm run controlplane` / `npm run dev`: a local kube-apiserver with the webhook in .dev/, up until
// Ctrl-C. With --demo it also creates demo workloads and prints the request → grant → exec walk-through.
// The demo pods run on the KWOK node (kwok.ts): their commands run on this host, in each pod's
// sandbox directory under DIR/sandbox/, and the walk-through's commands only read and copy files there.
//
//   tsx tests/controlplane/run.ts [--demo] [--developers-can-exec] [--no-webhook] [--no-kwok] [--dir DIR]
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, USERS, startControlPlane, type ControlPlane } from './cluster.ts';

const { values } = parseArgs({
  options: {
    demo: { type: 'boolean', default: false },
    'developers-can-exec': { type: 'boolean', default: false },
    'no-webhook': { type: 'boolean', default: false },
    'no-kwok': { type: 'boolean', default: false },
    dir: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  console.log(`usage: npm run controlplane [-- options]   |   npm run dev [-- options]

  --demo                  create demo pods and print the request → grant → exec walk-through (npm run dev)
  --developers-can-exec   give developers standing exec RBAC (the webhook alone gates)
  --no-webhook            do not start the webhook server (exec then fails closed)
  --no-kwok               no KWOK node: pods never run, an allowed exec ends in "does not have a host assigned"
  --dir DIR               state directory (default .dev/)`);
  process.exit(0);
}

/** The demo pods: namespace, name, app (and container), image. */
const DEMO_PODS = [
  ['team-a', 'nginx-1', 'nginx', 'nginx:1.27'],
  ['team-a', 'nginx-2', 'nginx', 'nginx:1.27'],
  ['team-b', 'api-1', 'api', 'busybox:1.36'],
] as const;

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
    kwok: !values['no-kwok'],
  });
} catch (error) {
  console.error(`[controlplane] failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}

if (!webhookAvailable && !values['no-webhook']) {
  console.error(
    '[controlplane] warning: adapters/node/main.ts does not exist yet, so no webhook server runs: exec and AccessRequests fail closed',
  );
}
const demo = values.demo ? await createDemo(plane) : undefined;
const pluginDir = await linkPlugin(plane);

const rel = (file: string): string => path.relative(process.cwd(), file) || file;
console.log(`
kube-apiserver ${plane.server} is up${startWebhook ? `, webhook ${plane.webhookUrl}` : ''}.

  export KUBECONFIG=${plane.kubeconfig}${
    pluginDir
      ? `
  export PATH=${pluginDir}:$PATH     # the kubectl request plugin from this checkout`
      : ''
  }
  kubectl config get-contexts        # ${USERS.join(', ')} (current: admin; namespace team-a)
  kubectl --context alice auth can-i --list

Users: admin (system:masters), alice and bob (developers), carol (approvers), dave (no role).
Logs: ${rel(plane.logs.controlplane)}, ${rel(plane.logs.webhook)}${
  startWebhook
    ? `
The webhook reviews only requests with the kube-apiserver's client certificate (--client-ca-file ${rel(plane.webhookClientCaFile)});
anything else gets 401: curl -sk -X POST ${plane.webhookUrl}`
    : ''
}
`);
if (values.demo) printWalkthrough(plane, pluginDir, demo);
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

/** What the walk-through needs to know about the demo pods. */
interface Demo {
  /** The demo pods run on the KWOK node and answer exec, cp, port-forward, attach and logs. */
  real: boolean;
  /** The sandbox directory of team-a/nginx-1 (absolute), when real. */
  sandbox?: string;
}

async function createDemo(cp: ControlPlane): Promise<Demo> {
  const kwok = cp.kwok;
  const pod = (name: string, namespace: string, app: string, image: string) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: { app } },
    // On the KWOK node (no scheduler needed); without KWOK, pods have no node and never run.
    spec: {
      ...(kwok ? { nodeName: kwok.nodeName } : {}),
      containers: [{ name: app, image, ...(app === 'nginx' ? { ports: [{ containerPort: 80 }] } : {}) }],
    },
  });
  if (kwok) {
    // Each pod's "filesystem" is its sandbox directory: a few harmless files to list, read and copy.
    for (const [namespace, name, app] of DEMO_PODS) {
      const sandbox = await kwok.preparePod(namespace, name);
      await mkdir(path.join(sandbox, 'upload'), { recursive: true });
      await writeFile(path.join(sandbox, 'hostname'), `${name}\n`);
      await writeFile(
        path.join(sandbox, 'index.html'),
        `<h1>${app} ${namespace}/${name}</h1>\n<p>Served from ${sandbox} through kubectl port-forward.</p>\n`,
      );
      kwok.print(namespace, name, `${name}: started in ${sandbox}`);
      if (app === 'nginx')
        await kwok.forward(
          namespace,
          name,
          80,
          await serveSandbox(sandbox, (line) => kwok.print(namespace, name, line)),
        );
    }
    // The "containers" print a line now and then, for kubectl logs -f and kubectl attach.
    setInterval(() => {
      for (const [namespace, name] of DEMO_PODS) kwok.print(namespace, name, `${name}: alive`);
    }, 10_000).unref();
  }
  await cp.apply([
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'nginx', namespace: 'team-a', labels: { app: 'nginx' } },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'nginx' } },
        template: {
          metadata: { labels: { app: 'nginx' } },
          spec: { containers: [{ name: 'nginx', image: 'nginx:1.27' }] },
        },
      },
    },
    // No controller-manager: the Deployment's pods are created by hand.
    ...DEMO_PODS.map(([namespace, name, app, image]) => pod(name, namespace, app, image)),
  ]);
  if (kwok) {
    // KWOK's stages make them Running within a second or so.
    const deadline = Date.now() + 30_000;
    for (const [namespace, name] of DEMO_PODS) {
      for (;;) {
        const phase = await cp.kubectl('admin', [
          'get',
          'pod',
          name,
          '-n',
          namespace,
          '-o',
          'jsonpath={.status.phase}',
        ]);
        if (phase.stdout === 'Running') break;
        if (Date.now() > deadline)
          throw new Error(
            `demo pod ${namespace}/${name} not Running after 30 s (${phase.stdout || phase.stderr.trim()}); see ${kwok.log}`,
          );
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  } else {
    // What a kubelet would report, so `kubectl request exec deployment/nginx` finds running pods. The
    // pods still have no node: an allowed exec ends at the apiserver ("does not have a host assigned").
    const running = JSON.stringify({ status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } });
    for (const [namespace, name] of DEMO_PODS) {
      const result = await cp.kubectl('admin', [
        'patch',
        'pod',
        name,
        '-n',
        namespace,
        '--subresource=status',
        '--type=merge',
        '-p',
        running,
      ]);
      if (result.code !== 0) throw new Error(`marking ${namespace}/${name} running failed: ${result.stderr.trim()}`);
    }
  }
  console.error(
    `[controlplane] demo: Deployment team-a/nginx, pods team-a/nginx-1, team-a/nginx-2, team-b/api-1${kwok ? ` on node ${kwok.nodeName} (sandboxes in ${path.relative(process.cwd(), kwok.sandboxRoot) || kwok.sandboxRoot})` : ' (no node)'}`,
  );
  return { real: Boolean(kwok), ...(kwok ? { sandbox: kwok.sandbox('team-a', 'nginx-1') } : {}) };
}

/** A static file server for one sandbox on a free 127.0.0.1 port, logging requests to the pod's log: the "nginx" port-forward reaches. */
async function serveSandbox(sandbox: string, print: (line: string) => void): Promise<number> {
  const server: Server = createServer((req, res) => {
    const wanted = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    const file = path.join(sandbox, path.normalize(wanted === '/' ? '/index.html' : wanted));
    const answer = (status: number, body: string | Buffer) => {
      print(`"${req.method} ${req.url}" ${status}`);
      res.writeHead(status, { 'content-type': file.endsWith('.html') ? 'text/html' : 'text/plain' }).end(body);
    };
    if (!file.startsWith(sandbox + path.sep)) return answer(403, 'forbidden\n');
    readFile(file).then(
      (body) => answer(200, body),
      () => answer(404, 'not found\n'),
    );
  });
  server.unref();
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
  );
}
function printWalkthrough(cp: ControlPlane, pluginDir: string | undefined, demo: Demo | undefined): void {
  const real = demo?.real ?? false;
  const sb = demo?.sandbox ?? '';
  const relSb = path.relative(process.cwd(), sb) || sb;
  const allowedExec = real
    ? `   → hostname
     index.html
     upload
   the files of the pod's sandbox directory ${relSb}/ on this host: KWOK runs the command there.`
    : `   → Error from server (BadRequest): pod nginx-1 does not have a host assigned
     That is success here: RBAC and the webhook let the exec through; only the missing kubelet
     (this cluster runs with --no-kwok) stops it.`;
  const friends =
    pluginDir && real
      ? `5. Copying files out and in, each with its own request (carol grants each as in step 3):
     kubectl request cp --context alice -c nginx nginx-1:index.html ./index.html
     kubectl --context alice cp -c nginx nginx-1:index.html ./index.html
     kubectl request cp --context alice -c nginx ./index.html nginx-1:${sb}/upload/
     kubectl --context alice cp -c nginx ./index.html nginx-1:${sb}/upload/
     ls ${relSb}/upload/                                       # index.html arrived
   (Copying in needs an absolute directory: on this node, a pod's files are its sandbox, so that is
   the sandbox's own path. kubectl first runs \`test -d\` on the target, which the grant allows.)

6. A port-forward to the pod's "nginx" (a static server of its sandbox):
     kubectl request port-forward --context alice nginx-1 8080:80
     kubectl --context alice port-forward nginx-1 8080:80 &
     curl -s http://127.0.0.1:8080/                            # → <h1>nginx team-a/nginx-1</h1> …
     kill %1
   The request is logged by the "container": kubectl --context alice logs nginx-1 (alice may read logs).
   kubectl attach shows the same output live, with a request of its own:
     kubectl request attach --context alice nginx-1 -c nginx
     kubectl --context alice attach nginx-1 -c nginx          # a line every 10 s; Ctrl-C to leave

`
      : '';
  const plugin = pluginDir
    ? `2. alice asks for ten minutes of one command (plugin flags go after the subcommand):
     kubectl request exec --context alice deployment/nginx --valid-for 10m -- ls

3. carol reviews and grants it (alice may not grant her own request: try it):
     kubectl request list --context carol
     kubectl request grant --context carol NAME
   The webhook binds ClusterRole kube-request-access-granted-exec to alice in team-a:
     kubectl get rolebindings

4. alice runs the kubectl exec line the plugin printed, e.g.
     kubectl --context alice exec -n team-a nginx-1 -c nginx -- ls
${allowedExec}
   A refusal is a 403, from RBAC or from the webhook ("admission webhook ... denied the request: ..."):
     kubectl --context alice exec nginx-1 -- cat index.html   # another command
     kubectl --context alice exec -it nginx-1 -- ls           # a tty
     kubectl --context bob exec nginx-1 -- ls                 # someone else

${friends}`
    : '';
  const first = pluginDir ? (friends ? 7 : 5) : 2;
  const oneShot = real
    ? `${first + 2}. alice gets exactly one exec:
     kubectl --context alice exec nginx-2 -- cat hostname     # → nginx-2
     kubectl --context alice exec nginx-2 -- cat hostname     # 403: the request is used up
   kubectl tries WebSocket first; the pod answers, so one kubectl exec is one review and uses the
   request once. The second is refused by RBAC when the used request's RoleBinding is gone, by the
   webhook while alice holds another grant in team-a (then kubectl retries the refused WebSocket
   upgrade over SPDY, and the webhook denies, and audits, it twice).`
    : `${first + 2}. alice gets exactly one exec:
     export KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false
     kubectl --context alice exec nginx-2 -- cat hostname     # 400 "no host assigned": allowed
     kubectl --context alice exec nginx-2 -- cat hostname     # 403: the request is used up
   Why the variable: without a node (--no-kwok) the WebSocket upgrade fails and kubectl retries over
   SPDY. That retry is a second exec, which a one-shot request no longer allows, so without the
   variable you would see the retry's 403 instead of the 400.`;
  console.log(`Walk-through: alice (developer) asks, carol (approver) decides.
${
  real
    ? `The demo pods run on the KWOK node: their commands run on this host, each pod's in its own sandbox
directory below ${path.relative(process.cwd(), path.dirname(path.dirname(sb))) || path.dirname(path.dirname(sb))}/; the walk-through's commands only list, read and copy files there.
`
    : ''
}
  export KUBECONFIG=${cp.kubeconfig}${pluginDir ? `\n  export PATH=${pluginDir}:$PATH` : ''}

1. alice can see pods but not exec into them:
     kubectl --context alice get pods -o wide
     kubectl --context alice exec nginx-1 -- ls
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
         command: [cat, hostname]
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

${oneShot}

dave is authenticated but has no role at all: kubectl --context dave get pods is forbidden.
`);
}
