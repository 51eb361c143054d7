// Shared by the browser tests: Debian's chromium through playwright-core, phones of two
// widths, the API for setting up and checking state, screenshots under target/.
import { chromium } from 'playwright-core'
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'

export const BASE = process.env.FIVESTAR_E2E_BASE ?? 'http://127.0.0.1:8080'
export const API = `${BASE}/api/v1`
const SHOTS = process.env.FIVESTAR_E2E_SHOTS ?? '../target/phone-screens'
export const PASSWORD = 'fivestar-demo'

/** A place in 东街社区's grid (seed-demo's grids are around here), as a phone's GPS gives it. */
export const HERE = { latitude: 30.2712, longitude: 120.1505 }

export async function launch() {
  mkdirSync(SHOTS, { recursive: true })
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    // /dev/shm is small in CI containers: Chromium's shared memory goes to /tmp instead.
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  })
}

/** A phone: 390 × 844 (or 360 × 740), Chinese, Beijing time, location allowed. */
export async function phone(browser, { width = 390, height = 844 } = {}) {
  const context = await browser.newContext({
    viewport: { width, height },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    geolocation: HERE,
    permissions: ['geolocation'],
  })
  const page = await context.newPage()
  const foreign = []
  page.on('request', (req) => {
    const url = req.url()
    if (!url.startsWith(BASE) && !url.startsWith('data:') && !url.startsWith('blob:')) foreign.push(url)
  })
  page.on('pageerror', (err) => console.error(`page error at ${page.url()}: ${err.message}`))
  return { context, page, foreign }
}

export async function login(page, username) {
  await page.goto(`${BASE}/m/login`)
  await page.locator('input[name=username]').fill(username)
  await page.locator('input[name=password]').fill(PASSWORD)
  await page.getByRole('button', { name: '登录' }).click()
  await page.waitForURL((url) => !url.pathname.endsWith('/login'))
}

/** A screenshot of the page as the phone shows it, after checking nothing spills sideways. */
export async function shot(page, name) {
  await page.waitForLoadState('networkidle')
  // Transitions (a popup fading in) finish first; endless ones (spinners) are not waited for.
  await page.waitForFunction(
    () => document.getAnimations().every((a) => a.playState !== 'running' || a.effect?.getComputedTiming().iterations === Infinity),
    null,
    { timeout: 5000 },
  )
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
  assert.ok(overflow <= 0, `${name}: the page is ${overflow}px wider than the ${page.viewportSize().width}px screen`)
  await page.screenshot({ path: `${SHOTS}/${name}-${page.viewportSize().width}.png` })
}

export async function token(username) {
  const res = await fetch(`${API}/auth/password`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: PASSWORD }),
  })
  assert.equal(res.status, 200, `login ${username}`)
  return (await res.json()).access_token
}

export async function api(tok, path, { method = 'GET', body, headers = {} } = {}) {
  const res = await fetch(API + path, {
    method,
    headers: { authorization: `Bearer ${tok}`, ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await res.text()
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null }
}

/** A camera-sized JPEG (4000 × 3000), drawn by the browser itself. */
export async function cameraPhoto(page) {
  const dataUrl = await page.evaluate(() => {
    const c = document.createElement('canvas')
    c.width = 4000
    c.height = 3000
    const g = c.getContext('2d')
    const grad = g.createLinearGradient(0, 0, 4000, 3000)
    grad.addColorStop(0, '#3a7bd5')
    grad.addColorStop(1, '#f2c94c')
    g.fillStyle = grad
    g.fillRect(0, 0, 4000, 3000)
    // Texture, so the JPEG is camera-sized rather than a few kilobytes.
    for (let i = 0; i < 60000; i++) {
      g.fillStyle = `hsl(${(i * 37) % 360},70%,${30 + (i % 40)}%)`
      g.fillRect((i * 7919) % 4000, (i * 104729) % 3000, 9, 9)
    }
    g.fillStyle = '#fff'
    g.font = 'bold 240px sans-serif'
    g.fillText('五星支部', 900, 1600)
    return c.toDataURL('image/jpeg', 0.95)
  })
  return { name: 'IMG_0001.jpg', mimeType: 'image/jpeg', buffer: Buffer.from(dataUrl.split(',')[1], 'base64') }
}
