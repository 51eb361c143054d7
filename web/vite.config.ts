/// <reference types="vitest/config" />
import { defineConfig, type Plugin } from 'vite'
import vue from '@vitejs/plugin-vue'
import Components from 'unplugin-vue-components/vite'
import { VantResolver } from '@vant/auto-import-resolver'

// Vant's icon font is inlined as WOFF2 with a fallback on a CDN (at.alicdn.com) that no
// browser able to run this page needs: the fallback goes, and any other address off our
// own server in the CSS fails the build. Every asset is served by us.
function ownAssetsOnly(): Plugin {
  return {
    name: 'own-assets-only',
    generateBundle(_options, bundle) {
      for (const file of Object.values(bundle)) {
        if (file.type !== 'asset' || !file.fileName.endsWith('.css')) continue
        const css = String(file.source).replace(/,\s*url\(\/\/at\.alicdn\.com\/[^)]*\)\s*format\("woff"\)/g, '')
        const foreign = css.match(/url\(\s*["']?(https?:)?\/\/[^)]*\)/)
        if (foreign) this.error(`${file.fileName} loads ${foreign[0]} from another server`)
        file.source = css
      }
    },
  }
}

// The server serves `dist/` at /m/ (src/webapp.rs): hashed files under assets/ are cached
// for a year, index.html is revalidated on every load.
export default defineConfig({
  base: '/m/',
  plugins: [
    vue(),
    // Each Vant component a template uses is imported with its own styles, nothing more.
    Components({ resolvers: [VantResolver()], dts: false }),
    ownAssetsOnly(),
  ],
  build: {
    manifest: true,
    target: 'es2020',
    assetsInlineLimit: 2048,
    chunkSizeWarningLimit: 800,
  },
  server: {
    proxy: { '/api': 'http://127.0.0.1:8080', '/media': 'http://127.0.0.1:8080' },
  },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts'],
  },
})
