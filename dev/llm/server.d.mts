// Types for dev/llm/server.mjs, so TypeScript tests and benches can start it.
export interface IScriptedRequest {
  at: string;
  fault: string | null;
  authorization: string | null;
  body: {
    model: string;
    user?: string;
    stream?: boolean;
    messages: { role: string; content: string }[];
    response_format?: { type: string; json_schema?: { name: string; schema: object } };
  };
}

export interface IScriptedLlm {
  /** e.g. http://127.0.0.1:41234/v1 */
  url: string;
  port: number;
  requests: IScriptedRequest[];
  /** Faults waiting for the next requests, one each. */
  faults: string[];
  close(): Promise<void>;
}

export const SCRIPTED_OWNER: string;
export const SCRIPTED_MODEL: string;
export const FAULTS: string[];
export function startScriptedLlm(options?: {
  port?: number;
  host?: string;
  log?: string;
}): Promise<IScriptedLlm>;
