/** The AlertProvider kind (docs/flagger-compatibility.md#16-metrictemplate-and-alertprovider, docs/flagger-compatibility.md#7-alerts). */
import { Type, type Static } from '@sinclair/typebox';
import { CLOSED, Enum, LocalObjectReference, ObjectMeta } from './common.js';

export const ALERT_PROVIDER_TYPES = [
  'slack',
  'msteams',
  'discord',
  'rocket',
  'gchat',
  // Vireo addition: a plain JSON webhook for anything that is not a chat service.
  'generic',
] as const;

export const AlertProviderSpec = Type.Object(
  {
    // Optional here as in Flagger's CRD: both oneOf branches below require it.
    type: Type.Optional(Enum(ALERT_PROVIDER_TYPES, { description: 'Chat service.' })),
    channel: Type.Optional(Type.String({ description: 'Channel (Slack, Rocket; default "general").' })),
    username: Type.Optional(Type.String({ description: 'Sender name (default "flagger").' })),
    address: Type.Optional(Type.String({ description: 'Webhook URL.' })),
    proxy: Type.Optional(Type.String({ description: 'HTTP/S proxy URL.' })),
    secretRef: Type.Optional(
      LocalObjectReference(
        'Secret whose key "address" (webhook URL) overrides address; key "token" is a bearer token.',
      ),
    ),
  },
  {
    ...CLOSED,
    description: 'Where alerts are sent.',
    // Flagger's CRD says oneOf, which rejects its own documented example (address plus a
    // secretRef that overrides it). We follow the docs: at least one of the two.
    anyOf: [{ required: ['type', 'address'] }, { required: ['type', 'secretRef'] }],
    'x-vireo-one-of': 'set address, or secretRef naming a Secret whose key "address" holds the URL',
  },
);

export const AlertProvider = Type.Object(
  {
    apiVersion: Type.Literal('flagger.app/v1beta1'),
    kind: Type.Literal('AlertProvider'),
    metadata: ObjectMeta,
    spec: AlertProviderSpec,
    status: Type.Optional(Type.Object({}, { description: 'Not used.' })),
  },
  CLOSED,
);

export type AlertProvider = Static<typeof AlertProvider>;
export type AlertProviderType = (typeof ALERT_PROVIDER_TYPES)[number];
