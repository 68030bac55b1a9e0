/* global document, fetch, location, CustomEvent, Element */
// Actions (abort, promote, roll back) with a confirmation dialog. Requests go to the JSON API with the
// session cookie and the page's CSRF token; the API checks roles again, so a hidden button is a
// convenience, not the defence.

const csrf = document.querySelector('meta[name="runway-csrf"]')?.getAttribute('content') ?? '';

export async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', 'x-runway-csrf': csrf },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(json.error || `${res.status} ${res.statusText}`);
  return json;
}

const ACTIONS = {
  abort: (el) => ({
    title: `Abort deploy ${el.dataset.deploy}?`,
    text: 'In-flight operations finish (one per machine); nothing new starts. The deploy ends aborted (or rolls back, per its on_failure).',
    ok: 'Abort deploy',
    run: (reason) => api('POST', `/api/deploys/${encodeURIComponent(el.dataset.deploy)}/abort`, { reason }),
  }),
  promote: (el) => ({
    title: `Promote deploy ${el.dataset.deploy}?`,
    text: 'Traffic moves to the green machines in one cutover; the blue ones are drained and destroyed.',
    ok: 'Promote',
    run: (reason) => api('POST', `/api/deploys/${encodeURIComponent(el.dataset.deploy)}/promote`, { reason }),
  }),
  rollback: (el) => ({
    title: `Roll back ${el.dataset.env}?`,
    text: `Deploys the previous good release to ${el.dataset.env} with its rollback strategy. You will be responsible for it.`,
    ok: 'Roll back',
    run: async (reason) => {
      const r = await api('POST', `/api/environments/${encodeURIComponent(el.dataset.env)}/rollback`, { reason });
      if (r.deploy?.id) location.href = `/dashboard/deploys/${r.deploy.id}`;
      return r;
    },
  }),
};

const dialog = document.getElementById('confirm');

function confirmAction(spec) {
  document.getElementById('confirm-title').textContent = spec.title;
  document.getElementById('confirm-text').textContent = spec.text;
  const ok = document.getElementById('confirm-ok');
  ok.textContent = spec.ok;
  const reason = document.getElementById('confirm-reason');
  reason.value = '';
  const error = document.getElementById('confirm-error');
  error.hidden = true;
  dialog.showModal();
  const onOk = async (event) => {
    event.preventDefault();
    ok.disabled = true;
    try {
      await spec.run(reason.value.trim() || undefined);
      dialog.close('done');
      document.dispatchEvent(new CustomEvent('runway:acted'));
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    } finally {
      ok.disabled = false;
    }
  };
  ok.addEventListener('click', onOk);
  dialog.addEventListener('close', () => ok.removeEventListener('click', onOk), { once: true });
}

document.addEventListener('click', (event) => {
  const el = event.target instanceof Element ? event.target.closest('button[data-action]') : null;
  if (!el || !ACTIONS[el.dataset.action]) return;
  event.preventDefault();
  confirmAction(ACTIONS[el.dataset.action](el));
});

export function fmtDuration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)}s`;
  const m = Math.floor(s / 60);
  const rest = Math.round(s - m * 60);
  if (m < 60) return `${m}m${String(rest).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
