// What injection adds to a pod: the containers and volumes of an amesh sidecar next to Istio's
// pilot-agent (certificates, the XDS proxy socket; Envoy itself disabled), as plain data.
//
// With DISABLE_ENVOY=true pilot-agent serves no SDS socket at all (pkg/istio-agent/agent.go: only file
// output in that mode): the workload certificate reaches the amesh agent only as OUTPUT_CERTS files,
// on a volume both containers mount, as Istio's own proxyless template (grpc-agent) does it.
// test/integration/pilot-agent-sidecar.test.ts runs Istio's pilot-agent with this container's
// environment and the amesh agent with the proxy container's arguments.
import type { JsonObject } from '../json.js';
import { PROXY_CONTAINER } from './injection-decision.js';
import type { ContainerShape } from './pod-shape.js';

export interface SidecarTemplateOptions {
  /** Image with APISIX and the amesh agent (`amesh` on PATH). */
  readonly image: string;
  /** Istio's proxy image, for pilot-agent (istio/proxyv2). */
  readonly pilotAgentImage: string;
  /** `amesh controller`'s plugin delivery, host:port. */
  readonly controllerAddress: string;
  /** istiod's address for certificates (CA_ADDR), e.g. istiod.istio-system.svc:15012. */
  readonly caAddress: string;
  readonly clusterDomain: string;
  /** UID the proxy runs as; its own traffic is not intercepted. */
  readonly proxyUid: number;
  /** Ports of the proxy's own listeners (never intercepted). */
  readonly inboundCapturePort: number;
  readonly outboundCapturePort: number;
}

export const DEFAULT_TEMPLATE_OPTIONS: Omit<SidecarTemplateOptions, 'image' | 'pilotAgentImage'> = {
  controllerAddress: 'amesh-controller.amesh-system.svc:15810',
  caAddress: 'istiod.istio-system.svc:15012',
  clusterDomain: 'cluster.local',
  proxyUid: 1337,
  inboundCapturePort: 15006,
  outboundCapturePort: 15001,
};

/** Istio's ports the capture must leave alone (agent, istiod, metrics, health). */
export const EXCLUDED_PORTS = [15000, 15004, 15010, 15012, 15020, 15021, 15090, 15810];

export const READY_PORT = 15021;
/**
 * The shared-memory file between the agent and APISIX's libxds.so (docs/shdict-sink.md), on the pod's
 * in-memory istio-envoy volume; the in-nginx part finds it through AMESH_XDS_SHM.
 */
export const SHDICT_PATH = '/etc/istio/proxy/amesh-xds.shm';
/**
 * One malloc arena, a 1 MB young generation and one V8 worker thread: a sidecar's idle RSS under 70 MB
 * (docs/benchmarks.md, idle RSS) for no measurable cost on its update path.
 */
export const PROXY_RUNTIME_ENV: readonly JsonObject[] = [
  { name: 'AMESH_XDS_SHM', value: SHDICT_PATH },
  { name: 'MALLOC_ARENA_MAX', value: '1' },
  { name: 'NODE_OPTIONS', value: '--max-semi-space-size=1 --v8-pool-size=1' },
];
export const READY_PATH = '/healthz/ready';
/**
 * pilot-agent's OUTPUT_CERTS (key.pem, cert-chain.pem, root-cert.pem, rewritten on every rotation) and
 * the amesh agent's --output-certs: the istio-data emptyDir, where Istio's grpc-agent template puts
 * them too. It must exist before pilot-agent starts (with Envoy disabled a failed write is not retried
 * until the next rotation); a volume's mount point always does.
 */
export const OUTPUT_CERTS_DIR = '/var/lib/istio/data';
/** pilot-agent's XDS proxy socket (./etc/istio/proxy/XDS from its working directory, /). */
export const XDS_SOCKET = '/etc/istio/proxy/XDS';

const fieldRef = (name: string, path: string): JsonObject => ({ name, valueFrom: { fieldRef: { fieldPath: path } } });

const POD_ENV: JsonObject[] = [
  fieldRef('POD_NAME', 'metadata.name'),
  fieldRef('POD_NAMESPACE', 'metadata.namespace'),
  fieldRef('INSTANCE_IP', 'status.podIP'),
  fieldRef('SERVICE_ACCOUNT', 'spec.serviceAccountName'),
];

export function initContainer(o: SidecarTemplateOptions): ContainerShape {
  return {
    name: 'amesh-init',
    image: o.image,
    command: ['amesh', 'intercept', 'install'],
    // istio-iptables' flag names, which `amesh intercept install` accepts as they are.
    args: [
      `--proxy-uid=${o.proxyUid}`,
      `--envoy-port=${o.outboundCapturePort}`,
      `--inbound-capture-port=${o.inboundCapturePort}`,
      '--istio-inbound-ports=*',
      `--istio-local-exclude-ports=${EXCLUDED_PORTS.join(',')}`,
      `--istio-local-outbound-ports-exclude=${[15010, 15012, 15810].join(',')}`,
    ],
    securityContext: {
      runAsUser: 0,
      runAsGroup: 0,
      runAsNonRoot: false,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
    },
    resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '100m', memory: '64Mi' } },
  };
}

export function pilotAgentContainer(o: SidecarTemplateOptions): ContainerShape {
  return {
    name: 'istio-proxy',
    image: o.pilotAgentImage,
    args: ['proxy', 'sidecar', '--domain', `$(POD_NAMESPACE).svc.${o.clusterDomain}`],
    env: [
      ...POD_ENV,
      // pilot-agent without Envoy: it proxies xDS to istiod on ./etc/istio/proxy/XDS and gets the
      // workload certificate from istiod's CA (the pod's JWT), which it writes to OUTPUT_CERTS and
      // renews there; no SDS socket exists in this mode. That is all the amesh agent needs from it.
      { name: 'DISABLE_ENVOY', value: 'true' },
      { name: 'OUTPUT_CERTS', value: OUTPUT_CERTS_DIR },
      { name: 'CA_ADDR', value: o.caAddress },
      { name: 'PILOT_CERT_PROVIDER', value: 'istiod' },
      { name: 'JWT_POLICY', value: 'third-party-jwt' },
      { name: 'ISTIO_META_INTERCEPTION_MODE', value: 'REDIRECT' },
      { name: 'ISTIO_META_CLUSTER_ID', value: 'Kubernetes' },
    ],
    securityContext: {
      runAsUser: o.proxyUid,
      runAsGroup: o.proxyUid,
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
    volumeMounts: [
      { name: 'istio-envoy', mountPath: '/etc/istio/proxy' },
      { name: 'istio-data', mountPath: OUTPUT_CERTS_DIR },
      { name: 'istio-token', mountPath: '/var/run/secrets/tokens' },
      { name: 'istiod-ca-cert', mountPath: '/var/run/secrets/istio' },
      { name: 'istio-podinfo', mountPath: '/etc/istio/pod' },
    ],
    resources: { requests: { cpu: '10m', memory: '40Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
  };
}

export function proxyContainer(o: SidecarTemplateOptions): ContainerShape {
  const probe = { httpGet: { path: READY_PATH, port: READY_PORT }, periodSeconds: 2, timeoutSeconds: 3, failureThreshold: 3 };
  return {
    name: PROXY_CONTAINER,
    image: o.image,
    args: [
      'sidecar',
      `--xds=unix:${XDS_SOCKET}`,
      `--output-certs=${OUTPUT_CERTS_DIR}`,
      '--pod-info-dir=/etc/istio/pod',
      `--ready-address=0.0.0.0:${READY_PORT}`,
      '--metrics-address=0.0.0.0:15090',
      `--plugins-from=${o.controllerAddress}`,
      `--sink=shdict:${SHDICT_PATH}`,
    ],
    env: [...POD_ENV, { name: 'ISTIO_META_CLUSTER_ID', value: 'Kubernetes' }, ...PROXY_RUNTIME_ENV],
    ports: [
      { name: 'http-envoy-prom', containerPort: 15090, protocol: 'TCP' },
      { name: 'health', containerPort: READY_PORT, protocol: 'TCP' },
    ],
    readinessProbe: { ...probe, initialDelaySeconds: 1 },
    startupProbe: { ...probe, periodSeconds: 1, failureThreshold: 600 },
    securityContext: { runAsUser: o.proxyUid, runAsGroup: o.proxyUid, runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
    volumeMounts: [
      { name: 'istio-envoy', mountPath: '/etc/istio/proxy' },
      { name: 'istio-data', mountPath: OUTPUT_CERTS_DIR, readOnly: true },
      { name: 'istio-podinfo', mountPath: '/etc/istio/pod' },
    ],
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '2', memory: '1Gi' } },
  };
}

export function sidecarVolumes(): JsonObject[] {
  return [
    { name: 'istio-envoy', emptyDir: { medium: 'Memory' } },
    { name: 'istio-data', emptyDir: {} },
    {
      name: 'istio-podinfo',
      downwardAPI: {
        items: [
          { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
          { path: 'annotations', fieldRef: { fieldPath: 'metadata.annotations' } },
        ],
      },
    },
    { name: 'istio-token', projected: { sources: [{ serviceAccountToken: { audience: 'istio-ca', expirationSeconds: 43200, path: 'istio-token' } }] } },
    { name: 'istiod-ca-cert', configMap: { name: 'istio-ca-root-cert' } },
  ];
}
