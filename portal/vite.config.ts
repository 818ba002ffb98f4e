import path from 'node:path';
import { defineConfig } from 'vite';

/** The portal's build: served by the API from portal/dist (no CDN, no dev server needed). */
export default defineConfig({
  root: __dirname,
  base: '/',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: path.join(__dirname, 'dist'),
    emptyOutDir: true,
    sourcemap: false,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 2000,
    rolldownOptions: {
      // Mantine marks its modules "use client" (for server components); a browser bundle ignores it.
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning);
      },
    },
  },
  server: { proxy: { '/graphql': 'http://127.0.0.1:3000', '/auth': 'http://127.0.0.1:3000' } },
});
