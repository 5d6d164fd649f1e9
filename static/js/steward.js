// Steward's small shared behaviours; page-specific scripts live beside this one.
document.addEventListener("DOMContentLoaded", () => {
  const toggle = document.querySelector("[data-toggle-nav]");
  const nav = document.getElementById("main-nav");
  if (toggle && nav) {
    toggle.addEventListener("click", () => {
      const open = nav.classList.toggle("open");
      toggle.setAttribute("aria-expanded", String(open));
    });
  }
  // File inputs with a size limit refuse a file that is too large before it is sent: <input data-max-bytes="...">.
  document.querySelectorAll("input[type=file][data-max-bytes]").forEach((input) => {
    input.addEventListener("change", () => {
      const tooLarge = Array.from(input.files).some((file) => file.size > Number(input.dataset.maxBytes));
      input.setCustomValidity(tooLarge ? input.dataset.tooLarge : "");
      if (tooLarge) input.reportValidity();
    });
  });
  // Wide tables say when they scroll sideways: <p data-scroll-cue> before a <div data-scroll-wrap>.
  const markScrolling = () => document.querySelectorAll("[data-scroll-wrap]").forEach((wrap) => {
    const cue = wrap.previousElementSibling;
    if (cue && cue.hasAttribute("data-scroll-cue")) cue.classList.toggle("scrolls", wrap.scrollWidth > wrap.clientWidth + 1);
  });
  markScrolling();
  window.addEventListener("resize", markScrolling);
  // Forms that ask before doing something drastic: <form data-confirm="Really?">.
  document.body.addEventListener("submit", (event) => {
    const message = event.target.dataset && event.target.dataset.confirm;
    if (message && !window.confirm(message)) event.preventDefault();
  });
});
