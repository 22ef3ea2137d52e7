// clipseek web page. Plain JavaScript, no build step. Entry content is only ever inserted as
// text (textContent, img src by id), never as HTML: a clip holding markup shows its characters.
'use strict';

const $ = (id) => document.getElementById(id);
const PAGE = 60;
const TEXT_FIRST = 64 * 1024; // bytes of a text shown when it opens; the rest on demand
const TEXT_STEP = 256 * 1024; // bytes per "Show more"
// text kinds whose characters line up (code, data, commands): monospace; prose stays proportional
const MONO = new Set(['code', 'json', 'command', 'path', 'color', 'number', 'secret']);
const state = {
  entries: [], next: null, loading: false, sel: -1, gen: 0, current: null, search: false,
  picked: new Set(), anchor: -1, status: null, noUndo: false, noEdit: false,
  mode: localStorage.getItem('clipseek.view') === 'list' ? 'list' : 'cards',
};

async function api(path, opts = {}) {
  const r = await fetch(path, {
    credentials: 'same-origin',
    ...opts,
    headers: opts.body ? { 'Content-Type': 'application/json' } : {},
  });
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (!r.ok) {
    const err = new Error(body && body.error ? body.error : `${r.status} ${r.statusText}`);
    err.status = r.status;
    throw err;
  }
  return body;
}
const post = (path, obj, method = 'POST') => api(path, { method, body: JSON.stringify(obj || {}) });
// an endpoint this server does not have (an older daemon): not found or method not allowed
const missing = (err) => err.status === 404 || err.status === 405 || err.status === 501;

function el(tag, props, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('data-') || k.startsWith('aria-')) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
}

let toastTimer = 0;
// A message; with undo (a function), an Undo button for a few seconds more
function toast(msg, undo) {
  const t = $('toast'), b = $('t-undo');
  $('t-msg').textContent = msg;
  b.hidden = !undo || state.noUndo;
  b.onclick = undo ? () => { b.hidden = true; undo(); } : null;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, undo && !state.noUndo ? 8000 : 2500);
}

function ago(ms) {
  const s = Math.max(0, (Date.now() - ms) / 1000);
  if (s < 60) return `${Math.floor(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

function size(n) {
  return n < 1024 ? `${n} bytes` : n < 1048576 ? `${(n / 1024).toFixed(0)} KB` : `${(n / 1048576).toFixed(1)} MB`;
}

// An application name, or a file's name for an imported file (its path is the source); a
// reverse-DNS app id (Wayland's org.gnome.TextEditor) by its last part
function app(src) {
  if (!src) return '';
  if (src.startsWith('/')) return src.slice(src.lastIndexOf('/') + 1);
  return /^[a-z]+(\.[A-Za-z0-9_-]+){2,}$/.test(src) ? src.slice(src.lastIndexOf('.') + 1) : src;
}

function filtered() {
  return !!($('q').value.trim() || $('f-kind').value || $('f-category').value || $('f-collection').value
    || $('f-since').value || $('f-pinned').checked);
}

function query() {
  const p = new URLSearchParams();
  // a trailing space stays: it says the last word is complete (docs/search.md, search as you type)
  const q = $('q').value.trimStart();
  if (q.trim()) p.set('q', q);
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
  const d = el('div', { class: 'text' });
  if (!words || !words.length) { d.textContent = text; return d; }
  const esc = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const re = new RegExp(`(${esc.join('|')})`, 'gi');
  let last = 0;
  for (const m of text.matchAll(re)) {
    if (m.index > last) d.append(text.slice(last, m.index));
    d.append(el('mark', { text: m[0] }));
    last = m.index + m[0].length;
  }
  if (last < text.length) d.append(text.slice(last));
  return d;
}

// Why a search hit is listed: "words" (and how they matched), "looks like" / "means" (meaning).
function why(e) {
  if (!e.why) return null;
  let t = e.why === 'words' && e.match && e.match !== 'exact' ? `words (${e.match})` : e.why;
  if (e.why === 'words' && e.signals && e.signals.includes('meaning')) t += e.kind === 'image' ? ' + looks like' : ' + means';
  return el('span', { class: 'sig', text: t });
}

function actButton(label, title, fn) {
  const b = el('button', { type: 'button', text: label, title, 'aria-label': title, tabIndex: -1 });
  b.addEventListener('click', (ev) => { ev.stopPropagation(); fn(); });
  return b;
}

// One entry: a card (card mode) or a row (list mode); the same element, laid out by CSS.
function card(e, i) {
  const li = el('li', { class: `card${MONO.has(e.text_kind) ? ' mono' : ''}`, tabIndex: -1, 'data-id': String(e.id) });
  const pick = el('input', { type: 'checkbox', class: 'pick', tabIndex: -1, 'aria-label': `Select entry #${e.id}` });
  pick.checked = state.picked.has(e.id);
  pick.addEventListener('click', (ev) => { ev.stopPropagation(); pickClick(i, ev.shiftKey); });
  const body = e.kind === 'image'
    ? el('div', { class: 'thumb' }, el('img', { src: `/api/entries/${e.id}/thumb`, alt: e.ocr_text || e.preview, loading: 'lazy' }))
    : e.masked ? el('div', { class: 'text', text: '•••••••• (secret: open to reveal)' }) : highlight(e.preview, e.matched);
  // a row in list mode names an image by the first words read from it (cards show the picture)
  const caption = e.kind === 'image' && e.ocr_text ? el('div', { class: 'caption', text: e.ocr_text.trim().split('\n')[0] }) : null;
  const src = app(e.source);
  const meta = el('div', { class: 'meta' },
    el('span', { class: 'badge', text: e.text_kind || e.kind }),
    e.category ? el('span', { class: 'badge', text: e.category }) : null,
    src ? el('span', { class: 'src', text: src, title: e.source }) : null,
    el('span', { class: 'id', text: `#${e.id}` }),
    e.pinned ? el('span', { class: 'pin', text: '● pinned', title: 'pinned' }) : null,
    el('span', { class: 'now', text: 'on clipboard', hidden: true }),
    el('span', { class: 'age', text: ago(e.last_copied_ms), title: new Date(e.last_copied_ms).toLocaleString() }),
    why(e));
  // an action also selects its entry, so the keys that follow act on the same one
  const on = (fn) => () => { select(i, true); fn(); };
  const acts = el('div', { class: 'acts' },
    actButton('Copy', `Copy #${e.id} (Enter)`, on(() => copy(e.id))),
    actButton(e.pinned ? 'Unpin' : 'Pin', `${e.pinned ? 'Unpin' : 'Pin'} #${e.id} (p)`, on(() => pinAll([e.id], !e.pinned))),
    actButton('Delete', `Delete #${e.id} (Delete)`, on(() => removeAll([e.id]))));
  acts.lastChild.classList.add('danger');
  li.append(pick, body, ...(caption ? [caption] : []), meta, acts);
  li.classList.toggle('picked', pick.checked);
  li.addEventListener('click', (ev) => {
    if (ev.ctrlKey || ev.metaKey) { pickClick(i, false); return; }
    if (ev.shiftKey) { pickClick(i, true); return; }
    select(i);
    if (state.mode === 'cards' || !previewShown()) openView(e.id);
  });
  li.addEventListener('dblclick', () => openView(e.id));
  return li;
}

// The entry that is on the clipboard now (the newest copy, while capture runs) is marked;
// without capture, the newest is only the last copied.
function markNow() {
  const s = state.status;
  const live = s && (s.capture === 'x11' || s.capture === 'wayland') && !s.paused;
  for (const c of $('grid').children) {
    const now = c.querySelector('.now');
    now.hidden = !s || Number(c.dataset.id) !== s.latest_id;
    now.textContent = live ? 'on clipboard' : 'last copied';
    c.classList.toggle('current', !now.hidden && !!live);
  }
}

// Why the page is empty, and the command that changes it
function emptyState() {
  const box = $('empty');
  box.hidden = state.entries.length > 0;
  if (!box.hidden) {
    const s = state.status || {};
    let title, hint = '';
    if (state.search) title = `No matches for “${$('q').value.trim()}”.`;
    else if (filtered()) title = 'Nothing matches these filters.';
    else if (s.paused) { title = 'The history is paused: nothing new is stored.'; hint = 'clipseek resume'; }
    else if (s.capture && s.capture !== 'x11' && s.capture !== 'wayland') {
      title = s.capture === 'failed' ? 'Clipboard capture failed, so nothing is stored.' : 'The clipboard is not being captured: no daemon runs for this history.';
      hint = 'systemctl --user start clipseek    # or: clipseek daemon &';
    } else title = 'Nothing copied yet: copy some text or an image and it appears here.';
    box.replaceChildren(el('p', { text: title }), hint ? el('p', { text: 'To change that, run:' }) : null,
      hint ? el('code', { class: 'cmd', text: hint }) : null);
  }
}

function render(reset) {
  const grid = $('grid');
  if (reset) grid.replaceChildren();
  for (let i = grid.children.length; i < state.entries.length; i++) grid.append(card(state.entries[i], i));
  emptyState();
  $('count').textContent = state.search ? (state.entries.length ? `${state.entries.length} found` : 'no matches')
    : `${state.entries.length}${state.next ? '+' : ''} shown`;
  markNow();
  bulkBar();
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
    if (reset) { state.sel = -1; state.anchor = -1; }
    render(reset);
    if (reset && state.mode === 'list' && state.entries.length) select(0, true);
    if (reset && !state.entries.length) $('preview').replaceChildren();
  } catch (err) {
    toast(err.message);
  } finally {
    if (gen === state.gen) state.loading = false;
  }
}

function select(i, keepFocus) {
  const cards = $('grid').children;
  const old = cards[state.sel];
  if (old) { old.classList.remove('sel'); for (const b of old.querySelectorAll('button, input')) b.tabIndex = -1; }
  state.sel = Math.max(0, Math.min(i, state.entries.length - 1));
  const c = cards[state.sel];
  if (c) {
    c.classList.add('sel');
    // the selected entry's controls are in the tab order, the others' not (one stop per entry)
    for (const b of c.querySelectorAll('button, input')) b.tabIndex = 0;
    if (!keepFocus) c.focus({ preventScroll: true });
    c.scrollIntoView({ block: 'nearest' });
  }
  if (state.mode === 'list') schedulePreview();
}

function columns() {
  const cards = $('grid').children;
  if (cards.length < 2) return 1;
  const top = cards[0].offsetTop;
  let n = 0;
  while (n < cards.length && cards[n].offsetTop === top) n++;
  return Math.max(1, n);
}

// ---- multi-select ----

function setPicked(i, on) {
  const e = state.entries[i], c = $('grid').children[i];
  if (!e) return;
  if (on) state.picked.add(e.id); else state.picked.delete(e.id);
  if (c) { c.classList.toggle('picked', on); c.querySelector('.pick').checked = on; }
}

// a checkbox or ctrl-click toggles one; shift extends from the last one toggled
function pickClick(i, range) {
  if (range && state.anchor >= 0) {
    for (let k = Math.min(state.anchor, i); k <= Math.max(state.anchor, i); k++) setPicked(k, true);
  } else {
    setPicked(i, !state.picked.has(state.entries[i].id));
    state.anchor = i;
  }
  bulkBar();
}

function clearPicks() {
  state.picked.clear();
  for (const c of $('grid').children) { c.classList.remove('picked'); c.querySelector('.pick').checked = false; }
  bulkBar();
}

function bulkBar() {
  // ids no longer listed (deleted, filtered away) are dropped from the selection
  const listed = new Set(state.entries.map((e) => e.id));
  for (const id of [...state.picked]) if (!listed.has(id)) state.picked.delete(id);
  const n = state.picked.size;
  $('bulk').hidden = n === 0;
  $('b-count').textContent = `${n} selected`;
  document.body.classList.toggle('picking', n > 0);
}

// ---- actions (one request per entry: each keeps the page's CSRF and auth rules) ----

async function copy(id) {
  try {
    await post(`/api/entries/${id}/copy`);
    toast('Copied to the clipboard');
    setTimeout(status, 600); // capture sees the new owner: "on clipboard" moves
  } catch (err) {
    // no display for the server: copy text here instead
    try {
      const e = await fullEntry(id);
      if (e.text === undefined || !navigator.clipboard) throw err;
      await navigator.clipboard.writeText(e.text);
      toast('Copied');
    } catch (e2) { toast(err.message); }
  }
}

// The entry with all its text (a copy: the dialog's own, shown in part, stays as it is)
async function fullEntry(id) {
  const e = state.current && state.current.id === id ? { ...state.current } : await api(`/api/entries/${id}`);
  if (e.text_truncated) await loadRest(e);
  return e;
}

async function undoDeletes(n) {
  // POST /api/undo brings back the last delete (one entry), so once per entry deleted. A server
  // whose status counts "undo" has the endpoint: its 404 is "nothing to undo", not "no undo"
  const known = state.status && 'undo' in state.status;
  let back = 0;
  try {
    for (; back < n; back++) await post('/api/undo');
  } catch (err) {
    if (missing(err) && back === 0 && !known) { state.noUndo = true; toast('Undo is not available on this server'); return; }
    if (!back) { toast(err.message); return; }
  }
  toast(back === 1 ? 'Restored' : `Restored ${back}`);
  load(true);
  loadFacets();
  status();
}

async function removeAll(ids) {
  let done = 0, fail = null;
  const first = state.entries.findIndex((e) => ids.includes(e.id));
  const gone = new Set();
  let trashed = 0, told = false; // a server with a trash says what undo can bring back ("trashed")
  for (const id of ids) {
    try {
      const r = await api(`/api/entries/${id}`, { method: 'DELETE' });
      gone.add(id);
      done++;
      if (r && 'trashed' in r) { told = true; trashed += Number(r.trashed) || 0; }
    } catch (err) { fail = err; }
  }
  const undoable = told ? trashed : done;
  state.entries = state.entries.filter((e) => !gone.has(e.id));
  for (const id of gone) state.picked.delete(id);
  render(true);
  if (state.entries.length && first >= 0) select(Math.min(first, state.entries.length - 1));
  if ($('view').open && state.current && gone.has(state.current.id)) $('view').close();
  if (fail) toast(`Deleted ${done} of ${ids.length}: ${fail.message}`);
  else toast(done === 1 ? 'Deleted' : `Deleted ${done}`, undoable ? () => undoDeletes(undoable) : null);
  loadFacets();
  status();
}

async function pinAll(ids, on) {
  try {
    for (const id of ids) await post(`/api/entries/${id}/pin`, { pinned: on });
    toast(`${on ? 'Pinned' : 'Unpinned'}${ids.length > 1 ? ` ${ids.length}` : ''}`);
  } catch (err) { toast(err.message); }
  const keep = state.sel;
  await load(true);
  if (keep >= 0 && state.entries.length) select(keep, true);
  if ($('view').open && state.current && ids.includes(state.current.id)) openView(state.current.id);
}

async function tagAll(ids, tag) {
  try {
    for (const id of ids) await post(`/api/entries/${id}/tags`, { tag });
    toast(`Tagged ${ids.length} “${tag}”`);
  } catch (err) { toast(err.message); }
}

// ---- the entry: the dialog, and the preview beside the list ----

function row(dl, k, v) {
  if (v === undefined || v === null || v === '') return;
  dl.append(el('dt', { text: k }), el('dd', { text: String(v) }));
}

// Loads more of a text that was sent cut (TEXT_FIRST bytes) into e.text (and pre): TEXT_STEP
// bytes, or with all the rest in as few requests as the server allows, appended to the page once
async function loadRest(e, pre, step) {
  let off = new TextEncoder().encode(e.text).length, add = '';
  do {
    const r = await api(`/api/entries/${e.id}/text?offset=${off}&length=${step ? TEXT_STEP : 4 << 20}`);
    add += r.text;
    off = r.next;
  } while (off !== null && !step);
  e.text += add;
  if (pre) pre.append(add);
  e.text_truncated = off !== null;
  return e;
}

// The text of e, with its first TEXT_FIRST bytes shown and buttons for the rest
function textBlock(e) {
  const pre = el('pre', { class: `full${MONO.has(e.text_kind) ? ' mono' : ''}`, text: e.text });
  if (!e.text_truncated) return [pre];
  const info = el('span');
  const more = el('p', { class: 'more-text' }, info);
  const upd = () => {
    info.textContent = `Showing ${size(new TextEncoder().encode(e.text).length)} of ${size(e.text_bytes)}. `;
    if (!e.text_truncated) more.remove();
  };
  const go = (all) => async () => {
    try { await loadRest(e, pre, !all); upd(); } catch (err) { toast(err.message); }
  };
  more.append(el('button', { type: 'button', text: 'Show more', onclick: go(false) }), ' ',
    el('button', { type: 'button', text: 'Show all', onclick: go(true) }));
  upd();
  return [pre, more];
}

function details(e) {
  const dl = el('dl');
  row(dl, 'source', e.source);
  row(dl, 'first copied', new Date(e.first_copied_ms).toLocaleString());
  row(dl, 'last copied', new Date(e.last_copied_ms).toLocaleString());
  row(dl, 'copies', e.copies);
  row(dl, 'size', e.size == null ? null : size(e.size)); /* a masked secret has none */
  if (e.width) row(dl, 'pixels', `${e.width} × ${e.height}`);
  if (e.category) row(dl, 'category', `${e.category} (${Math.round(e.category_confidence * 100)}%)`);
  row(dl, 'collection', e.collection_name);
  row(dl, 'language', e.language);
  return dl;
}

// The content of e into box: the image, the text (masked until revealed for a secret), the text
// read from an image
function content(box, e) {
  if (e.kind === 'image') box.append(el('img', { src: `/api/entries/${e.id}/image`, alt: e.ocr_text || e.preview }));
  if (e.text !== undefined && e.masked) {
    // not shown until asked: the page may be on a shared or recorded screen
    const pre = el('pre', { class: 'full mono', text: '•'.repeat(Math.min(e.text.length, 40)) });
    const reveal = el('button', { type: 'button', text: 'Reveal secret' });
    reveal.addEventListener('click', () => { pre.textContent = e.text; reveal.remove(); });
    box.append(pre, reveal);
  } else if (e.text !== undefined) box.append(...textBlock(e));
  if (e.ocr_text && e.masked && e.text === undefined) { // a screenshot of a key: the same rule as a secret's text
    const pre = el('pre', { class: 'ocr', text: '•'.repeat(Math.min(e.ocr_text.length, 40)) });
    const reveal = el('button', { type: 'button', text: 'Reveal text in the image' });
    reveal.addEventListener('click', () => { pre.textContent = e.ocr_text; reveal.remove(); });
    box.append(el('h3', { text: 'Text in the image' }), pre, reveal);
  } else if (e.ocr_text) box.append(el('h3', { text: 'Text in the image' }), el('pre', { class: 'ocr', text: e.ocr_text }));
}

async function copyOcr(e) {
  try {
    await post(`/api/entries/${e.id}/copy`, { what: 'ocr_text' });
    toast('Text copied to the clipboard');
  } catch (err) {
    if (!navigator.clipboard) { toast(err.message); return; }
    try { await navigator.clipboard.writeText(e.ocr_text); toast('Text copied'); } catch (e2) { toast(err.message); }
  }
}

async function openView(id) {
  let e;
  try { e = await api(`/api/entries/${id}?text_max=${TEXT_FIRST}`); } catch (err) { toast(err.message); return; }
  state.current = e;
  $('v-title').textContent = `#${e.id} · ${e.text_kind || e.kind}${e.source ? ` · ${app(e.source)}` : ''}`;
  const body = $('v-body');
  body.replaceChildren();
  content(body, e);
  const dl = details(e);
  if (e.tags.length) {
    // each tag a chip; its × removes the tag
    const chips = el('dd', { class: 'chips' });
    for (const t of e.tags) {
      const x = el('button', { type: 'button', class: 'chip', title: `remove tag ${t}`, text: `${t} ×` });
      x.addEventListener('click', async () => {
        try {
          await post(`/api/entries/${e.id}/tags`, { tag: t, remove: true });
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
  $('v-copyocr').hidden = !(e.kind === 'image' && e.ocr_text);
  const dlink = $('v-download');
  dlink.hidden = e.kind !== 'image';
  if (e.kind === 'image') { dlink.href = `/api/entries/${e.id}/image?download=1`; dlink.download = ''; }
  $('v-edit').hidden = state.noEdit || e.kind !== 'text' || !!e.masked;
  if (!$('view').open) $('view').showModal();
  const sim = $('v-similar');
  sim.replaceChildren();
  try {
    const r = await api(`/api/entries/${e.id}/similar`);
    for (const s of r.entries) {
      const li = el('li', { title: s.preview, tabIndex: 0 },
        s.kind === 'image' ? el('img', { src: `/api/entries/${s.id}/thumb`, alt: s.preview, loading: 'lazy' })
                           : el('span', { text: s.preview.slice(0, 80) }));
      li.addEventListener('click', () => openView(s.id));
      li.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') openView(s.id); });
      sim.append(li);
    }
  } catch (err) { /* no model: nothing similar to show */ }
}

// Editing a text entry in place: PUT /api/entries/ID {"text"} (servers without it answer 404 or
// 405: the button goes away)
async function editView() {
  if (!state.current) return;
  let e;
  try { e = await fullEntry(state.current.id); } catch (err) { toast(err.message); return; }
  const ta = el('textarea', { class: `edit${MONO.has(e.text_kind) ? ' mono' : ''}`, value: e.text, 'aria-label': 'Entry text' });
  const save = el('button', { type: 'button', text: 'Save', class: 'primary' });
  const cancel = el('button', { type: 'button', text: 'Cancel', onclick: () => openView(e.id) });
  save.addEventListener('click', async () => {
    try {
      const r = await post(`/api/entries/${e.id}`, { text: ta.value }, 'PUT');
      toast('Saved');
      await load(true);
      openView(r && r.id ? r.id : e.id);
    } catch (err) {
      if (missing(err)) { state.noEdit = true; $('v-edit').hidden = true; toast('Editing is not available on this server'); openView(e.id); }
      else toast(err.message);
    }
  });
  $('v-body').replaceChildren(ta, el('div', { class: 'edit-actions' }, save, cancel));
  ta.focus();
}

// list mode: the selected entry, large, beside the list
function previewShown() { return state.mode === 'list' && getComputedStyle($('preview')).display !== 'none'; }
let previewTimer = 0, previewGen = 0;
function schedulePreview() {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(showPreview, 60); // arrowing through rows fetches only where it stops
}
async function showPreview() {
  const box = $('preview');
  const e0 = state.entries[state.sel];
  if (!previewShown() || !e0) return;
  const gen = ++previewGen;
  let e;
  try { e = await api(`/api/entries/${e0.id}?text_max=${TEXT_FIRST}`); } catch (err) { box.replaceChildren(el('p', { text: err.message })); return; }
  if (gen !== previewGen) return;
  const open = el('button', { type: 'button', text: 'Open', title: 'Open (Space)' });
  open.addEventListener('click', () => openView(e.id));
  const cp = el('button', { type: 'button', text: 'Copy', title: 'Copy (Enter)' });
  cp.addEventListener('click', () => copy(e.id));
  const head = el('div', { class: 'p-head' },
    el('span', { class: 'p-title', text: `#${e.id} · ${e.text_kind || e.kind}${e.source ? ` · ${app(e.source)}` : ''} · ${ago(e.last_copied_ms)} ago` }),
    cp, open);
  const body = el('div', { class: 'p-body' });
  content(body, e);
  box.replaceChildren(head, body, details(e));
}

function setMode(m) {
  state.mode = m;
  localStorage.setItem('clipseek.view', m);
  document.body.classList.toggle('list', m === 'list');
  $('m-cards').setAttribute('aria-pressed', String(m === 'cards'));
  $('m-list').setAttribute('aria-pressed', String(m === 'list'));
  if (m === 'list') { if (state.sel < 0 && state.entries.length) select(0, true); else schedulePreview(); }
  else $('preview').replaceChildren();
}

// ---- header ----

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

// "paused", with its end when the server says (paused_until_ms: ms since the epoch, 0 = until
// resumed; paused_until, ms or seconds, is read too)
function pausedText(s) {
  const u = Number(s.paused_until_ms || s.paused_until);
  if (!Number.isFinite(u) || u <= 0) return 'paused';
  const when = new Date(u < 1e12 ? u * 1000 : u);
  return `paused until ${when.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}`;
}

async function status() {
  try {
    const s = await api('/api/status');
    state.status = s;
    const parts = [`${s.entries} entries`];
    if (!s.model) parts.push('no model: full text only');
    else parts.push(s.pending > 0 ? `indexing, ${s.pending} left` : 'indexed', s.model.replace(/-[0-9a-f]{12}$/, ''));
    if (s.last_error) parts.push(`⚠ ${s.last_error}`);
    $('status').textContent = parts.join(' · ');
    const p = $('paused');
    const off = s.capture && s.capture !== 'x11' && s.capture !== 'wayland';
    p.hidden = !s.paused && !off;
    p.textContent = s.paused ? pausedText(s) : off ? `not capturing (${s.capture})` : '';
    p.title = s.paused ? 'Nothing new is stored: clipseek resume' : off ? 'Start the daemon: systemctl --user start clipseek' : '';
    markNow();
    if (!state.entries.length) emptyState();
  } catch (err) { $('status').textContent = err.message; }
}

// ---- keys and wiring ----

let debounce = 0;
function init() {
  document.body.classList.toggle('list', state.mode === 'list');
  $('m-cards').setAttribute('aria-pressed', String(state.mode === 'cards'));
  $('m-list').setAttribute('aria-pressed', String(state.mode === 'list'));
  $('m-cards').addEventListener('click', () => setMode('cards'));
  $('m-list').addEventListener('click', () => setMode('list'));
  $('q').addEventListener('input', () => { clearTimeout(debounce); debounce = setTimeout(() => load(true), 180); });
  for (const f of ['f-kind', 'f-category', 'f-collection', 'f-since', 'f-pinned']) $(f).addEventListener('change', () => load(true));
  $('v-close').addEventListener('click', () => $('view').close());
  $('v-copy').addEventListener('click', () => state.current && copy(state.current.id));
  $('v-copyocr').addEventListener('click', () => state.current && copyOcr(state.current));
  $('v-edit').addEventListener('click', editView);
  $('v-delete').addEventListener('click', () => state.current && removeAll([state.current.id]));
  $('v-pin').addEventListener('click', () => state.current && pinAll([state.current.id], !state.current.pinned));
  $('v-tagform').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const t = $('v-tag').value.trim();
    if (!t || !state.current) return;
    try {
      await post(`/api/entries/${state.current.id}/tags`, { tag: t });
      $('v-tag').value = '';
      openView(state.current.id);
    } catch (err) { toast(err.message); }
  });
  $('b-pin').addEventListener('click', () => pinAll([...state.picked], true));
  $('b-unpin').addEventListener('click', () => pinAll([...state.picked], false));
  $('b-delete').addEventListener('click', () => removeAll([...state.picked]));
  $('b-none').addEventListener('click', clearPicks);
  $('b-tagform').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const t = $('b-tag').value.trim();
    if (!t || !state.picked.size) return;
    $('b-tag').value = '';
    tagAll([...state.picked], t);
  });
  document.addEventListener('keydown', (ev) => {
    if ($('view').open) return; // the dialog has its own keys (Escape closes it)
    const typing = document.activeElement === $('q');
    // keys on a control (a button, a checkbox, the bulk tag field) are the control's own
    const control = !typing && ev.target.closest && ev.target.closest('button, input, select, textarea, a, form');
    if (ev.key === '/' && !typing && !control) { ev.preventDefault(); $('q').focus(); $('q').select(); return; }
    if (ev.key === 'Escape' && state.picked.size) { clearPicks(); return; }
    // (arrows on an entry's own checkbox or buttons still move between entries)
    if (control && !(ev.key.startsWith('Arrow') && ev.target.closest('.card'))) return;
    const n = state.entries.length;
    if (!n) return;
    const cols = columns();
    const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: cols, ArrowUp: -cols };
    const cur = state.sel < 0 ? 0 : state.sel;
    if (ev.key in moves && (!typing || ev.key === 'ArrowDown')) {
      ev.preventDefault();
      if (ev.shiftKey && !typing) { // extend the selection of entries
        if (state.anchor < 0) { state.anchor = cur; setPicked(cur, true); }
        const to = Math.max(0, Math.min(cur + moves[ev.key], n - 1));
        setPicked(to, true);
        select(to);
        bulkBar();
      } else select(state.sel < 0 ? 0 : state.sel + moves[ev.key]);
      if (state.sel > n - cols * 2 && state.next) load(false);
      return;
    }
    if (typing || state.sel < 0) return;
    const id = state.entries[state.sel].id;
    if (ev.key === 'Enter') { ev.preventDefault(); copy(id); }
    else if (ev.key === 'Delete') { ev.preventDefault(); removeAll(state.picked.size ? [...state.picked] : [id]); }
    else if (ev.key === ' ') { ev.preventDefault(); openView(id); }
    else if (ev.key === 'p') { ev.preventDefault(); pinAll(state.picked.size ? [...state.picked] : [id], !state.entries[state.sel].pinned); }
    else if (ev.key === 'x') { ev.preventDefault(); pickClick(state.sel, false); }
    else if (ev.key === 'v') { ev.preventDefault(); setMode(state.mode === 'list' ? 'cards' : 'list'); }
  });
  new IntersectionObserver((es) => {
    if (es.some((e) => e.isIntersecting) && state.next && !state.search) load(false);
  }).observe($('more'));
  status().then(() => load(true));
  loadFacets();
  setInterval(status, 3000);
}

init();
