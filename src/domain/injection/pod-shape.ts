// The parts of a core/v1 Pod the injector reads and writes, as plain JSON. Only what injection needs
// is typed; everything else passes through untouched (a JSON Patch edits, it never rewrites).
import type { JsonObject } from '../json.js';

export interface ContainerShape extends JsonObject {
  name: string;
}

export interface PodShape {
  readonly metadata?: {
    readonly name?: string;
    readonly generateName?: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly spec?: {
    readonly containers?: readonly ContainerShape[];
    readonly initContainers?: readonly ContainerShape[];
    readonly volumes?: readonly JsonObject[];
    readonly hostNetwork?: boolean;
    readonly serviceAccountName?: string;
  };
}
