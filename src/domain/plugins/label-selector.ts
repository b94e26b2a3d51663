// Kubernetes label selectors (metav1.LabelSelector): matching and the checks the API server applies
// to built-in objects but not to a CRD field, so a selector that would select nothing by accident
// (`In` with no values) is refused instead of silently matching no pod.
export type SelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface SelectorRequirement {
  readonly key: string;
  readonly operator: SelectorOperator;
  readonly values?: readonly string[];
}

/** Absent or empty: every pod of the namespace. */
export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: readonly SelectorRequirement[];
}

export type Labels = Readonly<Record<string, string>>;

export function selectorMatches(selector: LabelSelector | undefined, labels: Labels): boolean {
  if (!selector) return true;
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) if (labels[key] !== value) return false;
  for (const requirement of selector.matchExpressions ?? []) {
    const present = Object.hasOwn(labels, requirement.key);
    const value = labels[requirement.key];
    const values = requirement.values ?? [];
    switch (requirement.operator) {
      case 'In':
        if (!present || !values.includes(value!)) return false;
        break;
      case 'NotIn':
        if (present && values.includes(value!)) return false;
        break;
      case 'Exists':
        if (!present) return false;
        break;
      case 'DoesNotExist':
        if (present) return false;
        break;
    }
  }
  return true;
}

export interface SelectorProblem {
  readonly field: string;
  readonly message: string;
}

// Label keys: optional DNS-subdomain prefix and a name of at most 63 characters; values at most 63.
const LABEL_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/;
const LABEL_PREFIX = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const [prefix, name] = slash === -1 ? [undefined, key] : [key.slice(0, slash), key.slice(slash + 1)];
  if (prefix !== undefined && (prefix.length > 253 || !LABEL_PREFIX.test(prefix))) return `"${key}": the prefix is not a DNS subdomain`;
  if (!LABEL_NAME.test(name)) return `"${key}" is not a label key (at most 63 characters: alphanumerics, '-', '_', '.')`;
  return undefined;
}

/** Problems with `selector`, each naming its field under `path` (e.g. `spec.selector`). */
export function selectorProblems(selector: LabelSelector | undefined, path: string): SelectorProblem[] {
  if (!selector) return [];
  const problems: SelectorProblem[] = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    const keyProblem = labelKeyProblem(key);
    if (keyProblem) problems.push({ field: `${path}.matchLabels`, message: keyProblem });
    if (!LABEL_VALUE.test(value)) problems.push({ field: `${path}.matchLabels.${key}`, message: `"${value}" is not a label value` });
  }
  (selector.matchExpressions ?? []).forEach((requirement, i) => {
    const field = `${path}.matchExpressions[${i}]`;
    const keyProblem = labelKeyProblem(requirement.key);
    if (keyProblem) problems.push({ field: `${field}.key`, message: keyProblem });
    const values = requirement.values ?? [];
    if ((requirement.operator === 'In' || requirement.operator === 'NotIn') && values.length === 0)
      problems.push({ field: `${field}.values`, message: `operator ${requirement.operator} needs at least one value` });
    if ((requirement.operator === 'Exists' || requirement.operator === 'DoesNotExist') && values.length > 0)
      problems.push({ field: `${field}.values`, message: `operator ${requirement.operator} takes no values` });
    values.forEach((value, j) => {
      if (!LABEL_VALUE.test(value)) problems.push({ field: `${field}.values[${j}]`, message: `"${value}" is not a label value` });
    });
  });
  return problems;
}
