// Keyboard work on the review pages, image zoom and the evidence viewer. The pages work without
// it; it only saves the officer the mouse.
"use strict";
(function () {
  const $ = (s) => document.querySelector(s);
  const $$ = (s) => Array.from(document.querySelectorAll(s));
  const typing = (el) => el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT");

  // The queue: rows open on click; j / k move the selection, Enter opens it.
  const rows = $$("#queue tbody tr[data-href]");
  let selected = rows.length ? 0 : -1;
  const select = (i) => {
    if (!rows.length) return;
    selected = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach((r, n) => r.classList.toggle("selected", n === selected));
    rows[selected].scrollIntoView({ block: "nearest" });
  };
  rows.forEach((r, n) => r.addEventListener("click", (e) => {
    if (e.target.closest("a")) return;
    select(n);
    location.href = r.dataset.href;
  }));
  if (rows.length) select(0);

  // The viewer: thumbnails choose the image, a click zooms where it is clicked.
  const viewer = $("#viewer");
  const main = $("#main-image");
  const thumbs = $$(".thumb");
  const show = (n) => {
    const t = thumbs[n];
    if (!t || !main) return;
    main.src = t.dataset.src;
    main.alt = t.dataset.name;
    main.dataset.name = t.dataset.name;
    $("#main-caption").textContent = t.dataset.caption;
    thumbs.forEach((b, i) => b.setAttribute("aria-pressed", String(i === n)));
    viewer.classList.remove("zoomed");
  };
  thumbs.forEach((t, n) => t.addEventListener("click", () => show(n)));
  const aim = (e) => {
    const r = main.getBoundingClientRect();
    main.style.transformOrigin = `${((e.clientX - r.left) / r.width) * 100}% ${((e.clientY - r.top) / r.height) * 100}%`;
  };
  if (main) {
    main.addEventListener("click", (e) => { aim(e); viewer.classList.toggle("zoomed"); });
    main.addEventListener("mousemove", (e) => { if (viewer.classList.contains("zoomed")) aim(e); });
  }

  const help = $("#help");
  const helpOpen = $("#help-open");
  if (helpOpen && help) helpOpen.addEventListener("click", () => help.showModal());

  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "Escape") { document.activeElement && document.activeElement.blur(); if (viewer) viewer.classList.remove("zoomed"); return; }
    if (typing(document.activeElement)) return;
    const go = (el) => { if (el) { e.preventDefault(); el.focus(); if (el.select) el.select(); } };
    switch (e.key) {
      case "j": if (rows.length) { e.preventDefault(); select(selected + 1); } break;
      case "k": if (rows.length) { e.preventDefault(); select(selected - 1); } break;
      case "Enter": if (rows.length && document.activeElement === document.body) { e.preventDefault(); location.href = rows[selected].dataset.href; } break;
      case "/": go($("#plate-filter")); break;
      case "a": go($("#approve")); break;
      case "r": go($("#reject-reason")); break;
      case "p": go($("#plate-input")); break;
      case "z": if (viewer) { e.preventDefault(); viewer.classList.toggle("zoomed"); } break;
      case "n": { const n = $("#next"); if (n) { e.preventDefault(); location.href = n.href; } break; }
      case "?": if (help) { e.preventDefault(); help.showModal(); } break;
      default:
        if (/^[1-9]$/.test(e.key) && thumbs.length) { e.preventDefault(); show(Number(e.key) - 1); }
    }
  });
})();
