import { z } from 'zod';
import { snakeName } from './field-schema.ts';
import { BodySchema, HeadersSchema, HTTP_METHODS } from './rule-schema.ts';

/** Secrets never appear in metadata: only the name of the environment variable holding one. */
const envName = z.string().regex(/^[A-Z][A-Z0-9_]*$/, {
  error: (i) => `${JSON.stringify(i.input)} is not an environment variable name (upper-case letters, digits and _, e.g. CRM_API_TOKEN): put the secret in the environment, its name here`,
});

/** How calls authenticate; credentials are read from the environment when a call is made. */
export const ConnectorAuthSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('none') }),
  z.strictObject({ type: z.literal('bearer'), tokenEnv: envName }),
  z.strictObject({ type: z.literal('basic'), usernameEnv: envName, passwordEnv: envName }),
  z.strictObject({ type: z.literal('api_key'), header: z.string().regex(/^[A-Za-z0-9-]+$/, { error: 'header is an HTTP header name, e.g. x-api-key' }).default('x-api-key'), keyEnv: envName }),
]);

/** One named call of a connector (`connector_action` rule actions name it by `actionId`). */
export const ConnectorEndpointSchema = z.strictObject({
  method: z.enum(HTTP_METHODS, { error: (i) => `unknown method ${JSON.stringify(i.input)} (${HTTP_METHODS.join(', ')})` }).default('POST'),
  /** Appended to the connector's baseUrl. */
  path: z.string().regex(/^\//, { error: "path starts with '/' (it is appended to baseUrl)" }),
  body: BodySchema.optional(),
  headers: HeadersSchema,
});

const httpUrl = z.string().superRefine((url, ctx) => {
  let protocol = '';
  try {
    protocol = new URL(url).protocol;
  } catch {
    // reported below
  }
  if (protocol !== 'http:' && protocol !== 'https:') ctx.addIssue({ code: 'custom', message: `baseUrl must be an http or https URL, got "${url}"` });
});

/** Header names that carry credentials: they come from `auth`, never from metadata. */
const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'cookie'];

/** An HTTP connector (`*.connector.yaml`): a base URL, its authentication and named actions. */
export const ConnectorSchema = z
  .strictObject({
    name: snakeName,
    label: z.string().optional(),
    description: z.string().optional(),
    baseUrl: httpUrl,
    auth: ConnectorAuthSchema,
    headers: HeadersSchema,
    timeoutMs: z.int().min(100).max(60_000).default(10_000),
    actions: z.record(snakeName, ConnectorEndpointSchema).refine((a) => Object.keys(a).length > 0, { error: 'a connector needs at least one action' }),
  })
  .superRefine((c, ctx) => {
    const credentials = [...CREDENTIAL_HEADERS, ...(c.auth.type === 'api_key' ? [c.auth.header.toLowerCase()] : [])];
    const checkHeaders = (headers: Record<string, string>, at: (string | number)[]) => {
      for (const name of Object.keys(headers))
        if (credentials.includes(name.toLowerCase()))
          ctx.addIssue({ code: 'custom', path: [...at, name], message: `header "${name}" carries credentials: declare them in auth (read from the environment), not in metadata` });
    };
    checkHeaders(c.headers, ['headers']);
    for (const [name, a] of Object.entries(c.actions)) checkHeaders(a.headers, ['actions', name, 'headers']);
  });

export type ConnectorAuth = z.output<typeof ConnectorAuthSchema>;
export type ConnectorEndpoint = z.output<typeof ConnectorEndpointSchema>;
export type ConnectorDefinition = z.output<typeof ConnectorSchema>;
