// Labeling queue: the keys curators know from dedupe's console labeler, and time spent per pair.
(function () {
  const KEYS = { y: "y", n: "n", u: "u", s: "s", p: "p", Backspace: "p" };

  function card() { return document.querySelector("#queue .pair-card"); }

  function markShown() {
    const current = card();
    if (current && current.dataset.pair && !current.dataset.shownAt) current.dataset.shownAt = String(Date.now());
  }

  function toggleHelp(force) {
    const help = document.getElementById("key-help");
    if (!help) return;
    const show = force === undefined ? help.hidden : force;
    help.hidden = !show;
  }

  document.addEventListener("DOMContentLoaded", markShown);
  document.body.addEventListener("htmx:afterSwap", markShown);

  // Fill in how long the curator looked at the pair, just before the answer is sent.
  document.body.addEventListener("htmx:configRequest", (event) => {
    const current = card();
    if (current && current.dataset.shownAt && "seconds_spent" in event.detail.parameters) {
      event.detail.parameters.seconds_spent = ((Date.now() - Number(current.dataset.shownAt)) / 1000).toFixed(1);
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
    const button = document.querySelector(`#queue button[data-key="${key}"]:not([disabled])`);
    if (button) {
      event.preventDefault();
      button.click();
    }
  });
})();
