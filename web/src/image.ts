// Photos are made smaller on the phone before they go up: long side at most 2048 px (what
// the server keeps anyway), JPEG at quality 0.85. A 12-megapixel camera photo of 4-6 MB
// becomes about 0.5 MB, which matters on one bar of signal.
export const MAX_SIDE = 2048

export function fitWithin(width: number, height: number, max = MAX_SIDE): { width: number; height: number } {
  const scale = Math.min(1, max / Math.max(width, height))
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) }
}

async function decode(file: Blob): Promise<CanvasImageSource & { width: number; height: number }> {
  if ('createImageBitmap' in globalThis) {
    try {
      // The camera's EXIF orientation is applied, so the canvas holds the photo upright.
      return await createImageBitmap(file, { imageOrientation: 'from-image' })
    } catch {
      /* an older WebView: fall back to an <img> */
    }
  }
  const url = URL.createObjectURL(file)
  try {
    const img = new Image()
    img.src = url
    await img.decode()
    return Object.assign(img, { width: img.naturalWidth, height: img.naturalHeight })
  } finally {
    URL.revokeObjectURL(url)
  }
}

/** The photo as a JPEG no larger than 2048 px on its long side. */
export async function compress(file: Blob, quality = 0.85): Promise<Blob> {
  const source = await decode(file)
  const size = fitWithin(source.width, source.height)
  const canvas = document.createElement('canvas')
  canvas.width = size.width
  canvas.height = size.height
  const ctx = canvas.getContext('2d')
  if (!ctx) return file
  ctx.imageSmoothingQuality = 'high'
  ctx.drawImage(source, 0, 0, size.width, size.height)
  if ('close' in source && typeof source.close === 'function') source.close()
  const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/jpeg', quality))
  if (!blob) throw new Error('图片压缩失败')
  return blob
}
