/* The leader's story at a glance (issue 11 item 6), in the browser:

   1. Area names on every plotly map of the page. The names come in a hidden trace (uid 'area-names':
      lon, lat, text, customdata [area km², is the current area]); they are drawn as HTML over the map,
      placed with MapLibre's project() and redrawn as the map moves. No glyphs, no map text layer: nothing
      is fetched. Bigger areas (and the current one) are placed first; a name that would overlap one
      already placed, or stick out of the map, is left out, so 300 communities never become a mess.
   2. The alert panel shows as many alerts as it has room for and counts the rest ("12 more"). */
(function () {
  'use strict';
  const UID = 'area-names';

  function subplotMap(gd) {
    const sub = gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
    return sub && sub.map;
  }

  function namesTrace(gd) {
    return (gd.data || []).find(function (t) { return t && t.uid === UID; });
  }

  function overlay(map) {
    const box = map.getContainer();
    let layer = box.querySelector(':scope > .map-names');
    if (!layer) {
      layer = document.createElement('div');
      layer.className = 'map-names';
      box.appendChild(layer);
    }
    return layer;
  }

  function draw(gd) {
    const map = subplotMap(gd);
    const trace = namesTrace(gd);
    if (!map || !trace) { return; }
    const layer = overlay(map);
    const lon = trace.lon || [], lat = trace.lat || [], text = trace.text || [], extra = trace.customdata || [];
    const key = JSON.stringify([text, lon, lat]);
    if (layer.__key !== key) {  // new names: rebuild the elements (once per view, not per frame)
      layer.__key = key;
      layer.textContent = '';
      layer.__items = text.map(function (name, i) {
        const el = document.createElement('span');
        el.className = 'map-name' + (extra[i] && extra[i][1] ? ' current' : '');
        el.textContent = name;
        layer.appendChild(el);
        return {el: el, lon: +lon[i], lat: +lat[i], size: extra[i] ? +extra[i][0] : 0, current: !!(extra[i] && extra[i][1])};
      });
      layer.__items.forEach(function (it) { it.w = it.el.offsetWidth; it.h = it.el.offsetHeight; });
      layer.__order = layer.__items.slice().sort(function (a, b) { return (b.current - a.current) || (b.size - a.size); });
    }
    const W = layer.clientWidth, H = layer.clientHeight, pad = 2;
    const placed = [];
    (layer.__order || []).forEach(function (it) {
      const p = map.project([it.lon, it.lat]);
      const box = [p.x - it.w / 2 - pad, p.y - it.h / 2 - pad, p.x + it.w / 2 + pad, p.y + it.h / 2 + pad];
      const inside = box[0] >= 0 && box[1] >= 0 && box[2] <= W && box[3] <= H;
      const free = inside && placed.every(function (b) { return box[2] <= b[0] || box[0] >= b[2] || box[3] <= b[1] || box[1] >= b[3]; });
      // Written only when they change (a style write is a repaint of the names).
      const left = p.x + 'px', top = p.y + 'px', display = free ? '' : 'none';
      if (free) {
        placed.push(box);
        if (it.el.style.left !== left) { it.el.style.left = left; }
        if (it.el.style.top !== top) { it.el.style.top = top; }
      }
      if (it.el.style.display !== display) { it.el.style.display = display; }
    });
    if (layer.dataset.shown !== String(placed.length)) { layer.dataset.shown = String(placed.length); }
  }

  function attach(gd) {
    const map = subplotMap(gd);
    if (!map || !namesTrace(gd)) { return; }
    let queued = false;
    const later = function () {
      if (queued) { return; }
      queued = true;
      requestAnimationFrame(function () { queued = false; draw(gd); });
    };
    if (gd.__iocNamesMap !== map) {  // plotly may rebuild the map (style change): follow the new one
      gd.__iocNamesMap = map;
      map.on('move', later);
      map.on('resize', later);
      map.on('load', later);
    }
    if (!gd.__iocNamesPlot && gd.on) {
      gd.__iocNamesPlot = true;
      gd.on('plotly_afterplot', function () { attach(gd); later(); });
    }
    later();
  }

  // Fit the alert list to its panel: every item that does not fit whole is hidden and counted.
  function fitAlerts(list) {
    const items = Array.prototype.slice.call(list.querySelectorAll(':scope > .alert-item'));
    // The same items (React reuses the nodes: compare their text) in a list of the same size fit as they did:
    // no style writes (each is a repaint).
    const more = list.parentElement && list.parentElement.querySelector('.alert-more');
    const key = [items.length, list.clientHeight, list.clientWidth, list.textContent,
      more ? more.dataset.more + more.dataset.template : ''].join(':');
    if (list.__fitKey === key) { return; }
    list.__fitKey = key;
    items.forEach(function (el) { el.style.display = ''; });
    const bottom = list.getBoundingClientRect().bottom + 0.5;
    let hidden = 0;
    items.forEach(function (el) {
      if (hidden || el.getBoundingClientRect().bottom > bottom) { el.style.display = 'none'; hidden += 1; }
    });
    if (more) {
      const n = hidden + (parseInt(more.dataset.more || '0', 10) || 0);
      const text = n > 0 ? (more.dataset.template || '{n}').replace('{n}', n.toLocaleString('en-US')) : '';
      // Written only when it changes: a write is a mutation, which would call this again on the next frame
      // (a layout and paint loop at the display's frame rate, the wall's whole CPU on software rendering).
      if (more.textContent !== text) { more.textContent = text; }
    }
  }

  function fitAll() {
    document.querySelectorAll('.alert-panel > .alert-list').forEach(fitAlerts);
  }

  function scan() {
    document.querySelectorAll('.js-plotly-plot').forEach(attach);
  }

  // Changes in the header (the clock ticks every second) and the ticker never hold a map or the alert
  // panel: they do not call for a fit, whose style writes would repaint the panel every second.
  const QUIET = '.ioc-header, .ticker-strip';
  function relevant(records) {
    return records.some(function (r) {
      const el = r.target.nodeType === 1 ? r.target : r.target.parentElement;
      return !(el && el.closest(QUIET));
    });
  }

  let fitQueued = false;
  const observer = new MutationObserver(function (records) {
    if (fitQueued || !relevant(records)) { return; }
    fitQueued = true;
    requestAnimationFrame(function () { fitQueued = false; fitAll(); scan(); });
  });
  function start() {
    observer.observe(document.body, {childList: true, subtree: true});
    window.addEventListener('resize', function () { requestAnimationFrame(fitAll); });
    scan();
    fitAll();
  }
  if (document.readyState === 'loading') { document.addEventListener('DOMContentLoaded', start); } else { start(); }
})();
