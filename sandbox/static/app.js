// The sandbox phone page: one simulated person's Telegram chat, SMS inbox and authenticator app.
// Plain JS, no build step. Everything goes through the control API (/api/...); the page refreshes
// whenever /api/events reports a new world version (long poll).
"use strict";

const FAULT_MODES = ["none", "down", "slow", "error", "drop-callback", "duplicate-callback"];
const $ = (id) => document.getElementById(id);

const state = { people: [], phone: localStorage.getItem("payfriend.phone") || "", version: 0, seenAnswers: new Set() };

async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch("/api" + path, init);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "onclick") node.addEventListener("click", value);
    else if (key.startsWith("data-") || key === "title" || key === "type") node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function time(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function showError(err) {
  toast(String(err.message || err), true);
}

function toast(text, isError = false) {
  const box = $("toast");
  box.textContent = text;
  box.classList.toggle("error", isError);
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (box.hidden = true), 4000);
}

const query = (phone) => "?phone=" + encodeURIComponent(phone);

// Redraw a part only when its data changed: no flicker, and no button replaced under the pointer.
const drawn = {};
function changed(part, data) {
  const key = state.phone + " " + JSON.stringify(data);
  if (drawn[part] === key) return false;
  drawn[part] = key;
  return true;
}

// -- people ----------------------------------------------------------------------------------

function renderPeople() {
  const select = $("person-select");
  select.replaceChildren(...state.people.map((p) =>
    el("option", { value: p.phone, textContent: `${p.name} · ${p.phone}`, "data-testid": "person-option" })));
  if (!state.people.some((p) => p.phone === state.phone)) state.phone = state.people.length ? state.people[0].phone : "";
  select.value = state.phone;
  document.body.classList.toggle("nobody", !state.phone);
}

function person() {
  return state.people.find((p) => p.phone === state.phone);
}

// -- telegram ----------------------------------------------------------------------------------

function renderChat(chat) {
  const me = chat.person;
  $("tg-status").textContent = me.blocked_bot ? "bot blocked" : me.started_bot ? "" : "not started";
  $("start-bot").hidden = me.started_bot && !me.blocked_bot;
  $("block-bot").hidden = !me.started_bot || me.blocked_bot;
  $("typing").textContent = chat.typing ? "typing…" : "bot";
  clearTimeout(renderChat.typingTimer);
  if (chat.typing) renderChat.typingTimer = setTimeout(() => ($("typing").textContent = "bot"), 5000);
  const list = $("chat-messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.replaceChildren(...chat.messages.map(chatMessage));
  if (!chat.messages.length) list.append(el("li", { class: "hint", textContent: "Press Start, or write /start." }));
  if (atBottom || renderChat.first !== state.phone) list.scrollTop = list.scrollHeight;
  renderChat.first = state.phone;
  renderReplyKeyboard(chat.keyboard);
  const primed = state.seenAnswers.has("primed:" + state.phone);  // no toasts for old answers
  state.seenAnswers.add("primed:" + state.phone);
  for (const answer of chat.callback_answers) {
    if (answer.answered && !state.seenAnswers.has(answer.id)) {
      state.seenAnswers.add(answer.id);
      if (answer.answer_text && primed) toast(answer.answer_text);
    }
  }
}

function chatMessage(m) {
  const body = m.contact
    ? el("div", { class: "contact" }, "☎ ", el("strong", { textContent: m.contact.first_name }), " +" + m.contact.phone_number.replace(/^\+/, ""))
    : el("div", { class: "text", textContent: m.text || "" });
  const meta = el("div", { class: "meta", textContent: (m.edited ? "edited " : "") + time(m.edit_date || m.date) });
  const item = el("li", { class: "bubble " + m.from, "data-testid": "chat-message", "data-from": m.from,
                          "data-message-id": m.message_id }, body, meta);
  if (m.inline_keyboard) {
    const keyboard = el("div", { class: "inline-keyboard" });
    for (const row of m.inline_keyboard) {
      keyboard.append(el("div", { class: "row" }, ...row.map((b) => b.url
        ? el("a", { href: b.url, target: "_blank", rel: "noopener", textContent: b.text + " ↗", class: "inline-button" })
        : el("button", { class: "inline-button", textContent: b.text, "data-testid": "inline-button",
                         "data-callback": b.callback_data, onclick: () => press(b.callback_data || b.text) }))));
    }
    item.append(keyboard);
  }
  return item;
}

function renderReplyKeyboard(rows) {
  const box = $("reply-keyboard");
  box.replaceChildren();
  for (const row of rows || []) {
    box.append(el("div", { class: "row" }, ...row.map((b) => el("button", {
      class: "reply-button" + (b.request_contact ? " contact" : ""), "data-testid": "reply-button",
      textContent: (b.request_contact ? "☎ " : "") + b.text, onclick: () => press(b.text) }))));
  }
}

async function press(button) {
  try { await api("POST", "/telegram/press", { phone: state.phone, button }); } catch (err) { showError(err); }
}

// -- sms ---------------------------------------------------------------------------------------

function renderSms(inbox) {
  const list = $("sms-list");
  list.replaceChildren(...inbox.map((m) => el("li", {
    class: "bubble " + (m.direction === "inbound" ? "bot" : "person"), "data-testid": "sms-message",
    "data-direction": m.direction }, el("div", { class: "from", textContent: m.direction === "inbound" ? m.from : "me" }),
    el("div", { class: "text" }, ...withCodes(m.body)), el("div", { class: "meta", textContent: time(m.at) }))));
  if (!inbox.length) list.append(el("li", { class: "hint", textContent: "No messages yet." }));
  list.scrollTop = list.scrollHeight;
}

// Text with its one-time codes (4 to 10 digits) set apart, so they are easy to read and type.
function withCodes(text) {
  return text.split(/\b(\d{4,10})\b/).map((part, i) =>
    i % 2 ? el("strong", { class: "code", "data-testid": "sms-code", textContent: part }) : part);
}

// -- authenticator -----------------------------------------------------------------------------

function renderApprovals(approvals) {
  const pending = approvals.filter((a) => a.status === "pending");
  const done = approvals.filter((a) => a.status !== "pending").reverse();
  const box = $("approvals");
  box.closest(".app").classList.toggle("attention", pending.length > 0);
  $("auth-count").textContent = pending.length ? String(pending.length) : "";
  box.replaceChildren(...pending.map(approvalCard));
  if (!pending.length) box.append(el("p", { class: "hint", textContent: "No pending requests." }));
  $("approval-history").replaceChildren(...done.map((a) => el("li", {
    "data-testid": "approval-done", "data-id": a.id, "data-status": a.status },
    el("span", { class: "badge " + a.status, "data-testid": "approval-status", textContent: a.status }), " ",
    a.message + " · " + detailsSummary(a.details))));
}

function detailsSummary(details) {
  return Object.entries(details || {}).map(([k, v]) => `${k}: ${v}`).join(", ");
}

// The detail whose label matches `pattern` ("Amount", "Sending to", "Payee" ...), if any.
function detail(details, pattern) {
  const found = Object.entries(details || {}).find(([k]) => pattern.test(k));
  return found ? String(found[1]) : null;
}

function approvalCard(a) {
  const rows = Object.entries(a.details || {}).map(([k, v]) =>
    el("tr", {}, el("th", { textContent: k }), el("td", { textContent: String(v), "data-testid": "detail-" + k.toLowerCase() })));
  const expires = a.expires_at ? el("small", { class: "expires", "data-expires": a.expires_at }) : null;
  const amount = detail(a.details, /amount/i);
  const payee = detail(a.details, /payee|sending to|recipient|^to$/i);
  const summary = amount || payee ? el("div", { class: "summary" },
    amount ? el("div", { class: "amount", "data-testid": "approval-amount", textContent: amount }) : null,
    payee ? el("div", { class: "payee" }, "to ", el("strong", { "data-testid": "approval-payee", textContent: payee })) : null)
    : null;
  return el("article", { class: "approval", "data-testid": "approval", "data-id": a.id, "data-status": a.status },
    el("header", {}, el("span", { class: "provider", textContent: a.provider === "verify" ? "Verify Push" : "Authy OneTouch" }), expires),
    summary,
    el("p", { class: "message", textContent: a.message }),
    el("table", { class: "details" }, ...rows),
    el("div", { class: "decide" },
      el("button", { class: "deny", textContent: "Deny", "data-testid": "deny", onclick: () => decide(a.id, "deny") }),
      el("button", { class: "approve", textContent: "Approve", "data-testid": "approve", onclick: () => decide(a.id, "approve") })));
}

async function decide(id, decision) {
  try {
    const result = await api("POST", `/authenticator/${id}/${decision}`);
    if (!result.callback.sent) toast("Decision recorded; no callback sent: " + (result.callback.error || ""), true);
  } catch (err) { showError(err); }
}

function tickExpiry() {
  const now = Date.now() / 1000;
  for (const node of document.querySelectorAll("[data-expires]")) {
    const left = Math.max(0, Math.round(Number(node.dataset.expires) - now));
    node.textContent = left ? `expires in ${left}s` : "expired";
  }
}

// -- faults ------------------------------------------------------------------------------------

function renderFaults(faults) {
  const box = $("faults");
  if (box.childElementCount !== Object.keys(faults).length) {
    box.replaceChildren(...Object.keys(faults).map((service) => el("label", {},
      service + " ", el("select", { "data-testid": "fault-" + service, "data-service": service,
        onchange: (e) => api("POST", "/faults", { service, mode: e.target.value }).catch(showError) },
        ...FAULT_MODES.map((m) => el("option", { value: m, textContent: m }))))));
  }
  for (const select of box.querySelectorAll("select")) {
    select.value = faults[select.dataset.service];
    select.classList.toggle("active", select.value !== "none");
  }
}

// -- refresh loop ------------------------------------------------------------------------------

async function refresh() {
  state.people = await api("GET", "/people");
  renderPeople();
  renderFaults((await api("GET", "/faults")).faults);
  const me = person();
  if (!me) return;
  $("sms-number").textContent = me.phone;
  const [chat, inbox, approvals] = await Promise.all([
    api("GET", "/telegram/chat" + query(me.phone)),
    api("GET", "/sms/inbox" + query(me.phone)),
    api("GET", "/authenticator/approvals" + query(me.phone)),
  ]);
  if (changed("chat", chat)) renderChat(chat);
  if (changed("sms", inbox)) renderSms(inbox);
  if (changed("approvals", approvals)) renderApprovals(approvals);
  tickExpiry();
}

async function live() {
  for (;;) {
    try {
      const event = await api("GET", `/events?since=${state.version}&timeout=25`);
      setLive(true);
      if (event.version !== state.version) {
        await refresh();
        state.version = event.version;  // only once drawn: a failed refresh is tried again
      }
    } catch (err) {
      setLive(false);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

function setLive(on) {
  const dot = $("live");
  dot.classList.toggle("off", !on);
  dot.textContent = on ? "● live" : "● reconnecting…";
}

// -- wiring ------------------------------------------------------------------------------------

function wire() {
  $("person-select").addEventListener("change", (e) => {
    state.phone = e.target.value;
    localStorage.setItem("payfriend.phone", state.phone);
    refresh().catch(showError);
  });
  $("add-person").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const created = await api("POST", "/people", { phone: $("new-phone").value.trim(), name: $("new-name").value.trim() });
      state.phone = created.phone;
      localStorage.setItem("payfriend.phone", state.phone);
      e.target.reset();
      await refresh();
    } catch (err) { showError(err); }
  });
  $("chat-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = $("chat-input").value;
    if (!text.trim() || !state.phone) return;
    try {
      await api("POST", "/telegram/send", { phone: state.phone, text });
      $("chat-input").value = "";
      $("chat-input").focus();
    } catch (err) { showError(err); }
  });
  $("sms-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = $("sms-input").value;
    if (!text.trim() || !state.phone) return;
    try {
      const result = await api("POST", "/sms/send", { phone: state.phone, text });
      $("sms-input").value = "";
      $("sms-input").focus();
      $("sms-note").textContent = result.delivered ? "" : result.error || "";
    } catch (err) { showError(err); }
  });
  $("start-bot").addEventListener("click", () => api("POST", "/telegram/send", { phone: state.phone, text: "/start" }).catch(showError));
  $("share-contact").addEventListener("click", () => api("POST", "/telegram/share-contact", { phone: state.phone }).catch(showError));
  $("block-bot").addEventListener("click", () => api("POST", "/telegram/block", { phone: state.phone }).catch(showError));
  $("reset-sandbox").addEventListener("click", resetSandbox);
  setInterval(tickExpiry, 1000);
}

async function resetSandbox() {
  if (!confirm("Reset the sandbox? Everyone, every chat, SMS and approval is forgotten, and Payfriend's database is emptied.")) return;
  try {
    await api("POST", "/reset");
    state.phone = "";
    localStorage.removeItem("payfriend.phone");
    await refresh();
    toast("The sandbox and Payfriend's database are empty.");
  } catch (err) { showError(err); }
}

wire();
refresh().catch(showError).finally(live);
