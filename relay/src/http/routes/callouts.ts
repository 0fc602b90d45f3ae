import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { calloutAuth } from '../auth.ts';
import { withErrors } from '../schemas.ts';

/**
 * Routes the Salesforce package calls through the Named Credential `D365_Relay`. Every route
 * registered here is behind the `X-Relay-Key` check.
 */
export const calloutRoutes: FastifyPluginAsyncTypebox<{ calloutKey: string }> = async (
  fastify,
  { calloutKey }
) => {
  await fastify.register(calloutAuth, { calloutKey });

  fastify.get(
    '/ping',
    {
      schema: {
        summary: 'Checks the Named Credential set-up from Salesforce',
        security: [{ relayKey: [] }],
        response: withErrors(
          {
            200: Type.Object({
              status: Type.Literal('ok'),
              time: Type.String({ format: 'date-time' })
            })
          },
          [401]
        )
      }
    },
    async () => ({ status: 'ok' as const, time: new Date().toISOString() })
  );
};
