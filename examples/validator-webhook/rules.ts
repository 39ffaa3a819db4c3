// The validation rules, as a pure function of the AccessRequest: easy to test, easy to change.
//
// - `customKeys.ticket` is required and must match `ticketPattern` (default `^[A-Z][A-Z0-9]*-[0-9]+$`,
//   a Jira-style key such as OPS-123), so every access is tied to a change or incident ticket.
// - `customKeys["example-key"]` is optional (the seed's example field); when present it must equal
//   `exampleKeyValue` (default `example-value`). It shows how to check a key that not every
//   request carries.
// Messages go to the requester through kubectl, so each one says what to add or change.
import type { ValidateAccessRequestData, ValidationResult } from 'kube-request-access/webhooks';

export interface Rules {
  ticketPattern: RegExp;
  /** A ticket that matches the pattern, shown in messages. */
  ticketExample: string;
  exampleKeyValue: string;
}

export const DEFAULT_TICKET_PATTERN = '^[A-Z][A-Z0-9]*-[0-9]+$';

export const DEFAULT_RULES: Rules = {
  ticketPattern: new RegExp(DEFAULT_TICKET_PATTERN),
  ticketExample: 'OPS-123',
  exampleKeyValue: 'example-value',
};

/** Compiles `--ticket-pattern`; a bad pattern or an example that fails it is a start-up error. */
export function rulesFrom(options: {
  ticketPattern?: string;
  ticketExample?: string;
  exampleKeyValue?: string;
}): Rules {
  let ticketPattern: RegExp;
  try {
    ticketPattern = new RegExp(options.ticketPattern ?? DEFAULT_TICKET_PATTERN);
  } catch (error) {
    throw new Error(`--ticket-pattern: ${(error as Error).message}`);
  }
  const ticketExample = options.ticketExample ?? DEFAULT_RULES.ticketExample;
  if (!ticketPattern.test(ticketExample)) {
    throw new Error(`--ticket-example "${ticketExample}" does not match --ticket-pattern ${ticketPattern.source}`);
  }
  return { ticketPattern, ticketExample, exampleKeyValue: options.exampleKeyValue ?? DEFAULT_RULES.exampleKeyValue };
}

export function validate(data: ValidateAccessRequestData, rules: Rules = DEFAULT_RULES): ValidationResult {
  const keys = data.AccessRequest.spec.customKeys ?? {};
  const problems: string[] = [];
  const ticket = keys['ticket'];
  if (ticket === undefined || ticket.trim() === '') {
    problems.push(
      `a ticket is required: add -k ticket=${rules.ticketExample} to kubectl request exec (customKeys.ticket, matching ${rules.ticketPattern.source})`,
    );
  } else if (!rules.ticketPattern.test(ticket)) {
    problems.push(
      `customKeys.ticket "${ticket}" is not a ticket id: use one like ${rules.ticketExample} (matching ${rules.ticketPattern.source}), e.g. -k ticket=${rules.ticketExample}`,
    );
  }
  const example = keys['example-key'];
  if (example !== undefined && example !== rules.exampleKeyValue) {
    problems.push(
      `customKeys.example-key must be "${rules.exampleKeyValue}" when set, got "${example}": fix it or leave it out`,
    );
  }
  if (problems.length > 0) return { status: 'invalid', message: problems.join('; ') };
  return { status: 'valid', message: `ticket ${ticket}` };
}
