// The list of kinds of access (functions/kinds.ts) is the one source of what the webhook reviews:
// the manifests' webhook rules, the routing and the request rules all agree with it.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { concernFor, concerns, KINDS, OPTION_FIELDS, REVIEWS, SUBRESOURCES } from '../../functions/index.ts';

type Rule = { operations: string[]; apiGroups: string[]; resources: string[] };

/** `pods/exec` → its operations, from the exec webhook of manifests/base/webhook.yaml. */
async function podRules(): Promise<Map<string, string[]>> {
  const text = await readFile(new URL('../../manifests/base/webhook.yaml', import.meta.url), 'utf8');
  const config = parseAllDocuments(text)[0]!.toJSON() as { webhooks: { name: string; rules: Rule[] }[] };
  const rules = new Map<string, string[]>();
  for (const webhook of config.webhooks) {
    for (const rule of webhook.rules) {
      if (!rule.apiGroups.includes('')) continue;
      for (const resource of rule.resources) rules.set(resource, [...(rules.get(resource) ?? []), ...rule.operations]);
    }
  }
  return rules;
}

const pods = (subResource: string) => ({ resource: { group: '', version: 'v1', resource: 'pods' }, subResource });

describe('the list of kinds of access', () => {
  it('has a kind for every pods subresource the manifests send to the webhook, with its operation', async () => {
    const rules = await podRules();
    assert.ok(rules.size > 0, 'the exec webhook has rules for pods');
    for (const [resource, operations] of rules) {
      const [, subResource] = resource.split('/');
      const kinds = KINDS.filter((kind) => kind.subResource === subResource);
      assert.ok(kinds.length > 0, `${resource} is in webhook.yaml but no kind reviews it`);
      for (const kind of kinds)
        assert.deepEqual(operations, [kind.operation], `${kind.name}: ${resource} ${operations.join(',')}`);
    }
  });

  it("every kind's route is in the manifests' webhook rules with its operation", async () => {
    const rules = await podRules();
    for (const kind of KINDS) {
      assert.deepEqual(
        rules.get(`pods/${kind.subResource}`),
        [kind.operation],
        `${kind.name}: pods/${kind.subResource} missing from webhook.yaml`,
      );
    }
  });

  it('routes each pods subresource to the one review its kinds name, and nothing else of pods', () => {
    for (const subResource of SUBRESOURCES) {
      assert.equal(concernFor(pods(subResource)), REVIEWS[subResource]);
      assert.ok(KINDS.some((kind) => kind.subResource === subResource && kind.review === REVIEWS[subResource]));
    }
    const podRoutes = Object.keys(concerns).filter((key) => key.startsWith('/pods/'));
    assert.deepEqual(podRoutes.sort(), SUBRESOURCES.map((subResource) => `/pods/${subResource}`).sort());
    assert.equal(concernFor(pods('log')), undefined);
  });

  it('gives every option field to exactly the subresource of the kinds that own it', () => {
    for (const kind of KINDS) {
      for (const field of kind.optionFields) {
        const owners = Object.entries(OPTION_FIELDS)
          .filter(([, fields]) => fields.includes(field))
          .map(([subResource]) => subResource);
        assert.deepEqual(owners, [kind.subResource], `${kind.name}: ${field}`);
      }
    }
  });

  it('names each kind once, as its kubectl request subcommand', async () => {
    const names = KINDS.map((kind) => kind.name);
    assert.equal(new Set(names).size, names.length);
    const { main } = await import('../../cli/main.ts');
    for (const name of names) assert.ok(name in (main.subCommands as object), `kubectl request ${name}`);
  });
});
