import { hostname } from 'node:os';
import { type Resource, resourceFromAttributes } from '@opentelemetry/resources';

export type ServiceIdentity = {
  /** @defaultValue 'keyless-worker' */
  serviceName?: string;
  /** Application Insights names the role `namespace.name`. @defaultValue 'keyless' */
  serviceNamespace?: string;
  /** One per replica: Application Insights' role instance. @defaultValue the host name (in Container Apps, the replica's name) */
  instanceId?: string;
};

/** The resource every span and metric carries: which service, and which replica of it. */
export function serviceResource(identity: ServiceIdentity = {}): Resource {
  return resourceFromAttributes({
    'service.name': identity.serviceName ?? 'keyless-worker',
    'service.namespace': identity.serviceNamespace ?? 'keyless',
    'service.instance.id': identity.instanceId ?? hostname(),
  });
}
