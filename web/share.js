// sluice share page: the owner's delete button. The delete key was kept by the upload page in
// this browser's storage; nobody else sees the button (and the server checks the key anyway).
'use strict';
(() => {
  const btn = document.getElementById('delete');
  const status = document.getElementById('status');
  if (!btn) return;
  let keys = {};
  try { keys = JSON.parse(localStorage.getItem('sluice.delete-tokens') || '{}') || {}; } catch (e) { /* none */ }
  const id = btn.dataset.id, token = keys[id];
  if (!token) return;
  btn.hidden = false;
  btn.className = 'danger';
  btn.addEventListener('click', async () => {
    if (!window.confirm('Delete this file for everyone?')) return;
    btn.disabled = true;
    status.textContent = 'Deleting…';
    let r;
    try {
      r = await fetch('/api/drops/' + encodeURIComponent(id), { method: 'DELETE', headers: { 'X-Delete-Token': token } });
    } catch (e) {
      r = { status: 0 };
    }
    if (r.status === 204 || r.status === 404) {
      delete keys[id];
      try { localStorage.setItem('sluice.delete-tokens', JSON.stringify(keys)); } catch (e) { /* ignore */ }
      status.textContent = 'Deleted. The link no longer works.';
      const dl = document.getElementById('download');
      if (dl) dl.remove();
      btn.remove();
    } else {
      btn.disabled = false;
      status.textContent = r.status ? 'Could not delete (' + r.status + ').' : 'The connection was lost.';
    }
  });
})();
