// clipsearch - the page's behaviour. Plain JS, no framework, no network
// beyond this server's own API.
'use strict';

// Results per page: 30, or the deep link's k (e.g. /?q=cat&k=12).
const PAGE = (() => {
  const k = Number(new URLSearchParams(location.search).get('k'));
  return Number.isInteger(k) && k >= 1 && k <= 200 ? k : 30;
})();
const $ = (id) => document.getElementById(id);
const els = {
  form: $('search'), q: $('q'), file: $('file'), status: $('status'), grid: $('grid'),
  more: $('more'), empty: $('empty'), drop: $('drop'), stats: $('stats'),
  chip: $('chip'), chipImg: $('chip-img'), chipLabel: $('chip-label'), chipClear: $('chip-clear'),
  viewer: $('viewer'), vImg: $('v-img'), vName: $('v-name'), vInfo: $('v-info'),
  vOpen: $('v-open'), vSimilar: $('v-similar'), vPrev: $('v-prev'), vNext: $('v-next'),
  vClose: $('v-close'),
};

// What is being searched: {kind: 'text'|'image'|'similar', text, blob, id, name}
let query = null;
let results = [];   // every result shown so far
let offset = 0;
let seq = 0;        // ignores replies to superseded searches
let viewing = -1;   // index in results of the open image, or -1
let chipUrl = null; // object URL of the image in the query chip

// ---- talking to the API ----------------------------------------------------

async function fetchPage(q, from) {
  const params = new URLSearchParams({k: String(PAGE), offset: String(from)});
  let res;
  if (q.kind === 'similar') {
    res = await fetch(`/api/similar/${q.id}?${params}`);
  } else if (q.kind === 'image') {
    if (q.text) params.set('q', q.text);
    res = await fetch(`/api/search?${params}`, {
      method: 'POST',
      headers: {'Content-Type': q.blob.type || 'application/octet-stream'},
      body: q.blob,
    });
  } else {
    params.set('q', q.text);
    res = await fetch(`/api/search?${params}`);
  }
  let data = null;
  try { data = await res.json(); } catch (e) { /* not JSON: handled below */ }
  if (!res.ok) throw new Error((data && data.error) || `the server answered ${res.status}`);
  // a reloaded ?similar=ID knows only the id: the answer names the image
  if (q.kind === 'similar' && !q.name && data.query) q.name = data.query.name;
  return data;
}

// ---- searching ---------------------------------------------------------------

function describe(q) {
  if (q.kind === 'similar') return `images similar to ${q.name || '#' + q.id}`;
  if (q.kind === 'image') return q.text ? `your image + “${q.text}”` : 'your image';
  return `“${q.text}”`;
}

const imageQueries = new Map(); // history key -> image query, for Back/Forward
let imageKeys = 0;

function syncUrl(q, push) {
  const url = new URL(location.href);
  url.search = '';
  if (q && q.kind === 'text') url.searchParams.set('q', q.text);
  if (q && q.kind === 'similar') url.searchParams.set('similar', String(q.id));
  if (q && PAGE !== 30) url.searchParams.set('k', String(PAGE));
  // Image queries cannot live in the URL: the history entry keeps a key to
  // them (a Blob in the state itself does not survive Back in Chromium).
  let state = null;
  if (q && q.kind === 'image') {
    state = {imageQuery: ++imageKeys};
    imageQueries.set(imageKeys, q);
  }
  history[push && url.href !== location.href ? 'pushState' : 'replaceState'](state, '', url);
  document.title = q ? `${q.kind === 'text' ? q.text : 'Similar images'} - clipsearch` : 'clipsearch';
}

async function search(q, {push = true} = {}) {
  if (window.csDuplicates) window.csDuplicates.hide();
  query = q;
  results = [];
  offset = 0;
  els.grid.replaceChildren();
  els.more.hidden = true;
  els.empty.hidden = true;
  syncUrl(q, push);
  await loadMore(true);
}

async function loadMore(first) {
  const mine = ++seq;
  const q = query;
  setStatus(first ? 'Searching…' : 'Loading more…');
  els.more.disabled = true;
  try {
    const data = await fetchPage(q, offset);
    if (mine !== seq) return;
    const start = results.length;
    results.push(...data.results);
    offset += data.results.length;
    data.results.forEach((r, i) => els.grid.append(card(r, start + i)));
    els.more.hidden = !data.more;
    const n = results.length;
    setStatus(n ? `${n}${data.more ? '+' : ''} result${n === 1 ? '' : 's'} for ${describe(q)} · ${data.took_ms} ms`
                : `Nothing found for ${describe(q)}.`);
    if (!first && start < n) els.grid.children[start].focus();
  } catch (e) {
    if (mine === seq) setStatus(e.message, true);
  } finally {
    if (mine === seq) els.more.disabled = false;
  }
}

function setStatus(text, error = false) {
  els.status.textContent = text;
  els.status.classList.toggle('error', error);
}

// ---- the grid -------------------------------------------------------------------

// A cosine rounded to 3 places; a tiny negative one reads 0.000, not -0.000.
function fmtScore(x) {
  const s = x.toFixed(3);
  return s === '-0.000' ? '0.000' : s;
}

// What an image whose file is not on this disk shows (a catalogue imported
// from embeddings made elsewhere: `clipsearch import`).
const MISSING = 'data:image/svg+xml,' + encodeURIComponent(
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 160 120"><rect width="160" height="120" ' +
  'fill="#8882"/><text x="80" y="64" font-size="11" text-anchor="middle" fill="#888">' +
  'not on this disk</text></svg>');

function placeholderOnError(img) {
  img.addEventListener('error', () => {
    if (img.src !== MISSING) { img.src = MISSING; img.classList.add('missing'); }
  });
}

function card(r, index) {
  const img = thumbnail(r);
  placeholderOnError(img);
  const sim = el('button', {type: 'button', className: 'similar', textContent: 'Similar',
                            title: 'Find similar images'});
  sim.addEventListener('click', (e) => { e.stopPropagation(); findSimilar(index); });
  const li = el('li', {className: 'card', tabIndex: 0}, img,
                el('span', {className: 'score', textContent: fmtScore(r.score)}),
                el('div', {className: 'meta'}, nameLabel('span', r), sim));
  li.dataset.index = String(index);
  li.setAttribute('aria-label', `${r.name}, score ${fmtScore(r.score)}`);
  li.addEventListener('click', () => openViewer(index));
  return li;
}

function findSimilar(index) {
  const r = results[index];
  if (!r) return;
  if (els.viewer.open) els.viewer.close();
  clearChip();
  els.q.value = '';
  search({kind: 'similar', id: r.id, name: r.name});
}

function columns() {
  const cols = getComputedStyle(els.grid).gridTemplateColumns.split(' ').filter(Boolean);
  return Math.max(1, cols.length);
}

// Arrow keys move between cards, Enter opens, S finds similar.
els.grid.addEventListener('keydown', (e) => {
  const li = e.target.closest('.card');
  if (!li || e.altKey || e.ctrlKey || e.metaKey) return;
  const i = Number(li.dataset.index);
  const step = {ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns(), ArrowUp: -columns()}[e.key];
  if (step) {
    const next = els.grid.children[Math.min(results.length - 1, Math.max(0, i + step))];
    if (next) next.focus();
    e.preventDefault();
  } else if (e.key === 'Enter' || e.key === ' ') {
    if (e.target === li) { openViewer(i); e.preventDefault(); }
  } else if (e.key === 's' || e.key === 'S') {
    findSimilar(i);
    e.preventDefault();
  }
});

// ---- the viewer -------------------------------------------------------------------

function openViewer(index) {
  const r = results[index];
  if (!r) return;
  viewing = index;
  els.vImg.classList.remove('missing');
  els.vImg.src = r.image;
  els.vImg.alt = r.name;
  els.vName.textContent = r.name;
  els.vInfo.textContent = `${r.width} × ${r.height} · score ${fmtScore(r.score)} · ${r.path}`;
  els.vOpen.href = r.image;
  els.vPrev.disabled = index === 0;
  els.vNext.disabled = index === results.length - 1;
  if (!els.viewer.open) els.viewer.showModal();
}

els.viewer.addEventListener('close', () => {
  const li = els.grid.children[viewing];
  viewing = -1;
  els.vImg.removeAttribute('src');
  // The close event comes a task after Escape: if "/" was pressed in between,
  // the search box keeps the focus.
  if (li && document.activeElement !== els.q) li.focus();
});
els.viewer.addEventListener('keydown', (e) => {
  if (e.key === 'ArrowRight') openViewer(Math.min(results.length - 1, viewing + 1));
  else if (e.key === 'ArrowLeft') openViewer(Math.max(0, viewing - 1));
  else if ((e.key === 's' || e.key === 'S') && e.target.tagName !== 'INPUT') findSimilar(viewing);
});
els.viewer.addEventListener('click', (e) => { if (e.target === els.viewer) els.viewer.close(); });
els.vClose.addEventListener('click', () => els.viewer.close());
els.vPrev.addEventListener('click', () => openViewer(viewing - 1));
els.vNext.addEventListener('click', () => openViewer(viewing + 1));
els.vSimilar.addEventListener('click', () => findSimilar(viewing));

// ---- image queries: pick, drop, paste -----------------------------------------------

function setChip(blob, label) {
  clearChip();
  chipUrl = URL.createObjectURL(blob);
  els.chipImg.src = chipUrl;
  els.chipLabel.textContent = label;
  els.chip.hidden = false;
}

function clearChip() {
  els.q.placeholder = 'Describe a picture, or drop one here';
  if (chipUrl) URL.revokeObjectURL(chipUrl);
  chipUrl = null;
  els.chip.hidden = true;
  els.chipImg.removeAttribute('src');
}

function searchImage(blob, label) {
  if (!blob || !(blob.type || '').startsWith('image/')) {
    setStatus('That is not an image.', true);
    return;
  }
  // A new image starts a new query; text typed next refines it (image + text).
  setChip(blob, label || 'image');
  els.q.value = '';
  els.q.placeholder = 'Add words to refine, e.g. "at night"';
  search({kind: 'image', blob, text: '', name: label || 'image'});
}

els.file.addEventListener('change', () => {
  const f = els.file.files[0];
  if (f) searchImage(f, f.name);
  els.file.value = '';
});
els.chipClear.addEventListener('click', () => {
  clearChip();
  els.q.focus();
  if (els.q.value.trim()) els.form.requestSubmit();
});

let dragDepth = 0;
const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes('Files');
window.addEventListener('dragenter', (e) => {
  if (!hasFiles(e)) return;
  dragDepth++;
  els.drop.hidden = false;
  e.preventDefault();
});
window.addEventListener('dragover', (e) => { if (hasFiles(e)) e.preventDefault(); });
window.addEventListener('dragleave', () => { if (--dragDepth <= 0) { dragDepth = 0; els.drop.hidden = true; } });
window.addEventListener('drop', (e) => {
  dragDepth = 0;
  els.drop.hidden = true;
  if (!hasFiles(e)) return;
  e.preventDefault();
  const f = e.dataTransfer.files[0];
  if (f) searchImage(f, f.name);
});
document.addEventListener('paste', (e) => {
  const item = [...(e.clipboardData ? e.clipboardData.items : [])].find((it) => it.type.startsWith('image/'));
  if (!item) return; // plain text pastes into the box as usual
  e.preventDefault();
  searchImage(item.getAsFile(), 'pasted image');
});

// ---- the search box ----------------------------------------------------------------

els.form.addEventListener('submit', (e) => {
  e.preventDefault();
  const text = els.q.value.trim();
  if (query && query.kind === 'image' && !els.chip.hidden) {
    search({kind: 'image', blob: query.blob, text, name: query.name});
  } else if (text) {
    search({kind: 'text', text});
  } else {
    els.q.focus();
  }
});
els.more.addEventListener('click', () => loadMore(false));
// ArrowDown from the box goes into the results.
els.q.addEventListener('keydown', (e) => {
  if (e.key === 'ArrowDown' && els.grid.firstChild) {
    e.preventDefault();
    els.grid.firstChild.focus();
  }
});
$('examples').addEventListener('click', (e) => {
  const b = e.target.closest('button[data-q]');
  if (!b) return;
  els.q.value = b.dataset.q;
  search({kind: 'text', text: b.dataset.q});
});
document.addEventListener('keydown', (e) => {
  const typing = /^(INPUT|TEXTAREA)$/.test(document.activeElement.tagName);
  if (e.key === '/' && !typing && !els.viewer.open) {
    e.preventDefault();
    els.q.focus();
    els.q.select();
  } else if (e.key === 'Escape' && document.activeElement === els.q && els.q.value) {
    els.q.value = '';
  }
});

// ---- start: run the query of the URL (a deep link) ----------------------------------

function fromUrl(e) {
  const iq = e && e.state && imageQueries.get(e.state.imageQuery);
  if (iq) {
    setChip(iq.blob, iq.name || 'image');
    els.q.value = iq.text || '';
    search(iq, {push: false});
    return;
  }
  const p = new URLSearchParams(location.search);
  if (p.get('view') === 'duplicates' && window.csDuplicates) {
    query = null;
    clearChip();
    els.q.value = '';
    setStatus('');
    window.csDuplicates.show(p.get('threshold'), p.get('strict') === '1');
    return;
  }
  if (window.csDuplicates) window.csDuplicates.hide();
  const text = (p.get('q') || '').trim();
  const similar = p.get('similar');
  clearChip();
  if (text) {
    els.q.value = text;
    search({kind: 'text', text}, {push: false});
  } else if (similar && /^\d+$/.test(similar)) {
    els.q.value = '';
    search({kind: 'similar', id: Number(similar)}, {push: false});
  } else {
    query = null;
    results = [];
    els.q.value = '';
    els.grid.replaceChildren();
    els.more.hidden = true;
    els.empty.hidden = false;
    setStatus('');
    els.q.focus();
  }
}
window.addEventListener('popstate', fromUrl);

fetch('/api/stats').then((r) => r.json()).then((s) => {
  const n = typeof s.images === 'number' ? `${s.images.toLocaleString()} images` : '';
  els.stats.textContent = [n, s.model && s.model.name, `clipsearch ${s.version}`].filter(Boolean).join(' · ');
}).catch(() => {});
placeholderOnError(els.vImg);
fromUrl();
