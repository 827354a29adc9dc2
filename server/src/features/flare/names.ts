/**
 * Route names are DNS labels that become the first part of a host name, so a name that is not a
 * plain label, or that looks like something else (punycode, a reserved word), is refused.
 */
import { HttpProblem } from '../../platform/problem.js';

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Why `name` cannot be a route name, or undefined when it can. */
export function nameProblem(name: string, reserved: readonly string[]): HttpProblem | undefined {
  const invalid = (why: string) =>
    new HttpProblem(400, 'name_invalid', `The name "${name}" ${why}.`, [
      { path: 'body.name', message: why }
    ]);
  if (name.length < 1 || name.length > 63) return invalid('must have 1 to 63 characters');
  if (name.includes('.')) return invalid('must not contain dots: it is one label of a host name');
  if (name !== name.toLowerCase()) return invalid('must be lower case');
  if (!LABEL.test(name)) {
    return invalid("may hold only a-z, 0-9 and '-', and must not start or end with '-'");
  }
  // "xn--" marks punycode (an internationalised label that would display as something else);
  // any "--" in the third and fourth places is reserved for such encodings (RFC 5891).
  if (name.slice(2, 4) === '--')
    return invalid("must not have '--' in the third and fourth places (punycode)");
  if (reserved.includes(name)) {
    return new HttpProblem(400, 'name_reserved', `The name "${name}" is reserved; pick another.`, [
      { path: 'body.name', message: 'is reserved' }
    ]);
  }
  return undefined;
}

/** The route name a Host header points at under `domain`, or why it does not. */
export function nameFromHost(
  host: string | undefined,
  domain: string
): { name: string } | { auth: true } | { status: 400 | 404; why: string } {
  if (!host) return { status: 400, why: 'The request has no Host header.' };
  const match = /^([a-z0-9.-]+?)(?::(\d{1,5}))?$/i.exec(host);
  if (!match) return { status: 400, why: 'The Host header is malformed.' };
  const hostname = match[1].toLowerCase().replace(/\.$/, '');
  if (hostname === domain) return { auth: true };
  if (!hostname.endsWith(`.${domain}`)) {
    return { status: 404, why: `${hostname} is not a Flare address.` };
  }
  const name = hostname.slice(0, -domain.length - 1);
  if (!LABEL.test(name) || name.length > 63) {
    return { status: 404, why: `${hostname} is not a Flare address.` };
  }
  return { name };
}
