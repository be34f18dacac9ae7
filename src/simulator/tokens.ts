// Access and refresh tokens per app, modelling "only the newest token of an app is valid".
import { randomBytes } from 'node:crypto';

export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

interface AppTokens {
  accessToken: string | null;
  accessExpiresAt: number;
  refreshToken: string;
  refreshExpiresAt: number;
  issued: number;
}

// Refresh tokens live one month on the platform (platform-api.md §2.1).
const REFRESH_LIFETIME_MS = 30 * 24 * 3600 * 1000;

const newToken = (): string => randomBytes(24).toString('hex');

export class TokenStore {
  private readonly apps = new Map<string, AppTokens>();

  /** Replaces whatever the app held: earlier access and refresh tokens stop working. */
  issue(appId: string, expiresIn: number, now: number): IssuedTokens {
    const issued = (this.apps.get(appId)?.issued ?? 0) + 1;
    const tokens: AppTokens = {
      accessToken: newToken(),
      accessExpiresAt: now + expiresIn * 1000,
      refreshToken: newToken(),
      refreshExpiresAt: now + REFRESH_LIFETIME_MS,
      issued,
    };
    this.apps.set(appId, tokens);
    return { accessToken: tokens.accessToken as string, refreshToken: tokens.refreshToken, expiresIn };
  }

  isValidAccess(appId: string, token: string, now: number): boolean {
    const t = this.apps.get(appId);
    return t !== undefined && t.accessToken !== null && t.accessToken === token && now < t.accessExpiresAt;
  }

  // Only the latest refresh token is honoured: the docs are silent, and strict is the safer model for a client.
  isValidRefresh(appId: string, token: string, now: number): boolean {
    const t = this.apps.get(appId);
    return t !== undefined && t.refreshToken === token && now < t.refreshExpiresAt;
  }

  /** Kills the access token only; the refresh token still works, as after an expiry. */
  revoke(appId: string): void {
    const t = this.apps.get(appId);
    if (t) t.accessToken = null;
  }

  status(appId: string, now: number): { current: boolean; issued: number } {
    const t = this.apps.get(appId);
    if (!t) return { current: false, issued: 0 };
    return { current: t.accessToken !== null && now < t.accessExpiresAt, issued: t.issued };
  }

  clear(): void {
    this.apps.clear();
  }
}
