/**
 * What Vireo POSTs to webhooks (docs/flagger-compatibility.md#5-webhooks), byte for byte what Flagger sends: hooks such as the
 * loadtester hash or log the raw body, so the encoding matters as much as the fields.
 */
import type { Canary, CanaryWebhook } from '../api/schema/canary.js';
import { keyOf, type EventType, type WebhookPayload } from '../engine/ports.js';
import { VireoError } from '../shared/errors.js';

/** A value Go's encoding/json would encode. */
export type GoJsonValue =
  | string
  | number
  | boolean
  | null
  | readonly GoJsonValue[]
  | ReadonlyMap<string, GoJsonValue>
  | { readonly [key: string]: GoJsonValue | undefined };

/** A value `encodeGoJson` cannot encode (Go's json.Marshal fails on the same values). */
export class UnsupportedJsonValueError extends VireoError {
  constructor(message: string) {
    super('E_WEBHOOK_JSON', message);
  }
}

/** A Secret key that cannot be sent as a request header. The message names the key, never the value. */
export class WebhookHeaderError extends VireoError {
  constructor(message: string) {
    super('E_WEBHOOK_HEADER', message);
  }
}

// Go's encoding/json escapes these on top of `"` and `\`: HTML-significant characters (SetEscapeHTML
// is on by default in json.Marshal) and the two line terminators JavaScript once rejected in strings.
const GO_SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  '\\': '\\\\',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

function unicodeEscape(codeUnit: number): string {
  return `\\u${codeUnit.toString(16).padStart(4, '0')}`;
}

/** Escapes one UTF-16 position; returns the text and how many code units it consumed. */
function escapeAt(text: string, index: number): [string, number] {
  const char = text[index] ?? '';
  const code = text.charCodeAt(index);
  const short = GO_SHORT_ESCAPES[char];
  if (short !== undefined) return [short, 1];
  if (code >= 0xd800 && code <= 0xdbff) {
    const next = text.charCodeAt(index + 1);
    // A valid pair is written as is (Go writes UTF-8 unescaped); a lone half is invalid UTF-8,
    // which Go replaces with U+FFFD.
    if (next >= 0xdc00 && next <= 0xdfff) return [text.slice(index, index + 2), 2];
    return ['\\ufffd', 1];
  }
  if (code >= 0xdc00 && code <= 0xdfff) return ['\\ufffd', 1];
  if (code < 0x20 || char === '<' || char === '>' || char === '&' || code === 0x2028 || code === 0x2029) {
    return [unicodeEscape(code), 1];
  }
  return [char, 1];
}

function encodeGoString(text: string): string {
  let out = '"';
  for (let index = 0; index < text.length;) {
    const [piece, consumed] = escapeAt(text, index);
    out += piece;
    index += consumed;
  }
  return `${out}"`;
}

function encodeGoNumber(value: number): string {
  if (!Number.isFinite(value)) throw new UnsupportedJsonValueError(`json: unsupported value: ${value}`);
  // JavaScript and Go both print the shortest round-tripping form and switch to exponents at the
  // same bounds (1e-6, 1e21); only negative zero differs.
  return Object.is(value, -0) ? '-0' : String(value);
}

function encodeEntries(entries: Iterable<readonly [string, GoJsonValue | undefined]>): string {
  const members: string[] = [];
  for (const [key, member] of entries) {
    if (member === undefined) continue;
    members.push(`${encodeGoString(key)}:${encodeGoJson(member)}`);
  }
  return `{${members.join(',')}}`;
}

/**
 * Encodes like Go's `json.Marshal`: no whitespace, `<`, `>`, `&`, U+2028 and U+2029 written as
 * `\u003c`-style escapes, lowercase hex. Objects keep their key order, as Go structs do; a plain
 * object lists integer-like keys first (a JavaScript rule), so pass a Map when order matters.
 * Undefined members are left out.
 */
export function encodeGoJson(value: GoJsonValue): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return encodeGoString(value);
  if (typeof value === 'number') return encodeGoNumber(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (Array.isArray(value)) return `[${(value as readonly GoJsonValue[]).map(encodeGoJson).join(',')}]`;
  if (value instanceof Map) return encodeEntries(value);
  if (typeof value === 'object') return encodeEntries(Object.entries(value));
  throw new UnsupportedJsonValueError(`json: unsupported type: ${typeof value}`);
}

const utf8 = new TextEncoder();

/** Go sorts map keys by their UTF-8 bytes; JavaScript's default sort compares UTF-16 units. */
function compareGoStrings(left: string, right: string): number {
  return Buffer.compare(utf8.encode(left), utf8.encode(right));
}

/** A `map[string]string` as Go encodes it: keys sorted. */
export function goStringMap(map: Readonly<Record<string, string>>): ReadonlyMap<string, string> {
  const keys = Object.keys(map).sort(compareGoStrings);
  return new Map(keys.map((key) => [key, map[key] ?? '']));
}

/**
 * The request body, identical to Flagger's: struct fields in order, `metadata` sorted like a Go
 * map and left out when empty (`omitempty` on a map omits nil and empty maps alike).
 */
export function encodeWebhookPayload(payload: WebhookPayload): string {
  const fields = new Map<string, GoJsonValue>([
    ['name', payload.name],
    ['namespace', payload.namespace],
    ['phase', payload.phase],
    ['checksum', payload.checksum],
  ]);
  const metadata = payload.metadata ?? {};
  if (Object.keys(metadata).length > 0) fields.set('metadata', goStringMap(metadata));
  return encodeGoJson(fields);
}

/** FNV-1a, 32 bits, over the UTF-8 bytes of `text`. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of utf8.encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * The payload's `checksum`: identifies one configuration of the deployed resources (the target's
 * spec hash and the tracked ConfigMaps and Secrets), so a hook can tell revisions apart.
 *
 * Flagger hashes a Go struct dump of {TrackedConfigs, LastAppliedSpec} that cannot be reproduced
 * outside Go; this is FNV-1a 32 (hex) over `{"lastAppliedSpec":…,"trackedConfigs":{…sorted…}}`.
 * It is stable across restarts and releases, but not Flagger's value. No tracked configs and an
 * empty set hash the same: both mean "nothing tracked".
 */
export function webhookChecksum(
  lastAppliedSpec: string | undefined,
  trackedConfigs: Readonly<Record<string, string>> | undefined,
): string {
  const canonical = encodeGoJson(
    new Map<string, GoJsonValue>([
      ['lastAppliedSpec', lastAppliedSpec ?? ''],
      ['trackedConfigs', goStringMap(trackedConfigs ?? {})],
    ]),
  );
  return fnv1a32(canonical).toString(16).padStart(8, '0');
}

function canaryChecksum(canary: Canary): string {
  return webhookChecksum(canary.status?.lastAppliedSpec, canary.status?.trackedConfigs);
}

function nonEmpty(
  metadata: Readonly<Record<string, string>> | undefined,
): Readonly<Record<string, string>> | undefined {
  return metadata !== undefined && Object.keys(metadata).length > 0 ? { ...metadata } : undefined;
}

/** The payload of every hook type but `event`: the hook's metadata as given, `phase` as the caller says. */
export function webhookPayload(
  canary: Canary,
  phase: string,
  hook: Pick<CanaryWebhook, 'metadata'>,
): WebhookPayload {
  const key = keyOf(canary);
  const metadata = nonEmpty(hook.metadata);
  return {
    name: key.name,
    namespace: key.namespace,
    phase,
    checksum: canaryChecksum(canary),
    ...(metadata === undefined ? {} : { metadata }),
  };
}

export interface RecordedEvent {
  readonly type: EventType;
  readonly message: string;
  readonly time: Date;
}

/**
 * The payload of an `event` hook: the status phase, and metadata carrying the event. The event's
 * keys win over the hook's metadata, as in Flagger, so a receiver can rely on them.
 */
export function eventWebhookPayload(
  canary: Canary,
  hook: Pick<CanaryWebhook, 'metadata'>,
  event: RecordedEvent,
): WebhookPayload {
  const key = keyOf(canary);
  return {
    name: key.name,
    namespace: key.namespace,
    phase: canary.status?.phase ?? '',
    checksum: canaryChecksum(canary),
    metadata: {
      ...hook.metadata,
      eventMessage: event.message,
      eventType: event.type,
      timestamp: String(event.time.getTime()),
    },
  };
}

// RFC 9110 token characters.
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Printable ASCII, space and tab: anything else is either forbidden (control characters, which
// would let a value inject headers) or encoded differently by Go and Node (non-ASCII).
const HEADER_VALUE = /^[\t\x20-\x7e]*$/;
// The request's framing and body type are Vireo's: a Secret that set them would corrupt requests.
const RESERVED_HEADERS = new Set([
  'connection',
  'content-length',
  'content-type',
  'expect',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function checkedHeaderValue(name: string, value: string): string {
  // Leading and trailing whitespace is not part of a field value (RFC 9110 §5.5), and a Secret
  // made with `kubectl create secret --from-file` usually ends with a newline.
  const trimmed = value.trim();
  if (/[\r\n]/.test(trimmed)) {
    throw new WebhookHeaderError(
      `the value of Secret key "${name}" contains a line break (CR or LF); a header value must be one line`,
    );
  }
  if (!HEADER_VALUE.test(trimmed)) {
    throw new WebhookHeaderError(
      `the value of Secret key "${name}" contains a control or non-ASCII character, which a header value cannot carry`,
    );
  }
  return trimmed;
}

function checkedHeaderName(name: string): string {
  if (!HEADER_NAME.test(name)) {
    throw new WebhookHeaderError(
      `Secret key "${name}" is not a valid HTTP header name (letters, digits and !#$%&'*+-.^_\`|~ only)`,
    );
  }
  if (RESERVED_HEADERS.has(name.toLowerCase())) {
    throw new WebhookHeaderError(`Secret key "${name}" names a header Vireo sets itself; remove it`);
  }
  return name;
}

/**
 * Request headers from a webhook's Secret (`secretRef`): each key is a header name, each value its
 * value. Throws WebhookHeaderError (E_WEBHOOK_HEADER) naming the first bad key.
 */
export function headersFromSecret(secret: Readonly<Record<string, string>>): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(secret)) {
    headers[checkedHeaderName(name)] = checkedHeaderValue(name, value);
  }
  return headers;
}
