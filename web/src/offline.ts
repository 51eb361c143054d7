// Registers the service worker (public/sw.js) that lets the page open with no signal, and
// hands it the files this load fetched before it was in control.
export function registerOfflineShell() {
  if (!('serviceWorker' in navigator) || !import.meta.env.PROD) return
  window.addEventListener('load', async () => {
    try {
      await navigator.serviceWorker.register('/m/sw.js', { scope: '/m/' })
      const ready = await navigator.serviceWorker.ready
      const loaded = performance
        .getEntriesByType('resource')
        .map((e) => e.name)
        .filter((name) => name.startsWith(`${location.origin}/m/assets/`))
      ready.active?.postMessage({ keep: loaded })
    } catch {
      /* no service worker (http on a LAN address, a WebView without one): online only */
    }
  })
}
