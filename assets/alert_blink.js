/* Pulse the halos of open severity I alerts on every plotly map of the page (severity II halos glow
   steadily). Only the MapLibre layer's paint changes (plotly is not redrawn), only when such an alert
   is drawn, and never while the map is still busy with the previous frame: on a wall PC with software
   WebGL a repaint of a big canvas is expensive. */
(function () {
  if (window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches) { return; }
  const UID = 'alert-halo-1';
  const LAYER = 'plotly-trace-layer-' + UID + '-circle';
  let on = true;
  setInterval(function () {
    if (document.hidden) { return; }
    on = !on;
    document.querySelectorAll('.js-plotly-plot').forEach(function (gd) {
      const sub = gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
      const map = sub && sub.map;
      const trace = (gd._fullData || []).find(function (t) { return t.uid === UID; });
      if (!map || !map.getLayer || !map.getLayer(LAYER) || !trace || !(trace.lon || []).length) { return; }
      if (!map.loaded() || map.isMoving()) { return; }
      map.setPaintProperty(LAYER, 'circle-opacity', on ? 0.65 : 0.1);
    });
  }, 600);
})();
