/** The JSON Schema documents themselves: for the server's validator and the OpenAPI document. */
export { api, operationParts, resources } from './generated-json.js';
