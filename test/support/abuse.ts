// What the abuse-control tests share: files the facilitator reads its keys and screening list
// from, requests sent as a merchant's server sends them (with its bearer key), and a poll for
// something that happens a little later (a reloaded list, a metered receipt).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { z } from "zod";
import type { keyPolicySchema } from "../../src/policy/api-keys.js";

export type KeySpec = z.input<typeof keyPolicySchema>;

const dirs: string[] = [];

/** A file of its own in a fresh temporary directory; removeTempFiles() deletes them all. */
export function tempFile(name: string, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), "x402-abuse-"));
  dirs.push(dir);
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

export const keysFile = (keys: KeySpec[]) => tempFile("api-keys.json", JSON.stringify(keys, null, 2));

export function removeTempFiles(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export interface Answer {
  status: number;
  json: any;
  /** The body exactly as sent, to check what it must not contain. */
  text: string;
  headers: Headers;
}

export async function call(base: string, method: "GET" | "POST", path: string, o: { body?: unknown; key?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = o.key ? { authorization: `Bearer ${o.key}` } : {};
  if (o.body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    body: o.body === undefined ? undefined : JSON.stringify(o.body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

export const post = (base: string, path: string, body: unknown, key?: string) => call(base, "POST", path, { body, key });

/** Reads until `ok` holds and returns that value; fails naming the last one after `timeoutMs`. */
export async function waitUntil<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms; last seen ${JSON.stringify(v)}`);
    await sleep(100);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
