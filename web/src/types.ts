// The shapes of the API's answers the pages read (CONTRACT.md).
import type { Media } from './api'

export interface CardTask {
  id: number
  title: string
  description: string
  star: string
  points: number
  volunteer_minutes: number
  requires_photo: boolean
}

export interface Card {
  id: number
  status: string
  holder_name: string
  task: CardTask | null
  claim_expires_at: string
  submitted_at: string | null
  note: string | null
  review_comment: string | null
  reviewer_name: string | null
  media: Media[]
}

export interface Points {
  balance: number
  earned_total: number
  volunteer_minutes_total: number
  by_star: Record<string, number>
}

export interface ShopItem {
  id: number
  name: string
  description: string
  points_cost: number
  stock_left: number
  my_remaining: number | null
  donor: string | null
  media: Media[]
}

export interface Redemption {
  id: number
  code: string
  code_qr: string
  status: string
  item_name: string
  quantity: number
  points: number
  expires_at: string
  created_at: string
  user_name: string
}

/** A photo taken on the page: the compressed JPEG and a preview address. */
export interface Picked {
  blob: Blob
  url: string
}

export interface TimelineEvent {
  action: string
  from_status: string | null
  to_status: string | null
  actor_name: string | null
  note: string | null
  media: Media[]
  at: string
}

export interface Incident {
  id: number
  number: string
  grid_id: number
  owner_org_id: number
  category: string
  severity: string
  title: string
  description: string
  address: string | null
  lat: number
  lng: number
  status: string
  reporter_id: number
  reporter_name: string
  assignee_id: number | null
  assignee_name: string | null
  media: Media[]
  created_at: string
  closed_at: string | null
  due_at: string | null
  sla: string | null
  extended: boolean
  timeline?: TimelineEvent[]
  allowed_actions?: string[]
}
