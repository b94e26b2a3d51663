// Kubernetes downward-API files (`/etc/istio/pod/labels`, `…/annotations`): one `key="value"` per
// line, the value quoted with Go's %q. Parsed as pilot-agent does (pkg/bootstrap/config.go
// ParseDownwardAPI): lines without `=` are skipped, a value that does not unquote fails the file.
import { err, ok, type Result } from '../../domain/result.js';

export function parseDownwardApi(text: string): Result<Record<string, string>, string> {
  const values: Record<string, string> = {};
  for (const [index, line] of text.split('\n').entries()) {
    const equals = line.indexOf('=');
    if (equals === -1) continue;
    const value = unquoteGo(line.slice(equals + 1));
    if (value === undefined) return err(`line ${index + 1}: cannot unquote ${line.slice(equals + 1)}`);
    values[line.slice(0, equals)] = value;
  }
  return ok(values);
}

const SIMPLE_ESCAPES: Readonly<Record<string, number>> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92, '"': 34 };
const HEX = /^[0-9a-fA-F]+$/;

/**
 * Go's strconv.Unquote for a double-quoted literal. %q escapes every byte it cannot print, and
 * `\x`/octal escapes are bytes (parts of a UTF-8 sequence), so the result is assembled as bytes.
 */
export function unquoteGo(quoted: string): string | undefined {
  if (quoted.length < 2 || !quoted.startsWith('"') || !quoted.endsWith('"')) return undefined;
  const body = quoted.slice(1, -1);
  const bytes: number[] = [];
  const pushText = (text: string): void => void bytes.push(...Buffer.from(text, 'utf8'));
  for (let i = 0; i < body.length;) {
    const char = body[i]!;
    if (char === '"' || char === '\n') return undefined;
    if (char !== '\\') {
      const codePoint = body.codePointAt(i)!;
      const text = String.fromCodePoint(codePoint);
      pushText(text);
      i += text.length;
      continue;
    }
    const kind = body[i + 1];
    if (kind === undefined) return undefined;
    const simple = SIMPLE_ESCAPES[kind];
    if (simple !== undefined) {
      bytes.push(simple);
      i += 2;
    } else if (kind === 'x' || kind === 'u' || kind === 'U') {
      const width = kind === 'x' ? 2 : kind === 'u' ? 4 : 8;
      const digits = body.slice(i + 2, i + 2 + width);
      if (digits.length !== width || !HEX.test(digits)) return undefined;
      const value = Number.parseInt(digits, 16);
      if (kind === 'x') bytes.push(value);
      else if (value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff)) return undefined;
      else pushText(String.fromCodePoint(value));
      i += 2 + width;
    } else if (kind >= '0' && kind <= '7') {
      const digits = body.slice(i + 1, i + 4);
      if (!/^[0-7]{3}$/.test(digits)) return undefined;
      const value = Number.parseInt(digits, 8);
      if (value > 255) return undefined;
      bytes.push(value);
      i += 4;
    } else {
      return undefined;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}
