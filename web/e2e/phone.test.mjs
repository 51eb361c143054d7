// The phone page in Debian's chromium against a real server seeded by `seed-demo`
// (scripts/web-e2e.sh starts both). Each test is what one person does on their phone;
// the state is checked through the API, not only on the screen.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { BASE, launch, phone, login, shot, token, api, cameraPhoto } from './support.mjs'

let browser

before(async () => {
  browser = await launch()
})

after(async () => {
  await browser?.close()
})

const balanceOn = async (page) => Number((await page.locator('[data-test=balance] .num').innerText()).trim())

test('a resident draws a card and submits it with a photo; the secretary approves; the resident sees the points', async () => {
  const resident = await phone(browser)
  const { page } = resident
  const uploads = []
  page.on('request', (req) => {
    if (req.url().endsWith('/api/v1/media') && req.method() === 'POST') uploads.push(req.postDataBuffer()?.length ?? 0)
  })
  const scripts = []
  page.on('response', (res) => res.url().endsWith('.js') && scripts.push(res.url()))

  await login(page, 'resident')
  await page.waitForURL(/\/m\/home$/)
  await page.locator('[data-test=balance] .num').filter({ hasText: /\d/ }).waitFor()
  const before = await balanceOn(page)
  await shot(page, 'home')

  await page.getByRole('button', { name: '抽取任务卡' }).click()
  await page.getByRole('button', { name: '去完成' }).first().waitFor()
  await page.waitForTimeout(900) // the flip and the burst of stars
  await shot(page, 'home-drawn')

  const resTok = await token('resident')
  const mine = await api(resTok, '/me/cards?limit=100')
  const card = mine.body.items.find((c) => c.status === 'claimed')
  assert.ok(card, 'the draw made a claimed card')

  await page.getByRole('button', { name: '去完成' }).first().click()
  await page.waitForURL(new RegExp(`/m/cards/${card.id}$`))
  const photo = await cameraPhoto(page)
  await page.locator('[data-test=photo-input]').setInputFiles(photo)
  await page.locator('.picker .thumb img').waitFor()
  await page.getByPlaceholder('简单说说你做了什么').fill('给三户邻居讲了防诈骗')
  await shot(page, 'card')
  // One bar of signal (about 150 KB/s up): the upload's progress shows on the way.
  const cdp = await resident.context.newCDPSession(page)
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 80, downloadThroughput: -1, uploadThroughput: 150 * 1024 })
  await page.getByRole('button', { name: '提交' }).click()
  const pivot = page.locator('.van-progress__pivot')
  await pivot.waitFor()
  await page.waitForFunction(() => {
    const p = Number.parseInt(document.querySelector('.van-progress__pivot')?.textContent ?? '', 10)
    return p > 0 && p < 95
  })
  await shot(page, 'card-uploading')
  await page.waitForURL(/\/m\/home$/, { timeout: 30000 })
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 })
  // A submitted card waits for review and does not hold the draw back (the limit counts claims).
  await page.locator('[data-test=active-card]', { hasText: '待审核' }).waitFor()
  assert.equal(await page.getByRole('button', { name: '抽取任务卡' }).isEnabled(), true)

  // The photo was made smaller on the phone: the upload is a fraction of the camera's file.
  assert.equal(uploads.length, 1)
  assert.ok(uploads[0] < photo.buffer.length / 2, `upload of ${uploads[0]} bytes for a ${photo.buffer.length}-byte photo`)
  const submitted = (await api(resTok, '/me/cards?limit=100')).body.items.find((c) => c.id === card.id)
  assert.equal(submitted.status, 'submitted')
  assert.equal(submitted.note, '给三户邻居讲了防诈骗')
  assert.equal(submitted.media.length, 1)
  assert.ok(submitted.media[0].width <= 2048 && submitted.media[0].height <= 2048)
  assert.equal(Math.max(submitted.media[0].width, submitted.media[0].height), 2048)

  // The secretary, on another phone.
  const secretary = await phone(browser)
  await login(secretary.page, 'secretary')
  await secretary.page.waitForURL(/\/m\/review$/)
  const entry = secretary.page.locator('[data-test=review-card]', { hasText: '张居民' }).filter({ hasText: card.task.title })
  await entry.waitFor()
  const thumb = entry.locator('[data-test=review-photo] img')
  await thumb.waitFor()
  await secretary.page.waitForFunction((img) => img.complete && img.naturalWidth > 0, await thumb.elementHandle())
  await shot(secretary.page, 'review')
  await entry.locator('[data-test=approve]').click()
  await entry.waitFor({ state: 'detached' })
  const reviewed = (await api(resTok, '/me/cards?limit=100')).body.items.find((c) => c.id === card.id)
  assert.equal(reviewed.status, 'approved')
  assert.equal(reviewed.reviewer_name, '王书记')

  // The resident comes back to the page and sees the points.
  await page.reload()
  await page.locator('[data-test=balance] .num').filter({ hasText: String(before + card.task.points) }).waitFor()
  assert.equal(await balanceOn(page), before + card.task.points)
  assert.equal((await api(resTok, '/me/points')).body.balance, before + card.task.points)
  await page.goto(`${BASE}/m/ledger`)
  await page.locator('[data-test=ledger-entry]', { hasText: `+${card.task.points}` }).first().waitFor()
  await shot(page, 'ledger')
  await page.goto(`${BASE}/m/board`)
  await page.locator('[data-test=board-entry]').first().waitFor()
  await shot(page, 'board')
  // The year's board: the adjustment and the task this week both count.
  await page.locator('.van-tab', { hasText: '本年' }).click()
  const board = (await api(resTok, `/orgs/${(await api(resTok, '/me')).body.home_branch_id}/leaderboard?period=year&limit=50`)).body
  const myRow = board.entries.find((e) => e.display_name === '张居民')
  await page.locator('[data-test=board-entry]', { hasText: '张居民' }).filter({ hasText: `${myRow.score} 分` }).waitFor()
  await page.goto(`${BASE}/m/inbox`)
  await page.locator('[data-test=notice]', { hasText: '通过' }).first().waitFor()
  await shot(page, 'inbox')

  // Nothing of the county's charts came to the resident's phone, and nothing from elsewhere.
  assert.deepEqual(scripts.filter((s) => /\/charts-/.test(s)), [])
  assert.deepEqual(resident.foreign, [])
  assert.deepEqual(secretary.foreign, [])
  await resident.context.close()
  await secretary.context.close()
})

test('a grid worker files two reports offline; back online exactly two incidents exist, and a resent draft makes none', async () => {
  const worker = await phone(browser)
  const { page, context } = worker
  await login(page, 'grid-worker')
  await page.waitForURL(/\/m\/report$/)
  await page.locator('[data-test=located]').waitFor()
  await shot(page, 'report')
  // The service worker keeps the page for the field: it must be in control before the signal goes.
  await page.waitForFunction(() => navigator.serviceWorker?.controller !== null && navigator.serviceWorker?.controller !== undefined)
  await page.waitForTimeout(300) // it keeps the files this load fetched

  const run = Date.now().toString(36)
  const titles = [`楼道堆物-${run}`, `路灯不亮-${run}`]
  await context.setOffline(true)
  await page.locator('.offline').waitFor()
  for (const [i, title] of titles.entries()) {
    await page.locator('input[name=title]').fill(title)
    await page.locator('textarea[name=description]').fill(`第 ${i + 1} 条：现场拍照记录`)
    if (i === 0) {
      await page.locator('[data-test=photo-input]').setInputFiles(await cameraPhoto(page))
      await page.locator('.picker .thumb img').waitFor()
    }
    await page.locator('[data-test=file-incident]').click()
    await page.locator('[data-test=draft]', { hasText: title }).waitFor()
  }
  const pending = page.locator('[data-test=draft-state]', { hasText: '待上传' })
  assert.equal(await pending.count(), 2)
  await shot(page, 'report-offline')

  // Still with no signal, the page is opened again: it comes from the service worker, and
  // the two reports are still there, waiting (IndexedDB).
  await page.reload()
  await page.locator('.offline').waitFor()
  await page.locator('[data-test=draft]', { hasText: titles[1] }).waitFor()
  assert.equal(await pending.count(), 2)

  // Back online, the first answer from the server is lost on the way to the phone: the
  // server filed it, the phone saw a network error, and the draft waits to be sent again.
  const sends = []
  let lost = false
  await page.route('**/api/v1/incidents', async (route) => {
    const req = route.request()
    sends.push({ key: req.headers()['idempotency-key'], body: req.postData() })
    if (!lost) {
      lost = true
      await route.fetch()
      await route.abort('connectionreset')
      return
    }
    await route.continue()
  })
  await context.setOffline(false)
  await page.locator('.offline').waitFor({ state: 'detached' })
  await page.waitForFunction(() => true)
  await page.getByRole('button', { name: '立即上传' }).click({ timeout: 15000 }).catch(() => undefined)
  await page.locator('[data-test=queue]').waitFor({ state: 'detached', timeout: 30000 })
  await page.unroute('**/api/v1/incidents')

  const tok = await token('grid-worker')
  const me = await api(tok, '/me')
  const grid = me.body.roles.find((r) => r.role === 'grid_worker').org_id
  const listed = await api(tok, `/orgs/${grid}/incidents?limit=100`)
  assert.equal(listed.status, 200, JSON.stringify(listed.body))
  const ours = listed.body.items.filter((i) => i.title.endsWith(run))
  assert.deepEqual(ours.map((i) => i.title).sort(), [...titles].sort())
  const first = ours.find((i) => i.title === titles[0])
  assert.equal(first.media.length, 1, 'the photo taken offline went with the report')
  assert.equal(first.coord_system, 'gcj02')

  // The first draft went out at least twice with one key; a third send of it files nothing.
  const firstKey = sends[0].key
  assert.ok(sends.filter((s) => s.key === firstKey).length >= 2, JSON.stringify(sends.map((s) => s.key)))
  assert.equal(new Set(sends.map((s) => s.key)).size, 2)
  const again = await api(tok, '/incidents', { method: 'POST', body: sends[0].body, headers: { 'idempotency-key': firstKey } })
  assert.equal(again.status, 201)
  assert.equal(again.headers.get('idempotent-replayed'), 'true')
  const after = await api(tok, `/orgs/${grid}/incidents?limit=100`)
  assert.equal(after.body.items.filter((i) => i.title.endsWith(run)).length, 2)
  await shot(page, 'report-sent')
  assert.deepEqual(worker.foreign, [])
  await context.close()
})

test('a resident redeems in the shop and the counter fulfils by the code', async () => {
  const resident = await phone(browser)
  const { page } = resident
  await login(page, 'resident')
  await page.goto(`${BASE}/m/shop`)
  const item = page.locator('[data-test=shop-item]', { hasText: '洗衣皂' })
  await item.waitFor()
  await page.locator('[data-test=shop-balance]').filter({ hasText: /\d/ }).waitFor()
  const before = Number(await page.locator('[data-test=shop-balance]').innerText())
  await shot(page, 'shop')
  await item.getByRole('button', { name: '兑换' }).click()
  await page.locator('[data-test=confirm-redeem]').click()
  const codeEl = page.locator('[data-test=redemption-code]')
  await codeEl.waitFor()
  const code = (await codeEl.innerText()).trim()
  assert.match(code, /^[23456789ABCDEFGHJKLMNPQRSTUVWXYZ]{8}$/)
  await page.waitForFunction(() => [...document.querySelectorAll('img.qr')].some((i) => i.complete && i.naturalWidth > 0))
  await shot(page, 'shop-redeemed')
  await page.locator('[data-test=shop-balance]').filter({ hasText: String(before - 10) }).waitFor()

  await page.goto(`${BASE}/m/codes`)
  await page.locator('[data-test=code-card]', { hasText: code }).waitFor()
  await shot(page, 'codes')

  const keeper = await phone(browser)
  await login(keeper.page, 'shop-keeper')
  await keeper.page.waitForURL(/\/m\/counter$/)
  await keeper.page.locator('[data-test=fulfil-code] input').fill(code.toLowerCase())
  await keeper.page.locator('[data-test=fulfil]').click()
  await keeper.page.locator('[data-test=fulfilled]', { hasText: code }).waitFor()
  await shot(keeper.page, 'counter')

  const resTok = await token('resident')
  const redemptions = (await api(resTok, '/me/redemptions')).body.items
  const mine = redemptions.find((r) => r.code === code)
  assert.equal(mine.status, 'fulfilled')
  assert.equal(mine.closed_by_name !== null, true)
  assert.equal((await api(resTok, '/me/points')).body.balance, before - 10)

  // The same code again at the counter is refused and changes nothing.
  await keeper.page.locator('[data-test=fulfil-code] input').fill(code)
  await keeper.page.locator('[data-test=fulfil]').click()
  await keeper.page.locator('.van-toast', { hasText: '已经领取过了' }).waitFor()
  await page.reload()
  await page.locator('[data-test=code-card]', { hasText: '已领取' }).first().waitFor()
  await resident.context.close()
  await keeper.context.close()
})

test('the secretary publishes a task from the phone', async () => {
  const { page, context } = await phone(browser)
  await login(page, 'secretary')
  await page.goto(`${BASE}/m/publish`)
  const title = `清理楼道杂物-${Date.now().toString(36)}`
  await page.locator('input[name=task-title]').fill(title)
  await page.locator('textarea[name=task-description]').fill('清理本楼道的杂物，拍照为证')
  await shot(page, 'publish')
  await page.getByRole('button', { name: '发布', exact: true }).click()
  await page.locator('.task', { hasText: title }).waitFor()
  const tok = await token('secretary')
  const me = await api(tok, '/me')
  const branch = me.body.roles.find((r) => r.role === 'secretary').org_id
  const tasks = (await api(tok, `/orgs/${branch}/tasks?limit=100`)).body.items
  const task = tasks.find((t) => t.title === title)
  assert.equal(task.copies, 10)
  assert.equal(task.open_copies, 10)
  assert.equal(task.requires_photo, true)
  await context.close()
})

test('the county sees the star summary and the branch ranking drawn as charts', async () => {
  const { page, context, foreign } = await phone(browser)
  const charts = []
  page.on('response', (res) => /\/charts-[^/]*\.js$/.test(res.url()) && charts.push(res.url()))
  await login(page, 'county-admin')
  await page.waitForURL(/\/m\/stars$/)
  await page.locator('[data-test=chart][data-ready=true]').first().waitFor()
  await page.locator('[data-test=ranking-row]').first().waitFor()
  assert.equal(charts.length, 1, 'ECharts is loaded on this page')
  // The charts drew something: canvas pixels that are not all blank.
  await page.waitForTimeout(600) // ECharts animates its bars in
  const inked = await page.evaluate(() =>
    [...document.querySelectorAll('[data-test=chart] canvas')].map((c) => {
      const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data
      let n = 0
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++
      return n
    }),
  )
  assert.ok(inked.length >= 3, `charts: ${inked.length}`)
  assert.ok(inked.every((n) => n > 500), `inked pixels per chart: ${inked}`)
  const tok = await token('county-admin')
  const county = (await api(tok, '/me')).body.roles[0].org_id
  const summary = (await api(tok, `/orgs/${county}/stars/summary`)).body
  assert.equal(await page.locator('[data-test=three-plus]').innerText(), `${Math.round(summary.three_plus_share * 1000) / 10}%`)
  const rows = await page.locator('[data-test=ranking-row]').count()
  assert.equal(rows, summary.branches)
  await shot(page, 'stars')
  assert.deepEqual(foreign, [])
  await context.close()
})

test('every page fits a 360 px wide phone', async () => {
  const people = {
    resident: ['home', 'ledger', 'board', 'shop', 'codes', 'inbox', 'me'],
    'grid-worker': ['report', 'incidents'],
    secretary: ['review', 'publish', 'counter'],
    'county-admin': ['stars'],
  }
  const { page, context } = await phone(browser, { width: 360, height: 740 })
  await page.goto(`${BASE}/m/login`)
  await shot(page, 'login')
  for (const [who, pages] of Object.entries(people)) {
    await context.clearCookies()
    await page.evaluate(() => localStorage.clear())
    await login(page, who)
    for (const name of pages) {
      await page.goto(`${BASE}/m/${name}`)
      await page.waitForURL(new RegExp(`/m/${name}$`))
      await page.waitForTimeout(300)
      await shot(page, name)
    }
  }
  await context.close()
})

test('opened from WeChat with a login code, the page signs in with it', async () => {
  const port = Number(process.env.FIVESTAR_E2E_WECHAT_PORT)
  const asked = []
  const wechat = createServer((req, res) => {
    const url = new URL(req.url, 'http://wechat')
    asked.push(url.searchParams.get('js_code'))
    res.setHeader('content-type', 'text/plain')
    res.end(JSON.stringify({ openid: 'o-e2e-phone', session_key: 'never-shown' }))
  })
  await new Promise((resolve) => wechat.listen(port, '127.0.0.1', resolve))
  try {
    const { page, context } = await phone(browser)
    await page.goto(`${BASE}/m/?code=wx-code-1`)
    await page.waitForURL((url) => url.pathname === '/m/me' && !url.search.includes('code'))
    await page.locator('.profile .name').waitFor()
    assert.deepEqual(asked, ['wx-code-1'])
    const stored = await page.evaluate(() => JSON.parse(localStorage.getItem('fivestar.session')))
    assert.ok(stored.access_token && stored.refresh_token)
    await context.close()
  } finally {
    await new Promise((resolve) => wechat.close(resolve))
  }
})

test('the server serves the app with the right caching, and a page address falls back to it', async () => {
  const index = await fetch(`${BASE}/m/`)
  assert.equal(index.status, 200)
  assert.equal(index.headers.get('cache-control'), 'no-cache')
  const html = await index.text()
  const asset = html.match(/\/m\/assets\/[^"]+\.js/)[0]
  const js = await fetch(BASE + asset, { headers: { 'accept-encoding': 'gzip' } })
  assert.equal(js.status, 200)
  assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable')
  const deep = await fetch(`${BASE}/m/cards/12`)
  assert.equal(deep.status, 200)
  assert.equal(await deep.text(), html)
  assert.equal((await fetch(`${BASE}/m/assets/missing-abc.js`)).status, 404)
})

test('a session ended on the server (logged out elsewhere) brings the phone back to the login page', async () => {
  const { page, context } = await phone(browser)
  await login(page, 'party-member')
  await page.waitForURL(/\/m\/home$/)
  const stored = await page.evaluate(() => JSON.parse(localStorage.getItem('fivestar.session')))
  const out = await fetch(`${BASE}/api/v1/auth/logout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refresh_token: stored.refresh_token }),
  })
  assert.equal(out.status, 204)
  await page.waitForTimeout(2100) // the revocation reaches every server within 2 s
  await page.locator('.van-tabbar-item', { hasText: '排行' }).click()
  await page.waitForURL((url) => url.pathname === '/m/login' && url.searchParams.get('redirect') === '/board')
  // Nothing of the person is left on the phone: neither the tokens nor their name and roles.
  assert.deepEqual(await page.evaluate(() => [localStorage.getItem('fivestar.session'), localStorage.getItem('fivestar.me')]), [null, null])
  await context.close()
})

test('an incident moves on the phones: the secretary accepts and assigns it, the grid worker starts and resolves it with a photo', async () => {
  const workerTok = await token('grid-worker')
  const me = (await api(workerTok, '/me')).body
  const grid = me.roles.find((r) => r.role === 'grid_worker').org_id
  const filed = await api(workerTok, '/incidents', {
    method: 'POST',
    headers: { 'idempotency-key': `e2e-flow-${Date.now()}` },
    body: {
      grid_id: grid, category: 'hazard', severity: 'high', title: `井盖缺失-${Date.now().toString(36)}`,
      description: '路口井盖缺失，已临时围挡', lat: 30.2712, lng: 120.1505, coord_system: 'wgs84',
      occurred_at: new Date().toISOString(), media_ids: [],
    },
  })
  assert.equal(filed.status, 201, JSON.stringify(filed.body))
  const id = filed.body.id

  const secretary = await phone(browser)
  await login(secretary.page, 'secretary')
  await secretary.page.goto(`${BASE}/m/incidents`)
  await secretary.page.locator('[data-test=incident]', { hasText: filed.body.number }).click()
  await secretary.page.waitForURL(new RegExp(`/m/incidents/${id}$`))
  await secretary.page.locator('[data-test=action-accept]').click()
  await secretary.page.locator('[data-test=confirm-action]').click()
  await secretary.page.locator('[data-test=incident-status]', { hasText: '已受理' }).waitFor()
  await secretary.page.locator('[data-test=action-assign]').click()
  await secretary.page.locator('.van-action-sheet .van-cell', { hasText: me.display_name }).click()
  await secretary.page.locator('[data-test=confirm-action]').click()
  await secretary.page.locator('[data-test=incident-status]', { hasText: '已分派' }).waitFor()
  await shot(secretary.page, 'incident')

  const worker = await phone(browser)
  await login(worker.page, 'grid-worker')
  await worker.page.goto(`${BASE}/m/inbox`)
  await worker.page.locator('[data-test=notice]', { hasText: filed.body.number }).first().click()
  await worker.page.waitForURL(new RegExp(`/m/incidents/${id}$`))
  await worker.page.locator('[data-test=action-start]').click()
  await worker.page.locator('[data-test=confirm-action]').click()
  await worker.page.locator('[data-test=incident-status]', { hasText: '处置中' }).waitFor()
  await worker.page.locator('[data-test=action-resolve]').click()
  await worker.page.locator('.van-action-sheet textarea').fill('已更换新井盖')
  await worker.page.locator('.van-action-sheet [data-test=photo-input]').setInputFiles(await cameraPhoto(worker.page))
  await worker.page.locator('.van-action-sheet .picker .thumb img').waitFor()
  await worker.page.locator('[data-test=confirm-action]').click()
  await worker.page.locator('[data-test=incident-status]', { hasText: '已办结' }).waitFor()
  await shot(worker.page, 'incident-resolved')

  const done = (await api(workerTok, `/incidents/${id}`)).body
  assert.equal(done.status, 'resolved')
  assert.equal(done.assignee_id, me.id)
  assert.deepEqual(done.timeline.map((e) => e.action), ['report', 'accept', 'assign', 'start', 'resolve'])
  const resolve = done.timeline.at(-1)
  assert.equal(resolve.note, '已更换新井盖')
  assert.equal(resolve.media.length, 1)
  await secretary.context.close()
  await worker.context.close()
})
