// The baseline for the latency bench: fastify with one route and nothing else.
import Fastify from 'fastify';

const app = Fastify({ logger: false });
const body = { user: { name: 'alice', groups: ['students'], admin: false }, connections: [] };
app.get('/api/v1/me', async () => body);
await app.listen({ host: '127.0.0.1', port: 0 });
process.send(app.server.address().port);
