// Extended-validation webhook protocol (seed wire format): POST <url> with {Request, AccessRequest},
// answer {status: "valid"|"invalid", message}. Anything else rejects, and the shell denies.
// No Node imports: an edge runtime pairs this with `fetchTransport`.
import * as v from 'valibot';
import { describeIssues } from '../../functions/schemas.ts';
import type { ValidationResult, Validator } from '../../functions/types.ts';
import { ValidationResult as ValidationResultSchema } from '../../webhooks/schemas.ts';
import {
  USER_AGENT,
  describeError,
  excerpt,
  requireHttpsUrl,
  type Transport,
  type WebhookRequest,
  type WebhookResponse,
} from '../audit/transport.ts';

/** The HTTP request for one validation: pure, shared by every runtime. */
export function validationRequest(
  url: string | URL,
  data: Parameters<Validator['validateAccessRequest']>[0],
): WebhookRequest {
  return {
    url: new URL(url).toString(),
    headers: { 'Content-Type': 'application/json', 'User-Agent': USER_AGENT },
    body: JSON.stringify({ Request: data.request, AccessRequest: data.accessRequest }),
  };
}

/** Reads the answer; throws a message saying what was wrong with it. */
export function parseValidationResponse(response: WebhookResponse): ValidationResult {
  if (response.status !== 200) {
    const body = excerpt(response.body);
    throw new Error(
      `answered HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}, expected 200${body ? `: ${body}` : ''}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(response.body);
  } catch {
    throw new Error(`answered with a body that is not JSON: ${excerpt(response.body) || '(empty)'}`);
  }
  const parsed = v.safeParse(ValidationResultSchema, json);
  if (!parsed.success) {
    throw new Error(
      `answered ${excerpt(response.body)}, expected {"status": "valid"|"invalid", "message": "..."} (${describeIssues(parsed.issues)})`,
    );
  }
  const { status, message } = parsed.output;
  return message === undefined ? { status } : { status, message };
}

/** The protocol over any transport (fetch on the edge, node:https here). */
export function validatorOver(url: string, transport: Transport): Validator {
  const base = requireHttpsUrl(url, 'extended-validation webhook');
  const name = `extended-validation webhook ${base.origin}${base.pathname}`;
  return {
    async validateAccessRequest(data) {
      let response;
      try {
        response = await transport(validationRequest(base, data));
      } catch (error) {
        throw new Error(`${name}: ${describeError(error)}`);
      }
      try {
        return parseValidationResponse(response);
      } catch (error) {
        throw new Error(`${name}: ${describeError(error)}`);
      }
    },
  };
}
