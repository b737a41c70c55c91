/** `spec.service` of a Canary (docs/flagger-compatibility.md#12-canary-service): the Services and routing objects Vireo generates. */
import { Type } from '@sinclair/typebox';
import { CLOSED, Enum, IntOrString, IntegerNumber, IstioStringMatch, MapOf, StringMap } from './common.js';

const IstioHTTPMatchRequest = Type.Object(
  {
    name: Type.Optional(Type.String({ format: 'string' })),
    uri: Type.Optional(IstioStringMatch('URI to match.')),
    scheme: Type.Optional(IstioStringMatch('URI scheme to match.')),
    method: Type.Optional(IstioStringMatch('HTTP method to match.')),
    authority: Type.Optional(IstioStringMatch('HTTP authority to match.')),
    headers: Type.Optional(MapOf(IstioStringMatch(), { description: 'Request headers to match.' })),
    port: Type.Optional(Type.Integer({ description: 'Port on the host being addressed.' })),
    sourceLabels: Type.Optional(MapOf(Type.String({ format: 'string' }))),
    gateways: Type.Optional(Type.Array(Type.String({ format: 'string' }))),
    queryParams: Type.Optional(MapOf(IstioStringMatch())),
    ignoreUriCase: Type.Optional(Type.Boolean()),
    withoutHeaders: Type.Optional(MapOf(IstioStringMatch())),
    sourceNamespace: Type.Optional(Type.String({ format: 'string' })),
  },
  { ...CLOSED, description: 'Conditions a request must meet (Istio HTTPMatchRequest).' },
);

const HeaderOperations = Type.Object(
  {
    add: Type.Optional(MapOf(Type.String({ format: 'string' }))),
    set: Type.Optional(MapOf(Type.String({ format: 'string' }))),
    remove: Type.Optional(Type.Array(Type.String({ format: 'string' }))),
  },
  CLOSED,
);

const GatewayAPIName = { maxLength: 253, minLength: 1 };
const DNSSubdomainPattern = '^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

const GatewayRef = Type.Object(
  {
    group: Type.Optional(
      Type.String({ default: 'gateway.networking.k8s.io', maxLength: 253, pattern: DNSSubdomainPattern }),
    ),
    kind: Type.Optional(
      Type.String({
        default: 'Gateway',
        maxLength: 63,
        minLength: 1,
        pattern: '^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$',
      }),
    ),
    name: Type.String(GatewayAPIName),
    namespace: Type.Optional(
      Type.String({ maxLength: 63, minLength: 1, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' }),
    ),
    sectionName: Type.Optional(
      Type.String({
        maxLength: 253,
        minLength: 1,
        pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
      }),
    ),
    port: Type.Optional(Type.Integer({ format: 'int32', maximum: 65535, minimum: 1 })),
  },
  { ...CLOSED, description: 'A Gateway API ParentReference.' },
);

const MirrorBackendRef = Type.Object(
  {
    group: Type.Optional(Type.String({ default: '', maxLength: 253, pattern: DNSSubdomainPattern })),
    kind: Type.Optional(
      Type.String({
        default: 'Service',
        maxLength: 63,
        minLength: 1,
        pattern: '^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$',
      }),
    ),
    name: Type.String(GatewayAPIName),
    namespace: Type.Optional(
      Type.String({ maxLength: 63, minLength: 1, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' }),
    ),
    port: Type.Optional(Type.Integer({ format: 'int32', maximum: 65535, minimum: 1 })),
  },
  {
    ...CLOSED,
    'x-kubernetes-validations': [
      {
        message: 'Must have port for Service reference',
        rule: "(size(self.group) == 0 && self.kind == 'Service') ? has(self.port) : true",
      },
    ],
  },
);

const TrafficPolicy = Type.Object(
  {
    connectionPool: Type.Optional(
      Type.Object(
        {
          http: Type.Optional(
            Type.Object(
              {
                h2UpgradePolicy: Type.Optional(Enum(['DEFAULT', 'DO_NOT_UPGRADE', 'UPGRADE'])),
                http1MaxPendingRequests: Type.Optional(Type.Integer({ format: 'int32' })),
                http2MaxRequests: Type.Optional(Type.Integer({ format: 'int32' })),
                idleTimeout: Type.Optional(Type.String()),
                maxRequestsPerConnection: Type.Optional(Type.Integer({ format: 'int32' })),
                maxRetries: Type.Optional(Type.Integer({ format: 'int32' })),
              },
              CLOSED,
            ),
          ),
        },
        CLOSED,
      ),
    ),
    loadBalancer: Type.Optional(
      Type.Object(
        {
          consistentHash: Type.Optional(
            Type.Object(
              {
                httpCookie: Type.Optional(
                  Type.Object(
                    {
                      name: Type.Optional(Type.String({ format: 'string' })),
                      path: Type.Optional(Type.String({ format: 'string' })),
                      ttl: Type.Optional(Type.String()),
                    },
                    CLOSED,
                  ),
                ),
                httpHeaderName: Type.Optional(Type.String({ format: 'string' })),
                httpQueryParameterName: Type.Optional(Type.String({ format: 'string' })),
                minimumRingSize: Type.Optional(Type.Integer()),
                useSourceIp: Type.Optional(Type.Boolean()),
              },
              CLOSED,
            ),
          ),
          localityLbSetting: Type.Optional(
            Type.Object(
              {
                distribute: Type.Optional(
                  Type.Array(
                    Type.Object(
                      {
                        from: Type.Optional(Type.String({ format: 'string' })),
                        to: Type.Optional(MapOf(Type.Integer())),
                      },
                      CLOSED,
                    ),
                  ),
                ),
                enabled: Type.Optional(Type.Boolean()),
                failover: Type.Optional(
                  Type.Array(
                    Type.Object(
                      {
                        from: Type.Optional(Type.String({ format: 'string' })),
                        to: Type.Optional(Type.String({ format: 'string' })),
                      },
                      CLOSED,
                    ),
                  ),
                ),
              },
              CLOSED,
            ),
          ),
          simple: Type.Optional(
            Enum(['ROUND_ROBIN', 'LEAST_CONN', 'RANDOM', 'PASSTHROUGH', 'LEAST_REQUEST']),
          ),
          warmupDurationSecs: Type.Optional(Type.String()),
        },
        {
          ...CLOSED,
          oneOf: [
            { required: ['simple'] },
            {
              properties: {
                consistentHash: {
                  oneOf: [
                    { required: ['httpHeaderName'] },
                    { required: ['httpCookie'] },
                    { required: ['useSourceIp'] },
                    { required: ['httpQueryParameterName'] },
                  ],
                },
              },
              required: ['consistentHash'],
            },
          ],
          'x-vireo-one-of':
            'set either simple or consistentHash (with exactly one of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName)',
        },
      ),
    ),
    outlierDetection: Type.Optional(
      Type.Object(
        {
          baseEjectionTime: Type.Optional(Type.String()),
          consecutive5xxErrors: Type.Optional(Type.Integer()),
          consecutiveErrors: Type.Optional(Type.Integer({ format: 'int32' })),
          consecutiveGatewayErrors: Type.Optional(Type.Integer({ format: 'int32' })),
          consecutiveLocalOriginFailures: Type.Optional(Type.Integer({ format: 'int32' })),
          interval: Type.Optional(Type.String()),
          maxEjectionPercent: Type.Optional(Type.Integer({ format: 'int32' })),
          minHealthPercent: Type.Optional(Type.Integer({ format: 'int32' })),
          splitExternalLocalOriginErrors: Type.Optional(Type.Boolean()),
        },
        CLOSED,
      ),
    ),
    tls: Type.Optional(
      Type.Object(
        {
          caCertificates: Type.Optional(Type.String({ format: 'string' })),
          clientCertificate: Type.Optional(Type.String({ format: 'string' })),
          mode: Type.Optional(Enum(['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL'])),
          privateKey: Type.Optional(Type.String({ format: 'string' })),
          sni: Type.Optional(Type.String({ format: 'string' })),
          subjectAltNames: Type.Optional(Type.Array(Type.String({ format: 'string' }))),
        },
        CLOSED,
      ),
    ),
  },
  { ...CLOSED, description: 'Istio DestinationRule traffic policy for the primary and canary.' },
);

const CorsPolicy = Type.Object(
  {
    allowCredentials: Type.Optional(Type.Boolean()),
    allowHeaders: Type.Optional(Type.Array(Type.String({ format: 'string' }))),
    allowMethods: Type.Optional(Type.Array(Type.String({ format: 'string' }))),
    allowOrigin: Type.Optional(Type.Array(Type.String({ format: 'string' }))),
    allowOrigins: Type.Optional(
      Type.Array(
        Type.Object(
          {
            exact: Type.Optional(Type.String({ format: 'string' })),
            prefix: Type.Optional(Type.String({ format: 'string' })),
            regex: Type.Optional(Type.String({ format: 'string' })),
          },
          {
            ...CLOSED,
            oneOf: [{ required: ['exact'] }, { required: ['prefix'] }, { required: ['regex'] }],
            'x-vireo-one-of': 'set exactly one of exact, prefix or regex',
          },
        ),
      ),
    ),
    exposeHeaders: Type.Optional(Type.Array(Type.String({ format: 'string' }))),
    maxAge: Type.Optional(Type.String()),
  },
  { ...CLOSED, description: 'Istio CORS policy.' },
);

const ServiceMetadata = (which: string) =>
  Type.Object(
    {
      labels: Type.Optional(StringMap()),
      annotations: Type.Optional(StringMap()),
    },
    { ...CLOSED, description: `Labels and annotations for the ${which} Service.` },
  );

export const CanaryService = Type.Object(
  {
    name: Type.Optional(Type.String({ description: 'Name of the apex Service (default: targetRef.name).' })),
    port: IntegerNumber({ description: 'Port of the generated Services.' }),
    portName: Type.Optional(Type.String({ description: 'Name of the Service port (default "http").' })),
    appProtocol: Type.Optional(Type.String({ description: 'appProtocol of the Service port.' })),
    trafficDistribution: Type.Optional(Enum(['PreferClose', 'PreferSameZone', 'PreferSameNode'])),
    targetPort: Type.Optional(IntOrString({ description: 'Container port (default: port).' })),
    portDiscovery: Type.Optional(
      Type.Boolean({ description: "Add every container port of the target's pods to the Services." }),
    ),
    headless: Type.Optional(Type.Boolean({ description: 'Generate headless Services (clusterIP: None).' })),
    timeout: Type.Optional(
      Type.String({ description: 'Request timeout (Istio, Contour, Gateway API, App Mesh).' }),
    ),
    backendTimeout: Type.Optional(Type.String({ description: 'Gateway API backendRequest timeout.' })),
    meshName: Type.Optional(Type.String({ description: 'App Mesh mesh name.' })),
    backends: Type.Optional(Type.Array(Type.String(), { description: 'App Mesh backends.' })),
    hosts: Type.Optional(
      Type.Array(Type.String(), { description: 'Hosts (Istio) or hostnames (Gateway API).' }),
    ),
    delegation: Type.Optional(
      Type.Boolean({
        description: 'Istio: generate a delegate VirtualService (hosts and gateways must be empty).',
      }),
    ),
    match: Type.Optional(Type.Array(IstioHTTPMatchRequest, { description: 'Routing conditions.' })),
    retries: Type.Optional(
      Type.Object(
        {
          attempts: Type.Optional(Type.Integer({ format: 'int32' })),
          perTryTimeout: Type.Optional(Type.String()),
          retryOn: Type.Optional(Type.String({ format: 'string' })),
        },
        { ...CLOSED, description: 'Retry policy.' },
      ),
    ),
    rewrite: Type.Optional(
      Type.Object(
        {
          uri: Type.Optional(Type.String({ format: 'string' })),
          authority: Type.Optional(Type.String({ format: 'string' })),
          type: Type.Optional(Type.String({ format: 'string' })),
        },
        { ...CLOSED, description: 'URI and authority rewrite.' },
      ),
    ),
    mirror: Type.Optional(
      Type.Array(Type.Object({ backendRef: Type.Optional(MirrorBackendRef) }, CLOSED), {
        description: 'Gateway API: static RequestMirror filters.',
      }),
    ),
    headers: Type.Optional(
      Type.Object(
        { request: Type.Optional(HeaderOperations), response: Type.Optional(HeaderOperations) },
        { ...CLOSED, description: 'Request and response header operations.' },
      ),
    ),
    gateways: Type.Optional(Type.Array(Type.String(), { description: 'Istio gateways (default ["mesh"]).' })),
    gatewayRefs: Type.Optional(
      Type.Array(GatewayRef, { maxItems: 32, description: 'Gateway API parents of the HTTPRoute.' }),
    ),
    corsPolicy: Type.Optional(CorsPolicy),
    trafficPolicy: Type.Optional(TrafficPolicy),
    apex: Type.Optional(ServiceMetadata('apex')),
    primary: Type.Optional(ServiceMetadata('primary')),
    canary: Type.Optional(ServiceMetadata('canary')),
    unmanagedMetadata: Type.Optional(
      Type.Object(
        {
          annotations: Type.Optional(Type.Array(Type.String())),
          labels: Type.Optional(Type.Array(Type.String())),
        },
        { ...CLOSED, description: 'Label and annotation keys that Vireo leaves alone on generated objects.' },
      ),
    ),
  },
  { ...CLOSED, description: 'The Services and routing that Vireo generates for the target.' },
);
