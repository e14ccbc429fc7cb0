// The page of `rnn serve` at "/".
import { startDashboard } from "./dashboard.ts";

startDashboard(document.getElementById("app")!);
