// Dashboard sessions without server state: the cookie holds an expiry, a random id and an
// HMAC-SHA256 of both under a key derived from the admin key. Restarts and other api replicas
// accept it; changing ADMIN_API_KEY revokes every session. The admin key itself never leaves
// the login request.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export const SESSION_COOKIE = "x402_dashboard";
/** How long a login lasts: a working day. */
export const SESSION_TTL_SECONDS = 8 * 3600;

const TOKEN = /^([0-9]{1,12})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{43})$/;

export interface Sessions {
  /** A new session token, valid for SESSION_TTL_SECONDS from `now`. */
  issue(now?: number): string;
  /** Whether the token was issued with this admin key and has not expired. */
  valid(token: string | undefined, now?: number): boolean;
}

export function createSessions(adminKey: string): Sessions {
  const key = createHmac("sha256", adminKey).update("x402-facilitator dashboard session v1").digest();
  const mac = (body: string) => createHmac("sha256", key).update(body).digest();
  const seconds = (ms: number) => Math.floor(ms / 1000);
  return {
    issue(now = Date.now()) {
      const body = `${seconds(now) + SESSION_TTL_SECONDS}.${randomBytes(12).toString("base64url")}`;
      return `${body}.${mac(body).toString("base64url")}`;
    },
    valid(token, now = Date.now()) {
      const m = TOKEN.exec(token ?? "");
      if (!m) return false;
      const expires = Number(m[1]);
      // An expiry further out than any session we issue is not one of ours.
      if (expires <= seconds(now) || expires > seconds(now) + SESSION_TTL_SECONDS) return false;
      const given = Buffer.from(m[3]!, "base64url");
      return given.length === 32 && timingSafeEqual(given, mac(`${m[1]}.${m[2]}`));
    },
  };
}
