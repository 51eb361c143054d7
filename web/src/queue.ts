// The grid worker's outbox of incident reports. A report is saved in IndexedDB first, with
// its Idempotency-Key made at that moment, and only then sent: with no signal it waits
// (待上传) and goes when the network returns. Every send of a draft carries the same key and
// the same body, so a send whose answer was lost and is made again files nothing new
// (CONTRACT.md: the same key with the same body answers the first response again).
import { ApiError } from './api'
import { newKey } from './ids'

export interface IncidentBody {
  grid_id: number
  category: string
  severity: string
  title: string
  description: string
  lat: number
  lng: number
  coord_system: 'wgs84' | 'gcj02'
  address?: string
  occurred_at: string
}

/** A photo kept as bytes: every WebView stores an ArrayBuffer in IndexedDB. */
export interface StoredPhoto {
  type: string
  data: ArrayBuffer
}

export type DraftState = 'pending' | 'failed'

export interface Draft {
  /** The Idempotency-Key of every send of this report. */
  key: string
  userId: number
  body: IncidentBody
  photos: StoredPhoto[]
  /** The server's id of each photo once uploaded (uploads are not repeated). */
  mediaIds: (number | null)[]
  state: DraftState
  /** Why the server refused it, for a `failed` draft. */
  error: string | null
  attempts: number
  createdAt: string
}

export interface DraftStore {
  all(): Promise<Draft[]>
  put(draft: Draft): Promise<void>
  delete(key: string): Promise<void>
}

export interface Transport {
  upload(photo: Blob): Promise<{ id: number }>
  file(body: IncidentBody & { media_ids: number[] }, key: string): Promise<{ id: number; number: string }>
}

export interface FlushResult {
  sent: { key: string; id: number; number: string }[]
  failed: string[]
  /** Drafts still waiting (no network, or the server was busy). */
  waiting: number
}

const DB_NAME = 'fivestar'
const STORE = 'incident-drafts'

function done<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error)
  })
}

/** Drafts in IndexedDB (the browser's own, or the one given, as the tests do). */
export function idbStore(factory: IDBFactory = indexedDB): DraftStore {
  let db: Promise<IDBDatabase> | null = null
  const open = () =>
    (db ??= new Promise((resolve, reject) => {
      const req = factory.open(DB_NAME, 1)
      req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'key' })
      req.onsuccess = () => resolve(req.result)
      req.onerror = () => reject(req.error)
    }))
  const tx = async (mode: IDBTransactionMode) => (await open()).transaction(STORE, mode).objectStore(STORE)
  return {
    async all() {
      const drafts = (await done((await tx('readonly')).getAll())) as Draft[]
      return drafts.sort((a, b) => a.createdAt.localeCompare(b.createdAt))
    },
    async put(draft) {
      await done((await tx('readwrite')).put(draft))
    },
    async delete(key) {
      await done((await tx('readwrite')).delete(key))
    },
  }
}

export class Queue {
  private running: Promise<FlushResult> | null = null
  private again = false
  private listeners = new Set<() => void>()

  constructor(
    private store: DraftStore,
    private transport: Transport,
    private now: () => Date = () => new Date(),
  ) {}

  onChange(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private changed() {
    this.listeners.forEach((l) => l())
  }

  /** Keep a report; its key is made here, once. */
  async save(userId: number, body: IncidentBody, photos: StoredPhoto[]): Promise<Draft> {
    const draft: Draft = {
      key: newKey(),
      userId,
      body,
      photos,
      mediaIds: photos.map(() => null),
      state: 'pending',
      error: null,
      attempts: 0,
      createdAt: this.now().toISOString(),
    }
    await this.store.put(draft)
    this.changed()
    return draft
  }

  async list(userId: number): Promise<Draft[]> {
    return (await this.store.all()).filter((d) => d.userId === userId)
  }

  async remove(key: string) {
    await this.store.delete(key)
    this.changed()
  }

  /** A refused draft the worker corrected nothing in but wants to try again. */
  async retry(key: string) {
    const draft = (await this.store.all()).find((d) => d.key === key)
    if (!draft) return
    await this.store.put({ ...draft, state: 'pending', error: null })
    this.changed()
  }

  /**
   * Send what waits, oldest first. One pass at a time: a call during a pass gets that
   * pass's result and makes one more pass follow it (a draft saved meanwhile goes too).
   */
  flush(userId: number): Promise<FlushResult> {
    if (this.running) {
      this.again = true
      return this.running
    }
    const pass = async (): Promise<FlushResult> => {
      const total: FlushResult = { sent: [], failed: [], waiting: 0 }
      do {
        this.again = false
        const r = await this.pass(userId)
        total.sent.push(...r.sent)
        total.failed.push(...r.failed)
        total.waiting = r.waiting
      } while (this.again)
      return total
    }
    this.running = pass().finally(() => {
      this.running = null
    })
    return this.running
  }

  private async pass(userId: number): Promise<FlushResult> {
    const result: FlushResult = { sent: [], failed: [], waiting: 0 }
    const drafts = (await this.list(userId)).filter((d) => d.state === 'pending')
    for (let i = 0; i < drafts.length; i++) {
      const draft = drafts[i]
      try {
        const filed = await this.send(draft)
        await this.store.delete(draft.key)
        result.sent.push({ key: draft.key, id: filed.id, number: filed.number })
      } catch (e) {
        const err = e instanceof ApiError ? e : new ApiError(0, 'network', String(e))
        if (err.transient || err.status === 401) {
          // No signal, or the server is busy: this and the rest wait for the next pass.
          await this.store.put({ ...draft, attempts: draft.attempts + 1 })
          result.waiting = drafts.length - i
          this.changed()
          return result
        }
        await this.store.put({ ...draft, state: 'failed', error: err.message, attempts: draft.attempts + 1 })
        result.failed.push(draft.key)
      }
      this.changed()
    }
    return result
  }

  private async send(draft: Draft) {
    for (let i = 0; i < draft.photos.length; i++) {
      if (draft.mediaIds[i] !== null) continue
      const photo = draft.photos[i]
      const media = await this.transport.upload(new Blob([photo.data], { type: photo.type }))
      draft.mediaIds[i] = media.id
      // Kept at once: a photo uploaded before the signal dropped is not uploaded again.
      await this.store.put(draft)
    }
    return this.transport.file({ ...draft.body, media_ids: draft.mediaIds as number[] }, draft.key)
  }
}
