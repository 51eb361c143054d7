// The offline queue against a real IndexedDB implementation (fake-indexeddb) and a fake
// server that keeps incidents by Idempotency-Key, as the real one does.
import { describe, expect, it, beforeEach } from 'vitest'
import { IDBFactory } from 'fake-indexeddb'
import { ApiError } from './api'
import { Queue, idbStore, type IncidentBody, type Transport } from './queue'

const body = (title: string): IncidentBody => ({
  grid_id: 4,
  category: 'hazard',
  severity: 'medium',
  title,
  description: '楼道堆放杂物',
  lat: 31.23,
  lng: 121.47,
  coord_system: 'wgs84',
  occurred_at: '2026-11-29T08:00:00Z',
})

const photo = (byte: number) => ({ type: 'image/jpeg', data: new Uint8Array([0xff, 0xd8, byte]).buffer })

/** A server: incidents by key (a replay answers the first one), photos by content. */
class FakeServer implements Transport {
  online = true
  /** Fail this many `file` calls after the server has filed them (the answer is lost). */
  loseAnswers = 0
  refuse: ApiError | null = null
  incidents = new Map<string, { id: number; number: string; body: string }>()
  uploads = 0
  files = 0

  async upload(blob: Blob) {
    if (!this.online) throw new ApiError(0, 'network', 'offline')
    this.uploads++
    const bytes = new Uint8Array(await blob.arrayBuffer())
    return { id: 1000 + bytes[2] }
  }

  async file(body: IncidentBody & { media_ids: number[] }, key: string) {
    if (!this.online) throw new ApiError(0, 'network', 'offline')
    this.files++
    if (this.refuse) throw this.refuse
    const json = JSON.stringify(body)
    let incident = this.incidents.get(key)
    if (incident && incident.body !== json) throw new ApiError(422, 'idempotency_conflict', 'conflict')
    if (!incident) {
      incident = { id: this.incidents.size + 1, number: `SJ-${this.incidents.size + 1}`, body: json }
      this.incidents.set(key, incident)
    }
    if (this.loseAnswers > 0) {
      this.loseAnswers--
      throw new ApiError(0, 'network', 'answer lost')
    }
    return { id: incident.id, number: incident.number }
  }
}

describe('the incident queue', () => {
  let server: FakeServer
  let queue: Queue
  let factory: IDBFactory

  beforeEach(() => {
    factory = new IDBFactory()
    server = new FakeServer()
    queue = new Queue(idbStore(factory), server)
  })

  it('keeps reports filed offline and sends each once when the network returns', async () => {
    server.online = false
    const a = await queue.save(5, body('一号'), [photo(1)])
    const b = await queue.save(5, body('二号'), [])
    expect(a.key).toMatch(/^[0-9a-f]{32}$/)
    expect(a.key).not.toEqual(b.key)

    const offline = await queue.flush(5)
    expect(offline.sent).toHaveLength(0)
    expect(offline.waiting).toBe(2)
    const waiting = await queue.list(5)
    expect(waiting.map((d) => [d.key, d.state])).toEqual([
      [a.key, 'pending'],
      [b.key, 'pending'],
    ])

    server.online = true
    const online = await queue.flush(5)
    expect(online.sent.map((s) => s.key)).toEqual([a.key, b.key])
    expect(server.incidents.size).toBe(2)
    expect(await queue.list(5)).toEqual([])
    const filed = JSON.parse(server.incidents.get(a.key)!.body)
    expect(filed.media_ids).toEqual([1001])
    expect(filed.title).toBe('一号')
  })

  it('survives a reload: the drafts and their keys are in IndexedDB', async () => {
    server.online = false
    const saved = await queue.save(5, body('重启后'), [photo(2)])
    await queue.flush(5)
    const reopened = new Queue(idbStore(factory), server)
    const [draft] = await reopened.list(5)
    expect(draft.key).toBe(saved.key)
    expect(new Uint8Array(draft.photos[0].data)).toEqual(new Uint8Array([0xff, 0xd8, 2]))
    server.online = true
    await reopened.flush(5)
    expect([...server.incidents.keys()]).toEqual([saved.key])
  })

  it('sends the same key and body again when an answer was lost, filing nothing new', async () => {
    const draft = await queue.save(5, body('答复丢失'), [photo(3)])
    server.loseAnswers = 2
    expect((await queue.flush(5)).waiting).toBe(1)
    expect((await queue.flush(5)).waiting).toBe(1)
    const third = await queue.flush(5)
    expect(third.sent).toEqual([{ key: draft.key, id: 1, number: 'SJ-1' }])
    expect(server.files).toBe(3)
    expect(server.incidents.size).toBe(1)
    // The photo went up once; the later sends reused its id.
    expect(server.uploads).toBe(1)
  })

  it('marks a refused report failed with the server message, and goes on with the others', async () => {
    const bad = await queue.save(5, body('被拒'), [])
    server.refuse = new ApiError(422, 'validation_failed', '坐标不在网格附近')
    await queue.flush(5)
    server.refuse = null
    const good = await queue.save(5, body('正常'), [])
    const result = await queue.flush(5)
    expect(result.sent.map((s) => s.key)).toEqual([good.key])
    const [left] = await queue.list(5)
    expect(left).toMatchObject({ key: bad.key, state: 'failed', error: '坐标不在网格附近' })

    // Another try keeps the key.
    await queue.retry(bad.key)
    await queue.flush(5)
    expect(server.incidents.has(bad.key)).toBe(true)
    expect(await queue.list(5)).toEqual([])
  })

  it('waits on a busy server or an expired session instead of failing the draft', async () => {
    await queue.save(5, body('繁忙'), [])
    for (const err of [new ApiError(503, 'busy', '忙'), new ApiError(429, 'rate_limited', '慢'), new ApiError(401, 'unauthenticated', '登录')]) {
      server.refuse = err
      const r = await queue.flush(5)
      expect(r.waiting).toBe(1)
      expect((await queue.list(5))[0].state).toBe('pending')
    }
  })

  it('runs one pass at a time, and a draft saved during a pass goes in the pass after it', async () => {
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const slow: Transport = {
      upload: (b) => server.upload(b),
      file: async (b, k) => {
        await gate
        return server.file(b, k)
      },
    }
    const q = new Queue(idbStore(factory), slow)
    const first = await q.save(5, body('甲'), [])
    const p1 = q.flush(5)
    const second = await q.save(5, body('乙'), [])
    const p2 = q.flush(5)
    release()
    const [r1, r2] = await Promise.all([p1, p2])
    expect(r1).toBe(r2)
    expect(r1.sent.map((s) => s.key)).toEqual([first.key, second.key])
    expect(server.files).toBe(2)
  })

  it("keeps each person's drafts apart", async () => {
    server.online = false
    await queue.save(5, body('五'), [])
    await queue.save(6, body('六'), [])
    server.online = true
    await queue.flush(6)
    expect((await queue.list(5)).map((d) => d.body.title)).toEqual(['五'])
    expect(await queue.list(6)).toEqual([])
  })
})
