// JSON lines (metrics.jsonl, samples.jsonl) read defensively: a file that grows while a run trains may end in a
// half-written line, and a person may have edited it. Blank lines are passed over; a line that is not a JSON
// object is skipped and counted. Pure (no Node): the dashboard page parses with it too.

export function parseJsonObjects(text: string): { objs: Record<string, unknown>[]; skipped: number } {
  const objs: Record<string, unknown>[] = [];
  let skipped = 0;
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      const o = JSON.parse(line);
      if (typeof o === "object" && o !== null && !Array.isArray(o)) objs.push(o);
      else skipped++;
    } catch {
      skipped++;
    }
  }
  return { objs, skipped };
}
