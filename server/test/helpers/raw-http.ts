/**
 * One HTTP/1.1 request written byte for byte on a socket: for request targets that fetch and
 * app.inject normalise away (absolute-form, percent-encoded path segments, double slashes).
 */
import { connect } from 'node:net';

export interface IRawResponse {
  status: number;
  /** Lower-cased names. */
  headers: Record<string, string>;
  body: string;
}

export function rawRequest(
  port: number,
  method: string,
  target: string,
  options: { headers?: Record<string, string>; body?: string; timeoutMs?: number } = {}
): Promise<IRawResponse> {
  const body = options.body ?? '';
  const headers = {
    host: `127.0.0.1:${port}`,
    connection: 'close',
    ...(body || !['GET', 'HEAD', 'OPTIONS'].includes(method)
      ? { 'content-length': String(Buffer.byteLength(body)) }
      : {}),
    ...options.headers
  };
  const head = [
    `${method} ${target} HTTP/1.1`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)
  ];
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1', () =>
      socket.write(`${head.join('\r\n')}\r\n\r\n${body}`)
    );
    socket.setTimeout(options.timeoutMs ?? 10_000, () =>
      socket.destroy(new Error(`no answer to ${method} ${target.slice(0, 80)} in time`))
    );
    socket.on('data', d => chunks.push(d));
    socket.on('error', reject);
    socket.on('close', () => {
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      if (end < 0) return reject(new Error(`no HTTP answer to ${method} ${target.slice(0, 80)}`));
      const [status, ...lines] = all.subarray(0, end).toString('latin1').split('\r\n');
      const parsed: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        parsed[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({
        status: Number(status.split(' ')[1]),
        headers: parsed,
        body: decodeChunked(all.subarray(end + 4), parsed['transfer-encoding']).toString('utf8')
      });
    });
  });
}

function decodeChunked(body: Buffer, encoding: string | undefined): Buffer {
  if (encoding !== 'chunked') return body;
  const out: Buffer[] = [];
  let rest = body;
  for (;;) {
    const eol = rest.indexOf('\r\n');
    const size = parseInt(rest.subarray(0, eol).toString('latin1'), 16);
    if (!size) return Buffer.concat(out);
    out.push(rest.subarray(eol + 2, eol + 2 + size));
    rest = rest.subarray(eol + 2 + size + 2);
  }
}
