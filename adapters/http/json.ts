// A guard run before JSON.parse: a 3 MiB body of nested brackets costs JSON.parse (and later
// JSON.stringify, in the audit log) far more memory and time than a review ever needs, and deep
// enough nesting makes either throw. One pass over the text, no allocation; runtime-neutral.

/** Deeper than any AdmissionReview: a Pod's managedFields, the deepest part, nest about 15 levels. */
export const MAX_JSON_DEPTH = 64;

const QUOTE = 0x22; // "
const BACKSLASH = 0x5c; // \
const OPEN_BRACE = 0x7b; // {
const OPEN_BRACKET = 0x5b; // [
const CLOSE_BRACE = 0x7d; // }
const CLOSE_BRACKET = 0x5d; // ]

/**
 * Undefined when `text` nests objects and arrays at most `maxDepth` deep (brackets inside strings do
 * not count), else a message for an HTTP 400. It only counts: whether the text is JSON at all is
 * still JSON.parse's call.
 */
export function jsonNestingError(text: string, maxDepth = MAX_JSON_DEPTH): string | undefined {
  // Nesting deeper than maxDepth takes more than maxDepth opening brackets: most reviews (an exec's
  // is about 20) are cleared by counting them with indexOf, which is far cheaper than the walk below.
  if (fewerOpeningBrackets(text, maxDepth)) return undefined;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) {
        return `request body nests JSON deeper than ${maxDepth} levels (at character ${i}); an AdmissionReview never does, send one from the kube-apiserver`;
      }
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
  return undefined;
}

/** True when `text` holds at most `max` opening braces and brackets (in strings or not). */
function fewerOpeningBrackets(text: string, max: number): boolean {
  let count = 0;
  for (let i = text.indexOf('{'); i !== -1; i = text.indexOf('{', i + 1)) if (++count > max) return false;
  for (let i = text.indexOf('['); i !== -1; i = text.indexOf('[', i + 1)) if (++count > max) return false;
  return true;
}
