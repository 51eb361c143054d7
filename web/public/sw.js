// The phone page's service worker: the page opens with no signal (a grid worker in a field),
// showing the last build this phone saw; its reports wait in IndexedDB until they can go.
// - Pages (navigations): the network first, for the newest build; the kept copy when offline.
// - /m/assets/ (hashed, never change): the kept copy first, kept when fetched.
// - Nothing else is touched: the API always goes to the network.
const CACHE = 'fivestar-shell-v1'
const SHELL = '/m/'
const MAX_ASSETS = 120

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.add(SHELL)))
  self.skipWaiting()
})

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  )
})

/** Keep a response, dropping the oldest assets past MAX_ASSETS (old builds' files). */
async function keep(request, response) {
  const cache = await caches.open(CACHE)
  await cache.put(request, response)
  const keys = await cache.keys()
  const assets = keys.filter((k) => new URL(k.url).pathname.startsWith('/m/assets/'))
  await Promise.all(assets.slice(0, Math.max(0, assets.length - MAX_ASSETS)).map((k) => cache.delete(k)))
}

// The page lists the files it loaded before this worker controlled it.
self.addEventListener('message', (event) => {
  const urls = (event.data && event.data.keep) || []
  event.waitUntil(
    caches.open(CACHE).then((cache) =>
      Promise.all(
        urls
          .filter((u) => new URL(u).origin === self.location.origin && new URL(u).pathname.startsWith('/m/assets/'))
          .map((u) => cache.match(u).then((hit) => hit || cache.add(u).catch(() => undefined))),
      ),
    ),
  )
})

self.addEventListener('fetch', (event) => {
  const request = event.request
  const url = new URL(request.url)
  if (request.method !== 'GET' || url.origin !== self.location.origin || !url.pathname.startsWith('/m/')) return
  if (request.mode === 'navigate') {
    event.respondWith(
      fetch(request)
        .then((response) => {
          if (response.ok) event.waitUntil(keep(SHELL, response.clone()))
          return response
        })
        .catch(() => caches.match(SHELL).then((hit) => hit || Response.error())),
    )
    return
  }
  if (url.pathname.startsWith('/m/assets/')) {
    event.respondWith(
      caches.match(request).then(
        (hit) =>
          hit ||
          fetch(request).then((response) => {
            if (response.ok) event.waitUntil(keep(request, response.clone()))
            return response
          }),
      ),
    )
  }
})
