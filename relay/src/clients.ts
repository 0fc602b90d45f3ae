/**
 * What the runtime needs from the two system clients: a credential check for `/readyz` and a way to
 * release their sockets. The factories in `d365/` and `salesforce/` return richer clients; flows use
 * those, the runtime only this boundary (so tests can inject emulator-backed clients or a fake).
 */
export interface SystemClient {
  checkCredentials(): Promise<void>;
  close?(): Promise<void> | void;
}

export interface RelayClients {
  d365: SystemClient;
  salesforce: SystemClient;
}
