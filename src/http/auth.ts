// Caller authentication (X-Api-Key, compared as SHA-256 digests in constant time) and the app access rule of contract §3 "Callers".
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AppConfig, ClientConfig } from '../config.js';
import { GatewayError } from '../errors.js';

declare module 'express-serve-static-core' {
  interface Locals {
    client?: ClientConfig;
  }
}

/** Finds the client whose key digest matches, comparing against every client so that timing says nothing. */
export function findClient(clients: readonly ClientConfig[], key: string): ClientConfig | undefined {
  const digest = createHash('sha256').update(key, 'utf8').digest();
  let found: ClientConfig | undefined;
  for (const c of clients) {
    if (timingSafeEqual(c.keySha256, digest) && found === undefined) found = c;
  }
  return found;
}

/**
 * 403 when the key may not act for the app, whether or not the app exists (so that restricted
 * callers cannot probe which apps are configured); 404 for an unknown app otherwise; undefined when allowed.
 */
export function appAccessError(client: ClientConfig | undefined, appId: string, apps: ReadonlyMap<string, AppConfig>): GatewayError | undefined {
  if (!client) return new GatewayError('UNAUTHENTICATED');
  if (client.apps !== '*' && !client.apps.has(appId)) return new GatewayError('FORBIDDEN');
  if (!apps.has(appId)) return new GatewayError('NOT_FOUND', { message: 'No such app is configured.' });
  return undefined;
}
