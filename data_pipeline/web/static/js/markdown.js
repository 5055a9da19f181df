// A small, safe Markdown renderer for the generated *.md table docs: it builds DOM nodes (never innerHTML),
// so text from files cannot inject markup. Block structure follows CommonMark for what the docs use:
// ATX headings, paragraphs (consecutive lines, soft breaks kept as "\n" and shown as line breaks by CSS),
// bullet and ordered lists (a list may interrupt a paragraph — an ordered one only when it starts at 1 —,
// continuation and lazy lines, nesting by indentation, tight vs loose items, `start` of ordered lists, a new
// list when the bullet character changes), fenced code, pipe tables, blockquotes and thematic breaks; inline
// `code`, **bold**, *em* and http(s) links.
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
const BLANK = /^\s*$/;
const FENCE = /^ {0,3}```(\w*)/;
const HEADING = /^ {0,3}(#{1,6})(?:\s+(.*?))?\s*#*\s*$/;
const RULE = /^ {0,3}((\*\s*){3,}|(-\s*){3,}|(_\s*){3,})$/;
const QUOTE = /^ {0,3}>\s?/;
// indent, marker (bullet or number + . or )), the spaces after it, the item's first line
const ITEM = /^( {0,3})([-*+]|(\d{1,9})([.)]))( +|$)(.*)$/;
const isTableStart = (lines, i) => /^\s*\|/.test(lines[i]) && i + 1 < lines.length
  && /^\s*\|?\s*:?-{2,}/.test(lines[i + 1]);

/** A list item's marker data, or null. `contentIndent` is where the item's own lines start (CommonMark). */
function itemMarker(line) {
  const m = line.match(ITEM);
  if (!m) return null;
  const spaces = m[5].length;
  const width = m[1].length + m[2].length + (spaces >= 1 && spaces <= 4 ? spaces : 1);
  return { ordered: m[3] !== undefined, bullet: m[3] === undefined ? m[2] : m[4],
           start: m[3] !== undefined ? parseInt(m[3], 10) : 1, contentIndent: width,
           first: spaces > 4 ? " ".repeat(spaces - 1) + m[6] : m[6], empty: !m[6].trim() };
}

/** Can `line` start a block that ends a paragraph? (a list only when non-empty, ordered only from 1) */
function interruptsParagraph(line) {
  if (FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line)) return true;
  const item = itemMarker(line);
  return !!item && !item.empty && (!item.ordered || item.start === 1);
}

const indentOf = (line) => line.match(/^ */)[0].length;

/** Parse the list that starts at lines[i]; returns [node, next index]. */
function parseList(lines, i) {
  const head = itemMarker(lines[i]);
  const items = [];
  let loose = false;
  let current = null;
  while (i < lines.length) {
    const line = lines[i];
    const marker = itemMarker(line);
    const sameList = marker && marker.ordered === head.ordered && marker.bullet === head.bullet;
    if (BLANK.test(line)) {
      // a blank line inside the list: it continues when the next non-blank line belongs to it
      let j = i + 1;
      while (j < lines.length && BLANK.test(lines[j])) j += 1;
      if (j >= lines.length) { i = j; break; }
      const next = itemMarker(lines[j]);
      const nested = current && indentOf(lines[j]) >= current.indent;
      const sibling = next && next.ordered === head.ordered && next.bullet === head.bullet
                      && indentOf(lines[j]) < (current ? current.indent : 4);
      if (!nested && !sibling) break;
      if (sibling) loose = true; else current.lines.push("");
      current.blankSeen = true;
      i = j;
      continue;
    }
    if (current && indentOf(line) >= current.indent) {            // the item's own (indented) lines
      current.lines.push(line.slice(current.indent));
      i += 1;
      continue;
    }
    if (sameList) {                                                // the next item of this list
      if (current && current.blankSeen) loose = true;
      current = { indent: marker.contentIndent, lines: [marker.first], blankSeen: false };
      items.push(current);
      i += 1;
      continue;
    }
    // lazy continuation: a paragraph line of the item that is not indented
    const last = current && current.lines[current.lines.length - 1];
    if (current && last && !BLANK.test(last) && !current.blankSeen && !interruptsParagraph(line) && !marker) {
      current.lines.push(line.trim());
      i += 1;
      continue;
    }
    break;
  }
  // an item with a blank line between two of its own blocks makes the list loose too
  if (items.some((it) => { const k = it.lines.indexOf(""); return k > 0 && it.lines.slice(k).some((l) => l.trim()); }))
    loose = true;
  const list = el(head.ordered ? "ol" : "ul");
  if (head.ordered && head.start !== 1) list.setAttribute("start", String(head.start));
  for (const item of items) {
    const blocks = renderBlocks(item.lines);
    // tight list: paragraphs are shown without <p> (CommonMark's rendering)
    list.append(el("li", {}, loose ? blocks : blocks.flatMap((b) => (b.tagName === "P" ? [...b.childNodes] : [b]))));
  }
  return [list, i];
}

/** Lines -> block nodes. */
export function renderBlocks(lines) {
  const out = [];
  let i = 0;
  while (i < lines.length) {
    const ln = lines[i];
    if (BLANK.test(ln)) { i += 1; continue; }
    const fence = ln.match(FENCE);
    if (fence) {
      const body = [];
      for (i += 1; i < lines.length && !FENCE.test(lines[i]); i += 1) body.push(lines[i]);
      i += 1;
      out.push(el("pre", {}, el("code", { text: body.join("\n") })));
      continue;
    }
    const h = ln.match(HEADING);
    if (h) { out.push(el("h" + Math.min(6, h[1].length + 1), {}, inline(h[2] || ""))); i += 1; continue; }
    if (RULE.test(ln)) { out.push(el("hr")); i += 1; continue; }
    if (isTableStart(lines, i)) {
      const head = cells(ln);
      const rows = [];
      for (i += 2; i < lines.length && /^\s*\|/.test(lines[i]); i += 1) rows.push(cells(lines[i]));
      out.push(el("div.table-wrap", {}, el("table", {},
        el("thead", {}, el("tr", {}, head.map((c) => el("th", {}, inline(c))))),
        el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c) => el("td", {}, inline(c)))))))));
      continue;
    }
    if (itemMarker(ln)) {
      const [list, next] = parseList(lines, i);
      out.push(list);
      i = next;
      continue;
    }
    if (QUOTE.test(ln)) {
      const body = [];
      for (; i < lines.length && QUOTE.test(lines[i]); i += 1) body.push(lines[i].replace(QUOTE, ""));
      out.push(el("blockquote", {}, renderBlocks(body)));
      continue;
    }
    // a paragraph: this line and the following ones until a blank line or a block that may interrupt it
    const para = [ln.trim()];
    for (i += 1; i < lines.length && !BLANK.test(lines[i]) && !interruptsParagraph(lines[i])
                 && !isTableStart(lines, i); i += 1)
      para.push(lines[i].trim());
    const p = el("p");
    para.forEach((text, k) => { if (k) p.append("\n"); p.append(...inline(text)); }); // soft breaks
    out.push(p);
  }
  return out;
}

/** Markdown text -> a <div class="md"> element. */
export function renderMarkdown(text) {
  const root = el("div.md");
  root.append(...renderBlocks(String(text).replace(/\r\n?/g, "\n").replace(/\t/g, "    ").split("\n")));
  return root;
}
