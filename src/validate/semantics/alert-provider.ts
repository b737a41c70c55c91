/** AlertProvider checks (docs/flagger-compatibility.md#7-alerts). */
import { error, warning, type Finding } from '../finding.js';
import { asFields, asText, isSet, type Fields } from './read.js';

const CHANNEL_AWARE = new Set(['slack', 'rocket']);

export function checkAlertProvider(provider: Fields): Finding[] {
  const spec = asFields(provider['spec']);
  if (spec === undefined) return [];
  const findings: Finding[] = [];
  const type = asText(spec['type']) ?? '';
  const address = asText(spec['address']);
  if (address !== undefined && !/^https?:\/\/[^\s]+$/i.test(address)) {
    findings.push(error(['spec', 'address'], `"${address}" must be the webhook's http:// or https:// URL`));
  }
  if (address !== undefined && isSet(spec['secretRef'])) {
    findings.push(
      warning(['spec', 'address'], 'ignored: the address key of the Secret in secretRef wins', true),
    );
  }
  const proxy = asText(spec['proxy']);
  if (proxy !== undefined && !/^(https?|socks5):\/\/[^\s]+$/i.test(proxy)) {
    findings.push(
      error(['spec', 'proxy'], `"${proxy}" must be a proxy URL such as http://proxy.internal:3128`),
    );
  }
  if (isSet(spec['channel']) && type !== '' && !CHANNEL_AWARE.has(type)) {
    findings.push(
      warning(
        ['spec', 'channel'],
        `${type} webhooks post to the channel they were created for; channel is ignored`,
        true,
      ),
    );
  }
  return findings;
}
