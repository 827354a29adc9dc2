/**
 * Secrets out before anything leaves for the LLM: known key formats, private keys, passwords in
 * URLs, secret-looking assignments and headers, and long high-entropy strings. A redaction is
 * replaced by a marker naming what it was, so the summary can still say "a key was set here".
 */

const RULES: [what: string, pattern: RegExp][] = [
  [
    'private key',
    /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g
  ],
  ['OpenAI/Anthropic key', /\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}/g],
  ['GitHub token', /\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})/g],
  ['AWS access key', /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g],
  ['Slack token', /\bxox[abprs]-[A-Za-z0-9-]{10,}/g],
  ['Google API key', /\bAIza[0-9A-Za-z_-]{35}\b/g],
  ['JWT', /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g],
  ['Hugging Face token', /\bhf_[A-Za-z0-9]{30,}/g]
];

// user:password@ in a URL: keep the user and the host, drop the password.
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]+):([^\s@/]+)@/gi;
// "Authorization: Bearer xyz", "token abc"
const AUTH_HEADER =
  /\b(authorization|x-api-key|api-key)(["']?\s*[:=]\s*["']?)(?:(bearer|token|basic)\s+)?[^\s"',]+/gi;
// password = "...", API_KEY='...', "secret": "..."
const ASSIGNMENT =
  /\b([A-Za-z0-9_]*(?:passw(?:or)?d|secret|token|api_?key|access_?key|private_?key|credential)[A-Za-z0-9_]*)(["']?\s*[:=]\s*)(["'])([^"'\n]{4,})\3/gi;
const CANDIDATE = /[A-Za-z0-9+/=_-]{24,}/g;

/** The text with every secret it recognises replaced by [redacted <what>]. */
export function redactText(text: string): string {
  let out = text;
  for (const [what, pattern] of RULES) out = out.replace(pattern, `[redacted ${what}]`);
  out = out.replace(URL_PASSWORD, '$1:[redacted password]@');
  out = out.replace(
    AUTH_HEADER,
    (_m, name: string, sep: string, scheme?: string) =>
      `${name}${sep}${scheme ? `${scheme} ` : ''}[redacted credential]`
  );
  out = out.replace(
    ASSIGNMENT,
    (_m, name: string, sep: string, quote: string) =>
      `${name}${sep}${quote}[redacted secret]${quote}`
  );
  out = out.replace(CANDIDATE, token =>
    looksRandom(token) ? '[redacted high-entropy string]' : token
  );
  return out;
}

/** Every string in a JSON-like value, redacted (the shape is kept). */
export function redactDeep<T>(value: T): T {
  if (typeof value === 'string') return redactText(value) as T;
  if (Array.isArray(value)) return value.map(v => redactDeep(v)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, k === 'cellId' ? v : redactDeep(v)])
    ) as T;
  }
  return value;
}

/**
 * A long token mixing letters and digits with high Shannon entropy: keys and tokens look like
 * this, words, identifiers and paths do not. Hex hashes (git SHAs) are common in notebooks and
 * mostly harmless, but a 32+ hex string may be a key too: those go as well.
 */
function looksRandom(token: string): boolean {
  const hasDigit = /[0-9]/.test(token);
  const hasLower = /[a-z]/.test(token);
  const hasUpper = /[A-Z]/.test(token);
  if (/^[0-9a-f]{32,}$/i.test(token)) return true;
  if (!hasDigit || !(hasLower || hasUpper)) return false;
  if (/^[a-z_]+[0-9]*$/i.test(token) || token.includes('__')) return false;
  return entropy(token) >= 4.0;
}

function entropy(text: string): number {
  const counts = new Map<string, number>();
  for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / text.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}
