import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// `npm run dev` proxies the API and Socket.IO to a local `aijobs serve` (AIJOBS_URL, default :8000).
const api = process.env.AIJOBS_URL ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 900 },
  server: {
    proxy: {
      "/api": api,
      "/v1": api,
      "/health": api,
      "/socket.io": { target: api, ws: true },
    },
  },
});
