/**
 * Minimal types for oidc-provider (a devDependency used as a real IdP in
 * verifier.oidc.test.ts); the package ships none and @types/oidc-provider is
 * not installed. Only what the test uses.
 */
declare module 'oidc-provider' {
  import type { RequestListener } from 'node:http';

  export default class Provider {
    constructor(issuer: string, configuration?: Record<string, unknown>);
    callback(): RequestListener;
  }
}
