// The chatgpt-api playground. Plain ES module, no dependencies, public /v1 API only:
//   GET /v1/models, GET /v1/conversations, GET|PATCH|DELETE /v1/conversations/{id},
//   POST /v1/chat/completions (stream=true, with the conversation_id / parent_message_id
//   extension fields; the final chunk carries conversation_id and message_id).
//
// The conversation is a tree. The page shows one path through it (`state.path`); a message
// with siblings gets a "‹ 2/3 ›" navigator, and switching to a sibling follows that sibling's
// newest descendants. Regenerate and Edit send a user message under the parent of the user
// message they replace, which makes a sibling branch; for the first message that parent is the
// conversation's root, named by the root parent id (the nil UUID).

import { renderMarkdown } from "./markdown.js";

const BASE = new URL("../../", import.meta.url); // the service root, wherever it is mounted
const KEY_STORE = "chatgpt-api.playground.apiKey";
const THEME_STORE = "chatgpt-api.playground.theme";
const MODEL_STORE = "chatgpt-api.playground.model";
const ROOT_PARENT = "00000000-0000-0000-0000-000000000000"; // parent_message_id: the root
const KEY_HINT = "Enter a gateway key or an upstream token in the API key box (top right).";

const $ = (id) => document.getElementById(id);
const ui = {
  conversations: $("conversations"),
  conversationsNote: $("conversations-note"),
  newChat: $("new-chat"),
  title: $("title"),
  model: $("model"),
  apiKey: $("api-key"),
  keyForm: $("key-form"),
  keySummary: $("key-summary"),
  theme: $("theme-toggle"),
  messages: $("messages"),
  empty: $("empty"),
  banner: $("banner"),
  composer: $("composer"),
  input: $("input"),
  send: $("send"),
  stop: $("stop"),
};

const state = {
  apiKey: localStorage.getItem(KEY_STORE) || "",
  conversationId: null,
  conversation: null, // the last GET /v1/conversations/{id}
  byId: new Map(), // message id -> message
  roots: [], // ids of messages without a parent, oldest first
  path: [], // the ids shown, root first
  pending: null, // the turn being streamed
  stale: null, // what a stopped turn left to reconcile before the next one
  knownConversations: new Set(),
};

// ---------------------------------------------------------------- HTTP

class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

function errorText(body, status) {
  if (body && typeof body === "object") {
    const error = body.error;
    if (error && typeof error === "object" && typeof error.message === "string") return error.message;
    if (typeof error === "string") return error;
    if (typeof body.message === "string") return body.message;
  }
  return `The service answered HTTP ${status}.`;
}

async function api(path, { method = "GET", body, signal } = {}) {
  const headers = { Accept: "application/json" };
  if (state.apiKey) headers.Authorization = `Bearer ${state.apiKey}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(new URL(path, BASE), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  if (!response.ok) {
    let parsed = null;
    try {
      parsed = await response.json();
    } catch {
      // not JSON: the status says it all
    }
    const message = errorText(parsed, response.status);
    if (response.status === 401) {
      pointAtKeyBox();
      throw new ApiError(`${message} — ${KEY_HINT}`, 401);
    }
    throw new ApiError(message, response.status);
  }
  return response;
}

async function apiJson(path, options) {
  return (await api(path, options)).json();
}

// Yields each `data:` payload of an event stream.
async function* sseData(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
    buffer = buffer.replace(/\r\n?/g, "\n");
    let end = buffer.indexOf("\n\n");
    while (end !== -1) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event
        .split("\n")
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).replace(/^ /, ""))
        .join("\n");
      if (data) yield data;
      end = buffer.indexOf("\n\n");
    }
    if (done) return;
  }
}

// ---------------------------------------------------------------- banner, theme, key

function showBanner(message) {
  ui.banner.textContent = message;
  ui.banner.hidden = !message;
}

function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
  const dark = theme === "dark";
  ui.theme.textContent = dark ? "☀" : "☾";
  ui.theme.setAttribute("aria-pressed", String(dark));
  ui.theme.title = dark ? "Switch to light mode" : "Switch to dark mode";
}

function initialTheme() {
  const saved = localStorage.getItem(THEME_STORE);
  if (saved === "dark" || saved === "light") return saved;
  return window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

function showKeyState() {
  ui.keySummary.textContent = state.apiKey ? "API key ✓" : "API key";
}

// A credential is missing or refused (401): open the API key box and put the cursor there.
function pointAtKeyBox() {
  ui.keySummary.parentElement.open = true;
  ui.keySummary.parentElement.classList.add("attention");
  ui.apiKey.focus();
}

// ---------------------------------------------------------------- models and conversations

async function loadModels() {
  const list = await apiJson("v1/models");
  const ids = list.data.map((m) => m.id);
  const saved = localStorage.getItem(MODEL_STORE);
  ui.model.replaceChildren(
    ...list.data.map((m) => {
      const option = document.createElement("option");
      option.value = m.id;
      option.textContent = `${m.id} · ${m.owned_by}`;
      return option;
    }),
  );
  if (saved && ids.includes(saved)) ui.model.value = saved;
}

async function loadConversations() {
  const list = await apiJson("v1/conversations?limit=100");
  state.knownConversations = new Set(list.data.map((c) => c.id));
  ui.conversations.replaceChildren(...list.data.map(conversationItem));
  ui.conversationsNote.hidden = list.data.length > 0;
  ui.conversationsNote.textContent = "No conversations yet.";
  return list.data;
}

function conversationItem(conversation) {
  const li = document.createElement("li");
  li.className = "conversation";
  li.dataset.id = conversation.id;
  if (conversation.id === state.conversationId) li.classList.add("active");
  const open = document.createElement("button");
  open.type = "button";
  open.className = "open";
  open.textContent = conversation.title || "Untitled";
  open.title = `${conversation.title}\n${conversation.model} · ${new Date(
    conversation.updated_at * 1000,
  ).toLocaleString()}`;
  open.addEventListener("click", () => openConversation(conversation.id));
  const rename = smallButton("✎", "Rename", async () => {
    const title = window.prompt("New title", conversation.title);
    if (!title || !title.trim()) return;
    await guarded(async () => {
      await api(`v1/conversations/${conversation.id}`, { method: "PATCH", body: { title } });
      if (conversation.id === state.conversationId) ui.title.textContent = title.trim();
      await loadConversations();
    });
  });
  const remove = smallButton("×", "Delete", async () => {
    if (!window.confirm(`Delete “${conversation.title}”?`)) return;
    await guarded(async () => {
      await api(`v1/conversations/${conversation.id}`, { method: "DELETE" });
      if (conversation.id === state.conversationId) newChat();
      await loadConversations();
    });
  });
  li.append(open, rename, remove);
  return li;
}

function smallButton(text, label, onClick) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "icon small";
  button.textContent = text;
  button.title = label;
  button.setAttribute("aria-label", label);
  button.addEventListener("click", onClick);
  return button;
}

function markActive() {
  for (const li of ui.conversations.children) {
    li.classList.toggle("active", li.dataset.id === state.conversationId);
  }
}

// ---------------------------------------------------------------- the tree

function setTree(conversation) {
  state.conversation = conversation;
  state.conversationId = conversation.id;
  state.byId = new Map(conversation.messages.map((m) => [m.id, m]));
  state.roots = conversation.messages.filter((m) => !m.parent_id || !state.byId.has(m.parent_id)).map((m) => m.id);
  ui.title.textContent = conversation.title || "Untitled";
  markActive();
}

async function fetchTree(id) {
  setTree(await apiJson(`v1/conversations/${id}`));
}

function siblingsOf(id) {
  const message = state.byId.get(id);
  const parent = message && message.parent_id ? state.byId.get(message.parent_id) : null;
  return parent ? parent.children.filter((c) => state.byId.has(c)) : state.roots;
}

function newestDescendants(id) {
  const path = [];
  let node = state.byId.get(id);
  while (node && node.children.length) {
    const next = node.children[node.children.length - 1];
    if (!state.byId.has(next) || path.length > state.byId.size) break;
    path.push(next);
    node = state.byId.get(next);
  }
  return path;
}

function pathTo(id) {
  const path = [];
  let node = state.byId.get(id);
  while (node && path.length <= state.byId.size) {
    path.unshift(node.id);
    node = node.parent_id ? state.byId.get(node.parent_id) : null;
  }
  return path;
}

// ---------------------------------------------------------------- rendering

function bubble(role, { id, status } = {}) {
  const article = document.createElement("article");
  article.className = `message ${role}`;
  article.dataset.role = role;
  if (id) article.dataset.id = id;
  if (status) article.dataset.status = status;
  const who = document.createElement("div");
  who.className = "who";
  who.textContent = role === "user" ? "You" : role === "assistant" ? "Assistant" : role;
  const body = document.createElement("div");
  body.className = "content";
  const footer = document.createElement("div");
  footer.className = "footer";
  article.append(who, body, footer);
  return article;
}

function setContent(article, role, text) {
  const body = article.querySelector(".content");
  if (role === "user") {
    body.textContent = text; // what the user typed, as typed
  } else {
    body.innerHTML = renderMarkdown(text);
  }
}

function setError(article, message) {
  let note = article.querySelector(".error-note");
  if (!note) {
    note = document.createElement("div");
    note.className = "error-note";
    note.setAttribute("role", "alert");
    article.querySelector(".content").after(note);
  }
  note.textContent = message;
}

function branchNavigator(id) {
  const siblings = siblingsOf(id);
  const index = siblings.indexOf(id);
  const nav = document.createElement("span");
  nav.className = "branches";
  nav.dataset.branches = `${index + 1}/${siblings.length}`;
  const prev = document.createElement("button");
  prev.type = "button";
  prev.className = "icon small prev";
  prev.textContent = "‹";
  prev.setAttribute("aria-label", "Previous branch");
  prev.dataset.edge = String(index <= 0);
  prev.disabled = index <= 0 || busy();
  prev.addEventListener("click", () => switchBranch(id, siblings[index - 1]));
  const label = document.createElement("span");
  label.className = "branch-label";
  label.textContent = `${index + 1}/${siblings.length}`;
  const next = document.createElement("button");
  next.type = "button";
  next.className = "icon small next";
  next.textContent = "›";
  next.setAttribute("aria-label", "Next branch");
  next.dataset.edge = String(index >= siblings.length - 1);
  next.disabled = index >= siblings.length - 1 || busy();
  next.addEventListener("click", () => switchBranch(id, siblings[index + 1]));
  nav.append(prev, label, next);
  return nav;
}

function action(text, className, onClick) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = `action ${className}`;
  button.textContent = text;
  button.disabled = busy();
  button.addEventListener("click", onClick);
  return button;
}

// A user message whose siblings all carry the same text was regenerated, not edited: its
// navigator belongs under the answers it switches between.
function regenerationsOnly(id) {
  const text = state.byId.get(id).content;
  return siblingsOf(id).every((s) => state.byId.get(s).content === text);
}

function renderPath() {
  const nodes = [];
  const path = state.path;
  let carried = null; // a navigator moved from a user message to its answer
  path.forEach((id, index) => {
    const message = state.byId.get(id);
    if (!message) return;
    const article = bubble(message.role, { id, status: message.status });
    setContent(article, message.role, message.content);
    if (message.status === "partial") article.classList.add("stopped");
    if (message.status === "error" || (message.error && message.status !== "partial")) {
      setError(article, message.error || "The answer failed.");
    } else if (message.status === "partial") {
      setError(article, message.error === "cancelled" ? "Stopped." : message.error || "Stopped.");
    }
    const footer = article.querySelector(".footer");
    if (carried) {
      footer.append(carried);
      carried = null;
    }
    if (siblingsOf(id).length > 1) {
      const nav = branchNavigator(id);
      const answer = path[index + 1] && state.byId.get(path[index + 1]);
      if (message.role === "user" && answer && answer.role === "assistant" && regenerationsOnly(id)) {
        carried = nav;
      } else {
        footer.append(nav);
      }
    }
    if (message.role === "user") {
      footer.append(action("Edit", "edit", () => startEdit(article, message, index)));
    }
    if (message.role === "assistant" && index === path.length - 1) {
      const user = state.byId.get(path[index - 1]);
      if (user && user.role === "user") {
        footer.append(action("Regenerate", "regenerate", () => regenerate(user, index - 1)));
      }
    }
    if (message.role === "assistant" && message.model) {
      const meta = document.createElement("span");
      meta.className = "meta";
      meta.textContent = message.model;
      footer.append(meta);
    }
    nodes.push(article);
  });
  ui.messages.replaceChildren(...nodes);
  ui.empty.hidden = nodes.length > 0;
  if (!nodes.length) ui.messages.append(ui.empty);
}

function scrollToEnd() {
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

function startEdit(article, message, index) {
  if (busy()) return;
  const body = article.querySelector(".content");
  const footer = article.querySelector(".footer");
  const editor = document.createElement("textarea");
  editor.className = "editor";
  editor.value = message.content;
  editor.rows = Math.min(10, message.content.split("\n").length + 1);
  const save = action("Save & submit", "primary save", () => {
    const text = editor.value;
    if (!text.trim()) return;
    submitEdit(message, index, text);
  });
  const cancel = action("Cancel", "cancel", () => renderPath());
  const buttons = document.createElement("div");
  buttons.className = "edit-buttons";
  buttons.append(save, cancel);
  body.replaceChildren(editor, buttons);
  footer.hidden = true;
  article.classList.add("editing");
  editor.focus();
}

function submitEdit(message, index, text) {
  return sendTurn(text, message.parent_id || ROOT_PARENT, { shownUpTo: index });
}

function regenerate(user, index) {
  return sendTurn(user.content, user.parent_id || ROOT_PARENT, { shownUpTo: index });
}

function switchBranch(fromId, toId) {
  if (busy() || !toId) return;
  const at = state.path.indexOf(fromId);
  state.path = [...state.path.slice(0, at), toId, ...newestDescendants(toId)];
  renderPath();
}

// ---------------------------------------------------------------- sending

function busy() {
  return state.pending !== null;
}

function setBusy(on) {
  ui.send.hidden = on;
  ui.stop.hidden = !on;
  ui.model.disabled = on;
  ui.newChat.disabled = on;
  for (const button of ui.messages.querySelectorAll("button.action, .branches button")) {
    button.disabled = on || button.dataset.edge === "true";
  }
}

// After a stopped turn the service stores it (as "partial") under ids the stream never told
// us: find it so that the next turn continues from it. The service stores it as the
// cancellation reaches it, so look again a few times before giving up.
const RECONCILE_TRIES = 15;
const RECONCILE_PAUSE_MS = 200;

async function findStoppedTurn(stale) {
  let id = stale.conversationId;
  if (!id) {
    const list = await apiJson("v1/conversations?limit=20");
    const created = list.data.find((c) => !stale.known.has(c.id));
    if (!created) return null;
    id = created.id;
  }
  await fetchTree(id);
  const atRoot = !stale.parentId || stale.parentId === ROOT_PARENT;
  const siblings = atRoot ? state.roots : state.byId.get(stale.parentId)?.children || [];
  const users = siblings
    .map((c) => state.byId.get(c))
    .filter((m) => m && m.role === "user" && m.content === stale.text && m.children.length);
  return users.length ? users[users.length - 1] : null;
}

async function reconcile() {
  const stale = state.stale;
  if (!stale) return;
  state.stale = null;
  for (let attempt = 0; attempt < RECONCILE_TRIES; attempt += 1) {
    if (attempt) await new Promise((resolve) => setTimeout(resolve, RECONCILE_PAUSE_MS));
    const user = await findStoppedTurn(stale);
    if (user) {
      state.path = [...pathTo(user.id), ...newestDescendants(user.id)];
      renderPath();
      await loadConversations();
      return;
    }
  }
  // Not stored (no conversation store): carry on from what was shown before the stopped turn.
}

async function sendTurn(text, parentId, { shownUpTo = state.path.length } = {}) {
  if (busy()) return;
  showBanner("");
  const model = ui.model.value;
  const turn = {
    text,
    parentId,
    conversationId: state.conversationId,
    known: new Set(state.knownConversations),
    controller: new AbortController(),
    answer: "",
    stopped: false,
  };
  state.pending = turn;
  // What is shown: the path up to where the new turn hangs, then the new turn.
  state.path = state.path.slice(0, shownUpTo);
  renderPath();
  const user = bubble("user", { status: "pending" });
  setContent(user, "user", text);
  const answer = bubble("assistant", { status: "streaming" });
  answer.classList.add("streaming");
  ui.empty.hidden = true;
  ui.messages.append(user, answer);
  scrollToEnd();
  setBusy(true);

  const body = { model, stream: true, messages: [{ role: "user", content: text }] };
  if (turn.conversationId) {
    body.conversation_id = turn.conversationId;
    if (parentId) body.parent_message_id = parentId;
  }
  let finalIds = null;
  let finished = false;
  let failure = null;
  try {
    const response = await api("v1/chat/completions", {
      method: "POST",
      body,
      signal: turn.controller.signal,
    });
    for await (const data of sseData(response)) {
      if (data === "[DONE]") break;
      let chunk;
      try {
        chunk = JSON.parse(data);
      } catch {
        continue;
      }
      if (chunk.error) {
        failure = errorText(chunk, 502);
        break;
      }
      const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
      if (delta && typeof delta.content === "string" && delta.content) {
        turn.answer += delta.content;
        setContent(answer, "assistant", turn.answer);
        scrollToEnd();
      }
      if (chunk.choices && chunk.choices[0] && chunk.choices[0].finish_reason) finished = true;
      if (chunk.conversation_id && chunk.message_id) {
        finalIds = { conversationId: chunk.conversation_id, messageId: chunk.message_id };
      }
    }
    if (!failure && !finalIds && !finished) failure = "The answer ended before it was complete.";
  } catch (error) {
    if (error.name === "AbortError") {
      turn.stopped = true;
    } else {
      failure = error instanceof ApiError ? error.message : `Network error: ${error.message}`;
    }
  }

  answer.classList.remove("streaming");
  try {
    await settle(turn, answer, { failure, finalIds, model, shownUpTo });
  } finally {
    // Only now is the page idle: the tree is reloaded and the turn shown with its ids.
    state.pending = null;
    setBusy(false);
  }
}

// Shows how a turn ended and reloads what the service stored.
async function settle(turn, answer, { failure, finalIds, model, shownUpTo }) {
  const text = turn.text;
  if (turn.stopped) {
    answer.dataset.status = "stopped";
    answer.classList.add("stopped");
    setError(answer, "Stopped.");
    state.stale = turn;
    await guarded(loadConversations); // the stopped turn may be listed already
    return;
  }
  if (failure) {
    answer.dataset.status = "error";
    answer.classList.add("error");
    setError(answer, failure);
    if (!ui.input.value.trim()) ui.input.value = text; // never lose what the user typed
    if (document.activeElement !== ui.apiKey) ui.input.focus(); // a 401 points at the key box
    // The service may have stored the failed turn; it hangs beside the branch shown, so the
    // path shown stays valid and a resend makes a sibling branch.
    state.path = state.path.slice(0, shownUpTo);
    await guarded(loadConversations);
    if (turn.conversationId) await guarded(() => fetchTree(turn.conversationId));
    return;
  }
  answer.dataset.status = "done";
  if (!finalIds) {
    // The service keeps no conversations (its store is off): nothing to continue from.
    state.path = [];
    showBanner("This service keeps no conversations: each message starts a new one.");
    return;
  }
  await guarded(async () => {
    await fetchTree(finalIds.conversationId);
    state.path = [...pathTo(finalIds.messageId), ...newestDescendants(finalIds.messageId)];
    localStorage.setItem(MODEL_STORE, model);
    renderPath();
    scrollToEnd();
    await loadConversations();
  });
}

let submitting = false;

async function submitComposer() {
  const text = ui.input.value;
  if (!text.trim() || busy() || submitting) return;
  submitting = true;
  try {
    try {
      await reconcile();
    } catch (error) {
      showBanner(error.message);
    }
    ui.input.value = "";
    const parent = state.path.length ? state.path[state.path.length - 1] : null;
    await sendTurn(text, parent);
  } finally {
    submitting = false;
  }
}

async function openConversation(id) {
  if (busy()) return;
  state.stale = null;
  await guarded(async () => {
    await fetchTree(id);
    const current = state.conversation.current_path;
    const last = current.length ? current[current.length - 1] : state.roots[state.roots.length - 1];
    state.path = last ? [...pathTo(last), ...newestDescendants(last)] : [];
    const model = state.conversation.model;
    if (model && [...ui.model.options].some((o) => o.value === model)) ui.model.value = model;
    showBanner("");
    renderPath();
    scrollToEnd();
  });
}

function newChat({ keepBanner = false } = {}) {
  if (busy()) return;
  state.conversationId = null;
  state.conversation = null;
  state.byId = new Map();
  state.roots = [];
  state.path = [];
  state.stale = null;
  ui.title.textContent = "New chat";
  if (!keepBanner) showBanner("");
  markActive();
  renderPath();
  ui.input.focus();
}

async function guarded(work) {
  try {
    await work();
  } catch (error) {
    showBanner(error.message || String(error));
    if (error.status === 401) pointAtKeyBox();
  }
}

// ---------------------------------------------------------------- wiring

function wire() {
  applyTheme(initialTheme());
  ui.theme.addEventListener("click", () => {
    const theme = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
    localStorage.setItem(THEME_STORE, theme);
    applyTheme(theme);
  });

  ui.apiKey.value = state.apiKey;
  showKeyState();
  ui.keyForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    state.apiKey = ui.apiKey.value.trim();
    if (state.apiKey) localStorage.setItem(KEY_STORE, state.apiKey);
    else localStorage.removeItem(KEY_STORE);
    showKeyState();
    ui.keyForm.parentElement.open = false;
    ui.keyForm.parentElement.classList.remove("attention");
    showBanner("");
    await guarded(loadModels);
    await guarded(loadConversations);
  });

  ui.model.addEventListener("change", () => localStorage.setItem(MODEL_STORE, ui.model.value));
  ui.newChat.addEventListener("click", () => newChat());
  ui.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    submitComposer();
  });
  ui.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submitComposer();
    }
  });
  ui.stop.addEventListener("click", () => state.pending && state.pending.controller.abort());
  ui.messages.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-copy]");
    if (!button) return;
    const code = button.closest(".code-block").querySelector("code").textContent;
    navigator.clipboard?.writeText(code).then(
      () => (button.textContent = "Copied"),
      () => (button.textContent = "Copy failed"),
    );
  });
}

async function start() {
  wire();
  renderPath();
  await guarded(loadModels);
  await guarded(loadConversations);
  document.body.dataset.ready = "true";
}

start();

