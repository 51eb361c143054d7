// Idempotency keys: 32 hex characters from the platform's random source. `crypto.randomUUID`
// exists only on secure pages (https or localhost); `getRandomValues` everywhere.
export function newKey(): string {
  const bytes = new Uint8Array(16)
  crypto.getRandomValues(bytes)
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}
