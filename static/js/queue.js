// Labeling queue: the keys curators know from dedupe's console labeler, and time spent per pair.
(function () {
  const KEYS = { y: "y", n: "n", u: "u", s: "s", p: "p", Backspace: "p" };
  let busy = false;      // a request is on its way: keys wait for the next pair
  let pending = null;

  function card() { return document.querySelector("#queue .pair-card"); }

  function markShown() {
    const current = card();
    if (current && current.dataset.pair && !current.dataset.shownAt) current.dataset.shownAt = String(Date.now());
  }

  function secondsOnCard() {
    const current = card();
    if (!current || !current.dataset.shownAt) return "";
    return ((Date.now() - Number(current.dataset.shownAt)) / 1000).toFixed(1);
  }

  function toggleHelp(force) {
    const help = document.getElementById("key-help");
    if (!help) return;
    help.hidden = !(force === undefined ? help.hidden : force);
  }

  function press(key) {
    const button = document.querySelector(`#queue button[data-key="${key}"]:not([disabled])`);
    if (!button) return;
    const seconds = button.form && button.form.querySelector("input[name=seconds_spent]");
    if (seconds) seconds.value = secondsOnCard();
    button.click();
  }

  document.addEventListener("DOMContentLoaded", markShown);
  document.body.addEventListener("htmx:beforeRequest", () => { busy = true; });
  document.body.addEventListener("htmx:afterSettle", () => {
    busy = false;
    markShown();
    if (pending) { const key = pending; pending = null; press(key); }
  });
  document.body.addEventListener("htmx:responseError", () => { busy = false; });

  // htmx sends the form's fields; make sure the time on the card is among them.
  document.body.addEventListener("htmx:configRequest", (event) => {
    const seconds = secondsOnCard();
    if (seconds && event.detail.elt && event.detail.elt.querySelector && event.detail.elt.querySelector("input[name=seconds_spent]")) {
      event.detail.parameters.seconds_spent = seconds;
    }
  });

  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-help-toggle]")) toggleHelp();
  });

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT")) return;
    if (event.key === "?") { toggleHelp(); event.preventDefault(); return; }
    if (event.key === "Escape") { toggleHelp(false); return; }
    const key = KEYS[event.key];
    if (!key) return;
    event.preventDefault();
    if (busy) { pending = key; return; }
    press(key);
  });
})();
