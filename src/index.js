// The package's Node entry (`import { loadModel, generate, predict, score, train } from "rnn"`): as
// bin/rnn.js does, register tsx (TypeScript on the fly), then hand over the library, src/api.ts. Types
// come from src/api.ts itself (package.json "exports" → "types"); a browser bundle gets src/lib/browser.ts.
import { register } from "tsx/esm/api";

register();
const api = await import("./api.ts");
export const { loadModel, generate, generateStream, predict, score, train, RnnError, UsageError } = api;
