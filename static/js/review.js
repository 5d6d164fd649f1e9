// Review lists: j/k move through the rows, Enter opens the selected one.
document.addEventListener("DOMContentLoaded", () => {
  const rows = Array.from(document.querySelectorAll("[data-review-table] tbody tr[data-href]"));
  if (!rows.length) return;
  let index = 0;
  const select = (next) => {
    rows[index].classList.remove("selected");
    index = Math.max(0, Math.min(rows.length - 1, next));
    rows[index].classList.add("selected");
    rows[index].scrollIntoView({ block: "nearest" });
  };
  select(0);
  document.addEventListener("keydown", (event) => {
    const tag = event.target && event.target.tagName;
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA" || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "j") select(index + 1);
    else if (event.key === "k") select(index - 1);
    else if (event.key === "Enter") window.location.href = rows[index].dataset.href;
  });
});
