/* global document, EventSource */
// The overview follows /api/overview/events: environment cards (rendered and escaped by the server)
// replace themselves when they change.

const live = document.getElementById('live');
const source = new EventSource('/api/overview/events');
source.addEventListener('open', () => live?.classList.add('on'));
source.addEventListener('error', () => live?.classList.remove('on'));
source.addEventListener('overview', (event) => {
  const data = JSON.parse(event.data);
  for (const [env, html] of Object.entries(data.cards)) {
    const card = document.getElementById(`env-${env}`);
    if (card && card.outerHTML !== html) card.outerHTML = html;
  }
  const recent = document.getElementById('recent');
  if (recent && recent.innerHTML !== data.recent) recent.innerHTML = data.recent;
  document.body.dataset.updated = String(Number(document.body.dataset.updated ?? 0) + 1);
});
