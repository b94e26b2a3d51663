// The APISIX-compatible Admin API test server in a process of its own, so that the sink benchmark's
// CPU figures are the agent's alone. Prints its URL on the first stdout line; stops on SIGTERM.
import path from 'node:path';
import { ApisixAdminServer } from '../test/support/apisix-admin-server.js';
import { ApisixSchemas } from '../test/support/apisix-schemas.js';
import { sharedDir } from '../test/support/shared-fixtures.js';

const mode = process.argv[2] === 'standalone' ? 'standalone' : 'traditional';
const shared = sharedDir();
const schemas = shared ? new ApisixSchemas(path.join(shared, 'apisix-schemas')) : undefined;
const server = await ApisixAdminServer.start({ mode, schemas, apiKey: 'bench-key' });
process.stdout.write(`${server.url} ${schemas ? 'schemas' : 'no-schemas'}\n`);
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
