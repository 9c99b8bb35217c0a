// The upload page (web/) and the share pages in Debian's headless Chromium (playwright-core):
//   node webpage.mjs BASE_URL TOKEN SHOTS_DIR
// Prints "ok - ..." / "not ok - ..." lines (tests/integration/test_webpage.sh counts them).
import { chromium } from 'playwright-core'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import net from 'node:net'

const [base, token, shots, jpegPath] = process.argv.slice(2)
const XSS = '<img src=x onerror=alert(1)>.png'
const BIG = 50 * 1024 * 1024
let failed = 0
const ok = (cond, desc, why = '') => {
  if (!cond) failed++
  console.log((cond ? 'ok - ' : 'not ok - ') + desc + (cond || !why ? '' : ': ' + why))
}
const sha = (buf) => createHash('sha256').update(buf).digest('hex')
// the same bytes as the page makes for big.bin
const bigBytes = () => {
  const a = new Uint8Array(BIG)
  for (let i = 0; i < BIG; i++) a[i] = (Math.imul(i, 2654435761) >>> 24) & 255
  return a
}
const BIG_SHA = sha(bigBytes())
const JPEG = readFileSync(jpegPath)
const JPEG_SHA = sha(JPEG)

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync']
})

async function newPage (ctx, problems) {
  const page = await ctx.newPage()
  page.on('pageerror', (e) => problems.push('page error: ' + e.message))
  page.on('dialog', (d) => {
    if (d.type() === 'alert') problems.push('an alert ran: ' + d.message())
    d.accept()
  })
  return page
}

// files dropped onto the page: made inside the page (50 MiB through the driver is slow)
async function dropFiles (page, jpegB64, names) {
  await page.evaluate(([b64, big, xss, names]) => {
    const dt = new DataTransfer()
    const jpeg = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))
    if (names.includes('image')) dt.items.add(new File([jpeg], xss, { type: 'image/jpeg' }))
    if (names.includes('big')) {
      const a = new Uint8Array(big)
      for (let i = 0; i < big; i++) a[i] = (Math.imul(i, 2654435761) >>> 24) & 255
      dt.items.add(new File([a], 'big.bin', { type: 'application/octet-stream' }))
    }
    if (names.includes('text')) dt.items.add(new File(['hello from the browser\n'], 'notes.txt', { type: 'text/plain' }))
    document.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true, cancelable: true }))
    document.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }))
  }, [jpegB64, BIG, XSS, names])
}

const rows = (page) => page.evaluate(() => [...document.querySelectorAll('#files li')].map((li) => ({
  name: li.querySelector('.name').textContent,
  state: li.querySelector('.state') ? li.querySelector('.state').textContent : '',
  url: li.querySelector('.link input') ? li.querySelector('.link input').value : null,
  progress: li.querySelector('progress') ? li.querySelector('progress').value : null,
  thumb: li.dataset.thumbnail || null
})))

async function download (url) {
  const r = await fetch(url + '/download', { redirect: 'follow' })
  return { status: r.status, sha: sha(Buffer.from(await r.arrayBuffer())), cd: r.headers.get('content-disposition') }
}

async function run (path, viewport, label) {
  const problems = []
  const ctx = await browser.newContext({ viewport })
  const page = await newPage(ctx, problems)
  await page.goto(base + '/')
  await page.fill('#token', token)
  await page.dispatchEvent('#token', 'change')
  await page.selectOption('#path', path)
  // slow the browser's uploads down so progress can be seen (and photographed)
  const cdp = await ctx.newCDPSession(page)
  await cdp.send('Network.emulateNetworkConditions',
    { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 12 * 1024 * 1024 })
  await dropFiles(page, JPEG.toString('base64'), ['image', 'big', 'text'])
  ok((await rows(page)).length === 3, `${label}: three dropped files, three rows`)
  // progress advances: two readings of the big file's bar between 0 and 1, the second higher
  const seen = []
  let meta = ''
  const t0 = Date.now()
  while (Date.now() - t0 < 60000) {
    const big = (await rows(page)).find((r) => r.name === 'big.bin')
    if (big && big.progress > 0 && big.progress < 1) {
      seen.push(big.progress)
      meta = await page.textContent('#files li:has-text("big.bin") .meta')
    }
    if (seen.length === 3) await page.screenshot({ path: `${shots}/upload-${label}.png`, fullPage: true })
    if (big && big.url) break
    await page.waitForTimeout(100)
  }
  ok(seen.length >= 2 && seen[seen.length - 1] > seen[0], `${label}: the big file's progress advances`,
    JSON.stringify(seen.slice(0, 5)))
  await page.waitForFunction(() => [...document.querySelectorAll('#files li')].every((li) => li.querySelector('.link input')), null, { timeout: 120000 })
    .catch(() => {})
  const done = await rows(page)
  ok(done.every((r) => r.url && r.url.startsWith(base + '/d/')), `${label}: every file has its share link`, JSON.stringify(done))
  // mid-upload: "4.2 MB of 52 MB · 8% · 13 MB/s · 4 s left"
  ok(/ of .*·.*\d+%.*\/s.*left/.test(meta), `${label}: bytes, percent, speed and time left shown`, meta)
  const img = done.find((r) => r.name === XSS)
  const big = done.find((r) => r.name === 'big.bin')
  const txt = done.find((r) => r.name === 'notes.txt')
  ok(img && img.name === XSS, `${label}: the hostile file name is shown as text`)
  // thumbnails appear on the upload page once made
  await page.waitForFunction(() => document.querySelector('#files li[data-thumbnail=ready]'), null, { timeout: 30000 }).catch(() => {})
  ok((await rows(page)).some((r) => r.name === XSS && r.thumb === 'ready'), `${label}: the image's thumbnail appears`)
  // downloads are byte-identical, and attachments
  if (big) {
    const d = await download(big.url)
    ok(d.status === 200 && d.sha === BIG_SHA, `${label}: 50 MiB download byte-identical`, JSON.stringify(d))
  }
  if (img) {
    const d = await download(img.url)
    ok(d.status === 200 && d.sha === JPEG_SHA, `${label}: image download byte-identical`, JSON.stringify(d))
    ok(/^attachment/.test(d.cd || ''), `${label}: downloads are attachments`, d.cd)
  }
  // the share page of the image: name as text, thumbnail, meta tags, no script of the name
  if (img) {
    const share = await newPage(ctx, problems)
    await share.goto(img.url)
    ok((await share.textContent('h1')) === XSS, `${label}: share page shows the name as text`)
    ok(await share.$('img[src="x"]') === null, `${label}: no <img src=x> injected on the share page`)
    await share.waitForFunction(() => { const i = document.querySelector('img.thumb'); return i && i.complete && i.naturalWidth > 0 }, null, { timeout: 30000 }).catch(() => {})
    ok(await share.evaluate(() => { const i = document.querySelector('img.thumb'); return !!i && i.naturalWidth > 0 }), `${label}: share page shows the thumbnail`)
    const og = await share.evaluate(() => Object.fromEntries([...document.querySelectorAll('meta[property^="og:"],meta[name^="twitter:"]')].map((m) => [m.getAttribute('property') || m.getAttribute('name'), m.content])))
    ok(og['og:title'] === XSS && /\/thumbnail$/.test(og['og:image'] || '') && og['twitter:card'], `${label}: link-preview meta tags`, JSON.stringify(og))
    await share.setViewportSize({ width: 1280, height: 800 })
    await share.screenshot({ path: `${shots}/share-desktop-${label}.png`, fullPage: true })
    await share.setViewportSize({ width: 390, height: 844 })
    await share.screenshot({ path: `${shots}/share-phone-${label}.png`, fullPage: true })
    await share.close()
  }
  // the owner deletes the text file from its share page
  if (txt) {
    const share = await newPage(ctx, problems)
    await share.goto(txt.url)
    const del = await share.$('#delete:not([hidden])')
    ok(!!del, `${label}: the owner sees a delete button`)
    if (del) {
      await del.click()
      await share.waitForFunction(() => /Deleted/.test(document.getElementById('status').textContent), null, { timeout: 15000 }).catch(() => {})
      ok(/Deleted/.test(await share.textContent('#status')), `${label}: delete from the share page`)
      ok((await fetch(txt.url)).status === 404, `${label}: a deleted drop is gone`)
    }
    await share.close()
    // someone else (a fresh browser) sees no delete button
    const other = await browser.newContext()
    const op = await other.newPage()
    await op.goto(big.url)
    ok(await op.$('#delete:not([hidden])') === null, `${label}: nobody else sees the delete button`)
    await other.close()
  }
  ok(problems.length === 0, `${label}: no page error, no alert`, problems.join('; '))
  await ctx.close()
}

// every upload slot held by two slow raw uploads: the page says "busy" in plain words, retries
// by itself, and gets through once a slot is free
async function busy () {
  const problems = []
  const held = []
  const u = new URL(base)
  for (let i = 0; i < 2; i++) {
    const s = net.connect(Number(u.port), u.hostname)
    s.on('error', () => {})
    s.write(`PUT /api/drops/held${i} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Length: 1000000\r\n\r\nx`)
    held.push(s)
  }
  for (let i = 0; i < 100; i++) {
    const m = await (await fetch(base + '/metrics', { headers: { Authorization: 'Bearer ' + process.env.SLUICE_METRICS_TOKEN } })).text()
    if (/^sluice_slots_in_use 2$/m.test(m)) break
    await new Promise((r) => setTimeout(r, 100))
  }
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } })
  const page = await newPage(ctx, problems)
  await page.goto(base + '/')
  await page.fill('#token', token)
  await page.dispatchEvent('#token', 'change')
  await page.selectOption('#path', 'stream')
  await dropFiles(page, '', ['text'])
  await page.waitForFunction(() => /busy/i.test(document.querySelector('#files .state').textContent), null, { timeout: 15000 }).catch(() => {})
  const said = await page.textContent('#files .state')
  ok(/busy/i.test(said) && /again/i.test(said), 'slots full: a readable message with a retry', said)
  await page.screenshot({ path: `${shots}/upload-busy.png` })
  for (const s of held) s.destroy()
  await page.waitForFunction(() => document.querySelector('#files .link input'), null, { timeout: 30000 }).catch(() => {})
  ok(!!(await page.$('#files .link input')), 'slots full: succeeds on retry once a slot is free')
  ok(problems.length === 0, 'slots full: no page error', problems.join('; '))
  await ctx.close()
}

// a wrong token is said in plain words; a cancelled upload stops and leaves nothing
async function refusals () {
  const problems = []
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } })
  const page = await newPage(ctx, problems)
  await page.goto(base + '/')
  await page.fill('#token', 'not-the-token')
  await page.dispatchEvent('#token', 'change')
  await page.selectOption('#path', 'stream')
  await dropFiles(page, '', ['text'])
  await page.waitForFunction(() => document.querySelector('#files li.error'), null, { timeout: 15000 }).catch(() => {})
  const said = await page.textContent('#files .state')
  ok(/token/i.test(said), 'a wrong token: said in plain words', said)
  ok(await page.evaluate(() => document.activeElement && document.activeElement.id === 'token'), 'a wrong token: the token field gets the focus')
  await page.fill('#token', token)
  await page.dispatchEvent('#token', 'change')
  const cdp = await ctx.newCDPSession(page)
  await cdp.send('Network.emulateNetworkConditions',
    { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 2 * 1024 * 1024 })
  await dropFiles(page, '', ['big'])
  await page.waitForFunction(() => { const p = document.querySelector('#files li progress'); return p && p.value > 0.05 }, null, { timeout: 30000 }).catch(() => {})
  await page.click('#files li:first-child .actions button:has-text("Cancel")')
  const st = await page.textContent('#files li:first-child .state')
  ok(/Cancelled/.test(st), 'cancel: the upload stops', st)
  let free = false
  for (let i = 0; i < 100 && !free; i++) {
    free = /^sluice_slots_in_use 0$/m.test(await (await fetch(base + '/metrics', { headers: { Authorization: 'Bearer ' + process.env.SLUICE_METRICS_TOKEN } })).text())
    if (!free) await new Promise((r) => setTimeout(r, 100))
  }
  ok(free, 'cancel: the server rolled it back (slot free)')
  ok(problems.length === 0, 'refusals: no page error', problems.join('; '))
  await ctx.close()
}

try {
  await refusals()
  await run('direct', { width: 1280, height: 800 }, 'desktop')
  await run('stream', { width: 390, height: 844 }, 'phone')
  await busy()
} catch (e) {
  ok(false, 'the browser run', e.stack)
} finally {
  await browser.close()
}
console.log(failed ? `${failed} browser checks failed` : 'all browser checks passed')
