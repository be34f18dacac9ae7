// The compat front's public surface for the composition root and main.ts (contract §14).
export { buildCompatApp, LOGIN_PATH, REFRESH_PATH, type CompatDeps } from './app.js';
export { toPlatformError, PLATFORM_ANSWERS, GATEWAY_CODE_PREFIX, type PlatformErrorAnswer } from './errors.js';
export { createCompatServer } from './server.js';
export { MemorySessionStore, RedisSessionStore, type SessionStore } from './sessions.js';
export { webhookSubscriptions, type SubscriptionBackend } from './subscriptions.js';
