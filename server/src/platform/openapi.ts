/**
 * The OpenAPI document is assembled from the routes (which come from schema/api.json) and the
 * shared schemas; it is never written by hand. Browsable at /api/docs, JSON at /api/docs/json.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { api } from '@hotstepper/schema/json';
import fp from 'fastify-plugin';
import { version } from './version.js';

export const DOCS_PREFIX = '/api/docs';

export const openapiPlugin = fp(
  async app => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: { title: api.title, description: api.description, version },
        components: {
          securitySchemes: {
            hubToken: {
              type: 'apiKey',
              in: 'header',
              name: 'Authorization',
              description: 'The user\'s JupyterHub token: "token <t>" (or "Bearer <t>").'
            }
          }
        }
      },
      // Component names are the resources' $ids (User, Me, Problem...), as clients know them.
      refResolver: {
        buildLocalReference: (json, _baseUri, _fragment, i) =>
          typeof json.$id === 'string' ? json.$id : `def-${i}`
      }
    });
    await app.register(swaggerUi, { routePrefix: DOCS_PREFIX });
  },
  { name: 'openapi', dependencies: ['schemas'] }
);
