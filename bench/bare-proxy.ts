// The baseline of `npm run bench`: a bare Node reverse proxy (node:http server + undici Pool) in front of the simulator.
import http from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Pool } from 'undici';

const upstream = process.env.BARE_PROXY_UPSTREAM ?? 'http://127.0.0.1:8743';
const port = Number(process.env.BARE_PROXY_PORT ?? 8090);
// Same idle timeout as the gateway's platform agent, so that both pay the same for connection reuse.
const pool = new Pool(upstream, { connections: 128, pipelining: 1, keepAliveTimeout: 4_000 });

// Hop-by-hop headers (RFC 9110 §7.6.1) are the proxy's own, never forwarded.
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'host']);

const pick = (headers: http.IncomingHttpHeaders | Record<string, string | string[] | undefined>) => {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !HOP.has(k)) out[k] = v;
  return out;
};

const server = http.createServer(async (req, res) => {
  try {
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    const up = await pool.request({
      method: req.method as 'GET',
      path: req.url ?? '/',
      headers: pick(req.headers),
      body: hasBody ? req : null,
    });
    res.writeHead(up.statusCode, pick(up.headers));
    await pipeline(up.body, res);
  } catch {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
    res.end();
  }
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => process.stdout.write(`bare proxy on http://127.0.0.1:${port} → ${upstream}\n`));

process.on('SIGTERM', () => {
  server.close(() => void pool.close().then(() => process.exit(0)));
  server.closeAllConnections();
});
