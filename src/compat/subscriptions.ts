// The platform's subscription APIs on the compat port: the gateway owns the app's one platform subscription (contract §10), so these are never forwarded.
import type { HttpMethod } from '../routes/types.js';
import { GATEWAY_CODE_PREFIX, type PlatformErrorAnswer } from './errors.js';

/**
 * The subscription APIs the SDKs call (platform-api.md §6.1, §6.2, §6.4, and the legacy subscribe the older
 * clients use). Not route descriptions: no /v1 operation forwards them, the gateway answers them itself.
 */
export const SUBSCRIPTION_APIS: ReadonlyArray<{ method: HttpMethod; path: string }> = Object.freeze([
  { method: 'POST', path: '/iocm/app/sub/v1.2.0/subscriptions' },
  { method: 'GET', path: '/iocm/app/sub/v1.2.0/subscriptions' },
  { method: 'DELETE', path: '/iocm/app/sub/v1.2.0/subscriptions' },
  { method: 'GET', path: '/iocm/app/sub/v1.2.0/subscriptions/:subscriptionId' },
  { method: 'DELETE', path: '/iocm/app/sub/v1.2.0/subscriptions/:subscriptionId' },
  { method: 'POST', path: '/iodm/app/sub/v1.1.0/subscribe' },
  { method: 'POST', path: '/iocm/app/sub/v1.1.0/subscribe' },
]);

/**
 * Until subscriptions become gateway webhooks here (contract §14; the events feature's webhooks with a raw
 * delivery), a subscription call gets a clear error in the platform's format rather than a misleading
 * "no such API": 501, so that an SDK reports a failure and its operators read why.
 */
export const subscriptionsUnavailable: PlatformErrorAnswer = {
  status: 501,
  body: {
    error_code: `${GATEWAY_CODE_PREFIX}SUBSCRIPTIONS_NOT_AVAILABLE`,
    error_desc:
      "Subscriptions are not available through the gateway's compat port yet; subscribe with a gateway webhook (POST /v1/apps/{appId}/webhooks) instead.",
  },
};
