/**
 * What `lifeline models` prints: the catalog as a table, or each configured model's targets with the limits
 * and prices they resolve to and where each number came from. Pure (config in, text out) so it is tested
 * without spawning the CLI. Only provider names, types and model names are printed: never keys or URLs.
 */
import type { Config, Price } from '../config/types.js';
import { CATALOG, CATALOG_DATE, CATALOG_SOURCES, type CatalogFamily } from './catalog-data.js';
import { type CatalogEntry, type ModelInfo, lookupModel, resolveModelInfo } from './catalog.js';

export type ValueSource = 'config' | 'catalog' | 'unknown';

export interface TargetReport {
  provider: string;
  type: string;
  model: string;
  /** The catalog entry the target matched, if any. */
  catalog_id: string | undefined;
  context_window: number | undefined;
  max_output_tokens: number | undefined;
  max_input_tokens: number | undefined;
  price: Price | undefined;
  capabilities: ModelInfo['capabilities'];
  source: ModelInfo['source'];
  /** Where each number came from. */
  sources: { context_window: ValueSource; max_output_tokens: ValueSource; price: ValueSource };
}

export interface ModelReport {
  name: string;
  targets: TargetReport[];
}

/** Each configured model → its targets, resolved (config overrides on top of the catalog). */
export function configReport(config: Config): ModelReport[] {
  return Object.values(config.models).map((model) => ({
    name: model.name,
    targets: model.targets.map((target): TargetReport => {
      const type = config.providers[target.provider]!.type;
      const entry = lookupModel(type, target.model);
      const info = resolveModelInfo(type, target);
      const from = (configured: unknown, resolved: unknown): ValueSource =>
        configured !== undefined ? 'config' : resolved !== undefined ? 'catalog' : 'unknown';
      return {
        provider: target.provider,
        type,
        model: target.model,
        catalog_id: entry?.id,
        context_window: info.context_window,
        max_output_tokens: info.max_output_tokens,
        max_input_tokens: info.max_input_tokens,
        price: info.price,
        capabilities: info.capabilities,
        source: info.source,
        sources: {
          context_window: from(target.context_window, info.context_window),
          max_output_tokens: from(target.max_output_tokens, info.max_output_tokens),
          price: from(target.price, info.price),
        },
      };
    }),
  }));
}

/** The catalog as JSON-ready data: date, sources, and every entry with its family. */
export function catalogJson(): { date: string; sources: readonly string[]; models: (CatalogEntry & { family: CatalogFamily })[] } {
  const models = (Object.entries(CATALOG) as [CatalogFamily, readonly CatalogEntry[]][]).flatMap(([family, entries]) =>
    entries.map((entry) => ({ family, ...entry })),
  );
  return { date: CATALOG_DATE, sources: CATALOG_SOURCES, models };
}

export function configJson(config: Config): { catalog_date: string; models: ModelReport[] } {
  return { catalog_date: CATALOG_DATE, models: configReport(config) };
}

/** Pretty JSON where an absent number reads `null` (JSON.stringify would drop the key). */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (v === undefined ? null : v), 2);
}

const PRICE_HEADERS = ['$in/1M', '$out/1M', '$cached/1M'];

/** The catalog as an aligned table, then its date and sources. */
export function formatCatalog(): string {
  const rows = catalogJson().models.map((m) => [
    m.family,
    m.note ? `${m.id} *` : m.id,
    count(m.context_window),
    m.kind === 'embedding' ? '-' : count(m.max_output_tokens),
    ...prices(m.price, m.kind === 'embedding'),
    m.kind === 'embedding' ? 'embedding' : capabilityList(m.capabilities),
  ]);
  return [
    table(['family', 'model', 'context', 'max out', ...PRICE_HEADERS, 'capabilities'], rows, [2, 3, 4, 5, 6]),
    '',
    '* has a note (tiered price, retired model or unverified figure): see `lifeline models --json`',
    'Override or extend them per target in the config: context_window, max_output_tokens, max_input_tokens, price: { input, output, cached_input }.',
    `Figures as published by the providers, compiled ${CATALOG_DATE} from:`,
    ...CATALOG_SOURCES.map((url) => `  ${url}`),
  ].join('\n');
}

/** Each configured model's targets with their resolved numbers and where they came from. */
export function formatConfigReport(config: Config): string {
  const rows = configReport(config).flatMap((model) =>
    model.targets.map((t) => [
      model.name,
      `${t.provider}/${t.model}`,
      t.type,
      count(t.context_window),
      count(t.max_output_tokens),
      ...prices(t.price),
      describeSource(t),
    ]),
  );
  return [
    table(['model', 'target', 'type', 'context', 'max out', ...PRICE_HEADERS, 'from'], rows, [3, 4, 5, 6, 7]),
    '',
    `"unknown": no limit is enforced and no cost computed for it; give it in the config (context_window, max_output_tokens, price). Catalog of ${CATALOG_DATE}.`,
  ].join('\n');
}

function describeSource(t: TargetReport): string {
  const fields = Object.entries(t.sources) as [keyof TargetReport['sources'], ValueSource][];
  const label = { context_window: 'context', max_output_tokens: 'max out', price: 'price' };
  const catalog = t.catalog_id ? `catalog (${t.catalog_id})` : 'catalog';
  const uniform = fields.every(([, s]) => s === fields[0]![1]);
  if (uniform) return fields[0]![1] === 'catalog' ? catalog : fields[0]![1];
  return (['config', 'catalog', 'unknown'] as const)
    .map((kind) => {
      const names = fields.filter(([, s]) => s === kind).map(([f]) => label[f]);
      return names.length === 0 ? '' : `${kind === 'catalog' ? catalog : kind}: ${names.join(', ')}`;
    })
    .filter((part) => part !== '')
    .join('; ');
}

function capabilityList(c: CatalogEntry['capabilities']): string {
  const names = (['tools', 'vision', 'prefill', 'json'] as const).filter((k) => c[k]);
  return names.length === 0 ? '-' : names.join(',');
}

function count(n: number | undefined): string {
  return n === undefined ? '-' : n.toLocaleString('en-US');
}

function prices(price: Price | undefined, inputOnly = false): string[] {
  if (!price) return ['-', '-', '-'];
  return [dollars(price.input), inputOnly ? '-' : dollars(price.output), price.cached_input === undefined ? '-' : dollars(price.cached_input)];
}

/** $2.50, $0.075, $0.00875: at least cents, more digits only when the price has them. */
export function dollars(n: number): string {
  const fixed = n.toFixed(5).replace(/0+$/, '');
  const [whole, fraction = ''] = fixed.split('.');
  return `$${whole}.${fraction.padEnd(2, '0')}`;
}

/** Columns padded to their widest cell; the columns in `right` (numbers) align right. */
function table(headers: string[], rows: string[][], right: number[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (right.includes(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}
