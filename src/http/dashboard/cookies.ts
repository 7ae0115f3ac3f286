// Just enough cookie handling for one session cookie: read a Cookie header, write a Set-Cookie.

export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export interface CookieOptions {
  path: string;
  maxAgeSeconds: number;
  secure: boolean;
}

/** HttpOnly and SameSite=Strict always: the page has no script, and no other site may send it. */
export function sessionCookie(name: string, value: string, o: CookieOptions): string {
  const parts = [`${name}=${value}`, `Path=${o.path}`, `Max-Age=${o.maxAgeSeconds}`, "HttpOnly", "SameSite=Strict"];
  if (o.secure) parts.push("Secure");
  return parts.join("; ");
}
