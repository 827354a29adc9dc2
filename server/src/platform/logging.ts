/**
 * Logger options for fastify's pino. A forwarded hub token is as strong as the user's own server,
 * so no token, key, cookie or Authorization header may reach a log line, whoever logs what.
 */
import type { FastifyRequest, FastifyServerOptions } from 'fastify';
import type { LogLevel } from './config.js';

const SECRET_FIELDS = [
  'token',
  'apiToken',
  'apiKey',
  'password',
  'authorization',
  'cookie',
  'cookieSecret',
  'secret'
];

export const redactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-xsrftoken"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map(f => `*.${f}`),
  ...SECRET_FIELDS.map(f => `*.*.${f}`)
];

const SECRET_QUERY = /([?&](?:token|access_token|api_key|apikey|key|_xsrf)=)[^&#]*/gi;

/** Hide secrets that arrive in a query string (`?token=`), which end up in logged URLs. */
export function maskUrl(url: string): string {
  return url.replace(SECRET_QUERY, '$1[REDACTED]');
}

export interface ILogDestination {
  write(line: string): void;
}

export function loggerOptions(
  level: LogLevel,
  stream?: ILogDestination
): NonNullable<FastifyServerOptions['logger']> {
  return {
    level,
    ...(stream ? { stream } : {}),
    redact: { paths: redactPaths, censor: '[REDACTED]' },
    serializers: {
      // fastify's default request serializer, with the URL masked and nothing else added
      req: (req: FastifyRequest) => ({
        method: req.method,
        url: maskUrl(req.url),
        host: req.host,
        remoteAddress: req.ip,
        remotePort: req.socket?.remotePort
      })
    }
  };
}
