import type { Scope } from '@lvseg/config';

/** Who a request is from, as far as the service knows after checking its credentials. */
export interface Principal {
  kind: 'api-key' | 'oidc' | 'anonymous';
  /** The key's name, `oidc` or `anonymous`: the request log's `principal` and the metrics label (bounded set). */
  name: string;
  /** OIDC only: the token's `sub` (the person or client), for the request log; never a metrics label. */
  subject?: string;
  scopes: readonly Scope[];
}
