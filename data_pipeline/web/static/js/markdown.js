// A small, safe Markdown renderer for the generated *.md table docs: it builds DOM nodes (never innerHTML),
// so text from files cannot inject markup. Supports headings, paragraphs, lists, fenced code, tables,
// blockquotes, rules, and inline `code`, **bold**, *em* and http(s) links.
import { el } from "./ui.js";

const INLINE_RE = /(`[^`]+`)|(\*\*[^*]+\*\*)|(\*[^*\s][^*]*\*)|(\[[^\]]+\]\((https?:\/\/[^)\s]+)\))/;

export function inline(text) {
  const out = [];
  let rest = text;
  while (rest) {
    const m = rest.match(INLINE_RE);
    if (!m) { out.push(rest); break; }
    if (m.index) out.push(rest.slice(0, m.index));
    const tok = m[0];
    if (m[1]) out.push(el("code", { text: tok.slice(1, -1) }));
    else if (m[2]) out.push(el("strong", { text: tok.slice(2, -2) }));
    else if (m[3]) out.push(el("em", { text: tok.slice(1, -1) }));
    else out.push(el("a", { href: m[5], rel: "noopener noreferrer", target: "_blank",
                            text: tok.slice(1, tok.indexOf("](")) }));
    rest = rest.slice(m.index + tok.length);
  }
  return out;
}

const cells = (row) => row.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((c) => c.trim());

/** Markdown text -> a <div class="md"> element. */
export function renderMarkdown(text) {
  const root = el("div.md");
  const lines = String(text).replace(/\r\n?/g, "\n").split("\n");
  let i = 0;
  while (i < lines.length) {
    const ln = lines[i];
    if (/^\s*$/.test(ln)) { i += 1; continue; }
    const fence = ln.match(/^```(\w*)/);
    if (fence) {
      const body = [];
      for (i += 1; i < lines.length && !/^```/.test(lines[i]); i += 1) body.push(lines[i]);
      i += 1;
      root.append(el("pre", {}, el("code", { text: body.join("\n") })));
      continue;
    }
    const h = ln.match(/^(#{1,6})\s+(.*)$/);
    if (h) { root.append(el("h" + Math.min(6, h[1].length + 1), {}, inline(h[2]))); i += 1; continue; }
    if (/^(-{3,}|\*{3,})\s*$/.test(ln)) { root.append(el("hr")); i += 1; continue; }
    if (/^\s*\|/.test(ln) && i + 1 < lines.length && /^\s*\|?\s*:?-{2,}/.test(lines[i + 1])) {
      const head = cells(ln);
      const rows = [];
      for (i += 2; i < lines.length && /^\s*\|/.test(lines[i]); i += 1) rows.push(cells(lines[i]));
      root.append(el("div.table-wrap", {}, el("table", {},
        el("thead", {}, el("tr", {}, head.map((c) => el("th", {}, inline(c))))),
        el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c) => el("td", {}, inline(c)))))))));
      continue;
    }
    const list = ln.match(/^\s*([-*+]|\d+\.)\s+/);
    if (list) {
      const ordered = /\d/.test(list[1]);
      const node = el(ordered ? "ol" : "ul");
      for (; i < lines.length && /^\s*([-*+]|\d+\.)\s+/.test(lines[i]); i += 1)
        node.append(el("li", {}, inline(lines[i].replace(/^\s*([-*+]|\d+\.)\s+/, ""))));
      root.append(node);
      continue;
    }
    if (/^>\s?/.test(ln)) {
      const body = [];
      for (; i < lines.length && /^>\s?/.test(lines[i]); i += 1) body.push(lines[i].replace(/^>\s?/, ""));
      root.append(el("blockquote", {}, inline(body.join(" "))));
      continue;
    }
    const para = [];
    for (; i < lines.length && lines[i].trim() && !/^(#{1,6}\s|```|\s*\||\s*([-*+]|\d+\.)\s+|>)/.test(lines[i]); i += 1)
      para.push(lines[i].trim());
    if (!para.length) { para.push(ln); i += 1; }
    root.append(el("p", {}, inline(para.join(" "))));
  }
  return root;
}
