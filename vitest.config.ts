import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    reporters: ["default", "./tools/plain-summary-reporter.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
