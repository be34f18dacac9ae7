// GET /docs: the API reference, rendered in the browser from /openapi.json by Swagger UI, served from node_modules (no CDN: works offline).
import { createRequire } from 'node:module';
import path from 'node:path';
import express, { type Response, type Router } from 'express';

/*
 * Why swagger-ui-dist (Apache-2.0, SmartBear's own prebuilt Swagger UI, released every few weeks): one
 * self-contained bundle and stylesheet (~1.5 MB of the package's 12 MB are served), OpenAPI 3.1, and a
 * single dependency (@scarf/scarf, an install-time download counter that npm's install-script policy
 * leaves unrun; nothing of it runs in the gateway). @scalar/api-reference pulls in some forty packages,
 * and redoc 3 needs React, MobX and styled-components beside it.
 */
const require = createRequire(import.meta.url);
const DIST = path.dirname(require.resolve('swagger-ui-dist/package.json'));

/** The only files of the package the page needs: nothing else under node_modules is reachable. */
const ASSETS: Readonly<Record<string, string>> = Object.freeze({
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
});

/**
 * This page's policy, instead of helmet's default (set before it): scripts and styles from this origin
 * only, no inline script. Swagger UI sets some inline styles and draws icons as data: images; it fetches
 * /openapi.json and, with "Try it out", the /v1 routes of this origin. No upgrade-insecure-requests: the
 * page must also work over plain HTTP on a developer's machine.
 */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>iot-bff API reference</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`;

// An external file, not an inline script, so that the policy needs no 'unsafe-inline' for scripts.
// validatorUrl null: Swagger UI would otherwise send the document to validator.swagger.io for a badge.
const INIT = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    validatorUrl: null,
    displayRequestDuration: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout'
  });
});
`;

function send(res: Response, type: string, body: string): void {
  res.setHeader('Content-Security-Policy', DOCS_CSP);
  res.type(type).send(body);
}

export function buildDocsRouter(): Router {
  const r = express.Router();
  r.get('/docs', (_req, res) => {
    res.locals.route = 'docs';
    // The page is tiny and follows the gateway's version: not cached, unlike its assets.
    res.setHeader('Cache-Control', 'no-cache');
    send(res, 'html', PAGE);
  });
  r.get('/docs/init.js', (_req, res) => {
    res.locals.route = 'docs';
    res.setHeader('Cache-Control', 'no-cache');
    send(res, 'text/javascript; charset=utf-8', INIT);
  });
  r.get('/docs/assets/:file', (req, res, next) => {
    const file = req.params.file;
    const type = Object.hasOwn(ASSETS, file) ? ASSETS[file] : undefined;
    if (type === undefined) return next();
    res.locals.route = 'docs';
    res.setHeader('Content-Security-Policy', DOCS_CSP);
    // The name is one of ASSETS, never a caller's path: no traversal is possible.
    res.sendFile(path.join(DIST, file), { headers: { 'Content-Type': type }, maxAge: '1d' });
  });
  return r;
}
