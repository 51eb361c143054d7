// Dates and labels as people here read them: Beijing time, Chinese names for the keys.
const TZ = 'Asia/Shanghai'

export function dateTime(iso: string | null | undefined): string {
  if (!iso) return ''
  const d = new Date(iso)
  const parts = new Intl.DateTimeFormat('zh-CN', {
    timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false,
  }).formatToParts(d)
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? ''
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}`
}

/** "3 分钟前", "2 小时后"… for times near now; the date otherwise. */
export function relative(iso: string, now = Date.now()): string {
  const diff = new Date(iso).getTime() - now
  const mins = Math.round(Math.abs(diff) / 60000)
  const side = diff < 0 ? '前' : '后'
  if (mins < 1) return '刚刚'
  if (mins < 60) return `${mins} 分钟${side}`
  if (mins < 24 * 60) return `${Math.round(mins / 60)} 小时${side}`
  return dateTime(iso)
}

export const STARS: Record<string, string> = {
  strong_branch: '支部过硬星',
  thriving_industry: '产业兴旺星',
  eco_livable: '生态宜居星',
  safe_lawful: '平安法治星',
  civil_happy: '文明幸福星',
}

export const LEDGER_KINDS: Record<string, string> = {
  task: '完成任务',
  volunteer: '志愿服务',
  adjust: '积分调整',
  redeem: '积分兑换',
  refund: '兑换退回',
}

export const CATEGORIES: Record<string, string> = {
  event: '事件',
  dispute: '矛盾纠纷',
  hazard: '安全隐患',
  environment: '环境问题',
  other: '其他',
}

// The labels of the server's ledger export (src/incidents/domain.rs), so both read alike.
export const SEVERITIES: Record<string, string> = { low: '低', medium: '中', high: '高' }

export const INCIDENT_STATUS: Record<string, string> = {
  reported: '已上报',
  accepted: '已受理',
  assigned: '已分派',
  in_progress: '处置中',
  resolved: '已办结',
  closed: '已销号',
  rejected: '不予受理',
  escalated: '已上报乡镇',
}

export const SLA: Record<string, string> = { ok: '正常', warning: '临期', overdue: '超期' }

export const INCIDENT_ACTIONS: Record<string, string> = {
  report: '上报',
  accept: '受理',
  assign: '分派',
  start: '开始处置',
  resolve: '办结',
  close: '销号',
  escalate: '上报乡镇',
  auto_escalate: '超期自动上报乡镇',
  reopen: '重新处置',
  reject: '不予受理',
  extend: '延期',
  feedback: '群众评价',
}

export const REDEMPTION_STATUS: Record<string, string> = {
  reserved: '待领取',
  fulfilled: '已领取',
  cancelled: '已取消',
  expired: '已过期',
}

export const CARD_STATUS: Record<string, string> = {
  claimed: '进行中',
  submitted: '待审核',
  approved: '已通过',
  rejected: '未通过',
  released: '已放弃',
  expired: '已超时',
}

export function minutes(total: number): string {
  const h = Math.floor(total / 60)
  const m = total % 60
  return h ? (m ? `${h} 小时 ${m} 分` : `${h} 小时`) : `${m} 分钟`
}
