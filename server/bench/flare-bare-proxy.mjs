// The least a Node.js reverse proxy does (parse, forward on a keep-alive agent, stream back): the
// second baseline of flare-gateway.mjs, so the gateway's own cost (routing, access check, counting)
// shows apart from what any proxy in Node costs. Usage: node flare-bare-proxy.mjs <app host> <app port>
import { Agent, createServer, request } from 'node:http';

const targetHost = process.argv[2];
const target = Number(process.argv[3]);
const agent = new Agent({ keepAlive: true, maxSockets: 512 });
const server = createServer((req, res) => {
  const upstream = request(
    {
      host: targetHost,
      port: target,
      method: req.method,
      path: req.url,
      headers: req.headers,
      agent
    },
    answer => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    }
  );
  upstream.on('error', () => res.destroy());
  req.pipe(upstream);
});
server.listen(0, '127.0.0.1', () => process.send?.(server.address().port));
