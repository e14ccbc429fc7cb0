// Worker-thread entry: TypeScript through tsx, then the worker proper (worker.ts).
import { register } from "tsx/esm/api";

register();
await import("./worker.ts");
