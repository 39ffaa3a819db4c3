// pods/ephemeralcontainers (kubectl debug): one new ephemeral container exactly as requested, a
// securityContext no looser than the requested profile, and nothing else in the Pod changed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { debug, firstDifference, neededProfile, profileAllows } from '../../../functions/debug/index.ts';
import { accessGrant, context, lookupOf } from '../../support/builders.ts';
import { admin, attachRequest, bob, debugRequest, execRequest, review } from './_builders.ts';

type Raw = Record<string, any>;
const added = (change: (container: Raw) => void) => (r: Raw) => change(r.object.spec.ephemeralContainers[0]);
const granted = [debugRequest(), accessGrant()];

const cases: Array<{
  name: string;
  objects: unknown[];
  change?: (request: Raw) => void;
  allowed: boolean;
  code?: number;
  message?: RegExp;
  consumes?: boolean;
}> = [
  {
    name: 'allows the requested ephemeral container and consumes the request',
    objects: granted,
    allowed: true,
    consumes: true,
    message: /used up by this debug container/,
  },
  {
    name: 'denies without a request and prints the kubectl request debug command',
    objects: [],
    allowed: false,
    message:
      /no AccessRequest of yours matches this debug container debugger-7xk2p \(image busybox:1\.36, target app, command "ps aux"\) in pod team-a\/web-0; request it with: kubectl request debug -n team-a web-0 --image busybox:1\.36 --target app -c debugger-7xk2p -- ps aux/,
  },
  { name: 'denies a pending request', objects: [debugRequest()], allowed: false, message: /not granted yet/ },
  {
    name: 'denies another image',
    objects: granted,
    change: added((c) => {
      c.image = 'nicolaka/netshoot';
    }),
    allowed: false,
  },
  {
    name: 'denies another target container',
    objects: granted,
    change: added((c) => {
      c.targetContainerName = 'sidecar';
    }),
    allowed: false,
  },
  {
    name: 'denies no target when one was requested',
    objects: granted,
    change: added((c) => {
      delete c.targetContainerName;
    }),
    allowed: false,
  },
  {
    name: 'denies another command',
    objects: granted,
    change: added((c) => {
      c.command = ['sh', '-c', 'cat /proc/1/root/etc/shadow'];
    }),
    allowed: false,
  },
  {
    name: 'denies arguments the request did not name',
    objects: granted,
    change: added((c) => {
      c.args = ['-o', 'pid'];
    }),
    allowed: false,
  },
  {
    name: 'denies another container name when the request names one',
    objects: [debugRequest({ container: 'dbg' }), accessGrant()],
    allowed: false,
  },
  {
    name: 'allows the named container',
    objects: [debugRequest({ container: 'debugger-7xk2p' }), accessGrant()],
    allowed: true,
  },
  {
    name: 'denies two new ephemeral containers at once',
    objects: granted,
    change: (r) => {
      r.object.spec.ephemeralContainers.push({ ...r.object.spec.ephemeralContainers[0], name: 'second' });
    },
    allowed: false,
    message: /exactly one new ephemeral container/,
  },
  {
    name: 'denies changing an existing ephemeral container',
    objects: granted,
    change: (r) => {
      const old = {
        name: 'debugger-old',
        image: 'busybox:1.36',
        resources: {},
        terminationMessagePath: '/dev/termination-log',
        terminationMessagePolicy: 'File',
        imagePullPolicy: 'IfNotPresent',
      };
      r.oldObject.spec.ephemeralContainers = [old];
      r.object.spec.ephemeralContainers = [{ ...old, image: 'evil' }, r.object.spec.ephemeralContainers[0]];
    },
    allowed: false,
    message: /existing ephemeral container debugger-old cannot be changed/,
  },
  {
    name: 'a debug request does not allow changing a container image',
    objects: granted,
    change: (r) => {
      r.object.spec.containers[0].image = 'evil:latest';
    },
    allowed: false,
    message: /spec\.containers\[0\]\.image changed too/,
  },
  {
    name: 'a debug request does not allow changing labels',
    objects: granted,
    change: (r) => {
      r.object.metadata.labels.app = 'db';
    },
    allowed: false,
    message: /metadata\.labels\.app changed/,
  },
  {
    name: 'a debug request does not allow adding a volume',
    objects: granted,
    change: (r) => {
      r.object.spec.volumes.push({ name: 'host', hostPath: { path: '/' } });
    },
    allowed: false,
    message: /spec\.volumes changed/,
  },
  {
    name: 'denies a review for another pod uid',
    objects: granted,
    change: (r) => {
      r.object.metadata.uid = 'another';
    },
    allowed: false,
    message: /re-created/,
  },
  {
    name: 'denies a privileged container',
    objects: granted,
    change: added((c) => {
      c.securityContext = { privileged: true };
    }),
    allowed: false,
    message: /--profile sysadmin/,
  },
  {
    name: 'allows a privileged container for a sysadmin request',
    objects: [debugRequest({ profile: 'sysadmin' }), accessGrant()],
    change: added((c) => {
      c.securityContext = { privileged: true };
    }),
    allowed: true,
  },
  {
    name: 'denies an added capability without a profile',
    objects: granted,
    change: added((c) => {
      c.securityContext = { capabilities: { add: ['SYS_PTRACE'] } };
    }),
    allowed: false,
    message: /--profile general/,
  },
  {
    name: 'allows SYS_PTRACE for a general request',
    objects: [debugRequest({ profile: 'general' }), accessGrant()],
    change: added((c) => {
      c.securityContext = { capabilities: { add: ['SYS_PTRACE'] } };
    }),
    allowed: true,
  },
  {
    name: 'denies NET_ADMIN for a general request',
    objects: [debugRequest({ profile: 'general' }), accessGrant()],
    change: added((c) => {
      c.securityContext = { capabilities: { add: ['NET_ADMIN'] } };
    }),
    allowed: false,
  },
  {
    name: 'allows NET_ADMIN and NET_RAW for a netadmin request',
    objects: [debugRequest({ profile: 'netadmin' }), accessGrant()],
    change: added((c) => {
      c.securityContext = { capabilities: { add: ['NET_ADMIN', 'CAP_NET_RAW'] } };
    }),
    allowed: true,
  },
  {
    name: 'allows a restricted securityContext',
    objects: granted,
    change: added((c) => {
      c.securityContext = {
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      };
    }),
    allowed: true,
  },
  {
    name: 'denies an unconfined seccomp profile without sysadmin',
    objects: [debugRequest({ profile: 'netadmin' }), accessGrant()],
    change: added((c) => {
      c.securityContext = { seccompProfile: { type: 'Unconfined' } };
    }),
    allowed: false,
  },
  {
    name: 'denies volume mounts in the debug container',
    objects: granted,
    change: added((c) => {
      c.volumeMounts = [{ name: 'kube-api-access-x2x7k', mountPath: '/sa' }];
    }),
    allowed: false,
    message: /volumeMounts cannot be set/,
  },
  {
    name: 'denies env taken from a secret',
    objects: granted,
    change: added((c) => {
      c.env = [{ name: 'PW', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } }];
    }),
    allowed: false,
    message: /env may hold plain values only/,
  },
  {
    name: 'allows plain env values (kubectl debug --env)',
    objects: granted,
    change: added((c) => {
      c.env = [{ name: 'DEBUG', value: '1' }];
    }),
    allowed: true,
  },
  {
    name: 'denies an interactive debug container (-i)',
    objects: granted,
    change: added((c) => {
      c.stdin = true;
      c.tty = true;
    }),
    allowed: false,
    message: /stdin \(-i\) and tty \(-t\) are not allowed/,
  },
  {
    name: 'an exec request does not allow debug',
    objects: [execRequest([]), accessGrant()],
    allowed: false,
    message: /no AccessRequest of yours/,
  },
  {
    name: 'an attach request does not allow debug',
    objects: [attachRequest({ container: 'debugger-7xk2p' }), accessGrant()],
    allowed: false,
  },
  {
    name: 'denies another user',
    objects: granted,
    change: (r) => {
      r.userInfo = bob;
    },
    allowed: false,
  },
  {
    name: 'allows a time-bound request without consuming it',
    objects: [debugRequest({}, { validFor: '1h' }), accessGrant()],
    allowed: true,
    consumes: false,
  },
  {
    name: 'lets an always-allowed identity debug with anything',
    objects: [],
    change: (r) => {
      r.userInfo = admin;
      r.object.spec.ephemeralContainers[0].securityContext = { privileged: true };
    },
    allowed: true,
    consumes: false,
  },
  {
    name: 'refuses a review that is not UPDATE',
    objects: granted,
    change: (r) => {
      r.operation = 'CONNECT';
    },
    allowed: false,
    code: 400,
  },
  {
    name: 'refuses a review without oldObject',
    objects: granted,
    change: (r) => {
      r.oldObject = null;
    },
    allowed: false,
    code: 400,
    message: /malformed Pod in oldObject/,
  },
];

describe('debug (ephemeral containers)', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const decision = await debug(review('ephemeralcontainers-review', c.change), lookupOf(c.objects), context());
      assert.equal(decision.allowed, c.allowed, decision.message);
      if (c.code) assert.equal(decision.code, c.code);
      if (c.message) assert.match(decision.message, c.message);
      if (c.consumes !== undefined) assert.equal(decision.effects.length > 0, c.consumes);
      if (!c.allowed) assert.deepEqual(decision.effects, []);
      if (!c.code) {
        const event = decision.audit[0];
        assert.ok(event?.type === 'audit-exec', 'every debug decision is audited');
        assert.equal(event.data.isAllowed, c.allowed);
      }
    });
  }

  it('audits the new container: name, argv, image and target', async () => {
    const decision = await debug(review('ephemeralcontainers-review'), lookupOf(granted), context());
    const event = decision.audit[0]!;
    assert.ok(event.type === 'audit-exec');
    const { container, command, image, targetContainerName } = event.data.execOptions;
    assert.deepEqual(
      { container, command, image, targetContainerName },
      { container: 'debugger-7xk2p', command: ['ps', 'aux'], image: 'busybox:1.36', targetContainerName: 'app' },
    );
  });

  it('names the first difference between two Pods', () => {
    assert.equal(firstDifference({ a: { b: [1, 2] } }, { a: { b: [1, 3] } }, ''), 'a.b[1]');
    assert.equal(firstDifference({ a: 1 }, { a: 1 }, ''), undefined);
    assert.equal(firstDifference({ a: 1 }, { a: 1, c: 2 }, ''), 'c');
  });

  it('ranks security contexts by the least kubectl debug profile that allows them', () => {
    assert.equal(neededProfile(undefined), '');
    assert.equal(neededProfile({ capabilities: { drop: ['ALL'] } }), '');
    assert.equal(neededProfile({ capabilities: { add: ['SYS_PTRACE'] } }), 'general');
    assert.equal(neededProfile({ capabilities: { add: ['NET_RAW'] } }), 'netadmin');
    assert.equal(neededProfile({ capabilities: { add: ['SYS_ADMIN'] } }), 'sysadmin');
    assert.equal(neededProfile({ procMount: 'Unmasked' }), 'sysadmin');
    assert.equal(profileAllows('restricted', { capabilities: { add: ['SYS_PTRACE'] } }), false);
    assert.equal(profileAllows('no-such-profile', undefined), false);
  });
});
