/**
 * `vireo gate ACTION NAME.NAMESPACE --loadtester URL`: operate a loadtester's manual gates from a
 * terminal (the canary's confirm-* and rollback webhooks point at the same loadtester).
 */
import { request } from 'undici';
import { UsageError, VireoError } from '../shared/errors.js';
import type { CliIo } from './main.js';

export const GATE_ACTIONS = [
  'open',
  'close',
  'approve',
  'halt',
  'rollback',
  'cancel-rollback',
  'status',
] as const;
export type GateAction = (typeof GATE_ACTIONS)[number];

/** Which loadtester endpoint each action calls, and what it did in words. */
const ENDPOINTS: Record<Exclude<GateAction, 'status'>, { path: string; done: string }> = {
  open: { path: '/gate/open', done: 'opened: the next confirm gate check lets the canary go on' },
  approve: { path: '/gate/open', done: 'approved: the next confirm gate check lets the canary go on' },
  close: { path: '/gate/close', done: 'closed: confirm gates hold the canary' },
  halt: { path: '/gate/close', done: 'halted: confirm gates hold the canary' },
  rollback: {
    path: '/rollback/open',
    done: 'rollback requested: the next rollback check rolls the canary back',
  },
  // Flagger's loadtester closes the rollback gate with /rollback/close: a request withdrawn before
  // the canary's next rollback check leaves the analysis running.
  'cancel-rollback': {
    path: '/rollback/close',
    done: 'rollback request withdrawn: rollback checks no longer roll the canary back',
  },
};

export interface GateOptions {
  loadtester: string;
  token?: string | undefined;
}

function parseCanary(text: string): { name: string; namespace: string } {
  const match = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)$/.exec(text);
  if (match === null) throw new UsageError(`"${text}" is not NAME.NAMESPACE (for example podinfo.test)`);
  return { name: match[1]!, namespace: match[3]! };
}

function parseBase(url: string): URL {
  try {
    const parsed = new URL(url);
    if (parsed.protocol === 'http:' || parsed.protocol === 'https:') return parsed;
  } catch {
    // Reported below with the expected form.
  }
  throw new UsageError(
    `--loadtester ${JSON.stringify(url)} is not an http(s) URL, such as http://flagger-loadtester.test/`,
  );
}

async function post(
  base: URL,
  path: string,
  body: object,
  token: string | undefined,
): Promise<{ status: number; text: string }> {
  try {
    const response = await request(new URL(path, base), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      },
      body: JSON.stringify(body),
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
    return { status: response.statusCode, text: (await response.body.text()).trim() };
  } catch (cause) {
    throw new VireoError(
      'E_LOADTESTER_UNREACHABLE',
      `cannot reach the loadtester at ${base.origin}: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
  }
}

function explainFailure(status: number, text: string): string {
  if (status === 401) return 'the loadtester wants a token: pass --token or set VIREO_LOADTESTER_TOKEN';
  return `the loadtester answered HTTP ${status}${text === '' ? '' : `: ${text}`}`;
}

export async function runGate(
  action: string,
  canaryText: string,
  options: GateOptions,
  io: CliIo,
): Promise<number> {
  if (!(GATE_ACTIONS as readonly string[]).includes(action)) {
    throw new UsageError(`unknown gate action "${action}": use one of ${GATE_ACTIONS.join(', ')}`);
  }
  const canary = parseCanary(canaryText);
  const base = parseBase(options.loadtester);
  const payload = { name: canary.name, namespace: canary.namespace, phase: '', checksum: '' };
  if (action === 'status') {
    const gate = await post(base, '/gate/check', payload, options.token);
    const rollback = await post(base, '/rollback/check', payload, options.token);
    for (const answer of [gate, rollback]) {
      if (answer.status === 401)
        throw new VireoError('E_LOADTESTER_REFUSED', explainFailure(401, answer.text));
    }
    io.stdout(`gate of ${canaryText}: ${gate.status === 200 ? 'open' : 'closed'}\n`);
    io.stdout(`rollback of ${canaryText}: ${rollback.status === 200 ? 'requested' : 'not requested'}\n`);
    return 0;
  }
  const endpoint = ENDPOINTS[action as Exclude<GateAction, 'status'>];
  const answer = await post(base, endpoint.path, payload, options.token);
  if (answer.status < 200 || answer.status > 299) {
    io.stderr(`vireo gate ${action} ${canaryText}: ${explainFailure(answer.status, answer.text)}\n`);
    return 1;
  }
  const subject = action === 'rollback' || action === 'cancel-rollback' ? 'rollback gate' : 'gate';
  io.stdout(`${subject} of ${canaryText} ${endpoint.done} (HTTP ${answer.status})\n`);
  return 0;
}
