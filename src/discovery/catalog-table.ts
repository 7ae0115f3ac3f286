// Drizzle view of the Bazaar catalog (migrations/0007_discovery.sql is the source of truth).
import { bigserial, jsonb, pgTable, smallint, text, timestamp } from "drizzle-orm/pg-core";

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

export const discoveryResources = pgTable("discovery_resources", {
  id: bigserial("id", { mode: "bigint" }).primaryKey(),
  entryKey: text("entry_key").notNull().unique(),
  type: text("type").$type<"http" | "mcp">().notNull(),
  resource: text("resource").notNull(),
  toolName: text("tool_name"),
  method: text("method"),
  payTo: text("pay_to").notNull(),
  x402Version: smallint("x402_version").notNull(),
  accepts: jsonb("accepts").$type<Record<string, unknown>>().notNull(),
  description: text("description"),
  mimeType: text("mime_type"),
  serviceName: text("service_name"),
  tags: text("tags").array(),
  iconUrl: text("icon_url"),
  bazaar: jsonb("bazaar").$type<{ info: unknown; schema: unknown }>().notNull(),
  searchText: text("search_text").notNull(),
  firstSeen: ts("first_seen").notNull().defaultNow(),
  lastSeen: ts("last_seen").notNull().defaultNow(),
  hiddenAt: ts("hidden_at"),
});

export type CatalogRow = typeof discoveryResources.$inferSelect;
