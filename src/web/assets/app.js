// clipseek web page. Plain JavaScript, no build step. Entry content is only ever inserted as
// text (textContent, img src by id), never as HTML: a clip holding markup shows its characters.
'use strict';

const $ = (id) => document.getElementById(id);
const PAGE = 60;
const state = { entries: [], next: null, loading: false, sel: -1, gen: 0, current: null, search: false };

async function api(path, opts = {}) {
  const r = await fetch(path, {
    credentials: 'same-origin',
    ...opts,
    headers: opts.body ? { 'Content-Type': 'application/json' } : {},
  });
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (!r.ok) throw new Error(body && body.error ? body.error : `${r.status} ${r.statusText}`);
  return body;
}

function el(tag, props, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('data-')) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
}

let toastTimer = 0;
function toast(msg) {
  const t = $('toast');
  t.textContent = msg;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 2500);
}

function ago(ms) {
  const s = Math.max(0, (Date.now() - ms) / 1000);
  if (s < 60) return `${Math.floor(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

function query() {
  const p = new URLSearchParams();
  const q = $('q').value.trim();
  if (q) p.set('q', q);
  for (const f of ['kind', 'category', 'collection']) {
    const v = $(`f-${f}`).value;
    if (v) p.set(f, v);
  }
  const since = $('f-since').value;
  if (since) p.set('since', String(Date.now() - Number(since) * 1000));
  if ($('f-pinned').checked) p.set('pinned', '1');
  p.set('limit', String(PAGE));
  return p;
}

// The preview with the words the search matched in <mark> (the server says which, in "matched",
// by the same rules as the ranking: exact, prefix, one typo, substring). Text nodes only.
function highlight(text, words) {
  const pre = el('pre');
  if (!words || !words.length) { pre.textContent = text; return pre; }
  const esc = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const re = new RegExp(`(${esc.join('|')})`, 'gi');
  let last = 0;
  for (const m of text.matchAll(re)) {
    if (m.index > last) pre.append(text.slice(last, m.index));
    pre.append(el('mark', { text: m[0] }));
    last = m.index + m[0].length;
  }
  if (last < text.length) pre.append(text.slice(last));
  return pre;
}

// Why a search hit is listed: "words" (and how they matched), "looks like" / "means" (meaning).
function why(e) {
  if (!e.why) return null;
  let t = e.why === 'words' && e.match && e.match !== 'exact' ? `words (${e.match})` : e.why;
  if (e.why === 'words' && e.signals && e.signals.includes('meaning')) t += e.kind === 'image' ? ' + looks like' : ' + means';
  return el('span', { class: 'sig', text: t });
}

function card(e, i) {
  const li = el('li', { class: 'card', tabIndex: -1, 'data-id': String(e.id) });
  const body = e.kind === 'image'
    ? el('div', { class: 'thumb' }, el('img', { src: `/api/entries/${e.id}/thumb`, alt: e.ocr_text || e.preview, loading: 'lazy' }))
    : e.masked ? el('pre', { text: '•••••••• (secret: open to reveal)' }) : highlight(e.preview, e.matched);
  const meta = el('div', { class: 'meta' },
    el('span', { class: 'badge', text: e.text_kind || e.kind }),
    e.category ? el('span', { class: 'badge', text: e.category }) : null,
    e.pinned ? el('span', { class: 'pin', text: '● pinned', title: 'pinned' }) : null,
    el('span', { text: ago(e.last_copied_ms) }),
    why(e));
  li.append(body, meta);
  li.addEventListener('click', () => { select(i); openView(e.id); });
  return li;
}

function render(reset) {
  const grid = $('grid');
  if (reset) grid.replaceChildren();
  for (let i = grid.children.length; i < state.entries.length; i++) grid.append(card(state.entries[i], i));
  $('empty').hidden = state.entries.length > 0;
  // a search that finds nothing says so, instead of the empty history's text
  $('empty').textContent = state.search ? `No matches for “${$('q').value.trim()}”.` : 'Nothing here yet.';
  $('count').textContent = state.search ? (state.entries.length ? `${state.entries.length} found` : 'no matches')
    : `${state.entries.length}${state.next ? '+' : ''} shown`;
}

async function load(reset) {
  if (state.loading && !reset) return;
  const gen = reset ? ++state.gen : state.gen;
  const p = query();
  if (!reset && state.next) p.set('before', String(state.next));
  state.loading = true;
  try {
    const r = await api(`/api/entries?${p}`);
    if (gen !== state.gen) return; // an older request answered late
    state.search = r.search;
    state.entries = reset ? r.entries : state.entries.concat(r.entries);
    state.next = r.next;
    if (reset) state.sel = -1;
    render(reset);
  } catch (err) {
    toast(err.message);
  } finally {
    if (gen === state.gen) state.loading = false;
  }
}

function select(i) {
  const cards = $('grid').children;
  if (state.sel >= 0 && cards[state.sel]) cards[state.sel].classList.remove('sel');
  state.sel = Math.max(0, Math.min(i, state.entries.length - 1));
  const c = cards[state.sel];
  if (c) { c.classList.add('sel'); c.focus({ preventScroll: true }); c.scrollIntoView({ block: 'nearest' }); }
}

function columns() {
  const cards = $('grid').children;
  if (cards.length < 2) return 1;
  const top = cards[0].offsetTop;
  let n = 0;
  while (n < cards.length && cards[n].offsetTop === top) n++;
  return Math.max(1, n);
}

async function copy(id) {
  try {
    await api(`/api/entries/${id}/copy`, { method: 'POST', body: '{}' });
    toast('Copied to the clipboard');
  } catch (err) {
    // no display for the server: copy text here instead
    const e = state.current && state.current.id === id ? state.current : await api(`/api/entries/${id}`);
    if (e.text !== undefined && navigator.clipboard) {
      await navigator.clipboard.writeText(e.text);
      toast('Copied');
    } else toast(err.message);
  }
}

async function remove(id) {
  await api(`/api/entries/${id}`, { method: 'DELETE' });
  const i = state.entries.findIndex((e) => e.id === id);
  if (i >= 0) {
    state.entries.splice(i, 1);
    render(true);
    if (state.entries.length) select(Math.min(i, state.entries.length - 1));
  }
  if ($('view').open) $('view').close();
  toast('Deleted');
  loadFacets();
}

function row(dl, k, v) {
  if (v === undefined || v === null || v === '') return;
  dl.append(el('dt', { text: k }), el('dd', { text: String(v) }));
}

async function openView(id) {
  let e;
  try { e = await api(`/api/entries/${id}`); } catch (err) { toast(err.message); return; }
  state.current = e;
  $('v-title').textContent = `#${e.id} · ${e.text_kind || e.kind}`;
  const body = $('v-body');
  body.replaceChildren();
  if (e.kind === 'image') body.append(el('img', { src: `/api/entries/${e.id}/image`, alt: e.ocr_text || e.preview }));
  if (e.text !== undefined && e.masked) {
    // not shown until asked: the page may be on a shared or recorded screen
    const pre = el('pre', { class: 'full', text: '•'.repeat(Math.min(e.text.length, 40)) });
    const reveal = el('button', { type: 'button', text: 'Reveal secret' });
    reveal.addEventListener('click', () => { pre.textContent = e.text; reveal.remove(); });
    body.append(pre, reveal);
  } else if (e.text !== undefined) body.append(el('pre', { class: 'full', text: e.text }));
  if (e.ocr_text && e.masked && e.text === undefined) { // a screenshot of a key: the same rule as a secret's text
    const pre = el('pre', { class: 'ocr', text: '•'.repeat(Math.min(e.ocr_text.length, 40)) });
    const reveal = el('button', { type: 'button', text: 'Reveal text in the image' });
    reveal.addEventListener('click', () => { pre.textContent = e.ocr_text; reveal.remove(); });
    body.append(el('h3', { text: 'Text in the image' }), pre, reveal);
  } else if (e.ocr_text) body.append(el('h3', { text: 'Text in the image' }), el('pre', { class: 'ocr', text: e.ocr_text }));
  const dl = el('dl');
  row(dl, 'source', e.source);
  row(dl, 'first copied', new Date(e.first_copied_ms).toLocaleString());
  row(dl, 'last copied', new Date(e.last_copied_ms).toLocaleString());
  row(dl, 'copies', e.copies);
  row(dl, 'size', `${e.size} bytes`);
  if (e.width) row(dl, 'pixels', `${e.width} × ${e.height}`);
  if (e.category) row(dl, 'category', `${e.category} (${Math.round(e.category_confidence * 100)}%)`);
  row(dl, 'collection', e.collection_name);
  row(dl, 'language', e.language);
  if (e.tags.length) {
    // each tag a chip; its × removes the tag
    const chips = el('dd', { class: 'chips' });
    for (const t of e.tags) {
      const x = el('button', { type: 'button', class: 'chip', title: `remove tag ${t}`, text: `${t} ×` });
      x.addEventListener('click', async () => {
        try {
          await api(`/api/entries/${e.id}/tags`, { method: 'POST', body: JSON.stringify({ tag: t, remove: true }) });
          openView(e.id);
        } catch (err) { toast(err.message); }
      });
      chips.append(x);
    }
    dl.append(el('dt', { text: 'tags' }), chips);
  }
  if (e.duplicate_of) row(dl, 'near-duplicate of', `#${e.duplicate_of}`);
  body.append(dl);
  $('v-pin').textContent = e.pinned ? 'Unpin' : 'Pin';
  if (!$('view').open) $('view').showModal();
  const sim = $('v-similar');
  sim.replaceChildren();
  try {
    const r = await api(`/api/entries/${e.id}/similar`);
    for (const s of r.entries) {
      const li = el('li', { title: s.preview },
        s.kind === 'image' ? el('img', { src: `/api/entries/${s.id}/thumb`, alt: s.preview, loading: 'lazy' })
                           : el('span', { text: s.preview.slice(0, 80) }));
      li.addEventListener('click', () => openView(s.id));
      sim.append(li);
    }
  } catch (err) { /* no model: nothing similar to show */ }
}

function fill(select, items, label) {
  const keep = select.value;
  select.replaceChildren(el('option', { value: '', text: 'all' }));
  for (const it of items) select.append(el('option', { value: String(it.value), text: label(it) }));
  select.value = keep;
}

async function loadFacets() {
  try {
    const f = await api('/api/facets');
    fill($('f-kind'), f.kinds.concat(f.text_kinds).map((k) => ({ value: k.name, ...k })), (k) => `${k.name} (${k.count})`);
    fill($('f-category'), f.categories.map((k) => ({ value: k.name, ...k })), (k) => `${k.name} (${k.count})`);
    fill($('f-collection'), f.collections.map((c) => ({ value: c.id, ...c })), (c) => `${c.name} (${c.members})`);
  } catch (err) { toast(err.message); }
}

async function status() {
  try {
    const s = await api('/api/status');
    const parts = [`${s.entries} entries`];
    if (!s.model) parts.push('no model: full text only');
    else parts.push(s.pending > 0 ? `indexing, ${s.pending} left` : 'indexed', s.model.replace(/-[0-9a-f]{12}$/, ''));
    if (s.last_error) parts.push(`⚠ ${s.last_error}`);
    $('status').textContent = parts.join(' · ');
  } catch (err) { $('status').textContent = err.message; }
}

let debounce = 0;
function init() {
  $('q').addEventListener('input', () => { clearTimeout(debounce); debounce = setTimeout(() => load(true), 180); });
  for (const f of ['f-kind', 'f-category', 'f-collection', 'f-since', 'f-pinned']) $(f).addEventListener('change', () => load(true));
  $('v-close').addEventListener('click', () => $('view').close());
  $('v-copy').addEventListener('click', () => state.current && copy(state.current.id));
  $('v-delete').addEventListener('click', () => state.current && remove(state.current.id).catch((e) => toast(e.message)));
  $('v-pin').addEventListener('click', async () => {
    const e = state.current;
    if (!e) return;
    try {
      await api(`/api/entries/${e.id}/pin`, { method: 'POST', body: JSON.stringify({ pinned: !e.pinned }) });
      await openView(e.id);
      load(true);
    } catch (err) { toast(err.message); }
  });
  $('v-tagform').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const t = $('v-tag').value.trim();
    if (!t || !state.current) return;
    try {
      await api(`/api/entries/${state.current.id}/tags`, { method: 'POST', body: JSON.stringify({ tag: t }) });
      $('v-tag').value = '';
      openView(state.current.id);
    } catch (err) { toast(err.message); }
  });
  document.addEventListener('keydown', (ev) => {
    if ($('view').open) return; // the dialog has its own keys (Escape closes it)
    const typing = document.activeElement === $('q');
    if (ev.key === '/' && !typing) { ev.preventDefault(); $('q').focus(); $('q').select(); return; }
    const n = state.entries.length;
    if (!n) return;
    const cols = columns();
    const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: cols, ArrowUp: -cols };
    if (ev.key in moves && (!typing || ev.key === 'ArrowDown')) {
      ev.preventDefault();
      select(state.sel < 0 ? 0 : state.sel + moves[ev.key]);
      if (state.sel > n - cols * 2 && state.next) load(false);
    } else if (ev.key === 'Enter' && state.sel >= 0) {
      ev.preventDefault();
      copy(state.entries[state.sel].id);
    } else if (ev.key === 'Delete' && state.sel >= 0 && !typing) {
      ev.preventDefault();
      remove(state.entries[state.sel].id).catch((e) => toast(e.message));
    } else if (ev.key === ' ' && state.sel >= 0 && !typing) {
      ev.preventDefault();
      openView(state.entries[state.sel].id);
    }
  });
  new IntersectionObserver((es) => {
    if (es.some((e) => e.isIntersecting) && state.next && !state.search) load(false);
  }).observe($('more'));
  load(true);
  loadFacets();
  status();
  setInterval(status, 3000);
}

init();
