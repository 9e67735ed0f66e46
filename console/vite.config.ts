// The console is served by fado-controller under /ui/ (controller/fado_ui.c);
// everything is bundled: no CDN, it works offline.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/ui/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    // Small enough to embed; a warning past this would mean a heavy dependency crept in.
    chunkSizeWarningLimit: 200,
  },
});
