/* Pulse the halos of open severity I and II alerts on every plotly map of the page: severity I every
   0.4 s, severity II every 0.8 s. Only the MapLibre layer's paint changes (plotly is not redrawn). */
(function () {
  if (window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches) { return; }
  const HALOS = [['alert-halo-1', 1], ['alert-halo-2', 2]];
  let tick = 0;
  setInterval(function () {
    tick += 1;
    document.querySelectorAll('.js-plotly-plot').forEach(function (gd) {
      const sub = gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
      const map = sub && sub.map;
      if (!map || !map.getLayer) { return; }
      HALOS.forEach(function ([uid, every]) {
        const id = 'plotly-trace-layer-' + uid + '-circle';
        if (!map.getLayer(id) || tick % every) { return; }
        const on = Math.floor(tick / every) % 2 === 0;
        map.setPaintProperty(id, 'circle-opacity', on ? 0.6 : 0.08);
      });
    });
  }, 400);
})();
