// clipsearch - what both views (app.js, dups.js) build their cards from.
'use strict';

// A new element with its properties set (className, textContent, title...)
// and its children appended.
function el(tag, props = {}, ...children) {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

// The thumbnail of an image the API describes ({thumb, name}), loaded when
// it scrolls near and decoded off the main thread.
function thumbnail(r) {
  return el('img', {src: r.thumb, alt: r.name, loading: 'lazy', decoding: 'async'});
}

// Its file name, the whole path as the tooltip.
function nameLabel(tag, r) {
  return el(tag, {className: 'name', textContent: r.name, title: r.path});
}
