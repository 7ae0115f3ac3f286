// What the Bazaar catalog keeps of a merchant's words, driven with hostile values directly:
// markup, control and bidi characters, lone surrogates, non-http URLs, prototype keys,
// non-finite numbers, oversized and absurdly nested JSON. The catalog is served to agents that
// may render it, and Postgres must be able to store whatever is kept.
import pino from "pino";
import type { Address } from "viem";
import { describe, expect, it } from "vitest";
import type { CatalogStore } from "../../src/discovery/catalog-store.js";
import { createCatalogWriter } from "../../src/discovery/catalog-writer.js";
import { catalogEntryOf, type CatalogEntry } from "../../src/discovery/entry.js";
import { boundedJson, httpUrl, LIMITS, mimeType, plainText, safeLabel } from "../../src/discovery/sanitize.js";
import type { FacilitatorRequest, RequirementsV1, RequirementsV2 } from "../../src/x402/wire.js";
import { declared, WEATHER_DECLARATION as WEATHER } from "../support/bazaar-declarations.js";

// Control (Cc), format (Cf: bidi overrides and isolates, zero widths, BOM) and line/paragraph separators.
const INVISIBLE = /[\p{Cc}\p{Cf}\u2028\u2029]/u;
// With the u flag, a lone surrogate is a code point of its own and matches \p{Cs}; a pair does not.
const LONE_SURROGATE = /\p{Cs}/u;
const MARKUP = /[<>]/;

/** n arrays, each the only element of the one around it. */
function nestedArrays(n: number): unknown {
  let v: unknown = [];
  for (let i = 0; i < n; i++) v = [v];
  return v;
}

function nestedObjects(n: number): unknown {
  let v: unknown = {};
  for (let i = 0; i < n; i++) v = { a: v };
  return v;
}

/** How many arrays/objects deep a value goes (iterative: the value may be thousands deep). */
function depthOf(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (typeof v !== "object" || v === null) continue;
    max = Math.max(max, d + 1);
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

/** Every string and key inside a JSON value. */
function stringsIn(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (typeof value !== "object" || value === null) return [];
  return Object.entries(value).flatMap(([k, v]) => [k, ...stringsIn(v)]);
}

describe("plainText", () => {
  it("is undefined for anything but a string, and for a string with nothing left", () => {
    for (const v of [undefined, null, 1, true, {}, ["a"], Symbol("a")]) expect(plainText(v)).toBeUndefined();
    for (const v of ["", "   ", "<b></b>", "\u0000\u202E", "<script>"]) expect(plainText(v)).toBeUndefined();
  });

  it("serves markup as its words, without a tag", () => {
    const out = plainText("<script>alert(1)</script><b>Weather</b> now")!;
    expect(out).not.toMatch(MARKUP);
    expect(out).toContain("Weather now");
    for (const hostile of [
      "<scr<script>ipt>alert(1)</script>",
      "<img src=x onerror=alert(1)",
      "<svg/onload=alert(1)>",
      "<!-- x --><![CDATA[y]]>",
      "< script >alert(1)</ script >",
      "<<b>>bold<</b>>",
      "a < b > c",
      "<".repeat(10_000),
    ]) {
      expect(plainText(hostile) ?? "").not.toMatch(MARKUP);
    }
    expect(plainText("a < b > c")).toBe("a b c");
  });

  it("removes control, format and bidi characters, keeping the words apart", () => {
    const out = plainText("Sunny\u0000and\u0007warm\u001b[31m\u007f\u0085\u200b\u200d\u202e\u2066\ufeff\u2028\u2029\ttoday\r\n")!;
    expect(out).not.toMatch(INVISIBLE);
    expect(out.split(" ")).toEqual(expect.arrayContaining(["Sunny", "and", "today"]));
    expect(out).toBe(out.trim());
    expect(out).not.toMatch(/\s\s/);
  });

  it("cuts to the limit in code points, never splitting a surrogate pair", () => {
    expect(plainText("a".repeat(5_000))).toHaveLength(LIMITS.string);
    expect(plainText("a".repeat(5_000), 10)).toBe("a".repeat(10));
    const emoji = plainText("😀".repeat(2_000))!;
    expect([...emoji]).toHaveLength(LIMITS.string);
    expect(emoji).not.toMatch(LONE_SURROGATE);
  });

  // A lone surrogate survives JSON.parse; JSON.stringify writes it back as "\ud800", which
  // Postgres' jsonb input refuses ("invalid input syntax for type json"): kept, it fails the
  // catalog's whole batch insert.
  it("removes lone surrogates, keeping pairs", () => {
    const cleaned = ["a\ud800b", "\udc00x", "x\ud83d", "ok😀\ude00", "\ud800"].map((v) => plainText(v));
    expect(cleaned).toEqual(["a b", "x", "x", "ok😀", undefined]);
    expect(plainText("ok😀")).toBe("ok😀");
  });

  it("removes format characters the bidi list does not name", () => {
    // soft hyphen, Arabic letter mark, word joiner, BOM: all \p{Cf}
    expect(["soft\u00adhyphen", "\u061cx", "a\u2060b", "a\ufeffb"].map((v) => plainText(v))).toEqual(["soft hyphen", "x", "a b", "a b"]);
  });

  it("stays linear on long hostile input", () => {
    const started = performance.now();
    for (const v of ["<a".repeat(50_000), "<a ".repeat(50_000) + ">", "<!".repeat(50_000), "\u202e<".repeat(50_000)]) plainText(v);
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

describe("httpUrl", () => {
  it("takes http and https URLs", () => {
    expect(httpUrl("https://api.example.com/weather?city=Paris")?.href).toBe("https://api.example.com/weather?city=Paris");
    expect(httpUrl("http://api.example.com")?.href).toBe("http://api.example.com/");
    expect(httpUrl("HTTPS://API.EXAMPLE.COM/x")?.protocol).toBe("https:");
  });

  it("refuses every other scheme, credentials, and anything that could break out of an attribute", () => {
    for (const v of [
      "javascript:alert(1)",
      "JavaScript:alert(1)",
      " javascript:alert(1)",
      "java\tscript:alert(1)",
      "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
      "file:///etc/passwd",
      "ftp://example.com/x",
      "ws://example.com/x",
      "blob:https://example.com/x",
      "//example.com/x",
      "/relative",
      "https://user:pass@example.com/",
      "https://user@example.com/",
      'https://example.com/"onmouseover="alert(1)',
      "https://example.com/<script>",
      "https://example.com/'x'",
      "https://example.com/`x`",
      "https://example.com/a b",
      "https://example.com/\u0000",
      "https://example.com/\n",
      "https://example.com/\u2028",
      `https://example.com/${"a".repeat(LIMITS.url)}`,
      "",
      "not a url",
    ]) {
      expect(httpUrl(v), v).toBeUndefined();
    }
    for (const v of [undefined, null, 42, {}, new URL("https://example.com")]) expect(httpUrl(v)).toBeUndefined();
  });

  // The URL parser would percent-encode most of these into something that looks harmless; a URL
  // that carried one was written to deceive, and is refused whole.
  it("refuses a URL holding a control, format or bidi character, or a lone surrogate", () => {
    for (const v of [
      "https://example.com/\u202egpj.exe",
      "https://example.com/a\u200bb",
      "https://ex\u202eample.com/",
      "https://ex\u200dample.com/",
      "https://example.com/\u00ad",
      "https://example.com/\ufeff",
      "https://example.com/\u2066x",
      "https://example.com/\u0085",
      "https://example.com/\ud800",
      "https://example.com/\udc00x",
    ]) {
      expect(httpUrl(v), JSON.stringify(v)).toBeUndefined();
    }
  });
});

describe("mimeType", () => {
  it("takes a type/subtype with parameters", () => {
    for (const v of ["application/json", "text/plain; charset=utf-8", "application/vnd.api+json", "image/svg+xml"])
      expect(mimeType(v)).toBe(v);
  });

  it("refuses anything else", () => {
    for (const v of [
      'text/html"><script>alert(1)</script>',
      "text/html<",
      "application/json\n",
      "application/json\u0000",
      "application/json\u202e",
      "javascript:alert(1)",
      "json",
      "a/b;c",
      "аpplication/json", // Cyrillic а
      `application/${"x".repeat(LIMITS.mimeType)}`,
      "",
    ]) {
      expect(mimeType(v), v).toBeUndefined();
    }
    for (const v of [undefined, null, 1, ["application/json"]]) expect(mimeType(v)).toBeUndefined();
  });

  it("answers quickly on a long near-miss", () => {
    const started = performance.now();
    mimeType(`a/b${"; a=b".repeat(15)}`.slice(0, LIMITS.mimeType) + "<");
    expect(performance.now() - started).toBeLessThan(100);
  });
});

describe("safeLabel", () => {
  it("passes plain labels and refuses anything HTML could use", () => {
    for (const v of ["weather", "Weather Co", "ai-agents", "v2.1"]) expect(safeLabel(v)).toBe(true);
    for (const v of ["<b>", "a>b", 'a"b', "a'b", "a`b", "a&b", "&lt;"]) expect(safeLabel(v)).toBe(false);
  });
});

describe("boundedJson", () => {
  it("makes every string and key plain text", () => {
    const out = boundedJson({ city: "<b>Paris</b>", "<i>unit</i>": "°C\u202e", list: ["<img src=x onerror=alert(1)>ok"], "<b></b>": 1 });
    expect(out).toEqual({ city: "Paris", unit: "°C", list: ["ok"] });
  });

  it("never sets a prototype, whatever the key becomes once cleaned", () => {
    const hostile = JSON.parse(
      '{"__proto__": {"polluted": 1}, "<b>__proto__</b>": {"polluted": 2}, " __proto__ ": {"polluted": 3}, "a": {"__proto__": {"polluted": 4}}, "constructor": {"prototype": {"polluted": 5}}}',
    );
    const out = boundedJson(hostile) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out).sort()).toEqual(["a", "constructor"]);
    expect(Object.getPrototypeOf(out.a)).toBe(Object.prototype);
    expect(out.a).toEqual({});
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((out as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it("turns NaN, Infinity and what JSON cannot hold into null", () => {
    expect(boundedJson({ a: NaN, b: Infinity, c: -Infinity, d: 1.5, e: -0, f: 10n, g: undefined, h: () => 1, i: Symbol("s") })).toEqual({
      a: null,
      b: null,
      c: null,
      d: 1.5,
      e: -0,
      f: null,
      g: null,
      h: null,
      i: null,
    });
    expect(boundedJson([NaN, Infinity, true, false, null])).toEqual([null, null, true, false, null]);
  });

  it("cuts arrays and objects nested 5,000 deep at the depth limit, without overflowing", () => {
    for (const deep of [nestedArrays(5_000), nestedObjects(5_000), nestedArrays(100_000)]) {
      const out = boundedJson(deep);
      expect(out).toBeDefined();
      expect(depthOf(out)).toBeLessThanOrEqual(LIMITS.jsonDepth + 1);
    }
  });

  it("does not loop on a cyclic value", () => {
    const cyclic: Record<string, unknown> = { name: "loop" };
    cyclic.self = cyclic;
    const out = boundedJson(cyclic);
    expect(depthOf(out)).toBeLessThanOrEqual(LIMITS.jsonDepth + 1);
  });

  it("bounds the number of keys and of array elements", () => {
    const wide = Object.fromEntries(Array.from({ length: 1_000 }, (_, i) => [`k${i}`, i]));
    expect(Object.keys(boundedJson(wide) as object).length).toBeLessThanOrEqual(LIMITS.jsonKeys);
    const nestedWide = { a: wide, b: wide };
    expect(stringsIn(boundedJson(nestedWide)).length).toBeLessThanOrEqual(LIMITS.jsonKeys);
    expect((boundedJson(Array.from({ length: 5_000 }, (_, i) => i)) as unknown[]).length).toBeLessThanOrEqual(LIMITS.jsonKeys);
  });

  it("keeps long strings to the string limit and refuses what is still too large once cleaned", () => {
    expect((boundedJson({ s: "x".repeat(100_000) }) as { s: string }).s).toHaveLength(LIMITS.string);
    const fits = Array.from({ length: 20 }, () => "x".repeat(1_000));
    expect(boundedJson(fits)).toEqual(fits);
    expect(boundedJson(Array.from({ length: 100 }, () => "x".repeat(1_000)))).toBeUndefined();
  });

  it("leaves no lone surrogate in a string or a key", () => {
    const out = boundedJson({ "k\ud800": "v\udc00", list: ["\ud83d"] });
    for (const s of stringsIn(out)) expect(s).not.toMatch(LONE_SURROGATE);
  });
});

// --- catalogEntryOf ---------------------------------------------------------------------------

const ASSET: Address = "0x036CbD53842c5426634e7929541eC2318f3dCF7e";
const PAY_TO: Address = "0xAbC0000000000000000000000000000000000001";
const REQUIREMENTS: RequirementsV2 = {
  scheme: "exact",
  network: "eip155:84532",
  amount: "1000",
  asset: ASSET,
  payTo: PAY_TO,
  maxTimeoutSeconds: 60,
  extra: { name: "USDC", version: "2" },
};
const RESOURCE = { url: "https://api.example.com/weather?city=Paris", description: "Weather now", mimeType: "application/json" };

/** A v2 request declaring `bazaar` for `resource`, as the wire parser hands it over. */
function v2Request(
  resource: unknown = RESOURCE,
  bazaar: unknown = WEATHER,
  requirements: RequirementsV2 = REQUIREMENTS,
): FacilitatorRequest {
  return {
    version: 2,
    paymentPayload: { x402Version: 2, accepted: requirements, payload: {}, resource, extensions: { bazaar } },
    paymentRequirements: requirements,
  };
}

function v1Request(over: Partial<RequirementsV1> & Record<string, unknown>): FacilitatorRequest {
  const requirements: RequirementsV1 = {
    scheme: "exact",
    network: "base-sepolia",
    maxAmountRequired: "1000",
    asset: ASSET,
    payTo: PAY_TO,
    maxTimeoutSeconds: 60,
    extra: { name: "USDC", version: "2" },
    resource: "https://v1.example.com/weather",
    description: "<b>V1</b> weather",
    mimeType: "application/json",
    outputSchema: { input: { type: "http", method: "GET", queryParams: { city: "<i>Paris</i>" } }, output: { forecast: "<b>sunny</b>" } },
    ...over,
  };
  return {
    version: 1,
    paymentPayload: { x402Version: 1, scheme: "exact", network: "base-sepolia", payload: {} },
    paymentRequirements: requirements,
  };
}

describe("catalogEntryOf", () => {
  it("keeps a valid declaration: canonical URL, payTo in lower case, accepts by scheme|network|asset", () => {
    const entry = catalogEntryOf(v2Request())!;
    expect(entry).toMatchObject({
      type: "http",
      resource: "https://api.example.com/weather",
      method: "GET",
      payTo: PAY_TO.toLowerCase(),
      x402Version: 2,
      description: "Weather now",
      mimeType: "application/json",
      bazaar: { info: WEATHER.info },
    });
    expect(entry.key).toMatch(/^[0-9a-f]{64}$/);
    expect(Object.keys(entry.accepts)).toEqual([`exact|eip155:84532|${ASSET}`]);
  });

  it("keys an entry by its payTo and version: another merchant's same resource is another entry", () => {
    const other: RequirementsV2 = { ...REQUIREMENTS, payTo: "0xabc0000000000000000000000000000000000002" };
    expect(catalogEntryOf(v2Request())!.key).toBe(catalogEntryOf(v2Request())!.key);
    expect(catalogEntryOf(v2Request(RESOURCE, WEATHER, other))!.key).not.toBe(catalogEntryOf(v2Request())!.key);
    // payTo's case does not make a second entry
    const upper: RequirementsV2 = { ...REQUIREMENTS, payTo: "0xABC0000000000000000000000000000000000001" };
    expect(catalogEntryOf(v2Request(RESOURCE, WEATHER, upper))!.key).toBe(catalogEntryOf(v2Request())!.key);
  });

  // v1 and v2 requirements have different shapes: in one entry, accepts would disagree with its x402Version.
  it("keys a v1 and a v2 payment for the same resource and payTo apart", () => {
    const v2 = catalogEntryOf(v2Request({ ...RESOURCE, url: "https://v1.example.com/weather" }))!;
    const v1 = catalogEntryOf(v1Request({}))!;
    expect([v1.resource, v1.payTo, v1.type]).toEqual([v2.resource, v2.payTo, v2.type]);
    expect([v1.x402Version, v2.x402Version]).toEqual([1, 2]);
    expect(v1.key).toMatch(/^[0-9a-f]{64}$/);
    expect(v1.key).not.toBe(v2.key);
    expect(catalogEntryOf(v1Request({ description: "other words" }))!.key).toBe(v1.key);
  });

  it("does not catalogue a resource that is not an http(s) URL", () => {
    for (const url of [
      "javascript:alert(1)",
      "data:text/html,<script>alert(1)</script>",
      "file:///etc/passwd",
      "ftp://example.com/x",
      "//example.com/x",
      "",
      42,
    ]) {
      expect(catalogEntryOf(v2Request({ ...RESOURCE, url })), String(url)).toBeUndefined();
    }
    expect(catalogEntryOf(v2Request({ description: "no url" }))).toBeUndefined();
  });

  it("drops credentials from the resource URL", () => {
    expect(catalogEntryOf(v2Request({ ...RESOURCE, url: "https://user:secret@api.example.com/weather" }))?.resource).toBe(
      "https://api.example.com/weather",
    );
  });

  it("serves description, method, tool name and info as plain text", () => {
    const hostileInfo = { input: { type: "http", method: "<img src=x>GET\u202e", q: "<script>alert(1)</script>x", "<b>k</b>": "\u0000v" } };
    const entry = catalogEntryOf(
      v2Request({ ...RESOURCE, description: "<script>alert(1)</script><b>Weather</b>\u202e\u0000 now" }, { info: hostileInfo, schema: {} }),
    )!;
    expect(entry.description).not.toMatch(MARKUP);
    expect(entry.description).not.toMatch(INVISIBLE);
    expect(entry.description).toContain("Weather");
    expect(entry.method).toBe("GET");
    for (const s of stringsIn(entry.bazaar)) {
      expect(s).not.toMatch(MARKUP);
      expect(s).not.toMatch(INVISIBLE);
    }
    const mcp = declared({ toolName: "<b>forecast</b>", inputSchema: { type: "object" } });
    expect(catalogEntryOf(v2Request({ url: "https://mcp.example.com/mcp" }, mcp))).toMatchObject({ type: "mcp", toolName: "forecast" });
  });

  it("cuts an oversize description to 1,000 characters", () => {
    expect(catalogEntryOf(v2Request({ ...RESOURCE, description: "d".repeat(50_000) }))!.description).toHaveLength(1_000);
  });

  it("drops an icon URL that is not a public http(s) URL, and a hostile service name and mime type", () => {
    for (const iconUrl of [
      "javascript:alert(1)",
      "data:image/svg+xml,<svg onload=alert(1)>",
      "http://127.0.0.1/x.png",
      "https://u:p@cdn.example.com/x",
    ]) {
      expect(catalogEntryOf(v2Request({ ...RESOURCE, iconUrl }))!.iconUrl, iconUrl).toBeUndefined();
    }
    expect(catalogEntryOf(v2Request({ ...RESOURCE, iconUrl: "https://cdn.example.com/icon.png" }))!.iconUrl).toBe(
      "https://cdn.example.com/icon.png",
    );
    expect(catalogEntryOf(v2Request({ ...RESOURCE, iconUrl: "javascript:alert(1)" }))).toMatchObject({
      resource: "https://api.example.com/weather",
    });
    const entry = catalogEntryOf(v2Request({ ...RESOURCE, serviceName: "<b>Evil</b>", mimeType: 'text/html"><script>' }))!;
    expect(entry.serviceName).toBeUndefined();
    expect(entry.mimeType).toBeUndefined();
    expect(catalogEntryOf(v2Request({ ...RESOURCE, serviceName: "WeatherCo" }))!.serviceName).toBe("WeatherCo");
  });

  // The official isValidIconUrl only refuses ASCII control characters: bidi overrides and zero
  // widths pass it.
  it("drops an icon URL holding a control, format or bidi character, keeping the entry", () => {
    for (const iconUrl of [
      "https://cdn.example.com/\u202egpj.exe",
      "https://cdn.example.com/a\u200bb.png",
      "https://cdn.example.com/\u2066x.png",
      "https://cdn.example.com/\u00adx.png",
      "https://cdn.example.com/\ud800.png",
    ]) {
      const entry = catalogEntryOf(v2Request({ ...RESOURCE, iconUrl }))!;
      expect(entry.iconUrl, JSON.stringify(iconUrl)).toBeUndefined();
      expect(entry.description).toBe("Weather now");
    }
  });

  it("serves the icon URL as the URL parser writes it back: normalized, anything odd percent-encoded", () => {
    const served = (iconUrl: string) => catalogEntryOf(v2Request({ ...RESOURCE, iconUrl }))!.iconUrl;
    expect(served("HTTPS://CDN.Example.COM/a/../icon.png")).toBe("https://cdn.example.com/icon.png");
    expect(served("https://cdn.example.com/météo.png")).toBe("https://cdn.example.com/m%C3%A9t%C3%A9o.png");
    expect(served("https://cdn.example.com/{sun}.png")).toBe("https://cdn.example.com/%7Bsun%7D.png");
    expect(served("https://bücher.example/icon.png")).toBe("https://xn--bcher-kva.example/icon.png");
    expect(served("https://cdn.example.com")).toBe("https://cdn.example.com/");
  });

  describe("tags", () => {
    const tagsOf = (tags: unknown) => catalogEntryOf(v2Request({ ...RESOURCE, tags }))!.tags;
    // Every kind but the last two passes the official sanitizer (printable ASCII, at most 32 characters).
    const hostile = Array.from(
      { length: 1_000 },
      (_, i) => [`<t${i}>`, `a"${i}`, `b'${i}`, `c\`${i}`, `d&${i}`, `tag${i}`, `\u202e${i}`][i % 7],
    );

    it("keeps at most 5, none with a character HTML could use", () => {
      const plenty = Array.from({ length: 1_000 }, (_, i) => `tag${i}`);
      expect(tagsOf(plenty)).toEqual(plenty.slice(0, 5));
      const kept = tagsOf(hostile) ?? [];
      expect(kept.length).toBeLessThanOrEqual(5);
      for (const tag of kept) {
        expect(tag).not.toMatch(/[<>"'`&]/);
        expect(tag).not.toMatch(INVISIBLE);
      }
    });

    it("keeps none, rather than an empty list, when none is safe", () => {
      for (const tags of [["<b>x</b>", '"q"', "'s'", "`t`", "a&b", "\u202ex"], [], ["", " ".repeat(40)], "weather", [1, null, {}]]) {
        const entry = catalogEntryOf(v2Request({ ...RESOURCE, tags }))!;
        expect(entry, JSON.stringify(tags)).toBeDefined();
        expect(entry.tags, JSON.stringify(tags)).toBeUndefined();
      }
    });

    // The official sanitizer keeps the first five it accepts, and < > " ' ` & are printable ASCII:
    // chosen after it, five hostile tags in front would leave no room for a safe one.
    it("drops the unsafe ones before the five are chosen", () => {
      expect(tagsOf(["<a>", "<b>", "<c>", "<d>", "<e>", "good", "fine"])).toEqual(["good", "fine"]);
      expect(tagsOf(["<a>", "ok1", "a&b", "ok2", '"q"', "ok3", "ok4", "ok5", "ok6"])).toEqual(["ok1", "ok2", "ok3", "ok4", "ok5"]);
      expect(tagsOf(hostile)).toEqual(["tag5", "tag12", "tag19", "tag26", "tag33"]);
    });
  });

  it("does not catalogue a declaration over 64 KB", () => {
    const huge = { ...WEATHER, info: { ...WEATHER.info, padding: "x".repeat(70_000) } };
    expect(catalogEntryOf(v2Request(RESOURCE, huge))).toBeUndefined();
  });

  it("does not catalogue a declaration its own schema refuses, or one with an external $ref", () => {
    const wrong = { ...WEATHER, info: { input: { type: "http", method: "TRACE" } } };
    expect(catalogEntryOf(v2Request(RESOURCE, wrong))).toBeUndefined();
    const external = { info: WEATHER.info, schema: { $ref: "https://evil.example.com/schema.json" } };
    expect(catalogEntryOf(v2Request(RESOURCE, external))).toBeUndefined();
  });

  it("returns nothing, without throwing, for junk a permissive schema lets through", () => {
    for (const info of [
      undefined,
      null,
      "text",
      42,
      [],
      {},
      { input: null },
      { input: { type: "mcp" } },
      { input: { type: "mcp", toolName: "<b></b>" } },
    ]) {
      expect(() => catalogEntryOf(v2Request(RESOURCE, { info, schema: {} }))).not.toThrow();
      expect(catalogEntryOf(v2Request(RESOURCE, { info, schema: {} })), JSON.stringify(info)).toBeUndefined();
    }
    for (const bazaar of [undefined, null, "bazaar", 1, [], { info: WEATHER.info }, { schema: WEATHER.schema }]) {
      expect(() => catalogEntryOf(v2Request(RESOURCE, bazaar))).not.toThrow();
    }
  });

  it("survives info and schema nested 5,000 deep (arrays and objects)", () => {
    for (const deep of [nestedArrays(5_000), nestedObjects(5_000)]) {
      const asInfo = { input: { type: "http", method: "GET", deep } };
      const entry = catalogEntryOf(v2Request(RESOURCE, { info: asInfo, schema: {} }));
      // refused or cut at the depth limit: either way bounded
      if (entry) expect(depthOf(entry.bazaar)).toBeLessThanOrEqual(LIMITS.jsonDepth + 2);
      expect(() => catalogEntryOf(v2Request(RESOURCE, { info: WEATHER.info, schema: deep }))).not.toThrow();
      expect(() => catalogEntryOf(v2Request(RESOURCE, { info: deep, schema: deep }))).not.toThrow();
    }
  });

  it("keeps neither __proto__ keys nor non-finite numbers from the info", () => {
    const info = JSON.parse('{"input": {"type": "http", "method": "GET", "__proto__": {"polluted": true}, "n": 1}}');
    info.input.inf = Infinity;
    info.input.nan = NaN;
    const entry = catalogEntryOf(v2Request(RESOURCE, { info, schema: {} }))!;
    const input = (entry.bazaar.info as { input: Record<string, unknown> }).input;
    expect(Object.prototype.hasOwnProperty.call(input, "__proto__")).toBe(false);
    expect(Object.getPrototypeOf(input)).toBe(Object.prototype);
    expect(input).toMatchObject({ n: 1, inf: null, nan: null });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("keeps no lone surrogate anywhere in the entry", () => {
    const info = { input: { type: "http", method: "GET", city: "\ud800Paris" } };
    const entry = catalogEntryOf(
      v2Request(
        { ...RESOURCE, description: "Weather \udc00" },
        { info, schema: {} },
        { ...REQUIREMENTS, extra: { name: "USDC", version: "2", note: "\ud83d" } },
      ),
    )!;
    for (const s of [entry.description ?? "", ...stringsIn(entry.bazaar), ...stringsIn(entry.accepts)])
      expect(s).not.toMatch(LONE_SURROGATE);
  });

  it("catalogues a v1 outputSchema as plain text, and not when it says it is not discoverable", () => {
    const entry = catalogEntryOf(v1Request({}))!;
    expect(entry).toMatchObject({
      type: "http",
      resource: "https://v1.example.com/weather",
      x402Version: 1,
      description: "V1 weather",
      method: "GET",
    });
    expect(stringsIn(entry.bazaar).join(" ")).not.toMatch(MARKUP);
    expect(Object.keys(entry.accepts)).toEqual([`exact|base-sepolia|${ASSET}`]);
    expect(catalogEntryOf(v1Request({ resource: "javascript:alert(1)" }))).toBeUndefined();
    expect(catalogEntryOf(v1Request({ outputSchema: { input: { type: "http", method: "GET", discoverable: false } } }))).toBeUndefined();
    expect(catalogEntryOf(v1Request({ outputSchema: "<script>" }))).toBeUndefined();
  });

  it("catalogues nothing for a payment that declares nothing", () => {
    const plain: FacilitatorRequest = {
      version: 2,
      paymentPayload: { x402Version: 2, accepted: REQUIREMENTS, payload: {}, resource: RESOURCE },
      paymentRequirements: REQUIREMENTS,
    };
    expect(catalogEntryOf(plain)).toBeUndefined();
  });
});

// --- the catalog writer -----------------------------------------------------------------------

describe("the catalog writer", () => {
  const silent = pino({ enabled: false });
  const at = (n: number) => v2Request({ ...RESOURCE, url: `https://api.example.com/${n}` });

  /** A store that fails its first writes as told, then keeps what it is given. */
  function storeFailing(...failures: (() => Promise<void>)[]) {
    const written: string[][] = [];
    const store: Pick<CatalogStore, "upsertMany"> = {
      upsertMany(entries: readonly CatalogEntry[]) {
        const fail = failures.shift();
        if (fail) return fail();
        written.push(entries.map((e) => e.resource));
        return Promise.resolve();
      },
    };
    return { store, written };
  }

  it("writes later batches after one whose write threw, rejected, or whose request could not be read", async () => {
    const { store, written } = storeFailing(
      () => {
        throw new Error("thrown before any promise");
      },
      () => Promise.reject(new Error("rejected")),
    );
    const writer = createCatalogWriter(store, silent, { flushMs: 60_000 });
    const unreadable = { ...at(0), paymentRequirements: { ...REQUIREMENTS, payTo: 42 } } as unknown as FacilitatorRequest;
    for (const batch of [[at(1)], [at(2)], [unreadable, at(3)], [at(4)]]) {
      for (const req of batch) writer.record(req);
      await expect(writer.flush()).resolves.toBeUndefined();
    }
    // The failed writes lost their batches; whatever became of the unreadable one's, the next batch is written.
    expect(written.at(-1)).toEqual(["https://api.example.com/4"]);
    expect(written.flat()).not.toContain("https://api.example.com/1");
    expect(written.flat()).not.toContain("https://api.example.com/2");
    await writer.close();
  });

  it("ignores a payment declaring nothing, and drops past its bound, saying so", async () => {
    const { store, written } = storeFailing();
    let dropped = 0;
    const writer = createCatalogWriter(store, silent, { flushMs: 60_000, maxQueue: 2, onDropped: () => dropped++ });
    const plain: FacilitatorRequest = {
      version: 2,
      paymentPayload: { x402Version: 2, accepted: REQUIREMENTS, payload: {}, resource: RESOURCE },
      paymentRequirements: REQUIREMENTS,
    };
    for (const req of [plain, at(1), at(2), at(3)]) writer.record(req);
    await writer.close();
    expect(dropped).toBe(1);
    expect(written).toEqual([["https://api.example.com/1", "https://api.example.com/2"]]);
  });
});
