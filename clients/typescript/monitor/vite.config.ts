import { resolve } from 'node:path';
import { defineConfig } from 'vite';

// Fixed file names (no content hashes) so that the committed build can be compared byte for byte.
export default defineConfig({
  root: resolve(import.meta.dirname),
  base: '/monitor/',
  logLevel: 'warn',
  build: {
    outDir: resolve(import.meta.dirname, '..', '..', '..', 'server', 'monitor'),
    emptyOutDir: true,
    sourcemap: false,
    modulePreload: { polyfill: false },
    rollupOptions: {
      output: { entryFileNames: 'assets/monitor.js', chunkFileNames: 'assets/[name].js', assetFileNames: 'assets/[name][extname]' },
    },
  },
});
