// The Node body reader handed to the Hono app (its `readBody` option): Content-Type and body
// straight from Node's request under @hono/node-server (`c.env.incoming`). Reading `c.req` instead
// makes @hono/node-server build a WHATWG Request (AbortController, web streams, Headers): about
// half the CPU time of a review (bench/, docs/benchmarks.md).
import type { Context } from 'hono';
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { BodyReader } from '../http/app.ts';

type NodeIncoming = IncomingMessage | Http2ServerRequest;

export const readNodeBody: BodyReader = (c: Context) => {
  const incoming = nodeIncoming(c.env);
  if (!incoming) return undefined;
  return {
    contentType: headerValue(incoming.headers['content-type']),
    text: (maxBytes) => readIncoming(incoming, maxBytes),
  };
};

/** The Node request under @hono/node-server (its `env.incoming`); undefined elsewhere (`app.request` in tests). */
function nodeIncoming(env: unknown): NodeIncoming | undefined {
  const incoming = (env as { incoming?: unknown } | undefined)?.incoming;
  return incoming &&
    typeof incoming === 'object' &&
    typeof (incoming as NodeIncoming).on === 'function' &&
    typeof (incoming as NodeIncoming).headers === 'object'
    ? (incoming as NodeIncoming)
    : undefined;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The body as text, or undefined when it is larger than `max` bytes (declared or counted). What is
 * left unread is discarded once the answer is sent (discardingUnreadBodies, adapters/node/server.ts).
 */
function readIncoming(incoming: NodeIncoming, max: number): Promise<string | undefined> {
  if (Number(headerValue(incoming.headers['content-length'])) > max) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (value: string | undefined) => {
      settled = true;
      resolve(value);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        incoming.off('data', onData);
        settle(undefined);
        return;
      }
      chunks.push(chunk);
    };
    incoming.on('data', onData);
    incoming.once('end', () => settle(size > max ? undefined : Buffer.concat(chunks, size).toString('utf8')));
    incoming.once('error', (error) => {
      settled = true;
      reject(error);
    });
    // 'close' follows every request; an Error (and its stack trace) only when the body never ended.
    incoming.once('close', () => {
      if (!settled) reject(new Error('the request closed before its body was read'));
    });
  });
}
