// Makes a throwaway CA and a serving certificate for trying the webhook locally:
//   npx tsx scripts/dev-cert.ts [DIR]   (default dev/) → DIR/ca.crt, DIR/localhost.crt, DIR/localhost.key
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCA } from '../tests/support/pki.ts';

const dir = process.argv[2] ?? 'dev';
mkdirSync(dir, { recursive: true });
const ca = await createCA('kube-request-access local CA');
const leaf = await ca.issue({ commonName: 'localhost', hosts: ['localhost', '127.0.0.1', '::1'] });
writeFileSync(join(dir, 'ca.crt'), ca.cert);
writeFileSync(join(dir, 'localhost.crt'), leaf.cert);
writeFileSync(join(dir, 'localhost.key'), leaf.key, { mode: 0o600 });
console.log(`wrote ${join(dir, 'ca.crt')}, ${join(dir, 'localhost.crt')} and ${join(dir, 'localhost.key')}`);
