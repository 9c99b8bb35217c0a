// The test page: a stock Uppy with @uppy/aws-s3 pointed at sluice's Companion-style routes.
// Bundled by esbuild into page.bundle.js; the test drives window.sluiceUpload from Chromium.
import Uppy from '@uppy/core'
import AwsS3 from '@uppy/aws-s3'

function bytes (size) {
  const data = new Uint8Array(size)
  let x = size >>> 0
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0
    data[i] = x >>> 24
  }
  return data
}

async function sha256 (data) {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', data))
  return Array.from(d, b => b.toString(16).padStart(2, '0')).join('')
}

// upload size bytes named name; cancelAfterPart: cancel after the first part is in S3
window.sluiceUpload = async (endpoint, name, size, cancelAfterPart) => {
  const data = bytes(size)
  const digest = await sha256(data)
  const uppy = new Uppy({ autoProceed: false })
  uppy.use(AwsS3, {
    companionEndpoint: endpoint,
    shouldUseMultipart: file => file.size > 10 * 1024 * 1024
  })
  uppy.addFile({ name, type: 'application/octet-stream', data: new Blob([data]) })
  if (cancelAfterPart) {
    return await new Promise(resolve => {
      uppy.on('s3-multipart:part-uploaded', () => {
        uppy.cancelAll()
        setTimeout(() => resolve({ digest, cancelled: true }), 1000)
      })
      uppy.upload()
    })
  }
  const result = await uppy.upload()
  return {
    digest,
    successful: result.successful.map(f => ({
      name: f.name, uploadURL: f.uploadURL, key: f.s3Multipart && f.s3Multipart.key, response: f.response
    })),
    failed: result.failed.map(f => String(f.error))
  }
}
