import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify';
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { Value } from 'typebox/value';

/**
 * Validates requests with TypeBox's compiled checks. Unlike Fastify's default Ajv set-up it never
 * strips unknown properties silently: a schema that forbids them makes the request a 400. Query
 * strings, params and headers are strings on the wire and are converted first; bodies are not.
 * (Same behaviour as @fastify/type-provider-typebox's compiler, without loading ajv-formats at
 * start: no request schema here uses a string format.)
 */
export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const check = Compile(schema);
  return (input: unknown) => {
    const value = httpPart === 'body' ? input : Value.Convert(schema, input);
    if (check.Check(value)) return { value };
    return { error: check.Errors(value) as unknown as FastifySchemaValidationError[] };
  };
};
