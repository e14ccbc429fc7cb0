import { defineConfig } from "vitest/config";

// The JSON report is what .ci/run counts ("N passed, N failed"); the default reporter is for people.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    reporters: ["default", "json"],
    outputFile: { json: "test-results.json" },
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
