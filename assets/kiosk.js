/* Kiosk mode (?kiosk=1, see callbacks/kiosk.py): the video wall's client side.
   - rotate: every tick, show the playlist's next step when the current one has had its time, jump to a
     newer grade I/II alert and hold on it, then resume where the playlist was. The URL is written through
     the wall's own dcc.Location (refresh="callback-nav"): the shell's URL follows, the page redraws in
     place, nothing reloads. Its state is a few numbers kept in sessionStorage (a reload resumes it).
   - health: ask /healthz; when it fails the wall says it is reconnecting, and when the server answers
     again the page reloads itself (same URL; the session cookie outlives a server restart).
   - the cursor hides after 3 s without a move.
   Nothing here accumulates: no arrays that grow (Dash's own undo history is trimmed), one listener, one timer. */
(function () {
  // A page still drawing (a plotly graph pending, a callback in flight) is not left before it is done, for
  // at most this long: Dash's graph fails on a plot queued before it was taken down.
  const MAX_WAIT_MS = 30000;
  const busy = () => !!document.querySelector('.dash-graph--pending, [data-dash-is-loading="true"]') ||
    // a plot queued behind one still drawing carries no class yet: a map not loaded yet tells it
    [...document.querySelectorAll('.js-plotly-plot')].some(function (gd) {
      const sub = gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
      return !gd._fullLayout || !!(sub && sub.map && !sub.map.loaded());
    });

  // Dash's undo history grows with every timer tick: assets/undo_history.js trims it.
  const trimUndoHistory = () => window.iocTrimUndoHistory && window.iocTrimUndoHistory();

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    kiosk: {
      rotate: function (_n, feed, state, pathname, search, statusShown, alertHidden, link) {
        const none = window.dash_clientside.no_update;
        trimUndoHistory();
        // No feed yet, or the server is not answering: keep what is shown (its last data) and the place.
        if (!feed || !Array.isArray(feed.steps) || (link && (link.lost || link.fails))) { return [none, none, none, none, none]; }
        const steps = feed.steps;
        const now = Date.now();
        const s = Object.assign({i: -1, at: 0, hold: null, seen: null, waiting: 0}, state || {});
        const before = JSON.stringify(s);
        const newer = (a, b) => a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);
        const sev = feed.severe;
        let fresh = false;  // a new alert to hold on
        if (s.seen === null) {
          s.seen = sev ? sev.key : [0, 0];  // what was open when the wall started is not news
        } else if (sev && newer(sev.key, s.seen)) {
          s.seen = sev.key;
          s.hold = {until: now + feed.hold_ms, path: sev.path, search: sev.search, text: sev.text};
          fresh = true;
        }
        if (s.hold && now >= s.hold.until) {
          s.hold = null;
          s.at = now;  // the playlist resumes on the step it was on, for a whole dwell
        }
        if (!s.hold && steps.length) {
          if (s.i < 0 || s.i >= steps.length) {
            s.i = 0; s.at = now;
          } else if (now - s.at >= steps[s.i].dwell) {
            s.i = (s.i + 1) % steps.length; s.at = now;
          }
        }
        // Where the wall should be; it goes there once the page on screen has finished drawing.
        const target = s.hold || steps[s.i] || null;
        const here = (pathname || '') + (search || '');
        let href = none;
        if (target && target.path + target.search !== here) {
          if (busy() && (!s.waiting || now - s.waiting < MAX_WAIT_MS)) {
            s.waiting = s.waiting || now;
          } else {
            href = target.path + target.search;
            s.waiting = 0;
            if (!s.hold) { s.at = now; }  // the step's dwell counts from when it is shown
          }
        }
        const status = s.hold ? feed.labels.holding : (steps.length ? `${feed.labels.rotation} ${s.i + 1} / ${steps.length}` : '');
        const hidden = !s.hold;
        return [
          href,
          JSON.stringify(s) === before ? none : s,
          status === statusShown || s.waiting ? none : status,  // what is shown, not what is due
          s.hold && (fresh || hidden !== alertHidden) ? s.hold.text : none,
          hidden === alertHidden ? none : hidden,
        ];
      },

      health: async function (_n, link) {
        const none = window.dash_clientside.no_update;
        const lost = !!(link && link.lost);
        const answers = async (url, check) => {
          const ctl = new AbortController();
          const timer = setTimeout(() => ctl.abort(), 8000);
          try {
            const r = await fetch(url, {cache: 'no-store', credentials: 'same-origin', signal: ctl.signal});
            return await check(r);
          } catch (e) {
            return false;
          } finally {
            clearTimeout(timer);
          }
        };
        // Our /healthz answers JSON with a status (503 too: the server is there, its database is not, and
        // the banner of callbacks/degrade.py says so); a proxy's 502 page or no answer means it is gone.
        const reachable = await answers('/healthz', async (r) => !!((await r.json()) || {}).status);
        // Lost after two failures in a row: one slow answer of a busy server is not an outage.
        const fails = reachable ? 0 : ((link && link.fails) || 0) + 1;
        if (!reachable && !lost) { return fails >= 2 ? {lost: true, fails: fails, since: Date.now()} : {lost: false, fails: fails}; }
        if (reachable && lost) {
          // Reload only when the page itself loads: a reload into a dead server would leave the browser's
          // error page on the wall, with nothing left to retry.
          if (await answers(window.location.href, async (r) => r.ok)) { window.location.reload(); }
          return none;
        }
        return reachable && link && link.fails ? {lost: false, fails: 0} : none;
      },
    },
  });
})();

(function () {
  let timer = null;
  function showThenHide() {
    document.body.classList.remove('kiosk-cursor-hidden');
    clearTimeout(timer);
    timer = setTimeout(function () { document.body.classList.add('kiosk-cursor-hidden'); }, 3000);
  }
  document.addEventListener('mousemove', showThenHide, {passive: true});
  if (document.body) { showThenHide(); } else { document.addEventListener('DOMContentLoaded', showThenHide, {once: true}); }
})();
