// clipsearch - the Duplicates view (/?view=duplicates&threshold=T&strict=1):
// groups of near-identical images side by side, keeper first and marked,
// each with its pixel size, file size and score. Read only: moving files is
// the command line's job (`clipsearch duplicates --move-to DIR`).
// app.js calls csDuplicates.show() for the deep link and hide() on a search.
'use strict';

window.csDuplicates = (() => {
  const $ = (id) => document.getElementById(id);
  const view = $('dups');
  const form = $('dups-form');
  const threshold = $('dups-threshold');
  const strict = $('dups-strict');
  const list = $('dups-list');
  const status = $('dups-status');
  const more = $('dups-more');
  const PAGE = 50;
  let shown = 0;
  let seq = 0;
  let current = null; // {threshold, strict}

  const bytes = (n) => n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : n >= 1e3 ? `${Math.round(n / 1e3)} kB` : `${n} B`;

  function say(text, error = false) {
    status.textContent = text;
    status.classList.toggle('error', error);
  }

  function memberCard(m) {
    const px = m.width > 0 ? `${m.width} × ${m.height}` : 'size unknown';
    return el('li', {className: 'dup' + (m.keeper ? ' keeper' : '')},
      el('a', {href: m.image, target: '_blank', rel: 'noopener'}, thumbnail(m)),
      el('span', {className: 'badge', textContent: m.keeper ? 'Keep' : m.score.toFixed(3),
                  title: m.keeper ? 'Suggested keeper: most pixels, then largest file, then oldest'
                                  : 'Best cosine similarity inside the group'}),
      nameLabel('div', m),
      el('div', {className: 'info', textContent: `${px} · ${bytes(m.bytes)} · ${m.score.toFixed(3)}`}));
  }

  function groupBlock(g, index) {
    const sec = document.createElement('section');
    sec.className = 'dup-group';
    const h = document.createElement('h2');
    const chain = g.weakest !== null && g.weakest < current.threshold;
    h.textContent = `Group ${index + 1} · ${g.members.length} images · best ${g.best.toFixed(3)}` +
      (chain ? ` · a chain: weakest pair ${g.weakest.toFixed(3)}` : '');
    const row = document.createElement('ul');
    row.className = 'dup-row';
    g.members.forEach((m) => row.append(memberCard(m)));
    sec.append(h, row);
    return sec;
  }

  async function load(first) {
    const mine = ++seq;
    if (first) { shown = 0; list.replaceChildren(); }
    more.hidden = true;
    say(first ? 'Looking for duplicates…' : 'Loading more…');
    const params = new URLSearchParams({limit: String(PAGE), offset: String(shown)});
    if (current.threshold !== null) params.set('threshold', String(current.threshold));
    if (current.strict) params.set('strict', '1');
    try {
      const res = await fetch(`/api/duplicates?${params}`);
      let data = null;
      try { data = await res.json(); } catch (e) { /* not JSON: handled below */ }
      if (!res.ok) throw new Error((data && data.error) || `the server answered ${res.status}`);
      if (mine !== seq) return;
      current.threshold = data.threshold; // the server's default when none was asked for
      threshold.value = String(data.threshold);
      data.groups.forEach((g, i) => list.append(groupBlock(g, shown + i)));
      shown += data.groups.length;
      more.hidden = !data.more;
      say(data.total ? `${data.total} group${data.total === 1 ? '' : 's'} of duplicates at ` +
                       `cosine ≥ ${data.threshold}${data.strict ? ' (every pair)' : ''} · ${data.took_ms} ms`
                     : `No duplicates at cosine ≥ ${data.threshold}.`);
    } catch (e) {
      if (mine === seq) say(e.message, true);
    }
  }

  function show(t, isStrict) {
    const v = Number(t);
    current = {threshold: t && v > 0 && v <= 1 ? v : null, strict: !!isStrict};
    threshold.value = current.threshold === null ? '' : String(current.threshold);
    strict.checked = current.strict;
    for (const id of ['empty', 'grid', 'status']) $(id).hidden = true;
    document.querySelector('.more-row').hidden = true;
    view.hidden = false;
    document.title = 'Duplicates - clipsearch';
    load(true);
  }

  function hide() {
    view.hidden = true;
    document.querySelector('.more-row').hidden = false;
    $('grid').hidden = false;
    $('status').hidden = false;
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const url = new URL(location.href);
    url.search = '';
    url.searchParams.set('view', 'duplicates');
    url.searchParams.set('threshold', threshold.value);
    if (strict.checked) url.searchParams.set('strict', '1');
    history.pushState(null, '', url);
    show(threshold.value, strict.checked);
  });
  more.addEventListener('click', () => load(false));
  return {show, hide};
})();
