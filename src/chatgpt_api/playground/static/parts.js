// Structured turns: what a stored message carries beyond its text, as DOM nodes.
//
// A conversation message's `message` field is its OpenAI chat form (or null for plain text):
// assistant `tool_calls` (and the legacy `function_call`), a tool result (`tool_call_id`, the
// legacy `function` role's `name`), and user content parts: image_url, input_audio, file.
// Inline images and files come as `attachment:sha256:<hex>` (a data URL kept by the gateway)
// or `attachment-b64:sha256:<hex>` (bare base64, audio); the caller supplies `fetchAttachment`,
// which resolves a hash to { url (a blob: URL), type, size }, `describeAttachment` (a hash to
// { type, size } without the bytes), `download` (a hash and a file name) and `openImage`.
//
// Everything is built with DOM calls and textContent: nothing here is parsed as HTML.

const ATTACHMENT = /^attachment(?:-b64)?:sha256:([0-9a-f]{64})$/;
const DATA_URL = /^data:([\w.+-]+\/[\w.+-]+)?[^,]*?(;base64)?,/;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function attachmentHash(value) {
  const match = typeof value === "string" ? ATTACHMENT.exec(value) : null;
  return match ? match[1] : null;
}

export function formatSize(bytes) {
  if (!Number.isFinite(bytes)) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

// Decoded size of base64 text (a data URL's payload or bare base64).
function base64Size(text) {
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  return Math.max(0, Math.floor((text.length * 3) / 4) - padding);
}

function dataUrlFacts(url) {
  const match = typeof url === "string" ? DATA_URL.exec(url) : null;
  if (!match) return null;
  const payload = url.slice(match[0].length);
  return {
    type: match[1] || "",
    size: match[2] ? base64Size(payload) : decodeURIComponent(payload).length,
  };
}

// JSON shown indented when it parses, else the text as it is.
export function pretty(text) {
  if (typeof text !== "string") return JSON.stringify(text, null, 2);
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

// The text of a content that is a string or a list of parts.
export function contentText(content) {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .filter((p) => p && typeof p.text === "string")
    .map((p) => p.text)
    .join("\n");
}

// Parts other than text (and refusal): what a text-only resend would lose.
export function hasMedia(message) {
  const payload = message && message.message;
  return Boolean(
    payload &&
      Array.isArray(payload.content) &&
      payload.content.some((p) => p && p.type !== "text" && p.type !== "refusal"),
  );
}

// tool_call_id -> function name, from every assistant message of a conversation.
export function toolNames(messages) {
  const names = new Map();
  for (const m of messages) {
    const calls = m.message && Array.isArray(m.message.tool_calls) ? m.message.tool_calls : [];
    for (const call of calls) {
      if (call && typeof call.id === "string" && call.function && call.function.name) {
        names.set(call.id, call.function.name);
      }
    }
  }
  return names;
}

function block(kind, tag, name, id, body) {
  const details = el("details", `tool-block ${kind}`);
  const summary = el("summary");
  summary.append(el("span", "tool-tag", tag));
  if (name) summary.append(el("code", "tool-name", name));
  if (id) summary.append(el("span", "tool-id", id));
  const pre = el("pre", "tool-body");
  pre.append(el("code", "", body));
  details.append(summary, pre);
  return details;
}

// One collapsible block per call: the function's name, its arguments pretty-printed.
export function toolCallBlocks(payload) {
  const blocks = [];
  const calls = Array.isArray(payload.tool_calls) ? payload.tool_calls : [];
  for (const call of calls) {
    const fn = (call && call.function) || {};
    const name = fn.name || (call && call.type) || "tool";
    const args = fn.arguments !== undefined ? fn.arguments : call && call[call.type];
    blocks.push(block("tool-call", "Tool call", name, call && call.id, pretty(args ?? "")));
  }
  const legacy = payload.function_call;
  if (legacy && typeof legacy === "object") {
    blocks.push(block("tool-call", "Function call", legacy.name, null, pretty(legacy.arguments ?? "")));
  }
  return blocks;
}

// A tool (or legacy function) result, labelled with the tool's name when known and its call id.
export function toolResultBlock(message, names) {
  const payload = message.message || {};
  const id = typeof payload.tool_call_id === "string" ? payload.tool_call_id : null;
  const name = (id && names.get(id)) || payload.name || null;
  const text = payload.content !== undefined ? contentText(payload.content) : message.content;
  return block("tool-result", "Tool result", name, id, pretty(text || ""));
}

function chip(kind, facts, action) {
  const node = action ? el("button", "chip") : el("span", "chip");
  if (action) {
    node.type = "button";
    node.addEventListener("click", action);
  }
  node.dataset.kind = kind;
  node.append(el("span", "chip-kind", kind));
  setChipFacts(node, facts);
  return node;
}

function setChipFacts(node, facts) {
  const kind = node.dataset.kind;
  const detail = facts.filter(Boolean).join(" · ");
  let slot = node.querySelector(".chip-detail");
  if (!slot && detail) node.append((slot = el("span", "chip-detail")));
  if (slot) slot.textContent = detail;
  const hint = node.tagName === "BUTTON" ? "(click to download)" : "";
  node.title = [kind, detail, hint].filter(Boolean).join(" ");
}

// A chip of an attachment: its media type and size are filled in once the gateway says them
// (`guess` shows until then, e.g. an audio clip's format).
function attachmentChip(kind, sha, { known = [], guess = [], name }, ctx) {
  const node = chip(kind, [...known, ...guess], () => ctx.download(sha, name));
  ctx.describeAttachment(sha).then(
    (found) => setChipFacts(node, [...known, found.type || guess[0], formatSize(found.size)]),
    () => setChipFacts(node, [...known, ...guess, "unavailable"]),
  );
  return node;
}

function imageNode(part, number, ctx) {
  const image = part.image_url || {};
  const url = typeof image.url === "string" ? image.url : "";
  const detail = image.detail ? `detail ${image.detail}` : "";
  const alt = `Attached image ${number}${detail ? ` (${detail})` : ""}`;
  const sha = attachmentHash(url);
  if (!sha && !url.startsWith("data:image/")) {
    if (!/^https?:\/\//i.test(url)) return chip("image", [url.slice(0, 80)]);
    // An image elsewhere on the web: linked, not loaded (the page fetches nothing off-site).
    const link = el("a", "chip link");
    link.href = url;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    link.dataset.kind = "image";
    link.append(el("span", "chip-kind", "image"), el("span", "chip-detail", url.slice(0, 80)));
    link.title = alt;
    return link;
  }
  const button = el("button", "thumb");
  button.type = "button";
  button.setAttribute("aria-label", `${alt}: open full size`);
  const img = el("img");
  img.alt = alt;
  img.decoding = "async";
  button.append(img);
  const show = (src, type, size) => {
    img.src = src;
    button.title = [alt, type, formatSize(size)].filter(Boolean).join(" · ");
    button.addEventListener("click", () => ctx.openImage(src, alt));
  };
  if (sha) {
    img.dataset.attachment = sha;
    ctx.fetchAttachment(sha).then(
      (found) => show(found.url, found.type, found.size),
      (error) => button.replaceWith(chip("image", ["unavailable", error.message])),
    );
  } else {
    const facts = dataUrlFacts(url);
    show(url, facts && facts.type, facts && facts.size);
  }
  return button;
}

function audioNode(part, ctx) {
  const audio = part.input_audio || {};
  const data = typeof audio.data === "string" ? audio.data : "";
  const sha = attachmentHash(data);
  const name = `audio${sha ? `-${sha.slice(0, 8)}` : ""}.${audio.format || "bin"}`;
  if (sha) return attachmentChip("audio", sha, { guess: [audio.format], name }, ctx);
  return chip("audio", [audio.format, formatSize(base64Size(data))]);
}

function fileNode(part, ctx) {
  const file = part.file || {};
  const data = typeof file.file_data === "string" ? file.file_data : "";
  const sha = attachmentHash(data);
  const name = file.filename || file.file_id || (sha ? `file-${sha.slice(0, 8)}` : "");
  if (sha) return attachmentChip("file", sha, { known: [name], name }, ctx);
  const facts = dataUrlFacts(data);
  return chip("file", [name, facts && facts.type, facts && formatSize(facts.size)]);
}

// The non-text parts of a user message: image thumbnails, audio and file chips.
export function mediaRow(payload, ctx) {
  const parts = Array.isArray(payload.content) ? payload.content : [];
  const row = el("div", "media");
  let images = 0;
  for (const part of parts) {
    if (!part || typeof part !== "object") continue;
    if (part.type === "image_url") row.append(imageNode(part, (images += 1), ctx));
    else if (part.type === "input_audio") row.append(audioNode(part, ctx));
    else if (part.type === "file") row.append(fileNode(part, ctx));
    else if (part.type !== "text" && part.type !== "refusal") row.append(chip(String(part.type), []));
  }
  return row.childElementCount ? row : null;
}
