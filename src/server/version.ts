/** Gatehouse's version, from package.json (recorded in `gateway.started`). */
import { createRequire } from 'node:module';

export const GATEHOUSE_VERSION: string = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
