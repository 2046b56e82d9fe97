/* Dash's renderer keeps an undo history of every input change that did not come from the server: each tick
   of each dcc.Interval (the clock's, the polls') adds an entry, 2-3 a second, for ever (about 9,000 an hour).
   No screen here offers undo, and a cockpit or duty console stays open for days: keep only the last few.
   window.iocTrimUndoHistory is also called by the wall's rotation (kiosk.js) on every step. */
(function () {
  const HISTORY_KEPT = 20;
  window.iocTrimUndoHistory = function () {
    (window.dash_stores || []).forEach(function (store) {
      const history = store.getState && store.getState().history;
      if (history && Array.isArray(history.past) && history.past.length > HISTORY_KEPT) {
        history.past.splice(0, history.past.length - HISTORY_KEPT);
      }
    });
  };
  setInterval(window.iocTrimUndoHistory, 30000);
})();
