/**
 * Certificates and kubeconfigs for the test cluster (see cluster.ts).
 *
 * node:crypto cannot issue X.509 certificates, so they are made with the `openssl` CLI
 * (OpenSSL 3, Debian package `openssl`, installed by tools/build-control-plane.sh). Keys are
 * ECDSA P-256: generating them takes milliseconds, and every Kubernetes component accepts them.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify as toYaml } from 'yaml';

import { TestClusterError } from './cluster-errors.js';

const execFileAsync = promisify(execFile);

/** First address of the service range (10.96.0.0/16): the `kubernetes` Service's ClusterIP. */
const KUBERNETES_SERVICE_IP = '10.96.0.1';
const CERT_VALIDITY_DAYS = 7;

export interface CertificatePaths {
  readonly certPath: string;
  readonly keyPath: string;
}

/** Every file the control plane needs to authenticate its parts to each other. */
export interface ClusterPki {
  readonly caCertPath: string;
  readonly caKeyPath: string;
  readonly apiserverServing: CertificatePaths;
  /** CN=vireo-test-admin, O=system:masters: full access, for tests and `npm run cluster`. */
  readonly admin: CertificatePaths;
  /** Identities that the bootstrap RBAC policy already grants what each component needs. */
  readonly controllerManager: CertificatePaths;
  readonly scheduler: CertificatePaths;
  /** kwok plays every kubelet; a system:masters identity spares us writing its RBAC. */
  readonly kwok: CertificatePaths;
  /** Signs (apiserver, controller-manager) and verifies (apiserver) ServiceAccount tokens. */
  readonly serviceAccountPrivateKeyPath: string;
  readonly serviceAccountPublicKeyPath: string;
}

interface Subject {
  readonly commonName: string;
  readonly organization?: string;
}

function opensslConfig(subject: Subject, extensions: readonly string[]): string {
  const organization = subject.organization === undefined ? [] : [`O = ${subject.organization}`];
  return [
    '[req]',
    'distinguished_name = dn',
    'prompt = no',
    '[dn]',
    ...organization,
    `CN = ${subject.commonName}`,
    '[ext]',
    ...extensions,
    '',
  ].join('\n');
}

async function runOpenssl(args: readonly string[]): Promise<void> {
  try {
    await execFileAsync('openssl', args, { timeout: 30_000 });
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new TestClusterError(
      'E_CLUSTER_OPENSSL',
      `openssl ${args[0] ?? ''} failed: ${detail}. Is the Debian package 'openssl' (OpenSSL 3) installed? ` +
        'bash tools/build-control-plane.sh installs it.',
      { cause: error },
    );
  }
}

/** Issues one certificate with a fresh key; signed by the CA unless `issuer` is omitted. */
async function issueCertificate(
  dir: string,
  name: string,
  subject: Subject,
  extensions: readonly string[],
  issuer?: CertificatePaths,
): Promise<CertificatePaths> {
  const configPath = join(dir, `${name}.cnf`);
  const paths = { certPath: join(dir, `${name}.crt`), keyPath: join(dir, `${name}.key`) };
  await writeFile(configPath, opensslConfig(subject, extensions));
  const signing = issuer === undefined ? [] : ['-CA', issuer.certPath, '-CAkey', issuer.keyPath];
  await runOpenssl([
    'req',
    '-x509',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    paths.keyPath,
    '-out',
    paths.certPath,
    '-days',
    String(CERT_VALIDITY_DAYS),
    '-config',
    configPath,
    '-extensions',
    'ext',
    ...signing,
  ]);
  return paths;
}

const CA_EXTENSIONS = [
  'basicConstraints = critical, CA:TRUE',
  'keyUsage = critical, keyCertSign, cRLSign, digitalSignature',
  'subjectKeyIdentifier = hash',
];

const CLIENT_EXTENSIONS = [
  'basicConstraints = critical, CA:FALSE',
  'keyUsage = critical, digitalSignature',
  'extendedKeyUsage = clientAuth',
];

// In-cluster names too, so a client that resolves `kubernetes.default.svc` to this server
// (port-forward-like setups in later tests) still validates the certificate.
const SERVING_EXTENSIONS = [
  'basicConstraints = critical, CA:FALSE',
  'keyUsage = critical, digitalSignature',
  'extendedKeyUsage = serverAuth',
  'subjectAltName = IP:127.0.0.1, DNS:localhost, DNS:kubernetes, DNS:kubernetes.default, ' +
    `DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local, IP:${KUBERNETES_SERVICE_IP}`,
];

async function writeServiceAccountKeyPair(dir: string): Promise<{ privatePath: string; publicPath: string }> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', {
    namedCurve: 'P-256',
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const privatePath = join(dir, 'service-account.key');
  const publicPath = join(dir, 'service-account.pub');
  await writeFile(privatePath, privateKey, { mode: 0o600 });
  await writeFile(publicPath, publicKey);
  return { privatePath, publicPath };
}

export async function createClusterPki(dir: string): Promise<ClusterPki> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const ca = await issueCertificate(dir, 'ca', { commonName: 'vireo-test-ca' }, CA_EXTENSIONS);
  const client = (name: string, subject: Subject): Promise<CertificatePaths> =>
    issueCertificate(dir, name, subject, CLIENT_EXTENSIONS, ca);
  const [apiserverServing, admin, controllerManager, scheduler, kwok, serviceAccount] = await Promise.all([
    issueCertificate(dir, 'apiserver', { commonName: 'kube-apiserver' }, SERVING_EXTENSIONS, ca),
    client('admin', { commonName: 'vireo-test-admin', organization: 'system:masters' }),
    client('controller-manager', { commonName: 'system:kube-controller-manager' }),
    client('scheduler', { commonName: 'system:kube-scheduler' }),
    client('kwok', { commonName: 'kwok-controller', organization: 'system:masters' }),
    writeServiceAccountKeyPair(dir),
  ]);
  return {
    caCertPath: ca.certPath,
    caKeyPath: ca.keyPath,
    apiserverServing,
    admin,
    controllerManager,
    scheduler,
    kwok,
    serviceAccountPrivateKeyPath: serviceAccount.privatePath,
    serviceAccountPublicKeyPath: serviceAccount.publicPath,
  };
}

/**
 * Writes a self-contained kubeconfig (certificates embedded) so it keeps working when copied,
 * and so tools that resolve relative paths differently (kubectl vs client libraries) agree.
 */
export async function writeKubeconfig(options: {
  readonly path: string;
  readonly server: string;
  readonly caCertPath: string;
  readonly client: CertificatePaths;
  readonly userName: string;
}): Promise<void> {
  const base64Of = async (path: string): Promise<string> => (await readFile(path)).toString('base64');
  const kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'vireo-test',
        cluster: { server: options.server, 'certificate-authority-data': await base64Of(options.caCertPath) },
      },
    ],
    users: [
      {
        name: options.userName,
        user: {
          'client-certificate-data': await base64Of(options.client.certPath),
          'client-key-data': await base64Of(options.client.keyPath),
        },
      },
    ],
    contexts: [{ name: 'vireo-test', context: { cluster: 'vireo-test', user: options.userName } }],
    'current-context': 'vireo-test',
    preferences: {},
  };
  await writeFile(options.path, toYaml(kubeconfig), { mode: 0o600 });
}
