// After `vite build`: gzip every text asset (the server sends the .gz to browsers that take
// gzip) and check the budget: the resident's first page, the entry plus the login and home
// pages with everything they import, must stay within 150 KB of gzipped JS and CSS.
import { readFileSync, writeFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync, constants } from 'node:zlib'

const DIST = new URL('../dist/', import.meta.url).pathname
const BUDGET = 150 * 1024
const FIRST_PAGE = ['index.html', 'src/pages/Login.vue', 'src/pages/Home.vue']

const gz = new Map()
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) walk(path)
    else if (/\.(js|css|html|svg|json)$/.test(name) && !name.endsWith('manifest.json')) {
      const packed = gzipSync(readFileSync(path), { level: constants.Z_BEST_COMPRESSION })
      writeFileSync(path + '.gz', packed)
      gz.set(path.slice(DIST.length), packed.length)
    }
  }
}
walk(DIST)

const manifest = JSON.parse(readFileSync(join(DIST, '.vite/manifest.json'), 'utf8'))
const files = new Set()
function take(key) {
  const chunk = manifest[key]
  if (!chunk || files.has(chunk.file)) return
  files.add(chunk.file)
  for (const css of chunk.css ?? []) files.add(css)
  for (const dep of chunk.imports ?? []) take(dep)
}
FIRST_PAGE.forEach(take)

let total = 0
const rows = [...files].map((f) => {
  const size = gz.get(f) ?? 0
  total += size
  return `  ${(size / 1024).toFixed(1).padStart(6)} KB  ${f}`
})
console.log(`first page (entry, login, home), gzipped JS and CSS:\n${rows.join('\n')}\n  ${(total / 1024).toFixed(1).padStart(6)} KB  in all (budget ${BUDGET / 1024} KB)`)
if (total > BUDGET) {
  console.error(`over budget by ${((total - BUDGET) / 1024).toFixed(1)} KB`)
  process.exit(1)
}
