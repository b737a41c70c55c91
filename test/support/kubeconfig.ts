import { KubeConfig } from '@kubernetes/client-node';

/** Same cluster and CA as `base`, authenticated by a bearer token instead. */
export function kubeConfigWithToken(base: KubeConfig, token: string): KubeConfig {
  const baseCluster = base.getCurrentCluster();
  if (baseCluster === null) throw new Error('admin kubeconfig has no current cluster');
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [baseCluster],
    users: [{ name: 'service-account', token }],
    contexts: [{ name: 'service-account', cluster: baseCluster.name, user: 'service-account' }],
    currentContext: 'service-account',
  });
  return config;
}
