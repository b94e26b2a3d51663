// The text of an input file → its documents (JSON or YAML values), within limits that keep a hostile or
// broken input from exhausting the stack or the memory of whoever handles the values next:
// - nesting: at most MAX_NESTING levels (protobuf's own parsers, Envoy's included, stop at 100 nested
//   messages; real configuration stays far below: Istio's largest config dumps nest about 30 deep);
// - aliases: YAML aliases share one value, and a few bytes of `*a` can stand for megabytes. Every consumer
//   walks the document as a tree, so the tree's size is bounded: no more values than the text has
//   characters, which a document without aliases never exceeds (a value takes at least one character).
// YAML is read by js-yaml, which builds the values directly: the `yaml` package keeps a syntax tree of the
// whole document first, about 35 times the text (a 10 MB file took 400 MB); js-yaml takes about 6 times.
import { CORE_SCHEMA, loadAll, YAMLException, type LoadOptions } from 'js-yaml';
import { err, ok, type Result } from '../../domain/result.js';

/** Deepest nesting of objects and lists accepted in a document. */
export const MAX_NESTING = 100;

export interface TextError {
  /** `file`, or `file:line:column` when the syntax error has a position. */
  readonly location: string;
  readonly message: string;
}

/** js-yaml 4.1's own depth limit, not yet in its type declarations. */
type YamlOptions = LoadOptions & { readonly maxDepth: number };

const YAML_OPTIONS: YamlOptions = {
  // YAML 1.2's core schema, as the `yaml` package read it before: no timestamps (a date stays a string),
  // no merge keys, no YAML 1.1 words (yes/no are strings).
  schema: CORE_SCHEMA,
  // Not JSON mode: a key given twice is an error, not the last one winning.
  json: false,
  maxDepth: MAX_NESTING,
};

/** Why `value` exceeds the limits, or undefined. `budget`: how many values it may hold. */
function exceedsLimits(value: unknown, budget: number): string | undefined {
  // Iterative (the point is not to overflow the stack), and allocating nothing per value: this walks every
  // value of a 200 MB document, and garbage here would add to the peak it is meant to bound.
  const stack: object[] = [value as object];
  const depths: number[] = [1];
  let values = 1;
  const visit = (child: unknown, depth: number): void => {
    values += 1;
    if (typeof child === 'object' && child !== null) {
      stack.push(child);
      depths.push(depth);
    }
  };
  while (stack.length > 0) {
    const node = stack.pop()!;
    const depth = depths.pop()!;
    if (depth > MAX_NESTING) return `nested deeper than ${MAX_NESTING} levels (the nesting limit)`;
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) visit(node[i], depth + 1);
    } else {
      for (const key in node) visit((node as Record<string, unknown>)[key], depth + 1);
    }
    if (values > budget) return `aliases expand the document to more than ${budget} values, one per character of its text (the alias expansion limit)`;
  }
  return undefined;
}

function checked(documents: unknown[], text: string, file: string): Result<unknown[], TextError> {
  // A document without aliases holds fewer values than its text has characters; the floor is for tiny texts.
  const budget = Math.max(text.length, 1_000);
  for (const document of documents) {
    if (typeof document !== 'object' || document === null) continue;
    const problem = exceedsLimits(document, budget);
    if (problem) return err({ location: file, message: problem });
  }
  return ok(documents);
}

/** The documents in `text` (read from `file`): empty YAML documents are left out. */
export function parseDocuments(text: string, file: string): Result<unknown[], TextError> {
  // A byte-order mark is not part of the document (JSON.parse would refuse it).
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const trimmed = body.trimStart();
  // JSON is valid YAML, but JSON.parse is much faster and gives the same values.
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch (error) {
      return err({ location: file, message: `invalid JSON: ${(error as Error).message}` });
    }
    return checked([value], body, file);
  }
  const documents: unknown[] = [];
  try {
    // One stream, so that error positions are lines of the file, not of one document.
    loadAll(
      body,
      (document) => {
        if (document !== null && document !== undefined) documents.push(document);
      },
      YAML_OPTIONS,
    );
  } catch (error) {
    if (error instanceof YAMLException) {
      const message = /maxDepth/.test(error.reason) ? `nested deeper than ${MAX_NESTING} levels (the nesting limit)` : error.reason;
      const location = error.mark ? `${file}:${error.mark.line + 1}:${error.mark.column + 1}` : file;
      return err({ location, message: `invalid YAML: ${message}` });
    }
    // The parser's own failure (its stack, its memory): still this file's fault, and still a value.
    return err({ location: file, message: `invalid YAML: ${(error as Error).message}` });
  }
  return checked(documents, body, file);
}
