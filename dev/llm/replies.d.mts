// Types for dev/llm/replies.mjs, so TypeScript tests can predict the scripted replies.
export const MADE_UP_CELL_ID: string;
export function scriptedContent(request: object, fault?: string | null): string;
