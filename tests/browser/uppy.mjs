// Drives a real Uppy in headless Chromium (Debian's /usr/bin/chromium, via playwright-core).
//   node uppy.mjs PAGE_URL ENDPOINT NAME SIZE [cancel]  -> prints the page's result as JSON
import { chromium } from 'playwright-core'

const [pageUrl, endpoint, name, size, cancel] = process.argv.slice(2)
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync']
})
try {
  const page = await browser.newPage()
  const log = []
  page.on('console', m => log.push(m.text()))
  await page.goto(pageUrl)
  const result = await page.evaluate(
    ([e, n, s, c]) => window.sluiceUpload(e, n, s, c), [endpoint, name, Number(size), cancel === 'cancel'])
  result.console = log
  console.log(JSON.stringify(result))
} finally {
  await browser.close()
}
