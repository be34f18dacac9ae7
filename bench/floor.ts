// The floor of `npm run bench`: the least an Express 5 refusal can cost here — request id, helmet, one handler answering a small JSON 429.
import { randomUUID } from 'node:crypto';
import express from 'express';
import helmet from 'helmet';

const port = Number(process.env.FLOOR_PORT ?? 8091);
const app = express();
app.disable('x-powered-by');
app.set('etag', false);
// The middleware every gateway answer must have (issue 15): a request id, echoed, and helmet's headers.
app.use((req, res, next) => {
  const given = req.get('x-request-id');
  res.setHeader('X-Request-Id', given !== undefined && /^[A-Za-z0-9._:-]{1,128}$/.test(given) ? given : randomUUID());
  next();
});
app.use(helmet());
app.get('/v1/apps/:appId/packages', (_req, res) => {
  res.setHeader('Retry-After', '30');
  res.status(429).json({ error: { code: 'RATE_LIMITED', message: 'The quota is used up.', retryable: true, requestId: res.getHeader('X-Request-Id') } });
});
const server = app.listen(port, '127.0.0.1', () => process.stdout.write(`floor on http://127.0.0.1:${port}\n`));
server.keepAliveTimeout = 65_000;
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
