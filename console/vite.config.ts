// The console is served by fado-controller under /ui/ (controller/fado_ui.c);
// everything is bundled: no CDN, it works offline.
//
// Development: `FADO_API=http://127.0.0.1:8750 npx vite` serves the sources
// with live reload and passes /v1 to that controller.
import { defineConfig } from 'vite';

declare const process: { env: Record<string, string | undefined> };

export default defineConfig({
  base: '/ui/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  server: {
    host: '127.0.0.1',
    proxy: { '/v1': process.env.FADO_API ?? 'http://127.0.0.1:8750' },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    // Small enough to embed; a warning past this would mean a heavy dependency crept in.
    chunkSizeWarningLimit: 200,
  },
});
