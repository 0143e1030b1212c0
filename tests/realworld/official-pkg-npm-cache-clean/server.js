const app = require('fastify')();
app.get('/', async () => ({ ok: true }));
app.listen({ port: 3000, host: '0.0.0.0' });
