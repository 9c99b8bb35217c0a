// sluice upload page: drag-and-drop or pick files; each goes straight to S3 (presigned PUT, or
// presigned multipart for large files, parts retried) when the server allows it, else streams
// through sluice (PUT /api/drops/NAME). No framework, nothing fetched but this origin's API and
// the storage URLs the API signs. Every string from outside goes into the page as text.
'use strict';
(() => {
  const $ = (s) => document.querySelector(s);
  const MULTIPART_OVER = 16 * 1024 * 1024;   // direct: multipart above this size
  const PART_TRIES = 4;
  const BUSY_TRIES = 30;                      // 503 busy: retry this many times (Retry-After)
  let config = { direct: false, anonymous: false, max_size: 0, part_size: 8 << 20 };

  // ---- what this browser keeps ---------------------------------------------------------
  const store = {
    get(k, d) { try { const v = localStorage.getItem('sluice.' + k); return v === null ? d : v; } catch (e) { return d; } },
    set(k, v) { try { localStorage.setItem('sluice.' + k, v); } catch (e) { /* private mode */ } },
    keys() { try { return JSON.parse(this.get('delete-tokens', '{}')) || {}; } catch (e) { return {}; } },
    keep(id, token) { const k = this.keys(); k[id] = token; this.set('delete-tokens', JSON.stringify(k)); },
  };

  // ---- formatting ----------------------------------------------------------------------
  function bytes(n) {
    const u = ['B', 'KB', 'MB', 'GB', 'TB'];
    let i = 0;
    while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; }
    return (i ? n.toFixed(n < 10 ? 1 : 0) : n) + ' ' + u[i];
  }
  function duration(s) {
    if (!isFinite(s) || s < 0) return '';
    if (s < 60) return Math.ceil(s) + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min ' + Math.ceil(s % 60) + ' s';
    return Math.floor(s / 3600) + ' h ' + Math.ceil((s % 3600) / 60) + ' min';
  }
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // ---- HTTP ----------------------------------------------------------------------------
  function authHeaders() {
    const t = $('#token').value.trim();
    return t ? { Authorization: 'Bearer ' + t } : {};
  }
  // one XHR (fetch has no upload progress); resolves {status, body, xhr} whatever the status
  function send(up, method, url, body, headers, onProgress) {
    return new Promise((resolve) => {
      const x = new XMLHttpRequest();
      up.xhrs.add(x);
      x.open(method, url);
      for (const [k, v] of Object.entries(headers || {})) x.setRequestHeader(k, v);
      if (onProgress) x.upload.onprogress = (e) => onProgress(e.loaded);
      const end = () => { up.xhrs.delete(x); resolve({ status: x.status, body: x.responseText, xhr: x }); };
      x.onload = end; x.onerror = end; x.onabort = end; x.ontimeout = end;
      x.send(body === undefined ? null : body);
    });
  }
  function json(text) { try { return JSON.parse(text); } catch (e) { return null; } }
  async function api(up, method, url, obj, extra) {
    const h = Object.assign({ Accept: 'application/json' }, authHeaders(), extra || {});
    if (obj !== undefined) h['Content-Type'] = 'application/json';
    const r = await send(up, method, url, obj === undefined ? undefined : JSON.stringify(obj), h);
    r.json = json(r.body);
    return r;
  }

  // an answer that is not a success, in plain words
  function explain(r) {
    const e = (r.json && r.json.error) || '';
    if (r.status === 0) return 'The connection was lost.';
    if (r.status === 401) return 'This server needs a valid upload token (Settings).';
    if (r.status === 403) return 'Not allowed.';
    if (r.status === 413) return 'The file is too large' + (config.max_size ? ' (the limit is ' + bytes(config.max_size) + ').' : '.');
    if (r.status === 503 && e === 'busy') return 'The server is busy.';
    if (r.status >= 500) return 'The storage service had a problem (' + r.status + (e ? ', ' + e : '') + ').';
    return (r.json && r.json.message) || ('The server said ' + r.status + '.');
  }
  class Failure extends Error {
    constructor(r, retryable) { super(explain(r)); this.r = r; this.retryable = retryable; }
  }

  // ---- one file ------------------------------------------------------------------------
  class Upload {
    constructor(file) {
      this.file = file;
      this.xhrs = new Set();
      this.cancelled = false;
      this.render();
    }

    render() {
      const li = el('li', 'file');
      this.li = li;
      this.thumb = el('img', 'thumb');
      this.thumb.alt = '';
      this.thumb.hidden = true;
      const ph = el('div', 'thumb');
      this.ph = ph;
      li.append(this.file.type.startsWith('image/') ? this.preview() : ph);
      li.append(el('div', 'name', this.file.name));
      this.meta = el('div', 'meta', bytes(this.file.size));
      this.bar = el('progress');
      this.bar.max = 1; this.bar.value = 0;
      this.bar.setAttribute('aria-label', 'Upload progress of ' + this.file.name);
      this.state = el('div', 'state', 'Waiting…');
      this.actions = el('div', 'actions');
      this.cancelBtn = el('button', 'secondary', 'Cancel');
      this.cancelBtn.type = 'button';
      this.cancelBtn.onclick = () => this.cancel();
      this.actions.append(this.cancelBtn);
      li.append(this.meta, this.bar, this.state, this.actions);
      $('#files').prepend(li);
    }
    preview() {   // a local preview until the server's thumbnail is ready
      const img = this.thumb;
      img.hidden = false;
      try { img.src = URL.createObjectURL(this.file); } catch (e) { /* ignore */ }
      return img;
    }
    say(text, cls) {
      this.state.textContent = text;
      this.li.classList.remove('error', 'waiting', 'done');
      if (cls) this.li.classList.add(cls);
    }

    progress(sent) {
      const now = performance.now(), size = this.file.size;
      if (!this.t0) { this.t0 = now; this.samples = []; }
      this.samples.push([now, sent]);
      while (this.samples.length > 2 && now - this.samples[0][0] > 3000) this.samples.shift();
      const [t1, b1] = this.samples[0];
      const rate = now > t1 ? (sent - b1) / ((now - t1) / 1000) : 0;
      this.bar.value = size ? sent / size : 1;
      const pct = size ? Math.floor((100 * sent) / size) : 100;
      let text = bytes(sent) + ' of ' + bytes(size) + ' · ' + pct + '%';
      if (rate > 0) text += ' · ' + bytes(rate) + '/s · ' + duration((size - sent) / rate) + ' left';
      this.meta.textContent = text;
    }

    async start() {
      const mode = $('#path').value;
      const direct = mode === 'direct' || (mode === 'auto' && config.direct);
      this.say(direct ? 'Uploading straight to storage…' : 'Uploading…');
      for (let attempt = 1; ; attempt++) {
        try {
          const d = direct && !this.noDirect ? await this.direct() : await this.stream();
          return this.done(d);
        } catch (e) {
          if (this.cancelled) return;
          if (e.directUnavailable && mode === 'auto') {   // CORS or network: go through sluice
            this.noDirect = true;
            this.say('Storage not reachable from this browser: sending through the server…');
            continue;
          }
          if (e.retryable && attempt < BUSY_TRIES) {
            const wait = e.retryAfter || Math.min(2 ** attempt, 30);
            this.say(e.message + ' Trying again in ' + wait + ' s…', 'waiting');
            await this.sleep(wait * 1000);
            if (this.cancelled) return;
            this.say('Uploading…');
            continue;
          }
          return this.fail(e.message, e.r && e.r.status === 401);
        }
      }
    }
    sleep(ms) { return new Promise((r) => { this.timer = setTimeout(r, ms); }); }

    // through sluice: the body streams to S3 while it arrives
    async stream() {
      const h = Object.assign({ Accept: 'application/json',
                                'Content-Type': this.file.type || 'application/octet-stream' }, authHeaders());
      const r = await send(this, 'PUT', '/api/drops/' + encodeURIComponent(this.file.name), this.file, h,
                           (n) => this.progress(n));
      r.json = json(r.body);
      if (r.status === 201 && r.json) return r.json;
      const f = new Failure(r, r.status === 503 || r.status === 0 || r.status === 502 || r.status === 504);
      f.retryAfter = parseInt(r.xhr.getResponseHeader('Retry-After') || '0', 10) || 0;
      throw f;
    }

    // straight to S3, signed by sluice
    async direct() {
      if (this.file.size > MULTIPART_OVER) return this.multipart();
      const type = this.file.type || 'application/octet-stream';
      const r = await api(this, 'POST', '/api/uploads', { name: this.file.name, size: this.file.size,
                                                          content_type: type, mode: 'put' });
      if (r.status !== 201 || !r.json) throw new Failure(r, r.status === 503);
      this.reservation = r.json;
      const u = r.json.upload;
      const put = await send(this, 'PUT', u.url, this.file, u.headers || { 'Content-Type': type },
                             (n) => this.progress(n));
      if (put.status !== 200) {
        const f = new Failure(put, false);
        f.directUnavailable = put.status === 0;
        throw f;
      }
      // the upload token it was handed is what lets this browser, and nobody else, complete it
      const c = await api(this, 'POST', '/api/uploads/' + r.json.id + '/complete', undefined,
                          { 'X-Upload-Token': r.json.upload_token });
      if (c.status !== 201 || !c.json) throw new Failure(c, c.status === 503);
      c.json.delete_token = r.json.delete_token;
      this.reservation = null;
      return c.json;
    }

    async multipart() {
      const file = this.file, type = file.type || 'application/octet-stream';
      const r = await api(this, 'POST', '/s3/multipart', { filename: file.name, type });
      if (r.status !== 200 || !r.json) throw new Failure(r, r.status === 503);
      const m = r.json;
      this.mpu = m;
      const partSize = Math.max(config.part_size || 0, 8 << 20);
      const n = Math.max(1, Math.ceil(file.size / partSize));
      const done = new Array(n).fill(0), etags = new Array(n);
      const q = encodeURIComponent(m.key);
      let next = 0;
      const worker = async () => {
        while (next < n && !this.cancelled) {
          const i = next++;
          const blob = file.slice(i * partSize, Math.min(file.size, (i + 1) * partSize));
          for (let t = 1; ; t++) {
            const s = await api(this, 'GET', '/s3/multipart/' + encodeURIComponent(m.uploadId) + '/' + (i + 1) + '?key=' + q);
            let put = s;
            if (s.status === 200 && s.json) {
              put = await send(this, 'PUT', s.json.url, blob, {}, (b) => {
                done[i] = b; this.progress(done.reduce((a, x) => a + x, 0));
              });
              const etag = put.xhr.getResponseHeader('ETag');
              if (put.status === 200 && etag) { etags[i] = etag; done[i] = blob.size; break; }
              if (put.status === 200) { const f = new Failure(put, false); f.message = 'The storage does not show ETags to browsers (CORS).'; throw f; }
            }
            if (this.cancelled) return;
            if (t >= PART_TRIES) {
              const f = new Failure(put, false);
              f.directUnavailable = put.status === 0 && i === 0 && t === PART_TRIES;
              throw f;
            }
            done[i] = 0;
            await this.sleep(500 * 2 ** t);
          }
        }
      };
      try {
        await Promise.all([worker(), worker(), worker()]);
      } catch (e) {
        this.abortMultipart();
        throw e;
      }
      if (this.cancelled) return null;
      const parts = etags.map((ETag, i) => ({ PartNumber: i + 1, ETag }));
      const c = await api(this, 'POST', '/s3/multipart/' + encodeURIComponent(m.uploadId) + '/complete?key=' + q, { parts });
      if (c.status !== 200) { this.abortMultipart(); throw new Failure(c, false); }
      this.mpu = null;
      return { id: m.id, url: m.share_url, delete_token: m.delete_token, name: file.name, size: file.size,
               thumbnail_url: file.type.startsWith('image/') ? '/d/' + m.id + '/thumbnail' : null };
    }
    abortMultipart() {
      const m = this.mpu;
      if (!m) return;
      this.mpu = null;
      fetch('/s3/multipart/' + encodeURIComponent(m.uploadId) + '?key=' + encodeURIComponent(m.key),
            { method: 'DELETE', headers: authHeaders() }).catch(() => {});
    }

    done(d) {
      if (!d) return;
      this.cancelBtn.remove();
      this.bar.value = 1;
      this.meta.textContent = bytes(this.file.size) + ' · done';
      this.say('Uploaded. Anyone with the link can download it.', 'done');
      if (d.delete_token) store.keep(d.id, d.delete_token);
      const link = el('div', 'link');
      const input = el('input');
      input.readOnly = true;
      input.value = d.url;
      input.setAttribute('aria-label', 'Share link for ' + this.file.name);
      input.onfocus = () => input.select();
      const copy = el('button', '', 'Copy link');
      copy.type = 'button';
      copy.onclick = async () => {
        try { await navigator.clipboard.writeText(d.url); } catch (e) { input.select(); document.execCommand('copy'); }
        copy.textContent = 'Copied';
        setTimeout(() => { copy.textContent = 'Copy link'; }, 1500);
      };
      const open = el('a', 'button', 'Open');
      open.href = d.url;
      open.className = 'button secondary-link';
      link.append(input, copy, open);
      this.actions.replaceWith(link);
      if (d.thumbnail_url) this.waitThumbnail(d.thumbnail_url, 0);
    }
    // thumbnails are made after the reply: ask until it is there
    waitThumbnail(url, n) {
      const img = new Image();
      img.onload = () => { this.thumb.src = img.src; this.thumb.hidden = false; this.thumb.classList.add('ready'); this.li.dataset.thumbnail = 'ready'; };
      img.onerror = () => { if (n < 30) setTimeout(() => this.waitThumbnail(url, n + 1), 1000); };
      img.src = url + (url.includes('?') ? '&' : '?') + 't=' + n;
    }
    fail(message, auth) {
      this.say(message, 'error');
      this.cancelBtn.textContent = 'Remove';
      this.cancelBtn.onclick = () => this.li.remove();
      const retry = el('button', '', 'Try again');
      retry.type = 'button';
      retry.onclick = () => { retry.remove(); this.cancelBtn.textContent = 'Cancel'; this.cancelBtn.onclick = () => this.cancel(); this.start(); };
      this.actions.prepend(retry);
      if (auth) { $('#settings').open = true; $('#token').focus(); }
    }
    cancel() {
      this.cancelled = true;
      clearTimeout(this.timer);
      for (const x of this.xhrs) x.abort();
      this.abortMultipart();
      const rv = this.reservation;   // a direct PUT's reservation: remove it now, not at its TTL
      if (rv && rv.upload_token) {
        this.reservation = null;
        fetch('/api/uploads/' + encodeURIComponent(rv.id),
              { method: 'DELETE', headers: Object.assign({ 'X-Upload-Token': rv.upload_token }, authHeaders()) }).catch(() => {});
      }
      this.say('Cancelled.', 'error');
      this.cancelBtn.textContent = 'Remove';
      this.cancelBtn.onclick = () => this.li.remove();
    }
  }

  // ---- the page ------------------------------------------------------------------------
  function add(files) {
    for (const f of files) new Upload(f).start();
  }
  function init() {
    $('#token').value = store.get('token', '');
    $('#token').addEventListener('change', (e) => store.set('token', e.target.value.trim()));
    $('#path').value = store.get('path', 'auto');
    $('#path').addEventListener('change', (e) => store.set('path', e.target.value));
    $('#pick').addEventListener('change', (e) => { add(e.target.files); e.target.value = ''; });
    let depth = 0;
    document.addEventListener('dragenter', (e) => { e.preventDefault(); depth++; document.body.classList.add('dragging'); });
    document.addEventListener('dragleave', () => { if (--depth <= 0) { depth = 0; document.body.classList.remove('dragging'); } });
    document.addEventListener('dragover', (e) => e.preventDefault());
    document.addEventListener('drop', (e) => {
      e.preventDefault();
      depth = 0;
      document.body.classList.remove('dragging');
      if (e.dataTransfer && e.dataTransfer.files.length) add(e.dataTransfer.files);
    });
    fetch('/api/config', { headers: { Accept: 'application/json' } })
      .then((r) => (r.ok ? r.json() : null))
      .then((c) => {
        if (!c) return;
        config = Object.assign(config, c);
        if (c.max_size) $('#limit').textContent = 'Up to ' + bytes(c.max_size) + ' per file.';
        if (!c.anonymous && !$('#token').value) $('#settings').open = true;
      })
      .catch(() => {
        const m = $('#message');
        m.hidden = false;
        m.textContent = 'The server does not answer. Uploads may fail.';
      });
  }
  init();
})();
