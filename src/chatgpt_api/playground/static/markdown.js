// A small Markdown renderer: headings, lists (nested by indentation), bold, italic, links,
// inline code, fenced code blocks, block quotes, horizontal rules and paragraphs.
//
// Safety: the whole input is HTML-escaped FIRST; the patterns below only ever wrap escaped
// text in a fixed set of tags. Link targets are limited to http(s), mailto and relative URLs,
// and (being escaped) cannot break out of the attribute. So the output is safe for innerHTML.

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const HOLE = "\u0000"; // placeholders for already-rendered spans (NULs are stripped from input)

function safeHref(escapedUrl) {
  const url = escapedUrl.replace(/&amp;/g, "&");
  if (/^(https?:\/\/|mailto:)/i.test(url) || /^[/#?]/.test(url) || /^\.{1,2}\//.test(url)) {
    return escapedUrl;
  }
  return null;
}

function emphasis(text) {
  return text
    .replace(/\*\*(?=\S)(.+?)\*\*/g, "<strong>$1</strong>")
    .replace(/(^|[^\w])__(?=\S)(.+?)__(?!\w)/g, "$1<strong>$2</strong>")
    .replace(/\*(?=[^\s*])([^*]*?[^\s*]|[^\s*])\*/g, "<em>$1</em>")
    .replace(/(^|[^\w])_(?=[^\s_])([^_]*?[^\s_]|[^\s_])_(?!\w)/g, "$1<em>$2</em>")
    .replace(/~~(?=\S)(.+?)~~/g, "<del>$1</del>");
}

// `text` is escaped already.
export function renderInline(text) {
  const spans = [];
  const keep = (html) => `${HOLE}${spans.push(html) - 1}${HOLE}`;
  let out = text.replace(/(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/g, (_, __, code) =>
    keep(`<code>${code.trim() === "" ? code : code.replace(/^ (.*) $/, "$1")}</code>`),
  );
  out = out.replace(/\[([^\]\n]+)\]\(([^()\s]+)\)/g, (whole, label, url) => {
    const href = safeHref(url);
    if (href === null) return whole;
    return keep(`<a href="${href}" target="_blank" rel="noopener noreferrer">${emphasis(label)}</a>`);
  });
  out = out.replace(/(^|[\s(])(https?:\/\/[^\s<]*[^\s<.,;:!?)\]'"])/g, (_, lead, url) =>
    lead + keep(`<a href="${url}" target="_blank" rel="noopener noreferrer">${url}</a>`),
  );
  out = emphasis(out);
  const holes = new RegExp(`${HOLE}(\\d+)${HOLE}`, "g");
  return out.replace(holes, (_, i) => spans[Number(i)]);
}

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)[^`]*$/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const LIST_ITEM = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;
const RULE = /^ {0,3}([-*_])(\s*\1){2,}\s*$/;
const QUOTE = /^ {0,3}&gt;\s?(.*)$/;

function renderList(items, start) {
  const base = items[start].indent;
  const ordered = items[start].ordered;
  const first = ordered ? Number.parseInt(items[start].marker, 10) : 1;
  let html = ordered ? (first !== 1 ? `<ol start="${first}">` : "<ol>") : "<ul>";
  let i = start;
  while (i < items.length && items[i].indent >= base) {
    if (items[i].indent > base) {
      const [inner, next] = renderList(items, i);
      html = html.endsWith("</li>") ? `${html.slice(0, -5)}${inner}</li>` : `${html}<li>${inner}</li>`;
      i = next;
      continue;
    }
    if (items[i].ordered !== ordered) break;
    html += `<li>${renderInline(items[i].text)}</li>`;
    i += 1;
  }
  return [`${html}${ordered ? "</ol>" : "</ul>"}`, i];
}

function renderBlocks(lines) {
  const out = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    const fence = FENCE.exec(line);
    if (fence) {
      const marker = fence[1];
      const lang = fence[2];
      const body = [];
      i += 1;
      while (i < lines.length && !lines[i].trimStart().startsWith(marker)) {
        body.push(lines[i]);
        i += 1;
      }
      i += 1; // the closing fence (or the end of an answer still streaming)
      const cls = lang ? ` class="language-${lang}"` : "";
      out.push(
        `<div class="code-block"><div class="code-head"><span>${lang || "code"}</span>` +
          '<button type="button" class="copy" data-copy>Copy</button></div>' +
          `<pre><code${cls}>${body.join("\n")}</code></pre></div>`,
      );
      continue;
    }
    if (line.trim() === "") {
      i += 1;
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      const level = heading[1].length;
      out.push(`<h${level}>${renderInline(heading[2])}</h${level}>`);
      i += 1;
      continue;
    }
    if (RULE.test(line)) {
      out.push("<hr>");
      i += 1;
      continue;
    }
    if (QUOTE.test(line)) {
      const quoted = [];
      while (i < lines.length && QUOTE.test(lines[i])) {
        quoted.push(QUOTE.exec(lines[i])[1]);
        i += 1;
      }
      out.push(`<blockquote>${renderBlocks(quoted)}</blockquote>`);
      continue;
    }
    if (LIST_ITEM.test(line)) {
      const items = [];
      while (i < lines.length) {
        const item = LIST_ITEM.exec(lines[i]);
        if (item) {
          const marker = item[2];
          items.push({
            indent: item[1].replace(/\t/g, "    ").length,
            ordered: /\d/.test(marker),
            marker,
            text: item[3],
          });
        } else if (lines[i].trim() !== "" && /^\s+/.test(lines[i]) && items.length) {
          items[items.length - 1].text += ` ${lines[i].trim()}`; // a wrapped item
        } else {
          break;
        }
        i += 1;
      }
      let at = 0;
      while (at < items.length) {
        const [html, next] = renderList(items, at);
        out.push(html);
        at = next;
      }
      continue;
    }
    const para = [];
    while (
      i < lines.length &&
      lines[i].trim() !== "" &&
      !FENCE.test(lines[i]) &&
      !HEADING.test(lines[i]) &&
      !QUOTE.test(lines[i]) &&
      !RULE.test(lines[i]) &&
      !(para.length && LIST_ITEM.test(lines[i]))
    ) {
      para.push(lines[i].trim());
      i += 1;
    }
    out.push(`<p>${para.map(renderInline).join("<br>")}</p>`);
  }
  return out.join("");
}

export function renderMarkdown(source) {
  const text = escapeHtml(String(source).replace(/\u0000/g, "").replace(/\r\n?/g, "\n"));
  return renderBlocks(text.split("\n"));
}
