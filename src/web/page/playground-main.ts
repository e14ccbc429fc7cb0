// The page of `rnn export --html` (and of a run's playground in `rnn serve`): the checkpoint is in the page,
// base64 in <script type="application/octet-stream" id="rnn-model" data-name="…">, so it works offline.
import { startPlayground } from "./playground.ts";

const holder = document.getElementById("rnn-model")!;
const b64 = holder.textContent!.trim();
const bin = atob(b64);
const bytes = new Uint8Array(bin.length);
for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
startPlayground(document.getElementById("app")!, { bytes, name: holder.dataset.name ?? "model" })
  .then(() => document.body.setAttribute("data-ready", "true"))
  .catch(() => document.body.setAttribute("data-ready", "error"));
