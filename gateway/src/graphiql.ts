import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import type { GraphiQLOptions } from 'graphql-yoga';
import { CSRF_HEADER } from './protection/protection-options.ts';

/**
 * GraphiQL as the gateway serves it (development, or OBJECTOS_GRAPHIQL=true): the session cookie goes
 * with every request (same origin), the CSRF header is always added, and the headers editor starts
 * empty for an `authorization` or `x-api-key` header.
 */
export const GRAPHIQL_OPTIONS: GraphiQLOptions = {
  title: 'ObjectOS GraphiQL',
  credentials: 'same-origin',
  additionalHeaders: { [CSRF_HEADER]: '1' },
  defaultQuery: '# Sign in first (the session cookie is sent), or add a header below:\n# { "authorization": "Bearer <token>" } or { "x-api-key": "<key>" }\n{\n  me { id email }\n}\n',
};

/**
 * Renders GraphiQL from the installed `@graphql-yoga/render-graphiql`: its scripts, styles and
 * editor workers are inlined in the page, so it works with no network (yoga's default page loads them
 * from a CDN and is blank offline). The page is about 9 MB of text: rendered once per option set.
 */
export function createGraphiQLRenderer(): (options?: GraphiQLOptions) => string {
  const pages = new Map<string, string>();
  return (options) => {
    const key = JSON.stringify(options ?? {});
    let page = pages.get(key);
    if (page === undefined) {
      if (pages.size >= 4) pages.clear();
      pages.set(key, (page = renderGraphiQL(options)));
    }
    return page;
  };
}
