import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

import { loadPackageDefinition, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

// The official proto, as shipped by the npm package `salesforce-pubsub-api-client` (its package
// root holds `pubsub_api.proto`; its exports map only the entry point, so resolve that).
const clientEntry = createRequire(import.meta.url).resolve('salesforce-pubsub-api-client');
export const PUBSUB_PROTO_PATH = join(dirname(clientEntry), '..', 'pubsub_api.proto');

// Field names as in the proto (snake_case), enums as names, absent fields as proto3 defaults.
const LOADER_OPTIONS = { keepCase: true, longs: String, enums: String, defaults: true };

/** The `eventbus.v1.PubSub` service constructor (its `.service` is the server definition). */
export function loadPubSubService(): ServiceClientConstructor {
  const grpcObject = loadPackageDefinition(loadSync(PUBSUB_PROTO_PATH, LOADER_OPTIONS));
  const eventbus = grpcObject.eventbus as { v1: { PubSub: ServiceClientConstructor } };
  return eventbus.v1.PubSub;
}
