/* The header clock: date above the time (two lines; the first is styled small), every second.
   Plain DOM, not a Dash timer and callback: a Dash prop change every second makes the renderer walk every
   component of the page, which on a wall PC without a GPU competes with the map for the CPU. The span
   has no Dash output, so React never rewrites it; a new header (another page) is filled on the next tick. */
(function () {
  'use strict';
  const p = function (x) { return String(x).padStart(2, '0'); };
  function tick() {
    const el = document.getElementById('header-clock');
    if (el && !document.hidden) {
      const d = new Date();
      const text = d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + '\n' +
        p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
      if (el.textContent !== text) { el.textContent = text; }
    }
    setTimeout(tick, 1000 - (Date.now() % 1000) + 5);  // on the second, not drifting
  }
  tick();
})();
