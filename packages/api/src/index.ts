/**
 * @packageDocumentation
 * The one typed browser client for the Hotstepper companion.
 */
export * from './client.js';
export * from './error.js';
// The wire types, so that extensions need only this package.
export type * from '@hotstepper/schema';
