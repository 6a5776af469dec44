// Layout defects a passing axe run does not see (issue #26 items 1–4), measured in the page as laid
// out at the current viewport width. Returns a list of findings (strings); empty when all is well.
//
// 1. a word split over two lines: an ordinary word (letters, . , – and friends, at most 30
//    characters) must not break unless at a hyphen or a soft hyphen; a number with hyphens (a
//    Vertragsnummer) standing alone — a heading, a link, a cell — not even there; a long unbroken string (an e-mail address, a URL: contains @ or / or is
//    longer than 30 characters) may break only where it is wider than its whole container;
// 2. a table cell narrower than its longest ordinary word;
// 3. (checked by the caller: field errors on a page nobody submitted);
// 4. sideways scrolling: the document wider than the viewport.
(async () => {
  // laid out again after the viewport changed (charts redraw on the next frames)
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  const findings = [];
  const ORDINARY = /^[\p{L}\p{N}.,:;!?%€()„“"'’‚‘–§&+*=\-]+$/u;
  const MAX_ORDINARY = 30;
  const BREAK_AFTER = new Set(["-", "\u00AD", "/", "–", "\u200B"]);
  const visible = (el) => {
    for (let e = el; e && e !== document.body; e = e.parentElement) {
      const style = getComputedStyle(e);
      if (style.display === "none" || style.visibility === "hidden") return false;
      // for screen readers only (.visually-hidden, a stacked table's head): clipped to nothing
      if (style.clip && style.clip !== "auto") return false;
    }
    return true;
  };
  const lines = (rects) => {
    const tops = [];
    for (const r of rects) {
      if (r.width < 0.5 || r.height < 0.5) continue;
      if (!tops.some((t) => Math.abs(t - r.top) < r.height / 2)) tops.push(r.top);
    }
    return tops.length;
  };
  const containerOf = (node) => {
    let e = node.parentElement;
    while (e && getComputedStyle(e).display.startsWith("inline")) e = e.parentElement;
    return e;
  };
  const contentWidth = (e) => {
    const s = getComputedStyle(e);
    return e.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
  };
  const where = (e) => {
    const parts = [];
    for (let x = e; x && x !== document.body && parts.length < 3; x = x.parentElement) {
      parts.unshift(x.tagName.toLowerCase() + (x.id ? "#" + x.id : "") + (x.classList.length ? "." + [...x.classList].join(".") : ""));
    }
    return parts.join(" > ");
  };
  const widthOf = (range) => [...range.getClientRects()].reduce((sum, r) => sum + r.width, 0);
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  const cells = new Map();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || ["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE", "OPTION", "TEXTAREA"].includes(parent.tagName)) continue;
    if (!node.data.trim() || !visible(parent)) continue;
    const cell = parent.closest("td, th");
    for (const match of node.data.matchAll(/\S+/g)) {
      const token = match[0].replace(/^[(„“"'‚‘]+|[)“"'’‘.,:;!?]+$/gu, "");
      if (!token) continue;
      const start = match.index + match[0].indexOf(token);
      range.setStart(node, start);
      range.setEnd(node, start + token.length);
      const ordinary = ORDINARY.test(token) && token.length <= MAX_ORDINARY;
      if (cell && ordinary && !token.includes("-")) {
        cells.set(cell, Math.max(cells.get(cell) || 0, widthOf(range)));
      }
      if (lines(range.getClientRects()) < 2) continue;
      // where does it break? the first character on a later line
      let breakAt = -1;
      range.setStart(node, start);
      range.setEnd(node, start + 1);
      const firstTop = range.getBoundingClientRect().top;
      for (let i = 1; i < token.length; i++) {
        range.setStart(node, start + i);
        range.setEnd(node, start + i + 1);
        const r = range.getBoundingClientRect();
        if (r.height > 0 && Math.abs(r.top - firstTop) > r.height / 2) { breakAt = i; break; }
      }
      const atHyphen = breakAt > 0 && (BREAK_AFTER.has(token[breakAt - 1]) || BREAK_AFTER.has(token[breakAt]));
      // a compound word may break at its hyphen ("Müller-|Lüdenscheidt"), a number with hyphens (a
      // Vertragsnummer "VR-2026-0000005-5", a Schadennummer) only where it cannot fit at all
      const identifier = /\d/.test(token) && (token.match(/-/g) || []).length >= 2;
      // ... in running text (more than three words around it) a line may still end at its hyphen
      const shortText = parent.textContent.trim().split(/\s+/).length <= 3;
      if (atHyphen && (!identifier || !shortText)) continue;
      if (!ordinary || identifier) {
        range.setStart(node, start);
        range.setEnd(node, start + token.length);
        const container = containerOf(node);
        if (container && widthOf(range) > contentWidth(container) + 1) continue;  // cannot fit anywhere
      }
      const shown = breakAt > 0 ? token.slice(0, breakAt) + "|" + token.slice(breakAt) : token;
      findings.push(`word split over two lines: "${shown}" in ${where(parent)}`);
    }
  }
  for (const [cell, longest] of cells) {
    const width = contentWidth(cell);
    if (longest > width + 1) {
      findings.push(`table cell narrower (${Math.round(width)} px) than its longest word (${Math.round(longest)} px): "${cell.textContent.trim().slice(0, 40)}" in ${where(cell)}`);
    }
  }
  // the tab's title: a short plain text (a template once swallowed half its page into {% block title %})
  if (/[<>]/.test(document.title) || document.title.length > 120) {
    findings.push(`title is not a short plain text: "${document.title.slice(0, 60)}…" (${document.title.length} characters)`);
  }
  const wide = document.documentElement.scrollWidth;
  if (wide > window.innerWidth + 1) {
    const culprits = [...document.body.querySelectorAll("*")]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && visible(e))
      .slice(0, 3)
      .map(where);
    findings.push(`scrolls sideways: ${wide} px wide at ${window.innerWidth} px (${culprits.join("; ")})`);
  }
  return findings;
})()
