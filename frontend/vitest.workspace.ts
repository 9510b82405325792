import { defineWorkspace } from "vitest/config";

export default defineWorkspace([
  {
    extends: "./vite.config.ts",
    test: {
      name: "unit",
      environment: "jsdom",
      globals: true,
      include: ["src/**/*.test.{ts,tsx}"],
      setupFiles: ["./src/testing/setup.ts"],
    },
  },
  {
    test: {
      name: "e2e",
      environment: "node",
      globals: true,
      include: ["e2e/**/*.test.ts"],
      testTimeout: 120_000,
      hookTimeout: 120_000,
      pool: "forks",
      poolOptions: { forks: { singleFork: true } },
    },
  },
]);
