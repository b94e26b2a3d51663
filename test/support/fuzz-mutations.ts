// Mutations of real configuration for the fuzz suites (test/fuzz): what an attacker or a careless
// operator does to a config dump, a bootstrap or a resource list. A mutation is data (fast-check
// generates, prints and shrinks it) applied to a parsed document (replace, delete, duplicate or rename a
// value anywhere in the tree; hostile values: CR/LF, NUL, `$`, huge numbers, deep nesting) or to its
// text (truncation, hostile snippets spliced in: alias bombs, deep nesting, a byte-order mark, binary).
import fc from 'fast-check';
import { stringify } from 'yaml';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Values an input should never be trusted not to hold. */
export const hostileValue: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(null, true, false, 0, -1, 65_536, 2 ** 31, -(2 ** 63), 2 ** 64, 1e308, -1e-308, 0.5, '', ' ', '-1s', '1e9s', 'NaN', 'Infinity'),
  fc.constantFrom<Json>(
    'a\r\nSet-Cookie: x=y',
    'nul\u0000byte',
    '$http_authorization',
    '${jndi:x}',
    '../../../etc/passwd',
    '(a+)+$',
    '*',
    '\u202egnp.exe',
    'type.googleapis.com/not.a.Type',
  ),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom<Json>([], {}, [null], { '@type': 'type.googleapis.com/google.protobuf.Struct' }),
  fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
);

export type TreeMutation =
  | { readonly kind: 'replace'; readonly at: number; readonly value: Json }
  /** Deep nesting in place of the value (written out as text: neither fast-check nor a stack could hold it). */
  | { readonly kind: 'nest'; readonly at: number; readonly depth: number }
  /** A string of `length` characters in place of the value (made when applied, as `nest`). */
  | { readonly kind: 'long'; readonly at: number; readonly length: number }
  | { readonly kind: 'delete'; readonly at: number }
  | { readonly kind: 'duplicate'; readonly at: number }
  | { readonly kind: 'rename'; readonly at: number; readonly key: string };

export type TextMutation =
  | { readonly kind: 'truncate'; readonly fraction: number }
  /** `snippet`: a name of SNIPPETS, or the text itself. */
  | { readonly kind: 'splice'; readonly fraction: number; readonly snippet: string }
  /** `text`: a name of WHOLE_TEXTS. */
  | { readonly kind: 'whole'; readonly text: string };

/** Spliced into a text by name (the name is what fast-check prints). */
const SNIPPETS: Readonly<Record<string, string>> = {
  nul: '\u0000',
  bom: '\uFEFF',
  tab: '\t',
  crlf: '\r\n',
  anchor: '&a [1,2,3]',
  alias: '*a',
  'deep braces': '{"x":'.repeat(3_000),
  'deep brackets': '['.repeat(3_000),
  'merge key': '<<: *a\n',
  'document start': '---\n',
  'escaped nul': '"\\u0000"',
  'yaml 1.1 directive': '%YAML 1.1\n',
  binary: '!!binary AAAA',
  'js function tag': '!<tag:yaml.org,2002:js/function> "x"',
};

/** Billion laughs: ten levels of ten references each. */
export function aliasBomb(levels = 10): string {
  let text = 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n';
  for (let i = 0, previous = 'a'; i < levels; previous = `l${i}`, i++) text += `l${i}: &l${i} [${Array(10).fill(`*${previous}`).join(', ')}]\n`;
  return text;
}

/** Whole inputs that are empty, truncated to nothing, or hostile, by name. */
const WHOLE_TEXTS: Readonly<Record<string, string>> = {
  empty: '',
  'only a comment': '# only a comment\n',
  'empty object': '{}',
  'empty list': '[]',
  'no resources': '{"resources": []}',
  'no configs': '{"configs": []}',
  null: 'null',
  'empty document': '---\n',
  'alias bomb': aliasBomb(),
};

export const treeMutation: fc.Arbitrary<TreeMutation> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), value: hostileValue }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('nest' as const), at: fc.nat(), depth: fc.integer({ min: 90, max: 4_000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('long' as const), at: fc.nat(), length: fc.integer({ min: 1_000, max: 100_000 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('rename' as const),
      at: fc.nat(),
      key: fc.oneof(fc.constantFrom('@type', 'name', 'typed_config', 'nmae', '__proto__', 'constructor', ''), fc.string({ maxLength: 12 })),
    }),
  },
);

export const textMutation: fc.Arbitrary<TextMutation> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), fraction: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({
    kind: fc.constant('splice' as const),
    fraction: fc.double({ min: 0, max: 1, noNaN: true }),
    snippet: fc.oneof(fc.constantFrom(...Object.keys(SNIPPETS)), fc.string({ unit: 'binary', maxLength: 8 })),
  }),
  fc.record({ kind: fc.constant('whole' as const), text: fc.constantFrom(...Object.keys(WHOLE_TEXTS)) }),
);

/** A mutated input: some tree mutations, then perhaps one of the text, in JSON or YAML. */
export interface InputMutation {
  readonly tree: readonly TreeMutation[];
  readonly text: TextMutation | undefined;
  readonly format: 'json' | 'yaml';
}

export const inputMutation: fc.Arbitrary<InputMutation> = fc.record({
  tree: fc.array(treeMutation, { minLength: 0, maxLength: 3 }),
  // Mostly the tree alone: a text mutation usually stops the input at the parser, before the translation.
  text: fc.oneof({ weight: 7, arbitrary: fc.constant(undefined) }, { weight: 3, arbitrary: textMutation }),
  format: fc.constantFrom('json' as const, 'yaml' as const),
});

type Slot = { readonly parent: Json[] | { [key: string]: Json }; readonly key: number | string };

/** Every value of the tree below the root, in a fixed order, as the place that holds it. */
function slots(root: Json): Slot[] {
  const out: Slot[] = [];
  const stack: Json[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (Array.isArray(node)) {
      node.forEach((child, i) => {
        out.push({ parent: node, key: i });
        stack.push(child);
      });
    } else if (node !== null && typeof node === 'object') {
      for (const key of Object.keys(node)) {
        out.push({ parent: node, key });
        stack.push(node[key]!);
      }
    }
  }
  return out;
}

/** Applies `mutation` to `root` in place (the caller passes a copy). */
export function applyTreeMutation(root: Json, mutation: TreeMutation): void {
  const all = slots(root);
  if (all.length === 0) return;
  const { parent, key } = all[mutation.at % all.length]!;
  const holder = parent as Record<string | number, Json>;
  switch (mutation.kind) {
    case 'replace':
      holder[key] = mutation.value;
      return;
    case 'nest':
      // A placeholder, spelled out as text by mutatedText: a tree this deep would overflow the test's own stack.
      holder[key] = `@@nest:${mutation.depth}@@`;
      return;
    case 'long':
      holder[key] = 'x'.repeat(mutation.length);
      return;
    case 'delete':
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete holder[key];
      return;
    case 'duplicate':
      if (Array.isArray(parent)) parent.splice(key as number, 0, structuredClone(parent[key as number]!));
      else holder[`${String(key)}`] = structuredClone(holder[key]!);
      return;
    case 'rename':
      if (Array.isArray(parent)) return;
      // Defined as an own property, as JSON.parse would make it (`__proto__` included).
      Object.defineProperty(parent, mutation.key, { value: holder[key], enumerable: true, writable: true, configurable: true });
      if (mutation.key !== key) delete holder[key];
      return;
  }
}

export function applyTextMutation(text: string, mutation: TextMutation): string {
  switch (mutation.kind) {
    case 'truncate':
      return text.slice(0, Math.floor(text.length * mutation.fraction));
    case 'splice': {
      const at = Math.floor(text.length * mutation.fraction);
      return `${text.slice(0, at)}${SNIPPETS[mutation.snippet] ?? mutation.snippet}${text.slice(at)}`;
    }
    case 'whole':
      return WHOLE_TEXTS[mutation.text] ?? mutation.text;
  }
}

/** The text of `document` after `mutation`. */
export function mutatedText(document: Json, mutation: InputMutation): string {
  const copy = structuredClone(document);
  for (const step of mutation.tree) applyTreeMutation(copy, step);
  let text: string;
  try {
    text = mutation.format === 'json' ? JSON.stringify(copy) : stringify(copy, { aliasDuplicateObjects: false });
  } catch {
    // The yaml package cannot write deep nesting (its stack runs out): the same document as JSON, which is YAML too.
    text = JSON.stringify(copy);
  }
  // Flow collections are YAML too: the placeholder becomes the nesting in either format.
  text = text.replace(/["']?@@nest:(\d+)@@["']?/g, (_, depth: string) => `${'{"x":'.repeat(Number(depth))}1${'}'.repeat(Number(depth))}`);
  return mutation.text ? applyTextMutation(text, mutation.text) : text;
}
