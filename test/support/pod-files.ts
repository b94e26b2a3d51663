// A rendered pod's containers made runnable on this machine, as a kubelet would prepare them: each
// volume becomes a directory (emptyDir empty; downwardAPI labels/annotations files in the kubelet's
// format; the projected service-account token; configMap keys as files), each container gets a
// root directory with its mounts at their mount paths (symlinks to the volume directories), and its
// environment and arguments are resolved (values, downward-API fieldRefs, `$(VAR)` references).
//
// The processes run on this machine's filesystem, not in a mount namespace, so absolute paths in a
// container's environment and `--flag=[scheme:]/path` arguments that fall under one of its mounts are
// rewritten to the volume's directory: two containers mounting one volume still name one directory,
// as in the pod. A process that resolves paths relative to its working directory (pilot-agent:
// ./etc/istio/proxy, ./var/run/secrets/...) runs in its container root. Anything this does not model
// (subPath, secrets, other field paths) throws, so a template change cannot slip past unnoticed.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import type { JsonObject, JsonValue } from '../../src/domain/json.js';

export interface PodIdentity {
  readonly name: string;
  readonly namespace: string;
  readonly serviceAccountName: string;
  readonly podIP: string;
  readonly hostIP: string;
  readonly nodeName: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

/** The parts of a rendered pod this needs (core/v1 field names). */
export interface RenderedPod {
  readonly containers: readonly JsonObject[];
  readonly volumes: readonly JsonObject[];
}

export interface PodSources {
  /** The projected service-account token for `audience` (a kubelet asks the API server for it). */
  serviceAccountToken(audience: string, expirationSeconds: number): string;
  /** ConfigMaps by name: key → content. */
  readonly configMaps: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

export interface PodFiles {
  readonly root: string;
  volumeDir(volume: string): string;
  /** The container's root: its mounts at their mount paths (run path-relative processes here). */
  containerRoot(container: string): string;
  /** The container's environment, resolved, paths under its mounts rewritten. */
  env(container: string): Record<string, string>;
  /** The container's args, `$(VAR)` expanded, paths under its mounts rewritten. */
  args(container: string): string[];
  /** Where `path` (absolute, inside the container) is on this machine. */
  hostPath(container: string, path: string): string;
  remove(): void;
}

const isObject = (value: JsonValue | undefined): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);
const objects = (value: JsonValue | undefined): JsonObject[] => (Array.isArray(value) ? value.filter(isObject) : []);
const text = (value: JsonValue | undefined, what: string): string => {
  if (typeof value !== 'string') throw new Error(`${what}: expected a string, got ${JSON.stringify(value)}`);
  return value;
};

/** The kubelet's downward-API map format: sorted `key="value"` lines. */
function downwardMap(map: Readonly<Record<string, string>>): string {
  return Object.keys(map)
    .sort()
    .map((k) => `${k}=${JSON.stringify(map[k])}`)
    .join('\n');
}

function fieldValue(identity: PodIdentity, path: string): string {
  const simple: Record<string, string> = {
    'metadata.name': identity.name,
    'metadata.namespace': identity.namespace,
    'spec.serviceAccountName': identity.serviceAccountName,
    'spec.nodeName': identity.nodeName,
    'status.podIP': identity.podIP,
    'status.podIPs': identity.podIP,
    'status.hostIP': identity.hostIP,
  };
  if (path in simple) return simple[path]!;
  const keyed = /^metadata\.(labels|annotations)\['([^']+)'\]$/.exec(path);
  if (keyed) return (keyed[1] === 'labels' ? identity.labels : identity.annotations)[keyed[2]!] ?? '';
  throw new Error(`fieldRef ${path}: not modelled by pod-files.ts`);
}

/** Kubernetes' `$(VAR)` expansion: defined names are replaced, `$$` escapes, unknown ones stay. */
function expand(value: string, env: Readonly<Record<string, string>>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => (name === undefined ? '$' : (env[name] ?? match)));
}

export function materializePod(pod: RenderedPod, identity: PodIdentity, sources: PodSources): PodFiles {
  const root = mkdtempSync(join(tmpdir(), 'amesh-pod-'));
  const volumeDirs = new Map<string, string>();
  for (const volume of pod.volumes) {
    const name = text(volume['name'], 'volume name');
    const dir = join(root, 'volumes', name);
    mkdirSync(dir, { recursive: true });
    volumeDirs.set(name, dir);
    if (isObject(volume['emptyDir'])) continue;
    if (isObject(volume['downwardAPI'])) {
      for (const item of objects(volume['downwardAPI']['items'])) {
        const field = isObject(item['fieldRef']) ? text(item['fieldRef']['fieldPath'], 'downwardAPI fieldPath') : '';
        const content =
          field === 'metadata.labels' ? downwardMap(identity.labels) : field === 'metadata.annotations' ? downwardMap(identity.annotations) : fieldValue(identity, field);
        writeFileSync(join(dir, text(item['path'], 'downwardAPI path')), content);
      }
      continue;
    }
    const configMapFiles = (ref: JsonObject): void => {
      const data = sources.configMaps[text(ref['name'], 'configMap name')];
      if (!data) throw new Error(`volume ${name}: configMap ${String(ref['name'])} not given`);
      for (const [key, content] of Object.entries(data)) writeFileSync(join(dir, key), content);
    };
    if (isObject(volume['configMap'])) {
      configMapFiles(volume['configMap']);
      continue;
    }
    if (isObject(volume['projected'])) {
      for (const source of objects(volume['projected']['sources'])) {
        if (isObject(source['serviceAccountToken'])) {
          const token = source['serviceAccountToken'];
          const audience = text(token['audience'], 'serviceAccountToken audience');
          const seconds = typeof token['expirationSeconds'] === 'number' ? token['expirationSeconds'] : 3600;
          writeFileSync(join(dir, text(token['path'], 'serviceAccountToken path')), sources.serviceAccountToken(audience, seconds), { mode: 0o600 });
        } else if (isObject(source['configMap'])) {
          configMapFiles(source['configMap']);
        } else {
          throw new Error(`volume ${name}: projected source ${Object.keys(source).join(',')} not modelled by pod-files.ts`);
        }
      }
      continue;
    }
    throw new Error(
      `volume ${name}: source ${Object.keys(volume)
        .filter((k) => k !== 'name')
        .join(',')} not modelled by pod-files.ts`,
    );
  }

  const containers = new Map(pod.containers.map((c) => [text(c['name'], 'container name'), c]));
  const container = (name: string): JsonObject => {
    const found = containers.get(name);
    if (!found) throw new Error(`no container ${name}; the pod has ${[...containers.keys()].join(', ')}`);
    return found;
  };
  const mounts = (name: string): { path: string; volume: string }[] =>
    objects(container(name)['volumeMounts']).map((m) => {
      if (m['subPath'] !== undefined) throw new Error(`${name}: subPath mounts are not modelled by pod-files.ts`);
      const volume = text(m['name'], 'volumeMount name');
      if (!volumeDirs.has(volume)) throw new Error(`${name} mounts ${volume}, which the pod does not have`);
      return { path: posix.normalize(text(m['mountPath'], 'mountPath')).replace(/\/$/, ''), volume };
    });
  const roots = new Map<string, string>();
  for (const name of containers.keys()) {
    const containerRoot = join(root, 'containers', name);
    mkdirSync(containerRoot, { recursive: true });
    for (const m of mounts(name)) {
      const at = join(containerRoot, m.path);
      mkdirSync(dirname(at), { recursive: true });
      symlinkSync(volumeDirs.get(m.volume)!, at);
    }
    roots.set(name, containerRoot);
  }

  /** The longest mount holding `path`, or undefined. */
  const mapped = (name: string, path: string): string | undefined => {
    const normal = posix.normalize(path);
    const holder = mounts(name)
      .filter((m) => normal === m.path || normal.startsWith(`${m.path}/`))
      .sort((a, b) => b.path.length - a.path.length)[0];
    return holder ? join(volumeDirs.get(holder.volume)!, normal.slice(holder.path.length)) : undefined;
  };
  const hostPath = (name: string, path: string): string => {
    const found = mapped(name, path);
    if (found === undefined)
      throw new Error(
        `${name}: ${path} is on none of its volumes (${mounts(name)
          .map((m) => m.path)
          .join(', ')})`,
      );
    return found;
  };

  const env = (name: string): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const entry of objects(container(name)['env'])) {
      const key = text(entry['name'], 'env name');
      if (typeof entry['value'] === 'string') out[key] = expand(entry['value'], out);
      else if (isObject(entry['valueFrom']) && isObject(entry['valueFrom']['fieldRef']))
        out[key] = fieldValue(identity, text(entry['valueFrom']['fieldRef']['fieldPath'], `${key} fieldPath`));
      else if (entry['value'] === undefined && entry['valueFrom'] === undefined) out[key] = '';
      else throw new Error(`${name}: env ${key} (${JSON.stringify(entry)}) not modelled by pod-files.ts`);
    }
    for (const [key, value] of Object.entries(out)) if (value.startsWith('/')) out[key] = mapped(name, value) ?? value;
    return out;
  };

  const args = (name: string): string[] => {
    const environment = env(name);
    const raw = container(name)['args'];
    return (Array.isArray(raw) ? raw : []).map((value) => {
      const arg = expand(text(value, `${name} arg`), environment);
      const flag = /^(--[A-Za-z0-9-]+=)([a-z]+:)?(\/.*)$/.exec(arg);
      return flag ? `${flag[1]}${flag[2] ?? ''}${hostPath(name, flag[3]!)}` : arg;
    });
  };

  return {
    root,
    volumeDir: (volume) => {
      const dir = volumeDirs.get(volume);
      if (!dir) throw new Error(`no volume ${volume}`);
      return dir;
    },
    containerRoot: (name) => {
      container(name);
      return roots.get(name)!;
    },
    env,
    args,
    hostPath,
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}
