// A group name or gid → gid, from /etc/group (Node has no getgrnam).
import { readFileSync } from 'node:fs';
import { err, ok, type Result } from '../../domain/result.js';

export function groupId(group: string | number, groupFile = '/etc/group'): Result<number, string> {
  if (typeof group === 'number' || /^\d+$/.test(group)) return ok(Number(group));
  let text: string;
  try {
    text = readFileSync(groupFile, 'utf8');
  } catch (error) {
    return err(`group ${group}: reading ${groupFile}: ${(error as Error).message}`);
  }
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === group && gid !== undefined && /^\d+$/.test(gid)) return ok(Number(gid));
  }
  return err(`group ${group} is not in ${groupFile}`);
}
