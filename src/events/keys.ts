// Redis key names of the events module: every key of an app carries the hash tag {appId}, so that one app's keys share a slot (contract §12).

export interface EventKeys {
  stream(appId: string): string;
  dedupe(appId: string, sha: string): string;
  /** Pub/sub channel: "something was appended to this app's stream" (a wake-up, never the only signal). */
  channel(appId: string): string;
  webhooks(appId: string): string;
  lease(appId: string, webhookId: string): string;
  retries(appId: string, webhookId: string): string;
  attempts(appId: string, webhookId: string): string;
  failed(appId: string, webhookId: string): string;
  log(appId: string, webhookId: string): string;
}

export function eventKeys(prefix: string): EventKeys {
  return {
    stream: (a) => `${prefix}events:{${a}}`,
    dedupe: (a, sha) => `${prefix}evdup:{${a}}:${sha}`,
    channel: (a) => `${prefix}events-new:{${a}}`,
    webhooks: (a) => `${prefix}webhooks:{${a}}`,
    lease: (a, w) => `${prefix}whlease:{${a}}:${w}`,
    retries: (a, w) => `${prefix}whretry:{${a}}:${w}`,
    attempts: (a, w) => `${prefix}whattempts:{${a}}:${w}`,
    failed: (a, w) => `${prefix}whfailed:{${a}}:${w}`,
    log: (a, w) => `${prefix}whlog:{${a}}:${w}`,
  };
}

/** The consumer group of one webhook on its app's stream: its own cursor and pending list. */
export const groupOf = (webhookId: string): string => `wh:${webhookId}`;
